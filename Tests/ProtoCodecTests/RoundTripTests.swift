import Testing
import TestProtos

typealias AllKinds = Tradewire_Testing_V1_AllKinds
typealias Leaf = Tradewire_Testing_V1_Leaf
typealias Color = Tradewire_Testing_V1_Color

/// Every field of AllKinds set to a value that is not the default, including the extremes of each type.
func everyFieldSet() -> AllKinds {
    AllKinds(
        fDouble: -1.5e300, fFloat: 3.25, fInt32: .min, fInt64: .min, fUint32: .max, fUint64: .max,
        fSint32: -123_456, fSint64: .min, fFixed32: .max, fFixed64: .max, fSfixed32: .min, fSfixed64: -1,
        fBool: true, fString: "Grüße, 世界 😈", fBytes: [0, 0xff, 0x80, 0x7f], fEnum: .negative,
        fMessage: Leaf(name: "leaf", value: -7),
        rDouble: [0, -0.0, .infinity, -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude],
        rFloat: [1, -2, .infinity], rInt32: [0, -1, .max, .min], rInt64: [.max, .min, 0],
        rUint32: [0, 1, .max], rUint64: [.max, 0], rSint32: [.min, .max, -1, 0], rSint64: [.min, .max, -1],
        rFixed32: [1, .max], rFixed64: [.max, 2], rSfixed32: [.min, -1], rSfixed64: [.min, .max],
        rBool: [true, false, true], rString: ["", "a", "ü", String(repeating: "x", count: 300)],
        rBytes: [[], [1], [0, 0, 0]], rEnum: [.red, .negative, .unspecified, .unrecognized(1000)],
        rMessage: [Leaf(), Leaf(name: "b", value: 2)],
        mStringString: ["": "empty key", "k": "", "ключ": "значение"],
        mInt32Leaf: [-1: Leaf(name: "neg"), 0: Leaf(), 7: Leaf(value: 7)],
        mInt64Int64: [.min: .max, 0: 0], mBoolColor: [true: .green, false: .unrecognized(-5)],
        mUint32Bytes: [.max: [9, 9], 0: []],
        nested: .init(level: .high, deeper: [.init(note: "one"), .init()]),
        choice: .oMessage(Leaf(name: "in oneof")))
}

@Suite struct RoundTripTests {
    @Test func everyFieldKindSurvivesARoundTrip() throws {
        let message = everyFieldSet()
        let decoded = try AllKinds(serializedBytes: message.serializedBytes())
        #expect(decoded == message)
    }

    @Test(arguments: [
        AllKinds.OneOf_Choice.oString("text"), .oString(""), .oInt64(0), .oInt64(.min), .oMessage(Leaf()),
        .oMessage(Leaf(name: "x")), .oBytes([]), .oBytes([1, 2]), .oEnum(.unspecified), .oEnum(.unrecognized(99)),
    ])
    func everyOneofCaseSurvivesARoundTrip(_ choice: AllKinds.OneOf_Choice) throws {
        let message = AllKinds(choice: choice)
        #expect(try AllKinds(serializedBytes: message.serializedBytes()).choice == choice)
    }

    @Test func defaultMessageEncodesToNothingAndDecodesFromNothing() throws {
        #expect(AllKinds().serializedBytes().isEmpty)
        #expect(try AllKinds(serializedBytes: []) == AllKinds())
        #expect(Tradewire_Testing_V1_Empty().serializedBytes().isEmpty)
        #expect(try Tradewire_Testing_V1_Empty(serializedBytes: []) == Tradewire_Testing_V1_Empty())
    }

    @Test func emptyMessageKeepsWhatItDoesNotKnow() throws {
        let bytes = Wire.varintField(1, 5) + Wire.stringField(2, "x")
        let empty = try Tradewire_Testing_V1_Empty(serializedBytes: bytes)
        #expect(!empty.unknownFields.isEmpty)
        #expect(empty.serializedBytes() == bytes)
    }

    @Test func encodingMatchesTheWireFormatByteForByte() throws {
        #expect(Leaf(name: "a", value: 150).serializedBytes() == [0x0a, 0x01, 0x61, 0x10, 0x96, 0x01])
        // Negative int32 is a 10-byte varint; sint32 is zigzag; proto3 repeated scalars are packed.
        #expect(AllKinds(fInt32: -1).serializedBytes() == [0x18] + Array(repeating: 0xff, count: 9) + [0x01])
        #expect(AllKinds(fSint32: -1).serializedBytes() == [0x38, 0x01])
        #expect(AllKinds(rInt32: [1, 2, 300]).serializedBytes() == [0xba, 0x01, 0x04, 0x01, 0x02, 0xac, 0x02])
        #expect(AllKinds(fFixed32: 1).serializedBytes() == [0x4d, 0x01, 0x00, 0x00, 0x00])
    }

    @Test func unpackedRepeatedScalarsAreAcceptedToo() throws {
        // A proto2-style sender writes each element with its own tag; proto3 parsers must accept that.
        let bytes = Wire.varintField(23, 1) + Wire.varintField(23, 2) + Wire.varintField(23, 3)
        #expect(try AllKinds(serializedBytes: bytes).rInt32 == [1, 2, 3])
    }

    @Test func lastValueWinsForRepeatedSingularFieldsAndOneofs() throws {
        let scalars = Wire.varintField(3, 1) + Wire.varintField(3, 2)
        #expect(try AllKinds(serializedBytes: scalars).fInt32 == 2)
        let oneof = Wire.stringField(50, "first") + Wire.varintField(51, 9)
        #expect(try AllKinds(serializedBytes: oneof).choice == .oInt64(9))
        let mapDuplicates =
            Wire.bytesField(40, Wire.stringField(1, "k") + Wire.stringField(2, "old"))
            + Wire.bytesField(40, Wire.stringField(1, "k") + Wire.stringField(2, "new"))
        #expect(try AllKinds(serializedBytes: mapDuplicates).mStringString == ["k": "new"])
    }

    @Test func sameSubMessageTwiceIsMerged() throws {
        // Protobuf merges a singular message field that appears twice.
        let bytes = Wire.bytesField(17, Wire.stringField(1, "n")) + Wire.bytesField(17, Wire.varintField(2, 4))
        #expect(try AllKinds(serializedBytes: bytes).fMessage == Leaf(name: "n", value: 4))
    }

    @Test func mapsEncodeInKeyOrderWhateverTheInsertionOrder() {
        var first = AllKinds()
        var second = AllKinds()
        let keys = (0..<200).map { "key-\($0)" }
        for key in keys { first.mStringString[key] = key }
        for key in keys.reversed() { second.mStringString[key] = key }
        #expect(first.serializedBytes() == second.serializedBytes())
    }

    @Test func unknownEnumValuesSurviveEverywhere() throws {
        let message = AllKinds(
            fEnum: .unrecognized(12345), rEnum: [.unrecognized(-2)], mBoolColor: [true: .unrecognized(3)],
            choice: .oEnum(.unrecognized(77)))
        #expect(try AllKinds(serializedBytes: message.serializedBytes()) == message)
        #expect(Color(rawValue: 1) == .red)
        #expect(Color(rawValue: 1).rawValue == 1)
        #expect(Color.unrecognized(9).rawValue == 9)
    }

    @Test func keywordNamedFieldsWork() throws {
        let message = Tradewire_Testing_V1_Keywords(
            class: "c", new: 1, default: true, self_p: "s", type: "t", protocol: 2, kind: .return, switch: .case("k"))
        #expect(try Tradewire_Testing_V1_Keywords(serializedBytes: message.serializedBytes()) == message)
    }

    @Test func headroomPrecedesTheMessage() {
        let leaf = Leaf(name: "a", value: 150)
        #expect(leaf.serializedBytes(headroom: 5) == [0, 0, 0, 0, 0] + leaf.serializedBytes())
        #expect(leaf.serializedSize == 6)
    }
}
