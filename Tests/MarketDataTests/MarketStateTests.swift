import Cluster
@testable import MarketData
import Protos
import Testing

/// Candles, levels and the feed as values.
struct MarketStateTests {
    static let second: Int64 = 1_000_000_000
    /// 2026-11-21 00:00:00 UTC.
    static let midnight: Int64 = 1_795_305_600 * second

    static func trade(_ price: Int64, _ quantity: Int64, at time: Int64) -> Tradewire_V1_Trade {
        Tradewire_V1_Trade(tradeID: "ACME-\(time)", symbol: "ACME", price: Tradewire_V1_Price(units: price, scale: 2),
                           quantity: Tradewire_V1_Quantity(units: quantity), executedAtUnixNanos: time)
    }

    /// Applies trades the way the service does (newest candle in memory, older ones from a store).
    static func candles(_ trades: [Tradewire_V1_Trade]) -> [Tradewire_V1_CandleInterval: [Int64: CandleBar]] {
        var state = MarketState()
        var stored: [Tradewire_V1_CandleInterval: [Int64: CandleBar]] = [:]
        for trade in trades {
            for (interval, bar) in state.apply(trade, stored: { interval, openTime in stored[interval]?[openTime] }) {
                stored[interval, default: [:]][bar.openTime] = bar
            }
        }
        return stored
    }

    /// A reference from the last trade is vouched for only as far as market data knows the symbol's trades: when it
    /// falls behind the node holding the book, consumers see the reference age and refuse it past their maximum.
    @Test func aLastTradeReferenceIsVouchedForOnlyAsFarAsTheTradesAreKnown() {
        var state = MarketState()
        state.referenceWindow = 60 * Self.second
        let traded = Self.midnight + Self.second
        _ = state.apply(Self.trade(10_000, 1, at: traded), stored: { _, _ in nil })
        let now = traded + 20 * Self.second
        let behind = state.quote("ACME", now: now, tradesCurrentAsOf: traded + 2 * Self.second)
        #expect(behind?.referenceSource == .lastTrade)
        #expect(behind?.referenceAtUnixNanos == traded + 2 * Self.second)
        #expect(state.quote("ACME", now: now, tradesCurrentAsOf: now - 1)?.referenceAtUnixNanos == now - 1)
        #expect(state.quote("ACME", now: now, tradesCurrentAsOf: now + Self.second)?.referenceAtUnixNanos == now)
        #expect(state.quote("ACME", now: now, tradesCurrentAsOf: nil)?.referenceAtUnixNanos == traded)
    }

    @Test func candlesFromAKnownTradeSequenceMatchHandComputedOHLCV() {
        let t = Self.midnight + 3_600 * Self.second  // 01:00:00
        let trades = [
            Self.trade(10_000, 5, at: t + 100_000_000),  // 01:00:00.1
            Self.trade(10_050, 2, at: t + 900_000_000),  // 01:00:00.9
            Self.trade(9_980, 3, at: t + 1_500_000_000),  // 01:00:01.5
            Self.trade(10_020, 1, at: t + 61 * Self.second),  // 01:01:01
            Self.trade(10_100, 4, at: t + 301 * Self.second),  // 01:05:01
            Self.trade(9_900, 10, at: t + 3_601 * Self.second),  // 02:00:01
        ]
        let candles = Self.candles(trades)
        func bar(_ open: Int64, _ high: Int64, _ low: Int64, _ close: Int64, _ volume: Int64, _ notional: Int64, _ count: UInt32,
                 at time: Int64) -> CandleBar
        {
            var bar = CandleBar(trade: open, quantity: volume, openTime: time)
            (bar.high, bar.low, bar.close, bar.notional, bar.trades) = (high, low, close, notional, count)
            return bar
        }
        #expect(candles[._1s]?.count == 5)
        #expect(candles[._1s]?[t] == bar(10_000, 10_050, 10_000, 10_050, 7, 50_000 + 20_100, 2, at: t))
        #expect(candles[._1s]?[t + Self.second] == bar(9_980, 9_980, 9_980, 9_980, 3, 29_940, 1, at: t + Self.second))
        #expect(candles[._1m]?[t] == bar(10_000, 10_050, 9_980, 9_980, 10, 50_000 + 20_100 + 29_940, 3, at: t))
        #expect(candles[._1m]?[t + 60 * Self.second] == bar(10_020, 10_020, 10_020, 10_020, 1, 10_020, 1, at: t + 60 * Self.second))
        #expect(candles[._5m]?[t] == bar(10_000, 10_050, 9_980, 10_020, 11, 110_060, 4, at: t))
        #expect(candles[._5m]?[t + 300 * Self.second] == bar(10_100, 10_100, 10_100, 10_100, 4, 40_400, 1, at: t + 300 * Self.second))
        #expect(candles[._1h]?[t] == bar(10_000, 10_100, 9_980, 10_100, 15, 150_460, 5, at: t))
        #expect(candles[._1h]?[t + 3_600 * Self.second] == bar(9_900, 9_900, 9_900, 9_900, 10, 99_000, 1, at: t + 3_600 * Self.second))
        #expect(candles[._1d]?[Self.midnight] == bar(10_000, 10_100, 9_900, 9_900, 25, 249_460, 6, at: Self.midnight))
    }

    @Test func aLateTradeUpdatesItsOwnCandleNotTheNewest() {
        let t = Self.midnight
        let candles = Self.candles([
            Self.trade(10_000, 1, at: t), Self.trade(10_100, 1, at: t + 2 * Self.second), Self.trade(9_000, 1, at: t + 500_000_000),
        ])
        #expect(candles[._1s]?[t]?.low == 9_000 && candles[._1s]?[t]?.trades == 2)
        #expect(candles[._1s]?[t + 2 * Self.second]?.trades == 1)
        #expect(CandleLength.openTime(of: -1, length: Self.second) == -Self.second)
    }

    @Test func levelsStaySortedBestFirst() {
        var levels = BookLevels()
        for price: Int64 in [100, 102, 101] { levels.set(buy: true, .init(price: price, quantity: 1, orders: 1)) }
        for price: Int64 in [105, 103, 104] { levels.set(buy: false, .init(price: price, quantity: 1, orders: 1)) }
        levels.set(buy: true, .init(price: 102, quantity: 0, orders: 0))
        levels.set(buy: false, .init(price: 104, quantity: 7, orders: 2))
        #expect(levels.bids.map(\.price) == [101, 100])
        #expect(levels.asks.map(\.price) == [103, 104, 105] && levels.asks[1].quantity == 7)
    }

    @Test func theFeedIsASeededWalkOnTheTickGrid() {
        var settings = ReferenceFeed.Settings()
        settings.seed = 42
        settings.start = ["ACME": 10_003]
        var first = ReferenceFeed(settings)
        var second = ReferenceFeed(settings)
        let a = (0..<100).compactMap { _ in first.step("ACME", tick: 5, priceScale: 2) }
        let b = (0..<100).compactMap { _ in second.step("ACME", tick: 5, priceScale: 2) }
        #expect(a == b && a.allSatisfy { $0 % 5 == 0 && $0 > 0 })
        #expect(Set(a).count > 10)  // it moves
        #expect(first.price("OTHER", tick: 1, priceScale: 2) == 10_000)  // unlisted: 100.00
    }

    @Test func aFullQueueEndsItsSubscriberOnce() async {
        let overflows = Counter()
        let queue = SubscriberQueue<Int>(capacity: 3) { overflows.add() }
        for value in 0..<10 { queue.push(value) }
        #expect(overflows.value == 1 && queue.overflowed)
        #expect(await queue.next() == nil)
        let open = SubscriberQueue<Int>(capacity: 3) {}
        for value in 0..<3 { open.push(value) }
        #expect(await open.next() == 0 && !open.overflowed)
    }
}

final class Counter: @unchecked Sendable {
    // @unchecked Sendable: the tests touch it from one task at a time.
    var value = 0
    func add() { value += 1 }
}
