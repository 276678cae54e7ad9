import Histogram
import JSON

/// The outcome of a run: throughput, the latency distribution, counts by status, and a per-second timeline.
public struct LoadResult: Sendable {
    /// A label for reports that overlay several runs ("tradewire", "grpc-go"…).
    public var name: String
    public var method: String
    public var kind: String
    /// "closed" or "open": whether latency includes the time the server's stalls kept requests from being sent.
    public var model: String
    /// The model's parameters, for people: "concurrency 16", "5000/s for 10s, poisson".
    public var load: String
    public var connections: Int
    public var measuredSeconds: Double
    public var operations: Int
    public var statusCounts: [String: Int]
    public var errors: [String: Int]
    public var transportErrors: Int
    public var timeouts: Int
    public var messagesSent: Int
    public var messagesReceived: Int
    public var lateSends: Int
    /// Open loop: arrivals whose send time came but that were never sent (the run ended with all slots busy).
    public var unsent: Int
    /// Operations still in flight when the run gave up waiting for them (cancelled, not in the latency figures).
    public var abandoned: Int
    /// Latency in nanoseconds.
    public var mean: Double
    public var fastest: UInt64
    public var slowest: UInt64
    /// (percentile, nanoseconds) at the usual percentiles: 50, 75, 90, 95, 99, 99.9, 99.99, 100.
    public var percentiles: [(percentile: Double, nanoseconds: UInt64)]
    /// The whole percentile curve, for plotting: (percentile, nanoseconds), HdrHistogram's iteration.
    public var curve: [(percentile: Double, nanoseconds: UInt64)]
    public var timeline: [TimelinePoint]
    /// The harness's own CPU time per operation (user + system), in microseconds.
    public var cpuMicrosPerOperation: Double
    public var date: String

    public var rate: Double { measuredSeconds > 0 ? Double(operations) / measuredSeconds : 0 }
    public var messageRate: Double { measuredSeconds > 0 ? Double(messagesSent + messagesReceived) / measuredSeconds : 0 }

    public func latency(at percentile: Double) -> UInt64 {
        percentiles.first { $0.percentile == percentile }?.nanoseconds ?? 0
    }

    static let reportedPercentiles: [Double] = [50, 75, 90, 95, 99, 99.9, 99.99, 100]

    init(tally: Tally, name: String, plan: LoadPlan, measuredSeconds: Double, unsent: Int, abandoned: Int,
         timeline: [TimelinePoint], cpuSeconds: Double, date: String)
    {
        self.name = name
        method = plan.method.path
        kind = plan.kind.name
        model = plan.model.name
        switch plan.model {
        case .closed(let concurrency): load = "concurrency \(concurrency)"
        case .open(let open): load = "\(open.schedule), \(open.arrivals.rawValue) arrivals, at most \(open.maxInFlight) in flight"
        }
        connections = plan.connections
        self.measuredSeconds = measuredSeconds
        operations = tally.operations
        statusCounts = tally.statusCounts
        errors = tally.errors
        transportErrors = tally.transportErrors
        timeouts = tally.timeouts
        messagesSent = tally.messagesSent
        messagesReceived = tally.messagesReceived
        lateSends = tally.lateSends
        self.unsent = unsent
        self.abandoned = abandoned
        let histogram = tally.latency
        let empty = histogram.totalCount == 0
        mean = empty ? 0 : histogram.mean
        fastest = empty ? 0 : histogram.min
        slowest = empty ? 0 : histogram.max
        percentiles = Self.reportedPercentiles.map { ($0, empty ? 0 : histogram.valueAtPercentile($0)) }
        curve = Tally.curve(histogram)
        self.timeline = timeline
        cpuMicrosPerOperation = tally.operations > 0 ? cpuSeconds * 1e6 / Double(tally.operations) : 0
        self.date = date
    }
}

/// One interval (a second; the last may be shorter) of a run.
public struct TimelinePoint: Sendable {
    /// Seconds since measuring began, at the end of this interval.
    public var second: Double
    /// The interval's length in seconds.
    public var length: Double
    public var operations: Int
    public var failures: Int
    public var p50: UInt64
    public var p99: UInt64
    public var max: UInt64

    public var rate: Double { length > 0 ? Double(operations) / length : 0 }

    init(second: Double, length: Double, interval: Tally) {
        self.second = second
        self.length = length
        operations = interval.operations
        failures = interval.failures
        let histogram = interval.latency
        let empty = histogram.totalCount == 0
        p50 = empty ? 0 : histogram.valueAtPercentile(50)
        p99 = empty ? 0 : histogram.valueAtPercentile(99)
        max = empty ? 0 : histogram.max
    }

    init(second: Double, length: Double, operations: Int, failures: Int, p50: UInt64, p99: UInt64, max: UInt64) {
        self.second = second
        self.length = length
        self.operations = operations
        self.failures = failures
        self.p50 = p50
        self.p99 = p99
        self.max = max
    }
}
