/// One HTTP/1.1 request, read whole: its head and its body (decoded from chunked when it came chunked).
public struct HTTP1Request: Sendable, Equatable {
    public var method: String
    /// The request target as sent: origin form (`/path?query`), or `*` / absolute form, which the server refuses.
    public var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    /// Fields in the order sent; names lowercased, values without surrounding whitespace.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, target: String, minorVersion: Int = 1, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.minorVersion = minorVersion
        self.headers = headers
        self.body = body
    }

    /// The first value of the field `name` (lowercase).
    public func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }

    /// The target's path, before any `?`, still percent-encoded.
    public var path: Substring {
        target.firstIndex(of: "?").map { target[..<$0] } ?? target[...]
    }

    /// The target's query, after the first `?` (empty when none).
    public var query: Substring {
        target.firstIndex(of: "?").map { target[target.index(after: $0)...] } ?? ""
    }

    /// Whether the connection stays open after the response: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only
    /// with `Connection: keep-alive`.
    public var keepAlive: Bool {
        let tokens = headers.filter { $0.name == "connection" }.flatMap { $0.value.lowercased().split(separator: ",") }
            .map { $0.trimmingWhitespace() }
        if tokens.contains("close") { return false }
        return minorVersion >= 1 || tokens.contains("keep-alive")
    }

    /// Whether the field `name` (lowercase) lists `token`, case-insensitively (`Connection: Upgrade`).
    public func headerLists(_ name: String, _ token: String) -> Bool {
        headers.contains { field in
            field.name == name && field.value.split(separator: ",").contains { $0.trimmingWhitespace().lowercased() == token }
        }
    }

    public static func == (left: HTTP1Request, right: HTTP1Request) -> Bool {
        left.method == right.method && left.target == right.target && left.minorVersion == right.minorVersion
            && left.headers.elementsEqual(right.headers, by: { $0.name == $1.name && $0.value == $1.value }) && left.body == right.body
    }
}

/// A request the server cannot take, with the status to answer it with; the connection closes after the answer
/// (what follows a malformed request cannot be framed).
public struct HTTP1Error: Error, Equatable, CustomStringConvertible {
    public let status: Int
    public let message: String

    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status) \(message)" }
}

/// What one connection may send in a request. Every bound is checked as bytes arrive, before they are kept.
public struct HTTP1Limits: Sendable {
    /// The request line and the header fields together (431 beyond, 414 for a long request line alone).
    public var maxHeadBytes = 16_384
    public var maxHeaderCount = 100
    /// The body, after chunked decoding (413 beyond).
    public var maxBodyBytes = 1 << 20

    public init() {}
}

extension StringProtocol {
    /// Without leading and trailing optional whitespace (spaces and tabs, RFC 9110's OWS): one element of a
    /// comma-separated field value, say.
    public func trimmingWhitespace() -> Substring {
        var text = self[...]
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return Substring(text)
    }
}
