import Glibc

/// How much of a process's memory this machine keeps in its caches while the process sleeps: the CPU cost of the
/// same memory work right after the previous round (hot) and after sleeping for each of `idleMicroseconds`.
///
/// A service at 1,000 requests/s sleeps about a millisecond between requests; at saturation it never sleeps. If the
/// machine's caches lose the process's working set within that millisecond (other tenants of a shared host, the
/// hypervisor), every request at low load pays for cache misses that a busy process never sees, whatever its
/// design. This measures that factor in the same session as the end-to-end benchmark (`tools/bench-e2e`), so that
/// "CPU per request at 1,000/s ÷ at saturation" can be read against it.
///
/// The work is a chase through one random cycle over `workingSetBytes` of cache lines (each load depends on the
/// previous one, so the hardware cannot prefetch): `loadsPerRound` loads per round, timed with the thread's CPU
/// clock, the median of `rounds` rounds per idle time.
public struct CacheRetention: Sendable {
    public static let lineBytes = 64

    public var workingSetBytes = 1 << 20
    public var loadsPerRound = 2048
    public var rounds = 300
    public var idleMicroseconds = [0, 250, 500, 1000, 2000]

    public struct Figure: Sendable {
        public var idleMicroseconds: Int
        /// Median CPU nanoseconds of one round of `loadsPerRound` dependent loads.
        public var medianNanoseconds: Double
    }

    public init() {}

    /// A single cycle through `lines` slots in random order: `next[i]` is the slot after `i`, and following it from
    /// any slot visits every slot once before returning (successive slots of a shuffle, the last linked to the first).
    public static func cycle(lines: Int, using generator: inout some RandomNumberGenerator) -> [UInt32] {
        precondition(lines >= 1 && lines <= Int(UInt32.max), "a cycle has 1 to 2^32 - 1 slots")
        var order = Array(0..<UInt32(lines))
        order.shuffle(using: &generator)
        var next = [UInt32](repeating: 0, count: lines)
        for position in 0..<lines { next[Int(order[position])] = order[(position + 1) % lines] }
        return next
    }

    /// Measures every idle time in turn (about `rounds` × the sum of `idleMicroseconds`, plus the work).
    public func run() -> [Figure] {
        precondition((2 * Self.lineBytes...1 << 30).contains(workingSetBytes), "a working set of 128 bytes to 1 GiB")
        precondition(rounds > 0 && loadsPerRound > 0, "at least one round of at least one load")
        let lines = workingSetBytes / Self.lineBytes
        let stride = Self.lineBytes / MemoryLayout<UInt32>.stride
        var generator = SystemRandomNumberGenerator()
        let next = Self.cycle(lines: lines, using: &generator)
        // One slot per cache line: the index of the next line sits at the start of each line.
        var memory = [UInt32](repeating: 0, count: lines * stride)
        for line in 0..<lines { memory[line * stride] = next[line] * UInt32(stride) }
        var position = 0
        return memory.withUnsafeBufferPointer { memory in
            idleMicroseconds.map { idle in
                var samples: [Double] = []
                samples.reserveCapacity(rounds)
                for _ in 0..<rounds {
                    if idle > 0 { Self.sleep(microseconds: idle) }
                    let started = Self.threadCPUNanoseconds()
                    for _ in 0..<loadsPerRound { position = Int(memory[position]) }
                    samples.append(Double(Self.threadCPUNanoseconds() - started))
                    // Reading the chase's end keeps the optimiser from dropping it.
                    precondition(position < memory.count, "the chase left the working set")
                }
                samples.sort()
                return Figure(idleMicroseconds: idle, medianNanoseconds: samples[samples.count / 2])
            }
        }
    }

    private static func sleep(microseconds: Int) {
        var remaining = timespec(tv_sec: microseconds / 1_000_000, tv_nsec: (microseconds % 1_000_000) * 1000)
        var requested = remaining
        while nanosleep(&requested, &remaining) == -1 && errno == EINTR { requested = remaining }
    }

    private static func threadCPUNanoseconds() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return time.tv_sec * 1_000_000_000 + time.tv_nsec
    }
}
