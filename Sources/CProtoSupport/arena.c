#include "CProtoSupport.h"

#include <stdlib.h>
#include <string.h>

struct tw_arena_chunk {
    tw_arena_chunk *next;
    size_t size;
};

/// A thread's arena starts with a chunk of FIRST_CHUNK bytes and keeps, from one use to the next, its largest chunk
/// up to KEEP_MAX bytes (so at most 1 MiB per thread stays allocated between uses).
enum { HEADER = 8, FIRST_CHUNK = 16 * 1024, KEEP_MAX = 1024 * 1024 };

static _Thread_local tw_arena thread_arena;
static _Thread_local long live_chunks;

long tw_arena_thread_live_chunks(void) { return live_chunks; }

static void *arena_alloc_cb(void *data, size_t size) { return tw_arena_alloc((tw_arena *)data, size); }

static void arena_free_cb(void *data, void *pointer) {
    (void)data;
    (void)pointer;  // Released with the whole arena.
}

static uint8_t *chunk_start(tw_arena_chunk *chunk) {
    return (uint8_t *)(((uintptr_t)(chunk + 1) + 7) & ~(uintptr_t)7);
}

static void arena_reset(tw_arena *arena, size_t max_bytes) {
    arena->allocator.alloc = arena_alloc_cb;
    arena->allocator.free = arena_free_cb;
    arena->allocator.allocator_data = arena;
    arena->chunks = NULL;
    arena->cursor = arena->first ? chunk_start(arena->first) : NULL;
    arena->limit = arena->first ? (uint8_t *)arena->first + arena->first->size : NULL;
    arena->used = 0;
    arena->max_bytes = max_bytes;
    arena->exhausted = 0;
}

tw_arena *tw_arena_acquire(size_t max_bytes) {
    tw_arena *arena = &thread_arena;
    if (arena->busy) {
        arena = calloc(1, sizeof(tw_arena));
        if (!arena) return NULL;
        arena->owned = 1;
    } else if (!arena->first) {
        arena->first = malloc(FIRST_CHUNK);  // Kept for the thread's lifetime: one chunk per thread (see KEEP_MAX).
        if (arena->first) arena->first->size = FIRST_CHUNK;
    }
    arena->busy = 1;
    arena_reset(arena, max_bytes);
    return arena;
}

void tw_arena_release(tw_arena *arena) {
    // A thread's arena keeps its largest chunk up to KEEP_MAX as its first one: the next decode of a batch that size
    // then touches pages already mapped. Freed and allocated again each time, a chunk of 256 KiB or more was a
    // fresh mmap (tradewire's M_MMAP_THRESHOLD) whose every page faulted: 6% of risk's and 2% of the gateway's
    // samples decoding event batches.
    tw_arena_chunk *keep = NULL;
    if (!arena->owned) {
        size_t kept = arena->first ? arena->first->size : 0;
        for (tw_arena_chunk *chunk = arena->chunks; chunk; chunk = chunk->next) {
            if (chunk->size > kept && chunk->size <= KEEP_MAX) {
                keep = chunk;
                kept = chunk->size;
            }
        }
    }
    tw_arena_chunk *chunk = arena->chunks;
    while (chunk) {
        tw_arena_chunk *next = chunk->next;
        if (chunk != keep) free(chunk);
        live_chunks--;
        chunk = next;
    }
    if (keep) {
        free(arena->first);
        keep->next = NULL;
        arena->first = keep;
    }
    arena->chunks = NULL;
    arena->busy = 0;
    if (arena->owned) free(arena);
}

static int arena_grow(tw_arena *arena, size_t need) {
    // Each chunk twice the last (the first spill twice the first chunk) up to KEEP_MAX, or what one allocation needs:
    // a spill then outgrows the chunk the thread keeps and becomes the kept one, so a tree of up to KEEP_MAX bytes
    // needs no chunk once built (smaller spills than the kept chunk, or larger than KEEP_MAX, would recur at every use).
    tw_arena_chunk *last = arena->chunks ? arena->chunks : arena->first;
    size_t size = last ? last->size * 2 : FIRST_CHUNK;
    if (size < FIRST_CHUNK) size = FIRST_CHUNK;
    if (size > KEEP_MAX) size = KEEP_MAX;
    if (size < need + sizeof(tw_arena_chunk) + 8) size = need + sizeof(tw_arena_chunk) + 8;
    tw_arena_chunk *chunk = malloc(size);
    if (!chunk) return 0;
    live_chunks++;
    chunk->next = arena->chunks;
    chunk->size = size;
    arena->chunks = chunk;
    arena->cursor = chunk_start(chunk);
    arena->limit = (uint8_t *)chunk + size;
    return 1;
}

void *tw_arena_alloc(tw_arena *arena, size_t size) {
    size_t need = HEADER + ((size + 7) & ~(size_t)7);
    if (need < size || arena->used + need > arena->max_bytes) {
        arena->exhausted = 1;
        return NULL;
    }
    if ((size_t)(arena->limit - arena->cursor) < need && !arena_grow(arena, need)) return NULL;
    uint8_t *block = arena->cursor;
    arena->cursor += need;
    arena->used += need;
    *(uint64_t *)block = size;
    return block + HEADER;
}

char *tw_arena_strndup(tw_arena *arena, const void *bytes, size_t len) {
    char *copy = tw_arena_alloc(arena, len + 1);
    if (!copy) return NULL;
    if (len) memcpy(copy, bytes, len);
    copy[len] = 0;
    return copy;
}
