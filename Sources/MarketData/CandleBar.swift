import Protos

/// One OHLCV bar over one interval, in the symbol's fixed-point units: prices at its price scale, volume at its
/// quantity scale, notional (price × quantity) at the sum of both.
///
/// Volume and notional are sums over every trade of the interval: a day of trades at the instruments' maxima
/// could pass what 64 bits hold, so they saturate at Int64.max (documented in the README's Limits) rather than
/// trap or refuse a trade that has happened.
struct CandleBar: Equatable, Sendable {
    var openTime: Int64
    var open: Int64
    var high: Int64
    var low: Int64
    var close: Int64
    var volume: Int64
    var notional: Int64
    var trades: UInt32

    /// The bar that one trade at `time` opens.
    init(trade price: Int64, quantity: Int64, openTime: Int64) {
        self.openTime = openTime
        open = price
        high = price
        low = price
        close = price
        volume = quantity
        notional = Self.product(price, quantity)
        trades = 1
    }

    /// Adds a trade. Trades arrive in execution order, so the latest one is the close.
    mutating func add(price: Int64, quantity: Int64) {
        high = max(high, price)
        low = min(low, price)
        close = price
        volume = Self.saturating(volume, quantity)
        notional = Self.saturating(notional, Self.product(price, quantity))
        trades = trades == .max ? trades : trades + 1
    }

    static func product(_ price: Int64, _ quantity: Int64) -> Int64 { Int64(clamping: Int128(price) * Int128(quantity)) }

    static func saturating(_ a: Int64, _ b: Int64) -> Int64 { Int64(clamping: Int128(a) + Int128(b)) }
}

/// The candle lengths the service keeps, aligned to the Unix epoch (so to UTC midnight for days).
enum CandleLength {
    static let all: [Tradewire_V1_CandleInterval] = [._1s, ._1m, ._5m, ._1h, ._1d]

    static func nanoseconds(_ interval: Tradewire_V1_CandleInterval) -> Int64? {
        switch interval {
        case ._1s: 1_000_000_000
        case ._1m: 60_000_000_000
        case ._5m: 300_000_000_000
        case ._1h: 3_600_000_000_000
        case ._1d: 86_400_000_000_000
        default: nil
        }
    }

    /// The start of the interval containing `time` (floor, also before 1970).
    static func openTime(of time: Int64, length: Int64) -> Int64 {
        let remainder = time % length
        // A time within one interval of Int64.min has no interval start that fits: it goes to the first one.
        let (start, overflow) = time.subtractingReportingOverflow(remainder < 0 ? remainder + length : remainder)
        return overflow ? time - remainder : start
    }
}

extension CandleBar {
    init(_ candle: Tradewire_V1_Candle) {
        openTime = candle.openTimeUnixNanos
        open = candle.open?.units ?? 0
        high = candle.high?.units ?? 0
        low = candle.low?.units ?? 0
        close = candle.close?.units ?? 0
        volume = candle.volume?.units ?? 0
        notional = candle.notional?.units ?? 0
        trades = candle.tradeCount
    }

    func message(symbol: String, interval: Tradewire_V1_CandleInterval, scales: Scales) -> Tradewire_V1_Candle {
        var candle = Tradewire_V1_Candle(symbol: symbol, interval: interval, openTimeUnixNanos: openTime)
        candle.open = scales.price(open)
        candle.high = scales.price(high)
        candle.low = scales.price(low)
        candle.close = scales.price(close)
        candle.volume = scales.quantity(volume)
        candle.notional = Tradewire_V1_Money(units: notional, scale: scales.price + scales.quantity, currency: scales.currency)
        candle.tradeCount = trades
        return candle
    }
}

/// A symbol's fixed-point scales (and quote currency), from its instrument or its first event.
struct Scales: Equatable, Sendable {
    var price: UInt32
    var quantity: UInt32
    var currency: String = ""

    func price(_ units: Int64) -> Tradewire_V1_Price { Tradewire_V1_Price(units: units, scale: price) }
    func quantity(_ units: Int64) -> Tradewire_V1_Quantity { Tradewire_V1_Quantity(units: units, scale: quantity) }
}
