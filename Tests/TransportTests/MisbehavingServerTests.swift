import EventLoop
import ServiceStubs
import Testing
import Transport

/// What our client makes of a server that breaks gRPC (http-grpc-status-mapping.md, grpc-go's behaviour).
@Suite struct MisbehavingServerTests {
    @Test(arguments: [
        ("/status/400", RPCError.Code.internal), ("/status/401", .unauthenticated), ("/status/403", .permissionDenied),
        ("/status/404", .unimplemented), ("/status/429", .unavailable), ("/status/503", .unavailable),
        ("/status/500", .unknown), ("/fault/html", .unknown), ("/fault/no-trailers", .internal), ("/fault/no-status", .internal),
        ("/fault/garbage-status", .unknown), ("/reset/7", .unavailable), ("/reset/8", .cancelled),
        ("/reset/11", .resourceExhausted), ("/reset/1", .internal), ("/reset/0", .internal),
    ])
    func theClientReportsTheStatusTheSpecPrescribes(path: String, expected: RPCError.Code) async throws {
        let server = try await ScriptedServer()
        let channel = try Channel(addresses: [SocketAddress(host: "127.0.0.1", port: server.port)!])
        let parts = path.dropFirst().split(separator: "/")
        let method = MethodDescriptor(service: String(parts[0]), method: String(parts[1]))
        let error = await #expect(throws: RPCError.self) {
            _ = try await channel.unary(method, Grpc_Testing_Empty(), responseType: Grpc_Testing_Empty.self)
        }
        #expect(error?.code == expected, "\(path): \(String(describing: error))")
        await channel.shutdown()
        await server.stop()
    }
}
