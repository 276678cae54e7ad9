internal import CProtoArena
internal import CProtobufC

#if canImport(Glibc)
import Glibc
#endif

/// The memory one decode or one encode works in: protobuf-c unpacks into it, and an encode builds its C tree
/// in it. Everything is released together when ``withArena(maxBytes:_:)`` returns.
///
/// A `ProtoArena` is only valid inside the closure that received it, on that thread; no pointer it handed out
/// may be kept past the closure.
public struct ProtoArena {
    @usableFromInline let raw: OpaquePointer

    var arena: UnsafeMutablePointer<tw_arena> { UnsafeMutablePointer(raw) }

    /// Bytes of stack the arena starts with; larger messages spill into heap chunks.
    static let stackBytes = 2048

    /// Runs `body` with a fresh arena that may allocate at most `maxBytes`.
    public static func withArena<R, E: Error>(maxBytes: Int, _ body: (ProtoArena) throws(E) -> R) throws(E) -> R {
        let result: Result<R, E> = withUnsafeTemporaryAllocation(
            byteCount: MemoryLayout<tw_arena>.stride + stackBytes, alignment: 16
        ) { buffer in
            let arena = buffer.baseAddress!.bindMemory(to: tw_arena.self, capacity: 1)
            let initial = buffer.baseAddress! + MemoryLayout<tw_arena>.stride
            tw_arena_init(arena, initial, stackBytes, maxBytes)
            defer { tw_arena_release(arena) }
            do throws(E) {
                return .success(try body(ProtoArena(raw: OpaquePointer(arena))))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
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

    /// Heap chunks held by arenas on the calling thread right now (for tests: zero outside any arena).
    public static var liveChunksOnThisThread: Int { tw_arena_thread_live_chunks() }

    static func pack(_ message: UnsafeMutableRawPointer, headroom: Int) -> [UInt8] {
        let base = message.assumingMemoryBound(to: ProtobufCMessage.self)
        let size = protobuf_c_message_get_packed_size(base)
        return [UInt8](unsafeUninitializedCapacity: headroom + size) { buffer, count in
            if headroom > 0 { buffer.baseAddress!.initialize(repeating: 0, count: headroom) }
            let written = protobuf_c_message_pack(base, buffer.baseAddress! + headroom)
            precondition(written == size, "protobuf-c packed \(written) bytes, announced \(size)")
            count = headroom + size
        }
    }

    static func packedSize(_ message: UnsafeMutableRawPointer) -> Int {
        protobuf_c_message_get_packed_size(message.assumingMemoryBound(to: ProtobufCMessage.self))
    }
}
