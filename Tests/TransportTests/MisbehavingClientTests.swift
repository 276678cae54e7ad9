import HTTP2
import HTTP2TestSupport
import ServiceStubs
import Testing
import Transport

/// Protocol abuse from raw clients (as grpc-go's servertester): the server survives, answers as the spec says,
/// and keeps serving a well-behaved client at the same time.
@Suite struct MisbehavingClientTests {
    /// The well-behaved client: one unary call must still succeed.
    func stillServes(_ test: TestServer) async throws {
        let response = try await test.client.unaryCall(Grpc_Testing_SimpleRequest(responseSize: 10))
        #expect(response.payload?.body.count == 10)
    }

    @Test func aBadPrefaceClosesThatConnectionOnly() async throws {
        try await TestServer.with { test in
            let raw = try await RawClient(port: test.port)
            await raw.write(Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
            #expect(await raw.waitForClose())
            try await stillServes(test)
        }
    }

    @Test func garbageAfterThePrefaceEndsWithGoAway() async throws {
        try await TestServer.with { test in
            let raw = try await RawClient(port: test.port)
            try await raw.startSession()
            var generator = SystemRandomNumberGenerator()
            // A frame header announcing a huge frame of an unknown type on stream 1, then noise.
            await raw.write([0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01] + (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
            #expect(await raw.waitForClose())
            #expect(raw.recorder.goAways.first?.1 == .frameSizeError || raw.recorder.goAways.first?.1 == .protocolError)
            try await stillServes(test)
        }
    }

    @Test func aWrongContentTypeIsHTTP415() async throws {
        try await TestServer.with { test in
            let raw = try await RawClient(port: test.port)
            try await raw.startSession()
            let stream = try raw.session!.submitRequest(
                headers: RawClient.grpcHeaders(path: "/grpc.testing.TestService/EmptyCall", contentType: "text/plain"),
                endStream: true)
            await raw.pump { raw.recorder.headers.contains { $0.streamID == stream } }
            let response = raw.recorder.headers.first { $0.streamID == stream }
            #expect(response?.headers.first { $0.name == ":status" }?.value == "415")
            try await stillServes(test)
        }
    }

    /// Sends `message` (already framed) on a new stream to `path` and returns the status headers of the answer.
    func answer(
        _ test: TestServer, path: String, extra: [HTTP2HeaderField] = [], message: [UInt8]
    ) async throws -> [HTTP2HeaderField] {
        let raw = try await RawClient(port: test.port)
        try await raw.startSession()
        let stream = try raw.session!.submitRequest(headers: RawClient.grpcHeaders(path: path, extra: extra), endStream: false)
        raw.session!.enqueue(streamID: stream, message)
        raw.session!.finish(streamID: stream, trailers: nil)
        let answered = { raw.recorder.headers.contains { $0.streamID == stream && $0.headers.contains { $0.name == "grpc-status" } } }
        await raw.pump(until: answered)
        return raw.recorder.headers.last { $0.streamID == stream }?.headers ?? []
    }

    @Test func anUndecodableRequestIsInternalWithAMessage() async throws {
        try await TestServer.with { test in
            // Field 1 with wire type 7, which does not exist.
            let status = try await answer(test, path: "/grpc.testing.TestService/UnaryCall", message: RawClient.frame([0x0f, 0x01]))
            #expect(status.first { $0.name == "grpc-status" }?.value == "13")
            #expect(status.first { $0.name == "grpc-message" }?.value.contains("could not decode") == true)
            try await stillServes(test)
        }
    }

    @Test func anUnsupportedEncodingIsUnimplemented() async throws {
        try await TestServer.with { test in
            var compressed = RawClient.frame([1, 2, 3])
            compressed[0] = 1  // the compressed flag
            let status = try await answer(
                test, path: "/grpc.testing.TestService/UnaryCall", extra: [("grpc-encoding", "snappy")], message: compressed)
            #expect(status.first { $0.name == "grpc-status" }?.value == "12")
            #expect(status.first { $0.name == "grpc-accept-encoding" }?.value.contains("gzip") == true)
            try await stillServes(test)
        }
    }

    @Test func anOversizedHeaderListIsResourceExhausted() async throws {
        try await TestServer.with { test in
            let raw = try await RawClient(port: test.port)
            try await raw.startSession()
            let huge = [("x-huge", String(repeating: "a", count: 15_000)),
                        ("x-huge-2", String(repeating: "b", count: 15_000))]
            let stream = try raw.session!.submitRequest(
                headers: RawClient.grpcHeaders(path: "/grpc.testing.TestService/EmptyCall", extra: huge), endStream: true)
            await raw.pump { raw.recorder.headers.contains { $0.streamID == stream } }
            let response = raw.recorder.headers.first { $0.streamID == stream }
            #expect(response?.headers.first { $0.name == "grpc-status" }?.value == "8")
            try await stillServes(test)
        }
    }

    /// CVE-2023-44487: open a stream and reset it at once, `count` times, in one write. Each HEADERS is serialised
    /// before its RST_STREAM is queued (nghttp2 would otherwise drop a request it has not sent yet).
    func rapidReset(_ raw: RawClient, count: Int, path: String, extra: [(String, String)] = []) async throws {
        var wire: [UInt8] = []
        for _ in 0..<count {
            guard let stream = try? raw.session!.submitRequest(
                headers: RawClient.grpcHeaders(path: path, extra: extra), endStream: false)
            else { break }
            try raw.session!.produceOutput(into: &wire, limit: 1 << 26)
            raw.session!.reset(streamID: stream, errorCode: .cancel)
            try raw.session!.produceOutput(into: &wire, limit: 1 << 26)
        }
        await raw.write(wire)
    }

    @Test func aRapidResetFloodIsStopped() async throws {
        // The backstop: past `resetRateBurst` resets in a burst (then `resetRatePerSecond`), a GOAWAY ends the
        // connection. Smaller than the defaults (10,000, then 1,000 a second) so that the flood is past the bound
        // however slowly a busy machine reads it: the bucket refills while the server works through the frames.
        try await TestServer.with(configure: { $0.http2.resetRateBurst = 1_000; $0.http2.resetRatePerSecond = 50 }) { test in
            let raw = try await RawClient(port: test.port)
            try await raw.startSession()
            try await rapidReset(raw, count: 3_000, path: "/grpc.testing.TestService/EmptyCall")
            #expect(await raw.waitForClose(within: .seconds(20)))
            #expect(!raw.recorder.goAways.isEmpty)
            try await stillServes(test)
        }
    }

    @Test func resetStreamsCannotStartMoreHandlersThanStreamsMayBeOpen() async throws {
        try await TestServer.with(configure: { $0.http2.maxConcurrentStreams = 16 }) { test in
            let raw = try await RawClient(port: test.port)
            try await raw.startSession()
            // Each handler outlives its reset stream by 200 ms; without a bound, all 300 would run at once. (Far
            // more in one write, and the refusals alone would pass nghttp2's bound on queued RST_STREAMs: the
            // connection would end, as in the flood test above.)
            try await rapidReset(
                raw, count: 300, path: "/grpc.testing.TestService/FullDuplexCall", extra: [("x-control", "linger")])
            #expect(await test.control.waitFor { $0.lingered >= 16 && $0.lingering == 0 })
            #expect(test.control.observed.withLock { $0.mostLingering } == 16)
            // Streams past the bound were refused (nothing processed: the client may send them again), and the
            // connection, held back while the slots were full, still serves.
            let stream = try raw.session!.submitRequest(
                headers: RawClient.grpcHeaders(path: "/grpc.testing.TestService/EmptyCall"), endStream: false)
            raw.session!.enqueue(streamID: stream, RawClient.frame([]))
            raw.session!.finish(streamID: stream, trailers: nil)
            #expect(await raw.pump(until: { raw.recorder.closed.contains { $0.0 == stream } }))
            let trailers = raw.recorder.headers.last { $0.streamID == stream }?.headers ?? []
            #expect(trailers.contains { $0.name == "grpc-status" && $0.value == "0" })
            #expect(raw.recorder.goAways.isEmpty)
            try await stillServes(test)
        }
    }

    @Test func aPingFloodEndsWithTooManyPings() async throws {
        try await TestServer.with { test in
            let raw = try await RawClient(port: test.port)
            try await raw.startSession()
            for opaque in 0..<10 {
                raw.session!.ping(opaque: UInt64(opaque))
                await raw.pump(for: .milliseconds(5))
            }
            #expect(await raw.waitForClose())
            let goAway = raw.recorder.goAways.first
            #expect(goAway?.1 == .enhanceYourCalm)
            #expect(goAway.map { String(decoding: $0.2, as: UTF8.self) } == "too_many_pings")
            try await stillServes(test)
        }
    }

    /// grpc-go's client pings (BDP estimation) each time data arrives while it reads a response; a server must not
    /// count those as strikes when the data comes from a backlog draining under flow control (nothing newly
    /// queued). The gateway threw grpc-go clients off this way under load.
    @Test func pingsWhileAResponseDrainsAreNotStrikes() async throws {
        try await TestServer.with { test in
            let raw = try await RawClient(port: test.port)
            var settings = HTTP2Settings()
            settings.initialWindowSize = 16_384
            try await raw.startSession(settings: settings)
            // One 1 MiB response, queued at once; the client lets it through 16 KiB at a time, pinging each time.
            let request = Grpc_Testing_StreamingOutputCallRequest(responseParameters: [.init(size: 1 << 20)])
            let stream = try raw.session!.submitRequest(
                headers: RawClient.grpcHeaders(path: "/grpc.testing.TestService/StreamingOutputCall"), endStream: false)
            raw.session!.enqueue(streamID: stream, RawClient.frame(request.serializedBytes()))
            raw.session!.finish(streamID: stream, trailers: nil)
            await raw.pump(for: .milliseconds(100))
            var received = 0
            for opaque in 0..<12 {
                let bytes = raw.recorder.data[stream]?.count ?? 0
                raw.session!.consume(streamID: stream, bytes: bytes - received)
                received = bytes
                raw.session!.ping(opaque: UInt64(opaque))
                await raw.pump(for: .milliseconds(20))
            }
            #expect(received >= 4 * 16_384, "the response flowed")
            #expect(raw.recorder.goAways.isEmpty)
            #expect(!raw.peerClosed)
            // Pings with nothing written in between are still strikes (the flood test above, with a call open).
            for opaque in 100..<110 {
                raw.session!.ping(opaque: UInt64(opaque))
                await raw.pump(for: .milliseconds(5))
            }
            #expect(await raw.waitForClose())
            #expect(raw.recorder.goAways.first.map { String(decoding: $0.2, as: UTF8.self) } == "too_many_pings")
        }
    }

    @Test func aClientThatNeverReadsCannotGrowTheServer() async throws {
        try await TestServer.with { test in
            let raw = try await RawClient(port: test.port)
            try await raw.startSession()
            // Ask for endless 16 KiB responses on many streams, then never read the socket again.
            for _ in 0..<20 {
                let stream = try raw.session!.submitRequest(
                    headers: RawClient.grpcHeaders(
                        path: "/grpc.testing.TestService/StreamingOutputCall", extra: [("x-control", "flood")]),
                    endStream: false)
                raw.session!.enqueue(streamID: stream, RawClient.frame([]))
                raw.session!.finish(streamID: stream, trailers: nil)
            }
            var output: [UInt8] = []
            try raw.session!.produceOutput(into: &output, limit: 1 << 20)
            await raw.write(output)
            // Writes stop: the client's windows (64 KiB a stream by default) and the kernel's socket buffers fill,
            // then the server's bounded output buffer, then every handler waits.
            let written = { test.control.observed.withLock { $0.written } }
            let stalled = try #require(await settled(written), "still changing after 30 s, at \(written())")
            #expect(stalled > 0 && stalled < 2000)
            try await stillServes(test)
        }
    }

    @Test func aStalledHalfFrameDoesNotBlockOthers() async throws {
        try await TestServer.with { test in
            let raw = try await RawClient(port: test.port)
            try await raw.startSession()
            await raw.write([0x00, 0x40, 0x00, 0x00])  // Half a frame header, then silence.
            try await stillServes(test)
            #expect(!raw.peerClosed)
        }
    }
}
