import FuzzSupport
@testable import RPC

/// The gRPC layer's parsers of what a peer sends: the length-prefixed message deframer (identity or gzip, fed in
/// pieces the input chooses), request headers as metadata (`-bin` values in base64), `grpc-timeout`, a
/// percent-encoded `grpc-message`, and the trailers a status becomes. Must not crash; a deframer never holds more
/// than its limit plus a prefix.
enum FuzzGRPC {
    static let limit = 64 << 10

    static func run(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        switch input.byte() % 4 {
        case 0, 1:
            let encoding: CompressionAlgorithm = input.byte() & 1 == 0 ? .identity : .gzip
            var deframer = MessageDeframer(limit: limit, encoding: encoding)
            var delivered = 0
            while !input.isAtEnd {
                let piece = input.take(Int(input.byte()) + 1)
                do {
                    try deframer.append(piece) { message in
                        precondition(message.count <= limit, "a delivered message passed the limit")
                        delivered += 1
                    }
                } catch {
                    _ = error.status(of: "request")
                    return
                }
                precondition(deframer.bufferedBytes <= limit + 5, "the deframer holds more than one message")
            }
        case 2:
            let text = String(decoding: input.rest(), as: UTF8.self)
            var headers: [(name: String, value: String)] = []
            for line in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(64) {
                let parts = line.split(separator: ":", maxSplits: 1)
                headers.append((String(parts.first ?? "").lowercased(), parts.count > 1 ? String(parts[1]) : ""))
            }
            if let metadata = try? Metadata(headers: headers) {
                _ = metadata.values("authorization")
                _ = metadata.headerFields
            }
            _ = GRPCTimeout.parse(headers.first?.value ?? "")
        default:
            let text = String(decoding: input.rest(), as: UTF8.self)
            let decoded = PercentEncoding.decode(text)
            precondition(PercentEncoding.decode(PercentEncoding.encode(decoded)) == decoded, "percent-encoding does not round-trip")
            let trailers = ServerCall.trailers(RPCError(code: .invalidArgument, message: decoded), extra: [("x-echo", text)])
            precondition(trailers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 } <= ServerCall.maxTrailerBytes + 4096,
                         "trailers past their bound")
            _ = Echo.quote(text)
        }
    }

    static func seeds() -> [[UInt8]] {
        let message: [UInt8] = [0, 0, 0, 0, 3, 1, 2, 3]
        return [
            [0, 0, 7] + message + [7] + message,
            [1, 0, 200] + [0, 0, 1, 0, 0] + [UInt8](repeating: 9, count: 200),
            [2] + Array("grpc-timeout:10S\nauthorization:Bearer abc\nx-bin:AAEC\n:path:/a/b".utf8),
            [3] + Array("hello%20world %zz %E2%9C%93".utf8),
            [0, 1, 30] + [1, 0, 0, 0, 20] + [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x4b, 0x4c, 0x4a, 6, 0, 0xc2, 0x41, 0x24, 0x35, 3, 0, 0, 0],
        ]
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzGRPC.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if FUZZING
@_cdecl("FuzzGRPC_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    LibFuzzer.run(argc, argv, fuzzOne)
}
#else
@main struct Runner {
    static func main() { FuzzMain.run(seeds: FuzzGRPC.seeds, FuzzGRPC.run) }
}
#endif
