import CSystemShims
import Synchronization

/// A fixed set of event loops (default: one per core); connections are spread over them round-robin.
public final class EventLoopGroup: Sendable {
    public let loops: [EventLoop]
    private let counter = Atomic<Int>(0)

    public init(loops count: Int = EventLoopGroup.coreCount, name: String = "loop") throws(SystemError) {
        precondition(count > 0, "an EventLoopGroup needs at least one loop")
        var loops: [EventLoop] = []
        for index in 0..<count {
            do {
                loops.append(try EventLoop(name: "\(name)-\(index)"))
            } catch {
                loops.forEach { $0.shutdown() }
                throw error
            }
        }
        self.loops = loops
    }

    /// The next loop, round-robin.
    public func next() -> EventLoop {
        loops[counter.add(1, ordering: .relaxed).oldValue % loops.count]
    }

    /// Stops every loop and waits for their threads.
    public func shutdown() {
        for loop in loops { loop.shutdown() }
    }

    /// Online processors, at least 1.
    public static var coreCount: Int { max(1, tw_cpu_count()) }
}
