import Testing

@testable import HTTP2

@Suite struct StreamTableTests {
    @Test func behavesLikeADictionaryUnderRandomInsertsAndRemovals() {
        var table = StreamTable<Int>()
        var reference: [Int32: Int] = [:]
        var generator = SystemRandomNumberGenerator()
        // Mismatches are counted and checked once: an `#expect` per step costs a reflection of its operands.
        var mismatches = 0
        for step in 0..<20_000 {
            // Odd stream IDs, as a client opens them, with lots of reuse of nearby slots.
            let id = Int32.random(in: 0..<500, using: &generator) * 2 + 1
            if Bool.random(using: &generator) {
                table[id] = step
                reference[id] = step
            } else {
                if table.removeValue(forKey: id) != reference.removeValue(forKey: id) { mismatches += 1 }
            }
            if step % 1000 == 0 {
                for probe in Int32(0)..<1002 where table[probe] != reference[probe] { mismatches += 1 }
                if table.count != reference.count { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        #expect(Set(table.values) == Set(reference.values))
    }

    /// An ID parked in the overflow while another held its slot, set again after that slot emptied, must not be
    /// stored twice.
    @Test func anOverflowedIDSetAgainAfterItsSlotFreesIsStoredOnce() {
        var table = StreamTable<Int>(capacity: 16)
        table[1] = 1
        table[33] = 33  // same slot as 1: overflow
        table[1] = nil
        table[33] = 34  // slot free now
        #expect(table.count == 1 && table[33] == 34)
        #expect(table.removeValue(forKey: 33) == 34)
        #expect(table.isEmpty && table[33] == nil)
    }

    @Test func growsPastItsInitialCapacity() {
        var table = StreamTable<Int32>(capacity: 2)
        for id in stride(from: Int32(1), through: 4001, by: 2) { table[id] = id }
        #expect(table.count == 2001)
        for id in stride(from: Int32(1), through: 4001, by: 2) { #expect(table[id] == id) }
        table.removeAll()
        #expect(table.isEmpty && table[1] == nil)
    }
}
