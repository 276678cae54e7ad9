import Cluster
import Journal
import Protos
import RPC
import Transport

/// The outbox: messages to other nodes (and to this one), committed with the change that caused them, delivered
/// in sequence order per destination, resent from the first unconfirmed after a failure, and confirmed lazily in
/// the journal.
extension NodeState {
    /// Sends a destination's messages in sequence order, up to its window; failures resend from the first
    /// unconfirmed.
    mutating func pump(_ destination: String) {
        guard let link = links[destination] else { return }
        var next = link.nextToSend
        var inFlight = link.inFlight
        while inFlight < OutboxLink.window, !link.retryScheduled, var command = link.waiting[next] {
            command.sourceNodeID = nodeID
            command.sourceSequence = next
            command.ringEpoch = ring.epoch
            effects.sends.append((destination, next, command))
            next += 1
            inFlight += 1
        }
        links[destination]!.nextToSend = next
        links[destination]!.inFlight = inFlight
    }

    /// A destination answered a message: confirmed, or to be resent (with the link's backoff) with every later one.
    mutating func delivered(_ destination: String, _ sequence: UInt64, _ result: Result<Tradewire_V1_Ack, RPCError>) {
        // The link changes in place (`links[destination]!`): a copy would copy its messages.
        guard links[destination] != nil else { return }
        links[destination]!.inFlight -= 1
        if let failure = Self.failure(result) {
            links[destination]!.nextToSend = min(links[destination]!.nextToSend, sequence)
            guard !links[destination]!.retryScheduled else { return }
            links[destination]!.retryScheduled = true
            if links[destination]!.backoff.failures == 0 {
                logger.warning("delivery to a node failed; retrying", metadata: ["destination": "\(destination)", "error": "\(failure)"])
            }
            effects.timers.append((.retry(destination: destination), now.monotonic + links[destination]!.backoff.next().nanoseconds))
            return
        }
        if case .success(let ack) = result, case .error(let status) = ack.result {
            // INVALID_ARGUMENT or NOT_FOUND will not change on a resend: the message is dropped rather than block
            // the link behind it.
            logger.error("an outbox message was refused for good", metadata: [
                "sequence": "\(sequence)", "destination": "\(destination)", "error": "\(status.message)",
            ])
        }
        links[destination]!.backoff.reset()
        links[destination]!.confirm(sequence)
        persistConfirmationsLater()
        pump(destination)
    }

    /// Why an answer means "resend", or nil when the message is done with (confirmed, or refused for good).
    private static func failure(_ result: Result<Tradewire_V1_Ack, RPCError>) -> String? {
        switch result {
        case .success(let ack):
            switch ack.result {
            case .notOwner(let owner): "the node says \(owner.ownerNodeID) owns it (epoch \(owner.ringEpoch))"
            case .error(let status) where ![3, 5].contains(status.code): "\(status.message) (code \(status.code))"
            default: nil
            }
        case .failure(let error): "\(error)"
        }
    }

    /// How far destinations confirmed is journaled lazily, so that a restart does not resend all of it: with the
    /// next write the node makes anyway, or alone after `confirmationDelay` when none comes. A restart resends
    /// what was confirmed since, which the receivers drop as duplicates (by source sequence).
    static var confirmationDelay: UInt64 { 100_000_000 }

    private mutating func persistConfirmationsLater() {
        guard !confirmationTimerArmed else { return }
        confirmationTimerArmed = true
        effects.timers.append((.confirmations, now.monotonic + Self.confirmationDelay))
    }

    /// Adds every link's confirmations not yet journaled (nor on their way) to `write`.
    mutating func attachConfirmations(to write: inout JournalWrite) -> [(destination: String, upTo: UInt64)] {
        var attached: [(destination: String, upTo: UInt64)] = []
        for destination in links.keys where links[destination]!.hasConfirmationsToJournal {
            let confirmed = links[destination]!.confirmed
            write.delivered[destination] = confirmed
            links[destination]!.journaling = confirmed
            attached.append((destination, confirmed))
        }
        return attached
    }

    mutating func confirmationsCommitted(_ attached: [(destination: String, upTo: UInt64)]) {
        for (destination, upTo) in attached {
            links[destination]!.persisted = max(links[destination]!.persisted, upTo)
            if links[destination]!.journaling == upTo { links[destination]!.journaling = nil }
        }
    }
}

/// The messages a node has committed for one destination, delivered in sequence order.
struct OutboxLink {
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

    /// A link whose messages up to `sequence` were confirmed (what a restart found journaled).
    init(destination: String, after sequence: UInt64) {
        self.destination = destination
        restart(after: sequence)
    }

    mutating func restart(after sequence: UInt64) {
        confirmed = sequence
        persisted = sequence
        nextToSend = sequence + 1
    }

    mutating func confirm(_ sequence: UInt64) {
        guard sequence > confirmed else { return }
        confirmedAhead.insert(sequence)
        while confirmedAhead.remove(confirmed + 1) != nil {
            confirmed += 1
            waiting[confirmed] = nil
        }
    }
}
