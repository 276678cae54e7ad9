import Protos

/// One symbol's market as the service knows it: its book levels, last trade, feed price and open candles.
struct SymbolMarket: Sendable {
    var scales: Scales
    var levels = BookLevels()
    var bookSequence: UInt64 = 0
    var lastPrice: Int64?
    var lastQuantity: Int64 = 0
    var lastTradeTime: Int64 = 0
    var feedPrice: Int64?
    /// The newest candle of each length (CandleLength.all's order), once known.
    var candles: [CandleBar?] = Array(repeating: nil, count: CandleLength.all.count)

    init(scales: Scales) { self.scales = scales }
}

/// The read side built from the processors' events: instruments, books, last trades, candles. A value with no
/// I/O: the service's core applies events to it and stores what changed.
struct MarketState: Sendable {
    var instruments: [String: Tradewire_V1_Instrument] = [:]
    var markets: [String: SymbolMarket] = [:]
    /// A last trade younger than this is the reference price; older, the feed's price is.
    var referenceWindow: Int64 = 60_000_000_000

    /// The symbol's scales: its instrument's, else those its event carries.
    func scales(_ symbol: String, price: UInt32, quantity: UInt32) -> Scales {
        guard let instrument = instruments[symbol] else { return Scales(price: price, quantity: quantity) }
        return Scales(price: instrument.priceScale, quantity: instrument.quantityScale, currency: instrument.quoteCurrency)
    }

    mutating func market(_ symbol: String, price: UInt32, quantity: UInt32) -> SymbolMarket {
        markets[symbol] ?? SymbolMarket(scales: scales(symbol, price: price, quantity: quantity))
    }

    /// Applies a trade: last price and the candle of every length. `stored` finds a candle that is not the newest
    /// in memory (a trade older than it, or the first after a restart). Returns the candles changed.
    mutating func apply<Failure: Error>(
        _ trade: Tradewire_V1_Trade,
        stored: (_ interval: Tradewire_V1_CandleInterval, _ openTime: Int64) throws(Failure) -> CandleBar?
    ) throws(Failure) -> [(Tradewire_V1_CandleInterval, CandleBar)] {
        let price = trade.price?.units ?? 0
        let quantity = trade.quantity?.units ?? 0
        let time = trade.executedAtUnixNanos
        var market = market(trade.symbol, price: trade.price?.scale ?? 0, quantity: trade.quantity?.scale ?? 0)
        if time >= market.lastTradeTime {
            market.lastPrice = price
            market.lastQuantity = quantity
            market.lastTradeTime = time
        }
        var changed: [(Tradewire_V1_CandleInterval, CandleBar)] = []
        for (index, interval) in CandleLength.all.enumerated() {
            let openTime = CandleLength.openTime(of: time, length: CandleLength.nanoseconds(interval)!)
            let newest = market.candles[index]
            let bar: CandleBar
            if var open = newest?.openTime == openTime ? newest : try stored(interval, openTime) {
                open.add(price: price, quantity: quantity)
                bar = open
            } else {
                bar = CandleBar(trade: price, quantity: quantity, openTime: openTime)
            }
            if openTime >= newest?.openTime ?? .min { market.candles[index] = bar }
            changed.append((interval, bar))
        }
        markets[trade.symbol] = market
        return changed
    }

    /// Applies a level change; nil when the change is not newer than the book (already applied).
    mutating func apply(_ change: Tradewire_V1_BookChange) -> Tradewire_V1_BookUpdate? {
        guard let level = change.level else { return nil }
        var market = market(change.symbol, price: level.price?.scale ?? 0, quantity: level.quantity?.scale ?? 0)
        guard change.bookSequence > market.bookSequence else { return nil }
        market.bookSequence = change.bookSequence
        let buy = change.side == .buy
        market.levels.set(buy: buy, BookLevels.Level(
            price: level.price?.units ?? 0, quantity: level.quantity?.units ?? 0, orders: level.orderCount))
        markets[change.symbol] = market
        var update = Tradewire_V1_BookUpdate(symbol: change.symbol, bookSequence: change.bookSequence)
        if buy { update.bids = [level] } else { update.asks = [level] }
        return update
    }

    /// The quote of a known symbol (instrument or traded) at `now`; nil for an unknown one. A reference from the
    /// feed is vouched for as of `now`; one from the last trade only as of `tradesCurrentAsOf` (when every trade of
    /// the symbol up to then is known; nil: the trade's own time), so that consumers see it go stale when market
    /// data falls behind the node holding the book.
    func quote(_ symbol: String, now: Int64, tradesCurrentAsOf: Int64?) -> Tradewire_V1_Quote? {
        guard let market = markets[symbol] else {
            return instruments[symbol] == nil ? nil : Tradewire_V1_Quote(symbol: symbol, updatedAtUnixNanos: now)
        }
        let scales = market.scales
        var quote = Tradewire_V1_Quote(symbol: symbol, updatedAtUnixNanos: now)
        quote.bestBid = market.levels.bids.first.map { level(scales, $0) }
        quote.bestAsk = market.levels.asks.first.map { level(scales, $0) }
        if let last = market.lastPrice {
            quote.lastPrice = scales.price(last)
            quote.lastQuantity = scales.quantity(market.lastQuantity)
            quote.lastTradeUnixNanos = market.lastTradeTime
        }
        let (age, overflow) = now.subtractingReportingOverflow(market.lastTradeTime)
        // Consumers refuse a reference older than their maximum age.
        if let last = market.lastPrice, !overflow, age <= referenceWindow {
            quote.referencePrice = scales.price(last)
            quote.referenceSource = .lastTrade
            quote.referenceAtUnixNanos = min(now, tradesCurrentAsOf ?? market.lastTradeTime)
        } else if let feed = market.feedPrice {
            quote.referencePrice = scales.price(feed)
            quote.referenceSource = .feed
            quote.referenceAtUnixNanos = now
        }
        return quote
    }

    /// The book to `depth` levels a side; nil for an unknown symbol.
    func orderBook(_ symbol: String, depth: Int) -> Tradewire_V1_OrderBook? {
        guard let market = markets[symbol] else {
            return instruments[symbol] == nil ? nil : Tradewire_V1_OrderBook(symbol: symbol)
        }
        var book = Tradewire_V1_OrderBook(symbol: symbol, bookSequence: market.bookSequence)
        book.bids = market.levels.bids.prefix(depth).map { level(market.scales, $0) }
        book.asks = market.levels.asks.prefix(depth).map { level(market.scales, $0) }
        return book
    }

    private func level(_ scales: Scales, _ level: BookLevels.Level) -> Tradewire_V1_BookLevel {
        Tradewire_V1_BookLevel(price: scales.price(level.price), quantity: scales.quantity(level.quantity), orderCount: level.orders)
    }
}
