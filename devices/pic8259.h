/*
 * devices/pic8259.h — the PC's two cascaded 8259A interrupt controllers
 * (Intel 8259A datasheet) plus the edge/level control registers (ELCR) of
 * the PIIX-style chipsets.
 *
 * Wiring, as on every PC/AT:
 *   master  ports 0x20-0x21, IRQ 0-7, INT output = the CPU's INTR line
 *   slave   ports 0xA0-0xA1, IRQ 8-15, INT output drives master IR2
 *   ELCR    ports 0x4D0 (IRQ 0-7) and 0x4D1 (IRQ 8-15): 1 = level-triggered;
 *           IRQ 0, 1, 2, 8 and 13 are wired edge and their bits read 0.
 *
 * Devices drive the sixteen input lines with pic8259_set_irq (a level) or
 * pic8259_pulse_irq (an edge). The monitor asks pic8259_has_interrupt when
 * the guest's virtual IF is set and then runs the two INTA cycles with
 * pic8259_acknowledge, which returns the vector to deliver:
 *
 *     pic8259_pulse_irq(pic, 0);                 // PIT tick
 *     if (vcpu_if && pic8259_has_interrupt(pic))
 *         deliver(pic8259_acknowledge(pic));     // 0x20 after Linux's init
 *
 * IRQ 2 is the cascade; the AT routes the ISA bus IRQ2 pin to IRQ 9, so a
 * device asking for line 2 is ignored.
 */
#ifndef POPEK_DEVICES_PIC8259_H
#define POPEK_DEVICES_PIC8259_H

#include "common/snapshot.h"
#include "devices/ioport.h"

#define PIC_MASTER_BASE 0x20
#define PIC_SLAVE_BASE  0xA0
#define PIC_ELCR_BASE   0x4D0
#define PIC_CASCADE_IRQ 2
#define PIC_NR_IRQS     16

struct pic8259;

/* Creates the pair in its reset state and claims its ports on bus. */
struct pic8259 *pic8259_create(struct ioport_bus *bus, struct popek_error *err);
void pic8259_destroy(struct pic8259 *pic);

/* Puts both chips in the state a PC BIOS leaves them: initialised with
 * ICW1=0x11, vectors 0x08 (master) and 0x70 (slave), cascade on IR2,
 * 8086 mode, every IRQ masked except the cascade, ELCR all edge. The input
 * line levels are the devices' and survive a reset. */
void pic8259_reset(struct pic8259 *pic);

/* Drives input line irq (0-15) to level. */
void pic8259_set_irq(struct pic8259 *pic, unsigned irq, bool level);

/* Raises then lowers line irq: one edge for an edge-triggered device. */
void pic8259_pulse_irq(struct pic8259 *pic, unsigned irq);

/* The master's INT output: an unmasked request outranks everything in
 * service. */
bool pic8259_has_interrupt(const struct pic8259 *pic);

/* The INTA cycles: moves the highest-priority request to in-service (on
 * both chips for a slave IRQ) and returns its vector. With no request left
 * it returns the IR7 vector of the chip that answered and sets no ISR bit
 * (a spurious IRQ 7 or, through the cascade, IRQ 15). */
int pic8259_acknowledge(struct pic8259 *pic);

/* Number of spurious (default IR7) acknowledges so far. */
uint64_t pic8259_spurious_count(const struct pic8259 *pic);

/* Saved state (devices/platform.h): both chips' registers, modes,
 * initialization step and input line levels. */
#define PIC8259_STATE_VERSION 1
void pic8259_save(const struct pic8259 *pic, struct snap_writer *w);
bool pic8259_load(struct pic8259 *pic, struct snap_section *s);

#endif
