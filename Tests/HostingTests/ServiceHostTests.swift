import EventLoop
import GRPCServices
import Hosting
import Locks
import RPC
import ServiceStubs
import Synchronization
import Testing
import Transport

/// The lifecycle every service runs under, with a service that records what the host asked of it.
@Suite(.timeLimit(.minutes(1)))
struct ServiceHostTests {
    /// Records the order of the host's calls; its readiness and its prepare are switches the test turns.
    final class Recorder: HostedService {
        let host: ServiceHost
        let rpcServices: [any RPCService] = []
        let serverConfiguration = ServerConfiguration.loopback()
        let events = Lock<[String]>([])
        let ready = Atomic<Bool>(false)
        let failPrepare: Bool

        init(host: ServiceHost, failPrepare: Bool = false) {
            self.host = host
            self.failPrepare = failPrepare
        }

        var readinessChecks: [ReadinessCheck] {
            [ReadinessCheck("switch") { [self] in ready.load(ordering: .relaxed) ? nil : "not yet" }]
        }

        func prepare() async throws {
            events.withLock { $0.append("prepare") }
            if failPrepare { throw ServiceFailure("cannot load") }
        }

        func follow() async {
            events.withLock { $0.append("follow") }
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(5)) }
            events.withLock { $0.append("follow ended") }
        }

        func close() async { events.withLock { $0.append("close") } }

        var recorded: [String] { events.withLock { $0 } }
    }

    @Test func grpcHealthFollowsTheSameReadinessAsReadyz() async throws {
        let host = try ServiceHost(name: "test", loops: 1)
        let service = Recorder(host: host)
        let channel = try Channel(addresses: try await service.start())
        let health = Grpc_Health_V1_Health.Client(channel)
        // What `/readyz` answers from.
        let readyz = { host.telemetry.unreadiness().isEmpty ? 200 : 503 }
        #expect(try await health.check(.init()).status == .notServing)
        #expect(readyz() == 503)
        service.ready.store(true, ordering: .relaxed)
        #expect(try await health.check(.init()).status == .serving)
        #expect(readyz() == 200)
        // A watcher hears the verdict change without asking again.
        let seen = try await health.watch(.init()) { responses in
            var seen: [Grpc_Health_V1_HealthCheckResponse.ServingStatus] = []
            for try await response in responses {
                seen.append(response.status)
                if seen.count == 1 { service.ready.store(false, ordering: .relaxed) }
                if seen.count == 2 { break }
            }
            return seen
        }
        #expect(seen == [.serving, .notServing])
        channel.close()
        await service.shutdown()
        #expect(service.recorded == ["prepare", "follow", "follow ended", "close"])
    }

    /// An orderly stop: health turns NOT_SERVING first (a watcher hears it while its call still runs), then the
    /// server drains, the follows end, and the service closes; `run` returns without an error.
    @Test func aGracefulStopTurnsHealthNotServingBeforeItDrains() async throws {
        let host = try ServiceHost(name: "test", loops: 1, grace: .milliseconds(300))
        let service = Recorder(host: host)
        service.ready.store(true, ordering: .relaxed)
        let address = Lock<[SocketAddress]>([])
        let running = Task { try await host.run(service) { bound in address.withLock { $0 = bound } } }
        try await waitFor { !address.withLock { $0 }.isEmpty }
        let channel = try Channel(addresses: address.withLock { $0 })
        defer { channel.close() }
        let seen = Lock<[Grpc_Health_V1_HealthCheckResponse.ServingStatus]>([])
        let watching = Task {
            try await Grpc_Health_V1_Health.Client(channel).watch(.init()) { responses in
                for try await response in responses {
                    seen.withLock { $0.append(response.status) }
                    if response.status == .serving { host.beginGracefulShutdown() }
                }
            }
        }
        try await running.value
        _ = await watching.result  // cut at the end of the grace: a watch never ends by itself
        #expect(seen.withLock { $0 } == [.serving, .notServing])
        #expect(service.recorded == ["prepare", "follow", "follow ended", "close"])
        #expect(host.failure == nil)
    }

    @Test func aFatalReportStopsTheServiceAndRunThrows() async throws {
        let host = try ServiceHost(name: "test", loops: 1)
        let service = Recorder(host: host)
        let running = Task { try await host.run(service) }
        try await waitFor { service.recorded.contains("follow") }
        host.reportFatal("the store failed to write", error: ServiceFailure("disk full"))
        let error = await #expect(throws: ServiceFailure.self) { try await running.value }
        #expect(error?.description.contains("disk full") == true)
        #expect(host.failure != nil)
        #expect(service.recorded.last == "close")
    }

    @Test func aServiceThatCannotPrepareNeverListensAndIsClosed() async throws {
        let host = try ServiceHost(name: "test", loops: 1)
        let service = Recorder(host: host, failPrepare: true)
        let listened = Atomic<Bool>(false)
        await #expect(throws: ServiceFailure.self) { try await host.run(service) { _ in listened.store(true, ordering: .relaxed) } }
        let didListen = listened.load(ordering: .relaxed)
        #expect(!didListen)
        #expect(service.recorded == ["prepare", "close"])
    }

    @Test func cancellingRunIsAHardStop() async throws {
        let host = try ServiceHost(name: "test", loops: 1, grace: .seconds(30))
        let service = Recorder(host: host)
        let address = Lock<[SocketAddress]>([])
        let running = Task { try await host.run(service) { bound in address.withLock { $0 = bound } } }
        try await waitFor { !address.withLock { $0 }.isEmpty }
        // A call that would hold a graceful stop for its 30 s grace does not hold a cancelled one.
        let channel = try Channel(addresses: address.withLock { $0 })
        let watching = Task {
            try await Grpc_Health_V1_Health.Client(channel).watch(.init()) { responses in for try await _ in responses {} }
        }
        try await Task.sleep(for: .milliseconds(100))
        running.cancel()
        try await running.value
        #expect(service.recorded.last == "close")
        watching.cancel()
        _ = await watching.result
        channel.close()
    }

    /// One loop: a core shares it (no hand-over between threads), a dedicated loop does not. More: the core's
    /// blocking writes get a loop of their own, which the host stops with the rest.
    @Test func aCoreSharesTheOnlyLoopAndGetsItsOwnBesideSeveral() async throws {
        let single = try ServiceHost(name: "test", loops: 1)
        let shared = try single.coreLoop(name: "core")
        #expect(shared === single.group.loops[0])
        let store = try single.dedicatedLoop(name: "store")
        #expect(store !== single.group.loops[0])
        #expect(store.name == "store")
        store.shutdown()

        let host = try ServiceHost(name: "test", loops: 2)
        let core = try host.coreLoop(name: "core")
        #expect(core.name == "core")
        #expect(!host.group.loops.contains { $0 === core })
        #expect(try await core.submit { core.inEventLoop })
        let service = Recorder(host: host)
        let running = Task { try await host.run(service) }
        try await waitFor { service.recorded.contains("follow") }
        host.beginGracefulShutdown()
        try await running.value
        // Stopped with the host: a job queued now never runs.
        let ran = Atomic<Bool>(false)
        core.execute { ran.store(true, ordering: .relaxed) }
        try await Task.sleep(for: .milliseconds(50))
        let didRun = ran.load(ordering: .relaxed)
        #expect(!didRun)
        single.group.shutdown()
    }

    private func waitFor(_ condition: () -> Bool) async throws {
        for _ in 0..<1000 where !condition() { try await Task.sleep(for: .milliseconds(5)) }
        #expect(condition())
    }
}
