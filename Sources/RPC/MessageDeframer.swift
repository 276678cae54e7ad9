/// Reassembles gRPC length-prefixed messages (1-byte compressed flag, 4-byte big-endian length, payload) from
/// DATA bytes. The length is checked against the limit as soon as the prefix arrives, before any of the
/// payload is buffered.
struct MessageDeframer {
    enum Failure: Error, Equatable {
        /// A message announced more bytes than the limit (RESOURCE_EXHAUSTED).
        case tooLarge(announced: Int, limit: Int)
        /// The compressed flag is set but the call's encoding is identity (INTERNAL).
        case compressedWithoutEncoding
        /// The message decompresses to more than the limit (RESOURCE_EXHAUSTED).
        case decompressedTooLarge(limit: Int)
        /// Decompression failed (INTERNAL).
        case badCompression(String)
        /// A flag byte other than 0 or 1.
        case badFlag(UInt8)
    }

    let limit: Int
    let encoding: CompressionAlgorithm
    private var header: [UInt8] = []
    private var payload: [UInt8] = []
    private var expected = -1
    private var compressed = false

    init(limit: Int, encoding: CompressionAlgorithm) {
        self.limit = limit
        self.encoding = encoding
    }

    /// Bytes of an incomplete message held (prefix and partial payload).
    var bufferedBytes: Int { header.count + payload.count }

    /// Whether input ended in the middle of a message.
    var hasPartialMessage: Bool { !header.isEmpty || expected >= 0 }

    /// Feeds DATA bytes; calls `deliver` with each complete message (decompressed).
    mutating func append(_ bytes: UnsafeRawBufferPointer, deliver: ([UInt8]) -> Void) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            if expected < 0 {
                let take = min(5 - header.count, bytes.count - offset)
                header.append(contentsOf: bytes[offset..<offset + take])
                offset += take
                guard header.count == 5 else { return }
                let flag = header[0]
                guard flag <= 1 else { throw .badFlag(flag) }
                let length = Int(header[1]) << 24 | Int(header[2]) << 16 | Int(header[3]) << 8 | Int(header[4])
                guard length <= limit else { throw .tooLarge(announced: length, limit: limit) }
                if flag == 1 && encoding == .identity { throw .compressedWithoutEncoding }
                compressed = flag == 1
                expected = length
                header.removeAll(keepingCapacity: true)
                payload.reserveCapacity(length)
            }
            let take = min(expected - payload.count, bytes.count - offset)
            payload.append(contentsOf: bytes[offset..<offset + take])
            offset += take
            if payload.count == expected {
                let message = payload
                payload = []
                expected = -1
                if compressed {
                    switch Gzip.decompress(message, limit: limit) {
                    case .success(let plain): deliver(plain)
                    case .failure(.tooLarge): throw .decompressedTooLarge(limit: limit)
                    case .failure(.malformed): throw .badCompression("message is not gzip data")
                    }
                } else {
                    deliver(message)
                }
            }
        }
    }
}

extension MessageDeframer.Failure {
    /// The status a call ends with; `side` names the messages ("request" on a server, "response" on a client).
    func status(of side: String) -> RPCError {
        switch self {
        case .tooLarge(let announced, let limit):
            RPCError(code: .resourceExhausted, message: "\(side) message of \(announced) bytes exceeds the limit of \(limit)")
        case .decompressedTooLarge(let limit):
            RPCError(code: .resourceExhausted, message: "\(side) message decompresses to more than the limit of \(limit) bytes")
        case .compressedWithoutEncoding:
            RPCError(code: .internal, message: "compressed \(side) message without a grpc-encoding")
        case .badCompression(let text):
            RPCError(code: .internal, message: "\(side) message: \(text)")
        case .badFlag(let flag):
            RPCError(code: .internal, message: "\(side) message with invalid compressed flag \(flag)")
        }
    }
}

/// Writes the 5-byte prefix of a gRPC message.
public enum MessageFramer {
    /// A serialized message with its 5-byte prefix, compressed when `compression` is gzip: what
    /// ``ClientCall/send(framed:)`` takes (a load generator frames its requests once and sends them many times).
    public static func frame(serialized message: [UInt8], compression: CompressionAlgorithm) -> [UInt8] {
        var headroomed = [UInt8](repeating: 0, count: 5)
        headroomed.append(contentsOf: message)
        return frame(headroomed: consume headroomed, compression: compression)
    }

    /// Frames `message`, whose first 5 bytes are headroom for the prefix (ProtoMessage.serializedBytes(headroom:
    /// 5)), compressing it when `compression` is gzip.
    static func frame(headroomed message: consuming [UInt8], compression: CompressionAlgorithm) -> [UInt8] {
        if compression == .gzip {
            let compressed = Gzip.compress(Array(message[5...]))
            var framed = [UInt8](repeating: 0, count: 5)
            framed.append(contentsOf: compressed)
            writePrefix(&framed, compressed: true, length: compressed.count)
            return framed
        }
        #if DEBUG
        let storage = message.withUnsafeBufferPointer { $0.baseAddress }
        #endif
        writePrefix(&message, compressed: false, length: message.count - 5)
        #if DEBUG
        // The prefix goes into the caller's buffer in place. A buffer the caller still references is copied whole
        // first (a send that borrowed its message instead of consuming it): debug builds, the tests', say so.
        assert(message.withUnsafeBufferPointer { $0.baseAddress } == storage,
               "a message was copied to take its frame prefix: pass it consumed (or frame(serialized:) for a shared one)")
        #endif
        return message
    }

    private static func writePrefix(_ buffer: inout [UInt8], compressed: Bool, length: Int) {
        buffer[0] = compressed ? 1 : 0
        buffer[1] = UInt8(truncatingIfNeeded: length >> 24)
        buffer[2] = UInt8(truncatingIfNeeded: length >> 16)
        buffer[3] = UInt8(truncatingIfNeeded: length >> 8)
        buffer[4] = UInt8(truncatingIfNeeded: length)
    }
}
