/// A message field with everything code generation needs resolved: Swift and C names and types.
struct FieldModel {
    /// The type of one value of the field (an element, for repeated fields).
    enum Base {
        /// A number whose Swift and C types coincide (Int32, UInt64, Double…).
        case number(String)
        case bool
        case string
        case bytes
        /// `zero` is the Swift case of the value 0, proto3's default.
        case enumeration(swift: String, c: String, zero: String)
        case message(swift: String, c: String, function: String)
    }

    indirect enum Shape {
        case singular
        case repeated
        case map(key: FieldModel, value: FieldModel, entryC: String, entryFunction: String)
        case oneof(index: Int)
    }

    let number: Int32
    /// The property (or oneof case) name, escaped for use as an identifier.
    let property: String
    let cMember: String
    /// `package.Message.field` (`package.Message.map_field[key]` for a map's keys), for error messages.
    private(set) var fullName: String
    let base: Base
    let shape: Shape
    let comment: String?

    init(_ field: FieldDescriptor, in message: MessageDescriptor, comment: String?, types: TypeTable) throws {
        guard !field.isProto3Optional else {
            throw GeneratorError("\(message.fullName).\(field.name): proto3 `optional` is not supported (protoc-c 1.4 rejects it)")
        }
        guard field.label != .required, field.kind != .group else {
            throw GeneratorError("\(message.fullName).\(field.name): proto2 required fields and groups are not supported")
        }
        number = field.number
        property = SwiftNames.escaped(SwiftNames.property(field.name))
        cMember = CNames.member(field.name)
        fullName = "\(message.fullName).\(field.name)"
        self.comment = comment
        base = try Self.base(of: field, types: types)
        if let index = field.oneofIndex {
            shape = .oneof(index: index)
        } else if field.label == .repeated, let entry = types.message(field.typeName), entry.isMapEntry,
            let key = entry.fields.first(where: { $0.number == 1 }),
            let value = entry.fields.first(where: { $0.number == 2 })
        {
            var keyModel = try FieldModel(key, in: entry, comment: nil, types: types)
            var valueModel = try FieldModel(value, in: entry, comment: nil, types: types)
            keyModel.fullName = fullName + "[key]"
            valueModel.fullName = fullName + "[value]"
            shape = .map(
                key: keyModel, value: valueModel,
                entryC: CNames.type(entry.fullName), entryFunction: CNames.functionPrefix(entry.fullName))
        } else {
            shape = field.label == .repeated ? .repeated : .singular
        }
    }

    private static func base(of field: FieldDescriptor, types: TypeTable) throws -> Base {
        switch field.kind {
        case .double: return .number("Double")
        case .float: return .number("Float")
        case .int64, .sint64, .sfixed64: return .number("Int64")
        case .uint64, .fixed64: return .number("UInt64")
        case .int32, .sint32, .sfixed32: return .number("Int32")
        case .uint32, .fixed32: return .number("UInt32")
        case .bool: return .bool
        case .string: return .string
        case .bytes: return .bytes
        case .enumeration, .message, .group:
            guard let entry = types[field.typeName] else {
                throw GeneratorError("\(field.name): unknown type \(field.typeName)")
            }
            if case .enumeration = entry.kind {
                return .enumeration(swift: entry.swiftName, c: entry.cType, zero: entry.defaultCase ?? "init(rawValue: 0)")
            }
            return .message(swift: entry.swiftName, c: entry.cType, function: entry.cFunctionPrefix)
        }
    }

    /// The Swift type of one value.
    var baseSwiftType: String {
        switch base {
        case .number(let type): return type
        case .bool: return "Bool"
        case .string: return "String"
        case .bytes: return "[UInt8]"
        case .enumeration(let swift, _, _), .message(let swift, _, _): return swift
        }
    }

    /// The C type of one element of a repeated field's array.
    var cElementType: String {
        switch base {
        case .number(let type): return type
        case .bool: return "protobuf_c_boolean"
        case .string: return "UnsafeMutablePointer<CChar>?"
        case .bytes: return "ProtobufCBinaryData"
        case .enumeration(_, let c, _): return c
        case .message(_, let c, _): return "UnsafeMutablePointer<\(c)>?"
        }
    }

    /// The property's type.
    var swiftType: String {
        switch shape {
        case .singular:
            if case .message = base { return baseSwiftType + "?" }
            return baseSwiftType
        case .repeated: return "[\(baseSwiftType)]"
        case .map(let key, let value, _, _): return "[\(key.baseSwiftType): \(value.baseSwiftType)]"
        case .oneof: return baseSwiftType
        }
    }

    /// The property's default value (proto3 zero values).
    var defaultValue: String {
        switch shape {
        case .repeated: return "[]"
        case .map: return "[:]"
        case .singular, .oneof:
            switch base {
            case .number: return "0"
            case .bool: return "false"
            case .string: return "\"\""
            case .bytes: return "[]"
            case .enumeration(_, _, let zero): return "." + zero
            case .message: return "nil"
            }
        }
    }
}

struct GeneratorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
