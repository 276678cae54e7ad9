public import ProtoCodec

/// A handler's request messages, decoded as they arrive. Iterate it once. A message that does not decode ends
/// the call with INTERNAL; the call ending early (cancelled, deadline) ends iteration with that status.
///
/// The generic layer over ``ServerCall`` is inlinable (here, in ``RPCResponseWriter`` and in the ``RPCMethod``
/// factories), so that generated service code specializes it for its message types: unspecialized, every
/// message would go through value witnesses and metadata lookups.
public struct RPCRequestStream<Message: ProtoMessage>: AsyncSequence, Sendable {
    public typealias Element = Message
    public typealias Failure = RPCError
    @usableFromInline let call: ServerCall

    @inlinable init(call: ServerCall) { self.call = call }

    public struct AsyncIterator: AsyncIteratorProtocol {
        @usableFromInline let call: ServerCall

        @inlinable init(call: ServerCall) { self.call = call }

        @inlinable
        public mutating func next() async throws(RPCError) -> Message? {
            guard let bytes = try await call.receive() else { return nil }
            return try decodeRequest(Message.self, bytes)
        }

        @inlinable
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(RPCError) -> Message? {
            guard let bytes = try await call.receive() else { return nil }
            return try decodeRequest(Message.self, bytes)
        }
    }

    @inlinable
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(call: call) }
}

/// Where a handler writes its response messages. `write` waits while the client is not reading (flow
/// control), so a fast writer cannot fill the server's memory.
public struct RPCResponseWriter<Message: ProtoMessage>: Sendable {
    @usableFromInline let call: ServerCall

    @inlinable init(call: ServerCall) { self.call = call }

    @inlinable
    public func write(_ message: Message) async throws(RPCError) {
        try await call.sendResponse(headroomed: message.serializedBytes(headroom: 5))
    }

    /// Sends a `Message` the caller encoded itself (assembled from stored parts, say): 5 bytes of headroom for the
    /// frame header, then the message's wire format. Nothing checks that the bytes are a `Message`. Consumed: the
    /// frame header is written into the headroom in place.
    @inlinable
    public func write(headroomed encoding: consuming [UInt8]) async throws(RPCError) {
        precondition(encoding.count >= 5, "5 bytes of headroom come first")
        try await call.sendResponse(headroomed: consume encoding)
    }
}

@inlinable
func decodeRequest<Message: ProtoMessage>(_ type: Message.Type, _ bytes: [UInt8]) throws(RPCError) -> Message {
    do throws(ProtoDecodingError) {
        return try Message(serializedBytes: bytes)
    } catch {
        throw RPCError(code: .internal, message: "could not decode the request message (\(Message.protoMessageName)): \(error)")
    }
}

extension ServerCall {
    /// Frames (and compresses, as the handler chose) a serialized response with 5 bytes of headroom, and sends it.
    @usableFromInline
    func sendResponse(headroomed message: consuming [UInt8]) async throws(RPCError) {
        let compression = response.withLock { $0.compression }
        try await sendMessage(MessageFramer.frame(headroomed: consume message, compression: compression))
    }
}

extension RPCMethod {
    /// One request, one response.
    @inlinable
    public static func unary<Request: ProtoMessage, Response: ProtoMessage>(
        _ descriptor: MethodDescriptor, _ request: Request.Type, _ response: Response.Type,
        _ handler: @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) -> RPCMethod {
        RPCMethod(descriptor: descriptor, kind: .unary) { call in
            guard let bytes = try await call.receive() else {
                throw RPCError(code: .internal, message: "the unary call ended without a request message")
            }
            let response = try await handler(try decodeRequest(Request.self, bytes), call.context)
            try await RPCResponseWriter<Response>(call: call).write(response)
        }
    }

    /// A stream of requests, one response.
    @inlinable
    public static func clientStreaming<Request: ProtoMessage, Response: ProtoMessage>(
        _ descriptor: MethodDescriptor, _ request: Request.Type, _ response: Response.Type,
        _ handler: @escaping @Sendable (RPCRequestStream<Request>, ServerContext) async throws -> Response
    ) -> RPCMethod {
        RPCMethod(descriptor: descriptor, kind: .clientStreaming) { call in
            let response = try await handler(RPCRequestStream(call: call), call.context)
            try await RPCResponseWriter<Response>(call: call).write(response)
        }
    }

    /// One request, a stream of responses.
    @inlinable
    public static func serverStreaming<Request: ProtoMessage, Response: ProtoMessage>(
        _ descriptor: MethodDescriptor, _ request: Request.Type, _ response: Response.Type,
        _ handler: @escaping @Sendable (Request, RPCResponseWriter<Response>, ServerContext) async throws -> Void
    ) -> RPCMethod {
        RPCMethod(descriptor: descriptor, kind: .serverStreaming) { call in
            guard let bytes = try await call.receive() else {
                throw RPCError(code: .internal, message: "the call ended without a request message")
            }
            try await handler(try decodeRequest(Request.self, bytes), RPCResponseWriter(call: call), call.context)
        }
    }

    /// Streams both ways.
    @inlinable
    public static func bidirectionalStreaming<Request: ProtoMessage, Response: ProtoMessage>(
        _ descriptor: MethodDescriptor, _ request: Request.Type, _ response: Response.Type,
        _ handler: @escaping @Sendable (RPCRequestStream<Request>, RPCResponseWriter<Response>, ServerContext) async throws -> Void
    ) -> RPCMethod {
        RPCMethod(descriptor: descriptor, kind: .bidirectionalStreaming) { call in
            try await handler(RPCRequestStream(call: call), RPCResponseWriter(call: call), call.context)
        }
    }
}
