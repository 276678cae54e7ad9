import Cluster
import Transport
import EventLoop
import Journal
import Protos
import RPC

/// The outbox: messages to other nodes (and to this one), committed with the change that caused them, delivered
/// in sequence order per destination, resent from the first unconfirmed after a failure, and confirmed lazily in
/// the journal. Core thread only, like the rest of `NodeCore`.
extension NodeCore {
    func link(_ destination: String) -> OutboxLink {
        if let link = links[destination] { return link }
        let link = OutboxLink(destination: destination)
        links[destination] = link
        return link
    }

    /// Sends a link's messages in sequence order, up to its window; failures resend from the first unconfirmed.
    func pump(_ link: OutboxLink) {
        while link.inFlight < OutboxLink.window, !link.retryScheduled, var command = link.waiting[link.nextToSend] {
            let sequence = link.nextToSend
            link.nextToSend += 1
            link.inFlight += 1
            command.sourceNodeID = nodeID
            command.sourceSequence = sequence
            command.ringEpoch = ring.epoch
            send(command, to: link.destination) { result in
                self.loop.execute { self.delivered(link, sequence, result) }
            }
        }
    }

    func delivered(_ link: OutboxLink, _ sequence: UInt64, _ result: Result<Tradewire_V1_Ack, RPCError>) {
        link.inFlight -= 1
        var failure: String?
        switch result {
        case .success(let ack):
            switch ack.result {
            case .notOwner(let owner): failure = "node \(link.destination) says \(owner.ownerNodeID) owns it (epoch \(owner.ringEpoch))"
            case .error(let status) where ![3, 5].contains(status.code): failure = "\(status.message) (code \(status.code))"
            case .error(let status):
                // INVALID_ARGUMENT or NOT_FOUND will not change on a resend: drop the message rather than block
                // the link behind it.
                logger.error("an outbox message was refused for good", metadata: [
                    "sequence": "\(sequence)", "destination": "\(link.destination)", "error": "\(status.message)",
                ])
            default: break
            }
        case .failure(let error): failure = "\(error)"
        }
        if let failure {
            link.nextToSend = min(link.nextToSend, sequence)
            guard !link.retryScheduled else { return }
            link.retryScheduled = true
            if link.backoff.failures == 0 {
                logger.warning("delivery to a node failed; retrying", metadata: ["destination": "\(link.destination)", "error": "\(failure)"])
            }
            loop.schedule(at: Monotonic.now() + link.backoff.next().nanoseconds) { [self] in
                link.retryScheduled = false
                pump(link)
            }
            return
        }
        link.backoff.reset()
        link.confirm(sequence)
        persistConfirmationsLater()
        pump(link)
    }

    /// How far destinations confirmed is journaled lazily, so that a restart does not resend all of it: with the
    /// next write the node makes anyway, or alone after `confirmationDelay` when none comes. A restart resends
    /// what was confirmed since, which the receivers drop as duplicates (by source sequence).
    static var confirmationDelay: UInt64 { 100_000_000 }

    func persistConfirmationsLater() {
        guard confirmationTimer == nil else { return }
        confirmationTimer = loop.schedule(at: Monotonic.now() + Self.confirmationDelay) { [self] in
            confirmationTimer = nil
            if links.values.contains(where: \.hasConfirmationsToJournal) { commit(nil, JournalWrite(), []) {} }
        }
    }

    /// Adds every link's confirmations not yet journaled (nor on their way) to `write`; `then` records them once
    /// it committed.
    func attachConfirmations(to write: inout JournalWrite) -> [(OutboxLink, UInt64)] {
        var attached: [(OutboxLink, UInt64)] = []
        for link in links.values where link.hasConfirmationsToJournal {
            write.delivered[link.destination] = link.confirmed
            link.journaling = link.confirmed
            attached.append((link, link.confirmed))
        }
        return attached
    }

    func confirmationsCommitted(_ attached: [(OutboxLink, UInt64)]) {
        for (link, upTo) in attached {
            link.persisted = max(link.persisted, upTo)
            if link.journaling == upTo { link.journaling = nil }
        }
    }

    func send(_ command: Tradewire_V1_Command, to destination: String,
                      completion: @escaping @Sendable (Result<Tradewire_V1_Ack, RPCError>) -> Void)
    {
        if destination == nodeID {
            loop.execute { self.handle(command) { completion(.success($0)) } }
        } else if let peer = peers[destination] {
            peer.send(command, completion: completion)
        } else {
            completion(.failure(RPCError(code: .failedPrecondition, message: "node \(destination) is not in the cluster file")))
        }
    }
}

/// The messages a node has committed for one destination, delivered in sequence order.
final class OutboxLink: @unchecked Sendable {
    // @unchecked Sendable: touched on its node's core thread only.
    static let window = 1024

    let destination: String
    /// Committed and not yet confirmed, by sequence.
    var waiting: [UInt64: Tradewire_V1_Command] = [:]
    var nextToSend: UInt64 = 1
    /// Every sequence up to here is confirmed.
    var confirmed: UInt64 = 0
    private var confirmedAhead = Set<UInt64>()
    var inFlight = 0
    var retryScheduled = false
    /// Resends after a failure wait this (the channels to other nodes reconnect with the same policy).
    var backoff = Backoff.mesh
    /// Confirmed up to here in the journal.
    var persisted: UInt64 = 0
    /// Confirmations on their way to the journal, up to here.
    var journaling: UInt64?

    var hasConfirmationsToJournal: Bool { confirmed > max(persisted, journaling ?? 0) }

    init(destination: String) {
        self.destination = destination
    }

    /// Starts after `sequence` (what a restart found confirmed).
    func restart(after sequence: UInt64) {
        confirmed = sequence
        persisted = sequence
        nextToSend = sequence + 1
    }

    func confirm(_ sequence: UInt64) {
        guard sequence > confirmed else { return }
        confirmedAhead.insert(sequence)
        while confirmedAhead.remove(confirmed + 1) != nil {
            confirmed += 1
            waiting[confirmed] = nil
        }
    }
}
