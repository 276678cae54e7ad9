import FuzzSupport
import ProtoCodec
import Protos

/// Protobuf decoding of every request type of proto/tradewire/v1 (the first byte picks it): through protobuf-c
/// with the decoding limits, never trapping; what decodes encodes again to bytes that decode to the same bytes. And
/// the splice the gateway forwards reports with, on the same bytes (see `splice`).
enum FuzzProto {
    /// Every tradewire.v1 method's request type, and the command stream's Command.
    static let types: [any ProtoMessage.Type] = {
        let methods = ProtoCatalog.protos.methods.filter { $0.key.hasPrefix("/tradewire.v1.") }.sorted { $0.key < $1.key }
        return methods.map(\.value.input) + [Tradewire_V1_Command.self, Tradewire_V1_Event.self, Tradewire_V1_OrderRecord.self]
    }()

    static func run(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        let type = types[Int(input.byte()) % types.count]
        let rest = input.rest()
        splice(Array(rest))
        guard let message = try? type.init(serializedBytes: rest, limits: .default) else { return }
        let encoded = message.serializedBytes(headroom: 0)
        guard let again = try? encoded.withUnsafeBytes({ try type.init(serializedBytes: $0, limits: .default) }) else {
            preconditionFailure("\(type.protoMessageName): what it encoded does not decode")
        }
        precondition(again.serializedBytes(headroom: 0) == encoded, "\(type.protoMessageName): encoding is not stable")
    }

    /// `ProtoWire.ranges(without:)`, as the gateway takes a report's correlation id (field 23) out: never traps,
    /// gives ordered, disjoint, non-empty ranges inside the input, and on bytes that decode as an ExecutionReport
    /// keeps exactly that report without its correlation id.
    static func splice(_ bytes: [UInt8]) {
        guard let kept = ProtoWire.ranges(without: 23, in: bytes, within: 0..<bytes.count) else { return }
        var end = 0
        for range in kept {
            precondition(range.lowerBound >= end && range.upperBound <= bytes.count && !range.isEmpty, "ranges \(kept) of \(bytes.count) bytes")
            end = range.upperBound
        }
        guard var report = try? Tradewire_V1_ExecutionReport(serializedBytes: bytes, limits: .default) else { return }
        report.correlationID = ""
        let spliced = kept.flatMap { bytes[$0] }
        precondition((try? Tradewire_V1_ExecutionReport(serializedBytes: spliced, limits: .default)) == report,
                     "the splice changed more than the correlation id")
    }

    static func seeds() -> [[UInt8]] {
        var order = Tradewire_V1_NewOrder(clientOrderID: "c-1", symbol: "ACME", side: .buy, type: .limit, timeInForce: .gtc)
        order.price = Tradewire_V1_Price(units: 10_000, scale: 2)
        order.quantity = Tradewire_V1_Quantity(units: 10)
        let samples: [any ProtoMessage] = [
            Tradewire_V1_PlaceOrderRequest(order: order),
            Tradewire_V1_PlaceOrdersRequest(batchID: "b", orders: [order, order]),
            Tradewire_V1_StreamExecutionsRequest(cursor: "p1:5,p2:7"),
            Tradewire_V1_ListOrdersRequest(statuses: [.accepted], pageSize: 10, pageToken: "1/x"),
            Tradewire_V1_ReconcileRequest(batchID: "b", expectedPnl: Tradewire_V1_Money(units: 5, scale: 2, currency: "USD")),
            Tradewire_V1_RiskCheckRequest(orderID: Tradewire_V1_OrderId(value: "o"), account: "a", symbol: "ACME", side: .sell),
            // For the splice: a report with a correlation id (no request type has field 23, so the first byte is 0).
            Tradewire_V1_ExecutionReport(execID: "p1-7", orderID: Tradewire_V1_OrderId(value: "o"), account: "a", orderStatus: .accepted,
                                         correlationID: "req-9"),
        ]
        return samples.map { sample in
            let index = types.firstIndex { $0 == type(of: sample) } ?? 0
            return [UInt8(index)] + sample.serializedBytes(headroom: 0)
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzProto.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if FUZZING
@_cdecl("FuzzProto_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    LibFuzzer.run(argc, argv, fuzzOne)
}
#else
@main struct Runner {
    static func main() { FuzzMain.run(seeds: FuzzProto.seeds, FuzzProto.run) }
}
#endif
