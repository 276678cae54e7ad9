import EventLoop
import Foundation
import ServiceStubs
import Synchronization
import Testing
import Transport

#if canImport(Glibc)
import Glibc
#endif

/// What one client can hold on a server: request data per connection, connections, and a connection that never
/// says a word. Past each bound that client is refused; the others go on.
@Suite struct ConnectionLimitsTests {
    /// A client with as many calls open as the server lets it, each answering more than the connection window
    /// holds: the server reads the client's WINDOW_UPDATEs while every handler slot is busy, and every call ends.
    /// (Reads stopped while all slots were taken once, and the handlers then waited for window updates nobody read.)
    @Test(.timeLimit(.minutes(2))) func everySlotBusyStillReadsTheClientsWindowUpdates() async throws {
        try await TestServer.with(configure: { $0.http2.maxConcurrentStreams = 8 }) { test in
            // 8 calls × 32 responses of 64 KiB: 16 MiB against the client's 4 MiB connection window.
            let request = Grpc_Testing_StreamingOutputCallRequest(responseParameters: Array(repeating: .init(size: 64 << 10), count: 32))
            let received = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await test.client.streamingOutputCall(request, options: CallOptions(timeout: .seconds(60))) { responses in
                            var bytes = 0
                            for try await response in responses { bytes += response.payload?.body.count ?? 0 }
                            return bytes
                        }
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(received == 8 * 32 * (64 << 10))
            _ = try await test.client.emptyCall(Grpc_Testing_Empty())
        }
    }

    /// A client that falls behind its responses and then catches up reopens the server's window itself: the
    /// WINDOW_UPDATE its reading queues goes out although nothing else is happening on the connection. (It stayed
    /// queued once: the client stopped returning window past 1 MiB unread, the server filled the rest and waited,
    /// and the reads that reopened it queued the update without asking for a flush — the call hung to its deadline.)
    @Test(.timeLimit(.minutes(1))) func aReaderThatFellBehindReopensTheWindowWhenItCatchesUp() async throws {
        try await TestServer.with { test in
            // 4 MiB on one stream: more than the 1 MiB a client keeps unread plus the 1 MiB stream window.
            let request = Grpc_Testing_StreamingOutputCallRequest(responseParameters: Array(repeating: .init(size: 64 << 10), count: 64))
            let received = try await test.client.streamingOutputCall(request, options: CallOptions(timeout: .seconds(20))) { responses in
                try await Task.sleep(for: .milliseconds(500))  // the server fills every window meanwhile
                var bytes = 0
                for try await response in responses { bytes += response.payload?.body.count ?? 0 }
                return bytes
            }
            #expect(received == 64 * (64 << 10))
        }
    }

    /// Request data a handler has not read counts against its connection: past the bound, that call ends with
    /// RESOURCE_EXHAUSTED and the connection serves the next one.
    @Test func unreadRequestDataPastTheConnectionsBoundEndsThatCall() async throws {
        try await TestServer.with(configure: {
            $0.maxRequestBytesPerConnection = 96 << 10
            $0.calls.queuedRequestBytes = 1 << 20  // flow control alone would let a megabyte in
        }) { test in
            let error = await #expect(throws: RPCError.self) {
                _ = try await test.client.streamingInputCall(metadata: ["x-control": "ignore-requests"], options: CallOptions(timeout: .seconds(20))) {
                    requests in
                    let message = Grpc_Testing_StreamingInputCallRequest(payload: .init(body: [UInt8](repeating: 1, count: 40 << 10)))
                    for _ in 0..<16 { try await requests.write(message) }
                }
            }
            #expect(error?.code == .resourceExhausted, "\(String(describing: error))")
            _ = try await test.client.emptyCall(Grpc_Testing_Empty())
        }
    }

    /// A connection accepted past `maxConnections` is closed at once; the ones before it are served.
    @Test func connectionsPastTheBoundAreClosedAtOnce() async throws {
        try await TestServer.with(configure: { $0.maxConnections = 2 }) { test in
            let first = try Self.connect(test.port)
            let second = try Self.connect(test.port)
            defer { close(first); close(second) }
            try await Task.sleep(for: .milliseconds(200))
            let third = try Self.connect(test.port)
            defer { close(third) }
            #expect(Self.closedByServer(third, within: .seconds(2)), "the third connection stayed open")
            #expect(!Self.closedByServer(first, within: .milliseconds(200)), "the first one was closed")
        }
    }

    /// A connection that sends nothing (no HTTP/2 preface, no request) is closed after the handshake timeout.
    @Test func aSilentConnectionIsClosedAfterTheHandshakeTimeout() async throws {
        try await TestServer.with(configure: { $0.handshakeTimeout = .milliseconds(300) }) { test in
            let silent = try Self.connect(test.port)
            defer { close(silent) }
            #expect(!Self.closedByServer(silent, within: .milliseconds(100)))
            #expect(Self.closedByServer(silent, within: .seconds(3)), "a connection that never spoke stayed open")
            _ = try await test.client.emptyCall(Grpc_Testing_Empty())  // a client that speaks is served
        }
    }

    static func connect(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw RPCError(code: .unavailable, message: "connect failed: \(errno)")
        }
        return fd
    }

    /// Whether the server closed (EOF or reset) within `timeout`; what it sent before is read and dropped.
    static func closedByServer(_ fd: Int32, within timeout: Duration) -> Bool {
        let end = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < end {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { return true }
        }
        return false
    }
}
