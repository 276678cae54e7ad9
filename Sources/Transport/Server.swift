public import EventLoop
public import RPC

/// A gRPC server: listeners on one loop, connections spread over a group of loops, handlers run as tasks on the
/// loop of their connection.
///
/// Lifecycle: ``start()`` binds and returns the addresses (port 0 resolved); ``run()`` starts if needed and
/// returns once the server has stopped; ``beginGracefulShutdown(grace:)`` stops accepting, lets calls finish
/// within the grace period, then closes; cancelling the task in ``run()`` closes everything at once.
public final class Server: Sendable {
    public let configuration: ServerConfiguration
    private let shared: ServerShared
    private let ownsGroup: Bool

    /// - Parameter group: loops to use; by default the server creates `configuration.loops` of its own and stops
    ///   them when it stops.
    public init(services: [any RPCService], configuration: ServerConfiguration, group: EventLoopGroup? = nil) throws {
        self.configuration = configuration
        ownsGroup = group == nil
        let loops = try group ?? EventLoopGroup(loops: configuration.loops, name: "server")
        var router = RPCRouter(services: services)
        router.admission = configuration.admission
        if let observer = configuration.observer { router.observe(observer.callObserver(for:)) }
        shared = ServerShared(configuration: configuration, router: router, group: loops)
    }

    /// Binds every configured address and starts accepting. Returns the bound addresses.
    @discardableResult
    public func start() async throws -> [SocketAddress] {
        // Started already, or shutting down (a `run()` after `beginGracefulShutdown()` must not listen again).
        let (existing, shuttingDown) = shared.state.withLock { ($0.listeners.map(\.address), $0.shuttingDown || $0.stopped) }
        if !existing.isEmpty || shuttingDown { return existing }
        let loop = shared.group.loops[0]
        let shared = self.shared
        let addresses = configuration.addresses
        let backlog = configuration.listenBacklog
        return try await loop.submit {
            var listeners: [Listener] = []
            do {
                for address in addresses {
                    let listener = try Listener(address: address, backlog: backlog, loop: loop, server: shared)
                    listeners.append(listener)
                    try loop.register(listener.fd, listener)
                }
            } catch {
                listeners.forEach { $0.close() }
                throw error
            }
            shared.state.withLock { $0.listeners = listeners }
            return listeners.map(\.address)
        }
    }

    /// The addresses listened on (empty before ``start()``).
    public var listeningAddresses: [SocketAddress] {
        shared.state.withLock { $0.listeners.map(\.address) }
    }

    /// Serves until the server stops. Cancellation closes every connection at once.
    public func run() async throws {
        try await start()
        await withTaskCancellationHandler {
            await shared.waitUntilClosed()
        } onCancel: {
            shared.closeAll()
        }
        stopOwnLoops()
    }

    /// Stops accepting; connections send GOAWAY and close once their calls end, at the latest after `grace`.
    public func beginGracefulShutdown(grace: Duration = .seconds(10)) {
        shared.beginGracefulShutdown(grace: grace)
    }

    /// ``beginGracefulShutdown(grace:)``, then waits until every connection has closed (its calls finished, or the
    /// grace period ended them) and the server's own loops have stopped.
    public func shutdownGracefully(grace: Duration = .seconds(10)) async {
        shared.beginGracefulShutdown(grace: grace)
        await shared.waitUntilClosed()
        stopOwnLoops()
    }

    /// Closes everything now and waits for it (for tests and hard stops without a `run()` task).
    public func shutdown() async {
        shared.closeAll()
        await shared.waitUntilClosed()
        stopOwnLoops()
    }

    private func stopOwnLoops() {
        guard ownsGroup else { return }
        shared.state.withLock { $0.stopped = true }
        shared.group.shutdown()
    }

    /// Released without ``shutdown()``: everything closes, and loops of its own stop once it has — from a task,
    /// since the last reference may be dropped on one of those loops, which cannot join its own thread.
    deinit {
        let shared = shared
        let loopsRunning = ownsGroup && !shared.state.withLock { $0.stopped }
        shared.closeAll()
        guard loopsRunning else { return }
        Task.detached {
            await shared.waitUntilClosed()
            shared.group.shutdown()
        }
    }
}
