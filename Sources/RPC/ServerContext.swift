import Synchronization

/// What a handler knows about its call, and where it sets response metadata. A view of the call (no object of
/// its own), cheap to copy.
///
/// Cancellation reaches the handler as task cancellation (`Task.isCancelled`, cancellation handlers): the
/// client reset the stream, the deadline passed, or the server is shutting down. The deadline is also here, so
/// that a handler can pass the remaining time on to the calls it makes.
public struct ServerContext: Sendable {
    let call: ServerCall

    public var method: MethodDescriptor { call.request.method }
    /// The request's custom metadata (reserved and pseudo headers left out).
    public var requestMetadata: Metadata { call.request.metadata }
    /// The deadline in monotonic nanoseconds (``remainingNanoseconds``), nil when the client set none.
    public var deadline: UInt64? { call.request.deadline }
    /// The client's address, e.g. "127.0.0.1:40312".
    public var peer: String { call.peer }

    /// Nanoseconds until the deadline (0 once past); nil without a deadline.
    public var remainingNanoseconds: UInt64? {
        deadline.map { deadline in
            let now = call.executionContext.now()
            return deadline > now ? deadline - now : 0
        }
    }

    /// Metadata sent with the response headers. Set before the first message (or before returning, for a
    /// unary handler); later changes are not sent.
    public var initialMetadata: Metadata {
        get { call.response.withLock { $0.initialMetadata } }
        nonmutating set { call.response.withLock { $0.initialMetadata = newValue } }
    }

    /// Metadata sent with the status.
    public var trailingMetadata: Metadata {
        get { call.response.withLock { $0.trailingMetadata } }
        nonmutating set { call.response.withLock { $0.trailingMetadata = newValue } }
    }

    /// Ends the call now with `status`, also while a write waits for flow control (a subscriber that stopped
    /// reading). The status goes out; if response data is still queued behind the client's window, the stream is
    /// reset with ENHANCE_YOUR_CALM (which gRPC clients read as RESOURCE_EXHAUSTED) so that the queued data is
    /// dropped rather than held. A waiting `write` fails with `status` and the handler is cancelled.
    public func abort(_ status: RPCError) {
        let call = call
        call.executionContext.execute { call.abort(status) }
    }

    /// How response messages are compressed (identity or gzip); defaults to the request's encoding when the
    /// client accepts it.
    public var responseCompression: CompressionAlgorithm {
        get { call.response.withLock { $0.compression } }
        nonmutating set { call.response.withLock { $0.compression = newValue } }
    }
}

/// What the request said, fixed once its headers are accepted.
struct RequestHead {
    var method: MethodDescriptor
    var metadata: Metadata
    var deadline: UInt64?
}

/// What the handler sets for the response, from its task (hence the lock).
struct ResponseHead {
    var initialMetadata = Metadata()
    var trailingMetadata = Metadata()
    var compression = CompressionAlgorithm.identity
}
