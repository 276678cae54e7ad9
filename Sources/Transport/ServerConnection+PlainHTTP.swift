import EventLoop
import HTTP2

/// Plain HTTP/1.1 on the gRPC port: a connection whose first bytes are not HTTP/2's client preface is read as one
/// HTTP/1.1 request (`GET /metrics`, `GET /healthz`), answered by `configuration.plainHTTP`, and closed.
/// Loop thread only.
extension ServerConnection {
    static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// A plain request's head larger than this is refused (431).
    static let plainRequestLimit = 8192

    /// Bytes read before the connection is known to speak HTTP/2.
    func receiveBeforeHTTP2(_ bytes: UnsafeRawBufferPointer) throws {
        if plainRequest != nil {
            // Bodies are not read: past the head's limit (or once answered), what else arrives is dropped.
            guard !machine.closeAfterFlush else { return }
            plainRequest!.append(contentsOf: bytes.prefix(Self.plainRequestLimit + 4 - min(plainRequest!.count, Self.plainRequestLimit + 4)))
            answerPlainRequestIfComplete()
            return
        }
        sniffed!.append(contentsOf: bytes)
        let preface = Self.http2Preface
        let compared = min(sniffed!.count, preface.count)
        if sniffed![..<compared].elementsEqual(preface[..<compared]) {
            guard compared == preface.count else { return }  // So far the preface: wait for the rest of it.
            let buffered = sniffed!
            sniffed = nil
            try buffered.withUnsafeBytes { try session.receive($0) }
        } else {
            plainRequest = sniffed
            sniffed = nil
            answerPlainRequestIfComplete()
        }
    }

    private func answerPlainRequestIfComplete() {
        guard let request = plainRequest, !machine.closeAfterFlush, let handler = configuration.plainHTTP else { return }
        guard let headEnd = request.firstRange(of: [13, 10, 13, 10]) else {
            if request.count > Self.plainRequestLimit { respondPlain(PlainHTTPResponse(status: 431, text: "request header too large\n"), head: false) }
            return
        }
        let requestLine = request[..<headEnd.lowerBound].split(separator: 13, maxSplits: 1).first ?? []
        let parts = requestLine.split(separator: 32)
        guard parts.count == 3, parts[2].starts(with: Array("HTTP/1.".utf8)) else {
            respondPlain(PlainHTTPResponse(status: 400, text: "not an HTTP/1.1 request, nor HTTP/2 with prior knowledge\n"), head: false)
            return
        }
        let method = String(decoding: parts[0], as: UTF8.self)
        let response = handler(PlainHTTPRequest(method: method, path: String(decoding: parts[1], as: UTF8.self)))
        respondPlain(response, head: method == "HEAD")
    }

    /// Queues `response` with `Connection: close` and closes once it is sent.
    private func respondPlain(_ response: PlainHTTPResponse, head: Bool) {
        let reason = HTTPReason.phrase(response.status)
        let header = "HTTP/1.1 \(response.status) \(reason)\r\ncontent-type: \(response.contentType)\r\n"
            + "content-length: \(response.body.count)\r\nconnection: close\r\n\r\n"
        output.reset { buffer in
            buffer.append(contentsOf: header.utf8)
            if !head { buffer.append(contentsOf: response.body) }
        }
        machine.closeWhenFlushed()
        requestFlush()
    }
}

private enum HTTPReason {
    static func phrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 431: "Request Header Fields Too Large"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
