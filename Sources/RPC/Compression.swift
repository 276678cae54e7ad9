internal import CZlib

/// Message compression: `identity` (none) and `gzip` (zlib). Names as in `grpc-encoding`.
public enum CompressionAlgorithm: String, Sendable, Hashable, CaseIterable {
    case identity
    case gzip

    /// `grpc-accept-encoding`: every algorithm this stack decodes.
    static let acceptEncoding = CompressionAlgorithm.allCases.map(\.rawValue).joined(separator: ",")
}

enum Gzip {
    /// `bytes` compressed with gzip framing.
    static func compress(_ bytes: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        guard tw_deflate_init_gzip(&stream, Z_DEFAULT_COMPRESSION) == Z_OK else {
            fatalError("zlib: deflateInit2 failed")
        }
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 32)
        let written = bytes.withUnsafeBufferPointer { input -> Int in
            out.withUnsafeMutableBufferPointer { output -> Int in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = output.baseAddress
                stream.avail_out = uInt(output.count)
                let status = deflate(&stream, Z_FINISH)
                precondition(status == Z_STREAM_END, "zlib: deflate did not finish within deflateBound")
                return output.count - Int(stream.avail_out)
            }
        }
        out.removeSubrange(written...)
        return out
    }

    enum DecompressionFailure: Error {
        /// The output passed the limit (a decompression bomb is refused as soon as it does, not after).
        case tooLarge
        /// Not gzip data.
        case malformed
    }

    /// `bytes` decompressed, within `limit` bytes.
    static func decompress(_ bytes: [UInt8], limit: Int) -> Result<[UInt8], DecompressionFailure> {
        var stream = z_stream()
        guard tw_inflate_init_gzip(&stream) == Z_OK else { return .failure(.malformed) }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        return bytes.withUnsafeBufferPointer { input -> Result<[UInt8], DecompressionFailure> in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            stream.avail_in = uInt(input.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBufferPointer { output -> (Int32, Int) in
                    stream.next_out = output.baseAddress
                    stream.avail_out = uInt(output.count)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    return (status, output.count - Int(stream.avail_out))
                }
                guard out.count + produced <= limit else { return .failure(.tooLarge) }
                out.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END { return stream.avail_in == 0 ? .success(out) : .failure(.malformed) }
                if status != Z_OK || (produced == 0 && stream.avail_in == 0) { return .failure(.malformed) }
            }
        }
    }
}
