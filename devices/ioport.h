/*
 * devices/ioport.h — the port-I/O bus.
 *
 * Devices claim ranges of the 64 Ki port space; in/out instructions reach them
 * through ioport_read/ioport_write. A port nobody claims reads as all ones and
 * ignores writes, as on a PC's ISA bus where nothing drives the data lines.
 * An access is dispatched whole to the device that owns its first port; the
 * device sees the access size (1, 2 or 4) and decides what a wide access to
 * its byte registers means.
 */
#ifndef POPEK_DEVICES_IOPORT_H
#define POPEK_DEVICES_IOPORT_H

#include "common/error.h"
#include "common/types.h"

struct ioport_ops {
    const char *name;
    uint32_t (*read)(void *opaque, io_port_t port, unsigned size);
    void (*write)(void *opaque, io_port_t port, unsigned size, uint32_t value);
};

struct ioport_bus;

struct ioport_bus *ioport_bus_create(void);
void ioport_bus_destroy(struct ioport_bus *bus);

/* Claims [base, base+count) for a device. Overlapping an existing claim is
 * a programming error reported through err. */
bool ioport_register(struct ioport_bus *bus, io_port_t base, unsigned count,
                     const struct ioport_ops *ops, void *opaque, struct popek_error *err);

/* size is 1, 2 or 4; values are zero-extended. */
uint32_t ioport_read(struct ioport_bus *bus, io_port_t port, unsigned size);
void ioport_write(struct ioport_bus *bus, io_port_t port, unsigned size, uint32_t value);

/* The name of the device owning port, or NULL. */
const char *ioport_owner(const struct ioport_bus *bus, io_port_t port);

#endif
