import Testing

@testable import ProtocGenTradewire

/// What the generator refuses, with an error that names the file and the field.
@Suite struct GeneratorErrorTests {
    func file(syntax: String = "proto3", messages: [MessageDescriptor]) -> FileDescriptor {
        FileDescriptor(
            name: "t/v1/t.proto", package: "t.v1", syntax: syntax, swiftPrefix: nil, dependencies: [],
            messages: messages, enums: [], services: [], comments: [:], hasExtensions: false)
    }

    func message(_ name: String, fields: [FieldDescriptor]) -> MessageDescriptor {
        MessageDescriptor(
            name: name, fullName: "t.v1." + name, fields: fields, oneofs: [], messages: [], enums: [],
            isMapEntry: false, path: [])
    }

    func field(_ name: String, _ kind: FieldDescriptor.Kind, type: String = "", optional: Bool = false)
        -> FieldDescriptor
    {
        FieldDescriptor(
            name: name, number: 1, label: .optional, kind: kind, typeName: type, oneofIndex: nil,
            isProto3Optional: optional, path: [])
    }

    func generate(_ file: FileDescriptor) throws -> String {
        try FileGenerator(file: file, types: TypeTable(files: [file]), cModule: "CT").generate()
    }

    @Test func proto2IsRefused() {
        let error = #expect(throws: GeneratorError.self) {
            try generate(file(syntax: "proto2", messages: [message("A", fields: [])]))
        }
        #expect(error?.description.contains("only proto3") == true)
    }

    @Test func proto3OptionalIsRefused() {
        let error = #expect(throws: GeneratorError.self) {
            try generate(file(messages: [message("A", fields: [field("x", .int32, optional: true)])]))
        }
        #expect(error?.description.contains("t.v1.A.x: proto3 `optional`") == true)
    }

    @Test func recursiveSingularFieldsAreRefused() {
        let a = message("A", fields: [field("b", .message, type: "t.v1.B")])
        let b = message("B", fields: [field("a", .message, type: "t.v1.A")])
        let error = #expect(throws: GeneratorError.self) { try generate(file(messages: [a, b])) }
        #expect(error?.description.contains("t.v1.A → t.v1.B → t.v1.A") == true)
    }

    @Test func aPlainMessageGenerates() throws {
        let source = try generate(file(messages: [message("A", fields: [field("client_order_id", .string)])]))
        #expect(source.contains("public struct T_V1_A: ProtoMessage {"))
        #expect(source.contains("public var clientOrderID: String = \"\""))
        #expect(source.contains("internal import CT"))
    }
}
