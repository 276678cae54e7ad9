import EventLoop
import LoadHarness
import Synchronization
import Testing

/// The engine the `tradewire bench` commands measure with, on an operation that only sleeps: what an open loop
/// schedules is exact, the warm-up is done but not measured, failures are counted apart, latency counts from the
/// intended start, and every worker ends with the run. Each load runs on a loop of its own: workers on the shared
/// pool were starved past the whole run by other suites once, and measured nothing.
@Suite struct OperationLoadTests {
    static func withLoop<T>(_ body: (EventLoop) async throws -> T) async throws -> T {
        let loop = try EventLoop(name: "operation-load")
        defer { loop.shutdown() }
        return try await body(loop)
    }

    @Test func anOpenLoopStartsExactlyItsScheduleAndMeasuresOnlyAfterTheWarmUp() async throws {
        let load = OperationLoad(model: .open(rate: 200, workers: 16), warmup: .milliseconds(200), duration: .seconds(1))
        let numbers = Atomic<Int>(0)
        let result = try await Self.withLoop { loop in try await load.run(on: loop) { _, gate in
            while let start = await gate.next() {
                let number = numbers.add(1, ordering: .relaxed).oldValue
                try await Task.sleep(for: .milliseconds(1))
                gate.record(since: start, succeeded: number % 10 != 9)
            }
        } }
        // 1.2 s at 200/s: 240 intended starts, the last 200 of them measured; every tenth operation failed.
        #expect(result.total == 240)
        #expect(result.succeeded + result.failed == 200)
        #expect((15...25).contains(result.failed), "\(result.failed)")
        #expect(result.latency(at: 50) >= 1_000_000, "an operation sleeps 1 ms at least")
        #expect(result.seconds >= 1)
    }

    /// Paced on the workers' loop: each operation wakes on that loop's timer, never before its intended start, and
    /// the schedule is kept whole.
    @Test func anOpenLoopPacedOnALoopWakesThereAndNeverEarly() async throws {
        let load = OperationLoad(model: .open(rate: 500, workers: 4), warmup: .zero, duration: .milliseconds(500))
        let early = Atomic<Int>(0)
        let offLoop = Atomic<Int>(0)
        let result = try await Self.withLoop { loop in try await load.run(on: loop) { _, gate in
            while let start = await gate.next(on: loop) {
                if Monotonic.now() < start { early.add(1, ordering: .relaxed) }
                if !loop.inEventLoop { offLoop.add(1, ordering: .relaxed) }
                gate.record(since: start, succeeded: true)
            }
        } }
        #expect(result.total == 250)
        #expect(early.load(ordering: .relaxed) == 0)
        #expect(offLoop.load(ordering: .relaxed) == 0)
    }

    @Test func anOpenLoopTimesFromTheIntendedStartSoAStallShows() async throws {
        // One worker, 100/s: an operation that stalls 300 ms delays the ones scheduled behind it, and their
        // latency says so (a closed loop would hide it).
        let load = OperationLoad(model: .open(rate: 100, workers: 1), warmup: .zero, duration: .seconds(1))
        let stalled = Atomic<Bool>(false)
        let result = try await Self.withLoop { loop in try await load.run(on: loop) { _, gate in
            while let start = await gate.next() {
                if !stalled.exchange(true, ordering: .relaxed) { try await Task.sleep(for: .milliseconds(300)) }
                gate.record(since: start, succeeded: true)
            }
        } }
        #expect(result.succeeded == 100)
        #expect(result.latency(at: 100) >= 300_000_000)
        // Slot i (10 ms apart) cannot start before the stall ends at 300 ms: 26 of them wait 40 ms or more, so with
        // the stalled one at least the slowest 27 in 100 do.
        #expect(result.latency(at: 75) >= 40_000_000, "the operations queued behind the stall waited too")
    }

    @Test func aClosedLoopKeepsItsWorkersBusyUntilTheEndAndAThrowEndsTheRun() async throws {
        let load = OperationLoad(model: .closed(workers: 4), warmup: .milliseconds(100), duration: .milliseconds(300))
        let started = Atomic<Int>(0)
        let result = try await Self.withLoop { loop in try await load.run(on: loop) { _, gate in
            while let start = await gate.next() {
                started.add(1, ordering: .relaxed)
                try await Task.sleep(for: .milliseconds(2))
                gate.record(since: start, succeeded: true)
            }
        } }
        #expect(result.total == started.load(ordering: .relaxed), "every operation started was recorded")
        #expect(result.succeeded > 0 && result.succeeded < result.total, "the warm-up's are not measured")
        #expect(result.latency(at: 50) >= 2_000_000)

        struct Broke: Error {}
        await #expect(throws: Broke.self) {
            _ = try await OperationLoad(model: .closed(workers: 2), warmup: .zero, duration: .seconds(60)).run { worker, _ in
                if worker == 1 { throw Broke() }
                try await Task.sleep(for: .seconds(60))  // cancelled by the other worker's error
            }
        }
    }
}
