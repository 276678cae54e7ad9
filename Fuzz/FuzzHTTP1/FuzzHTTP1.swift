import FuzzSupport
import HTTP1

/// HTTP/1.1 requests (or, when the first byte's top bit is set, WebSocket client frames) out of any bytes: the
/// parsers never trap, keep every bound (small ones here, so that the fuzzer reaches them), and frame the same
/// requests and messages however the bytes are cut into reads — a parser whose answer depends on the reads'
/// sizes would be a smuggling bug.
enum FuzzHTTP1 {
    static func run(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        let first = input.byte()
        let cut = Int(first % 16) + 1
        let stream = Array(input.rest())
        if first & 0x80 != 0 { return webSocket(stream, cut: cut) }
        var limits = HTTP1Limits()
        limits.maxHeadBytes = 1024
        limits.maxHeaderCount = 16
        limits.maxBodyBytes = 4096

        let whole = events(stream, pieces: [stream.count], limits: limits)
        var pieces: [Int] = []
        var left = stream.count
        var size = cut
        while left > 0 {
            pieces.append(min(size, left))
            left -= min(size, left)
            size = size % 7 + cut
        }
        let cutUp = events(stream, pieces: pieces, limits: limits)
        precondition(requests(whole) == requests(cutUp), "the requests depend on how the bytes were cut into reads")
        precondition(whole.error == cutUp.error, "the error depends on how the bytes were cut into reads")
        for event in whole.events {
            guard case .request(let request) = event else { continue }
            precondition(request.body.count <= limits.maxBodyBytes && request.headers.count <= limits.maxHeaderCount)
            precondition(request.headers.allSatisfy { $0.name == $0.name.lowercased() && !$0.value.hasPrefix(" ") && !$0.value.hasSuffix(" ") })
        }
    }

    static func webSocket(_ stream: [UInt8], cut: Int) {
        func run(_ piece: Int) -> ([WebSocketParser.Event], WebSocketParser.Failure?) {
            var parser = WebSocketParser(maxMessageBytes: 300)
            var events: [WebSocketParser.Event] = []
            var start = 0
            while start < stream.count {
                parser.append(Array(stream[start..<min(start + piece, stream.count)]))
                start += piece
                do {
                    while let event = try parser.next() { events.append(event) }
                } catch {
                    return (events, error)
                }
            }
            return (events, nil)
        }
        let whole = run(max(1, stream.count))
        let cutUp = run(cut)
        precondition(whole.0 == cutUp.0 && whole.1 == cutUp.1, "the messages depend on how the bytes were cut into reads")
        for event in whole.0 {
            switch event {
            case .text(let text): precondition(text.utf8.count <= 300)
            case .binary(let bytes), .ping(let bytes): precondition(bytes.count <= 300)
            default: break
            }
        }
    }

    static func events(_ stream: [UInt8], pieces: [Int], limits: HTTP1Limits) -> (events: [HTTP1Parser.Event], error: HTTP1Error?) {
        var parser = HTTP1Parser(limits: limits)
        var events: [HTTP1Parser.Event] = []
        var start = 0
        for piece in pieces {
            parser.append(Array(stream[start..<start + piece]))
            start += piece
            do {
                while let event = try parser.next() { events.append(event) }
            } catch {
                return (events, error)
            }
        }
        return (events, nil)
    }

    /// The requests alone: a 100 Continue may come before a body or not at all depending on the reads.
    static func requests(_ result: (events: [HTTP1Parser.Event], error: HTTP1Error?)) -> [HTTP1Request] {
        result.events.compactMap { if case .request(let request) = $0 { request } else { nil } }
    }

    static func seeds() -> [[UInt8]] {
        [
            [3] + Array("GET /v1/orders/abc?x=1 HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nhost: b\r\nconnection: close\r\n\r\n".utf8),
            [5] + Array("POST /api/orders HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n{\"a\": true}".utf8),
            [1] + Array("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\n0\r\nTrailer: x\r\n\r\n".utf8),
            [2] + Array("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".utf8),
            [7] + Array("GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n".utf8),
            // WebSocket: a fragmented text message with a ping between, then a close.
            [0x83, 0x01, 0x83, 1, 2, 3, 4, 0x69, 0x67, 0x6f, 0x89, 0x80, 9, 9, 9, 9, 0x80, 0x82, 0, 0, 0, 0, 0x6c, 0x6f, 0x88, 0x82, 0, 0, 0, 0, 3, 0xe8],
        ]
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzHTTP1.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if FUZZING
@_cdecl("FuzzHTTP1_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    LibFuzzer.run(argc, argv, fuzzOne)
}
#else
@main struct Runner {
    static func main() { FuzzMain.run(seeds: FuzzHTTP1.seeds, FuzzHTTP1.run) }
}
#endif
