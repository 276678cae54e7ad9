import HTTP2TestSupport
import Testing

@testable import HTTP2

/// A client and a server session wired back to back in memory.
final class Pair {
    let clientRecorder = Recorder()
    let serverRecorder = Recorder()
    let client: HTTP2Session
    let server: HTTP2Session

    init(server settings: HTTP2Settings = HTTP2Settings()) throws {
        client = try HTTP2Session(role: .client, delegate: clientRecorder)
        server = try HTTP2Session(role: .server, settings: settings, delegate: serverRecorder)
    }

    /// Moves bytes both ways until neither side has anything to send.
    func pump() throws {
        for _ in 0..<100 {
            var toServer: [UInt8] = []
            var toClient: [UInt8] = []
            try client.produceOutput(into: &toServer, limit: 1 << 20)
            try server.produceOutput(into: &toClient, limit: 1 << 20)
            if toServer.isEmpty && toClient.isEmpty { return }
            try toServer.withUnsafeBytes { try server.receive($0) }
            try toClient.withUnsafeBytes { try client.receive($0) }
        }
    }
}

let requestHeaders = [
    (":method", "POST"), (":scheme", "http"), (":path", "/svc/Method"),
    (":authority", "localhost"), ("content-type", "application/grpc"),
    ("te", "trailers"),
]

@Suite struct HTTP2SessionTests {
    @Test func requestResponseAndTrailersFlowBetweenTwoSessions() throws {
        let pair = try Pair()
        let stream = try pair.client.submitRequest(headers: requestHeaders, endStream: false)
        pair.client.enqueue(streamID: stream, [1, 2, 3])
        pair.client.finish(streamID: stream, trailers: nil)
        try pair.pump()
        #expect(pair.serverRecorder.headers.first?.headers.first { $0.name == ":path" }?.value == "/svc/Method")
        #expect(pair.serverRecorder.data[stream] == [1, 2, 3])
        #expect(pair.serverRecorder.ended == [stream])

        try pair.server.submitResponse(streamID: stream, headers: [(":status", "200")], endStream: false)
        pair.server.enqueue(streamID: stream, [9, 9])
        pair.server.finish(streamID: stream, trailers: [("grpc-status", "0")])
        try pair.pump()
        #expect(pair.clientRecorder.headers.count == 2)  // response headers, then trailers
        #expect(pair.clientRecorder.headers[1].headers.map { "\($0.name): \($0.value)" } == ["grpc-status: 0"])
        #expect(pair.clientRecorder.headers[1].endStream)
        #expect(pair.clientRecorder.data[stream] == [9, 9])
        #expect(pair.clientRecorder.closed.first?.1 == .noError)
    }

    @Test func windowsReopenOnlyAsDataIsConsumed() throws {
        var settings = HTTP2Settings()
        settings.initialWindowSize = 16_384
        let pair = try Pair(server: settings)
        try pair.pump()  // SETTINGS first: before them a client may use the default 65,535-byte window
        let stream = try pair.client.submitRequest(headers: requestHeaders, endStream: false)
        pair.client.enqueue(streamID: stream, [UInt8](repeating: 7, count: 100_000))
        try pair.pump()
        #expect(pair.serverRecorder.data[stream]?.count == 16_384)  // the stream window, no more
        pair.server.consume(streamID: stream, bytes: 16_384)
        try pair.pump()
        #expect(pair.serverRecorder.data[stream]?.count == 32_768)
    }

    /// Every call that can queue a frame tells the delegate, which is how a connection knows to send: a consume
    /// whose WINDOW_UPDATE was never flushed hung a client that caught up with its responses.
    @Test func everyCallThatQueuesAFrameTellsTheDelegate() throws {
        let pair = try Pair()
        try pair.pump()
        let calls: [(String, () throws -> Void)] = [
            ("submitRequest", { _ = try pair.client.submitRequest(headers: requestHeaders, endStream: false) }),
            ("enqueue", { pair.client.enqueue(streamID: 1, [1, 2, 3]) }),
            ("finish", { pair.client.finish(streamID: 1, trailers: nil) }),
            ("submitResponse", { try pair.pump(); try pair.server.submitResponse(streamID: 1, headers: [(":status", "200")], endStream: false) }),
            ("consume", { pair.server.consume(streamID: 1, bytes: 3) }),
            ("reset", { pair.server.reset(streamID: 1, errorCode: .cancel) }),
            ("ping", { pair.client.ping(opaque: 7) }),
            ("submitShutdownNotice", { pair.server.submitShutdownNotice() }),
            ("goAway", { pair.server.goAway(errorCode: .noError) }),
        ]
        for (name, call) in calls {
            let before = pair.clientRecorder.queuedOutput + pair.serverRecorder.queuedOutput
            try call()
            #expect(pair.clientRecorder.queuedOutput + pair.serverRecorder.queuedOutput == before + 1, "\(name)")
        }
        try pair.pump()
        #expect(pair.clientRecorder.goAways.count == 2, "the notice and the GOAWAY went out")
    }

    @Test func aBadPrefaceIsASessionError() throws {
        let recorder = Recorder()
        let server = try HTTP2Session(role: .server, delegate: recorder)
        let garbage = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        #expect(throws: HTTP2SessionError.self) { try garbage.withUnsafeBytes { try server.receive($0) } }
    }

    @Test func oversizedHeaderBlocksAreFlaggedNotDropped() throws {
        var settings = HTTP2Settings()
        settings.maxHeaderListSize = 1024
        let pair = try Pair(server: settings)
        try pair.pump()  // exchange SETTINGS first so the client knows nothing of the limit's enforcement
        let big = requestHeaders + [("x-big", String(repeating: "a", count: 4000))]
        let stream = try pair.client.submitRequest(headers: big, endStream: true)
        try pair.pump()
        let received = try #require(pair.serverRecorder.headers.first { $0.streamID == stream })
        #expect(received.oversized)
    }

    @Test func pingsAreAnsweredAndReported() throws {
        let pair = try Pair()
        pair.client.ping(opaque: 0x0102_0304_0506_0708)
        try pair.pump()
        #expect(pair.serverRecorder.pings.first?.0 == 0x0102_0304_0506_0708)
        #expect(pair.clientRecorder.pings.first.map { $0.0 == 0x0102_0304_0506_0708 && $0.1 } == true)
    }

    @Test func goAwayCarriesCodeAndDebugData() throws {
        let pair = try Pair()
        try pair.pump()
        pair.server.goAway(errorCode: .enhanceYourCalm, debug: "too_many_pings")
        try pair.pump()
        #expect(pair.clientRecorder.goAways.first?.1 == .enhanceYourCalm)
        #expect(pair.clientRecorder.goAways.first?.2 == Array("too_many_pings".utf8))
    }
}
