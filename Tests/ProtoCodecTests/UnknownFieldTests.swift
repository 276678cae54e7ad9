import Testing
import TestProtos

@Suite struct UnknownFieldTests {
    let newer = Tradewire_Testing_V1_EvolvedV2(
        name: "n", id: 42, note: "added later", small: 0xdead_beef, large: .max, leaf: Leaf(name: "l", value: 1),
        numbers: [1, -1, 300], delta: -99)

    @Test func anOlderSchemaKeepsNewerFieldsThroughDecodeAndEncode() throws {
        let older = try Tradewire_Testing_V1_EvolvedV1(serializedBytes: newer.serializedBytes())
        #expect(older.name == "n" && older.id == 42)
        #expect(older.unknownFields.fields.map(\.number) == [3, 4, 5, 6, 7, 8])
        #expect(older.unknownFields.fields.map(\.wireType) == [.lengthDelimited, .fixed32, .fixed64, .lengthDelimited, .lengthDelimited, .varint])
        let reencoded = older.serializedBytes()
        // Known fields first, then unknown ones in the order read: here the same bytes as the newer encoder.
        #expect(reencoded == newer.serializedBytes())
        #expect(try Tradewire_Testing_V1_EvolvedV2(serializedBytes: reencoded) == newer)
    }

    @Test func changingAKnownFieldKeepsTheUnknownOnes() throws {
        var older = try Tradewire_Testing_V1_EvolvedV1(serializedBytes: newer.serializedBytes())
        older.name = "renamed"
        var expected = newer
        expected.name = "renamed"
        #expect(try Tradewire_Testing_V1_EvolvedV2(serializedBytes: older.serializedBytes()) == expected)
    }

    @Test func unknownFieldsInNestedMessagesSurvive() throws {
        // A Leaf inside AllKinds carrying a field Leaf does not know (number 9).
        let leaf = Wire.stringField(1, "x") + Wire.varintField(9, 5)
        let bytes = Wire.bytesField(17, leaf) + Wire.varintField(999, 1)
        let message = try AllKinds(serializedBytes: bytes)
        #expect(message.fMessage?.unknownFields.fields.map(\.number) == [9])
        #expect(message.unknownFields.fields.map(\.number) == [999])
        #expect(message.serializedBytes() == bytes)
    }

    @Test func unknownFieldsCanBeBuiltFromWireFormatAndAreValidated() throws {
        let fields = try ProtoUnknownFields(wireFormat: Wire.varintField(20, 1))
        var leaf = Leaf(name: "a")
        leaf.unknownFields = fields
        #expect(leaf.serializedBytes() == Wire.stringField(1, "a") + Wire.varintField(20, 1))
        #expect(throws: ProtoDecodingError.self) { try ProtoUnknownFields(wireFormat: [0x0a, 0x05]) }
    }
}
