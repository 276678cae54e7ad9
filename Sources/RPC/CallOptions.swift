/// Per-call options of a client call.
public struct CallOptions: Sendable, Hashable {
    /// Time allowed for the call, sent as `grpc-timeout`; the call fails with DEADLINE_EXCEEDED after it.
    public var timeout: Duration?
    /// An absolute deadline (monotonic nanoseconds), e.g. a server handler's own ``ServerContext/deadline``
    /// passed on; the earlier of this and `timeout` applies.
    public var deadline: UInt64?
    /// Wait for a connection instead of failing at once with UNAVAILABLE while the channel cannot connect.
    public var waitForReady = false
    /// Compression for request messages (gzip or identity).
    public var compression = CompressionAlgorithm.identity
    /// The value a ring-hash channel hashes to pick the backend (e.g. an OrderId); other policies ignore it.
    public var hashKey: String?
    /// Largest response message accepted (4 MiB, as gRPC's default).
    public var maxReceiveMessageSize = 4 << 20

    public init(timeout: Duration? = nil, deadline: UInt64? = nil, waitForReady: Bool = false,
                compression: CompressionAlgorithm = .identity, hashKey: String? = nil)
    {
        self.timeout = timeout
        self.deadline = deadline
        self.waitForReady = waitForReady
        self.compression = compression
        self.hashKey = hashKey
    }
}

/// Opens client calls: implemented by the transport's channel. Generated clients are built on it.
public protocol RPCClientTransport: Sendable {
    /// Starts a call: sends the request headers (with `metadata`) on a connection the channel picked.
    func startCall(method: MethodDescriptor, metadata: Metadata, options: CallOptions) async throws(RPCError) -> ClientCall

    /// Where a long-lived caller (a stream follower) should run so that its calls' reads and writes stay on the
    /// connection's thread (nil: anywhere). A caller that runs elsewhere waits for a free thread of the shared pool
    /// at every message, and falls behind whenever that pool is busy.
    var preferredExecutor: (any TaskExecutor)? { get }
}

extension RPCClientTransport {
    public var preferredExecutor: (any TaskExecutor)? { nil }
}
