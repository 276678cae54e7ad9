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
    /// Risk approved a replace to this total quantity and price; the book has not applied it yet. One at a time.
    case replaceRequested(quantity: Int64, price: Int64)
    /// The book changed the order's price and total quantity (the pending replace, if any, is done).
    case replaced(quantity: Int64, price: Int64?)
    /// The book no longer had the order when the replace arrived (or refused its terms): the pending replace is dropped.
    case replaceRefused
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
    /// A replace that risk approved and the book has not answered: at most one at a time.
    public private(set) var pendingReplace: PendingReplace?

    /// The new terms of a replace in flight to the book.
    public struct PendingReplace: Sendable, Hashable {
        public var quantity: Int64
        public var price: Int64

        public init(quantity: Int64, price: Int64) {
            self.quantity = quantity
            self.price = price
        }
    }

    public init(quantity: Int64, price: Int64?) {
        status = .new
        self.quantity = quantity
        self.price = price
    }

    /// An order's state as it was stored (an actor coming back from its journal).
    public init(status: OrderStatus, quantity: Int64, price: Int64?, filled: Int64, filledNotional: Int64, rejectReason: String?,
                pendingReplace: PendingReplace? = nil)
    {
        self.status = status
        self.quantity = quantity
        self.price = price
        self.filled = filled
        self.filledNotional = filledNotional
        self.rejectReason = rejectReason
        self.pendingReplace = pendingReplace
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
            guard lots <= quantity - filled else { throw refuse("\(lots) more lots would be more than the \(quantity) ordered (\(filled) filled)") }
            let (notional, overflow) = lots.multipliedReportingOverflow(by: at)
            guard !overflow, !next.filledNotional.addingReportingOverflow(notional).overflow else {
                throw refuse("the filled notional overflows 64 bits")
            }
            next.filled += lots
            next.filledNotional += notional
            if next.filled == quantity {
                next.status = .filled
                next.pendingReplace = nil  // off the book: the book refuses the replace
            } else if status != .pendingCancel {
                next.status = .partiallyFilled
            }
        case (.accepted, .cancelRequested), (.partiallyFilled, .cancelRequested):
            next.status = .pendingCancel
        case (.accepted, .cancelled), (.partiallyFilled, .cancelled), (.pendingCancel, .cancelled):
            next.status = .cancelled
            next.pendingReplace = nil
        case (.pendingCancel, .cancelRefused):
            next.status = filled > 0 ? .partiallyFilled : .accepted
        case (.accepted, .replaceRequested(let total, let newPrice)), (.partiallyFilled, .replaceRequested(let total, let newPrice)):
            guard pendingReplace == nil else { throw refuse("a replace is already pending") }
            guard total > filled else { throw refuse("the new quantity \(total) is not above the \(filled) already filled") }
            guard newPrice > 0 else { throw refuse("the new price must be positive") }
            next.pendingReplace = PendingReplace(quantity: total, price: newPrice)
        case (.accepted, .replaced(let total, let newPrice)), (.partiallyFilled, .replaced(let total, let newPrice)),
            (.pendingCancel, .replaced(let total, let newPrice)):
            // A cancel asked after the replace reaches the book after it: the terms change, the cancel stays in flight.
            guard total > filled else { throw refuse("the new quantity \(total) is not above the \(filled) already filled") }
            next.quantity = total
            next.price = newPrice
            next.pendingReplace = nil
        case (.accepted, .replaceRefused), (.partiallyFilled, .replaceRefused), (.pendingCancel, .replaceRefused), (.filled, .replaceRefused):
            next.pendingReplace = nil
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
