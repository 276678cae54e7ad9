/// Walks a buffer of protobuf fields in wire format. Used for unknown fields only: known fields are protobuf-c's.
struct ProtoWireReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { offset >= bytes.count }

    /// The next field, or nil at the end or on malformed input (the reader then stays where it failed).
    mutating func nextField() -> (number: UInt32, wireType: ProtoWireType, data: Range<Int>)? {
        let start = offset
        guard let tag = readVarint(), tag >> 3 > 0, tag >> 3 <= UInt64(UInt32.max >> 3),
            let wireType = ProtoWireType(rawValue: UInt8(tag & 7))
        else {
            offset = start
            return nil
        }
        let dataStart = offset
        let ok: Bool
        switch wireType {
        case .varint: ok = readVarint() != nil
        case .fixed64: ok = skip(8)
        case .fixed32: ok = skip(4)
        case .lengthDelimited:
            if let length = readVarint(), length <= UInt64(bytes.count - offset) {
                ok = skip(Int(length))
            } else {
                ok = false
            }
        }
        guard ok else {
            offset = start
            return nil
        }
        return (UInt32(tag >> 3), wireType, dataStart..<offset)
    }

    private mutating func skip(_ count: Int) -> Bool {
        guard bytes.count - offset >= count else { return false }
        offset += count
        return true
    }

    private mutating func readVarint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    static func appendVarint(_ value: UInt64, to buffer: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            buffer.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        buffer.append(UInt8(value))
    }
}
