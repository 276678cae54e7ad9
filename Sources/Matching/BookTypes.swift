/// The side of an order.
public enum BookSide: Sendable, Hashable {
    case buy, sell

    public var opposite: BookSide { self == .buy ? .sell : .buy }

    /// 0 for buy, 1 for sell: where the side's price levels are kept.
    var index: Int { self == .buy ? 0 : 1 }
}

/// How long an order may work: rest on the book (GTC), fill what it can now and cancel the rest (IOC), or fill
/// completely now or not at all (FOK).
public enum BookTimeInForce: Sendable, Hashable {
    case goodTillCancel, immediateOrCancel, fillOrKill
}

/// An order as the book sees it. Prices are integer ticks and quantities integer lots (fixed point: the
/// instrument's scale lives outside the book); a MARKET order has no price.
public struct BookOrder: Sendable, Hashable {
    /// The caller's handle for the order, unique among the book's orders.
    public var id: UInt64
    public var side: BookSide
    /// Limit price in ticks; nil for a MARKET order (which never rests).
    public var price: Int64?
    public var quantity: Int64
    public var timeInForce: BookTimeInForce

    public init(id: UInt64, side: BookSide, price: Int64?, quantity: Int64, timeInForce: BookTimeInForce = .goodTillCancel) {
        self.id = id
        self.side = side
        self.price = price
        self.quantity = quantity
        self.timeInForce = timeInForce
    }
}

/// One trade: `quantity` lots at the resting (maker) order's price.
public struct BookFill: Sendable, Hashable {
    public var makerID: UInt64
    public var takerID: UInt64
    public var price: Int64
    public var quantity: Int64
    /// Whether the maker order is now completely filled (and gone from the book).
    public var makerDone: Bool

    public init(makerID: UInt64, takerID: UInt64, price: Int64, quantity: Int64, makerDone: Bool) {
        self.makerID = makerID
        self.takerID = takerID
        self.price = price
        self.quantity = quantity
        self.makerDone = makerDone
    }
}

/// What became of a submitted (or repriced) order.
public struct BookResult: Sendable, Hashable {
    /// Trades, in the order they happened.
    public var fills: [BookFill] = []
    /// Lots now resting on the book (0 when the order filled or may not rest).
    public var resting: Int64 = 0
    /// Lots cancelled: an IOC or MARKET remainder, or a whole FOK that could not fill.
    public var cancelled: Int64 = 0

    public init(fills: [BookFill] = [], resting: Int64 = 0, cancelled: Int64 = 0) {
        self.fills = fills
        self.resting = resting
        self.cancelled = cancelled
    }

    public var filled: Int64 { fills.reduce(0) { $0 + $1.quantity } }
}

/// Why the book refused a command.
public enum BookError: Error, Sendable, Hashable, CustomStringConvertible {
    case duplicateID(UInt64)
    case unknownID(UInt64)
    case invalidQuantity(Int64)
    case invalidPrice(Int64)
    /// A MARKET order may not be good-till-cancel: it never rests.
    case marketOrderMustNotRest
    /// The level at this price holds so much that one more order's lots would not fit its 64-bit total.
    case levelFull(Int64)

    public var description: String {
        switch self {
        case .duplicateID(let id): "order \(id) is already on the book"
        case .unknownID(let id): "order \(id) is not on the book"
        case .invalidQuantity(let quantity): "quantity \(quantity) is not positive"
        case .invalidPrice(let price): "price \(price) is not positive"
        case .marketOrderMustNotRest: "a MARKET order is IOC or FOK: it never rests on the book"
        case .levelFull(let price): "the level at price \(price) cannot hold more lots (its total would overflow 64 bits)"
        }
    }
}

/// A price level's total, for depth snapshots.
public struct BookLevel: Sendable, Hashable {
    public var price: Int64
    public var quantity: Int64
    public var orders: Int

    public init(price: Int64, quantity: Int64, orders: Int) {
        self.price = price
        self.quantity = quantity
        self.orders = orders
    }
}
