@testable import Bench
import EventLoop
import JSON
import Testing

/// The fixed benchmarks' engines against a real gateway and cluster: what they count adds up, and what they time
/// arrives. Their figures are only as good as this bookkeeping.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct BenchEngineTests {
    @Test func fillsAndOrderEntryCountWhatTheySentAndHeard() async throws {
        try await GatewayCluster.with { cluster in
            // Pairs on BOLT first, from alice: each pair fills completely, so the book is empty again after them.
            let fills = try await FillsBenchmark(host: "127.0.0.1", port: cluster.port, apiKey: cluster.keys["alice"]!, symbol: "BOLT",
                                                 price: 5000, pairs: 5, duration: .seconds(20), interval: .milliseconds(10)).run()
            #expect(fills["pairs"]?.int64Value == 5, "\(fills.text())")
            #expect(fills["fills_missing"]?.int64Value == 0, "\(fills.text())")
            #expect(fills["place_to_fill_us"]?["p50"]?.doubleValue ?? 0 > 0, "\(fills.text())")

            let bolt = [OrderFlow.Market(symbol: "BOLT", mid: 5000)]
            // Open loop: 200/s over a measured second is 200 requests, whatever the system does with them.
            let open = try await OrderEntryBenchmark(
                host: "127.0.0.1", port: cluster.port, apiKeys: [cluster.keys["bob"]!], sessions: 2, connections: 1, rate: 200, inFlight: 64,
                warmup: .milliseconds(500), duration: .seconds(1), markets: bolt, spread: 2
            ).run()
            let sent = open["requests_sent"]?.int64Value ?? -1
            #expect(sent == 200, "\(open.text())")
            #expect((open["acknowledged"]?.int64Value ?? 0) + (open["unanswered"]?.int64Value ?? -1) == sent, "\(open.text())")
            #expect((open["acknowledged"]?.int64Value ?? 0) >= 195, "\(open.text())")
            #expect((open["fills"]?.int64Value ?? 0) > 0, "orders priced through the mid cross: \(open.text())")
            #expect(open["place_to_ack_us"]?["p99"]?.doubleValue ?? 0 > 0, "\(open.text())")

            // Closed loop: 4 unanswered per session at most, each answer sending the next.
            let closed = try await OrderEntryBenchmark(
                host: "127.0.0.1", port: cluster.port, apiKeys: [cluster.keys["bob"]!], sessions: 2, connections: 1, rate: nil, inFlight: 4,
                warmup: .milliseconds(200), duration: .seconds(1), markets: bolt, spread: 2
            ).run()
            let acknowledged = closed["acknowledged"]?.int64Value ?? 0
            #expect(acknowledged > 0, "\(closed.text())")
            #expect(acknowledged + (closed["unanswered"]?.int64Value ?? -1) == closed["requests_sent"]?.int64Value, "\(closed.text())")
        }
    }
}

/// The engines' small parts, with no sockets.
struct BenchPartsTests {
    @Test func aSessionWindowHoldsItsBoundAndItsCloseWakesTheSender() async throws {
        let window = SessionWindow(2)
        #expect(await window.acquire())
        #expect(await window.acquire())
        let third = Task { await window.acquire() }
        try await Task.sleep(for: .milliseconds(20))
        window.release()
        #expect(await third.value, "a release lets the waiting sender in")
        let fourth = Task { await window.acquire() }
        try await Task.sleep(for: .milliseconds(20))
        window.close()
        #expect(await fourth.value == false, "closing wakes the waiting sender with no room")
        #expect(await window.acquire() == false)
    }

    @Test func aFillIsHandedToItsWaiterWhetherItArrivesBeforeOrAfterTheWait() async throws {
        let arrivals = FillArrivals()
        arrivals.expect("early")
        arrivals.arrived("early")
        #expect(await arrivals.arrival(of: "early", within: .seconds(5)) != nil)

        arrivals.expect("late")
        let waiting = Task { await arrivals.arrival(of: "late", within: .seconds(5)) }
        try await Task.sleep(for: .milliseconds(20))
        let before = Monotonic.now()
        arrivals.arrived("late")
        let arrived = try #require(await waiting.value)
        #expect(arrived >= before)

        arrivals.expect("never")
        #expect(await arrivals.arrival(of: "never", within: .milliseconds(50)) == nil, "no report: nil after the time limit")
        arrivals.arrived("unexpected")
        #expect(await arrivals.arrival(of: "unexpected", within: .milliseconds(10)) == nil, "only expected orders are kept")
    }
}
