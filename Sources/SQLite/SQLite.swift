internal import CSQLite

/// A failed SQLite call: what was being done, SQLite's result code and message.
public struct SQLiteError: Error, Sendable, Hashable, CustomStringConvertible {
    public let operation: String
    public let code: Int32
    public let message: String

    public var description: String { "\(operation): \(message) (SQLite \(code))" }

    public init(operation: String, code: Int32, message: String) {
        self.operation = operation
        self.code = code
        self.message = message
    }
}

/// One SQLite connection. Not thread-safe: its owner (a writer thread, or one reader) uses it alone.
public final class SQLiteDatabase {
    private let handle: OpaquePointer
    /// The statements that open and end a transaction.
    fileprivate enum TransactionStatement: Int, CaseIterable {
        case begin, commit, rollback

        var sql: String { ["BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"][rawValue] }
    }

    /// Each ``TransactionStatement``, prepared at its first use and kept: a journal that commits a transaction per
    /// turn parsed `BEGIN IMMEDIATE` and `COMMIT` again every time.
    private var transactionStatements = [OpaquePointer?](repeating: nil, count: TransactionStatement.allCases.count)

    public init(path: String) throws(SQLiteError) {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &handle, flags, nil)
        guard code == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw SQLiteError(operation: "open \(path)", code: code, message: message)
        }
        self.handle = handle
    }

    deinit {
        for statement in transactionStatements { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    /// Runs one of the transaction statements, prepared once.
    fileprivate func run(_ kind: TransactionStatement) throws(SQLiteError) {
        let statement: OpaquePointer
        if let prepared = transactionStatements[kind.rawValue] {
            statement = prepared
        } else {
            var prepared: OpaquePointer?
            let code = sqlite3_prepare_v3(handle, kind.sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil)
            guard code == SQLITE_OK, let prepared else { throw error(kind.sql, code) }
            transactionStatements[kind.rawValue] = prepared
            statement = prepared
        }
        let code = sqlite3_step(statement)
        sqlite3_reset(statement)
        guard code == SQLITE_DONE else { throw error(kind.sql, code) }
    }

    /// Runs SQL without results (pragmas, DDL, BEGIN/COMMIT).
    public func execute(_ sql: String) throws(SQLiteError) {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw error(sql, code) }
    }

    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else { throw error(sql, code) }
        return SQLiteStatement(statement: statement, database: self)
    }

    public func error(_ operation: String, _ code: Int32) -> SQLiteError {
        SQLiteError(operation: operation, code: code, message: String(cString: sqlite3_errmsg(handle)))
    }
}

/// A prepared statement, reset after each use.
///
/// Text and blobs are bound from buffers the statement owns, one per parameter, kept from one execution to the
/// next (SQLITE_STATIC: SQLite reads them where they are). Binding a Swift string as a C string and letting SQLite
/// copy it (SQLITE_TRANSIENT) cost two heap allocations per value — about 19 per order in a node's commits (a
/// malloc probe at 2,000 orders/s). Each buffer is as large as the largest value bound at its parameter so far (at
/// least 64 bytes), and goes with the statement.
public final class SQLiteStatement {
    private let statement: OpaquePointer
    private let database: SQLiteDatabase
    /// By parameter index - 1; a binding points into its buffer until the statement is reset or finalized.
    private var buffers: [UnsafeMutableRawBufferPointer] = []

    init(statement: OpaquePointer, database: SQLiteDatabase) {
        self.statement = statement
        self.database = database
    }

    deinit {
        // Finalized first: until then a binding may still point into a buffer.
        sqlite3_finalize(statement)
        for buffer in buffers { buffer.deallocate() }
    }

    public func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(statement, index, value)
    }

    public func bind(_ index: Int32, _ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            bindCopy(of: UnsafeRawBufferPointer(utf8), at: index) { statement, index, buffer, count in
                sqlite3_bind_text(statement, index, buffer.assumingMemoryBound(to: CChar.self), count, nil)
            }
        }
    }

    public func bind(_ index: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            // Never a null pointer, even for zero bytes: SQLite would store NULL.
            bindCopy(of: raw, at: index) { statement, index, buffer, count in
                sqlite3_bind_blob(statement, index, buffer, count, nil)
            }
        }
    }

    /// Copies `bytes` into parameter `index`'s buffer and binds it there (SQLITE_STATIC: `bind` passes no
    /// destructor). A value larger than the buffer gets a new one; the old one is freed only after the new binding
    /// has replaced the one that may still point into it.
    private func bindCopy(of bytes: UnsafeRawBufferPointer, at index: Int32,
                          _ bind: (OpaquePointer, Int32, UnsafeMutableRawPointer, Int32) -> Int32) {
        let slot = Int(index) - 1
        precondition(slot >= 0, "SQLite parameters count from 1")
        while buffers.count <= slot { buffers.append(UnsafeMutableRawBufferPointer(start: nil, count: 0)) }
        var replaced: UnsafeMutableRawBufferPointer?
        if buffers[slot].baseAddress == nil || buffers[slot].count < bytes.count {
            replaced = buffers[slot]
            var capacity = 64
            while capacity < bytes.count { capacity *= 2 }
            buffers[slot] = .allocate(byteCount: capacity, alignment: 8)
        }
        let buffer = buffers[slot].baseAddress!
        if let source = bytes.baseAddress, !bytes.isEmpty { buffer.copyMemory(from: source, byteCount: bytes.count) }
        _ = bind(statement, index, buffer, Int32(bytes.count))
        if let replaced, replaced.baseAddress != nil { replaced.deallocate() }
    }

    /// Steps once: true while a row is available, false when done.
    public func step() throws(SQLiteError) -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code: throw database.error("step \(String(cString: sqlite3_sql(statement)))", code)
        }
    }

    public func reset() {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    /// A column that holds a count or a sequence: a negative value (which no write of ours makes) is an error
    /// saying the file is damaged, not a trap.
    public func uint64(_ column: Int32) throws(SQLiteError) -> UInt64 {
        let value = int64(column)
        guard value >= 0 else {
            throw SQLiteError(operation: "read \(String(cString: sqlite3_sql(statement)))", code: 0,
                              message: "column \(column) holds \(value), which is never negative: the file is damaged")
        }
        return UInt64(value)
    }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    public func text(_ column: Int32) -> String {
        guard let text = sqlite3_column_text(statement, column) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let bytes = sqlite3_column_blob(statement, column) else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: bytes, count: count))
    }
}

extension SQLiteDatabase {
    /// Opens (or creates) a database file for one writer: WAL, `synchronous` NORMAL or FULL, a busy timeout.
    public static func open(path: String, synchronous: String = "NORMAL") throws(SQLiteError) -> SQLiteDatabase {
        let database = try SQLiteDatabase(path: path)
        try database.execute("PRAGMA journal_mode=WAL")
        try database.execute("PRAGMA synchronous=\(synchronous)")
        try database.execute("PRAGMA busy_timeout=5000")
        return database
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: () throws(SQLiteError) -> T) throws(SQLiteError) -> T {
        try begin()
        do {
            let result = try body()
            try commit()
            return result
        } catch {
            rollback()
            throw error
        }
    }

    /// Starts a write transaction that stays open across calls until ``commit()`` or ``rollback()``.
    public func begin() throws(SQLiteError) { try run(.begin) }
    public func commit() throws(SQLiteError) { try run(.commit) }
    /// Rolls back the open transaction (none open: nothing happens).
    public func rollback() {
        guard sqlite3_get_autocommit(handle) == 0 else { return }
        try? run(.rollback)
    }
}

extension SQLiteStatement {
    /// Binds `values` from parameter 1 on, steps to completion and resets.
    public func run(_ values: SQLiteValue...) throws(SQLiteError) {
        for (index, value) in values.enumerated() {
            switch value {
            case .int(let int): bind(Int32(index + 1), int)
            case .text(let text): bind(Int32(index + 1), text)
            case .blob(let blob): bind(Int32(index + 1), blob)
            case .null: break  // reset() cleared the bindings: an unbound parameter is NULL
            }
        }
        defer { reset() }
        while try step() {}
    }
}

/// A value to bind.
public enum SQLiteValue {
    case int(Int64)
    case text(String)
    case blob([UInt8])
    case null
}
