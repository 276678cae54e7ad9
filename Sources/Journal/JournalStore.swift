import SQLite
/// One event to journal: the actor it belongs to (an OrderId, a symbol), its kind, its encoded body.
public struct JournalEntry: Sendable, Hashable {
    public var key: String
    public var kind: Int32
    public var payload: [UInt8]

    public init(key: String, kind: Int32, payload: [UInt8]) {
        self.key = key
        self.kind = kind
        self.payload = payload
    }
}

/// A journaled event with its sequence number (per journal, from 1, without gaps) and commit time.
public struct JournalRecord: Sendable, Hashable {
    public var sequence: UInt64
    /// Wall-clock nanoseconds since 1970 when its transaction committed.
    public var committedAt: Int64
    public var entry: JournalEntry

    public init(sequence: UInt64, committedAt: Int64, entry: JournalEntry) {
        self.sequence = sequence
        self.committedAt = committedAt
        self.entry = entry
    }
}

/// One order's current state, kept beside its events so that a passivated actor comes back with one read and
/// queries (by account, status, symbol, time, batch) need no replay. A row is the order's whole state: the newest
/// one written replaces every column of the one before.
public struct OrderRow: Sendable, Hashable {
    public var key: String
    public var account: String
    public var symbol: String
    public var status: Int32
    public var createdAt: Int64
    public var batchID: String
    public var payload: [UInt8]

    public init(key: String, account: String, symbol: String, status: Int32, createdAt: Int64, batchID: String, payload: [UInt8]) {
        self.key = key
        self.account = account
        self.symbol = symbol
        self.status = status
        self.createdAt = createdAt
        self.batchID = batchID
        self.payload = payload
    }
}

/// One input of a replayable actor (an order book): re-applied in `position` order on top of its latest snapshot.
public struct InputRow: Sendable, Hashable {
    public var key: String
    public var position: UInt64
    public var payload: [UInt8]

    public init(key: String, position: UInt64, payload: [UInt8]) {
        self.key = key
        self.position = position
        self.payload = payload
    }
}

/// An actor's state after its input `position`; writing one drops the inputs it covers.
public typealias SnapshotRow = InputRow

/// A message to another node, committed with the change that caused it and delivered after (at least once).
public struct OutboxRecord: Sendable, Hashable {
    public var destination: String
    /// Per destination, from 1, without gaps, given at commit.
    public var sequence: UInt64
    public var payload: [UInt8]

    public init(destination: String, sequence: UInt64, payload: [UInt8]) {
        self.destination = destination
        self.sequence = sequence
        self.payload = payload
    }
}

/// Everything one change makes durable, in one transaction: events, current order states, actor inputs and
/// snapshots, messages to other nodes, and deliveries other nodes confirmed.
public struct JournalWrite: Sendable {
    public var events: [JournalEntry] = []
    public var orders: [OrderRow] = []
    public var inputs: [InputRow] = []
    public var snapshots: [SnapshotRow] = []
    /// (destination, payload): numbered per destination at commit.
    public var outbox: [(destination: String, payload: [UInt8])] = []
    /// Per destination, the highest sequence it confirmed: those messages leave the outbox.
    public var delivered: [String: UInt64] = [:]

    public init(events: [JournalEntry] = []) {
        self.events = events
    }

    /// Rows this write adds, for sizing a group commit.
    var weight: Int { max(1, events.count + orders.count + inputs.count + snapshots.count + outbox.count) }

    /// Adds `other` after this write's rows: one transaction then commits both, in this order.
    public mutating func append(_ other: JournalWrite) {
        // Most turns make one write: taking it whole shares its arrays instead of copying each row in.
        if events.isEmpty && orders.isEmpty && inputs.isEmpty && snapshots.isEmpty && outbox.isEmpty && delivered.isEmpty {
            self = other
            return
        }
        events += other.events
        orders += other.orders
        inputs += other.inputs
        snapshots += other.snapshots
        outbox += other.outbox
        for (destination, upTo) in other.delivered { delivered[destination] = max(delivered[destination] ?? 0, upTo) }
    }

    /// Keeps only the last row of each order (each row is an order's whole current state, so the last one written
    /// is what the transaction leaves anyway), in the order of their last writes.
    public mutating func keepLastOrderRows() {
        guard orders.count > 1 else { return }
        if orders.count <= 16 {
            // A turn's few rows: comparing keys costs less than hashing them into a dictionary it would allocate.
            var kept: [OrderRow] = []
            kept.reserveCapacity(orders.count)
            for index in orders.indices where !orders[(index + 1)...].contains(where: { $0.key == orders[index].key }) {
                kept.append(orders[index])
            }
            if kept.count < orders.count { orders = kept }
            return
        }
        var last: [String: Int] = [:]
        for (index, row) in orders.enumerated() { last[row.key] = index }
        guard last.count < orders.count else { return }
        orders = orders.enumerated().filter { last[$0.element.key] == $0.offset }.map(\.element)
    }
}

/// What a committed write got: its events' sequence numbers and its outbox messages' per-destination numbers (in
/// the order of `JournalWrite.outbox`).
public struct JournalCommit: Sendable, Hashable {
    /// The first event's sequence; the write's events are numbered consecutively from it.
    public var firstSequence: UInt64
    public var outboxSequences: [UInt64]
    public var committedAt: Int64

    public init(firstSequence: UInt64, outboxSequences: [UInt64], committedAt: Int64) {
        self.firstSequence = firstSequence
        self.outboxSequences = outboxSequences
        self.committedAt = committedAt
    }
}

/// The filters of an order query (newest first: by creation time, then key, descending); nil or empty matches
/// everything.
public struct OrderQuery: Sendable {
    public var account: String
    public var statuses: [Int32] = []
    public var symbol: String = ""
    public var createdAfter: Int64 = 0
    public var createdBefore: Int64 = 0
    public var batchID: String = ""
    /// Orders after this (createdAt, key) in the query's order: the previous page's last.
    public var after: (createdAt: Int64, key: String)?
    public var limit: Int = 100

    public init(account: String) {
        self.account = account
    }
}

/// How hard a commit waits for the disk (SQLite's `synchronous` in WAL mode). `full` syncs the WAL on every
/// commit: an acknowledged event survives a power cut. `normal` survives a process crash (kill -9) but may lose the
/// last commits in a power cut.
public enum JournalSynchronous: String, Sendable {
    case full = "FULL"
    case normal = "NORMAL"
}

/// The journal's SQLite file. `events` is append-only and its INTEGER PRIMARY KEY is the sequence number; the
/// other tables hold current state (snapshots, pending inputs and outbox) written in the same transactions. Order
/// rows are appended to `order_log` with their events and written into `orders` later, many at once
/// (`materialise`): an upsert into `orders` and its indexes rewrote ~4 pages of a 6-page commit at 1,000 orders/s.
/// Not thread-safe: the writer owns one store, each reader another (WAL lets readers run beside the writer).
final class JournalStore {
    private let database: SQLiteDatabase
    private let insertEvent: SQLiteStatement
    private let upsertOrder: SQLiteStatement
    private let insertOrderLog: SQLiteStatement
    private let selectOrderLog: SQLiteStatement
    private let insertInput: SQLiteStatement
    private let upsertSnapshot: SQLiteStatement
    private let dropInputs: SQLiteStatement
    private let insertOutbox: SQLiteStatement
    private let upsertOutboxHead: SQLiteStatement
    private let deleteOutbox: SQLiteStatement
    private let selectFrom: SQLiteStatement
    private let selectLast: SQLiteStatement
    private let selectOrder: SQLiteStatement

    /// The `orders` table's layout (see the comment in `init`).
    static let ordersTable = """
        CREATE TABLE IF NOT EXISTS orders (
            row INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, account TEXT NOT NULL, symbol TEXT NOT NULL,
            status INTEGER NOT NULL, created_at INTEGER NOT NULL, batch_id TEXT NOT NULL, payload BLOB NOT NULL);
        """

    /// - Parameter cacheKibibytes: the connection's page cache (SQLite's default is 2 MiB).
    init(path: String, synchronous: JournalSynchronous, busyTimeoutMilliseconds: Int = 5000, cacheKibibytes: Int = 2048)
        throws(SQLiteError)
    {
        database = try SQLiteDatabase(path: path)
        try database.execute("PRAGMA journal_mode=WAL")
        try database.execute("PRAGMA synchronous=\(synchronous.rawValue)")
        try database.execute("PRAGMA busy_timeout=\(busyTimeoutMilliseconds)")
        try database.execute("PRAGMA cache_size=-\(cacheKibibytes)")
        // Every row and index entry a commit adds costs its B-tree insert on the writer (one index entry per event
        // cost about 15 µs per order): the tables keep only indexes something reads. Files from before the events'
        // by-key index was dropped lose it here.
        //
        // A commit writes each page it changed to the WAL (4 KiB each), so where rows land matters more than how
        // many there are: `orders` is a rowid table (rows in creation order, so an order's row and its index entries
        // by status and by account sit on the few newest pages while it is active) with its OrderId in a unique
        // index of small entries. Keyed by OrderId (random: a hash), every order's row landed on a page of its own
        // and a commit of 60 orders rewrote ~130 pages of rows and index entries. Files with the old layout are
        // rewritten once here (`migrateOrdersToRowid`).
        try database.execute("""
            CREATE TABLE IF NOT EXISTS events (
                sequence INTEGER PRIMARY KEY, key TEXT NOT NULL, kind INTEGER NOT NULL,
                committed_at INTEGER NOT NULL DEFAULT 0, payload BLOB NOT NULL);
            DROP INDEX IF EXISTS events_by_key;
            """)
        try Self.migrateOrdersToRowid(database)
        try database.execute(Self.ordersTable)
        try database.execute("""
            CREATE INDEX IF NOT EXISTS orders_by_account ON orders (account, created_at, key);
            CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status);
            CREATE TABLE IF NOT EXISTS inputs (
                key TEXT NOT NULL, position INTEGER NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (key, position)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS snapshots (
                key TEXT PRIMARY KEY, position INTEGER NOT NULL, payload BLOB NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS outbox (
                destination TEXT NOT NULL, sequence INTEGER NOT NULL, payload BLOB NOT NULL,
                PRIMARY KEY (destination, sequence)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS outbox_heads (destination TEXT PRIMARY KEY, last INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS order_log (
                position INTEGER PRIMARY KEY, key TEXT NOT NULL, account TEXT NOT NULL, symbol TEXT NOT NULL,
                status INTEGER NOT NULL, created_at INTEGER NOT NULL, batch_id TEXT NOT NULL, payload BLOB NOT NULL);
            """)
        insertEvent = try database.prepare("INSERT INTO events (sequence, key, kind, committed_at, payload) VALUES (?, ?, ?, ?, ?)")
        upsertOrder = try database.prepare("""
            INSERT INTO orders (key, account, symbol, status, created_at, batch_id, payload) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET account = excluded.account, symbol = excluded.symbol, status = excluded.status,
                created_at = excluded.created_at, batch_id = excluded.batch_id, payload = excluded.payload
            """)
        insertOrderLog = try database.prepare(
            "INSERT INTO order_log (key, account, symbol, status, created_at, batch_id, payload) VALUES (?, ?, ?, ?, ?, ?, ?)")
        selectOrderLog = try database.prepare(
            "SELECT key, account, symbol, status, created_at, batch_id, payload FROM order_log ORDER BY position")
        insertInput = try database.prepare("INSERT OR REPLACE INTO inputs (key, position, payload) VALUES (?, ?, ?)")
        upsertSnapshot = try database.prepare("INSERT OR REPLACE INTO snapshots (key, position, payload) VALUES (?, ?, ?)")
        dropInputs = try database.prepare("DELETE FROM inputs WHERE key = ? AND position <= ?")
        insertOutbox = try database.prepare("INSERT INTO outbox (destination, sequence, payload) VALUES (?, ?, ?)")
        upsertOutboxHead = try database.prepare("INSERT OR REPLACE INTO outbox_heads (destination, last) VALUES (?, ?)")
        deleteOutbox = try database.prepare("DELETE FROM outbox WHERE destination = ? AND sequence <= ?")
        selectFrom = try database.prepare("SELECT sequence, key, kind, committed_at, payload FROM events WHERE sequence >= ? ORDER BY sequence LIMIT ?")
        selectLast = try database.prepare("SELECT COALESCE(MAX(sequence), 0) FROM events")
        selectOrder = try database.prepare("SELECT key, account, symbol, status, created_at, batch_id, payload FROM orders WHERE key = ?")
    }

    /// Rewrites an `orders` table of the old layout (WITHOUT ROWID, keyed by OrderId) into the rowid layout, in
    /// one transaction, rows in creation order; a file already in the new layout (or new) is left alone.
    static func migrateOrdersToRowid(_ database: SQLiteDatabase) throws(SQLiteError) {
        let statement = try database.prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'orders'")
        let layout = try statement.step() ? statement.text(0) : ""
        statement.reset()
        guard layout.contains("WITHOUT ROWID") else { return }
        try database.transaction { () throws(SQLiteError) in
            try database.execute("""
                DROP INDEX IF EXISTS orders_by_account;
                DROP INDEX IF EXISTS orders_by_status;
                ALTER TABLE orders RENAME TO orders_keyed;
                \(ordersTable)
                INSERT INTO orders (key, account, symbol, status, created_at, batch_id, payload)
                    SELECT key, account, symbol, status, created_at, batch_id, payload FROM orders_keyed ORDER BY created_at, key;
                DROP TABLE orders_keyed;
                """)
        }
    }

    /// The highest sequence committed (0 for an empty journal).
    func lastSequence() throws(SQLiteError) -> UInt64 {
        defer { selectLast.reset() }
        _ = try selectLast.step()
        return try selectLast.uint64(0)
    }

    /// Each destination's last outbox sequence given.
    func outboxHeads() throws(SQLiteError) -> [String: UInt64] {
        let statement = try database.prepare("SELECT destination, last FROM outbox_heads")
        var heads: [String: UInt64] = [:]
        while try statement.step() { heads[statement.text(0)] = try statement.uint64(1) }
        return heads
    }

    /// Writes `writes` in one transaction, events numbered from `first` and outbox messages after `heads`
    /// (advanced in place): all of it is durable when this returns, or none (rolled back, and the error thrown).
    func commit(_ writes: [JournalWrite], first: UInt64, heads: inout [String: UInt64], at time: Int64) throws(SQLiteError)
        -> [[UInt64]]
    {
        var newHeads = heads
        var outboxSequences: [[UInt64]] = []
        try database.begin()
        do throws(SQLiteError) {
            var sequence = first
            for write in writes {
                for entry in write.events {
                    try run(insertEvent, Int64(sequence), entry.key, Int64(entry.kind), time, entry.payload)
                    sequence += 1
                }
                for row in write.orders { try put(row, with: insertOrderLog) }
                for row in write.inputs { try run(insertInput, row.key, Int64(row.position), row.payload) }
                for row in write.snapshots {
                    try run(upsertSnapshot, row.key, Int64(row.position), row.payload)
                    try run(dropInputs, row.key, Int64(row.position))
                }
                var assigned: [UInt64] = []
                for message in write.outbox {
                    let next = newHeads[message.destination, default: 0] + 1
                    newHeads[message.destination] = next
                    assigned.append(next)
                    try run(insertOutbox, message.destination, Int64(next), message.payload)
                }
                outboxSequences.append(assigned)
                for (destination, upTo) in write.delivered { try run(deleteOutbox, destination, Int64(upTo)) }
            }
            for (destination, last) in newHeads where heads[destination] != last {
                try run(upsertOutboxHead, destination, Int64(last))
            }
            try database.commit()
        } catch {
            database.rollback()
            throw error
        }
        heads = newHeads
        return outboxSequences
    }

    /// Writes `rows` into `orders` and empties `order_log`, in one transaction: `rows` must be the newest logged
    /// row of every order in the log (the journal's overlay, or `orderLog` folded at open).
    func materialise(_ rows: [OrderRow]) throws(SQLiteError) {
        try database.transaction { () throws(SQLiteError) in
            for row in rows { try put(row, with: upsertOrder) }
            try database.execute("DELETE FROM order_log")
        }
    }

    /// The order rows logged and not yet materialised, oldest first.
    func orderLog() throws(SQLiteError) -> [OrderRow] {
        defer { selectOrderLog.reset() }
        var rows: [OrderRow] = []
        while try selectOrderLog.step() { rows.append(Self.orderRow(selectOrderLog)) }
        return rows
    }

    private func put(_ row: OrderRow, with statement: SQLiteStatement) throws(SQLiteError) {
        try run(statement, row.key, row.account, row.symbol, Int64(row.status), row.createdAt, row.batchID, row.payload)
    }

    /// Binds `values` in order and steps `statement` once.
    /// (A parameter pack rather than variadic existentials: no array and no boxes per row.)
    private func run<each Value: SQLiteValue>(_ statement: SQLiteStatement, _ values: repeat each Value) throws(SQLiteError) {
        defer { statement.reset() }
        var index: Int32 = 0
        for value in repeat each values {
            index += 1
            value.bind(to: statement, at: index)
        }
        _ = try statement.step()
    }

    /// Up to `limit` records from `sequence` on (none past Int64.max: SQLite's integers end there).
    func records(from sequence: UInt64, limit: Int) throws(SQLiteError) -> [JournalRecord] {
        guard let sequence = Int64(exactly: sequence) else { return [] }
        selectFrom.bind(1, sequence)
        selectFrom.bind(2, Int64(limit))
        return try rows(selectFrom)
    }

    /// How many rows `orders` holds.
    func orderKeyCount() throws(SQLiteError) -> Int {
        let statement = try database.prepare("SELECT count(*) FROM orders")
        return try statement.step() ? Int(statement.int64(0)) : 0
    }

    /// Calls `body` with the key of each row in `orders`.
    func forEachOrderKey(_ body: (String) -> Void) throws(SQLiteError) {
        let statement = try database.prepare("SELECT key FROM orders")
        while try statement.step() { body(statement.text(0)) }
    }

    func order(key: String) throws(SQLiteError) -> OrderRow? {
        selectOrder.bind(1, key)
        defer { selectOrder.reset() }
        return try selectOrder.step() ? Self.orderRow(selectOrder) : nil
    }

    /// Orders matching `query`, newest first (by creation time, then key), from `query.after` on.
    func orders(_ query: OrderQuery) throws(SQLiteError) -> [OrderRow] {
        var conditions = ["account = ?"]
        var values: [any SQLiteValue] = [query.account]
        if !query.statuses.isEmpty {
            conditions.append("status IN (\(query.statuses.map { _ in "?" }.joined(separator: ",")))")
            values += query.statuses.map { Int64($0) }
        }
        if !query.symbol.isEmpty { conditions.append("symbol = ?"); values.append(query.symbol) }
        if query.createdAfter != 0 { conditions.append("created_at > ?"); values.append(query.createdAfter) }
        if query.createdBefore != 0 { conditions.append("created_at < ?"); values.append(query.createdBefore) }
        if !query.batchID.isEmpty { conditions.append("batch_id = ?"); values.append(query.batchID) }
        if let after = query.after {
            conditions.append("(created_at, key) < (?, ?)")
            values += [after.createdAt, after.key] as [any SQLiteValue]
        }
        let statement = try database.prepare("""
            SELECT key, account, symbol, status, created_at, batch_id, payload FROM orders
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY created_at DESC, key DESC LIMIT \(max(1, query.limit))
            """)
        for (index, value) in values.enumerated() { value.bind(to: statement, at: Int32(index + 1)) }
        var rows: [OrderRow] = []
        while try statement.step() { rows.append(Self.orderRow(statement)) }
        return rows
    }

    /// Every order with one of `statuses` (for work a restart must resume, such as settlement).
    func orderCounts() throws(SQLiteError) -> [Int32: Int] {
        let statement = try database.prepare("SELECT status, count(*) FROM orders GROUP BY status")
        var counts: [Int32: Int] = [:]
        while try statement.step() { counts[Int32(statement.int64(0))] = Int(statement.int64(1)) }
        return counts
    }

    func orders(statuses: [Int32]) throws(SQLiteError) -> [OrderRow] {
        let statement = try database.prepare("""
            SELECT key, account, symbol, status, created_at, batch_id, payload FROM orders
            WHERE status IN (\(statuses.map(String.init).joined(separator: ",")))
            """)
        var rows: [OrderRow] = []
        while try statement.step() { rows.append(Self.orderRow(statement)) }
        return rows
    }

    /// Every snapshot, and every input after it (or without one), by key in position order.
    func replayable() throws(SQLiteError) -> (snapshots: [SnapshotRow], inputs: [InputRow]) {
        let snapshots = try database.prepare("SELECT key, position, payload FROM snapshots")
        var snapshotRows: [SnapshotRow] = []
        while try snapshots.step() {
            snapshotRows.append(SnapshotRow(key: snapshots.text(0), position: try snapshots.uint64(1), payload: snapshots.blob(2)))
        }
        let inputs = try database.prepare("SELECT key, position, payload FROM inputs ORDER BY key, position")
        var inputRows: [InputRow] = []
        while try inputs.step() {
            inputRows.append(InputRow(key: inputs.text(0), position: try inputs.uint64(1), payload: inputs.blob(2)))
        }
        return (snapshotRows, inputRows)
    }

    /// Messages not yet confirmed by their destinations, in sequence order per destination.
    func pendingOutbox() throws(SQLiteError) -> [OutboxRecord] {
        let statement = try database.prepare("SELECT destination, sequence, payload FROM outbox ORDER BY destination, sequence")
        var records: [OutboxRecord] = []
        while try statement.step() {
            records.append(OutboxRecord(destination: statement.text(0), sequence: try statement.uint64(1), payload: statement.blob(2)))
        }
        return records
    }

    private static func orderRow(_ statement: SQLiteStatement) -> OrderRow {
        OrderRow(
            key: statement.text(0), account: statement.text(1), symbol: statement.text(2), status: Int32(statement.int64(3)),
            createdAt: statement.int64(4), batchID: statement.text(5), payload: statement.blob(6))
    }

    private func rows(_ statement: SQLiteStatement) throws(SQLiteError) -> [JournalRecord] {
        defer { statement.reset() }
        var records: [JournalRecord] = []
        while try statement.step() {
            records.append(JournalRecord(
                sequence: try statement.uint64(0), committedAt: statement.int64(3),
                entry: JournalEntry(key: statement.text(1), kind: Int32(statement.int64(2)), payload: statement.blob(4))))
        }
        return records
    }
}

/// A value a statement parameter takes.
protocol SQLiteValue {
    func bind(to statement: SQLiteStatement, at index: Int32)
}

extension Int64: SQLiteValue {
    func bind(to statement: SQLiteStatement, at index: Int32) { statement.bind(index, self) }
}

extension String: SQLiteValue {
    func bind(to statement: SQLiteStatement, at index: Int32) { statement.bind(index, self) }
}

extension [UInt8]: SQLiteValue {
    func bind(to statement: SQLiteStatement, at index: Int32) { statement.bind(index, self) }
}
