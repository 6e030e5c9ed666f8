/*
 * monitor/machine.c — assembling a virtual PC (machine.h).
 */
#include "monitor/machine.h"

#include <stdlib.h>

#include "common/log.h"
#include "devices/debug_ports.h"
#include "devices/ioport.h"
#include "devices/uart16550.h"
#include "shadowpt/identity.h"
#include "shadowpt/view.h"

struct machine {
    struct machine_config config;
    struct guest_ram *ram;
    struct view *supervisor_view;
    struct ioport_bus *ioport;
    struct uart16550 *com1;
    struct debug_ports *debug_ports;
    struct vcpu_state cpu;
    bool exit_requested;
    int exit_status;
};

static void machine_on_debug_exit(void *ctx, int status)
{
    struct machine *m = ctx;

    m->exit_requested = true;
    m->exit_status = status;
}

struct machine *machine_create(const struct machine_config *config, struct popek_error *err)
{
    struct machine *m = calloc(1, sizeof(*m));

    if (!m) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    m->config = *config;
    vcpu_state_reset(&m->cpu);
    m->ram = guest_ram_create(config->ram_bytes, err);
    if (!m->ram)
        goto fail;
    m->supervisor_view = view_create(m->ram, err);
    if (!m->supervisor_view || !shadow_map_identity(m->supervisor_view, m->ram, err))
        goto fail;
    m->ioport = ioport_bus_create();
    if (!m->ioport) {
        popek_fail(err, "out of memory");
        goto fail;
    }
    m->com1 = uart16550_create(m->ioport, UART_COM1_BASE, config->console, err);
    if (!m->com1)
        goto fail;
    m->debug_ports = debug_ports_create(m->ioport, config->console, machine_on_debug_exit, m, err);
    if (!m->debug_ports)
        goto fail;
    return m;
fail:
    machine_destroy(m);
    return NULL;
}

void machine_destroy(struct machine *m)
{
    if (!m)
        return;
    debug_ports_destroy(m->debug_ports);
    uart16550_destroy(m->com1);
    ioport_bus_destroy(m->ioport);
    view_destroy(m->supervisor_view);
    guest_ram_destroy(m->ram);
    free(m);
}

struct guest_ram *machine_ram(struct machine *m)
{
    return m->ram;
}

struct vcpu_state *machine_vcpu_state(struct machine *m)
{
    return &m->cpu;
}

struct ioport_bus *machine_ioport_bus(struct machine *m)
{
    return m->ioport;
}

bool machine_exit_requested(const struct machine *m, int *status)
{
    if (m->exit_requested && status)
        *status = m->exit_status;
    return m->exit_requested;
}
