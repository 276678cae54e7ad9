/// The names protoc-c 1.4 gives C types, functions and struct members (protoc-c/c_helpers.cc). Generated Swift
/// refers to the C code by these names, so they must match protoc-c exactly; a mismatch fails the build of
/// the generated code, never silently.
enum CNames {
    /// `tradewire.v1.AllKinds.Nested` → `Tradewire__V1__AllKinds__Nested` (FullNameToC).
    static func type(_ fullName: String) -> String {
        fullName.split(separator: ".").map { toCamel(String($0)) }.joined(separator: "__")
    }

    /// `tradewire.v1.AllKinds` → `tradewire__v1__all_kinds` (FullNameToLower), the prefix of its functions.
    static func functionPrefix(_ fullName: String) -> String {
        fullName.split(separator: ".").map { camelToLower(String($0)) }.joined(separator: "__")
    }

    /// A struct member for a field: lower-cased, with `_` appended to C and C++ keywords (FieldName); escaped
    /// with backticks where the result is a Swift keyword (`c.pointee.`self``).
    static func member(_ fieldName: String) -> String {
        let lower = fieldName.lowercased()
        return SwiftNames.escaped(keywords.contains(lower) ? lower + "_" : lower)
    }

    /// The member holding which field of a oneof is set.
    static func oneofCase(_ oneofName: String) -> String { oneofName.lowercased() + "_case" }

    /// The C enum type of a oneof's case member.
    static func oneofCaseType(message: String, oneof: String) -> String {
        type(message) + "__" + toCamel(oneof) + "Case"
    }

    private static func toCamel(_ name: String) -> String {
        var result = ""
        var nextUpper = true
        for character in name {
            if character == "_" {
                nextUpper = true
            } else if nextUpper {
                result += character.uppercased()
                nextUpper = false
            } else {
                result.append(character)
            }
        }
        return result
    }

    private static func camelToLower(_ name: String) -> String {
        var result = ""
        var wasUpper = true
        for character in name {
            let isUpper = character.isASCII && character.isUppercase
            if isUpper {
                if !wasUpper { result += "_" }
                result += character.lowercased()
            } else {
                result.append(character)
            }
            wasUpper = isUpper
        }
        return result
    }

    private static let keywords: Set<String> = [
        "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch", "char", "class",
        "compl", "const", "const_cast", "continue", "default", "delete", "do", "double", "dynamic_cast", "else",
        "enum", "explicit", "extern", "false", "float", "for", "friend", "goto", "if", "inline", "int", "long",
        "mutable", "namespace", "new", "not", "not_eq", "operator", "or", "or_eq", "private", "protected", "public",
        "register", "reinterpret_cast", "return", "short", "signed", "sizeof", "static", "static_cast", "struct",
        "switch", "template", "this", "throw", "true", "try", "typedef", "typeid", "typename", "union",
        "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq",
    ]
}
