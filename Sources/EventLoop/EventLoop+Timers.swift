/// A timer scheduled on an ``EventLoop``. Cancel it on the loop thread; a cancelled timer never fires.
public final class LoopTimer {
    let deadline: UInt64
    let sequence: UInt64
    var action: (() -> Void)?

    init(deadline: UInt64, sequence: UInt64, action: @escaping () -> Void) {
        self.deadline = deadline
        self.sequence = sequence
        self.action = action
    }

    public func cancel() { action = nil }

    public var isCancelled: Bool { action == nil }
}

/// A binary min-heap of timers by deadline (then scheduling order). Cancelled timers stay until they surface.
struct TimerHeap {
    private var heap: [LoopTimer] = []

    var isEmpty: Bool { heap.isEmpty }

    /// The earliest deadline of a live timer, dropping cancelled ones from the top.
    mutating func nextDeadline() -> UInt64? {
        while let first = heap.first, first.isCancelled { _ = popFirst() }
        return heap.first?.deadline
    }

    mutating func insert(_ timer: LoopTimer) {
        heap.append(timer)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Removes and returns the earliest timer if its deadline is at or before `now`.
    mutating func popDue(now: UInt64) -> LoopTimer? {
        guard let first = heap.first, first.deadline <= now else { return nil }
        return popFirst()
    }

    private mutating func popFirst() -> LoopTimer? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let first = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, Self.precedes(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, Self.precedes(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return first
    }

    private static func precedes(_ a: LoopTimer, _ b: LoopTimer) -> Bool {
        a.deadline != b.deadline ? a.deadline < b.deadline : a.sequence < b.sequence
    }
}
