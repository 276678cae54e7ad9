import CSystemShims

/// CLOCK_MONOTONIC in nanoseconds: deadlines and timers.
public enum Monotonic {
    @inline(__always)
    public static func now() -> UInt64 { tw_monotonic_ns() }
}

extension Duration {
    /// The duration in whole nanoseconds (negative durations count as zero): what a Monotonic deadline adds.
    public var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    /// The duration in seconds, as a Double.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
