import Cluster
import EventLoop
@testable import Gateway
import Protos
import RPC
import Testing

/// The gateway's parts that need no cluster: the rate limiter, order validation against the instrument table,
/// execution-feed cursors and batch reconciliation — driven directly, with time passed in.
@Suite struct GatewayPartsTests {
    static let second: UInt64 = 1_000_000_000

    // MARK: - API keys

    /// A key that passed is remembered; a remembered key changes nothing about refusing others (a key of the same
    /// length sharing all but its last character is refused, before and after), and past the memory's bound (1,024) every
    /// key still passes.
    @Test func rememberedKeysAnswerAsTheDigestsDo() {
        let keys = (0..<1_100).map { "tw_" + String(repeating: "a", count: 60) + String($0, radix: 16).leftPadded4 }
        let table = APIKeys(keys.enumerated().map { (SHA256.hex($1.utf8), APIKeys.Entry(id: "k\($0)", account: "acct-\($0)")) })
        let neighbour = String(keys[0].dropLast()) + "z"
        #expect(table.entry(forKey: neighbour) == nil)
        for _ in 0..<2 {
            for (index, key) in keys.enumerated() { #expect(table.entry(forKey: key)?.account == "acct-\(index)") }
            #expect(table.entry(forKey: neighbour) == nil)
        }
    }

    // MARK: - Rate limiter

    @Test func aBucketAllowsABurstOfOneSecondsRateThenRefillsAtTheRate() {
        let limiter = RateLimiter()
        let start: UInt64 = 10 * Self.second
        for _ in 0..<5 { #expect(limiter.take(1, account: "a", rate: 5, now: start) == nil) }
        // Empty: the next token comes in 1/5 s, and the answer says so.
        #expect(Self.milliseconds(limiter.take(1, account: "a", rate: 5, now: start)) == 200)
        #expect(Self.milliseconds(limiter.take(1, account: "a", rate: 5, now: start + Self.second / 10)) == 100)
        #expect(limiter.take(1, account: "a", rate: 5, now: start + Self.second / 5) == nil)
        // Other accounts have their own buckets.
        #expect(limiter.take(5, account: "b", rate: 5, now: start) == nil)
        // A long pause refills to one second's worth, never more.
        for _ in 0..<5 { #expect(limiter.take(1, account: "a", rate: 5, now: start + 100 * Self.second) == nil) }
        #expect(limiter.take(1, account: "a", rate: 5, now: start + 100 * Self.second) != nil)
    }

    /// A wait to the nearest millisecond (the limiter rounds up to the nanosecond).
    static func milliseconds(_ wait: Duration?) -> Int64? { wait.map { Int64(($0.nanoseconds + 500_000) / 1_000_000) } }

    @Test func aBatchLargerThanTheBucketPassesWhenFullAndLeavesItInDebt() {
        let limiter = RateLimiter()
        let start: UInt64 = Self.second
        #expect(limiter.take(12, account: "a", rate: 4, now: start) == nil)
        // 12 taken from 4: 8 in debt, then one more needs 9 tokens' time at 4 a second.
        #expect(Self.milliseconds(limiter.take(1, account: "a", rate: 4, now: start)) == 2_250)
        #expect(limiter.take(1, account: "a", rate: 4, now: start + 2_250_000_000) == nil)
        // A batch waits for a full bucket, not for all of itself.
        #expect(limiter.take(9, account: "c", rate: 4, now: start) == nil)
        #expect(Self.milliseconds(limiter.take(9, account: "c", rate: 4, now: start + Self.second)) == 1_250)
    }

    // MARK: - Validation

    static func table(now: Int64, referenceAt: Int64? = nil) -> InstrumentTable {
        let table = InstrumentTable(referenceMaxAge: .seconds(10))
        var instrument = Tradewire_V1_Instrument()
        instrument.symbol = "ACME"
        instrument.quoteCurrency = "USD"
        instrument.priceScale = 2
        instrument.tickSize = Tradewire_V1_Price(units: 5, scale: 2)
        instrument.lotSize = Tradewire_V1_Quantity(units: 10, scale: 0)
        instrument.minQuantity = Tradewire_V1_Quantity(units: 10, scale: 0)
        instrument.maxQuantity = Tradewire_V1_Quantity(units: 1_000, scale: 0)
        instrument.priceBandBps = 1_000
        instrument.status = .trading
        table.update(instrument)
        var halted = instrument
        halted.symbol = "HALT"
        halted.status = .halted
        halted.priceBandBps = 0
        table.update(halted)
        if let referenceAt {
            var quote = Tradewire_V1_Quote()
            quote.symbol = "ACME"
            quote.referencePrice = Tradewire_V1_Price(units: 10_000, scale: 2)
            quote.referenceAtUnixNanos = referenceAt
            quote.updatedAtUnixNanos = referenceAt
            table.update(quote)
        }
        return table
    }

    static func limit(_ symbol: String = "ACME", price: Int64? = 10_000, quantity: Int64? = 100) -> Tradewire_V1_NewOrder {
        var order = Tradewire_V1_NewOrder()
        order.clientOrderID = "c-1"
        order.symbol = symbol
        order.side = .buy
        order.type = .limit
        order.timeInForce = .gtc
        order.price = price.map { Tradewire_V1_Price(units: $0, scale: 2) }
        order.quantity = quantity.map { Tradewire_V1_Quantity(units: $0, scale: 0) }
        return order
    }

    @Test func aValidOrderHasNoViolationsAndEveryViolationIsListedAtOnce() {
        let now: Int64 = 1_000 * 1_000_000_000
        let table = Self.table(now: now, referenceAt: now)
        #expect(OrderValidation.violations(Self.limit(), field: "order", table: table, now: now).isEmpty)
        var bad = Self.limit(price: 10_003, quantity: 15)
        bad.clientOrderID = "has space"
        bad.timeInForce = .unspecified
        let fields = OrderValidation.violations(bad, field: "orders[2]", table: table, now: now).map(\.field)
        #expect(fields == ["orders[2].client_order_id", "orders[2].time_in_force", "orders[2].price", "orders[2].quantity"])
        // An unknown symbol does not hide the rest.
        let unknown = OrderValidation.violations(Self.limit("NOPE", quantity: nil), field: "order", table: table, now: now)
        #expect(unknown.map(\.field) == ["order.symbol", "order.quantity"])
        #expect(unknown[0].description_p.contains("NOPE") && unknown[1].description_p == "is required")
        #expect(OrderValidation.violations(Self.limit("HALT"), field: "order", table: table, now: now).map(\.description_p)
            == ["HALT is not trading (halted)"])
    }

    @Test func ticksLotsMinimaMaximaScalesAndOrderTypesAreChecked() {
        let now: Int64 = 1_000 * 1_000_000_000
        let table = Self.table(now: now, referenceAt: now)
        func problems(_ order: Tradewire_V1_NewOrder) -> [String] {
            OrderValidation.violations(order, field: "order", table: table, now: now).map { "\($0.field): \($0.description_p)" }
        }
        #expect(problems(Self.limit(price: 10_001)) == ["order.price: 100.01 is not a multiple of the tick size 0.05"])
        #expect(problems(Self.limit(quantity: 5)) == [
            "order.quantity: 5 is not a multiple of the lot size 10", "order.quantity: 5 is below the minimum 10",
        ])
        #expect(problems(Self.limit(quantity: 2_000)) == ["order.quantity: 2000 is above the maximum 1000"])
        #expect(problems(Self.limit(price: 0)) == ["order.price: must be positive"])
        var wrongScale = Self.limit()
        wrongScale.price = Tradewire_V1_Price(units: 100, scale: 0)
        #expect(problems(wrongScale) == ["order.price: scale 0 is not ACME's price scale 2"])
        var market = Self.limit(price: nil)
        market.type = .market
        #expect(problems(market) == ["order.time_in_force: a MARKET order is IOC or FOK"])
        market.timeInForce = .ioc
        #expect(problems(market).isEmpty)
        market.price = Tradewire_V1_Price(units: 10_000, scale: 2)
        #expect(problems(market) == ["order.price: a MARKET order has no price"])
        #expect(problems(Self.limit(price: nil)) == ["order.price: a LIMIT order needs a price"])
    }

    @Test func thePriceBandAndTheReferencesAgeFollowTheClockPassedIn() {
        let now: Int64 = 1_000 * 1_000_000_000
        let table = Self.table(now: now, referenceAt: now)
        // 10 % around 100.00: 110.00 is inside, 110.05 outside.
        #expect(OrderValidation.violations(Self.limit(price: 11_000), field: "order", table: table, now: now).isEmpty)
        #expect(OrderValidation.violations(Self.limit(price: 11_005), field: "order", table: table, now: now).map(\.description_p)
            == ["110.05 is more than 10.0% from the reference price 100.00"])
        #expect(OrderValidation.referenceProblem(Self.limit(), table: table, now: now + 10_000_000_000) == nil)
        let stale = OrderValidation.referenceProblem(Self.limit(), table: table, now: now + 10_000_000_001)
        #expect(stale?.contains("10000 ms old, older than 10000 ms") == true, "\(String(describing: stale))")
        let none = OrderValidation.referenceProblem(Self.limit(), table: Self.table(now: now), now: now)
        #expect(none == "no reference price for ACME yet: its price band cannot be checked")
        // Without a band a LIMIT order needs no reference.
        #expect(OrderValidation.referenceProblem(Self.limit("HALT"), table: Self.table(now: now), now: now) == nil)
    }

    // MARK: - Execution-feed cursors

    @Test func cursorsRoundTripAndAnythingElseIsRefusedWithTheReason() throws {
        let nodes = ["p1", "p2", "p3"]
        let positions: ExecutionFeed.Positions = ["p1": 12, "p3": UInt64(Int64.max) - 1, "p2": 0]
        let text = ExecutionFeed.cursor(positions)
        #expect(text == "p1:12,p2:0,p3:9223372036854775806")
        #expect(try ExecutionFeed.positions(text, nodes: nodes).get() == positions)
        let refused: [(String, String)] = [
            ("p9:1", "names \"p9\", which is not a node of this cluster"),
            ("p1:1,p1:2", "names node p1 twice"),
            ("p1:1,", "entry \"\" is not node:sequence"),
            ("p1:-1", "entry \"p1:-1\" is not node:sequence"),
            ("p1:+1", "entry \"p1:+1\" is not node:sequence"),
            ("p1:9223372036854775807", "entry \"p1:9223372036854775807\" is not node:sequence"),
            ("p1:18446744073709551616", "entry \"p1:18446744073709551616\" is not node:sequence"),
            ("p1", "entry \"p1\" is not node:sequence"),
            (String(repeating: "p1:1,", count: 4_000), "is longer than 16384 bytes"),
        ]
        for (cursor, reason) in refused {
            switch ExecutionFeed.positions(cursor, nodes: nodes) {
            case .success(let positions): Issue.record("\(cursor.prefix(40)) was read as \(positions)")
            case .failure(let error): #expect(error.description == reason, "\(cursor.prefix(40))")
            }
        }
    }

    // MARK: - Reconciliation

    static func order(_ symbol: String, _ side: Tradewire_V1_Side, _ status: Tradewire_V1_OrderStatus, filled: Int64 = 0,
                      notional: Int64 = 0, currency: String = "USD") -> Tradewire_V1_Order
    {
        var order = Tradewire_V1_Order()
        order.symbol = symbol
        order.side = side
        order.status = status
        order.filledQuantity = Tradewire_V1_Quantity(units: filled, scale: 0)
        order.filledNotional = Tradewire_V1_Money(units: notional, scale: 2, currency: currency)
        return order
    }

    @Test func aBatchsTotalsAreExactAndItsPnlIsComparedWithTheExpectedOne() throws {
        let table = Self.table(now: 0)
        let orders = [
            Self.order("ACME", .buy, .filled, filled: 10, notional: 100_050),
            Self.order("ACME", .sell, .partiallyFilled, filled: 4, notional: 40_100),
            Self.order("ACME", .buy, .accepted),
            Self.order("ACME", .sell, .cancelled),
            Self.order("ACME", .buy, .rejected),
            Self.order("ACME", .sell, .settled, filled: 6, notional: 60_300),
        ]
        let expected = Tradewire_V1_Money(units: 3_500, scale: 3, currency: "USD")  // 3.500 = 401.00 + 603.00 − 1000.50
        let response = try Reconciliation(orders: orders, instruments: table).response(batchID: "b1", expected: expected)
        #expect(response.totalOrders == 6 && response.filledOrders == 2 && response.partiallyFilledOrders == 1)
        #expect(response.pendingOrders == 1 && response.cancelledOrders == 1 && response.rejectedOrders == 1)
        #expect(response.symbols.map(\.symbol) == ["ACME"])
        #expect(response.symbols[0].filledQuantity?.units == 20 && response.symbols[0].filledValue?.units == 200_450)
        #expect(response.actualPnl?.units == 350 && response.actualPnl?.scale == 2 && response.actualPnl?.currency == "USD")
        #expect(response.pnlMatches)
        let other = try Reconciliation(orders: orders, instruments: table)
            .response(batchID: "b1", expected: Tradewire_V1_Money(units: 351, scale: 2, currency: "USD"))
        #expect(!other.pnlMatches)
    }

    @Test func mixedCurrenciesOverflowAndAbsurdScalesAreClearErrors() {
        let table = Self.table(now: 0)
        let mixed = [Self.order("X", .buy, .filled, filled: 1, notional: 1, currency: "USD"),
                     Self.order("Y", .buy, .filled, filled: 1, notional: 1, currency: "EUR")]
        let huge = [Self.order("X", .buy, .filled, filled: 1, notional: .max), Self.order("X", .buy, .filled, filled: 1, notional: .max)]
        do {
            _ = try Reconciliation(orders: huge, instruments: table).response(batchID: "b", expected: nil)
            Issue.record("an overflowing total was answered")
        } catch {
            #expect(error.code == .outOfRange)
        }
        do {
            _ = try Reconciliation(orders: [], instruments: table)
                .response(batchID: "b", expected: Tradewire_V1_Money(units: 1, scale: 40, currency: "USD"))
            Issue.record("an expected P&L at scale 40 was accepted")
        } catch {
            #expect(error.code == .invalidArgument)
        }
        do {
            _ = try Reconciliation(orders: mixed, instruments: table).response(batchID: "b", expected: nil)
            Issue.record("a batch in two currencies got one P&L")
        } catch {
            #expect(error.code == .failedPrecondition && error.message.contains("USD and EUR"), "\(error)")
        }
    }
}

extension String {
    /// Four characters, zeros in front.
    fileprivate var leftPadded4: String { String(repeating: "0", count: max(0, 4 - count)) + self }
}
