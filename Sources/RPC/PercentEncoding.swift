/// The percent-encoding of `grpc-message` (gRPC PROTOCOL-HTTP2.md): UTF-8 bytes outside printable ASCII, and
/// `%` itself, become `%XX`; and the strict decoding of URL components (HTTP/JSON paths and queries).
public enum PercentEncoding {
    public static func encode(_ message: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(message.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in message.utf8 {
            if byte >= 0x20 && byte <= 0x7e && byte != UInt8(ascii: "%") {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xf)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes leniently, as the spec asks: a `%` not followed by two hex digits stays as it is; invalid UTF-8
    /// becomes U+FFFD.
    public static func decode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a URL's path segment or query component strictly: nil when a `%` is not followed by two hex digits
    /// or the result is not UTF-8; with `keepingSlashes`, `%2F` stays as it is (a path variable over several
    /// segments, as google.api.http asks).
    public static func decodeStrictly(_ text: Substring, keepingSlashes: Bool = false) -> String? {
        var bytes: [UInt8] = []
        var rest = Array(text.utf8)[...]
        while let byte = rest.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard rest.count >= 2, let high = hexValue(rest[rest.startIndex]), let low = hexValue(rest[rest.startIndex + 1]) else { return nil }
            let value = high << 4 | low
            if keepingSlashes && value == UInt8(ascii: "/") {
                bytes += [UInt8(ascii: "%")] + rest.prefix(2)
            } else {
                bytes.append(value)
            }
            rest = rest.dropFirst(2)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
