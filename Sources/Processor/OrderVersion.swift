import ProtoCodec
import Protos

/// One version of an order as a change stores and sends it: the order message, and its bytes encoded once by
/// protobuf-c for both the change's event and the order's row. Each used to encode the whole order again (an
/// order is ~7,500 instructions of protobuf-c, and a change stored it twice); the two envelopes around it are
/// composed here, byte for byte what protobuf-c makes of the whole messages (`OrderVersionTests` compares them).
struct OrderVersion {
    let message: Tradewire_V1_Order
    let bytes: [UInt8]

    init(_ message: Tradewire_V1_Order) {
        self.message = message
        bytes = message.serializedBytes()
    }

    /// `Tradewire_V1_Event(nodeID:requestID:)` with `.order(OrderEvent(report:order:))`, serialized.
    func event(node: String, requestID: String, report: Tradewire_V1_ExecutionReport) -> [UInt8] {
        let report = report.serializedBytes()
        let orderEventLength = ProtoWire.lengthDelimitedSize(Self.orderEventReport, length: report.count)
            + ProtoWire.lengthDelimitedSize(Self.orderEventOrder, length: bytes.count)
        var event: [UInt8] = []
        event.reserveCapacity(ProtoWire.lengthDelimitedSize(Self.eventOrder, length: orderEventLength) + node.utf8.count + requestID.utf8.count + 8)
        Self.appendString(Self.eventNodeID, node, to: &event)
        Self.appendString(Self.eventRequestID, requestID, to: &event)
        ProtoWire.appendLengthDelimitedHeader(Self.eventOrder, length: orderEventLength, to: &event)
        ProtoWire.appendLengthDelimitedHeader(Self.orderEventReport, length: report.count, to: &event)
        event += report
        ProtoWire.appendLengthDelimitedHeader(Self.orderEventOrder, length: bytes.count, to: &event)
        event += bytes
        return event
    }

    /// `Tradewire_V1_OrderRecord(order:requestHash:inboundSource:inboundSequence:)`, serialized.
    func record(requestHash: UInt64, inboundSource: String, inboundSequence: UInt64) -> [UInt8] {
        var record: [UInt8] = []
        record.reserveCapacity(ProtoWire.lengthDelimitedSize(Self.recordOrder, length: bytes.count) + inboundSource.utf8.count + 24)
        ProtoWire.appendLengthDelimitedHeader(Self.recordOrder, length: bytes.count, to: &record)
        record += bytes
        Self.appendVarintField(Self.recordRequestHash, requestHash, to: &record)
        Self.appendString(Self.recordInboundSource, inboundSource, to: &record)
        Self.appendVarintField(Self.recordInboundSequence, inboundSequence, to: &record)
        return record
    }

    // Field numbers (proto/tradewire/v1/processor.proto), in the order protobuf-c writes them: by number.
    private static let eventNodeID: UInt32 = 2
    private static let eventRequestID: UInt32 = 4
    private static let eventOrder: UInt32 = 10
    private static let orderEventReport: UInt32 = 1
    private static let orderEventOrder: UInt32 = 2
    private static let recordOrder: UInt32 = 1
    private static let recordRequestHash: UInt32 = 2
    private static let recordInboundSource: UInt32 = 3
    private static let recordInboundSequence: UInt32 = 4

    /// A proto3 string: left out when empty, as protobuf-c does.
    private static func appendString(_ number: UInt32, _ value: String, to bytes: inout [UInt8]) {
        guard !value.isEmpty else { return }
        ProtoWire.appendLengthDelimitedHeader(number, length: value.utf8.count, to: &bytes)
        bytes += value.utf8
    }

    /// A proto3 uint64: left out when 0.
    private static func appendVarintField(_ number: UInt32, _ value: UInt64, to bytes: inout [UInt8]) {
        guard value != 0 else { return }
        ProtoWire.appendVarint(UInt64(number) << 3, to: &bytes)
        ProtoWire.appendVarint(value, to: &bytes)
    }
}
