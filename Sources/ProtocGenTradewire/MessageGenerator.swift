/// Generates one message: its Swift struct (nested types inside), and the protobuf-c glue.
struct MessageGenerator {
    let message: MessageDescriptor
    let swiftName: String
    let cType: String
    let cFunction: String
    let fields: [FieldModel]
    /// Oneofs: Swift enum name, property name, C case member, C case type, and their fields.
    let oneofs: [Oneof]
    let file: FileDescriptor
    let types: TypeTable

    /// A message whose name ends in View is read only (proto/tradewire/v1/processor.proto): decoding keeps none of
    /// its unknown fields, which would otherwise be copied into every value for nothing.
    var isView: Bool { message.name.hasSuffix("View") }

    struct Oneof {
        let enumName: String
        let property: String
        let cCaseMember: String
        let cCaseType: String
        let comment: String?
        let fields: [FieldModel]
    }

    init(_ message: MessageDescriptor, swiftName: String, file: FileDescriptor, types: TypeTable) throws {
        self.message = message
        self.swiftName = swiftName
        self.file = file
        self.types = types
        cType = CNames.type(message.fullName)
        cFunction = CNames.functionPrefix(message.fullName)
        let models = try message.fields.map {
            try FieldModel($0, in: message, comment: file.comments[$0.path], types: types)
        }
        fields = models
        oneofs = message.oneofs.enumerated().map { index, name in
            Oneof(
                enumName: SwiftNames.oneofEnum(name), property: SwiftNames.escaped(SwiftNames.oneofProperty(name)),
                cCaseMember: CNames.oneofCase(name),
                cCaseType: CNames.oneofCaseType(message: message.fullName, oneof: name),
                comment: file.comments[message.path + [DescriptorPath.messageOneof, Int32(index)]],
                fields: models.filter {
                    if case .oneof(let i) = $0.shape { return i == index }
                    return false
                })
        }
    }

    /// Fields that are properties of their own (not members of a oneof).
    var plainFields: [FieldModel] {
        fields.filter {
            if case .oneof = $0.shape { return false }
            return true
        }
    }

    /// The messages nested in this one, except map entries (maps are Swift dictionaries).
    func nestedMessages() throws -> [MessageGenerator] {
        try message.messages.filter { !$0.isMapEntry }.map {
            try MessageGenerator(
                $0, swiftName: swiftName + "." + SwiftNames.nestedType($0.name), file: file, types: types)
        }
    }

    /// The struct declaration, with nested types inside. `name` is the unqualified Swift name.
    func writeDeclaration(name: String, to out: inout CodeWriter) throws {
        out.docComment(file.comments[message.path])
        try out.block("public struct \(name): ProtoMessage {") { out in
            out.line("public static let protoMessageName = \"\(message.fullName)\"")
            out.line()
            for field in plainFields {
                if field.comment != nil && !out.text.hasSuffix("\n\n") { out.line() }
                out.docComment(field.comment)
                out.line("public var \(field.property): \(field.swiftType) = \(field.defaultValue)")
            }
            for oneof in oneofs {
                if oneof.comment != nil && !out.text.hasSuffix("\n\n") { out.line() }
                out.docComment(oneof.comment)
                out.line("public var \(oneof.property): \(oneof.enumName)? = nil")
            }
            if !plainFields.isEmpty || !oneofs.isEmpty { out.line() }
            if isView { out.line("/// Always empty: a view (its name ends in View) is read, never sent, and keeps no unknown fields.") }
            out.line("public var unknownFields = ProtoUnknownFields()")
            out.line()
            out.line("public init() {}")
            writeMemberwiseInit(to: &out)
            for oneof in oneofs {
                out.line()
                writeOneofEnum(oneof, to: &out)
            }
            for nested in try nestedMessages() {
                out.line()
                try nested.writeDeclaration(name: SwiftNames.nestedType(nested.message.name), to: &out)
            }
            for enumeration in message.enums {
                out.line()
                EnumGenerator(enumeration, file: file).write(name: SwiftNames.nestedType(enumeration.name), to: &out)
            }
        }
    }

    private func writeMemberwiseInit(to out: inout CodeWriter) {
        let parameters =
            plainFields.map { "\($0.property): \($0.swiftType) = \($0.defaultValue)" }
            + oneofs.map { "\($0.property): \($0.enumName)? = nil" }
        guard !parameters.isEmpty else { return }
        out.line()
        out.line("public init(")
        out.indented { out in
            for (index, parameter) in parameters.enumerated() {
                out.line(parameter + (index == parameters.count - 1 ? "" : ","))
            }
        }
        out.line(") {")
        out.indented { out in
            for name in plainFields.map(\.property) + oneofs.map(\.property) {
                out.line("self.\(name) = \(name)")
            }
        }
        out.line("}")
    }

    /// A case holding a message is `indirect` (boxed): the message holding the oneof stays small, so that copying
    /// it — into arrays, out of maps, through enums of inputs and effects — copies a pointer rather than hundreds
    /// of bytes and one retain per string inside (a Command was 496 bytes, an Event 856).
    private func writeOneofEnum(_ oneof: Oneof, to out: inout CodeWriter) {
        out.block("public enum \(oneof.enumName): Hashable, Sendable {") { out in
            for field in oneof.fields {
                out.docComment(field.comment)
                let boxed = if case .message = field.base { "indirect " } else { "" }
                out.line("\(boxed)case \(field.property)(\(field.baseSwiftType))")
            }
        }
    }
}
