/// Something registered with an ``EventLoop`` for readiness of one file descriptor: a listener or a connection.
/// Called on the loop thread only.
public protocol Selectable: AnyObject {
    /// The descriptor is readable (or hung up / in error, so that a read finds EOF or the error) and/or
    /// writable.
    func ready(readable: Bool, writable: Bool)
}

/// An object that batches its output: it asks the loop (``EventLoop/flushAtEndOfTurn(_:)``) and is flushed once,
/// after every event and job of the turn, so that all it produced leaves in one system call.
public protocol TurnFlushable: AnyObject {
    func flushAtEndOfTurn()
}
