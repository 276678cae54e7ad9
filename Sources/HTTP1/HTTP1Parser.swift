/// HTTP/1.1 requests out of a connection's bytes (RFC 9112), one after another, with every bound checked as the
/// bytes arrive. Strict where leniency lets two parties frame a message differently (request smuggling): CRLF line
/// endings only, no whitespace before a field's colon, no obsolete line folding, no Content-Length beside
/// Transfer-Encoding, only `chunked` as a transfer coding, one Host. Fed with ``append(_:)``, read with
/// ``next()``; no I/O.
public struct HTTP1Parser: Sendable {
    public enum Event: Sendable, Equatable {
        /// A whole request.
        case request(HTTP1Request)
        /// A request's head asked for `100 Continue` before its body: answer it, then keep feeding.
        case continueExpected
    }

    public let limits: HTTP1Limits
    private var buffer: [UInt8] = []
    /// Where unread bytes start in `buffer`.
    private var offset = 0
    private var head: Head?
    private var continueAnswered = false
    /// How far the search for the head's end has looked (so a head that drips in is not searched again from its
    /// start for every byte).
    private var headScanned = 0

    /// A parsed head waiting for its body.
    private struct Head {
        var request: HTTP1Request
        var framing: Framing
        var expectsContinue: Bool
        /// Bytes of a chunked body as sent (sizes, extensions, data, trailers): bounded too.
        var rawBytes = 0
    }

    private enum Framing {
        case length(Int)
        case chunked(ChunkState)
    }

    private enum ChunkState {
        /// At a chunk-size line.
        case size
        /// Inside a chunk's data, `remaining` bytes of it left, then its CRLF.
        case data(remaining: Int)
        /// After the last chunk: trailer fields (ignored) up to an empty line, `bytes` of them so far.
        case trailers(bytes: Int)
    }

    public init(limits: HTTP1Limits = HTTP1Limits()) {
        self.limits = limits
    }

    /// Bytes not yet part of a request returned (a pipelined request's, or a partial one's).
    public var buffered: Int { buffer.count - offset }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if offset > 0 && (offset == buffer.count || (offset > 65_536 && offset * 2 > buffer.count)) {
            buffer.removeFirst(offset)
            headScanned = max(0, headScanned - offset)
            offset = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The bytes after the last request returned, removed: what follows an upgrade is another protocol's.
    public mutating func takeBuffered() -> [UInt8] {
        defer {
            buffer.removeAll()
            offset = 0
            headScanned = 0
        }
        return Array(buffer[offset...])
    }

    /// The next event the bytes so far make, or nil until more arrive. After an error the connection's framing is
    /// lost: answer the error and close.
    public mutating func next() throws(HTTP1Error) -> Event? {
        if head == nil {
            guard let parsed = try parseHead() else { return nil }
            head = parsed
            continueAnswered = false
        }
        guard let body = try parseBody() else {
            if head!.expectsContinue && !continueAnswered {
                continueAnswered = true
                return .continueExpected
            }
            return nil
        }
        var request = head!.request
        request.body = body
        head = nil
        return .request(request)
    }

    // MARK: - The head

    private mutating func parseHead() throws(HTTP1Error) -> Head? {
        // RFC 9112 §2.2: empty lines before a request line are ignored.
        while buffer.count - offset >= 2 && buffer[offset] == 13 && buffer[offset + 1] == 10 { offset += 2 }
        // The head (request line and fields) is at most maxHeadBytes before its empty line.
        let lastStart = offset + limits.maxHeadBytes
        guard let end = find([13, 10, 13, 10], from: max(offset, headScanned - 3), through: lastStart) else {
            headScanned = buffer.count
            if buffer.count >= lastStart + 4 {
                if find([13, 10], from: offset, through: lastStart) == nil { throw HTTP1Error(414, "the request line is longer than \(limits.maxHeadBytes) bytes") }
                throw HTTP1Error(431, "the request's head is larger than \(limits.maxHeadBytes) bytes")
            }
            return nil
        }
        let lines = Self.lines(buffer[offset..<end])
        offset = end + 4
        headScanned = offset
        var request = try Self.requestLine(lines[0])
        guard lines.count - 1 <= limits.maxHeaderCount else { throw HTTP1Error(431, "more than \(limits.maxHeaderCount) header fields") }
        for line in lines.dropFirst() { request.headers.append(try Self.field(line)) }
        return try Self.framing(of: request, maxBody: limits.maxBodyBytes)
    }

    private static func lines(_ head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = head.startIndex
        var index = head.startIndex
        while index < head.endIndex {
            if head[index] == 13 && index + 1 < head.endIndex && head[index + 1] == 10 {
                lines.append(head[start..<index])
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        lines.append(head[start..<head.endIndex])
        return lines
    }

    private static func requestLine(_ line: ArraySlice<UInt8>) throws(HTTP1Error) -> HTTP1Request {
        let parts = line.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { throw HTTP1Error(400, "the request line is not METHOD TARGET HTTP/1.x") }
        guard parts[0].allSatisfy(isTokenByte) else { throw HTTP1Error(400, "the method is not a token") }
        guard parts[1].allSatisfy({ $0 > 32 && $0 < 127 }) else { throw HTTP1Error(400, "the request target has spaces, controls or non-ASCII bytes") }
        let version = Array(parts[2])
        guard version.count == 8, version.starts(with: Array("HTTP/".utf8)), version[6] == UInt8(ascii: "."),
            (48...57).contains(version[5]), (48...57).contains(version[7])
        else { throw HTTP1Error(400, "the request line does not end in HTTP/1.x") }
        guard version[5] == UInt8(ascii: "1"), version[7] <= UInt8(ascii: "1") else {
            throw HTTP1Error(505, "only HTTP/1.0 and HTTP/1.1 are served here (and HTTP/2 with prior knowledge)")
        }
        return HTTP1Request(method: String(decoding: parts[0], as: UTF8.self), target: String(decoding: parts[1], as: UTF8.self),
                            minorVersion: Int(version[7] - 48))
    }

    private static func field(_ line: ArraySlice<UInt8>) throws(HTTP1Error) -> (name: String, value: String) {
        guard let first = line.first, first != 32, first != 9 else { throw HTTP1Error(400, "obsolete line folding is not accepted") }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw HTTP1Error(400, "a header line has no colon") }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else { throw HTTP1Error(400, "a header name is not a token (no space before the colon)") }
        var value = line[(colon + 1)...]
        guard value.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else { throw HTTP1Error(400, "a header value has control bytes") }
        while let byte = value.first, byte == 32 || byte == 9 { value = value.dropFirst() }
        while let byte = value.last, byte == 32 || byte == 9 { value = value.dropLast() }
        return (String(decoding: name, as: UTF8.self).lowercased(), String(decoding: value, as: UTF8.self))
    }

    /// How the body is delimited (RFC 9112 §6.3), refusing what two parties could read two ways.
    private static func framing(of request: HTTP1Request, maxBody: Int) throws(HTTP1Error) -> Head {
        let hosts = request.headers.filter { $0.name == "host" }
        if request.minorVersion == 1 && hosts.count != 1 { throw HTTP1Error(400, "an HTTP/1.1 request has exactly one Host field") }
        if request.minorVersion == 0 && hosts.count > 1 { throw HTTP1Error(400, "more than one Host field") }
        let lengths = request.headers.filter { $0.name == "content-length" }.map(\.value)
        let codings = request.headers.filter { $0.name == "transfer-encoding" }
            .flatMap { $0.value.split(separator: ",").map { $0.trimmingWhitespace().lowercased() } }
        let expectsContinue = request.minorVersion == 1 && request.header("expect")?.lowercased() == "100-continue"
        if !codings.isEmpty {
            guard lengths.isEmpty else { throw HTTP1Error(400, "Content-Length and Transfer-Encoding together") }
            guard request.minorVersion == 1 else { throw HTTP1Error(400, "Transfer-Encoding in an HTTP/1.0 request") }
            guard codings == ["chunked"] else { throw HTTP1Error(501, "only the chunked transfer coding is accepted") }
            return Head(request: request, framing: .chunked(.size), expectsContinue: expectsContinue)
        }
        guard let first = lengths.first else { return Head(request: request, framing: .length(0), expectsContinue: false) }
        guard lengths.allSatisfy({ $0 == first }), !first.isEmpty, first.utf8.count <= 18, first.utf8.allSatisfy({ (48...57).contains($0) }),
            let length = Int(first)
        else { throw HTTP1Error(400, "Content-Length is not one decimal number") }
        guard length <= maxBody else { throw HTTP1Error(413, "the body is larger than \(maxBody) bytes") }
        return Head(request: request, framing: .length(length), expectsContinue: expectsContinue && length > 0)
    }

    // MARK: - The body

    /// The whole body once it has arrived; nil until then.
    private mutating func parseBody() throws(HTTP1Error) -> [UInt8]? {
        switch head!.framing {
        case .length(let length):
            guard buffer.count - offset >= length else { return nil }
            defer { offset += length }
            return Array(buffer[offset..<offset + length])
        case .chunked:
            return try parseChunks()
        }
    }

    /// Decodes what has arrived of a chunked body into the request's body, keeping where it stopped. What the body
    /// takes as sent (sizes, extensions, data, trailers) is bounded too, at twice the body's bound and 4 KiB: every step
    /// checks it before it reads further, so the outcome does not depend on how the bytes were cut into reads.
    private mutating func parseChunks() throws(HTTP1Error) -> [UInt8]? {
        guard case .chunked(var state) = head!.framing else { return nil }
        var raw = head!.rawBytes
        let rawLimit = 2 * limits.maxBodyBytes + 4096
        defer {
            if head != nil {
                head!.framing = .chunked(state)
                head!.rawBytes = raw
            }
        }
        func take(_ count: Int) throws(HTTP1Error) {
            guard raw + count <= rawLimit else { throw HTTP1Error(413, "the chunked body takes more than \(rawLimit) bytes as sent") }
            raw += count
        }
        while true {
            switch state {
            case .size:
                guard let lineEnd = find([13, 10], from: offset, through: offset + 1024) else {
                    if buffer.count >= offset + 1024 + 2 { throw HTTP1Error(400, "a chunk-size line is longer than 1,024 bytes") }
                    return nil
                }
                let line = buffer[offset..<lineEnd]
                let digits = line.prefix { isHexDigit($0) }
                guard !digits.isEmpty, digits.count <= 8 else { throw HTTP1Error(400, "a chunk size is not 1–8 hex digits") }
                let rest = line.dropFirst(digits.count)
                guard rest.isEmpty || rest.first == UInt8(ascii: ";") || rest.first == 32 || rest.first == 9 else {
                    throw HTTP1Error(400, "a chunk-size line has bytes after the size that are not an extension")
                }
                let size = Int(String(decoding: digits, as: UTF8.self), radix: 16)!
                guard head!.request.body.count + size <= limits.maxBodyBytes else { throw HTTP1Error(413, "the body is larger than \(limits.maxBodyBytes) bytes") }
                try take(lineEnd + 2 - offset)
                offset = lineEnd + 2
                state = size == 0 ? .trailers(bytes: 0) : .data(remaining: size)
            case .data(let remaining):
                let available = min(remaining, buffer.count - offset)
                try take(available)
                head!.request.body.append(contentsOf: buffer[offset..<offset + available])
                offset += available
                guard available == remaining else {
                    state = .data(remaining: remaining - available)
                    return nil
                }
                state = .data(remaining: 0)
                guard buffer.count - offset >= 2 else { return nil }
                guard buffer[offset] == 13 && buffer[offset + 1] == 10 else { throw HTTP1Error(400, "a chunk's data is not followed by CRLF") }
                try take(2)
                offset += 2
                state = .size
            case .trailers(let bytes):
                let lastStart = offset + max(0, limits.maxHeadBytes - bytes)
                guard let lineEnd = find([13, 10], from: offset, through: lastStart) else {
                    if buffer.count >= lastStart + 2 { throw HTTP1Error(431, "the trailer fields are larger than \(limits.maxHeadBytes) bytes") }
                    return nil
                }
                let length = lineEnd - offset
                guard length == 0 || bytes + length + 2 <= limits.maxHeadBytes else {
                    throw HTTP1Error(431, "the trailer fields are larger than \(limits.maxHeadBytes) bytes")
                }
                try take(length + 2)
                offset = lineEnd + 2
                if length == 0 { return head!.request.body }
                state = .trailers(bytes: bytes + length + 2)
            }
        }
    }

    /// Where `pattern` starts in `buffer`, at `start` or after and at `lastStart` or before. The callers refuse a
    /// missing pattern only once every byte up to `lastStart + pattern.count` has arrived, so that the outcome never
    /// depends on how the bytes were cut into reads.
    private func find(_ pattern: [UInt8], from start: Int, through lastStart: Int) -> Int? {
        let end = min(buffer.count, lastStart + pattern.count)
        guard end - start >= pattern.count else { return nil }
        var index = start
        while index + pattern.count <= end {
            if buffer[index] == pattern[0] && buffer[index..<index + pattern.count].elementsEqual(pattern) { return index }
            index += 1
        }
        return nil
    }
}

/// RFC 9110 §5.6.2: tchar.
func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"),
        UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"),
        UInt8(ascii: "~"):
        true
    default: false
    }
}

private func isHexDigit(_ byte: UInt8) -> Bool {
    (48...57).contains(byte) || (65...70).contains(byte) || (97...102).contains(byte)
}
