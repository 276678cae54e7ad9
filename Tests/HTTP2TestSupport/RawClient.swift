import EventLoop
import HTTP2

#if canImport(Glibc)
import Glibc
#endif

/// A test client that speaks raw bytes (or HTTP/2 through its own session) to a server over a real socket,
/// misbehaving on purpose. Non-blocking: waits by sleeping, so that it never blocks a cooperative thread.
public final class RawClient {
    public let fd: Int32
    public let recorder = Recorder()
    public private(set) var session: HTTP2Session?
    public private(set) var peerClosed = false

    public init(port: Int) async throws {
        fd = try Socket.tcp(family: AF_INET)
        let address = SocketAddress(host: "127.0.0.1", port: port)!
        if case .wouldBlock = try Socket.connect(fd, to: address) {
            for _ in 0..<500 {
                var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&poller, 1, 0) > 0 { break }
                try await Task.sleep(for: .milliseconds(2))
            }
            guard Socket.pendingError(fd) == 0 else { throw SystemError("connect", errno: Socket.pendingError(fd)) }
        }
    }

    deinit { Socket.close(fd) }

    /// Writes all of `bytes` (waiting while the socket is full, up to 2 s); false if the peer is gone.
    @discardableResult
    public func write(_ bytes: [UInt8]) async -> Bool {
        var offset = 0
        var waited = 0
        while offset < bytes.count {
            let result = try? bytes.withUnsafeBytes { try Socket.send(fd, UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            switch result {
            case .processed(let count)?: offset += count
            case .wouldBlock?:
                waited += 1
                if waited > 1000 { return false }
                try? await Task.sleep(for: .milliseconds(2))
            case nil: return false
            }
        }
        return true
    }

    /// Reads what arrives within `duration`; sets `peerClosed` on EOF or error.
    public func read(for duration: Duration = .milliseconds(100)) async -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end && !peerClosed {
            let result = try? buffer.withUnsafeMutableBytes { try Socket.read(fd, into: $0) }
            switch result {
            case .processed(let count)? where count > 0: received += buffer[0..<count]
            case .wouldBlock?: try? await Task.sleep(for: .milliseconds(2))
            default: peerClosed = true
            }
        }
        return received
    }

    /// Waits up to `duration` for the server to close the connection.
    public func waitForClose(within duration: Duration = .seconds(5)) async -> Bool {
        let end = ContinuousClock.now + duration
        while ContinuousClock.now < end && !peerClosed {
            let bytes = await read(for: .milliseconds(20))
            guard let session else { continue }
            if !bytes.isEmpty { try? bytes.withUnsafeBytes { try session.receive($0) } }
            var output: [UInt8] = []
            try? session.produceOutput(into: &output, limit: 1 << 20)  // e.g. PING acknowledgements
            if !output.isEmpty { await write(output) }
        }
        return peerClosed
    }

    // MARK: - Speaking HTTP/2

    /// Starts an HTTP/2 client session on the connection (sends the preface and SETTINGS).
    public func startSession(settings: HTTP2Settings = HTTP2Settings()) async throws {
        session = try HTTP2Session(role: .client, settings: settings, delegate: recorder)
        await pump()
    }

    /// Sends what the session has queued and feeds it what arrives within `duration`.
    public func pump(for duration: Duration = .milliseconds(50)) async {
        guard let session else { return }
        var output: [UInt8] = []
        try? session.produceOutput(into: &output, limit: 1 << 24)
        if !output.isEmpty { await write(output) }
        let input = await read(for: duration)
        if !input.isEmpty { try? input.withUnsafeBytes { try session.receive($0) } }
        output.removeAll()
        try? session.produceOutput(into: &output, limit: 1 << 24)
        if !output.isEmpty { await write(output) }
    }

    /// Pumps until `condition` holds (or `timeout` passes); returns whether it holds.
    @discardableResult
    public func pump(until condition: () -> Bool, timeout: Duration = .seconds(10)) async -> Bool {
        let end = ContinuousClock.now + timeout
        while !condition() && ContinuousClock.now < end && !peerClosed { await pump(for: .milliseconds(10)) }
        return condition()
    }

    /// Request headers for a gRPC call to `path`, with `extra` headers after the standard ones.
    public static func grpcHeaders(path: String, contentType: String = "application/grpc", extra: [HTTP2HeaderField] = [])
        -> [HTTP2HeaderField]
    {
        [
            (":method", "POST"), (":scheme", "http"), (":path", path),
            (":authority", "localhost"), ("content-type", contentType),
            ("te", "trailers"),
        ] + extra
    }

    /// A gRPC length-prefixed message.
    public static func frame(_ message: [UInt8]) -> [UInt8] {
        let length = UInt32(message.count)
        return [0, UInt8(length >> 24), UInt8((length >> 16) & 0xff), UInt8((length >> 8) & 0xff), UInt8(length & 0xff)] + message
    }
}
