// Support for driving protobuf-c from Swift: a bump allocator protobuf-c unpacks into and encodes from, and a
// UTF-8 validator (protobuf-c does not validate strings; other gRPC stacks reject invalid UTF-8).
//
// Every arena allocation is preceded by an 8-byte header holding the size that was asked for. protobuf-c copies
// a string field into an allocation of exactly len + 1 bytes, so the header gives a string's true length even
// when it contains NUL bytes, which strlen would cut short.
#ifndef C_PROTO_SUPPORT_H
#define C_PROTO_SUPPORT_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tw_arena_chunk tw_arena_chunk;

typedef struct tw_arena {
    /// Handed to protobuf-c; allocator_data points back at this arena.
    ProtobufCAllocator allocator;
    uint8_t *cursor;
    uint8_t *limit;
    /// Heap chunks taken after the first one ran out; freed by tw_arena_release.
    tw_arena_chunk *chunks;
    /// The chunk the arena starts from; kept across uses of a thread's arena (its largest chunk up to 1 MiB).
    tw_arena_chunk *first;
    /// Bytes handed out so far, headers included.
    size_t used;
    /// Allocation fails (returns NULL) once `used` would pass this bound.
    size_t max_bytes;
    /// Set when an allocation failed because of max_bytes (rather than malformed input).
    int exhausted;
    /// Set while the thread's arena is in use; a nested acquire gets a heap arena of its own.
    int busy;
    /// Whether tw_arena_release frees the arena itself (a nested, heap-allocated arena).
    int owned;
} tw_arena;

/// An empty arena for the calling thread, allocating at most `max_bytes`. It reuses the thread's first chunk
/// from one use to the next; if the thread's arena is already in use, a separate heap arena is returned.
/// NULL only when out of memory. Every acquire must be paired with tw_arena_release on the same thread.
tw_arena *tw_arena_acquire(size_t max_bytes);

/// Frees what the arena allocated (the thread arena keeps its first chunk for the next use).
void tw_arena_release(tw_arena *arena);

/// Allocates `size` bytes aligned to 8; NULL when the bound is hit or malloc fails.
void *tw_arena_alloc(tw_arena *arena, size_t size);

/// The size asked for when `pointer` (a result of tw_arena_alloc) was allocated.
static inline size_t tw_arena_size_of(const void *pointer) {
    return ((const uint64_t *)pointer)[-1];
}

/// Copies `len` bytes into the arena and appends a NUL; NULL on failure.
char *tw_arena_strndup(tw_arena *arena, const void *bytes, size_t len);

/// Heap chunks currently held by arenas on the calling thread, beyond each thread's retained first chunk. Zero
/// again once every arena has been released: what tests check to prove that no C tree outlives its use.
long tw_arena_thread_live_chunks(void);

/// protobuf-c's shared empty string, for proto3 fields that must be non-NULL but empty.
static inline char *tw_empty_string(void) { return (char *)protobuf_c_empty_string; }

/// Whether `bytes` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
int tw_utf8_valid(const uint8_t *bytes, size_t len);

#endif
