import Protos
@testable import Risk
import SQLite
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The risk store's file: what a write leaves is what a load gives back, and a file it cannot read is refused.
@Suite struct RiskStoreTests {
    static func withFile(_ body: (String) throws -> Void) throws {
        var template = Array("/tmp/tradewire-risk-XXXXXX".utf8CString)
        let directory = try #require(mkdtemp(&template).map { String(cString: $0) })
        defer {
            for suffix in ["", "-wal", "-shm", ".lock"] { unlink("\(directory)/risk.sqlite\(suffix)") }
            rmdir(directory)
        }
        try body("\(directory)/risk.sqlite")
    }

    /// Holds, a release, an order confirmed (its row rewritten in place) and expiry: a reload holds the same and
    /// numbers new reservations after the stored ones.
    @Test func aReloadHoldsWhatWasWrittenAndNumbersOnFromIt() throws {
        try Self.withFile { path in
            var engine = try RiskEngineTests.engine()
            for (id, quantity) in [("a", 1), ("b", 2), ("c", 3)] {
                #expect(engine.check(RiskEngineTests.request(id, quantity: Int64(quantity)), now: 0).approved)
            }
            engine.release("b")
            var accepted = RiskEngineTests.event("c", status: .accepted, quantity: 3, leaves: 3)
            accepted.sequence = 1
            engine.apply(node: "p1", [accepted], now: 10)
            try RiskStore(path: path).write(engine.takeRows())

            var loaded = try RiskStore(path: path).load()
            #expect(loaded.reservations == engine.reservations)
            #expect(loaded.reservations["c"]?.row == engine.reservations["c"]?.row && loaded.reservations["c"]?.confirmed == true)
            #expect(loaded.accounts["a"]?.reserved == 400 * RiskEngineTests.dollar && loaded.accounts["a"]?.openOrders == 2)
            #expect(loaded.cursors == ["p1": 1])
            // Instruments and reference prices are not stored: market data sends them again.
            loaded.instruments = engine.instruments
            loaded.references = engine.references
            #expect(loaded.check(RiskEngineTests.request("d", quantity: 1), now: 20).approved)
            let newest = try #require(engine.reservations.values.map(\.row).max())
            #expect(try #require(loaded.reservations["d"]).row > newest)
            loaded.unconfirmedTTL = 5
            loaded.expire(now: 100)  // "a" (unconfirmed since 0) and "d" go; "c" is confirmed
            #expect(Set(loaded.reservations.keys) == ["c"])
        }
    }

    /// A file of the first layout (reservations keyed by order id) is refused with a message saying so.
    @Test func aFileOfTheOldLayoutIsRefused() throws {
        try Self.withFile { path in
            let old = try SQLiteDatabase.open(path: path)
            try old.execute("CREATE TABLE reservations (order_id TEXT PRIMARY KEY, account TEXT NOT NULL) WITHOUT ROWID")
            let error = #expect(throws: SQLiteError.self) { try RiskStore(path: path) }
            #expect(error?.message.contains("layout 0, this build reads layout 3") == true)
        }
    }

    /// A layout-2 file (before replaces held pending terms) gains the column and keeps its reservations; a
    /// pending replace written then survives a reload.
    @Test func aLayoutTwoFileIsMigratedAndPendingReplacesAreKept() throws {
        try Self.withFile { path in
            let old = try SQLiteDatabase.open(path: path)
            try old.execute("""
                CREATE TABLE reservations (
                    row INTEGER PRIMARY KEY, order_id TEXT NOT NULL, account TEXT NOT NULL, symbol TEXT NOT NULL,
                    buy INTEGER NOT NULL, price INTEGER NOT NULL, leaves INTEGER NOT NULL, cash INTEGER NOT NULL,
                    confirmed INTEGER NOT NULL, created_at INTEGER NOT NULL);
                INSERT INTO reservations VALUES (7, 'o1', 'a', 'ACME', 1, 10000, 5, 50000000000, 1, 3);
                PRAGMA user_version = 2;
                """)
            var loaded = try RiskStore(path: path).load()
            let kept = try #require(loaded.reservations["o1"])
            #expect(kept.row == 7 && kept.leaves == 5 && kept.pending == nil)
            var pending = kept
            pending.pending = PendingTerms(price: 10_100, leaves: 8, cash: 80_800_000_000, afterVersion: 4, confirmed: false, createdAt: 9)
            loaded.release("o1")
            loaded.hold("o1", pending)
            try RiskStore(path: path).write(loaded.takeRows())
            let reloaded = try RiskStore(path: path).load()
            #expect(reloaded.reservations["o1"]?.pending == pending.pending)
        }
    }

    /// Values no write makes (a negative cursor) are a startup error naming the table, not a trap.
    @Test func aDamagedFileIsRefusedWithAMessage() throws {
        try Self.withFile { path in
            _ = try RiskStore(path: path)
            let database = try SQLiteDatabase.open(path: path)
            try database.execute("INSERT INTO cursors VALUES ('p1', -5)")
            let error = #expect(throws: SQLiteError.self) { try RiskStore(path: path).load() }
            #expect(error?.message.contains("cursors") == true)
        }
    }
}
