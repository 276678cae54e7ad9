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
    public var backoff = ConnectionBackoff()
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

/// gRPC's connection backoff (connection-backoff.md): the delay before reconnect attempt n is
/// min(initial × multiplier^n, maximum), randomised by ±jitter.
public struct ConnectionBackoff: Sendable, Hashable {
    public var initial: Duration = .seconds(1)
    public var multiplier = 1.6
    public var jitter = 0.2
    public var maximum: Duration = .seconds(120)

    public init() {}

    /// The delay before reconnect attempt `attempt` (0 for the first retry), using `random` in [-1, 1].
    public func delay(attempt: Int, random: Double) -> Duration {
        var seconds = Double(initial.components.seconds) + Double(initial.components.attoseconds) * 1e-18
        let cap = Double(maximum.components.seconds)
        for _ in 0..<attempt where seconds < cap { seconds *= multiplier }
        seconds = min(seconds, cap)
        seconds *= 1 + jitter * max(-1, min(1, random))
        return .nanoseconds(Int64(seconds * 1e9))
    }
}
