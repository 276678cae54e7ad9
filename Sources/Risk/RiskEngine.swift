import Orders
import Cluster
import Protos
import RPC

/// Pre-trade risk as a value: accounts, positions, reservations, instruments and reference prices, the checks,
/// and what executions do to them. No I/O and no clock of its own (callers pass `now`): the same state and the
/// same inputs give the same decisions. It records which rows changed (`changes`) for its store.
///
/// Every number of a check is bounded where it enters (`OrderBounds` and the instrument's maxima), and every
/// product is formed through `FixedPoint`/`Cash`: a request cannot make the engine trap.
struct RiskEngine: Sendable {
    var accounts: [String: RiskAccount] = [:]
    var reservations: [String: Reservation] = [:]
    /// Unconfirmed reservations (and unconfirmed replaces) in the order they were made, for `expire`.
    var unconfirmed = ExpiryQueue()
    /// The store row the next new reservation gets.
    var nextRow: Int64 = 1
    /// Rows from this one on were numbered after the store last took the changes: no write has them yet.
    var unwrittenRows: Int64 = 1
    var instruments: [String: Tradewire_V1_Instrument] = [:]
    /// Reference prices (units at the instrument's price scale, and when market data set them).
    var references: [String: ReferencePrice] = [:]
    /// A reference older than this (nanoseconds) is stale: orders that need one are refused.
    var referenceMaxAge: Int64 = 10_000_000_000
    /// How long a reservation whose order never appears in the processors' events is held.
    var unconfirmedTTL: Int64 = 30_000_000_000
    /// The last event sequence applied from each processor node.
    var cursors: [String: UInt64] = [:]
    /// Rows changed since the store last took them.
    var changes = RiskChanges()

    // MARK: - Check

    mutating func check(_ request: Tradewire_V1_RiskCheckRequest, now: Int64) -> Tradewire_V1_RiskCheckResponse {
        var response = Tradewire_V1_RiskCheckResponse(checkID: request.checkID)
        let orderID = request.orderID?.value ?? ""
        switch decide(request, now: now) {
        case .failure(let rejection):
            response.reason = rejection.reason
            response.text = rejection.text
        case .success(let approval):
            response.approved = true
            if approval.replace {
                moveToReplace(orderID, request, approval, now: now)
            } else if !approval.held {
                hold(orderID, Reservation(
                    account: request.account, symbol: request.symbol, buy: request.side == .buy, price: approval.price,
                    leaves: approval.leaves, cash: approval.cash, confirmed: false, createdAt: now))
            }
            response.reserved = Tradewire_V1_Money(units: approval.cash, scale: Cash.scale, currency: approval.currency)
            if request.type == .market, let instrument = instruments[request.symbol] {
                response.protectionPrice = Tradewire_V1_Price(units: approval.price, scale: instrument.priceScale)
            }
        }
        if let reference = references[request.symbol], let instrument = instruments[request.symbol] {
            response.referencePrice = Tradewire_V1_Price(units: reference.units, scale: instrument.priceScale)
        }
        return response
    }

    struct Rejection: Error {
        var reason: Tradewire_V1_RejectReason
        var text: String
    }

    struct Approval {
        /// The price the order is reserved at (its limit, or a MARKET order's protection price).
        var price: Int64
        /// Its working quantity.
        var leaves: Int64
        var cash: Int64
        /// The account's.
        var currency: String
        /// The order already holds this (it was checked before).
        var held = false
        /// A replace: the reservation moves to these terms (holding the larger of old and new meanwhile).
        var replace = false
    }

    /// The checks in a fixed order; the first that fails is the answer. A replace is checked exactly as a new
    /// order with the new terms, against the account with the order's current reservation released.
    func decide(_ request: Tradewire_V1_RiskCheckRequest, now: Int64) -> Result<Approval, Rejection> {
        func reject(_ reason: Tradewire_V1_RejectReason, _ text: String) -> Result<Approval, Rejection> {
            .failure(Rejection(reason: reason, text: text))
        }
        let orderID = request.orderID?.value ?? ""
        guard var account = accounts[request.account] else {
            return reject(.unknownAccount, "account \(Echo.quote(request.account)) has no limits or balance set")
        }
        let existing = reservations[orderID]
        if let existing, existing.account != request.account {
            return reject(.invalidOrder, "order \(Echo.quote(orderID)) was checked for another account")
        }
        if let existing, !request.replace {
            // The same order asked again: the same answer.
            return .success(Approval(price: existing.price, leaves: existing.leaves, cash: existing.cash, currency: account.currency, held: true))
        }
        guard let instrument = instruments[request.symbol] else { return reject(.unknownSymbol, "no instrument \(Echo.quote(request.symbol))") }
        guard instrument.status == .trading else {
            return reject(.instrumentHalted, "\(request.symbol) is \(instrument.status == .halted ? "halted" : "not trading")")
        }
        let maxima = instrument.maxima
        guard let quantity = request.quantity, quantity.units > 0, quantity.scale == instrument.quantityScale,
              quantity.units <= maxima.quantity, request.side == .buy || request.side == .sell
        else {
            return reject(.invalidOrder, "the order needs a side and a quantity of 1 to \(maxima.quantity) units at scale \(instrument.quantityScale)")
        }
        var filled: Int64 = 0
        if request.replace {
            guard request.type == .limit else { return reject(.invalidOrder, "only a LIMIT order can be replaced") }
            filled = request.filledQuantity?.units ?? 0
            guard filled >= 0, filled < quantity.units, (request.filledQuantity?.scale ?? quantity.scale) == quantity.scale else {
                return reject(.invalidOrder, "the new quantity must be above the \(filled) units already filled")
            }
        }
        let leaves = quantity.units - filled
        if !instrument.quoteCurrency.isEmpty, instrument.quoteCurrency != account.currency {
            return reject(.invalidOrder, "\(request.symbol) trades in \(instrument.quoteCurrency); the account holds \(account.currency)")
        }
        let buy = request.side == .buy
        let price: Int64
        switch priceToReserve(request, instrument, buy: buy, now: now) {
        case .success(let value): price = value
        case .failure(let rejection): return .failure(rejection)
        }
        if let limit = account.maxOrderQuantity(request.symbol),
           Int128(quantity.units) > Cash.limit(limit.units, scale: limit.scale, at: quantity.scale)
        {
            return reject(.maxOrderQuantity, "quantity \(quantity.units) is above the account's limit of \(limit.units) (scale \(limit.scale)) for \(request.symbol)")
        }
        guard let notional = Cash.notional(price: price, priceScale: instrument.priceScale, quantity: quantity.units,
                                           quantityScale: quantity.scale, roundUp: true),
              let working = Cash.notional(price: price, priceScale: instrument.priceScale, quantity: leaves,
                                          quantityScale: quantity.scale, roundUp: true)
        else { return reject(.maxOrderNotional, "the order's notional does not fit in 64 bits at the cash scale") }
        if let limit = account.limits.maxOrderNotional, limit.units > 0, let maximum = Cash.units(limit.units, scale: limit.scale),
           notional > maximum
        {
            return reject(.maxOrderNotional, "order notional \(Cash.text(notional, currency: account.currency)) exceeds limit \(Cash.text(maximum, currency: account.currency))")
        }
        if request.replace, let existing { account.hold(existing, sign: -1) }
        let maxOpen = account.limits.maxOpenOrders
        if !request.replace, maxOpen > 0, account.openOrders >= Int(maxOpen) {
            return reject(.maxOpenOrders, "the account has \(account.openOrders) orders working; its limit is \(maxOpen)")
        }
        let position = account.positions[request.symbol] ?? RiskPosition()
        let worst = buy ? Int128(position.quantity) + Int128(position.openBuy) + Int128(leaves)
            : -(Int128(position.quantity) - Int128(position.openSell) - Int128(leaves))
        if worst > Int128(OrderBounds.maxNotionalUnits) {
            return reject(.maxPosition, "a fill would take the \(request.symbol) position past 10^18 units (with working orders)")
        }
        if let limit = account.maxPosition(request.symbol) {
            let maximum = Cash.limit(limit.units, scale: limit.scale, at: quantity.scale)
            if worst > maximum {
                return reject(.maxPosition, "a fill would take the \(request.symbol) position to \(buy ? "" : "-")\(worst) (with working orders); the limit is ±\(maximum)")
            }
        }
        if buy, working > account.available {
            return reject(.insufficientBalance, "the order needs \(Cash.text(working, currency: account.currency)); \(Cash.text(account.available, currency: account.currency)) is available")
        }
        return .success(Approval(price: price, leaves: leaves, cash: buy ? working : 0, currency: account.currency, replace: request.replace))
    }

    /// A LIMIT order's price after the band check, or a MARKET order's protection price (reference ± band on the
    /// tick grid, at most the instrument's max_price). The reference must be fresh (`referenceMaxAge`).
    private func priceToReserve(_ request: Tradewire_V1_RiskCheckRequest, _ instrument: Tradewire_V1_Instrument, buy: Bool, now: Int64)
        -> Result<Int64, Rejection>
    {
        let band = Int128(instrument.priceBandBps)
        let maxPrice = instrument.maxima.price
        func reference(_ purpose: String) -> Result<Int64, Rejection> {
            guard let reference = references[request.symbol] else {
                return .failure(Rejection(reason: .priceBand, text: "no reference price for \(request.symbol) to \(purpose)"))
            }
            guard reference.isFresh(now: now, maxAge: referenceMaxAge) else {
                return .failure(Rejection(reason: .priceBand, text: "the reference price for \(request.symbol) is \((now &- reference.at) / 1_000_000) ms old, older than \(referenceMaxAge / 1_000_000) ms: market data is not keeping it current, so orders that need it are refused"))
            }
            return .success(reference.units)
        }
        if request.type == .market {
            let units: Int64
            switch reference("protect a MARKET order") {
            case .success(let value): units = value
            case .failure(let rejection): return .failure(rejection)
            }
            let tick = Int128(max(instrument.tickSize?.units ?? 1, 1))
            let moved = Int128(units) * (10_000 + (buy ? band : -band))
            var ticks = moved / (10_000 * tick)
            if buy, moved % (10_000 * tick) != 0 { ticks += 1 }  // a buy's protection rounds up, a sell's down
            return .success(Int64(min(max(ticks * tick, tick), Int128(maxPrice))))
        }
        guard request.type == .limit, let price = request.price, price.units > 0, price.scale == instrument.priceScale,
              price.units <= maxPrice
        else {
            return .failure(Rejection(reason: .invalidOrder, text: "a LIMIT order needs a price of 1 to \(maxPrice) units at scale \(instrument.priceScale)"))
        }
        guard band > 0 else { return .success(price.units) }
        let units: Int64
        switch reference("check the \(band) bps band against") {
        case .success(let value): units = value
        case .failure(let rejection): return .failure(rejection)
        }
        if (Int128(price.units) - Int128(units)).magnitude * 10_000 > band.magnitude * Int128(units).magnitude {
            return .failure(Rejection(
                reason: .priceBand,
                text: "price \(price.units) is more than \(band) bps from the reference price \(units) (scale \(instrument.priceScale))"))
        }
        return .success(price.units)
    }

    // MARK: - Reservations

    /// Holds what `reservation` needs; a reservation without a row (a new one) gets the next.
    mutating func hold(_ orderID: String, _ reservation: Reservation) {
        var reservation = reservation
        if reservation.row == 0 {
            reservation.row = nextRow
            nextRow += 1
        } else {
            nextRow = max(nextRow, reservation.row + 1)
        }
        reservations[orderID] = reservation
        accounts[reservation.account]?.hold(reservation, sign: 1)
        changes.reservations[reservation.row] = (orderID, reservation)
        changes.accounts.insert(reservation.account)
        if !reservation.confirmed { unconfirmed.append(orderID, createdAt: reservation.createdAt) }
        if let pending = reservation.pending, !pending.confirmed { unconfirmed.append(orderID, createdAt: pending.createdAt) }
    }

    mutating func release(_ orderID: String) {
        guard let reservation = reservations.removeValue(forKey: orderID) else { return }
        accounts[reservation.account]?.hold(reservation, sign: -1)
        changes.reservations[reservation.row] = (orderID, nil)
        changes.accounts.insert(reservation.account)
    }

    /// An approved replace: the order keeps holding its current terms and now also the new ones (the larger of
    /// each), until its events show the book's answer.
    private mutating func moveToReplace(_ orderID: String, _ request: Tradewire_V1_RiskCheckRequest, _ approval: Approval, now: Int64) {
        let pending = PendingTerms(price: approval.price, leaves: approval.leaves, cash: approval.cash,
                                   afterVersion: request.orderVersion, confirmed: false, createdAt: now)
        var reservation = reservations[orderID] ?? Reservation(
            account: request.account, symbol: request.symbol, buy: request.side == .buy, price: approval.price, leaves: approval.leaves,
            cash: approval.cash, confirmed: false, createdAt: now)
        release(orderID)
        reservation.pending = pending
        hold(orderID, reservation)
    }

    /// Releases reservations whose orders never appeared in the processors' events within the TTL (the node
    /// rejected them as late, or crashed before journaling them), and approved replaces that the order's events
    /// never showed (the node crashed before journaling it): the order then holds its own terms again.
    ///
    /// Costs the expired entries only: the queue is in creation order (were the wall clock to step back, a
    /// later entry ahead of earlier ones holds them back until it expires itself).
    mutating func expire(now: Int64) {
        while let (orderID, createdAt) = unconfirmed.first, now &- createdAt > unconfirmedTTL {
            unconfirmed.removeFirst()
            // Confirmed or released since, or released and held again: not this entry's to expire.
            guard var reservation = reservations[orderID] else { continue }
            if !reservation.confirmed, reservation.createdAt == createdAt {
                release(orderID)
            } else if let pending = reservation.pending, !pending.confirmed, pending.createdAt == createdAt {
                release(orderID)
                reservation.pending = nil
                hold(orderID, reservation)
            }
        }
    }
}

/// Order ids in the order their unconfirmed reservations were made. Entries stay until they come up in
/// `expire`, even when their reservation was confirmed or released meanwhile: at most one per check of the
/// last TTL.
struct ExpiryQueue: Sendable {
    private var entries: [(orderID: String, createdAt: Int64)] = []
    private var head = 0

    var first: (orderID: String, createdAt: Int64)? { head < entries.count ? entries[head] : nil }
    var count: Int { entries.count - head }

    mutating func append(_ orderID: String, createdAt: Int64) { entries.append((orderID, createdAt)) }

    mutating func removeFirst() {
        head += 1
        if head >= 1024, head * 2 >= entries.count {  // drop the consumed front once it is most of the array
            entries.removeFirst(head)
            head = 0
        }
    }
}

/// The rows a store must write: accounts (with their positions), the processors' cursors, and each changed
/// reservation row as it is now (nil: the reservation ended, its row goes). A row changed many times between two
/// writes is written once, as it ended up: a follow that releases and holds again, a replace, an order that is
/// placed and ends before the next write.
struct RiskChanges: Sendable {
    var accounts = Set<String>()
    var positions = Set<PositionKey>()
    var reservations: [Int64: (orderID: String, reservation: Reservation?)] = [:]
    var cursors: [String: UInt64] = [:]

    var isEmpty: Bool { accounts.isEmpty && positions.isEmpty && reservations.isEmpty && cursors.isEmpty }

    /// Empties the change set, keeping its storage: the next writes are about as large.
    mutating func removeAll() {
        accounts.removeAll(keepingCapacity: true)
        positions.removeAll(keepingCapacity: true)
        reservations.removeAll(keepingCapacity: true)
        cursors.removeAll(keepingCapacity: true)
    }
}

struct PositionKey: Hashable, Sendable {
    var account: String
    var symbol: String
}
