/*
 * devices/irq.h — the PC's interrupt wiring: the sixteen ISA interrupt
 * lines from the devices to both interrupt controllers, the APIC bus
 * between the I/O APIC and the local APIC, and the controllers' output to
 * the CPU.
 *
 *   device ──IRQ n──┬── 8259A pair input n (IRQ 2 is the cascade)
 *                   └── I/O APIC pin n, except IRQ 0 on pin 2 (the MP
 *                       table's and MADT's interrupt source override)
 *   I/O APIC ──message──▶ local APIC ──INTR──▶ CPU
 *   8259A INT ──▶ local APIC LINT0 (ExtINT)  ┘  or straight to the CPU
 *                                              when the APIC is disabled
 *
 * Devices drive their line with irq_set_level (a level; an edge is a rise)
 * or irq_pulse (an edge). The monitor asks irq_cpu_has_interrupt /
 * irq_cpu_acknowledge for the next vector, passing whether IA32_APIC_BASE
 * enables the local APIC (as on hardware, a disabled APIC leaves the CPU's
 * INTR pin to the 8259A):
 *
 *     irq_set_level(irq, 4, true);                    // COM1 interrupt
 *     if (vcpu_if && irq_cpu_has_interrupt(irq, apic_on))
 *         deliver(irq_cpu_acknowledge(irq, apic_on));
 *
 * Priority follows QEMU's and the hardware's order: a local APIC vector
 * above its PPR first, then the 8259A through LINT0 in ExtINT mode.
 */
#ifndef POPEK_DEVICES_IRQ_H
#define POPEK_DEVICES_IRQ_H

#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pic8259.h"

#define IRQ_ISA_LINES 16
#define IRQ_ISA0_GSI  2 /* I/O APIC pin of ISA IRQ 0 */

struct irq_router;

/* Wiring with the 8259A pair only; the APICs come with
 * irq_router_attach_apic. */
struct irq_router *irq_router_create(struct pic8259 *pic, struct popek_error *err);
void irq_router_destroy(struct irq_router *r);

/* Connects the I/O APIC's pins and the local APIC (both created with this
 * router's irq_apic_deliver / irq_apic_eoi as their callbacks). */
void irq_router_attach_apic(struct irq_router *r, struct ioapic *ioapic, struct lapic *lapic);

/* The I/O APIC pin (global system interrupt) an ISA IRQ is wired to. */
unsigned irq_isa_to_gsi(unsigned irq);

/* Drives ISA line irq (0-15) to level; line 2 does not exist on the bus
 * (the cascade) and is ignored. */
void irq_set_level(struct irq_router *r, unsigned irq, bool level);

/* Raises then lowers line irq: one edge. */
void irq_pulse(struct irq_router *r, unsigned irq);

/* The APIC bus, as the callbacks ioapic_create and lapic_create take
 * (ctx is the router): a message to the local APIC, an EOI back. */
bool irq_apic_deliver(void *ctx, const struct apic_message *msg);
void irq_apic_eoi(void *ctx, uint8_t vector);

/* The CPU's INTR line and INTA cycle. */
bool irq_cpu_has_interrupt(const struct irq_router *r, bool lapic_enabled);
int irq_cpu_acknowledge(struct irq_router *r, bool lapic_enabled);

#endif
