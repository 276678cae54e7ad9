internal import ProtoCodec

/// gRPC metadata: ordered key–value pairs, keys lower case; a key ending in `-bin` holds bytes (base64 on the
/// wire), any other key holds printable ASCII.
public struct Metadata: Hashable, Sendable, Sequence, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public enum Value: Hashable, Sendable, ExpressibleByStringLiteral {
        case string(String)
        case binary([UInt8])

        public init(stringLiteral value: String) { self = .string(value) }
    }

    public struct Entry: Hashable, Sendable {
        public var key: String
        public var value: Value
    }

    private var entries: [Entry] = []

    public init() {}

    public init(dictionaryLiteral elements: (String, Value)...) {
        entries = elements.map { Entry(key: $0.0.lowercased(), value: $0.1) }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    public func makeIterator() -> IndexingIterator<[Entry]> { entries.makeIterator() }

    /// Adds a text value. The key is lower-cased.
    public mutating func add(_ key: String, _ value: String) {
        entries.append(Entry(key: key.lowercased(), value: .string(value)))
    }

    /// Adds a binary value; the key should end in `-bin`.
    public mutating func add(_ key: String, binary value: [UInt8]) {
        entries.append(Entry(key: key.lowercased(), value: .binary(value)))
    }

    /// These entries followed by `other`'s.
    public func merging(_ other: Metadata) -> Metadata {
        var merged = self
        merged.entries += other.entries
        return merged
    }

    public mutating func removeAll(_ key: String) {
        let key = key.lowercased()
        entries.removeAll { $0.key == key }
    }

    /// The first text value for `key`.
    public subscript(_ key: String) -> String? {
        let key = key.lowercased()
        for entry in entries where entry.key == key {
            if case .string(let value) = entry.value { return value }
        }
        return nil
    }

    /// The first binary value for `key`.
    public func binary(_ key: String) -> [UInt8]? {
        let key = key.lowercased()
        for entry in entries where entry.key == key {
            if case .binary(let value) = entry.value { return value }
        }
        return nil
    }

    public var description: String {
        "[" + entries.map { entry in
            switch entry.value {
            case .string(let value): "\(entry.key): \(value)"
            case .binary(let value): "\(entry.key): <\(value.count) bytes>"
            }
        }.joined(separator: ", ") + "]"
    }

    /// Header names gRPC itself uses or HTTP/2 forbids: never taken from, nor given to, user metadata.
    static func isReserved(_ key: String) -> Bool {
        // Checked for every header of every call: pseudo-headers and grpc-* by their first bytes, the rest by name.
        guard let first = key.utf8.first else { return false }
        if first == UInt8(ascii: ":") { return true }
        if first == UInt8(ascii: "g") && key.hasPrefix("grpc-") { return true }
        switch key {
        case "content-type", "te", "user-agent", "connection", "host", "transfer-encoding", "keep-alive", "upgrade",
            "proxy-connection", "content-length":
            return true
        default:
            return false
        }
    }

    /// User metadata from HTTP/2 header fields (`-bin` values base64-decoded; reserved names skipped).
    /// Throws for a `-bin` value that is not base64.
    init(headers: some Sequence<(name: String, value: String)>) throws(RPCError) {
        for (name, value) in headers where !Self.isReserved(name) {
            let value = Self.trimmingWhitespace(value)
            if name.hasSuffix("-bin") {
                guard let bytes = Base64.decode(value) else {
                    throw RPCError(code: .internal, message: "metadata \(Echo.quote(name)): value is not base64")
                }
                entries.append(Entry(key: name, value: .binary(bytes)))
            } else {
                entries.append(Entry(key: name, value: .string(value)))
            }
        }
    }

    /// Every text value of `key`, in order (a header sent twice has two).
    public func values(_ key: String) -> [String] {
        let key = key.lowercased()
        return entries.compactMap { entry in
            guard entry.key == key, case .string(let value) = entry.value else { return nil }
            return value
        }
    }

    /// `value` without leading and trailing spaces and tabs (RFC 9110 §5.5).
    static func trimmingWhitespace(_ value: String) -> String {
        let bytes = value.utf8
        guard let first = bytes.first, let last = bytes.last, first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09 else {
            return value
        }
        return String(Substring(value).trimmingCharacters(0x20, 0x09))
    }

    /// The entries as HTTP/2 header fields (`-bin` values base64-encoded, unpadded as gRPC prefers); reserved
    /// names are left out.
    public var headerFields: [(name: String, value: String)] {
        entries.compactMap { entry in
            guard !Self.isReserved(entry.key) else { return nil }
            switch entry.value {
            case .string(let value): return (entry.key, value)
            case .binary(let value): return (entry.key, Base64.encode(value, padded: false))
            }
        }
    }
}

extension Substring {
    /// Without leading and trailing bytes among `a` and `b` (ASCII).
    func trimmingCharacters(_ a: UInt8, _ b: UInt8) -> Substring {
        var text = self
        while let first = text.utf8.first, first == a || first == b { text = text.dropFirst() }
        while let last = text.utf8.last, last == a || last == b { text = text.dropLast() }
        return text
    }
}
