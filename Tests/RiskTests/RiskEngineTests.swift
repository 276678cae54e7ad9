import Processor
import Protos
@testable import Risk
import Testing

/// The engine's decisions and bookkeeping as values: no sockets, no clock.
struct RiskEngineTests {
    static let dollar: Int64 = 100_000_000  // one currency unit at Cash.scale

    /// ACME: prices at 2 decimals, whole shares, ±5% band, reference 100.00; account "a" with 10,000.00.
    static func engine(limits: Tradewire_V1_AccountLimits = Tradewire_V1_AccountLimits()) throws -> RiskEngine {
        var engine = RiskEngine()
        engine.instruments["ACME"] = Tradewire_V1_Instrument(
            symbol: "ACME", quoteCurrency: "USD", priceScale: 2, quantityScale: 0, tickSize: Tradewire_V1_Price(units: 1, scale: 2),
            lotSize: Tradewire_V1_Quantity(units: 1), priceBandBps: 500, status: .trading)
        engine.references["ACME"] = ReferencePrice(units: 10_000, at: 0)
        _ = try engine.setBalance("a", Tradewire_V1_Money(units: 10_000, scale: 0, currency: "USD"), adjust: false)
        _ = try engine.setLimits("a", limits)
        return engine
    }

    static func request(_ id: String, account: String = "a", symbol: String = "ACME", side: Tradewire_V1_Side = .buy,
                        type: Tradewire_V1_OrderType = .limit, price: Int64? = 10_000, quantity: Int64) -> Tradewire_V1_RiskCheckRequest
    {
        var request = Tradewire_V1_RiskCheckRequest(
            orderID: Tradewire_V1_OrderId(value: id), account: account, symbol: symbol, side: side, type: type,
            quantity: Tradewire_V1_Quantity(units: quantity))
        if let price { request.price = Tradewire_V1_Price(units: price, scale: 2) }
        return request
    }

    static func reason(_ engine: inout RiskEngine, _ request: Tradewire_V1_RiskCheckRequest) -> Tradewire_V1_RejectReason? {
        let response = engine.check(request, now: 0)
        return response.approved ? nil : response.reason
    }

    @Test func eachLimitKindApprovesInsideAndRejectsOutside() throws {
        var limits = Tradewire_V1_AccountLimits(
            maxOrderQuantity: Tradewire_V1_Quantity(units: 50), maxOrderNotional: Tradewire_V1_Money(units: 3_000, currency: "USD"),
            maxPosition: Tradewire_V1_Quantity(units: 60), maxOpenOrders: 3)
        limits.symbolLimits = [Tradewire_V1_SymbolLimits(symbol: "ACME", maxOrderQuantity: Tradewire_V1_Quantity(units: 30))]
        var engine = try Self.engine(limits: limits)
        #expect(Self.reason(&engine, Self.request("q1", quantity: 30)) == nil)
        #expect(Self.reason(&engine, Self.request("q2", quantity: 31)) == .maxOrderQuantity)  // the symbol override wins
        #expect(Self.reason(&engine, Self.request("n1", price: 10_001, quantity: 30)) == .maxOrderNotional)  // 3,000.30 > 3,000.00
        #expect(Self.reason(&engine, Self.request("p1", quantity: 20)) == nil)  // working buys: 50
        #expect(Self.reason(&engine, Self.request("p2", quantity: 11)) == .maxPosition)  // 61 > 60
        #expect(Self.reason(&engine, Self.request("o1", quantity: 10)) == nil)  // third working order
        #expect(Self.reason(&engine, Self.request("o2", side: .sell, quantity: 1)) == .maxOpenOrders)
        #expect(Self.reason(&engine, Self.request("b1", price: 10_400, quantity: 1)) == .maxOpenOrders)
        #expect(engine.accounts["a"]!.reserved == 6_000 * Self.dollar)  // 30 + 20 + 10 at 100.00
    }

    @Test func balanceBandHaltAndUnknowns() throws {
        var engine = try Self.engine()
        #expect(Self.reason(&engine, Self.request("big", quantity: 101)) == .insufficientBalance)  // 10,100.00 > 10,000.00
        #expect(Self.reason(&engine, Self.request("fits", quantity: 100)) == nil)
        #expect(Self.reason(&engine, Self.request("more", quantity: 1)) == .insufficientBalance)
        #expect(Self.reason(&engine, Self.request("sell", side: .sell, quantity: 100)) == nil)  // sells hold no cash
        #expect(Self.reason(&engine, Self.request("high", side: .sell, price: 10_501, quantity: 1)) == .priceBand)
        #expect(Self.reason(&engine, Self.request("edge", side: .sell, price: 10_500, quantity: 1)) == nil)  // exactly 5%
        #expect(Self.reason(&engine, Self.request("x", account: "nobody", quantity: 1)) == .unknownAccount)
        #expect(Self.reason(&engine, Self.request("x", symbol: "NOPE", quantity: 1)) == .unknownSymbol)
        engine.instruments["ACME"]!.status = .halted
        #expect(Self.reason(&engine, Self.request("h", side: .sell, quantity: 1)) == .instrumentHalted)
        engine.instruments["ACME"]!.status = .trading
        engine.references["ACME"] = nil
        #expect(Self.reason(&engine, Self.request("noref", side: .sell, quantity: 1)) == .priceBand)
        #expect(Self.reason(&engine, Self.request("mkt", side: .sell, type: .market, price: nil, quantity: 1)) == .priceBand)
    }

    @Test func marketBuyReservesAtTheProtectionPrice() throws {
        var engine = try Self.engine()
        let response = engine.check(Self.request("m", type: .market, price: nil, quantity: 10), now: 0)
        #expect(response.approved)
        #expect(response.reserved?.units == 1_050 * Self.dollar)  // 10 × (100.00 + 5%)
        #expect(response.referencePrice?.units == 10_000)
    }

    @Test func theSameOrderCheckedTwiceHoldsOnce() throws {
        var engine = try Self.engine()
        let first = engine.check(Self.request("twice", quantity: 10), now: 0)
        let second = engine.check(Self.request("twice", quantity: 10), now: 0)
        #expect(first == second && first.approved)
        #expect(engine.accounts["a"]!.reserved == 1_000 * Self.dollar && engine.accounts["a"]!.openOrders == 1)
    }

    static func event(_ id: String, side: Tradewire_V1_Side = .buy, status: Tradewire_V1_OrderStatus, price: Int64 = 10_000,
                      quantity: Int64, leaves: Int64, fill: (price: Int64, quantity: Int64)? = nil) -> Tradewire_V1_Event
    {
        var order = Tradewire_V1_Order(
            orderID: Tradewire_V1_OrderId(value: id), account: "a", symbol: "ACME", side: side, type: .limit,
            price: Tradewire_V1_Price(units: price, scale: 2), quantity: Tradewire_V1_Quantity(units: quantity), status: status)
        order.leavesQuantity = Tradewire_V1_Quantity(units: leaves)
        var report = Tradewire_V1_ExecutionReport(orderID: order.orderID, execType: fill == nil ? .new : .trade, orderStatus: status)
        if let fill {
            report.lastPrice = Tradewire_V1_Price(units: fill.price, scale: 2)
            report.lastQuantity = Tradewire_V1_Quantity(units: fill.quantity)
        }
        var event = Tradewire_V1_Event()
        event.event = .order(Tradewire_V1_OrderEvent(report: report, order: order))
        return event
    }

    @Test func fillsMoveCashAndPositionAndReleaseWhatTheyUsed() throws {
        var engine = try Self.engine()
        #expect(engine.check(Self.request("b", quantity: 10), now: 0).approved)
        var events = [
            Self.event("b", status: .accepted, quantity: 10, leaves: 10),
            Self.event("b", status: .partiallyFilled, quantity: 10, leaves: 6, fill: (9_900, 4)),
        ]
        for (index, _) in events.enumerated() { events[index].sequence = UInt64(index + 1) }
        engine.apply(node: "p1", events, now: 0)
        engine.apply(node: "p1", events, now: 0)  // redelivered: skipped by the cursor
        var account = engine.accounts["a"]!
        #expect(account.balance == (10_000 - 396) * Self.dollar)
        #expect(account.reserved == 600 * Self.dollar)  // 6 left at 100.00
        #expect(account.positions["ACME"]?.quantity == 4 && account.positions["ACME"]?.fills == 1)
        var cancelled = Self.event("b", status: .cancelled, quantity: 10, leaves: 0)
        cancelled.sequence = 3
        engine.apply(node: "p1", [cancelled], now: 0)
        account = engine.accounts["a"]!
        #expect(account.reserved == 0 && account.openOrders == 0 && account.positions["ACME"]?.openBuy == 0)
        #expect(engine.cursors["p1"] == 3)
    }

    @Test func averageCostRealisesOnReductionAndFlipsThroughZero() {
        var position = RiskPosition()
        position.fill(buy: true, quantity: 10, notional: 1_000)
        position.fill(buy: false, quantity: 4, notional: 440)  // sold 4 at 110 against an average of 100
        #expect(position.quantity == 6 && position.cost == 600 && position.realized == 40)
        position.fill(buy: false, quantity: 10, notional: 900)  // closes 6 at 90 (−60), opens 4 short at 90
        #expect(position.quantity == -4 && position.cost == -360 && position.realized == -20 && position.fills == 3)
        position.fill(buy: true, quantity: 4, notional: 320)  // covers at 80: +40
        #expect(position.quantity == 0 && position.cost == 0 && position.realized == 20)
    }

    @Test func unconfirmedReservationsExpire() throws {
        var engine = try Self.engine()
        engine.unconfirmedTTL = 1_000
        #expect(engine.check(Self.request("lost", quantity: 10), now: 0).approved)
        engine.expire(now: 500)
        #expect(engine.accounts["a"]!.openOrders == 1)
        engine.expire(now: 1_001)
        #expect(engine.accounts["a"]!.openOrders == 0 && engine.accounts["a"]!.reserved == 0)
    }

    /// Only unconfirmed reservations older than the TTL go; what a node confirmed stays, a later check waits for
    /// its own TTL, and the queue forgets what it has passed.
    @Test func expiryTakesOnlyStaleUnconfirmedReservations() throws {
        var engine = try Self.engine()
        engine.unconfirmedTTL = 1_000
        #expect(engine.check(Self.request("confirmed", quantity: 1), now: 0).approved)
        #expect(engine.check(Self.request("lost", quantity: 2), now: 100).approved)
        #expect(engine.check(Self.request("late", quantity: 3), now: 900).approved)
        var accepted = Self.event("confirmed", status: .accepted, quantity: 1, leaves: 1)
        accepted.sequence = 1
        engine.apply(node: "p1", [accepted], now: 200)
        engine.expire(now: 1_500)
        #expect(Set(engine.reservations.keys) == ["confirmed", "late"])
        #expect(engine.accounts["a"]!.openOrders == 2 && engine.accounts["a"]!.reserved == 400 * Self.dollar)
        engine.expire(now: 1_901)
        #expect(Set(engine.reservations.keys) == ["confirmed"] && engine.unconfirmed.count == 0)
    }

    @Test func cashFormatsAndRounds() {
        #expect(Cash.text(123_450_000) == "1.2345")
        #expect(Cash.text(-100_000_000, currency: "USD") == "-1.00 USD")
        #expect(Cash.notional(price: 1, priceScale: 9, quantity: 1, quantityScale: 0, roundUp: true) == 1)
        #expect(Cash.notional(price: 1, priceScale: 9, quantity: 1, quantityScale: 0) == 0)
        #expect(Cash.units(1, scale: 9) == nil)
    }
}
