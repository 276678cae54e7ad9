import Cluster
import RPC
import Protos
@testable import Risk
import TestSupport
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

    /// The statuses risk asks the nodes for (`followedStatuses`) leave out only events that change nothing: random
    /// lifecycles (rejected; accepted, partly filled, then filled and settled or cancelled), interleaved and applied
    /// in random batches, leave the same accounts, positions and reservations whether every event is applied or
    /// only those the filter keeps.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func theEventsRiskLeavesOutChangeNothing(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var all = try Self.engine(), filtered = try Self.engine()
        var lifecycles: [[Tradewire_V1_Event]] = []
        for index in 0..<40 {
            let id = "o\(index)", side: Tradewire_V1_Side = random.next() % 3 == 0 ? .sell : .buy
            let quantity = Int64(1 + random.next() % 20), price = Int64(9_900 + random.next() % 200)
            for engine in [0, 1] {
                _ = engine == 0 ? all.check(Self.request(id, side: side, price: price, quantity: quantity), now: 0)
                    : filtered.check(Self.request(id, side: side, price: price, quantity: quantity), now: 0)
            }
            func event(_ status: Tradewire_V1_OrderStatus, leaves: Int64, fill: (price: Int64, quantity: Int64)? = nil) -> Tradewire_V1_Event {
                Self.event(id, side: side, status: status, price: price, quantity: quantity, leaves: leaves, fill: fill)
            }
            var events = [event(.new, leaves: quantity)]
            guard random.next() % 5 != 0 else {
                lifecycles.append(events + [event(.rejected, leaves: 0)])
                continue
            }
            events.append(event(.accepted, leaves: quantity))
            var leaves = quantity
            while leaves > 1 && random.next() % 2 == 0 {
                let filled = Int64(1 + random.next() % UInt64(leaves - 1))
                leaves -= filled
                events.append(event(.partiallyFilled, leaves: leaves, fill: (price, filled)))
            }
            if random.next() % 2 == 0 {
                events += [event(.filled, leaves: 0, fill: (price, leaves)), event(.settled, leaves: 0)]
            } else {
                events += [event(.pendingCancel, leaves: leaves), event(.cancelled, leaves: 0)]
            }
            lifecycles.append(events)
        }
        // Interleaved (each order's events in their order), numbered as a node's sequence.
        var stream: [Tradewire_V1_Event] = []
        while !lifecycles.isEmpty {
            let pick = Int(random.next() % UInt64(lifecycles.count))
            var next = lifecycles[pick].removeFirst()
            next.sequence = UInt64(stream.count + 1)
            stream.append(next)
            if lifecycles[pick].isEmpty { lifecycles.remove(at: pick) }
        }
        let followed = Set(RiskEngine.followedStatuses)
        var start = 0
        while start < stream.count {
            let batch = Array(stream[start..<min(stream.count, start + 1 + Int(random.next() % 8))])
            start += batch.count
            all.apply(node: "p1", batch, now: 0)
            let kept = batch.filter { event in
                guard case .order(let change) = event.event, let status = change.order?.status else { return true }
                return followed.contains(status)
            }
            filtered.apply(node: "p1", kept, now: 0)
        }
        #expect(stream.contains { if case .order(let change) = $0.event { change.order?.status == .settled } else { false } })
        let (a, b) = (all.accounts["a"]!, filtered.accounts["a"]!)
        #expect(a.balance == b.balance && a.reserved == b.reserved && a.openOrders == b.openOrders && a.positions == b.positions)
        #expect(all.reservations == filtered.reservations)
        #expect(a.positions["ACME"] != nil)  // fills happened: the comparison covers them
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

/// Replaces are checked by risk exactly like new orders: the new terms against every limit, with the order's own
/// reservation counted as released; approved, the order holds the larger of its old and new terms until its
/// events show the book's answer.
struct RiskReplaceTests {
    typealias Base = RiskEngineTests
    static let dollar = RiskEngineTests.dollar

    static func replace(_ id: String, price: Int64 = 10_000, quantity: Int64, filled: Int64 = 0, version: UInt64 = 2)
        -> Tradewire_V1_RiskCheckRequest
    {
        var request = Base.request(id, price: price, quantity: quantity)
        request.replace = true
        request.filledQuantity = Tradewire_V1_Quantity(units: filled)
        request.orderVersion = version
        return request
    }

    static func reason(_ engine: inout RiskEngine, _ request: Tradewire_V1_RiskCheckRequest) -> Tradewire_V1_RejectReason? {
        Base.reason(&engine, request)
    }

    @Test func aReplaceThatPassesALimitIsRefusedAndTheOrderKeepsItsHold() throws {
        let limits = Tradewire_V1_AccountLimits(
            maxOrderQuantity: Tradewire_V1_Quantity(units: 60), maxOrderNotional: Tradewire_V1_Money(units: 5_000, currency: "USD"),
            maxPosition: Tradewire_V1_Quantity(units: 80))
        var engine = try Base.engine(limits: limits)
        #expect(Self.reason(&engine, Base.request("o", quantity: 10)) == nil)  // 1,000.00 held
        #expect(Self.reason(&engine, Base.request("other", quantity: 40)) == nil)  // 4,000.00 held, position 50 working
        #expect(Self.reason(&engine, Self.replace("o", quantity: 61)) == .maxOrderQuantity)
        #expect(Self.reason(&engine, Self.replace("o", price: 10_100, quantity: 50)) == .maxOrderNotional)  // 5,050.00
        #expect(Self.reason(&engine, Self.replace("o", quantity: 41)) == .maxPosition)  // 40 + 41 > 80
        #expect(Self.reason(&engine, Self.replace("o", price: 10_500, quantity: 1, filled: 0)) == nil)
        // Refusals left the order's hold as it was; the approved replace holds the larger of old and new.
        #expect(engine.accounts["a"]!.reserved == 5_000 * Self.dollar)
        #expect(engine.reservations["o"]!.pending?.price == 10_500 && engine.accounts["a"]!.openOrders == 2)
    }

    @Test func aReplaceNeedsTheCashOfItsNewTermsWithItsOwnHoldReleased() throws {
        var engine = try Base.engine()  // 10,000.00
        #expect(Self.reason(&engine, Base.request("o", quantity: 50)) == nil)  // 5,000.00 held
        #expect(Self.reason(&engine, Base.request("x", quantity: 30)) == nil)  // 3,000.00 held, 2,000.00 available
        #expect(Self.reason(&engine, Self.replace("o", quantity: 71)) == .insufficientBalance)  // needs 7,100 of 7,000
        #expect(Self.reason(&engine, Self.replace("o", quantity: 70)) == nil)
        #expect(engine.accounts["a"]!.reserved == 10_000 * Self.dollar && engine.accounts["a"]!.available == 0)
        // Nothing is left for anything else while the replace is pending.
        #expect(Self.reason(&engine, Base.request("y", quantity: 1)) == .insufficientBalance)
    }

    /// `event` with its order at `version` (and changed by `adjust`), numbered `sequence`.
    static func at(_ event: Tradewire_V1_Event, sequence: UInt64, version: UInt64,
                   _ adjust: (inout Tradewire_V1_Order) -> Void = { _ in }) -> Tradewire_V1_Event
    {
        guard case .order(var orderEvent) = event.event, var order = orderEvent.order else { return event }
        order.version = version
        adjust(&order)
        orderEvent.order = order
        var changed = event
        changed.event = .order(orderEvent)
        changed.sequence = sequence
        return changed
    }

    @Test func theHoldFollowsTheBooksAnswerAndIgnoresEventsOlderThanTheReplace() throws {
        var engine = try Base.engine()
        #expect(Self.reason(&engine, Base.request("o", quantity: 10)) == nil)
        engine.apply(node: "p1", [Self.at(Base.event("o", status: .accepted, quantity: 10, leaves: 10), sequence: 1, version: 2)], now: 0)
        #expect(Self.reason(&engine, Self.replace("o", price: 10_200, quantity: 30, version: 2)) == nil)
        #expect(engine.accounts["a"]!.reserved == 3_060 * Self.dollar)  // 30 at 102.00 while pending
        // An event from before the replace (version 2) leaves the pending terms held.
        let fill = Base.event("o", status: .partiallyFilled, quantity: 10, leaves: 8, fill: (10_000, 2))
        engine.apply(node: "p1", [Self.at(fill, sequence: 2, version: 2)], now: 0)
        #expect(engine.accounts["a"]!.reserved == 3_060 * Self.dollar)  // the pending 30 at 102.00 is the larger
        // The node's PENDING_REPLACE (version 3) carries the terms; the book's REPLACED (version 4) ends them.
        let pending = Self.at(Base.event("o", status: .partiallyFilled, quantity: 10, leaves: 8), sequence: 3, version: 3) { order in
            order.filledQuantity = Tradewire_V1_Quantity(units: 2)
            order.pendingPrice = Tradewire_V1_Price(units: 10_200, scale: 2)
            order.pendingQuantity = Tradewire_V1_Quantity(units: 30)
        }
        engine.apply(node: "p1", [pending], now: 0)
        #expect(engine.reservations["o"]?.pending?.confirmed == true && engine.accounts["a"]!.reserved == 2_856 * Self.dollar)
        let replaced = Base.event("o", status: .partiallyFilled, price: 10_200, quantity: 30, leaves: 28)
        engine.apply(node: "p1", [Self.at(replaced, sequence: 4, version: 4)], now: 0)
        #expect(engine.reservations["o"]?.pending == nil && engine.accounts["a"]!.reserved == 2_856 * Self.dollar)
    }

    @Test func aReplaceTheNodeNeverJournaledExpires() throws {
        var engine = try Base.engine()
        engine.unconfirmedTTL = 1_000
        #expect(Self.reason(&engine, Base.request("o", quantity: 10)) == nil)
        var accepted = Base.event("o", status: .accepted, quantity: 10, leaves: 10)
        accepted.sequence = 1
        engine.apply(node: "p1", [accepted], now: 0)
        #expect(engine.check(Self.replace("o", quantity: 40, version: 0), now: 100).approved)
        #expect(engine.accounts["a"]!.reserved == 4_000 * Self.dollar)
        engine.expire(now: 1_200)
        #expect(engine.reservations["o"]?.pending == nil && engine.accounts["a"]!.reserved == 1_000 * Self.dollar)
    }

    @Test func limitsWithAbsurdScalesAreRefusedNotTrapped() throws {
        var engine = try Base.engine()
        let huge = Tradewire_V1_AccountLimits(maxOrderQuantity: Tradewire_V1_Quantity(units: 1, scale: 4_000_000_000))
        #expect(throws: RPCError.self) { try engine.setLimits("a", huge) }
        let deep = Tradewire_V1_AccountLimits(maxOrderNotional: Tradewire_V1_Money(units: 1, scale: 40, currency: "USD"))
        #expect(throws: RPCError.self) { try engine.setLimits("a", deep) }
        #expect(throws: RPCError.self) { try engine.setBalance("a", Tradewire_V1_Money(units: .max, scale: 0, currency: "USD"), adjust: false) }
        // Orders at the extremes are refused with a reason.
        for (price, quantity) in [(Int64.max, Int64(1)), (1, .max), (.max, .max), (-1, 1), (1, -1), (0, 0)] {
            #expect(Self.reason(&engine, Base.request("x\(price)\(quantity)", price: price, quantity: quantity)) != nil)
        }
    }

    @Test func staleReferencesFailClosed() throws {
        var engine = try Base.engine()
        engine.referenceMaxAge = 1_000
        #expect(Self.reason(&engine, Base.request("fresh", quantity: 1)) == nil)
        #expect(engine.check(Base.request("late", quantity: 1), now: 1_001).reason == .priceBand)
        #expect(engine.check(Base.request("mkt", side: .sell, type: .market, price: nil, quantity: 1), now: 5_000).text.contains("older"))
        engine.references["ACME"] = ReferencePrice(units: 10_000, at: 4_500)
        #expect(engine.check(Base.request("again", quantity: 1), now: 5_000).approved)
    }

    @Test func aMarketOrdersProtectionIsCappedAtTheInstrumentsMaximum() throws {
        var engine = try Base.engine()
        engine.instruments["ACME"]!.maxPrice = Tradewire_V1_Price(units: 10_200, scale: 2)
        let response = engine.check(Base.request("m", type: .market, price: nil, quantity: 1), now: 0)
        #expect(response.approved && response.protectionPrice?.units == 10_200)  // 105.00 capped at 102.00
    }
}
