import Cluster
import Journal
import Protos

/// The node's decision logic alone (``NodeState``), driven through a fixed order flow with no sockets, no SQLite
/// and no threads: what one order costs the state machine, apart from the journal and the network. Every check is
/// approved and every write commits in the next turn, as a shell would hand them back; settlements fire at once.
///
/// One round is two orders and four requests on one node that owns every order and book: a buy placed, replaced
/// (to a price that crosses) and cancelled after a sell placed against it partly filled it; the sell then settles.
/// The `NodeCoreLoop` executable times it, and `tools/node-instructions` counts its instructions under callgrind, which
/// unlike time is repeatable on a shared machine.
public enum NodeCoreLoop {
    public struct Summary: Sendable {
        public var rounds: Int
        /// Turns of the state machine, acknowledgements it sent, journal writes it asked for.
        public var turns = 0
        public var replies = 0
        public var writes = 0
        /// Trade events written: one per round when the flow ran as designed.
        public var filled = 0

        public var orders: Int { rounds * 2 }
        public var requests: Int { rounds * 4 }

        /// Whether every request was answered and every round traded once (else the figures measure something else).
        public var ranAsDesigned: Bool { replies == requests && filled == rounds }
    }

    public static func run(rounds: Int) -> Summary {
        var config = ClusterConfig(epoch: 1, nodes: [ClusterNode(id: "p1", address: "127.0.0.1:7101")])
        config.settlementDelay = .zero
        var driver = Driver(state: NodeState(nodeID: "p1", config: config) { _ in nil }, rounds: rounds)
        let ids = OrderIDs(account: "acct-1")
        for round in 0..<rounds {
            let buy = ids.forClientOrder("b\(round)")
            let sell = ids.forClientOrder("s\(round)")
            driver.request(place(buy, clientOrderID: "b\(round)", side: .buy, price: 1000, quantity: 10))
            driver.request(replace(buy, price: 1001))
            driver.request(place(sell, clientOrderID: "s\(round)", side: .sell, price: 1001, quantity: 4))
            driver.request(cancel(buy))
        }
        return driver.summary
    }

    /// Plays the shell: hands the state a request, then its effects' outcomes until none is left.
    private struct Driver {
        var state: NodeState
        var summary: Summary
        var clock = NodeClock(wall: 1_700_000_000_000_000_000, monotonic: 1_000_000_000)
        var nextReply: UInt64 = 0
        var nextSequence: UInt64 = 1

        init(state: NodeState, rounds: Int) {
            self.state = state
            summary = Summary(rounds: rounds)
        }

        mutating func request(_ command: Tradewire_V1_Command) {
            nextReply += 1
            var inputs: [NodeInput] = [.command(command, reply: ReplyToken(value: nextReply))]
            while !inputs.isEmpty {
                clock.wall += 1_000
                clock.monotonic += 1_000
                let effects = state.handle(inputs, now: clock)
                summary.turns += 1
                summary.replies += effects.replies.count
                inputs = effects.checks.map { .riskDecided(token: $0.token, .approved(Tradewire_V1_RiskCheckResponse())) }
                if let write = effects.write {
                    summary.writes += 1
                    summary.filled += write.events.count { $0.kind == NodeState.EventKind.trade.rawValue }
                    inputs.append(.committed(JournalCommit(firstSequence: nextSequence, outboxSequences: [], committedAt: clock.wall)))
                    nextSequence += UInt64(write.events.count)
                }
                for (timer, _) in effects.timers {
                    if case .settle = timer { inputs.append(.timer(timer)) }
                }
            }
        }
    }

    private static func place(_ id: String, clientOrderID: String, side: Tradewire_V1_Side, price: Int64, quantity: Int64)
        -> Tradewire_V1_Command
    {
        let order = Tradewire_V1_NewOrder(
            clientOrderID: clientOrderID, symbol: "ACME", side: side, type: .limit, timeInForce: .gtc,
            price: Tradewire_V1_Price(units: price, scale: 2), quantity: Tradewire_V1_Quantity(units: quantity, scale: 0))
        var command = Tradewire_V1_Command(requestID: "req-\(clientOrderID)")
        command.command = .place(Tradewire_V1_PlaceCommand(orderID: Tradewire_V1_OrderId(value: id), account: "acct-1", order: order))
        return command
    }

    private static func replace(_ id: String, price: Int64) -> Tradewire_V1_Command {
        var replace = Tradewire_V1_ReplaceCommand(orderID: Tradewire_V1_OrderId(value: id), account: "acct-1")
        replace.price = Tradewire_V1_Price(units: price, scale: 2)
        var command = Tradewire_V1_Command(requestID: "req-r-\(id)")
        command.command = .replace(replace)
        return command
    }

    private static func cancel(_ id: String) -> Tradewire_V1_Command {
        var command = Tradewire_V1_Command(requestID: "req-c-\(id)")
        command.command = .cancel(Tradewire_V1_CancelCommand(orderID: Tradewire_V1_OrderId(value: id), account: "acct-1"))
        return command
    }
}
