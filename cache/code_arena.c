/*
 * cache/code_arena.c — the dual-mapped code arena (code_arena.h).
 */
#include "cache/code_arena.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct code_arena {
    uint8_t *write_base;
    uint8_t *exec_base;
    size_t size;
    size_t used;
};

struct code_arena *code_arena_create(size_t size, struct popek_error *err)
{
    struct code_arena *arena = calloc(1, sizeof(*arena));

    if (!arena) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    arena->size = size;
    /* Shared anonymous memory, mapped twice: mremap with an old size of 0
     * makes a second mapping of the same pages. Anonymous rather than a
     * memfd, so that perf(1) resolves samples in it through
     * /tmp/perf-PID.map (-d perfmap) as it does for any JIT. */
    arena->write_base =
        mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (arena->write_base == MAP_FAILED) {
        arena->write_base = NULL;
        popek_fail(err, "cannot map the code arena for writing: %s", strerror(errno));
        goto fail;
    }
    arena->exec_base = mremap(arena->write_base, 0, size, MREMAP_MAYMOVE);
    if (arena->exec_base == MAP_FAILED ||
        mprotect(arena->exec_base, size, PROT_READ | PROT_EXEC) < 0) {
        if (arena->exec_base == MAP_FAILED)
            arena->exec_base = NULL;
        popek_fail(err, "cannot map the code arena for execution: %s", strerror(errno));
        goto fail;
    }
    return arena;
fail:
    code_arena_destroy(arena);
    return NULL;
}

void code_arena_destroy(struct code_arena *arena)
{
    if (!arena)
        return;
    if (arena->write_base)
        munmap(arena->write_base, arena->size);
    if (arena->exec_base)
        munmap(arena->exec_base, arena->size);
    free(arena);
}

uint8_t *code_arena_alloc(struct code_arena *arena, size_t n)
{
    size_t start = (arena->used + 15) & ~(size_t)15;

    if (start > arena->size || n > arena->size - start)
        return NULL;
    arena->used = start + n;
    return arena->write_base + start;
}

void code_arena_trim(struct code_arena *arena, uint8_t *end)
{
    size_t offset = (size_t)(end - arena->write_base);

    if (offset <= arena->used)
        arena->used = offset;
}

void code_arena_reset(struct code_arena *arena)
{
    arena->used = 0;
}

void *code_arena_exec_ptr(const struct code_arena *arena, const uint8_t *writable)
{
    return arena->exec_base + (writable - arena->write_base);
}

uint8_t *code_arena_write_ptr(const struct code_arena *arena, const void *exec)
{
    return arena->write_base + ((const uint8_t *)exec - arena->exec_base);
}

size_t code_arena_offset(const struct code_arena *arena, const void *exec)
{
    return (size_t)((const uint8_t *)exec - arena->exec_base);
}

bool code_arena_contains(const struct code_arena *arena, const void *exec)
{
    const uint8_t *p = exec;

    return p >= arena->exec_base && p < arena->exec_base + arena->size;
}

size_t code_arena_used(const struct code_arena *arena)
{
    return arena->used;
}

size_t code_arena_size(const struct code_arena *arena)
{
    return arena->size;
}
