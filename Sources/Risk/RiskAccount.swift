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

    var available: Int64 { balance - reserved }

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
    mutating func hold(_ reservation: Reservation, sign: Int64) {
        reserved += sign * reservation.cash
        openOrders += Int(sign)
        if reservation.buy {
            positions[reservation.symbol, default: RiskPosition()].openBuy += sign * reservation.leaves
        } else {
            positions[reservation.symbol, default: RiskPosition()].openSell += sign * reservation.leaves
        }
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

    /// Applies one fill; `notional` is price × quantity at the cash scale.
    mutating func fill(buy: Bool, quantity traded: Int64, notional: Int64) {
        fills += 1
        let sign: Int64 = buy ? 1 : -1
        if quantity == 0 || (quantity > 0) == buy {
            quantity += sign * traded
            cost += sign * notional
            return
        }
        let closing = min(traded, abs(quantity))
        let removedCost = Int64(Int128(cost) * Int128(closing) / Int128(abs(quantity)))
        let closingNotional = Int64(Int128(notional) * Int128(closing) / Int128(traded))
        realized += quantity > 0 ? closingNotional - removedCost : -removedCost - closingNotional
        cost -= removedCost
        quantity += sign * closing
        if traded > closing {
            quantity += sign * (traded - closing)
            cost += sign * (notional - closingNotional)
        }
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
}
