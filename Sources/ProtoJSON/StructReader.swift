internal import CProtobufC
import JSON
import ProtoCodec

/// Reads protobuf-c message structs (as protobuf-c unpacked them) into JSON, proto3 style: default values
/// left out, 64-bit integers as strings, enums by name (by number when the schema has no name for it).
struct StructReader {
    let catalog: ProtoCatalog

    func message(_ message: UnsafeRawPointer, _ descriptor: MessageDescriptor) -> JSONValue {
        switch descriptor.name {
        case "google.protobuf.Duration":
            let fields = descriptor.fields
            return .string(DurationText.format(
                seconds: message.load(fromByteOffset: fields[0].offset, as: Int64.self),
                nanos: message.load(fromByteOffset: fields[1].offset, as: Int32.self)))
        case "google.protobuf.Any":
            if let any = self.any(message, descriptor) { return any }
        default:
            break
        }
        var object = JSONObject()
        for field in descriptor.fields {
            if field.isOneofMember, message.load(fromByteOffset: field.quantifierOffset, as: UInt32.self) != field.number {
                continue
            }
            if field.isRepeated {
                let count = message.load(fromByteOffset: field.quantifierOffset, as: Int.self)
                guard count > 0, let array = message.load(fromByteOffset: field.offset, as: UnsafeRawPointer?.self) else {
                    continue
                }
                object[field.jsonName] = field.isMap ? map(array, count: count, field) : .array(
                    (0..<count).map { value(at: array + $0 * field.valueSize, field) })
                continue
            }
            if field.hasPresenceFlag, message.load(fromByteOffset: field.quantifierOffset, as: Int32.self) == 0 { continue }
            // proto3: a field at its default is not written (unless its presence is tracked).
            if !field.isOneofMember && !field.hasPresenceFlag && Self.isDefault(at: message + field.offset, field) {
                continue
            }
            object[field.jsonName] = value(at: message + field.offset, field)
        }
        return .object(object)
    }

    private func map(_ array: UnsafeRawPointer, count: Int, _ field: FieldDescriptor) -> JSONValue {
        let entry = field.messageDescriptor
        let keyField = entry.fields[0]
        let valueField = entry.fields[1]
        var object = JSONObject()
        for index in 0..<count {
            let entryMessage = array.load(fromByteOffset: index * field.valueSize, as: UnsafeRawPointer.self)
            let key = switch value(at: entryMessage + keyField.offset, keyField) {
            case .string(let text), .number(let text): text
            case .bool(let flag): String(flag)
            default: ""
            }
            object[key] = value(at: entryMessage + valueField.offset, valueField)
        }
        return .object(object)
    }

    private func value(at source: UnsafeRawPointer, _ field: FieldDescriptor) -> JSONValue {
        switch field.type {
        case PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SFIXED32:
            return .number(source.load(as: Int32.self))
        case PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32:
            return .number(source.load(as: UInt32.self))
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64:
            return .string(String(source.load(as: Int64.self)))
        case PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64:
            return .string(String(source.load(as: UInt64.self)))
        case PROTOBUF_C_TYPE_DOUBLE:
            return Self.floatingPoint(source.load(as: Double.self))
        case PROTOBUF_C_TYPE_FLOAT:
            return Self.floatingPoint(Double(source.load(as: Float.self)))
        case PROTOBUF_C_TYPE_BOOL:
            return .bool(source.load(as: Int32.self) != 0)
        case PROTOBUF_C_TYPE_ENUM:
            let number = source.load(as: Int32.self)
            return field.enumDescriptor.name(of: number).map(JSONValue.string) ?? .number(number)
        case PROTOBUF_C_TYPE_STRING:
            guard let text = source.load(as: UnsafePointer<CChar>?.self) else { return .string("") }
            return .string(String(cString: text))  // Invalid UTF-8 shows as U+FFFD.
        case PROTOBUF_C_TYPE_BYTES:
            let data = source.load(as: ProtobufCBinaryData.self)
            guard data.len > 0, let bytes = data.data else { return .string("") }
            return .string(Base64.encode(Array(UnsafeBufferPointer(start: bytes, count: data.len)), padded: true))
        case PROTOBUF_C_TYPE_MESSAGE:
            guard let nested = source.load(as: UnsafeRawPointer?.self) else { return .null }
            return message(nested, field.messageDescriptor)
        default:
            return .null
        }
    }

    /// google.protobuf.Any with "@type" and the packed message's fields; nil when the type is not in the
    /// catalog or its bytes do not decode (the Any is then written field by field).
    private func any(_ message: UnsafeRawPointer, _ descriptor: MessageDescriptor) -> JSONValue? {
        let fields = descriptor.fields
        guard let url = message.load(fromByteOffset: fields[0].offset, as: UnsafePointer<CChar>?.self) else { return nil }
        let typeURL = String(cString: url)
        guard let type = catalog.messages[typeURL.split(separator: "/").last.map(String.init) ?? ""] else { return nil }
        let data = message.load(fromByteOffset: fields[1].offset, as: ProtobufCBinaryData.self)
        let bytes = data.len == 0 ? [] : Array(UnsafeBufferPointer(start: data.data, count: data.len))
        let inner = MessageDescriptor(type._protobufCDescriptor)
        let arena = ProtoArena.acquire(maxBytes: ProtoDecodingLimits.default.arenaBytes(forInput: bytes.count))
        defer { arena.release() }
        guard let unpacked = inner.unpack(bytes, arena: arena) else { return nil }
        var object: JSONObject = ["@type": .string(typeURL)]
        switch self.message(unpacked, inner) {
        case .object(let innerObject): for member in innerObject.members { object[member.key] = member.value }
        case let value: object["value"] = value
        }
        return .object(object)
    }

    private static func floatingPoint(_ value: Double) -> JSONValue {
        if value.isNaN { return .string("NaN") }
        if value.isInfinite { return .string(value < 0 ? "-Infinity" : "Infinity") }
        return .number(value)
    }

    private static func isDefault(at source: UnsafeRawPointer, _ field: FieldDescriptor) -> Bool {
        switch field.type {
        case PROTOBUF_C_TYPE_STRING:
            return source.load(as: UnsafePointer<CChar>?.self).map { $0.pointee == 0 } ?? true
        case PROTOBUF_C_TYPE_BYTES:
            return source.load(as: ProtobufCBinaryData.self).len == 0
        default:  // Numbers, bools, enums and message pointers: all bits zero.
            return UnsafeRawBufferPointer(start: source, count: field.valueSize).allSatisfy { $0 == 0 }
        }
    }
}
