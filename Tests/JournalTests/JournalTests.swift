import Journal
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct JournalTests {
    /// A fresh directory for one test's SQLite files, removed afterwards.
    static func withDirectory(_ body: (String) async throws -> Void) async throws {
        var template = Array("/tmp/tradewire-journal-XXXXXX".utf8CString)
        let directory = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer {
            for name in ["journal.db", "journal.db-wal", "journal.db-shm"] { unlink(directory + "/" + name) }
            rmdir(directory)
        }
        try await body(directory)
    }

    static func entry(_ key: String, _ index: Int) -> JournalEntry {
        JournalEntry(key: key, kind: 1, payload: Array("event \(index)".utf8))
    }

    @Test func appendsAreNumberedFromOneWithoutGapsAndSurviveAReopen() async throws {
        try await Self.withDirectory { directory in
            let path = directory + "/journal.db"
            var journal = try Journal(path: path)
            #expect(try await journal.append(Self.entry("ord-1", 0)) == 1)
            #expect(try await journal.append([Self.entry("ord-2", 1), Self.entry("ord-1", 2)]) == 2...3)
            await journal.close()

            journal = try Journal(path: path)
            #expect(journal.lastSequence == 3)
            #expect(try await journal.append(Self.entry("ord-3", 3)) == 4)
            let records = try journal.records(from: 1)
            #expect(records.map(\.sequence) == [1, 2, 3, 4])
            #expect(records.map(\.entry.key) == ["ord-1", "ord-2", "ord-1", "ord-3"])
            #expect(records[2].entry.payload == Array("event 2".utf8))
            #expect(try journal.records(key: "ord-1").map(\.sequence) == [1, 3])
            #expect(try journal.records(from: 3, limit: 1).map(\.sequence) == [3])
            await journal.close()
        }
    }

    /// 16 tasks × 250 appends at once: every append gets its own number, the numbers are 1…4000, and the writer
    /// committed them in far fewer transactions than appends (group commit).
    @Test func concurrentAppendsAreGroupCommitted() async throws {
        try await Self.withDirectory { directory in
            let journal = try Journal(path: directory + "/journal.db")
            let sequences = try await withThrowingTaskGroup(of: [UInt64].self) { group in
                for task in 0..<16 {
                    group.addTask {
                        var mine: [UInt64] = []
                        for index in 0..<250 { mine.append(try await journal.append(Self.entry("ord-\(task)", index))) }
                        return mine
                    }
                }
                return try await group.reduce(into: [UInt64]()) { $0 += $1 }
            }
            #expect(sequences.sorted() == Array(1...4000))
            let statistics = journal.statistics
            #expect(statistics.entries == 4000)
            #expect(statistics.batches < 4000 / 2, "\(statistics.batches) transactions for 4000 appends")
            #expect(statistics.largestBatch > 1)
            // Each task's own appends are numbered in the order it made them.
            let records = try journal.records(from: 1, limit: 5000)
            for task in 0..<16 {
                let payloads = records.filter { $0.entry.key == "ord-\(task)" }.map(\.entry.payload)
                #expect(payloads == (0..<250).map { Array("event \($0)".utf8) })
            }
            await journal.close()
        }
    }

    @Test func aClosedJournalRefusesAppends() async throws {
        try await Self.withDirectory { directory in
            let journal = try Journal(path: directory + "/journal.db")
            await journal.close()
            await #expect(throws: JournalError.self) { try await journal.append(Self.entry("ord-1", 0)) }
        }
    }

    @Test func aFileThatIsNotADatabaseIsAClearError() async throws {
        try await Self.withDirectory { directory in
            let path = directory + "/journal.db"
            let file = fopen(path, "w")!
            fputs(String(repeating: "not a database ", count: 100), file)
            fclose(file)
            #expect {
                _ = try Journal(path: path)
            } throws: { error in
                "\(error)".contains("not a database")
            }
        }
    }
}
