/*
 * devices/debug_ports.h — the two ports test kernels use to talk to the VMM.
 *
 * - Port 0xE9, the Bochs/QEMU debug console: a byte written goes to a
 *   character backend (the machine gives it COM1's, so both reach the same
 *   output); a read returns 0xE9 so a guest can detect the port.
 * - Port 0xF4 (4 ports), compatible with QEMU's isa-debug-exit device: writing
 *   v asks the VMM to exit with status (v << 1) | 1, so a guest's exit status
 *   can never be confused with a clean 0.
 */
#ifndef POPEK_DEVICES_DEBUG_PORTS_H
#define POPEK_DEVICES_DEBUG_PORTS_H

#include "devices/chardev.h"
#include "devices/ioport.h"

#define DEBUGCON_PORT   0xE9
#define DEBUG_EXIT_PORT 0xF4

/* Called when the guest writes the exit port; the monitor stops the vCPU. */
typedef void (*debug_exit_fn)(void *ctx, int exit_status);

struct debug_ports;

/* console_out may be NULL: the debug console's bytes are dropped. */
struct debug_ports *debug_ports_create(struct ioport_bus *bus, struct chardev *console_out,
                                       debug_exit_fn on_exit, void *exit_ctx,
                                       struct popek_error *err);
void debug_ports_destroy(struct debug_ports *ports);

#endif
