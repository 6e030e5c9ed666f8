/*
 * shadowpt/guest_ram.c — the memfd behind guest-physical memory (guest_ram.h).
 */
#include "shadowpt/guest_ram.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The monitor's mapping is entered in the host's page tables a chunk at a
 * time, at the first access to the chunk: on a host whose page faults are
 * costly (16 us for a minor fault on the shadowing hypervisor these
 * machines run on, measured), one MADV_POPULATE_WRITE of 16 fresh pages
 * costs 24 us and the first-touch fault of one page 17, and guest code
 * that touches fresh memory through the monitor (emulated accesses,
 * page-table walks, loaders) touches its neighbours too. */
#define RAM_CHUNK_SHIFT 16 /* 64 KiB */

struct guest_ram {
    int fd;
    uint64_t size;
    uint8_t *host;       /* the monitor's own mapping of the whole file */
    uint64_t *populated; /* one bit per chunk of `host` entered by populate_chunks */
    size_t populated_words;
};

struct guest_ram *guest_ram_create(uint64_t size, struct popek_error *err)
{
    if (size < GUEST_RAM_MIN_SIZE || size > GUEST_RAM_MAX_SIZE || size % GUEST_PAGE_SIZE) {
        popek_fail(err, "guest RAM size %llu MiB is out of range (%llu to %llu MiB)",
                   (unsigned long long)(size >> 20), (unsigned long long)(GUEST_RAM_MIN_SIZE >> 20),
                   (unsigned long long)(GUEST_RAM_MAX_SIZE >> 20));
        return NULL;
    }

    struct guest_ram *ram = calloc(1, sizeof(*ram));
    if (!ram) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    ram->size = size;
    ram->populated_words = (size >> RAM_CHUNK_SHIFT) / 64 + 1;
    ram->populated = calloc(ram->populated_words, sizeof(uint64_t));
    if (!ram->populated) {
        popek_fail(err, "out of memory");
        free(ram);
        return NULL;
    }
    ram->fd = memfd_create("popek-guest-ram", MFD_CLOEXEC);
    if (ram->fd < 0) {
        popek_fail(err, "memfd_create for guest RAM failed: %s", strerror(errno));
        free(ram->populated);
        free(ram);
        return NULL;
    }
    /* ftruncate gives a sparse file: pages cost host memory only once touched. */
    if (ftruncate(ram->fd, (off_t)size) < 0) {
        popek_fail(err, "cannot size guest RAM to %llu MiB: %s", (unsigned long long)(size >> 20),
                   strerror(errno));
        close(ram->fd);
        free(ram->populated);
        free(ram);
        return NULL;
    }
    ram->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, ram->fd, 0);
    if (ram->host == MAP_FAILED) {
        popek_fail(err, "cannot map guest RAM: %s", strerror(errno));
        close(ram->fd);
        free(ram->populated);
        free(ram);
        return NULL;
    }
    return ram;
}

void guest_ram_destroy(struct guest_ram *ram)
{
    if (!ram)
        return;
    munmap(ram->host, ram->size);
    close(ram->fd);
    free(ram->populated);
    free(ram);
}

uint64_t guest_ram_size(const struct guest_ram *ram)
{
    return ram->size;
}

int guest_ram_fd(const struct guest_ram *ram)
{
    return ram->fd;
}

bool guest_ram_contains(const struct guest_ram *ram, guest_phys_t addr, uint64_t len)
{
    return (uint64_t)addr <= ram->size && len <= ram->size - addr;
}

bool guest_ram_is_usable_frame(const struct guest_ram *ram, uint32_t frame)
{
    uint64_t addr = (uint64_t)frame << GUEST_PAGE_SHIFT;

    if (addr >= ram->size)
        return false;
    return addr < GUEST_RAM_LOW_END || addr >= GUEST_RAM_HIGH_START;
}

bool guest_ram_clear(struct guest_ram *ram, struct popek_error *err)
{
    /* Punching a hole frees the pages; they read back as zero. */
    if (fallocate(ram->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)ram->size) < 0)
        return popek_fail(err, "cannot clear guest RAM: %s", strerror(errno));
    memset(ram->populated, 0, ram->populated_words * sizeof(uint64_t));
    return true;
}

/* Enters the chunks of [addr, addr+len) not entered yet in the host's page
 * tables. A failure (out of host memory) is left to the access itself. */
static void populate_chunks(const struct guest_ram *ram, uint64_t addr, uint64_t len)
{
    uint64_t first = addr >> RAM_CHUNK_SHIFT,
             last = (addr + (len ? len - 1 : 0)) >> RAM_CHUNK_SHIFT;

    for (uint64_t c = first; c <= last; c++) {
        uint64_t bit = 1ull << (c & 63);
        if (ram->populated[c / 64] & bit)
            continue;
        ram->populated[c / 64] |= bit;
        uint64_t start = c << RAM_CHUNK_SHIFT, bytes = (uint64_t)1 << RAM_CHUNK_SHIFT;
        if (start + bytes > ram->size)
            bytes = ram->size - start;
        madvise(ram->host + start, bytes, MADV_POPULATE_WRITE);
    }
}

void *guest_ram_host_ptr(const struct guest_ram *ram, guest_phys_t addr, uint64_t len)
{
    if (!guest_ram_contains(ram, addr, len))
        return NULL;
    populate_chunks(ram, addr, len);
    return ram->host + addr;
}

/* ---- saved state ---- */

#define RAM_RUN_END 0xFFFFFFFFu

static bool page_is_zero(const uint8_t *page)
{
    const uint64_t *q = (const uint64_t *)page;

    for (size_t i = 0; i < GUEST_PAGE_SIZE / sizeof(*q); i++) {
        if (q[i])
            return false;
    }
    return true;
}

/* Writes the non-zero pages of [from, to) (frame numbers) as runs. */
static void ram_save_range(const struct guest_ram *ram, uint32_t from, uint32_t to,
                           struct snap_writer *w)
{
    uint32_t frame = from;

    while (frame < to) {
        while (frame < to && page_is_zero(ram->host + (uint64_t)frame * GUEST_PAGE_SIZE))
            frame++;
        uint32_t first = frame;
        while (frame < to && !page_is_zero(ram->host + (uint64_t)frame * GUEST_PAGE_SIZE))
            frame++;
        if (frame == first)
            break;
        snap_put_u32(w, first);
        snap_put_u32(w, frame - first);
        snap_put_bytes(w, ram->host + (uint64_t)first * GUEST_PAGE_SIZE,
                       (size_t)(frame - first) * GUEST_PAGE_SIZE);
    }
}

void guest_ram_save(const struct guest_ram *ram, struct snap_writer *w)
{
    uint32_t frames = (uint32_t)(ram->size / GUEST_PAGE_SIZE);
    off_t at = 0;

    snap_put_u64(w, ram->size);
    while ((uint64_t)at < ram->size) {
        off_t data = lseek(ram->fd, at, SEEK_DATA);
        if (data < 0) {
            /* ENXIO: only a hole is left. Anything else (a file system
             * without SEEK_DATA): save the rest as if all of it were data. */
            if (errno != ENXIO)
                ram_save_range(ram, (uint32_t)((uint64_t)at / GUEST_PAGE_SIZE), frames, w);
            break;
        }
        off_t hole = lseek(ram->fd, data, SEEK_HOLE);
        if (hole < 0 || (uint64_t)hole > ram->size)
            hole = (off_t)ram->size;
        uint32_t from = (uint32_t)((uint64_t)data / GUEST_PAGE_SIZE);
        uint32_t to = (uint32_t)(((uint64_t)hole + GUEST_PAGE_SIZE - 1) / GUEST_PAGE_SIZE);
        ram_save_range(ram, from, to < frames ? to : frames, w);
        at = (off_t)to * GUEST_PAGE_SIZE;
    }
    snap_put_u32(w, RAM_RUN_END);
}

bool guest_ram_load(struct guest_ram *ram, struct snap_section *s)
{
    uint64_t frames = ram->size / GUEST_PAGE_SIZE;
    uint64_t next = 0; /* runs come in order, without overlap */
    uint64_t size = snap_get_u64(s);

    if (!snap_check_config(s, size == ram->size, "RAM of another size (see -m)"))
        return false;
    for (;;) {
        uint32_t first = snap_get_u32(s);
        if (s->bad || first == RAM_RUN_END)
            break;
        uint32_t count = snap_get_u32(s);
        if (!snap_check(s, count > 0 && first >= next && (uint64_t)first + count <= frames,
                        "a run of pages out of order or outside RAM"))
            break;
        const uint8_t *bytes = snap_get_span(s, (size_t)count * GUEST_PAGE_SIZE);
        if (!bytes)
            break;
        memcpy(guest_ram_host_ptr(ram, (guest_phys_t)first << GUEST_PAGE_SHIFT,
                                  (uint64_t)count * GUEST_PAGE_SIZE),
               bytes, (size_t)count * GUEST_PAGE_SIZE);
        next = (uint64_t)first + count;
    }
    return !s->bad;
}
