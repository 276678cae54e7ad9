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
        var items: [Element] = []
        var head = 0
        var waiter: CheckedContinuation<Element?, Never>?
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
        case resume(CheckedContinuation<Element?, Never>), queued, overflowed, dropped
    }

    public func push(_ element: Element) {
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
            state.items.append(element)
            return .queued
        }
        switch outcome {
        case .resume(let waiter): waiter.resume(returning: element)
        case .overflowed:
            subscriberOverflows.increment()
            onOverflow()
        case .queued, .dropped: break
        }
    }

    /// The next update; nil once finished (overflowed, `finish()`, or the consuming task cancelled).
    public func next() async -> Element? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                let ready: Element?? = state.withLock { state in
                    if state.head < state.items.count {
                        let element = state.items[state.head]
                        state.head += 1
                        if state.head == state.items.count || state.head > 1024 {
                            state.items.removeFirst(state.head)
                            state.head = 0
                        }
                        return .some(element)
                    }
                    if state.finished { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    /// Whether the queue ended because its subscriber fell `capacity` updates behind.
    public var overflowed: Bool { state.withLock { $0.overflowed } }

    /// Ends the queue: a waiting `next()` returns nil, later pushes are dropped.
    public func finish() {
        let waiter: CheckedContinuation<Element?, Never>? = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }
}
