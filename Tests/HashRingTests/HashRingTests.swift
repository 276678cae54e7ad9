import HashRing
import Testing

@Suite struct HashRingTests {
    @Test func xxh64MatchesTheReferenceValues() {
        // Known XXH64 values, seed 0 (from xxHash's own test vectors).
        #expect(HashRing<String>.hash("") == 0xEF46_DB37_51D8_E999)
        #expect(HashRing<String>.hash("a") == 0xD24E_C4F1_A98C_6E5B)
        #expect(HashRing<String>.hash("abc") == 0x44BC_2CF5_AD77_0999)
    }

    @Test func everyNodeGetsPointsAndTheRingHasAtLeast1024() {
        let ring = HashRing(nodes: ["n1", "n2", "n3"], key: { $0 })
        #expect(ring.points.count >= 1024)
        #expect(Set(ring.points.map(\.node)) == [0, 1, 2])
        #expect(zip(ring.points, ring.points.dropFirst()).allSatisfy { $0.hash <= $1.hash })
    }

    @Test func keysSpreadEvenlyAndStayPutWhenANodeIsAdded() {
        let three = HashRing(nodes: ["n1", "n2", "n3"], key: { $0 })
        let four = HashRing(nodes: ["n1", "n2", "n3", "n4"], key: { $0 })
        var counts: [String: Int] = [:]
        var moved = 0
        var movedElsewhere = 0  // keys only move to the new node (counted, checked once: an #expect per key is slow)
        let keys = (0..<30_000).map { "order-\($0)" }
        for key in keys {
            let owner = three.node(forKey: key)
            counts[owner, default: 0] += 1
            let newOwner = four.node(forKey: key)
            if newOwner != owner {
                moved += 1
                if newOwner != "n4" { movedElsewhere += 1 }
            }
        }
        #expect(movedElsewhere == 0)
        for count in counts.values { #expect(count > 8_000 && count < 12_000) }
        #expect(moved > 5_000 && moved < 10_000)  // about a quarter moves
    }

    @Test func successorsListEveryNodeOnceStartingWithTheOwner() {
        let ring = HashRing(nodes: ["a", "b", "c", "d"], key: { $0 })
        let hash = HashRing<String>.hash("some key")
        let order = ring.successors(for: hash)
        #expect(Set(order) == [0, 1, 2, 3])
        #expect(ring.nodes[order[0]] == ring.node(for: hash))
    }
}
