extension Tradewire_Testing_V1_AllKinds {
    /// Every field kind set, with edge values (extremes, infinities, non-ASCII, an unknown enum value, a oneof
    /// holding a message): the codec's and the JSON mapping's shared sample, also built in Python by
    /// Tests/ProtoCodecTests/Python/codec_interop.py.
    public static let everyKind = Tradewire_Testing_V1_AllKinds(
        fDouble: -1.5e300, fFloat: 3.25, fInt32: .min, fInt64: .min, fUint32: .max, fUint64: .max,
        fSint32: -123_456, fSint64: .min, fFixed32: .max, fFixed64: .max, fSfixed32: .min, fSfixed64: -1,
        fBool: true, fString: "Grüße, 世界 😈", fBytes: [0, 0xff, 0x80, 0x7f], fEnum: .negative,
        fMessage: Tradewire_Testing_V1_Leaf(name: "leaf", value: -7), rDouble: [1.5, -2.25, .infinity], rFloat: [1, -2, .infinity],
        rInt32: [7, -1, .max, .min], rInt64: [.max, .min, 5], rUint32: [3, 1, .max], rUint64: [.max, 9],
        rSint32: [.min, .max, -1, 6], rSint64: [.min, .max, -1], rFixed32: [1, .max], rFixed64: [.max, 2],
        rSfixed32: [.min, -1], rSfixed64: [.min, .max], rBool: [true, false, true],
        rString: ["", "a", "ü", String(repeating: "x", count: 300)], rBytes: [[], [1], [0, 0, 0]],
        rEnum: [.red, .negative, .unspecified, .unrecognized(1000)],
        rMessage: [Tradewire_Testing_V1_Leaf(), Tradewire_Testing_V1_Leaf(name: "b", value: 2)],
        mStringString: ["k1": "v1", "ключ": "значение", "a": "b"],
        mInt32Leaf: [-1: Tradewire_Testing_V1_Leaf(name: "neg"), 7: Tradewire_Testing_V1_Leaf(value: 7)], mInt64Int64: [.min: .max, 5: 6],
        mBoolColor: [true: .green], mUint32Bytes: [.max: [9, 9]],
        nested: .init(level: .high, deeper: [.init(note: "one"), .init()]),
        choice: .oMessage(Tradewire_Testing_V1_Leaf(name: "in oneof")))
}
