import Matching
import Testing

@Suite struct OrderBookTests {
    static func book(_ orders: [BookOrder]) throws -> OrderBook {
        var book = OrderBook(symbol: "ACME")
        for order in orders { _ = try book.submit(order) }
        return book
    }

    @Test func aCrossingLimitOrderTradesAtTheMakersPricesBestFirstThenRests() throws {
        var book = try Self.book([
            BookOrder(id: 1, side: .sell, price: 101, quantity: 5),
            BookOrder(id: 2, side: .sell, price: 100, quantity: 3),
            BookOrder(id: 3, side: .sell, price: 100, quantity: 4),
        ])
        let result = try book.submit(BookOrder(id: 4, side: .buy, price: 101, quantity: 10))
        #expect(result.fills == [
            BookFill(makerID: 2, takerID: 4, price: 100, quantity: 3, makerDone: true),
            BookFill(makerID: 3, takerID: 4, price: 100, quantity: 4, makerDone: true),
            BookFill(makerID: 1, takerID: 4, price: 101, quantity: 3, makerDone: false),
        ])
        #expect(result.resting == 0 && result.cancelled == 0)
        #expect(book.depth(.sell) == [BookLevel(price: 101, quantity: 2, orders: 1)])
        let rest = try book.submit(BookOrder(id: 5, side: .buy, price: 99, quantity: 7))
        #expect(rest == BookResult(resting: 7))
        #expect(book.bestBid == 99 && book.bestAsk == 101)
    }

    @Test func iocCancelsTheRemainderAndFokFillsAllOrNothing() throws {
        var book = try Self.book([BookOrder(id: 1, side: .sell, price: 100, quantity: 5)])
        let fok = try book.submit(BookOrder(id: 2, side: .buy, price: 100, quantity: 6, timeInForce: .fillOrKill))
        #expect(fok == BookResult(cancelled: 6))
        #expect(book.order(id: 1)?.remaining == 5)
        let ioc = try book.submit(BookOrder(id: 3, side: .buy, price: 100, quantity: 6, timeInForce: .immediateOrCancel))
        #expect(ioc.filled == 5 && ioc.cancelled == 1 && ioc.resting == 0)
        #expect(book.count == 0)
    }

    @Test func marketOrdersTakeAnyPriceAndNeverRest() throws {
        var book = try Self.book([
            BookOrder(id: 1, side: .buy, price: 99, quantity: 2), BookOrder(id: 2, side: .buy, price: 98, quantity: 2),
        ])
        #expect(throws: BookError.marketOrderMustNotRest) { try book.submit(BookOrder(id: 3, side: .sell, price: nil, quantity: 1)) }
        let market = try book.submit(BookOrder(id: 3, side: .sell, price: nil, quantity: 5, timeInForce: .immediateOrCancel))
        #expect(market.fills.map(\.price) == [99, 98] && market.cancelled == 1)
    }

    @Test func replaceKeepsPriorityOnlyForASmallerQuantityAtTheSamePrice() throws {
        var book = try Self.book([
            BookOrder(id: 1, side: .sell, price: 100, quantity: 5), BookOrder(id: 2, side: .sell, price: 100, quantity: 5),
        ])
        _ = try book.replace(id: 1, price: 100, quantity: 4)  // keeps its place ahead of 2
        var fill = try book.submit(BookOrder(id: 3, side: .buy, price: 100, quantity: 1, timeInForce: .immediateOrCancel))
        #expect(fill.fills.first?.makerID == 1)
        _ = try book.replace(id: 1, price: 100, quantity: 9)  // a larger quantity: to the back
        fill = try book.submit(BookOrder(id: 4, side: .buy, price: 100, quantity: 1, timeInForce: .immediateOrCancel))
        #expect(fill.fills.first?.makerID == 2)
        let crossing = try book.replace(id: 1, price: 90, quantity: 9)  // repriced through a bid: trades at once
        #expect(crossing.resting == 9)
        #expect(book.depth(.sell).map(\.price) == [90, 100])
    }

    @Test func badCommandsAreRefusedAndChangeNothing() throws {
        var book = try Self.book([BookOrder(id: 1, side: .sell, price: 100, quantity: 5)])
        #expect(throws: BookError.duplicateID(1)) { try book.submit(BookOrder(id: 1, side: .buy, price: 90, quantity: 1)) }
        #expect(throws: BookError.invalidQuantity(0)) { try book.submit(BookOrder(id: 2, side: .buy, price: 90, quantity: 0)) }
        #expect(throws: BookError.invalidPrice(-1)) { try book.submit(BookOrder(id: 2, side: .buy, price: -1, quantity: 1)) }
        #expect(throws: BookError.unknownID(9)) { try book.cancel(id: 9) }
        #expect(throws: BookError.unknownID(9)) { try book.replace(id: 9, price: 100, quantity: 1) }
        #expect(book.depth(.sell) == [BookLevel(price: 100, quantity: 5, orders: 1)] && book.depth(.buy).isEmpty)
        #expect(try book.cancel(id: 1) == 5 && book.count == 0)
    }

    enum Command {
        case submit(BookOrder)
        case cancel(UInt64)
        case replace(UInt64, price: Int64, quantity: Int64)
    }

    enum Outcome: Equatable {
        case result(BookResult)
        case cancelled(Int64)
        case refused(BookError)
    }

    /// A seeded random stream of submits (LIMIT and MARKET, GTC/IOC/FOK), cancels and replaces around one price,
    /// made against ReferenceBook (which picks live orders to cancel or replace).
    static func randomCommands(seed: UInt64, count: Int) -> (commands: [Command], outcomes: [Outcome], final: ReferenceBook) {
        var random = SplitMix64(seed: seed)
        var reference = ReferenceBook()
        var commands: [Command] = []
        var outcomes: [Outcome] = []
        for id in UInt64(1)...UInt64(count) {
            let roll = random.next(below: 100)
            let live = reference.resting.map(\.id)
            let command: Command
            if roll < 15, !live.isEmpty {
                command = .cancel(live[Int(random.next(below: UInt64(live.count)))])
            } else if roll < 25, !live.isEmpty {
                command = .replace(
                    live[Int(random.next(below: UInt64(live.count)))], price: Int64(95 + random.next(below: 11)),
                    quantity: Int64(1 + random.next(below: 20)))
            } else {
                let market = random.next(below: 5) == 0
                let timeInForce: BookTimeInForce = switch random.next(below: 5) {
                case 0: .fillOrKill
                case 1: .immediateOrCancel
                default: market ? .immediateOrCancel : .goodTillCancel
                }
                command = .submit(BookOrder(
                    id: id, side: random.next(below: 2) == 0 ? .buy : .sell,
                    price: market ? nil : Int64(95 + random.next(below: 11)), quantity: Int64(1 + random.next(below: 20)),
                    timeInForce: timeInForce))
            }
            commands.append(command)
            outcomes.append(run(command) { command throws(BookError) in
                switch command {
                case .submit(let order): .result(try reference.submit(order))
                case .cancel(let id): .cancelled(try reference.cancel(id: id))
                case .replace(let id, let price, let quantity): .result(try reference.replace(id: id, price: price, quantity: quantity))
                }
            })
        }
        return (commands, outcomes, reference)
    }

    static func run(_ command: Command, _ body: (Command) throws(BookError) -> Outcome) -> Outcome {
        do throws(BookError) { return try body(command) } catch { return .refused(error) }
    }

    static func apply(_ commands: [Command], to book: inout OrderBook) -> [Outcome] {
        commands.map { command in
            run(command) { command throws(BookError) in
                switch command {
                case .submit(let order): .result(try book.submit(order))
                case .cancel(let id): .cancelled(try book.cancel(id: id))
                case .replace(let id, let price, let quantity): .result(try book.replace(id: id, price: price, quantity: quantity))
                }
            }
        }
    }

    /// Every result (trades in order, resting and cancelled lots, refusals) and the final depth agree with the
    /// reference book, and replaying the same commands on a new book gives the same results.
    @Test(arguments: 0..<200)
    func matchesTheReferenceBookOnARandomCommandStream(seed: UInt64) throws {
        let (commands, expected, reference) = Self.randomCommands(seed: seed, count: 400)
        var book = OrderBook(symbol: "ACME")
        let outcomes = Self.apply(commands, to: &book)
        for index in commands.indices where outcomes[index] != expected[index] {
            Issue.record("seed \(seed), command \(index) \(commands[index]): \(outcomes[index]) ≠ \(expected[index])")
            return
        }
        #expect(book.depth(.buy) == reference.depth(.buy) && book.depth(.sell) == reference.depth(.sell))
        #expect(book.count == reference.resting.count)
        var replay = OrderBook(symbol: "ACME")
        #expect(Self.apply(commands, to: &replay) == outcomes)
        // A book restored from a snapshot halfway gives the same results for the second half.
        var first = OrderBook(symbol: "ACME")
        _ = Self.apply(Array(commands[..<200]), to: &first)
        var restored = OrderBook(symbol: "ACME")
        for order in first.restingOrders { try restored.restore(order) }
        #expect(Self.apply(Array(commands[200...]), to: &restored) == Array(outcomes[200...]))
        #expect(expected.contains { if case .result(let result) = $0 { !result.fills.isEmpty } else { false } })
    }
}

/// A small deterministic generator (SplitMix64), so that a failing seed reproduces.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: UInt64) -> UInt64 { next() % bound }
}
