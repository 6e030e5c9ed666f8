/*
 * devices/i8042.h — the PC's 8042 keyboard controller at 0x60/0x64, with a
 * PS/2 keyboard on its first port and nothing on its auxiliary port.
 *
 *   0x60  read: output buffer (IRQ 1 for keyboard bytes, IRQ 12 for aux)
 *         write: data — a command's argument, else a byte for the keyboard
 *   0x64  read: status   write: controller command
 *
 * What guests use it for: Linux's i8042 and atkbd drivers probe it (self
 * test, command byte, the aux loop-back and IRQ 12 test, keyboard reset
 * and identify), and a reboot pulses the CPU's reset line through it
 * (command 0xFE, or the output port's bit 0). Keys from the host are not
 * delivered yet (the console is the serial port).
 *
 * The reset line calls reset_line(ctx, why); the machine then resets as
 * after a triple fault. The A20 gate bit of the output port is kept and
 * read back, but popek's A20 is always enabled.
 */
#ifndef POPEK_DEVICES_I8042_H
#define POPEK_DEVICES_I8042_H

#include "common/snapshot.h"
#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/platform.h"

#define I8042_DATA_PORT   0x60
#define I8042_STATUS_PORT 0x64
#define I8042_KBD_IRQ     1
#define I8042_AUX_IRQ     12

struct i8042;

/* Creates the controller in the state a BIOS leaves it (command byte 0x61:
 * translation on, aux port disabled, keyboard interrupt on; self-tested,
 * so the status's system flag is set) and claims 0x60 and 0x64. irq may be
 * NULL. */
struct i8042 *i8042_create(struct ioport_bus *bus, struct irq_router *irq,
                           platform_reset_fn reset_line, void *reset_ctx, struct popek_error *err);
void i8042_destroy(struct i8042 *kbc);

/* Back to the BIOS state above; pending bytes are dropped, IRQs lowered. */
void i8042_reset(struct i8042 *kbc);

/* Saved state (devices/platform.h): the controller's status, command
 * byte, output port, output buffer and queues, the keyboard's queue and
 * settings, and the IRQ 1/12 levels. */
#define I8042_STATE_VERSION 1
void i8042_save(const struct i8042 *kbc, struct snap_writer *w);
bool i8042_load(struct i8042 *kbc, struct snap_section *s);

#endif
