import Orders

/// The simulated external reference price: per symbol a seeded random walk on the symbol's tick grid, one step
/// per `interval`. The same seed gives every symbol the same path on every run, so tests and demos repeat.
struct ReferenceFeed: Sendable {
    struct Settings: Sendable {
        var seed: UInt64 = 1
        var interval: Duration = .milliseconds(250)
        /// The largest move of one step, in basis points of the price.
        var stepBasisPoints: Int64 = 10
        /// Starting prices (units at the symbol's price scale); others start at 100 (in whole currency units).
        var start: [String: Int64] = [:]
        /// False: no feed (symbols without recent trades then have no reference price).
        var enabled = true
    }

    private struct Walk: Sendable {
        var price: Int64
        var random: SplitMix64
    }

    let settings: Settings
    private var walks: [String: Walk] = [:]

    init(_ settings: Settings) { self.settings = settings }

    /// The symbol's feed price now (nil when the feed is off).
    mutating func price(_ symbol: String, tick: Int64, priceScale: UInt32) -> Int64? {
        guard settings.enabled else { return nil }
        return walk(symbol, tick: tick, priceScale: priceScale).price
    }

    /// Moves the symbol's price one step: up to ±stepBasisPoints, in whole ticks, never below one tick nor above
    /// `maxPrice` (the instrument's; the walk's arithmetic stays within 64 bits).
    mutating func step(_ symbol: String, tick: Int64, priceScale: UInt32, maxPrice: Int64 = OrderBounds.defaultMaxUnits) -> Int64? {
        guard settings.enabled else { return nil }
        var walk = walk(symbol, tick: tick, priceScale: priceScale)
        let tick = max(tick, 1)
        let largest = max(Int64(Int128(walk.price) * Int128(settings.stepBasisPoints) / 10_000 / Int128(tick)), 1)
        let ticks = Int64(walk.random.next() % UInt64(2 * largest + 1)) - largest
        let moved = Int128(walk.price) + Int128(ticks) * Int128(tick)
        walk.price = Int64(min(max(Int128(tick), moved), Int128(max(maxPrice / tick * tick, tick))))
        walks[symbol] = walk
        return walk.price
    }

    private mutating func walk(_ symbol: String, tick: Int64, priceScale: UInt32) -> Walk {
        if let walk = walks[symbol] { return walk }
        let tick = max(tick, 1)
        var start = settings.start[symbol] ?? 100 * Self.power(priceScale)
        start = max(tick, start / tick * tick)
        let walk = Walk(price: start, random: SplitMix64(seed: settings.seed ^ Self.fnv1a(symbol)))
        walks[symbol] = walk
        return walk
    }

    static func power(_ scale: UInt32) -> Int64 { (0..<scale).reduce(1) { value, _ in value * 10 } }

    /// A stable hash of the symbol (Swift's Hasher is seeded per process).
    private static func fnv1a(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}

/// SplitMix64: a small, fast, seedable generator (Steele, Lea, Flood 2014).
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
