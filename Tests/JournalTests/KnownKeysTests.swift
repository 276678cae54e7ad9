@testable import Journal
import TestSupport
import Testing

/// The filter in front of a journal's order reads (``KnownKeys``) may say "perhaps" for a key it never took, but
/// never "no" for one it took: a false "no" would make a node take a retried place for a new order.
@Suite struct KnownKeysTests {
    /// Over many layers (a small first one), every key taken is found; keys never taken are found rarely; a key
    /// taken again does not count twice; and the memory stays within the documented bound.
    @Test(arguments: [1, 2, 3]) func noKeyTakenIsEverMissedAndFewOthersAreFound(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var known = KnownKeys(firstCapacity: 1_000)
        var taken: [String] = []
        for _ in 0..<200_000 {
            let key = "o-\(random.next())-\(random.next() % 1_000)"
            taken.append(key)
            known.insert(key)
            if random.next() % 4 == 0 { known.insert(taken[Int(random.next() % UInt64(taken.count))]) }
        }
        #expect(taken.allSatisfy { known.mayContain($0) }, "a key taken was missed")
        let others = (0..<100_000).map { _ in "x-\(random.next())" }
        let found = others.count { known.mayContain($0) }
        #expect(Double(found) / Double(others.count) < 0.03, "\(found) of \(others.count) keys never taken were found")
        #expect(known.count <= taken.count, "a key taken twice counted twice")
        #expect(known.bytes <= 4 * taken.count, "\(known.bytes) bytes for \(taken.count) keys")
    }

    @Test func anEmptyFilterFindsNothing() {
        #expect(!KnownKeys().mayContain(""))
        #expect(!KnownKeys().mayContain("o-1"))
    }

    /// Through the journal: a row that reached the table in this process, one that was in the table when it
    /// opened, and one only in the overlay are all read back; a key never written reads as no row.
    @Test func aJournalReadsEveryRowItHoldsAndNoOther() async throws {
        try await JournalTests.withDirectory { directory in
            let path = directory + "/journal.db"
            func write(_ key: String) -> JournalWrite {
                var write = JournalWrite(events: [JournalEntry(key: key, kind: 1, payload: [1])])
                write.orders = [OrderRow(key: key, account: "a", symbol: "X", status: 1, createdAt: 1, batchID: "", payload: [2])]
                return write
            }
            var journal = try Journal(path: path, materialiseInterval: .milliseconds(1))
            _ = try await journal.append(write("before"))
            await journal.close()

            journal = try Journal(path: path, materialiseInterval: .milliseconds(1))
            _ = try await journal.append(write("materialised"))
            // Into the table, and (a moment later) out of the overlay: read through the filter's in-process insert.
            for _ in 0..<500 where try OrderRowMaterialisationTests.count("orders", in: path) < 2 {
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .milliseconds(100))
            #expect(try OrderRowMaterialisationTests.count("orders", in: path) == 2)
            for key in ["before", "materialised"] { #expect(try journal.order(key: key)?.key == key) }
            await journal.close()

            journal = try Journal(path: path, materialiseInterval: OrderRowMaterialisationTests.never)
            _ = try await journal.append(write("overlay"))
            for key in ["before", "materialised", "overlay"] { #expect(try journal.order(key: key)?.key == key) }
            #expect(try journal.order(key: "never") == nil)
            await journal.close()
        }
    }
}
