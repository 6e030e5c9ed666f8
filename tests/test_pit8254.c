/*
 * tests/test_pit8254.c — the 8254 PIT and port 0x61 (devices/pit8254.c),
 * with IRQ 0 going into a real 8259A pair through the interrupt wiring
 * (devices/irq.h).
 *
 * Time is a fake clock the tests advance. CLK pulse k of the 1.193182 MHz
 * input falls at ceil(k * 1e9 / 1193182) ns (pit8254.h), so "at pulse k"
 * below means the clock reads exactly that time. Expected counts and OUT
 * levels follow the Intel 82C54 datasheet's mode definitions: a count
 * written between pulses k and k+1 is loaded on pulse k+1 ("the count is
 * loaded on the next CLK pulse") and decremented on the pulses after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "tests/snapshot_rig.h"

#define CONTROL   0x43
#define PORT_B    0x61
#define TICK_10MS 11932 /* Linux's LATCH for HZ=100: round(1193182 / 100) */

struct rig {
    struct ioport_bus *bus;
    struct pic8259 *pic;
    struct irq_router *irq;
    struct pit8254 *pit;
    uint64_t now_ns;
};

static uint64_t fake_clock(void *ctx)
{
    return *(const uint64_t *)ctx;
}

static uint64_t pulse_ns(uint64_t k)
{
    return (k * 1000000000ull + PIT_CLOCK_HZ - 1) / PIT_CLOCK_HZ;
}

static void out8(struct rig *rig, io_port_t port, uint8_t value)
{
    ioport_write(rig->bus, port, 1, value);
}

static uint8_t in8(struct rig *rig, io_port_t port)
{
    return (uint8_t)ioport_read(rig->bus, port, 1);
}

static void at_pulse(struct rig *rig, uint64_t k)
{
    rig->now_ns = pulse_ns(k);
}

static int rig_setup(void **state)
{
    static struct rig rig;
    struct popek_error e;

    rig.now_ns = 0;
    rig.bus = ioport_bus_create();
    rig.pic = pic8259_create(rig.bus, &e);
    rig.irq = irq_router_create(rig.pic, &e);
    rig.pit = pit8254_create(rig.bus, rig.irq, fake_clock, &rig.now_ns, &e);
    assert_non_null(rig.pic);
    assert_non_null(rig.irq);
    assert_non_null(rig.pit);
    /* Linux's init_8259A, everything unmasked. */
    static const uint8_t init[][2] = {
        {0x21, 0xFF}, {0xA1, 0xFF}, {0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01},
        {0xA0, 0x11}, {0xA1, 0x28}, {0xA1, 0x02}, {0xA1, 0x01}, {0x21, 0x00}, {0xA1, 0x00},
    };
    for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
        out8(&rig, init[i][0], init[i][1]);
    *state = &rig;
    return 0;
}

static int rig_teardown(void **state)
{
    struct rig *rig = *state;

    pit8254_destroy(rig->pit);
    irq_router_destroy(rig->irq);
    pic8259_destroy(rig->pic);
    ioport_bus_destroy(rig->bus);
    return 0;
}

static void write_count(struct rig *rig, unsigned counter, uint16_t count)
{
    out8(rig, (io_port_t)(0x40 + counter), (uint8_t)count);
    out8(rig, (io_port_t)(0x40 + counter), (uint8_t)(count >> 8));
}

/* Two reads of an LSB-then-MSB counter, in that order. */
static uint16_t read_word(struct rig *rig, unsigned counter)
{
    uint16_t lo = in8(rig, (io_port_t)(0x40 + counter));
    uint16_t hi = in8(rig, (io_port_t)(0x40 + counter));

    return (uint16_t)(hi << 8 | lo);
}

/* Counter latch command, then the two bytes (LSB-then-MSB counters). */
static uint16_t latched_count(struct rig *rig, unsigned counter)
{
    out8(rig, CONTROL, (uint8_t)(counter << 6));
    return read_word(rig, counter);
}

/* Read-back command latching only the status of one counter. */
static uint8_t status_of(struct rig *rig, unsigned counter)
{
    out8(rig, CONTROL, (uint8_t)(0xE0 | 2u << counter));
    return in8(rig, (io_port_t)(0x40 + counter));
}

/* The monitor's half: run INTA + EOI if IRQ 0 is pending. */
static bool take_irq0(struct rig *rig)
{
    if (!pic8259_has_interrupt(rig->pic))
        return false;
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x20);
    out8(rig, 0x20, 0x20);
    return true;
}

static void test_reset_state(void **state)
{
    struct rig *rig = *state;

    /* Counter 0 counts 65536 in mode 3 from reset (18.2 Hz): loaded on
     * pulse 1, first rising edge after one full period. */
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(1 + 65536));
    assert_int_equal(status_of(rig, 0), 0xF6); /* OUT high, LSB/MSB mode 3, not loaded */
    at_pulse(rig, 1);
    assert_int_equal(status_of(rig, 0), 0xB6);  /* loaded on pulse 1 */
    assert_int_equal(latched_count(rig, 0), 0); /* 65536 reads as 0 */
    assert_int_equal(status_of(rig, 2), 0xF6);  /* no count yet: NULL COUNT */
    assert_int_equal(in8(rig, PORT_B) & 0x0F, 0x00);
    assert_int_equal(in8(rig, CONTROL), 0xFF); /* control word is write-only */
    assert_false(take_irq0(rig));
}

static void test_mode2_rate_generator(void **state)
{
    struct rig *rig = *state;

    at_pulse(rig, 0);
    out8(rig, CONTROL, 0x34); /* counter 0, LSB then MSB, mode 2: Linux's setup */
    write_count(rig, 0, TICK_10MS);
    assert_int_equal(status_of(rig, 0), 0xF4); /* OUT high, count not loaded yet */

    /* Loaded on pulse 1; OUT goes low for the pulse on which CE is 1
     * (pulse N) and high again with the reload on pulse N+1. */
    at_pulse(rig, 1);
    assert_int_equal(latched_count(rig, 0), TICK_10MS);
    assert_int_equal(status_of(rig, 0), 0xB4);
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(TICK_10MS + 1));
    at_pulse(rig, TICK_10MS);
    assert_int_equal(latched_count(rig, 0), 1);
    assert_int_equal(status_of(rig, 0), 0x34);
    pit8254_update(rig->pit);
    assert_false(take_irq0(rig));
    rig->now_ns = pulse_ns(TICK_10MS + 1) - 1;
    pit8254_update(rig->pit);
    assert_false(take_irq0(rig));

    rig->now_ns = pulse_ns(TICK_10MS + 1);
    pit8254_update(rig->pit);
    assert_true(take_irq0(rig));
    assert_false(take_irq0(rig));
    assert_int_equal(latched_count(rig, 0), TICK_10MS);
    assert_int_equal(status_of(rig, 0), 0xB4);
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(2 * TICK_10MS + 1));

    /* Every period, one IRQ 0 at its deadline. */
    for (unsigned period = 2; period <= 4; period++) {
        rig->now_ns = pit8254_next_deadline(rig->pit);
        assert_int_equal(rig->now_ns, pulse_ns(period * TICK_10MS + 1));
        pit8254_update(rig->pit);
        assert_true(take_irq0(rig));
    }
    /* ~10 ms apart: 11932 pulses of 838.1 ns. */
    assert_in_range(pulse_ns(4 * TICK_10MS + 1) - pulse_ns(3 * TICK_10MS + 1), 10000149, 10000151);

    /* Late by five periods: one edge, four counted as missed, and the
     * deadline is the next period boundary, not a backlog. */
    at_pulse(rig, 9 * TICK_10MS + 1 + 500);
    pit8254_update(rig->pit);
    assert_true(take_irq0(rig));
    assert_false(take_irq0(rig));
    assert_int_equal(pit8254_missed_ticks(rig->pit), 4);
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(10 * TICK_10MS + 1));
    assert_int_equal(latched_count(rig, 0), TICK_10MS - 500);
}

static void test_mode3_square_wave(void **state)
{
    struct rig *rig = *state;

    at_pulse(rig, 0);
    out8(rig, CONTROL, 0x36);
    write_count(rig, 0, TICK_10MS);
    /* Even count: CE loads N and steps by two; OUT is high for N/2 pulses
     * (1 .. 5966), low for N/2 (5967 .. 11932), rises on pulse 11933. */
    at_pulse(rig, 1);
    assert_int_equal(latched_count(rig, 0), TICK_10MS);
    at_pulse(rig, 2);
    assert_int_equal(latched_count(rig, 0), TICK_10MS - 2);
    at_pulse(rig, TICK_10MS / 2);
    assert_int_equal(latched_count(rig, 0), 2);
    assert_int_equal(status_of(rig, 0), 0xB6);
    at_pulse(rig, TICK_10MS / 2 + 1);
    assert_int_equal(latched_count(rig, 0), TICK_10MS);
    assert_int_equal(status_of(rig, 0), 0x36);
    pit8254_update(rig->pit);
    assert_false(take_irq0(rig));
    at_pulse(rig, TICK_10MS);
    assert_int_equal(latched_count(rig, 0), 2);
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(TICK_10MS + 1));
    at_pulse(rig, TICK_10MS + 1);
    pit8254_update(rig->pit);
    assert_true(take_irq0(rig));
    assert_int_equal(status_of(rig, 0), 0xB6);
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(2 * TICK_10MS + 1));

    /* Odd count 5 on counter 1: N-1 = 4 loaded, steps of two, OUT goes low
     * one pulse after CE expires: high for 3 pulses, low for 2. */
    at_pulse(rig, 20000);
    out8(rig, CONTROL, 0x76);
    write_count(rig, 1, 5);
    static const struct {
        uint16_t count;
        uint8_t out;
    } odd[] = {{4, 1}, {2, 1}, {0, 1}, {4, 0}, {2, 0}, {4, 1}, {2, 1}, {0, 1}, {4, 0}};
    for (unsigned i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        at_pulse(rig, 20001 + i);
        assert_int_equal(latched_count(rig, 1), odd[i].count);
        assert_int_equal(status_of(rig, 1) >> 7, odd[i].out);
    }
}

static void test_mode0_one_shot(void **state)
{
    struct rig *rig = *state;

    at_pulse(rig, 0);
    out8(rig, CONTROL, 0x30);
    assert_int_equal(status_of(rig, 0), 0x70); /* OUT low at once, NULL COUNT */
    pit8254_update(rig->pit);
    write_count(rig, 0, 100);
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(101));
    /* OUT goes high N+1 pulses after the count is written and stays. */
    at_pulse(rig, 1);
    assert_int_equal(status_of(rig, 0), 0x30);
    assert_int_equal(latched_count(rig, 0), 100);
    at_pulse(rig, 100);
    assert_int_equal(latched_count(rig, 0), 1);
    assert_int_equal(status_of(rig, 0), 0x30);
    pit8254_update(rig->pit);
    assert_false(take_irq0(rig));
    at_pulse(rig, 101);
    assert_int_equal(latched_count(rig, 0), 0);
    assert_int_equal(status_of(rig, 0), 0xB0);
    pit8254_update(rig->pit);
    assert_true(take_irq0(rig));
    assert_int_equal(pit8254_next_deadline(rig->pit), UINT64_MAX);
    /* The counter wraps and keeps counting; OUT stays high. */
    at_pulse(rig, 101 + 65536 + 5);
    assert_int_equal(latched_count(rig, 0), 65536 - 5);
    assert_int_equal(status_of(rig, 0), 0xB0);
    pit8254_update(rig->pit);
    assert_false(take_irq0(rig));
    assert_int_equal(pit8254_missed_ticks(rig->pit), 0);

    /* Re-arming: the first byte of a new count stops counting and drops
     * OUT; the second loads it on the next pulse. */
    at_pulse(rig, 70000);
    out8(rig, 0x40, 50);
    assert_int_equal(status_of(rig, 0), 0x30);
    at_pulse(rig, 70010);
    assert_int_equal(latched_count(rig, 0), 65536 - 5 - (70000 - 65642)); /* held */
    out8(rig, 0x40, 0);
    at_pulse(rig, 70011);
    assert_int_equal(latched_count(rig, 0), 50);
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(70061));
    at_pulse(rig, 70061);
    pit8254_update(rig->pit);
    assert_true(take_irq0(rig));
}

static void test_latch_freezes_count(void **state)
{
    struct rig *rig = *state;

    at_pulse(rig, 0);
    out8(rig, CONTROL, 0x34);
    write_count(rig, 0, TICK_10MS);
    at_pulse(rig, 1001);
    out8(rig, CONTROL, 0x00); /* latch counter 0 */
    at_pulse(rig, 5000);
    assert_int_equal(in8(rig, 0x40), (TICK_10MS - 1000) & 0xFF);
    at_pulse(rig, 5500);
    assert_int_equal(in8(rig, 0x40), (TICK_10MS - 1000) >> 8);

    /* A second latch before the read is ignored. */
    at_pulse(rig, 6000);
    out8(rig, CONTROL, 0x00);
    at_pulse(rig, 7000);
    out8(rig, CONTROL, 0x00);
    at_pulse(rig, 7500);
    assert_int_equal(read_word(rig, 0), TICK_10MS - 5999);
    /* Once read, the output latch follows CE again. */
    at_pulse(rig, 8000);
    assert_int_equal(read_word(rig, 0), TICK_10MS - 7999);

    /* Reprogramming releases a latch that was never read. */
    out8(rig, CONTROL, 0x00);
    out8(rig, CONTROL, 0x34);
    write_count(rig, 0, 1000);
    at_pulse(rig, 8002);
    assert_int_equal(read_word(rig, 0), 999);
}

static void test_read_back(void **state)
{
    struct rig *rig = *state;

    at_pulse(rig, 0);
    out8(rig, CONTROL, 0x30);
    write_count(rig, 0, 16);
    /* Count and status of counter 0 (0xC2): status first, then the count. */
    at_pulse(rig, 7);
    out8(rig, CONTROL, 0xC2);
    at_pulse(rig, 9);
    assert_int_equal(in8(rig, 0x40), 0x30);
    assert_int_equal(in8(rig, 0x40), 10);
    assert_int_equal(in8(rig, 0x40), 0);
    at_pulse(rig, 17);
    assert_int_equal(status_of(rig, 0), 0xB0);

    /* The datasheet's example: status of counter 1 (0xE4), then status of
     * counters 2 and 1 (0xEC) latches counter 2 only; counter 1 keeps the
     * first status. Counter 1 in mode 2 with N = 18 is low on pulse 18. */
    out8(rig, CONTROL, 0x74);
    write_count(rig, 1, 18);
    out8(rig, CONTROL, 0xB0);
    write_count(rig, 2, 1000);
    at_pulse(rig, 20);
    out8(rig, CONTROL, 0xE4);
    at_pulse(rig, 17 + 18);
    out8(rig, CONTROL, 0xEC);
    assert_int_equal(in8(rig, 0x41), 0xB4);    /* from pulse 20: OUT was high */
    assert_int_equal(in8(rig, 0x42), 0x30);    /* counter 2: mode 0, gate low */
    assert_int_equal(status_of(rig, 1), 0x34); /* latched now: OUT low */
    /* Count of counter 2 (0xD8), then count and status of counter 1 (0xC4). */
    out8(rig, CONTROL, 0xD8);
    at_pulse(rig, 36);
    out8(rig, CONTROL, 0xC4);
    out8(rig, CONTROL, 0xE4); /* status already latched: ignored */
    at_pulse(rig, 40);
    assert_int_equal(in8(rig, 0x41), 0xB4);
    assert_int_equal(read_word(rig, 1), 18);
    assert_int_equal(read_word(rig, 2), 1000);

    /* The status echoes M2-M0 as written: mode 6 is mode 2. */
    out8(rig, CONTROL, 0x7C);
    assert_int_equal(status_of(rig, 1), 0xFC);
}

static void test_access_modes(void **state)
{
    struct rig *rig = *state;

    at_pulse(rig, 0);
    /* LSB only: MSB is zero. */
    out8(rig, CONTROL, 0x50);
    out8(rig, 0x41, 0x34);
    at_pulse(rig, 1);
    assert_int_equal(in8(rig, 0x41), 0x34);
    assert_int_equal(in8(rig, 0x41), 0x34);
    at_pulse(rig, 3);
    assert_int_equal(in8(rig, 0x41), 0x32);
    /* MSB only: LSB is zero, reads return the MSB. */
    out8(rig, CONTROL, 0x60);
    out8(rig, 0x41, 0x12);
    at_pulse(rig, 4);
    assert_int_equal(in8(rig, 0x41), 0x12);
    at_pulse(rig, 5);
    assert_int_equal(in8(rig, 0x41), 0x11); /* 0x1200 - 1 */

    /* LSB then MSB: reads alternate, each byte of CE as it is then. */
    at_pulse(rig, 10);
    out8(rig, CONTROL, 0x70);
    write_count(rig, 1, 0x1234);
    at_pulse(rig, 11);
    assert_int_equal(in8(rig, 0x41), 0x34);
    at_pulse(rig, 11 + 0x35);
    assert_int_equal(in8(rig, 0x41), 0x11); /* CE is 0x11FF now */
    assert_int_equal(in8(rig, 0x41), 0xFF);

    /* Reads and writes keep separate flip-flops and may interleave:
     * read LSB, write LSB, read MSB, write MSB. */
    at_pulse(rig, 100);
    out8(rig, CONTROL, 0x70);
    write_count(rig, 1, 0x0800);
    at_pulse(rig, 101);
    assert_int_equal(in8(rig, 0x41), 0x00);
    out8(rig, 0x41, 0x20);
    assert_int_equal(in8(rig, 0x41), 0x08);
    out8(rig, 0x41, 0x03);
    at_pulse(rig, 102);
    assert_int_equal(read_word(rig, 1), 0x0320);
}

static void test_linux_calibration(void **state)
{
    struct rig *rig = *state;
    const unsigned latch = 11931; /* CAL_LATCH: 10 ms */
    const uint64_t start = 5000;

    /* pit_calibrate_tsc(): gate high, speaker off; counter 2 mode 0
     * binary; LSB then MSB; then poll port 0x61 bit 5 for OUT2. The
     * writes land part-way into pulse 5000. */
    rig->now_ns = pulse_ns(start) + 300;
    out8(rig, PORT_B, (uint8_t)((in8(rig, PORT_B) & ~0x02) | 0x01));
    out8(rig, CONTROL, 0xB0);
    out8(rig, 0x42, latch & 0xFF);
    out8(rig, 0x42, latch >> 8);
    assert_int_equal(in8(rig, PORT_B) & 0x2F, 0x01); /* gate on, OUT2 low */
    at_pulse(rig, start + 1);
    assert_int_equal(latched_count(rig, 2), latch);
    at_pulse(rig, start + 1 + 1000);
    assert_int_equal(latched_count(rig, 2), latch - 1000);
    at_pulse(rig, start + latch);
    assert_int_equal(in8(rig, PORT_B) & 0x20, 0x00);
    rig->now_ns = pulse_ns(start + latch + 1) - 1;
    assert_int_equal(in8(rig, PORT_B) & 0x20, 0x00);
    rig->now_ns = pulse_ns(start + latch + 1);
    assert_int_equal(in8(rig, PORT_B) & 0x21, 0x21);
    at_pulse(rig, start + latch + 1000);
    assert_int_equal(in8(rig, PORT_B) & 0x20, 0x20); /* stays high */
    assert_false(pic8259_has_interrupt(rig->pic));   /* OUT2 is no IRQ */

    /* quick_pit_calibrate(): 0xFFFF, then reads of LSB+MSB see the MSB
     * step down every 256 pulses. */
    at_pulse(rig, 100000);
    out8(rig, CONTROL, 0xB0);
    out8(rig, 0x42, 0xFF);
    out8(rig, 0x42, 0xFF);
    for (unsigned j = 0; j < 4; j++) {
        at_pulse(rig, 100001 + 256 * j);
        in8(rig, 0x42);
        assert_int_equal(in8(rig, 0x42), 0xFF - j);
        at_pulse(rig, 100001 + 256 * j + 255);
        in8(rig, 0x42);
        assert_int_equal(in8(rig, 0x42), 0xFF - j);
    }

    /* GATE2 low disables counting in mode 0; CE holds until it rises. */
    at_pulse(rig, 200000);
    out8(rig, PORT_B, 0x00);
    uint16_t held = latched_count(rig, 2);
    assert_int_equal(held, (0xFFFF - (200000 - 100001)) & 0xFFFF);
    at_pulse(rig, 300000);
    assert_int_equal(latched_count(rig, 2), held);
    out8(rig, PORT_B, 0x01);
    at_pulse(rig, 300010);
    assert_int_equal(latched_count(rig, 2), held - 10);
}

static void test_port_b(void **state)
{
    struct rig *rig = *state;

    /* Bits 0-3 read back; bit 4 toggles every refresh cycle (18 pulses). */
    at_pulse(rig, 0);
    out8(rig, PORT_B, 0xFE);
    assert_int_equal(in8(rig, PORT_B) & 0xDF, 0x0E);
    at_pulse(rig, 17);
    assert_int_equal(in8(rig, PORT_B) & 0x10, 0x00);
    at_pulse(rig, 18);
    assert_int_equal(in8(rig, PORT_B) & 0x10, 0x10);
    at_pulse(rig, 35);
    assert_int_equal(in8(rig, PORT_B) & 0x10, 0x10);
    at_pulse(rig, 36);
    assert_int_equal(in8(rig, PORT_B) & 0x10, 0x00);
}

static void test_gated_modes(void **state)
{
    struct rig *rig = *state;

    /* Mode 1 on counter 2: armed by the count, triggered by GATE's rising
     * edge: OUT low from the next pulse for N pulses. */
    at_pulse(rig, 0);
    out8(rig, CONTROL, 0xB2);
    write_count(rig, 2, 10);
    at_pulse(rig, 50);
    assert_int_equal(status_of(rig, 2), 0xF2); /* OUT high, not loaded */
    out8(rig, PORT_B, 0x01);
    at_pulse(rig, 51);
    assert_int_equal(status_of(rig, 2), 0x32);
    assert_int_equal(latched_count(rig, 2), 10);
    at_pulse(rig, 60);
    assert_int_equal(status_of(rig, 2), 0x32);
    at_pulse(rig, 61);
    assert_int_equal(status_of(rig, 2), 0xB2);
    /* Retrigger during the pulse restarts it from N. */
    at_pulse(rig, 70);
    out8(rig, PORT_B, 0x00);
    out8(rig, PORT_B, 0x01);
    at_pulse(rig, 75);
    out8(rig, PORT_B, 0x00);
    out8(rig, PORT_B, 0x01);
    at_pulse(rig, 85);
    assert_int_equal(status_of(rig, 2), 0x32);
    at_pulse(rig, 86);
    assert_int_equal(status_of(rig, 2), 0xB2);

    /* Mode 5: the trigger loads the count; OUT low for the one pulse of
     * terminal count, N+1 pulses after the trigger. */
    at_pulse(rig, 100);
    out8(rig, CONTROL, 0xBA);
    write_count(rig, 2, 5);
    out8(rig, PORT_B, 0x00);
    out8(rig, PORT_B, 0x01);
    at_pulse(rig, 105);
    assert_int_equal(status_of(rig, 2) & 0x80, 0x80);
    at_pulse(rig, 106);
    assert_int_equal(status_of(rig, 2) & 0x80, 0x00);
    at_pulse(rig, 107);
    assert_int_equal(status_of(rig, 2) & 0x80, 0x80);

    /* Mode 4: software strobe, the write is the trigger. */
    at_pulse(rig, 200);
    out8(rig, CONTROL, 0xB8);
    write_count(rig, 2, 3);
    at_pulse(rig, 203);
    assert_int_equal(status_of(rig, 2), 0xB8);
    at_pulse(rig, 204);
    assert_int_equal(in8(rig, PORT_B) & 0x20, 0x00);
    at_pulse(rig, 205);
    assert_int_equal(in8(rig, PORT_B) & 0x20, 0x20);

    /* Mode 2 with GATE low: OUT forced high, counting stops; the rising
     * edge reloads the count on the next pulse. */
    at_pulse(rig, 300);
    out8(rig, CONTROL, 0xB4);
    write_count(rig, 2, 4);
    at_pulse(rig, 304); /* CE = 1: OUT low */
    assert_int_equal(status_of(rig, 2), 0x34);
    out8(rig, PORT_B, 0x00);
    assert_int_equal(status_of(rig, 2), 0xB4);
    at_pulse(rig, 310);
    assert_int_equal(latched_count(rig, 2), 1);
    out8(rig, PORT_B, 0x01);
    at_pulse(rig, 311);
    assert_int_equal(latched_count(rig, 2), 4);
    at_pulse(rig, 314);
    assert_int_equal(status_of(rig, 2), 0x34);
}

static void test_new_count_while_counting(void **state)
{
    struct rig *rig = *state;

    /* Mode 2: the new count takes over at the end of the current period. */
    at_pulse(rig, 0);
    out8(rig, CONTROL, 0x34);
    write_count(rig, 0, 100);
    at_pulse(rig, 50);
    write_count(rig, 0, 200);
    assert_int_equal(status_of(rig, 0), 0xF4); /* NULL COUNT until loaded */
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(101));
    at_pulse(rig, 100);
    assert_int_equal(latched_count(rig, 0), 1);
    at_pulse(rig, 101);
    assert_int_equal(latched_count(rig, 0), 200);
    assert_int_equal(status_of(rig, 0), 0xB4);
    pit8254_update(rig->pit);
    assert_true(take_irq0(rig));
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(301));

    /* Mode 3: at the end of the current half-cycle. N = 100 from pulse 401
     * is high for 401..450; 40 written at 420 takes over on 451 with its
     * low half (451..470), then periods of 40. */
    at_pulse(rig, 400);
    out8(rig, CONTROL, 0x36);
    assert_true(take_irq0(rig)); /* the 200-count period ended on pulse 301 */
    write_count(rig, 0, 100);
    at_pulse(rig, 420);
    write_count(rig, 0, 40);
    at_pulse(rig, 450);
    assert_int_equal(status_of(rig, 0), 0xF6);
    assert_int_equal(latched_count(rig, 0), 2);
    at_pulse(rig, 451);
    assert_int_equal(status_of(rig, 0), 0x36);
    assert_int_equal(latched_count(rig, 0), 40);
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(471));
    at_pulse(rig, 471);
    assert_int_equal(status_of(rig, 0), 0xB6);
    pit8254_update(rig->pit);
    assert_true(take_irq0(rig));
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(511));
}

static void test_bcd(void **state)
{
    struct rig *rig = *state;

    at_pulse(rig, 0);
    out8(rig, CONTROL, 0x71);    /* counter 1, LSB/MSB, mode 0, BCD */
    write_count(rig, 1, 0x0100); /* 100 decimal */
    at_pulse(rig, 12);
    assert_int_equal(latched_count(rig, 1), 0x0089);
    assert_int_equal(status_of(rig, 1), 0x31);
    at_pulse(rig, 101);
    assert_int_equal(status_of(rig, 1), 0xB1);
    assert_int_equal(latched_count(rig, 1), 0x0000);
    at_pulse(rig, 102);
    assert_int_equal(latched_count(rig, 1), 0x9999); /* wraps in four decades */

    /* 0 is 10^4 in BCD: a mode 2 period of 10000 pulses. */
    out8(rig, CONTROL, 0x35);
    write_count(rig, 0, 0x0000);
    assert_int_equal(pit8254_next_deadline(rig->pit), pulse_ns(103 + 10000));
    at_pulse(rig, 104);
    assert_int_equal(latched_count(rig, 0), 0x9999);
}

/* A second rig like rig_setup's, its clock at now_ns. */
static void rig_make(struct rig *rig, uint64_t now_ns)
{
    struct popek_error e;
    static const uint8_t init[][2] = {
        {0x21, 0xFF}, {0xA1, 0xFF}, {0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01},
        {0xA0, 0x11}, {0xA1, 0x28}, {0xA1, 0x02}, {0xA1, 0x01}, {0x21, 0x00}, {0xA1, 0x00},
    };

    rig->now_ns = now_ns;
    rig->bus = ioport_bus_create();
    rig->pic = pic8259_create(rig->bus, &e);
    rig->irq = irq_router_create(rig->pic, &e);
    rig->pit = pit8254_create(rig->bus, rig->irq, fake_clock, &rig->now_ns, &e);
    assert_non_null(rig->pit);
    for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
        out8(rig, init[i][0], init[i][1]);
}

/* Save → a fresh PIT whose clock reads an hour later → load: counts, OUT
 * levels, latches, port 0x61 and IRQ 0 go on as if no time had passed,
 * pulse for pulse the same as the original's. */
static void test_save_restore(void **state)
{
    struct rig *a = *state, b;
    const uint64_t later = 3600ull * 1000000000ull;

    at_pulse(a, 1000);
    out8(a, CONTROL, 0x34); /* counter 0: mode 2, rate TICK_10MS */
    write_count(a, 0, TICK_10MS);
    out8(a, PORT_B, 0x01);  /* GATE2 high */
    out8(a, CONTROL, 0xB0); /* counter 2: mode 0 */
    write_count(a, 2, 30000);
    out8(a, CONTROL, 0x74); /* counter 1: mode 2, only the LSB written */
    out8(a, 0x41, 0x12);
    at_pulse(a, 1000 + 2 * TICK_10MS + 77);
    pit8254_update(a->pit);
    out8(a, CONTROL, 0x80); /* counter 2 latched, not read yet */

    struct snap_writer *w = rig_snap_begin("pit8254", PIT8254_STATE_VERSION);
    pit8254_save(a->pit, w);
    struct snap_rig snap = rig_snap_finish(w);
    rig_make(&b, a->now_ns + later);
    while (take_irq0(a)) /* the same PIC state on both sides */
        ;
    struct snap_section s;
    rig_snap_open(&snap, "pit8254", PIT8254_STATE_VERSION, &s);
    assert_true(pit8254_load(b.pit, &s));
    rig_snap_close(&snap, &s);

    assert_true(pit8254_next_deadline(b.pit) - b.now_ns ==
                pit8254_next_deadline(a->pit) - a->now_ns);
    uint64_t start_a = a->now_ns, start_b = b.now_ns;
    for (unsigned step = 0; step < 40; step++) {
        uint16_t got[2][5];
        unsigned irqs[2] = {0, 0};
        struct rig *r[2] = {a, &b};
        for (int i = 0; i < 2; i++) {
            r[i]->now_ns = (i ? start_b : start_a) + step * 1234567ull;
            if (step == 0)
                got[i][4] = read_word(r[i], 2); /* the latch kept */
            else
                got[i][4] = latched_count(r[i], 2);
            pit8254_update(r[i]->pit);
            while (take_irq0(r[i]))
                irqs[i]++;
            got[i][0] = latched_count(r[i], 0);
            got[i][1] = in8(r[i], PORT_B) & 0x20; /* OUT2 */
            got[i][2] = status_of(r[i], 1);
            got[i][3] = (uint16_t)irqs[i];
        }
        assert_memory_equal(got[0], got[1], sizeof(got[0]));
        if (step == 20) { /* and after a reprogramming on both */
            for (int i = 0; i < 2; i++) {
                out8(r[i], 0x41, 0x34);
                out8(r[i], CONTROL, 0x36);
                write_count(r[i], 0, 5000);
            }
        }
    }
    pit8254_destroy(b.pit);
    irq_router_destroy(b.irq);
    pic8259_destroy(b.pic);
    ioport_bus_destroy(b.bus);
}

/* Corrupt sections: too short, a mode 7, an access mode its control word
 * does not say, a periodic count of zero. */
static void test_load_corrupt(void **state)
{
    struct rig *rig = *state;
    struct snap_section s;

    out8(rig, CONTROL, 0x34); /* counter 0, mode 2, counting 1000 */
    write_count(rig, 0, 1000);
    struct snap_writer *w = rig_snap_begin("pit8254", PIT8254_STATE_VERSION);
    pit8254_save(rig->pit, w);
    struct snap_rig good = rig_snap_finish(w);
    uint8_t *bytes = malloc(good.size);
    const uint8_t *payload = NULL;
    size_t n = 0;
    rig_snap_open(&good, "pit8254", PIT8254_STATE_VERSION, &s);
    n = s.size;
    payload = snap_get_span(&s, n);
    memcpy(bytes, payload, n);
    rig_snap_close(&good, &s);

    struct snap_rig snap = rig_snap_raw("pit8254", PIT8254_STATE_VERSION, bytes, n - 1);
    rig_snap_open(&snap, "pit8254", PIT8254_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, pit8254_load(rig->pit, &s));
    bytes[1] = 7; /* counter 0's mode */
    snap = rig_snap_raw("pit8254", PIT8254_STATE_VERSION, bytes, n);
    rig_snap_open(&snap, "pit8254", PIT8254_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, pit8254_load(rig->pit, &s));
    assert_non_null(strstr(snap.err.message, "mode"));
    bytes[1] = 2;
    bytes[2] = 1; /* counter 0's access: LSB only, where its control word says word */
    snap = rig_snap_raw("pit8254", PIT8254_STATE_VERSION, bytes, n);
    rig_snap_open(&snap, "pit8254", PIT8254_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, pit8254_load(rig->pit, &s));
    assert_non_null(strstr(snap.err.message, "its control word does not say"));
    bytes[2] = 3;
    /* Counter 0's run.period: after program, mode, rw, bcd, cr (2), three
     * flags, the latch (1 + 2), status (2), gate, state, then in the run
     * load_tick (8), ce0 (4), tc_tick (8). */
    const size_t period_at = 16 + 8 + 4 + 8;
    bytes[1] = 2;
    assert_int_equal(bytes[15], 1); /* PIT_COUNTING */
    assert_int_equal(bytes[period_at] | bytes[period_at + 1] << 8, 1000);
    memset(bytes + period_at, 0, 4);
    snap = rig_snap_raw("pit8254", PIT8254_STATE_VERSION, bytes, n);
    rig_snap_open(&snap, "pit8254", PIT8254_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, pit8254_load(rig->pit, &s));
    assert_non_null(strstr(snap.err.message, "a periodic count of zero"));
    free(bytes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_state, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_mode2_rate_generator, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_mode3_square_wave, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_mode0_one_shot, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_latch_freezes_count, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_read_back, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_access_modes, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_linux_calibration, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_port_b, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_gated_modes, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_new_count_while_counting, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_bcd, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_save_restore, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_corrupt, rig_setup, rig_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
