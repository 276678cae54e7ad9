internal import CProtobufC
import ProtoCodec

/// A protobuf-c message descriptor (static data, valid for the life of the process).
struct MessageDescriptor: @unchecked Sendable {
    // @unchecked Sendable: points at immutable static data.
    let raw: UnsafePointer<ProtobufCMessageDescriptor>

    init(_ pointer: UnsafeRawPointer) {
        raw = pointer.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
    }

    /// The full name, `package.Message`.
    var name: String { String(cString: raw.pointee.name) }

    var fields: [FieldDescriptor] {
        (0..<Int(raw.pointee.n_fields)).map { FieldDescriptor(raw: raw.pointee.fields + $0) }
    }

    /// The field whose .proto or JSON name is `key`.
    func field(named key: String) -> FieldDescriptor? {
        fields.first { $0.name == key || $0.jsonName == key }
    }

    /// A message struct in `arena` with every field at its default.
    func makeMessage(in arena: ProtoArena) -> UnsafeMutableRawPointer {
        let message = arena.allocate(byteCount: raw.pointee.sizeof_message)
        raw.pointee.message_init(message.assumingMemoryBound(to: ProtobufCMessage.self))
        return message
    }

    /// protobuf-c's unpacking of `bytes` into `arena`; nil for invalid bytes.
    func unpack(_ bytes: [UInt8], arena: ProtoArena) -> UnsafeRawPointer? {
        bytes.withUnsafeBufferPointer { buffer in
            protobuf_c_message_unpack(
                raw, UnsafeMutablePointer<ProtobufCAllocator>(arena.allocator), buffer.count, buffer.baseAddress)
                .map { UnsafeRawPointer($0) }
        }
    }

    /// A map's entry message, as protoc generates it: `FooEntry` with `key` = 1 and `value` = 2.
    var isMapEntry: Bool {
        let fields = self.fields
        return String(cString: raw.pointee.short_name).hasSuffix("Entry") && fields.count == 2
            && fields[0].name == "key" && fields[0].number == 1 && fields[1].name == "value" && fields[1].number == 2
    }
}

/// One field of a protobuf-c message descriptor.
struct FieldDescriptor {
    let raw: UnsafePointer<ProtobufCFieldDescriptor>

    var name: String { String(cString: raw.pointee.name) }
    var number: UInt32 { raw.pointee.id }
    var type: ProtobufCType { raw.pointee.type }
    var offset: Int { Int(raw.pointee.offset) }
    var quantifierOffset: Int { Int(raw.pointee.quantifier_offset) }
    var isRepeated: Bool { raw.pointee.label == PROTOBUF_C_LABEL_REPEATED }
    var isOneofMember: Bool { raw.pointee.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0 }

    /// Whether presence is a separate `has_` flag (proto2 `optional` scalars and bytes).
    var hasPresenceFlag: Bool {
        raw.pointee.label == PROTOBUF_C_LABEL_OPTIONAL && !isOneofMember
            && type != PROTOBUF_C_TYPE_MESSAGE && type != PROTOBUF_C_TYPE_STRING
    }

    /// The name proto3 JSON writes: lowerCamelCase of the .proto name.
    var jsonName: String {
        var result = ""
        var upperNext = false
        for character in name {
            if character == "_" {
                upperNext = true
            } else {
                result.append(upperNext ? Character(character.uppercased()) : character)
                upperNext = false
            }
        }
        return result
    }

    var messageDescriptor: MessageDescriptor { MessageDescriptor(raw.pointee.descriptor!) }
    var enumDescriptor: EnumDescriptor {
        EnumDescriptor(raw: raw.pointee.descriptor!.assumingMemoryBound(to: ProtobufCEnumDescriptor.self))
    }

    /// Bytes one value of this field takes in the struct (or in a repeated field's array).
    var valueSize: Int {
        switch type {
        case PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64, PROTOBUF_C_TYPE_SFIXED64, PROTOBUF_C_TYPE_UINT64,
            PROTOBUF_C_TYPE_FIXED64, PROTOBUF_C_TYPE_DOUBLE:
            return 8
        case PROTOBUF_C_TYPE_STRING, PROTOBUF_C_TYPE_MESSAGE: return MemoryLayout<UnsafeRawPointer>.size
        case PROTOBUF_C_TYPE_BYTES: return MemoryLayout<ProtobufCBinaryData>.stride
        default: return 4
        }
    }

    /// A map field: repeated entries of a `key`/`value` message.
    var isMap: Bool { isRepeated && type == PROTOBUF_C_TYPE_MESSAGE && messageDescriptor.isMapEntry }
}

/// A protobuf-c enum descriptor.
struct EnumDescriptor {
    let raw: UnsafePointer<ProtobufCEnumDescriptor>

    var name: String { String(cString: raw.pointee.name) }

    func value(named name: String) -> Int32? {
        for index in 0..<Int(raw.pointee.n_values) where String(cString: raw.pointee.values[index].name) == name {
            return raw.pointee.values[index].value
        }
        return nil
    }

    func name(of value: Int32) -> String? {
        for index in 0..<Int(raw.pointee.n_values) where raw.pointee.values[index].value == value {
            return String(cString: raw.pointee.values[index].name)
        }
        return nil
    }
}
