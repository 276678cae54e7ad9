import Cluster
import FuzzSupport
import Journal
import Logging
@testable import Processor
import Protos
import RPC

extension FuzzOrders {
    /// A node's state machine (``NodeState``, node p1 of two) fed inputs in an arbitrary order: commands built from
    /// a small vocabulary with the input's numbers (and fully decoded ones), risk's decisions for its open checks,
    /// commits and failures of its writes, answers to its outbox messages, timers, and clock jumps. It must not
    /// trap; it answers each command at most once; nothing is acknowledged before the writes made up to then
    /// committed.
    static func node(_ input: inout FuzzInput) {
        let config = ClusterConfig(epoch: 1, nodes: [ClusterNode(id: "p1", address: "127.0.0.1:1"), ClusterNode(id: "p2", address: "127.0.0.1:2")])
        let rows = Rows()
        var state = NodeState(nodeID: "p1", config: config, logger: Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }) { rows.records[$0] }
        var clock = NodeClock(wall: 1_000_000_000_000, monotonic: 1_000_000_000)
        var open = Set<UInt64>()
        var checks: [UInt64] = []
        var writes: [JournalWrite] = []
        var sends: [(String, UInt64)] = []
        var timers: [NodeTimer] = []
        var outboxNumbers: [String: UInt64] = [:]
        var next: UInt64 = 0
        var steps = 0
        func absorb(_ effects: NodeEffects) {
            for (token, _) in effects.replies { precondition(open.remove(token.value) != nil, "a command answered twice, or never asked") }
            checks += effects.checks.map(\.token)
            if let write = effects.write { writes.append(write) }
            sends += effects.sends.map { ($0.destination, $0.sequence) }
            timers += effects.timers.map(\.timer)
        }
        while !input.isAtEnd && steps < 256 {
            steps += 1
            var inputs: [NodeInput] = []
            switch input.byte() % 8 {
            case 0, 1, 2:
                next += 1
                open.insert(next)
                inputs.append(.command(command(&input), reply: ReplyToken(value: next)))
            case 3 where !checks.isEmpty:
                let token = checks.remove(at: Int(input.byte()) % checks.count)
                let decision: RiskDecision = switch input.byte() % 3 {
                case 0: .approved(Tradewire_V1_RiskCheckResponse(protectionPrice: Tradewire_V1_Price(units: Int64(input.uint16()), scale: UInt32(input.byte() % 20))))
                case 1: .rejected(.maxPosition, "no")
                default: .rejected(.riskUnavailable, "late")
                }
                inputs.append(.riskDecided(token: token, decision))
            case 4 where !writes.isEmpty:
                let write = writes.removeFirst()
                if input.byte() % 16 == 0 {
                    inputs.append(.committed(nil))
                } else {
                    var sequences: [UInt64] = []
                    for (destination, _) in write.outbox {
                        outboxNumbers[destination, default: 0] += 1
                        sequences.append(outboxNumbers[destination]!)
                    }
                    for row in write.orders { rows.records[row.key] = try? Tradewire_V1_OrderRecord(serializedBytes: row.payload) }
                    inputs.append(.committed(JournalCommit(firstSequence: 1, outboxSequences: sequences, committedAt: clock.wall)))
                }
            case 5 where !sends.isEmpty:
                let (destination, sequence) = sends.remove(at: Int(input.byte()) % sends.count)
                let result: Result<Tradewire_V1_Ack, RPCError> = switch input.byte() % 3 {
                case 0: .failure(RPCError(code: .unavailable, message: "down"))
                case 1: .success(Tradewire_V1_Ack(result: .error(Google_Rpc_Status(code: Int32(input.byte() % 17)))))
                default: .success(Tradewire_V1_Ack(result: .done(true)))
                }
                inputs.append(.delivered(destination: destination, sequence: sequence, result))
            case 6 where !timers.isEmpty:
                inputs.append(.timer(timers.remove(at: Int(input.byte()) % timers.count)))
            default:
                let jump = UInt64(input.uint16()) << UInt64(input.byte() % 24)
                clock.monotonic &+= jump
                clock.wall &+= Int64(truncatingIfNeeded: jump)
            }
            absorb(state.handle(inputs, now: clock))
        }
    }

    /// Committed order rows, which the node reads back for orders that left memory.
    final class Rows {
        var records: [String: Tradewire_V1_OrderRecord] = [:]
    }

    /// A command about a handful of orders and two symbols, with the input's numbers; now and then a decoded one.
    private static func command(_ input: inout FuzzInput) -> Tradewire_V1_Command {
        let id = Tradewire_V1_OrderId(value: "o\(input.byte() % 8)")
        let symbol = input.byte() & 1 == 0 ? "ACME" : "BETA"
        let price = Tradewire_V1_Price(units: Int64(bitPattern: UInt64(input.uint16()) << UInt64(input.byte() % 56)), scale: UInt32(input.byte() % 20))
        let quantity = Tradewire_V1_Quantity(units: Int64(bitPattern: UInt64(input.uint16()) << UInt64(input.byte() % 56)), scale: UInt32(input.byte() % 20))
        var command = Tradewire_V1_Command(ringEpoch: UInt64(input.byte() % 3), requestID: "r")
        let source = input.byte()
        if source & 0x80 != 0 {
            command.sourceNodeID = source & 1 == 0 ? "p1" : "p2"
            command.sourceSequence = UInt64(source & 0x3f)
        }
        switch input.byte() % 8 {
        case 0, 1:
            var order = Tradewire_V1_NewOrder(clientOrderID: id.value, symbol: symbol, side: Tradewire_V1_Side(rawValue: Int32(input.byte() % 4)),
                                              type: Tradewire_V1_OrderType(rawValue: Int32(input.byte() % 3)),
                                              timeInForce: Tradewire_V1_TimeInForce(rawValue: Int32(input.byte() % 5)))
            order.price = price
            order.quantity = quantity
            command.command = .place(Tradewire_V1_PlaceCommand(orderID: id, account: "acct", order: order))
        case 2: command.command = .cancel(Tradewire_V1_CancelCommand(orderID: id, account: "acct"))
        case 3: command.command = .replace(Tradewire_V1_ReplaceCommand(orderID: id, account: "acct", price: price, quantity: quantity))
        case 4:
            var trade = Tradewire_V1_Trade(tradeID: "t", symbol: symbol)
            trade.price = price
            trade.quantity = quantity
            let update: Tradewire_V1_OrderUpdateCommand.OneOf_Update = switch input.byte() % 4 {
            case 0: .fill(trade)
            case 1: .removed(Tradewire_V1_BookRemoved(cancelledQuantity: quantity, reason: .noLiquidity))
            case 2: .replaced(Tradewire_V1_BookReplaced(price: price, quantity: quantity))
            default: .refused(Tradewire_V1_BookRefused(reason: .tooLate, replace: input.byte() & 1 == 0))
            }
            command.command = .orderUpdate(Tradewire_V1_OrderUpdateCommand(orderID: id, update: update))
        case 5:
            var order = Tradewire_V1_Order(orderID: id, account: "acct", symbol: symbol, side: input.byte() & 1 == 0 ? .buy : .sell, type: .limit)
            order.price = price
            order.quantity = quantity
            command.command = .bookOrder(Tradewire_V1_BookOrderCommand(order: order, orderNodeID: input.byte() & 1 == 0 ? "p1" : "p2"))
        case 6: command.command = .bookCancel(Tradewire_V1_BookCancelCommand(symbol: symbol, orderID: id, orderNodeID: "p1"))
        default:
            if let decoded = decode(Tradewire_V1_Command.self, &input) { command = decoded }
        }
        return command
    }
}
