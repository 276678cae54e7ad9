/// Fields a message's schema does not know, kept in wire format (tags included, in the order they were read)
/// so that a message decoded by an older schema and encoded again loses nothing.
public struct ProtoUnknownFields: Hashable, Sendable {
    /// The wire format of the unknown fields. Always a valid sequence of complete fields.
    public private(set) var wireFormat: [UInt8]

    public init() { wireFormat = [] }

    /// Unknown fields from their wire format; throws when `wireFormat` is not a sequence of complete fields.
    public init(wireFormat: [UInt8]) throws(ProtoDecodingError) {
        var reader = ProtoWireReader(wireFormat)
        while !reader.isAtEnd {
            guard reader.nextField() != nil else {
                throw ProtoDecodingError(.malformed, "unknown fields: malformed wire format")
            }
        }
        self.wireFormat = wireFormat
    }

    public var isEmpty: Bool { wireFormat.isEmpty }

    /// One unknown field: its number, wire type, and the bytes after its tag (a length-delimited field's
    /// bytes include the length prefix).
    public struct Field: Hashable, Sendable {
        public var number: UInt32
        public var wireType: ProtoWireType
        public var data: ArraySlice<UInt8>
    }

    /// The fields, in order.
    public var fields: [Field] {
        var reader = ProtoWireReader(wireFormat)
        var result: [Field] = []
        while let field = reader.nextField() {
            result.append(Field(number: field.number, wireType: field.wireType, data: wireFormat[field.data]))
        }
        return result
    }

    /// Appends a field: `data` is everything after the tag (for `.lengthDelimited`, the length prefix too).
    mutating func append(number: UInt32, wireType: ProtoWireType, data: UnsafeRawBufferPointer) {
        ProtoWireReader.appendVarint(UInt64(number) << 3 | UInt64(wireType.rawValue), to: &wireFormat)
        wireFormat.append(contentsOf: data)
    }

    /// Appends a length-delimited field holding `bytes`.
    mutating func appendLengthDelimited(number: UInt32, bytes: UnsafeRawBufferPointer) {
        ProtoWire.appendLengthDelimitedHeader(number, length: bytes.count, to: &wireFormat)
        wireFormat.append(contentsOf: bytes)
    }

    mutating func append(contentsOf other: ProtoUnknownFields) {
        wireFormat.append(contentsOf: other.wireFormat)
    }
}

/// The protobuf wire types protobuf-c reads (groups are not supported by proto3 or protobuf-c).
public enum ProtoWireType: UInt8, Hashable, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case fixed32 = 5
}
