public import EventLoop
import GRPCServices
import Locks
import Logging
public import Telemetry
import Transport

/// Runs one ``HostedService`` for its whole life, the same way for all four services: prepare, listen, follow,
/// serve until asked to stop, mark NOT_SERVING, drain, close. It owns the process's loops (the server's
/// connections and every channel the service opens share one group; a core that confines state to one thread gets
/// ``coreLoop(name:)`` or ``dedicatedLoop(name:)``), grpc.health.v1 — which follows the same readiness checks as
/// `/readyz` — and the service's background follows as a structured child task.
///
/// Lifecycle: ``run(_:listening:)`` returns once the service has stopped; ``beginGracefulShutdown()`` (any
/// thread) starts the orderly stop; cancelling the task in `run` is the hard stop (connections close at once). A
/// library that meets a condition it must not go on from (a store that failed to write) calls
/// ``reportFatal(_:error:)`` instead of exiting: the host stops at once, without draining, and `run` throws
/// ``ServiceFailure``; the executable decides the exit status.
public final class ServiceHost: Sendable {
    public let telemetry: Telemetry
    /// Loops for the server's connections and for the service's channels.
    public let group: EventLoopGroup
    /// How long calls in flight get to finish in a graceful shutdown.
    public let grace: Duration
    private let health: HealthService
    private let state = Lock(State())
    private let logger: Logger

    private struct State {
        var stop: Stop?
        var stopWaiter: CheckedContinuation<Void, Never>?
        var dedicated: [EventLoop] = []
        /// The `run` task that ``start(_:)`` made (tests and benchmarks).
        var started: Task<Void, any Error>?
    }

    private enum Stop {
        case graceful
        case hard
        case fatal(ServiceFailure)
    }

    /// - Parameters:
    ///   - telemetry: the process's (``Telemetry/bootstrap(service:logLevel:format:)``); by default one of the
    ///     host's own, whose endpoints still answer on the gRPC port.
    ///   - loops: threads for connections and channels.
    public init(name: String, telemetry: Telemetry? = nil, loops: Int = EventLoopGroup.coreCount,
                grace: Duration = .seconds(1)) throws
    {
        let telemetry = telemetry ?? Telemetry(service: name)
        self.telemetry = telemetry
        self.grace = grace
        group = try EventLoopGroup(loops: loops, name: name)
        health = HealthService(readiness: { telemetry.unreadiness().isEmpty })
        logger = Logger(label: "tradewire.host")
    }

    /// The loop for a core whose every call waits for its own work anyway (a node's actors and journal: what its
    /// connections bring is handed to it, what they send waits for its commits). A host of one loop gives its own:
    /// a second thread on a single core only adds a wake-up to every hand-over (at 1,000 orders/s through
    /// `tradewire local`, 20 thread wake-ups per request became 14–15). A host of more loops gives one of its own
    /// (``dedicatedLoop(name:)``), so that the core's blocking commits stall none of the connections the group
    /// serves.
    public func coreLoop(name: String) throws -> EventLoop {
        group.loops.count == 1 ? group.loops[0] : try dedicatedLoop(name: name)
    }

    /// A loop of its own for state confined to one thread whose blocking writes must not stall the service's calls
    /// (a store's writes beside checks that answer from memory), stopped after the service has closed.
    public func dedicatedLoop(name: String) throws -> EventLoop {
        let loop = try EventLoop(name: name)
        state.withLock { $0.dedicated.append(loop) }
        return loop
    }

    /// Stops the service at once because it must not go on (its store failed to write, say): no draining — what
    /// it acknowledged is durable, and nothing after the failure may be acknowledged. `run` then throws
    /// ``ServiceFailure``. Any thread; the first report wins.
    public func reportFatal(_ message: String, error: any Error) {
        logger.critical("\(message)", metadata: ["error": "\(error)"])
        requestStop(.fatal(ServiceFailure("\(message): \(error)")))
    }

    /// Starts the orderly stop: readiness and health turn NOT_SERVING, the server stops accepting and gives calls
    /// ``grace`` to finish, follows end, the service closes. Any thread.
    public func beginGracefulShutdown() {
        requestStop(.graceful)
    }

    /// Prepares `service`, listens (then tells `listening` the bound addresses), follows and serves until
    /// ``beginGracefulShutdown()``, ``reportFatal(_:error:)`` or cancellation; closes the service and stops the
    /// loops before it returns. Throws what failed to start, or ``ServiceFailure``. Once per host.
    public func run(_ service: some HostedService, listening: @Sendable ([SocketAddress]) -> Void = { _ in }) async throws {
        defer { stopLoops() }
        for check in service.readinessChecks { telemetry.addReadinessCheck(check.name, check.check) }
        for status in service.statusLines { telemetry.addStatus(status.name, status.lines) }
        var configuration = service.serverConfiguration
        telemetry.instrument(&configuration)
        let server: Server
        do {
            server = try Server(services: service.rpcServices + [health], configuration: configuration, group: group)
            try await service.prepare()
            listening(try await server.start())
        } catch {
            await service.close()
            throw error
        }
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { tasks in
                tasks.addTask { await service.follow() }
                let stop = await waitForStop()
                telemetry.beginStopping()
                health.markAllNotServing()
                if case .graceful = stop {
                    await server.shutdownGracefully(grace: grace)
                } else {
                    await server.shutdown()  // Hard or fatal: nothing more is answered.
                }
                tasks.cancelAll()
            }
        } onCancel: {
            requestStop(.hard)
        }
        await service.close()
        if case .fatal(let failure) = state.withLock({ $0.stop }) { throw failure }
    }

    // MARK: - In-process use (tests, benchmarks)

    /// Runs `service` in a task of its own and returns once it listens (or throws why it could not start). Stop it
    /// with ``shutdown()``. Executables call ``run(_:listening:)`` instead.
    @discardableResult
    public func start(_ service: some HostedService) async throws -> [SocketAddress] {
        let (addresses, continuation) = AsyncStream.makeStream(of: Result<[SocketAddress], any Error>.self)
        let task = Task {
            defer { continuation.finish() }
            do {
                try await run(service) { continuation.yield(.success($0)) }
            } catch {
                continuation.yield(.failure(error))
                throw error
            }
        }
        state.withLock { $0.started = task }
        for await result in addresses { return try result.get() }
        throw ServiceFailure("the service stopped before it listened")
    }

    /// ``beginGracefulShutdown()``, then waits until the task ``start(_:)`` made has finished.
    public func shutdown() async {
        beginGracefulShutdown()
        _ = await state.withLock { $0.started }?.result
    }

    /// Whether the service stopped for a fatal condition (after ``shutdown()`` or the end of `run`).
    public var failure: ServiceFailure? {
        if case .fatal(let failure) = state.withLock({ $0.stop }) { return failure }
        return nil
    }

    // MARK: - Stopping

    private func requestStop(_ stop: Stop) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            switch (state.stop, stop) {
            case (nil, _), (.graceful, .hard), (.graceful, .fatal), (.hard, .fatal): state.stop = stop
            default: return nil
            }
            defer { state.stopWaiter = nil }
            return state.stopWaiter
        }
        waiter?.resume()
    }

    private func waitForStop() async -> Stop {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let stopped = state.withLock { state -> Bool in
                if state.stop != nil { return true }
                state.stopWaiter = continuation
                return false
            }
            if stopped { continuation.resume() }
        }
        return state.withLock { $0.stop! }
    }

    private func stopLoops() {
        let dedicated = state.withLock { state -> [EventLoop] in
            defer { state.dedicated = [] }
            return state.dedicated
        }
        dedicated.forEach { $0.shutdown() }
        group.shutdown()
    }
}

/// Why a hosted service stopped on its own: a condition it must not go on from. Executables exit with status 70
/// (EX_SOFTWARE), so that a supervisor restarts the service and it rebuilds its state from what committed.
public struct ServiceFailure: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) { self.description = description }
}
