import CSystemShims
import Synchronization

#if canImport(Glibc)
import Glibc
import Locks
#endif

/// One thread with an epoll instance: each turn it waits for readiness of registered descriptors, runs timers
/// and jobs, then flushes the objects that asked to be flushed — at the end of the turn, and early in a long
/// one (see runJobs). Jobs and flushes settle within the turn: what a flush produces (a task it resumed, another
/// object's output) runs and leaves in the same turn, not behind the next turn's reads. Then the turn's late jobs
/// run (work that blocks the thread, such as a journal's commit waiting for the disk; see `executeAfterOutput`),
/// and what they produce settles too.
///
/// Also a `TaskExecutor`: a task started with `Task(executorPreference: loop)` runs its nonisolated code on the
/// loop thread, so a gRPC handler and the connection it serves share a thread and never hop.
///
/// Threading: `register`, `setInterest`, `deregister`, `schedule` and `flushAtEndOfTurn` may only be called on
/// the loop thread. `execute` and the executor's `enqueue` may be called from any thread; from another thread
/// they go through a locked inbox and wake the loop with an eventfd.
public final class EventLoop: TaskExecutor, @unchecked Sendable {
    // @unchecked Sendable: every stored property except `inbox` (a Lock) and the immutable descriptors is
    // touched only on the loop thread.
    public let name: String
    private let epoll: Int32
    private let wakeFD: Int32

    private enum Job {
        case task(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    private struct Inbox {
        var jobs: [Job] = []
        /// An eventfd write is in flight; further enqueues need not signal again.
        var wakePending = false
        var stopping = false
    }

    private let inbox = Lock(Inbox())
    /// Jobs for this thread, run in order from `nextJob`.
    private var localJobs: [Job] = []
    private var nextJob = 0
    private var selectables: [Selectable?] = []
    private var timers = TimerHeap()
    private var timerSequence: UInt64 = 0
    private var flushList: [TurnFlushable] = []
    /// Jobs for the end of this turn, after its output (see `executeAfterOutput`). Loop thread only.
    private var lateJobs: [() -> Void] = []
    /// A buffer for reads on the loop thread: every connection of the loop reads into it and consumes what it
    /// read before returning to the loop. Loop thread only.
    public let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 << 10, alignment: 16)
    private var thread: pthread_t?
    private let started = Lock(false)

    /// Creates the loop and starts its thread.
    public init(name: String) throws(SystemError) {
        self.name = name
        epoll = try Epoll.create()
        do {
            wakeFD = try EventFD.create()
        } catch {
            Socket.close(epoll)
            throw error
        }
        do {
            try Epoll.add(epoll, fd: wakeFD, events: Epoll.readable)
        } catch {
            Socket.close(wakeFD)
            Socket.close(epoll)
            throw error
        }
        startThread()
    }

    deinit {
        Socket.close(wakeFD)
        Socket.close(epoll)
        readBuffer.deallocate()
    }

    /// Whether the caller is on this loop's thread.
    public var inEventLoop: Bool {
        guard let thread else { return false }
        return pthread_equal(pthread_self(), thread) != 0
    }

    // MARK: - Jobs

    /// Runs `body` on the loop thread: later in this turn when called on the loop, else as soon as it wakes.
    public func execute(_ body: @escaping @Sendable () -> Void) {
        if inEventLoop {
            localJobs.append(.closure(body))
        } else {
            enqueueRemote(.closure(body))
        }
    }

    /// Runs `body` in this turn once its jobs have run and the output they produced has been flushed: for work that
    /// holds the thread, such as a journal's commit waiting for the disk, so that the messages the turn made (a
    /// risk check, a command to a peer, acknowledgements) leave before it rather than after it. Loop thread only.
    public func executeAfterOutput(_ body: @escaping () -> Void) {
        precondition(inEventLoop, "EventLoop.executeAfterOutput off the loop thread")
        lateJobs.append(body)
    }

    /// Runs `body` on the loop thread and returns its result to an async caller. A nonisolated async function: it
    /// runs on the global executor, not the caller's (the package does not adopt NonisolatedNonsendingByDefault).
    public func submit<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            execute { continuation.resume(with: Result { try body() }) }
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if inEventLoop {
            localJobs.append(.task(job))
        } else {
            enqueueRemote(.task(job))
        }
    }

    private func enqueueRemote(_ job: Job) {
        let signal = inbox.withLock { inbox -> Bool in
            inbox.jobs.append(job)
            defer { inbox.wakePending = true }
            return !inbox.wakePending
        }
        if signal { try? EventFD.signal(wakeFD) }
    }

    // MARK: - Descriptors

    /// Starts delivering readiness of `fd` to `selectable`. Loop thread only.
    public func register(_ fd: Int32, _ selectable: Selectable, readable: Bool = true, writable: Bool = false)
        throws(SystemError)
    {
        precondition(inEventLoop, "EventLoop.register off the loop thread")
        let index = Int(fd)
        if index >= selectables.count { selectables += Array(repeating: nil, count: index + 1 - selectables.count) }
        selectables[index] = selectable
        try Epoll.add(epoll, fd: fd, events: Self.events(readable: readable, writable: writable))
    }

    /// Changes which readiness `fd` reports. Loop thread only.
    public func setInterest(_ fd: Int32, readable: Bool, writable: Bool) throws(SystemError) {
        try Epoll.modify(epoll, fd: fd, events: Self.events(readable: readable, writable: writable))
    }

    /// Stops delivering events for `fd` (before it is closed). Loop thread only.
    public func deregister(_ fd: Int32) {
        precondition(inEventLoop, "EventLoop.deregister off the loop thread")
        try? Epoll.remove(epoll, fd: fd)
        if Int(fd) < selectables.count { selectables[Int(fd)] = nil }
    }

    private static func events(readable: Bool, writable: Bool) -> UInt32 {
        (readable ? Epoll.readable : 0) | (writable ? Epoll.writable : 0)
    }

    // MARK: - Timers and end-of-turn flushes

    /// Runs `action` on the loop thread at `deadline` (Monotonic nanoseconds) unless cancelled. Loop thread only.
    @discardableResult
    public func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> LoopTimer {
        precondition(inEventLoop, "EventLoop.schedule off the loop thread")
        timerSequence &+= 1
        let timer = LoopTimer(deadline: deadline, sequence: timerSequence, action: action)
        timers.insert(timer)
        return timer
    }

    /// Returns at `deadline` (Monotonic nanoseconds), woken by this loop's timer: finer than `Task.sleep`, and no
    /// other thread wakes for it. Any thread. Not cancellable, and never returns once the loop has stopped: keep
    /// deadlines short, on loops that outlive the caller.
    public func sleep(until deadline: UInt64) async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            execute { self.schedule(at: deadline) { continuation.resume() } }
        }
    }

    /// Flushes `object` once, at the end of the current turn or at the next early flush of a long turn. Asking
    /// twice flushes once only if the caller keeps its own "already asked" flag (connections do). Loop thread
    /// only.
    public func flushAtEndOfTurn(_ object: TurnFlushable) {
        flushList.append(object)
    }

    // MARK: - Lifecycle

    /// Stops the loop after its current turn and waits for its thread to end. Jobs still queued are dropped;
    /// registered descriptors are not closed (their owners close them). Not from the loop thread.
    public func shutdown() {
        precondition(!inEventLoop, "EventLoop.shutdown on its own thread")
        let signal = inbox.withLock { inbox -> Bool in
            let first = !inbox.stopping
            inbox.stopping = true
            return first
        }
        guard signal, let thread else { return }
        try? EventFD.signal(wakeFD)
        pthread_join(thread, nil)
    }

    private func startThread() {
        let box = Unmanaged.passRetained(self)
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { argument in
            let loop = Unmanaged<EventLoop>.fromOpaque(argument!).takeRetainedValue()
            loop.run()
            return nil
        }, box.toOpaque())
        precondition(result == 0, "pthread_create failed: \(result)")
        thread = handle
        started.withLock { $0 = true }
    }

    private func run() {
        _ = tw_set_thread_name(String(name.prefix(15)))  // the kernel keeps 15 characters
        // Wait for the creating thread to publish `thread`, so that inEventLoop is right from the first job.
        while !started.withLock({ $0 }) { sched_yield() }
        let capacity = 256
        let events = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        let data = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        defer {
            events.deallocate()
            data.deallocate()
        }
        while true {
            let timeout = nextTimeout()
            let count = (try? Epoll.wait(epoll, events: events, data: data, capacity: capacity, timeoutNanoseconds: timeout)) ?? 0
            for index in 0..<count {
                dispatch(fd: Int32(truncatingIfNeeded: data[index]), events: events[index])
            }
            fireTimers()
            if drainInbox() { break }
            var budget = Self.jobsPerTurn
            settle(&budget)
            if !lateJobs.isEmpty {
                var late: [() -> Void] = []
                swap(&late, &lateJobs)
                for body in late { body() }
                settle(&budget)
            }
        }
    }

    /// The most jobs one turn runs before it looks at I/O again.
    static let jobsPerTurn = 4096
    /// How many times a turn runs its jobs and flushes while each makes more of the other.
    static let settleRounds = 4

    /// Runs jobs and flushes until neither brings more (a flush can resume a task, whose output needs a flush),
    /// `settleRounds` times at most; what is left runs next turn, without waiting for I/O.
    private func settle(_ budget: inout Int) {
        for _ in 0..<Self.settleRounds {
            runJobs(&budget)
            flush()
            if nextJob >= localJobs.count && flushList.isEmpty { return }
        }
    }

    private func dispatch(fd: Int32, events: UInt32) {
        if fd == wakeFD {
            try? EventFD.drain(wakeFD)
            return
        }
        // A descriptor closed earlier in this batch (and maybe reused by an accept) can get a stale event: the
        // owner then finds nothing to read (EAGAIN) or nothing to write, which is harmless.
        guard Int(fd) < selectables.count, let selectable = selectables[Int(fd)] else { return }
        let readable = events & (Epoll.readable | Epoll.hangup | Epoll.error) != 0
        let writable = events & Epoll.writable != 0
        selectable.ready(readable: readable, writable: writable)
    }

    /// Nanoseconds until the next timer is due (0: work is waiting — a job, a flush or a late job that the turn
    /// could not settle — or a timer is due; -1: no timer).
    private func nextTimeout() -> Int64 {
        if nextJob < localJobs.count || !flushList.isEmpty || !lateJobs.isEmpty { return 0 }
        guard let deadline = timers.nextDeadline() else { return -1 }
        let now = Monotonic.now()
        if deadline <= now { return 0 }
        return Int64(min(deadline - now, UInt64(Int64.max)))
    }

    private func fireTimers() {
        guard !timers.isEmpty else { return }
        let now = Monotonic.now()
        while let timer = timers.popDue(now: now) {
            if let action = timer.action {
                timer.action = nil
                action()
            }
        }
    }

    /// Moves jobs from other threads to the local queue; returns true when the loop must stop.
    private func drainInbox() -> Bool {
        inbox.withLock { inbox -> Bool in
            if !inbox.jobs.isEmpty {
                localJobs.append(contentsOf: inbox.jobs)
                inbox.jobs.removeAll(keepingCapacity: true)
            }
            inbox.wakePending = false
            return inbox.stopping
        }
    }

    /// Runs queued jobs, and the jobs they queue, up to `budget` (shared by the turn) so that I/O is not starved.
    ///
    /// Output normally leaves at the end of the turn, in one send per connection. A long turn also flushes
    /// after its 16th, 64th, 256th… job: when a read brings 64 requests, the first answers are on the wire
    /// while the rest are computed, instead of two peers taking turns idling (bidi ping-pong over one
    /// connection, 64 streams: 181k → 320k messages/s). The gaps grow fourfold, so a turn of a thousand small
    /// calls still sends only a handful of times (a send on loopback also pays for the receiver's TCP work).
    private func runJobs(_ budget: inout Int) {
        var ran = 0
        var flushAt = 16
        defer { budget -= ran }
        while nextJob < localJobs.count && ran < budget {
            let job = localJobs[nextJob]
            nextJob += 1
            switch job {
            case .task(let task): task.runSynchronously(on: asUnownedTaskExecutor())
            case .closure(let body): body()
            }
            ran += 1
            if ran == flushAt {
                flush()
                flushAt *= 4
            }
        }
        if nextJob == localJobs.count {
            localJobs.removeAll(keepingCapacity: true)
            nextJob = 0
        } else if nextJob >= 1024 {
            localJobs.removeFirst(nextJob)
            nextJob = 0
        }
    }

    private func flush() {
        guard !flushList.isEmpty else { return }
        // Flushing may queue jobs or ask for another flush; `settle` runs those.
        let list = flushList
        flushList.removeAll(keepingCapacity: true)
        for object in list { object.flushAtEndOfTurn() }
    }
}
