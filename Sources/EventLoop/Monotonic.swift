import CSystemShims

/// CLOCK_MONOTONIC in nanoseconds: deadlines and timers.
public enum Monotonic {
    @inline(__always)
    public static func now() -> UInt64 { tw_monotonic_ns() }
}
