import EventLoop
import Glibc
import Logging
import Protos
import Synchronization
import Locks

/// The risk service's state behind one lock, and its store thread. A check takes the lock once (so two checks
/// of one account never both pass a limit that only one fits) and costs no I/O: what it changed reaches the
/// store with the next write. Writes capture the changed rows under the lock and queue them to the store thread
/// in the same critical section, so they commit in the order they were cut, each a consistent state with the
/// processors' cursors.
///
/// A check's reservation is durable within `flushInterval`; one lost to a crash before that comes back from the
/// order's ACCEPTED event, which the restarted service reads again from its stored cursor. A store that fails
/// stops the service (fail-stop).
final class RiskCore: Sendable {
    let engine: Lock<RiskEngine>
    private let storeLoop: EventLoop
    private let store: StoreBox
    static let flushInterval: Duration = .milliseconds(5)

    /// The store, touched on the store thread only.
    private final class StoreBox: @unchecked Sendable {
        // @unchecked Sendable: `store` is used on `storeLoop` only.
        let store: RiskStore
        init(_ store: RiskStore) { self.store = store }
    }

    init(store: RiskStore, settings: RiskSettings, referenceMaxAge: Duration) throws {
        var engine = try store.load()
        engine.unconfirmedTTL = Int64(settings.unconfirmedTTL.nanoseconds)
        engine.referenceMaxAge = Int64(referenceMaxAge.nanoseconds)
        self.engine = Lock(engine)
        self.store = StoreBox(store)
        storeLoop = try EventLoop(name: "risk-store")
    }

    func check(_ request: Tradewire_V1_RiskCheckRequest) -> Tradewire_V1_RiskCheckResponse {
        engine.withLock { $0.check(request, now: WallClock.now()) }
    }

    /// Applies a batch of one node's events and returns once it is stored.
    func apply(node: String, _ batch: Tradewire_V1_EventBatch) async {
        await change { $0.apply(node: node, batch.events, now: WallClock.now()) }
    }

    /// Runs `body` on the engine and returns once what it changed is stored.
    func change<T: Sendable>(_ body: @Sendable (inout RiskEngine) throws -> T) async rethrows -> T {
        let result = try engine.withLock { try body(&$0) }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            write { continuation.resume() }
        }
        return result
    }

    /// Cuts the changed rows and queues their write; `committed` runs after it.
    private func write(then committed: (@Sendable () -> Void)? = nil) {
        let store = store
        engine.withLock { engine in
            let rows = engine.takeRows()
            storeLoop.execute {
                do {
                    try store.store.write(rows)
                } catch {
                    Logger(label: "tradewire.risk").critical("the store failed to write; stopping so that a restart resumes from what committed", metadata: ["error": "\(error)"])
                    exit(70)
                }
                committed?()
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

    /// Writes what is left and stops the store thread.
    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in write { continuation.resume() } }
        let store = store
        _ = try? await storeLoop.submit { store.store.close() }
        storeLoop.shutdown()
    }
}
