import Journal
import ProtoCodec
import Protos

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
    /// `header`'s own fields and `records` as its `events`, after 5 bytes of headroom for the gRPC frame header.
    static func headroomed(header: Tradewire_V1_EventBatch, _ records: [JournalRecord], node: String) throws -> [UInt8] {
        var bytes = header.serializedBytes(headroom: 5)
        bytes.reserveCapacity(bytes.count + records.reduce(0) { $0 + $1.entry.payload.count + 64 + 2 * node.utf8.count })
        for record in records {
            let event = try served(record, node: node)
            appendField(batchEvents, event, to: &bytes)
        }
        return bytes
    }

    /// `EventBatch.events`, `Event.order` (in the `event` oneof) and `OrderEvent.report`: all length-delimited.
    private static let batchEvents: UInt32 = 1
    private static let eventOrder: UInt32 = 10
    private static let orderReport: UInt32 = 1

    /// One record as served, in wire form.
    static func served(_ record: JournalRecord, node: String) throws -> [UInt8] {
        var event: [UInt8]
        if record.entry.kind == Tradewire_V1_EventKind.order.rawValue {
            var report = Tradewire_V1_ExecutionReport()
            report.execID = "\(node)-\(record.sequence)"
            report.cursor = "\(node):\(record.sequence)"
            guard let spliced = appending(report.serializedBytes(), inside: [eventOrder, orderReport], of: record.entry.payload) else {
                return try ProcessorService.event(record, node: node).serializedBytes()
            }
            event = spliced
        } else {
            event = record.entry.payload
        }
        event += Tradewire_V1_Event(sequence: record.sequence, committedAtUnixNanos: record.committedAt).serializedBytes()
        return event
    }

    /// `message` with `fields` appended to the submessage at `path` (field numbers, each present once and
    /// length-delimited); nil when the bytes do not have that shape.
    static func appending(_ fields: [UInt8], inside path: [UInt32], of message: [UInt8]) -> [UInt8]? {
        guard let number = path.first else { return message + fields }
        guard let located = ProtoWire.onlyLengthDelimited(number, in: message),
            let inner = appending(fields, inside: Array(path.dropFirst()), of: Array(message[located.value]))
        else { return nil }
        var spliced: [UInt8] = []
        spliced.reserveCapacity(message.count + fields.count + 8)
        spliced += message[..<located.field.lowerBound]
        appendField(number, inner, to: &spliced)
        spliced += message[located.field.upperBound...]
        return spliced
    }

    private static func appendField(_ number: UInt32, _ value: [UInt8], to bytes: inout [UInt8]) {
        ProtoWire.appendVarint(UInt64(number) << 3 | 2, to: &bytes)
        ProtoWire.appendVarint(UInt64(value.count), to: &bytes)
        bytes += value
    }
}
