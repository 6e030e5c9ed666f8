/*
 * tests/test_acpi_pm.c — the ACPI PM1 registers and PM timer
 * (devices/acpi_pm.c), through a real port bus, with the SCI going into a
 * real 8259A pair through the interrupt wiring.
 *
 * Expected behaviour follows the ACPI specification, §4.8: write-1-to-clear
 * status bits, SCI_EN, SLP_TYP/SLP_EN (SLP_EN reads 0), and a 24-bit timer
 * at 3.579545 MHz whose bit 23 toggling sets TMR_STS. Time is a fake clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/acpi_pm.h"
#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/pic8259.h"
#include "tests/snapshot_rig.h"

#define PM1_STS 0x600
#define PM1_EN  0x602
#define PM1_CNT 0x604
#define PM_TMR  0x608

struct rig {
    struct ioport_bus *bus;
    struct pic8259 *pic;
    struct irq_router *irq;
    struct acpi_pm *pm;
    uint64_t now_ns;
    unsigned sleeps;
    unsigned slp_typ;
};

static uint64_t fake_clock(void *ctx)
{
    return ((struct rig *)ctx)->now_ns;
}

static void record_sleep(void *ctx, unsigned slp_typ)
{
    struct rig *rig = ctx;

    rig->sleeps++;
    rig->slp_typ = slp_typ;
}

/* Time of PM timer tick k after the reset at rig_setup's clock. */
static uint64_t tick_ns(uint64_t k)
{
    return 5000000000ull + (k * 1000000000ull + ACPI_PM_TIMER_HZ - 1) / ACPI_PM_TIMER_HZ;
}

static int rig_setup(void **state)
{
    static struct rig rig;
    struct popek_error e;

    rig = (struct rig){.now_ns = 5000000000ull};
    rig.bus = ioport_bus_create();
    rig.pic = pic8259_create(rig.bus, &e);
    rig.irq = irq_router_create(rig.pic, &e);
    rig.pm = acpi_pm_create(rig.bus, rig.irq, fake_clock, &rig, record_sleep, &rig, &e);
    assert_non_null(rig.pm);
    /* The 8259A as Linux programs it, IRQ 9 level (ELCR) and unmasked. */
    static const uint16_t init[][2] = {
        {0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01}, {0xA0, 0x11},  {0xA1, 0x28},
        {0xA1, 0x02}, {0xA1, 0x01}, {0x21, 0xFB}, {0xA1, 0xFD}, {0x4D1, 0x02},
    };
    for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
        ioport_write(rig.bus, init[i][0], 1, init[i][1]);
    *state = &rig;
    return 0;
}

static int rig_teardown(void **state)
{
    struct rig *rig = *state;

    acpi_pm_destroy(rig->pm);
    irq_router_destroy(rig->irq);
    pic8259_destroy(rig->pic);
    ioport_bus_destroy(rig->bus);
    return 0;
}

/* IRQ 9's request in the slave 8259A's IRR (OCW3 read IRR): with the
 * line level-triggered in the ELCR, it follows the SCI line. */
static bool sci_pending(struct rig *rig)
{
    ioport_write(rig->bus, 0xA0, 1, 0x0A);
    return ioport_read(rig->bus, 0xA0, 1) & 0x02;
}

static void test_reset_state(void **state)
{
    struct rig *rig = *state;

    assert_int_equal(ioport_read(rig->bus, PM1_STS, 2), 0);
    assert_int_equal(ioport_read(rig->bus, PM1_EN, 2), 0);
    assert_int_equal(ioport_read(rig->bus, PM1_CNT, 2), ACPI_PM1_SCI_EN); /* in ACPI mode */
    assert_int_equal(ioport_read(rig->bus, PM_TMR, 4), 0);
    assert_int_equal(ioport_read(rig->bus, PM1_STS, 4), 0); /* status and enable at once */
    assert_false(sci_pending(rig));
    assert_int_equal(acpi_pm_next_deadline(rig->pm), UINT64_MAX);
}

static void test_timer_rate(void **state)
{
    struct rig *rig = *state;

    rig->now_ns = tick_ns(1);
    assert_int_equal(ioport_read(rig->bus, PM_TMR, 4), 1);
    rig->now_ns = tick_ns(1000) - 1;
    assert_int_equal(ioport_read(rig->bus, PM_TMR, 4), 999);
    /* One second is 3579545 ticks. */
    rig->now_ns = 5000000000ull + 1000000000ull;
    assert_int_equal(ioport_read(rig->bus, PM_TMR, 4), ACPI_PM_TIMER_HZ);
    /* Byte reads see the bytes of the count. */
    assert_int_equal(ioport_read(rig->bus, PM_TMR + 2, 1), (ACPI_PM_TIMER_HZ >> 16) & 0xFF);
    /* 24 bits: after 2^24 ticks it wraps; bits 31-24 read 0. */
    rig->now_ns = tick_ns((1u << 24) + 5);
    assert_int_equal(ioport_read(rig->bus, PM_TMR, 4), 5);
    /* The timer ignores writes. */
    ioport_write(rig->bus, PM_TMR, 4, 0x123456);
    assert_int_equal(ioport_read(rig->bus, PM_TMR, 4), 5);
}

static void test_timer_status_and_sci(void **state)
{
    struct rig *rig = *state;

    /* Bit 23 toggles every 2^23 ticks: TMR_STS, with no SCI until TMR_EN. */
    rig->now_ns = tick_ns((1u << 23) - 1);
    acpi_pm_update(rig->pm);
    assert_int_equal(ioport_read(rig->bus, PM1_STS, 2), 0);
    rig->now_ns = tick_ns(1u << 23);
    acpi_pm_update(rig->pm);
    assert_int_equal(ioport_read(rig->bus, PM1_STS, 2), ACPI_PM1_TMR);
    assert_false(sci_pending(rig));
    /* Enabling it raises the SCI (IRQ 9 on the slave: vector 0x29). */
    ioport_write(rig->bus, PM1_EN, 2, ACPI_PM1_TMR);
    assert_true(sci_pending(rig));
    assert_true(pic8259_has_interrupt(rig->pic));
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x29);
    /* Level: the request stays until the status is cleared (write 1). */
    ioport_write(rig->bus, 0xA0, 1, 0x20);
    ioport_write(rig->bus, 0x20, 1, 0x20);
    assert_true(sci_pending(rig));
    ioport_write(rig->bus, PM1_STS, 2, 0); /* writing 0 clears nothing */
    assert_true(sci_pending(rig));
    ioport_write(rig->bus, PM1_STS, 2, ACPI_PM1_TMR);
    assert_int_equal(ioport_read(rig->bus, PM1_STS, 2), 0);
    assert_false(sci_pending(rig));
    /* The next toggle, at 2^24 ticks, is the device's next deadline. */
    assert_int_equal(acpi_pm_next_deadline(rig->pm), tick_ns(1u << 24));
    rig->now_ns = tick_ns(1u << 24);
    acpi_pm_update(rig->pm);
    assert_true(sci_pending(rig));
    /* SCI_EN clear: events raise no SCI (they would go to SMI). */
    ioport_write(rig->bus, PM1_CNT, 2, 0);
    assert_false(sci_pending(rig));
    assert_int_equal(acpi_pm_next_deadline(rig->pm), UINT64_MAX);
    ioport_write(rig->bus, PM1_CNT, 2, ACPI_PM1_SCI_EN);
    assert_true(sci_pending(rig));
}

static void test_power_button(void **state)
{
    struct rig *rig = *state;

    acpi_pm_press_power_button(rig->pm);
    assert_int_equal(ioport_read(rig->bus, PM1_STS, 2), ACPI_PM1_PWRBTN);
    assert_false(sci_pending(rig));
    ioport_write(rig->bus, PM1_EN, 2, ACPI_PM1_PWRBTN);
    assert_true(sci_pending(rig));
    /* Byte access to the status register's high byte clears it. */
    ioport_write(rig->bus, PM1_STS + 1, 1, ACPI_PM1_PWRBTN >> 8);
    assert_false(sci_pending(rig));
    /* Enable bits that do not exist stay 0. */
    ioport_write(rig->bus, PM1_EN, 2, 0xFFFF);
    assert_int_equal(ioport_read(rig->bus, PM1_EN, 2), 0x0721);
}

static void test_sleep(void **state)
{
    struct rig *rig = *state;

    /* SLP_TYP alone is stored; SLP_EN starts the transition and reads 0. */
    ioport_write(rig->bus, PM1_CNT, 2, ACPI_PM1_SCI_EN | 5u << ACPI_PM1_SLP_TYP_SHIFT);
    assert_int_equal(rig->sleeps, 0);
    assert_int_equal(ioport_read(rig->bus, PM1_CNT, 2), ACPI_PM1_SCI_EN | 5u << 10);
    ioport_write(rig->bus, PM1_CNT, 2,
                 ACPI_PM1_SCI_EN | ACPI_SLP_TYP_S5 << ACPI_PM1_SLP_TYP_SHIFT | ACPI_PM1_SLP_EN);
    assert_int_equal(rig->sleeps, 1);
    assert_int_equal(rig->slp_typ, ACPI_SLP_TYP_S5);
    assert_int_equal(ioport_read(rig->bus, PM1_CNT, 2) & ACPI_PM1_SLP_EN, 0);
    /* The high byte alone holds SLP_TYP and SLP_EN. */
    ioport_write(rig->bus, PM1_CNT + 1, 1, (1u << ACPI_PM1_SLP_TYP_SHIFT | ACPI_PM1_SLP_EN) >> 8);
    assert_int_equal(rig->sleeps, 2);
    assert_int_equal(rig->slp_typ, 1);
}

/* Save → a fresh PM device whose clock reads load_now → load: the
 * registers, the timer's count (time stood still in the file) and the
 * next TMR_STS deadline, and the same SCI afterwards. */
static void check_save_restore(struct rig *a, uint64_t load_now)
{
    struct rig b;
    struct popek_error e;

    ioport_write(a->bus, PM1_EN, 2, ACPI_PM1_TMR);
    a->now_ns = tick_ns((1u << 23) - 1000);
    acpi_pm_update(a->pm);

    struct snap_writer *w = rig_snap_begin("acpi_pm", ACPI_PM_STATE_VERSION);
    acpi_pm_save(a->pm, w);
    struct snap_rig snap = rig_snap_finish(w);
    b = (struct rig){.now_ns = load_now};
    b.bus = ioport_bus_create();
    b.pic = pic8259_create(b.bus, &e);
    b.irq = irq_router_create(b.pic, &e);
    b.pm = acpi_pm_create(b.bus, b.irq, fake_clock, &b, record_sleep, &b, &e);
    assert_non_null(b.pm);
    struct snap_section s;
    rig_snap_open(&snap, "acpi_pm", ACPI_PM_STATE_VERSION, &s);
    assert_true(acpi_pm_load(b.pm, &s));
    rig_snap_close(&snap, &s);

    assert_true(acpi_pm_next_deadline(b.pm) - b.now_ns == acpi_pm_next_deadline(a->pm) - a->now_ns);
    struct rig *r[2] = {a, &b};
    uint32_t seen[2][8];
    for (int i = 0; i < 2; i++) {
        seen[i][0] = ioport_read(r[i]->bus, PM_TMR, 4);
        seen[i][1] = ioport_read(r[i]->bus, PM1_STS, 4);
        seen[i][2] = ioport_read(r[i]->bus, PM1_CNT, 2);
        r[i]->now_ns += 1000000; /* past the MSB toggle */
        acpi_pm_update(r[i]->pm);
        seen[i][3] = ioport_read(r[i]->bus, PM_TMR, 4);
        seen[i][4] = ioport_read(r[i]->bus, PM1_STS, 2);
        ioport_write(r[i]->bus, PM1_STS, 2, ACPI_PM1_TMR); /* write 1 to clear */
        seen[i][5] = ioport_read(r[i]->bus, PM1_STS, 2);
        seen[i][6] = (uint32_t)(acpi_pm_next_deadline(r[i]->pm) - r[i]->now_ns);
        seen[i][7] = r[i]->sleeps;
    }
    assert_memory_equal(seen[0], seen[1], sizeof(seen[0]));
    assert_int_equal(seen[0][4] & ACPI_PM1_TMR, ACPI_PM1_TMR);
    acpi_pm_destroy(b.pm);
    irq_router_destroy(b.irq);
    pic8259_destroy(b.pic);
    ioport_bus_destroy(b.bus);
}

/* Loaded a day later. */
static void test_save_restore(void **state)
{
    struct rig *a = *state;

    check_save_restore(a, tick_ns((1u << 23) - 1000) + 86400ull * 1000000000ull);
}

/* Loaded on a clock that reads 1 ms, less than the timer had counted
 * (its epoch lies before the new clock's zero): the same count all the
 * same, not one that restarted from the clock's zero. */
static void test_save_restore_early_clock(void **state)
{
    check_save_restore(*state, 1000000);
}

static void test_load_corrupt(void **state)
{
    struct rig *rig = *state;
    uint8_t bytes[23] = {0};
    struct snap_section s;

    struct snap_rig snap = rig_snap_raw("acpi_pm", ACPI_PM_STATE_VERSION, bytes, 20);
    rig_snap_open(&snap, "acpi_pm", ACPI_PM_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, acpi_pm_load(rig->pm, &s));
    bytes[22] = 2; /* the SCI level, a flag */
    snap = rig_snap_raw("acpi_pm", ACPI_PM_STATE_VERSION, bytes, 23);
    rig_snap_open(&snap, "acpi_pm", ACPI_PM_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, acpi_pm_load(rig->pm, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_state, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_timer_rate, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_timer_status_and_sci, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_power_button, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_sleep, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_save_restore, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_save_restore_early_clock, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_corrupt, rig_setup, rig_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
