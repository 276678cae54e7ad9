import EventLoop
import Journal
import SQLite
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Order rows commit to the order log and reach the `orders` table later: every read must answer as if they had
/// been written at once, and a crash must lose none of them.
@Suite struct OrderRowMaterialisationTests {
    /// Far enough off that nothing materialises during a test unless it asks.
    static let never = Duration.seconds(3600)

    /// Random changes to a pool of orders (some already in the table, some only in the log and the overlay) answer
    /// every query, page by page, every count and every point read exactly as SQLite does once the same rows are all
    /// in the table (the journal reopened: an empty overlay). Keys include multibyte text and creation times tie,
    /// so that the overlay's order must be SQLite's byte order.
    @Test(arguments: 0..<8) func readsOverTheOverlayAnswerExactlyAsTheTable(round: Int) async throws {
        try await JournalTests.withDirectory { directory in
            let path = directory + "/journal.db"
            var random = SystemRandomNumberGenerator()
            var journal = try Journal(path: path, materialiseInterval: Self.never, materialiseAt: 1 << 20)
            for index in 0..<40 { _ = try await journal.append(Self.randomWrite(index, &random)) }
            await journal.close()  // these rows are now in the table

            journal = try Journal(path: path, materialiseInterval: Self.never, materialiseAt: 1 << 20)
            for index in 40..<80 { _ = try await journal.append(Self.randomWrite(index, &random)) }
            #expect(try Self.count("order_log", in: path) > 0, "the rows of the second half wait in the log")
            let queries = (0..<60).map { _ in Self.randomQuery(&random) }
            let answers = try Self.answers(journal, queries)
            let scanned = try await queries.asyncMap { try await journal.scan($0) }
            await journal.close()

            journal = try Journal(path: path, materialiseInterval: Self.never)
            #expect(try Self.count("order_log", in: path) == 0)
            let stored = try Self.answers(journal, queries)
            #expect(answers == stored, "round \(round)")
            #expect(scanned == stored.pages.map { $0.first ?? [] }, "round \(round)")
            await journal.close()
        }
    }

    /// Rows committed only to the log (the process killed before it materialised them: the database and WAL files
    /// copied as they are) are read back after the restart, and the restart writes them into the table.
    @Test func rowsOnlyInTheLogSurviveACrash() async throws {
        try await JournalTests.withDirectory { directory in
            let path = directory + "/journal.db"
            let copy = directory + "/crashed.db"
            defer { for suffix in ["", "-wal", "-shm", ".lock"] { unlink(copy + suffix) } }
            let journal = try Journal(path: path, materialiseInterval: Self.never, materialiseAt: 1 << 20)
            var random = SystemRandomNumberGenerator()
            for index in 0..<30 { _ = try await journal.append(Self.randomWrite(index, &random)) }
            let before = try (0..<Self.pool).map { try journal.order(key: Self.key($0)) }
            let counts = try journal.orderCounts()
            #expect(try Self.count("orders", in: path) == 0)
            for suffix in ["", "-wal"] { try Self.copyFile(path + suffix, to: copy + suffix) }
            await journal.close()

            let restarted = try Journal(path: copy, materialiseInterval: Self.never)
            #expect(try Self.count("order_log", in: copy) == 0)
            #expect(try Self.count("orders", in: copy) == before.compactMap { $0 }.count)
            #expect(try (0..<Self.pool).map { try restarted.order(key: Self.key($0)) } == before)
            #expect(try restarted.orderCounts() == counts)
            await restarted.close()
        }
    }

    /// The writer materialises on its own: after `materialiseInterval`, and as soon as `materialiseAt` orders wait.
    @Test(arguments: [(Duration.milliseconds(20), 1 << 20), (never, 3)])
    func rowsReachTheTableByTimeOrByCount(interval: Duration, count: Int) async throws {
        try await JournalTests.withDirectory { directory in
            let path = directory + "/journal.db"
            let journal = try Journal(path: path, materialiseInterval: interval, materialiseAt: count)
            var random = SystemRandomNumberGenerator()
            var keys = Set<String>()
            while keys.count < 3 {
                let write = Self.randomWrite(keys.count, &random)
                keys.formUnion(write.orders.map(\.key))
                _ = try await journal.append(write)
            }
            var waited = 0
            while try Self.count("order_log", in: path) > 0 && waited < 500 {
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
            #expect(try Self.count("order_log", in: path) == 0)
            #expect(try Self.count("orders", in: path) == keys.count)
            await journal.close()
        }
    }

    /// Materialisations run between commits on the same loop (every 1 ms, or at 4 orders waiting): after every
    /// append each order it wrote reads as that row, and crash images taken between two jobs of the writer (the
    /// database and WAL copied by a job on the writer's loop) reopen with exactly the rows committed by then, and an
    /// empty log.
    @Test func crashImagesBetweenTheWritersJobsLoseNothing() async throws {
        try await JournalTests.withDirectory { directory in
            let path = directory + "/journal.db"
            var images: [(path: String, newest: [String: OrderRow])] = []
            defer {
                for image in images { for suffix in ["", "-wal", "-shm", ".lock"] { unlink(image.path + suffix) } }
            }
            let loop = try EventLoop(name: "journal-test")
            defer { loop.shutdown() }
            let journal = try Journal(path: path, writer: loop, materialiseInterval: .milliseconds(1), materialiseAt: 4)
            var random = SystemRandomNumberGenerator()
            var newest: [String: OrderRow] = [:]
            for index in 0..<150 {
                let write = Self.randomWrite(index, &random)
                _ = try await journal.append(write)
                for row in write.orders {
                    newest[row.key] = row
                    #expect(try journal.order(key: row.key) == row)
                }
                if index % 10 == 9 {
                    let image = directory + "/image-\(index).db"
                    try await loop.submit { for suffix in ["", "-wal"] { try Self.copyFile(path + suffix, to: image + suffix) } }
                    images.append((image, newest))
                }
            }
            await journal.close()
            for (image, expected) in images + [(path, newest)] {
                let reopened = try Journal(path: image, materialiseInterval: Self.never)
                #expect(try Self.count("order_log", in: image) == 0)
                #expect(try (0..<Self.pool).map { try reopened.order(key: Self.key($0)) } == (0..<Self.pool).map { expected[Self.key($0)] })
                await reopened.close()
            }
        }
    }

    // MARK: - Helpers

    static let pool = 24

    /// Keys of one to three bytes a character, so that Swift's String order and SQLite's byte order differ.
    static func key(_ index: Int) -> String {
        ["ord-\(index)", "ørd-\(index)", "ord-\(index)-€", "\u{1F600}-\(index)", "Ord-\(index)", "ord-é\(index)"][index % 6]
    }

    static func randomRow(_ random: inout SystemRandomNumberGenerator) -> OrderRow {
        let index = Int.random(in: 0..<pool, using: &random)
        return OrderRow(
            key: key(index), account: ["a", "b"].randomElement(using: &random)!, symbol: ["X", "Y"].randomElement(using: &random)!,
            status: Int32.random(in: 1...5, using: &random), createdAt: Int64.random(in: 1...6, using: &random),
            batchID: ["", "batch"].randomElement(using: &random)!, payload: [UInt8.random(in: 0...255, using: &random)])
    }

    static func randomWrite(_ index: Int, _ random: inout SystemRandomNumberGenerator) -> JournalWrite {
        var write = JournalWrite(events: [JournalEntry(key: "e", kind: 1, payload: [UInt8(index & 0xff)])])
        write.orders = (0..<Int.random(in: 1...3, using: &random)).map { _ in randomRow(&random) }
        write.keepLastOrderRows()
        return write
    }

    static func randomQuery(_ random: inout SystemRandomNumberGenerator) -> OrderQuery {
        var query = OrderQuery(account: ["a", "b"].randomElement(using: &random)!)
        if Bool.random(using: &random) { query.statuses = (1...5).filter { _ in Bool.random(using: &random) }.map(Int32.init) }
        if Int.random(in: 0..<3, using: &random) == 0 { query.symbol = "X" }
        if Int.random(in: 0..<3, using: &random) == 0 { query.createdAfter = Int64.random(in: 1...5, using: &random) }
        if Int.random(in: 0..<3, using: &random) == 0 { query.createdBefore = Int64.random(in: 2...6, using: &random) }
        if Int.random(in: 0..<4, using: &random) == 0 { query.batchID = "batch" }
        query.limit = Int.random(in: 1...7, using: &random)
        return query
    }

    struct Answers: Equatable {
        /// Per query, its pages (each the next after the previous page's last row) until one comes back short.
        var pages: [[[OrderRow]]]
        var counts: [Int32: Int]
        var byStatus: [[String]]
        var points: [OrderRow?]
    }

    static func answers(_ journal: Journal, _ queries: [OrderQuery]) throws -> Answers {
        let pages = try queries.map { query in
            var pages: [[OrderRow]] = []
            var page = query
            while pages.count <= pool {
                let rows = try journal.orders(page)
                pages.append(rows)
                guard rows.count == query.limit, let last = rows.last else { break }
                page.after = (last.createdAt, last.key)
            }
            return pages
        }
        let byStatus = try [[2], [1, 5], [3, 4]].map { try journal.orders(statuses: $0).map(\.key).sorted() }
        return Answers(
            pages: pages, counts: try journal.orderCounts(), byStatus: byStatus,
            points: try (0..<pool).map { try journal.order(key: key($0)) })
    }

    /// Rows in `table`, read through a connection of the test's own.
    static func count(_ table: String, in path: String) throws -> Int {
        let statement = try SQLiteDatabase(path: path).prepare("SELECT count(*) FROM \(table)")
        _ = try statement.step()
        return Int(statement.int64(0))
    }

    static func copyFile(_ source: String, to destination: String) throws {
        let input = open(source, O_RDONLY)
        let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(input); close(output) }
        try #require(input >= 0 && output >= 0)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = read(input, &buffer, buffer.count)
            try #require(count >= 0)
            if count == 0 { return }
            try #require(write(output, buffer, count) == count)
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var mapped: [T] = []
        for element in self { mapped.append(try await transform(element)) }
        return mapped
    }
}
