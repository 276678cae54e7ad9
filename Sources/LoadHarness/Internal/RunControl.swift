import EventLoop
import Synchronization
import Transport

/// One connection of a run: its channel, the loop it lives on, its recorder.
struct Connection: Sendable {
    let channel: Channel
    let loop: EventLoop
    let recorder: Recorder
    let index: Int
}

/// The run's shared state: when measuring begins, whether to stop, the count limit, request numbers.
final class RunControl: Sendable {
    /// Operations meant to start earlier are the warm-up: done, not recorded.
    let measureStart: UInt64
    private let stopping = Atomic<Bool>(false)
    private let admitted = Atomic<Int>(0)
    private let requestNumbers = Atomic<Int>(0)
    private let abandonedCount = Atomic<Int>(0)
    private let abandoning = Atomic<Bool>(false)
    private let unsentCount = Atomic<Int>(0)
    private let lastRecorded = Atomic<UInt64>(0)
    let countLimit: Int?

    init(measureStart: UInt64, countLimit: Int?) {
        self.measureStart = measureStart
        self.countLimit = countLimit
    }

    var isStopping: Bool { stopping.load(ordering: .relaxed) }
    var abandoned: Int { abandonedCount.load(ordering: .relaxed) }
    var unsent: Int { unsentCount.load(ordering: .relaxed) }
    /// When the last recorded operation ended (Monotonic ns).
    var lastCompletion: UInt64 { lastRecorded.load(ordering: .relaxed) }

    func countUnsent(_ count: Int) { unsentCount.add(count, ordering: .relaxed) }

    func stop() { stopping.store(true, ordering: .relaxed) }

    /// After the drain's grace period: operations still running are ended and counted as abandoned.
    func abandonInFlight() { abandoning.store(true, ordering: .relaxed) }

    var isAbandoning: Bool { abandoning.load(ordering: .relaxed) }

    func nextRequestNumber() -> Int { requestNumbers.add(1, ordering: .relaxed).oldValue }

    /// Whether an operation intended to start at `intendedStart` may start: not once stopping, and not beyond
    /// the count limit (which the operation that reaches it turns into a stop).
    func admit(intendedStart: UInt64) -> Bool {
        if isStopping || Task.isCancelled { return false }
        guard let countLimit, intendedStart >= measureStart else { return true }
        if admitted.add(1, ordering: .relaxed).newValue > countLimit {
            stop()
            return false
        }
        return true
    }

    /// Records an operation, unless it belongs to the warm-up or was abandoned at the end of the run.
    func record(_ outcome: Outcome, _ recorder: Recorder, intendedStart: UInt64, sent: Int, received: Int) {
        guard intendedStart >= measureStart else { return }
        if abandoning.load(ordering: .relaxed) {
            abandonedCount.add(1, ordering: .relaxed)
            return
        }
        let now = Monotonic.now()
        lastRecorded.max(now, ordering: .relaxed)
        recorder.record(outcome, latency: now > intendedStart ? now - intendedStart : 0, sent: sent, received: received)
    }
}
