/*
 * devices/mmio.c — the memory-mapped I/O bus (mmio.h).
 *
 * A handful of regions, searched linearly: a PC has few MMIO devices, and
 * every access here already cost a host fault or a callout.
 */
#include "devices/mmio.h"

#include <stdlib.h>
#include <string.h>

#define MMIO_MAX_REGIONS 32

struct mmio_region {
    guest_phys_t base;
    uint32_t length;
    const struct mmio_ops *ops;
    void *opaque;
};

struct mmio_bus {
    struct mmio_region regions[MMIO_MAX_REGIONS];
    unsigned count;
    uint64_t accesses;
};

struct mmio_bus *mmio_bus_create(void)
{
    return calloc(1, sizeof(struct mmio_bus));
}

void mmio_bus_destroy(struct mmio_bus *bus)
{
    free(bus);
}

static const struct mmio_region *find_region(const struct mmio_bus *bus, guest_phys_t addr)
{
    for (unsigned i = 0; i < bus->count; i++) {
        const struct mmio_region *r = &bus->regions[i];
        if (addr - r->base < r->length)
            return r;
    }
    return NULL;
}

bool mmio_register(struct mmio_bus *bus, guest_phys_t base, uint32_t length,
                   const struct mmio_ops *ops, void *opaque, struct popek_error *err)
{
    if (!length || ((base | length) & (GUEST_PAGE_SIZE - 1)) ||
        (uint64_t)base + length > 0x100000000ull)
        return popek_fail(err, "mmio: %s: bad range 0x%08x+0x%x", ops->name, base, length);
    for (unsigned i = 0; i < bus->count; i++) {
        const struct mmio_region *r = &bus->regions[i];
        if (base < r->base + r->length && r->base < base + length)
            return popek_fail(err, "mmio: %s at 0x%08x overlaps %s", ops->name, base, r->ops->name);
    }
    if (bus->count == MMIO_MAX_REGIONS)
        return popek_fail(err, "mmio: too many regions");
    bus->regions[bus->count++] =
        (struct mmio_region){.base = base, .length = length, .ops = ops, .opaque = opaque};
    return true;
}

/* The largest naturally aligned piece (1, 2 or 4 bytes) at addr that fits
 * in `left` bytes. */
static unsigned piece_size(guest_phys_t addr, unsigned left)
{
    if (!(addr & 3) && left >= 4)
        return 4;
    if (!(addr & 1) && left >= 2)
        return 2;
    return 1;
}

void mmio_read(struct mmio_bus *bus, guest_phys_t addr, void *buf, unsigned len)
{
    uint8_t *out = buf;

    for (unsigned done = 0; done < len;) {
        guest_phys_t a = addr + done;
        unsigned size = piece_size(a, len - done);
        const struct mmio_region *r = find_region(bus, a);
        uint32_t value = 0xFFFFFFFFu;

        if (r) {
            value = r->ops->read ? r->ops->read(r->opaque, a - r->base, size) : 0xFFFFFFFFu;
            bus->accesses++;
        }
        memcpy(out + done, &value, size); /* little endian: the low bytes */
        done += size;
    }
}

void mmio_write(struct mmio_bus *bus, guest_phys_t addr, const void *buf, unsigned len)
{
    const uint8_t *in = buf;

    for (unsigned done = 0; done < len;) {
        guest_phys_t a = addr + done;
        unsigned size = piece_size(a, len - done);
        const struct mmio_region *r = find_region(bus, a);
        uint32_t value = 0;

        memcpy(&value, in + done, size);
        if (r && r->ops->write) {
            r->ops->write(r->opaque, a - r->base, size, value);
            bus->accesses++;
        }
        done += size;
    }
}

const char *mmio_owner(const struct mmio_bus *bus, guest_phys_t addr)
{
    const struct mmio_region *r = find_region(bus, addr);

    return r ? r->ops->name : NULL;
}

uint64_t mmio_accesses(const struct mmio_bus *bus)
{
    return bus->accesses;
}
