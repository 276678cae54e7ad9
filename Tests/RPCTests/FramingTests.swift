import Testing

@testable import RPC

@Suite struct FramingTests {
    func deframe(_ chunks: [[UInt8]], limit: Int = 1 << 20, encoding: CompressionAlgorithm = .identity) throws -> [[UInt8]] {
        var deframer = MessageDeframer(limit: limit, encoding: encoding)
        var messages: [[UInt8]] = []
        for chunk in chunks {
            try chunk.withUnsafeBytes { bytes in try deframer.append(bytes) { messages.append($0) } }
        }
        return messages
    }

    @Test func messagesSplitAnywhereAreReassembled() throws {
        let wire: [UInt8] = [0, 0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 9]
        for cut in 0...wire.count {
            let messages = try deframe([Array(wire[..<cut]), Array(wire[cut...])])
            #expect(messages == [[1, 2, 3], [], [9]])
        }
        #expect(try deframe(wire.map { [$0] }) == [[1, 2, 3], [], [9]])  // one byte at a time
    }

    @Test func anOversizedMessageIsRefusedFromItsPrefix() {
        // Only the 5-byte prefix arrives: the announced length alone is enough to refuse it.
        #expect(throws: MessageDeframer.Failure.tooLarge(announced: 2_000_000, limit: 1 << 20)) {
            _ = try deframe([[0, 0, 0x1e, 0x84, 0x80]])
        }
    }

    @Test func aCompressedFlagNeedsAnEncoding() {
        #expect(throws: MessageDeframer.Failure.compressedWithoutEncoding) { _ = try deframe([[1, 0, 0, 0, 0]]) }
        #expect(throws: MessageDeframer.Failure.badFlag(7)) { _ = try deframe([[7, 0, 0, 0, 0]]) }
    }

    @Test func gzipRoundTripsAndBombsAreStoppedAtTheLimit() throws {
        let plain = [UInt8](repeating: 42, count: 100_000)
        let framed = MessageFramer.frame(headroomed: [0, 0, 0, 0, 0] + plain, compression: .gzip)
        #expect(framed[0] == 1)
        #expect(framed.count < 1000)
        #expect(try deframe([framed], encoding: .gzip) == [plain])
        // The same 100 KB decompressed against a 10 KB limit: refused while inflating, not after.
        #expect(throws: MessageDeframer.Failure.self) { _ = try deframe([framed], limit: 10_000, encoding: .gzip) }
        #expect(throws: MessageDeframer.Failure.self) { _ = try deframe([[1, 0, 0, 0, 3, 1, 2, 3]], encoding: .gzip) }
    }

    @Test func framingWritesTheLengthPrefix() {
        let framed = MessageFramer.frame(headroomed: [9, 9, 9, 9, 9] + [1, 2, 3], compression: .identity)
        #expect(framed == [0, 0, 0, 0, 3, 1, 2, 3])
    }
}
