import Cluster
import Testing

/// SHA-256 against FIPS 180-2's examples and digests from Python's hashlib at every padding boundary (one or two
/// tail blocks, whole blocks only), for contiguous and non-contiguous inputs.
struct SHA256Tests {
    @Test func knownDigests() {
        #expect(SHA256.hex("abc".utf8) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
            == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Message byte i is (7i + 3) mod 256.
    @Test(arguments: [
        (0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (1, "084fed08b978af4d7d196a7446a86b58009e636b611db16211b65a9aadff29c5"),
        (55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"),
        (56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"),
        (63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"),
        (64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"),
        (65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"),
        (119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"),
        (120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"),
        (127, "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07"),
        (128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"),
        (200, "2c7e18c942ef065b526a2d4e5546283749cd3ddfb51d8fc71f42717363685f46"),
    ])
    func everyPaddingBoundary(length: Int, expected: String) {
        let message = (0..<length).lazy.map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        #expect(SHA256.hex(Array(message)) == expected)
        #expect(SHA256.hex(message) == expected, "a collection without contiguous storage")
    }
}

/// OrderIds derived from a client order id or an idempotency key never change: a retry after an upgrade must name
/// the same order (digests from Python's hashlib over the same inputs).
struct OrderIDsTests {
    @Test func derivedOrderIdsAreStable() {
        let ids = OrderIDs(account: "alice")
        #expect(ids.prefix == "ec26163baab19ce9")
        #expect(ids.forClientOrder("c-1") == "ec26163baab19ce9-2ad350ab6a1c7a105f247c8d6b19e4f3")
        #expect(ids.forIdempotencyKey("key-1") == "ec26163baab19ce9-e53b6f4dd570fb002290350aee5d3cdb")
        #expect(OrderIDs.isOrderID(ids.forClientOrder("c-1")) && ids.owns(ids.random()))
    }

    /// The OrderId built in place is, for any value, the one the definition gives: the prefix, "-", and the first
    /// 16 bytes of SHA-256 over "tradewire/<space>\0<prefix>\0<value>" in hex (values of every length up to past
    /// two SHA-256 blocks, multibyte text, NUL bytes, empty).
    @Test func derivedOrderIdsMatchTheirDefinition() {
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let alphabet: [String] = ["a", "Z", "0", "-", "\0", "é", "€", "🙂", " ", "/"]
        for round in 0..<400 {
            let account = round % 7 == 0 ? "acct-\(round)" : "alice"
            let ids = OrderIDs(account: account)
            let value = String((0..<Int(next() % 150)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }.joined())
            for (space, derived) in [("client-order", ids.forClientOrder(value)), ("idempotency-key", ids.forIdempotencyKey(value))] {
                let expected = ids.prefix + "-" + Hex.encode(SHA256.digest("tradewire/\(space)\0\(ids.prefix)\0\(value)".utf8).prefix(16))
                #expect(derived == expected, "\(space) \(value.debugDescription)")
            }
        }
    }
}
