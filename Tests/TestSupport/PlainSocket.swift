#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client on 127.0.0.1 (5 s receive timeout) for raw HTTP/1.1: send bytes, read what comes, or
/// read one response at a time on a keep-alive connection.
public final class PlainSocket {
    private let fd: Int32
    private var received: [UInt8] = []

    public struct ConnectError: Error {}

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        receiveTimeout(seconds: 5)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            Glibc.close(fd)
            throw ConnectError()
        }
    }

    deinit { Glibc.close(fd) }

    /// How long a read waits for the next bytes (5 s unless changed).
    public func receiveTimeout(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    public func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    public func send(bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    public func close() { shutdown(fd, Int32(SHUT_RDWR)) }

    /// Reads until `marker` has arrived (or the timeout) and returns everything up to and including it.
    public func read(until marker: String) -> String {
        let pattern = Array(marker.utf8)
        while received.firstRange(of: pattern) == nil, receive() {}
        guard let range = received.firstRange(of: pattern) else { return String(decoding: received, as: UTF8.self) }
        defer { received.removeFirst(range.upperBound) }
        return String(decoding: received[..<range.upperBound], as: UTF8.self)
    }

    /// Every byte until the server closes (or the timeout).
    public func bytesUntilClosed() -> [UInt8] {
        while receive() {}
        defer { received.removeAll() }
        return received
    }

    /// Everything until the server closes (or the timeout).
    public func readUntilClosed() -> String {
        while receive() {}
        defer { received.removeAll() }
        return String(decoding: received, as: UTF8.self)
    }

    /// The size of the chunk whose size line is next (0 for the last chunk); nil if it does not arrive.
    public func chunkSize() -> Int? {
        let sizeLine = read(until: "\r\n")
        // "\r\n" is one Character: count in bytes.
        let sizeText = String(decoding: sizeLine.utf8.dropLast(2).prefix { $0 != UInt8(ascii: ";") }, as: UTF8.self)
        return sizeLine.hasSuffix("\r\n") ? Int(sizeText, radix: 16) : nil
    }

    /// One HTTP/1.1 response: its status, fields (names lowercased) and body (Content-Length or chunked, decoded);
    /// nil if the connection ends or times out first.
    public func response() -> (status: Int, headers: [String: String], body: String)? {
        let head = read(until: "\r\n\r\n")
        guard head.hasSuffix("\r\n\r\n") else { return nil }
        var lines = head.split(separator: "\r\n").map(String.init)
        guard !lines.isEmpty, let status = Int(lines.removeFirst().split(separator: " ").dropFirst().first ?? "") else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...]).trimmingCharacters(in: " ")
        }
        if headers["transfer-encoding"] == "chunked" {
            var body: [UInt8] = []
            while true {
                guard let size = chunkSize() else { return nil }
                guard let chunk = bytes(size + 2) else { return nil }
                if size == 0 { break }
                body += chunk.dropLast(2)
            }
            return (status, headers, String(decoding: body, as: UTF8.self))
        }
        guard let chunk = bytes(Int(headers["content-length"] ?? "0") ?? 0) else { return nil }
        return (status, headers, String(decoding: chunk, as: UTF8.self))
    }

    /// The next `count` bytes, or nil if they do not arrive.
    public func bytes(_ count: Int) -> [UInt8]? {
        while received.count < count, receive() {}
        guard received.count >= count else { return nil }
        defer { received.removeFirst(count) }
        return Array(received[..<count])
    }

    private func receive() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return false }
        received += buffer[0..<count]
        return true
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var text = self[...]
        while text.first == set { text = text.dropFirst() }
        while text.last == set { text = text.dropLast() }
        return String(text)
    }
}
