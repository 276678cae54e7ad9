import Protos

/// One account as risk holds it: its limits, its cash, what working orders hold of it, and its positions.
struct RiskAccount: Sendable {
    var limits = Tradewire_V1_AccountLimits()
    /// Cash at `Cash.scale`, fills included.
    var balance: Int64 = 0
    var currency = "USD"
    /// Cash held for working buy orders (the sum of their reservations).
    var reserved: Int64 = 0
    var openOrders = 0
    var positions: [String: RiskPosition] = [:]

    /// What new buys may use: the balance less what working buys hold (never trapping, even for values read back
    /// from a damaged store).
    var available: Int64 { Int64(clamping: Int128(balance) - Int128(reserved)) }

    /// The limit of one symbol: its override when set, else the account-wide one.
    func maxOrderQuantity(_ symbol: String) -> Tradewire_V1_Quantity? {
        limits.symbolLimits.first { $0.symbol == symbol }?.maxOrderQuantity.flatMap { $0.units > 0 ? $0 : nil }
            ?? limits.maxOrderQuantity.flatMap { $0.units > 0 ? $0 : nil }
    }

    func maxPosition(_ symbol: String) -> Tradewire_V1_Quantity? {
        limits.symbolLimits.first { $0.symbol == symbol }?.maxPosition.flatMap { $0.units > 0 ? $0 : nil }
            ?? limits.maxPosition.flatMap { $0.units > 0 ? $0 : nil }
    }

    func message(_ name: String) -> Tradewire_V1_Account {
        Tradewire_V1_Account(
            account: name, limits: limits, balance: money(balance), reserved: money(reserved), available: money(available),
            openOrders: UInt32(openOrders))
    }

    func money(_ units: Int64) -> Tradewire_V1_Money { Tradewire_V1_Money(units: units, scale: Cash.scale, currency: currency) }

    /// Adds what a working order holds (`sign` 1) or takes it away (-1): its cash, its slot among the open
    /// orders, and its quantity on its side of the symbol's position.
    /// Checks bound every reservation (`RiskEngine.decide`), so these sums stay far inside 64 bits; they clamp
    /// rather than trap all the same.
    mutating func hold(_ reservation: Reservation, sign: Int64) {
        reserved = Self.add(reserved, sign, reservation.heldCash)
        openOrders += Int(sign)
        if reservation.buy {
            positions[reservation.symbol, default: RiskPosition()].openBuy =
                Self.add(positions[reservation.symbol]?.openBuy ?? 0, sign, reservation.heldLeaves)
        } else {
            positions[reservation.symbol, default: RiskPosition()].openSell =
                Self.add(positions[reservation.symbol]?.openSell ?? 0, sign, reservation.heldLeaves)
        }
    }

    /// `value + sign × amount`, clamped to 64 bits.
    static func add(_ value: Int64, _ sign: Int64, _ amount: Int64) -> Int64 {
        Int64(clamping: Int128(value) + Int128(sign) * Int128(amount))
    }
}

/// A position in one symbol, by average cost: buys and sells that add to it add their cost; those that reduce it
/// realise profit against the average cost; one that crosses zero closes and opens the other way.
struct RiskPosition: Equatable, Sendable {
    /// Signed, at the instrument's quantity scale: positive long, negative short.
    var quantity: Int64 = 0
    /// Signed cost of the open position at `Cash.scale` (negative for a short).
    var cost: Int64 = 0
    var realized: Int64 = 0
    var fills: UInt64 = 0
    /// Working quantities of this account's orders (from their reservations; not stored).
    var openBuy: Int64 = 0
    var openSell: Int64 = 0

    /// Applies one fill; `notional` is price × quantity at the cash scale. Worked in 128 bits and clamped back:
    /// checks keep positions within 10^18 units, and a fill (which has happened) is never refused.
    mutating func fill(buy: Bool, quantity traded: Int64, notional: Int64) {
        guard traded > 0 else { return }
        fills &+= 1
        let sign: Int128 = buy ? 1 : -1
        var quantity = Int128(self.quantity)
        var cost = Int128(self.cost)
        var realized = Int128(self.realized)
        let (traded, notional) = (Int128(traded), Int128(notional))
        if quantity == 0 || (quantity > 0) == buy {
            quantity += sign * traded
            cost += sign * notional
        } else {
            let closing = min(traded, Int128(quantity.magnitude))
            let removedCost = cost * closing / Int128(quantity.magnitude)
            let closingNotional = notional * closing / traded
            realized += quantity > 0 ? closingNotional - removedCost : -removedCost - closingNotional
            cost -= removedCost
            quantity += sign * closing
            if traded > closing {
                quantity += sign * (traded - closing)
                cost += sign * (notional - closingNotional)
            }
        }
        self.quantity = Int64(clamping: quantity)
        self.cost = Int64(clamping: cost)
        self.realized = Int64(clamping: realized)
    }

    func message(_ symbol: String, quantityScale: UInt32, currency: String) -> Tradewire_V1_Position {
        Tradewire_V1_Position(
            symbol: symbol, quantity: Tradewire_V1_Quantity(units: quantity, scale: quantityScale),
            cost: Tradewire_V1_Money(units: cost, scale: Cash.scale, currency: currency),
            realizedPnl: Tradewire_V1_Money(units: realized, scale: Cash.scale, currency: currency), fillCount: fills)
    }
}

/// What an approved order holds until it ends: its working quantity (and for a buy, the cash to pay for it at
/// its limit price, or a MARKET buy's protection price).
struct Reservation: Equatable, Sendable {
    var account: String
    var symbol: String
    var buy: Bool
    /// The price the cash is reserved at (units at the instrument's price scale).
    var price: Int64
    /// Working quantity (units at the instrument's quantity scale).
    var leaves: Int64
    /// Cash held, at `Cash.scale` (0 for sells).
    var cash: Int64
    /// The order's events have been seen: it exists on its node. Unconfirmed ones expire.
    var confirmed: Bool
    var createdAt: Int64
    /// Its row in the store, numbered in the order reservations are made (0 until `RiskEngine.hold` numbers
    /// it), so that the store appends new rows and deletes old ones at the two ends of its table rather than
    /// all over it.
    var row: Int64 = 0
    /// A replace risk approved whose outcome the order's events have not shown: until they do, the order holds
    /// the larger of its current and its new terms.
    var pending: PendingTerms?

    /// Working quantity held: the larger of the current and the pending terms'.
    var heldLeaves: Int64 { max(leaves, pending?.leaves ?? 0) }
    /// Cash held: likewise.
    var heldCash: Int64 { max(cash, pending?.cash ?? 0) }
}

/// The new terms of a replace that risk approved and the book has not answered yet.
struct PendingTerms: Equatable, Sendable {
    var price: Int64
    var leaves: Int64
    var cash: Int64
    /// The order's version when the replace was checked: its events up to this version predate the replace and
    /// leave these terms held; a later event says whether the replace is still pending (the order carries it).
    var afterVersion: UInt64
    /// The order's events have shown it (the node journaled the replace); unconfirmed ones expire.
    var confirmed: Bool
    var createdAt: Int64
}
