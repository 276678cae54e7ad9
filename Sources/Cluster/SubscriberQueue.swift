import CoreMetrics
import Synchronization
import Locks

/// Stream subscribers ended because they fell `capacity` updates behind (swift-metrics).
let subscriberOverflows = Counter(label: "subscriber_queue_overflows_total")

/// One stream subscriber's updates, waiting for its call to send them. Bounded: the push that finds `capacity`
/// updates still unsent marks the subscriber overflowed and calls `onOverflow` once (the service then ends the
/// call with RESOURCE_EXHAUSTED); nothing is queued after that. So a subscriber that stops reading costs the
/// publisher one check per update and holds at most `capacity` updates, never slowing the others.
///
/// Any thread may push and finish; one task consumes with `next()`.
public final class SubscriberQueue<Element: Sendable>: Sendable {
    private struct State {
        /// Taken ones are nil until the array is compacted: `next()` moves an update out, so a buffer it holds is
        /// the consumer's alone (its frame prefix is then written in place, not into a copy).
        var items: [Element?] = []
        var head = 0
        var waiter: UnsafeContinuation<Element?, Never>?
        var finished = false
        var overflowed = false
    }

    public let capacity: Int
    private let state = Lock(State())
    private let onOverflow: @Sendable () -> Void

    public init(capacity: Int, onOverflow: @escaping @Sendable () -> Void) {
        self.capacity = capacity
        self.onOverflow = onOverflow
    }

    /// Queues `element`, or hands it to the waiting consumer.
    private enum PushOutcome {
        case resume(UnsafeContinuation<Element?, Never>), queued, overflowed, dropped
    }

    /// Consumed: a buffer handed over is the consumer's alone, even when the consumer runs before `push` returns.
    public func push(_ element: consuming Element) {
        var element: Element? = consume element  // moved, not copied, to whichever side takes it
        let outcome: PushOutcome = state.withLock { state in
            if state.finished { return .dropped }
            if let waiter = state.waiter {
                state.waiter = nil
                return .resume(waiter)
            }
            guard state.items.count - state.head < capacity else {
                state.finished = true
                state.overflowed = true
                state.items = []
                state.head = 0
                return .overflowed
            }
            state.items.append(element.take())
            return .queued
        }
        switch outcome {
        case .resume(let waiter): waiter.resume(returning: element.take())
        case .overflowed:
            subscriberOverflows.increment()
            onOverflow()
        case .queued, .dropped: break
        }
    }

    /// The next update; nil once finished (overflowed, `finish()`, or the consuming task cancelled).
    ///
    /// An update already queued (or the end) is returned without suspending: no continuation, no cancellation
    /// handler, no trip through the executor — a consumer that keeps up with a busy publisher waits only when the
    /// queue is empty. (Suspending for every update cost an allocation and a job per update.)
    public func next() async -> Element? {
        if let ready = state.withLock({ Self.take(&$0) }) { return ready }
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Element?, Never>) in
                let ready: Element?? = state.withLock { state in
                    if let ready = Self.take(&state) { return ready }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    /// The first queued update, `.some(nil)` once finished and drained, nil when the consumer must wait.
    private static func take(_ state: inout State) -> Element?? {
        if state.head < state.items.count {
            let element = state.items[state.head].take()
            state.head += 1
            if state.head == state.items.count || state.head > 1024 {
                state.items.removeFirst(state.head)
                state.head = 0
            }
            return element
        }
        return state.finished ? .some(nil) : nil
    }

    /// Whether the queue ended because its subscriber fell `capacity` updates behind.
    public var overflowed: Bool { state.withLock { $0.overflowed } }

    /// Ends the queue: a waiting `next()` returns nil, later pushes are dropped.
    public func finish() {
        let waiter: UnsafeContinuation<Element?, Never>? = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }
}
