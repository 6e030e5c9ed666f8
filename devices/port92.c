/*
 * devices/port92.c — System Control Port A (port92.h).
 */
#include "devices/port92.h"

#include <stdlib.h>

#define PORT92_FAST_RESET 0x01
#define PORT92_A20        0x02

struct port92 {
    uint8_t value;
    platform_reset_fn reset_line;
    void *reset_ctx;
};

static uint32_t port92_read(void *opaque, io_port_t port, unsigned size)
{
    const struct port92 *p = opaque;

    return p->value;
}

static void port92_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct port92 *p = opaque;
    uint8_t old = p->value;

    p->value = (uint8_t)value;
    if ((p->value & PORT92_FAST_RESET) && !(old & PORT92_FAST_RESET))
        p->reset_line(p->reset_ctx, "port 0x92: fast reset bit set");
}

static const struct ioport_ops port92_ops = {
    .name = "port92",
    .read = port92_read,
    .write = port92_write,
};

void port92_reset(struct port92 *p)
{
    p->value &= ~PORT92_FAST_RESET;
}

struct port92 *port92_create(struct ioport_bus *bus, platform_reset_fn reset_line, void *reset_ctx,
                             struct popek_error *err)
{
    struct port92 *p = calloc(1, sizeof(*p));

    if (!p) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    p->value = PORT92_A20;
    p->reset_line = reset_line;
    p->reset_ctx = reset_ctx;
    if (!ioport_register(bus, PORT92_PORT, 1, &port92_ops, p, err)) {
        free(p);
        return NULL;
    }
    return p;
}

void port92_destroy(struct port92 *p)
{
    free(p);
}

void port92_save(const struct port92 *p, struct snap_writer *w)
{
    snap_put_u8(w, p->value);
}

/* The fast-reset bit is saved as the guest left it: restoring it is no
 * 0 → 1 edge, so no reset. */
bool port92_load(struct port92 *p, struct snap_section *s)
{
    p->value = snap_get_u8(s);
    return !s->bad;
}
