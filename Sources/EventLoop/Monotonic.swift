import CSystemShims
import Glibc

/// CLOCK_MONOTONIC in nanoseconds: deadlines and timers.
public enum Monotonic {
    @inline(__always)
    public static func now() -> UInt64 { tw_monotonic_ns() }
}

/// CLOCK_REALTIME in nanoseconds since 1970: timestamps that leave the process (events, reports, templates).
public enum WallClock {
    public static func now() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }
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
