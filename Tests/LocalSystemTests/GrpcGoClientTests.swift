import ClusterTestSupport
import Foundation
import JSON
import Testing
import TestSupport

/// A grpc-go 1.33 client with grpc-go's defaults (`Tests/Peers/go-client`, built by `tools/build-go-client`):
/// BDP estimation pings while responses drain under flow control. Our servers must never take those pings for
/// abuse: the client fails on any GOAWAY ENHANCE_YOUR_CALM, any RPC error and any second connection. 30 s of
/// streaming against each server; abusive pings are still refused (`MisbehavingClientTests`).
@Suite(.serialized, .timeLimit(.minutes(4))) struct GrpcGoClientTests {
    static let seconds = "30"

    @Test func streamingFromTheInteropServerUnderFlowControlKeepsTheConnection() async throws {
        let port = try Peers.freePort()
        let server = try Peers.Background(try Peers.tradewire(), ["interop", "server", "--port", String(port)])
        defer { server.stop() }
        _ = try await server.line(startingWith: "interop server listening")
        let (status, output) = try await Peers.run(
            try Peers.grpcGo("go-client"), ["-mode", "interop", "-addr", "127.0.0.1:\(port)", "-seconds", Self.seconds],
            timeout: .seconds(120))
        #expect(status == 0 && output.contains("PASS"), "\(output)")
    }

    @Test func orderEntrySessionsThroughTheGatewayUnderFlowControlKeepTheirConnections() async throws {
        let local = try await LocalSystemTests.LocalRun.fresh()
        defer { local.discard() }
        let client = try local.clientFile()
        let keys = ["demo", "demo-2"].map { client["api_keys"]![$0]!.stringValue! }.joined(separator: ",")
        let (status, output) = try await Peers.run(
            try Peers.grpcGo("go-client"),
            ["-mode", "gateway", "-addr", client["gateway"]!.stringValue!, "-keys", keys, "-seconds", Self.seconds],
            timeout: .seconds(120))
        #expect(status == 0 && output.contains("PASS"), "\(output)")
    }
}
