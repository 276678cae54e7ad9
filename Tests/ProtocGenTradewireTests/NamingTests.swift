import Testing

@testable import ProtocGenTradewire

@Suite struct NamingTests {
    @Test func cNamesFollowProtocC() {
        #expect(CNames.type("tradewire.v1.AllKinds.Nested") == "Tradewire__V1__AllKinds__Nested")
        #expect(CNames.type("x.v1.T.MStringStringEntry") == "X__V1__T__MStringStringEntry")
        #expect(CNames.type("grpc.health.v1.HealthCheckResponse") == "Grpc__Health__V1__HealthCheckResponse")
        #expect(CNames.functionPrefix("tradewire.v1.AllKinds") == "tradewire__v1__all_kinds")
        #expect(CNames.functionPrefix("tradewire.testing.v1.EvolvedV1") == "tradewire__testing__v1__evolved_v1")
        #expect(CNames.functionPrefix("x.v1.T.MEntry") == "x__v1__t__mentry")
        #expect(CNames.member("fooBar") == "foobar")
        #expect(CNames.member("new") == "new_")
        #expect(CNames.member("self") == "`self`")  // a Swift keyword once more
        #expect(CNames.oneofCase("Kind") == "kind_case")
        #expect(CNames.oneofCaseType(message: "x.v1.T", oneof: "my_choice") == "X__V1__T__MyChoiceCase")
    }

    @Test func swiftNamesFollowSwiftProtobufConventions() {
        #expect(SwiftNames.typePrefix(package: "tradewire.v1", swiftPrefix: nil) == "Tradewire_V1_")
        #expect(SwiftNames.typePrefix(package: "grpc.health.v1", swiftPrefix: nil) == "Grpc_Health_V1_")
        #expect(SwiftNames.typePrefix(package: "my_pkg.v2", swiftPrefix: nil) == "MyPkg_V2_")
        #expect(SwiftNames.typePrefix(package: "tradewire.v1", swiftPrefix: "TW") == "TW")
        #expect(SwiftNames.property("client_order_id") == "clientOrderID")
        #expect(SwiftNames.property("id") == "id")
        #expect(SwiftNames.property("type_url") == "typeURL")
        #expect(SwiftNames.property("unknown_fields") == "unknownFields_p")
        #expect(SwiftNames.escaped(SwiftNames.property("class")) == "`class`")
        #expect(SwiftNames.nestedType("Type") == "TypeMessage")
    }

    @Test func enumCasesLoseTheirPrefix() {
        #expect(SwiftNames.enumCase("SIDE_BUY", enumName: "Side") == "buy")
        #expect(SwiftNames.enumCase("ORDER_STATUS_PARTIALLY_FILLED", enumName: "OrderStatus") == "partiallyFilled")
        #expect(SwiftNames.enumCase("TIME_IN_FORCE_GTC", enumName: "TimeInForce") == "gtc")
        #expect(SwiftNames.enumCase("SERVICE_UNKNOWN", enumName: "ServingStatus") == "serviceUnknown")
        #expect(SwiftNames.enumCase("CANDLE_INTERVAL_1S", enumName: "CandleInterval") == "_1s")
        #expect(SwiftNames.enumCase("UNRECOGNIZED", enumName: "Mode") == "unrecognized_")
        #expect(SwiftNames.upperSnake("OrderStatus") == "ORDER_STATUS")
    }
}
