/// An HTTP/1.1 response's head, and the bytes of chunked bodies. No I/O.
public struct HTTP1ResponseHead: Sendable {
    public var status: Int
    /// Fields as sent; `content-length`, `transfer-encoding` and `connection` are the writer's.
    public var headers: [(name: String, value: String)]

    public init(status: Int, headers: [(name: String, value: String)] = []) {
        precondition((100...599).contains(status), "an HTTP status is 100–599")
        self.status = status
        self.headers = headers
    }

    /// The head's bytes, the body framed by `contentLength` (nil: chunked), with `Connection: close` unless
    /// `keepAlive`.
    public func encoded(contentLength: Int?, keepAlive: Bool) -> [UInt8] {
        var text = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        for (name, value) in headers {
            // Values come from our code, never raw from a request; CR and LF would split the response.
            precondition(!name.utf8.contains(13) && !name.utf8.contains(10) && !value.utf8.contains(13) && !value.utf8.contains(10),
                         "a response header with a line break")
            text += "\(name): \(value)\r\n"
        }
        if let contentLength {
            if status >= 200 && status != 204 && status != 304 { text += "content-length: \(contentLength)\r\n" }
        } else {
            text += "transfer-encoding: chunked\r\n"
        }
        if !keepAlive { text += "connection: close\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// One chunk of a chunked body (`data` must not be empty: the empty chunk ends the body).
    public static func chunk(_ data: some Collection<UInt8>) -> [UInt8] {
        precondition(!data.isEmpty, "an empty chunk ends the body: use lastChunk")
        var bytes = Array(String(data.count, radix: 16).utf8) + [13, 10]
        bytes.append(contentsOf: data)
        bytes += [13, 10]
        return bytes
    }

    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
    public static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    public static func reason(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 426: "Upgrade Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 499: "Client Closed Request"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error"
        }
    }
}

/// A whole response: its head and its body.
public struct HTTP1Response: Sendable {
    public var head: HTTP1ResponseHead
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        head = HTTP1ResponseHead(status: status, headers: headers)
        self.body = body
    }

    public init(status: Int, contentType: String, body: [UInt8]) {
        self.init(status: status, headers: [("content-type", contentType)], body: body)
    }

    /// A text/plain body.
    public init(status: Int, text: String) {
        self.init(status: status, contentType: "text/plain; charset=utf-8", body: Array(text.utf8))
    }

    public var status: Int { head.status }
}
