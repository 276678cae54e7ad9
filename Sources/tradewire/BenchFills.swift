import ArgumentParser
import EventLoop
import Foundation
import JSON
import Cluster
import Protos
import RPC
import ServiceStubs
import Synchronization
import Transport
import Locks

extension Bench {
    /// Place-to-fill through the whole system: pairs of crossing orders from one account on one symbol, a sell
    /// that rests and then a buy at its price; the time from sending the buy to its TRADE report arriving on the
    /// account's StreamExecutions (gateway → owning node → risk → book node → back → gateway's feed), and, for the
    /// same buys, place-to-acknowledge. Meant to run beside `tradewire load` on other symbols and another account.
    struct Fills: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "fills", abstract: "Place-to-fill latency through the gateway.")

        @Option(help: "The gateway's host:port.") var gateway: String
        @Option(help: "An API key of an account nothing else trades on.") var apiKey: String
        @Option(help: "A symbol nothing else trades.") var symbol = "ZETA"
        @Option(help: "The price, in units of the symbol's price scale 2 (inside its price band).") var price: Int64 = 25_000
        @Option(help: "Crossing pairs to measure (at most).") var pairs = 200
        @Option(help: "Seconds to measure for (at most; an overloaded system gets fewer pairs).") var seconds = 30.0
        @Option(help: "Milliseconds between pairs.") var intervalMs = 20
        @Option(help: "Write the percentiles as JSON here.") var json: String?

        func run() async throws {
            guard let (host, port) = SocketAddressText.split(gateway) else { throw ValidationError("--gateway \(gateway) is not host:port") }
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
            let run = String(UInt32.random(in: 0...UInt32.max), radix: 16)
            // The stream is live once a warm-up pair's fill arrives on it.
            var warmed = false
            for attempt in 0..<10 where !warmed {
                let (_, filled) = try await pair(client, arrivals, id: "\(run)-warm-\(attempt)")
                warmed = filled != nil
            }
            guard warmed else { throw ValidationError("no fill arrived on StreamExecutions for 10 warm-up pairs") }
            var fills: [UInt64] = []
            var acks: [UInt64] = []
            var missing = 0
            let end = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
            for number in 0..<pairs where ContinuousClock.now < end {
                let (ack, filled) = try await pair(client, arrivals, id: "\(run)-\(number)")
                acks.append(ack)
                if let filled { fills.append(filled) } else { missing += 1 }
                try await Task.sleep(for: .milliseconds(intervalMs))
            }
            stream.cancel()
            await channel.shutdown()
            let result: JSONValue = .object([
                "pairs": .number(acks.count), "fills_missing": .number(missing),
                "place_to_fill_us": Self.percentiles(fills), "place_to_ack_us": Self.percentiles(acks),
            ])
            print(result.text())
            if let json { try (result.text(pretty: true) + "\n").write(toFile: json, atomically: true, encoding: .utf8) }
        }

        /// A resting sell, then a crossing buy: the buy's place-to-ack and place-to-fill in nanoseconds (fill nil
        /// if its report did not arrive within 5 s).
        private func pair(_ client: Tradewire_V1_Gateway.Client, _ arrivals: FillArrivals, id: String) async throws -> (UInt64, UInt64?) {
            let options = CallOptions(timeout: .seconds(10))
            _ = try await client.placeOrder(request("\(id)-s", .sell), options: options)
            let buy = "\(id)-b"
            let waiter = arrivals.expect(buy)
            let sent = Monotonic.now()
            _ = try await client.placeOrder(request(buy, .buy), options: options)
            let acknowledged = Monotonic.now() - sent
            guard let arrived = await waiter.arrival(within: .seconds(5)) else { return (acknowledged, nil) }
            return (acknowledged, arrived - sent)
        }

        private func request(_ clientOrderID: String, _ side: Tradewire_V1_Side) -> Tradewire_V1_PlaceOrderRequest {
            var order = Tradewire_V1_NewOrder(clientOrderID: clientOrderID, symbol: symbol, side: side, type: .limit, timeInForce: .gtc,
                                              quantity: Tradewire_V1_Quantity(units: 1))
            order.price = Tradewire_V1_Price(units: price, scale: 2)
            return Tradewire_V1_PlaceOrderRequest(order: order)
        }

        static func percentiles(_ nanoseconds: [UInt64]) -> JSONValue {
            let sorted = nanoseconds.sorted()
            guard !sorted.isEmpty else { return .null }
            func at(_ fraction: Double) -> JSONValue {
                .number(Double(sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.down)))]) / 1000)
            }
            return .object(["p50": at(0.5), "p99": at(0.99), "p99.9": at(0.999), "max": at(1)])
        }
    }
}

/// When each awaited order's first TRADE report arrived (monotonic nanoseconds).
final class FillArrivals: Sendable {
    final class Waiter: Sendable {
        let time = Lock<UInt64?>(nil)

        func arrival(within timeout: Duration) async -> UInt64? {
            let end = ContinuousClock.now + timeout
            while ContinuousClock.now < end {
                if let time = time.withLock({ $0 }) { return time }
                try? await Task.sleep(for: .microseconds(50))
            }
            return nil
        }
    }

    private let waiters = Lock<[String: Waiter]>([:])

    func expect(_ clientOrderID: String) -> Waiter {
        let waiter = Waiter()
        waiters.withLock { $0[clientOrderID] = waiter }
        return waiter
    }

    func arrived(_ clientOrderID: String) {
        let now = Monotonic.now()
        let waiter = waiters.withLock { $0.removeValue(forKey: clientOrderID) }
        waiter?.time.withLock { if $0 == nil { $0 = now } }
    }
}
