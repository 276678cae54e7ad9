import EventLoop
import Histogram
import JSON
import Locks
import Synchronization

/// Load on any async operation — a risk check, a command to a node, a round trip on a stream the worker keeps —
/// with the measurement ``LoadRun`` applies to a gRPC method: a warm-up that is not recorded, then a measured
/// time; a closed loop (each worker starts its next operation when the last ended) or an open loop (operations
/// given intended starts on a fixed schedule, each timed from its intended start, so a stall is not hidden).
///
/// Each worker runs `body` once with a ``LoadGate``: it asks the gate for the next start, does one operation and
/// records it, until the gate says the run is over. A worker may hold state between operations (a stream).
public struct OperationLoad: Sendable {
    public enum Model: Sendable {
        /// `workers` operations in flight, each started as soon as its previous one ended.
        case closed(workers: Int)
        /// `rate` operations per second over all workers, on a fixed schedule; `workers` bounds those in flight.
        case open(rate: Double, workers: Int)

        var workers: Int {
            switch self {
            case .closed(let workers), .open(_, let workers): workers
            }
        }
    }

    public var model: Model
    public var warmup: Duration
    public var duration: Duration

    public init(model: Model, warmup: Duration = .seconds(1), duration: Duration = .seconds(5)) {
        precondition(model.workers > 0, "a load needs a worker")
        if case .open(let rate, _) = model { precondition(rate > 0, "an open loop needs a rate") }
        self.model = model
        self.warmup = warmup
        self.duration = duration
    }

    /// Runs the workers (child tasks, preferring `executor` when given) until the measured time is over and each
    /// has returned; a worker that throws ends the run with its error.
    public func run(on executor: (any TaskExecutor)? = nil,
                    _ body: @escaping @Sendable (_ worker: Int, _ gate: LoadGate) async throws -> Void) async throws -> OperationLoadResult
    {
        let start = Monotonic.now()
        let gate = LoadGate(model: model, start: start, measureStart: start + warmup.nanoseconds,
                            end: start + warmup.nanoseconds + duration.nanoseconds)
        try await withThrowingDiscardingTaskGroup { group in
            for worker in 0..<model.workers {
                group.addTask(executorPreference: executor) { try await body(worker, gate) }
            }
        }
        return gate.result()
    }
}

/// What a load's workers share: when each operation may start, and what the measured ones took.
public final class LoadGate: Sendable {
    private let model: OperationLoad.Model
    private let start: UInt64
    private let measureStart: UInt64
    private let end: UInt64
    private let slots = Atomic<Int>(0)
    private let tally = Lock(Counts())
    private let everything = Atomic<Int>(0)

    private struct Counts {
        var latency = LatencyHistogram()
        var succeeded = 0
        var failed = 0
        var lastEnd: UInt64 = 0
    }

    init(model: OperationLoad.Model, start: UInt64, measureStart: UInt64, end: UInt64) {
        self.model = model
        self.start = start
        self.measureStart = measureStart
        self.end = end
    }

    /// When the caller's next operation starts (monotonic nanoseconds: now in a closed loop, its slot of the
    /// schedule in an open loop, after sleeping until then), or nil once the run is over. A caller that runs on an
    /// event loop passes it: the loop's own timer wakes it, where `Task.sleep` woke a timer thread and a thread of the
    /// shared pool before the loop (`tradewire bench order-entry` at 5,000 requests/s: 0.38–0.41 → 0.24 cores, on
    /// the machine under test).
    public func next(on loop: EventLoop? = nil) async -> UInt64? {
        switch model {
        case .closed:
            let now = Monotonic.now()
            return now < end && !Task.isCancelled ? now : nil
        case .open(let rate, _):
            let slot = slots.add(1, ordering: .relaxed).oldValue
            let intended = start + UInt64(Double(slot) / rate * 1e9)
            guard intended < end else { return nil }
            let now = Monotonic.now()
            if intended > now {
                if let loop { await loop.sleep(until: intended) } else { try? await Task.sleep(for: .nanoseconds(Int64(intended - now))) }
            }
            return Task.isCancelled ? nil : intended
        }
    }

    /// Whether an operation that started at `start` is measured (after the warm-up), for callers that count more
    /// than the gate does.
    public func isMeasured(_ start: UInt64) -> Bool { start >= measureStart }

    /// Records an operation that started at `start` (what ``next()`` returned) and ended now. Operations of the
    /// warm-up are counted in ``OperationLoadResult/total`` only.
    public func record(since start: UInt64, succeeded: Bool) {
        let now = Monotonic.now()
        everything.add(1, ordering: .relaxed)
        guard isMeasured(start) else { return }
        tally.withLock { tally in
            tally.latency.record(now - start)
            if succeeded { tally.succeeded += 1 } else { tally.failed += 1 }
            tally.lastEnd = max(tally.lastEnd, now)
        }
    }

    func result() -> OperationLoadResult {
        tally.withLock { tally in
            // Until the end of the measured time, or the last measured operation if it ended later (a closed loop's
            // operations in flight at the end still count).
            let seconds = Double(max(end, tally.lastEnd) - measureStart) / 1e9
            return OperationLoadResult(succeeded: tally.succeeded, failed: tally.failed, seconds: seconds,
                                       total: everything.load(ordering: .relaxed), latency: tally.latency)
        }
    }
}

/// What an ``OperationLoad`` measured.
public struct OperationLoadResult: Sendable {
    /// Measured operations that succeeded and that failed.
    public let succeeded: Int
    public let failed: Int
    /// The measured time.
    public let seconds: Double
    /// Every operation recorded, the warm-up's included.
    public let total: Int
    public let latency: LatencyHistogram

    /// Successful operations per second.
    public var rate: Double { seconds > 0 ? Double(succeeded) / seconds : 0 }

    /// Latency at `percentile` (0–100) of every measured operation, in nanoseconds: from its intended start in an
    /// open loop, from its actual start in a closed one.
    public func latency(at percentile: Double) -> UInt64 { latency.value(at: percentile) }

    /// "p50 1.2 ms p99 3.4 ms" for the percentiles given.
    public func percentiles(_ percentiles: [Double] = [50, 99]) -> String { latency.text(percentiles) }
}

/// Latencies in nanoseconds, kept as every load of the harness keeps them (an HDR histogram: 3 significant
/// digits, up to an hour), for measurements that time more than one thing per operation.
public struct LatencyHistogram: Sendable {
    private var histogram = Tally.latencyHistogram()

    public init() {}

    public var count: Int { Int(histogram.totalCount) }

    /// Records one latency (at least 1 ns, at most an hour).
    public mutating func record(_ nanoseconds: UInt64) {
        _ = histogram.record(min(max(1, nanoseconds), 3_600_000_000_000))
    }

    public mutating func add(_ other: LatencyHistogram) { histogram.add(other.histogram) }

    /// The latency at `percentile` (0–100); 0 when nothing was recorded.
    public func value(at percentile: Double) -> UInt64 {
        count == 0 ? 0 : histogram.valueAtPercentile(percentile)
    }

    /// "p50 1.2 ms p99 3.4 ms" for the percentiles given.
    public func text(_ percentiles: [Double] = [50, 99]) -> String {
        percentiles.map { "p\(LoadResult.format(percentile: $0)) \(LoadResult.format(nanoseconds: value(at: $0)))" }
            .joined(separator: " ")
    }

    /// {"p50": µs, "p99": µs, "p99.9": µs, "max": µs}, or null when nothing was recorded.
    public func microsecondsJSON(_ percentiles: [Double] = [50, 99, 99.9]) -> JSONValue {
        guard count > 0 else { return .null }
        var fields = percentiles.map { (key: "p\(LoadResult.format(percentile: $0))", value: JSONValue.number(Double(value(at: $0)) / 1000)) }
        fields.append((key: "max", value: .number(Double(histogram.max) / 1000)))
        return .object(JSONObject(fields))
    }

    /// The whole percentile curve as `[[percentile, nanoseconds], …]` (HdrHistogram's iteration, as in a load
    /// result's `percentileCurve`, which `tradewire load report --html` draws).
    public func curveJSON() -> JSONValue { Tally.curveJSON(Tally.curve(histogram)) }
}
