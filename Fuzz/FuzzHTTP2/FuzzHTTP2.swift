import FuzzSupport
import HTTP2

/// The HTTP/2 session's input: a server (or, with the first byte odd, a client with one request open) fed the
/// client's preface and then the input's bytes, cut into reads of sizes the input chooses. The delegate answers
/// every request, consumes data and finishes streams, so that output, flow control and stream closing run too.
/// Must not crash, and must not grow: output is drained through a bounded buffer after every read.
enum FuzzHTTP2 {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func run(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        let client = input.byte() & 1 == 1
        let responder = Responder()
        guard let session = try? HTTP2Session(role: client ? .client : .server, delegate: responder) else { return }
        if client {
            _ = try? session.submitRequest(
                headers: [(":method", "POST"), (":scheme", "http"), (":path", "/a/b"), (":authority", "x"), ("content-type", "application/grpc")],
                endStream: false)
        } else {
            preface.withUnsafeBytes { try? session.receive($0) }
        }
        var output: [UInt8] = []
        while !input.isAtEnd {
            let size = Int(input.byte()) * 8 + 1
            do {
                try session.receive(input.take(size))
            } catch {
                drain(session, &output)
                return
            }
            drain(session, &output)
        }
    }

    static func drain(_ session: HTTP2Session, _ output: inout [UInt8]) {
        for _ in 0..<64 {
            output.removeAll(keepingCapacity: true)
            guard (try? session.produceOutput(into: &output, limit: 64 << 10)) != nil, !output.isEmpty else { return }
        }
    }

    final class Responder: HTTP2SessionDelegate {
        func http2(_ session: HTTP2Session, didReceiveHeaders headers: [HTTP2HeaderField], streamID: Int32, endStream: Bool, oversized: Bool) {
            guard session.role == .server, headers.contains(where: { $0.name == ":method" }) else { return }
            try? session.submitResponse(streamID: streamID, headers: [(":status", "200"), ("content-type", "application/grpc")], endStream: false)
            session.enqueue(streamID: streamID, [0, 0, 0, 0, 1, 7])
        }

        func http2(_ session: HTTP2Session, didReceiveData data: UnsafeRawBufferPointer, streamID: Int32) {
            session.consume(streamID: streamID, bytes: data.count)
        }

        func http2(_ session: HTTP2Session, didReceiveEndStream streamID: Int32) {
            if session.role == .server { session.finish(streamID: streamID, trailers: [("grpc-status", "0")]) }
        }

        func http2(_ session: HTTP2Session, streamClosed streamID: Int32, errorCode: HTTP2ErrorCode) {}
        func http2(_ session: HTTP2Session, didReceivePing opaque: UInt64, ack: Bool) {}
        func http2(_ session: HTTP2Session, didReceiveGoAway lastStreamID: Int32, errorCode: HTTP2ErrorCode, debugData: [UInt8]) {}
        func http2(_ session: HTTP2Session, streamIsWritable streamID: Int32) {}
        func http2SessionQueuedOutput(_ session: HTTP2Session) {}  // `drain` runs after every input.
    }

    /// Frames a client sends: SETTINGS, HEADERS (a gRPC request, HPACK-literal), DATA, PING, WINDOW_UPDATE,
    /// RST_STREAM, GOAWAY.
    static func seeds() -> [[UInt8]] {
        func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
            [UInt8(payload.count >> 16), UInt8(payload.count >> 8 & 0xff), UInt8(payload.count & 0xff), type, flags,
             UInt8(stream >> 24), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)] + payload
        }
        func literal(_ name: String, _ value: String) -> [UInt8] {
            [0x00, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(value.utf8.count)] + Array(value.utf8)
        }
        let headers = literal(":method", "POST") + literal(":scheme", "http") + literal(":path", "/grpc.health.v1.Health/Check")
            + literal(":authority", "a") + literal("content-type", "application/grpc") + literal("te", "trailers")
        let settings = frame(4, 0, 0, [])
        let request = frame(1, 4, 1, headers) + frame(0, 1, 1, [0, 0, 0, 0, 0])
        let sizes: [UInt8] = [0, 255]
        return [
            sizes + settings + request,
            sizes + settings + request + frame(6, 0, 0, [1, 2, 3, 4, 5, 6, 7, 8]) + frame(8, 0, 1, [0, 0, 1, 0]),
            sizes + settings + frame(1, 4, 3, headers) + frame(3, 0, 3, [0, 0, 0, 8]) + frame(7, 0, 0, [0, 0, 0, 0, 0, 0, 0, 0]),
            [1] + [255] + settings + frame(1, 5, 1, literal(":status", "200") + literal("grpc-status", "0")),
        ]
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzHTTP2.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if FUZZING
@_cdecl("FuzzHTTP2_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    LibFuzzer.run(argc, argv, fuzzOne)
}
#else
@main struct Runner {
    static func main() { FuzzMain.run(seeds: FuzzHTTP2.seeds, FuzzHTTP2.run) }
}
#endif
