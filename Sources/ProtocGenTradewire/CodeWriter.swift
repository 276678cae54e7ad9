/// Accumulates generated source with indentation.
struct CodeWriter {
    private(set) var text = ""
    private var indentation = ""

    mutating func line(_ line: String = "") {
        text += line.isEmpty ? "\n" : indentation + line + "\n"
    }

    /// Writes `opening` (ending in `{`), the body one level deeper, then `closing`.
    mutating func block(_ opening: String, closing: String = "}", _ body: (inout CodeWriter) throws -> Void) rethrows {
        line(opening)
        try indented(body)
        line(closing)
    }

    /// Writes a `switch` whose cases sit at the level of the `switch` itself.
    mutating func switchBlock(_ opening: String, _ body: (inout CodeWriter) throws -> Void) rethrows {
        line(opening)
        try body(&self)
        line("}")
    }

    /// Writes `body` one level deeper.
    mutating func indented(_ body: (inout CodeWriter) throws -> Void) rethrows {
        indentation += "    "
        try body(&self)
        indentation.removeLast(4)
    }

    /// Replaces the last line written (keeping its indentation), e.g. to turn `}` into `}()`.
    mutating func replaceLastLine(with replacement: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()  // The empty string after the final newline.
        let last = lines.removeLast()
        let indent = last.prefix { $0 == " " }
        text = (lines + [indent + replacement, ""]).joined(separator: "\n")
    }

    /// Writes a proto comment as a doc comment.
    mutating func docComment(_ comment: String?) {
        guard let comment else { return }
        var lines = comment.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasPrefix(" ") ? String($0.dropFirst()) : String($0)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        for text in lines { line(text.isEmpty ? "///" : "/// " + text) }
    }
}
