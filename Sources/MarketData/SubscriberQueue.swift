import Synchronization

/// One stream subscriber's updates, waiting for its call to send them. Bounded: the push that finds `capacity`
/// updates still unsent marks the subscriber overflowed and calls `onOverflow` once (the service then ends the
/// call with RESOURCE_EXHAUSTED); nothing is queued after that. So a subscriber that stops reading costs the
/// publisher one check per update and holds at most `capacity` updates, never slowing the others.
///
/// Any thread may push and finish; one task consumes with `next()`.
final class SubscriberQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var head = 0
        var waiter: CheckedContinuation<Element?, Never>?
        var finished = false
        var overflowed = false
    }

    let capacity: Int
    private let state = Mutex(State())
    private let onOverflow: @Sendable () -> Void

    init(capacity: Int, onOverflow: @escaping @Sendable () -> Void) {
        self.capacity = capacity
        self.onOverflow = onOverflow
    }

    /// Queues `element`, or hands it to the waiting consumer.
    private enum PushOutcome {
        case resume(CheckedContinuation<Element?, Never>), queued, overflowed, dropped
    }

    func push(_ element: Element) {
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
        case .overflowed: onOverflow()
        case .queued, .dropped: break
        }
    }

    /// The next update; nil once finished (overflowed, `finish()`, or the consuming task cancelled).
    func next() async -> Element? {
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
    var overflowed: Bool { state.withLock { $0.overflowed } }

    /// Ends the queue: a waiting `next()` returns nil, later pushes are dropped.
    func finish() {
        let waiter: CheckedContinuation<Element?, Never>? = state.withLock { state in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }
}

/// Who gets what: subscribers by symbol, and those that want every symbol. Owned by the service's core thread.
final class SubscriberHub<Element: Sendable> {
    private var bySymbol: [String: [ObjectIdentifier: SubscriberQueue<Element>]] = [:]
    private var everything: [ObjectIdentifier: SubscriberQueue<Element>] = [:]

    var isEmpty: Bool { bySymbol.isEmpty && everything.isEmpty }

    /// `symbols` empty: every symbol.
    func add(_ queue: SubscriberQueue<Element>, symbols: [String]) {
        let id = ObjectIdentifier(queue)
        if symbols.isEmpty { everything[id] = queue }
        for symbol in symbols { bySymbol[symbol, default: [:]][id] = queue }
    }

    func remove(_ queue: SubscriberQueue<Element>, symbols: [String]) {
        let id = ObjectIdentifier(queue)
        everything[id] = nil
        for symbol in symbols {
            bySymbol[symbol]?[id] = nil
            if bySymbol[symbol]?.isEmpty == true { bySymbol[symbol] = nil }
        }
    }

    /// Whether anyone wants `symbol`'s updates (to skip building them when nobody does).
    func wants(_ symbol: String) -> Bool { !everything.isEmpty || bySymbol[symbol] != nil }

    func publish(_ symbol: String, _ element: Element) {
        for queue in everything.values { queue.push(element) }
        for queue in bySymbol[symbol]?.values ?? [:].values { queue.push(element) }
    }
}
