import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf

/// grpc.testing.BenchmarkService as grpc-go's benchmark server does it: UnaryCall answers with a payload of
/// response_size zero bytes; StreamingCall answers each request as it arrives.
struct BenchmarkService: Grpc_Testing_BenchmarkService.SimpleServiceProtocol {
    func unaryCall(request: Grpc_Testing_SimpleRequest, context: ServerContext) async throws -> Grpc_Testing_SimpleResponse {
        Self.response(to: request)
    }

    func streamingCall(
        request: RPCAsyncSequence<Grpc_Testing_SimpleRequest, any Error>,
        response: RPCWriter<Grpc_Testing_SimpleResponse>, context: ServerContext
    ) async throws {
        for try await message in request { try await response.write(Self.response(to: message)) }
    }

    func unconstrainedStreamingCall(
        request: RPCAsyncSequence<Grpc_Testing_SimpleRequest, any Error>,
        response: RPCWriter<Grpc_Testing_SimpleResponse>, context: ServerContext
    ) async throws {
        throw RPCError(code: .unimplemented, message: "UnconstrainedStreamingCall is not served by this peer")
    }

    static func response(to request: Grpc_Testing_SimpleRequest) -> Grpc_Testing_SimpleResponse {
        var response = Grpc_Testing_SimpleResponse()
        response.payload.body = Data(count: Int(request.responseSize))
        return response
    }
}

// grpc-swift-peer PORT: serves on 127.0.0.1:PORT until killed.
let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 50051 : 50051
let server = GRPCServer(
    transport: .http2NIOPosix(
        address: .ipv4(host: "127.0.0.1", port: port), transportSecurity: .plaintext,
        config: .defaults { $0.rpc.maxRequestPayloadSize = 8 << 20 }),
    services: [BenchmarkService()])
try await server.serve()
