/*
 * devices/pit8254.h — the 8254 programmable interval timer at 0x40-0x43 and
 * the PC/AT's port 0x61 (Intel 82C54 datasheet).
 *
 * Wiring, as on every PC/AT: CLK of all three counters is 1.193182 MHz;
 * counter 0's GATE is tied high and its OUT drives IRQ 0; counter 1's GATE
 * is tied high (it once paced DRAM refresh); counter 2's GATE is port 0x61
 * bit 0 and its OUT reads back in port 0x61 bit 5 (and feeds the speaker).
 *
 * Time is virtual and injected: the PIT reads a clock callback and derives
 * every count and OUT level from when the count was loaded, so two runs
 * with the same clock see the same values and unit tests need no sleeping.
 * CLK pulse k happens at ceil(k * 1e9 / 1193182) ns on that clock.
 *
 * The monitor keeps IRQ 0 flowing with two calls:
 *
 *     deadline = pit8254_next_deadline(pit);   // arm a host timer
 *     ...when clock >= deadline:
 *     pit8254_update(pit);                      // pulses IRQ 0 (devices/irq.h)
 *
 * Port accesses bring the PIT up to date by themselves. If update runs
 * late and several periods of a periodic mode have passed, IRQ 0 sees
 * one edge, not a burst of stale ticks; the others are counted in
 * pit8254_missed_ticks (the guest's clocksource, not its tick count, is
 * what keeps its time).
 */
#ifndef POPEK_DEVICES_PIT8254_H
#define POPEK_DEVICES_PIT8254_H

#include "common/snapshot.h"
#include "devices/ioport.h"
#include "devices/irq.h"

#define PIT_BASE     0x40
#define PIT_PORT_B   0x61
#define PIT_CLOCK_HZ 1193182u

struct pit8254;

typedef uint64_t (*pit8254_clock_fn)(void *ctx);

/* Creates the PIT in its reset state, claims 0x40-0x43 and 0x61 on bus.
 * irq may be NULL (no IRQ 0 delivery). now_ns must not go backwards. */
struct pit8254 *pit8254_create(struct ioport_bus *bus, struct irq_router *irq,
                               pit8254_clock_fn now_ns, void *clock_ctx, struct popek_error *err);
void pit8254_destroy(struct pit8254 *pit);

/* The state a PC BIOS leaves: every counter programmed LSB-then-MSB,
 * binary, mode 3; counter 0 counting 65536 (18.2 Hz), counter 1 counting
 * 18 (15 us), counter 2 waiting for a count; port 0x61 = 0 (GATE2 low). */
void pit8254_reset(struct pit8254 *pit);

/* Brings OUT 0 up to the clock and drives IRQ 0: one rising
 * edge if OUT 0 rose at least once since the last update. */
void pit8254_update(struct pit8254 *pit);

/* Clock time (ns) at which OUT 0 next rises after the last update (which
 * may already have passed), or UINT64_MAX if it never will. */
uint64_t pit8254_next_deadline(const struct pit8254 *pit);

/* Rising edges of OUT 0 merged into another edge by a late update. */
uint64_t pit8254_missed_ticks(const struct pit8254 *pit);

/* Saved state (devices/platform.h): every counter's control word, count
 * register, latches, flip-flops, gate and counting element, port 0x61 and
 * the IRQ 0 delivery point. Input-clock pulse numbers are saved relative
 * to the pulse of the clock at save time and rebased on the clock at load
 * time (the PIT stands still while the machine is in a file). */
#define PIT8254_STATE_VERSION 1
void pit8254_save(const struct pit8254 *pit, struct snap_writer *w);
bool pit8254_load(struct pit8254 *pit, struct snap_section *s);

#endif
