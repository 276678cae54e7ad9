import Testing
import TestProtos

@Suite struct ArenaTests {
    @Test func everyDecodeAndEncodeReleasesItsCTree() throws {
        // Large enough that the C tree spills from the arena's stack buffer into heap chunks.
        let message = AllKinds(fBytes: Array(repeating: 7, count: 100_000), rString: (0..<500).map { "s\($0)" })
        let encoded = message.serializedBytes()
        let before = ProtoArena.liveChunksOnThisThread
        var inside = 0
        ProtoArena.withArena(maxBytes: .max) { arena in
            _ = message._buildC(in: arena)
            inside = ProtoArena.liveChunksOnThisThread
        }
        #expect(inside > before)
        for _ in 0..<200 {
            _ = try AllKinds(serializedBytes: encoded)
            _ = message.serializedBytes()
            _ = try? AllKinds(serializedBytes: Array(encoded.dropLast(3)))  // failed decodes release too
        }
        #expect(ProtoArena.liveChunksOnThisThread == before)
    }

    @Test func allocationsAreAlignedAndRecordTheirSize() {
        ProtoArena.withArena(maxBytes: .max) { arena in
            for size in [1, 3, 8, 13, 4096, 100_000] {
                let pointer = arena.allocate(byteCount: size)
                #expect(Int(bitPattern: pointer) % 8 == 0)
            }
        }
    }
}
