import EventLoop
import GRPCServices
import JSON
import LoadHarness
import Protos
import RPC
import ServiceStubs
import Synchronization
import Testing
import TestSupport
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// A benchmark service whose misbehaviour is known exactly: it freezes every call that arrives in a stall window
/// until the window ends, fails every `failEvery`-th unary call, and remembers the `x-order-id` values it saw.
final class ScriptedBenchmarkService: Grpc_Testing_BenchmarkService.ServiceProtocol, Sendable {
    struct State {
        var stall: Range<UInt64>?
        var failEvery = 0
        var calls = 0
        var failed = 0
        var orderIDs: Set<String> = []
    }

    let state = Mutex(State())

    func unaryCall(request: Grpc_Testing_SimpleRequest, context: ServerContext) async throws -> Grpc_Testing_SimpleResponse {
        let (stallEnd, fail) = state.withLock { state -> (UInt64?, Bool) in
            state.calls += 1
            if let id = context.requestMetadata["x-order-id"] { state.orderIDs.insert(id) }
            let fail = state.failEvery > 0 && state.calls % state.failEvery == 0
            if fail { state.failed += 1 }
            let now = Monotonic.now()
            return (state.stall.flatMap { $0.contains(now) ? $0.upperBound : nil }, fail)
        }
        if let stallEnd { try await Task.sleep(for: .nanoseconds(stallEnd - Monotonic.now())) }
        if fail { throw RPCError(code: .resourceExhausted, message: "every \(state.withLock { $0.failEvery })th call fails") }
        return Grpc_Testing_SimpleResponse(payload: .init(body: [UInt8](repeating: 0, count: Int(request.responseSize))))
    }

    func streamingCall(
        requests: RPCRequestStream<Grpc_Testing_SimpleRequest>, responses: RPCResponseWriter<Grpc_Testing_SimpleResponse>,
        context: ServerContext
    ) async throws {
        try await BenchmarkService().streamingCall(requests: requests, responses: responses, context: context)
    }

    func unconstrainedStreamingCall(
        requests: RPCRequestStream<Grpc_Testing_SimpleRequest>, responses: RPCResponseWriter<Grpc_Testing_SimpleResponse>,
        context: ServerContext
    ) async throws {
        try await BenchmarkService().unconstrainedStreamingCall(requests: requests, responses: responses, context: context)
    }
}

@Suite(.serialized) struct LoadHarnessTests {
    static let request = Grpc_Testing_SimpleRequest(responseSize: 16, payload: .init(body: [UInt8](repeating: 1, count: 16)))

    static func withServer(_ body: (ScriptedBenchmarkService, SocketAddress) async throws -> Void) async throws {
        let service = ScriptedBenchmarkService()
        let server = try Server(services: [service], configuration: .loopback())
        let address = try await server.start()[0]
        do {
            try await body(service, address)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    static func plan(_ address: SocketAddress, _ model: LoadModel, kind: RPCKind = .unary) -> LoadPlan {
        let method = kind == .unary ? Grpc_Testing_BenchmarkService.Method.unaryCall : Grpc_Testing_BenchmarkService.Method.streamingCall
        var plan = LoadPlan(
            addresses: [address], method: method, kind: kind, requests: .serialized(request.serializedBytes()), model: model)
        plan.timeout = .seconds(10)  // Nothing here may hang a test run.
        return plan
    }

    /// The server freezes for 400 ms a second into a 3-second run. At 200 calls/s the open loop's calls meant
    /// for those 400 ms (13% of them) are late by up to 400 ms, so its p99 and max show the stall; one closed-loop
    /// worker sends nothing while it waits, so only its one frozen call (max) shows it, not its p99.
    @Test func openLoopLatencyIncludesAStallAndClosedLoopLatencyHidesIt() async throws {
        let stall: UInt64 = 400_000_000
        try await Self.withServer { service, address in
            func stallOneSecondIn(_ plan: LoadPlan) {
                let start = Monotonic.now() + UInt64(plan.warmup.seconds * 1e9) + 1_000_000_000
                service.state.withLock { $0.stall = start..<start + stall }
            }
            var open = Self.plan(address, .open(OpenLoop(schedule: .constant(200, for: .seconds(3)))))
            open.warmup = .milliseconds(200)
            stallOneSecondIn(open)
            let openResult = try await LoadRun(plan: open).run()

            var closed = Self.plan(address, .closed(concurrency: 1))
            closed.duration = .seconds(3)
            closed.warmup = .milliseconds(200)
            stallOneSecondIn(closed)
            let closedResult = try await LoadRun(plan: closed).run()

            #expect(openResult.model == "open" && closedResult.model == "closed")
            #expect(openResult.summary().contains("intended start (coordinated omission corrected)"))
            #expect(closedResult.summary().contains("closed loop"))
            #expect(openResult.statusCounts == ["OK": openResult.operations])
            #expect(abs(openResult.operations - 600) <= 6, "open loop sent \(openResult.operations), not 200/s for 3 s")
            #expect(openResult.latency(at: 99) >= stall * 7 / 10, "open p99 \(openResult.latency(at: 99)) misses the stall")
            #expect(openResult.slowest >= stall * 9 / 10)
            #expect(openResult.latency(at: 50) < stall / 10)
            #expect(closedResult.latency(at: 99) < stall / 10, "closed p99 \(closedResult.latency(at: 99)) includes the stall")
            #expect(closedResult.slowest >= stall * 9 / 10)
            #expect(openResult.unsent == 0)
        }
    }

    @Test func statusCountsMatchWhatTheServerFailed() async throws {
        try await Self.withServer { service, address in
            service.state.withLock { $0.failEvery = 4 }
            var plan = Self.plan(address, .closed(concurrency: 8))
            plan.count = 1000
            plan.metadata = [("x-order-id", try Template("ord-{{counter}}"))]
            let result = try await LoadRun(plan: plan).run()
            let (calls, failed, ids) = service.state.withLock { ($0.calls, $0.failed, $0.orderIDs.count) }
            #expect(result.operations == 1000 && calls == 1000)
            #expect(result.statusCounts == ["OK": 750, "ResourceExhausted": 250])
            #expect(failed == 250)
            #expect(result.errors == ["ResourceExhausted: every 4th call fails": 250])
            #expect(result.transportErrors == 0 && result.timeouts == 0)
            #expect(ids == 1000, "every call should carry its own order id")
        }
    }

    @Test func aServerThatIsNotThereIsTransportErrors() async throws {
        // A bound socket that does not listen: connecting to its port is refused, and nothing else can take it.
        let (fd, port) = try Peers.boundSocket()
        defer { close(fd) }
        var plan = Self.plan(SocketAddress(host: "127.0.0.1", port: port)!, .closed(concurrency: 2))
        plan.count = 20
        let result = try await LoadRun(plan: plan).run()
        #expect(result.operations == 20)
        #expect(result.transportErrors == 20)
        #expect(result.statusCounts["Unavailable"] == 20)
    }

    @Test func bidiRoundTripsAreCountedPerMessageAcrossStreams() async throws {
        try await Self.withServer { _, address in
            var plan = Self.plan(address, .closed(concurrency: 4), kind: .bidirectionalStreaming)
            plan.count = 400
            plan.streamMessages = 25
            let result = try await LoadRun(plan: plan).run()
            #expect(result.operations == 400)
            #expect(result.statusCounts == ["OK": 400])
            #expect(result.messagesSent == 400 && result.messagesReceived == 400)
        }
    }

    /// 100 arrivals in a second, two calls in flight at most, and a server frozen for 1.5 s: the first two calls
    /// take every slot, so the other 98 are sent late, when the freeze ends, and their latency still runs from their
    /// intended times.
    @Test func openLoopSendsLateRatherThanDroppingAndSaysSo() async throws {
        try await Self.withServer { service, address in
            let start = Monotonic.now()
            service.state.withLock { $0.stall = start..<start + 1_500_000_000 }
            let plan = Self.plan(address, .open(OpenLoop(schedule: .constant(100, for: .seconds(1)), maxInFlight: 2)))
            let result = try await LoadRun(plan: plan).run()
            #expect(result.operations == 100 && result.unsent == 0 && result.statusCounts == ["OK": 100])
            #expect(result.lateSends >= 95)
            #expect(result.latency(at: 50) > 500_000_000, "the late calls' latency must include their wait")
        }
    }

    /// The same, with the server frozen for longer than the run is willing to wait: the arrivals that never got a
    /// slot are reported as never sent.
    @Test func openLoopReportsArrivalsItNeverSent() async throws {
        try await Self.withServer { service, address in
            let start = Monotonic.now()
            service.state.withLock { $0.stall = start..<start + 30_000_000_000 }
            var plan = Self.plan(address, .open(OpenLoop(schedule: .constant(100, for: .seconds(1)), maxInFlight: 2)))
            plan.drainGrace = .milliseconds(300)
            let result = try await LoadRun(plan: plan).run()
            #expect(result.abandoned == 2)
            #expect(result.unsent >= 95 && result.unsent <= 98, "never sent: \(result.unsent)")
            #expect(result.summary().contains("never sent \(result.unsent)"))
        }
    }

    @Test func callsStillStalledAfterTheGracePeriodAreAbandonedAndTheRunEnds() async throws {
        try await Self.withServer { service, address in
            let start = Monotonic.now()
            service.state.withLock { $0.stall = start..<start + 60_000_000_000 }
            var plan = Self.plan(address, .closed(concurrency: 4))
            plan.duration = .milliseconds(300)
            plan.drainGrace = .milliseconds(200)
            let began = ContinuousClock.now
            let result = try await LoadRun(plan: plan).run()
            // Half a second of run and grace; the bound only shows the run did not wait for the 60 s stall (it once
            // took 5.3 s with every other suite loading both cores).
            #expect(ContinuousClock.now - began < .seconds(30))
            #expect(result.abandoned == 4)
            #expect(result.operations == 0)
            #expect(result.summary().contains("abandoned in flight at the end 4"))
        }
    }

    @Test func resultsSurviveTheirJSONAndDrawAReport() async throws {
        try await Self.withServer { _, address in
            var plan = Self.plan(address, .closed(concurrency: 2))
            plan.count = 200
            let result = try await LoadRun(plan: plan, name: "first").run()
            let back = try LoadResult(json: try JSONValue.parse(result.json().text()))
            #expect(back.operations == result.operations && back.curve.count == result.curve.count)
            #expect(back.percentiles.map(\.nanoseconds) == result.percentiles.map(\.nanoseconds))
            let html = HTMLReport.render([result, back])
            #expect(html.contains("<svg") && html.contains("polyline") && html.contains("first"))
            #expect(result.csv().hasPrefix("second,count,rate,failures,p50_ms,p99_ms,max_ms\n"))
        }
    }
}

@Suite struct TemplateTests {
    @Test func fillsInEachPlaceholderPerRequest() throws {
        let template = try Template("ord-{{counter}}/{{ uuid }}/{{random}}/{{unix_nanos}}")
        #expect(!template.isConstant)
        let parts = template.render(counter: 42).split(separator: "/")
        #expect(parts[0] == "ord-42")
        #expect(parts[1].count == 36 && parts[1].split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        #expect(UInt64(parts[2]) != nil && UInt64(parts[3])! > 1_700_000_000_000_000_000)
        #expect(try Template(#"{"clientOrderId": "c-1"}"#).isConstant)
    }

    @Test func aTypoIsAnErrorNotALiteral() {
        #expect(throws: TemplateError.self) { try Template("{{counter}}-{{conter}}") }
        #expect(throws: TemplateError.self) { try Template("c-{{counter") }
    }
}
