public import EventLoop
import Locks
public import RPC

/// A client transport whose calls are served in this process with no sockets and no HTTP/2: each call is a
/// `ClientCall` wired to a `ServerCall` of `services`, with per-stream flow control (a receive window each way and
/// a sender's high watermark, as HTTP/2 gives them), END_STREAM, trailers and RST_STREAM delivered in order on
/// one loop. Everything above the HTTP/2 session — headers, deadlines, status and its trailers, cancellation,
/// backpressure, limits, admission — is the same code a TCP connection runs.
///
/// Time is `clock`'s: a ``ManualClock`` makes deadlines fire when a test advances it, not when a wall clock does.
/// Two uses: the middle test tier (services and the call layer without the OS, on a manual clock), and calls a
/// process makes to its own services without a socket (the gateway's HTTP/JSON API, on the monotonic clock).
public final class InMemoryTransport: RPCClientTransport, Sendable {
    public let context: InMemoryContext
    let router: RPCRouter
    let limits: ServerCallLimits
    let flow: InMemoryFlowControl
    private let state = Lock(State())

    private struct State {
        var nextStreamID: Int32 = 1
        /// Streams until both ends are done with them (the calls hold their transports unowned).
        var streams: [Int32: InMemoryStream] = [:]
    }

    /// - Parameters:
    ///   - services: what the "server" serves; `admission` decides as a server's would.
    ///   - flow: receive windows and the senders' watermark (bytes).
    public init(services: [any RPCService], context: InMemoryContext, limits: ServerCallLimits = ServerCallLimits(),
                flow: InMemoryFlowControl = InMemoryFlowControl(), admission: CallAdmission? = nil)
    {
        var router = RPCRouter(services: services)
        router.admission = admission
        self.router = router
        self.context = context
        self.limits = limits
        self.flow = flow
    }

    public var preferredExecutor: (any TaskExecutor)? { context.loop }

    /// Streams open (calls whose client or server end is not done yet).
    public var openStreams: Int { state.withLock { $0.streams.count } }

    public func startCall(method: MethodDescriptor, metadata: Metadata, options: CallOptions) async throws(RPCError) -> ClientCall {
        let streamID = state.withLock { state in
            defer { state.nextStreamID += 2 }
            return state.nextStreamID
        }
        return await withUnsafeContinuation { continuation in
            context.execute { [self] in
                let stream = InMemoryStream(id: streamID, transport: self)
                state.withLock { $0.streams[streamID] = stream }
                continuation.resume(returning: stream.open(method: method, metadata: metadata, options: options))
            }
        }
    }

    func forget(_ streamID: Int32) {
        state.withLock { _ = $0.streams.removeValue(forKey: streamID) }
    }
}

/// Flow control of an in-memory stream, in bytes, the same each way.
public struct InMemoryFlowControl: Sendable {
    /// What a sender may have delivered and not yet consumed by the receiver (HTTP/2's stream window).
    public var window: Int
    /// Bytes queued behind the window past which the sender is told to wait (`isBlocked`); it is told it may go
    /// on once they drain below half.
    public var highWatermark: Int

    public init(window: Int = 65_535, highWatermark: Int = 64 << 10) {
        self.window = window
        self.highWatermark = highWatermark
    }
}

/// Where in-memory calls run: one loop (handlers prefer it, as on a connection's loop) and a clock — the
/// monotonic one, or a ``ManualClock`` that moves only when told.
public final class InMemoryContext: RPCExecutionContext {
    public let loop: EventLoop
    public let clock: ManualClock?

    /// - Parameter clock: nil: real time (the loop's timers).
    public init(loop: EventLoop, clock: ManualClock? = nil) {
        self.loop = loop
        self.clock = clock
        clock?.attach(loop)
    }

    public var isCurrent: Bool { loop.inEventLoop }
    public func execute(_ body: @escaping @Sendable () -> Void) { loop.execute(body) }
    public var taskExecutor: any TaskExecutor { loop }

    public func scheduleTimer(at deadline: UInt64, _ action: @escaping () -> Void) -> any RPCTimer {
        guard let clock else { return loop.schedule(at: deadline, action) }
        return clock.schedule(at: deadline, action)
    }

    public func now() -> UInt64 { clock?.now ?? Monotonic.now() }
}

/// Monotonic nanoseconds that move only when ``advance(by:)`` says so; timers due by then fire, in deadline
/// order, on the loop. Starts at 1 s (so that "now minus a little" stays positive).
public final class ManualClock: Sendable {
    private let state = Lock(State())

    private struct State {
        var now: UInt64 = 1_000_000_000
        var nextID = 0
        var timers: [Int: (deadline: UInt64, action: @Sendable () -> Void)] = [:]
        var loop: EventLoop?
    }

    public init() {}

    public var now: UInt64 { state.withLock { $0.now } }

    /// Moves time forward and runs the timers now due (on the loop); returns once they have run.
    public func advance(by duration: Duration) async {
        let (due, loop) = state.withLock { state -> ([@Sendable () -> Void], EventLoop?) in
            state.now += UInt64(duration.nanoseconds)
            let now = state.now
            let due = state.timers.filter { $0.value.deadline <= now }.sorted { ($0.value.deadline, $0.key) < ($1.value.deadline, $1.key) }
            for (id, _) in due { state.timers.removeValue(forKey: id) }
            return (due.map(\.value.action), state.loop)
        }
        guard let loop else { return }
        _ = try? await loop.submit { due.forEach { $0() } }
    }

    /// Timers not yet fired.
    public var pendingTimers: Int { state.withLock { $0.timers.count } }

    func attach(_ loop: EventLoop) { state.withLock { $0.loop = loop } }

    func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> any RPCTimer {
        // The action runs on the loop, where it was scheduled: it is only ever called there.
        let action = UnsafeSendable(action)
        let run: @Sendable () -> Void = { action.value() }
        let (id, loop) = state.withLock { state -> (Int, EventLoop?) in
            defer { state.nextID += 1 }
            state.timers[state.nextID] = (deadline, run)
            return (state.nextID, deadline <= state.now ? state.loop : nil)
        }
        // Already due: it fires in a later turn, as a loop's timer would.
        loop?.execute { [self] in
            guard let due = state.withLock({ $0.timers.removeValue(forKey: id) }) else { return }
            due.action()
        }
        return ManualTimer(clock: self, id: id)
    }

    fileprivate func cancel(_ id: Int) { state.withLock { _ = $0.timers.removeValue(forKey: id) } }
}

private final class ManualTimer: RPCTimer {
    let clock: ManualClock
    let id: Int

    init(clock: ManualClock, id: Int) {
        self.clock = clock
        self.id = id
    }

    func cancel() { clock.cancel(id) }
}

private struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
