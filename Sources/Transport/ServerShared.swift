import EventLoop
import RPC
import Synchronization

#if canImport(Glibc)
import Glibc
import Locks
#endif

/// The shared part of a running server: configuration, routes, loops, and the set of open connections.
final class ServerShared: @unchecked Sendable {
    // @unchecked Sendable: configuration, router and group are immutable; `state` is a Lock; each connection is
    // touched only on its own loop.
    let configuration: ServerConfiguration
    let router: RPCRouter
    let group: EventLoopGroup

    /// Request data held by all connections (each connection's `RequestMemory` counts into it).
    let requestMemory: RequestMemory

    struct State {
        var connections: [ObjectIdentifier: (connection: ServerConnection, loop: EventLoop)] = [:]
        /// Accepted sockets not closed yet (some not yet in `connections`): what `maxConnections` bounds.
        var open = 0
        var listeners: [Listener] = []
        var shuttingDown = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// The server's own loops were stopped.
        var stopped = false
    }

    let state = Lock(State())

    init(configuration: ServerConfiguration, router: RPCRouter, group: EventLoopGroup) {
        self.configuration = configuration
        self.router = router
        self.group = group
        requestMemory = RequestMemory(limit: configuration.maxRequestBytes)
    }

    /// An accepted socket: set it up on the next loop.
    func accepted(_ fd: Int32) {
        try? Socket.setOption(fd, level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: 1)
        let loop = group.next()
        let peer = (try? Socket.peerAddress(fd))?.description ?? "unknown"
        let admitted = state.withLock { state -> Bool in
            guard !state.shuttingDown, state.open < configuration.maxConnections else { return false }
            state.open += 1
            return true
        }
        guard admitted else {
            Socket.close(fd)
            return
        }
        loop.execute { [self] in
            let connection = ServerConnection(fd: fd, loop: loop, server: self, peer: peer)
            state.withLock { $0.connections[ObjectIdentifier(connection)] = (connection, loop) }
            configuration.observer?.connectionOpened()
            do {
                try connection.open()
            } catch {
                connection.close()
            }
        }
    }

    func connectionClosed(_ connection: ServerConnection) {
        state.withLock { state in
            state.connections[ObjectIdentifier(connection)] = nil
            state.open -= 1
        }
        configuration.observer?.connectionClosed()
        resumeWaitersIfStopped()
    }

    /// Wakes `waitUntilClosed` once shutdown has begun and no connection is left.
    private func resumeWaitersIfStopped() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard state.shuttingDown, state.connections.isEmpty else { return [] }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    /// Stops listening and drains every connection (see ServerConnection.beginGracefulShutdown).
    func beginGracefulShutdown(grace: Duration) {
        let connections = stopListening()
        for (connection, loop) in connections {
            loop.execute { connection.beginGracefulShutdown(grace: grace) }
        }
        resumeWaitersIfStopped()
    }

    /// Marks the server as shutting down, closes its listeners, and returns the open connections with their loops.
    private func stopListening() -> [(ServerConnection, EventLoop)] {
        let (listeners, connections) = state.withLock { state in
            state.shuttingDown = true
            defer { state.listeners.removeAll() }
            return (state.listeners, Array(state.connections.values))
        }
        for listener in listeners { listener.loop.execute { listener.close() } }
        return connections
    }

    /// Closes every connection at once.
    func closeAll() {
        let connections = stopListening()
        for (connection, loop) in connections {
            loop.execute { connection.close() }
        }
        resumeWaitersIfStopped()
    }

    /// Returns once shutdown started and every connection is closed.
    func waitUntilClosed() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.shuttingDown && state.connections.isEmpty { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}
