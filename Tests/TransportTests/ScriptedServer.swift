import EventLoop
import HTTP2

#if canImport(Glibc)
import Glibc
#endif

/// A server that breaks gRPC on purpose, chosen by the request path, to test what a client makes of it:
///   /status/NNN            HTTP NNN, no gRPC headers
///   /fault/html            HTTP 200 with content-type text/html
///   /fault/no-trailers     a response message, then END_STREAM on the data: no grpc-status
///   /fault/no-status       trailers without grpc-status
///   /fault/garbage-status  trailers with grpc-status "abc"
///   /reset/N               RST_STREAM with error code N
// @unchecked Sendable: confined to `loop`.
final class ScriptedServer: Selectable, @unchecked Sendable {
    let loop: EventLoop
    let fd: Int32
    let port: Int
    private var connections: [ScriptedConnection] = []

    init() async throws {
        loop = try EventLoop(name: "scripted")
        fd = try Socket.tcp(family: AF_INET)
        try Socket.setOption(fd, level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
        try Socket.bind(fd, to: SocketAddress(host: "127.0.0.1", port: 0)!)
        try Socket.listen(fd, backlog: 16)
        port = try Socket.localAddress(fd).port
        try await loop.submit { try self.loop.register(self.fd, self) }
    }

    func ready(readable: Bool, writable: Bool) {
        while case .processed(let client)? = try? Socket.accept(fd) {
            let connection = ScriptedConnection(fd: client, loop: loop)
            connections.append(connection)
            try? loop.register(client, connection)
        }
    }

    func stop() async {
        _ = try? await loop.submit {
            self.loop.deregister(self.fd)
            Socket.close(self.fd)
            for connection in self.connections { connection.close() }
            self.connections.removeAll()
        }
        loop.shutdown()
    }
}

final class ScriptedConnection: Selectable, HTTP2SessionDelegate {
    let fd: Int32
    let loop: EventLoop
    var session: HTTP2Session!
    private var closed = false

    init(fd: Int32, loop: EventLoop) {
        self.fd = fd
        self.loop = loop
        session = try! HTTP2Session(role: .server, delegate: self)
    }

    func ready(readable: Bool, writable: Bool) {
        guard !closed else { return }
        let buffer = loop.readBuffer
        while case .processed(let count)? = try? Socket.read(fd, into: buffer) {
            if count == 0 {
                close()
                return
            }
            try? session.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        var output: [UInt8] = []
        try? session.produceOutput(into: &output, limit: 1 << 20)
        _ = try? output.withUnsafeBytes { try Socket.send(fd, $0) }
    }

    func close() {
        guard !closed else { return }
        closed = true
        loop.deregister(fd)
        Socket.close(fd)
    }

    func http2(_ session: HTTP2Session, didReceiveHeaders headers: [HTTP2HeaderField], streamID: Int32, endStream: Bool, oversized: Bool) {
        guard let path = headers.first(where: { $0.name == ":path" })?.value else { return }
        let grpc = [(":status", "200"), ("content-type", "application/grpc")]
        let message: [UInt8] = [0, 0, 0, 0, 0]  // an empty grpc.testing.Empty
        switch path {
        case _ where path.hasPrefix("/status/"):
            try? session.submitResponse(streamID: streamID, headers: [(":status", String(path.dropFirst(8)))], endStream: true)
        case "/fault/html":
            try? session.submitResponse(
                streamID: streamID, headers: [(":status", "200"), ("content-type", "text/html")],
                endStream: true)
        case "/fault/no-trailers":
            try? session.submitResponse(streamID: streamID, headers: grpc, endStream: false)
            session.enqueue(streamID: streamID, message)
            session.finish(streamID: streamID, trailers: nil)
        case "/fault/no-status":
            try? session.submitResponse(streamID: streamID, headers: grpc, endStream: false)
            session.finish(streamID: streamID, trailers: [("x-other", "1")])
        case "/fault/garbage-status":
            try? session.submitResponse(streamID: streamID, headers: grpc, endStream: false)
            session.finish(streamID: streamID, trailers: [("grpc-status", "abc")])
        case _ where path.hasPrefix("/reset/"):
            session.reset(streamID: streamID, errorCode: HTTP2ErrorCode(UInt32(path.dropFirst(7)) ?? 0))
        default:
            try? session.submitResponse(streamID: streamID, headers: [(":status", "404")], endStream: true)
        }
    }

    func http2(_ session: HTTP2Session, didReceiveData data: UnsafeRawBufferPointer, streamID: Int32) {
        session.consume(streamID: streamID, bytes: data.count)
    }
    func http2(_ session: HTTP2Session, didReceiveEndStream streamID: Int32) {}
    func http2(_ session: HTTP2Session, streamClosed streamID: Int32, errorCode: HTTP2ErrorCode) {}
    func http2(_ session: HTTP2Session, didReceivePing opaque: UInt64, ack: Bool) {}
    func http2(_ session: HTTP2Session, didReceiveGoAway lastStreamID: Int32, errorCode: HTTP2ErrorCode, debugData: [UInt8]) {}
    func http2(_ session: HTTP2Session, streamIsWritable streamID: Int32) {}
    func http2SessionQueuedOutput(_ session: HTTP2Session) {}  // `ready` sends what the read queued before it returns.
}
