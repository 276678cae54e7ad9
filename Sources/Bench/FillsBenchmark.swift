import EventLoop
import JSON
import LoadHarness
import Locks
import Protos
import RPC
import ServiceStubs
import Transport

/// Place-to-fill through the whole system: pairs of crossing orders from one account on one symbol, a sell that
/// rests and then a buy at its price; the time from sending the buy to its TRADE report arriving on the account's
/// StreamExecutions (gateway → owning node → risk → book node → back → gateway's feed), and, for the same buys,
/// place-to-acknowledge. Meant to run beside a load on other symbols and another account.
public struct FillsBenchmark: Sendable {
    public var host: String
    public var port: Int
    /// An API key of an account nothing else trades on.
    public var apiKey: String
    /// A symbol nothing else trades.
    public var symbol: String
    /// The price, in units of the symbol's price scale 2 (inside its price band).
    public var price: Int64
    /// Pairs to measure, at most.
    public var pairs: Int
    /// Time to measure for, at most (an overloaded system gets fewer pairs).
    public var duration: Duration
    public var interval: Duration

    public init(host: String, port: Int, apiKey: String, symbol: String, price: Int64, pairs: Int, duration: Duration, interval: Duration) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.symbol = symbol
        self.price = price
        self.pairs = pairs
        self.duration = duration
        self.interval = interval
    }

    /// The figures as JSON: pairs measured, fills that did not arrive within 5 s, and place-to-fill and
    /// place-to-ack percentiles in microseconds.
    public func run() async throws -> JSONValue {
        var configuration = ChannelConfiguration()
        configuration.metadata = ["authorization": .string("Bearer \(apiKey)")]
        let channel = try Channel(host: host, port: port, configuration: configuration)
        let client = Tradewire_V1_Gateway.Client(channel)
        let arrivals = FillArrivals()
        let stream = Task {
            try await client.streamExecutions(Tradewire_V1_StreamExecutionsRequest()) { reports in
                for try await report in reports where report.execType == .trade { arrivals.arrived(report.clientOrderID) }
            }
        }
        defer { stream.cancel() }
        let run = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        // The stream is live once a warm-up pair's fill arrives on it.
        var warmed = false
        for attempt in 0..<10 where !warmed {
            warmed = try await pair(client, arrivals, id: "\(run)-warm-\(attempt)").filled != nil
        }
        guard warmed else {
            await channel.shutdown()
            throw BenchError("no fill arrived on StreamExecutions for 10 warm-up pairs")
        }
        var fills = LatencyHistogram()
        var acks = LatencyHistogram()
        var missing = 0
        let end = ContinuousClock.now + duration
        for number in 0..<pairs where ContinuousClock.now < end {
            let (acknowledged, filled) = try await pair(client, arrivals, id: "\(run)-\(number)")
            acks.record(acknowledged)
            if let filled { fills.record(filled) } else { missing += 1 }
            try await Task.sleep(for: interval)
        }
        await channel.shutdown()
        return .object([
            "pairs": .number(acks.count), "fills_missing": .number(missing),
            "place_to_fill_us": fills.microsecondsJSON(), "place_to_ack_us": acks.microsecondsJSON(),
        ])
    }

    /// A resting sell, then a crossing buy: the buy's place-to-ack and place-to-fill in nanoseconds (fill nil if its
    /// report did not arrive within 5 s).
    private func pair(_ client: Tradewire_V1_Gateway.Client, _ arrivals: FillArrivals, id: String) async throws -> (acknowledged: UInt64, filled: UInt64?) {
        let options = CallOptions(timeout: .seconds(10))
        _ = try await client.placeOrder(request("\(id)-s", .sell), options: options)
        let buy = "\(id)-b"
        arrivals.expect(buy)
        let sent = Monotonic.now()
        _ = try await client.placeOrder(request(buy, .buy), options: options)
        let acknowledged = Monotonic.now() - sent
        guard let arrived = await arrivals.arrival(of: buy, within: .seconds(5)) else { return (acknowledged, nil) }
        return (acknowledged, arrived - sent)
    }

    private func request(_ clientOrderID: String, _ side: Tradewire_V1_Side) -> Tradewire_V1_PlaceOrderRequest {
        var order = Tradewire_V1_NewOrder(clientOrderID: clientOrderID, symbol: symbol, side: side, type: .limit, timeInForce: .gtc,
                                          quantity: Tradewire_V1_Quantity(units: 1))
        order.price = Tradewire_V1_Price(units: price, scale: 2)
        return Tradewire_V1_PlaceOrderRequest(order: order)
    }
}

/// When each awaited order's first TRADE report arrived (monotonic nanoseconds), handed to the one task waiting
/// for it: a waiter sleeps until the report or its time limit, whichever comes first.
final class FillArrivals: Sendable {
    private enum Entry {
        case expected
        case arrived(UInt64)
        case waiting(CheckedContinuation<UInt64?, Never>)
    }

    private let entries = Lock<[String: Entry]>([:])

    func expect(_ clientOrderID: String) {
        entries.withLock { $0[clientOrderID] = .expected }
    }

    func arrived(_ clientOrderID: String) {
        let now = Monotonic.now()
        let waiter: CheckedContinuation<UInt64?, Never>? = entries.withLock { entries in
            switch entries[clientOrderID] {
            case .expected:
                entries[clientOrderID] = .arrived(now)
                return nil
            case .waiting(let continuation):
                entries[clientOrderID] = nil
                return continuation
            case .arrived, nil:
                return nil
            }
        }
        waiter?.resume(returning: now)
    }

    /// When `clientOrderID`'s report arrived, or nil if it did not within `timeout`; forgets the order either way.
    func arrival(of clientOrderID: String, within timeout: Duration) async -> UInt64? {
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.giveUp(clientOrderID)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let early: UInt64?? = entries.withLock { entries in
                switch entries[clientOrderID] {
                case .arrived(let time):
                    entries[clientOrderID] = nil
                    return .some(time)
                case .expected:
                    entries[clientOrderID] = .waiting(continuation)
                    return .none
                case .waiting, nil:
                    // Given up already (the timer ran first), or never expected.
                    return .some(nil)
                }
            }
            if let early { continuation.resume(returning: early) }
        }
    }

    private func giveUp(_ clientOrderID: String) {
        let waiter: CheckedContinuation<UInt64?, Never>? = entries.withLock { entries in
            let entry = entries.removeValue(forKey: clientOrderID)
            if case .waiting(let continuation) = entry { return continuation }
            return nil
        }
        waiter?.resume(returning: nil)
    }
}
