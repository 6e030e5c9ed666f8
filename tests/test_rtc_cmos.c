/*
 * tests/test_rtc_cmos.c — the MC146818A RTC and CMOS RAM
 * (devices/rtc_cmos.c), with IRQ 8 going into a real 8259A pair.
 *
 * Both clocks are fakes the tests advance together: the wall clock starts
 * at 2024-02-29 23:59:58.5 UTC (a leap day, half a second into a second)
 * and the monotonic clock at 1 s. Expected values follow the datasheet's
 * register descriptions, and QEMU where rtc_cmos.c says it follows QEMU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/pic8259.h"
#include "devices/rtc_cmos.h"
#include "tests/snapshot_rig.h"

#define NS_PER_SEC  1000000000ull
#define START_SEC   1709251198ull /* 2024-02-29 23:59:58 UTC, a Thursday */
#define START_WALL  (START_SEC * NS_PER_SEC + NS_PER_SEC / 2)
#define START_MONO  NS_PER_SEC
#define RTC_VECTOR  0x28      /* IRQ 8 after Linux's PIC set-up */
#define PERIOD_1024 976563ull /* 32 edges of 32.768 kHz, rounded up */

enum {
    SECONDS = 0x00,
    SECONDS_ALARM = 0x01,
    MINUTES = 0x02,
    MINUTES_ALARM = 0x03,
    HOURS = 0x04,
    HOURS_ALARM = 0x05,
    WEEKDAY = 0x06,
    DAY = 0x07,
    MONTH = 0x08,
    YEAR = 0x09,
    REG_A = 0x0A,
    REG_B = 0x0B,
    REG_C = 0x0C,
    REG_D = 0x0D,
    CENTURY = 0x32,
};

struct rig {
    struct ioport_bus *bus;
    struct pic8259 *pic;
    struct irq_router *irq;
    struct rtc_cmos *rtc;
    uint64_t mono_ns, wall_ns;
};

static uint64_t fake_monotonic(void *ctx)
{
    return ((const struct rig *)ctx)->mono_ns;
}

static uint64_t fake_wall(void *ctx)
{
    return ((const struct rig *)ctx)->wall_ns;
}

static void advance(struct rig *rig, uint64_t ns)
{
    rig->mono_ns += ns;
    rig->wall_ns += ns;
}

static uint8_t cmos_read(struct rig *rig, uint8_t index)
{
    ioport_write(rig->bus, 0x70, 1, index);
    return (uint8_t)ioport_read(rig->bus, 0x71, 1);
}

static void cmos_write(struct rig *rig, uint8_t index, uint8_t value)
{
    ioport_write(rig->bus, 0x70, 1, index);
    ioport_write(rig->bus, 0x71, 1, value);
}

static struct rig *rig_make(uint64_t ram_bytes)
{
    static struct rig rig;
    struct popek_error e;
    const struct rtc_cmos_clocks clocks = {fake_monotonic, fake_wall, &rig};

    rig.mono_ns = START_MONO;
    rig.wall_ns = START_WALL;
    rig.bus = ioport_bus_create();
    rig.pic = pic8259_create(rig.bus, &e);
    rig.irq = irq_router_create(rig.pic, &e);
    rig.rtc = rtc_cmos_create(rig.bus, rig.irq, &clocks, ram_bytes, &e);
    assert_non_null(rig.pic);
    assert_non_null(rig.rtc);
    /* Linux's init_8259A, everything unmasked. */
    static const uint8_t init[][2] = {
        {0x21, 0xFF}, {0xA1, 0xFF}, {0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01},
        {0xA0, 0x11}, {0xA1, 0x28}, {0xA1, 0x02}, {0xA1, 0x01}, {0x21, 0x00}, {0xA1, 0x00},
    };
    for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
        ioport_write(rig.bus, init[i][0], 1, init[i][1]);
    return &rig;
}

static int rig_setup(void **state)
{
    *state = rig_make(128ull << 20);
    return 0;
}

static int rig_teardown(void **state)
{
    struct rig *rig = *state;

    rtc_cmos_destroy(rig->rtc);
    irq_router_destroy(rig->irq);
    pic8259_destroy(rig->pic);
    ioport_bus_destroy(rig->bus);
    return 0;
}

/* The PIC answers with IRQ 8 (then EOIs both chips). */
static bool irq8_delivered(struct rig *rig)
{
    if (!pic8259_has_interrupt(rig->pic))
        return false;
    assert_int_equal(pic8259_acknowledge(rig->pic), RTC_VECTOR);
    ioport_write(rig->bus, 0xA0, 1, 0x20);
    ioport_write(rig->bus, 0x20, 1, 0x20);
    return true;
}

static void assert_time(struct rig *rig, uint8_t h, uint8_t m, uint8_t s)
{
    assert_int_equal(cmos_read(rig, HOURS), h);
    assert_int_equal(cmos_read(rig, MINUTES), m);
    assert_int_equal(cmos_read(rig, SECONDS), s);
}

static void assert_date(struct rig *rig, uint8_t century, uint8_t y, uint8_t mo, uint8_t d,
                        uint8_t weekday)
{
    assert_int_equal(cmos_read(rig, CENTURY), century);
    assert_int_equal(cmos_read(rig, YEAR), y);
    assert_int_equal(cmos_read(rig, MONTH), mo);
    assert_int_equal(cmos_read(rig, DAY), d);
    assert_int_equal(cmos_read(rig, WEEKDAY), weekday);
}

/* ---- time and formats ---- */

static void test_bios_state(void **state)
{
    struct rig *rig = *state;

    assert_int_equal(cmos_read(rig, REG_A), 0x26);
    assert_int_equal(cmos_read(rig, REG_B), 0x02);
    assert_int_equal(cmos_read(rig, REG_C), 0x00);
    assert_int_equal(cmos_read(rig, REG_D), 0x80);
    assert_time(rig, 0x23, 0x59, 0x58);
    assert_date(rig, 0x20, 0x24, 0x02, 0x29, 5);
    assert_int_equal(cmos_read(rig, 0x37), 0x20); /* the PS/2 century byte */
    assert_int_equal(ioport_read(rig->bus, 0x70, 1), 0xFF);
}

static void test_leap_day_rolls_into_march(void **state)
{
    struct rig *rig = *state;

    advance(rig, NS_PER_SEC / 2 - 1); /* 23:59:58.999999999 */
    assert_time(rig, 0x23, 0x59, 0x58);
    advance(rig, 1);
    assert_time(rig, 0x23, 0x59, 0x59);
    advance(rig, NS_PER_SEC);
    assert_time(rig, 0x00, 0x00, 0x00);
    assert_date(rig, 0x20, 0x24, 0x03, 0x01, 6);
}

static void test_binary_and_12_hour(void **state)
{
    struct rig *rig = *state;

    cmos_write(rig, REG_B, 0x06); /* binary, 24-hour */
    assert_time(rig, 23, 59, 58);
    assert_date(rig, 20, 24, 2, 29, 5);
    cmos_write(rig, REG_B, 0x00); /* BCD, 12-hour: 11 PM */
    assert_int_equal(cmos_read(rig, HOURS), 0x91);
    cmos_write(rig, REG_B, 0x04); /* binary, 12-hour */
    assert_int_equal(cmos_read(rig, HOURS), 0x80 | 11);
    advance(rig, 2 * NS_PER_SEC); /* midnight is 12 AM */
    assert_int_equal(cmos_read(rig, HOURS), 12);
    cmos_write(rig, REG_B, 0x00);
    assert_int_equal(cmos_read(rig, HOURS), 0x12);
    advance(rig, 12 * 3600 * NS_PER_SEC); /* noon is 12 PM */
    assert_int_equal(cmos_read(rig, HOURS), 0x92);
    advance(rig, 3600 * NS_PER_SEC);
    assert_int_equal(cmos_read(rig, HOURS), 0x81);
}

/* UIP is 1 during the 244.140625 us (8 divider edges) before each update
 * and 0 otherwise ("UIP"); never while SET is 1. */
static void test_uip_window(void **state)
{
    struct rig *rig = *state;
    const uint64_t uip_start = NS_PER_SEC - 244140; /* edge 32760 at 999755859.375 ns */

    advance(rig, NS_PER_SEC / 2 - 244141 - 1); /* 999755858 ns into the second */
    assert_int_equal(cmos_read(rig, REG_A), 0x26);
    advance(rig, 1);
    assert_int_equal(cmos_read(rig, REG_A), 0x26);
    advance(rig, 1); /* 999755860: the edge has passed */
    assert_int_equal(cmos_read(rig, REG_A), 0xA6);
    cmos_write(rig, REG_B, 0x82);
    assert_int_equal(cmos_read(rig, REG_A), 0x26);
    cmos_write(rig, REG_B, 0x02);
    assert_int_equal(cmos_read(rig, REG_A), 0xA6);
    assert_int_equal(cmos_read(rig, SECONDS), 0x58); /* the update has not happened */
    advance(rig, NS_PER_SEC - uip_start - 1);
    assert_int_equal(cmos_read(rig, REG_A), 0xA6);
    advance(rig, 1);
    assert_int_equal(cmos_read(rig, REG_A), 0x26);
    assert_int_equal(cmos_read(rig, SECONDS), 0x59);
    cmos_write(rig, REG_A, 0xA6); /* UIP is read only */
    assert_int_equal(cmos_read(rig, REG_A), 0x26);
}

/* Setting the clock ("SET"): the registers hold still while SET is 1; when
 * it clears, the clock runs on from them, the divider's phase unchanged. */
static void test_set_and_offset(void **state)
{
    struct rig *rig = *state;

    cmos_write(rig, REG_B, 0x82 | 0x10); /* SET (and UIE, which SET clears) */
    assert_int_equal(cmos_read(rig, REG_B), 0x82);
    cmos_write(rig, CENTURY, 0x19);
    cmos_write(rig, YEAR, 0x99);
    cmos_write(rig, MONTH, 0x12);
    cmos_write(rig, DAY, 0x31);
    cmos_write(rig, HOURS, 0x23);
    cmos_write(rig, MINUTES, 0x59);
    cmos_write(rig, SECONDS, 0x59);
    cmos_write(rig, WEEKDAY, 0x01); /* wrong: derived from the date (QEMU) */
    advance(rig, 5 * NS_PER_SEC);
    assert_time(rig, 0x23, 0x59, 0x59);
    assert_int_equal(cmos_read(rig, WEEKDAY), 0x01);
    cmos_write(rig, REG_B, 0x02); /* 0.5 s into a divider second */
    assert_date(rig, 0x19, 0x99, 0x12, 0x31, 6);
    advance(rig, NS_PER_SEC / 2 - 1);
    assert_time(rig, 0x23, 0x59, 0x59);
    advance(rig, 1);
    assert_time(rig, 0x00, 0x00, 0x00);
    assert_date(rig, 0x20, 0x00, 0x01, 0x01, 7);
    /* The offset persists: a day later the clock is still 24 years back. */
    advance(rig, 86400 * NS_PER_SEC);
    assert_date(rig, 0x20, 0x00, 0x01, 0x02, 1);
}

/* Linux's mc146818_set_time: SET, divider reset, registers, B back, A back:
 * the first update comes 500 ms after the divider leaves reset. */
static void test_divider_reset(void **state)
{
    struct rig *rig = *state;

    cmos_write(rig, REG_B, 0x82);
    cmos_write(rig, REG_A, 0x76);
    cmos_write(rig, HOURS, 0x12);
    cmos_write(rig, MINUTES, 0x00);
    cmos_write(rig, SECONDS, 0x00);
    cmos_write(rig, REG_B, 0x02);
    advance(rig, 3 * NS_PER_SEC); /* the divider is still held */
    assert_time(rig, 0x12, 0x00, 0x00);
    assert_int_equal(cmos_read(rig, REG_A), 0x76);
    cmos_write(rig, REG_A, 0x26);
    advance(rig, NS_PER_SEC / 2 - 1);
    assert_time(rig, 0x12, 0x00, 0x00);
    advance(rig, 1);
    assert_time(rig, 0x12, 0x00, 0x01);
    assert_date(rig, 0x20, 0x24, 0x02, 0x29, 5);
}

/* A time register written while the clock runs sets it at once (QEMU). */
static void test_write_while_running(void **state)
{
    struct rig *rig = *state;

    cmos_write(rig, MINUTES, 0x30);
    assert_time(rig, 0x23, 0x30, 0x58);
    advance(rig, NS_PER_SEC / 2);
    assert_time(rig, 0x23, 0x30, 0x59);
}

/* ---- interrupts ---- */

/* PIE at 1024 Hz: IRQ 8 rises on each edge of the rate's divider tap; the
 * line stays high (no new edge for the PIC) until register C is read. */
static void test_periodic_interrupt(void **state)
{
    struct rig *rig = *state;
    uint64_t deadline;

    cmos_read(rig, REG_C);
    assert_int_equal(rtc_cmos_next_deadline(rig->rtc), UINT64_MAX);
    cmos_write(rig, REG_B, 0x42);
    deadline = rtc_cmos_next_deadline(rig->rtc);
    assert_int_equal(deadline, START_MONO + PERIOD_1024); /* the phase is .5 s: on an edge */
    rig->mono_ns = deadline - 1;
    rig->wall_ns = START_WALL + PERIOD_1024 - 1;
    rtc_cmos_update(rig->rtc);
    assert_false(irq8_delivered(rig));
    advance(rig, 1);
    rtc_cmos_update(rig->rtc);
    assert_true(irq8_delivered(rig));
    assert_int_equal(rtc_cmos_interrupts(rig->rtc), 1);
    assert_int_equal(rtc_cmos_next_deadline(rig->rtc), UINT64_MAX); /* held until C is read */
    advance(rig, 10 * PERIOD_1024);
    rtc_cmos_update(rig->rtc);
    assert_false(irq8_delivered(rig));
    assert_int_equal(cmos_read(rig, REG_C), 0xC0); /* IRQF, PF */
    assert_int_equal(cmos_read(rig, REG_C), 0x00);
    deadline = rtc_cmos_next_deadline(rig->rtc);
    assert_true(deadline > rig->mono_ns && deadline <= rig->mono_ns + PERIOD_1024);
    rig->wall_ns += deadline - rig->mono_ns;
    rig->mono_ns = deadline;
    rtc_cmos_update(rig->rtc);
    assert_true(irq8_delivered(rig));
    assert_int_equal(rtc_cmos_interrupts(rig->rtc), 2);
    /* PIE off: IRQF and the line follow at once, and PF stays clear (QEMU). */
    cmos_write(rig, REG_B, 0x02);
    assert_int_equal(cmos_read(rig, REG_C), 0x40);
    advance(rig, 5 * PERIOD_1024);
    assert_int_equal(cmos_read(rig, REG_C), 0x00);
}

/* Rate select: RS = 3 is 8192 Hz, RS = 15 is 2 Hz, RS = 1 repeats 8 (256
 * Hz); RS = 0 is off. */
static void test_periodic_rates(void **state)
{
    struct rig *rig = *state;
    static const struct {
        uint8_t rs;
        uint64_t period_ns;
    } rates[] = {{3, 122071}, {15, 500000000}, {1, 3906250}, {8, 3906250}};

    cmos_read(rig, REG_C);
    cmos_write(rig, REG_B, 0x42);
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        cmos_write(rig, REG_A, (uint8_t)(0x20 | rates[i].rs));
        assert_int_equal(rtc_cmos_next_deadline(rig->rtc), rig->mono_ns + rates[i].period_ns);
    }
    cmos_write(rig, REG_A, 0x20);
    assert_int_equal(rtc_cmos_next_deadline(rig->rtc), UINT64_MAX);
}

/* UF is set by every update, interrupting when UIE is set. */
static void test_update_interrupt(void **state)
{
    struct rig *rig = *state;

    cmos_read(rig, REG_C);
    advance(rig, NS_PER_SEC);
    assert_int_equal(cmos_read(rig, REG_C), 0x10); /* UF without UIE: no IRQF */
    assert_false(irq8_delivered(rig));
    cmos_write(rig, REG_B, 0x12);
    assert_int_equal(rtc_cmos_next_deadline(rig->rtc), rig->mono_ns + NS_PER_SEC / 2);
    advance(rig, NS_PER_SEC / 2);
    rtc_cmos_update(rig->rtc);
    assert_true(irq8_delivered(rig));
    /* IRQF and UF — and AF: the alarm registers hold 00:00:00 and this
     * update is midnight's. */
    assert_int_equal(cmos_read(rig, REG_C), 0xB0);
    /* SET stops updates (and clears UIE). */
    cmos_write(rig, REG_B, 0x92);
    advance(rig, 3 * NS_PER_SEC);
    assert_int_equal(cmos_read(rig, REG_C), 0x00);
}

/* The alarm fires on the update onto a matching time; 0xC0-0xFF in an
 * alarm byte matches anything ("don't care"). */
static void test_alarm_interrupt(void **state)
{
    struct rig *rig = *state;

    cmos_read(rig, REG_C);
    cmos_write(rig, HOURS_ALARM, 0xC0);
    cmos_write(rig, MINUTES_ALARM, 0xFF);
    cmos_write(rig, SECONDS_ALARM, 0x05); /* every minute at :05 */
    cmos_write(rig, REG_B, 0x22);
    /* 23:59:58.5 → 00:00:05 is 6.5 s away */
    assert_int_equal(rtc_cmos_next_deadline(rig->rtc),
                     rig->mono_ns + 6 * NS_PER_SEC + NS_PER_SEC / 2);
    advance(rig, 6 * NS_PER_SEC);
    rtc_cmos_update(rig->rtc);
    assert_false(irq8_delivered(rig));
    assert_int_equal(cmos_read(rig, REG_C), 0x10); /* UF only */
    advance(rig, NS_PER_SEC / 2);
    rtc_cmos_update(rig->rtc);
    assert_true(irq8_delivered(rig));
    assert_int_equal(cmos_read(rig, REG_C), 0xB0); /* IRQF, AF, UF */
    /* An hour-long gap still finds the alarm; one that never matches does
     * not fire (minute 0x60 is no time). */
    cmos_write(rig, REG_B, 0x02);
    advance(rig, 3600 * NS_PER_SEC);
    assert_int_equal(cmos_read(rig, REG_C) & 0x20, 0x20);
    cmos_write(rig, MINUTES_ALARM, 0x60);
    advance(rig, 3600 * NS_PER_SEC);
    assert_int_equal(cmos_read(rig, REG_C), 0x10);
    cmos_write(rig, REG_B, 0x22);
    assert_int_equal(rtc_cmos_next_deadline(rig->rtc), UINT64_MAX);
}

/* An alarm in 12-hour mode compares the register bytes (PM bit too). */
static void test_alarm_12_hour(void **state)
{
    struct rig *rig = *state;

    cmos_write(rig, REG_B, 0x00);
    cmos_read(rig, REG_C);
    cmos_write(rig, HOURS_ALARM, 0x81); /* 1 PM */
    cmos_write(rig, MINUTES_ALARM, 0x00);
    cmos_write(rig, SECONDS_ALARM, 0x00);
    cmos_write(rig, REG_B, 0x20);
    /* 23:59:58.5 → 13:00:00 the next day */
    assert_int_equal(rtc_cmos_next_deadline(rig->rtc),
                     rig->mono_ns + (13 * 3600 + 1) * NS_PER_SEC + NS_PER_SEC / 2);
}

/* ---- RAM, index, reset ---- */

static void test_memory_bytes(uint64_t ram_mib, uint16_t ext_kib, uint16_t high_64k)
{
    struct rig *rig = rig_make(ram_mib << 20);

    assert_int_equal(cmos_read(rig, 0x15) | cmos_read(rig, 0x16) << 8, 640);
    assert_int_equal(cmos_read(rig, 0x17) | cmos_read(rig, 0x18) << 8, ext_kib);
    assert_int_equal(cmos_read(rig, 0x30) | cmos_read(rig, 0x31) << 8, ext_kib);
    assert_int_equal(cmos_read(rig, 0x34) | cmos_read(rig, 0x35) << 8, high_64k);
    assert_int_equal(cmos_read(rig, 0x5B) | cmos_read(rig, 0x5C) << 8 | cmos_read(rig, 0x5D) << 16,
                     0);
    assert_int_equal(cmos_read(rig, 0x0F), 0x00); /* shutdown status: cold boot */
    assert_int_equal(cmos_read(rig, 0x10), 0x00); /* no floppy */
    assert_int_equal(cmos_read(rig, 0x12), 0x00); /* no hard disk */
    assert_int_equal(cmos_read(rig, 0x14), 0x02); /* FPU, VGA */
    assert_int_equal(cmos_read(rig, 0x5F), 0x00); /* one CPU */
    rig_teardown((void **)&rig);
}

static void test_memory_sizes(void **state)
{
    (void)state;
    test_memory_bytes(4, 3 * 1024, 0);
    test_memory_bytes(16, 15 * 1024, 0);
    test_memory_bytes(32, 31 * 1024, 256);
    test_memory_bytes(64, 63 * 1024, 768);
    test_memory_bytes(128, 0xFFFF, 1792);
    test_memory_bytes(3072, 0xFFFF, 48896); /* (3 GiB - 16 MiB) / 64 KiB */
}

static void test_ram_index_and_nmi(void **state)
{
    struct rig *rig = *state;

    cmos_write(rig, 0x40, 0x5A);
    assert_int_equal(cmos_read(rig, 0x40), 0x5A);
    assert_int_equal(cmos_read(rig, 0xC0), 0x5A); /* index bit 7 is the NMI mask */
    assert_true(rtc_cmos_nmi_masked(rig->rtc));
    cmos_read(rig, 0x40);
    assert_false(rtc_cmos_nmi_masked(rig->rtc));
    cmos_write(rig, REG_C, 0xFF); /* C and D are read only */
    cmos_write(rig, REG_D, 0x00);
    assert_int_equal(cmos_read(rig, REG_C), 0x00);
    assert_int_equal(cmos_read(rig, REG_D), 0x80);
}

/* RESET clears PIE, AIE, UIE, SQWE and the flags and lowers IRQ 8; the BIOS
 * then puts A and B back. Time, offset and RAM survive. */
static void test_reset(void **state)
{
    struct rig *rig = *state;

    cmos_write(rig, REG_B, 0x82);
    cmos_write(rig, YEAR, 0x30);
    cmos_write(rig, REG_B, 0x7E); /* binary, PIE, AIE, UIE, SQWE */
    cmos_write(rig, REG_A, 0x23);
    cmos_write(rig, 0x40, 0x77);
    cmos_write(rig, 0x0F, 0x0A);
    advance(rig, 2 * NS_PER_SEC);
    rtc_cmos_update(rig->rtc);
    assert_true(irq8_delivered(rig));
    rtc_cmos_reset(rig->rtc);
    assert_int_equal(cmos_read(rig, REG_A), 0x26);
    assert_int_equal(cmos_read(rig, REG_B), 0x02);
    assert_int_equal(cmos_read(rig, REG_C), 0x00);
    assert_int_equal(rtc_cmos_next_deadline(rig->rtc), UINT64_MAX);
    assert_int_equal(cmos_read(rig, YEAR), 0x30);
    assert_int_equal(cmos_read(rig, 0x40), 0x77);
    assert_int_equal(cmos_read(rig, 0x0F), 0x00);
    assert_int_equal(cmos_read(rig, 0x17), 0xFF);
    /* IRQ 8 is low again: the next interrupt is a new edge. */
    cmos_write(rig, REG_B, 0x12);
    advance(rig, NS_PER_SEC);
    rtc_cmos_update(rig->rtc);
    assert_true(irq8_delivered(rig));
}

/* Save → a fresh RTC (its monotonic clock elsewhere, the wall clock the
 * same) → load: CMOS RAM, the index, the date and time, the interrupt
 * enables and a pending flag read back the same, and periodic interrupts
 * come at the same moments. */
static void test_save_restore(void **state)
{
    struct rig *a = *state, b;
    struct popek_error e;

    cmos_write(a, 0x40, 0x5A); /* a byte of plain CMOS RAM */
    cmos_write(a, 0x0B, 0x42); /* PIE, 24-hour, BCD */
    cmos_write(a, 0x0A, 0x2F); /* 2 Hz periodic */
    advance(a, 700000000);
    rtc_cmos_update(a->rtc);
    ioport_write(a->bus, 0x70, 1, 0x8C); /* NMI masked, index C */

    struct snap_writer *w = rig_snap_begin("rtc_cmos", RTC_CMOS_STATE_VERSION);
    rtc_cmos_save(a->rtc, w);
    struct snap_rig snap = rig_snap_finish(w);
    memset(&b, 0, sizeof(b));
    b.mono_ns = a->mono_ns + 12345678901ull;
    b.wall_ns = a->wall_ns;
    const struct rtc_cmos_clocks clocks = {fake_monotonic, fake_wall, &b};
    b.bus = ioport_bus_create();
    b.pic = pic8259_create(b.bus, &e);
    b.irq = irq_router_create(b.pic, &e);
    b.rtc = rtc_cmos_create(b.bus, b.irq, &clocks, 64ull << 20, &e); /* other memory sizes */
    assert_non_null(b.rtc);
    struct snap_section s;
    rig_snap_open(&snap, "rtc_cmos", RTC_CMOS_STATE_VERSION, &s);
    assert_true(rtc_cmos_load(b.rtc, &s));
    rig_snap_close(&snap, &s);
    assert_true(rtc_cmos_nmi_masked(b.rtc));

    struct rig *r[2] = {a, &b};
    uint8_t seen[2][3 + 128];
    for (int i = 0; i < 2; i++) {
        unsigned n = 0;
        seen[i][n++] = (uint8_t)ioport_read(r[i]->bus, 0x71, 1); /* C, via the kept index */
        advance(r[i], 600000000);
        rtc_cmos_update(r[i]->rtc);
        seen[i][n++] = cmos_read(r[i], 0x0C);
        seen[i][n++] = (uint8_t)((rtc_cmos_next_deadline(r[i]->rtc) - r[i]->mono_ns) / 1000000);
        for (unsigned k = 0; k < 128; k++)
            seen[i][n++] = k == 0x0A || k == 0x0C ? 0 : cmos_read(r[i], (uint8_t)k);
    }
    assert_memory_equal(seen[0], seen[1], sizeof(seen[0]));
    assert_int_equal(seen[0][1] & 0x40, 0x40); /* PF came again */
    rtc_cmos_destroy(b.rtc);
    irq_router_destroy(b.irq);
    pic8259_destroy(b.pic);
    ioport_bus_destroy(b.bus);
}

static void test_load_corrupt(void **state)
{
    struct rig *rig = *state;
    uint8_t bytes[128 + 2 + 48 + 1] = {0};
    struct snap_section s;

    struct snap_rig snap = rig_snap_raw("rtc_cmos", RTC_CMOS_STATE_VERSION, bytes, 100);
    rig_snap_open(&snap, "rtc_cmos", RTC_CMOS_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, rtc_cmos_load(rig->rtc, &s));
    bytes[128] = 200; /* the index: past the 128 bytes */
    snap = rig_snap_raw("rtc_cmos", RTC_CMOS_STATE_VERSION, bytes, sizeof(bytes));
    rig_snap_open(&snap, "rtc_cmos", RTC_CMOS_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, rtc_cmos_load(rig->rtc, &s));
    bytes[128] = 0;
    bytes[130 + 15] = 0x80; /* the offset's nanoseconds negative */
    snap = rig_snap_raw("rtc_cmos", RTC_CMOS_STATE_VERSION, bytes, sizeof(bytes));
    rig_snap_open(&snap, "rtc_cmos", RTC_CMOS_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, rtc_cmos_load(rig->rtc, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bios_state, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_leap_day_rolls_into_march, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_binary_and_12_hour, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_uip_window, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_set_and_offset, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_divider_reset, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_write_while_running, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_periodic_interrupt, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_periodic_rates, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_update_interrupt, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_alarm_interrupt, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_alarm_12_hour, rig_setup, rig_teardown),
        cmocka_unit_test(test_memory_sizes),
        cmocka_unit_test_setup_teardown(test_ram_index_and_nmi, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_reset, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_save_restore, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_corrupt, rig_setup, rig_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
