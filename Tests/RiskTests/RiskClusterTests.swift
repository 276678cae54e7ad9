import ClusterTestSupport
import Cluster
import Protos
import RPC
import ServiceStubs
import Testing
import Transport

/// The real risk service (in this process, on 127.0.0.1) with the real market-data service and three processor
/// processes: checks over the wire, reservations under concurrency, and positions that follow the processors'
/// event streams across a restart.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct RiskClusterTests {
    static let extra = """
        , "instruments": [
            {"symbol": "ACME", "quoteCurrency": "USD", "priceScale": 2, "quantityScale": 0, "tickSize": {"units": "1", "scale": 2},
             "lotSize": {"units": "1"}, "priceBandBps": 2000, "status": "INSTRUMENT_STATUS_TRADING"},
            {"symbol": "HALT", "quoteCurrency": "USD", "priceScale": 2, "quantityScale": 0, "tickSize": {"units": "1", "scale": 2},
             "lotSize": {"units": "1"}, "status": "INSTRUMENT_STATUS_HALTED"}],
          "feed": {"seed": 7, "interval_ms": 50, "step_bps": 0, "prices": {"ACME": 10000}},
          "accounts": [
            {"account": "acct-1", "balance": {"units": "1000000", "currency": "USD"}},
            {"account": "acct-2", "balance": {"units": "1000000", "currency": "USD"}},
            {"account": "racer", "balance": {"units": "1000", "currency": "USD"}, "limits": {"maxOpenOrders": 3}},
            {"account": "limited", "balance": {"units": "1000000", "currency": "USD"},
             "limits": {"maxOrderQuantity": {"units": "50"}, "maxOrderNotional": {"units": "4000", "currency": "USD"},
                        "maxPosition": {"units": "60"}, "maxOpenOrders": 2}}]
        """
    static let dollar: Int64 = 100_000_000

    static func risk(_ cluster: ProcessorCluster) throws -> (Tradewire_V1_Risk.Client, Channel) {
        let (host, port) = SocketAddressText.split(cluster.config.riskAddress!)!
        let channel = try Channel(host: host, port: port)
        return (Tradewire_V1_Risk.Client(channel), channel)
    }

    static func check(_ id: String, account: String, symbol: String = "ACME", side: Tradewire_V1_Side = .buy,
                      type: Tradewire_V1_OrderType = .limit, price: Int64 = 10_000, quantity: Int64) -> Tradewire_V1_RiskCheckRequest
    {
        var request = Tradewire_V1_RiskCheckRequest(
            orderID: Tradewire_V1_OrderId(value: id), account: account, symbol: symbol, side: side, type: type,
            quantity: Tradewire_V1_Quantity(units: quantity))
        if type == .limit { request.price = Tradewire_V1_Price(units: price, scale: 2) }
        return request
    }

    /// Waits until risk has market data's instruments and ACME's reference price.
    static func waitForMarketData(_ risk: Tradewire_V1_Risk.Client) async throws {
        let ready = try await waitUntil {
            let response = try await risk.check(check("probe", account: "acct-1", side: .sell, quantity: 0))
            return response.reason == .invalidOrder && response.referencePrice != nil
        }
        #expect(ready, "risk never learned ACME and its reference price from market data")
    }

    @Test func checksOverTheWireApproveAndRejectEachKindAndReserveAtomically() async throws {
        try await ProcessorCluster.with(extra: Self.extra, services: true) { cluster in
            let (risk, channel) = try Self.risk(cluster)
            defer { channel.close() }
            try await Self.waitForMarketData(risk)

            let cases: [(Tradewire_V1_RiskCheckRequest, Tradewire_V1_RejectReason?)] = [
                (Self.check("l1", account: "limited", quantity: 51), .maxOrderQuantity),
                (Self.check("l2", account: "limited", quantity: 45), .maxOrderNotional),  // 4,500.00 > 4,000.00
                (Self.check("l3", account: "limited", quantity: 40), nil),
                (Self.check("l4", account: "limited", quantity: 30), .maxPosition),  // 40 working + 30 > 60
                (Self.check("l5", account: "limited", side: .sell, quantity: 10), nil),
                (Self.check("l6", account: "limited", side: .sell, quantity: 10), .maxOpenOrders),
                (Self.check("h1", account: "acct-1", symbol: "HALT", quantity: 1), .instrumentHalted),
                (Self.check("u1", account: "acct-1", symbol: "NOPE", quantity: 1), .unknownSymbol),
                (Self.check("u2", account: "ghost", quantity: 1), .unknownAccount),
                (Self.check("b1", account: "acct-1", price: 13_000, quantity: 1), .priceBand),  // 30% from ~100.00
                (Self.check("c1", account: "acct-1", quantity: 20_000), .insufficientBalance),  // 2,000,000.00
                (Self.check("m1", account: "acct-1", type: .market, quantity: 10), nil),
            ]
            for (request, expected) in cases {
                let response = try await risk.check(request)
                #expect(response.approved == (expected == nil), "\(request.orderID!.value): \(response.text)")
                if let expected { #expect(response.reason == expected && !response.text.isEmpty, "\(request.orderID!.value): \(response)") }
            }

            // 20 buys race for cash that fits one, over four connections: exactly one passes. Then 20 sells (no
            // cash) race for the two open-order slots left.
            let channels = try (0..<4).map { _ in try Self.risk(cluster) }
            defer { channels.forEach { $0.1.close() } }
            func race(_ side: Tradewire_V1_Side, _ prefix: String) async throws -> Int {
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in 0..<20 {
                        let client = channels[index % 4].0
                        group.addTask {
                            try await client.check(Self.check("\(prefix)-\(index)", account: "racer", side: side, quantity: side == .buy ? 10 : 1)).approved
                        }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
            }
            #expect(try await race(.buy, "cash") == 1)
            #expect(try await race(.sell, "slot") == 2)
            let racer = try await risk.getAccount(Tradewire_V1_GetAccountRequest(account: "racer"))
            #expect(racer.openOrders == 3 && racer.available?.units == 0 && racer.reserved?.units == 1_000 * Self.dollar)
            await #expect(throws: RPCError.self) { try await risk.getAccount(Tradewire_V1_GetAccountRequest(account: "ghost")) }
        }
    }

    @Test func positionsFollowFillsAndResumeAfterARestartWithoutCountingTwice() async throws {
        try await ProcessorCluster.with(extra: Self.extra, services: true) { cluster in
            var (risk, channel) = try Self.risk(cluster)
            try await Self.waitForMarketData(risk)
            try await Self.trade(cluster, round: 0)
            try await Self.expectPositionsMatchTrades(cluster, risk)

            // A resting buy holds cash; risk stops; the order is cancelled meanwhile; the restarted risk reads the
            // cancel from its cursor (releasing the cash) and counts no fill twice.
            let resting = cluster.orderID("rest", symbol: "ACME")
            let placed = try await cluster.client.send(ProcessorCluster.place(resting, account: "acct-1", symbol: "ACME", side: .buy, price: 9_000, quantity: 10))
            #expect(placed.order?.status == .accepted, "\(placed)")
            #expect(try await waitUntil { try await risk.getAccount(Tradewire_V1_GetAccountRequest(account: "acct-1")).reserved?.units == 900 * Self.dollar })
            let before = try await risk.getPositions(Tradewire_V1_GetPositionsRequest(account: "acct-1"))
            channel.close()
            await cluster.stopRisk()
            _ = try await cluster.client.send(ProcessorCluster.cancel(resting, account: "acct-1"))
            try await cluster.waitFor(resting, .cancelled)
            try await cluster.startRisk()
            (risk, channel) = try Self.risk(cluster)
            defer { channel.close() }
            #expect(try await waitUntil {
                let account = try await risk.getAccount(Tradewire_V1_GetAccountRequest(account: "acct-1"))
                return account.reserved?.units == 0 && account.openOrders == 0
            })
            #expect(try await risk.getPositions(Tradewire_V1_GetPositionsRequest(account: "acct-1")) == before)

            try await Self.waitForMarketData(risk)
            try await Self.trade(cluster, round: 1)
            try await Self.expectPositionsMatchTrades(cluster, risk)
        }
    }

    /// Resting sells from acct-2 and crossing buys from acct-1 at a few prices: partial and full fills.
    static func trade(_ cluster: ProcessorCluster, round: Int) async throws {
        for index in 0..<8 {
            let sell = cluster.orderID("s\(round)-\(index)", symbol: "ACME")
            let buy = cluster.orderID("b\(round)-\(index)", symbol: "ACME")
            let sold = try await cluster.client.send(ProcessorCluster.place(
                sell, account: "acct-2", symbol: "ACME", side: .sell, price: 10_000 + Int64(index % 3) * 10, quantity: 5 + Int64(index % 4)))
            #expect(sold.order?.status == .accepted, "\(sold)")
            let bought = try await cluster.client.send(ProcessorCluster.place(
                buy, account: "acct-1", symbol: "ACME", side: .buy, price: 10_050, quantity: 3 + Int64(index % 5)))
            #expect(bought.order?.status == .accepted, "\(bought)")
        }
    }

    /// Every trade in the processors' journals, replayed by a plain average-cost ledger here, equals what risk
    /// reports (positions and cash).
    static func expectPositionsMatchTrades(_ cluster: ProcessorCluster, _ risk: Tradewire_V1_Risk.Client) async throws {
        // Fills complete after the orders' acknowledgements: the journals' trades are read again on every attempt,
        // until they and risk agree (or the wait ends).
        var report = "nothing"
        let matched = try await waitUntil {
            var trades: [Tradewire_V1_Trade] = []
            for node in cluster.config.nodes {
                trades += try await cluster.events(node.id).compactMap { if case .trade(let trade) = $0.event { trade } else { nil } }
            }
            guard !trades.isEmpty else { return false }
            var ledgers: [String: Ledger] = ["acct-1": Ledger(), "acct-2": Ledger()]
            for trade in trades {
                let (price, quantity) = (trade.price!.units, trade.quantity!.units)
                ledgers[trade.buyAccount]!.fill(price: price, quantity: quantity)
                ledgers[trade.sellAccount]!.fill(price: price, quantity: -quantity)
            }
            for (account, ledger) in ledgers {
                let positions = try await risk.getPositions(Tradewire_V1_GetPositionsRequest(account: account, symbols: ["ACME"])).positions
                let balance = try await risk.getAccount(Tradewire_V1_GetAccountRequest(account: account)).balance?.units
                guard let position = positions.first else { return false }
                report = "\(account): the ledger \(ledger) (\(trades.count) trades); risk has qty \(position.quantity?.units ?? 0) cost "
                    + "\(position.cost?.units ?? 0) realized \(position.realizedPnl?.units ?? 0) balance \(balance ?? 0) fills \(position.fillCount)"
                guard position.quantity?.units == ledger.quantity && position.fillCount == ledger.fills
                    && position.cost?.units == ledger.cost * 1_000_000 && position.realizedPnl?.units == ledger.realized * 1_000_000
                    && balance == (1_000_000 * 100 + ledger.cash) * 1_000_000
                else { return false }
            }
            return true
        }
        #expect(matched, "risk disagrees with the journals' trades: \(report)")
    }
}

/// One account's ACME position from its trades, in cents: average cost, realised on reduction.
struct Ledger: CustomStringConvertible {
    var quantity: Int64 = 0
    var cost: Int64 = 0
    var realized: Int64 = 0
    var cash: Int64 = 0
    var fills: UInt64 = 0

    /// `quantity` signed: positive bought, negative sold.
    mutating func fill(price: Int64, quantity traded: Int64) {
        fills += 1
        cash -= price * traded
        var remaining = traded
        if quantity != 0 && (quantity > 0) != (traded > 0) {
            let closing = min(abs(traded), abs(quantity)) * (traded > 0 ? 1 : -1)
            let removed = cost * closing / quantity  // the (signed) share of the cost that `closing` takes away
            realized += removed - price * closing
            cost += removed
            quantity += closing
            remaining -= closing
        }
        quantity += remaining
        cost += price * remaining
    }

    var description: String { "qty \(quantity) cost \(cost) realized \(realized) cash \(cash) fills \(fills)" }
}
