import EventLoop
import Synchronization

#if canImport(Glibc)
import Glibc
import Locks
#endif

/// The open loop's schedule of intended start times on one connection.
struct Arrivals {
    let open: OpenLoop
    let fraction: Double
    let scheduleStart: UInt64
    /// The next intended start (Monotonic ns).
    private(set) var next: UInt64

    init(open: OpenLoop, fraction: Double, scheduleStart: UInt64, offset: Double) {
        self.open = open
        self.fraction = fraction
        self.scheduleStart = scheduleStart
        // Connections' fixed schedules interleave: connection i starts i/n of a gap later.
        let start = Monotonic.now()
        let rate = open.schedule.rate(at: (Double(start) - Double(scheduleStart)) / 1e9) * fraction
        next = start + UInt64(offset * (rate > 0 ? 1e9 / rate : 0))
    }

    mutating func advance() {
        let seconds = (Double(next) - Double(scheduleStart)) / 1e9
        let rate = open.schedule.rate(at: seconds) * fraction
        guard rate > 0 else {
            next += 10_000_000  // A zero rate: look again in 10 ms.
            return
        }
        let gap = switch open.arrivals {
        case .fixed: 1 / rate
        case .poisson: -log(Double.random(in: Double.leastNonzeroMagnitude..<1)) / rate
        }
        next += UInt64(gap * 1e9)
    }
}

/// Open bidi streams not in a round trip, on one connection of an open loop.
final class IdleStreams: Sendable {
    private let streams = Lock<[BidiStream]>([])

    func take() -> BidiStream? { streams.withLock { $0.popLast() } }
    func put(_ stream: BidiStream) { streams.withLock { $0.append(stream) } }
}

/// A counting semaphore for operations in flight; waiting is cancellable.
final class Slots: Sendable {
    private struct State {
        var available: Int
        var waiter: UnsafeContinuation<Bool, Never>?
        var cancelled = false
    }

    private let state: Lock<State>

    init(_ count: Int) {
        state = Lock(State(available: count))
    }

    /// Takes a slot, waiting for one; false when cancelled while waiting.
    func acquire() async -> Bool {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                let ready = state.withLock { state -> Bool? in
                    if state.cancelled { return false }
                    if state.available > 0 {
                        state.available -= 1
                        return true
                    }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            state.withLock { state in
                state.cancelled = true
                defer { state.waiter = nil }
                return state.waiter
            }?.resume(returning: false)
        }
    }

    func release() {
        let waiter = state.withLock { state -> UnsafeContinuation<Bool, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter  // The slot passes straight to the waiter.
            }
            state.available += 1
            return nil
        }
        waiter?.resume(returning: true)
    }
}
