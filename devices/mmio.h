/*
 * devices/mmio.h — the memory-mapped I/O bus.
 *
 * Devices claim ranges of guest-physical address space that is not RAM (the
 * legacy VGA window, the APICs, ...). popek never maps those ranges into a
 * view: every guest access to them faults (or, once an instruction is known
 * to touch device memory, calls out) and is emulated here, one device
 * access at a time. An access of 1, 2 or 4 bytes that is naturally aligned
 * reaches the device whole; anything else (unaligned, 8 and 16 bytes, x87
 * twords) is split into the naturally aligned pieces of at most 4 bytes a
 * PC's bus would issue, lowest address first. Addresses nobody claims read
 * as all ones and ignore writes.
 */
#ifndef POPEK_DEVICES_MMIO_H
#define POPEK_DEVICES_MMIO_H

#include "common/error.h"
#include "common/types.h"

struct mmio_ops {
    const char *name;
    /* offset is relative to the claimed base; size is 1, 2 or 4 and the
     * access is naturally aligned. Values are zero-extended. */
    uint32_t (*read)(void *opaque, guest_phys_t offset, unsigned size);
    void (*write)(void *opaque, guest_phys_t offset, unsigned size, uint32_t value);
};

struct mmio_bus;

struct mmio_bus *mmio_bus_create(void);
void mmio_bus_destroy(struct mmio_bus *bus);

/* Claims [base, base+length) for a device (page aligned; overlapping an
 * existing claim is a programming error reported through err). */
bool mmio_register(struct mmio_bus *bus, guest_phys_t base, uint32_t length,
                   const struct mmio_ops *ops, void *opaque, struct popek_error *err);

/* Reads or writes `len` bytes at a physical address (wrapping at 4 GiB). */
void mmio_read(struct mmio_bus *bus, guest_phys_t addr, void *buf, unsigned len);
void mmio_write(struct mmio_bus *bus, guest_phys_t addr, const void *buf, unsigned len);

/* The name of the device claiming addr, or NULL. */
const char *mmio_owner(const struct mmio_bus *bus, guest_phys_t addr);

/* Device accesses made so far (for statistics). */
uint64_t mmio_accesses(const struct mmio_bus *bus);

#endif
