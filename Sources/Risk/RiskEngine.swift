import Protos

/// Pre-trade risk as a value: accounts, positions, reservations, instruments and reference prices, the checks,
/// and what executions do to them. No I/O and no clock of its own (callers pass `now`): the same state and the
/// same inputs give the same decisions. It records which rows changed (`changes`) for its store.
struct RiskEngine: Sendable {
    var accounts: [String: RiskAccount] = [:]
    var reservations: [String: Reservation] = [:]
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
            if reservations[orderID] == nil {
                hold(orderID, Reservation(
                    account: request.account, symbol: request.symbol, buy: request.side == .buy, price: approval.price,
                    leaves: request.quantity?.units ?? 0, cash: approval.cash, confirmed: false, createdAt: now))
            }
            let account = accounts[request.account]!
            response.reserved = account.money(reservations[orderID]?.cash ?? 0)
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
            return .success(Approval(price: held.price, cash: held.cash))  // the same order asked again: the same answer
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
        return .success(Approval(price: price, cash: cash))
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

    mutating func hold(_ orderID: String, _ reservation: Reservation) {
        reservations[orderID] = reservation
        accounts[reservation.account]?.reserved += reservation.cash
        accounts[reservation.account]?.openOrders += 1
        adjustOpen(reservation, by: 1)
        changes.reservations.insert(orderID)
        changes.accounts.insert(reservation.account)
    }

    mutating func release(_ orderID: String) {
        guard let reservation = reservations.removeValue(forKey: orderID) else { return }
        accounts[reservation.account]?.reserved -= reservation.cash
        accounts[reservation.account]?.openOrders -= 1
        adjustOpen(reservation, by: -1)
        changes.reservations.insert(orderID)
        changes.accounts.insert(reservation.account)
    }

    private mutating func adjustOpen(_ reservation: Reservation, by sign: Int64) {
        guard accounts[reservation.account] != nil else { return }
        var position = accounts[reservation.account]!.positions[reservation.symbol] ?? RiskPosition()
        if reservation.buy { position.openBuy += sign * reservation.leaves } else { position.openSell += sign * reservation.leaves }
        accounts[reservation.account]!.positions[reservation.symbol] = position
    }

    /// Releases reservations whose orders never appeared in the processors' events within the TTL (the node
    /// rejected them as late, or crashed before journaling them).
    mutating func expire(now: Int64) {
        let stale = reservations.filter { !$0.value.confirmed && now - $0.value.createdAt > unconfirmedTTL }.keys
        for orderID in stale { release(orderID) }
    }
}

/// The rows a store must write: accounts (with their positions), reservations (absent ones are deleted), and
/// the processors' cursors.
struct RiskChanges: Sendable {
    var accounts = Set<String>()
    var positions = Set<PositionKey>()
    var reservations = Set<String>()
    var cursors: [String: UInt64] = [:]

    var isEmpty: Bool { accounts.isEmpty && positions.isEmpty && reservations.isEmpty && cursors.isEmpty }
}

struct PositionKey: Hashable, Sendable {
    var account: String
    var symbol: String
}
