import RPC

/// A `google.api.http` path template, parsed, and matched against request paths the way grpc-gateway matches
/// them:
///
///     Template = "/" Segments [ Verb ] ;
///     Segments = Segment { "/" Segment } ;
///     Segment  = "*" | "**" | LITERAL | Variable ;
///     Variable = "{" FieldPath [ "=" Segments ] "}" ;
///     FieldPath = IDENT { "." IDENT } ;
///     Verb     = ":" LITERAL ;
///
/// A variable without `=` is `{field=*}`: one segment, percent-decoded whole (`BTC%2FUSD` is `BTC/USD`); a
/// variable over several segments keeps `%2F` as it came, decoding the rest. `**` matches the rest of the path
/// and must be last.
public struct PathTemplate: Sendable, Equatable, CustomStringConvertible {
    public enum Segment: Sendable, Equatable {
        case literal(String)
        /// `*`: any one segment.
        case single
        /// `**`: every remaining segment (at least none).
        case rest
    }

    /// A variable: the request field it fills and the segments it spans (`start..<end` in ``segments``).
    public struct Variable: Sendable, Equatable {
        public let fieldPath: [String]
        let start: Int
        let end: Int
    }

    public let segments: [Segment]
    public let variables: [Variable]
    /// The custom verb after `:` (`cancel` in `/v1/orders/{id}:cancel`), if any.
    public let verb: String?
    public let description: String

    public init(_ text: String) throws(TemplateError) {
        description = text
        guard text.hasPrefix("/") else { throw TemplateError(text, "does not start with /") }
        var parser = Parser(text: Array(text.utf8).dropFirst())
        var segments: [Segment] = []
        var variables: [Variable] = []
        try parser.segments(into: &segments, variables: &variables, inVariable: false)
        verb = try parser.verb()
        guard parser.isAtEnd else { throw TemplateError(text, "has something after its end") }
        if let rest = segments.firstIndex(of: .rest), rest != segments.count - 1 { throw TemplateError(text, "has ** before its last segment") }
        var seen = Set<[String]>()
        for variable in variables where !seen.insert(variable.fieldPath).inserted {
            throw TemplateError(text, "binds \(variable.fieldPath.joined(separator: ".")) twice")
        }
        self.segments = segments
        self.variables = variables
    }

    /// The variables' values if `path` (percent-encoded, without the query) matches; nil otherwise.
    public func match(_ path: Substring) -> [(fieldPath: [String], value: String)]? {
        guard path.hasPrefix("/") else { return nil }
        var rest = path.dropFirst()
        if let verb {
            guard rest.hasSuffix(":" + verb) else { return nil }
            rest = rest.dropLast(verb.utf8.count + 1)
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        let hasRest = segments.last == .rest
        guard hasRest ? parts.count >= segments.count - 1 : parts.count == segments.count else { return nil }
        for (index, segment) in segments.enumerated() {
            switch segment {
            case .literal(let literal): guard index < parts.count, parts[index] == literal else { return nil }
            case .single: guard index < parts.count, !parts[index].isEmpty else { return nil }
            case .rest: break
            }
        }
        var values: [(fieldPath: [String], value: String)] = []
        for variable in variables {
            let end = variable.end == segments.count && hasRest ? parts.count : variable.end
            let covered = parts[variable.start..<end]
            let decoded: String?
            if end - variable.start == 1 && segments[variable.start] != .rest {
                decoded = PercentEncoding.decodeStrictly(covered.first!)
            } else {
                decoded = PercentEncoding.decodeStrictly(covered.joined(separator: "/")[...], keepingSlashes: true)
            }
            guard let decoded else { return nil }
            values.append((variable.fieldPath, decoded))
        }
        return values
    }

    public static func == (left: PathTemplate, right: PathTemplate) -> Bool { left.description == right.description }

    private struct Parser {
        var text: ArraySlice<UInt8>

        var isAtEnd: Bool { text.isEmpty }

        mutating func segments(into segments: inout [Segment], variables: inout [Variable], inVariable: Bool) throws(TemplateError) {
            repeat {
                if text.first == UInt8(ascii: "/") { text = text.dropFirst() }
                if text.first == UInt8(ascii: "{") {
                    guard !inVariable else { throw error("nests a variable in a variable") }
                    text = text.dropFirst()
                    let path = identifierPath()
                    guard !path.isEmpty, path.allSatisfy({ !$0.isEmpty }) else { throw error("has a variable without a field path") }
                    let start = segments.count
                    if text.first == UInt8(ascii: "=") {
                        text = text.dropFirst()
                        try self.segments(into: &segments, variables: &variables, inVariable: true)
                    } else {
                        segments.append(.single)
                    }
                    guard text.first == UInt8(ascii: "}") else { throw error("has a variable without its closing }") }
                    text = text.dropFirst()
                    variables.append(Variable(fieldPath: path, start: start, end: segments.count))
                } else if text.starts(with: Array("**".utf8)) {
                    text = text.dropFirst(2)
                    segments.append(.rest)
                } else if text.first == UInt8(ascii: "*") {
                    text = text.dropFirst()
                    segments.append(.single)
                } else {
                    let literal = text.prefix { isLiteralByte($0) }
                    guard !literal.isEmpty else { throw error("has an empty or invalid segment") }
                    text = text.dropFirst(literal.count)
                    segments.append(.literal(String(decoding: literal, as: UTF8.self)))
                }
            } while text.first == UInt8(ascii: "/")
        }

        mutating func verb() throws(TemplateError) -> String? {
            guard text.first == UInt8(ascii: ":") else { return nil }
            text = text.dropFirst()
            let literal = text.prefix { isLiteralByte($0) }
            guard !literal.isEmpty else { throw error("has an empty verb") }
            text = text.dropFirst(literal.count)
            return String(decoding: literal, as: UTF8.self)
        }

        mutating func identifierPath() -> [String] {
            let raw = text.prefix { isIdentifierByte($0) || $0 == UInt8(ascii: ".") }
            text = text.dropFirst(raw.count)
            return raw.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        }

        func error(_ reason: String) -> TemplateError {
            TemplateError(String(decoding: text, as: UTF8.self), reason)
        }

        private func isIdentifierByte(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }

        /// Unreserved characters and sub-delims that are not template syntax.
        private func isLiteralByte(_ byte: UInt8) -> Bool {
            isIdentifierByte(byte) || Array("-.~!$&'()+,;@%".utf8).contains(byte)
        }
    }
}

/// A path template that cannot be parsed: what is left of it where parsing stopped, and why.
public struct TemplateError: Error, Equatable, CustomStringConvertible {
    public let text: String
    public let reason: String

    init(_ text: String, _ reason: String) {
        self.text = text
        self.reason = reason
    }

    public var description: String { "path template \"\(text)\" \(reason)" }
}
