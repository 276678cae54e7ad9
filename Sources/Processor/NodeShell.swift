import Cluster
import EventLoop
import Journal
import Protos
import RPC
import SQLite

/// The shell around one processor node's ``NodeState``: it collects a loop turn's inputs (commands, risk
/// decisions, commit completions, delivery answers, timers), hands them to the state as one batch at the turn's
/// end, and carries out the effects: replies, one risk batch on the node's `Risk.CheckStream`, one journal write,
/// outbox sends, timers. Everything here runs on one thread (`loop`), which serialises every order's and book's
/// messages without locks.
///
/// A journal that fails to write stops the node (fail-stop, reported to the host): its in-memory state would be
/// ahead of the journal, and a restart rebuilds it from what committed.
final class NodeShell: TurnFlushable, @unchecked Sendable {
    // @unchecked Sendable: every stored var is touched on `loop` only; the entry points hop there.
    typealias Reply = @Sendable (Tradewire_V1_Ack) -> Void

    let nodeID: String
    let loop: EventLoop
    let ring: ClusterRing
    let journal: Journal
    let risk: RiskChecker
    let peers: [String: CommandStream]
    private var state: NodeState
    /// This turn's inputs, handed to the state at its end.
    private var inputs: [NodeInput] = []
    private var flushAsked = false
    /// Who waits for each reply token's acknowledgement.
    private var replies: [UInt64: Reply] = [:]
    private var nextReply: UInt64 = 0
    /// Set by `stop()`: timers that fire later are ignored.
    private var stopped = false
    private let fatal: @Sendable (String, any Error) -> Void
    private var journalFailed = false

    /// - Parameter fatal: told once if the journal fails.
    init(nodeID: String, config: ClusterConfig, journal: Journal, risk: RiskChecker, peers: [String: CommandStream],
         loop: EventLoop, snapshotEvery: Int = 1000, fatal: @escaping @Sendable (String, any Error) -> Void)
    {
        self.fatal = fatal
        self.nodeID = nodeID
        ring = ClusterRing(config)
        self.journal = journal
        self.risk = risk
        self.peers = peers
        self.loop = loop
        state = NodeState(nodeID: nodeID, config: config, snapshotEvery: snapshotEvery) { id in
            // Core thread: an order that left memory comes back from its row (recent rows are in memory).
            guard let row = try? journal.order(key: id) else { return nil }
            return try? Tradewire_V1_OrderRecord(serializedBytes: row.payload)
        }
    }

    /// Order actors in memory.
    var liveOrders: Int { state.orders.count }
    var liveBooks: Int { state.books.count }

    /// Rebuilds what must be in memory before serving from the journal (see ``NodeState/recover``).
    func recover() throws {
        let (snapshots, inputs) = try journal.replayable()
        let effects = try state.recover(
            snapshots: snapshots, inputs: inputs, outboxHeads: journal.outboxHeads, pendingOutbox: try journal.pendingOutbox(),
            filled: try journal.orders(statuses: [Tradewire_V1_OrderStatus.filled.rawValue]), now: Self.clock())
        NodeMetrics.shared.countOrders(try journal.orderCounts())
        perform(effects)
    }

    /// Handles one command; `reply` gets its acknowledgement (on the node thread) once what it changed committed.
    func handle(_ command: Tradewire_V1_Command, reply: @escaping Reply) {
        nextReply += 1
        replies[nextReply] = reply
        enqueue(.command(command, reply: ReplyToken(value: nextReply)))
    }

    /// An order this node owns, from memory or its row.
    func order(_ id: String) -> Tradewire_V1_Order? { state.order(id) }

    private func enqueue(_ input: NodeInput) {
        inputs.append(input)
        guard !flushAsked else { return }
        flushAsked = true
        loop.flushAtEndOfTurn(self)
    }

    /// The end of a turn: the state takes what it brought as one batch.
    func flushAtEndOfTurn() {
        flushAsked = false
        guard !inputs.isEmpty else { return }
        var batch: [NodeInput] = []
        swap(&batch, &inputs)
        perform(state.handle(batch, now: Self.clock()))
    }

    private static func clock() -> NodeClock { NodeClock(wall: WallClock.now(), monotonic: Monotonic.now()) }

    // MARK: - Effects

    private func perform(_ effects: NodeEffects) {
        for (token, ack) in effects.replies { replies.removeValue(forKey: token.value)?(ack) }
        if !effects.checks.isEmpty {
            let tokens = effects.checks.map(\.token)
            risk.check(effects.checks.map(\.request)) { decisions in
                self.loop.execute {
                    for (token, decision) in zip(tokens, decisions) { self.enqueue(.riskDecided(token: token, decision)) }
                }
            }
        }
        if let write = effects.write {
            // The journal commits on this loop, but fails a write to a closed or latched journal inside `append`:
            // a job of its own keeps `committed` out of this flush.
            journal.append(write) { result in
                self.loop.execute { self.committed(result) }
            }
        }
        for (destination, sequence, command) in effects.sends { send(command, to: destination, sequence: sequence) }
        for (timer, deadline) in effects.timers {
            loop.schedule(at: deadline) { [weak self] in
                guard let self, !self.stopped else { return }
                self.enqueue(.timer(timer))
            }
        }
    }

    private func committed(_ result: Result<JournalCommit, SQLiteError>) {
        switch result {
        case .success(let commit): enqueue(.committed(commit))
        case .failure(let error):
            if !journal.isClosed { failStop(error) }
            enqueue(.committed(nil))
        }
    }

    /// Delivers an outbox message to a peer's command stream, or to this node itself a turn later (only messages an
    /// older journal kept: the state now handles its messages to itself in the turn that made them); the answer
    /// comes back as an input.
    private func send(_ command: Tradewire_V1_Command, to destination: String, sequence: UInt64) {
        let answered: @Sendable (Result<Tradewire_V1_Ack, RPCError>) -> Void = { result in
            self.loop.execute { self.enqueue(.delivered(destination: destination, sequence: sequence, result)) }
        }
        if destination == nodeID {
            loop.execute { self.handle(command) { answered(.success($0)) } }
        } else if let peer = peers[destination] {
            peer.send(command, completion: answered)
        } else {
            answered(.failure(RPCError(code: .failedPrecondition, message: "node \(destination) is not in the cluster file")))
        }
    }

    // MARK: - Stopping

    /// Hands in what this turn brought (its write still commits) and ignores timers from now on.
    func stop() {
        if flushAsked { flushAtEndOfTurn() }
        stopped = true
        risk.close()
    }

    /// The journal refuses every append after its first failure (its latch), so nothing later is acknowledged;
    /// the host is told once and stops the node at once.
    private func failStop(_ error: SQLiteError) {
        guard !journalFailed else { return }
        journalFailed = true
        fatal("the journal failed; stopping the node so that a restart rebuilds it from what committed", error)
    }
}
