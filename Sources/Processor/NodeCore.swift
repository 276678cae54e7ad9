import Cluster
import EventLoop
import Glibc
import Journal
import Logging
import SQLite
import Orders
import Protos
import RPC
import ServiceStubs

/// One processor node's logic: its order actors and book actors, the ownership check, the journal writes and the
/// outbox to other nodes. Everything here runs on one thread (`loop`), which serialises every actor's messages
/// without locks; the only waits are for risk (the order waits, others go on) and for the journal (group commit:
/// an actor goes on with its next message while its write commits, and writes commit in the order they were
/// made, so an acknowledgement sent after a write's commit covers every earlier change).
///
/// A journal that fails to write stops the node (fail-stop, reported to the host): its in-memory state would be
/// ahead of the journal, and a restart rebuilds it from what committed.
final class NodeCore: TurnFlushable, @unchecked Sendable {
    // @unchecked Sendable: every stored property is touched on `loop` only; the entry points hop there.
    typealias Reply = @Sendable (Tradewire_V1_Ack) -> Void

    let nodeID: String
    let loop: EventLoop
    let config: ClusterConfig
    let ring: ClusterRing
    let journal: Journal
    let risk: RiskChecker
    let logger = Logger(label: "tradewire.processor")
    let peers: [String: CommandStream]
    private var orders: [String: OrderActor] = [:] {
        didSet { NodeMetrics.shared.orderActors.set(orders.count) }
    }
    private var books: [String: BookActor] = [:] {
        didSet { NodeMetrics.shared.bookActors.set(books.count) }
    }
    var links: [String: OutboxLink] = [:]
    private var sweepTimer: LoopTimer?
    /// Armed while destinations' confirmations wait to be journaled (see `persistConfirmationsLater`).
    var confirmationTimer: LoopTimer?
    /// A book writes a snapshot after this many inputs (replay then starts there).
    let snapshotEvery: Int
    private let fatal: @Sendable (String, any Error) -> Void
    private var journalFailed = false
    /// What the current turn produced: sent at its end as one risk batch and one journal write.
    var turn = Turn()
    /// Turns whose write is with the journal, oldest first: the journal completes writes in the order given (after
    /// its latch trips, failures may come in another order, but every one of them is handled alike).
    var committing: [Turn] = []
    /// Turns whose risk batch is with risk, by a number of their own.
    var deciding: [UInt64: [(RiskChecker.Decision) -> Void]] = [:]
    var nextRiskBatch: UInt64 = 0

    /// - Parameter fatal: told once if the journal fails.
    init(nodeID: String, config: ClusterConfig, journal: Journal, risk: RiskChecker, peers: [String: CommandStream],
         loop: EventLoop, snapshotEvery: Int = 1000, fatal: @escaping @Sendable (String, any Error) -> Void)
    {
        self.fatal = fatal
        self.nodeID = nodeID
        self.config = config
        ring = ClusterRing(config)
        self.journal = journal
        self.risk = risk
        self.peers = peers
        self.loop = loop
        self.snapshotEvery = snapshotEvery
    }

    /// Order actors in memory.
    var liveOrders: Int { orders.count }
    var liveBooks: Int { books.count }

    // MARK: - Recovery

    /// Rebuilds what must be in memory before serving: books (snapshot + later inputs), undelivered outbox
    /// messages, and settlements still due. Order actors come back lazily, from their rows.
    func recover() throws {
        let (snapshots, inputs) = try journal.replayable()
        for row in snapshots {
            let snapshot = try Tradewire_V1_BookSnapshot(serializedBytes: row.payload)
            books[row.key] = try BookActor(snapshot: snapshot)
        }
        for row in inputs {
            let book = books[row.key] ?? BookActor(symbol: row.key)
            books[row.key] = book
            guard row.position > book.inputPosition else { continue }
            guard row.position == book.inputPosition + 1 else {
                throw RecoveryError("book \(row.key): input \(row.position) follows \(book.inputPosition); the journal has a hole")
            }
            _ = book.apply(try Tradewire_V1_Command(serializedBytes: row.payload), now: 0)
        }
        for (destination, head) in journal.outboxHeads { link(destination).restart(after: head) }
        for record in try journal.pendingOutbox() {
            let link = self.link(record.destination)
            if link.waiting.isEmpty { link.restart(after: record.sequence - 1) }

            link.waiting[record.sequence] = try Tradewire_V1_Command(serializedBytes: record.payload)
        }
        for row in try journal.orders(statuses: [Tradewire_V1_OrderStatus.filled.rawValue]) {
            let record = try Tradewire_V1_OrderRecord(serializedBytes: row.payload)
            scheduleSettlement(row.key, filledAt: record.order?.updatedAtUnixNanos ?? 0)
        }
        for link in links.values { pump(link) }
        NodeMetrics.shared.countOrders(try journal.orderCounts())
        scheduleSweep()
    }

    struct RecoveryError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: - Commands

    /// Handles one command; `reply` gets its acknowledgement once what it changed has committed.
    func handle(_ command: Tradewire_V1_Command, reply: @escaping Reply) {
        if command.deadlineUnixNanos != 0 && command.deadlineUnixNanos < WallClock.now() {
            return reply(Self.error(command, .deadlineExceeded, "the command's deadline passed before the node processed it"))
        }
        guard let key = RingKey(routing: command) else {
            return reply(Self.error(command, .invalidArgument, RingKey.unroutable))
        }
        if command.ringEpoch > ring.epoch {
            return reply(Self.error(command, .failedPrecondition,
                "the command was routed with ring epoch \(command.ringEpoch), newer than this node's \(ring.epoch): it refuses writes until it runs with that ring"))
        }
        let owner = ring.owner(of: key)
        guard owner.id == nodeID else {
            var ack = Tradewire_V1_Ack(commandID: command.commandID)
            ack.result = .notOwner(Tradewire_V1_NotOwner(ownerNodeID: owner.id, ownerAddress: owner.address, ringEpoch: ring.epoch))
            return reply(ack)
        }
        switch command.command {
        case .place(let place): self.place(place, command, reply)
        case .cancel(let cancel): self.cancel(cancel, command, reply)
        case .replace(let replace): self.replace(replace, command, reply)
        case .orderUpdate(let update): self.update(update, command, reply)
        case .bookOrder, .bookCancel, .bookReplace:
            guard case .book(let symbol) = key else { return }  // RingKey(routing:) gives book commands book keys
            bookInput(command, symbol: symbol, reply)
        case nil: reply(Self.error(command, .invalidArgument, "the command is empty"))
        }
    }

    // MARK: - Order actors

    private func place(_ place: Tradewire_V1_PlaceCommand, _ command: Tradewire_V1_Command, _ reply: @escaping Reply) {
        let id = place.orderID!.value
        let hash = OrderActor.requestHash(place)
        if let actor = actor(id) {
            return deliver(actor) {
                guard actor.requestHash == hash else {
                    return reply(Self.error(command, .alreadyExists,
                        "order \(id) exists (client order id \"\(actor.clientOrderID)\" of account \(actor.account)) with a different payload"))
                }
                self.afterCommitted(actor) { reply(Self.ack(command, actor.order, duplicate: true)) }
            }
        }
        if let problem = Self.validate(place) { return reply(Self.error(command, .invalidArgument, problem)) }
        let actor = OrderActor(place: place, requestHash: hash, now: WallClock.now())
        NodeMetrics.shared.entered(actor.state.status)
        orders[id] = actor
        actor.awaitingRisk = true
        actor.lastUsed = Monotonic.now()
        logger.debug("order received", metadata: ["request_id": "\(command.requestID)", "order_id": "\(id)", "account": "\(actor.account)"])
        askRisk(Self.riskRequest(actor), requestID: command.requestID) { decision in
            self.decided(actor, decision, command, reply)
        }
    }

    /// Risk answered (or could not): the order is ACCEPTED and goes to its book, or is REJECTED with the reason.
    private func decided(_ actor: OrderActor, _ decision: RiskChecker.Decision, _ command: Tradewire_V1_Command,
                         _ reply: @escaping Reply)
    {
        actor.awaitingRisk = false
        var write = JournalWrite()
        actor.version = 1
        write.events.append(orderEvent(actor, .pendingNew, command.requestID))
        var outbox: [(String, Tradewire_V1_Command)] = []
        var decision = decision
        if case .approved(let response) = decision, actor.type == .market {
            // The book trades a MARKET order only up to its protection price: without one, it cannot go to the book.
            if let protection = response.protectionPrice, protection.units > 0, protection.scale <= OrderBounds.maxInstrumentScale,
               OrderBounds.problem(price: protection.units, priceScale: protection.scale, quantity: actor.state.quantity,
                                   quantityScale: actor.quantityScale) == nil
            {
                actor.protect(at: protection)
            } else {
                decision = .rejected(.riskUnavailable, "risk approved the MARKET order without a usable protection price")
            }
        }
        do {
            switch decision {
            case .approved:
                logger.debug("order accepted", metadata: ["request_id": "\(command.requestID)", "order_id": "\(actor.id)"])
                actor.state = try actor.state.applying(.accepted)
                write.events.append(nextVersion(actor, .new, command.requestID))
                var book = Tradewire_V1_Command(ringEpoch: ring.epoch, requestID: command.requestID)
                book.command = .bookOrder(Tradewire_V1_BookOrderCommand(order: actor.order, orderNodeID: nodeID))
                outbox.append((ring.owner(of: .book(actor.symbol)).id, book))
            case .rejected(let reason, let text):
                let level: Logger.Level = reason == .riskUnavailable ? .warning : .debug
                logger.log(level: level, "order rejected", metadata: [
                    "request_id": "\(command.requestID)", "order_id": "\(actor.id)", "reason": "\(reason)", "text": "\(text)",
                ])
                actor.state = try actor.state.applying(.rejected(reason: text))
                actor.rejectReason = reason
                write.events.append(nextVersion(actor, .rejected, command.requestID))
            }
        } catch {
            preconditionFailure("a NEW order takes a risk decision: \(error)")
        }
        write.orders.append(row(actor))
        commit(actor, write, outbox) { reply(Self.ack(command, actor.order)) }
        drainMailbox(actor)
    }

    private func cancel(_ cancel: Tradewire_V1_CancelCommand, _ command: Tradewire_V1_Command, _ reply: @escaping Reply) {
        guard !cancel.account.isEmpty else { return reply(Self.error(command, .invalidArgument, "a cancel names the order's account")) }
        guard let actor = actor(cancel.orderID!.value), cancel.account == actor.account else {
            return reply(Self.error(command, .notFound, "order \(cancel.orderID!.value) does not exist"))
        }
        deliver(actor) {
            switch actor.state.status {
            case .accepted, .partiallyFilled:
                var write = JournalWrite()
                actor.state = try! actor.state.applying(.cancelRequested)
                write.events.append(self.nextVersion(actor, .pendingCancel, command.requestID))
                write.orders.append(self.row(actor))
                var book = Tradewire_V1_Command(ringEpoch: self.ring.epoch, requestID: command.requestID)
                book.command = .bookCancel(Tradewire_V1_BookCancelCommand(
                    symbol: actor.symbol, orderID: Tradewire_V1_OrderId(value: actor.id), orderNodeID: self.nodeID))
                self.commit(actor, write, [(self.bookNode(actor.symbol), book)]) { reply(Self.ack(command, actor.order)) }
            case .pendingCancel, .cancelled:
                self.afterCommitted(actor) { reply(Self.ack(command, actor.order, duplicate: true)) }
            case let status:
                reply(Self.error(command, .failedPrecondition, "order \(actor.id) is \(Tradewire_V1_OrderStatus(status)): it can no longer be cancelled"))
            }
        }
    }

    /// A replace is checked by risk exactly like a new order (the new terms, with the order's current reservation
    /// moved to them); only then does it go to the book. Risk's refusal leaves the order as it was and answers
    /// FAILED_PRECONDITION with risk's reason (`google.rpc.ErrorInfo`). One replace at a time: while one is pending
    /// (the book has not answered), another is refused.
    private func replace(_ replace: Tradewire_V1_ReplaceCommand, _ command: Tradewire_V1_Command, _ reply: @escaping Reply) {
        guard !replace.account.isEmpty else { return reply(Self.error(command, .invalidArgument, "a replace names the order's account")) }
        guard let actor = actor(replace.orderID!.value), replace.account == actor.account else {
            return reply(Self.error(command, .notFound, "order \(replace.orderID!.value) does not exist"))
        }
        deliver(actor) {
            guard actor.state.status == .accepted || actor.state.status == .partiallyFilled else {
                return reply(Self.error(command, .failedPrecondition,
                    "order \(actor.id) is \(Tradewire_V1_OrderStatus(actor.state.status)): it can no longer be replaced",
                    reason: "TOO_LATE"))
            }
            guard actor.state.pendingReplace == nil else {
                return reply(Self.error(command, .failedPrecondition,
                    "order \(actor.id) has a replace pending: wait for its REPLACED report", reason: "ALREADY_PENDING"))
            }
            guard actor.type == .limit else {
                return reply(Self.error(command, .invalidArgument, "only a LIMIT order can be replaced"))
            }
            if let problem = Self.replaceProblem(replace, actor) { return reply(Self.error(command, .invalidArgument, problem)) }
            let quantity = replace.quantity?.units ?? actor.state.quantity
            let price = replace.price?.units ?? actor.state.price ?? 0
            var request = Self.riskRequest(actor)
            request.replace = true
            request.price = Tradewire_V1_Price(units: price, scale: actor.priceScale)
            request.quantity = Tradewire_V1_Quantity(units: quantity, scale: actor.quantityScale)
            request.filledQuantity = Tradewire_V1_Quantity(units: actor.state.filled, scale: actor.quantityScale)
            request.orderVersion = actor.version
            actor.awaitingRisk = true
            self.askRisk(request, requestID: command.requestID) { decision in
                self.replaceDecided(actor, quantity: quantity, price: price, decision, command, reply)
            }
        }
    }

    /// Why a replace's new terms cannot be right for `actor` (before risk is asked); nil when they can.
    private static func replaceProblem(_ replace: Tradewire_V1_ReplaceCommand, _ actor: OrderActor) -> String? {
        if let price = replace.price, price.scale != actor.priceScale {
            return "the new price has scale \(price.scale), the order's is \(actor.priceScale)"
        }
        if let quantity = replace.quantity, quantity.scale != actor.quantityScale {
            return "the new quantity has scale \(quantity.scale), the order's is \(actor.quantityScale)"
        }
        let quantity = replace.quantity?.units ?? actor.state.quantity
        let price = replace.price?.units ?? actor.state.price ?? 0
        if let problem = OrderBounds.problem(price: price, priceScale: actor.priceScale, quantity: quantity, quantityScale: actor.quantityScale) {
            return problem
        }
        guard quantity > actor.state.filled else { return "the new quantity must be above the \(actor.state.filled) already filled" }
        return nil
    }

    /// Risk answered a replace: approved, the order records the pending replace (a PENDING_REPLACE report) and the
    /// book gets it; refused, nothing changes and the caller hears why.
    private func replaceDecided(_ actor: OrderActor, quantity: Int64, price: Int64, _ decision: RiskChecker.Decision,
                                _ command: Tradewire_V1_Command, _ reply: @escaping Reply)
    {
        actor.awaitingRisk = false
        defer { drainMailbox(actor) }
        switch decision {
        case .approved:
            do {
                actor.state = try actor.state.applying(.replaceRequested(quantity: quantity, price: price))
            } catch {
                return reply(Self.error(command, .failedPrecondition, "\(error)", reason: "TOO_LATE"))
            }
            var write = JournalWrite()
            write.events.append(nextVersion(actor, .pendingReplace, command.requestID))
            write.orders.append(row(actor))
            var book = Tradewire_V1_Command(ringEpoch: ring.epoch, requestID: command.requestID)
            book.command = .bookReplace(Tradewire_V1_BookReplaceCommand(
                symbol: actor.symbol, orderID: Tradewire_V1_OrderId(value: actor.id),
                price: Tradewire_V1_Price(units: price, scale: actor.priceScale),
                quantity: Tradewire_V1_Quantity(units: quantity, scale: actor.quantityScale), orderNodeID: nodeID))
            commit(actor, write, [(bookNode(actor.symbol), book)]) { reply(Self.ack(command, actor.order)) }
        case .rejected(let reason, let text):
            logger.debug("replace refused by risk", metadata: ["request_id": "\(command.requestID)", "order_id": "\(actor.id)", "reason": "\(reason)"])
            let code: RPCError.Code = reason == .riskUnavailable ? .unavailable : .failedPrecondition
            reply(Self.error(command, code, "risk refused the replace (the order keeps its terms): \(text)", reason: reason.name))
        }
    }

    /// What the book did with an order: a fill, a removal, a replace, or a refusal.
    private func update(_ update: Tradewire_V1_OrderUpdateCommand, _ command: Tradewire_V1_Command, _ reply: @escaping Reply) {
        guard let actor = actor(update.orderID!.value) else {
            logger.warning("an update for an unknown order was dropped", metadata: [
                "order_id": "\(update.orderID!.value)", "from": "\(command.sourceNodeID)", "request_id": "\(command.requestID)",
            ])
            return reply(Self.done(command))
        }
        deliver(actor) {
            if !command.sourceNodeID.isEmpty && actor.inboundSource == command.sourceNodeID
                && command.sourceSequence <= actor.inboundSequence
            {
                return self.afterCommitted(actor) { reply(Self.done(command, duplicate: true)) }
            }
            actor.inboundSource = command.sourceNodeID
            actor.inboundSequence = command.sourceSequence
            var write = JournalWrite()
            do {
                switch update.update {
                case .fill(let trade):
                    let quantity = trade.quantity?.units ?? 0
                    let price = trade.price?.units ?? 0
                    actor.state = try actor.state.applying(.filled(quantity: quantity, price: price))
                    write.events.append(self.nextVersion(actor, .trade, command.requestID) { report in
                        report.lastQuantity = trade.quantity
                        report.lastPrice = trade.price
                        report.tradeID = trade.tradeID
                    })
                case .removed(let removed):
                    actor.state = try actor.state.applying(.cancelled)
                    if removed.reason != .unspecified { actor.rejectReason = removed.reason }
                    write.events.append(self.nextVersion(actor, .canceled, command.requestID) { report in
                        if removed.reason == .noLiquidity { report.text = "the book had no more liquidity for the rest" }
                    })
                case .replaced(let replaced):
                    actor.state = try actor.state.applying(.replaced(
                        quantity: replaced.quantity?.units ?? actor.state.quantity, price: replaced.price?.units))
                    write.events.append(self.nextVersion(actor, .replaced, command.requestID) { report in
                        report.text = replaced.keptPriority ? "kept its time priority" : "lost its time priority"
                    })
                case .refused(let refused):
                    if refused.replace {
                        if actor.state.pendingReplace != nil { actor.state = try actor.state.applying(.replaceRefused) }
                    } else if actor.state.status == .pendingCancel {
                        actor.state = try actor.state.applying(.cancelRefused)
                    }
                    write.events.append(self.nextVersion(actor, .orderStatus, command.requestID) { report in
                        report.text = refused.text
                    })
                case nil:
                    break
                }
            } catch {
                self.logger.warning("an update that does not apply to the order was ignored", metadata: [
                    "order_id": "\(actor.id)", "error": "\(error)", "from": "\(command.sourceNodeID)", "sequence": "\(command.sourceSequence)",
                ])
                write.events = []
            }
            write.orders.append(self.row(actor))
            self.commit(actor, write, []) { reply(Self.done(command)) }
            if actor.state.status == .filled { self.scheduleSettlement(actor.id, filledAt: actor.updatedAt) }
        }
    }

    // MARK: - Settlement

    private func scheduleSettlement(_ id: String, filledAt: Int64) {
        // In 128 bits: `filledAt` comes back from a journal row, and the delay from the cluster file (≤ 1 day).
        let due = Int128(filledAt) + Int128(config.settlementDelay.nanoseconds)
        let wait = UInt64(clamping: max(0, min(due - Int128(WallClock.now()), Int128(config.settlementDelay.nanoseconds))))
        loop.schedule(at: Monotonic.now() + wait) { [self] in settle(id) }
    }

    private func settle(_ id: String) {
        guard let actor = actor(id) else { return }
        deliver(actor) {
            guard actor.state.status == .filled else { return }
            actor.state = try! actor.state.applying(.settled)
            var write = JournalWrite()
            write.events.append(self.nextVersion(actor, .settled, ""))
            write.orders.append(self.row(actor))
            self.commit(actor, write, []) {}
        }
    }

    // MARK: - Book actors

    private func bookInput(_ command: Tradewire_V1_Command, symbol: String, _ reply: @escaping Reply) {
        let book = books[symbol] ?? BookActor(symbol: symbol)
        books[symbol] = book
        if book.isDuplicate(command) {
            return commit(nil, JournalWrite(), []) { reply(Self.done(command, duplicate: true)) }
        }
        let now = WallClock.now()
        let outputs = book.apply(command, now: now)
        var write = JournalWrite()
        write.inputs.append(InputRow(key: symbol, position: book.inputPosition, payload: command.serializedBytes()))
        for trade in outputs.trades {
            write.events.append(event(symbol, .trade, command.requestID) { $0.event = .trade(trade) })
        }
        for change in outputs.changes {
            write.events.append(event(symbol, .bookChange, command.requestID) { $0.event = .bookChange(change) })
        }
        let outbox = outputs.updates.map { update in
            var message = update.command
            message.ringEpoch = ring.epoch
            message.requestID = command.requestID
            return (update.node, message)
        }
        if book.sinceSnapshot >= snapshotEvery {
            write.snapshots.append(SnapshotRow(key: symbol, position: book.inputPosition, payload: book.snapshot.serializedBytes()))
            book.sinceSnapshot = 0
        }
        commit(nil, write, outbox) { reply(Self.done(command)) }
    }

    private func bookNode(_ symbol: String) -> String { ring.owner(of: .book(symbol)).id }

    // MARK: - Reads

    /// An order this node owns, from memory or its row.
    func order(_ id: String) -> Tradewire_V1_Order? { actor(id)?.order }

    // MARK: - Actors in and out of memory

    /// The order's actor, brought back from its row if it was passivated.
    private func actor(_ id: String) -> OrderActor? {
        if let actor = orders[id] { return actor }
        guard let row = try? journal.order(key: id), let record = try? Tradewire_V1_OrderRecord(serializedBytes: row.payload) else {
            return nil
        }
        let actor = OrderActor(record: record)
        orders[id] = actor
        return actor
    }

    /// Runs `body` now, or after the actor's risk check if one is in progress (its mailbox).
    private func deliver(_ actor: OrderActor, _ body: @escaping () -> Void) {
        actor.lastUsed = Monotonic.now()
        if actor.awaitingRisk { actor.mailbox.append(body) } else { body() }
    }

    private func drainMailbox(_ actor: OrderActor) {
        while !actor.awaitingRisk && !actor.mailbox.isEmpty { actor.mailbox.removeFirst()() }
    }

    /// Runs `body` once everything already written has committed (an answer about existing state).
    private func afterCommitted(_ actor: OrderActor, _ body: @escaping @Sendable () -> Void) {
        if actor.uncommitted == 0 { return body() }
        commit(actor, JournalWrite(), [], body)
    }

    /// Terminal or idle actors leave memory; their rows bring them back.
    func passivateIfDone(_ actor: OrderActor) {
        if actor.isIdle && actor.state.status.isTerminal && orders[actor.id] === actor { orders[actor.id] = nil }
    }

    private func scheduleSweep() {
        let interval = max(config.passivateAfter.nanoseconds / 2, 50_000_000)
        sweepTimer = loop.schedule(at: Monotonic.now() + interval) { [self] in
            let cutoff = Monotonic.now() &- config.passivateAfter.nanoseconds
            orders = orders.filter { !$0.value.isIdle || $0.value.lastUsed > cutoff }
            scheduleSweep()
        }
    }

    func stop() {
        sweepTimer?.cancel()
        confirmationTimer?.cancel()
        if turn.flushAsked { flushAtEndOfTurn() }
        risk.close()
    }

    /// The journal refuses every append after its first failure (its latch), so nothing later is acknowledged;
    /// the host is told once and stops the node at once.
    func failStop(_ error: SQLiteError) {
        guard !journalFailed else { return }
        journalFailed = true
        fatal("the journal failed; stopping the node so that a restart rebuilds it from what committed", error)
    }

    private func row(_ actor: OrderActor) -> OrderRow {
        OrderRow(key: actor.id, account: actor.account, symbol: actor.symbol, status: Tradewire_V1_OrderStatus(actor.state.status).rawValue,
                 createdAt: actor.createdAt, batchID: actor.batchID, payload: actor.record.serializedBytes())
    }

    enum EventKind: Int32 {
        case order = 1, trade = 2, bookChange = 3
    }

    private func event(_ key: String, _ kind: EventKind, _ requestID: String, _ fill: (inout Tradewire_V1_Event) -> Void)
        -> JournalEntry
    {
        var event = Tradewire_V1_Event(nodeID: nodeID, requestID: requestID)
        fill(&event)
        return JournalEntry(key: key, kind: kind.rawValue, payload: event.serializedBytes())
    }

    /// Moves the order to its next version (version bumped, time updated) and returns that version's event.
    private func nextVersion(_ actor: OrderActor, _ execType: Tradewire_V1_ExecType, _ requestID: String,
                        _ adjust: (inout Tradewire_V1_ExecutionReport) -> Void = { _ in }) -> JournalEntry
    {
        actor.version += 1
        actor.updatedAt = WallClock.now()
        return orderEvent(actor, execType, requestID, adjust)
    }

    private func orderEvent(_ actor: OrderActor, _ execType: Tradewire_V1_ExecType, _ requestID: String,
                            _ adjust: (inout Tradewire_V1_ExecutionReport) -> Void = { _ in }) -> JournalEntry
    {
        var report = actor.report(execType, node: nodeID, requestID: requestID)
        adjust(&report)
        if execType == .pendingNew { report.orderStatus = .new; report.fixOrdStatus = "A" }
        return event(actor.id, .order, requestID) { $0.event = .order(Tradewire_V1_OrderEvent(report: report, order: actor.order)) }
    }

    // MARK: - Helpers

    /// Why a place command cannot be an order, whatever its instrument (the gateway checked the instrument's rules;
    /// a node checks what keeps its own state and arithmetic sound); nil when it can.
    static func validate(_ place: Tradewire_V1_PlaceCommand) -> String? {
        guard let order = place.order else { return "place needs an order" }
        guard OrderBounds.isIdentifier(place.account) else { return "place needs an account of 1–64 printable ASCII characters" }
        guard OrderBounds.isSymbol(order.symbol) else { return "the order needs a symbol of 1–16 characters of A–Z, 0–9, '.', '_', '-'" }
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

    private static func riskRequest(_ actor: OrderActor) -> Tradewire_V1_RiskCheckRequest {
        var request = Tradewire_V1_RiskCheckRequest()
        request.orderID = Tradewire_V1_OrderId(value: actor.id)
        request.account = actor.account
        request.symbol = actor.symbol
        request.side = actor.side
        request.type = actor.type
        if let price = actor.state.price { request.price = Tradewire_V1_Price(units: price, scale: actor.priceScale) }
        request.quantity = Tradewire_V1_Quantity(units: actor.state.quantity, scale: actor.quantityScale)
        return request
    }

    static func ack(_ command: Tradewire_V1_Command, _ order: Tradewire_V1_Order, duplicate: Bool = false) -> Tradewire_V1_Ack {
        var ack = Tradewire_V1_Ack(commandID: command.commandID, duplicate: duplicate)
        ack.result = .order(order)
        return ack
    }

    static func done(_ command: Tradewire_V1_Command, duplicate: Bool = false) -> Tradewire_V1_Ack {
        var ack = Tradewire_V1_Ack(commandID: command.commandID, duplicate: duplicate)
        ack.result = .done(true)
        return ack
    }

    /// An error acknowledgement; with `reason`, a google.rpc.ErrorInfo in domain "tradewire.v1" says why in a form
    /// machines read (a RejectReason's name, "ALREADY_PENDING", "TOO_LATE").
    static func error(_ command: Tradewire_V1_Command, _ code: RPCError.Code, _ message: String, reason: String? = nil) -> Tradewire_V1_Ack {
        var ack = Tradewire_V1_Ack(commandID: command.commandID)
        if let reason {
            ack.result = .error(RPCError.withDetails(code: code, message: message, Google_Rpc_ErrorInfo(reason: reason, domain: "tradewire.v1")).status)
        } else {
            ack.result = .error(Google_Rpc_Status(code: Int32(code.rawValue), message: message))
        }
        return ack
    }

}
