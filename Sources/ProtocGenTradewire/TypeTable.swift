/// Every message and enum protoc passed (the files to generate and their imports), by full proto name.
struct TypeTable {
    struct Entry {
        enum Kind { case message(MessageDescriptor), enumeration(EnumDescriptor) }
        var kind: Kind
        /// The Swift type, qualified from module level: `Tradewire_V1_Order.OneOf_Kind`.
        var swiftName: String
        var cType: String
        var cFunctionPrefix: String
        /// For enums: the Swift case of the value 0 (proto3's default).
        var defaultCase: String?
        var file: String
    }

    private(set) var entries: [String: Entry] = [:]

    init(files: [FileDescriptor]) {
        for file in files {
            let prefix = SwiftNames.typePrefix(package: file.package, swiftPrefix: file.swiftPrefix)
            for message in file.messages {
                add(message, swiftName: prefix + message.name, file: file.name)
            }
            for enumeration in file.enums {
                add(enumeration, swiftName: prefix + enumeration.name, file: file.name)
            }
        }
    }

    subscript(fullName: String) -> Entry? { entries[fullName] }

    func message(_ fullName: String) -> MessageDescriptor? {
        if case .message(let message)? = entries[fullName]?.kind { return message }
        return nil
    }

    private mutating func add(_ message: MessageDescriptor, swiftName: String, file: String) {
        entries[message.fullName] = Entry(
            kind: .message(message), swiftName: swiftName, cType: CNames.type(message.fullName),
            cFunctionPrefix: CNames.functionPrefix(message.fullName), defaultCase: nil, file: file)
        for nested in message.messages {
            add(nested, swiftName: swiftName + "." + SwiftNames.nestedType(nested.name), file: file)
        }
        for enumeration in message.enums {
            add(enumeration, swiftName: swiftName + "." + SwiftNames.nestedType(enumeration.name), file: file)
        }
    }

    private mutating func add(_ enumeration: EnumDescriptor, swiftName: String, file: String) {
        let zero = enumeration.values.first { $0.number == 0 }
        entries[enumeration.fullName] = Entry(
            kind: .enumeration(enumeration), swiftName: swiftName, cType: CNames.type(enumeration.fullName),
            cFunctionPrefix: CNames.functionPrefix(enumeration.fullName),
            defaultCase: zero.map { SwiftNames.escaped(SwiftNames.enumCase($0.name, enumName: enumeration.name)) },
            file: file)
    }
}
