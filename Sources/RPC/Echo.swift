/// A caller's input quoted in an error message or a log line: at most ``maxCharacters`` characters, in quotes,
/// with quotes, backslashes and control characters escaped, and the full length said when it was cut. Status
/// messages travel in trailers, which peers bound (gRPC's 8–16 KiB header lists): a message that copied a 20,000
/// character symbol would never arrive. Every message that names an input names it through this.
public enum Echo {
    public static let maxCharacters = 32

    public static func quote(_ text: some StringProtocol) -> String {
        var quoted = "\""
        var count = 0
        for scalar in text.unicodeScalars {
            guard count < maxCharacters else {
                return quoted + "…\" (\(text.utf8.count) bytes)"
            }
            count += 1
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f || (0x80..<0xa0).contains(scalar.value):
                quoted += "\\u{\(String(scalar.value, radix: 16))}"
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
