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

/// A journaled event with its sequence number: per journal, from 1, without gaps.
public struct JournalRecord: Sendable, Hashable {
    public var sequence: UInt64
    public var entry: JournalEntry

    public init(sequence: UInt64, entry: JournalEntry) {
        self.sequence = sequence
        self.entry = entry
    }
}

/// How hard a commit waits for the disk (SQLite's `synchronous` in WAL mode). `full` syncs the WAL on every
/// commit: an acknowledged event survives a power cut. `normal` survives a process crash (kill -9) but may lose the
/// last commits in a power cut.
public enum JournalSynchronous: String, Sendable {
    case full = "FULL"
    case normal = "NORMAL"
}

/// The journal's SQLite file: an append-only `events` table whose INTEGER PRIMARY KEY is the sequence number.
/// Not thread-safe: the writer owns one store, each reader another (WAL lets readers run beside the writer).
final class JournalStore {
    private let database: SQLiteDatabase
    private let insert: SQLiteStatement
    private let selectFrom: SQLiteStatement
    private let selectKey: SQLiteStatement
    private let selectLast: SQLiteStatement

    init(path: String, synchronous: JournalSynchronous) throws(JournalError) {
        database = try SQLiteDatabase(path: path)
        try database.execute("PRAGMA journal_mode=WAL")
        try database.execute("PRAGMA synchronous=\(synchronous.rawValue)")
        try database.execute("PRAGMA busy_timeout=5000")
        try database.execute("""
            CREATE TABLE IF NOT EXISTS events (
                sequence INTEGER PRIMARY KEY, key TEXT NOT NULL, kind INTEGER NOT NULL, payload BLOB NOT NULL)
            """)
        try database.execute("CREATE INDEX IF NOT EXISTS events_by_key ON events (key, sequence)")
        insert = try database.prepare("INSERT INTO events (sequence, key, kind, payload) VALUES (?, ?, ?, ?)")
        selectFrom = try database.prepare("SELECT sequence, key, kind, payload FROM events WHERE sequence >= ? ORDER BY sequence LIMIT ?")
        selectKey = try database.prepare("SELECT sequence, key, kind, payload FROM events WHERE key = ? ORDER BY sequence")
        selectLast = try database.prepare("SELECT COALESCE(MAX(sequence), 0) FROM events")
    }

    /// The highest sequence committed (0 for an empty journal).
    func lastSequence() throws(JournalError) -> UInt64 {
        defer { selectLast.reset() }
        _ = try selectLast.step()
        return UInt64(selectLast.int64(0))
    }

    /// Appends `entries` numbered from `first` in one transaction: all of them are durable when this returns, or
    /// none (the transaction rolls back and the error is thrown).
    func append(_ entries: [JournalEntry], first: UInt64) throws(JournalError) {
        try database.execute("BEGIN IMMEDIATE")
        do throws(JournalError) {
            for (offset, entry) in entries.enumerated() {
                insert.bind(1, Int64(first) + Int64(offset))
                insert.bind(2, entry.key)
                insert.bind(3, Int64(entry.kind))
                insert.bind(4, entry.payload)
                defer { insert.reset() }
                _ = try insert.step()
            }
            try database.execute("COMMIT")
        } catch {
            try? database.execute("ROLLBACK")
            throw error
        }
    }

    /// Up to `limit` records from `sequence` on.
    func records(from sequence: UInt64, limit: Int) throws(JournalError) -> [JournalRecord] {
        selectFrom.bind(1, Int64(sequence))
        selectFrom.bind(2, Int64(limit))
        return try rows(selectFrom)
    }

    /// Every record of one key, in order: what an actor replays when it comes back.
    func records(key: String) throws(JournalError) -> [JournalRecord] {
        selectKey.bind(1, key)
        return try rows(selectKey)
    }

    private func rows(_ statement: SQLiteStatement) throws(JournalError) -> [JournalRecord] {
        defer { statement.reset() }
        var records: [JournalRecord] = []
        while try statement.step() {
            records.append(JournalRecord(
                sequence: UInt64(statement.int64(0)),
                entry: JournalEntry(key: statement.text(1), kind: Int32(statement.int64(2)), payload: statement.blob(3))))
        }
        return records
    }
}
