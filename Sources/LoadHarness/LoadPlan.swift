public import EventLoop
public import RPC

/// What a load run does: which method on which server, with which requests, under which load model, for how
/// long. The engine (``LoadRun``) knows nothing of protobuf: requests arrive as serialized bytes.
public struct LoadPlan: Sendable {
    /// The server: one or more addresses (every connection is to the first reachable, as a pick-first channel).
    public var addresses: [SocketAddress]
    public var method: MethodDescriptor
    public var kind: RPCKind
    public var requests: RequestSource
    /// Request metadata, each value a template (a counter or random value per request).
    public var metadata: [(name: String, value: Template)] = []
    public var model: LoadModel
    /// TCP connections, spread over `loops` event-loop threads.
    public var connections = 1
    public var loops = 1
    /// How long to measure (after the warm-up); nil for an open loop's schedule length, or until `count`.
    public var duration: Duration?
    /// Operations to measure; the run stops at whichever of `duration` and `count` comes first.
    public var count: Int?
    /// Load applied before measuring starts; nothing done in it is counted.
    public var warmup: Duration = .zero
    /// Each call's deadline (sent as grpc-timeout); nil for none.
    public var timeout: Duration?
    /// Client streaming: requests per call. Bidi: round trips per stream before it is closed and a new one
    /// opened (0: one stream per worker for the whole run).
    public var streamMessages = 10
    public var compression = CompressionAlgorithm.identity
    /// How long operations still in flight when the run ends may take to finish (their latency counts) before
    /// they are abandoned; nil for `timeout` + 1 s, or 10 s without a timeout.
    public var drainGrace: Duration?

    public init(addresses: [SocketAddress], method: MethodDescriptor, kind: RPCKind, requests: RequestSource,
                model: LoadModel)
    {
        self.addresses = addresses
        self.method = method
        self.kind = kind
        self.requests = requests
        self.model = model
    }

    /// The measured time: `duration`, else the open loop's schedule, else unbounded (a `count` ends the run).
    var measuredDuration: Duration? {
        if let duration { return duration }
        if case .open(let open) = model { return open.schedule.length }
        return nil
    }
}

/// How load is applied.
public enum LoadModel: Sendable {
    /// `concurrency` operations always in flight: each worker starts its next as soon as the last ends. The
    /// server's stalls slow the sender down, so latency excludes the time requests were not sent
    /// (coordinated omission): fit for throughput, not for latency under a given load.
    case closed(concurrency: Int)
    /// Operations start at scheduled times whatever the server does; latency runs from each operation's
    /// intended start (as wrk2 measures).
    case open(OpenLoop)

    public var name: String {
        switch self {
        case .closed: "closed"
        case .open: "open"
        }
    }

    public var isOpen: Bool { if case .open = self { true } else { false } }
}

/// An open-loop load: a rate schedule, fixed or Poisson arrivals, and a bound on operations in flight.
public struct OpenLoop: Sendable {
    public enum Arrivals: String, Sendable {
        /// Evenly spaced, 1/rate apart.
        case fixed
        /// Exponentially distributed gaps with mean 1/rate (independent arrivals, as from many clients).
        case poisson
    }

    public var schedule: RateSchedule
    public var arrivals: Arrivals
    /// Operations in flight at most; an arrival finding them all busy waits (its latency still runs from its
    /// intended time) and is counted late.
    public var maxInFlight: Int
    /// A send this much later than intended is counted late.
    public var lateThreshold: Duration

    public init(schedule: RateSchedule, arrivals: Arrivals = .fixed, maxInFlight: Int = 10_000,
                lateThreshold: Duration = .milliseconds(1))
    {
        self.schedule = schedule
        self.arrivals = arrivals
        self.maxInFlight = maxInFlight
        self.lateThreshold = lateThreshold
    }
}

/// Operations per second over time: constant steps and linear ramps, one after the other. After the last
/// segment the last rate holds.
public struct RateSchedule: Sendable, CustomStringConvertible {
    public enum Segment: Sendable {
        case constant(rate: Double, for: Duration)
        case ramp(from: Double, to: Double, over: Duration)

        var length: Duration {
            switch self {
            case .constant(_, let length), .ramp(_, _, let length): length
            }
        }
    }

    public var segments: [Segment]

    public init(_ segments: [Segment]) {
        precondition(!segments.isEmpty, "a rate schedule needs a segment")
        self.segments = segments
    }

    public static func constant(_ rate: Double, for length: Duration) -> RateSchedule {
        RateSchedule([.constant(rate: rate, for: length)])
    }

    public var length: Duration { segments.reduce(.zero) { $0 + $1.length } }

    /// The rate `seconds` into the schedule.
    public func rate(at seconds: Double) -> Double {
        var start = 0.0
        for segment in segments {
            let length = segment.length.seconds
            if seconds < start + length {
                switch segment {
                case .constant(let rate, _): return rate
                case .ramp(let from, let to, _): return from + (to - from) * (seconds - start) / length
                }
            }
            start += length
        }
        switch segments.last! {
        case .constant(let rate, _), .ramp(_, let rate, _): return rate
        }
    }

    public var description: String {
        segments.map { segment in
            switch segment {
            case .constant(let rate, let length): "\(Int(rate))/s for \(length.seconds)s"
            case .ramp(let from, let to, let length): "\(Int(from))→\(Int(to))/s over \(length.seconds)s"
            }
        }.joined(separator: ", ")
    }
}

extension RPCKind {
    /// "unary", "client-streaming", "server-streaming", "bidi".
    public var name: String {
        switch self {
        case .unary: "unary"
        case .clientStreaming: "client-streaming"
        case .serverStreaming: "server-streaming"
        case .bidirectionalStreaming: "bidi"
        }
    }
}

/// A load run that cannot be set up or read back, with why.
public struct LoadError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
