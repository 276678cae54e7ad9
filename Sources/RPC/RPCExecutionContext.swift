/// Where a connection's calls live: the thread that owns the connection (an event loop). The call layer uses it
/// to hop onto that thread, to run handlers there, and for deadline timers; it never sees the loop itself.
public protocol RPCExecutionContext: AnyObject, Sendable {
    /// Whether the caller is on the context's thread.
    var isCurrent: Bool { get }
    /// Runs `body` on the context's thread (later in this turn when called from it).
    func execute(_ body: @escaping @Sendable () -> Void)
    /// The executor handler tasks prefer, so that they run on the context's thread.
    var taskExecutor: any TaskExecutor { get }
    /// Runs `action` at `deadline` (monotonic nanoseconds) unless cancelled. On the context's thread only.
    func scheduleTimer(at deadline: UInt64, _ action: @escaping () -> Void) -> any RPCTimer
    /// Monotonic nanoseconds.
    func now() -> UInt64
}

/// A timer from ``RPCExecutionContext/scheduleTimer(at:_:)``.
public protocol RPCTimer: AnyObject {
    func cancel()
}

extension RPCExecutionContext {
    /// Runs `body` on the context's thread: at once when already there.
    @inline(__always)
    func onContext(_ body: @escaping @Sendable () -> Void) {
        if isCurrent { body() } else { execute(body) }
    }
}
