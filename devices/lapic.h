/*
 * devices/lapic.h — the processor's local APIC in xAPIC mode (Intel SDM vol.
 * 3, chapter 10 "Advanced Programmable Interrupt Controller (APIC)"), as a
 * P6-family part with the Pentium 4's register set: version 0x14, six LVT
 * entries (max LVT 5: timer, thermal, performance counters, LINT0, LINT1,
 * error), no TSC-deadline timer mode (CPUID.1:ECX.TSC_DEADLINE stays 0), no
 * EOI-broadcast suppression.
 *
 * It is the one interrupt controller the CPU talks to while IA32_APIC_BASE
 * enables it. Messages arrive from the APIC bus (the I/O APIC's redirected
 * pins, the APIC's own IPIs and local vector table); the CPU asks it for the
 * next vector; the 8259A pair reaches the CPU through LINT0 in ExtINT mode.
 * The machine's interrupt wiring (devices/irq.h) does that routing:
 *
 *     lapic_deliver(lapic, &msg);              // an I/O APIC pin fired
 *     if (lapic_has_interrupt(lapic))          // IRR above the PPR
 *         deliver(lapic_acknowledge(lapic));   // IRR -> ISR
 *     ...guest writes EOI: the ISR bit clears; for a level-triggered vector
 *        the EOI callback tells the I/O APIC (broadcast EOI)
 *
 * The timer counts the bus clock (LAPIC_BUS_HZ, 1 GHz as under QEMU)
 * divided by the divide configuration register, from a clock callback given
 * at creation, like the PIT (pit8254.h): the machine registers
 * lapic_update/lapic_next_deadline with the platform so HLT sleeps until the
 * timer's next interrupt.
 *
 * A uniprocessor: APIC ID 0 after reset, no other APIC on the bus. An IPI
 * reaches this APIC when its shorthand or destination names it; INIT and
 * STARTUP IPIs (to processors that do not exist) are dropped, as are NMI and
 * SMI messages (the virtual CPU has no NMI or SMM path yet): each logged
 * under `-d platform`. The APIC's page stays mapped when IA32_APIC_BASE
 * disables it (irq.h then leaves the CPU's INTR to the 8259A), and the
 * base cannot be relocated.
 */
#ifndef POPEK_DEVICES_LAPIC_H
#define POPEK_DEVICES_LAPIC_H

#include "common/snapshot.h"
#include "devices/mmio.h"

#define LAPIC_BASE    0xFEE00000u
#define LAPIC_SIZE    0x1000u
#define LAPIC_VERSION 0x14u /* integrated APIC, Pentium 4 / Xeon register set */
#define LAPIC_MAX_LVT 5u    /* LVT entries - 1: timer, thermal, perf, LINT0, LINT1, error */
#define LAPIC_BUS_HZ  1000000000u

/* Delivery modes of an interrupt message (ICR, LVT, I/O APIC redirection
 * entries: SDM vol. 3, §10.6.1). */
enum apic_delivery_mode {
    APIC_DM_FIXED = 0,
    APIC_DM_LOWEST = 1,
    APIC_DM_SMI = 2,
    APIC_DM_NMI = 4,
    APIC_DM_INIT = 5,
    APIC_DM_STARTUP = 6,
    APIC_DM_EXTINT = 7,
};

/* One interrupt message on the APIC bus. */
struct apic_message {
    uint8_t vector;
    uint8_t delivery_mode; /* enum apic_delivery_mode */
    bool logical;          /* destination mode: logical (LDR/DFR) or physical (APIC ID) */
    uint8_t destination;
    bool level; /* level-triggered: the TMR bit is set and the EOI is broadcast */
};

typedef uint64_t (*lapic_clock_fn)(void *ctx);
/* The broadcast EOI for a level-triggered vector (to the I/O APICs). */
typedef void (*lapic_eoi_fn)(void *ctx, uint8_t vector);

struct lapic;

/* Creates the APIC in its reset state and claims LAPIC_BASE on mmio. now_ns
 * must not go backwards; eoi may be NULL. */
struct lapic *lapic_create(struct mmio_bus *mmio, lapic_clock_fn now_ns, void *clock_ctx,
                           lapic_eoi_fn eoi, void *eoi_ctx, struct popek_error *err);
void lapic_destroy(struct lapic *lapic);

/* The state a PC BIOS (SeaBIOS) leaves before it boots a kernel: SDM
 * power-up values (§10.4.7.1: ID 0, TPR 0, DFR all ones, every LVT masked,
 * timer stopped, IRR/ISR/TMR clear) and then what the MP specification's
 * virtual wire mode needs: software-enabled with spurious vector 0xFF
 * (SVR 0x1FF), LINT0 ExtINT and LINT1 NMI, both unmasked. */
void lapic_reset(struct lapic *lapic);

/* Whether a message is addressed to this APIC (physical: its ID or the
 * broadcast 0xFF; logical: the flat or cluster model of DFR against LDR). */
bool lapic_accepts(const struct lapic *lapic, const struct apic_message *msg);

/* Accepts a message already routed to this APIC: fixed and lowest-priority
 * ones set the IRR (and TMR for level) bit of their vector; a vector below
 * 16 is refused with "received illegal vector" in the ESR. */
void lapic_deliver(struct lapic *lapic, const struct apic_message *msg);

/* The CPU's INTR question: software-enabled and the highest IRR vector's
 * priority class is above the PPR's (§10.8.3.1). */
bool lapic_has_interrupt(const struct lapic *lapic);

/* The INTA cycle: moves the highest IRR vector to the ISR and returns it; if
 * it no longer beats the PPR, returns the spurious vector (§10.9). */
int lapic_acknowledge(struct lapic *lapic);

/* True when LINT0 passes the 8259A's INTR through (ExtINT, unmasked). */
bool lapic_extint_enabled(const struct lapic *lapic);

/* Brings the timer up to the clock, raising its LVT interrupt for an
 * expiry (once, however many periods a late call spans). */
void lapic_update(struct lapic *lapic);

/* Clock time of the timer's next interrupt, or UINT64_MAX if none will be
 * raised (stopped, masked, or the APIC software-disabled). */
uint64_t lapic_next_deadline(const struct lapic *lapic);

/* Timer expiries merged into one interrupt by a late update. */
uint64_t lapic_missed_ticks(const struct lapic *lapic);

/* Saved state (devices/platform.h): every register (ISR, TMR and IRR
 * included) and the timer, its start relative to the clock. */
#define LAPIC_STATE_VERSION 1
void lapic_save(const struct lapic *l, struct snap_writer *w);
bool lapic_load(struct lapic *l, struct snap_section *s);

#endif
