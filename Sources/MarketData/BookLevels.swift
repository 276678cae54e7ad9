/// One symbol's price levels as the processors' book changes describe them, best first on each side.
struct BookLevels: Sendable {
    struct Level: Equatable, Sendable {
        var price: Int64
        var quantity: Int64
        var orders: UInt32
    }

    /// Highest price first.
    private(set) var bids: [Level] = []
    /// Lowest price first.
    private(set) var asks: [Level] = []

    /// Sets the level at `price` (quantity 0 removes it).
    mutating func set(buy: Bool, _ level: Level) {
        if buy { Self.set(&bids, level, before: >) } else { Self.set(&asks, level, before: <) }
    }

    private static func set(_ levels: inout [Level], _ level: Level, before: (Int64, Int64) -> Bool) {
        // Binary search for the first level not better than `level.price`.
        var low = 0
        var high = levels.count
        while low < high {
            let middle = (low + high) / 2
            if before(levels[middle].price, level.price) { low = middle + 1 } else { high = middle }
        }
        let present = low < levels.count && levels[low].price == level.price
        switch (present, level.quantity > 0) {
        case (true, true): levels[low] = level
        case (true, false): levels.remove(at: low)
        case (false, true): levels.insert(level, at: low)
        case (false, false): break
        }
    }
}
