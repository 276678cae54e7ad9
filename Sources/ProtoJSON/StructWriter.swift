internal import CProtobufC
import JSON
import ProtoCodec

/// Writes JSON into protobuf-c message structs allocated in an arena.
struct StructWriter {
    let catalog: ProtoCatalog
    let arena: ProtoArena

    /// A `ProtobufCMessage *` for `json` read as a `descriptor` message.
    func message(_ json: JSONValue, _ descriptor: MessageDescriptor, path: String) throws(ProtoJSONError)
        -> UnsafeMutableRawPointer
    {
        switch descriptor.name {
        case "google.protobuf.Duration": return try duration(json, descriptor, path: path)
        case "google.protobuf.Any": return try any(json, descriptor, path: path)
        default: break
        }
        guard case .object(let object) = json else {
            throw ProtoJSONError(path: path, reason: "expected an object for \(descriptor.name)")
        }
        return try fields(of: object, descriptor, path: path)
    }

    private func fields(of object: JSONObject, _ descriptor: MessageDescriptor, path: String) throws(ProtoJSONError)
        -> UnsafeMutableRawPointer
    {
        let message = descriptor.makeMessage(in: arena)
        var oneofMembersSet: [Int: String] = [:]  // by the oneof's case offset
        for (key, value) in object.members {
            let fieldPath = path + "." + key
            guard let field = descriptor.field(named: key) else {
                throw ProtoJSONError(path: fieldPath, reason: "\(descriptor.name) has no field named \"\(key)\"")
            }
            if value == .null { continue }  // The default.
            if field.isOneofMember {
                if let other = oneofMembersSet.updateValue(key, forKey: field.quantifierOffset) {
                    throw ProtoJSONError(path: fieldPath, reason: "\"\(other)\" is already set, and is in the same oneof")
                }
                (message + field.quantifierOffset).storeBytes(of: field.number, as: UInt32.self)
            }
            if field.isMap {
                try map(value, field, into: message, path: fieldPath)
            } else if field.isRepeated {
                guard case .array(let elements) = value else {
                    throw ProtoJSONError(path: fieldPath, reason: "expected an array for the repeated field \(field.name)")
                }
                let array = arena.allocate(byteCount: max(1, elements.count) * field.valueSize)
                for (index, element) in elements.enumerated() {
                    try store(element, field, at: array + index * field.valueSize, path: "\(fieldPath)[\(index)]")
                }
                storeRepeated(array, count: elements.count, field, into: message)
            } else {
                try store(value, field, at: message + field.offset, path: fieldPath)
                if field.hasPresenceFlag { (message + field.quantifierOffset).storeBytes(of: Int32(1), as: Int32.self) }
            }
        }
        return message
    }

    private func storeRepeated(_ array: UnsafeMutableRawPointer, count: Int, _ field: FieldDescriptor,
                               into message: UnsafeMutableRawPointer)
    {
        (message + field.quantifierOffset).storeBytes(of: count, as: Int.self)  // size_t n_<field>
        (message + field.offset).storeBytes(of: count == 0 ? nil : array, as: UnsafeMutableRawPointer?.self)
    }

    /// A map field from a JSON object: one entry message per member (keys are JSON strings whatever their type),
    /// in key order, so that equal maps encode to equal bytes (as the generated code and protobuf's deterministic
    /// encoders write them).
    private func map(_ json: JSONValue, _ field: FieldDescriptor, into message: UnsafeMutableRawPointer,
                     path: String) throws(ProtoJSONError)
    {
        guard case .object(let object) = json else {
            throw ProtoJSONError(path: path, reason: "expected an object for the map field \(field.name)")
        }
        let entry = field.messageDescriptor
        let keyField = entry.fields[0]
        let valueField = entry.fields[1]
        let array = arena.allocate(byteCount: max(1, object.members.count) * field.valueSize)
        for (index, member) in Self.sortedByKey(object.members, keyField).enumerated() {
            let memberPath = "\(path)[\"\(member.key)\"]"
            let entryMessage = entry.makeMessage(in: arena)
            let key: JSONValue = switch keyField.type {
            case PROTOBUF_C_TYPE_BOOL where member.key == "true": .bool(true)
            case PROTOBUF_C_TYPE_BOOL where member.key == "false": .bool(false)
            case PROTOBUF_C_TYPE_STRING, PROTOBUF_C_TYPE_BOOL: .string(member.key)
            default: .number(member.key)
            }
            try store(key, keyField, at: entryMessage + keyField.offset, path: memberPath)
            if member.value != .null {
                try store(member.value, valueField, at: entryMessage + valueField.offset, path: memberPath)
            }
            (array + index * field.valueSize).storeBytes(of: entryMessage, as: UnsafeMutableRawPointer.self)
        }
        storeRepeated(array, count: object.members.count, field, into: message)
    }

    private static func sortedByKey(_ members: [(key: String, value: JSONValue)], _ keyField: FieldDescriptor)
        -> [(key: String, value: JSONValue)]
    {
        switch keyField.type {
        case PROTOBUF_C_TYPE_STRING, PROTOBUF_C_TYPE_BOOL:
            return members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        case PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32, PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64:
            return members.sorted { (UInt64($0.key) ?? 0) < (UInt64($1.key) ?? 0) }
        default:
            return members.sorted { (Int64($0.key) ?? 0) < (Int64($1.key) ?? 0) }
        }
    }

    /// One value of `field` at `target` (in the struct, or in a repeated field's array).
    private func store(_ json: JSONValue, _ field: FieldDescriptor, at target: UnsafeMutableRawPointer,
                       path: String) throws(ProtoJSONError)
    {
        switch field.type {
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SFIXED32:
            target.storeBytes(of: try integer(json, Int32.self, path: path), as: Int32.self)
        case PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32:
            target.storeBytes(of: try integer(json, UInt32.self, path: path), as: UInt32.self)
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64:
            target.storeBytes(of: try integer(json, Int64.self, path: path), as: Int64.self)
        case PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64:
            target.storeBytes(of: try integer(json, UInt64.self, path: path), as: UInt64.self)
        case PROTOBUF_C_TYPE_DOUBLE:
            target.storeBytes(of: try floatingPoint(json, path: path), as: Double.self)
        case PROTOBUF_C_TYPE_FLOAT:
            let value = try floatingPoint(json, path: path)
            guard !value.isFinite || abs(value) <= Double(Float.greatestFiniteMagnitude) else {
                throw ProtoJSONError(path: path, reason: "\(value) is out of range for a float")
            }
            target.storeBytes(of: Float(value), as: Float.self)
        case PROTOBUF_C_TYPE_BOOL:
            guard case .bool(let value) = json else { throw ProtoJSONError(path: path, reason: "expected true or false") }
            target.storeBytes(of: Int32(value ? 1 : 0), as: Int32.self)  // protobuf_c_boolean
        case PROTOBUF_C_TYPE_ENUM:
            target.storeBytes(of: try enumValue(json, field.enumDescriptor, path: path), as: Int32.self)
        case PROTOBUF_C_TYPE_STRING:
            guard case .string(let text) = json else { throw ProtoJSONError(path: path, reason: "expected a string") }
            target.storeBytes(of: try cString(text, path: path), as: UnsafeMutableRawPointer.self)
        case PROTOBUF_C_TYPE_BYTES:
            guard case .string(let text) = json, let bytes = Base64.decode(text) else {
                throw ProtoJSONError(path: path, reason: "expected a base64 string for bytes")
            }
            target.storeBytes(of: binary(bytes), as: ProtobufCBinaryData.self)
        case PROTOBUF_C_TYPE_MESSAGE:
            target.storeBytes(of: try message(json, field.messageDescriptor, path: path), as: UnsafeMutableRawPointer.self)
        default:
            throw ProtoJSONError(path: path, reason: "field \(field.name) has a type protobuf-c does not define")
        }
    }

    private func integer<Integer: FixedWidthInteger>(_ json: JSONValue, _ type: Integer.Type, path: String)
        throws(ProtoJSONError) -> Integer
    {
        let text: String
        switch json {
        case .number(let literal): text = literal
        case .string(let quoted): text = quoted
        default: throw ProtoJSONError(path: path, reason: "expected an integer")
        }
        if let value = Integer(text) { return value }
        // 1e3 and 5.0 are integers too, when exact.
        if let double = Double(text), double == double.rounded(), abs(double) < 0x1p53, let value = Integer(exactly: double) {
            return value
        }
        throw ProtoJSONError(path: path, reason: "\(text) is not an integer in the range of \(Integer.self)")
    }

    private func floatingPoint(_ json: JSONValue, path: String) throws(ProtoJSONError) -> Double {
        switch json {
        case .number(let text): if let value = Double(text) { return value }
        case .string("NaN"): return .nan
        case .string("Infinity"): return .infinity
        case .string("-Infinity"): return -.infinity
        case .string(let text): if let value = Double(text), value.isFinite { return value }
        default: break
        }
        throw ProtoJSONError(path: path, reason: "expected a number")
    }

    private func enumValue(_ json: JSONValue, _ descriptor: EnumDescriptor, path: String) throws(ProtoJSONError) -> Int32 {
        switch json {
        case .string(let name):
            guard let value = descriptor.value(named: name) else {
                throw ProtoJSONError(path: path, reason: "\(descriptor.name) has no value named \(name)")
            }
            return value
        case .number:
            return try integer(json, Int32.self, path: path)  // Unknown numbers are kept, as proto3 enums are open.
        default:
            throw ProtoJSONError(path: path, reason: "expected a \(descriptor.name) name or number")
        }
    }

    /// A NUL-terminated copy in the arena. protobuf-c measures strings with strlen, so an embedded NUL would
    /// silently cut the string: it is an error instead.
    private func cString(_ text: String, path: String) throws(ProtoJSONError) -> UnsafeMutableRawPointer {
        let utf8 = Array(text.utf8)
        guard !utf8.contains(0) else {
            throw ProtoJSONError(path: path, reason: "the string contains U+0000, which protobuf-c cannot encode")
        }
        let target = arena.allocate(byteCount: utf8.count + 1)
        target.copyMemory(from: utf8, byteCount: utf8.count)
        target.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
        return target
    }

    private func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        let data = arena.allocate(byteCount: max(1, bytes.count))
        data.copyMemory(from: bytes, byteCount: bytes.count)
        return ProtobufCBinaryData(len: bytes.count, data: data.assumingMemoryBound(to: UInt8.self))
    }

    // MARK: - Well-known types with their own JSON form

    /// google.protobuf.Duration: "1.5s", "-0.000000001s".
    private func duration(_ json: JSONValue, _ descriptor: MessageDescriptor, path: String) throws(ProtoJSONError)
        -> UnsafeMutableRawPointer
    {
        guard case .string(let text) = json, let (seconds, nanos) = DurationText.parse(text) else {
            throw ProtoJSONError(path: path, reason: "expected a duration such as \"1.5s\"")
        }
        let message = descriptor.makeMessage(in: arena)
        let fields = descriptor.fields
        (message + fields[0].offset).storeBytes(of: seconds, as: Int64.self)
        (message + fields[1].offset).storeBytes(of: nanos, as: Int32.self)
        return message
    }

    /// google.protobuf.Any: {"@type": "type.googleapis.com/pkg.Message", ...its fields} (or "value" for a type
    /// with its own JSON form).
    private func any(_ json: JSONValue, _ descriptor: MessageDescriptor, path: String) throws(ProtoJSONError)
        -> UnsafeMutableRawPointer
    {
        guard case .object(var object) = json, case .string(let typeURL)? = object["@type"] else {
            throw ProtoJSONError(path: path, reason: "expected an object with \"@type\" for google.protobuf.Any")
        }
        let name = typeURL.split(separator: "/").last.map(String.init) ?? ""
        guard let type = catalog.messages[name] else {
            throw ProtoJSONError(path: path + ".@type", reason: "no message named \(name) is known")
        }
        object["@type"] = nil
        let inner = MessageDescriptor(type._protobufCDescriptor)
        let packed: UnsafeMutableRawPointer
        if DurationText.hasOwnJSONForm(inner.name) {
            packed = try message(object["value"] ?? .null, inner, path: path + ".value")
        } else {
            packed = try fields(of: object, inner, path: path)
        }
        let value = ProtoArena.pack(packed, headroom: 0)
        let message = descriptor.makeMessage(in: arena)
        let fields = descriptor.fields
        (message + fields[0].offset).storeBytes(of: try cString(typeURL, path: path), as: UnsafeMutableRawPointer.self)
        (message + fields[1].offset).storeBytes(of: binary(value), as: ProtobufCBinaryData.self)
        return message
    }
}

/// The text form of google.protobuf.Duration.
enum DurationText {
    /// Whether a well-known type is written as a JSON value rather than an object (inside Any: as "value").
    static func hasOwnJSONForm(_ name: String) -> Bool { name == "google.protobuf.Duration" }

    /// "1.5s" → (1, 500000000); "-0.25s" → (0, -250000000). Nil for anything else.
    static func parse(_ text: String) -> (seconds: Int64, nanos: Int32)? {
        guard text.hasSuffix("s") else { return nil }
        var body = Substring(text.dropLast())
        let negative = body.hasPrefix("-")
        if negative { body = body.dropFirst() }
        let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit), let seconds = Int64(whole),
            seconds <= 315_576_000_000
        else { return nil }
        var nanos: Int32 = 0
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.count <= 9, fraction.allSatisfy(\.isASCIIDigit) else { return nil }
            nanos = Int32(fraction + String(repeating: "0", count: 9 - fraction.count))!
        }
        return negative ? (-seconds, -nanos) : (seconds, nanos)
    }

    /// The shortest exact text: "1.500s" style with 0, 3, 6 or 9 fractional digits, as protobuf writes it.
    static func format(seconds: Int64, nanos: Int32) -> String {
        let negative = seconds < 0 || nanos < 0
        let whole = seconds.magnitude
        var fraction = nanos.magnitude
        var digits = 9
        while digits > 0 && fraction % 1000 == 0 {
            fraction /= 1000
            digits -= 3
        }
        var text = (negative ? "-" : "") + String(whole)
        if digits > 0 {
            let padded = String(fraction)
            text += "." + String(repeating: "0", count: digits - padded.count) + padded
        }
        return text + "s"
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
