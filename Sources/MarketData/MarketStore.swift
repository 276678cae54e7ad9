import Protos
import SQLite

/// The market-data service's SQLite file: instruments, every trade, candles, book levels, last trades, and how
/// far it has read each processor node's events. One event batch is one transaction, cursor included, so a
/// restart resumes exactly after what was stored. Used by the core thread only.
final class MarketStore {
    private let database: SQLiteDatabase
    private let lock: ExclusiveLock
    private let upsertInstrument: SQLiteStatement
    private let insertTrade: SQLiteStatement
    private let selectTrades: SQLiteStatement
    private let upsertCandle: SQLiteStatement
    private let selectCandle: SQLiteStatement
    private let selectCandles: SQLiteStatement
    private let upsertLevel: SQLiteStatement
    private let deleteLevel: SQLiteStatement
    private let upsertMarket: SQLiteStatement
    private let upsertCursor: SQLiteStatement

    /// Releases the file's lock: nothing is written after this.
    func close() { lock.release() }

    /// Opens (or creates) the store at `path`, after taking its exclusive lock (a second process is refused).
    init(path: String, synchronous: String = "NORMAL") throws(SQLiteError) {
        lock = try ExclusiveLock(for: path)
        database = try SQLiteDatabase.open(path: path, synchronous: synchronous)
        try database.execute("""
            CREATE TABLE IF NOT EXISTS instruments (symbol TEXT PRIMARY KEY, payload BLOB NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS trades (
                symbol TEXT NOT NULL, executed_at INTEGER NOT NULL, trade_id TEXT NOT NULL, payload BLOB NOT NULL,
                PRIMARY KEY (symbol, trade_id)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS trades_by_time ON trades (symbol, executed_at);
            CREATE TABLE IF NOT EXISTS candles (
                symbol TEXT NOT NULL, interval INTEGER NOT NULL, open_time INTEGER NOT NULL, open INTEGER NOT NULL,
                high INTEGER NOT NULL, low INTEGER NOT NULL, close INTEGER NOT NULL, volume INTEGER NOT NULL,
                notional INTEGER NOT NULL, trades INTEGER NOT NULL,
                PRIMARY KEY (symbol, interval, open_time)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS levels (
                symbol TEXT NOT NULL, side INTEGER NOT NULL, price INTEGER NOT NULL, quantity INTEGER NOT NULL,
                orders INTEGER NOT NULL, PRIMARY KEY (symbol, side, price)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS markets (
                symbol TEXT PRIMARY KEY, price_scale INTEGER NOT NULL, quantity_scale INTEGER NOT NULL,
                currency TEXT NOT NULL, book_sequence INTEGER NOT NULL, last_price INTEGER, last_quantity INTEGER NOT NULL,
                last_time INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS cursors (node TEXT PRIMARY KEY, sequence INTEGER NOT NULL) WITHOUT ROWID;
            """)
        upsertInstrument = try database.prepare("INSERT OR REPLACE INTO instruments (symbol, payload) VALUES (?, ?)")
        insertTrade = try database.prepare("INSERT OR IGNORE INTO trades (symbol, executed_at, trade_id, payload) VALUES (?, ?, ?, ?)")
        selectTrades = try database.prepare("""
            SELECT payload FROM trades WHERE symbol = ? AND executed_at < ? ORDER BY executed_at DESC, trade_id DESC LIMIT ?
            """)
        upsertCandle = try database.prepare("INSERT OR REPLACE INTO candles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        selectCandle = try database.prepare("""
            SELECT open_time, open, high, low, close, volume, notional, trades FROM candles
            WHERE symbol = ? AND interval = ? AND open_time = ?
            """)
        selectCandles = try database.prepare("""
            SELECT open_time, open, high, low, close, volume, notional, trades FROM candles
            WHERE symbol = ? AND interval = ? AND open_time >= ? AND open_time < ? ORDER BY open_time LIMIT ?
            """)
        upsertLevel = try database.prepare("INSERT OR REPLACE INTO levels (symbol, side, price, quantity, orders) VALUES (?, ?, ?, ?, ?)")
        deleteLevel = try database.prepare("DELETE FROM levels WHERE symbol = ? AND side = ? AND price = ?")
        upsertMarket = try database.prepare("INSERT OR REPLACE INTO markets VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        upsertCursor = try database.prepare("INSERT OR REPLACE INTO cursors (node, sequence) VALUES (?, ?)")
    }

    /// A transaction that stays open across calls (``MarketDataCore`` commits event batches together).
    func begin() throws(SQLiteError) { try database.begin() }
    func commit() throws(SQLiteError) { try database.commit() }
    func rollback() { database.rollback() }

    // MARK: - Writes

    func save(_ instrument: Tradewire_V1_Instrument) throws(SQLiteError) {
        try upsertInstrument.run(.text(instrument.symbol), .blob(instrument.serializedBytes()))
    }

    func save(_ trade: Tradewire_V1_Trade) throws(SQLiteError) {
        try insertTrade.run(.text(trade.symbol), .int(trade.executedAtUnixNanos), .text(trade.tradeID), .blob(trade.serializedBytes()))
    }

    func save(_ bar: CandleBar, symbol: String, interval: Tradewire_V1_CandleInterval) throws(SQLiteError) {
        try upsertCandle.run(
            .text(symbol), .int(Int64(interval.rawValue)), .int(bar.openTime), .int(bar.open), .int(bar.high), .int(bar.low),
            .int(bar.close), .int(bar.volume), .int(bar.notional), .int(Int64(bar.trades)))
    }

    func save(level: BookLevels.Level, buy: Bool, symbol: String) throws(SQLiteError) {
        if level.quantity > 0 {
            try upsertLevel.run(.text(symbol), .int(buy ? 1 : 2), .int(level.price), .int(level.quantity), .int(Int64(level.orders)))
        } else {
            try deleteLevel.run(.text(symbol), .int(buy ? 1 : 2), .int(level.price))
        }
    }

    func save(_ market: SymbolMarket, symbol: String) throws(SQLiteError) {
        try upsertMarket.run(
            .text(symbol), .int(Int64(market.scales.price)), .int(Int64(market.scales.quantity)), .text(market.scales.currency),
            .int(Int64(market.bookSequence)), market.lastPrice.map { .int($0) } ?? .null, .int(market.lastQuantity),
            .int(market.lastTradeTime))
    }

    func save(cursor sequence: UInt64, node: String) throws(SQLiteError) {
        try upsertCursor.run(.text(node), .int(Int64(sequence)))
    }

    // MARK: - Reads

    func instruments() throws -> [Tradewire_V1_Instrument] {
        let statement = try database.prepare("SELECT payload FROM instruments ORDER BY symbol")
        var instruments: [Tradewire_V1_Instrument] = []
        while try statement.step() { instruments.append(try Tradewire_V1_Instrument(serializedBytes: statement.blob(0))) }
        return instruments
    }

    func cursors() throws(SQLiteError) -> [String: UInt64] {
        let statement = try database.prepare("SELECT node, sequence FROM cursors")
        var cursors: [String: UInt64] = [:]
        while try statement.step() { cursors[statement.text(0)] = UInt64(statement.int64(1)) }
        return cursors
    }

    /// Every symbol's market as stored: scales, book levels, last trade (candles come back on demand).
    func markets() throws(SQLiteError) -> [String: SymbolMarket] {
        var markets: [String: SymbolMarket] = [:]
        let rows = try database.prepare("SELECT symbol, price_scale, quantity_scale, currency, book_sequence, last_price, last_quantity, last_time FROM markets")
        while try rows.step() {
            var market = SymbolMarket(scales: Scales(
                price: UInt32(rows.int64(1)), quantity: UInt32(rows.int64(2)), currency: rows.text(3)))
            market.bookSequence = UInt64(rows.int64(4))
            market.lastPrice = rows.isNull(5) ? nil : rows.int64(5)
            market.lastQuantity = rows.int64(6)
            market.lastTradeTime = rows.int64(7)
            markets[rows.text(0)] = market
        }
        let levels = try database.prepare("SELECT symbol, side, price, quantity, orders FROM levels")
        while try levels.step() {
            markets[levels.text(0)]?.levels.set(buy: levels.int64(1) == 1, BookLevels.Level(
                price: levels.int64(2), quantity: levels.int64(3), orders: UInt32(levels.int64(4))))
        }
        return markets
    }

    /// Newest first, executed before `before`.
    func trades(_ symbol: String, before: Int64, limit: Int) throws -> [Tradewire_V1_Trade] {
        selectTrades.bind(1, symbol)
        selectTrades.bind(2, before)
        selectTrades.bind(3, Int64(limit))
        defer { selectTrades.reset() }
        var trades: [Tradewire_V1_Trade] = []
        while try selectTrades.step() { trades.append(try Tradewire_V1_Trade(serializedBytes: selectTrades.blob(0))) }
        return trades
    }

    func candle(_ symbol: String, _ interval: Tradewire_V1_CandleInterval, openTime: Int64) throws(SQLiteError) -> CandleBar? {
        selectCandle.bind(1, symbol)
        selectCandle.bind(2, Int64(interval.rawValue))
        selectCandle.bind(3, openTime)
        defer { selectCandle.reset() }
        return try selectCandle.step() ? Self.bar(selectCandle) : nil
    }

    /// Oldest first, opening in [from, to).
    func candles(_ symbol: String, _ interval: Tradewire_V1_CandleInterval, from: Int64, to: Int64, limit: Int)
        throws(SQLiteError) -> [CandleBar]
    {
        selectCandles.bind(1, symbol)
        selectCandles.bind(2, Int64(interval.rawValue))
        selectCandles.bind(3, from)
        selectCandles.bind(4, to)
        selectCandles.bind(5, Int64(limit))
        defer { selectCandles.reset() }
        var bars: [CandleBar] = []
        while try selectCandles.step() { bars.append(Self.bar(selectCandles)) }
        return bars
    }

    private static func bar(_ row: SQLiteStatement) -> CandleBar {
        var bar = CandleBar(trade: row.int64(1), quantity: row.int64(5), openTime: row.int64(0))
        bar.high = row.int64(2)
        bar.low = row.int64(3)
        bar.close = row.int64(4)
        bar.notional = row.int64(6)
        bar.trades = UInt32(row.int64(7))
        return bar
    }
}
