import Foundation
import Protos
import RPC
import ServiceStubs
import Synchronization
import Telemetry
import Testing
import TestSupport
import Transport

/// Plain HTTP/1.1 on the gRPC port (a connection without HTTP/2's preface), and the call and connection metrics
/// a server reports, through `Telemetry`.
@Suite struct PlainHTTPTests {
    @Test func metricsHealthAndReadinessAnswerBesideGRPCCalls() async throws {
        let telemetry = Telemetry(service: "test")
        let ready = ReadySwitch()
        telemetry.addReadinessCheck("switch") { ready.isOn ? nil : "switched off" }
        try await TestServer.with(configure: { telemetry.instrument(&$0) }) { test in
            for _ in 0..<3 { _ = try await test.client.emptyCall(Grpc_Testing_Empty()) }
            let failing = Grpc_Testing_SimpleRequest(responseStatus: Grpc_Testing_EchoStatus(code: 3, message: "refused on purpose"))
            await #expect(throws: RPCError.self) { _ = try await test.client.unaryCall(failing) }

            let address = "127.0.0.1:\(test.port)"
            let metrics = try #require(HTTPProbe.get(address, path: "/metrics"))
            #expect(metrics.status == 200)
            let lines = metrics.body.split(separator: "\n").map(String.init)
            #expect(lines.contains(#"grpc_server_handled_total{grpc_service="grpc.testing.TestService",grpc_method="EmptyCall",grpc_code="OK"} 3"#))
            #expect(lines.contains(#"grpc_server_handled_total{grpc_service="grpc.testing.TestService",grpc_method="UnaryCall",grpc_code="INVALID_ARGUMENT"} 1"#))
            #expect(lines.contains(#"grpc_server_started_total{grpc_service="grpc.testing.TestService",grpc_method="EmptyCall"} 3"#))
            #expect(lines.contains(#"grpc_server_handling_seconds_count{grpc_service="grpc.testing.TestService",grpc_method="EmptyCall"} 3"#))
            #expect(lines.contains(#"grpc_server_in_flight{grpc_service="grpc.testing.TestService",grpc_method="EmptyCall"} 0.0"#))
            // The channel's connection is open; the scrape's own connection counts while it is served.
            #expect(lines.contains("grpc_server_connections 2.0"))

            #expect(HTTPProbe.get(address, path: "/healthz")?.status == 200)
            #expect(HTTPProbe.get(address, path: "/readyz")?.status == 200)
            ready.isOn = false
            let notReady = HTTPProbe.get(address, path: "/readyz")
            #expect(notReady?.status == 503 && notReady!.body.contains("switch: switched off"))
            ready.isOn = true
            telemetry.beginStopping()
            #expect(HTTPProbe.get(address, path: "/readyz")?.body.contains("shutting down") == true)
            #expect(HTTPProbe.get(address, path: "/elsewhere")?.status == 404)

            // The gRPC connection is unaffected by all of it.
            _ = try await test.client.emptyCall(Grpc_Testing_Empty())
        }
    }

    @Test func requestsInPiecesGarbageAndOversizedHeadsGetHTTPAnswers() async throws {
        let telemetry = Telemetry(service: "test")
        try await TestServer.with(configure: { telemetry.instrument(&$0) }) { test in
            // Split after one byte: the server must wait to tell it from the HTTP/2 preface.
            let pieces = try Self.exchange(port: test.port, ["G", "ET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n", "\r\n"])
            #expect(pieces.hasPrefix("HTTP/1.1 200 OK\r\n") && pieces.hasSuffix("ok\n"))
            let garbage = try Self.exchange(port: test.port, ["hello there\r\n\r\n"])
            #expect(garbage.hasPrefix("HTTP/1.1 400 "))
            let huge = try Self.exchange(port: test.port, ["GET / HTTP/1.1\r\nx: " + String(repeating: "a", count: 20_000)])
            #expect(huge.hasPrefix("HTTP/1.1 431 "))
            let head = try Self.exchange(port: test.port, ["HEAD /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"])
            #expect(head.hasPrefix("HTTP/1.1 200 ") && head.hasSuffix("\r\n\r\n"))
            let post = try Self.exchange(port: test.port, ["POST /metrics HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"])
            #expect(post.hasPrefix("HTTP/1.1 405 "))
            _ = try await test.client.emptyCall(Grpc_Testing_Empty())
        }
    }

    @Test func withoutAPlainHandlerANonHTTP2ClientIsRefusedAsBefore() async throws {
        try await TestServer.with { test in
            let answer = try Self.exchange(port: test.port, ["GET /metrics HTTP/1.1\r\n\r\n"])
            #expect(!answer.hasPrefix("HTTP/1.1"))  // nghttp2's SETTINGS and GOAWAY, not an HTTP/1.1 answer
            _ = try await test.client.emptyCall(Grpc_Testing_Empty())
        }
    }

    /// Sends `pieces` 20 ms apart on a new connection and returns everything the server wrote until it closed.
    static func exchange(port: Int, _ pieces: [String]) throws -> String {
        let socket = try PlainSocket(port: port)
        for (index, piece) in pieces.enumerated() {
            if index > 0 { usleep(20_000) }
            socket.send(piece)
        }
        return socket.readUntilClosed()
    }
}

final class ReadySwitch: Sendable {
    private let state = Atomic<Bool>(true)
    var isOn: Bool {
        get { state.load(ordering: .relaxed) }
        set { state.store(newValue, ordering: .relaxed) }
    }
}
