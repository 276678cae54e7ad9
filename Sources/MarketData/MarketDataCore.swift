import Cluster
import EventLoop
import Protos
import RPC
import SQLite

/// The market-data service's state and its one thread: events from the processors, the reference feed, queries
/// and subscriptions are all serialised on `loop`, so a subscriber registers and gets its snapshot between two
/// updates (never missing or repeating one), and the store sees one writer.
///
/// Each event batch is applied and stored with the node's cursor, then published. Batches share a transaction for
/// up to ``commitDelay`` or ``commitEvery`` events: the store is a view of the nodes' journals, and a restart reads
/// again whatever followed the committed cursors, so no batch waits for a commit of its own (at 1,000 orders/s one
/// commit per batch was most of this thread's work). A store that fails to write stops the service (fail-stop):
/// the failure is reported as fatal and no later batch is applied — memory would be ahead of the file, and a
/// restart resumes from what committed.
final class MarketDataCore: @unchecked Sendable {
    // @unchecked Sendable: every stored property is touched on `loop` only; the entry points hop there.
    let loop: EventLoop
    private let store: MarketStore
    private var state = MarketState()
    private var feed: ReferenceFeed
    private var cursors: [String: UInt64]
    private var feedTimer: LoopTimer?
    /// The last quote each symbol's subscribers got (times cleared) and when, so that an unchanged quote is resent
    /// only as a heartbeat (`quoteHeartbeat`): consumers tell a live reference from a stale one by its time.
    private var lastQuotes: [String: (quote: Tradewire_V1_Quote, at: Int64)] = [:]
    /// Nanoseconds between resends of an unchanged quote.
    static let quoteHeartbeat: Int64 = 1_000_000_000
    let quotes = SubscriberHub<Tradewire_V1_Quote>()
    let trades = SubscriberHub<Tradewire_V1_Trade>()
    let books = SubscriberHub<Tradewire_V1_BookUpdate>()
    let instrumentWatchers = SubscriberHub<Tradewire_V1_Instrument>()
    let subscriberQueue: Int
    /// Wall-clock nanoseconds up to which every trade of a symbol is known (nil: not yet): how far market data can
    /// vouch for a reference taken from the last trade.
    private let tradesCurrentAsOf: @Sendable (_ symbol: String) -> Int64?
    private let fatal: @Sendable (String, any Error) -> Void
    /// A batch failed to store: nothing more is applied.
    private var failed = false
    /// Whether a transaction is open, how many events it holds, and the timer that commits it.
    private var open = false
    private var uncommitted = 0
    private var commitTimer: LoopTimer?
    /// How long applied batches may wait for their commit, and how many events one commit holds at most.
    static let commitDelay = Duration.milliseconds(50)
    static let commitEvery = 4096

    /// Loads the store; the settings' instruments are added where the store has none of that symbol.
    /// - Parameter fatal: told once if a batch fails to store.
    init(store: MarketStore, settings: MarketDataSettings, loop: EventLoop, fatal: @escaping @Sendable (String, any Error) -> Void,
         tradesCurrentAsOf: @escaping @Sendable (_ symbol: String) -> Int64?) throws
    {
        self.store = store
        self.loop = loop
        self.fatal = fatal
        self.tradesCurrentAsOf = tradesCurrentAsOf
        feed = ReferenceFeed(settings.feed)
        subscriberQueue = settings.subscriberQueue
        state.referenceWindow = Int64(settings.referenceWindow.nanoseconds)
        for instrument in try store.instruments() { state.instruments[instrument.symbol] = instrument }
        for instrument in settings.instruments where state.instruments[instrument.symbol] == nil {
            try store.save(instrument)
            state.instruments[instrument.symbol] = instrument
        }
        state.markets = try store.markets()
        cursors = try store.cursors()
    }

    /// Starts the feed's steps. Loop thread.
    func start() {
        guard feed.settings.enabled else { return }
        tickFeed()
    }

    /// Stops the feed, commits what was applied and releases the store's lock (nothing is written after this).
    /// Loop thread.
    func stop() {
        feedTimer?.cancel()
        feedTimer = nil
        if open && !failed { try? commitNow() }
        store.close()
    }

    func cursor(_ node: String) -> UInt64 { cursors[node] ?? 0 }

    // MARK: - Events

    /// Applies one node's batch (events at or below the node's cursor are skipped), stores it, then publishes.
    /// UNAVAILABLE once the store has failed.
    func apply(node: String, _ batch: Tradewire_V1_EventBatch) throws(RPCError) {
        guard !failed else { throw Self.storeFailed }
        let after = cursor(node)
        guard let last = batch.events.last?.sequence, last > after else { return }
        var newTrades: [Tradewire_V1_Trade] = []
        var bookUpdates: [Tradewire_V1_BookUpdate] = []
        var touched: [String] = []
        do throws(SQLiteError) {
            if !open {
                try store.begin()
                open = true
            }
            for event in batch.events where event.sequence > after {
                switch event.event {
                case .trade(let fill):
                    let trade = Self.publicTrade(fill)
                    try apply(trade)
                    newTrades.append(trade)
                    touched.append(trade.symbol)
                case .bookChange(let change):
                    guard let update = state.apply(change), let level = change.level else { continue }
                    let stored = BookLevels.Level(price: level.price?.units ?? 0, quantity: level.quantity?.units ?? 0, orders: level.orderCount)
                    try store.save(level: stored, buy: change.side == .buy, symbol: change.symbol)
                    bookUpdates.append(update)
                    touched.append(change.symbol)
                default:
                    continue
                }
            }
            var saved = Set<String>()
            for symbol in touched where saved.insert(symbol).inserted { try store.save(state.markets[symbol]!, symbol: symbol) }
            try store.save(cursor: last, node: node)
            uncommitted += batch.events.count
            if uncommitted >= Self.commitEvery { try commitNow() } else { commitLater() }
        } catch {
            storeFailed(error)
            throw Self.storeFailed
        }
        cursors[node] = last
        for trade in newTrades { trades.publish(trade.symbol, trade) }
        for update in bookUpdates { books.publish(update.symbol, update) }
        let now = WallClock.now()
        var published = Set<String>()
        for symbol in touched where published.insert(symbol).inserted { publishQuote(symbol, now: now) }
    }

    private func commitNow() throws(SQLiteError) {
        commitTimer?.cancel()
        commitTimer = nil
        try store.commit()
        open = false
        uncommitted = 0
    }

    private func commitLater() {
        guard commitTimer == nil else { return }
        commitTimer = loop.schedule(at: Monotonic.now() + Self.commitDelay.nanoseconds) { [self] in
            commitTimer = nil
            guard open, !failed else { return }
            do throws(SQLiteError) { try commitNow() } catch { storeFailed(error) }
        }
    }

    private func storeFailed(_ error: SQLiteError) {
        failed = true
        if open { store.rollback() }
        open = false
        fatal("the market-data store failed to write; stopping so that a restart resumes from what committed", error)
    }

    private func apply(_ trade: Tradewire_V1_Trade) throws(SQLiteError) {
        try store.save(trade)
        let changed = try state.apply(trade) { interval, openTime throws(SQLiteError) in
            try store.candle(trade.symbol, interval, openTime: openTime)
        }
        for (interval, bar) in changed { try store.save(bar, symbol: trade.symbol, interval: interval) }
    }

    /// A trade as the tape shows it to every caller: who traded and which orders is the two parties' business
    /// (their execution reports), so the accounts and OrderIds are left out before the trade is stored or sent.
    static func publicTrade(_ trade: Tradewire_V1_Trade) -> Tradewire_V1_Trade {
        var trade = trade
        trade.buyAccount = ""
        trade.sellAccount = ""
        trade.buyOrderID = nil
        trade.sellOrderID = nil
        return trade
    }

    static let storeFailed = RPCError(code: .unavailable, message: "the market-data store failed to write; the service is stopping")

    // MARK: - Reference feed

    private func tickFeed() {
        let now = WallClock.now()
        for instrument in state.instruments.values where instrument.status != .closed {
            let tick = instrument.tickSize?.units ?? 1
            guard let price = feed.step(instrument.symbol, tick: tick, priceScale: instrument.priceScale, maxPrice: instrument.maxima.price) else {
                continue
            }
            var market = state.market(instrument.symbol, price: instrument.priceScale, quantity: instrument.quantityScale)
            market.feedPrice = price
            state.markets[instrument.symbol] = market
            publishQuote(instrument.symbol, now: now)
        }
        let next = Monotonic.now() + feed.settings.interval.nanoseconds
        feedTimer = loop.schedule(at: next) { [self] in tickFeed() }
    }

    private func publishQuote(_ symbol: String, now: Int64) {
        guard quotes.wants(symbol), let quote = quote(symbol, now: now) else { return }
        var unstamped = quote
        unstamped.updatedAtUnixNanos = 0
        unstamped.referenceAtUnixNanos = 0
        if let last = lastQuotes[symbol], last.quote == unstamped, now &- last.at < Self.quoteHeartbeat { return }
        lastQuotes[symbol] = (unstamped, now)
        quotes.publish(symbol, quote)
    }

    // MARK: - Instruments

    var instruments: [Tradewire_V1_Instrument] { state.instruments.values.sorted { $0.symbol < $1.symbol } }

    func instrument(_ symbol: String) -> Tradewire_V1_Instrument? { state.instruments[symbol] }

    /// Validates, stores and announces an instrument (UNSPECIFIED status becomes TRADING).
    func upsert(_ instrument: Tradewire_V1_Instrument) throws -> Tradewire_V1_Instrument {
        var instrument = instrument
        try InstrumentRules.validate(instrument)
        if instrument.status == .unspecified { instrument.status = .trading }
        try store.save(instrument)
        if open {  // Answered once durable, with the batches applied before it.
            do throws(SQLiteError) { try commitNow() } catch {
                storeFailed(error)
                throw Self.storeFailed
            }
        }
        state.instruments[instrument.symbol] = instrument
        if var market = state.markets[instrument.symbol], market.bookSequence == 0, market.lastPrice == nil {
            market.scales = state.scales(instrument.symbol, price: instrument.priceScale, quantity: instrument.quantityScale)
            state.markets[instrument.symbol] = market
        }
        instrumentWatchers.publish(instrument.symbol, instrument)
        publishQuote(instrument.symbol, now: WallClock.now())
        return instrument
    }

    // MARK: - Queries

    func quote(_ symbol: String, now: Int64 = WallClock.now()) -> Tradewire_V1_Quote? {
        state.quote(symbol, now: now, tradesCurrentAsOf: tradesCurrentAsOf(symbol))
    }

    func orderBook(_ symbol: String, depth: Int) -> Tradewire_V1_OrderBook? { state.orderBook(symbol, depth: depth) }

    func isKnown(_ symbol: String) -> Bool { state.markets[symbol] != nil || state.instruments[symbol] != nil }

    func trades(_ symbol: String, before: Int64, limit: Int) throws -> [Tradewire_V1_Trade] {
        try store.trades(symbol, before: before, limit: limit)
    }

    func candles(_ symbol: String, _ interval: Tradewire_V1_CandleInterval, from: Int64, to: Int64, limit: Int) throws -> [Tradewire_V1_Candle] {
        let scales = state.markets[symbol]?.scales ?? state.scales(symbol, price: 0, quantity: 0)
        return try store.candles(symbol, interval, from: from, to: to, limit: limit).map {
            $0.message(symbol: symbol, interval: interval, scales: scales)
        }
    }

    // MARK: - Subscriptions (loop thread)

    /// Registers a quote subscriber and queues the current quote of each known symbol it named.
    func subscribeQuotes(_ queue: SubscriberQueue<Tradewire_V1_Quote>, symbols: [String]) {
        quotes.add(queue, symbols: symbols)
        let now = WallClock.now()
        for symbol in symbols.isEmpty ? Array(state.markets.keys) : symbols {
            if let quote = quote(symbol, now: now) { queue.push(quote) }
        }
    }

    /// Registers a book subscriber and queues a snapshot (to `depth`) of each book it named.
    func subscribeBooks(_ queue: SubscriberQueue<Tradewire_V1_BookUpdate>, symbols: [String], depth: Int) {
        books.add(queue, symbols: symbols)
        for symbol in symbols.isEmpty ? Array(state.markets.keys) : symbols {
            guard let book = state.orderBook(symbol, depth: depth) else { continue }
            queue.push(Tradewire_V1_BookUpdate(symbol: symbol, snapshot: true, bids: book.bids, asks: book.asks, bookSequence: book.bookSequence))
        }
    }

    /// Registers an instrument watcher and queues every instrument.
    func watchInstruments(_ queue: SubscriberQueue<Tradewire_V1_Instrument>) {
        instrumentWatchers.add(queue, symbols: [])
        for instrument in instruments { queue.push(instrument) }
    }
}
