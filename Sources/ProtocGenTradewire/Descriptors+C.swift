import CProtobufC
import CProtocPlugin

/// Builds the Swift model from protobuf-c's unpacked `CodeGeneratorRequest`. The C tree must stay alive while
/// these initialisers run; the results own no C memory.

func cString(_ pointer: UnsafePointer<CChar>?) -> String {
    pointer.map { String(cString: $0) } ?? ""
}

func cArray<T>(_ pointer: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ count: Int) -> [UnsafeMutablePointer<T>] {
    guard let pointer else { return [] }
    return (0..<count).compactMap { pointer[$0] }
}

extension FileDescriptor {
    init(_ c: UnsafeMutablePointer<Google__Protobuf__FileDescriptorProto>) {
        let file = c.pointee
        name = cString(file.name)
        package = cString(file.package)
        syntax = cString(file.syntax)
        swiftPrefix = file.options.flatMap { $0.pointee.swift_prefix.map { String(cString: $0) } }
        dependencies = (0..<file.n_dependency).map { cString(file.dependency[$0]) }
        let prefix = package.isEmpty ? "" : "." + package
        messages = cArray(file.message_type, file.n_message_type).enumerated().map {
            MessageDescriptor($0.element, scope: prefix, path: [DescriptorPath.fileMessage, Int32($0.offset)])
        }
        enums = cArray(file.enum_type, file.n_enum_type).enumerated().map {
            EnumDescriptor($0.element, scope: prefix, path: [DescriptorPath.fileEnum, Int32($0.offset)])
        }
        services = cArray(file.service, file.n_service).enumerated().map {
            ServiceDescriptor($0.element, scope: prefix, path: [DescriptorPath.fileService, Int32($0.offset)])
        }
        hasExtensions = file.n_extension > 0
        comments = [:]
        if let info = file.source_code_info {
            for location in cArray(info.pointee.location, info.pointee.n_location) {
                let loc = location.pointee
                guard let text = loc.leading_comments.map({ String(cString: $0) }), !text.isEmpty else { continue }
                let path = (0..<loc.n_path).map { loc.path[$0] }
                comments[path] = text
            }
        }
    }
}

extension MessageDescriptor {
    init(_ c: UnsafeMutablePointer<Google__Protobuf__DescriptorProto>, scope: String, path: [Int32]) {
        let message = c.pointee
        name = cString(message.name)
        let full = scope + "." + name
        fullName = String(full.dropFirst())
        self.path = path
        isMapEntry = message.options.map { $0.pointee.has_map_entry != 0 && $0.pointee.map_entry != 0 } ?? false
        oneofs = cArray(message.oneof_decl, message.n_oneof_decl).map { cString($0.pointee.name) }
        fields = cArray(message.field, message.n_field).enumerated().map {
            FieldDescriptor($0.element, path: path + [DescriptorPath.messageField, Int32($0.offset)])
        }
        messages = cArray(message.nested_type, message.n_nested_type).enumerated().map {
            MessageDescriptor($0.element, scope: full, path: path + [DescriptorPath.messageNested, Int32($0.offset)])
        }
        enums = cArray(message.enum_type, message.n_enum_type).enumerated().map {
            EnumDescriptor($0.element, scope: full, path: path + [DescriptorPath.messageEnum, Int32($0.offset)])
        }
    }
}

extension FieldDescriptor {
    init(_ c: UnsafeMutablePointer<Google__Protobuf__FieldDescriptorProto>, path: [Int32]) {
        let field = c.pointee
        name = cString(field.name)
        number = field.number
        switch field.label {
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED: label = .repeated
        case GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED: label = .required
        default: label = .optional
        }
        kind = Self.kinds[Int(field.type.rawValue)] ?? .group
        typeName = String(cString(field.type_name).drop(while: { $0 == "." }))
        oneofIndex = field.has_oneof_index != 0 ? Int(field.oneof_index) : nil
        isProto3Optional = field.has_proto3_optional != 0 && field.proto3_optional != 0
        self.path = path
    }

    /// FieldDescriptorProto.Type numbers.
    private static let kinds: [Int: Kind] = [
        1: .double, 2: .float, 3: .int64, 4: .uint64, 5: .int32, 6: .fixed64, 7: .fixed32, 8: .bool, 9: .string,
        10: .group, 11: .message, 12: .bytes, 13: .uint32, 14: .enumeration, 15: .sfixed32, 16: .sfixed64,
        17: .sint32, 18: .sint64,
    ]
}

extension EnumDescriptor {
    init(_ c: UnsafeMutablePointer<Google__Protobuf__EnumDescriptorProto>, scope: String, path: [Int32]) {
        let descriptor = c.pointee
        name = cString(descriptor.name)
        fullName = String((scope + "." + name).dropFirst())
        self.path = path
        values = cArray(descriptor.value, descriptor.n_value).enumerated().map {
            Value(
                name: cString($0.element.pointee.name), number: $0.element.pointee.number,
                path: path + [DescriptorPath.enumValue, Int32($0.offset)])
        }
    }
}

extension ServiceDescriptor {
    init(_ c: UnsafeMutablePointer<Google__Protobuf__ServiceDescriptorProto>, scope: String, path: [Int32]) {
        let service = c.pointee
        name = cString(service.name)
        fullName = String((scope + "." + name).dropFirst())
        self.path = path
        methods = cArray(service.method, service.n_method).enumerated().map {
            let method = $0.element.pointee
            return Method(
                name: cString(method.name),
                inputType: String(cString(method.input_type).drop(while: { $0 == "." })),
                outputType: String(cString(method.output_type).drop(while: { $0 == "." })),
                clientStreaming: method.client_streaming != 0, serverStreaming: method.server_streaming != 0,
                path: path + [DescriptorPath.serviceMethod, Int32($0.offset)], httpRules: HTTPRuleModel.rules(in: method.options))
        }
    }
}

extension HTTPRuleModel {
    /// `google.api.http`'s field number in MethodOptions (googleapis' annotations.proto).
    static let extensionNumber: UInt32 = 72_295_728

    /// The bindings in a method's options: protobuf-c keeps the extension as an unknown field, whose bytes are an
    /// HttpRule, read here by hand (the generator links no code for http.proto).
    static func rules(in options: UnsafeMutablePointer<Google__Protobuf__MethodOptions>?) -> [HTTPRuleModel] {
        guard let base = options?.pointee.base, base.n_unknown_fields > 0 else { return [] }
        var rules: [HTTPRuleModel] = []
        for index in 0..<Int(base.n_unknown_fields) {
            let field = base.unknown_fields[index]
            guard field.tag == extensionNumber, field.wire_type == PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED else { continue }
            // protobuf-c keeps a length-delimited unknown field's bytes with their length prefix.
            var reader = WireReader(bytes: Array(UnsafeBufferPointer(start: field.data, count: field.len)))
            guard let length = reader.varint(), length == UInt64(reader.bytes.count - reader.offset) else { continue }
            rules += parse(Array(reader.bytes[reader.offset...]), nested: false)
        }
        return rules
    }

    /// An HttpRule's bindings: its own, then its additional_bindings' (field 11).
    static func parse(_ bytes: [UInt8], nested: Bool) -> [HTTPRuleModel] {
        var rule = HTTPRuleModel(verb: "", pattern: "", body: "", responseBody: "")
        var additional: [HTTPRuleModel] = []
        var reader = WireReader(bytes: bytes)
        while let (number, value) = reader.nextLengthDelimited() {
            let text = String(decoding: value, as: UTF8.self)
            switch number {
            case 2: (rule.verb, rule.pattern) = ("GET", text)
            case 3: (rule.verb, rule.pattern) = ("PUT", text)
            case 4: (rule.verb, rule.pattern) = ("POST", text)
            case 5: (rule.verb, rule.pattern) = ("DELETE", text)
            case 6: (rule.verb, rule.pattern) = ("PATCH", text)
            case 7: rule.body = text
            case 8:
                var custom = WireReader(bytes: value)
                while let (field, part) = custom.nextLengthDelimited() {
                    if field == 1 { rule.verb = String(decoding: part, as: UTF8.self) }
                    if field == 2 { rule.pattern = String(decoding: part, as: UTF8.self) }
                }
            case 11 where !nested: additional += parse(value, nested: true)
            case 12: rule.responseBody = text
            default: break
            }
        }
        return (rule.verb.isEmpty ? [] : [rule]) + additional
    }
}

/// The length-delimited fields of protobuf bytes, skipping the others (all HttpRule has, apart from none).
struct WireReader {
    let bytes: [UInt8]
    var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    mutating func nextLengthDelimited() -> (UInt32, [UInt8])? {
        while offset < bytes.count {
            guard let key = varint() else { return nil }
            switch key & 7 {
            case 0: guard varint() != nil else { return nil }
            case 1: offset += 8
            case 5: offset += 4
            case 2:
                guard let length = varint(), length <= UInt64(bytes.count - offset) else { return nil }
                let start = offset
                offset += Int(length)
                return (UInt32(key >> 3), Array(bytes[start..<offset]))
            default: return nil
            }
        }
        return nil
    }
}
