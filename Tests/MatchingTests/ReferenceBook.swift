import Matching

/// The slowest obviously-right book: a flat list of resting orders, scanned for the best price and then the
/// earliest arrival on every step. The property test holds OrderBook to it.
struct ReferenceBook {
    struct Resting {
        var id: UInt64
        var side: BookSide
        var price: Int64
        var remaining: Int64
        var arrival: Int
    }

    var resting: [Resting] = []
    var clock = 0

    mutating func submit(_ order: BookOrder) throws(BookError) -> BookResult {
        guard order.quantity > 0 else { throw .invalidQuantity(order.quantity) }
        if let price = order.price, price <= 0 { throw .invalidPrice(price) }
        if order.price == nil && order.timeInForce == .goodTillCancel { throw .marketOrderMustNotRest }
        guard !resting.contains(where: { $0.id == order.id }) else { throw .duplicateID(order.id) }
        var result = BookResult()
        let crossing = resting.filter { $0.side != order.side && crosses(order, $0.price) }
        if order.timeInForce == .fillOrKill && crossing.reduce(0, { $0 + $1.remaining }) < order.quantity {
            result.cancelled = order.quantity
            return result
        }
        var remaining = order.quantity
        while remaining > 0, let best = bestMaker(for: order) {
            let traded = min(remaining, resting[best].remaining)
            remaining -= traded
            resting[best].remaining -= traded
            let done = resting[best].remaining == 0
            result.fills.append(BookFill(
                makerID: resting[best].id, takerID: order.id, price: resting[best].price, quantity: traded, makerDone: done))
            if done { resting.remove(at: best) }
        }
        if remaining > 0 {
            if order.timeInForce == .goodTillCancel, let price = order.price {
                clock += 1
                resting.append(Resting(id: order.id, side: order.side, price: price, remaining: remaining, arrival: clock))
                result.resting = remaining
            } else {
                result.cancelled = remaining
            }
        }
        return result
    }

    mutating func cancel(id: UInt64) throws(BookError) -> Int64 {
        guard let index = resting.firstIndex(where: { $0.id == id }) else { throw .unknownID(id) }
        return resting.remove(at: index).remaining
    }

    mutating func replace(id: UInt64, price: Int64, quantity: Int64) throws(BookError) -> BookResult {
        guard let index = resting.firstIndex(where: { $0.id == id }) else { throw .unknownID(id) }
        guard quantity > 0 else { throw .invalidQuantity(quantity) }
        guard price > 0 else { throw .invalidPrice(price) }
        if price == resting[index].price && quantity <= resting[index].remaining {
            resting[index].remaining = quantity
            return BookResult(resting: quantity)
        }
        let side = resting.remove(at: index).side
        return try submit(BookOrder(id: id, side: side, price: price, quantity: quantity))
    }

    func depth(_ side: BookSide) -> [BookLevel] {
        let prices = Set(resting.filter { $0.side == side }.map(\.price)).sorted(by: side == .buy ? (>) : (<))
        return prices.map { price in
            let orders = resting.filter { $0.side == side && $0.price == price }
            return BookLevel(price: price, quantity: orders.reduce(0) { $0 + $1.remaining }, orders: orders.count)
        }
    }

    private func crosses(_ order: BookOrder, _ price: Int64) -> Bool {
        guard let limit = order.price else { return true }
        return order.side == .buy ? price <= limit : price >= limit
    }

    private func bestMaker(for order: BookOrder) -> Int? {
        var best: Int?
        for (index, maker) in resting.enumerated() where maker.side != order.side && crosses(order, maker.price) {
            guard let current = best else {
                best = index
                continue
            }
            let better = order.side == .buy ? maker.price < resting[current].price : maker.price > resting[current].price
            if better || (maker.price == resting[current].price && maker.arrival < resting[current].arrival) { best = index }
        }
        return best
    }
}
