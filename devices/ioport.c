/*
 * devices/ioport.c — the port-I/O bus (ioport.h).
 *
 * Dispatch is one table lookup: a byte per port holding the index of its
 * device (0 = unclaimed), so in/out callouts cost no search.
 */
#include "devices/ioport.h"

#include <stdlib.h>

#include "common/log.h"

#define IOPORT_MAX_DEVICES 255

struct ioport_device {
    const struct ioport_ops *ops;
    void *opaque;
};

struct ioport_bus {
    uint8_t owner[65536];
    unsigned ndevices;
    struct ioport_device devices[IOPORT_MAX_DEVICES + 1]; /* [0] unused */
};

struct ioport_bus *ioport_bus_create(void)
{
    return calloc(1, sizeof(struct ioport_bus));
}

void ioport_bus_destroy(struct ioport_bus *bus)
{
    free(bus);
}

bool ioport_register(struct ioport_bus *bus, io_port_t base, unsigned count,
                     const struct ioport_ops *ops, void *opaque, struct popek_error *err)
{
    if (count == 0 || base + count > 65536u)
        return popek_fail(err, "ioport: %s claims a bad range 0x%x+%u", ops->name, base, count);
    if (bus->ndevices == IOPORT_MAX_DEVICES)
        return popek_fail(err, "ioport: too many devices registering %s", ops->name);
    for (unsigned p = base; p < base + count; p++) {
        if (bus->owner[p])
            return popek_fail(err, "ioport: %s claims port 0x%x already owned by %s", ops->name, p,
                              bus->devices[bus->owner[p]].ops->name);
    }
    unsigned index = ++bus->ndevices;
    bus->devices[index].ops = ops;
    bus->devices[index].opaque = opaque;
    for (unsigned p = base; p < base + count; p++)
        bus->owner[p] = (uint8_t)index;
    return true;
}

static uint32_t size_mask(unsigned size)
{
    return size >= 4 ? 0xFFFFFFFFu : (1u << (size * 8)) - 1;
}

uint32_t ioport_read(struct ioport_bus *bus, io_port_t port, unsigned size)
{
    const struct ioport_device *dev = &bus->devices[bus->owner[port]];
    uint32_t value;

    if (dev->ops && dev->ops->read)
        value = dev->ops->read(dev->opaque, port, size) & size_mask(size);
    else
        value = size_mask(size); /* floating bus */
    if (log_enabled(LOG_IOPORT))
        log_printf("ioport: in%c 0x%04x -> 0x%x (%s)\n", "?bw?l"[size], port, value,
                   dev -> ops ? dev -> ops -> name : "unclaimed");
    return value;
}

void ioport_write(struct ioport_bus *bus, io_port_t port, unsigned size, uint32_t value)
{
    const struct ioport_device *dev = &bus->devices[bus->owner[port]];

    value &= size_mask(size);
    if (log_enabled(LOG_IOPORT))
        log_printf("ioport: out%c 0x%04x <- 0x%x (%s)\n", "?bw?l"[size], port, value,
                   dev -> ops ? dev -> ops -> name : "unclaimed");
    if (dev->ops && dev->ops->write)
        dev->ops->write(dev->opaque, port, size, value);
}

const char *ioport_owner(const struct ioport_bus *bus, io_port_t port)
{
    const struct ioport_device *dev = &bus->devices[bus->owner[port]];

    return dev->ops ? dev->ops->name : NULL;
}
