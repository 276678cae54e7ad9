/// Where an order is in its life (DESIGN §1): NEW → ACCEPTED → PARTIALLY_FILLED → FILLED → SETTLED, with REJECTED,
/// PENDING_CANCEL and CANCELLED. The cases mirror `tradewire.v1.OrderStatus`.
public enum OrderStatus: Sendable, Hashable, CaseIterable {
    /// Received and journaled; risk has not answered yet.
    case new
    /// Passed risk; working on the book.
    case accepted
    case partiallyFilled
    /// Completely filled; settles after the settlement step.
    case filled
    case settled
    /// Refused by validation or risk.
    case rejected
    /// A cancel is in flight to the book.
    case pendingCancel
    /// Cancelled by the user, or the unfilled remainder of an IOC, FOK or MARKET order.
    case cancelled

    /// No event changes a terminal order.
    public var isTerminal: Bool { self == .settled || self == .rejected || self == .cancelled }
}

/// What can happen to an order: the events an order actor journals.
public enum OrderEvent: Sendable, Hashable {
    /// Risk said yes: the order goes to the book.
    case accepted
    /// Risk said no, or could not be asked in time; `reason` says which.
    case rejected(reason: String)
    /// A trade of `quantity` lots at `price` ticks.
    case filled(quantity: Int64, price: Int64)
    /// The user asked to cancel; for an order on the book the cancel goes to the book.
    case cancelRequested
    /// The book removed the order's remainder (a cancel it confirmed, or an IOC/FOK/MARKET remainder).
    case cancelled
    /// The book no longer had the order when the cancel arrived (it filled first): back to working.
    case cancelRefused
    /// The book changed the order's price and total quantity.
    case replaced(quantity: Int64, price: Int64?)
    /// The settlement step passed for a filled order.
    case settled
}

/// Why an event cannot apply to an order in its current state.
public struct OrderTransitionError: Error, Sendable, Hashable, CustomStringConvertible {
    public let status: OrderStatus
    public let event: OrderEvent
    public let reason: String

    public var description: String { "\(event) is not allowed for an order that is \(status): \(reason)" }
}

/// One order's state: its status and quantities. Applying an event either gives the next state or refuses with
/// the reason; nothing else changes an order.
public struct OrderState: Sendable, Hashable {
    public private(set) var status: OrderStatus
    /// Total lots ordered.
    public private(set) var quantity: Int64
    public private(set) var price: Int64?
    public private(set) var filled: Int64 = 0
    /// The sum of fill quantity × price, for the average price.
    public private(set) var filledNotional: Int64 = 0
    public private(set) var rejectReason: String?

    public init(quantity: Int64, price: Int64?) {
        status = .new
        self.quantity = quantity
        self.price = price
    }

    /// An order's state as it was stored (an actor coming back from its journal).
    public init(status: OrderStatus, quantity: Int64, price: Int64?, filled: Int64, filledNotional: Int64, rejectReason: String?) {
        self.status = status
        self.quantity = quantity
        self.price = price
        self.filled = filled
        self.filledNotional = filledNotional
        self.rejectReason = rejectReason
    }

    public var leaves: Int64 { status.isTerminal || status == .filled ? 0 : quantity - filled }

    /// The state after `event`, or the reason it cannot happen now.
    public func applying(_ event: OrderEvent) throws(OrderTransitionError) -> OrderState {
        var next = self
        func refuse(_ reason: String) -> OrderTransitionError {
            OrderTransitionError(status: status, event: event, reason: reason)
        }
        if status.isTerminal { throw refuse("the order is final") }
        switch (status, event) {
        case (.new, .accepted):
            next.status = .accepted
        case (.new, .rejected(let reason)):
            next.status = .rejected
            next.rejectReason = reason
        case (.new, .cancelRequested):
            next.status = .cancelled  // Not on the book yet: nothing to ask it.
        case (.accepted, .filled(let lots, let at)), (.partiallyFilled, .filled(let lots, let at)),
            (.pendingCancel, .filled(let lots, let at)):
            guard lots > 0 else { throw refuse("a fill must be of at least one lot") }
            guard filled + lots <= quantity else { throw refuse("\(filled + lots) lots would be more than the \(quantity) ordered") }
            let (notional, overflow) = lots.multipliedReportingOverflow(by: at)
            guard !overflow, !next.filledNotional.addingReportingOverflow(notional).overflow else {
                throw refuse("the filled notional overflows 64 bits")
            }
            next.filled += lots
            next.filledNotional += notional
            if next.filled == quantity {
                next.status = .filled
            } else if status != .pendingCancel {
                next.status = .partiallyFilled
            }
        case (.accepted, .cancelRequested), (.partiallyFilled, .cancelRequested):
            next.status = .pendingCancel
        case (.accepted, .cancelled), (.partiallyFilled, .cancelled), (.pendingCancel, .cancelled):
            next.status = .cancelled
        case (.pendingCancel, .cancelRefused):
            next.status = filled > 0 ? .partiallyFilled : .accepted
        case (.accepted, .replaced(let total, let newPrice)), (.partiallyFilled, .replaced(let total, let newPrice)):
            guard total > filled else { throw refuse("the new quantity \(total) is not above the \(filled) already filled") }
            next.quantity = total
            next.price = newPrice
        case (.filled, .settled):
            next.status = .settled
        case (.filled, _):
            throw refuse("the order is filled; only settlement is left")
        case (.pendingCancel, _):
            throw refuse("a cancel is in flight")
        case (.new, _):
            throw refuse("risk has not answered yet")
        default:
            throw refuse("the order is working on the book")
        }
        return next
    }
}
