import EventLoop
import Protos
import RPC
import Synchronization
import Locks

/// The risk service's state behind one lock, and its store thread. A check takes the lock once (so two checks
/// of one account never both pass a limit that only one fits) and costs no I/O: what it changed reaches the
/// store with the next write. Writes capture the changed rows under the lock and queue them to the store thread
/// in the same critical section, so they commit in the order they were cut, each a consistent state with the
/// processors' cursors.
///
/// A check's reservation, and what the processors' events changed, are durable within `flushInterval`; a
/// reservation lost to a crash before that comes back from the order's ACCEPTED event, which the restarted service
/// reads again from its stored cursor (written in the same transactions as the rows it covers). A store that fails
/// stops the service (fail-stop): the first failed write is reported as fatal, no later write is tried, and every
/// change waiting for one fails with UNAVAILABLE.
final class RiskCore: Sendable {
    let engine: Lock<RiskEngine>
    private let storeLoop: EventLoop
    private let store: StoreBox
    private let fatal: @Sendable (String, any Error) -> Void
    static let flushInterval: Duration = .milliseconds(50)

    /// The store, touched on the store thread only.
    private final class StoreBox: @unchecked Sendable {
        // @unchecked Sendable: `store` and `failed` are used on `storeLoop` only.
        let store: RiskStore
        /// A write failed: nothing more is written.
        var failed = false
        init(_ store: RiskStore) { self.store = store }
    }

    /// - Parameters:
    ///   - storeLoop: the thread the store is written on (the core's own).
    ///   - fatal: told once if a write fails.
    init(store: RiskStore, settings: RiskSettings, referenceMaxAge: Duration, storeLoop: EventLoop,
         fatal: @escaping @Sendable (String, any Error) -> Void) throws
    {
        var engine = try store.load()
        engine.unconfirmedTTL = Int64(settings.unconfirmedTTL.nanoseconds)
        engine.referenceMaxAge = Int64(referenceMaxAge.nanoseconds)
        self.engine = Lock(engine)
        self.store = StoreBox(store)
        self.storeLoop = storeLoop
        self.fatal = fatal
    }

    func check(_ request: Tradewire_V1_RiskCheckRequest) -> Tradewire_V1_RiskCheckResponse {
        engine.withLock { $0.check(request, now: WallClock.now()) }
    }

    /// Checks `requests` in order under one acquisition of the lock.
    func check(_ requests: [Tradewire_V1_RiskCheckRequest]) -> [Tradewire_V1_RiskCheckResponse] {
        let now = WallClock.now()
        return engine.withLock { engine in requests.map { engine.check($0, now: now) } }
    }

    /// Applies a batch of one node's events. What it changed reaches the store with the next periodic write (within
    /// `flushInterval`), together with the node's cursor: a crash before that loses both, and the restarted service
    /// reads those events again. (One transaction per batch cost a store write per processor commit at low load.)
    func apply(node: String, _ batch: Tradewire_V1_EventBatchRiskView) {
        engine.withLock { $0.apply(node: node, batch.events, now: WallClock.now()) }
    }

    /// Runs `body` on the engine and returns once what it changed is stored; UNAVAILABLE if the store failed.
    func change<T: Sendable, E: Error>(_ body: @Sendable (inout RiskEngine) throws(E) -> T) async throws -> T {
        let result = try engine.withLock { engine throws(E) in try body(&engine) }
        let stored = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            write { continuation.resume(returning: $0) }
        }
        guard stored else { throw Self.storeFailed }
        return result
    }

    static let storeFailed = RPCError(code: .unavailable, message: "the risk store failed to write; the service is stopping")

    /// Cuts the changed rows and queues their write; `committed` is told whether it was stored.
    private func write(then committed: (@Sendable (Bool) -> Void)? = nil) {
        let store = store
        let fatal = fatal
        engine.withLock { engine in
            let rows = engine.takeRows()
            storeLoop.execute {
                guard !store.failed else {
                    committed?(false)
                    return
                }
                do {
                    try store.store.write(rows)
                } catch {
                    store.failed = true
                    fatal("the risk store failed to write; stopping so that a restart resumes from what committed", error)
                    committed?(false)
                    return
                }
                committed?(true)
            }
        }
    }

    /// Starts the periodic write of checks' reservations and the expiry of unconfirmed ones.
    func start() {
        storeLoop.execute { [self] in tick() }
    }

    private func tick() {
        let changed = engine.withLock { engine in
            engine.expire(now: WallClock.now())
            return !engine.changes.isEmpty
        }
        if changed { write() }
        storeLoop.schedule(at: Monotonic.now() + Self.flushInterval.nanoseconds) { [self] in tick() }
    }

    /// Writes what is left and closes the store (its thread is the host's to stop).
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in write { _ in continuation.resume() } }
        let store = store
        _ = try? await storeLoop.submit { store.store.close() }
    }
}
