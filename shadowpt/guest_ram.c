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

struct guest_ram {
    int fd;
    uint64_t size;
    uint8_t *host; /* the monitor's own mapping of the whole file */
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
    ram->fd = memfd_create("popek-guest-ram", MFD_CLOEXEC);
    if (ram->fd < 0) {
        popek_fail(err, "memfd_create for guest RAM failed: %s", strerror(errno));
        free(ram);
        return NULL;
    }
    /* ftruncate gives a sparse file: pages cost host memory only once touched. */
    if (ftruncate(ram->fd, (off_t)size) < 0) {
        popek_fail(err, "cannot size guest RAM to %llu MiB: %s", (unsigned long long)(size >> 20),
                   strerror(errno));
        close(ram->fd);
        free(ram);
        return NULL;
    }
    ram->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, ram->fd, 0);
    if (ram->host == MAP_FAILED) {
        popek_fail(err, "cannot map guest RAM: %s", strerror(errno));
        close(ram->fd);
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
    return true;
}

void *guest_ram_host_ptr(const struct guest_ram *ram, guest_phys_t addr, uint64_t len)
{
    if (!guest_ram_contains(ram, addr, len))
        return NULL;
    return ram->host + addr;
}
