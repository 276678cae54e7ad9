import Cluster
import Journal
import Orders
import Protos
import RPC

/// The order actors' side of the node: place (risk first), cancel, replace (risk first), the book's updates,
/// settlement.
extension NodeState {
    /// Runs a message on an order that is not waiting for risk.
    mutating func run(_ message: OrderActor.Message, on id: String) {
        switch message {
        case .settle: settle(id)
        case .command(let command, let reply):
            switch command.command {
            case .place(let place): placeAgain(place, id, command, reply)
            case .cancel: cancel(id, command, reply)
            case .replace(let replace): self.replace(replace, id, command, reply)
            case .orderUpdate(let update): self.update(update, id, command, reply)
            default: assertionFailure("only order commands reach an order's mailbox")
            }
        }
    }

    // MARK: - Place

    mutating func place(_ place: Tradewire_V1_PlaceCommand, id: String, _ command: Tradewire_V1_Command, _ reply: ReplyToken) {
        if load(id) != nil { return deliver(id, .command(command, reply)) }
        if let problem = Self.validate(place) { return answer(reply, Self.error(command, .invalidArgument, problem)) }
        var order = OrderActor(place: place, requestHash: OrderActor.requestHash(place), now: now.wall)
        NodeMetrics.shared.entered(order.state.status)
        order.awaitingRisk = true
        order.lastUsed = now.monotonic
        logger.debug("order received", metadata: ["request_id": "\(command.requestID)", "order_id": "\(id)", "account": "\(order.account)"])
        askRisk(Self.riskRequest(order), requestID: command.requestID, .place(orderID: id, command, reply))
        orders[id] = order
    }

    /// A place for an order that exists: the same request again is a duplicate (answered once the order's state
    /// is durable), different terms are a conflict.
    private mutating func placeAgain(_ place: Tradewire_V1_PlaceCommand, _ id: String, _ command: Tradewire_V1_Command,
                                     _ reply: ReplyToken)
    {
        let order = orders[id]!
        guard order.requestHash == OrderActor.requestHash(place) else {
            return answer(reply, Self.error(command, .alreadyExists,
                "order \(id) exists (client order id \"\(order.clientOrderID)\" of account \(order.account)) with a different payload"))
        }
        answerAbout(id, reply, Self.ack(command, order.order, duplicate: true))
    }

    private mutating func askRisk(_ request: Tradewire_V1_RiskCheckRequest, requestID: String, _ pending: PendingCheck) {
        var request = request
        request.requestID = requestID
        nextRiskToken += 1
        deciding[nextRiskToken] = pending
        effects.checks.append((nextRiskToken, request))
    }

    /// Risk decided a check: the order goes on, then what waited in its mailbox runs.
    mutating func decided(_ token: UInt64, _ decision: RiskDecision) {
        guard let pending = deciding.removeValue(forKey: token) else { return }
        switch pending {
        case .place(let id, let command, let reply):
            orders[id]!.awaitingRisk = false
            placeDecided(id, decision, command, reply)
            drainMailbox(id)
        case .replace(let id, let quantity, let price, let command, let reply):
            orders[id]!.awaitingRisk = false
            replaceDecided(id, quantity: quantity, price: price, decision, command, reply)
            drainMailbox(id)
        }
    }

    /// The order is ACCEPTED and goes to its book, or is REJECTED with the reason.
    private mutating func placeDecided(_ id: String, _ decision: RiskDecision, _ command: Tradewire_V1_Command, _ reply: ReplyToken) {
        var order = orders[id]!
        var write = JournalWrite()
        order.version = 1
        var version = OrderVersion(order.order)  // the order as its newest event, row and acknowledgement carry it
        write.events.append(orderEvent(order, version, .pendingNew, command.requestID))
        var outbox: [(String, Tradewire_V1_Command)] = []
        var decision = decision
        if case .approved(let response) = decision, order.type == .market {
            // The book trades a MARKET order only up to its protection price: without one, it cannot go to the book.
            if let protection = response.protectionPrice, protection.units > 0, protection.scale <= OrderBounds.maxInstrumentScale,
               OrderBounds.problem(price: protection.units, priceScale: protection.scale, quantity: order.state.quantity,
                                   quantityScale: order.quantityScale) == nil
            {
                order.protect(at: protection)
            } else {
                decision = .rejected(.riskUnavailable, "risk approved the MARKET order without a usable protection price")
            }
        }
        do {
            switch decision {
            case .approved:
                logger.debug("order accepted", metadata: ["request_id": "\(command.requestID)", "order_id": "\(id)"])
                order.state = try order.state.applying(.accepted)
                version = nextVersion(&order, .new, command.requestID, into: &write)
                var book = Tradewire_V1_Command(ringEpoch: ring.epoch, requestID: command.requestID)
                book.command = .bookOrder(Tradewire_V1_BookOrderCommand(order: Self.bookView(version.message), orderNodeID: nodeID))
                outbox.append((bookNode(order.symbol), book))
            case .rejected(let reason, let text):
                logger.log(level: reason == .riskUnavailable ? .warning : .debug, "order rejected", metadata: [
                    "request_id": "\(command.requestID)", "order_id": "\(id)", "reason": "\(reason)", "text": "\(text)",
                ])
                order.state = try order.state.applying(.rejected(reason: text))
                order.rejectReason = reason
                version = nextVersion(&order, .rejected, command.requestID, into: &write)
            }
        } catch {
            preconditionFailure("a NEW order takes a risk decision: \(error)")
        }
        write.orders.append(row(order, version))
        orders[id] = order
        commit(id, write, outbox: outbox, reply: reply, Self.ack(command, version.message))
    }

    // MARK: - Cancel

    private mutating func cancel(_ id: String, _ command: Tradewire_V1_Command, _ reply: ReplyToken) {
        var order = orders[id]!
        switch order.state.status {
        case .accepted, .partiallyFilled:
            var write = JournalWrite()
            order.state = try! order.state.applying(.cancelRequested)
            let version = nextVersion(&order, .pendingCancel, command.requestID, into: &write)
            write.orders.append(row(order, version))
            var book = Tradewire_V1_Command(ringEpoch: ring.epoch, requestID: command.requestID)
            book.command = .bookCancel(Tradewire_V1_BookCancelCommand(
                symbol: order.symbol, orderID: Tradewire_V1_OrderId(value: id), orderNodeID: nodeID))
            orders[id] = order
            commit(id, write, outbox: [(bookNode(order.symbol), book)], reply: reply, Self.ack(command, version.message))
        case .pendingCancel, .cancelled:
            answerAbout(id, reply, Self.ack(command, order.order, duplicate: true))
        case let status:
            answer(reply, Self.error(command, .failedPrecondition,
                "order \(id) is \(Tradewire_V1_OrderStatus(status)): it can no longer be cancelled"))
        }
    }

    // MARK: - Replace

    /// A replace is checked by risk exactly like a new order (the new terms, with the order's current reservation
    /// moved to them); only then does it go to the book. Risk's refusal leaves the order as it was and answers
    /// FAILED_PRECONDITION with risk's reason (`google.rpc.ErrorInfo`). One replace at a time: while one is pending
    /// (the book has not answered), another is refused.
    private mutating func replace(_ replace: Tradewire_V1_ReplaceCommand, _ id: String, _ command: Tradewire_V1_Command,
                                  _ reply: ReplyToken)
    {
        let order = orders[id]!
        guard order.state.status == .accepted || order.state.status == .partiallyFilled else {
            return answer(reply, Self.error(command, .failedPrecondition,
                "order \(id) is \(Tradewire_V1_OrderStatus(order.state.status)): it can no longer be replaced", reason: "TOO_LATE"))
        }
        guard order.state.pendingReplace == nil else {
            return answer(reply, Self.error(command, .failedPrecondition,
                "order \(id) has a replace pending: wait for its REPLACED report", reason: "ALREADY_PENDING"))
        }
        guard order.type == .limit else {
            return answer(reply, Self.error(command, .invalidArgument, "only a LIMIT order can be replaced"))
        }
        if let problem = Self.replaceProblem(replace, order) { return answer(reply, Self.error(command, .invalidArgument, problem)) }
        let quantity = replace.quantity?.units ?? order.state.quantity
        let price = replace.price?.units ?? order.state.price ?? 0
        var request = Self.riskRequest(order)
        request.replace = true
        request.price = Tradewire_V1_Price(units: price, scale: order.priceScale)
        request.quantity = Tradewire_V1_Quantity(units: quantity, scale: order.quantityScale)
        request.filledQuantity = Tradewire_V1_Quantity(units: order.state.filled, scale: order.quantityScale)
        request.orderVersion = order.version
        orders[id]!.awaitingRisk = true
        askRisk(request, requestID: command.requestID, .replace(orderID: id, quantity: quantity, price: price, command, reply))
    }

    /// Why a replace's new terms cannot be right for `order` (before risk is asked); nil when they can.
    private static func replaceProblem(_ replace: Tradewire_V1_ReplaceCommand, _ order: OrderActor) -> String? {
        if let price = replace.price, price.scale != order.priceScale {
            return "the new price has scale \(price.scale), the order's is \(order.priceScale)"
        }
        if let quantity = replace.quantity, quantity.scale != order.quantityScale {
            return "the new quantity has scale \(quantity.scale), the order's is \(order.quantityScale)"
        }
        let quantity = replace.quantity?.units ?? order.state.quantity
        let price = replace.price?.units ?? order.state.price ?? 0
        if let problem = OrderBounds.problem(price: price, priceScale: order.priceScale, quantity: quantity, quantityScale: order.quantityScale) {
            return problem
        }
        guard quantity > order.state.filled else { return "the new quantity must be above the \(order.state.filled) already filled" }
        return nil
    }

    /// Approved, the order records the pending replace (a PENDING_REPLACE report) and the book gets it; refused,
    /// nothing changes and the caller hears why.
    private mutating func replaceDecided(_ id: String, quantity: Int64, price: Int64, _ decision: RiskDecision,
                                         _ command: Tradewire_V1_Command, _ reply: ReplyToken)
    {
        var order = orders[id]!
        switch decision {
        case .approved:
            do {
                order.state = try order.state.applying(.replaceRequested(quantity: quantity, price: price))
            } catch {
                return answer(reply, Self.error(command, .failedPrecondition, "\(error)", reason: "TOO_LATE"))
            }
            var write = JournalWrite()
            let version = nextVersion(&order, .pendingReplace, command.requestID, into: &write)
            write.orders.append(row(order, version))
            var book = Tradewire_V1_Command(ringEpoch: ring.epoch, requestID: command.requestID)
            book.command = .bookReplace(Tradewire_V1_BookReplaceCommand(
                symbol: order.symbol, orderID: Tradewire_V1_OrderId(value: id),
                price: Tradewire_V1_Price(units: price, scale: order.priceScale),
                quantity: Tradewire_V1_Quantity(units: quantity, scale: order.quantityScale), orderNodeID: nodeID))
            orders[id] = order
            commit(id, write, outbox: [(bookNode(order.symbol), book)], reply: reply, Self.ack(command, version.message))
        case .rejected(let reason, let text):
            logger.debug("replace refused by risk", metadata: ["request_id": "\(command.requestID)", "order_id": "\(id)", "reason": "\(reason)"])
            let code: RPCError.Code = reason == .riskUnavailable ? .unavailable : .failedPrecondition
            answer(reply, Self.error(command, code, "risk refused the replace (the order keeps its terms): \(text)", reason: reason.name))
        }
    }

    // MARK: - The book's updates

    /// What the book did with an order: a fill, a removal, a replace, or a refusal. A copy of an update already
    /// applied (same source node, sequence not above the last) is a duplicate.
    private mutating func update(_ update: Tradewire_V1_OrderUpdateCommand, _ id: String, _ command: Tradewire_V1_Command,
                                 _ reply: ReplyToken)
    {
        var order = orders[id]!
        if !command.sourceNodeID.isEmpty && order.inboundSource == command.sourceNodeID && command.sourceSequence <= order.inboundSequence {
            return answerAbout(id, reply, Self.done(command, duplicate: true))
        }
        if !command.sourceNodeID.isEmpty {  // Empty: from this node's own book, in the same turn (nothing to resend).
            order.inboundSource = command.sourceNodeID
            order.inboundSequence = command.sourceSequence
        }
        var write = JournalWrite()
        var version: OrderVersion?
        do {
            version = try apply(update, to: &order, command.requestID, into: &write)
        } catch {
            logger.warning("an update that does not apply to the order was ignored", metadata: [
                "order_id": "\(id)", "error": "\(error)", "from": "\(command.sourceNodeID)", "sequence": "\(command.sourceSequence)",
            ])
        }
        write.orders.append(row(order, version ?? OrderVersion(order.order)))
        orders[id] = order
        commit(id, write, reply: reply, Self.done(command))
        if order.state.status == .filled { scheduleSettlement(id, filledAt: order.updatedAt) }
    }

    /// The update's change to `order`, its report added to `write`; returns the order as changed (nil when the update
    /// is empty), or throws (changing nothing) when it does not apply.
    private func apply(_ update: Tradewire_V1_OrderUpdateCommand, to order: inout OrderActor, _ requestID: String,
                       into write: inout JournalWrite) throws -> OrderVersion?
    {
        switch update.update {
        case .fill(let trade):
            order.state = try order.state.applying(.filled(quantity: trade.quantity?.units ?? 0, price: trade.price?.units ?? 0))
            return nextVersion(&order, .trade, requestID, into: &write) { report in
                report.lastQuantity = trade.quantity
                report.lastPrice = trade.price
                report.tradeID = trade.tradeID
            }
        case .removed(let removed):
            order.state = try order.state.applying(.cancelled)
            if removed.reason != .unspecified { order.rejectReason = removed.reason }
            return nextVersion(&order, .canceled, requestID, into: &write) { report in
                if removed.reason == .noLiquidity { report.text = "the book had no more liquidity for the rest" }
            }
        case .replaced(let replaced):
            order.state = try order.state.applying(.replaced(
                quantity: replaced.quantity?.units ?? order.state.quantity, price: replaced.price?.units))
            return nextVersion(&order, .replaced, requestID, into: &write) { report in
                report.text = replaced.keptPriority ? "kept its time priority" : "lost its time priority"
            }
        case .refused(let refused):
            if refused.replace {
                if order.state.pendingReplace != nil { order.state = try order.state.applying(.replaceRefused) }
            } else if order.state.status == .pendingCancel {
                order.state = try order.state.applying(.cancelRefused)
            }
            return nextVersion(&order, .orderStatus, requestID, into: &write) { $0.text = refused.text }
        case nil:
            return nil
        }
    }

    // MARK: - Settlement

    /// Settlements come due on a grid of this many nanoseconds: the orders due within one step settle together, in
    /// one turn and one commit. One timer each (a wake-up and a commit per filled order, a second after its fill)
    /// was a seventh of the nodes' commits at 1,000 orders/s.
    static let settlementStep: UInt64 = 50_000_000

    /// Settles `id` at its fill time plus the settlement delay, at the next step of the grid (at most
    /// ``settlementStep`` later).
    mutating func scheduleSettlement(_ id: String, filledAt: Int64) {
        // In 128 bits: `filledAt` comes back from a journal row, and the delay from the cluster file (≤ 1 day).
        let due = Int128(filledAt) + Int128(settlementDelay)
        let wait = UInt64(clamping: max(0, min(due - Int128(now.wall), Int128(settlementDelay))))
        let at = now.monotonic &+ wait
        let step = Self.settlementStep
        let (steps, rest) = at.quotientAndRemainder(dividingBy: step)
        effects.timers.append((.settle(orderID: id), rest == 0 ? at : (steps &+ 1) &* step))
    }

    /// A FILLED order's settlement came due (through its mailbox if it waits for risk).
    mutating func settle(_ id: String) {
        guard var order = load(id) else { return }
        guard !order.awaitingRisk else { return deliver(id, .settle) }
        guard order.state.status == .filled else { return }
        order.state = try! order.state.applying(.settled)
        var write = JournalWrite()
        let version = nextVersion(&order, .settled, "", into: &write)
        write.orders.append(row(order, version))
        orders[id] = order
        commit(id, write)
    }

    // MARK: - Helpers

    /// Answers about an order's current state once every write of it committed.
    private mutating func answerAbout(_ id: String, _ reply: ReplyToken, _ ack: Tradewire_V1_Ack) {
        if orders[id]!.uncommitted == 0 { answer(reply, ack) } else { answerAfterWrites(reply, ack) }
    }

    func bookNode(_ symbol: String) -> String { ring.owner(of: .book(symbol)).id }

    /// The order's journal row; `version` is `order.order`, built and encoded once per change by the caller (the
    /// change's event, row, acknowledgement and book command carry the same order).
    func row(_ order: OrderActor, _ version: OrderVersion) -> OrderRow {
        let record = version.record(requestHash: order.requestHash, inboundSource: order.inboundSource, inboundSequence: order.inboundSequence)
        return OrderRow(key: order.id, account: order.account, symbol: order.symbol, status: version.message.status.rawValue,
                        createdAt: order.createdAt, batchID: order.batchID, payload: record)
    }

    /// Moves the order to its next version (version bumped, time updated), adds that version's event to `write` and
    /// returns the order as it now is.
    private func nextVersion(_ order: inout OrderActor, _ execType: Tradewire_V1_ExecType, _ requestID: String,
                             into write: inout JournalWrite, _ adjust: (inout Tradewire_V1_ExecutionReport) -> Void = { _ in })
        -> OrderVersion
    {
        order.version += 1
        order.updatedAt = now.wall
        let version = OrderVersion(order.order)
        write.events.append(orderEvent(order, version, execType, requestID, adjust))
        return version
    }

    /// The event of `order`'s current version (`version` is `order.order`).
    private func orderEvent(_ order: OrderActor, _ version: OrderVersion, _ execType: Tradewire_V1_ExecType, _ requestID: String,
                            _ adjust: (inout Tradewire_V1_ExecutionReport) -> Void = { _ in }) -> JournalEntry
    {
        var report = order.report(execType, node: nodeID, requestID: requestID, averagePrice: version.message.averagePrice)
        adjust(&report)
        if execType == .pendingNew { report.orderStatus = .new; report.fixOrdStatus = "A" }
        return JournalEntry(key: order.id, kind: EventKind.order.rawValue, payload: version.event(node: nodeID, requestID: requestID, report: report))
    }

    /// The order as its book reads it (``BookActor``): what it matches, rests and reports on. The rest (client order
    /// id, status, times, texts) the book never reads; leaving it out keeps the book's input, stored and sent to
    /// another node, about half the order's size.
    static func bookView(_ order: Tradewire_V1_Order) -> Tradewire_V1_Order {
        var view = Tradewire_V1_Order()
        view.orderID = order.orderID
        view.account = order.account
        view.symbol = order.symbol
        view.side = order.side
        view.type = order.type
        view.timeInForce = order.timeInForce
        view.price = order.price
        view.protectionPrice = order.protectionPrice
        view.quantity = order.quantity
        view.filledQuantity = order.filledQuantity
        return view
    }

    private static func riskRequest(_ order: OrderActor) -> Tradewire_V1_RiskCheckRequest {
        var request = Tradewire_V1_RiskCheckRequest()
        request.orderID = Tradewire_V1_OrderId(value: order.id)
        request.account = order.account
        request.symbol = order.symbol
        request.side = order.side
        request.type = order.type
        if let price = order.state.price { request.price = Tradewire_V1_Price(units: price, scale: order.priceScale) }
        request.quantity = Tradewire_V1_Quantity(units: order.state.quantity, scale: order.quantityScale)
        return request
    }

    /// Why a place command cannot be an order, whatever its instrument (the gateway checked the instrument's rules;
    /// a node checks what keeps its own state and arithmetic sound); nil when it can.
    static func validate(_ place: Tradewire_V1_PlaceCommand) -> String? {
        guard let order = place.order else { return "place needs an order" }
        guard OrderBounds.isIdentifier(place.account) else { return "place needs an account of 1–64 printable ASCII characters" }
        guard OrderBounds.isSymbol(order.symbol) else { return "the order needs a symbol of \(OrderBounds.symbolRule)" }
        if !order.clientOrderID.isEmpty, !OrderBounds.isIdentifier(order.clientOrderID) { return "client_order_id is at most 64 printable ASCII characters" }
        if !place.batchID.isEmpty, !OrderBounds.isIdentifier(place.batchID) { return "batch_id is at most 64 printable ASCII characters" }
        if place.idempotencyKey.utf8.count > 256 { return "the idempotency key is at most 256 bytes" }
        guard order.side == .buy || order.side == .sell else { return "side must be BUY or SELL" }
        switch (order.type, order.timeInForce) {
        case (.limit, .gtc), (.limit, .ioc), (.limit, .fok):
            guard order.price != nil else { return "a LIMIT order needs a price" }
        case (.market, .ioc), (.market, .fok):
            guard (order.price?.units ?? 0) == 0 else { return "a MARKET order has no price" }
        case (.market, _): return "a MARKET order is IOC or FOK"
        default: return "type must be LIMIT or MARKET and time in force GTC, IOC or FOK"
        }
        return OrderBounds.problem(
            price: order.type == .limit ? order.price?.units ?? 0 : nil, priceScale: order.price?.scale ?? 0,
            quantity: order.quantity?.units ?? 0, quantityScale: order.quantity?.scale ?? 0)
    }
}
