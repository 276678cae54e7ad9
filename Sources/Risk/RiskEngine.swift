import Protos

/// Pre-trade risk as a value: accounts, positions, reservations, instruments and reference prices, the checks,
/// and what executions do to them. No I/O and no clock of its own (callers pass `now`): the same state and the
/// same inputs give the same decisions. It records which rows changed (`changes`) for its store.
struct RiskEngine: Sendable {
    var accounts: [String: RiskAccount] = [:]
    var reservations: [String: Reservation] = [:]
    /// Unconfirmed reservations in the order they were made, for `expire`.
    var unconfirmed = ExpiryQueue()
    /// The store row the next new reservation gets.
    var nextRow: Int64 = 1
    var instruments: [String: Tradewire_V1_Instrument] = [:]
    /// Reference prices (units at the instrument's price scale), from market data.
    var references: [String: Int64] = [:]
    /// How long a reservation whose order never appears in the processors' events is held.
    var unconfirmedTTL: Int64 = 30_000_000_000
    /// The last event sequence applied from each processor node.
    var cursors: [String: UInt64] = [:]
    /// Rows changed since the store last took them.
    var changes = RiskChanges()

    // MARK: - Check

    mutating func check(_ request: Tradewire_V1_RiskCheckRequest, now: Int64) -> Tradewire_V1_RiskCheckResponse {
        var response = Tradewire_V1_RiskCheckResponse(checkID: request.checkID)
        switch decide(request) {
        case .failure(let rejection):
            response.reason = rejection.reason
            response.text = rejection.text
        case .success(let approval):
            response.approved = true
            let orderID = request.orderID?.value ?? ""
            if !approval.held {
                hold(orderID, Reservation(
                    account: request.account, symbol: request.symbol, buy: request.side == .buy, price: approval.price,
                    leaves: request.quantity?.units ?? 0, cash: approval.cash, confirmed: false, createdAt: now))
            }
            response.reserved = Tradewire_V1_Money(units: approval.cash, scale: Cash.scale, currency: approval.currency)
        }
        if let reference = references[request.symbol], let instrument = instruments[request.symbol] {
            response.referencePrice = Tradewire_V1_Price(units: reference, scale: instrument.priceScale)
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
        var cash: Int64
        /// The account's.
        var currency: String
        /// The order already holds this (it was checked before).
        var held = false
    }

    /// The checks in a fixed order; the first that fails is the answer.
    func decide(_ request: Tradewire_V1_RiskCheckRequest) -> Result<Approval, Rejection> {
        func reject(_ reason: Tradewire_V1_RejectReason, _ text: String) -> Result<Approval, Rejection> {
            .failure(Rejection(reason: reason, text: text))
        }
        let orderID = request.orderID?.value ?? ""
        guard let account = accounts[request.account] else {
            return reject(.unknownAccount, "account \"\(request.account)\" has no limits or balance set")
        }
        if let held = reservations[orderID] {
            guard held.account == request.account else { return reject(.invalidOrder, "order \(orderID) was checked for another account") }
            return .success(Approval(price: held.price, cash: held.cash, currency: account.currency, held: true))  // the same order asked again: the same answer
        }
        guard let instrument = instruments[request.symbol] else { return reject(.unknownSymbol, "no instrument \(request.symbol)") }
        guard instrument.status == .trading else {
            return reject(.instrumentHalted, "\(request.symbol) is \(instrument.status == .halted ? "halted" : "not trading")")
        }
        guard let quantity = request.quantity, quantity.units > 0, quantity.scale == instrument.quantityScale,
              request.side == .buy || request.side == .sell
        else {
            return reject(.invalidOrder, "the order needs a side and a positive quantity at scale \(instrument.quantityScale)")
        }
        if !instrument.quoteCurrency.isEmpty, instrument.quoteCurrency != account.currency {
            return reject(.invalidOrder, "\(request.symbol) trades in \(instrument.quoteCurrency); the account holds \(account.currency)")
        }
        let buy = request.side == .buy
        let price: Int64
        switch priceToReserve(request, instrument, buy: buy) {
        case .success(let value): price = value
        case .failure(let rejection): return .failure(rejection)
        }
        if let limit = account.maxOrderQuantity(request.symbol),
           Int128(quantity.units) > Cash.limit(limit.units, scale: limit.scale, at: quantity.scale)
        {
            return reject(.maxOrderQuantity, "quantity \(quantity.units) is above the account's limit of \(limit.units) (scale \(limit.scale)) for \(request.symbol)")
        }
        guard let notional = Cash.notional(price: price, priceScale: instrument.priceScale, quantity: quantity.units,
                                           quantityScale: quantity.scale, roundUp: true)
        else { return reject(.maxOrderNotional, "the order's notional does not fit in 64 bits") }
        if let limit = account.limits.maxOrderNotional, limit.units > 0, let maximum = Cash.units(limit.units, scale: limit.scale),
           notional > maximum
        {
            return reject(.maxOrderNotional, "order notional \(Cash.text(notional, currency: account.currency)) exceeds limit \(Cash.text(maximum, currency: account.currency))")
        }
        let maxOpen = account.limits.maxOpenOrders
        if maxOpen > 0, account.openOrders >= Int(maxOpen) {
            return reject(.maxOpenOrders, "the account has \(account.openOrders) orders working; its limit is \(maxOpen)")
        }
        if let limit = account.maxPosition(request.symbol) {
            let position = account.positions[request.symbol] ?? RiskPosition()
            let worst = buy ? Int128(position.quantity) + Int128(position.openBuy) + Int128(quantity.units)
                : -(Int128(position.quantity) - Int128(position.openSell) - Int128(quantity.units))
            let maximum = Cash.limit(limit.units, scale: limit.scale, at: quantity.scale)
            if worst > maximum {
                return reject(.maxPosition, "a fill would take the \(request.symbol) position to \(buy ? "" : "-")\(worst) (with working orders); the limit is ±\(maximum)")
            }
        }
        let cash = buy ? notional : 0
        if cash > account.available {
            return reject(.insufficientBalance, "the order needs \(Cash.text(cash, currency: account.currency)); \(Cash.text(account.available, currency: account.currency)) is available")
        }
        return .success(Approval(price: price, cash: cash, currency: account.currency))
    }

    /// A LIMIT order's price after the band check, or a MARKET order's protection price (reference ± band).
    private func priceToReserve(_ request: Tradewire_V1_RiskCheckRequest, _ instrument: Tradewire_V1_Instrument, buy: Bool)
        -> Result<Int64, Rejection>
    {
        let band = Int128(instrument.priceBandBps)
        let reference = references[request.symbol]
        if request.type == .market {
            guard let reference else {
                return .failure(Rejection(reason: .priceBand, text: "no reference price for \(request.symbol) to protect a MARKET order"))
            }
            let tick = Int128(max(instrument.tickSize?.units ?? 1, 1))
            let moved = Int128(reference) * (10_000 + (buy ? band : -band))
            var ticks = moved / (10_000 * tick)
            if buy, moved % (10_000 * tick) != 0 { ticks += 1 }  // a buy's protection rounds up, a sell's down
            return .success(Int64(clamping: max(ticks * tick, tick)))
        }
        guard request.type == .limit, let price = request.price, price.units > 0, price.scale == instrument.priceScale else {
            return .failure(Rejection(reason: .invalidOrder, text: "a LIMIT order needs a positive price at scale \(instrument.priceScale)"))
        }
        guard band > 0 else { return .success(price.units) }
        guard let reference else {
            return .failure(Rejection(reason: .priceBand, text: "no reference price for \(request.symbol) to check the \(band) bps band against"))
        }
        if (Int128(price.units) - Int128(reference)).magnitude * 10_000 > band.magnitude * Int128(reference).magnitude {
            return .failure(Rejection(
                reason: .priceBand,
                text: "price \(price.units) is more than \(band) bps from the reference price \(reference) (scale \(instrument.priceScale))"))
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
        changes.reservations.append((reservation.row, orderID, reservation))
        changes.accounts.insert(reservation.account)
        if !reservation.confirmed { unconfirmed.append(orderID, createdAt: reservation.createdAt) }
    }

    mutating func release(_ orderID: String) {
        guard let reservation = reservations.removeValue(forKey: orderID) else { return }
        accounts[reservation.account]?.hold(reservation, sign: -1)
        changes.reservations.append((reservation.row, orderID, nil))
        changes.accounts.insert(reservation.account)
    }

    /// Releases reservations whose orders never appeared in the processors' events within the TTL (the node
    /// rejected them as late, or crashed before journaling them).
    ///
    /// Costs the expired entries only: the queue is in creation order (were the wall clock to step back, a
    /// later entry ahead of earlier ones holds them back until it expires itself).
    mutating func expire(now: Int64) {
        while let (orderID, createdAt) = unconfirmed.first, now - createdAt > unconfirmedTTL {
            unconfirmed.removeFirst()
            // Confirmed or released since, or released and held again: not this entry's to expire.
            if let reservation = reservations[orderID], !reservation.confirmed, reservation.createdAt == createdAt { release(orderID) }
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

/// The rows a store must write: accounts (with their positions), the processors' cursors, and what happened to
/// reservations, in order (a reservation's row is written; nil deletes it).
struct RiskChanges: Sendable {
    var accounts = Set<String>()
    var positions = Set<PositionKey>()
    var reservations: [(row: Int64, orderID: String, reservation: Reservation?)] = []
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
