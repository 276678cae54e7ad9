import HTTP1
import Testing

/// The HTTP/1.1 request parser as a value: what it frames, what it refuses and with which status, whatever the reads.
struct HTTP1ParserTests {
    /// Every event of `text`, fed whole and fed a byte at a time (the two must agree), or the error.
    func parse(_ text: String, limits: HTTP1Limits = HTTP1Limits()) -> Result<[HTTP1Request], HTTP1Error> {
        func run(_ pieces: [[UInt8]]) -> Result<[HTTP1Request], HTTP1Error> {
            var parser = HTTP1Parser(limits: limits)
            var requests: [HTTP1Request] = []
            for piece in pieces {
                parser.append(piece)
                do {
                    while let event = try parser.next() {
                        if case .request(let request) = event { requests.append(request) }
                    }
                } catch {
                    return .failure(error)
                }
            }
            return .success(requests)
        }
        let bytes = Array(text.utf8)
        let whole = run([bytes])
        let dripped = run(bytes.map { [$0] })
        #expect(whole == dripped, "fed whole and a byte at a time, the parser must agree")
        return whole
    }

    func status(_ text: String, limits: HTTP1Limits = HTTP1Limits()) -> Int? {
        if case .failure(let error) = parse(text, limits: limits) { return error.status }
        return nil
    }

    @Test func pipelinedRequestsWithLengthAndChunkedBodies() throws {
        let requests = try parse(
            "GET /v1/orders/o-1?view=full HTTP/1.1\r\nHost: x\r\nX-Request-Id:  abc \r\n\r\n"
                + "POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                + "POST /api/orders HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;name=value\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n"
                + "\r\nGET / HTTP/1.0\r\n\r\n"
        ).get()
        #expect(requests.count == 4)
        #expect(requests[0].method == "GET" && requests[0].path == "/v1/orders/o-1" && requests[0].query == "view=full")
        #expect(requests[0].header("x-request-id") == "abc", "names lowercased, values trimmed")
        #expect(requests[0].keepAlive)
        #expect(requests[1].body == Array("hello".utf8))
        #expect(requests[2].body == Array("abcde".utf8))
        #expect(requests[3].minorVersion == 0 && !requests[3].keepAlive, "HTTP/1.0 closes unless keep-alive is asked for")
    }

    @Test func connectionTokensDecideKeepAlive() throws {
        let requests = try parse(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, Close\r\n\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                + "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"
        ).get()
        #expect(!requests[0].keepAlive && requests[1].keepAlive)
        #expect(requests[2].headerLists("connection", "upgrade"))
    }

    @Test func expectContinueIsAskedForOnceBeforeTheBody() throws {
        var parser = HTTP1Parser()
        parser.append(Array("POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n".utf8))
        #expect(try parser.next() == .continueExpected)
        #expect(try parser.next() == nil, "asked once")
        parser.append(Array("body".utf8))
        guard case .request(let request) = try parser.next() else { Issue.record("no request"); return }
        #expect(request.body == Array("body".utf8))
    }

    /// What two parties could frame two ways (request smuggling) is refused, not guessed at.
    @Test func ambiguousFramingIsRefused() {
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501)
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n") == 501)
        #expect(status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost : x\r\n\r\n") == 400, "space before the colon")
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n") == 400, "obsolete line folding")
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nBad\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\n\r\n") == 400, "HTTP/1.1 needs a Host")
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nX: a\u{1}b\r\n\r\n") == 400)
        #expect(status("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n") == 400)
        #expect(status("G(T / HTTP/1.1\r\nHost: x\r\n\r\n") == 400)
        #expect(status("GET / HTTP/2.0\r\nHost: x\r\n\r\n") == 505)
        #expect(status("GET / HTTX/1.1\r\nHost: x\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n") == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n123456789\r\n") == 400)
    }

    @Test func everyBoundIsCheckedAsTheBytesArrive() {
        var limits = HTTP1Limits()
        limits.maxHeadBytes = 64
        limits.maxHeaderCount = 3
        limits.maxBodyBytes = 10
        #expect(status("GET /" + String(repeating: "a", count: 100) + " HTTP/1.1\r\nHost: x\r\n\r\n", limits: limits) == 414)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "a", count: 100) + "\r\n\r\n", limits: limits) == 431)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: limits) == 431)
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", limits: limits) == 413, "refused at the head")
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n", limits: limits) == 413)
        // Tiny chunks with long extensions: the body is small, what it takes as sent is not.
        let padded = (0..<10).map { _ in "1;" + String(repeating: "e", count: 900) + "\r\na\r\n" }.joined()
        var small = HTTP1Limits()
        small.maxBodyBytes = 1000
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + padded, limits: small) == 413)
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + String(repeating: "T: x\r\n", count: 20), limits: limits) == 431)
        // Exactly at the bounds: accepted.
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits) == nil)
        let head = "GET / HTTP/1.1\r\nHost: x\r\nX: "
        let exact = head + String(repeating: "a", count: 64 - head.utf8.count)
        #expect(status(exact + "\r\n\r\n", limits: limits) == nil, "a head of exactly maxHeadBytes")
        #expect(status(exact + "a\r\n\r\n", limits: limits) == 431, "one byte more")
    }

    @Test func responsesAreFramedByLengthOrChunks() {
        let head = HTTP1ResponseHead(status: 200, headers: [("content-type", "application/json")])
        #expect(String(decoding: head.encoded(contentLength: 2, keepAlive: true), as: UTF8.self)
            == "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n")
        #expect(String(decoding: HTTP1ResponseHead(status: 404).encoded(contentLength: nil, keepAlive: false), as: UTF8.self)
            == "HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n")
        #expect(String(decoding: HTTP1ResponseHead.chunk(Array("0123456789abcdefX".utf8)), as: UTF8.self) == "11\r\n0123456789abcdefX\r\n")
    }
}
