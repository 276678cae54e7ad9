import ProtoCodec
import Testing

@Suite struct Base64Tests {
    @Test func roundTripsWithAndWithoutPadding() {
        for bytes: [UInt8] in [[], [1], [1, 2], [1, 2, 3], [0xff, 0xfe, 0xfd, 0xfc]] {
            #expect(Base64.decode(Base64.encode(bytes, padded: false)) == bytes)
            #expect(Base64.decode(Base64.encode(bytes, padded: true)) == bytes)
        }
        #expect(Base64.encode([0xab, 0xab, 0xab], padded: false) == "q6ur")
        #expect(Base64.encode([0xfb, 0xff], padded: true) == "+/8=")
    }

    @Test func theURLSafeAlphabetDecodesToo() {
        #expect(Base64.decode("-_8") == [0xfb, 0xff])
        #expect(Base64.decode("+/8=") == [0xfb, 0xff])
    }

    @Test func garbageIsRefused() {
        #expect(Base64.decode("not base64!") == nil)
        #expect(Base64.decode("a") == nil)  // an impossible length
    }
}
