public import ServiceStubs

/// `grpc.testing.TestService` as gRPC's interop test descriptions ask (doc/interop-test-descriptions.md): the
/// server side of the standard cases that `tradewire interop client` and grpc-go's interop client run.
public struct InteropTestService: Grpc_Testing_TestService.ServiceProtocol {
    public init() {}

    public func emptyCall(request: Grpc_Testing_Empty, context: ServerContext) async throws -> Grpc_Testing_Empty {
        echoMetadata(context)
        return Grpc_Testing_Empty()
    }

    public func unaryCall(request: Grpc_Testing_SimpleRequest, context: ServerContext) async throws
        -> Grpc_Testing_SimpleResponse
    {
        echoMetadata(context)
        try throwRequestedStatus(request.responseStatus)
        if request.responseCompressed?.value == true { context.responseCompression = .gzip }
        return Grpc_Testing_SimpleResponse(payload: try payload(size: request.responseSize))
    }

    public func cacheableUnaryCall(request: Grpc_Testing_SimpleRequest, context: ServerContext) async throws
        -> Grpc_Testing_SimpleResponse
    {
        try await unaryCall(request: request, context: context)
    }

    public func streamingOutputCall(
        request: Grpc_Testing_StreamingOutputCallRequest,
        responses: RPCResponseWriter<Grpc_Testing_StreamingOutputCallResponse>, context: ServerContext
    ) async throws {
        echoMetadata(context)
        for parameters in request.responseParameters {
            try await respond(parameters, to: responses)
        }
        try throwRequestedStatus(request.responseStatus)
    }

    public func streamingInputCall(
        requests: RPCRequestStream<Grpc_Testing_StreamingInputCallRequest>, context: ServerContext
    ) async throws -> Grpc_Testing_StreamingInputCallResponse {
        echoMetadata(context)
        var total = 0
        for try await request in requests { total += request.payload?.body.count ?? 0 }
        return Grpc_Testing_StreamingInputCallResponse(aggregatedPayloadSize: Int32(total))
    }

    public func fullDuplexCall(
        requests: RPCRequestStream<Grpc_Testing_StreamingOutputCallRequest>,
        responses: RPCResponseWriter<Grpc_Testing_StreamingOutputCallResponse>, context: ServerContext
    ) async throws {
        echoMetadata(context)
        for try await request in requests {
            try throwRequestedStatus(request.responseStatus)
            for parameters in request.responseParameters {
                try await respond(parameters, to: responses)
            }
        }
    }

    public func halfDuplexCall(
        requests: RPCRequestStream<Grpc_Testing_StreamingOutputCallRequest>,
        responses: RPCResponseWriter<Grpc_Testing_StreamingOutputCallResponse>, context: ServerContext
    ) async throws {
        echoMetadata(context)
        var all: [Grpc_Testing_StreamingOutputCallRequest] = []
        for try await request in requests { all.append(request) }
        for request in all {
            for parameters in request.responseParameters { try await respond(parameters, to: responses) }
        }
    }

    public func unimplementedCall(request: Grpc_Testing_Empty, context: ServerContext) async throws -> Grpc_Testing_Empty {
        throw RPCError(code: .unimplemented, message: "UnimplementedCall is never implemented")
    }

    // MARK: - Helpers

    /// custom_metadata: echo `x-grpc-test-echo-initial` in the headers and `x-grpc-test-echo-trailing-bin` in the
    /// trailers.
    private func echoMetadata(_ context: ServerContext) {
        if let initial = context.requestMetadata["x-grpc-test-echo-initial"] {
            context.initialMetadata.add("x-grpc-test-echo-initial", initial)
        }
        if let trailing = context.requestMetadata.binary("x-grpc-test-echo-trailing-bin") {
            context.trailingMetadata.add("x-grpc-test-echo-trailing-bin", binary: trailing)
        }
    }

    private func throwRequestedStatus(_ status: Grpc_Testing_EchoStatus?) throws {
        guard let status, status.code != 0 else { return }
        throw RPCError(code: RPCError.Code(rawValue: Int(status.code)) ?? .unknown, message: status.message)
    }

    private func respond(
        _ parameters: Grpc_Testing_ResponseParameters, to responses: RPCResponseWriter<Grpc_Testing_StreamingOutputCallResponse>
    ) async throws {
        if parameters.intervalUs > 0 { try await Task.sleep(for: .microseconds(Int(parameters.intervalUs))) }
        try await responses.write(Grpc_Testing_StreamingOutputCallResponse(payload: try payload(size: parameters.size)))
    }

    private func payload(size: Int32) throws -> Grpc_Testing_Payload {
        guard size >= 0 else { throw RPCError(code: .invalidArgument, message: "negative payload size \(size)") }
        return Grpc_Testing_Payload(type: .compressable, body: [UInt8](repeating: 0, count: Int(size)))
    }
}
