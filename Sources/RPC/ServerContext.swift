import Synchronization

/// What a handler knows about its call, and where it sets response metadata.
///
/// Cancellation reaches the handler as task cancellation (`Task.isCancelled`, cancellation handlers): the
/// client reset the stream, the deadline passed, or the server is shutting down. The deadline is also here, so
/// that a handler can pass the remaining time on to the calls it makes.
public final class ServerContext: Sendable {
    public let method: MethodDescriptor
    /// The request's custom metadata (reserved and pseudo headers left out).
    public let requestMetadata: Metadata
    /// The deadline in monotonic nanoseconds (``remainingNanoseconds``), nil when the client set none.
    public let deadline: UInt64?
    /// The client's address, e.g. "127.0.0.1:40312".
    public let peer: String

    private struct ResponseState {
        var initialMetadata = Metadata()
        var trailingMetadata = Metadata()
        var compression = CompressionAlgorithm.identity
    }

    private let response = Mutex(ResponseState())
    private let clock: any RPCExecutionContext

    init(method: MethodDescriptor, requestMetadata: Metadata, deadline: UInt64?, peer: String,
         requestCompression: CompressionAlgorithm, clock: any RPCExecutionContext)
    {
        self.method = method
        self.requestMetadata = requestMetadata
        self.deadline = deadline
        self.peer = peer
        self.clock = clock
        // Answer in the encoding the request used, as gRPC servers do by default.
        response.withLock { $0.compression = requestCompression }
    }

    /// Nanoseconds until the deadline (0 once past); nil without a deadline.
    public var remainingNanoseconds: UInt64? {
        deadline.map { $0 > clock.now() ? $0 - clock.now() : 0 }
    }

    /// Metadata sent with the response headers. Set before the first message (or before returning, for a
    /// unary handler); later changes are not sent.
    public var initialMetadata: Metadata {
        get { response.withLock { $0.initialMetadata } }
        set { response.withLock { $0.initialMetadata = newValue } }
    }

    /// Metadata sent with the status.
    public var trailingMetadata: Metadata {
        get { response.withLock { $0.trailingMetadata } }
        set { response.withLock { $0.trailingMetadata = newValue } }
    }

    /// How response messages are compressed (identity or gzip); defaults to the request's encoding.
    public var responseCompression: CompressionAlgorithm {
        get { response.withLock { $0.compression } }
        set { response.withLock { $0.compression = newValue } }
    }
}
