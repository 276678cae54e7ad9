/// How proto names become Swift names. Types follow swift-protobuf's convention, so code reads the same as
/// with Apple's generator: `tradewire.v1.Order` → `Tradewire_V1_Order`, nested types nest, a file's
/// `swift_prefix` option replaces the package prefix.
enum SwiftNames {
    /// The prefix for a file's top-level types.
    static func typePrefix(package: String, swiftPrefix: String?) -> String {
        if let swiftPrefix { return swiftPrefix }
        if package.isEmpty { return "" }
        return package.split(separator: ".").map { upperCamel(String($0)) }.joined(separator: "_") + "_"
    }

    /// A nested type's own name, renamed when it would clash with Swift (`Type`, `Protocol`…).
    static func nestedType(_ name: String) -> String {
        reservedNestedTypes.contains(name) ? name + "Message" : name
    }

    /// A field's property name: lowerCamelCase with Swift's uniform-case acronyms (`client_order_id` →
    /// `clientOrderID`), escaped or renamed where it would clash.
    static func property(_ fieldName: String) -> String {
        let words = fieldName.split(separator: "_").map(String.init)
        var name = ""
        for (index, word) in words.enumerated() {
            if index == 0 {
                name += lowerFirst(word)
            } else if acronyms.contains(word.lowercased()) {
                name += word.uppercased()
            } else {
                name += upperFirst(word)
            }
        }
        if name.isEmpty || name.first!.isNumber { name = "_" + name }
        if reservedMembers.contains(name) { name += "_p" }
        return name
    }

    /// An enum case: the value name with the enum's UPPER_SNAKE prefix removed, in lowerCamelCase
    /// (`SIDE_BUY` in `Side` → `buy`). A name that would then start with a digit keeps a leading underscore.
    static func enumCase(_ valueName: String, enumName: String) -> String {
        let prefix = upperSnake(enumName) + "_"
        var stripped = valueName
        if valueName.hasPrefix(prefix), valueName.count > prefix.count {
            stripped = String(valueName.dropFirst(prefix.count))
        }
        let words = stripped.split(separator: "_").map { $0.lowercased() }
        var name = words.enumerated().map { $0.offset == 0 ? $0.element : upperFirst($0.element) }.joined()
        if name.first?.isNumber ?? true { name = "_" + name }
        if name == "unrecognized" || name == "allCases" || name == "rawValue" { name += "_" }
        return name
    }

    /// The enum holding a oneof's cases.
    static func oneofEnum(_ oneofName: String) -> String { "OneOf_" + upperCamel(oneofName) }

    /// A oneof property.
    static func oneofProperty(_ oneofName: String) -> String { property(oneofName) }

    /// `name` usable as an identifier: Swift keywords get backticks.
    static func escaped(_ name: String) -> String {
        keywords.contains(name) ? "`\(name)`" : name
    }

    static func upperCamel(_ name: String) -> String {
        name.split(separator: "_").map { upperFirst(String($0)) }.joined()
    }

    /// `OrderStatus` → `ORDER_STATUS`.
    static func upperSnake(_ name: String) -> String {
        var result = ""
        var previousLower = false
        for character in name {
            if character.isUppercase && previousLower { result += "_" }
            result += character.uppercased()
            previousLower = character.isLowercase || character.isNumber
        }
        return result
    }

    private static func upperFirst(_ word: String) -> String {
        guard let first = word.first else { return word }
        return first.uppercased() + word.dropFirst()
    }

    private static func lowerFirst(_ word: String) -> String {
        guard let first = word.first else { return word }
        return first.lowercased() + word.dropFirst()
    }

    private static let acronyms: Set<String> = ["id", "url", "uri", "json", "http", "https", "uuid"]

    /// Names the generated struct already uses, or that clash with protocol members.
    private static let reservedMembers: Set<String> = [
        "unknownFields", "protoMessageName", "serializedBytes", "serializedSize", "hashValue", "hash",
        "description", "debugDescription", "init", "self", "Type", "Protocol",
    ]

    private static let reservedNestedTypes: Set<String> = ["Type", "Protocol", "Self", "Any", "Error"]

    private static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout",
        "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public", "rethrows",
        "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue", "default",
        "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return", "throw", "switch",
        "where", "while", "Any", "as", "await", "false", "is", "nil", "self", "Self", "super", "throws", "true",
        "try", "some", "any", "consume", "copy", "discard", "borrowing", "consuming", "_",
    ]
}
