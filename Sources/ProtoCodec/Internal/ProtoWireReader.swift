/// Walks a buffer of protobuf fields in wire format. Used for unknown fields only: known fields are protobuf-c's.
struct ProtoWireReader {
    let bytes: [UInt8]
    var offset: Int
    /// Where the fields end: `bytes.count`, or the end of a submessage's value.
    let end: Int

    init(_ bytes: [UInt8]) { self.init(bytes, within: 0..<bytes.count) }

    /// Reads the fields in `range` of `bytes` (a submessage's value); `range` must lie inside `bytes`.
    init(_ bytes: [UInt8], within range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count)
        self.bytes = bytes
        offset = range.lowerBound
        end = range.upperBound
    }

    var isAtEnd: Bool { offset >= end }

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
            if let length = readVarint(), length <= UInt64(end - offset) {
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

    /// A varint at the current offset (a length prefix).
    mutating func readLength() -> UInt64? { readVarint() }

    private mutating func skip(_ count: Int) -> Bool {
        guard end - offset >= count else { return false }
        offset += count
        return true
    }

    private mutating func readVarint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < end, shift < 64 {
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

/// Just enough of the wire format to find a field in encoded bytes without decoding the message (splicing stored
/// messages, say).
public enum ProtoWire {
    /// The one occurrence of length-delimited field `number` among `message`'s top-level fields: the whole field
    /// (tag, length, value) and its value. Nil if it is absent, repeated, of another wire type, or the message is
    /// malformed.
    public static func onlyLengthDelimited(_ number: UInt32, in message: [UInt8]) -> (field: Range<Int>, value: Range<Int>)? {
        onlyLengthDelimited(number, in: message, within: 0..<message.count)
    }

    /// The same among the fields in `range` of `message` (a submessage's value, as this function found it); the
    /// ranges it returns are `message`'s indices.
    public static func onlyLengthDelimited(_ number: UInt32, in message: [UInt8], within range: Range<Int>)
        -> (field: Range<Int>, value: Range<Int>)?
    {
        guard range.lowerBound >= 0, range.upperBound <= message.count else { return nil }
        var reader = ProtoWireReader(message, within: range)
        var found: (field: Range<Int>, value: Range<Int>)?
        while !reader.isAtEnd {
            let start = reader.offset
            guard let (fieldNumber, wireType, data) = reader.nextField() else { return nil }
            guard fieldNumber == number else { continue }
            guard wireType == .lengthDelimited, found == nil else { return nil }
            // `data` starts at the length prefix (the reader shares the array: nothing is copied).
            var prefix = ProtoWireReader(message, within: data)
            guard let length = prefix.readLength() else { return nil }
            found = (start..<data.upperBound, (data.upperBound - Int(length))..<data.upperBound)
        }
        return found
    }

    /// The value of varint field `number` among the fields in `range` of `message` (the last occurrence, as a
    /// decoder keeps it). Nil if it is absent, of another wire type, or the fields are malformed.
    public static func lastVarint(_ number: UInt32, in message: [UInt8], within range: Range<Int>) -> UInt64? {
        guard range.lowerBound >= 0, range.upperBound <= message.count else { return nil }
        var reader = ProtoWireReader(message, within: range)
        var found: UInt64?
        while !reader.isAtEnd {
            guard let (fieldNumber, wireType, data) = reader.nextField() else { return nil }
            guard fieldNumber == number else { continue }
            guard wireType == .varint else { return nil }
            var value = ProtoWireReader(message, within: data)
            found = value.readLength()
        }
        return found
    }

    /// What is left of the fields in `range` of `message` without field `number` (every occurrence of it, at the top
    /// level): the ranges of the other fields, in order, adjacent ones merged (one range when the field is last or
    /// absent). Nil if the fields are malformed.
    public static func ranges(without number: UInt32, in message: [UInt8], within range: Range<Int>) -> [Range<Int>]? {
        guard range.lowerBound >= 0, range.upperBound <= message.count else { return nil }
        var reader = ProtoWireReader(message, within: range)
        var kept: [Range<Int>] = []
        var run = range.lowerBound
        while !reader.isAtEnd {
            let start = reader.offset
            guard let (fieldNumber, _, _) = reader.nextField() else { return nil }
            guard fieldNumber == number else { continue }
            if start > run { kept.append(run..<start) }
            run = reader.offset
        }
        if range.upperBound > run { kept.append(run..<range.upperBound) }
        return kept
    }

    /// Appends `value` as a base-128 varint.
    public static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        ProtoWireReader.appendVarint(value, to: &bytes)
    }

    /// Appends the tag and length of length-delimited field `number` whose value, `length` bytes, follows.
    public static func appendLengthDelimitedHeader(_ number: UInt32, length: Int, to bytes: inout [UInt8]) {
        ProtoWireReader.appendVarint(UInt64(number) << 3 | UInt64(ProtoWireType.lengthDelimited.rawValue), to: &bytes)
        ProtoWireReader.appendVarint(UInt64(length), to: &bytes)
    }

    /// The bytes length-delimited field `number` takes with a value of `length` bytes: tag, length and value.
    public static func lengthDelimitedSize(_ number: UInt32, length: Int) -> Int {
        varintSize(UInt64(number) << 3 | UInt64(ProtoWireType.lengthDelimited.rawValue)) + varintSize(UInt64(length)) + length
    }

    /// The bytes `value` takes as a varint.
    public static func varintSize(_ value: UInt64) -> Int { max(1, (64 - value.leadingZeroBitCount + 6) / 7) }
}
