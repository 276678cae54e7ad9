import Journal
import ProtoCodec
import Protos

/// What an order event carries to a subscriber (`SubscribeEventsRequest`): its order and its report; its report
/// only (`reports_only`: feeds that route reports); or its order, and its report only when that is a fill's
/// (`trade_reports_only`: risk, which follows orders and takes fills' prices from their reports).
enum OrderEventParts: Sendable {
    case all, reports, orderAndFillReports

    /// Leaves out of `event` what these parts do not keep.
    func trim(_ event: inout Tradewire_V1_OrderEvent) {
        switch self {
        case .all: break
        case .reports: event.order = nil
        case .orderAndFillReports: if event.report?.execType != .trade { event.report = nil }
        }
    }
}

/// An `EventBatch` in wire form, assembled from the journal's stored events without decoding them: what a
/// subscriber gets is the same message ``ProcessorService/event(_:node:)`` would build, for a copy and a scan of a
/// few field headers per event instead of a decode and an encode of every event for every subscriber.
///
/// What the node adds when it serves an event goes in at the wire level: its sequence and commit time are
/// appended (scalars: a reader keeps the last value), and an order event's exec id and cursor are appended inside
/// its report, whose length and the lengths around it are rewritten. (Appending a second `order` to the event
/// would not do: protobuf-c replaces a oneof member seen twice instead of merging it.) An event whose bytes do not
/// have the expected shape is decoded and encoded instead.
enum StoredEventBatch {
    /// `header`'s own fields and `records` as its `events`, after 5 bytes of headroom for the gRPC frame header; an
    /// order event with the `parts` its subscriber asked for.
    static func headroomed(header: Tradewire_V1_EventBatch, _ records: [JournalRecord], node: String, parts: OrderEventParts = .all) throws
        -> [UInt8]
    {
        var bytes = header.serializedBytes(headroom: 5)
        bytes.reserveCapacity(bytes.count + records.reduce(0) { $0 + $1.entry.payload.count + 64 + 2 * node.utf8.count })
        for record in records { try append(record, node: node, parts: parts, to: &bytes) }
        return bytes
    }

    /// `EventBatch.events`, `Event.order` (in the `event` oneof) and `OrderEvent.report`: all length-delimited.
    private static let batchEvents: UInt32 = 1
    private static let eventOrder: UInt32 = 10
    private static let orderReport: UInt32 = 1
    /// `OrderEvent.order`, left out for feeds that read reports only.
    private static let orderOrder: UInt32 = 2
    /// `ExecutionReport.exec_type` (a varint), read to keep only fills' reports.
    private static let reportExecType: UInt32 = 7

    /// Where an order event's `order` and that order's `report` are in `payload` (fields and values, as
    /// ``ProtoWire/onlyLengthDelimited(_:in:within:)`` finds them); nil when the bytes do not have that shape.
    static func locate(_ payload: [UInt8]) -> (order: (field: Range<Int>, value: Range<Int>), report: (field: Range<Int>, value: Range<Int>))? {
        guard let order = ProtoWire.onlyLengthDelimited(eventOrder, in: payload),
            let report = ProtoWire.onlyLengthDelimited(orderReport, in: payload, within: order.value)
        else { return nil }
        return (order, report)
    }

    /// `Order.status` (a varint), read to keep only order events whose order has a status asked for.
    private static let orderStatus: UInt32 = 10

    /// Whether `record` passes a subscription's status filter (`order_statuses`, as raw values): any event that is
    /// not an order's, and an order event whose order has one of `statuses` after the change. The status is read
    /// from the stored bytes; an event whose bytes do not have the expected shape is decoded instead.
    static func keeps(_ record: JournalRecord, _ statuses: Set<Int32>) -> Bool {
        guard record.entry.kind == Tradewire_V1_EventKind.order.rawValue else { return true }
        let payload = record.entry.payload
        if let event = ProtoWire.onlyLengthDelimited(eventOrder, in: payload),
           let order = ProtoWire.onlyLengthDelimited(orderOrder, in: payload, within: event.value),
           let status = ProtoWire.lastVarint(orderStatus, in: payload, within: order.value)
        {
            return statuses.contains(Int32(truncatingIfNeeded: status))
        }
        // Without a status field (proto3 leaves a zero out) the decoded order reads UNSPECIFIED, which no filter names.
        guard let event = try? Tradewire_V1_Event(serializedBytes: payload), case .order(let change) = event.event else { return true }
        return statuses.contains((change.order?.status ?? .unspecified).rawValue)
    }

    /// Appends one record as served (an `events` field) to `bytes`, copying its stored bytes once: an order
    /// event's `order` and `report` get new lengths in place, the report its exec id and cursor at its end; the
    /// `parts` not asked for (the order, or a report that is not a fill's) are left out.
    static func append(_ record: JournalRecord, node: String, parts: OrderEventParts = .all, to bytes: inout [UInt8]) throws {
        let payload = record.entry.payload
        let trailer = Tradewire_V1_Event(sequence: record.sequence, committedAtUnixNanos: record.committedAt).serializedBytes()
        guard record.entry.kind == Tradewire_V1_EventKind.order.rawValue else {
            ProtoWire.appendLengthDelimitedHeader(batchEvents, length: payload.count + trailer.count, to: &bytes)
            bytes += payload
            bytes += trailer
            return
        }
        let located = locate(payload)
        // Only fills' reports: the report's exec type says whether it stays.
        let execType = parts == .orderAndFillReports
            ? located.flatMap { ProtoWire.lastVarint(reportExecType, in: payload, within: $0.report.value) } : nil
        guard let (order, report) = located, parts != .orderAndFillReports || execType != nil else {
            let event = try ProcessorService.event(record, node: node, parts: parts).serializedBytes()
            ProtoWire.appendLengthDelimitedHeader(batchEvents, length: event.count, to: &bytes)
            bytes += event
            return
        }
        let keepsReport = parts != .orderAndFillReports || execType == UInt64(Tradewire_V1_ExecType.trade.rawValue)
        var added = Tradewire_V1_ExecutionReport()
        if keepsReport {
            added.execID = "\(node)-\(record.sequence)"
            added.cursor = "\(node):\(record.sequence)"
        }
        let addedBytes = added.serializedBytes()
        let dropped = parts == .reports ? ProtoWire.onlyLengthDelimited(orderOrder, in: payload, within: order.value)?.field : nil
        let reportLength = report.value.count + addedBytes.count
        let orderLength = order.value.count - report.field.count - (dropped?.count ?? 0)
            + (keepsReport ? ProtoWire.lengthDelimitedSize(orderReport, length: reportLength) : 0)
        let eventLength = payload.count - order.field.count + ProtoWire.lengthDelimitedSize(eventOrder, length: orderLength) + trailer.count
        ProtoWire.appendLengthDelimitedHeader(batchEvents, length: eventLength, to: &bytes)
        bytes += payload[..<order.field.lowerBound]
        ProtoWire.appendLengthDelimitedHeader(eventOrder, length: orderLength, to: &bytes)
        // The order event's fields in their stored order, the report rewritten or left out and the order perhaps
        // left out (the two cuts in the order they come; no array of them: this runs per event and subscriber).
        var from = order.value.lowerBound
        func cut(_ field: Range<Int>) {
            bytes += payload[from..<field.lowerBound]
            if field == report.field && keepsReport {
                ProtoWire.appendLengthDelimitedHeader(orderReport, length: reportLength, to: &bytes)
                bytes += payload[report.value]
                bytes += addedBytes
            }
            from = field.upperBound
        }
        if let dropped, dropped.lowerBound < report.field.lowerBound { cut(dropped) }
        cut(report.field)
        if let dropped, dropped.lowerBound > report.field.lowerBound { cut(dropped) }
        bytes += payload[from..<order.field.upperBound]
        bytes += payload[order.field.upperBound...]
        bytes += trailer
    }

    /// One record as served, in wire form (the value of the `events` field ``append(_:node:parts:to:)`` makes).
    static func served(_ record: JournalRecord, node: String) throws -> [UInt8] {
        var field: [UInt8] = []
        try append(record, node: node, to: &field)
        var value = 1  // after the one-byte tag, past the length's varint
        while field[value] & 0x80 != 0 { value += 1 }
        return Array(field[(value + 1)...])
    }
}
