/// One symbol's limit order book: price-time priority, LIMIT and MARKET orders, GTC/IOC/FOK, partial fills, cancel
/// and replace. Integers only. Deterministic: the same commands in the same order give the same trades.
///
/// Orders live in a slab, linked first-in first-out within their price level, so that a fill or a cancel is O(1)
/// once the level is found; each side keeps its levels sorted with the best price last (binary search to find a
/// level, the best one at the end). A value type with no locks: its owner (the symbol's actor) serialises access.
public struct OrderBook: Sendable {
    public let symbol: String

    struct Slot {
        var id: UInt64
        var side: BookSide
        var price: Int64
        var remaining: Int64
        var previous: Int32
        var next: Int32
    }

    struct Level {
        var price: Int64
        var head: Int32
        var tail: Int32
        var quantity: Int64
        var count: Int
    }

    private var slots: [Slot] = []
    private var freeSlots: [Int32] = []
    private var slotOf: [UInt64: Int32] = [:]
    /// Price levels per side (``BookSide/index``): bids ascending (best, the highest, last); asks descending
    /// (best, the lowest, last).
    private var levels: [[Level]] = [[], []]

    public init(symbol: String) {
        self.symbol = symbol
    }

    // MARK: - Commands

    /// Matches `order` against the other side, then rests what is left (GTC LIMIT), or cancels it (IOC, MARKET),
    /// or — for FOK — fills it completely or not at all.
    public mutating func submit(_ order: BookOrder) throws(BookError) -> BookResult {
        guard order.quantity > 0 else { throw .invalidQuantity(order.quantity) }
        if let price = order.price, price <= 0 { throw .invalidPrice(price) }
        if order.price == nil && order.timeInForce == .goodTillCancel { throw .marketOrderMustNotRest }
        guard slotOf[order.id] == nil else { throw .duplicateID(order.id) }
        if order.timeInForce == .goodTillCancel, let price = order.price, !hasRoom(side: order.side, price: price, for: order.quantity) {
            throw .levelFull(price)
        }
        var result = BookResult()
        if order.timeInForce == .fillOrKill && available(against: order.side, limit: order.price, upTo: order.quantity) < order.quantity {
            result.cancelled = order.quantity
            return result
        }
        let remaining = match(order.id, side: order.side, limit: order.price, quantity: order.quantity, fills: &result.fills)
        if remaining > 0 {
            if order.timeInForce == .goodTillCancel, let price = order.price {
                rest(id: order.id, side: order.side, price: price, quantity: remaining)
                result.resting = remaining
            } else {
                result.cancelled = remaining
            }
        }
        return result
    }

    /// Removes a resting order; returns the lots it still had.
    @discardableResult
    public mutating func cancel(id: UInt64) throws(BookError) -> Int64 {
        guard let slot = slotOf[id] else { throw .unknownID(id) }
        let remaining = slots[Int(slot)].remaining
        remove(slot)
        return remaining
    }

    /// Changes a resting order's price and remaining quantity. Lowering the quantity at the same price keeps its
    /// place in the queue; a new price or a larger quantity sends it to the back, as a new GTC order that may
    /// trade at once.
    public mutating func replace(id: UInt64, price: Int64, quantity: Int64) throws(BookError) -> BookResult {
        guard let slot = slotOf[id] else { throw .unknownID(id) }
        guard quantity > 0 else { throw .invalidQuantity(quantity) }
        guard price > 0 else { throw .invalidPrice(price) }
        let current = slots[Int(slot)]
        if price == current.price && quantity <= current.remaining {
            let index = levelIndex(side: current.side, price: price)!
            levels[current.side.index][index].quantity -= current.remaining - quantity
            slots[Int(slot)].remaining = quantity
            return BookResult(resting: quantity)
        }
        remove(slot)
        return try submit(BookOrder(id: id, side: current.side, price: price, quantity: quantity))
    }

    // MARK: - Queries

    /// The best `count` levels of a side, best first.
    public func depth(_ side: BookSide, levels count: Int = .max) -> [BookLevel] {
        levels[side.index].reversed().prefix(count).map { BookLevel(price: $0.price, quantity: $0.quantity, orders: $0.count) }
    }

    /// The level at `price` on `side`, if any order rests there.
    public func level(_ side: BookSide, price: Int64) -> BookLevel? {
        guard let index = levelIndex(side: side, price: price) else { return nil }
        let level = levels[side.index][index]
        return BookLevel(price: level.price, quantity: level.quantity, orders: level.count)
    }

    public var bestBid: Int64? { levels[BookSide.buy.index].last?.price }
    public var bestAsk: Int64? { levels[BookSide.sell.index].last?.price }

    /// A resting order's side, price and remaining lots.
    public func order(id: UInt64) -> (side: BookSide, price: Int64, remaining: Int64)? {
        guard let slot = slotOf[id] else { return nil }
        let order = slots[Int(slot)]
        return (order.side, order.price, order.remaining)
    }

    /// Resting orders.
    public var count: Int { slotOf.count }

    /// Every resting order (its remaining lots, GTC), bids then asks, best level first, in time priority within a
    /// level: restoring them in this order with ``restore(_:)`` rebuilds the same book.
    public var restingOrders: [BookOrder] {
        var orders: [BookOrder] = []
        orders.reserveCapacity(count)
        for side in [BookSide.buy, .sell] {
            for level in levels[side.index].reversed() {
                var slot = level.head
                while slot >= 0 {
                    let order = slots[Int(slot)]
                    orders.append(BookOrder(id: order.id, side: side, price: order.price, quantity: order.remaining))
                    slot = order.next
                }
            }
        }
        return orders
    }

    /// Puts a GTC LIMIT order at the back of its price level without matching (rebuilding a snapshot).
    public mutating func restore(_ order: BookOrder) throws(BookError) {
        guard order.quantity > 0 else { throw .invalidQuantity(order.quantity) }
        guard let price = order.price, price > 0 else { throw .invalidPrice(order.price ?? 0) }
        guard slotOf[order.id] == nil else { throw .duplicateID(order.id) }
        guard hasRoom(side: order.side, price: price, for: order.quantity) else { throw .levelFull(price) }
        rest(id: order.id, side: order.side, price: price, quantity: order.quantity)
    }

    // MARK: - Matching

    /// Whether a taker on `side` with `limit` (nil: any price) trades at `price`.
    private static func crosses(_ side: BookSide, limit: Int64?, _ price: Int64) -> Bool {
        guard let limit else { return true }
        return side == .buy ? price <= limit : price >= limit
    }

    /// Lots the other side offers a taker on `side` within `limit`, counted up to `needed` (the count stops there,
    /// so it cannot overflow).
    private func available(against side: BookSide, limit: Int64?, upTo needed: Int64) -> Int64 {
        var total: Int64 = 0
        for level in levels[side.opposite.index].reversed() {
            guard Self.crosses(side, limit: limit, level.price), total < needed else { break }
            total = min(needed, total + min(level.quantity, needed - total))
        }
        return total
    }

    /// Whether `quantity` more lots fit in the level at `price` (a level's total is an Int64).
    private func hasRoom(side: BookSide, price: Int64, for quantity: Int64) -> Bool {
        guard let index = levelIndex(side: side, price: price) else { return true }
        return !levels[side.index][index].quantity.addingReportingOverflow(quantity).overflow
    }

    /// Takes liquidity from the best levels of the other side while they cross; returns the lots left.
    private mutating func match(_ takerID: UInt64, side: BookSide, limit: Int64?, quantity: Int64,
                                fills: inout [BookFill]) -> Int64
    {
        var remaining = quantity
        let makers = side.opposite.index
        while remaining > 0, let best = levels[makers].last, Self.crosses(side, limit: limit, best.price) {
            var slot = best.head
            while remaining > 0 && slot >= 0 {
                let traded = min(remaining, slots[Int(slot)].remaining)
                remaining -= traded
                slots[Int(slot)].remaining -= traded
                let next = slots[Int(slot)].next
                let makerDone = slots[Int(slot)].remaining == 0
                fills.append(BookFill(makerID: slots[Int(slot)].id, takerID: takerID, price: best.price, quantity: traded, makerDone: makerDone))
                levels[makers][levels[makers].count - 1].quantity -= traded
                if makerDone { remove(slot) }
                slot = next
            }
        }
        return remaining
    }

    // MARK: - Levels and slots

    private mutating func rest(id: UInt64, side: BookSide, price: Int64, quantity: Int64) {
        let slot: Int32
        let fresh = Slot(id: id, side: side, price: price, remaining: quantity, previous: -1, next: -1)
        if let reused = freeSlots.popLast() {
            slot = reused
            slots[Int(reused)] = fresh
        } else {
            slot = Int32(slots.count)
            slots.append(fresh)
        }
        slotOf[id] = slot
        let index = Self.insertionIndex(levels[side.index], side: side, price: price)
        if index < levels[side.index].count && levels[side.index][index].price == price {
            let tail = levels[side.index][index].tail
            slots[Int(tail)].next = slot
            slots[Int(slot)].previous = tail
            levels[side.index][index].tail = slot
            levels[side.index][index].quantity += quantity
            levels[side.index][index].count += 1
        } else {
            levels[side.index].insert(Level(price: price, head: slot, tail: slot, quantity: quantity, count: 1), at: index)
        }
    }

    /// Unlinks a resting order from its level (dropping the level when it empties) and frees its slot.
    private mutating func remove(_ slot: Int32) {
        let order = slots[Int(slot)]
        let side = order.side.index
        let index = levelIndex(side: order.side, price: order.price)!
        if order.previous >= 0 { slots[Int(order.previous)].next = order.next } else { levels[side][index].head = order.next }
        if order.next >= 0 { slots[Int(order.next)].previous = order.previous } else { levels[side][index].tail = order.previous }
        levels[side][index].quantity -= order.remaining
        levels[side][index].count -= 1
        if levels[side][index].count == 0 { levels[side].remove(at: index) }
        slotOf[order.id] = nil
        freeSlots.append(slot)
    }

    private func levelIndex(side: BookSide, price: Int64) -> Int? {
        let sideLevels = levels[side.index]
        let index = Self.insertionIndex(sideLevels, side: side, price: price)
        return index < sideLevels.count && sideLevels[index].price == price ? index : nil
    }

    /// Where `price` is or would go in a side's levels (bids ascending, asks descending).
    private static func insertionIndex(_ levels: [Level], side: BookSide, price: Int64) -> Int {
        var low = 0
        var high = levels.count
        while low < high {
            let middle = (low + high) / 2
            let before = side == .buy ? levels[middle].price < price : levels[middle].price > price
            if before { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
