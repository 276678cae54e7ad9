#include "CProtoArena.h"

#include <stdlib.h>
#include <string.h>

struct tw_arena_chunk {
    tw_arena_chunk *next;
    size_t size;
};

enum { HEADER = 8, MIN_CHUNK = 16 * 1024 };

static _Thread_local long live_chunks;

long tw_arena_thread_live_chunks(void) { return live_chunks; }

static void *arena_alloc_cb(void *data, size_t size) { return tw_arena_alloc((tw_arena *)data, size); }

static void arena_free_cb(void *data, void *pointer) {
    (void)data;
    (void)pointer;  // Released with the whole arena.
}

void tw_arena_init(tw_arena *arena, void *initial, size_t size, size_t max_bytes) {
    arena->allocator.alloc = arena_alloc_cb;
    arena->allocator.free = arena_free_cb;
    arena->allocator.allocator_data = arena;
    // Align the start of the caller's buffer so that every header and payload is 8-byte aligned.
    uintptr_t start = ((uintptr_t)initial + 7) & ~(uintptr_t)7;
    uintptr_t end = (uintptr_t)initial + size;
    arena->cursor = initial ? (uint8_t *)start : NULL;
    arena->limit = (initial && end > start) ? (uint8_t *)end : arena->cursor;
    arena->chunks = NULL;
    arena->used = 0;
    arena->max_bytes = max_bytes;
    arena->exhausted = 0;
}

void tw_arena_release(tw_arena *arena) {
    tw_arena_chunk *chunk = arena->chunks;
    while (chunk) {
        tw_arena_chunk *next = chunk->next;
        free(chunk);
        live_chunks--;
        chunk = next;
    }
    arena->chunks = NULL;
    arena->cursor = arena->limit = NULL;
}

static int arena_grow(tw_arena *arena, size_t need) {
    size_t size = MIN_CHUNK;
    if (arena->chunks && arena->chunks->size * 2 > size) size = arena->chunks->size * 2;
    if (size < need + sizeof(tw_arena_chunk) + 8) size = need + sizeof(tw_arena_chunk) + 8;
    tw_arena_chunk *chunk = malloc(size);
    if (!chunk) return 0;
    live_chunks++;
    chunk->next = arena->chunks;
    chunk->size = size;
    arena->chunks = chunk;
    arena->cursor = (uint8_t *)(((uintptr_t)(chunk + 1) + 7) & ~(uintptr_t)7);
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
