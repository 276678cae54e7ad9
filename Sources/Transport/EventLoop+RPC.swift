public import EventLoop
public import RPC

/// An event loop is where a connection's calls run: handler tasks prefer it, deadlines are its timers.
extension EventLoop: RPCExecutionContext {
    public var isCurrent: Bool { inEventLoop }
    public var taskExecutor: any TaskExecutor { self }

    public func scheduleTimer(at deadline: UInt64, _ action: @escaping () -> Void) -> any RPCTimer {
        schedule(at: deadline, action)
    }

    public func now() -> UInt64 { Monotonic.now() }
}

extension LoopTimer: RPCTimer {}
