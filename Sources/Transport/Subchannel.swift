import EventLoop
import RPC
import Synchronization
import Locks

/// One backend address of a channel: its connection and connectivity, reconnecting with backoff after failures.
/// Connectivity is read under a lock from any thread; the connection itself lives on `loop`.
final class Subchannel: @unchecked Sendable {
    // @unchecked Sendable: `shared` is a Lock; `connection` and `idleTimer` are touched on `loop` only.
    enum Connectivity: Equatable {
        case idle, connecting, ready
        case transientFailure(RPCError)
    }

    let address: SocketAddress
    let loop: EventLoop
    let configuration: ChannelConfiguration
    /// Told (on the loop) after every connectivity change, so waiting calls re-pick.
    let onChange: @Sendable () -> Void

    private struct Shared {
        var connectivity = Connectivity.idle
        var backoff: Backoff
        var closed = false
    }

    private let shared: Lock<Shared>
    private var connection: ClientConnection?
    private var idleTimer: LoopTimer?
    private var retryTimer: LoopTimer?

    init(address: SocketAddress, loop: EventLoop, configuration: ChannelConfiguration,
         onChange: @escaping @Sendable () -> Void)
    {
        self.address = address
        self.loop = loop
        self.configuration = configuration
        self.onChange = onChange
        shared = Lock(Shared(backoff: configuration.backoff))
    }

    var connectivity: Connectivity { shared.withLock { $0.connectivity } }

    /// Starts connecting if idle. Any thread.
    func connectIfIdle() {
        let start = shared.withLock { state -> Bool in
            guard state.connectivity == .idle, !state.closed else { return false }
            state.connectivity = .connecting
            return true
        }
        if start { loop.execute { self.connect() } }
    }

    private func connect() {
        let connection = ClientConnection(address: address, loop: loop, settings: configuration.http2)
        self.connection = connection
        // Weak: a channel released without shutdown frees its subchannels while their connections still close (and
        // report it); unowned, that report read a freed subchannel (a crash seen in the full test suite).
        connection.onStateChange = { [weak self] connection, state, error in
            self?.connectionChanged(connection, state, error)
        }
        connection.connect(timeout: configuration.connectTimeout)
    }

    private func connectionChanged(_ changed: ClientConnection, _ state: ClientConnection.State, _ error: RPCError?) {
        guard changed === connection else { return }  // An old, draining connection.
        switch state {
        case .connecting:
            return
        case .ready:
            shared.withLock {
                $0.connectivity = .ready
                $0.backoff.reset()
            }
            armIdleTimer()
        case .draining:
            // GOAWAY: its calls finish on it; new calls need a new connection.
            connection = nil
            shared.withLock { $0.connectivity = .idle }
        case .closed:
            connection = nil
            idleTimer?.cancel()
            if let error {
                scheduleRetry(after: error)
            } else {
                shared.withLock { $0.connectivity = .idle }
            }
        }
        onChange()
    }

    private func scheduleRetry(after error: RPCError) {
        let (delay, closed) = shared.withLock { state -> (Duration, Bool) in
            state.connectivity = .transientFailure(error)
            return (state.backoff.next(), state.closed)
        }
        guard !closed else { return }
        retryTimer = loop.schedule(at: Monotonic.now() + delay.nanoseconds) { [weak self] in
            guard let self else { return }
            let retry = shared.withLock { state -> Bool in
                guard case .transientFailure = state.connectivity, !state.closed else { return false }
                state.connectivity = .connecting
                return true
            }
            if retry {
                connect()
                onChange()
            }
        }
    }

    /// Opens a call on the ready connection. Loop thread.
    func startCall(method: MethodDescriptor, metadata: Metadata, options: CallOptions, deadline: UInt64?,
                   completion: @escaping (Result<ClientCall, RPCError>) -> Void)
    {
        guard let connection, connection.state == .ready else {
            completion(.failure(RPCError(code: .unavailable, message: "no ready connection to \(address)")))
            return
        }
        idleTimer?.cancel()
        connection.startCall(method: method, metadata: metadata, options: options, deadline: deadline) {
            [weak self] result in
            if case .success(let call) = result, self?.configuration.idleTimeout != nil {
                call.setReleaseHandler { [weak self] in self?.armIdleTimer() }
            }
            completion(result)
        }
    }

    /// Closes the connection once it has had no calls for the idle timeout. Loop thread.
    private func armIdleTimer() {
        guard let idle = configuration.idleTimeout, let connection, connection.activeCalls == 0 else { return }
        idleTimer?.cancel()
        idleTimer = loop.schedule(at: Monotonic.now() + idle.nanoseconds) { [weak self] in
            guard let connection = self?.connection, connection.activeCalls == 0 else { return }
            connection.close()
        }
    }

    /// Closes the connection and stops reconnecting. Any thread.
    func close() {
        shared.withLock { $0.closed = true }
        loop.execute {
            self.retryTimer?.cancel()
            self.idleTimer?.cancel()
            self.connection?.fail(RPCError(code: .unavailable, message: "the channel was closed"))
            self.connection = nil
            self.shared.withLock { $0.connectivity = .idle }
        }
    }
}
