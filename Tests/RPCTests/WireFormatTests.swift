import Testing

@testable import RPC

@Suite struct WireFormatTests {
    @Test func timeoutsParseEveryUnitAndRejectGarbage() {
        #expect(GRPCTimeout.parse("1H") == 3_600_000_000_000)
        #expect(GRPCTimeout.parse("2M") == 120_000_000_000)
        #expect(GRPCTimeout.parse("3S") == 3_000_000_000)
        #expect(GRPCTimeout.parse("4m") == 4_000_000)
        #expect(GRPCTimeout.parse("5u") == 5_000)
        #expect(GRPCTimeout.parse("99999999n") == 99_999_999)
        for bad in ["", "S", "1", "123456789S", "1x", "-1S", "1.5S"] { #expect(GRPCTimeout.parse(bad) == nil) }
    }

    @Test func timeoutsFormatInEightDigitsRoundingUp() {
        #expect(GRPCTimeout.format(nanoseconds: 1_000_000) == "1000000n")
        #expect(GRPCTimeout.format(nanoseconds: 1_000_000_001) == "1000001u")
        #expect(GRPCTimeout.format(nanoseconds: 200_000_000_000) == "200000m")
        for nanoseconds: UInt64 in [1, 999, 123_456_789_012, 3_600_000_000_000_000] {
            let parsed = GRPCTimeout.parse(GRPCTimeout.format(nanoseconds: nanoseconds))!
            #expect(parsed >= nanoseconds)
        }
    }

    @Test func statusMessagesArePercentEncodedAsTheSpecSays() {
        let message = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
        let encoded = PercentEncoding.encode(message)
        #expect(encoded == "%09%0Atest with whitespace%0D%0Aand Unicode BMP %E2%98%BA and non-BMP %F0%9F%98%88%09%0A")
        #expect(PercentEncoding.decode(encoded) == message)
        #expect(PercentEncoding.encode("100%") == "100%25")
        #expect(PercentEncoding.decode("bad %zz and %4") == "bad %zz and %4")  // lenient
    }

    @Test func httpAndResetCodesMapToStatusesAsGrpcGoDoes() {
        #expect(StatusMapping.status(forHTTPStatus: 400) == .internal)
        #expect(StatusMapping.status(forHTTPStatus: 401) == .unauthenticated)
        #expect(StatusMapping.status(forHTTPStatus: 403) == .permissionDenied)
        #expect(StatusMapping.status(forHTTPStatus: 404) == .unimplemented)
        #expect(StatusMapping.status(forHTTPStatus: 503) == .unavailable)
        #expect(StatusMapping.status(forHTTPStatus: 500) == .unknown)
        #expect(StatusMapping.status(forResetCode: 0x7) == .unavailable)
        #expect(StatusMapping.status(forResetCode: 0x8) == .cancelled)
        #expect(StatusMapping.status(forResetCode: 0xb) == .resourceExhausted)
        #expect(StatusMapping.status(forResetCode: 0x1) == .internal)
    }

    @Test func metadataKeepsUserKeysAndDropsReservedOnes() throws {
        let headers: [(name: String, value: String)] = [
            (":path", "/x"), ("content-type", "application/grpc"), ("grpc-timeout", "1S"), ("x-user", "v"),
            ("x-data-bin", "AAEC"), ("te", "trailers"),
        ]
        let metadata = try Metadata(headers: headers)
        #expect(metadata.count == 2)
        #expect(metadata["x-user"] == "v")
        #expect(metadata.binary("x-data-bin") == [0, 1, 2])
        #expect(throws: RPCError.self) { _ = try Metadata(headers: [("x-bad-bin", "###")]) }
    }

    @Test func codesAreStableAndUnknownNumbersRejected() {
        #expect(RPCError.Code(rawValue: 14) == .unavailable)
        #expect(RPCError.Code(rawValue: 17) == nil)
        #expect(RPCError.Code.resourceExhausted.description == "RESOURCE_EXHAUSTED")
    }
}
