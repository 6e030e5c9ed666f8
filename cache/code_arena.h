/*
 * cache/code_arena.h — memory for translated code, W^X.
 *
 * The arena is one region of shared anonymous memory mapped twice: a
 * read/write mapping the translator writes through and a read/execute
 * mapping translated code runs from. No page is ever writable and
 * executable through the same address. Allocation is a
 * bump pointer; the only way to free is code_arena_reset (flush-all), so the
 * eviction policy above it decides when that happens.
 *
 * Usage:
 *     struct code_arena *a = code_arena_create(MIB(64), &err);
 *     uint8_t *w = code_arena_alloc(a, n);        // write code here
 *     void *x = code_arena_exec_ptr(a, w);        // ...and jump here
 */
#ifndef POPEK_CACHE_CODE_ARENA_H
#define POPEK_CACHE_CODE_ARENA_H

#include "common/error.h"
#include "common/types.h"

struct code_arena;

struct code_arena *code_arena_create(size_t size, struct popek_error *err);
void code_arena_destroy(struct code_arena *arena);

/* Reserves n bytes (16-byte aligned start); NULL when the arena is full. */
uint8_t *code_arena_alloc(struct code_arena *arena, size_t n);

/* Returns unused bytes at the end of the last allocation (a block that turned
 * out shorter than reserved). `end` is the writable address after its code. */
void code_arena_trim(struct code_arena *arena, uint8_t *end);

/* Forgets every allocation; the caller must have dropped all references. */
void code_arena_reset(struct code_arena *arena);

/* The executable alias of a writable address, and back. */
void *code_arena_exec_ptr(const struct code_arena *arena, const uint8_t *writable);
uint8_t *code_arena_write_ptr(const struct code_arena *arena, const void *exec);

/* The offset of an executable address from the start of the arena. */
size_t code_arena_offset(const struct code_arena *arena, const void *exec);
/* True when p is an executable address inside the arena. */
bool code_arena_contains(const struct code_arena *arena, const void *exec);

size_t code_arena_used(const struct code_arena *arena);
size_t code_arena_size(const struct code_arena *arena);

#endif
