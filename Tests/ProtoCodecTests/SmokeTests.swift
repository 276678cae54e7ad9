import Testing
import TestProtos

@Test func smoke() throws {
    let leaf = Tradewire_Testing_V1_Leaf(name: "a", value: 150)
    let bytes = leaf.serializedBytes()
    #expect(bytes == [0x0a, 0x01, 0x61, 0x10, 0x96, 0x01])
    let back = try Tradewire_Testing_V1_Leaf(serializedBytes: bytes)
    #expect(back == leaf)
    var all = Tradewire_Testing_V1_AllKinds()
    all.fString = "héllo"
    all.rMessage = [leaf, leaf]
    all.mStringString = ["b": "2", "a": "1"]
    all.mInt32Leaf = [3: leaf]
    all.choice = .oString("")
    all.nested = .init(level: .high, deeper: [.init(note: "x")])
    all.rEnum = [.red, .unrecognized(77)]
    all.fBytes = [0, 1, 2]
    let decoded = try Tradewire_Testing_V1_AllKinds(serializedBytes: all.serializedBytes())
    #expect(decoded == all)
}
