internal import CProtoSupport
internal import CProtobufC

#if canImport(Glibc)
import Glibc
#endif

/// Conversions from protobuf-c's C tree to Swift values, called by generated code only.
///
/// Every pointer passed in comes from a tree protobuf-c unpacked into a ``ProtoArena`` and must not be used
/// after that arena's closure returns; the results are independent Swift values.
public enum _ProtoC {
    /// A string field. protobuf-c copies a string into an allocation of exactly its length plus one, so the
    /// arena's size header gives its true length even when it holds NUL bytes. Throws for invalid UTF-8.
    public static func string(_ pointer: UnsafePointer<CChar>?, field: StaticString) throws(ProtoDecodingError)
        -> String
    {
        guard let pointer, UnsafeMutablePointer(mutating: pointer) != tw_empty_string() else { return "" }
        let count = tw_arena_size_of(pointer) - 1
        // The common case, no NUL inside: one non-generic pass that validates and builds the string.
        if strlen(pointer) == count, let string = String(validatingCString: pointer) { return string }
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: count)
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw ProtoDecodingError(.invalidUTF8, "\(field): invalid UTF-8 in string field")
        }
        return string
    }

    /// A repeated string field.
    public static func strings(
        _ pointers: UnsafePointer<UnsafeMutablePointer<CChar>?>?, count: Int, field: StaticString
    ) throws(ProtoDecodingError) -> [String] {
        guard let pointers, count > 0 else { return [] }
        var result: [String] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            result.append(try string(pointers[index], field: field))
        }
        return result
    }

    /// A bytes field.
    public static func bytes(_ data: UnsafePointer<UInt8>?, count: Int) -> [UInt8] {
        guard let data, count > 0 else { return [] }
        return [UInt8](UnsafeBufferPointer(start: data, count: count))
    }

    /// The unknown fields protobuf-c kept for `message` (a `ProtobufCMessage *`).
    public static func unknownFields(_ message: UnsafeRawPointer) -> ProtoUnknownFields {
        let base = message.assumingMemoryBound(to: ProtobufCMessage.self).pointee
        var fields = ProtoUnknownFields()
        guard base.n_unknown_fields > 0, let list = base.unknown_fields else { return fields }
        for index in 0..<Int(base.n_unknown_fields) {
            let field = list[index]
            guard let wireType = ProtoWireType(rawValue: UInt8(truncatingIfNeeded: field.wire_type.rawValue)) else {
                continue  // protobuf-c rejects other wire types before it gets here.
            }
            fields.append(
                number: field.tag, wireType: wireType, data: UnsafeRawBufferPointer(start: field.data, count: field.len))
        }
        return fields
    }

    /// The error for an unpack that returned NULL: the arena's bound, or malformed input.
    public static func unpackFailure(_ arena: ProtoArena, message: String) -> ProtoDecodingError {
        arena.isExhausted
            ? ProtoDecodingError(.tooLarge, "\(message): decoded form exceeds the decoding memory limit")
            : ProtoDecodingError(.malformed, "\(message): malformed wire format")
    }
}

/// Building protobuf-c's C tree from Swift values, called by generated code only.
extension ProtoArena {
    /// A NUL-terminated copy of `string` for a string field numbered `number` (the shared empty string for "").
    ///
    /// protobuf-c measures strings with strlen, so a string holding NUL would be cut short. Such a string is
    /// instead appended to `unknown` as a complete length-delimited field, and nil is returned: the caller
    /// leaves the C field unset and the field is written from the unknown-field list, with every byte.
    public func cString(_ string: String, number: UInt32, unknown: inout ProtoUnknownFields)
        -> UnsafeMutablePointer<CChar>?
    {
        if string.isEmpty { return tw_empty_string() }
        return copyString(string, number: number, unknown: &unknown)
    }

    /// As ``cString(_:number:unknown:)`` for a oneof member: "" gets a pointer of its own, because protobuf-c
    /// skips a oneof member that points at protobuf_c_empty_string (its default) and "" would be lost.
    public func cOneofString(_ string: String, number: UInt32, unknown: inout ProtoUnknownFields)
        -> UnsafeMutablePointer<CChar>?
    {
        copyString(string, number: number, unknown: &unknown)
    }

    private func copyString(_ string: String, number: UInt32, unknown: inout ProtoUnknownFields)
        -> UnsafeMutablePointer<CChar>?
    {
        withUTF8(of: string) { bytes in
            if bytes.count > 0, memchr(bytes.baseAddress!, 0, bytes.count) != nil {
                unknown.appendLengthDelimited(number: number, bytes: UnsafeRawBufferPointer(bytes))
                return nil
            }
            guard let copy = tw_arena_strndup(arena, bytes.baseAddress, bytes.count) else {
                fatalError("ProtoArena: out of memory copying a string")
            }
            return copy
        }
    }

    /// C strings for a repeated string field. If any element holds NUL, every element goes to `unknown` (in
    /// order, so the field's order is kept) and the C array is empty.
    public func cStrings(_ strings: [String], number: UInt32, unknown: inout ProtoUnknownFields)
        -> (count: Int, pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?)
    {
        if strings.isEmpty { return (0, nil) }
        let pointers = array(of: UnsafeMutablePointer<CChar>?.self, count: strings.count)
        var escaped = ProtoUnknownFields()
        for (index, string) in strings.enumerated() {
            pointers[index] = cString(string, number: number, unknown: &escaped)
        }
        if escaped.isEmpty { return (strings.count, pointers) }
        for string in strings {
            withUTF8(of: string) { unknown.appendLengthDelimited(number: number, bytes: UnsafeRawBufferPointer($0)) }
        }
        return (0, nil)
    }

    /// A copy of `bytes` for a bytes field (nil when empty).
    public func cBytes(_ bytes: [UInt8]) -> UnsafeMutablePointer<UInt8>? { copy(bytes) }

    /// Sets `message`'s (a `ProtobufCMessage *`) unknown-field list to `known` followed by `escaped`.
    public func setUnknownFields(_ message: UnsafeMutableRawPointer, _ known: ProtoUnknownFields, _ escaped: ProtoUnknownFields) {
        if known.isEmpty && escaped.isEmpty { return }
        var wire = known.wireFormat
        wire.append(contentsOf: escaped.wireFormat)
        let storage = allocate(byteCount: wire.count)
        wire.withUnsafeBytes { storage.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        var reader = ProtoWireReader(wire)
        var entries: [ProtobufCMessageUnknownField] = []
        while let field = reader.nextField() {
            entries.append(
                ProtobufCMessageUnknownField(
                    tag: field.number, wire_type: ProtobufCWireType(rawValue: UInt32(field.wireType.rawValue)),
                    len: field.data.count,
                    data: (storage + field.data.lowerBound).assumingMemoryBound(to: UInt8.self)))
        }
        let base = message.assumingMemoryBound(to: ProtobufCMessage.self)
        base.pointee.n_unknown_fields = UInt32(entries.count)
        base.pointee.unknown_fields = copy(entries)
    }

    private func withUTF8<R>(of string: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = string.utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = string
        return copy.withUTF8(body)
    }
}

/// Map keys in the order they are encoded: ascending, strings by UTF-8 bytes (as protobuf's deterministic
/// serialisation orders them), so that equal maps encode to equal bytes.
extension _ProtoC {
    public static func sortedKeys<Key: FixedWidthInteger, Value>(_ map: [Key: Value]) -> [Key] {
        map.keys.sorted()
    }

    public static func sortedKeys<Value>(_ map: [String: Value]) -> [String] {
        map.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    public static func sortedKeys<Value>(_ map: [Bool: Value]) -> [Bool] {
        map.keys.sorted { !$0 && $1 }
    }
}
