public import JSON
public import ProtoCodec

/// The proto3 JSON mapping (https://protobuf.dev/programming-guides/json/) for any message in a catalog, with no
/// per-message code: JSON is written into the message's protobuf-c struct through its descriptor and packed by
/// protobuf-c, and wire bytes are unpacked by protobuf-c and read back the same way.
///
/// Accepted on input: field names as written in the .proto or in lowerCamelCase; 64-bit integers as numbers or
/// strings; enums by name or number; bytes in standard or URL-safe base64; "NaN", "Infinity" and "-Infinity" for
/// floating point; `null` for "leave at the default"; maps as JSON objects; `google.protobuf.Duration` as "1.5s";
/// `google.protobuf.Any` with "@type" naming a message in the catalog. Unknown fields are errors, with the path
/// to them. Written: lowerCamelCase names, default values omitted, 64-bit integers as strings.
public struct ProtoJSON: Sendable {
    public let catalog: ProtoCatalog

    public init(catalog: ProtoCatalog) {
        self.catalog = catalog
    }

    /// The wire format of `json` read as a `type` message.
    public func encode(_ json: JSONValue, as type: any ProtoMessage.Type) throws(ProtoJSONError) -> [UInt8] {
        try encode(json, descriptor: MessageDescriptor(type._protobufCDescriptor))
    }

    /// The wire format of `json` read as the message `messageName` (a full name in the catalog).
    public func encode(_ json: JSONValue, messageName: String) throws(ProtoJSONError) -> [UInt8] {
        guard let type = catalog.messages[messageName] else {
            throw ProtoJSONError(path: "$", reason: "no message named \(messageName) is known")
        }
        return try encode(json, as: type)
    }

    /// `bytes`, the wire format of a `type` message, as JSON.
    public func decode(_ bytes: [UInt8], as type: any ProtoMessage.Type) throws(ProtoJSONError) -> JSONValue {
        try decode(bytes, descriptor: MessageDescriptor(type._protobufCDescriptor))
    }

    func encode(_ json: JSONValue, descriptor: MessageDescriptor) throws(ProtoJSONError) -> [UInt8] {
        let arena = ProtoArena.acquire(maxBytes: .max)
        defer { arena.release() }
        let writer = StructWriter(catalog: catalog, arena: arena)
        let message = try writer.message(json, descriptor, path: "$")
        return ProtoArena.pack(message, headroom: 0)
    }

    func decode(_ bytes: [UInt8], descriptor: MessageDescriptor) throws(ProtoJSONError) -> JSONValue {
        let arena = ProtoArena.acquire(maxBytes: ProtoDecodingLimits.default.arenaBytes(forInput: bytes.count))
        defer { arena.release() }
        guard let message = descriptor.unpack(bytes, arena: arena) else {
            throw ProtoJSONError(path: "$", reason: "the bytes are not a valid \(descriptor.name) message")
        }
        return StructReader(catalog: catalog).message(message, descriptor)
    }
}

/// Why JSON could not become a message (or bytes JSON): where (a path such as `$.legs[2].price`) and why.
public struct ProtoJSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
