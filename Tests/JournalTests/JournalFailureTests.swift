import Foundation
import Journal
import SQLite
import Locks
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A journal that fails to commit stops at once: the failed batch, everything queued behind it and every later
/// append fail with that error, nothing commits after it, and the file on healthy storage holds exactly what was
/// acknowledged — no hole, nothing extra. Failures are real: another connection holding SQLite's write lock
/// (SQLITE_BUSY), and a filesystem that is full (a small tmpfs mounted for the test).
@Suite(.serialized) struct JournalFailureTests {
    static func entry(_ index: Int, bytes: Int = 16) -> JournalEntry {
        JournalEntry(key: "k-\(index)", kind: 1, payload: [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: bytes))
    }

    /// Appends `count` writes at once; each one's result, in append order.
    static func appendAll(_ journal: Journal, from first: Int, count: Int, bytes: Int = 16) async -> [Result<JournalCommit, SQLiteError>] {
        let results = Lock<[Int: Result<JournalCommit, SQLiteError>]>([:])
        await withTaskGroup(of: Void.self) { group in
            for index in first..<(first + count) {
                // Appended in order from this task; completions arrive on the writer thread.
                let done = AsyncStream<Void>.makeStream()
                journal.append(JournalWrite(events: [Self.entry(index, bytes: bytes)])) { result in
                    results.withLock { $0[index] = result }
                    done.continuation.finish()
                }
                group.addTask { for await _ in done.stream {} }
            }
        }
        return results.withLock { results in (first..<(first + count)).map { results[$0]! } }
    }

    @Test func aBusyCommitLatchesTheJournalAndNothingCommitsAfterIt() async throws {
        try await JournalTests.withDirectory { directory in
            let path = directory + "/journal.db"
            let journal = try Journal(path: path, busyTimeout: .milliseconds(200))
            #expect(try await journal.append(Self.entry(0)) == 1)
            // Another connection takes the write lock and keeps it.
            let blocker = try SQLiteDatabase.open(path: path)
            try blocker.execute("BEGIN IMMEDIATE")
            let results = await Self.appendAll(journal, from: 1, count: 50)
            #expect(results.allSatisfy { if case .failure(let error) = $0 { error.code == 5 } else { false } }, "every one SQLITE_BUSY")
            try blocker.execute("ROLLBACK")
            // The lock is free now, but the journal stays stopped: a later append fails with the same error (had it
            // tried SQLite again, the free lock would have let it commit).
            await #expect(throws: SQLiteError.self) { _ = try await journal.append(Self.entry(99)) }
            #expect(journal.failure?.code == 5)
            await journal.close()
            let reopened = try Journal(path: path)
            #expect(try reopened.lastSequence == 1 && reopened.records(from: 1).count == 1)
            await reopened.close()
        }
    }

    @Test func aFullFilesystemStopsTheJournalAndHealthyStorageHoldsExactlyWhatWasAcknowledged() async throws {
        try await JournalTests.withDirectory { directory in
            let small = directory + "/small"
            try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
            try #require(Peers.system("/bin/mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", small]) == 0,
                         "mounting a 512 KiB tmpfs needs root (CI and tools/test run as root)")
            defer { _ = Peers.system("/bin/umount", ["-l", small]) }
            let journal = try Journal(path: small + "/journal.db", synchronous: .normal)
            var acknowledged: [Int] = []
            var failedAt: Int?
            var next = 0
            while failedAt == nil, next < 100_000 {
                let results = await Self.appendAll(journal, from: next, count: 64, bytes: 1024)
                for (offset, result) in results.enumerated() {
                    switch result {
                    case .success: 
                        #expect(failedAt == nil, "write \(next + offset) committed after write \(failedAt ?? 0) failed")
                        acknowledged.append(next + offset)
                    case .failure:
                        if failedAt == nil { failedAt = next + offset }
                    }
                }
                next += 64
            }
            #expect(failedAt != nil && !acknowledged.isEmpty, "the filesystem never filled")
            #expect(journal.failure != nil)
            await #expect(throws: SQLiteError.self) { _ = try await journal.append(Self.entry(-1)) }
            await journal.close()
            // The same files on healthy storage: exactly the acknowledged writes, in order, without a gap.
            let healthy = directory + "/healthy"
            try FileManager.default.createDirectory(atPath: healthy, withIntermediateDirectories: true)
            for name in ["journal.db", "journal.db-wal", "journal.db-shm"] where FileManager.default.fileExists(atPath: small + "/" + name) {
                try FileManager.default.copyItem(atPath: small + "/" + name, toPath: healthy + "/" + name)
            }
            let reopened = try Journal(path: healthy + "/journal.db")
            let records = try reopened.records(from: 1, limit: 1_000_000)
            #expect(records.map(\.sequence) == (1...UInt64(records.count)).map { $0 })
            #expect(records.map(\.entry.key) == acknowledged.map { "k-\($0)" })
            #expect(try await reopened.append(Self.entry(100_000)) == UInt64(acknowledged.count + 1))
            await reopened.close()
            try? FileManager.default.removeItem(atPath: healthy)
        }
    }
}
