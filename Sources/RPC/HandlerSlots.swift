/// The handlers one connection has running, counted from the start of each until it returns — which may be
/// after its stream ended: a stream the client resets (or whose deadline passes) closes at once, while its handler
/// is only asked to stop. Without this count, opening and resetting streams (rapid reset, CVE-2023-44487) starts
/// unbounded work although at most `SETTINGS_MAX_CONCURRENT_STREAMS` streams are open at any moment.
///
/// The transport refuses new streams while `isFull` (REFUSED_STREAM: nothing was processed, a gRPC client retries)
/// and stops reading the connection until `onFreed` says a handler returned — grpc-go's answer to rapid reset.
///
/// Confined to the connection's thread (handlers report their return there).
// @unchecked Sendable: only touched on the connection's thread; calls carry it to their handlers' completion.
public final class HandlerSlots: @unchecked Sendable {
    public let limit: Int
    /// Handlers started and not yet returned.
    public private(set) var running = 0
    /// Called when a handler returns and frees a slot of a full connection.
    public var onFreed: (() -> Void)?

    public init(limit: Int) {
        precondition(limit > 0, "HandlerSlots needs at least one slot")
        self.limit = limit
    }

    public var isFull: Bool { running >= limit }

    func acquire() {
        running += 1
    }

    func release() {
        let wasFull = isFull
        running -= 1
        if wasFull && !isFull { onFreed?() }
    }
}
