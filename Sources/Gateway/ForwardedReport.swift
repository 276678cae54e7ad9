import ProtoCodec
import Protos

/// An execution report as the gateway's shared feed hands it to OrderEntry sessions: its encoding as the node made
/// it, and the few fields the gateway routes it by and remembers of its order (``OrderTerms``). The report is never
/// decoded whole nor encoded again: a session sends the node's bytes with its own correlation id spliced in
/// (decoding every report and encoding it again took a fifth of the gateway's CPU at saturation).
struct ForwardedReport: Sendable {
    /// An `ExecutionReport`'s encoding.
    let encoded: [UInt8]
    let routing: Tradewire_V1_ExecutionReportRoutingView
    /// `encoded` without its correlation id (its node's request id).
    private let unlabelled: [Range<Int>]

    /// `ExecutionReport.correlation_id` and `OrderEntryResponse.execution_report` (proto/tradewire/v1/order.proto and
    /// gateway.proto): the two fields a response is assembled from. `ForwardedReportTests` checks them against
    /// protobuf-c's encoding.
    static let correlationIDField: UInt32 = 23
    static let executionReportField: UInt32 = 1

    /// Decodes the routing fields of `encoded`, an `ExecutionReport`'s encoding.
    init(encoded: [UInt8]) throws(ProtoDecodingError) {
        routing = try Tradewire_V1_ExecutionReportRoutingView(serializedBytes: encoded)
        guard let unlabelled = ProtoWire.ranges(without: Self.correlationIDField, in: encoded, within: 0..<encoded.count) else {
            throw ProtoDecodingError(.malformed, "an execution report's fields do not parse")
        }
        self.encoded = encoded
        self.unlabelled = unlabelled
    }

    /// An `OrderEntryResponse` carrying this report with `correlationID` as its correlation id (none when empty),
    /// after 5 bytes of headroom for the frame header (``RPC/RPCResponseWriter/write(headroomed:)``).
    func orderEntryResponse(correlationID: String) -> [UInt8] {
        var label = correlationID
        return label.withUTF8 { label in
            let labelSize = label.isEmpty ? 0 : ProtoWire.lengthDelimitedSize(Self.correlationIDField, length: label.count)
            let reportSize = unlabelled.reduce(labelSize) { $0 + $1.count }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(5 + ProtoWire.lengthDelimitedSize(Self.executionReportField, length: reportSize))
            bytes.append(contentsOf: repeatElement(0, count: 5))
            ProtoWire.appendLengthDelimitedHeader(Self.executionReportField, length: reportSize, to: &bytes)
            for range in unlabelled { bytes.append(contentsOf: encoded[range]) }
            if !label.isEmpty {
                ProtoWire.appendLengthDelimitedHeader(Self.correlationIDField, length: label.count, to: &bytes)
                bytes.append(contentsOf: label)
            }
            return bytes
        }
    }
}
