import Bench
import Testing

@Suite struct CacheRetentionTests {
    /// The chase must visit every cache line of the working set: a permutation with several cycles would leave the
    /// probe looping over a fraction of it (a smaller working set that stays cached).
    @Test(arguments: [2, 3, 7, 64, 1000, 16_384])
    func cycleVisitsEverySlotOnceBeforeReturning(lines: Int) {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let next = CacheRetention.cycle(lines: lines, using: &generator)
            var seen = [Bool](repeating: false, count: lines)
            var slot = 0
            for _ in 0..<lines where !seen[slot] {
                seen[slot] = true
                slot = Int(next[slot])
            }
            #expect(slot == 0)
            #expect(seen.allSatisfy { $0 })
        }
    }

    @Test func roundsAreMeasuredForEveryIdleTime() {
        var probe = CacheRetention()
        probe.workingSetBytes = 64 * 1024
        probe.loadsPerRound = 256
        probe.rounds = 3
        probe.idleMicroseconds = [0, 100]
        let figures = probe.run()
        #expect(figures.map(\.idleMicroseconds) == [0, 100])
        #expect(figures.allSatisfy { $0.medianNanoseconds > 0 })
    }
}
