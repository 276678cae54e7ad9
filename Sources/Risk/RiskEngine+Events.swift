import Orders
import Protos
import RPC

/// What executions do to risk's state, and the admin changes.
extension RiskEngine {
    /// Applies a batch of one node's events; those at or below the node's cursor were applied before and are
    /// skipped, so a redelivery counts nothing twice.
    mutating func apply(node: String, _ events: [Tradewire_V1_EventRiskView], now: Int64) {
        let after = cursors[node] ?? 0
        guard let last = events.last?.sequence, last > after else { return }
        for event in events where event.sequence > after {
            if let order = event.order { apply(order, now: now) }
        }
        cursors[node] = last
        changes.cursors[node] = last
    }

    /// The order statuses whose events risk reads (`SubscribeEventsRequest.order_statuses`): every status but two
    /// whose events change nothing here, which the nodes then never send. NEW: risk has not answered yet, and the
    /// check's own reservation stands (below). SETTLED: it follows FILLED, whose event released the order and moved
    /// its last fill; a NEW order has no fills and a SETTLED one no new fill. (About two events in five per order.)
    static let followedStatuses: [Tradewire_V1_OrderStatus] =
        Tradewire_V1_OrderStatus.allCases.filter { ![.unspecified, .new, .settled].contains($0) }

    /// Applies one order event from a processor node: a fill (its report) moves the position and the cash; then the
    /// order's reservation is brought to the order as it is now (held while it works, at its price and leaves;
    /// released once it ends). Risk asks the nodes for fills' reports only (`trade_reports_only`): the others it
    /// would decode for nothing. Idempotence across redeliveries is the caller's (per-node sequence cursors).
    mutating func apply(_ event: Tradewire_V1_OrderEventRiskView, now: Int64) {
        guard let order = event.order else { return }
        let orderID = order.orderID?.value ?? ""
        let buy = order.side == .buy
        if let report = event.report, report.execType == .trade, let price = report.lastPrice, let quantity = report.lastQuantity,
           accounts[order.account] != nil,
           let notional = Cash.notional(price: price.units, priceScale: price.scale, quantity: quantity.units, quantityScale: quantity.scale)
        {
            // Checks keep balances far inside 64 bits; a fill (which has happened) clamps rather than traps.
            accounts[order.account]!.balance = RiskAccount.add(accounts[order.account]!.balance, buy ? -1 : 1, notional)
            accounts[order.account]!.positions[order.symbol, default: RiskPosition()].fill(buy: buy, quantity: quantity.units, notional: notional)
            changes.accounts.insert(order.account)
            changes.positions.insert(PositionKey(account: order.account, symbol: order.symbol))
        }
        switch order.status {
        case .new:
            break  // risk has not answered (or its answer is on the way): the check's reservation stands
        case .accepted, .partiallyFilled, .pendingCancel:
            follow(orderID, order, buy: buy, now: now)
        default:
            release(orderID)
        }
    }

    /// Holds what a working order needs now: its leaves at its price (a MARKET order its protection price), and
    /// while a replace is pending the larger of these and the new terms. The pending terms come from the order
    /// once its events carry them; an event older than the replace's check keeps the ones risk approved.
    private mutating func follow(_ orderID: String, _ order: Tradewire_V1_OrderRiskView, buy: Bool, now: Int64) {
        guard accounts[order.account] != nil else { return }
        let priceScale = instruments[order.symbol]?.priceScale ?? order.price?.scale ?? 0
        let quantityScale = instruments[order.symbol]?.quantityScale ?? order.quantity?.scale ?? 0
        let existing = reservations[orderID]
        let price = order.type == .market
            ? order.protectionPrice?.units ?? existing?.price ?? references[order.symbol]?.units ?? 0 : order.price?.units ?? 0
        let leaves = order.leavesQuantity?.units ?? 0
        func cash(_ price: Int64, _ leaves: Int64) -> Int64 {
            buy ? Cash.notional(price: price, priceScale: priceScale, quantity: leaves, quantityScale: quantityScale, roundUp: true) ?? 0 : 0
        }
        var pending: PendingTerms?
        if let newPrice = order.pendingPrice?.units, let newQuantity = order.pendingQuantity?.units {
            let filled = order.filledQuantity?.units ?? 0
            let newLeaves = max(0, newQuantity - filled)
            pending = PendingTerms(price: newPrice, leaves: newLeaves, cash: cash(newPrice, newLeaves), afterVersion: order.version,
                                   confirmed: true, createdAt: existing?.pending?.createdAt ?? now)
        } else if let approved = existing?.pending, order.version <= approved.afterVersion {
            pending = approved
        }
        var updated = Reservation(account: order.account, symbol: order.symbol, buy: buy, price: price, leaves: leaves,
                                  cash: cash(price, leaves), confirmed: true, createdAt: existing?.createdAt ?? now, row: existing?.row ?? 0)
        updated.pending = pending
        guard updated != existing else { return }
        release(orderID)
        hold(orderID, updated)
    }

    // MARK: - Admin

    /// Replaces an account's limits (creating the account with no cash if it is new).
    mutating func setLimits(_ account: String, _ limits: Tradewire_V1_AccountLimits) throws(RPCError) -> Tradewire_V1_Account {
        try Self.validate(account: account)
        if let problem = Self.problem(limits) { throw RPCError(code: .invalidArgument, message: problem) }
        accounts[account, default: RiskAccount()].limits = limits
        changes.accounts.insert(account)
        return accounts[account]!.message(account)
    }

    /// Sets the balance (or adds `amount`, with `adjust`); never below what working orders hold.
    mutating func setBalance(_ account: String, _ amount: Tradewire_V1_Money, adjust: Bool) throws(RPCError) -> Tradewire_V1_Account {
        try Self.validate(account: account)
        guard let units = Cash.units(amount.units, scale: amount.scale) else {
            throw RPCError(code: .invalidArgument, message: "amount has more than \(Cash.scale) decimals or is too large")
        }
        var state = accounts[account] ?? RiskAccount()
        if !amount.currency.isEmpty, amount.currency != state.currency {
            guard !adjust, state.balance == 0, state.reserved == 0, state.positions.values.allSatisfy({ $0.quantity == 0 }) else {
                throw RPCError(code: .invalidArgument, message: "account \(account) holds \(state.currency), not \(amount.currency)")
            }
            state.currency = amount.currency
        }
        let (balance, overflow) = adjust ? state.balance.addingReportingOverflow(units) : (units, false)
        guard !overflow else { throw RPCError(code: .invalidArgument, message: "the balance would overflow") }
        guard balance >= state.reserved else {
            throw RPCError(code: .failedPrecondition, message: "working orders hold \(Cash.text(state.reserved, currency: state.currency)); the balance cannot go below it")
        }
        state.balance = balance
        accounts[account] = state
        changes.accounts.insert(account)
        return state.message(account)
    }

    /// Symbol overrides an account's limits may have.
    static let maxSymbolLimits = 1024

    /// Why `limits` cannot be taken (from SetLimits or the cluster file); nil when they can. Bounds every number
    /// that later arithmetic uses: scales at most `FixedPoint.maxScale`, nothing negative.
    static func problem(_ limits: Tradewire_V1_AccountLimits) -> String? {
        guard limits.symbolLimits.count <= maxSymbolLimits else { return "at most \(maxSymbolLimits) symbol_limits" }
        let quantities = [limits.maxOrderQuantity, limits.maxPosition] + limits.symbolLimits.flatMap { [$0.maxOrderQuantity, $0.maxPosition] }
        guard quantities.allSatisfy({ ($0?.units ?? 0) >= 0 && ($0?.scale ?? 0) <= FixedPoint.maxScale }) else {
            return "quantity limits must not be negative (0 or absent: no limit) and have a scale of at most \(FixedPoint.maxScale)"
        }
        if let notional = limits.maxOrderNotional, notional.units < 0 || (notional.units > 0 && Cash.units(notional.units, scale: notional.scale) == nil) {
            return "max_order_notional must not be negative, have at most \(Cash.scale) decimals and fit in 64 bits"
        }
        return nil
    }

    private static func validate(account: String) throws(RPCError) {
        guard (1...64).contains(account.utf8.count) else {
            throw RPCError(code: .invalidArgument, message: "account must be 1–64 bytes")
        }
    }

    // MARK: - Reads

    func positions(_ account: String, symbols: [String]) -> [Tradewire_V1_Position]? {
        guard let state = accounts[account] else { return nil }
        let names = symbols.isEmpty ? state.positions.filter { $0.value.quantity != 0 }.keys.sorted() : symbols
        return names.map { symbol in
            (state.positions[symbol] ?? RiskPosition()).message(
                symbol, quantityScale: instruments[symbol]?.quantityScale ?? 0, currency: state.currency)
        }
    }
}
