import Cluster
import RPC
import Transport
import ProtoCodec
import Protos
import ServiceStubs
import Synchronization
import Locks

/// One account's execution reports from every processor node (every account's with an empty `account`): a
/// `SubscribeEvents` call per node, filtered to the account by the node, resumed after failures from the last
/// sequence seen. Reports of one order all come from
/// the node that owns it, in that node's sequence order, so they arrive in order per order.
///
/// A position is a vector of per-node sequences; as text ("p1:12,p2:40,p3:7") it is the `cursor` of the
/// account's stream, and resuming from it misses and repeats nothing.
struct ExecutionFeed: Sendable {
    typealias Positions = [String: UInt64]

    let cluster: ClusterClient
    let account: String

    /// Where each node starts: after the sequence in `positions`; nodes not in it from their first event, or, with
    /// `live`, from their current head. `ready` says where each node starts, once known. Each node's batches are read
    /// as `Batch`: `EventBatch` for whole reports, or a view of it for ``ForwardedReport``s.
    func run<Batch: ReportBatch>(_ batches: Batch.Type, from positions: Positions, live: Bool,
                                 ready: @escaping @Sendable (_ node: String, _ head: UInt64) -> Void,
                                 deliver: @escaping @Sendable (String, UInt64, Batch.Report) -> Void) async
    {
        await withTaskGroup(of: Void.self) { group in
            for node in cluster.nodes {
                guard let channel = try? cluster.feedChannel(to: node) else { continue }
                let start = positions[node.id]
                // On the connection's loop: reports keep coming while the process's shared threads are busy.
                group.addTask(executorPreference: channel.preferredExecutor) {
                    await follow(Batch.self, node, over: channel, after: start, fromHead: start == nil && live, ready: ready,
                                 deliver: deliver)
                }
            }
        }
    }

    private func follow<Batch: ReportBatch>(_ batches: Batch.Type, _ node: ClusterNode, over channel: Channel, after start: UInt64?,
                                            fromHead: Bool, ready: @Sendable (String, UInt64) -> Void,
                                            deliver: @Sendable (String, UInt64, Batch.Report) -> Void) async
    {
        var position = start ?? 0
        var knowsPosition = !fromHead
        if knowsPosition { ready(node.id, position) }
        var backoff = Backoff.mesh
        while !Task.isCancelled {
            // Sequences are SQLite integers: a position at the top of that range asks for nothing more.
            var request = Tradewire_V1_SubscribeEventsRequest(fromSequence: min(position, UInt64(Int64.max) - 1) + 1, account: account)
            request.reportsOnly = true  // reports are all a feed routes and sends
            // Every account's: order events only (an account's feed gets only order events anyway).
            if account.isEmpty { request.kinds = [.order] }
            request.fromHead = !knowsPosition
            do {
                try await channel.serverStreaming(Tradewire_V1_Processor.Method.subscribeEvents, request, responseType: Batch.self,
                                                  options: CallOptions(waitForReady: true)) { batches in
                    for try await batch in batches {
                        backoff.reset()
                        if !knowsPosition {
                            position = batch.headSequence
                            knowsPosition = true
                            ready(node.id, position)
                        }
                        // A report that does not decode ends the stream there, as a batch that does not decode does:
                        // it is followed again after the last event read.
                        try batch.forEachEvent { sequence, report in
                            position = sequence
                            if let report { deliver(node.id, sequence, report) }
                        }
                    }
                }
            } catch {
                // The node went down or is restarting: resume after the last sequence seen, once the channel has
                // reconnected (the call waits for it).
            }
            await backoff.wait()
        }
    }

    /// A stream's position as reports go out.
    final class Cursor: Sendable {
        private let positions: Lock<Positions>

        init(_ start: Positions) { positions = Lock(start) }

        /// Moves `node` to `sequence`; the cursor text after it.
        func advance(_ node: String, to sequence: UInt64) -> String {
            positions.withLock { positions in
                positions[node] = sequence
                return ExecutionFeed.cursor(positions)
            }
        }
    }

    static func cursor(_ positions: Positions) -> String {
        positions.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
    }

    /// Cursors are at most this long (a few hundred nodes' entries).
    static let maxCursorBytes = 16_384

    /// The positions a cursor this API gave names, or why it is not one: exactly "node:sequence" entries joined by
    /// ",", each node of the cluster at most once, sequences of decimal digits up to 2^63 − 2 (a journal's
    /// sequences are SQLite integers). An unknown node, a duplicate or a stray separator is refused rather than
    /// read as "from the beginning".
    static func positions(_ cursor: String, nodes: [String]) -> Result<Positions, CursorError> {
        guard cursor.utf8.count <= maxCursorBytes else { return .failure(CursorError("is longer than \(maxCursorBytes) bytes")) }
        var positions: Positions = [:]
        for part in cursor.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count == 2, !pieces[1].isEmpty, pieces[1].utf8.count <= 19,
                  pieces[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }), let sequence = UInt64(pieces[1]),
                  sequence < UInt64(Int64.max)
            else {
                return .failure(CursorError("entry \(Echo.quote(part)) is not node:sequence"))
            }
            let node = String(pieces[0])
            guard nodes.contains(node) else { return .failure(CursorError("names \(Echo.quote(node)), which is not a node of this cluster")) }
            guard positions.updateValue(sequence, forKey: node) == nil else {
                return .failure(CursorError("names node \(node) twice"))
            }
        }
        return .success(positions)
    }

    struct CursorError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

/// A node's event batch as a feed reads it: the node's head, and each event's sequence and order report (if any).
protocol ReportBatch: ProtoMessage {
    associatedtype Report: Sendable
    var headSequence: UInt64 { get }
    /// Each event in order: its sequence, and its order report if it carries one.
    func forEachEvent(_ body: (_ sequence: UInt64, _ report: Report?) throws -> Void) throws
}

extension Tradewire_V1_EventBatch: ReportBatch {
    func forEachEvent(_ body: (UInt64, Tradewire_V1_ExecutionReport?) throws -> Void) rethrows {
        for event in events {
            if case .order(let order) = event.event { try body(event.sequence, order.report) } else { try body(event.sequence, nil) }
        }
    }
}

extension Tradewire_V1_EventBatchReportView: ReportBatch {
    /// Throws ``ProtoDecodingError`` at the first report whose routing fields do not decode.
    func forEachEvent(_ body: (UInt64, ForwardedReport?) throws -> Void) throws {
        for event in events {
            // An empty report (every field at its default) names no account: nothing to route.
            guard let report = event.order?.report, !report.isEmpty else {
                try body(event.sequence, nil)
                continue
            }
            try body(event.sequence, try ForwardedReport(encoded: report))
        }
    }
}
