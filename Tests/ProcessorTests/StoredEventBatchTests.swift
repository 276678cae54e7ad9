import ClusterTestSupport
import Journal
@testable import Processor
import ProtoCodec
import Protos
import Testing

/// Events are served as stored, not decoded and re-encoded per subscriber: what a subscriber decodes must be
/// exactly the event the node would have built, for every kind of event a real cross journals.
@Suite struct StoredEventBatchTests {
    /// The events three nodes journal for a resting buy, a crossing sell (a trade, book changes, order reports on
    /// two nodes), a partial cancel and an unknown field from a newer schema.
    static func storedEvents() -> [JournalEntry] {
        let cluster = NodeHarness(nodes: ["p1", "p2", "p3"])
        let symbol = cluster.symbol(ownedBy: "p3")
        let buy = cluster.orderID("buy", ownedBy: "p1")
        let sell = cluster.orderID("sell", ownedBy: "p2")
        cluster.send(ProcessorCluster.place(buy, symbol: symbol, side: .buy, price: 1000, quantity: 5), to: "p1")
        cluster.settle()
        cluster.send(ProcessorCluster.place(sell, symbol: symbol, side: .sell, price: 990, quantity: 3), to: "p2")
        cluster.settle()
        cluster.send(ProcessorCluster.cancel(buy), to: "p1")
        cluster.settle()
        var entries = ["p1", "p2", "p3"].flatMap { cluster.nodes[$0]!.committed.flatMap(\.events) }
        // A field this schema does not know (number 99, varint 7) on a stored trade survives as it would.
        if let trade = entries.firstIndex(where: { $0.kind == Tradewire_V1_EventKind.trade.rawValue }) {
            entries[trade].payload += [0x98, 0x06, 0x07]
        }
        return entries
    }

    @Test func aSubscriberDecodesExactlyTheEventsTheNodeWouldHaveBuilt() throws {
        let entries = Self.storedEvents()
        let kinds = Set(entries.map(\.kind))
        #expect(kinds == [1, 2, 3], "orders, trades and book changes: \(kinds)")
        let records = entries.enumerated().map { index, entry in
            JournalRecord(sequence: UInt64(1_000 + index * 37), committedAt: 1_700_000_000_123_456_789 + Int64(index), entry: entry)
        }
        let header = Tradewire_V1_EventBatch(headSequence: 5_000, sentAtUnixNanos: 1_700_000_001_000_000_000, throughSequence: 4_999)
        for node in ["p1", "a-longer-node-name-\(String(repeating: "x", count: 200))"] {
            for parts in [OrderEventParts.all, .reports, .orderAndFillReports] {
                // Every prefix, so that batches of one and of many, ending on each kind, are covered.
                for count in 0...records.count {
                    let served = try StoredEventBatch.headroomed(header: header, Array(records.prefix(count)), node: node, parts: parts)
                    #expect(served.prefix(5).allSatisfy { $0 == 0 }, "headroom for the frame header")
                    let decoded = try Tradewire_V1_EventBatch(serializedBytes: Array(served.dropFirst(5)))
                    var expected = header
                    expected.events = try records.prefix(count).map { try ProcessorService.event($0, node: node, parts: parts) }
                    #expect(decoded == expected, "\(count) events for \(node.prefix(8)), parts: \(parts)")
                    // Reports only: every order event keeps its report and loses its order. Fills' reports only: every
                    // order event keeps its order, and its report exactly when that is a TRADE. Nothing else changes.
                    let orders = decoded.events.compactMap { if case .order(let order) = $0.event { order } else { nil } }
                    switch parts {
                    case .all: #expect(orders.allSatisfy { $0.report != nil && $0.order != nil })
                    case .reports: #expect(orders.allSatisfy { $0.report != nil && $0.order == nil })
                    case .orderAndFillReports:
                        #expect(orders.allSatisfy { $0.order != nil })
                        #expect(orders.allSatisfy { ($0.report != nil) == ($0.report?.execType == .trade) })
                    }
                }
            }
            // The fills' reports a risk-style feed keeps are the stored ones' (with exec id and cursor).
            let full = try records.map { try ProcessorService.event($0, node: node) }
            let trimmed = try Tradewire_V1_EventBatch(serializedBytes: Array(
                StoredEventBatch.headroomed(header: header, records, node: node, parts: .orderAndFillReports).dropFirst(5)))
            let fills = { (events: [Tradewire_V1_Event]) in
                events.compactMap { event -> Tradewire_V1_ExecutionReport? in
                    if case .order(let order) = event.event, order.report?.execType == .trade { order.report } else { nil }
                }
            }
            #expect(!fills(full).isEmpty && fills(trimmed.events) == fills(full))
        }
        // An order event without a report (no such event is journaled, but a stored event is not trusted to have
        // the shape) is decoded and encoded instead, and still comes out as the node would build it.
        var bare = records.first { $0.entry.kind == 1 }!
        var event = try Tradewire_V1_Event(serializedBytes: bare.entry.payload)
        guard case .order(var order) = event.event else { Issue.record("not an order event"); return }
        order.report = nil
        event.event = .order(order)
        bare.entry.payload = event.serializedBytes()
        #expect(try Tradewire_V1_Event(serializedBytes: StoredEventBatch.served(bare, node: "p1")) == ProcessorService.event(bare, node: "p1"))

        let report = try ProcessorService.event(records.first { $0.entry.kind == 1 }!, node: "p1")
        guard case .order(let order) = report.event else { Issue.record("not an order event"); return }
        #expect(order.report?.execID.hasPrefix("p1-") == true && order.report?.cursor.hasPrefix("p1:") == true)
        #expect(order.report?.orderStatus != .unspecified, "the stored report's own fields are kept")
    }

    /// A status filter reads an order event's status from the stored bytes: it keeps exactly the order events whose
    /// decoded order has a status named, and every other event; where the bytes do not show a status, the decoded
    /// order decides.
    @Test func theStatusFilterKeepsWhatDecodingWould() throws {
        var records = Self.storedEvents().enumerated().map { JournalRecord(sequence: UInt64($0 + 1), committedAt: 0, entry: $1) }
        // An order event whose order has no status field (proto3 leaves UNSPECIFIED out): the scanner finds none, and
        // the decoded order's UNSPECIFIED is in no filter.
        let first = records.first { $0.entry.kind == 1 }!
        var event = try Tradewire_V1_Event(serializedBytes: first.entry.payload)
        if case .order(var change) = event.event { change.order?.status = .unspecified; event.event = .order(change) }
        records.append(JournalRecord(sequence: 999, committedAt: 0, entry: JournalEntry(key: first.entry.key, kind: 1, payload: event.serializedBytes())))
        let statuses = Set(try records.compactMap { record -> Int32? in
            guard case .order(let change) = try Tradewire_V1_Event(serializedBytes: record.entry.payload).event else { return nil }
            return change.order?.status.rawValue
        })
        #expect(statuses.count >= 3, "the stored events cover several statuses: \(statuses)")
        for wanted in statuses.map({ [$0] }) + [statuses.subtracting([1, 5]), [4, 8]] {
            for record in records {
                let decoded = try Tradewire_V1_Event(serializedBytes: record.entry.payload)
                let expected: Bool
                if case .order(let change) = decoded.event { expected = wanted.contains(change.order?.status.rawValue ?? 0) } else { expected = true }
                #expect(StoredEventBatch.keeps(record, wanted) == expected, "sequence \(record.sequence), statuses \(wanted)")
            }
        }
    }

    /// The field scanner reads stored bytes: cut anywhere, or with any byte flipped, it answers nil or a range
    /// inside the bytes, never traps, and a splice of what it found is as long as it should be.
    @Test func theFieldScannerNeverReadsOutsideItsBytes() {
        var generator = SystemRandomNumberGenerator()
        for entry in Self.storedEvents() {
            let payload = entry.payload
            var variants = (0...payload.count).map { Array(payload.prefix($0)) }
            for _ in 0..<200 {
                var flipped = payload
                flipped[Int.random(in: 0..<flipped.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                variants.append(flipped)
            }
            for bytes in variants {
                for number: UInt32 in [1, 2, 10, 11, 12] {
                    if let found = ProtoWire.onlyLengthDelimited(number, in: bytes) {
                        #expect(found.field.lowerBound >= 0 && found.field.upperBound <= bytes.count)
                        #expect(found.value.lowerBound > found.field.lowerBound && found.value.upperBound == found.field.upperBound)
                    }
                    _ = ProtoWire.lastVarint(number, in: bytes, within: 0..<bytes.count)  // never traps
                }
                _ = StoredEventBatch.keeps(JournalRecord(sequence: 1, committedAt: 0, entry: JournalEntry(key: "k", kind: 1, payload: bytes)), [2])
                if let (order, report) = StoredEventBatch.locate(bytes) {
                    #expect(order.field.lowerBound >= 0 && order.field.upperBound <= bytes.count)
                    #expect(report.field.lowerBound >= order.value.lowerBound && report.field.upperBound <= order.value.upperBound)
                    #expect(report.value.lowerBound > report.field.lowerBound && report.value.upperBound == report.field.upperBound)
                }
            }
        }
    }
}
