import EventLoop
import Synchronization

/// A node's journal with group commit: any task may append; one writer thread commits whatever has queued up in
/// one transaction (up to `maxBatch` entries) and only then answers each appender with its sequence numbers. While
/// a commit waits for the disk, the next batch gathers, so the commit rate follows the disk and the batch size
/// follows the load.
///
/// Sequence numbers are given at commit, in commit order, so the committed journal never has a gap. Reads go
/// through a separate SQLite connection (WAL lets it read beside the writer).
public final class Journal: Sendable {
    public let path: String
    public let maxBatch: Int
    private let writer: EventLoop
    private let state: Mutex<State>
    /// Touched on `writer`'s thread only.
    private let store: UnsafeTransfer<JournalStore>
    private let reader: Mutex<UnsafeTransfer<JournalStore>>

    private struct State {
        var queue: [Request] = []
        var flushScheduled = false
        var lastSequence: UInt64
        var closed = false
        var batches = 0
        var committed = 0
        var largestBatch = 0
    }

    private struct Request {
        var entries: [JournalEntry]
        var continuation: UnsafeContinuation<Result<ClosedRange<UInt64>, JournalError>, Never>
    }

    /// Commits so far: how many batches, how many entries, the largest batch.
    public struct Statistics: Sendable, Hashable {
        public var batches: Int
        public var entries: Int
        public var largestBatch: Int
    }

    /// Opens (or creates) the journal at `path`.
    public init(path: String, synchronous: JournalSynchronous = .full, maxBatch: Int = 4096) throws(JournalError) {
        self.path = path
        self.maxBatch = maxBatch
        let store = try JournalStore(path: path, synchronous: synchronous)
        let last = try store.lastSequence()
        self.store = UnsafeTransfer(store)
        reader = Mutex(UnsafeTransfer(try JournalStore(path: path, synchronous: synchronous)))
        state = Mutex(State(lastSequence: last))
        do {
            writer = try EventLoop(name: "journal")
        } catch {
            throw JournalError(operation: "start the journal's writer thread", code: 0, message: "\(error)")
        }
    }

    /// Stops the writer after committing what is already queued. Appends after this fail.
    public func close() async {
        state.withLock { $0.closed = true }
        writer.execute { self.flush() }
        _ = try? await writer.submit {}
        writer.shutdown()
    }

    /// The highest committed sequence number.
    public var lastSequence: UInt64 { state.withLock { $0.lastSequence } }

    public var statistics: Statistics {
        state.withLock { Statistics(batches: $0.batches, entries: $0.committed, largestBatch: $0.largestBatch) }
    }

    /// Appends `entries` (in this order, consecutively numbered) and returns once they are committed.
    public func append(_ entries: [JournalEntry]) async throws(JournalError) -> ClosedRange<UInt64> {
        precondition(!entries.isEmpty, "append at least one entry")
        let result = await withUnsafeContinuation { continuation in
            let schedule = state.withLock { state -> Bool? in
                guard !state.closed else { return nil }
                state.queue.append(Request(entries: entries, continuation: continuation))
                defer { state.flushScheduled = true }
                return !state.flushScheduled
            }
            switch schedule {
            case nil: continuation.resume(returning: .failure(JournalError(operation: "append", code: 0, message: "the journal is closed")))
            case true?: writer.execute { self.flush() }
            case false?: break
            }
        }
        return try result.get()
    }

    /// Appends one entry; returns its sequence number once committed.
    public func append(_ entry: JournalEntry) async throws(JournalError) -> UInt64 {
        try await append([entry]).lowerBound
    }

    /// Up to `limit` committed records from `sequence` on.
    public func records(from sequence: UInt64, limit: Int = 1000) throws(JournalError) -> [JournalRecord] {
        try reader.withLock { reader throws(JournalError) in try reader.value.records(from: sequence, limit: limit) }
    }

    /// Every committed record of `key`, in order.
    public func records(key: String) throws(JournalError) -> [JournalRecord] {
        try reader.withLock { reader throws(JournalError) in try reader.value.records(key: key) }
    }

    // MARK: - Writer thread

    /// Commits what has queued, a batch at a time, until the queue is empty.
    private func flush() {
        while true {
            let (batch, first) = state.withLock { state -> ([Request], UInt64) in
                var taken = 0
                var count = 0
                while taken < state.queue.count && (count == 0 || count + state.queue[taken].entries.count <= maxBatch) {
                    count += state.queue[taken].entries.count
                    taken += 1
                }
                let batch = Array(state.queue.prefix(taken))
                state.queue.removeFirst(taken)
                if batch.isEmpty { state.flushScheduled = false }
                return (batch, state.lastSequence + 1)
            }
            guard !batch.isEmpty else { return }
            let entries = batch.flatMap(\.entries)
            do throws(JournalError) {
                try store.value.append(entries, first: first)
            } catch {
                for request in batch { request.continuation.resume(returning: .failure(error)) }
                continue
            }
            state.withLock { state in
                state.lastSequence = first + UInt64(entries.count) - 1
                state.batches += 1
                state.committed += entries.count
                state.largestBatch = max(state.largestBatch, entries.count)
            }
            var next = first
            for request in batch {
                let range = next...(next + UInt64(request.entries.count) - 1)
                next = range.upperBound + 1
                request.continuation.resume(returning: .success(range))
            }
        }
    }
}

/// A non-Sendable value handed to the one thread that uses it (documented at each use).
struct UnsafeTransfer<Value>: @unchecked Sendable {
    // @unchecked Sendable: the journal's writer store is used on the writer thread only; the reader store only
    // under its mutex.
    let value: Value

    init(_ value: Value) {
        self.value = value
    }
}
