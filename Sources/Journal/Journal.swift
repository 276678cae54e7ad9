public import SQLite
import CoreMetrics
import EventLoop
import Synchronization
import Locks

#if canImport(Glibc)
import Glibc
#endif

/// A node's journal with group commit: any task may append; one writer loop (a thread of its own, or the loop the
/// owner gives it) commits whatever has queued up in one transaction (up to `maxBatch` rows) and only then answers
/// each appender with its sequence numbers. While a commit waits for the disk, the next batch gathers, so the
/// commit rate follows the disk and the batch size follows the load.
///
/// Sequence numbers are given at commit, in commit order, so the committed journal never has a gap; writes commit
/// in the order they were appended. Reads go through a separate SQLite connection (WAL lets it read beside the
/// writer).
///
/// Order rows commit with their events as appends to an order log; the newest row of each order stays in memory
/// (`overlay`, laid over every read) until the writer writes them into the `orders` table, many at once and each
/// order once however often it changed: `materialiseInterval` after the first of them commits, as soon as
/// `materialiseAt` orders wait, and when the journal closes. Opening a journal materialises whatever the log holds,
/// so a crash loses no row.
///
/// The first failed commit latches the journal: it fails that batch, every write queued behind it and every later
/// append with the same error, and commits nothing more — later writes were computed on top of the lost one, so
/// committing them would leave a hole (an acknowledged change after one that never happened). Its owner stops;
/// a restart rebuilds from what committed.
public final class Journal: Sendable {
    public typealias Completion = @Sendable (Result<JournalCommit, SQLiteError>) -> Void

    public let path: String
    public let maxBatch: Int
    private let lock: ExclusiveLock
    private let writer: EventLoop
    /// Whether `writer` is the journal's own thread (stopped by `close`) or its owner's.
    private let ownsWriter: Bool
    private let state: Lock<State>
    /// Touched on `writer`'s thread only.
    private let store: UnsafeTransfer<JournalStore>
    /// Reads for the node's own thread (recovery, an actor coming back from its row).
    private let reader: Lock<UnsafeTransfer<JournalStore>>
    /// Reads for subscribers and queries: their own connection on their own thread, so that a long scan never
    /// runs on a connection's loop thread nor holds the lock the node's thread needs.
    private let scanner: UnsafeTransfer<JournalStore>
    private let scanLoop: EventLoop
    /// The newest committed records, for subscribers that keep up. Written by the writer thread; a lock of its own,
    /// so that readers never contend with the node's appends (which take `state`).
    private let recent: Lock<RecentRecords>
    /// The newest row of each order committed to the log and not yet materialised. Changed on the writer thread
    /// only: after a commit (before its appenders hear of it) and after a materialisation (once it committed).
    private let overlay = Lock(OrderRowOverlay())
    /// The key of every order row in `orders` or the overlay: a read for any other key is answered "no row" without
    /// SQLite. Keys go in with their rows into the overlay, before they can reach the table (under the overlay's
    /// lock, so that a read that misses the overlay finds the key here).
    private let known: Lock<KnownKeys>
    private let materialiseInterval: UInt64
    private let materialiseAt: Int
    /// swift-metrics: orders written into the table at a time, and how long that held the writer (its loop).
    private let materialisedRows = Recorder(label: "journal_order_rows_materialised")
    private let materialiseTime = Timer(label: "journal_order_materialise_seconds")
    /// swift-metrics: events per committed transaction, and how long each commit took (the disk's share of a
    /// command's latency).
    private let batchSize = Recorder(label: "journal_commit_batch_size")
    private let commitTime = Timer(label: "journal_commit_seconds")
    /// The writer thread's CPU in commits and in materialising order rows (SQLite's work, the WAL writes' system
    /// time; not the wait for the disk): what the journal costs per order, beside the rest of its thread's work
    /// (`tools/bench-e2e` reads it).
    private let commitCPU = Counter(label: "journal_commit_cpu_nanoseconds")

    private struct State {
        var queue: [Request] = []
        var flushScheduled = false
        /// The first commit failure: from then on nothing commits.
        var failure: SQLiteError?
        var lastSequence: UInt64
        var outboxHeads: [String: UInt64]
        var closed = false
        var batches = 0
        var committed = 0
        var writes = 0
        var largestBatch = 0
        /// Readers waiting for the next commit, with the Monotonic time they give up at (nil: never).
        var waiters: [UInt64: (continuation: UnsafeContinuation<Void, Never>, deadline: UInt64?)] = [:]
        var nextWaiter: UInt64 = 0
        /// Whether the scan thread's tick is expiring waiters' deadlines.
        var expiring = false
        /// Whether the writer has a materialisation of order rows to come: on its timer, and queued to run next.
        var materialiseTimed = false
        var materialiseQueued = false
    }

    private struct Request {
        var write: JournalWrite
        var completion: Completion
    }

    /// Commits so far: how many transactions, events and writes (appends), the most events in one transaction.
    public struct Statistics: Sendable, Hashable {
        public var batches: Int
        public var entries: Int
        public var writes: Int
        public var largestBatch: Int
    }

    /// Opens (or creates) the journal at `path`, after taking its exclusive lock (a second process, or a second
    /// `Journal` of the same file, is refused).
    ///   - busyTimeout: how long a commit waits for another connection's write lock before it fails (SQLITE_BUSY).
    ///   - recentRecords: how many of the newest committed records stay in memory for subscribers (at about 0.5 KB
    ///     each, 8,192 hold 4 MB).
    ///   - writer: the loop that commits (and runs completions); by default a thread of the journal's own. A node
    ///     passes its core loop: its writes then commit on the thread that made them, at the end of its turn once
    ///     the turn's output has left (its risk checks and messages to peers do not wait for the disk), with no
    ///     thread wake-up either way, and what arrives while a commit waits for the disk is handled as one batch
    ///     after it. The journal never stops a loop it was given.
    ///   - materialiseInterval, materialiseAt: how long after its commit an order row waits at most to be written
    ///     into `orders`, and how many orders' rows may wait (at about 0.5 KB each, 4,096 hold 2 MB).
    public init(path: String, synchronous: JournalSynchronous = .full, maxBatch: Int = 4096, busyTimeout: Duration = .seconds(5),
                recentRecords: Int = 8192, writer: EventLoop? = nil, materialiseInterval: Duration = .milliseconds(200),
                materialiseAt: Int = 4096) throws(SQLiteError)
    {
        recent = Lock(RecentRecords(capacity: max(1, recentRecords)))
        self.materialiseInterval = materialiseInterval.nanoseconds
        self.materialiseAt = max(1, materialiseAt)
        lock = try ExclusiveLock(for: path)
        self.path = path
        self.maxBatch = maxBatch
        let milliseconds = Int(busyTimeout.nanoseconds / 1_000_000)
        // The writer caches up to 64 MiB of pages: with SQLite's 2 MiB it re-read the index pages of recent orders
        // from the file on most commits (7% of a node thread's samples in pread).
        let store = try JournalStore(path: path, synchronous: synchronous, busyTimeoutMilliseconds: milliseconds, cacheKibibytes: 64 << 10)
        var logged = OrderRowOverlay()
        logged.update(with: try store.orderLog())
        if !logged.isEmpty { try store.materialise(logged.inCreationOrder) }
        var known = KnownKeys(firstCapacity: max(1 << 16, 2 * (try store.orderKeyCount())))
        try store.forEachOrderKey { known.insert($0) }
        self.known = Lock(known)
        state = Lock(State(lastSequence: try store.lastSequence(), outboxHeads: try store.outboxHeads()))
        self.store = UnsafeTransfer(store)
        reader = Lock(UnsafeTransfer(try JournalStore(path: path, synchronous: synchronous)))
        scanner = UnsafeTransfer(try JournalStore(path: path, synchronous: synchronous))
        do {
            ownsWriter = writer == nil
            self.writer = try writer ?? EventLoop(name: "journal")
            scanLoop = try EventLoop(name: "journal-scan")
        } catch {
            throw SQLiteError(operation: "start the journal's threads", code: 0, message: "\(error)")
        }
    }

    /// Stops the writer after committing what is already queued. Appends after this fail; waiting readers wake.
    public func close() async {
        let waiters = state.withLock { state in
            state.closed = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume() }
        writer.execute { self.flush() }
        _ = try? await writer.submit { self.materialiseOrderRows() }
        if ownsWriter { writer.shutdown() }
        _ = try? await scanLoop.submit {}
        scanLoop.shutdown()
        lock.release()
    }

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// The commit failure that latched the journal, if one did.
    public var failure: SQLiteError? { state.withLock { $0.failure } }

    /// The highest committed sequence number.
    public var lastSequence: UInt64 { state.withLock { $0.lastSequence } }

    /// Per destination, the last outbox sequence given.
    public var outboxHeads: [String: UInt64] { state.withLock { $0.outboxHeads } }

    public var statistics: Statistics {
        state.withLock { Statistics(batches: $0.batches, entries: $0.committed, writes: $0.writes, largestBatch: $0.largestBatch) }
    }

    /// Queues `write`; `completion` runs on the writer thread once it committed (or failed). Writes commit in the
    /// order of these calls. On the writer thread itself, the commit runs late in the current turn, once the output
    /// the turn produced has left (``EventLoop/executeAfterOutput(_:)``): a node's risk checks and messages to its
    /// peers do not wait for the disk.
    public func append(_ write: JournalWrite, completion: @escaping Completion) {
        let schedule = state.withLock { state -> Result<Bool, SQLiteError> in
            if let failure = state.failure { return .failure(failure) }
            guard !state.closed else { return .failure(SQLiteError(operation: "append", code: 0, message: "the journal is closed")) }
            state.queue.append(Request(write: write, completion: completion))
            defer { state.flushScheduled = true }
            return .success(!state.flushScheduled)
        }
        switch schedule {
        case .failure(let error): completion(.failure(error))
        case .success(true): onWriterAfterOutput { self.flush() }
        case .success(false): break
        }
    }

    /// Runs `body` on the writer: late in the current turn, after its output, when called there (commits and
    /// materialisations hold the thread while they wait for the disk); else as soon as the writer wakes.
    private func onWriterAfterOutput(_ body: @escaping @Sendable () -> Void) {
        if writer.inEventLoop { writer.executeAfterOutput(body) } else { writer.execute(body) }
    }

    /// Appends `write` and returns once it is committed.
    public func append(_ write: JournalWrite) async throws(SQLiteError) -> JournalCommit {
        let result = await withUnsafeContinuation { continuation in
            append(write) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Appends `entries` (in this order, consecutively numbered) and returns once they are committed.
    public func append(_ entries: [JournalEntry]) async throws(SQLiteError) -> ClosedRange<UInt64> {
        precondition(!entries.isEmpty, "append at least one entry")
        let first = try await append(JournalWrite(events: entries)).firstSequence
        return first...(first + UInt64(entries.count) - 1)
    }

    /// Appends one entry; returns its sequence number once committed.
    public func append(_ entry: JournalEntry) async throws(SQLiteError) -> UInt64 {
        try await append([entry]).lowerBound
    }

    /// Returns once an event after `sequence` is committed, the journal closes, `limit` passes (give or take
    /// `expiryTick`), or the task is cancelled. One continuation and no timer task per wait: subscribers wait
    /// after every commit they read up to, and a task group with a sleeping child cost each wait two more thread
    /// wake-ups.
    public func waitForEvents(after sequence: UInt64, atMost limit: Duration) async {
        await wait(after: sequence, deadline: Monotonic.now() &+ limit.nanoseconds)
    }

    /// Returns once an event after `sequence` is committed, the journal closes, or the task is cancelled.
    public func waitForEvents(after sequence: UInt64) async {
        await wait(after: sequence, deadline: nil)
    }

    /// How often the scan thread looks for waits past their deadline, while there are any.
    static let expiryTick: UInt64 = 20_000_000

    private func wait(after sequence: UInt64, deadline: UInt64?) async {
        let id = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                let (ready, startExpiring) = state.withLock { state -> (Bool, Bool) in
                    if state.closed || state.lastSequence > sequence || Task.isCancelled { return (true, false) }
                    state.waiters[id] = (continuation, deadline)
                    guard deadline != nil, !state.expiring else { return (false, false) }
                    state.expiring = true
                    return (false, true)
                }
                if ready { continuation.resume() }
                if startExpiring { scanLoop.execute { self.expireWaits() } }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
        }
    }

    /// On the scan thread: ends the waits past their deadline, and looks again in `expiryTick` while any wait has
    /// one.
    private func expireWaits() {
        let now = Monotonic.now()
        let (expired, more) = state.withLock { state -> ([UnsafeContinuation<Void, Never>], Bool) in
            let due = state.waiters.filter { $0.value.deadline.map { $0 <= now } ?? false }.keys
            let expired = due.compactMap { state.waiters.removeValue(forKey: $0)?.continuation }
            let more = state.waiters.values.contains { $0.deadline != nil }
            if !more { state.expiring = false }
            return (expired, more)
        }
        for continuation in expired { continuation.resume() }
        if more { scanLoop.schedule(at: now + Self.expiryTick) { self.expireWaits() } }
    }

    // MARK: - Reads

    /// Up to `limit` committed records from `sequence` on.
    public func records(from sequence: UInt64, limit: Int = 1000) throws(SQLiteError) -> [JournalRecord] {
        try read { store throws(SQLiteError) in try store.records(from: sequence, limit: limit) }
    }

    // Order reads take the overlay before they read the table: a row the writer materialises in between is then
    // in both (the overlay's copy wins), never in neither.

    /// One order's current row.
    public func order(key: String) throws(SQLiteError) -> OrderRow? {
        if let row = overlay.withLock({ $0[key] }) { return row }
        guard known.withLock({ $0.mayContain(key) }) else { return nil }
        return try read { store throws(SQLiteError) in try store.order(key: key) }
    }

    public func orders(_ query: OrderQuery) throws(SQLiteError) -> [OrderRow] {
        let overlay = overlay.withLock { $0 }
        return try read { store throws(SQLiteError) in try overlay.answer(query, page: store.orders) }
    }

    /// How many orders are in each status.
    public func orderCounts() throws(SQLiteError) -> [Int32: Int] {
        let overlay = overlay.withLock { $0 }
        return try read { store throws(SQLiteError) in
            try overlay.counts(try store.orderCounts()) { key throws(SQLiteError) in try store.order(key: key) }
        }
    }

    public func orders(statuses: [Int32]) throws(SQLiteError) -> [OrderRow] {
        let overlay = overlay.withLock { $0 }
        return try read { store throws(SQLiteError) in overlay.merge(try store.orders(statuses: statuses), statuses: statuses) }
    }

    /// Snapshots and the inputs after them: what a restart replays.
    public func replayable() throws(SQLiteError) -> (snapshots: [SnapshotRow], inputs: [InputRow]) {
        try read { store throws(SQLiteError) in try store.replayable() }
    }

    /// Outbox messages not yet confirmed, in sequence order per destination.
    public func pendingOutbox() throws(SQLiteError) -> [OutboxRecord] {
        try read { store throws(SQLiteError) in try store.pendingOutbox() }
    }

    private func read<T>(_ body: (JournalStore) throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        try reader.withLock { reader throws(SQLiteError) in try body(reader.value) }
    }

    // MARK: - Scans (the scan thread)

    /// Up to `limit` committed records from `sequence` on: from memory when they are among the newest, else read on
    /// the scan thread.
    public func scan(from sequence: UInt64, limit: Int = 1000) async throws -> [JournalRecord] {
        if let records = recent.withLock({ $0.records(from: sequence, limit: limit) }) { return records }
        return try await onScanThread { store throws(SQLiteError) in try store.records(from: sequence, limit: limit) }
    }

    /// The orders matching `query`, read on the scan thread.
    public func scan(_ query: OrderQuery) async throws -> [OrderRow] {
        let overlay = overlay.withLock { $0 }
        return try await onScanThread { store throws(SQLiteError) in try overlay.answer(query, page: store.orders) }
    }

    private func onScanThread<T: Sendable>(_ body: @escaping @Sendable (JournalStore) throws(SQLiteError) -> T) async throws -> T {
        let scanner = scanner
        return try await scanLoop.submit { () throws -> T in try body(scanner.value) }
    }

    // MARK: - Writer thread

    /// Commits what has queued, a batch at a time, until the queue is empty.
    private func flush() {
        while true {
            let (batch, first, heads) = state.withLock { state -> ([Request], UInt64, [String: UInt64]) in
                guard state.failure == nil else {
                    state.flushScheduled = false
                    return ([], 0, [:])
                }
                var taken = 0
                var weight = 0
                while taken < state.queue.count && (weight == 0 || weight + state.queue[taken].write.weight <= maxBatch) {
                    weight += state.queue[taken].write.weight
                    taken += 1
                }
                let batch = Array(state.queue.prefix(taken))
                state.queue.removeFirst(taken)
                if batch.isEmpty { state.flushScheduled = false }
                return (batch, state.lastSequence + 1, state.outboxHeads)
            }
            guard !batch.isEmpty else { return }
            let writes = batch.map(\.write)
            let time = WallClock.now()
            let started = Monotonic.now()
            let cpuBefore = Self.threadCPU()
            var newHeads = heads
            let outboxSequences: [[UInt64]]
            do throws(SQLiteError) {
                outboxSequences = try store.value.commit(writes, first: first, heads: &newHeads, at: time)
            } catch {
                fail(with: error, batch)
                return
            }
            let events = writes.reduce(0) { $0 + $1.events.count }
            commitTime.recordNanoseconds(Monotonic.now() &- started)
            commitCPU.increment(by: Int64(clamping: Self.threadCPU() &- cpuBefore))
            // Before the new head is published: a subscriber woken by it finds the records in memory.
            recent.withLock { recent in
                var sequence = first
                for write in writes {
                    for entry in write.events {
                        recent.append(JournalRecord(sequence: sequence, committedAt: time, entry: entry))
                        sequence += 1
                    }
                }
            }
            batchSize.record(events)
            let rows = overlay.withLock { overlay in
                known.withLock { known in
                    for write in writes {
                        for row in write.orders { known.insert(row.key) }
                    }
                }
                for write in writes where !write.orders.isEmpty { overlay.update(with: write.orders) }
                return overlay.count
            }
            if rows > 0 { scheduleMaterialisation(now: rows >= materialiseAt) }
            let waiters = state.withLock { state in
                state.lastSequence = first + UInt64(events) - 1
                state.outboxHeads = newHeads
                state.batches += 1
                state.committed += events
                state.writes += batch.count
                state.largestBatch = max(state.largestBatch, events)
                defer { if events > 0 { state.waiters = [:] } }
                return events > 0 ? Array(state.waiters.values) : []
            }
            var next = first
            for (request, assigned) in zip(batch, outboxSequences) {
                request.completion(.success(JournalCommit(firstSequence: next, outboxSequences: assigned, committedAt: time)))
                next += UInt64(request.write.events.count)
            }
            for waiter in waiters { waiter.continuation.resume() }
        }
    }

    /// Latches the journal on `error`: fails `batch` (the writes it was committing), every write queued behind it,
    /// and (through `state.failure`) every later one.
    private func fail(with error: SQLiteError, _ batch: [Request]) {
        let queued = state.withLock { state in
            state.failure = error
            state.flushScheduled = false
            defer { state.queue = [] }
            return state.queue
        }
        for request in batch + queued { request.completion(.failure(error)) }
    }

    /// Writer thread: materialises the overlay's rows next (after the writes already queued for this turn) when
    /// `now`, else `materialiseInterval` from now; either at most once at a time, and on a loop it shares, after
    /// the turn's output.
    private func scheduleMaterialisation(now: Bool) {
        let (queue, time) = state.withLock { state in
            defer {
                if now { state.materialiseQueued = true } else { state.materialiseTimed = true }
            }
            return (now && !state.materialiseQueued, !now && !state.materialiseTimed)
        }
        if queue {
            onWriterAfterOutput {
                self.state.withLock { $0.materialiseQueued = false }
                self.materialiseOrderRows()
            }
        }
        if time {
            writer.schedule(at: Monotonic.now() &+ materialiseInterval) {
                self.onWriterAfterOutput {
                    self.state.withLock { $0.materialiseTimed = false }
                    self.materialiseOrderRows()
                }
            }
        }
    }

    /// Writer thread: writes the overlay's rows into `orders` and empties the order log, in one transaction; the
    /// overlay empties once that committed. A failure latches the journal like a failed commit (the rows stay in
    /// the log and the overlay, and a restart materialises them).
    private func materialiseOrderRows() {
        guard state.withLock({ $0.failure == nil }) else { return }
        let rows = overlay.withLock { $0.inCreationOrder }
        guard !rows.isEmpty else { return }
        let started = Monotonic.now()
        let cpuBefore = Self.threadCPU()
        do throws(SQLiteError) {
            try store.value.materialise(rows)
        } catch {
            fail(with: error, [])
            return
        }
        commitCPU.increment(by: Int64(clamping: Self.threadCPU() &- cpuBefore))
        materialiseTime.recordNanoseconds(Monotonic.now() &- started)
        overlay.withLock { $0.removeAll() }
        materialisedRows.record(rows.count)
    }
}

extension Journal {
    /// The calling thread's CPU time in nanoseconds.
    static func threadCPU() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
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
