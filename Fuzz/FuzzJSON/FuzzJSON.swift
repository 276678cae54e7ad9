import FuzzSupport
import JSON
import ProtoCodec
import ProtoJSON
import Protos

/// JSON text and the proto3 JSON mapping: the strict parser never traps (depth, numbers, escapes, UTF-8); what it
/// accepts prints to text that parses to the same value; JSON the mapping accepts as a request type (the first
/// byte picks it) becomes protobuf bytes whose JSON maps back to the same bytes.
enum FuzzJSON {
    static let codec = ProtoJSON(catalog: .protos)
    static let types = FuzzProtoTypes.types

    static func run(_ bytes: UnsafeRawBufferPointer) {
        var input = FuzzInput(bytes)
        let type = types[Int(input.byte()) % types.count]
        guard let json = try? JSONValue.parse(bytes: Array(input.rest())) else { return }
        let text = json.text()
        guard let again = try? JSONValue.parse(text) else { preconditionFailure("printed JSON does not parse: \(text.prefix(200))") }
        precondition(again == json, "JSON does not round-trip: \(text.prefix(200))")
        guard let encoded = try? codec.encode(json, as: type) else { return }
        guard let mapped = try? codec.decode(encoded, as: type), let reencoded = try? codec.encode(mapped, as: type) else {
            preconditionFailure("\(type.protoMessageName): bytes from JSON do not map back")
        }
        precondition(reencoded == encoded, "\(type.protoMessageName): JSON mapping is not stable")
    }

    static func seeds() -> [[UInt8]] {
        let texts = [
            #"{"order": {"clientOrderId": "c-1", "symbol": "ACME", "side": "SIDE_BUY", "type": "ORDER_TYPE_LIMIT", "timeInForce": "TIME_IN_FORCE_GTC", "price": {"units": "10000", "scale": 2}, "quantity": {"units": "10"}}}"#,
            #"{"cursor": "p1:5,p2:7", "fromBeginning": false}"#,
            #"{"statuses": ["ORDER_STATUS_ACCEPTED", 3], "pageSize": 10, "page_token": "1/x"}"#,
            #"[1, -2.5e300, "\u00e9\ud83d\ude00", null, true, {"a": {"b": [[[]]]}}]"#,
            #"{"batchId": "b", "expectedPnl": {"units": "-9223372036854775808", "scale": 18, "currency": "USD"}}"#,
        ]
        return texts.enumerated().map { [UInt8($0.offset)] + Array($0.element.utf8) }
    }
}

/// The request types the proto harness also decodes.
enum FuzzProtoTypes {
    static let types: [any ProtoMessage.Type] = {
        let methods = ProtoCatalog.protos.methods.filter { $0.key.hasPrefix("/tradewire.v1.") }.sorted { $0.key < $1.key }
        return methods.map(\.value.input) + [Tradewire_V1_Command.self]
    }()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzJSON.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if FUZZING
@_cdecl("FuzzJSON_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    LibFuzzer.run(argc, argv, fuzzOne)
}
#else
@main struct Runner {
    static func main() { FuzzMain.run(seeds: FuzzJSON.seeds, FuzzJSON.run) }
}
#endif
