public import HTTP2
public import RPC

/// How a ``Channel`` connects and spreads calls.
public struct ChannelConfiguration: Sendable {
    public enum LoadBalancing: Sendable, Hashable {
        /// One connection, to the first address that accepts; the next on failure.
        case pickFirst
        /// A connection to every address; calls take turns over the ready ones.
        case roundRobin
        /// A connection per address on demand; each call goes to the address the ring assigns its
        /// ``RPC/CallOptions/hashKey`` (skipping addresses in failure, as gRPC's ring_hash does).
        case ringHash
    }

    public var loadBalancing = LoadBalancing.pickFirst
    /// How the channel reconnects after a failed connection.
    public var backoff = Backoff.grpc
    /// A connection attempt fails after this long (gRPC's minimum connect timeout).
    public var connectTimeout: Duration = .seconds(20)
    /// A connection without calls for this long is closed; the next call reconnects (nil: never).
    public var idleTimeout: Duration? = .seconds(30 * 60)
    public var http2 = HTTP2Settings()
    /// Loops for the channel's connections when it creates its own group.
    public var loops = 1
    /// Sent with every call on the channel, ahead of the call's own metadata (a credential, for instance).
    public var metadata = Metadata()

    public init(loadBalancing: LoadBalancing = .pickFirst) {
        self.loadBalancing = loadBalancing
    }
}

/// How long to wait before the next attempt after consecutive failures — gRPC's connection backoff
/// (connection-backoff.md): before attempt n (0 for the first retry) wait min(initial × multiplier^n, maximum),
/// randomised by ±jitter. The one backoff in Tradewire: a channel reconnects with it, and every retry loop above a
/// channel (followers, outbox links) keeps a value of it and calls ``next()`` after a failure and ``reset()`` once an
/// attempt made progress. Use the same policy at both levels (``mesh`` between Tradewire's services) so that the
/// waits do not compound.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var multiplier: Double
    public var jitter: Double
    public var maximum: Duration
    /// Failures since the last ``reset()``.
    public private(set) var failures = 0

    public init(initial: Duration = .seconds(1), multiplier: Double = 1.6, jitter: Double = 0.2,
                maximum: Duration = .seconds(120))
    {
        self.initial = initial
        self.multiplier = multiplier
        self.jitter = jitter
        self.maximum = maximum
    }

    /// gRPC's defaults: 1 s, ×1.6, ±20 %, at most 120 s. For clients of services Tradewire does not run.
    public static let grpc = Backoff()
    /// Between Tradewire's own services: 50 ms, ×1.6, ±20 %, at most 500 ms. A restarted node is found again
    /// within half a second, at the cost of at most two attempts a second against one that stays down.
    public static let mesh = Backoff(initial: .milliseconds(50), maximum: .milliseconds(500))

    /// The wait before attempt `attempt` (0 for the first retry), using `random` in [-1, 1] for the jitter.
    public func delay(attempt: Int, random: Double) -> Duration {
        var seconds = Double(initial.components.seconds) + Double(initial.components.attoseconds) * 1e-18
        let cap = Double(maximum.components.seconds) + Double(maximum.components.attoseconds) * 1e-18
        for _ in 0..<attempt where seconds < cap { seconds *= multiplier }
        seconds = min(seconds, cap)
        seconds *= 1 + jitter * max(-1, min(1, random))
        return .nanoseconds(Int64(seconds * 1e9))
    }

    /// Counts a failure and returns how long to wait before the next attempt.
    public mutating func next(random: Double = .random(in: -1...1)) -> Duration {
        defer { failures += 1 }
        return delay(attempt: failures, random: random)
    }

    /// Counts a failure and sleeps before the next attempt (returns early if the task is cancelled).
    public mutating func wait() async {
        try? await Task.sleep(for: next())
    }

    /// Starts over from ``initial``: an attempt made progress.
    public mutating func reset() { failures = 0 }
}
