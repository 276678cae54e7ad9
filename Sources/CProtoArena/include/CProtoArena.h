// A bump allocator for protobuf-c. One arena backs one decode (protobuf-c unpacks into it) or one encode
// (the C message tree is built in it); everything is released at once by tw_arena_release.
//
// Every allocation is preceded by an 8-byte header holding the size that was asked for. protobuf-c copies a
// string field into an allocation of exactly len + 1 bytes, so the header gives a string's true length even
// when it contains NUL bytes, which strlen would cut short.
#ifndef C_PROTO_ARENA_H
#define C_PROTO_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tw_arena_chunk tw_arena_chunk;

typedef struct tw_arena {
    /// Handed to protobuf-c; allocator_data points back at this arena.
    ProtobufCAllocator allocator;
    uint8_t *cursor;
    uint8_t *limit;
    /// Heap chunks taken after the caller's initial buffer ran out; freed by tw_arena_release.
    tw_arena_chunk *chunks;
    /// Bytes handed out so far, headers included.
    size_t used;
    /// Allocation fails (returns NULL) once `used` would pass this bound.
    size_t max_bytes;
    /// Set when an allocation failed because of max_bytes (rather than malformed input).
    int exhausted;
} tw_arena;

/// Starts an arena over `initial` (may be NULL with size 0). `initial` must stay valid until release.
void tw_arena_init(tw_arena *arena, void *initial, size_t size, size_t max_bytes);

/// Frees every heap chunk. The arena may not be used afterwards without tw_arena_init.
void tw_arena_release(tw_arena *arena);

/// Allocates `size` bytes aligned to 8; NULL when the bound is hit or malloc fails.
void *tw_arena_alloc(tw_arena *arena, size_t size);

/// The size asked for when `pointer` (a result of tw_arena_alloc) was allocated.
static inline size_t tw_arena_size_of(const void *pointer) {
    return ((const uint64_t *)pointer)[-1];
}

/// Copies `len` bytes into the arena and appends a NUL; NULL on failure.
char *tw_arena_strndup(tw_arena *arena, const void *bytes, size_t len);

/// Heap chunks currently held by arenas on the calling thread (an arena lives on one thread). Zero again once
/// every arena has been released: what tests check to prove that no unpacked C tree outlives its decode.
long tw_arena_thread_live_chunks(void);

/// protobuf-c's shared empty string, for proto3 fields that must be non-NULL but empty.
static inline char *tw_empty_string(void) { return (char *)protobuf_c_empty_string; }

#endif
