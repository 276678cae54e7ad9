import Journal
import SQLite
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite struct JournalTests {
    /// A fresh directory for one test's SQLite files, removed afterwards.
    static func withDirectory(_ body: (String) async throws -> Void) async throws {
        var template = Array("/tmp/tradewire-journal-XXXXXX".utf8CString)
        let directory = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer {
            for name in ["journal.db", "journal.db-wal", "journal.db-shm", "journal.db.lock"] { unlink(directory + "/" + name) }
            rmdir(directory)
        }
        try await body(directory)
    }

    static func entry(_ key: String, _ index: Int) -> JournalEntry {
        JournalEntry(key: key, kind: 1, payload: Array("event \(index)".utf8))
    }

    /// Scans answer the newest records from memory and older ones from the file: for every start, limit and
    /// ring size, across a reopen (an empty ring) and past the newest, exactly what the file holds.
    @Test func scansFromMemoryAnswerExactlyAsTheFile() async throws {
        try await Self.withDirectory { directory in
            let path = directory + "/journal.db"
            var generator = SystemRandomNumberGenerator()
            var appended = 0
            for recent in [1, 5, 64] {
                let journal = try Journal(path: path, recentRecords: recent)
                for _ in 0..<12 {
                    let count = Int.random(in: 1...7, using: &generator)
                    _ = try await journal.append((0..<count).map { Self.entry("k\($0 % 3)", appended + $0) })
                    appended += count
                    let last = Int(journal.lastSequence)
                    for from in Set([1, max(1, last - recent), max(1, last - recent + 1), last, last + 1, last + 2, Int.random(in: 1...last)]) {
                        for limit in [1, 3, 1000] {
                            let scanned = try await journal.scan(from: UInt64(from), limit: limit)
                            #expect(scanned == (try journal.records(from: UInt64(from), limit: limit)), "from \(from) limit \(limit) ring \(recent)")
                        }
                    }
                }
                await journal.close()
            }
        }
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

    /// A wait ends with the next commit, at its deadline when none comes (many waits at once, none left behind),
    /// or when the journal closes.
    @Test(.timeLimit(.minutes(1))) func waitsForEventsEndByCommitDeadlineOrClose() async throws {
        try await Self.withDirectory { directory in
            let journal = try Journal(path: directory + "/journal.db")
            let ended = await withTaskGroup(of: Int.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        await journal.waitForEvents(after: 0, atMost: .milliseconds(10 + index))
                        return 1
                    }
                }
                return await group.reduce(0, +)
            }
            #expect(ended == 50, "every wait reached its deadline")
            #expect(journal.lastSequence == 0)

            async let woken: Void = journal.waitForEvents(after: 0, atMost: .seconds(3600))
            _ = try await journal.append(Self.entry("ord-1", 0))
            await woken
            async let closed: Void = journal.waitForEvents(after: 1)
            await journal.close()
            await closed
        }
    }

    @Test func aClosedJournalRefusesAppends() async throws {
        try await Self.withDirectory { directory in
            let journal = try Journal(path: directory + "/journal.db")
            await journal.close()
            await #expect(throws: SQLiteError.self) { try await journal.append(Self.entry("ord-1", 0)) }
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

    /// Outbox messages are numbered per destination at commit; confirmed ones leave, and numbering goes on after
    /// a reopen even when every row was confirmed (a receiver would take a reused number for a duplicate).
    @Test func outboxNumbersArePerDestinationAndNeverReused() async throws {
        try await Self.withDirectory { directory in
            let path = directory + "/journal.db"
            var journal = try Journal(path: path)
            var write = JournalWrite()
            write.outbox = [("p2", [1]), ("p3", [2]), ("p2", [3])]
            #expect(try await journal.append(write).outboxSequences == [1, 1, 2])
            var confirm = JournalWrite()
            confirm.delivered = ["p2": 2, "p3": 1]
            _ = try await journal.append(confirm)
            #expect(try journal.pendingOutbox().isEmpty)
            await journal.close()
            journal = try Journal(path: path)
            var next = JournalWrite()
            next.outbox = [("p2", [4])]
            #expect(try await journal.append(next).outboxSequences == [3])
            #expect(try journal.pendingOutbox() == [OutboxRecord(destination: "p2", sequence: 3, payload: [4])])
            await journal.close()
        }
    }

    /// Random sends and confirmations on three destinations, the journal sometimes reopened: numbering never goes
    /// back, the pending outbox is exactly what is sent and not confirmed, and the heads are the last numbers given.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func outboxNumberingSurvivesAnyMixOfSendsConfirmationsAndReopens(seed: UInt64) async throws {
        try await Self.withDirectory { directory in
            let path = directory + "/journal.db"
            var generator = SplitMix64(seed: seed)
            var journal = try Journal(path: path)
            var heads: [String: UInt64] = [:]
            var confirmed: [String: UInt64] = [:]
            var sent: [String: [UInt64: [UInt8]]] = [:]
            for step in 0..<120 {
                var write = JournalWrite()
                let destinations = ["p1", "p2", "p3"]
                for _ in 0..<Int.random(in: 0...3, using: &generator) {
                    write.outbox.append((destinations.randomElement(using: &generator)!, [UInt8(step & 0xff), UInt8.random(in: 0...255, using: &generator)]))
                }
                for destination in destinations where heads[destination, default: 0] > 0 && Bool.random(using: &generator) {
                    // Up to the head most often (what a quiet link confirms), sometimes short of it.
                    let head = heads[destination]!
                    write.delivered[destination] = Bool.random(using: &generator) ? head : UInt64.random(in: 0...head, using: &generator)
                }
                let numbers = try await journal.append(write).outboxSequences
                for (message, number) in zip(write.outbox, numbers) {
                    #expect(number == heads[message.destination, default: 0] + 1, "step \(step)")
                    heads[message.destination] = number
                    sent[message.destination, default: [:]][number] = message.payload
                }
                for (destination, upTo) in write.delivered { confirmed[destination] = max(confirmed[destination] ?? 0, upTo) }
                if Int.random(in: 0..<10, using: &generator) == 0 {
                    await journal.close()
                    journal = try Journal(path: path)
                }
                let pending = sent.flatMap { destination, messages in
                    messages.filter { $0.key > confirmed[destination, default: 0] }
                        .map { OutboxRecord(destination: destination, sequence: $0.key, payload: $0.value) }
                }.sorted { ($0.destination, $0.sequence) < ($1.destination, $1.sequence) }
                #expect(try journal.pendingOutbox() == pending, "step \(step)")
                #expect(journal.outboxHeads == heads, "step \(step)")
            }
            await journal.close()
        }
    }

    /// A journal file is one process's: a second opener (another process, or another Journal here) is refused
    /// before it reads anything, with a message naming the file; once the first closes, it opens.
    @Test func aSecondOpenerOfTheSameFileIsRefused() async throws {
        try await Self.withDirectory { directory in
            let path = directory + "/journal.db"
            let first = try Journal(path: path)
            let error = #expect(throws: SQLiteError.self) { try Journal(path: path) }
            #expect(error?.message.contains("another process has \(path) open") == true, "\(String(describing: error))")
            await first.close()
            // Another test spawning a process at this moment lends the child a copy of the lock's descriptor until
            // its exec: the lock waits that out (ExclusiveLock.patience).
            let second = try Journal(path: path)
            await second.close()
        }
    }

    /// A write keeps each order's last row, in the order of their last writes, whether it has a few rows (compared
    /// pairwise) or many (hashed): both ways against a model, over random key sequences.
    @Test(arguments: [3, 16, 17, 200])
    func aWriteKeepsEachOrdersLastRowInTheOrderOfTheLastWrites(rows: Int) {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(rows)
        for _ in 0..<200 {
            var write = JournalWrite()
            write.orders = (0..<rows).map { index in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let key = "o-\(String(repeating: "k", count: 40))-\((state >> 33) % UInt64(max(1, rows / 2)))"
                return OrderRow(key: key, account: "a", symbol: "X", status: Int32(index), createdAt: 0, batchID: "", payload: [])
            }
            let expected = write.orders.enumerated().filter { index, row in
                !write.orders[(index + 1)...].contains { $0.key == row.key }
            }.map(\.element)
            write.keepLastOrderRows()
            #expect(write.orders == expected)
        }
    }

    /// Order rows are upserted with their events; a snapshot drops the inputs it covers.
    @Test func orderRowsAndSnapshotsAreWrittenWithTheirEvents() async throws {
        try await Self.withDirectory { directory in
            let journal = try Journal(path: directory + "/journal.db")
            var write = JournalWrite(events: [Self.entry("o-1", 0)])
            write.orders = [OrderRow(key: "o-1", account: "a", symbol: "X", status: 2, createdAt: 10, batchID: "", payload: [1])]
            write.inputs = (1...3).map { InputRow(key: "X", position: $0, payload: [UInt8($0)]) }
            _ = try await journal.append(write)
            var update = JournalWrite(events: [Self.entry("o-1", 1)])
            update.orders = [OrderRow(key: "o-1", account: "a", symbol: "X", status: 4, createdAt: 10, batchID: "", payload: [2])]
            update.snapshots = [SnapshotRow(key: "X", position: 2, payload: [9])]
            _ = try await journal.append(update)
            #expect(try journal.order(key: "o-1")?.status == 4)
            #expect(try journal.orders(statuses: [4]).map(\.key) == ["o-1"])
            var query = OrderQuery(account: "a")
            query.statuses = [2]
            #expect(try journal.orders(query).isEmpty)
            let (snapshots, inputs) = try journal.replayable()
            #expect(snapshots == [SnapshotRow(key: "X", position: 2, payload: [9])])
            #expect(inputs.map(\.position) == [3])
            await journal.close()
        }
    }

    /// A journal written with the old `orders` layout (WITHOUT ROWID, keyed by OrderId, its status index keyed the
    /// same way) opens with every row, status and query answer intact, in the rowid layout, and keeps taking upserts.
    @Test func ordersOfTheOldLayoutAreRewrittenOnceAndStayQueryable() async throws {
        try await Self.withDirectory { directory in
            let path = directory + "/journal.db"
            try SQLiteDatabase(path: path).execute("""
                CREATE TABLE orders (
                    key TEXT PRIMARY KEY, account TEXT NOT NULL, symbol TEXT NOT NULL, status INTEGER NOT NULL,
                    created_at INTEGER NOT NULL, batch_id TEXT NOT NULL, payload BLOB NOT NULL) WITHOUT ROWID;
                CREATE INDEX orders_by_account ON orders (account, created_at, key);
                CREATE INDEX orders_by_status ON orders (status);
                INSERT INTO orders VALUES ('o-b', 'a', 'X', 5, 20, 'batch', x'02');
                INSERT INTO orders VALUES ('o-a', 'a', 'X', 2, 30, '', x'01');
                INSERT INTO orders VALUES ('o-c', 'b', 'Y', 5, 10, '', x'03');
                """)
            for _ in 0..<2 {  // the second open finds the new layout and leaves it alone
                let journal = try Journal(path: path)
                let row = OrderRow(key: "o-b", account: "a", symbol: "X", status: 5, createdAt: 20, batchID: "batch", payload: [2])
                #expect(try journal.order(key: "o-b") == row)
                #expect(Set(try journal.orders(statuses: [5]).map(\.key)) == ["o-b", "o-c"])
                #expect(try journal.orders(OrderQuery(account: "a")).map(\.key) == ["o-a", "o-b"])
                #expect(try journal.orderCounts() == [5: 2, 2: 1])
                await journal.close()
            }
            let journal = try Journal(path: path)
            var write = JournalWrite(events: [Self.entry("o-a", 0)])
            write.orders = [
                OrderRow(key: "o-a", account: "a", symbol: "X", status: 4, createdAt: 30, batchID: "", payload: [9]),
                OrderRow(key: "o-d", account: "a", symbol: "X", status: 2, createdAt: 40, batchID: "", payload: [4]),
            ]
            _ = try await journal.append(write)
            #expect(try journal.order(key: "o-a")?.payload == [9])
            #expect(try journal.orders(OrderQuery(account: "a")).map(\.key) == ["o-d", "o-a", "o-b"])
            await journal.close()
            let layout = try SQLiteDatabase(path: path).prepare("SELECT sql FROM sqlite_master WHERE name = 'orders'")
            #expect(try layout.step() && !layout.text(0).contains("WITHOUT ROWID"))
        }
    }
}
