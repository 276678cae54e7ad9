import Testing
import TestProtos

@Suite struct EdgeCaseTests {
    @Test func fourMebibytePayloadsRoundTrip() throws {
        let size = 4 << 20
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let text = String(repeating: "é", count: size / 2)  // 4 MiB of two-byte UTF-8
        let message = AllKinds(fString: text, fBytes: bytes)
        let encoded = message.serializedBytes()
        #expect(encoded.count > 2 * size)
        let decoded = try AllKinds(serializedBytes: encoded)
        #expect(decoded.fBytes == bytes)
        #expect(decoded.fString == text)
    }

    @Test func manyRepeatedAndNestedElementsRoundTrip() throws {
        let message = AllKinds(
            rInt64: (0..<100_000).map { Int64($0) * 3 - 150_000 },
            rString: (0..<10_000).map { "s\($0)" },
            rMessage: (0..<10_000).map { Leaf(name: "leaf \($0)", value: Int64($0)) },
            mInt32Leaf: Dictionary(uniqueKeysWithValues: (0..<1000).map { (Int32($0), Leaf(value: Int64($0))) }),
            nested: .init(deeper: (0..<1000).map { .init(note: "\($0)") }))
        #expect(try AllKinds(serializedBytes: message.serializedBytes()) == message)
    }

    @Test func everyTruncationOfAValidMessageIsAnErrorNotACrash() throws {
        let encoded = everyFieldSet().serializedBytes()
        var failures = 0
        for length in 0..<encoded.count {
            do {
                _ = try AllKinds(serializedBytes: Array(encoded[0..<length]))
            } catch {
                #expect(error.kind == .malformed)
                failures += 1
            }
        }
        // A cut that falls between two fields leaves a valid (shorter) message; every other cut must fail.
        #expect(failures > encoded.count * 9 / 10)
    }

    @Test func truncatedFieldsAreMalformed() {
        let cases: [[UInt8]] = [
            [0x0a],  // tag of a string, no length
            [0x0a, 0x05, 0x61],  // length 5, one byte
            [0x10, 0x96],  // varint cut in the middle
            [0x4d, 0x01, 0x00],  // fixed32 with three bytes
            [0x51, 0x01],  // fixed64 with one byte
            [0x10] + Array(repeating: 0xff, count: 11),  // varint longer than 10 bytes
            [0x0b],  // wire type 3 (group start): unsupported
            [0x00, 0x01],  // field number 0
        ]
        for bytes in cases {
            #expect(throws: ProtoDecodingError.self) { try Leaf(serializedBytes: bytes) }
        }
    }

    @Test func wrongWireTypeForAKnownFieldIsMalformed() {
        // Field 2 of Leaf is int64 (varint); sent as length-delimited.
        #expect(throws: ProtoDecodingError.self) { try Leaf(serializedBytes: Wire.bytesField(2, [1, 2])) }
    }

    @Test func randomGarbageNeverCrashes() {
        var generator = SeededGenerator(seed: 42)
        var decoded = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...64, using: &generator)
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if (try? AllKinds(serializedBytes: bytes)) != nil { decoded += 1 }
        }
        #expect(decoded < 20_000)  // Most garbage is rejected; what decodes is some valid message.
    }

    @Test func mutatedValidMessagesNeverCrash() throws {
        var generator = SeededGenerator(seed: 7)
        let valid = everyFieldSet().serializedBytes()
        for _ in 0..<5_000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if let message = try? AllKinds(serializedBytes: bytes) {
                // Whatever decoded must encode and decode again to the same value (compared as bytes: a
                // mutation may make a double NaN, which is not equal to itself).
                let once = message.serializedBytes()
                let again = try AllKinds(serializedBytes: once)
                #expect(again.serializedBytes() == once)
            }
        }
    }

    @Test func invalidUTF8IsRejectedInEveryKindOfStringField() {
        let invalid: [UInt8] = [0x61, 0xff, 0x62]  // 0xff never occurs in UTF-8
        let overlong: [UInt8] = [0xc0, 0xaf]  // overlong encoding of "/"
        let surrogate: [UInt8] = [0xed, 0xa0, 0x80]  // UTF-16 surrogate half
        for bad in [invalid, overlong, surrogate] {
            let inputs: [(String, [UInt8])] = [
                ("f_string", Wire.bytesField(14, bad)),
                ("r_string", Wire.bytesField(34, bad)),
                ("o_string", Wire.bytesField(50, bad)),
                ("m_string_string", Wire.bytesField(40, Wire.bytesField(1, bad))),
                ("name", Wire.bytesField(17, Wire.bytesField(1, bad))),
            ]
            for (field, bytes) in inputs {
                let error = #expect(throws: ProtoDecodingError.self) { try AllKinds(serializedBytes: bytes) }
                #expect(error?.kind == .invalidUTF8)
                #expect(error?.message.contains(field) == true, "\(error?.message ?? "") should name \(field)")
            }
        }
    }

    @Test func stringsHoldingNULRoundTripInEveryPosition() throws {
        let withNUL = "a\u{0}b\u{0}"
        let message = AllKinds(
            fString: withNUL, rString: ["x", withNUL, ""], mStringString: [withNUL: withNUL, "k": "v"],
            choice: .oString("\u{0}"))
        let decoded = try AllKinds(serializedBytes: message.serializedBytes())
        #expect(decoded == message)
    }

    @Test func stringsHoldingNULFromAnotherEncoderDecodeWhole() throws {
        let bytes = Wire.bytesField(14, [0x61, 0x00, 0x62]) + Wire.bytesField(34, [0x00])
        let message = try AllKinds(serializedBytes: bytes)
        #expect(message.fString == "a\u{0}b")
        #expect(message.rString == ["\u{0}"])
    }

    @Test func decodingMemoryIsBounded() throws {
        // 100,000 empty sub-messages: 2 bytes each on the wire, a C struct each in memory.
        let bytes = Array((0..<100_000).map { _ in Wire.bytesField(37, []) }.joined())
        let tight = ProtoDecodingLimits(expansion: 4, slack: 0)
        let error = #expect(throws: ProtoDecodingError.self) { try AllKinds(serializedBytes: bytes, limits: tight) }
        #expect(error?.kind == .tooLarge)
        #expect(try AllKinds(serializedBytes: bytes).rMessage.count == 100_000)
    }
}
