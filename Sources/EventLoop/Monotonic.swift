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
    /// The duration in whole nanoseconds, what a Monotonic deadline adds: negative durations count as zero, and
    /// anything past Int64.max nanoseconds (292 years) as that, so that `Monotonic.now() + d.nanoseconds` cannot
    /// overflow for any duration a caller or a file chose.
    public var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let ceiling = UInt64(Int64.max)
        guard seconds < Int64(ceiling / 1_000_000_000) else { return ceiling }
        return UInt64(seconds) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    /// The duration in seconds, as a Double.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
