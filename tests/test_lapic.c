/*
 * tests/test_lapic.c — the local APIC (devices/lapic.c), reached through a
 * real MMIO bus at 0xFEE00000 as the guest reaches it.
 *
 * Expected values follow the Intel SDM vol. 3, chapter 10: reset values
 * (§10.4.7.1) plus what the BIOS leaves (lapic.h), register write masks
 * (figures 10-8, 10-10, 10-12, 10-23), priorities (§10.8.3.1), EOI
 * (§10.8.5), spurious interrupts (§10.9), errors (§10.5.3), IPI
 * destinations (§10.6.2) and the timer (§10.5.4). Time is a fake clock:
 * with the 1 GHz bus, a count with divisor d lasts d ns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/lapic.h"
#include "devices/mmio.h"
#include "tests/snapshot_rig.h"

enum {
    ID = 0x20,
    VERSION = 0x30,
    TPR = 0x80,
    PPR = 0xA0,
    EOI = 0xB0,
    LDR = 0xD0,
    DFR = 0xE0,
    SVR = 0xF0,
    ISR = 0x100,
    TMR = 0x180,
    IRR = 0x200,
    ESR = 0x280,
    ICR_LOW = 0x300,
    ICR_HIGH = 0x310,
    LVT_TIMER = 0x320,
    LVT_THERMAL = 0x330,
    LVT_PERF = 0x340,
    LVT_LINT0 = 0x350,
    LVT_LINT1 = 0x360,
    LVT_ERROR = 0x370,
    TIMER_INITIAL = 0x380,
    TIMER_CURRENT = 0x390,
    TIMER_DIVIDE = 0x3E0,
};

#define MASKED   0x10000u
#define PERIODIC 0x20000u

struct rig {
    struct mmio_bus *bus;
    struct lapic *lapic;
    uint64_t now_ns;
    unsigned eois;
    uint8_t last_eoi;
};

static uint64_t fake_clock(void *ctx)
{
    return ((struct rig *)ctx)->now_ns;
}

static void record_eoi(void *ctx, uint8_t vector)
{
    struct rig *rig = ctx;

    rig->eois++;
    rig->last_eoi = vector;
}

static uint32_t rd(struct rig *rig, unsigned reg)
{
    uint32_t v;

    mmio_read(rig->bus, LAPIC_BASE + reg, &v, 4);
    return v;
}

static void wr(struct rig *rig, unsigned reg, uint32_t value)
{
    mmio_write(rig->bus, LAPIC_BASE + reg, &value, 4);
}

static void deliver(struct rig *rig, uint8_t vector, bool level)
{
    struct apic_message msg = {.vector = vector, .delivery_mode = APIC_DM_FIXED, .level = level};

    lapic_deliver(rig->lapic, &msg);
}

static bool irr_has(struct rig *rig, unsigned vector)
{
    return rd(rig, IRR + 0x10 * (vector >> 5)) & (1u << (vector & 31));
}

static int rig_setup(void **state)
{
    static struct rig rig;
    struct popek_error e;

    rig = (struct rig){.now_ns = 1000000};
    rig.bus = mmio_bus_create();
    rig.lapic = lapic_create(rig.bus, fake_clock, &rig, record_eoi, &rig, &e);
    assert_non_null(rig.lapic);
    *state = &rig;
    return 0;
}

static int rig_teardown(void **state)
{
    struct rig *rig = *state;

    lapic_destroy(rig->lapic);
    mmio_bus_destroy(rig->bus);
    return 0;
}

static void test_reset_state(void **state)
{
    struct rig *rig = *state;

    assert_int_equal(rd(rig, ID), 0);
    assert_int_equal(rd(rig, VERSION), 0x00050014); /* max LVT 5, version 0x14 */
    assert_int_equal(rd(rig, TPR), 0);
    assert_int_equal(rd(rig, PPR), 0);
    assert_int_equal(rd(rig, LDR), 0);
    assert_int_equal(rd(rig, DFR), 0xFFFFFFFFu);
    assert_int_equal(rd(rig, SVR), 0x1FF); /* the BIOS enabled it, spurious 0xFF */
    assert_int_equal(rd(rig, LVT_TIMER), MASKED);
    assert_int_equal(rd(rig, LVT_THERMAL), MASKED);
    assert_int_equal(rd(rig, LVT_PERF), MASKED);
    assert_int_equal(rd(rig, LVT_LINT0), 0x8700); /* ExtINT: virtual wire mode */
    assert_int_equal(rd(rig, LVT_LINT1), 0x8400); /* NMI */
    assert_int_equal(rd(rig, LVT_ERROR), MASKED);
    for (unsigned i = 0; i < 8; i++) {
        assert_int_equal(rd(rig, ISR + 0x10 * i), 0);
        assert_int_equal(rd(rig, TMR + 0x10 * i), 0);
        assert_int_equal(rd(rig, IRR + 0x10 * i), 0);
    }
    assert_int_equal(rd(rig, TIMER_INITIAL), 0);
    assert_int_equal(rd(rig, TIMER_CURRENT), 0);
    assert_int_equal(rd(rig, TIMER_DIVIDE), 0);
    assert_true(lapic_extint_enabled(rig->lapic));
    assert_false(lapic_has_interrupt(rig->lapic));
    assert_int_equal(lapic_next_deadline(rig->lapic), UINT64_MAX);
}

static void test_register_writes(void **state)
{
    struct rig *rig = *state;
    uint8_t byte;
    uint16_t half;

    wr(rig, ID, 0xFFFFFFFFu);
    assert_int_equal(rd(rig, ID), 0xFF000000u);
    wr(rig, ID, 0);
    wr(rig, LDR, 0xFFFFFFFFu);
    assert_int_equal(rd(rig, LDR), 0xFF000000u);
    wr(rig, DFR, 0x0);
    assert_int_equal(rd(rig, DFR), 0x0FFFFFFFu); /* cluster model; bits 27-0 read 1 */
    wr(rig, TPR, 0x1234);
    assert_int_equal(rd(rig, TPR), 0x34);
    wr(rig, SVR, 0xFFFFFFFFu);
    assert_int_equal(rd(rig, SVR), 0x3FF); /* no EOI-broadcast suppression bit */
    wr(rig, LVT_TIMER, 0xFFFFFFFFu);
    assert_int_equal(rd(rig, LVT_TIMER), 0x300FF); /* bit 18 (TSC deadline) reserved */
    wr(rig, LVT_THERMAL, 0xFFFFFFFFu);
    assert_int_equal(rd(rig, LVT_THERMAL), 0x107FF);
    wr(rig, LVT_LINT0, 0xFFFFFFFFu);
    assert_int_equal(rd(rig, LVT_LINT0), 0x1A7FF); /* remote IRR and status read-only */
    wr(rig, LVT_ERROR, 0xFFFFFFFFu);
    assert_int_equal(rd(rig, LVT_ERROR), 0x100FF);
    wr(rig, ICR_HIGH, 0xFFFFFFFFu);
    assert_int_equal(rd(rig, ICR_HIGH), 0xFF000000u);
    wr(rig, TIMER_DIVIDE, 0xFFFFFFFFu);
    assert_int_equal(rd(rig, TIMER_DIVIDE), 0xB);
    /* Read-only registers ignore writes. */
    wr(rig, VERSION, 0);
    assert_int_equal(rd(rig, VERSION), 0x00050014);
    wr(rig, PPR, 0xFF);
    wr(rig, IRR, 0xFFFFFFFFu);
    assert_int_equal(rd(rig, IRR), 0);
    /* Narrow reads see bytes of the register; narrow writes do nothing;
     * the rest of a 16-byte slot and unknown offsets read 0. */
    mmio_read(rig->bus, LAPIC_BASE + VERSION + 2, &byte, 1);
    assert_int_equal(byte, 0x05);
    mmio_read(rig->bus, LAPIC_BASE + VERSION, &half, 2);
    assert_int_equal(half, 0x0014);
    byte = 0x77;
    mmio_write(rig->bus, LAPIC_BASE + TPR, &byte, 1);
    assert_int_equal(rd(rig, TPR), 0x34);
    assert_int_equal(rd(rig, VERSION + 4), 0);
    assert_int_equal(rd(rig, 0x2F0), 0); /* LVT CMCI: not on this model */
}

static void test_priorities(void **state)
{
    struct rig *rig = *state;

    deliver(rig, 0x31, false);
    deliver(rig, 0x52, false);
    deliver(rig, 0x45, false);
    assert_true(irr_has(rig, 0x31) && irr_has(rig, 0x45) && irr_has(rig, 0x52));
    assert_true(lapic_has_interrupt(rig->lapic));
    /* The highest vector first; it moves to the ISR and raises the PPR. */
    assert_int_equal(lapic_acknowledge(rig->lapic), 0x52);
    assert_false(irr_has(rig, 0x52));
    assert_int_equal(rd(rig, ISR + 0x20), 1u << (0x52 - 0x40));
    assert_int_equal(rd(rig, PPR), 0x50);
    /* Class 4 and a new vector of class 5 wait: only a higher class
     * interrupts an in-service one. */
    assert_false(lapic_has_interrupt(rig->lapic));
    deliver(rig, 0x5F, false);
    assert_false(lapic_has_interrupt(rig->lapic));
    deliver(rig, 0x61, false);
    assert_true(lapic_has_interrupt(rig->lapic));
    assert_int_equal(lapic_acknowledge(rig->lapic), 0x61);
    assert_int_equal(rd(rig, PPR), 0x60);
    /* EOI clears the highest ISR bit only. */
    wr(rig, EOI, 0);
    assert_int_equal(rd(rig, PPR), 0x50);
    wr(rig, EOI, 0);
    assert_int_equal(rd(rig, PPR), 0x00);
    assert_int_equal(lapic_acknowledge(rig->lapic), 0x5F);
    wr(rig, EOI, 0);
    /* The TPR: a class at or below it waits; the PPR is the TPR when the
     * TPR's class is at least the in-service one's. */
    wr(rig, TPR, 0x45);
    assert_int_equal(rd(rig, PPR), 0x45);
    assert_false(lapic_has_interrupt(rig->lapic)); /* 0x45 and 0x31 pending */
    wr(rig, TPR, 0x3F);
    assert_true(lapic_has_interrupt(rig->lapic));
    assert_int_equal(lapic_acknowledge(rig->lapic), 0x45);
    assert_int_equal(rd(rig, PPR), 0x40);
    wr(rig, TPR, 0);
    wr(rig, EOI, 0);
    assert_int_equal(lapic_acknowledge(rig->lapic), 0x31);
    wr(rig, EOI, 0);
    assert_int_equal(rig->eois, 0); /* all edge-triggered */
}

static void test_eoi_broadcast_for_level(void **state)
{
    struct rig *rig = *state;

    deliver(rig, 0x39, true);
    assert_int_equal(rd(rig, TMR + 0x10), 1u << (0x39 - 0x20));
    assert_int_equal(lapic_acknowledge(rig->lapic), 0x39);
    wr(rig, EOI, 0);
    assert_int_equal(rig->eois, 1);
    assert_int_equal(rig->last_eoi, 0x39);
    /* The same vector edge-triggered: TMR clear, no broadcast. */
    deliver(rig, 0x39, false);
    assert_int_equal(rd(rig, TMR + 0x10), 0);
    assert_int_equal(lapic_acknowledge(rig->lapic), 0x39);
    wr(rig, EOI, 0);
    assert_int_equal(rig->eois, 1);
    /* An EOI with nothing in service does nothing. */
    wr(rig, EOI, 0);
    assert_int_equal(rig->eois, 1);
}

static void test_spurious_and_software_disable(void **state)
{
    struct rig *rig = *state;

    /* INTA with nothing above the PPR: the spurious vector, no ISR bit. */
    wr(rig, SVR, 0x1EF);
    assert_int_equal(lapic_acknowledge(rig->lapic), 0xEF);
    assert_int_equal(rd(rig, ISR + 0x70), 0);
    deliver(rig, 0x40, false);
    wr(rig, TPR, 0x40);
    assert_int_equal(lapic_acknowledge(rig->lapic), 0xEF);
    wr(rig, TPR, 0);
    /* Software-disabled: requests are held in the IRR, not dispatched;
     * every LVT is masked and cannot be unmasked. */
    wr(rig, LVT_TIMER, 0x30);
    wr(rig, SVR, 0x0EF);
    assert_false(lapic_has_interrupt(rig->lapic));
    assert_true(irr_has(rig, 0x40));
    assert_int_equal(rd(rig, LVT_TIMER), MASKED | 0x30);
    assert_int_equal(rd(rig, LVT_LINT0), MASKED | 0x8700);
    assert_false(lapic_extint_enabled(rig->lapic));
    wr(rig, LVT_TIMER, 0x31);
    assert_int_equal(rd(rig, LVT_TIMER), MASKED | 0x31);
    wr(rig, SVR, 0x1EF);
    assert_true(lapic_has_interrupt(rig->lapic));
    assert_int_equal(rd(rig, LVT_TIMER), MASKED | 0x31); /* stays masked */
    wr(rig, LVT_LINT0, 0x700);
    assert_true(lapic_extint_enabled(rig->lapic));
}

static void test_errors(void **state)
{
    struct rig *rig = *state;

    /* A vector below 16 is refused: "received illegal vector" (bit 6),
     * visible once the ESR is written; the error LVT interrupts. */
    wr(rig, LVT_ERROR, 0xFE);
    deliver(rig, 0x05, false);
    assert_false(irr_has(rig, 0x05));
    assert_int_equal(rd(rig, ESR), 0);
    wr(rig, ESR, 0);
    assert_int_equal(rd(rig, ESR), 0x40);
    assert_true(irr_has(rig, 0xFE));
    wr(rig, ESR, 0);
    assert_int_equal(rd(rig, ESR), 0);
    /* Sending one: "send illegal vector" (bit 5). */
    wr(rig, ICR_LOW, 0x40003); /* self, fixed, vector 3 */
    wr(rig, ESR, 0);
    assert_int_equal(rd(rig, ESR), 0x20);
}

static void test_ipis(void **state)
{
    struct rig *rig = *state;

    /* Shorthand self (Linux's irq_work), and all including self. */
    wr(rig, ICR_LOW, 0x40040);
    assert_true(irr_has(rig, 0x40));
    assert_int_equal(rd(rig, ICR_LOW), 0x40040); /* delivery status idle */
    wr(rig, ICR_LOW, 0x80041);
    assert_true(irr_has(rig, 0x41));
    /* All excluding self reaches nobody on a uniprocessor. */
    wr(rig, ICR_LOW, 0xC0042);
    assert_false(irr_has(rig, 0x42));
    /* No shorthand: physical destination 0 is this APIC, 1 is nobody. */
    wr(rig, ICR_HIGH, 0x00000000);
    wr(rig, ICR_LOW, 0x00043);
    assert_true(irr_has(rig, 0x43));
    wr(rig, ICR_HIGH, 0x01000000);
    wr(rig, ICR_LOW, 0x00044);
    assert_false(irr_has(rig, 0x44));
    /* Logical, flat model: LDR bit 0. */
    wr(rig, LDR, 0x01000000);
    wr(rig, ICR_LOW, 0x00845);
    assert_true(irr_has(rig, 0x45));
    /* INIT level de-assert, INIT and STARTUP to other processors: dropped. */
    wr(rig, ICR_HIGH, 0);
    wr(rig, ICR_LOW, 0xC8500);
    wr(rig, ICR_LOW, 0xC4500);
    wr(rig, ICR_LOW, 0xC4608);
    assert_false(irr_has(rig, 0x00) || irr_has(rig, 0x08));
    wr(rig, ESR, 0);
    assert_int_equal(rd(rig, ESR), 0);
}

static void test_destinations(void **state)
{
    struct rig *rig = *state;
    struct apic_message msg = {.vector = 0x30};

    msg.destination = 0;
    assert_true(lapic_accepts(rig->lapic, &msg));
    msg.destination = 3;
    assert_false(lapic_accepts(rig->lapic, &msg));
    msg.destination = 0xFF; /* broadcast */
    assert_true(lapic_accepts(rig->lapic, &msg));
    wr(rig, ID, 0x03000000);
    msg.destination = 3;
    assert_true(lapic_accepts(rig->lapic, &msg));
    /* Logical, flat: any common bit. */
    msg.logical = true;
    wr(rig, LDR, 0x04000000);
    msg.destination = 0x06;
    assert_true(lapic_accepts(rig->lapic, &msg));
    msg.destination = 0x01;
    assert_false(lapic_accepts(rig->lapic, &msg));
    /* Logical, cluster: cluster (bits 7-4) equal and a common member bit. */
    wr(rig, DFR, 0x0FFFFFFF);
    wr(rig, LDR, 0x21000000);
    msg.destination = 0x23;
    assert_true(lapic_accepts(rig->lapic, &msg));
    msg.destination = 0x13;
    assert_false(lapic_accepts(rig->lapic, &msg));
    msg.destination = 0x22;
    assert_false(lapic_accepts(rig->lapic, &msg));
}

static void test_timer_one_shot(void **state)
{
    struct rig *rig = *state;
    uint64_t start = rig->now_ns;

    wr(rig, TIMER_DIVIDE, 0x3); /* divide by 16 */
    wr(rig, LVT_TIMER, 0xEC);
    wr(rig, TIMER_INITIAL, 1000);
    assert_int_equal(lapic_next_deadline(rig->lapic), start + 16000);
    assert_int_equal(rd(rig, TIMER_CURRENT), 1000);
    rig->now_ns = start + 8000;
    assert_int_equal(rd(rig, TIMER_CURRENT), 500);
    lapic_update(rig->lapic);
    assert_false(irr_has(rig, 0xEC));
    rig->now_ns = start + 15999;
    assert_int_equal(rd(rig, TIMER_CURRENT), 1);
    rig->now_ns = start + 16000;
    lapic_update(rig->lapic);
    assert_true(irr_has(rig, 0xEC));
    assert_int_equal(rd(rig, TIMER_CURRENT), 0);
    assert_int_equal(rd(rig, TIMER_INITIAL), 1000);
    assert_int_equal(lapic_next_deadline(rig->lapic), UINT64_MAX);
    assert_int_equal(lapic_acknowledge(rig->lapic), 0xEC);
    wr(rig, EOI, 0);
    rig->now_ns += 1000000;
    lapic_update(rig->lapic);
    assert_false(irr_has(rig, 0xEC)); /* once only */
    /* Writing 0 stops a running count. */
    wr(rig, TIMER_INITIAL, 50);
    wr(rig, TIMER_INITIAL, 0);
    assert_int_equal(lapic_next_deadline(rig->lapic), UINT64_MAX);
    assert_int_equal(rd(rig, TIMER_CURRENT), 0);
}

static void test_timer_periodic(void **state)
{
    struct rig *rig = *state;
    uint64_t start = rig->now_ns;

    wr(rig, TIMER_DIVIDE, 0xB); /* divide by 1 */
    wr(rig, LVT_TIMER, PERIODIC | 0xEC);
    wr(rig, TIMER_INITIAL, 10000); /* 10 us */
    assert_int_equal(lapic_next_deadline(rig->lapic), start + 10000);
    rig->now_ns = start + 10000;
    lapic_update(rig->lapic);
    assert_true(irr_has(rig, 0xEC));
    assert_int_equal(rd(rig, TIMER_CURRENT), 10000); /* reloaded */
    assert_int_equal(lapic_next_deadline(rig->lapic), start + 20000);
    rig->now_ns = start + 12500;
    assert_int_equal(rd(rig, TIMER_CURRENT), 7500);
    assert_int_equal(lapic_acknowledge(rig->lapic), 0xEC);
    wr(rig, EOI, 0);
    /* A late update spanning periods 2, 3 and 4 raises one interrupt and
     * counts the other two as missed. */
    rig->now_ns = start + 45000;
    lapic_update(rig->lapic);
    assert_true(irr_has(rig, 0xEC));
    assert_int_equal(lapic_missed_ticks(rig->lapic), 2);
    assert_int_equal(lapic_next_deadline(rig->lapic), start + 50000);
    assert_int_equal(rd(rig, TIMER_CURRENT), 5000);
    /* Switching to one-shot: the count runs out once more, then stops. */
    wr(rig, LVT_TIMER, 0xEC);
    rig->now_ns = start + 50000;
    lapic_update(rig->lapic);
    assert_int_equal(lapic_next_deadline(rig->lapic), UINT64_MAX);
}

static void test_timer_masked_and_divide(void **state)
{
    struct rig *rig = *state;
    uint64_t start = rig->now_ns;

    /* A masked timer counts but raises nothing, and needs no wakeup. */
    wr(rig, TIMER_DIVIDE, 0x0); /* divide by 2 */
    wr(rig, LVT_TIMER, MASKED | 0xEC);
    wr(rig, TIMER_INITIAL, 1000);
    assert_int_equal(lapic_next_deadline(rig->lapic), UINT64_MAX);
    rig->now_ns = start + 1000;
    assert_int_equal(rd(rig, TIMER_CURRENT), 500);
    rig->now_ns = start + 3000;
    lapic_update(rig->lapic);
    assert_false(irr_has(rig, 0xEC));
    assert_int_equal(rd(rig, TIMER_CURRENT), 0);
    /* Unmasking after the expiry raises nothing late. */
    wr(rig, LVT_TIMER, 0xEC);
    lapic_update(rig->lapic);
    assert_false(irr_has(rig, 0xEC));
    /* A new divisor applies from the current count on. */
    start = rig->now_ns;
    wr(rig, TIMER_INITIAL, 1000);
    rig->now_ns = start + 1000; /* 500 counts at 2 ns */
    wr(rig, TIMER_DIVIDE, 0x1); /* divide by 4 */
    assert_int_equal(rd(rig, TIMER_CURRENT), 500);
    assert_int_equal(lapic_next_deadline(rig->lapic), start + 1000 + 2000);
    rig->now_ns = start + 2000;
    assert_int_equal(rd(rig, TIMER_CURRENT), 250);
}

/* Save → a fresh local APIC whose clock reads load_now (0: an hour
 * later) → load: the registers, IRR/ISR/TMR, and a periodic timer that
 * fires as many times at the same offsets as the original's. */
static void check_save_restore(struct rig *a, uint64_t load_now)
{
    struct rig b;
    struct popek_error e;

    wr(a, SVR, 0x1FF);
    wr(a, TPR, 0x20);
    wr(a, LDR, 0x01000000);
    deliver(a, 0x51, false);
    deliver(a, 0x61, true);
    assert_int_equal(lapic_acknowledge(a->lapic), 0x61); /* in service */
    deliver(a, 0x71, false);
    wr(a, TIMER_DIVIDE, 0x3); /* divide by 16 */
    wr(a, LVT_TIMER, PERIODIC | 0x40);
    wr(a, TIMER_INITIAL, 100000);
    a->now_ns += 700000;
    lapic_update(a->lapic);

    struct snap_writer *w = rig_snap_begin("lapic", LAPIC_STATE_VERSION);
    lapic_save(a->lapic, w);
    struct snap_rig snap = rig_snap_finish(w);
    b = (struct rig){.now_ns = load_now ? load_now : a->now_ns + 3600ull * 1000000000ull};
    b.bus = mmio_bus_create();
    b.lapic = lapic_create(b.bus, fake_clock, &b, record_eoi, &b, &e);
    assert_non_null(b.lapic);
    struct snap_section s;
    rig_snap_open(&snap, "lapic", LAPIC_STATE_VERSION, &s);
    assert_true(lapic_load(b.lapic, &s));
    rig_snap_close(&snap, &s);
    /* The next expiry is as far ahead on both clocks (load_now may lie
     * before the saved start: a wrapped origin, snap_get_origin). */
    assert_true(lapic_next_deadline(b.lapic) - b.now_ns ==
                lapic_next_deadline(a->lapic) - a->now_ns);

    struct rig *r[2] = {a, &b};
    uint32_t seen[2][64] = {{0}};
    for (int i = 0; i < 2; i++) {
        unsigned n = 0;
        static const unsigned regs[] = {ID, TPR, PPR, LDR, DFR, SVR, ESR, LVT_TIMER, TIMER_DIVIDE};
        for (unsigned k = 0; k < sizeof(regs) / sizeof(regs[0]); k++)
            seen[i][n++] = rd(r[i], regs[k]);
        for (unsigned k = 0; k < 8; k++) {
            seen[i][n++] = rd(r[i], ISR + 0x10 * k);
            seen[i][n++] = rd(r[i], IRR + 0x10 * k);
            seen[i][n++] = rd(r[i], TMR + 0x10 * k);
        }
        seen[i][n++] = rd(r[i], TIMER_CURRENT);
        for (unsigned step = 0; step < 12; step++) {
            r[i]->now_ns += 411111;
            lapic_update(r[i]->lapic);
            seen[i][n++] = rd(r[i], TIMER_CURRENT);
            seen[i][n++] = (uint32_t)lapic_acknowledge(r[i]->lapic);
            wr(r[i], EOI, 0);
        }
        seen[i][n++] = r[i]->last_eoi;
        assert_true(n <= 64);
    }
    assert_memory_equal(seen[0], seen[1], sizeof(seen[0]));
    lapic_destroy(b.lapic);
    mmio_bus_destroy(b.bus);
}

static void test_save_restore(void **state)
{
    check_save_restore(*state, 0);
}

/* Loaded on a clock that reads 100 us, less than the timer had run (its
 * start lies before the new clock's zero): the same count and the same
 * interrupts all the same, not a timer restarted at the clock's zero. */
static void test_save_restore_early_clock(void **state)
{
    check_save_restore(*state, 100000);
}

/* The section of a saved local APIC (at most 256 bytes) into out. */
static size_t saved_lapic(struct rig *rig, uint8_t *out)
{
    struct snap_section_info info;
    struct snap_writer *w = rig_snap_begin("lapic", LAPIC_STATE_VERSION);

    lapic_save(rig->lapic, w);
    struct snap_rig snap = rig_snap_finish(w);
    assert_true(snap_reader_section_info(snap.reader, 0, &info));
    assert_true(info.size <= 256);
    memcpy(out, info.data, info.size);
    rig_snap_free(&snap);
    return info.size;
}

/* The section good with the u32 at at replaced: refused with why in the
 * message. */
static void expect_u32_refused(struct rig *rig, const uint8_t *good, size_t size, size_t at,
                               uint32_t value, const char *why)
{
    struct snap_section s;
    uint8_t bytes[256];

    assert_true(at + 4 <= size);
    memcpy(bytes, good, size);
    for (unsigned i = 0; i < 4; i++)
        bytes[at + i] = (uint8_t)(value >> (8 * i));
    struct snap_rig snap = rig_snap_raw("lapic", LAPIC_STATE_VERSION, bytes, size);
    rig_snap_open(&snap, "lapic", LAPIC_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, lapic_load(rig->lapic, &s));
    assert_non_null(strstr(snap.err.message, why));
}

/* Corrupt sections: too short, a TPR above 0xFF, values of ID, LDR, DFR,
 * SVR and an LVT entry that no register write leaves. */
static void test_load_corrupt(void **state)
{
    struct rig *rig = *state;
    uint8_t bytes[256] = {0}, good[256];
    struct snap_section s;

    size_t size = saved_lapic(rig, good); /* (a load refused leaves junk) */
    struct snap_rig snap = rig_snap_raw("lapic", LAPIC_STATE_VERSION, bytes, 100);
    rig_snap_open(&snap, "lapic", LAPIC_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, lapic_load(rig->lapic, &s));
    bytes[5] = 1; /* TPR = 0x100 */
    snap = rig_snap_raw("lapic", LAPIC_STATE_VERSION, bytes, 20 + 96 + 16 + 24 + 9 + 8);
    rig_snap_open(&snap, "lapic", LAPIC_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, lapic_load(rig->lapic, &s));
    assert_non_null(strstr(snap.err.message, "TPR"));

    /* Offsets: ID 0, TPR 4, LDR 8, DFR 12, SVR 16, ISR/TMR/IRR, ESR, the
     * pending ESR, ICR, then the LVT from 132 (the timer first). */
    expect_u32_refused(rig, good, size, 0, 0x01000001, "APIC ID");
    expect_u32_refused(rig, good, size, 8, 0x00000080, "LDR");
    expect_u32_refused(rig, good, size, 12, 0xF0000000, "DFR");
    expect_u32_refused(rig, good, size, 12, 0xFFFFFFFE, "DFR");
    expect_u32_refused(rig, good, size, 16, 0x000010FF, "SVR");
    expect_u32_refused(rig, good, size, 132, 0x80000040, "LVT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_state, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_register_writes, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_priorities, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_eoi_broadcast_for_level, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_spurious_and_software_disable, rig_setup,
                                        rig_teardown),
        cmocka_unit_test_setup_teardown(test_errors, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_ipis, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_destinations, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_timer_one_shot, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_timer_periodic, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_timer_masked_and_divide, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_save_restore, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_save_restore_early_clock, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_corrupt, rig_setup, rig_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
