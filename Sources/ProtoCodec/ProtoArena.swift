internal import CProtoSupport
internal import CProtobufC

/// The memory one decode or one encode works in: protobuf-c unpacks into it, and an encode builds its C tree in
/// it. Everything is released together by ``release()``.
///
/// ``acquire(maxBytes:)`` hands out the calling thread's arena, whose first chunk is kept from one use to the
/// next, so a small message is decoded or encoded without touching malloc for its C tree. A nested acquire on the
/// same thread gets a separate heap arena. Every acquire must be paired with one release on the same thread,
/// with no suspension point in between; no pointer the arena handed out may be used after the release.
public struct ProtoArena {
    let raw: OpaquePointer

    var arena: UnsafeMutablePointer<tw_arena> { UnsafeMutablePointer(raw) }

    /// The calling thread's arena, empty, allowed to allocate at most `maxBytes`.
    public static func acquire(maxBytes: Int) -> ProtoArena {
        guard let arena = tw_arena_acquire(maxBytes) else { fatalError("ProtoArena: out of memory") }
        return ProtoArena(raw: OpaquePointer(arena))
    }

    /// Frees everything allocated since ``acquire(maxBytes:)``.
    public func release() {
        tw_arena_release(arena)
    }

    /// Runs `body` with an arena that is released when `body` returns.
    public static func withArena(maxBytes: Int, _ body: (ProtoArena) -> Void) {
        let arena = acquire(maxBytes: maxBytes)
        defer { arena.release() }
        body(arena)
    }

    /// The `ProtobufCAllocator *` to pass to protobuf-c's unpack functions.
    public var allocator: OpaquePointer {
        OpaquePointer(UnsafeMutableRawPointer(arena))  // `allocator` is the first member of tw_arena.
    }

    /// Whether an allocation failed because of the arena's bound (as opposed to bad input).
    public var isExhausted: Bool { arena.pointee.exhausted != 0 }

    /// `byteCount` bytes aligned to 8. Traps when the arena's bound is hit, which only an encode (unbounded)
    /// could do, and only when the process is out of memory.
    public func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        guard let pointer = tw_arena_alloc(arena, byteCount) else {
            fatalError("ProtoArena: out of memory allocating \(byteCount) bytes")
        }
        return pointer
    }

    /// Room for one C struct of type `T`, uninitialised: generated code runs protoc-c's `__init` on it.
    @inlinable
    public func allocate<T>(_ type: T.Type) -> UnsafeMutablePointer<T> {
        allocate(byteCount: MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: 1)
    }

    /// A C array holding a copy of `values`; nil for an empty array (protobuf-c reads no pointer for count 0).
    @inlinable
    public func copy<T: BitwiseCopyable>(_ values: [T]) -> UnsafeMutablePointer<T>? {
        if values.isEmpty { return nil }
        return values.withUnsafeBytes { source in
            let target = allocate(byteCount: source.count)
            target.copyMemory(from: source.baseAddress!, byteCount: source.count)
            return target.bindMemory(to: T.self, capacity: values.count)
        }
    }

    /// A C array of `count` elements of `T`, uninitialised (the caller fills every element).
    @inlinable
    public func array<T>(of type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        allocate(byteCount: MemoryLayout<T>.stride * count).bindMemory(to: T.self, capacity: count)
    }

    /// Heap chunks held by arenas on the calling thread beyond its retained first chunk (for tests: zero outside
    /// any arena).
    public static var liveChunksOnThisThread: Int { tw_arena_thread_live_chunks() }

    /// protobuf-c's wire format of `message` (a `ProtobufCMessage *`), after `headroom` zero bytes.
    public static func pack(_ message: UnsafeMutableRawPointer, headroom: Int) -> [UInt8] {
        precondition(headroom >= 0, "negative headroom")
        let base = message.assumingMemoryBound(to: ProtobufCMessage.self)
        let size = protobuf_c_message_get_packed_size(base)
        // An empty message: `Array(unsafeUninitializedCapacity: 0)` hands out the shared empty-array storage and
        // then writes its count, which ThreadSanitizer rightly flags when two threads pack empty messages at once.
        guard headroom + size > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: headroom + size) { buffer, count in
            if headroom > 0 { buffer.baseAddress!.initialize(repeating: 0, count: headroom) }
            let written = protobuf_c_message_pack(base, buffer.baseAddress! + headroom)
            precondition(written == size, "protobuf-c packed \(written) bytes, announced \(size)")
            count = headroom + size
        }
    }

    /// The size of `message`'s wire format.
    public static func packedSize(_ message: UnsafeMutableRawPointer) -> Int {
        protobuf_c_message_get_packed_size(message.assumingMemoryBound(to: ProtobufCMessage.self))
    }
}
