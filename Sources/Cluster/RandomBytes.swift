/// Unpredictable bytes from the system's generator, eight per draw: `UInt8.random(using:)` on
/// `SystemRandomNumberGenerator` makes one `getrandom` system call per byte (16 per OrderId, 8 per request id).
public enum RandomBytes {
    public static func make(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return Array(bytes.prefix(count))
    }

    /// `count` random bytes as lower-case hex.
    public static func hex(_ count: Int) -> String { Hex.encode(make(count)) }
}
