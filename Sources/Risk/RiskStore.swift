import Protos
import SQLite

/// The rows of one write, captured from the engine under its lock (so each write is a consistent cut).
struct RiskRows: Sendable {
    var accounts: [(name: String, limits: [UInt8], balance: Int64, currency: String)] = []
    var positions: [(key: PositionKey, position: RiskPosition)] = []
    /// By row; nil: the reservation ended (delete its row). A row numbered after the previous write and ended
    /// before this one never reached the store and is left out.
    var reservations: [(row: Int64, orderID: String, reservation: Reservation?)] = []
    var cursors: [String: UInt64] = [:]
}

extension RiskEngine {
    /// The changed rows as they are now; clears the change set.
    mutating func takeRows() -> RiskRows {
        var rows = RiskRows()
        for name in changes.accounts {
            guard let account = accounts[name] else { continue }
            rows.accounts.append((name, account.limits.serializedBytes(), account.balance, account.currency))
        }
        for key in changes.positions {
            if let position = accounts[key.account]?.positions[key.symbol] { rows.positions.append((key, position)) }
        }
        rows.reservations.reserveCapacity(changes.reservations.count)
        for (row, change) in changes.reservations where change.reservation != nil || row < unwrittenRows {
            rows.reservations.append((row, change.orderID, change.reservation))
        }
        rows.cursors = changes.cursors
        changes.removeAll()
        unwrittenRows = nextRow
        return rows
    }
}

/// The risk service's SQLite file: accounts, positions, working orders' reservations, and how far it has read
/// each processor node's events. What working orders hold (reserved cash, open orders, open quantities) is not
/// stored: loading re-derives it from the reservations. Used by the store thread only.
final class RiskStore {
    private let database: SQLiteDatabase
    private let lock: ExclusiveLock
    private let upsertAccount: SQLiteStatement
    private let upsertPosition: SQLiteStatement
    private let upsertReservation: SQLiteStatement
    private let deleteReservation: SQLiteStatement
    private let upsertCursor: SQLiteStatement
    static let layout: Int64 = 3

    /// Opens (or creates) the store at `path`, after taking its exclusive lock (a second process is refused).
    init(path: String, synchronous: String = "NORMAL") throws(SQLiteError) {
        lock = try ExclusiveLock(for: path)
        database = try SQLiteDatabase.open(path: path, synchronous: synchronous)
        // Every working order has a row that is written when it is held and deleted when it ends: with SQLite's
        // default 2 MiB page cache, a busy table's index pages are read back from the OS on every write.
        try database.execute("PRAGMA cache_size=-65536")
        // Layout 2 numbers reservations' rows (layout 1 keyed them by order id): a file of layout 1 is refused
        // rather than misread. Layout 3 adds a replace's pending terms to reservations (a layout 2 file gains the
        // columns).
        let layout = try database.prepare("SELECT (SELECT user_version FROM pragma_user_version), "
            + "(SELECT count(*) FROM sqlite_master WHERE name = 'reservations')")
        _ = try layout.step()
        let (found, hasTable) = (layout.int64(0), layout.int64(1) != 0)
        layout.reset()
        if found == 2, hasTable {
            try database.execute("ALTER TABLE reservations ADD COLUMN pending BLOB; PRAGMA user_version = 3;")
        } else if found != Self.layout, hasTable {
            throw SQLiteError(operation: "open \(path)", code: 0, message: "the risk store has layout \(found), "
                + "this build reads layout \(Self.layout): move it aside and start from a new one")
        }
        try database.execute("""
            CREATE TABLE IF NOT EXISTS accounts (
                account TEXT PRIMARY KEY, limits BLOB NOT NULL, balance INTEGER NOT NULL, currency TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS positions (
                account TEXT NOT NULL, symbol TEXT NOT NULL, quantity INTEGER NOT NULL, cost INTEGER NOT NULL,
                realized INTEGER NOT NULL, fills INTEGER NOT NULL, PRIMARY KEY (account, symbol)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS reservations (
                row INTEGER PRIMARY KEY, order_id TEXT NOT NULL, account TEXT NOT NULL, symbol TEXT NOT NULL,
                buy INTEGER NOT NULL, price INTEGER NOT NULL, leaves INTEGER NOT NULL, cash INTEGER NOT NULL,
                confirmed INTEGER NOT NULL, created_at INTEGER NOT NULL, pending BLOB);
            CREATE TABLE IF NOT EXISTS cursors (node TEXT PRIMARY KEY, sequence INTEGER NOT NULL) WITHOUT ROWID;
            PRAGMA user_version = \(Self.layout);
            """)
        upsertAccount = try database.prepare("INSERT OR REPLACE INTO accounts VALUES (?, ?, ?, ?)")
        upsertPosition = try database.prepare("INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?, ?, ?)")
        upsertReservation = try database.prepare("INSERT OR REPLACE INTO reservations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        deleteReservation = try database.prepare("DELETE FROM reservations WHERE row = ?")
        upsertCursor = try database.prepare("INSERT OR REPLACE INTO cursors (node, sequence) VALUES (?, ?)")
    }

    /// Releases the file's lock: nothing is written after this.
    func close() { lock.release() }

    /// Writes one cut in one transaction.
    func write(_ rows: RiskRows) throws(SQLiteError) {
        try database.transaction { () throws(SQLiteError) in
            for account in rows.accounts {
                try upsertAccount.run(.text(account.name), .blob(account.limits), .int(account.balance), .text(account.currency))
            }
            for (key, position) in rows.positions {
                try upsertPosition.run(.text(key.account), .text(key.symbol), .int(position.quantity), .int(position.cost),
                                       .int(position.realized), .int(Int64(position.fills)))
            }
            // In key order: new rows append at the table's end, ended ones go from its front.
            for (row, orderID, reservation) in rows.reservations.sorted(by: { $0.row < $1.row }) {
                guard let reservation else {
                    try deleteReservation.run(.int(row))
                    continue
                }
                try upsertReservation.run(
                    .int(row), .text(orderID), .text(reservation.account), .text(reservation.symbol), .int(reservation.buy ? 1 : 0),
                    .int(reservation.price), .int(reservation.leaves), .int(reservation.cash), .int(reservation.confirmed ? 1 : 0),
                    .int(reservation.createdAt), reservation.pending.map { .blob($0.bytes) } ?? .null)
            }
            for (node, sequence) in rows.cursors { try upsertCursor.run(.text(node), .int(Int64(sequence))) }
        }
    }

    /// The engine as stored (with each node's cursor). Rows are checked as they are read back: a value no write
    /// of this store makes (a negative count or sequence, a pending replace that does not decode) is a startup
    /// error naming the table, not a trap.
    func load() throws -> RiskEngine {
        var engine = RiskEngine()
        let accounts = try database.prepare("SELECT account, limits, balance, currency FROM accounts")
        while try accounts.step() {
            var account = RiskAccount()
            account.limits = try Tradewire_V1_AccountLimits(serializedBytes: accounts.blob(1))
            account.balance = accounts.int64(2)
            account.currency = accounts.text(3)
            engine.accounts[accounts.text(0)] = account
        }
        let positions = try database.prepare("SELECT account, symbol, quantity, cost, realized, fills FROM positions")
        while try positions.step() {
            guard let fills = UInt64(exactly: positions.int64(5)) else { throw Self.damaged("positions", "a negative fill count") }
            let position = RiskPosition(quantity: positions.int64(2), cost: positions.int64(3), realized: positions.int64(4), fills: fills)
            engine.accounts[positions.text(0)]?.positions[positions.text(1)] = position
        }
        let reservations = try database.prepare(
            "SELECT row, order_id, account, symbol, buy, price, leaves, cash, confirmed, created_at, pending FROM reservations ORDER BY row")
        while try reservations.step() {
            var reservation = Reservation(
                account: reservations.text(2), symbol: reservations.text(3), buy: reservations.int64(4) == 1,
                price: reservations.int64(5), leaves: reservations.int64(6), cash: reservations.int64(7),
                confirmed: reservations.int64(8) == 1, createdAt: reservations.int64(9), row: reservations.int64(0))
            guard reservation.leaves >= 0, reservation.cash >= 0, reservation.row > 0 else {
                throw Self.damaged("reservations", "a negative quantity, cash or row")
            }
            if !reservations.isNull(10) {
                guard let pending = PendingTerms(bytes: reservations.blob(10)) else { throw Self.damaged("reservations", "a pending replace that does not decode") }
                reservation.pending = pending
            }
            engine.hold(reservations.text(1), reservation)
        }
        let cursorRows = try database.prepare("SELECT node, sequence FROM cursors")
        var cursors: [String: UInt64] = [:]
        while try cursorRows.step() {
            guard let sequence = UInt64(exactly: cursorRows.int64(1)) else { throw Self.damaged("cursors", "a negative sequence") }
            cursors[cursorRows.text(0)] = sequence
        }
        engine.cursors = cursors
        engine.changes = RiskChanges()
        engine.unwrittenRows = engine.nextRow  // every row read is in the store

        return engine
    }

    private static func damaged(_ table: String, _ what: String) -> SQLiteError {
        SQLiteError(operation: "load the risk store", code: 0, message: "table \(table) has \(what): the file is damaged")
    }
}

extension PendingTerms {
    /// Six little-endian 64-bit words: price, leaves, cash, afterVersion, confirmed, createdAt.
    var bytes: [UInt8] {
        [price, leaves, cash, Int64(bitPattern: afterVersion), confirmed ? 1 : 0, createdAt].flatMap { word in
            (0..<8).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) }
        }
    }

    init?(bytes: [UInt8]) {
        guard bytes.count == 48 else { return nil }
        let words = (0..<6).map { index in
            (0..<8).reduce(Int64(0)) { $0 | Int64(bytes[index * 8 + $1]) << ($1 * 8) }
        }
        guard words[1] >= 0, words[2] >= 0 else { return nil }
        self.init(price: words[0], leaves: words[1], cash: words[2], afterVersion: UInt64(bitPattern: words[3]), confirmed: words[4] != 0,
                  createdAt: words[5])
    }
}
