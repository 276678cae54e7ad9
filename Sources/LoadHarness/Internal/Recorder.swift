import Histogram
import JSON
import RPC
import Synchronization
import Locks

/// How one operation ended.
enum Outcome {
    case ok
    /// The server's status (a non-OK one).
    case status(RPCError)
    /// The call's own deadline passed.
    case timeout
    /// The connection or stream failed under the call, or the call could not start.
    case transportError(RPCError)
}

/// What operations recorded over an interval: a latency histogram and counts. One per connection, written by
/// the connection's workers (which run on its loop, so the lock is uncontended) and taken by the monitor once
/// per second.
struct Tally: Sendable {
    /// Latency in nanoseconds: from the intended start in an open loop, from the actual start in a closed one.
    var latency = Tally.latencyHistogram()
    var operations = 0
    /// By gRPC status code (an array, not a dictionary by name: this is counted on every operation).
    var codeCounts = [Int](repeating: 0, count: 17)
    /// By "Code: message", for everything that was not OK.
    var errors: [String: Int] = [:]
    var transportErrors = 0
    var timeouts = 0
    var messagesSent = 0
    var messagesReceived = 0
    /// Open loop: operations sent later than the threshold after their intended time.
    var lateSends = 0

    /// Nanoseconds from 100 ns to an hour, three significant digits, growing past that rather than dropping a value.
    static func latencyHistogram() -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(
            lowestDiscernibleValue: 100, highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        return histogram
    }

    /// `histogram`'s whole percentile curve, for plotting: (percentile, nanoseconds), HdrHistogram's iteration.
    static func curve(_ histogram: Histogram<UInt64>) -> [(percentile: Double, nanoseconds: UInt64)] {
        histogram.totalCount == 0 ? [] : histogram.percentiles(ticksPerHalfDistance: 5).map { ($0.percentileLevelIteratedTo, $0.value) }
    }

    /// A curve as JSON: `[[percentile, nanoseconds], …]` (a load result's `percentileCurve`).
    static func curveJSON(_ curve: [(percentile: Double, nanoseconds: UInt64)]) -> JSONValue {
        .array(curve.map { .array([.number($0.percentile), .number($0.nanoseconds)]) })
    }

    var failures: Int { operations - codeCounts[0] }

    /// By gRPC status code name (ghz's names): OK, Unavailable, DeadlineExceeded…
    var statusCounts: [String: Int] {
        var counts: [String: Int] = [:]
        for (code, count) in codeCounts.enumerated() where count > 0 {
            counts[Tally.statusName(RPCError.Code(rawValue: code)!)] = count
        }
        return counts
    }

    mutating func record(_ outcome: Outcome, latency nanoseconds: UInt64, sent: Int, received: Int) {
        operations += 1
        messagesSent += sent
        messagesReceived += received
        _ = latency.record(max(1, nanoseconds))
        switch outcome {
        case .ok:
            codeCounts[0] += 1
        case .status(let error):
            count(error)
        case .timeout:
            timeouts += 1
            count(RPCError(code: .deadlineExceeded, message: "the call's deadline passed"))
        case .transportError(let error):
            transportErrors += 1
            count(error)
        }
    }

    private mutating func count(_ error: RPCError) {
        codeCounts[error.code.rawValue] += 1
        errors["\(Tally.statusName(error.code)): \(error.message)", default: 0] += 1
    }

    mutating func add(_ other: Tally) {
        latency.add(other.latency)
        operations += other.operations
        for code in codeCounts.indices { codeCounts[code] += other.codeCounts[code] }
        errors.merge(other.errors, uniquingKeysWith: +)
        transportErrors += other.transportErrors
        timeouts += other.timeouts
        messagesSent += other.messagesSent
        messagesReceived += other.messagesReceived
        lateSends += other.lateSends
    }

    /// grpc-go's names for status codes (`codes.Code.String()`), which ghz's reports use.
    static func statusName(_ code: RPCError.Code) -> String {
        let names = [
            "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists",
            "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented",
            "Internal", "Unavailable", "DataLoss", "Unauthenticated",
        ]
        return names[code.rawValue]
    }
}

/// One connection's recording, under a lock.
final class Recorder: Sendable {
    private let tally = Lock(Tally())

    func record(_ outcome: Outcome, latency: UInt64, sent: Int, received: Int) {
        tally.withLock { $0.record(outcome, latency: latency, sent: sent, received: received) }
    }

    func countLateSend() {
        tally.withLock { $0.lateSends += 1 }
    }

    /// What was recorded since the last take.
    func take() -> Tally {
        tally.withLock { tally in
            defer { tally = Tally() }
            return tally
        }
    }
}
