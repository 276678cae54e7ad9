import Foundation
import Synchronization
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

    /// A thread's arena keeps its largest chunk (up to 1 MiB) as its first: once a tree of some size was built, the
    /// next one of that size takes no chunk from malloc (a fresh mmap whose every page faulted, past 256 KiB). On a
    /// fresh thread (a thread's arena outlives tests): after a tree with one 300 KB block (the kept chunk is then
    /// about that size), trees of 20,000 small strings (~0.8 MB) must make a spill outgrow it, and never spill again.
    @Test func aThreadsArenaKeepsRoomForTheTreesItBuilds() {
        let large = AllKinds(fBytes: Array(repeating: 7, count: 300_000))
        let many = AllKinds(rString: (0..<20_000).map { "s\($0)" })
        let taken = Mutex<[Int]>([])
        let done = DispatchSemaphore(value: 0)
        Thread {
            let before = ProtoArena.liveChunksOnThisThread
            for message in [large] + Array(repeating: many, count: 4) {
                var inside = 0
                ProtoArena.withArena(maxBytes: .max) { arena in
                    _ = message._buildC(in: arena)
                    inside = ProtoArena.liveChunksOnThisThread
                }
                taken.withLock { $0.append(inside - before) }
            }
            taken.withLock { $0.append(ProtoArena.liveChunksOnThisThread - before) }
            done.signal()
        }.start()
        done.wait()
        let counts = taken.withLock { $0 }
        #expect(counts[1] > 0 && counts.suffix(3) == [0, 0, 0], "chunks taken per tree, then left: \(counts)")
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
