/*
 * tests/test_irq.c — the interrupt wiring (devices/irq.c) with the real
 * controllers: ISA lines into the 8259A pair and the I/O APIC (IRQ 0 on
 * pin 2), I/O APIC messages into the local APIC and its EOIs back, and the
 * CPU's INTR: the local APIC first, the 8259A through LINT0 (ExtINT), or
 * the 8259A alone when IA32_APIC_BASE disables the APIC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/ioapic.h"
#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/lapic.h"
#include "devices/mmio.h"
#include "devices/pic8259.h"

struct rig {
    struct ioport_bus *io;
    struct mmio_bus *mmio;
    struct pic8259 *pic;
    struct irq_router *irq;
    struct lapic *lapic;
    struct ioapic *ioapic;
    uint64_t now_ns;
};

static uint64_t fake_clock(void *ctx)
{
    return *(const uint64_t *)ctx;
}

static void lapic_wr(struct rig *rig, unsigned reg, uint32_t value)
{
    mmio_write(rig->mmio, LAPIC_BASE + reg, &value, 4);
}

static void ioapic_entry(struct rig *rig, unsigned pin, uint32_t low)
{
    uint32_t sel = 0x10 + 2 * pin, high = 0;

    mmio_write(rig->mmio, IOAPIC_BASE, &sel, 4);
    mmio_write(rig->mmio, IOAPIC_BASE + 0x10, &low, 4);
    sel++;
    mmio_write(rig->mmio, IOAPIC_BASE, &sel, 4);
    mmio_write(rig->mmio, IOAPIC_BASE + 0x10, &high, 4);
}

static int rig_setup(void **state)
{
    static struct rig rig;
    struct popek_error e;

    rig = (struct rig){0};
    rig.io = ioport_bus_create();
    rig.mmio = mmio_bus_create();
    rig.pic = pic8259_create(rig.io, &e);
    rig.irq = irq_router_create(rig.pic, &e);
    rig.lapic = lapic_create(rig.mmio, fake_clock, &rig.now_ns, irq_apic_eoi, rig.irq, &e);
    rig.ioapic = ioapic_create(rig.mmio, irq_apic_deliver, rig.irq, &e);
    assert_non_null(rig.lapic);
    assert_non_null(rig.ioapic);
    irq_router_attach_apic(rig.irq, rig.ioapic, rig.lapic);
    /* The 8259A at vectors 0x20/0x28, everything unmasked. */
    static const uint8_t init[][2] = {
        {0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01}, {0xA0, 0x11},
        {0xA1, 0x28}, {0xA1, 0x02}, {0xA1, 0x01}, {0x21, 0x00}, {0xA1, 0x00},
    };
    for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
        ioport_write(rig.io, init[i][0], 1, init[i][1]);
    *state = &rig;
    return 0;
}

static int rig_teardown(void **state)
{
    struct rig *rig = *state;

    ioapic_destroy(rig->ioapic);
    lapic_destroy(rig->lapic);
    irq_router_destroy(rig->irq);
    pic8259_destroy(rig->pic);
    mmio_bus_destroy(rig->mmio);
    ioport_bus_destroy(rig->io);
    return 0;
}

static void test_isa_to_gsi(void **state)
{
    assert_int_equal(irq_isa_to_gsi(0), 2);
    assert_int_equal(irq_isa_to_gsi(1), 1);
    assert_int_equal(irq_isa_to_gsi(9), 9);
    assert_int_equal(irq_isa_to_gsi(15), 15);
}

/* After reset the 8259A reaches the CPU through LINT0 in ExtINT mode, as
 * in the BIOS's virtual wire mode: what every PIC-only guest sees. */
static void test_pic_through_extint(void **state)
{
    struct rig *rig = *state;

    assert_false(irq_cpu_has_interrupt(rig->irq, true));
    irq_pulse(rig->irq, 4);
    assert_true(irq_cpu_has_interrupt(rig->irq, true));
    assert_int_equal(irq_cpu_acknowledge(rig->irq, true), 0x24);
    assert_false(irq_cpu_has_interrupt(rig->irq, true));
    /* LINT0 masked: the 8259A cannot interrupt the CPU. */
    lapic_wr(rig, 0x350, 0x10700);
    irq_pulse(rig->irq, 3);
    assert_false(irq_cpu_has_interrupt(rig->irq, true));
    /* ...unless the APIC is globally disabled: INTR is the 8259A's. */
    assert_true(irq_cpu_has_interrupt(rig->irq, false));
    assert_int_equal(irq_cpu_acknowledge(rig->irq, false), 0x23);
}

/* An ISA line drives both controllers: IRQ 0 is pin 2 of the I/O APIC. */
static void test_lines_reach_both(void **state)
{
    struct rig *rig = *state;

    ioapic_entry(rig, 2, 0x30);
    ioapic_entry(rig, 0, 0x3F); /* pin 0 has no ISA line */
    irq_set_level(rig->irq, 0, true);
    /* The local APIC's vector first, then the 8259A's through LINT0. */
    assert_int_equal(irq_cpu_acknowledge(rig->irq, true), 0x30);
    assert_true(irq_cpu_has_interrupt(rig->irq, true));
    assert_int_equal(irq_cpu_acknowledge(rig->irq, true), 0x20);
    assert_false(irq_cpu_has_interrupt(rig->irq, true));
    lapic_wr(rig, 0xB0, 0);               /* the local APIC's EOI */
    ioport_write(rig->io, 0x20, 1, 0x20); /* the 8259A's */
    irq_set_level(rig->irq, 0, false);
    /* Line 2 is the cascade: nothing reaches pin 2 or the 8259A. */
    irq_pulse(rig->irq, 2);
    assert_false(irq_cpu_has_interrupt(rig->irq, true));
    /* With the APIC globally disabled only the 8259A is asked, even with
     * an APIC request pending. */
    irq_pulse(rig->irq, 0);
    assert_int_equal(irq_cpu_acknowledge(rig->irq, false), 0x20);
    assert_true(irq_cpu_has_interrupt(rig->irq, true));
    assert_int_equal(irq_cpu_acknowledge(rig->irq, true), 0x30);
}

/* A level-triggered pin: delivered once, then again after the local
 * APIC's EOI only while the line is still high (broadcast EOI). */
static void test_level_round_trip(void **state)
{
    struct rig *rig = *state;

    lapic_wr(rig, 0x350, 0x10700); /* LINT0 masked, as Linux leaves it */
    ioapic_entry(rig, 9, 0x8000 | 0x39);
    irq_set_level(rig->irq, 9, true);
    assert_int_equal(irq_cpu_acknowledge(rig->irq, true), 0x39);
    assert_false(irq_cpu_has_interrupt(rig->irq, true));
    lapic_wr(rig, 0xB0, 0); /* EOI, line still high: delivered again */
    assert_true(irq_cpu_has_interrupt(rig->irq, true));
    assert_int_equal(irq_cpu_acknowledge(rig->irq, true), 0x39);
    irq_set_level(rig->irq, 9, false);
    lapic_wr(rig, 0xB0, 0);
    assert_false(irq_cpu_has_interrupt(rig->irq, true));
    /* Nothing pending at INTA: the local APIC's spurious vector. */
    assert_int_equal(irq_cpu_acknowledge(rig->irq, true), 0xFF);
}

/* A router with no APICs is the 8259A alone. */
static void test_pic_only(void **state)
{
    struct rig *rig = *state;
    struct popek_error e;
    struct irq_router *r = irq_router_create(rig->pic, &e);

    irq_pulse(r, 1);
    assert_true(irq_cpu_has_interrupt(r, true));
    assert_int_equal(irq_cpu_acknowledge(r, true), 0x21);
    irq_router_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_isa_to_gsi),
        cmocka_unit_test_setup_teardown(test_pic_through_extint, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_lines_reach_both, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_level_round_trip, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_pic_only, rig_setup, rig_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
