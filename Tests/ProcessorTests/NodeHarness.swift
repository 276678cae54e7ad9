import Cluster
import ClusterTestSupport
import Journal
@testable import Processor
import Protos
import RPC

/// Drives ``NodeState`` values as their shells would, with no sockets, no SQLite and no clock: the test decides
/// when risk answers, when writes commit, when outbox messages arrive and when timers fire. Committed order rows
/// are kept in a dictionary that serves as the nodes' stored rows.
final class NodeHarness {
    /// One node: its state and what it asked for that the test has not yet carried out.
    struct Node {
        var state: NodeState
        /// Checks sent to risk and not yet decided.
        var checks: [(token: UInt64, request: Tradewire_V1_RiskCheckRequest)] = []
        /// Writes handed to the journal and not yet committed, oldest first.
        var writes: [JournalWrite] = []
        /// Everything this node committed, in order.
        var committed: [JournalWrite] = []
        /// Outbox messages sent and not yet delivered.
        var sends: [(destination: String, sequence: UInt64, command: Tradewire_V1_Command)] = []
        var timers: [(timer: NodeTimer, at: UInt64)] = []
        /// Per destination, the journal's next outbox number.
        var outboxNumbers: [String: UInt64] = [:]
    }

    /// Who waits for a reply token: the test (a caller), or a node's outbox (a delivery).
    enum Waiter {
        case caller
        case delivery(source: String, destination: String, sequence: UInt64)
    }

    let config: ClusterConfig
    var nodes: [String: Node] = [:]
    /// Order records as committed, by order id (every node's: order ids are unique).
    var rows: [String: Tradewire_V1_OrderRecord] = [:]
    var clock = NodeClock(wall: 1_000_000_000_000, monotonic: 1_000_000_000)
    /// Replies to callers, by token.
    var answers: [UInt64: Tradewire_V1_Ack] = [:]
    private var waiters: [UInt64: Waiter] = [:]
    private var nextToken: UInt64 = 0

    init(nodes ids: [String] = ["p1"], settlementMilliseconds: Int = 1000, passivateAfterMilliseconds: Int = 60_000,
         snapshotEvery: Int = 1000)
    {
        var config = ClusterConfig(epoch: 1, nodes: ids.enumerated().map { ClusterNode(id: $1, address: "127.0.0.1:\(7101 + $0)") })
        config.settlementDelay = .milliseconds(settlementMilliseconds)
        config.passivateAfter = .milliseconds(passivateAfterMilliseconds)
        self.config = config
        for id in ids {
            let state = NodeState(nodeID: id, config: config, snapshotEvery: snapshotEvery) { [unowned self] key in rows[key] }
            nodes[id] = Node(state: state)
            // As a shell starts a node: recovery from an empty journal arms the passivation sweep.
            let effects = try! nodes[id]!.state.recover(snapshots: [], inputs: [], outboxHeads: [:], pendingOutbox: [], filled: [], now: clock)
            nodes[id]!.timers = effects.timers
        }
    }

    // MARK: - Inputs

    /// Hands `command` to `node` as a caller would; the reply, when it comes, is in `answers[token]`.
    @discardableResult
    func send(_ command: Tradewire_V1_Command, to node: String = "p1") -> UInt64 {
        nextToken += 1
        waiters[nextToken] = .caller
        run(node, [.command(command, reply: ReplyToken(value: nextToken))])
        return nextToken
    }

    /// Runs one turn of `node` with `inputs` and records its effects.
    func run(_ id: String, _ inputs: [NodeInput]) {
        let effects = nodes[id]!.state.handle(inputs, now: clock)
        var node = nodes[id]!
        node.checks += effects.checks
        if let write = effects.write { node.writes.append(write) }
        node.sends += effects.sends
        node.timers += effects.timers
        nodes[id] = node
        for (token, ack) in effects.replies { answered(token.value, ack) }
    }

    private func answered(_ token: UInt64, _ ack: Tradewire_V1_Ack) {
        switch waiters.removeValue(forKey: token) {
        case .caller: answers[token] = ack
        case .delivery(let source, let destination, let sequence):
            run(source, [.delivered(destination: destination, sequence: sequence, .success(ack))])
        case nil: preconditionFailure("a reply to token \(token), which nobody waits for (or a second reply)")
        }
    }

    /// Risk decides every open check of `node` with `decide`, in one turn.
    func decideRisk(_ id: String = "p1", _ decide: (Tradewire_V1_RiskCheckRequest) -> RiskDecision = { _ in .approved(.init()) }) {
        let checks = nodes[id]!.checks
        nodes[id]!.checks = []
        guard !checks.isEmpty else { return }
        run(id, checks.map { .riskDecided(token: $0.token, decide($0.request)) })
    }

    /// The journal commits `node`'s oldest write (numbering its outbox messages and keeping its order rows).
    func commitOne(_ id: String = "p1") {
        var node = nodes[id]!
        let write = node.writes.removeFirst()
        var sequences: [UInt64] = []
        for (destination, _) in write.outbox {
            let next = node.outboxNumbers[destination, default: 1]
            sequences.append(next)
            node.outboxNumbers[destination] = next + 1
        }
        node.committed.append(write)
        nodes[id] = node
        for row in write.orders { rows[row.key] = try! Tradewire_V1_OrderRecord(serializedBytes: row.payload) }
        run(id, [.committed(JournalCommit(firstSequence: 1, outboxSequences: sequences, committedAt: clock.wall))])
    }

    /// The journal fails `node`'s oldest write.
    func failOne(_ id: String = "p1") {
        nodes[id]!.writes.removeFirst()
        run(id, [.committed(nil)])
    }

    func commitAll(_ id: String = "p1") {
        while !nodes[id]!.writes.isEmpty { commitOne(id) }
    }

    /// A LIMIT buy of 5 at 10.00 on ACME, approved by risk and committed on p1.
    func placeAccepted(_ id: String) {
        send(ProcessorCluster.place(id, symbol: "ACME", side: .buy, price: 1000, quantity: 5))
        decideRisk()
        commitAll()
    }

    /// Delivers every message `node` sent, each to its destination as a command; answers come back as deliveries.
    func deliverAll(from id: String = "p1") {
        let sends = nodes[id]!.sends
        nodes[id]!.sends = []
        for (destination, sequence, command) in sends {
            nextToken += 1
            waiters[nextToken] = .delivery(source: id, destination: destination, sequence: sequence)
            run(destination, [.command(command, reply: ReplyToken(value: nextToken))])
        }
    }

    /// Until nothing moves: risk approves, writes commit, messages arrive, on every node.
    func settle(_ decide: (Tradewire_V1_RiskCheckRequest) -> RiskDecision = { _ in .approved(.init()) }) {
        while nodes.values.contains(where: { !$0.checks.isEmpty || !$0.writes.isEmpty || !$0.sends.isEmpty }) {
            for id in nodes.keys.sorted() {
                decideRisk(id, decide)
                commitAll(id)
                deliverAll(from: id)
            }
        }
    }

    /// Moves the clocks on by `milliseconds` and fires every timer of `node` due by then.
    func advance(milliseconds: Int, firing id: String = "p1") {
        clock.wall += Int64(milliseconds) * 1_000_000
        clock.monotonic += UInt64(milliseconds) * 1_000_000
        let due = nodes[id]!.timers.filter { $0.at <= clock.monotonic }
        nodes[id]!.timers.removeAll { $0.at <= clock.monotonic }
        if !due.isEmpty { run(id, due.map { .timer($0.timer) }) }
    }

    // MARK: - Reading

    /// An order id the ring gives to `node` (found by trying "prefix-0", "prefix-1", …).
    func orderID(_ prefix: String, ownedBy node: String) -> String {
        let ring = ClusterRing(config)
        return (0...).lazy.map { "\(prefix)-\($0)" }.first { ring.owner(of: .order($0)).id == node }!
    }

    /// A symbol whose book the ring gives to `node`.
    func symbol(ownedBy node: String) -> String {
        let ring = ClusterRing(config)
        return (0...).lazy.map { "S\($0)" }.first { ring.owner(of: .book($0)).id == node }!
    }

    func order(_ token: UInt64) -> Tradewire_V1_Order? {
        if case .order(let order) = answers[token]?.result { return order }
        return nil
    }

    func status(_ token: UInt64) -> Google_Rpc_Status? {
        if case .error(let status) = answers[token]?.result { return status }
        return nil
    }

    func code(_ token: UInt64) -> RPCError.Code? {
        status(token).flatMap { RPCError.Code(rawValue: Int($0.code)) }
    }

    /// The order's state on its node now (from memory or its row).
    func current(_ id: String) -> Tradewire_V1_Order? {
        let owner = ClusterRing(config).owner(of: .order(id)).id
        return nodes[owner]!.state.order(id)
    }

    /// The reports `node` committed for an order, in order.
    func reports(_ id: String, on node: String = "p1") -> [Tradewire_V1_ExecutionReport] {
        nodes[node]!.committed.flatMap(\.events).filter { $0.key == id && $0.kind == 1 }.compactMap {
            guard case .order(let event) = try? Tradewire_V1_Event(serializedBytes: $0.payload).event else { return nil }
            return event.report
        }
    }
}
