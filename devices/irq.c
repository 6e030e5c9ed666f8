/*
 * devices/irq.c — the interrupt wiring (irq.h).
 */
#include "devices/irq.h"

#include <stdlib.h>

struct irq_router {
    struct pic8259 *pic;
    struct ioapic *ioapic; /* NULL: a PC without APICs */
    struct lapic *lapic;
};

struct irq_router *irq_router_create(struct pic8259 *pic, struct popek_error *err)
{
    struct irq_router *r = calloc(1, sizeof(*r));

    if (!r) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    r->pic = pic;
    return r;
}

void irq_router_destroy(struct irq_router *r)
{
    free(r);
}

void irq_router_attach_apic(struct irq_router *r, struct ioapic *ioapic, struct lapic *lapic)
{
    r->ioapic = ioapic;
    r->lapic = lapic;
}

unsigned irq_isa_to_gsi(unsigned irq)
{
    return irq == 0 ? IRQ_ISA0_GSI : irq;
}

void irq_set_level(struct irq_router *r, unsigned irq, bool level)
{
    if (irq >= IRQ_ISA_LINES || irq == PIC_CASCADE_IRQ)
        return;
    if (r->pic)
        pic8259_set_irq(r->pic, irq, level);
    if (r->ioapic)
        ioapic_set_pin(r->ioapic, irq_isa_to_gsi(irq), level);
}

void irq_pulse(struct irq_router *r, unsigned irq)
{
    irq_set_level(r, irq, true);
    irq_set_level(r, irq, false);
}

/* One processor on the bus: a message is for it or for nobody. */
bool irq_apic_deliver(void *ctx, const struct apic_message *msg)
{
    struct irq_router *r = ctx;

    if (!r->lapic || !lapic_accepts(r->lapic, msg))
        return false;
    lapic_deliver(r->lapic, msg);
    return true;
}

void irq_apic_eoi(void *ctx, uint8_t vector)
{
    struct irq_router *r = ctx;

    if (r->ioapic)
        ioapic_eoi(r->ioapic, vector);
}

bool irq_cpu_has_interrupt(const struct irq_router *r, bool lapic_enabled)
{
    if (!r->lapic || !lapic_enabled)
        return r->pic && pic8259_has_interrupt(r->pic);
    if (lapic_has_interrupt(r->lapic))
        return true;
    return lapic_extint_enabled(r->lapic) && r->pic && pic8259_has_interrupt(r->pic);
}

int irq_cpu_acknowledge(struct irq_router *r, bool lapic_enabled)
{
    /* The local APIC answers the INTA cycle unless the request came from
     * the 8259A through LINT0; with nothing left it gives its spurious
     * vector, as the 8259A gives its IR7. */
    if (r->lapic && lapic_enabled &&
        (lapic_has_interrupt(r->lapic) || !lapic_extint_enabled(r->lapic)))
        return lapic_acknowledge(r->lapic);
    return pic8259_acknowledge(r->pic);
}
