/// The generator's model of the .proto files protoc hands it: plain Swift values built once from protobuf-c's
/// C tree (see Descriptors+C.swift), so that naming and code generation never touch C.

struct FileDescriptor {
    var name: String
    var package: String
    var syntax: String
    /// FileOptions.swift_prefix, when the file sets it (even to "").
    var swiftPrefix: String?
    var dependencies: [String]
    var messages: [MessageDescriptor]
    var enums: [EnumDescriptor]
    var services: [ServiceDescriptor]
    /// Leading comments by source path (FileDescriptorProto field numbers and indexes).
    var comments: [[Int32]: String]
    var hasExtensions: Bool
}

struct MessageDescriptor {
    var name: String
    var fullName: String
    var fields: [FieldDescriptor]
    var oneofs: [String]
    var messages: [MessageDescriptor]
    var enums: [EnumDescriptor]
    var isMapEntry: Bool
    /// Source path of this message, for its comments.
    var path: [Int32]
}

struct FieldDescriptor {
    enum Label { case optional, required, repeated }
    enum Kind: Equatable {
        case double, float, int64, uint64, int32, fixed64, fixed32, bool, string, group, message, bytes, uint32,
            enumeration, sfixed32, sfixed64, sint32, sint64
    }

    var name: String
    var number: Int32
    var label: Label
    var kind: Kind
    /// Fully qualified type name without the leading dot, for message and enum fields.
    var typeName: String
    var oneofIndex: Int?
    var isProto3Optional: Bool
    var path: [Int32]
}

struct EnumDescriptor {
    struct Value {
        var name: String
        var number: Int32
        var path: [Int32]
    }

    var name: String
    var fullName: String
    var values: [Value]
    var path: [Int32]
}

struct ServiceDescriptor {
    struct Method {
        var name: String
        var inputType: String
        var outputType: String
        var clientStreaming: Bool
        var serverStreaming: Bool
        var path: [Int32]
        /// The `google.api.http` option's bindings, its additional bindings after the first.
        var httpRules: [HTTPRuleModel] = []
    }

    var name: String
    var fullName: String
    var methods: [Method]
    var path: [Int32]
}

/// Field numbers in descriptor.proto, used to build and look up source-code-info paths.
enum DescriptorPath {
    static let fileMessage: Int32 = 4
    static let fileEnum: Int32 = 5
    static let fileService: Int32 = 6
    static let messageField: Int32 = 2
    static let messageNested: Int32 = 3
    static let messageEnum: Int32 = 4
    static let messageOneof: Int32 = 8
    static let enumValue: Int32 = 2
    static let serviceMethod: Int32 = 2
}

/// One HTTP binding of a method (google.api.HttpRule), as read from MethodOptions.
struct HTTPRuleModel: Equatable {
    /// GET, PUT, POST, DELETE, PATCH, or a custom pattern's kind.
    var verb: String
    var pattern: String
    var body: String
    var responseBody: String
}
