import GRPCServices
import ServiceStubs
import TestSupport
import Testing
import Transport

/// Conformance against gRPC stacks we did not write: Python's grpcio both ways, and grpc-go's official interop
/// client and server (built from Debian's packages by ../shared/peers/build-grpc-go.sh).
@Suite(.timeLimit(.minutes(3))) struct PeerInteropTests {
    static let script = Peers.repositoryRoot + "/Tests/TransportTests/Python/grpc_interop.py"
    static let protoDir = Peers.repositoryRoot + "/proto"

    @Test func pythonGrpcioCallsOurServer() async throws {
        try await TestServer.with { test in
            let (status, output) = try await Peers.run(try Peers.python(), [Self.script, Self.protoDir, "client", String(test.port)])
            #expect(status == 0, "Python client: \(output)")
            #expect(output.components(separatedBy: "PASS").count - 1 == 10, "\(output)")
        }
    }

    @Test func ourClientCallsAPythonGrpcioServer() async throws {
        let python = try Peers.Background(try Peers.python(), [Self.script, Self.protoDir, "server"])
        defer { python.stop() }
        let port = Int(try await python.line(startingWith: "PORT ").dropFirst(5))!
        let channel = try Channel(host: "127.0.0.1", port: port)
        let client = InteropClient(transport: channel)
        for testCase in InteropTestCase.allCases {
            do {
                try await client.run(testCase)
            } catch {
                Issue.record("\(testCase.rawValue) against Python: \(error)")
            }
        }
        await channel.shutdown()
    }

    @Test func grpcGoInteropClientPassesAgainstOurServer() async throws {
        let client = try Peers.grpcGo("interop_client")
        try await TestServer.with { test in
            for testCase in InteropTestCase.allCases {
                let (status, output) = try await Peers.run(
                    client,
                    ["-server_host", "127.0.0.1", "-server_port", String(test.port), "-use_tls=false", "-test_case", testCase.rawValue],
                    timeout: .seconds(30))
                #expect(status == 0, "grpc-go interop_client \(testCase.rawValue): \(output)")
            }
        }
    }

    @Test func ourInteropClientPassesAgainstGrpcGosServer() async throws {
        let port = try Peers.freePort()
        let server = try Peers.Background(try Peers.grpcGo("interop_server"), ["-host", "127.0.0.1", "-port", String(port)])
        defer { server.stop() }
        let channel = try Channel(host: "127.0.0.1", port: port)
        let client = InteropClient(transport: channel)
        // grpc-go's server needs a moment to listen; the first case waits for it.
        _ = try await Grpc_Testing_TestService.Client(channel).emptyCall(
            .init(), options: CallOptions(timeout: .seconds(20), waitForReady: true))
        for testCase in InteropTestCase.allCases {
            do {
                try await client.run(testCase)
            } catch {
                Issue.record("\(testCase.rawValue) against grpc-go: \(error)")
            }
        }
        await channel.shutdown()
    }
}
