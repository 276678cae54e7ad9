import Cluster
import EventLoop
import Journal
import Protos
import SQLite

/// A turn of the core thread: what it produced goes out at its end as one risk batch and one journal write, and
/// comes back as one completion each. Core thread only, like the rest of `NodeCore`.
extension NodeCore {
    /// What one turn of the core thread produced, sent at the turn's end: the risk checks as one batch, the
    /// journal writes as one write (so one transaction and one completion), its outbox messages and what runs
    /// once it committed.
    struct Turn {
        var checks: [Tradewire_V1_RiskCheckRequest] = []
        var decided: [(RiskChecker.Decision) -> Void] = []
        var write = JournalWrite()
        var outbox: [(String, Tradewire_V1_Command)] = []
        var committed: [@Sendable () -> Void] = []
        /// Outbox confirmations this turn's write journals.
        var confirmations: [(OutboxLink, UInt64)] = []
        /// Actors whose `uncommitted` counts this turn's write (an actor may be listed more than once).
        var actors: [OrderActor] = []
        var flushAsked = false
    }

    /// Asks risk about `request` with this turn's other checks; `decided` runs on the core thread.
    func askRisk(_ request: Tradewire_V1_RiskCheckRequest, requestID: String,
                 _ decided: @escaping (RiskChecker.Decision) -> Void)
    {
        var request = request
        request.requestID = requestID
        turn.checks.append(request)
        turn.decided.append(decided)
        askForFlush()
    }

    /// Queues `write` with `outbox` messages into this turn's write; `then` runs once it committed. Every write
    /// of an actor counts in its `uncommitted` until then.
    func commit(_ actor: OrderActor?, _ write: JournalWrite, _ outbox: [(String, Tradewire_V1_Command)],
                _ then: @escaping @Sendable () -> Void)
    {
        turn.write.append(write)
        turn.outbox += outbox
        turn.committed.append(then)
        if let actor {
            actor.uncommitted += 1
            turn.actors.append(actor)
        }
        askForFlush()
    }

    private func askForFlush() {
        guard !turn.flushAsked else { return }
        turn.flushAsked = true
        loop.flushAtEndOfTurn(self)
    }

    /// The end of a turn: one risk batch, one journal write.
    func flushAtEndOfTurn() {
        var turn = self.turn
        self.turn = Turn()
        if !turn.checks.isEmpty {
            nextRiskBatch += 1
            let number = nextRiskBatch
            deciding[number] = turn.decided
            risk.check(turn.checks) { decisions in
                self.loop.execute {
                    guard let decided = self.deciding.removeValue(forKey: number) else { return }
                    for (decision, body) in zip(decisions, decided) { body(decision) }
                }
            }
        }
        guard !turn.committed.isEmpty else { return }
        var write = turn.write
        write.outbox = turn.outbox.map { ($0.0, $0.1.serializedBytes()) }
        write.keepLastOrderRows()
        turn.confirmations = attachConfirmations(to: &write)
        committing.append(turn)
        journal.append(write) { result in
            self.loop.execute { self.committed(result) }
        }
    }

    private func committed(_ result: Result<JournalCommit, SQLiteError>) {
        let turn = committing.removeFirst()
        switch result {
        case .success(let commit):
            for ((destination, command), sequence) in zip(turn.outbox, commit.outboxSequences) {
                let link = self.link(destination)
                link.waiting[sequence] = command
                pump(link)
            }
            confirmationsCommitted(turn.confirmations)
            for actor in turn.actors { actor.uncommitted -= 1 }
            for then in turn.committed { then() }
            for actor in turn.actors { passivateIfDone(actor) }
        case .failure(let error):
            if !journal.isClosed { failStop(error) }
            for actor in turn.actors { actor.uncommitted -= 1 }
        }
    }
}
