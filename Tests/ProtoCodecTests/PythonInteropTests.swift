import Foundation
import Protos
import TestSupport
import Testing
import TestProtos

/// Interoperability with a protobuf implementation we did not write: Python's `protobuf` package (PyPI).
/// Python encodes each case and we decode it; we encode each case and Python decodes it; and where protobuf's
/// encoding is deterministic the two encoders must produce the same bytes.
@Suite(.timeLimit(.minutes(2))) struct PythonInteropTests {
    // The same messages as `cases()` in Python/codec_interop.py (one by one: a single literal is too much for
    // the type checker).
    static let order: Tradewire_V1_Order = Tradewire_V1_Order(
        orderID: .init(value: "ord-7f3a9c"), account: "ACME-01", clientOrderID: "cl-0001", symbol: "ACME",
        side: .sell, type: .limit, timeInForce: .ioc, price: .init(units: 1_012_500, scale: 4),
        quantity: .init(units: 300, scale: 0), status: .partiallyFilled, filledQuantity: .init(units: 100),
        leavesQuantity: .init(units: 200), filledNotional: .init(units: 101_250_000, scale: 4, currency: "USD"),
        averagePrice: "101.2500", createdAtUnixNanos: 1_790_000_000_123_456_789,
        updatedAtUnixNanos: 1_790_000_000_223_456_789, version: 3, batchID: "batch-ü")
    static let placeOrders: Tradewire_V1_PlaceOrdersRequest = Tradewire_V1_PlaceOrdersRequest(
        batchID: "b-42",
        orders: (0..<3).map { i in
            Tradewire_V1_NewOrder(
                clientOrderID: "c\(i)", symbol: "SYM\(i)", side: .buy, type: .limit, timeInForce: .gtc,
                price: .init(units: Int64(100 + i), scale: 2), quantity: .init(units: Int64(10 * (i + 1))))
        })
    static let orderEntryCancel: Tradewire_V1_OrderEntryRequest = Tradewire_V1_OrderEntryRequest(
        correlationID: "corr-9", request: .cancel(.init(order: .init(clientOrderID: "cl-0001"))))
    static let statusBadRequest: Google_Rpc_Status = Google_Rpc_Status(
        code: 3, message: "invalid order ☺",
        details: [
            Google_Protobuf_Any(
                typeURL: "type.googleapis.com/google.rpc.BadRequest",
                value: Google_Rpc_BadRequest(fieldViolations: [
                    .init(field: "order.price", description_p: "not on the tick grid"),
                    .init(field: "order.quantity", description_p: "below the minimum"),
                ]).serializedBytes())
        ])
    static let errorInfo: Google_Rpc_ErrorInfo = Google_Rpc_ErrorInfo(
        reason: "RISK_MAX_ORDER_QUANTITY", domain: "tradewire.io", metadata: ["limit": "1000", "asked": "1500"])
    static let simpleRequest: Grpc_Testing_SimpleRequest = Grpc_Testing_SimpleRequest(
        responseSize: 314_159, payload: .init(body: [UInt8](repeating: 0, count: 271_828)), fillUsername: true,
        responseStatus: .init(code: 2, message: "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"))
    static let health: Grpc_Health_V1_HealthCheckResponse = Grpc_Health_V1_HealthCheckResponse(status: .notServing)
    static let allKinds: AllKinds = .everyKind
    static let oneofEmptyString: AllKinds = AllKinds(choice: .oString(""))
    static let evolvedV2: Tradewire_Testing_V1_EvolvedV2 = Tradewire_Testing_V1_EvolvedV2(
        name: "n", id: 42, note: "added later", small: 0xdead_beef, large: .max, leaf: Leaf(name: "l", value: 1),
        numbers: [1, -1, 300], delta: -99)

    static let cases: [String: any ProtoMessage] = [
        "order": order,
        "place_orders": placeOrders,
        "order_entry_cancel": orderEntryCancel,
        "status_bad_request": statusBadRequest,
        "error_info": errorInfo,
        "simple_request": simpleRequest,
        "health": health,
        "all_kinds": allKinds,
        "oneof_empty_string": oneofEmptyString,
        "evolved_v2": evolvedV2,
    ]

    @Test func pythonEncodesWhatWeDecodeAndByteIdentically() async throws {
        let lines = try await Self.runPython(mode: "encode", input: "")
        #expect(Set(lines.map { $0["case"] as! String }) == Set(Self.cases.keys))
        for line in lines {
            let name = line["case"] as! String
            let pythonBytes = try #require(Self.bytes(fromHex: line["hex"] as! String))
            let expected = try #require(Self.cases[name])
            let decoded = try Self.decode(pythonBytes, as: expected)
            #expect(Self.equal(decoded, expected), "case \(name): Python's encoding decodes to a different value")
            #expect(expected.serializedBytes() == pythonBytes, "case \(name): encodings differ")
        }
    }

    @Test func weEncodeWhatPythonDecodes() async throws {
        let input = Self.cases.map { name, message in
            "{\"case\": \"\(name)\", \"hex\": \"\(Self.hex(message.serializedBytes()))\"}"
        }.joined(separator: "\n")
        let lines = try await Self.runPython(mode: "decode", input: input + "\n")
        #expect(lines.count == Self.cases.count)
        for line in lines {
            #expect(line["equal"] as? Bool == true, "case \(line["case"] ?? "?"): Python decoded a different value")
        }
    }

    @Test func anOlderSchemaHereKeepsWhatANewerSchemaInPythonSent() async throws {
        let lines = try await Self.runPython(mode: "encode", input: "")
        let line = try #require(lines.first { $0["case"] as? String == "evolved_v2" })
        let pythonBytes = try #require(Self.bytes(fromHex: line["hex"] as! String))
        let older = try Tradewire_Testing_V1_EvolvedV1(serializedBytes: pythonBytes)
        #expect(older.serializedBytes() == pythonBytes)
    }

    // MARK: - Running Python

    static func runPython(mode: String, input: String) async throws -> [[String: Any]] {
        let (status, output) = try await Peers.run(
            try Peers.python(),
            [Peers.repositoryRoot + "/Tests/ProtoCodecTests/Python/codec_interop.py", Peers.repositoryRoot + "/proto", mode],
            input: input)
        guard status == 0 else { throw Peers.Missing(description: "codec_interop.py \(mode) exited with \(status)") }
        return try output.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    // MARK: - Helpers

    static func decode(_ bytes: [UInt8], as example: any ProtoMessage) throws -> any ProtoMessage {
        func open<M: ProtoMessage>(_: M) throws -> any ProtoMessage { try M(serializedBytes: bytes) }
        return try open(example)
    }

    static func equal(_ a: any ProtoMessage, _ b: any ProtoMessage) -> Bool {
        func open<M: ProtoMessage>(_ a: M) -> Bool { (b as? M) == a }
        return open(a)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func bytes(fromHex hex: String) -> [UInt8]? {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            result.append(byte)
            index = next
        }
        return result
    }
}
