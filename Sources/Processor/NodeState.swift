import Cluster
import Journal
import Logging
import Orders
import Protos
import RPC

/// Where a command's acknowledgement goes: a number the shell (``NodeShell``) gives each command it hands in and
/// maps back to whoever waits for the answer.
struct ReplyToken: Hashable, Sendable {
    var value: UInt64

    /// No one waits: a message the node sent itself, handled in the turn that sent it (``NodeState/local``).
    /// The shell numbers its tokens from 1.
    static let none = ReplyToken(value: 0)
}

/// The two clocks a turn runs at, read once per turn by the shell (tests choose them).
struct NodeClock: Sendable {
    /// CLOCK_REALTIME nanoseconds: timestamps that leave the node (reports, order rows).
    var wall: Int64
    /// CLOCK_MONOTONIC nanoseconds: timers and idleness.
    var monotonic: UInt64
}

/// Risk's answer about one check, or the checker's own refusal (risk down or late: RISK_UNAVAILABLE).
enum RiskDecision: Sendable {
    /// Risk's answer (its protection price, for a MARKET order).
    case approved(Tradewire_V1_RiskCheckResponse)
    case rejected(Tradewire_V1_RejectReason, String)
}

/// What a node's timers stand for; the shell arms them as ``NodeEffects/timers`` ask and hands them back as inputs.
enum NodeTimer: Hashable, Sendable {
    /// A FILLED order becomes SETTLED.
    case settle(orderID: String)
    /// Idle orders leave memory.
    case sweep
    /// A destination's outbox resends after a failure.
    case retry(destination: String)
    /// Destinations' confirmations are journaled even if no other write comes.
    case confirmations
}

/// One input to the node's state machine.
enum NodeInput: Sendable {
    /// A command from a gateway, another node or this node's own outbox.
    case command(Tradewire_V1_Command, reply: ReplyToken)
    /// Risk's decision about the check that ``NodeEffects/checks`` listed with `token`.
    case riskDecided(token: UInt64, RiskDecision)
    /// The oldest write not yet completed committed (with what the journal numbered), or failed (nil).
    case committed(JournalCommit?)
    /// What a destination answered about an outbox message.
    case delivered(destination: String, sequence: UInt64, Result<Tradewire_V1_Ack, RPCError>)
    case timer(NodeTimer)
}

/// What one turn of the state machine asks the shell to do.
struct NodeEffects {
    /// Acknowledgements to send now.
    var replies: [(to: ReplyToken, ack: Tradewire_V1_Ack)] = []
    /// Risk checks, sent as one batch; each decision comes back as `.riskDecided(token:)`.
    var checks: [(token: UInt64, request: Tradewire_V1_RiskCheckRequest)] = []
    /// At most one journal write per turn; its completion comes back as `.committed`, in the order written.
    var write: JournalWrite?
    /// Outbox messages to deliver (a destination may be this node); each answer comes back as `.delivered`.
    var sends: [(destination: String, sequence: UInt64, command: Tradewire_V1_Command)] = []
    /// Timers to arm, at monotonic nanoseconds.
    var timers: [(timer: NodeTimer, at: UInt64)] = []
}

/// One processor node's decisions as a value: its order actors and book actors, the ownership check, what to
/// journal and the outbox to other nodes. It does no I/O and reads no clock: ``handle(_:now:)`` takes a turn's
/// inputs and returns its effects, which ``NodeShell`` carries out (one risk batch, one journal write, replies,
/// sends, timers) and whose outcomes come back as later inputs.
///
/// The rules it keeps: an order is checked by risk before it goes to a book; an acknowledgement leaves only with
/// the write that made its change durable, or after every earlier write committed when it is about existing
/// state (writes complete in the order made); an order's messages wait in its mailbox while it waits for risk;
/// outbox messages are numbered by the journal at commit and delivered in that order per destination.
///
/// "Actor" here is DESIGN.md's sense, not Swift's `actor`: an ``OrderActor`` or ``BookActor`` is a value with a
/// mailbox, kept in this state's maps and changed in place; isolation comes from the one thread the shell runs the
/// state on, not from the language.
struct NodeState {
    let nodeID: String
    let ring: ClusterRing
    /// Nanoseconds from FILLED to SETTLED.
    let settlementDelay: UInt64
    /// Nanoseconds an idle order stays in memory.
    let passivateAfter: UInt64
    /// A book writes a snapshot after this many inputs, or more for a large book (``BookActor/snapshotDue(every:)``);
    /// replay then starts there.
    let snapshotEvery: Int
    /// An order's stored record, for orders that left memory (its journal row).
    let stored: (String) -> Tradewire_V1_OrderRecord?
    let logger: Logger

    var orders: [String: OrderActor] = [:]
    var books: [String: BookActor] = [:]
    var links: [String: OutboxLink] = [:]
    /// Checks sent to risk and not yet decided, by token.
    var deciding: [UInt64: PendingCheck] = [:]
    var nextRiskToken: UInt64 = 0
    /// What this turn journals, and what waits for it.
    var turn = PendingWrite()
    /// Writes handed to the journal and not yet completed, oldest first.
    var committing: [PendingWrite] = []
    var confirmationTimerArmed = false
    /// Messages this node sends itself (a book it owns, an order it owns), handled in the turn that sent them,
    /// right after the input that caused them: what they change joins the same journal write as their cause, so
    /// they need no outbox row, no delivery, no confirmation and no second commit (one write commits both or
    /// neither).
    var local: [Tradewire_V1_Command] = []
    /// The current turn's clock and effects (scratch, reset by each `handle`).
    var now = NodeClock(wall: 0, monotonic: 0)
    var effects = NodeEffects()

    /// A check sent to risk: what to do with its decision.
    enum PendingCheck {
        case place(orderID: String, Tradewire_V1_Command, ReplyToken)
        case replace(orderID: String, quantity: Int64, price: Int64, Tradewire_V1_Command, ReplyToken)
    }

    /// A journal write being built or committing, and what its commit releases.
    struct PendingWrite {
        var write = JournalWrite()
        var outbox: [(destination: String, command: Tradewire_V1_Command)] = []
        var replies: [(to: ReplyToken, ack: Tradewire_V1_Ack)] = []
        /// Orders whose `uncommitted` counts this write (an order may be listed more than once).
        var orderIDs: [String] = []
        /// Per destination, the confirmations this write journals.
        var confirmations: [(destination: String, upTo: UInt64)] = []
        /// Write even with no rows (to journal confirmations).
        var forced = false

        var isEmpty: Bool {
            !forced && replies.isEmpty && orderIDs.isEmpty && outbox.isEmpty && write.events.isEmpty
                && write.orders.isEmpty && write.inputs.isEmpty && write.snapshots.isEmpty
        }
    }

    init(nodeID: String, config: ClusterConfig, snapshotEvery: Int = 1000,
         logger: Logger = Logger(label: "tradewire.processor"), stored: @escaping (String) -> Tradewire_V1_OrderRecord?)
    {
        self.nodeID = nodeID
        ring = ClusterRing(config)
        settlementDelay = config.settlementDelay.nanoseconds
        passivateAfter = config.passivateAfter.nanoseconds
        self.snapshotEvery = snapshotEvery
        self.logger = logger
        self.stored = stored
    }

    // MARK: - Turns

    /// Handles a turn's inputs in order and returns what the shell must do.
    mutating func handle(_ inputs: [NodeInput], now: NodeClock) -> NodeEffects {
        self.now = now
        for input in inputs {
            switch input {
            case .command(let command, let reply): handle(command, reply)
            case .riskDecided(let token, let decision): decided(token, decision)
            case .committed(let commit): committed(commit)
            case .delivered(let destination, let sequence, let result): delivered(destination, sequence, result)
            case .timer(let timer): fired(timer)
            }
            handleLocal()
        }
        return endTurn()
    }

    /// Handles the messages the last input made for this node, and those they make, in the order sent.
    private mutating func handleLocal() {
        var next = 0
        while next < local.count {
            handle(local[next], .none)
            next += 1
        }
        local.removeAll(keepingCapacity: true)
    }

    private mutating func endTurn() -> NodeEffects {
        if !turn.isEmpty {
            var pending = turn
            turn = PendingWrite()
            pending.confirmations = attachConfirmations(to: &pending.write)
            pending.write.outbox = pending.outbox.map { ($0.destination, $0.command.serializedBytes()) }
            pending.write.keepLastOrderRows()
            effects.write = pending.write
            committing.append(pending)
        }
        NodeMetrics.shared.orderActors.set(orders.count)
        NodeMetrics.shared.bookActors.set(books.count)
        defer { effects = NodeEffects() }
        return effects
    }

    private mutating func fired(_ timer: NodeTimer) {
        switch timer {
        case .settle(let id): settle(id)
        case .sweep: sweep()
        case .retry(let destination):
            links[destination]?.retryScheduled = false
            pump(destination)
        case .confirmations:
            confirmationTimerArmed = false
            if links.values.contains(where: \.hasConfirmationsToJournal) { turn.forced = true }
        }
    }

    // MARK: - Recovery

    /// Rebuilds what must be in memory before serving, from what the journal kept: books (snapshot + later
    /// inputs), undelivered outbox messages, and settlements still due. Orders come back lazily (`stored`).
    mutating func recover(snapshots: [SnapshotRow], inputs: [InputRow], outboxHeads: [String: UInt64],
                          pendingOutbox: [OutboxRecord], filled: [OrderRow], now: NodeClock) throws -> NodeEffects
    {
        self.now = now
        for row in snapshots {
            books[row.key] = try BookActor(snapshot: try Tradewire_V1_BookSnapshot(serializedBytes: row.payload))
        }
        for row in inputs {
            let position = books[row.key]?.inputPosition ?? 0
            guard row.position > position else { continue }
            guard row.position - 1 == position else {  // Not `position + 1`: a snapshot read back may say UInt64.max.
                throw RecoveryError("book \(row.key): input \(row.position) follows \(position); the journal has a hole")
            }
            let command = try Tradewire_V1_Command(serializedBytes: row.payload)
            _ = books[row.key, default: BookActor(symbol: row.key)].apply(command, now: 0)
        }
        for (destination, head) in outboxHeads { links[destination] = OutboxLink(destination: destination, after: head) }
        for record in pendingOutbox {
            guard record.sequence > 0 else { throw RecoveryError("outbox to \(record.destination): a message numbered 0 (they start at 1)") }
            let command = try Tradewire_V1_Command(serializedBytes: record.payload)
            // In place: a copy of the link would copy its messages for every one added.
            if links[record.destination]?.waiting.isEmpty ?? true {
                links[record.destination, default: OutboxLink(destination: record.destination, after: 0)].restart(after: record.sequence - 1)
            }
            links[record.destination]!.waiting[record.sequence] = command
        }
        for row in filled {
            let record = try Tradewire_V1_OrderRecord(serializedBytes: row.payload)
            scheduleSettlement(row.key, filledAt: record.order?.updatedAtUnixNanos ?? 0)
        }
        for destination in links.keys { pump(destination) }
        scheduleSweep()
        return endTurn()
    }

    struct RecoveryError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    // MARK: - Commands

    /// Checks what every command must pass (deadline, routing, ring epoch, ownership), then hands it to its
    /// order or book.
    private mutating func handle(_ command: Tradewire_V1_Command, _ reply: ReplyToken) {
        if command.deadlineUnixNanos != 0 && command.deadlineUnixNanos < now.wall {
            return answer(reply, Self.error(command, .deadlineExceeded, "the command's deadline passed before the node processed it"))
        }
        guard let key = RingKey(routing: command) else {
            return answer(reply, Self.error(command, .invalidArgument, RingKey.unroutable))
        }
        if command.ringEpoch > ring.epoch {
            return answer(reply, Self.error(command, .failedPrecondition,
                "the command was routed with ring epoch \(command.ringEpoch), newer than this node's \(ring.epoch): it refuses writes until it runs with that ring"))
        }
        let owner = ring.owner(of: key)
        guard owner.id == nodeID else {
            var ack = Tradewire_V1_Ack(commandID: command.commandID)
            ack.result = .notOwner(Tradewire_V1_NotOwner(ownerNodeID: owner.id, ownerAddress: owner.address, ringEpoch: ring.epoch))
            return answer(reply, ack)
        }
        switch (command.command, key) {
        case (.place(let place), .order(let id)): self.place(place, id: id, command, reply)
        case (.cancel(let cancel), .order(let id)): change(id, account: cancel.account, "a cancel", command, reply)
        case (.replace(let replace), .order(let id)): change(id, account: replace.account, "a replace", command, reply)
        case (.orderUpdate, .order(let id)):
            guard load(id) != nil else {
                logger.warning("an update for an unknown order was dropped", metadata: [
                    "order_id": "\(id)", "from": "\(command.sourceNodeID)", "request_id": "\(command.requestID)",
                ])
                return answer(reply, Self.done(command))
            }
            deliver(id, .command(command, reply))
        case (.bookOrder, .book(let symbol)), (.bookCancel, .book(let symbol)), (.bookReplace, .book(let symbol)):
            bookInput(command, symbol: symbol, reply)
        default:
            // RingKey(routing:) gives order commands order keys and book commands book keys, and none to an empty one.
            answer(reply, Self.error(command, .invalidArgument, "the command is empty or not routable"))
        }
    }

    /// A cancel or replace: for an order of the caller's account, else NOT_FOUND (another account's order is not
    /// revealed).
    private mutating func change(_ id: String, account: String, _ what: String, _ command: Tradewire_V1_Command, _ reply: ReplyToken) {
        guard !account.isEmpty else { return answer(reply, Self.error(command, .invalidArgument, "\(what) names the order's account")) }
        guard let order = load(id), account == order.account else {
            return answer(reply, Self.error(command, .notFound, "order \(id) does not exist"))
        }
        deliver(id, .command(command, reply))
    }

    /// An order this node owns, from memory or its stored row (for reads).
    mutating func order(_ id: String) -> Tradewire_V1_Order? { load(id)?.order }

    // MARK: - Orders in and out of memory

    /// The order's actor, brought back from its stored row if it left memory.
    mutating func load(_ id: String) -> OrderActor? {
        if let order = orders[id] { return order }
        guard let record = stored(id) else { return nil }
        let order = OrderActor(record: record)
        orders[id] = order
        return order
    }

    /// Runs `message` on the order now, or after its risk check if one is in progress (its mailbox).
    mutating func deliver(_ id: String, _ message: OrderActor.Message) {
        // By index, in place: one lookup, and no copy of the actor (each copy retains its strings and mailbox).
        let index = orders.index(forKey: id)!
        orders.values[index].lastUsed = now.monotonic
        if orders.values[index].awaitingRisk {
            orders.values[index].mailbox.append(message)
        } else {
            run(message, on: id)
        }
    }

    /// Runs what waited in the order's mailbox, until it is empty or the order waits for risk again.
    mutating func drainMailbox(_ id: String) {
        while let index = orders.index(forKey: id), !orders.values[index].awaitingRisk, !orders.values[index].mailbox.isEmpty {
            run(orders.values[index].mailbox.removeFirst(), on: id)
        }
    }

    private mutating func sweep() {
        let cutoff = now.monotonic &- passivateAfter
        orders = orders.filter { !$0.value.isIdle || $0.value.lastUsed > cutoff }
        scheduleSweep()
    }

    private mutating func scheduleSweep() {
        effects.timers.append((.sweep, now.monotonic + max(passivateAfter / 2, 50_000_000)))
    }

    // MARK: - Answers and writes

    mutating func answer(_ reply: ReplyToken, _ ack: Tradewire_V1_Ack) {
        guard reply != .none else { return }
        effects.replies.append((reply, ack))
    }

    /// Adds `write` and its `outbox` messages to this turn's write (those for this node are handled in this turn
    /// instead: ``local``); `reply` gets `ack` once it committed. The write counts in `orderID`'s `uncommitted`
    /// until then.
    mutating func commit(_ orderID: String?, _ write: JournalWrite, outbox: [(destination: String, command: Tradewire_V1_Command)] = [],
                         reply: ReplyToken? = nil, _ ack: Tradewire_V1_Ack? = nil)
    {
        turn.write.append(write)
        for message in outbox {
            if message.destination == nodeID { local.append(message.command) } else { turn.outbox.append(message) }
        }
        if let reply, reply != .none, let ack { turn.replies.append((reply, ack)) }
        if let orderID {
            orders[orderID]!.uncommitted += 1
            turn.orderIDs.append(orderID)
        }
    }

    /// Answers once everything written so far has committed (an answer about existing state): with this turn's
    /// write if it has one, else with the newest write still committing, else now.
    mutating func answerAfterWrites(_ reply: ReplyToken, _ ack: Tradewire_V1_Ack) {
        if reply == .none { return }
        if !turn.isEmpty {
            turn.replies.append((reply, ack))
        } else if !committing.isEmpty {
            committing[committing.count - 1].replies.append((reply, ack))
        } else {
            answer(reply, ack)
        }
    }

    /// The oldest write completed: on success, its outbox messages (now numbered) go out and its replies leave.
    /// A failure releases nothing (the shell stops the node: the journal refuses every later write).
    private mutating func committed(_ commit: JournalCommit?) {
        guard !committing.isEmpty else { return assertionFailure("a commit completed that was never written") }
        let pending = committing.removeFirst()
        guard let commit else {
            for id in pending.orderIDs {
                if let index = orders.index(forKey: id) { orders.values[index].uncommitted -= 1 }
            }
            return
        }
        // An order done and idle once its last write committed leaves memory (its row brings it back); one lookup
        // each. An order listed twice is idle only at its last listing.
        for id in pending.orderIDs {
            guard let index = orders.index(forKey: id) else { continue }
            orders.values[index].uncommitted -= 1
            if orders.values[index].isIdle, orders.values[index].state.status.isTerminal { orders.remove(at: index) }
        }
        var destinations: [String] = []
        for ((destination, command), sequence) in zip(pending.outbox, commit.outboxSequences) {
            links[destination, default: OutboxLink(destination: destination, after: 0)].waiting[sequence] = command
            if !destinations.contains(destination) { destinations.append(destination) }
        }
        for destination in destinations { pump(destination) }
        confirmationsCommitted(pending.confirmations)
        effects.replies += pending.replies
    }
}
