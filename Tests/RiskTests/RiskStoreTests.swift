import Protos
@testable import Risk
import SQLite
import TestSupport
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

    /// Random checks, releases, confirmations and replaces, cut into writes at random points: after every write
    /// the file loads exactly the engine's reservations, and sometimes the service goes on from what it loaded (so
    /// rows read back are released and changed too), and a write names each row once however often it changed
    /// (what a write leaves out altogether is the next test's).
    @Test(arguments: [1, 2, 3, 4] as [UInt64]) func writesCutAnywhereLoadAsTheEngineHolds(seed: UInt64) throws {
        try Self.withFile { path in
            var random = SplitMix64(seed: seed)
            var engine = try RiskEngineTests.engine()
            _ = try engine.setBalance("a", Tradewire_V1_Money(units: 1_000_000_000, scale: 0, currency: "USD"), adjust: false)
            var live: [String] = []
            var sequence: UInt64 = 0
            var next = 0
            var coalesced = 0
            for step in 0..<600 {
                var action = random.next() % 7
                if live.isEmpty, (2...5).contains(action) { action = 0 }  // nothing live to act on
                switch action {
                case 0, 1:
                    next += 1
                    let id = "o\(next)"
                    #expect(engine.check(RiskEngineTests.request(id, quantity: Int64(1 + random.next() % 9)), now: Int64(step)).approved)
                    live.append(id)
                    if random.next() % 4 == 0 {  // ended before any write can have it
                        engine.release(id)
                        live.removeLast()
                        coalesced += 1
                    }
                case 2:
                    engine.release(live.remove(at: Int(random.next() % UInt64(live.count))))
                case 3, 4:
                    let id = live[Int(random.next() % UInt64(live.count))]
                    let quantity = engine.reservations[id]!.leaves
                    sequence += 1
                    var event = RiskEngineTests.event(id, status: .accepted, quantity: quantity,
                                                      leaves: max(0, quantity - Int64(random.next() % 2)))
                    event.sequence = sequence
                    engine.apply(node: "p1", [event], now: Int64(step))
                case 5:
                    let id = live[Int(random.next() % UInt64(live.count))]
                    var replace = RiskEngineTests.request(id, price: 10_050, quantity: 3)
                    replace.replace = true
                    replace.orderVersion = 1
                    _ = engine.check(replace, now: Int64(step))
                default:
                    let rows = engine.takeRows()
                    #expect(Set(rows.reservations.map(\.row)).count == rows.reservations.count)
                    try RiskStore(path: path).write(rows)
                    var loaded = try RiskStore(path: path).load()
                    #expect(loaded.reservations == engine.reservations)
                    #expect(loaded.accounts["a"]?.reserved == engine.accounts["a"]?.reserved)
                    if random.next() % 3 == 0 {  // the service restarts from its file
                        loaded.instruments = engine.instruments
                        loaded.references = engine.references
                        loaded.cursors = engine.cursors
                        engine = loaded
                    }
                }
            }
            try RiskStore(path: path).write(engine.takeRows())
            #expect(try RiskStore(path: path).load().reservations == engine.reservations)
            #expect(coalesced > 0)
        }
    }

    /// What a write takes: nothing for a reservation held and released since the last one; the delete of one the
    /// store has; one row for a reservation changed several times.
    @Test func aWriteTakesEachRowOnceAsItEndedUp() throws {
        var engine = try RiskEngineTests.engine()
        #expect(engine.check(RiskEngineTests.request("kept", quantity: 1), now: 0).approved)
        #expect(engine.check(RiskEngineTests.request("brief", quantity: 1), now: 0).approved)
        engine.release("brief")
        var accepted = RiskEngineTests.event("kept", status: .accepted, quantity: 1, leaves: 1)
        accepted.sequence = 1
        engine.apply(node: "p1", [accepted], now: 1)  // released and held again on the same row
        let first = engine.takeRows().reservations
        #expect(first.count == 1 && first[0].orderID == "kept" && first[0].reservation?.confirmed == true)
        engine.release("kept")
        let second = engine.takeRows().reservations
        #expect(second.count == 1 && second[0].orderID == "kept" && second[0].reservation == nil)
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
