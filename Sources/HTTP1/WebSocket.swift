/// WebSocket (RFC 6455) for a server, as values: the opening handshake's accept key, client frames parsed and
/// checked as they arrive (masked, control frames short and whole, fragments reassembled up to a bound, text valid
/// UTF-8), server frames written. No I/O.
public enum WebSocket {
    /// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key + the RFC's GUID)).
    public static func acceptKey(for key: String) -> String {
        base64(SHA1.digest(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)))
    }

    /// Why `request` is not a WebSocket opening handshake (nil: it is one). RFC 6455 §4.2.1.
    public static func handshakeProblem(_ request: HTTP1Request) -> String? {
        guard request.method == "GET", request.minorVersion == 1 else { return "a WebSocket handshake is an HTTP/1.1 GET" }
        guard request.headerLists("upgrade", "websocket"), request.headerLists("connection", "upgrade") else {
            return "Upgrade: websocket and Connection: Upgrade are required"
        }
        guard request.header("sec-websocket-version") == "13" else { return "Sec-WebSocket-Version must be 13" }
        guard let key = request.header("sec-websocket-key"), key.utf8.count == 24, key.hasSuffix("==") else {
            return "Sec-WebSocket-Key must be 16 bytes in base64"
        }
        return nil
    }

    public enum Opcode: UInt8, Sendable {
        case continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10
    }

    /// A server frame: FIN set, unmasked.
    public static func frame(_ opcode: Opcode, _ payload: some Collection<UInt8>) -> [UInt8] {
        var bytes: [UInt8] = [0x80 | opcode.rawValue]
        switch payload.count {
        case ..<126: bytes.append(UInt8(payload.count))
        case ..<65_536: bytes += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        default:
            bytes.append(127)
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: UInt64(payload.count) >> UInt64(shift))) }
        }
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// A close frame with `code` and a reason (cut to fit a control frame's 125 bytes).
    public static func closeFrame(_ code: UInt16, reason: String) -> [UInt8] {
        var payload = [UInt8(code >> 8), UInt8(code & 0xff)]
        var reasonBytes = Array(reason.utf8.prefix(123))
        while String(validating: reasonBytes, as: UTF8.self) == nil { reasonBytes.removeLast() }  // Whole characters only.
        payload += reasonBytes
        return frame(.close, payload)
    }

    static func base64(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
            for position in 0..<4 {
                out.append(position <= chunk.count ? alphabet[Int(value >> (18 - 6 * UInt32(position)) & 63)] : UInt8(ascii: "="))
            }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// What a client sent, message by message.
public struct WebSocketParser: Sendable {
    public enum Event: Sendable, Equatable {
        case text(String)
        case binary([UInt8])
        case ping([UInt8])
        case pong
        /// The client's close (its code, 1005 when it gave none).
        case close(UInt16)
    }

    /// A frame the server refuses, with the close code to answer it with (1002 protocol, 1007 bad UTF-8, 1009 too
    /// big); the connection closes after.
    public struct Failure: Error, Equatable {
        public let code: UInt16
        public let reason: String
    }

    /// The largest message, after reassembly.
    public let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var offset = 0
    private var fragments: [UInt8] = []
    private var fragmentedOpcode: WebSocket.Opcode?

    public init(maxMessageBytes: Int = 65_536) {
        self.maxMessageBytes = maxMessageBytes
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if offset > 0 && (offset == buffer.count || offset > 65_536) {
            buffer.removeFirst(offset)
            offset = 0
        }
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }

    /// The next message or control frame, nil until a whole one has arrived.
    public mutating func next() throws(Failure) -> Event? {
        while true {
            let available = buffer.count - offset
            guard available >= 2 else { return nil }
            let first = buffer[offset]
            let second = buffer[offset + 1]
            guard first & 0x70 == 0 else { throw Failure(code: 1002, reason: "reserved bits set (no extension was agreed)") }
            guard second & 0x80 != 0 else { throw Failure(code: 1002, reason: "a client frame must be masked") }
            guard let opcode = WebSocket.Opcode(rawValue: first & 0x0f) else { throw Failure(code: 1002, reason: "unknown opcode \(first & 0x0f)") }
            let fin = first & 0x80 != 0
            var length = UInt64(second & 0x7f)
            var header = 2
            if length == 126 {
                guard available >= 4 else { return nil }
                length = UInt64(buffer[offset + 2]) << 8 | UInt64(buffer[offset + 3])
                header = 4
            } else if length == 127 {
                guard available >= 10 else { return nil }
                length = (0..<8).reduce(UInt64(0)) { $0 << 8 | UInt64(buffer[offset + 2 + $1]) }
                header = 10
            }
            let isControl = opcode.rawValue >= 8
            if isControl {
                guard fin, length <= 125 else { throw Failure(code: 1002, reason: "a control frame is whole and at most 125 bytes") }
            } else {
                guard length <= UInt64(maxMessageBytes - fragments.count) else {
                    throw Failure(code: 1009, reason: "a message is at most \(maxMessageBytes) bytes")
                }
            }
            let total = header + 4 + Int(length)
            guard available >= total else { return nil }
            let mask = Array(buffer[(offset + header)..<(offset + header + 4)])
            var payload = Array(buffer[(offset + header + 4)..<(offset + total)])
            for index in payload.indices { payload[index] ^= mask[index & 3] }
            offset += total
            switch opcode {
            case .ping: return .ping(payload)
            case .pong: return .pong
            case .close:
                guard payload.count != 1 else { throw Failure(code: 1002, reason: "a close frame's code is two bytes") }
                return .close(payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : 1005)
            case .continuation:
                guard let started = fragmentedOpcode else { throw Failure(code: 1002, reason: "a continuation without a message") }
                fragments += payload
                guard fin else { continue }
                fragmentedOpcode = nil
                defer { fragments = [] }
                return try message(started, fragments)
            case .text, .binary:
                guard fragmentedOpcode == nil else { throw Failure(code: 1002, reason: "a new message inside a fragmented one") }
                guard fin else {
                    fragmentedOpcode = opcode
                    fragments = payload
                    continue
                }
                return try message(opcode, payload)
            }
        }
    }

    private func message(_ opcode: WebSocket.Opcode, _ payload: [UInt8]) throws(Failure) -> Event {
        guard opcode == .text else { return .binary(payload) }
        guard let text = String(validating: payload, as: UTF8.self) else { throw Failure(code: 1007, reason: "a text message is not UTF-8") }
        return .text(text)
    }
}

/// SHA-1 (FIPS 180-4), for the WebSocket handshake only (it is not used for anything that needs collision
/// resistance).
enum SHA1 {
    static func digest(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var data = message + [0x80]
        while data.count % 64 != 56 { data.append(0) }
        let bits = UInt64(message.count) * 8
        for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: data.count, by: 64) {
            for index in 0..<16 {
                let base = chunk + index * 4
                w[index] = UInt32(data[base]) << 24 | UInt32(data[base + 1]) << 16 | UInt32(data[base + 2]) << 8 | UInt32(data[base + 3])
            }
            for index in 16..<80 {
                let value = w[index - 3] ^ w[index - 8] ^ w[index - 14] ^ w[index - 16]
                w[index] = value << 1 | value >> 31
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for index in 0..<80 {
                let (f, k): (UInt32, UInt32) = switch index {
                case 0..<20: ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (b ^ c ^ d, 0xCA62_C1D6)
                }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[index]
                (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, temp)
            }
            h[0] &+= a
            h[1] &+= b
            h[2] &+= c
            h[3] &+= d
            h[4] &+= e
        }
        return h.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32($0))) } }
    }
}
