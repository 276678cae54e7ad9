public import ServiceStubs

/// `grpc.testing.BenchmarkService`, as grpc-go's benchmark server implements it: the load grpc-go's benchmark
/// client puts on a server, for comparing servers under the same client.
public struct BenchmarkService: Grpc_Testing_BenchmarkService.ServiceProtocol {
    public init() {}

    public func unaryCall(request: Grpc_Testing_SimpleRequest, context: ServerContext) async throws
        -> Grpc_Testing_SimpleResponse
    {
        Self.response(request)
    }

    public func streamingCall(
        requests: RPCRequestStream<Grpc_Testing_SimpleRequest>, responses: RPCResponseWriter<Grpc_Testing_SimpleResponse>,
        context: ServerContext
    ) async throws {
        for try await request in requests {
            try await responses.write(Self.response(request))
        }
    }

    public func unconstrainedStreamingCall(
        requests: RPCRequestStream<Grpc_Testing_SimpleRequest>, responses: RPCResponseWriter<Grpc_Testing_SimpleResponse>,
        context: ServerContext
    ) async throws {
        var iterator = requests.makeAsyncIterator()
        guard let first = try await iterator.next() else { return }
        let response = Self.response(first)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The stream's iterator keeps no state of its own: a new one continues after the first request.
            group.addTask { for try await _ in requests {} }
            while !Task.isCancelled { try await responses.write(response) }
            group.cancelAll()
        }
    }

    static func response(_ request: Grpc_Testing_SimpleRequest) -> Grpc_Testing_SimpleResponse {
        Grpc_Testing_SimpleResponse(payload: .init(body: [UInt8](repeating: 0, count: Int(max(0, request.responseSize)))))
    }
}
