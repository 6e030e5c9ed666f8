/*
 * devices/debug_ports.c — debug console (0xE9) and debug exit (0xF4)
 * (debug_ports.h).
 */
#include "devices/debug_ports.h"

#include <stdlib.h>

struct debug_ports {
    struct chardev *out;
    debug_exit_fn on_exit;
    void *exit_ctx;
};

static uint32_t debugcon_read(void *opaque, io_port_t port, unsigned size)
{
    return DEBUGCON_PORT; /* the readback value QEMU and Bochs use */
}

static void debugcon_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct debug_ports *ports = opaque;
    uint8_t byte = (uint8_t)value;

    if (ports->out)
        chardev_write(ports->out, &byte, 1);
}

static void debug_exit_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct debug_ports *ports = opaque;

    ports->on_exit(ports->exit_ctx, (int)((value << 1) | 1));
}

static const struct ioport_ops debugcon_ops = {
    .name = "debugcon",
    .read = debugcon_read,
    .write = debugcon_write,
};

static const struct ioport_ops debug_exit_ops = {
    .name = "debug-exit",
    .write = debug_exit_write,
};

struct debug_ports *debug_ports_create(struct ioport_bus *bus, struct chardev *console_out,
                                       debug_exit_fn on_exit, void *exit_ctx,
                                       struct popek_error *err)
{
    struct debug_ports *ports = calloc(1, sizeof(*ports));

    if (!ports) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    ports->out = console_out;
    ports->on_exit = on_exit;
    ports->exit_ctx = exit_ctx;
    if (!ioport_register(bus, DEBUGCON_PORT, 1, &debugcon_ops, ports, err) ||
        !ioport_register(bus, DEBUG_EXIT_PORT, 4, &debug_exit_ops, ports, err)) {
        free(ports);
        return NULL;
    }
    return ports;
}

void debug_ports_destroy(struct debug_ports *ports)
{
    free(ports);
}
