import Synchronization
import Testing

@testable import EventLoop

#if canImport(Glibc)
import Glibc
#endif

@Suite struct EventLoopTests {
    @Test func jobsFromOtherThreadsRunOnTheLoop() async throws {
        let loop = try EventLoop(name: "test")
        defer { loop.shutdown() }
        let onLoop = try await loop.submit { loop.inEventLoop }
        #expect(onLoop)
        #expect(!loop.inEventLoop)
    }

    @Test func tasksPreferringTheLoopRunOnItsThread() async throws {
        let loop = try EventLoop(name: "test")
        defer { loop.shutdown() }
        let results = await Task(executorPreference: loop) { () async -> [Bool] in
            var seen = [loop.inEventLoop]
            await Task.yield()
            seen.append(loop.inEventLoop)
            return seen
        }.value
        #expect(results == [true, true])
    }

    /// A flush asked for while the loop flushes (one object's output making another's) runs without waiting for
    /// I/O: it used to wait for the loop's next wake-up, which an idle loop may never have.
    @Test(.timeLimit(.minutes(1))) func aFlushAskedForDuringTheFlushRunsWithoutAnotherEvent() async throws {
        let loop = try EventLoop(name: "test")
        defer { loop.shutdown() }
        let second = Flushed {}
        let first = Flushed { loop.flushAtEndOfTurn(second) }
        try await loop.submit { loop.flushAtEndOfTurn(first) }
        // Nothing else happens on the loop; the second flush takes microseconds when it needs no wake-up.
        let giveUp = ContinuousClock.now + .seconds(5)
        while second.flushes.load(ordering: .relaxed) == 0 && ContinuousClock.now < giveUp { try await Task.sleep(for: .milliseconds(5)) }
        #expect(first.flushes.load(ordering: .relaxed) == 1 && second.flushes.load(ordering: .relaxed) == 1)
    }

    /// A turn settles before it goes back to I/O: a job that a flush queued runs, and the flush it asks for, before
    /// the turn's late jobs (a journal's commit); a flush a late job asks for runs in the same turn too. The late job
    /// makes the socket readable again, so a flush left for the next turn would come after the second event.
    @Test(.timeLimit(.minutes(1))) func aTurnSettlesItsJobsAndFlushesBeforeAndAfterItsLateJobs() async throws {
        let loop = try EventLoop(name: "test")
        defer { loop.shutdown() }
        let (socket, peer) = try Self.socketPair()
        defer {
            close(socket)
            close(peer)
        }
        let log = Mutex<[String]>([])
        let note: @Sendable (String) -> Void = { entry in log.withLock { $0.append(entry) } }
        let afterLate = Flushed { note("flush after late") }
        let second = Flushed { note("second flush") }
        let first = Flushed {
            note("first flush")
            loop.execute {
                note("job")
                loop.flushAtEndOfTurn(second)
            }
        }
        let events = Mutex(0)
        let trigger = Trigger(fd: socket) {
            note("event")
            guard events.withLock({ $0 += 1; return $0 }) == 1 else { return }
            loop.flushAtEndOfTurn(first)
            loop.executeAfterOutput {
                note("late")
                _ = write(peer, "b", 1)
                loop.flushAtEndOfTurn(afterLate)
            }
        }
        try await loop.submit { try loop.register(socket, trigger) }
        _ = write(peer, "a", 1)
        let giveUp = ContinuousClock.now + .seconds(10)
        while log.withLock({ $0.count }) < 7 && ContinuousClock.now < giveUp { try await Task.sleep(for: .milliseconds(5)) }
        #expect(log.withLock { $0 } == ["event", "first flush", "job", "second flush", "late", "flush after late", "event"])
        try await loop.submit { loop.deregister(socket) }
    }

    /// A connected pair of non-blocking Unix sockets.
    static func socketPair() throws -> (Int32, Int32) {
        var pair: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &pair) == 0)
        return (pair[0], pair[1])
    }

    /// Drains its socket and tells `then` on each readiness.
    final class Trigger: Selectable, Sendable {
        let fd: Int32
        let then: @Sendable () -> Void

        init(fd: Int32, then: @escaping @Sendable () -> Void) {
            self.fd = fd
            self.then = then
        }

        func ready(readable: Bool, writable: Bool) {
            var buffer = [UInt8](repeating: 0, count: 16)
            _ = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            then()
        }
    }

    final class Flushed: TurnFlushable, Sendable {
        let flushes = Atomic<Int>(0)
        let then: @Sendable () -> Void

        init(then: @escaping @Sendable () -> Void) { self.then = then }

        func flushAtEndOfTurn() {
            flushes.add(1, ordering: .relaxed)
            then()
        }
    }

    @Test func timersFireInDeadlineOrderAndCancelledOnesDoNot() async throws {
        let loop = try EventLoop(name: "test")
        defer { loop.shutdown() }
        let fired = Mutex<[Int]>([])
        try await loop.submit {
            let now = Monotonic.now()
            loop.schedule(at: now + 30_000_000) { fired.withLock { $0.append(3) } }
            loop.schedule(at: now + 10_000_000) { fired.withLock { $0.append(1) } }
            let cancelled = loop.schedule(at: now + 20_000_000) { fired.withLock { $0.append(99) } }
            loop.schedule(at: now + 20_000_000) { fired.withLock { $0.append(2) } }
            cancelled.cancel()
        }
        // Wait for the last timer by polling on the loop, not by sleeping a guessed time.
        while fired.withLock({ $0.count }) < 3 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(fired.withLock { $0 } == [1, 2, 3])
    }

    @Test func readinessOfARealSocketIsDelivered() async throws {
        let loop = try EventLoop(name: "test")
        defer { loop.shutdown() }
        let (fd, peer) = try Self.socketPair()
        defer {
            close(fd)
            close(peer)
        }
        let reader = Reader(fd: fd)
        try await loop.submit { try loop.register(fd, reader) }
        _ = "ping".withCString { write(peer, $0, 4) }
        let received = await reader.received()
        #expect(received == Array("ping".utf8))
        try await loop.submit { loop.deregister(fd) }
    }

    @Test func groupsSpreadRoundRobinAndShutDown() throws {
        let group = try EventLoopGroup(loops: 2, name: "group")
        let first = group.next()
        let second = group.next()
        #expect(first !== second)
        #expect(group.next() === first)
        group.shutdown()
    }
}

/// Reads what arrives on `fd` and hands it to an awaiting test.
final class Reader: Selectable, @unchecked Sendable {
    // @unchecked Sendable: `bytes` is guarded by the Mutex; `fd` is immutable.
    let fd: Int32
    private let state = Mutex<(bytes: [UInt8], waiter: CheckedContinuation<[UInt8], Never>?)>(([], nil))

    init(fd: Int32) { self.fd = fd }

    func ready(readable: Bool, writable: Bool) {
        var buffer = [UInt8](repeating: 0, count: 64)
        guard case .processed(let count)? = try? buffer.withUnsafeMutableBytes({ try Socket.read(fd, into: $0) }),
            count > 0
        else { return }
        let waiter = state.withLock { state -> CheckedContinuation<[UInt8], Never>? in
            state.bytes += buffer[0..<count]
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: state.withLock { $0.bytes })
    }

    func received() async -> [UInt8] {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> [UInt8]? in
                if !state.bytes.isEmpty { return state.bytes }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
