public import ProtoCodec

/// A unary response with the metadata that came with it.
public struct ClientResponse<Message: ProtoMessage>: Sendable {
    public let message: Message
    public let initialMetadata: Metadata
    public let trailingMetadata: Metadata
}

/// Response messages of a streaming call, decoded as they arrive. Iteration ends after the last message when the
/// status is OK and throws the status otherwise.
///
/// Inlinable, like the server's streams, so that callers specialize it for their message types.
public struct RPCResponseStream<Message: ProtoMessage>: AsyncSequence, Sendable {
    public typealias Element = Message
    public typealias Failure = RPCError
    public let call: ClientCall

    @inlinable init(call: ClientCall) { self.call = call }

    public struct AsyncIterator: AsyncIteratorProtocol {
        @usableFromInline let call: ClientCall

        @inlinable init(call: ClientCall) { self.call = call }

        @inlinable
        public mutating func next() async throws(RPCError) -> Message? {
            guard let bytes = try await call.receive() else { return nil }
            return try decodeResponse(Message.self, bytes)
        }

        @inlinable
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(RPCError) -> Message? {
            guard let bytes = try await call.receive() else { return nil }
            return try decodeResponse(Message.self, bytes)
        }
    }

    @inlinable
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(call: call) }

    /// The response headers' metadata.
    public var initialMetadata: Metadata { get async { await call.responseMetadata() } }

    /// The final status (after iteration: OK with the trailing metadata).
    public var status: RPCError { get async { await call.finalStatus() } }
}

/// Where a streaming call's caller writes its requests.
public struct RPCRequestWriter<Message: ProtoMessage>: Sendable {
    @usableFromInline let call: ClientCall

    @inlinable init(call: ClientCall) { self.call = call }

    @inlinable
    public func write(_ message: Message) async throws(RPCError) {
        try await call.sendRequest(headroomed: message.serializedBytes(headroom: 5))
    }

    /// Ends the request stream (done automatically when the body returns).
    public func finish() { call.closeRequest() }
}

extension ClientCall {
    /// Sends one request message, framed and compressed as the call's options say.
    @inlinable
    public func send<Message: ProtoMessage>(_ message: Message) async throws(RPCError) {
        try await sendRequest(headroomed: message.serializedBytes(headroom: 5))
    }

    /// Frames (and compresses, as the call's options say) a serialized request with 5 bytes of headroom, and
    /// sends it. Consumed: the prefix goes into the headroom in place (a buffer still referenced elsewhere would be
    /// copied whole to take it).
    @usableFromInline
    func sendRequest(headroomed message: consuming [UInt8]) async throws(RPCError) {
        try await sendMessage(MessageFramer.frame(headroomed: consume message, compression: compression))
    }
}

@inlinable
func decodeResponse<Message: ProtoMessage>(_ type: Message.Type, _ bytes: [UInt8]) throws(RPCError) -> Message {
    do throws(ProtoDecodingError) {
        return try Message(serializedBytes: bytes)
    } catch {
        throw RPCError(code: .internal, message: "could not decode the response message (\(Message.protoMessageName)): \(error)")
    }
}

extension RPCClientTransport {
    /// One request, one response.
    public func unary<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor, _ request: Request, responseType: Response.Type = Response.self,
        metadata: Metadata = [:], options: CallOptions = CallOptions()
    ) async throws(RPCError) -> Response {
        try await unaryWithMetadata(method, request, responseType: responseType, metadata: metadata, options: options).message
    }

    /// One request, one response, with the response's metadata.
    public func unaryWithMetadata<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor, _ request: Request, responseType: Response.Type = Response.self,
        metadata: Metadata = [:], options: CallOptions = CallOptions()
    ) async throws(RPCError) -> ClientResponse<Response> {
        let call = try await startCall(method: method, metadata: metadata, options: options)
        return try await withCancellationOf(call) { () throws(RPCError) -> ClientResponse<Response> in
            try await call.send(framed: MessageFramer.frame(
                headroomed: request.serializedBytes(headroom: 5), compression: options.compression))
            call.closeRequest()
            guard let bytes = try await call.receive() else {
                throw RPCError(code: .internal, message: "the server answered OK without a response message")
            }
            let response = try decodeResponse(Response.self, bytes)
            let status = await call.finalStatus()
            guard status.code == .ok else { throw status }
            return ClientResponse(
                message: response, initialMetadata: await call.responseMetadata(), trailingMetadata: status.metadata)
        }
    }

    /// One request, a stream of responses read in `body`. The call is cancelled if `body` returns before the
    /// stream ends.
    public func serverStreaming<Request: ProtoMessage, Response: ProtoMessage, Result: Sendable>(
        _ method: MethodDescriptor, _ request: Request, responseType: Response.Type = Response.self,
        metadata: Metadata = [:], options: CallOptions = CallOptions(),
        _ body: (RPCResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        let call = try await startCall(method: method, metadata: metadata, options: options)
        defer { call.cancel() }
        return try await withTaskCancellationHandler {
            try await call.send(framed: MessageFramer.frame(
                headroomed: request.serializedBytes(headroom: 5), compression: options.compression))
            call.closeRequest()
            return try await body(RPCResponseStream(call: call))
        } onCancel: {
            call.cancel()
        }
    }

    /// Requests written in `body`, then one response.
    public func clientStreaming<Request: ProtoMessage, Response: ProtoMessage>(
        _ method: MethodDescriptor, requestType: Request.Type = Request.self, responseType: Response.Type = Response.self,
        metadata: Metadata = [:], options: CallOptions = CallOptions(),
        _ body: (RPCRequestWriter<Request>) async throws -> Void
    ) async throws -> ClientResponse<Response> {
        let call = try await startCall(method: method, metadata: metadata, options: options)
        defer { call.cancel() }
        return try await withTaskCancellationHandler {
            try await body(RPCRequestWriter(call: call))
            call.closeRequest()
            guard let bytes = try await call.receive() else {
                throw RPCError(code: .internal, message: "the server answered OK without a response message")
            }
            let response = try decodeResponse(Response.self, bytes)
            let status = await call.finalStatus()
            guard status.code == .ok else { throw status }
            return ClientResponse(message: response, initialMetadata: await call.responseMetadata(), trailingMetadata: status.metadata)
        } onCancel: {
            call.cancel()
        }
    }

    /// Streams both ways inside `body`; the request stream ends when `body` calls `finish()` or returns, and the
    /// call is cancelled if `body` returns before the responses end.
    public func bidirectionalStreaming<Request: ProtoMessage, Response: ProtoMessage, Result: Sendable>(
        _ method: MethodDescriptor, requestType: Request.Type = Request.self, responseType: Response.Type = Response.self,
        metadata: Metadata = [:], options: CallOptions = CallOptions(),
        _ body: (RPCRequestWriter<Request>, RPCResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        let call = try await startCall(method: method, metadata: metadata, options: options)
        defer { call.cancel() }
        return try await withTaskCancellationHandler {
            let result = try await body(
                RPCRequestWriter(call: call), RPCResponseStream(call: call))
            call.closeRequest()
            return result
        } onCancel: {
            call.cancel()
        }
    }
}

/// Runs `body`, cancelling `call` if the surrounding task is cancelled.
func withCancellationOf<T>(_ call: ClientCall, _ body: () async throws(RPCError) -> T) async throws(RPCError) -> T {
    let result = await withTaskCancellationHandler {
        do throws(RPCError) {
            return Result<T, RPCError>.success(try await body())
        } catch {
            return .failure(error)
        }
    } onCancel: {
        call.cancel()
    }
    return try result.get()
}
