/*
 * devices/ioapic.h — the I/O APIC (Intel 82093AA I/O Advanced Programmable
 * Interrupt Controller datasheet), 24 input pins, at 0xFEC00000.
 *
 * Each pin has a redirection table entry saying which interrupt message to
 * send to the local APICs when the pin asserts: vector, delivery mode,
 * destination, polarity, edge or level trigger, mask. A level-triggered pin
 * sends once and then waits for the local APIC's EOI of that vector (its
 * remote IRR) before it can send again; an edge-triggered pin sends on each
 * assertion seen while unmasked.
 *
 * The machine's interrupt wiring (devices/irq.h) drives the pins with the
 * ISA interrupt lines (ISA IRQ 0 on pin 2, as the MP and ACPI tables say)
 * and carries the messages to the local APIC and its EOIs back:
 *
 *     ioapic_set_pin(ioapic, 4, true);   // COM1 raises IRQ 4
 *         -> deliver(ctx, &msg)          // the entry's message, if unmasked
 *     ioapic_eoi(ioapic, 0x39);          // the local APIC's broadcast EOI
 *
 * Version 0x11 (the 82093AA): no EOI register, so an OS clears remote IRR
 * through the local APIC's EOI broadcast only.
 */
#ifndef POPEK_DEVICES_IOAPIC_H
#define POPEK_DEVICES_IOAPIC_H

#include "common/snapshot.h"
#include "devices/lapic.h"
#include "devices/mmio.h"

#define IOAPIC_BASE    0xFEC00000u
#define IOAPIC_SIZE    0x1000u
#define IOAPIC_VERSION 0x11u
#define IOAPIC_PINS    24u
#define IOAPIC_ID      0u /* after reset, and as the firmware tables give it */

/* Sends a message on the APIC bus; returns whether an APIC accepted it. */
typedef bool (*ioapic_deliver_fn)(void *ctx, const struct apic_message *msg);

struct ioapic;

/* Creates the I/O APIC in its reset state at IOAPIC_BASE on mmio. */
struct ioapic *ioapic_create(struct mmio_bus *mmio, ioapic_deliver_fn deliver, void *ctx,
                             struct popek_error *err);
void ioapic_destroy(struct ioapic *ioapic);

/* Reset (datasheet §3.2): ID 0, every redirection entry masked, edge,
 * vector 0, remote IRR clear. Pin levels are the devices' and survive. */
void ioapic_reset(struct ioapic *ioapic);

/* Drives input pin (0-23) to an electrical level; the entry's polarity
 * says whether high or low asserts it. */
void ioapic_set_pin(struct ioapic *ioapic, unsigned pin, bool level);

/* The local APIC's EOI for a level-triggered vector: clears remote IRR of
 * the level-triggered entries with that vector, which send again if their
 * pin is still asserted. */
void ioapic_eoi(struct ioapic *ioapic, uint8_t vector);

/* Saved state (devices/platform.h): IOREGSEL, the ID, the redirection
 * table with its remote IRR bits, and the input pin levels. */
#define IOAPIC_STATE_VERSION 1
void ioapic_save(const struct ioapic *io, struct snap_writer *w);
bool ioapic_load(struct ioapic *io, struct snap_section *s);

#endif
