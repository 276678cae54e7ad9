import Foundation
import JSON
import ProtoCodec
import ProtoJSON
import Protos
import TestProtos
import TestSupport
import Testing

typealias AllKinds = Tradewire_Testing_V1_AllKinds
typealias Leaf = Tradewire_Testing_V1_Leaf

@Suite struct ProtoJSONTests {
    static let codec = ProtoJSON(catalog: ProtoCatalog.protos.merging(.testProtos))

    static func encode<M: ProtoMessage>(_ text: String, as type: M.Type) throws -> M {
        try M(serializedBytes: codec.encode(try JSONValue.parse(text), as: type))
    }

    @Test func readsAnOrderRequestWithEitherFieldNames() throws {
        let request = try Self.encode(
            #"{"client_order_id": "c-1", "symbol": "ACME", "side": "SIDE_BUY", "type": 2, "timeInForce": "TIME_IN_FORCE_IOC","#
                + #" "price": {"units": "1012500", "scale": 4}, "quantity": {"units": 300}}"#,
            as: Tradewire_V1_NewOrder.self)
        #expect(request == Tradewire_V1_NewOrder(
            clientOrderID: "c-1", symbol: "ACME", side: .buy, type: .limit, timeInForce: .ioc,
            price: .init(units: 1_012_500, scale: 4), quantity: .init(units: 300)))
    }

    @Test func everyFieldKindRoundTrips() throws {
        let json = try Self.codec.decode(PythonJSONInteropTests.allKinds.serializedBytes(), as: AllKinds.self)
        let back = try Self.encode(json.text(), as: AllKinds.self)
        #expect(back == PythonJSONInteropTests.allKinds)
    }

    @Test func anyAndDurationHaveTheirOwnForms() throws {
        let status = try Self.encode(
            #"{"code": 3, "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.500s"},"#
                + #" {"@type": "type.googleapis.com/google.protobuf.Duration", "value": "-0.000000001s"}]}"#,
            as: Google_Rpc_Status.self)
        let retry = try Google_Rpc_RetryInfo(serializedBytes: status.details[0].value)
        #expect(retry.retryDelay == Google_Protobuf_Duration(seconds: 1, nanos: 500_000_000))
        #expect(try Google_Protobuf_Duration(serializedBytes: status.details[1].value) == .init(seconds: 0, nanos: -1))
        let json = try Self.codec.decode(status.serializedBytes(), as: Google_Rpc_Status.self)
        #expect(json["details"]?.arrayValue?[0]["retryDelay"] == .string("1.500s"))
        #expect(json["details"]?.arrayValue?[1]["value"] == .string("-0.000000001s"))
    }

    @Test(arguments: [
        (#"{"symbol": "A", "sidee": "SIDE_BUY"}"#, "$.sidee: tradewire.v1.NewOrder has no field named \"sidee\""),
        (#"{"side": "SIDE_SIDEWAYS"}"#, "$.side: tradewire.v1.Side has no value named SIDE_SIDEWAYS"),
        (#"{"price": {"scale": 4294967296}}"#, "$.price.scale: 4294967296 is not an integer in the range of UInt32"),
        (#"{"price": {"units": 1.5}}"#, "$.price.units: 1.5 is not an integer"),
        (#"{"symbol": 7}"#, "$.symbol: expected a string"),
        (#"{"price": []}"#, "$.price: expected an object for tradewire.v1.Price"),
        (#"[]"#, "$: expected an object"),
        (#"{"symbol": "a\u0000b"}"#, "$.symbol: the string contains U+0000"),
    ])
    func rejectsWrongJSONWithThePath(text: String, expected: String) throws {
        let json = try JSONValue.parse(text)
        #expect {
            try Self.codec.encode(json, as: Tradewire_V1_NewOrder.self)
        } throws: { error in
            "\(error)".hasPrefix(expected)
        }
    }

    @Test func rejectsTwoMembersOfOneOneof() throws {
        let json = try JSONValue.parse(#"{"oString": "a", "oInt64": "5"}"#)
        #expect(throws: ProtoJSONError(path: "$.oInt64", reason: "\"oString\" is already set, and is in the same oneof")) {
            try Self.codec.encode(json, as: AllKinds.self)
        }
    }

    @Test func nullLeavesTheDefaultAndNumbersMayBeStrings() throws {
        let kinds = try Self.encode(
            #"{"fInt32": "-5", "fDouble": "NaN", "fFloat": "-Infinity", "fString": null, "rUint64": ["18446744073709551615", 1e3]}"#,
            as: AllKinds.self)
        #expect(kinds.fInt32 == -5 && kinds.fDouble.isNaN && kinds.fFloat == -.infinity && kinds.fString.isEmpty)
        #expect(kinds.rUint64 == [.max, 1000])
    }

    @Test func theCatalogFindsMethodsByAnyUsualSpelling() throws {
        for name in ["/grpc.testing.TestService/UnaryCall", "grpc.testing.TestService/UnaryCall", "grpc.testing.TestService.UnaryCall"] {
            let method = try #require(ProtoCatalog.protos.method(named: name))
            #expect(method.path == "/grpc.testing.TestService/UnaryCall")
            #expect(ObjectIdentifier(method.input) == ObjectIdentifier(Grpc_Testing_SimpleRequest.self))
            #expect(!method.clientStreaming && !method.serverStreaming)
        }
        let bidi = try #require(ProtoCatalog.protos.method(named: "tradewire.v1.Gateway.OrderEntry"))
        #expect(bidi.clientStreaming && bidi.serverStreaming)
        #expect(ProtoCatalog.protos.method(named: "grpc.testing.TestService.NoSuchCall") == nil)
        #expect(ProtoCatalog.protos.messages["tradewire.v1.NewOrder"].map(ObjectIdentifier.init) == ObjectIdentifier(Tradewire_V1_NewOrder.self))
    }

    @Test func invalidWireBytesAreAnError() {
        #expect(throws: ProtoJSONError.self) { try Self.codec.decode([0x0a, 0xff], as: Tradewire_V1_NewOrder.self) }
    }
}

/// The mapping against Python's protobuf `json_format`: what Python writes we read to the same message, and what
/// we write Python parses to the same message.
@Suite(.timeLimit(.minutes(2))) struct PythonJSONInteropTests {
    static let allKinds = AllKinds.everyKind

    /// The Python cases (Tests/ProtoCodecTests/Python/codec_interop.py) this suite checks, by their message type.
    static let cases: [String: any ProtoMessage.Type] = [
        "order": Tradewire_V1_Order.self, "place_orders": Tradewire_V1_PlaceOrdersRequest.self,
        "order_entry_cancel": Tradewire_V1_OrderEntryRequest.self, "status_bad_request": Google_Rpc_Status.self,
        "error_info": Google_Rpc_ErrorInfo.self, "simple_request": Grpc_Testing_SimpleRequest.self,
        "health": Grpc_Health_V1_HealthCheckResponse.self, "all_kinds": AllKinds.self,
        "oneof_empty_string": AllKinds.self, "evolved_v2": Tradewire_Testing_V1_EvolvedV2.self,
    ]

    @Test func whatPythonWritesWeReadAndWriteBackTheSame() async throws {
        let encoded = try await Self.runPython(mode: "encode", input: "")
        let written = try await Self.runPython(mode: "json", input: "")
        #expect(Set(written.compactMap { $0["case"]?.stringValue }) == Set(Self.cases.keys))
        for line in written {
            let name = try #require(line["case"]?.stringValue)
            let type = try #require(Self.cases[name])
            let pythonJSON = try JSONValue.parse(try #require(line["json"]?.stringValue))
            let pythonHex = try #require(encoded.first { $0["case"]?.stringValue == name }?["hex"]?.stringValue)
            let ours = try ProtoJSONTests.codec.encode(pythonJSON, as: type)
            // Same bytes as Python's deterministic encoding of the same message.
            #expect(Self.hex(ours) == pythonHex, "case \(name): the message read from Python's JSON differs")
            #expect(try ProtoJSONTests.codec.decode(ours, as: type) == pythonJSON, "case \(name): our JSON differs from Python's")
        }
    }

    @Test func whatWeWritePythonReads() async throws {
        let encoded = try await Self.runPython(mode: "encode", input: "")
        var input = ""
        for line in encoded {
            let name = try #require(line["case"]?.stringValue)
            let hex = try #require(line["hex"]?.stringValue)
            let type = try #require(Self.cases[name])
            let json = try ProtoJSONTests.codec.decode(try #require(Self.bytes(fromHex: hex)), as: type)
            input += JSONValue.object(["case": .string(name), "json": .string(json.text())]).text() + "\n"
        }
        let lines = try await Self.runPython(mode: "from-json", input: input)
        #expect(lines.count == Self.cases.count)
        for line in lines {
            #expect(line["equal"] == .bool(true), "case \(line["case"]?.stringValue ?? "?"): Python read a different message")
        }
    }

    static func runPython(mode: String, input: String) async throws -> [JSONValue] {
        let (status, output) = try await Peers.run(
            try Peers.python(),
            [Peers.repositoryRoot + "/Tests/ProtoCodecTests/Python/codec_interop.py", Peers.repositoryRoot + "/proto", mode],
            input: input)
        guard status == 0 else { throw Peers.Missing(description: "codec_interop.py \(mode) exited with \(status)") }
        return try output.split(separator: "\n").map { try JSONValue.parse(String($0)) }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func bytes(fromHex hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }
}
