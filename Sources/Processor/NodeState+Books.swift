import Cluster
import Journal
import Protos
import RPC

/// The book actors' side of the node, and the acknowledgements and events every side builds.
extension NodeState {
    /// One book input: applied (and journaled, with the trades and level changes it made and the updates for the
    /// orders' nodes), or a duplicate of one applied already (answered once what is written committed).
    mutating func bookInput(_ command: Tradewire_V1_Command, symbol: String, _ reply: ReplyToken) {
        if books[symbol]?.isDuplicate(command) == true { return answerAfterWrites(reply, Self.done(command, duplicate: true)) }
        // Out of the map while it changes: a copy still in the map would make the change copy the whole book.
        var book = books.removeValue(forKey: symbol) ?? BookActor(symbol: symbol)
        defer { books[symbol] = book }
        let outputs = book.apply(command, now: now.wall)
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
            return (destination: update.node, command: message)
        }
        if book.snapshotDue(every: snapshotEvery) {
            write.snapshots.append(SnapshotRow(key: symbol, position: book.inputPosition, payload: book.snapshot.serializedBytes()))
            book.snapshotTaken()
        }
        commit(nil, write, outbox: outbox, reply: reply, Self.done(command))
    }

    // MARK: - Events

    enum EventKind: Int32 {
        case order = 1, trade = 2, bookChange = 3
    }

    func event(_ key: String, _ kind: EventKind, _ requestID: String, _ fill: (inout Tradewire_V1_Event) -> Void) -> JournalEntry {
        var event = Tradewire_V1_Event(nodeID: nodeID, requestID: requestID)
        fill(&event)
        return JournalEntry(key: key, kind: kind.rawValue, payload: event.serializedBytes())
    }

    // MARK: - Acknowledgements

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
