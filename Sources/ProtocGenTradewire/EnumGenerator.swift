/// Generates a proto enum as a Swift enum that keeps unknown values: `.unrecognized(raw)` round-trips a value
/// a newer schema added.
struct EnumGenerator {
    let enumeration: EnumDescriptor
    let file: FileDescriptor

    init(_ enumeration: EnumDescriptor, file: FileDescriptor) {
        self.enumeration = enumeration
        self.file = file
    }

    func write(name: String, to out: inout CodeWriter) {
        // The first name for a number is its case; later names for the same number (allow_alias) are aliases.
        var seen = Set<Int32>()
        var cases: [(name: String, value: EnumDescriptor.Value)] = []
        var aliases: [(name: String, target: String)] = []
        for value in enumeration.values {
            let caseName = SwiftNames.escaped(SwiftNames.enumCase(value.name, enumName: enumeration.name))
            if seen.insert(value.number).inserted {
                cases.append((caseName, value))
            } else if let target = cases.first(where: { $0.value.number == value.number }) {
                aliases.append((caseName, target.name))
            }
        }
        out.docComment(file.comments[enumeration.path])
        out.block("public enum \(name): ProtoEnum {") { out in
            for (caseName, value) in cases {
                out.docComment(file.comments[value.path])
                out.line("case \(caseName)  // \(value.name) = \(value.number)")
            }
            out.line("/// A value this schema does not know; kept so that it survives decoding and encoding.")
            out.line("case unrecognized(Int32)")
            for alias in aliases {
                out.line()
                out.line("public static let \(alias.name): \(name) = .\(alias.target)")
            }
            out.line()
            out.line("public static let protoEnumName = \"\(enumeration.fullName)\"")
            out.line()
            out.line("public static let allCases: [\(name)] = [\(cases.map { "." + $0.name }.joined(separator: ", "))]")
            out.line()
            out.block("public init(rawValue: Int32) {") { out in
                out.switchBlock("switch rawValue {") { out in
                    for (caseName, value) in cases {
                        out.line("case \(value.number): self = .\(caseName)")
                    }
                    out.line("default: self = .unrecognized(rawValue)")
                }
            }
            out.line()
            out.block("public var rawValue: Int32 {") { out in
                out.switchBlock("switch self {") { out in
                    for (caseName, value) in cases {
                        out.line("case .\(caseName): \(value.number)")
                    }
                    out.line("case .unrecognized(let value): value")
                }
            }
        }
    }
}
