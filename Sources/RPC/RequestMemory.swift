import Synchronization

/// Bytes of request data a server holds in memory — messages being reassembled and complete ones their handlers
/// have not read — counted against a limit, per connection and (through `parent`) per server. Flow control
/// bounds what one stream may send unread, but a stream that keeps reading while its message grows can hold up
/// to the message limit, and a connection has many streams: this is the bound across them. A call whose data
/// would pass either limit ends with RESOURCE_EXHAUSTED; the others go on.
public final class RequestMemory: Sendable {
    public let limit: Int
    private let parent: RequestMemory?
    private let used = Atomic<Int>(0)

    public init(limit: Int, parent: RequestMemory? = nil) {
        self.limit = limit
        self.parent = parent
    }

    /// Bytes held now.
    public var inUse: Int { used.load(ordering: .relaxed) }

    /// Counts `bytes` more, or nothing when that would pass this limit or the parent's; whether they fit.
    func take(_ bytes: Int) -> Bool {
        let total = used.wrappingAdd(bytes, ordering: .relaxed).newValue
        guard total <= limit else {
            used.wrappingSubtract(bytes, ordering: .relaxed)
            return false
        }
        if let parent, !parent.take(bytes) {
            used.wrappingSubtract(bytes, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Counts `bytes` fewer.
    func give(_ bytes: Int) {
        used.wrappingSubtract(bytes, ordering: .relaxed)
        parent?.give(bytes)
    }
}
