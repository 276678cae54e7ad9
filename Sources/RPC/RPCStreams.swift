public import ProtoCodec

/// A handler's request messages, decoded as they arrive. Iterate it once. A message that does not decode ends
/// the call with INTERNAL; the call ending early (cancelled, deadline) ends iteration with that status.
public struct RPCRequestStream<Message: ProtoMessage>: AsyncSequence, Sendable {
    public typealias Element = Message
    public typealias Failure = RPCError
    let call: ServerCall

    public struct AsyncIterator: AsyncIteratorProtocol {
        let call: ServerCall

        public mutating func next() async throws(RPCError) -> Message? {
            guard let bytes = try await call.receive() else { return nil }
            return try decodeRequest(Message.self, bytes)
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async throws(RPCError) -> Message? {
            guard let bytes = try await call.receive() else { return nil }
            return try decodeRequest(Message.self, bytes)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(call: call) }
}

/// Where a handler writes its response messages. `write` waits while the client is not reading (flow
/// control), so a fast writer cannot fill the server's memory.
public struct RPCResponseWriter<Message: ProtoMessage>: Sendable {
    let call: ServerCall

    public func write(_ message: Message) async throws(RPCError) {
        try await call.send(framed: MessageFramer.frame(
            headroomed: message.serializedBytes(headroom: 5), compression: call.responseCompressionForSend))
    }
}

func decodeRequest<Message: ProtoMessage>(_ type: Message.Type, _ bytes: [UInt8]) throws(RPCError) -> Message {
    do throws(ProtoDecodingError) {
        return try Message(serializedBytes: bytes)
    } catch {
        throw RPCError(code: .internal, message: "could not decode the request message (\(Message.protoMessageName)): \(error)")
    }
}

extension ServerCall {
    /// The compression the handler chose for its responses.
    var responseCompressionForSend: CompressionAlgorithm { response.withLock { $0.compression } }
}

extension RPCMethod {
    /// One request, one response.
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
    public static func bidirectionalStreaming<Request: ProtoMessage, Response: ProtoMessage>(
        _ descriptor: MethodDescriptor, _ request: Request.Type, _ response: Response.Type,
        _ handler: @escaping @Sendable (RPCRequestStream<Request>, RPCResponseWriter<Response>, ServerContext) async throws -> Void
    ) -> RPCMethod {
        RPCMethod(descriptor: descriptor, kind: .bidirectionalStreaming) { call in
            try await handler(RPCRequestStream(call: call), RPCResponseWriter(call: call), call.context)
        }
    }
}
