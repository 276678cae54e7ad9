import Foundation
import HTTP1
import Protos
import Synchronization
import Testing
import TestSupport
import Transport

/// HTTP/1.1 on the gRPC port over real sockets: keep-alive and pipelining, 100-continue, streamed (chunked)
/// answers with backpressure, a handler stopped when its client leaves, idle and graceful closes — beside gRPC
/// calls on the same port.
@Suite(.timeLimit(.minutes(2)))
struct HTTP1ConnectionTests {
    /// `/echo` answers the body; `/stream?n=K` K chunks; `/forever` chunks of 64 KiB until the client is gone;
    /// `/silent` returns without answering; `/slow` answers after 300 ms.
    final class Service: HTTP1Service {
        let written = Atomic<Int>(0)
        let stopped = Atomic<Bool>(false)
        /// `/slow` answers once `slowReleased` is set (at most 10 s after `slowStarted`).
        let slowStarted = Atomic<Bool>(false)
        let slowReleased = Atomic<Bool>(false)

        func serve(_ request: HTTP1Request, _ responder: HTTP1Responder) async {
            switch request.path {
            case "/echo":
                responder.respond(HTTP1Response(status: 200, contentType: "application/octet-stream", body: request.body))
            case "/stream":
                let count = Int(request.query.dropFirst(2)) ?? 1
                responder.startStream(HTTP1ResponseHead(status: 200, headers: [("content-type", "application/x-ndjson")]))
                for index in 0..<count { _ = await responder.write(Array("{\"line\": \(index)}\n".utf8)) }
                responder.finish()
            case "/forever":
                responder.startStream(HTTP1ResponseHead(status: 200))
                let chunk = [UInt8](repeating: 120, count: 65_536)
                while await responder.write(chunk) { written.add(chunk.count, ordering: .relaxed) }
                stopped.store(true, ordering: .relaxed)
            case "/silent":
                return
            case "/ws":
                guard WebSocket.handshakeProblem(request) == nil, let socket = await responder.upgradeToWebSocket(request, maxMessageBytes: 1000) else {
                    return responder.respond(HTTP1Response(status: 400, text: "not a WebSocket handshake\n"))
                }
                while let message = await socket.receive() {
                    guard case .text(let text) = message, text != "bye" else { break }
                    guard await socket.send(text: "echo: " + text) else { break }
                }
            case "/ws-senders":
                guard let socket = await responder.upgradeToWebSocket(request, maxMessageBytes: 1000) else { return }
                // Four senders at once (a socket's subscriptions), 4 MiB in all: far past the connection's output
                // limit, so that several of them wait for it to drain at the same time.
                let message = String(repeating: "x", count: 16_384)
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 {
                        group.addTask {
                            for _ in 0..<64 { guard await socket.send(text: message) else { return } }
                        }
                    }
                }
                _ = await socket.send(text: "done")
            case "/slow":
                slowStarted.store(true, ordering: .relaxed)
                for _ in 0..<1000 where !slowReleased.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(10)) }
                // One more turn of the loop: jobs queued on it before the release (a drain) run first.
                try? await Task.sleep(for: .milliseconds(10))
                responder.respond(HTTP1Response(status: 200, text: "slow\n"))
            default:
                responder.respond(HTTP1Response(status: 404, text: "no\n"))
            }
        }
    }

    static func withServer(idle: Duration = .seconds(60), _ body: (TestServer, Service) async throws -> Void) async throws {
        let service = Service()
        try await TestServer.with(configure: {
            $0.http1 = service
            $0.http1IdleTimeout = idle
        }) { test in
            try await body(test, service)
        }
    }

    @Test func pipelinedRequestsOnOneConnectionAreAnsweredInOrder() async throws {
        try await Self.withServer { test, _ in
            let client = try PlainSocket(port: test.port)
            client.send("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                + "GET /silent HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /stream?n=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let text = client.readUntilClosed()
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            #expect(statuses == ["404", "200", "500", "200"], "\(text)")
            #expect(text.contains("content-length: 5\r\n\r\nhello"))
            #expect(text.contains("transfer-encoding: chunked\r\nconnection: close\r\n\r\n"))
            #expect(text.hasSuffix("c\r\n{\"line\": 2}\n\r\n0\r\n\r\n"), "\(text)")
            _ = try await test.client.emptyCall(Grpc_Testing_Empty())
        }
    }

    @Test func aBodyAfterExpectContinueIsReadOnceTheServerSaidSo() async throws {
        try await Self.withServer { test, _ in
            let client = try PlainSocket(port: test.port)
            client.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\n")
            #expect(client.read(until: "\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n")
            client.send("abc")
            let text = client.readUntilClosed()
            #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n") && text.hasSuffix("abc"), "\(text)")
        }
    }

    @Test func aStreamWaitsForItsReaderAndStopsWhenTheReaderLeaves() async throws {
        try await Self.withServer { test, service in
            let client = try PlainSocket(port: test.port)
            client.send("GET /forever HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(client.read(until: "\r\n\r\n").hasPrefix("HTTP/1.1 200 OK\r\n"))
            // Not reading: the handler is held at the connection's output limit plus what the kernel buffers.
            let held = try #require(await settled { service.written.load(ordering: .relaxed) }, "the writer never stopped")
            #expect(held < 32 << 20, "\(held) bytes written to a client that reads nothing")
            client.close()
            var stopped = false
            for _ in 0..<500 where !stopped {
                try await Task.sleep(for: .milliseconds(10))
                stopped = service.stopped.load(ordering: .relaxed)
            }
            #expect(stopped, "the handler goes on writing to a client that left")
        }
    }

    @Test func anIdleConnectionIsClosedAndADrainingOneFinishesItsAnswer() async throws {
        try await Self.withServer(idle: .milliseconds(200)) { test, service in
            let idle = try PlainSocket(port: test.port)
            idle.send("GET /stream?n=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            let text = idle.readUntilClosed()
            #expect(text.hasPrefix("HTTP/1.1 200 OK") && text.hasSuffix("0\r\n\r\n"), "answered, then closed when idle: \(text)")

            let busy = try PlainSocket(port: test.port)
            busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            // The answer is written after the drain began: the drain is queued on the connection's loop before the
            // release, and the handler answers a turn after it sees the release. (A handler that merely slept could
            // answer before a loaded machine got to the shutdown.)
            for _ in 0..<1000 where !service.slowStarted.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(10)) }
            test.server.beginGracefulShutdown(grace: .seconds(5))
            service.slowReleased.store(true, ordering: .relaxed)
            let answer = busy.readUntilClosed()
            #expect(answer.hasPrefix("HTTP/1.1 200 OK\r\n") && answer.contains("connection: close\r\n") && answer.hasSuffix("slow\n"), "\(answer)")
        }
    }

    @Test func aMalformedRequestAfterAGoodOneIsRefusedAndTheConnectionCloses() async throws {
        try await Self.withServer { test, _ in
            let client = try PlainSocket(port: test.port)
            client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok"
                + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n")
            let text = client.readUntilClosed()
            #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(text)")
            #expect(text.contains("HTTP/1.1 400 Bad Request\r\n") && text.contains("connection: close"), "\(text)")
        }
    }

    @Test func aWebSocketEchoesPongsClosesAndRefusesWhatIsTooBig() async throws {
        try await Self.withServer { test, _ in
            let client = try PlainSocket(port: test.port)
            client.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            let head = client.read(until: "\r\n\r\n")
            #expect(head.hasPrefix("HTTP/1.1 101 ") && head.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "\(head)")
            client.send(bytes: Self.clientFrame(1, Array("hello".utf8)) + Self.clientFrame(9, [1, 2]))
            // The pong goes out from the loop at once, the echo when the handler has run: either order.
            let frames = try #require(client.bytes(17))
            let echo: [UInt8] = [0x81, 11] + Array("echo: hello".utf8)
            let pong: [UInt8] = [0x8A, 2, 1, 2]
            #expect(frames == echo + pong || frames == pong + echo, "a ping is answered with its payload: \(frames)")
            client.send(bytes: Self.clientFrame(1, [UInt8](repeating: 65, count: 1001)))
            let closing = client.bytesUntilClosed()
            #expect(Array(closing.prefix(4)) == [0x88, UInt8(closing.count - 2), 0x03, 0xF1], "1009, then the connection closes: \(closing)")

            let polite = try PlainSocket(port: test.port)
            polite.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            _ = polite.read(until: "\r\n\r\n")
            polite.send(bytes: Self.clientFrame(1, Array("bye".utf8)))
            #expect(polite.bytesUntilClosed() == [0x88, 2, 0x03, 0xE8], "the handler returned: a normal close")
            _ = try await test.client.emptyCall(Grpc_Testing_Empty())
        }
    }

    @Test func everySenderWaitingForAWebSocketsOutputGoesOnOnceItDrains() async throws {
        try await Self.withServer { test, _ in
            let client = try PlainSocket(port: test.port)
            client.send("GET /ws-senders HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            #expect(client.read(until: "\r\n\r\n").hasPrefix("HTTP/1.1 101 "))
            // Not reading for a while: the senders fill the output and wait.
            try await Task.sleep(for: .milliseconds(300))
            var messages = 0
            var last: [UInt8] = []
            while last != Array("done".utf8), let head = client.bytes(2), head[0] == 0x81 {
                var length = Int(head[1] & 0x7f)
                if length == 126, let extended = client.bytes(2) { length = Int(extended[0]) << 8 | Int(extended[1]) }
                guard let payload = client.bytes(length) else { break }
                last = payload
                messages += 1
            }
            #expect(messages == 4 * 64 + 1 && last == Array("done".utf8), "every sender finished: \(messages) messages")
        }
    }

    static func clientFrame(_ opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let mask: [UInt8] = [9, 8, 7, 6]
        var bytes: [UInt8] = [0x80 | opcode]
        bytes += payload.count < 126 ? [0x80 | UInt8(payload.count)] : [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        return bytes + mask + payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
    }
}
