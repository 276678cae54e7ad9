import SQLite
import Testing

/// A statement binds text and blobs from buffers of its own that it reuses (SQLITE_STATIC): whatever the sizes
/// and the order of the values bound, every row holds exactly the bytes it was given.
struct SQLiteBindingTests {
    @Test func rowsHoldExactlyTheBoundValuesWhateverTheirSizesAndOrder() throws {
        let database = try SQLiteDatabase(path: ":memory:")
        try database.execute("CREATE TABLE t (i INTEGER PRIMARY KEY, a TEXT, b BLOB)")
        let insert = try database.prepare("INSERT INTO t (i, a, b) VALUES (?, ?, ?)")
        var generator = SystemRandomNumberGenerator()
        var expected: [(text: String, blob: [UInt8])] = []
        for index in 0..<400 {
            // Sizes that grow past each buffer, shrink, and come back; empty values; multi-byte and NUL characters.
            let size = index % 7 == 0 ? 0 : Int.random(in: 1...(index % 3 == 0 ? 5_000 : 40), using: &generator)
            let characters: [Character] = ["a", "é", "€", "\u{0}", "🙂", "z"]
            let text = String((0..<size).map { _ in characters.randomElement(using: &generator)! })
            let blob = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
            insert.bind(1, Int64(index))
            if index % 5 == 0 {
                // Bound twice before the step: the second value is the one stored (the first one's buffer may be
                // replaced by a larger one while SQLite still points into it).
                insert.bind(2, String(repeating: "x", count: size * 3 + 100))
                insert.bind(3, [UInt8](repeating: 7, count: size * 3 + 100))
            }
            insert.bind(2, text)
            insert.bind(3, blob)
            #expect(try insert.step() == false)
            insert.reset()
            expected.append((text, blob))
        }
        let select = try database.prepare("SELECT a, b, typeof(a), typeof(b) FROM t ORDER BY i")
        var index = 0
        while try select.step() {
            #expect(select.text(0) == expected[index].text, "row \(index)'s text")
            #expect(select.blob(1) == expected[index].blob, "row \(index)'s blob")
            // Empty values are empty, not NULL.
            #expect(select.text(2) == "text" && select.text(3) == "blob", "row \(index)'s types")
            index += 1
        }
        #expect(index == expected.count)
    }

    /// Transactions through the statements the database prepares once: what a committed one wrote stays, what a
    /// rolled-back one wrote goes, a rollback with none open does nothing, and a failed statement inside leaves the
    /// statements usable (many rounds reuse them).
    @Test func preparedTransactionStatementsCommitAndRollBackRoundAfterRound() throws {
        let database = try SQLiteDatabase(path: ":memory:")
        try database.execute("CREATE TABLE t (i INTEGER PRIMARY KEY)")
        let insert = try database.prepare("INSERT INTO t (i) VALUES (?)")
        database.rollback()  // none open
        for round in 0..<300 {
            try database.begin()
            insert.bind(1, Int64(round))
            #expect(try insert.step() == false)
            insert.reset()
            if round % 3 == 0 {
                database.rollback()
            } else if round % 3 == 1 {
                insert.bind(1, Int64(round))  // the same key again: the insert fails, then the transaction is rolled back
                #expect(throws: SQLiteError.self) { try insert.step() }
                insert.reset()
                database.rollback()
            } else {
                try database.commit()
            }
        }
        let count = try database.prepare("SELECT count(*), min(i) % 3, max(i) % 3 FROM t")
        #expect(try count.step())
        #expect(count.int64(0) == 100 && count.int64(1) == 2 && count.int64(2) == 2)
        #expect(throws: SQLiteError.self) { try database.commit() }  // none open
    }
}
