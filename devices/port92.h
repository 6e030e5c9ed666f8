/*
 * devices/port92.h — System Control Port A at 0x92 (the PS/2 "fast A20
 * and reset" port every PC chipset keeps).
 *
 *   D0  fast reset: writing 1 where it read 0 pulses the CPU's reset line
 *   D1  A20 gate (read back as written; popek's A20 is always enabled)
 *   D2-D7  kept and read back (security lock, watchdog, disk lights on the
 *          PS/2; nothing on a virtual PC)
 *
 * After reset it reads 0x02 (A20 on), as QEMU's does under SeaBIOS.
 */
#ifndef POPEK_DEVICES_PORT92_H
#define POPEK_DEVICES_PORT92_H

#include "common/snapshot.h"
#include "devices/ioport.h"
#include "devices/platform.h"

#define PORT92_PORT 0x92

struct port92;

struct port92 *port92_create(struct ioport_bus *bus, platform_reset_fn reset_line, void *reset_ctx,
                             struct popek_error *err);
void port92_destroy(struct port92 *p);

/* The reset line clears D0 (the pulse is over); the A20 bit stays. */
void port92_reset(struct port92 *p);

/* Saved state (devices/platform.h): the register, A20 included. */
#define PORT92_STATE_VERSION 1
void port92_save(const struct port92 *p, struct snap_writer *w);
bool port92_load(struct port92 *p, struct snap_section *s);

#endif
