import Testing
import TestProtos

@Suite struct ArenaTests {
    @Test func everyDecodeAndEncodeReleasesItsCTree() throws {
        // Larger than the chunk a thread's arena keeps (1 MiB), so the C tree always spills into heap chunks.
        let message = AllKinds(fBytes: Array(repeating: 7, count: 2_000_000), rString: (0..<500).map { "s\($0)" })
        let encoded = message.serializedBytes()
        let before = ProtoArena.liveChunksOnThisThread
        var inside = 0
        ProtoArena.withArena(maxBytes: .max) { arena in
            _ = message._buildC(in: arena)
            inside = ProtoArena.liveChunksOnThisThread
        }
        #expect(inside > before)
        for _ in 0..<20 {
            _ = try AllKinds(serializedBytes: encoded)
            _ = message.serializedBytes()
            _ = try? AllKinds(serializedBytes: Array(encoded.dropLast(3)))  // failed decodes release too
        }
        #expect(ProtoArena.liveChunksOnThisThread == before)
    }

    /// A thread's arena keeps its largest chunk (up to 1 MiB) as its first: once a batch of some size was built,
    /// the next one of that size takes no chunk from malloc (a fresh mmap whose every page faulted, past 256 KiB).
    @Test func aThreadsArenaKeepsRoomForTheBatchesItBuilds() {
        let message = AllKinds(fBytes: Array(repeating: 7, count: 300_000), rString: (0..<2_000).map { "s\($0)" })
        let before = ProtoArena.liveChunksOnThisThread
        func chunksTaken() -> Int {
            var inside = 0
            ProtoArena.withArena(maxBytes: .max) { arena in
                _ = message._buildC(in: arena)
                inside = ProtoArena.liveChunksOnThisThread
            }
            return inside - before
        }
        for _ in 0..<4 { _ = chunksTaken() }
        #expect(chunksTaken() == 0)
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
