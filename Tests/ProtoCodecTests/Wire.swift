/// Builds protobuf wire format by hand, so tests can feed the decoder exactly the bytes they mean.
enum Wire {
    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var out: [UInt8] = []
        while value >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        out.append(UInt8(value))
        return out
    }

    static func tag(_ number: UInt32, _ wireType: UInt8) -> [UInt8] {
        varint(UInt64(number) << 3 | UInt64(wireType))
    }

    static func varintField(_ number: UInt32, _ value: UInt64) -> [UInt8] {
        tag(number, 0) + varint(value)
    }

    static func bytesField(_ number: UInt32, _ bytes: [UInt8]) -> [UInt8] {
        tag(number, 2) + varint(UInt64(bytes.count)) + bytes
    }

    static func stringField(_ number: UInt32, _ string: String) -> [UInt8] {
        bytesField(number, Array(string.utf8))
    }
}

/// A deterministic generator for property-style tests (xorshift64*).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}
