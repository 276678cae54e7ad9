/// One call from a client: created by the transport once the request headers are queued on a stream, driven by
/// the transport's events on the connection's thread, and used by the caller to send requests and read
/// responses and the status.
///
/// Threading: state is confined to `executionContext`'s thread; the caller's async methods hop there.
public final class ClientCall: CallEndpoint, @unchecked Sendable {
    /// Where a call's final status came from: the server's trailers, the client's own deadline or cancellation,
    /// or the transport (a reset stream, a lost connection, a response that broke the protocol). A load
    /// generator counts the last as transport errors rather than as the server's answers.
    public enum StatusSource: Sendable, Hashable {
        case server, deadline, cancellation, transport
    }

    // @unchecked Sendable: every mutable property is read and written on `executionContext`'s thread only.
    public let method: MethodDescriptor
    let executionContext: any RPCExecutionContext
    unowned(unsafe) var transport: ClientCallTransport
    public private(set) var streamID: Int32
    let compression: CompressionAlgorithm
    let maxReceiveMessageSize: Int

    var responseHeadersReceived = false
    var deframer: MessageDeframer?
    var initialMetadata: Metadata?
    var trailingMetadata = Metadata()
    /// The final status, once known (OK or not).
    var status: RPCError?
    /// Where the final status came from. Set once, with `status`, before anyone waiting for the status is woken:
    /// safe to read on any thread after ``finalStatus()`` or a failed ``receive()`` returned.
    public internal(set) var statusSource = StatusSource.transport
    var requestClosed = false
    var released = false

    /// Complete responses the caller has not taken, and DATA bytes not yet given back to flow control: a caller
    /// that stops reading stops the server once `queuedResponseLimit` is passed.
    var received = ReceivedMessages()
    var unconsumedBytes = 0
    static let queuedResponseLimit = 1 << 20
    var reader: UnsafeContinuation<Result<[UInt8]?, RPCError>, Never>?
    var writer: UnsafeContinuation<Result<Void, RPCError>, Never>?
    var headerWaiters: [UnsafeContinuation<Metadata, Never>] = []
    var statusWaiters: [UnsafeContinuation<RPCError, Never>] = []
    var deadlineTimer: (any RPCTimer)?
    /// Called once, when the call is over for the transport (status known and stream gone).
    var onRelease: (() -> Void)?

    public init(
        method: MethodDescriptor, streamID: Int32, transport: ClientCallTransport,
        executionContext: any RPCExecutionContext, options: CallOptions, deadline: UInt64?
    ) {
        self.method = method
        self.streamID = streamID
        self.transport = transport
        self.executionContext = executionContext
        self.compression = options.compression
        self.maxReceiveMessageSize = options.maxReceiveMessageSize
        if let deadline {
            deadlineTimer = executionContext.scheduleTimer(at: deadline) { [self] in
                end(RPCError(code: .deadlineExceeded, message: "the deadline passed before the call finished"), reset: true,
                    source: .deadline)
            }
        }
    }

    /// Runs `body` when the call is released by its stream (transport bookkeeping). Context thread only.
    public func setReleaseHandler(_ body: @escaping () -> Void) { onRelease = body }

    // MARK: - Caller side

    /// Sends one request message (framed), waiting while flow control holds the stream.
    public func send(framed message: [UInt8]) async throws(RPCError) {
        try await sendMessage(message)
    }

    /// Ends the request stream.
    public func closeRequest() {
        executionContext.onContext {
            guard !self.requestClosed else { return }
            self.requestClosed = true
            if self.status == nil { self.transport.finishRequest(streamID: self.streamID) }
        }
    }

    /// The next response message; nil after the last one when the status is OK. Throws any other status.
    public func receive() async throws(RPCError) -> [UInt8]? {
        try await receiveMessage()
    }

    /// The response headers' metadata (empty when the server answered Trailers-Only).
    public func responseMetadata() async -> Metadata {
        await withUnsafeContinuation { continuation in
            executionContext.onContext {
                if let metadata = self.initialMetadata {
                    continuation.resume(returning: metadata)
                } else if self.status != nil {
                    continuation.resume(returning: Metadata())
                } else {
                    self.headerWaiters.append(continuation)
                }
            }
        }
    }

    /// The final status (code OK for success) and its trailing metadata, once the call is over.
    public func finalStatus() async -> RPCError {
        await withUnsafeContinuation { continuation in
            executionContext.onContext {
                if let status = self.status {
                    continuation.resume(returning: status)
                } else {
                    self.statusWaiters.append(continuation)
                }
            }
        }
    }

    /// Cancels the call: RST_STREAM(CANCEL), status CANCELLED. Harmless after the call ended.
    public func cancel() {
        executionContext.onContext {
            self.end(RPCError(code: .cancelled, message: "the call was cancelled by the client"), reset: true,
                     source: .cancellation)
        }
    }
}
