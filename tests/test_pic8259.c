/*
 * tests/test_pic8259.c — the cascaded 8259A pair (devices/pic8259.c).
 *
 * Every expected value comes from the Intel 8259A datasheet's rules, driven
 * through the ports the way a guest drives them; the pair is initialised
 * exactly as Linux's init_8259A does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/ioport.h"
#include "devices/pic8259.h"
#include "tests/snapshot_rig.h"

#define MASTER_CMD    0x20
#define MASTER_DATA   0x21
#define SLAVE_CMD     0xA0
#define SLAVE_DATA    0xA1
#define OCW3_READ_IRR 0x0A
#define OCW3_READ_ISR 0x0B
#define OCW3_POLL     0x0C
#define EOI           0x20 /* OCW2 non-specific EOI */
#define SPECIFIC_EOI  0x60 /* OCW2 specific EOI, level in D2-D0 */

struct rig {
    struct ioport_bus *bus;
    struct pic8259 *pic;
};

static int rig_setup(void **state)
{
    static struct rig rig;
    struct popek_error e;

    rig.bus = ioport_bus_create();
    rig.pic = pic8259_create(rig.bus, &e);
    assert_non_null(rig.pic);
    *state = &rig;
    return 0;
}

static int rig_teardown(void **state)
{
    struct rig *rig = *state;

    pic8259_destroy(rig->pic);
    ioport_bus_destroy(rig->bus);
    return 0;
}

static void out8(struct rig *rig, io_port_t port, uint8_t value)
{
    ioport_write(rig->bus, port, 1, value);
}

static uint8_t in8(struct rig *rig, io_port_t port)
{
    return (uint8_t)ioport_read(rig->bus, port, 1);
}

static uint8_t read_isr(struct rig *rig, io_port_t cmd)
{
    out8(rig, cmd, OCW3_READ_ISR);
    return in8(rig, cmd);
}

static uint8_t read_irr(struct rig *rig, io_port_t cmd)
{
    out8(rig, cmd, OCW3_READ_IRR);
    return in8(rig, cmd);
}

/* Linux's init_8259A: mask all, ICW1-4 on each chip, unmask everything. */
static void linux_init(struct rig *rig, uint8_t icw4)
{
    out8(rig, MASTER_DATA, 0xFF);
    out8(rig, SLAVE_DATA, 0xFF);
    out8(rig, MASTER_CMD, 0x11); /* ICW1: edge, cascade, ICW4 needed */
    out8(rig, MASTER_DATA, 0x20);
    out8(rig, MASTER_DATA, 0x04); /* slave on IR2 */
    out8(rig, MASTER_DATA, icw4);
    out8(rig, SLAVE_CMD, 0x11);
    out8(rig, SLAVE_DATA, 0x28);
    out8(rig, SLAVE_DATA, 0x02); /* slave ID 2 */
    out8(rig, SLAVE_DATA, icw4);
    out8(rig, MASTER_DATA, 0x00);
    out8(rig, SLAVE_DATA, 0x00);
}

static void test_reset_state(void **state)
{
    struct rig *rig = *state;

    /* BIOS layout: vectors 0x08 and 0x70, all masked but the cascade. */
    assert_int_equal(in8(rig, MASTER_DATA), 0xFB);
    assert_int_equal(in8(rig, SLAVE_DATA), 0xFF);
    assert_false(pic8259_has_interrupt(rig->pic));
    out8(rig, MASTER_DATA, 0xFA);
    pic8259_pulse_irq(rig->pic, 0);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x08);
    out8(rig, MASTER_CMD, EOI);
    out8(rig, SLAVE_DATA, 0xFE);
    pic8259_pulse_irq(rig->pic, 8);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x70);
}

static void test_linux_init_and_vectors(void **state)
{
    struct rig *rig = *state;

    out8(rig, MASTER_DATA, 0xFF);
    out8(rig, MASTER_CMD, 0x11);
    assert_int_equal(in8(rig, MASTER_DATA), 0x00); /* ICW1 clears IMR */
    out8(rig, MASTER_DATA, 0x20);
    out8(rig, MASTER_DATA, 0x04);
    out8(rig, MASTER_DATA, 0x01);
    out8(rig, SLAVE_CMD, 0x11);
    out8(rig, SLAVE_DATA, 0x28);
    out8(rig, SLAVE_DATA, 0x02);
    out8(rig, SLAVE_DATA, 0x01);
    /* Initialisation over: A0=1 is OCW1 again. */
    out8(rig, MASTER_DATA, 0x5A);
    assert_int_equal(in8(rig, MASTER_DATA), 0x5A);
    out8(rig, MASTER_DATA, 0x00);
    /* A0=0 reads IRR after ICW1. */
    pic8259_pulse_irq(rig->pic, 1);
    assert_int_equal(in8(rig, MASTER_CMD), 0x02);

    assert_true(pic8259_has_interrupt(rig->pic));
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x21);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x02);
    assert_int_equal(read_irr(rig, MASTER_CMD), 0x00); /* edge request consumed */
    assert_false(pic8259_has_interrupt(rig->pic));
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x00);

    pic8259_pulse_irq(rig->pic, 0);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x20);
    out8(rig, MASTER_CMD, EOI);
    pic8259_pulse_irq(rig->pic, 14);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x2E);
}

static void test_masking(void **state)
{
    struct rig *rig = *state;

    linux_init(rig, 0x01);
    out8(rig, MASTER_DATA, 0x08); /* mask IRQ 3 */
    pic8259_pulse_irq(rig->pic, 3);
    /* A masked request still latches in IRR but raises no INT. */
    assert_int_equal(read_irr(rig, MASTER_CMD), 0x08);
    assert_false(pic8259_has_interrupt(rig->pic));
    out8(rig, MASTER_DATA, 0x00);
    assert_true(pic8259_has_interrupt(rig->pic));
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x23);

    /* Masking the cascade input silences the whole slave. */
    out8(rig, MASTER_CMD, EOI);
    out8(rig, MASTER_DATA, 0x04);
    pic8259_pulse_irq(rig->pic, 9);
    assert_false(pic8259_has_interrupt(rig->pic));
    assert_int_equal(read_irr(rig, SLAVE_CMD), 0x02);
    out8(rig, MASTER_DATA, 0x00);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x29);
}

static void test_priority_order(void **state)
{
    struct rig *rig = *state;

    linux_init(rig, 0x01);
    pic8259_pulse_irq(rig->pic, 5);
    pic8259_pulse_irq(rig->pic, 3);
    pic8259_pulse_irq(rig->pic, 6);
    pic8259_pulse_irq(rig->pic, 10); /* via IR2: outranks 3 */
    assert_int_equal(read_irr(rig, MASTER_CMD), 0x6C);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x2A);
    /* IR2 in service blocks 3, 5 and 6 (fully nested mode). */
    assert_false(pic8259_has_interrupt(rig->pic));
    out8(rig, SLAVE_CMD, EOI);
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x23);
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x25);
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x26);
    out8(rig, MASTER_CMD, EOI);
    assert_false(pic8259_has_interrupt(rig->pic));
}

static void test_nested_and_eoi(void **state)
{
    struct rig *rig = *state;

    linux_init(rig, 0x01);
    pic8259_pulse_irq(rig->pic, 3);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x23);
    pic8259_pulse_irq(rig->pic, 4); /* lower: waits */
    assert_false(pic8259_has_interrupt(rig->pic));
    pic8259_pulse_irq(rig->pic, 1); /* higher: nests */
    assert_true(pic8259_has_interrupt(rig->pic));
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x21);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x0A);
    /* Non-specific EOI clears the highest-priority ISR bit: IR1. */
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x08);
    assert_false(pic8259_has_interrupt(rig->pic));
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x00);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x24);

    /* Specific EOI clears the named level, even a lower one. */
    pic8259_pulse_irq(rig->pic, 0);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x20);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x11);
    out8(rig, MASTER_CMD, SPECIFIC_EOI | 4);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x01);
    out8(rig, MASTER_CMD, SPECIFIC_EOI | 0);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x00);
}

static void test_auto_eoi(void **state)
{
    struct rig *rig = *state;

    linux_init(rig, 0x03); /* ICW4: 8086 mode, AEOI */
    pic8259_pulse_irq(rig->pic, 3);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x23);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x00);
    pic8259_pulse_irq(rig->pic, 5); /* nothing in service: lower IRQs get through */
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x25);
    pic8259_pulse_irq(rig->pic, 12);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x2C);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x00);
    assert_int_equal(read_isr(rig, SLAVE_CMD), 0x00);
}

static void test_poll_mode(void **state)
{
    struct rig *rig = *state;

    linux_init(rig, 0x01);
    out8(rig, MASTER_CMD, OCW3_POLL);
    assert_int_equal(in8(rig, MASTER_CMD), 0x00); /* I = 0: nothing requesting */
    pic8259_pulse_irq(rig->pic, 6);
    pic8259_pulse_irq(rig->pic, 4);
    out8(rig, MASTER_CMD, OCW3_POLL);
    assert_int_equal(in8(rig, MASTER_CMD), 0x84); /* I = 1, W = 4 */
    /* The poll read acted as INTA: IR4 in service, IR6 still requested. */
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x10);
    assert_int_equal(read_irr(rig, MASTER_CMD), 0x40);
    /* Poll is good for one read: the next read is the register again. */
    assert_int_equal(in8(rig, MASTER_CMD), 0x40);
    out8(rig, MASTER_CMD, EOI);
    out8(rig, MASTER_CMD, OCW3_POLL);
    assert_int_equal(in8(rig, MASTER_DATA), 0x86);
}

static void test_edge_and_level(void **state)
{
    struct rig *rig = *state;

    linux_init(rig, 0x01);
    /* ELCR: IRQ 0, 1, 2, 8 and 13 cannot be level. */
    out8(rig, 0x4D0, 0xFF);
    out8(rig, 0x4D1, 0xFF);
    assert_int_equal(in8(rig, 0x4D0), 0xF8);
    assert_int_equal(in8(rig, 0x4D1), 0xDE);
    out8(rig, 0x4D0, 0x20); /* IRQ 5 level, the rest edge */
    out8(rig, 0x4D1, 0x00);

    /* Level: the request lasts as long as the line is high. */
    pic8259_set_irq(rig->pic, 5, true);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x25);
    out8(rig, MASTER_CMD, EOI);
    assert_true(pic8259_has_interrupt(rig->pic)); /* still high: again */
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x25);
    pic8259_set_irq(rig->pic, 5, false);
    out8(rig, MASTER_CMD, EOI);
    assert_false(pic8259_has_interrupt(rig->pic));
    assert_int_equal(read_irr(rig, MASTER_CMD), 0x00);

    /* Edge: one request per low-to-high transition. */
    pic8259_set_irq(rig->pic, 4, true);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x24);
    out8(rig, MASTER_CMD, EOI);
    pic8259_set_irq(rig->pic, 4, true); /* still high: no new edge */
    assert_false(pic8259_has_interrupt(rig->pic));
    pic8259_set_irq(rig->pic, 4, false);
    pic8259_set_irq(rig->pic, 4, true);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x24);
    out8(rig, MASTER_CMD, EOI);

    /* ICW1 resets the edge sense: a pending edge request is dropped, and a
     * line still high needs a fresh rising edge. */
    pic8259_pulse_irq(rig->pic, 3);
    linux_init(rig, 0x01);
    assert_false(pic8259_has_interrupt(rig->pic));
    pic8259_set_irq(rig->pic, 4, true);
    assert_false(pic8259_has_interrupt(rig->pic));
    pic8259_set_irq(rig->pic, 4, false);
    pic8259_pulse_irq(rig->pic, 4);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x24);

    /* LTIM in ICW1 makes every input level-triggered. */
    out8(rig, MASTER_CMD, 0x19);
    out8(rig, MASTER_DATA, 0x20);
    out8(rig, MASTER_DATA, 0x04);
    out8(rig, MASTER_DATA, 0x01);
    pic8259_set_irq(rig->pic, 6, true);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x26);
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x26);
    out8(rig, MASTER_CMD, EOI);
    pic8259_set_irq(rig->pic, 6, false);
    assert_false(pic8259_has_interrupt(rig->pic));
}

static void test_spurious_irq7_and_irq15(void **state)
{
    struct rig *rig = *state;

    linux_init(rig, 0x01);
    out8(rig, 0x4D0, 0x20); /* IRQ 5 level */
    out8(rig, 0x4D1, 0x04); /* IRQ 10 level */

    /* The request goes away between INTR and INTA: default IR7, no ISR. */
    pic8259_set_irq(rig->pic, 5, true);
    assert_true(pic8259_has_interrupt(rig->pic));
    pic8259_set_irq(rig->pic, 5, false);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x27);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x00);

    /* Masked between INTR and INTA: the same. */
    pic8259_pulse_irq(rig->pic, 3);
    assert_true(pic8259_has_interrupt(rig->pic));
    out8(rig, MASTER_DATA, 0x08);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x27);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x00);
    out8(rig, MASTER_DATA, 0x00);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x23);
    out8(rig, MASTER_CMD, EOI);

    /* A slave request that went away: the master latched the edge on IR2
     * and answers it, the slave has nothing and gives its IR7: IRQ 15 with
     * master ISR2 set and slave ISR clear. */
    pic8259_set_irq(rig->pic, 10, true);
    pic8259_set_irq(rig->pic, 10, false);
    assert_true(pic8259_has_interrupt(rig->pic));
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x2F);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x04);
    assert_int_equal(read_isr(rig, SLAVE_CMD), 0x00);
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(pic8259_spurious_count(rig->pic), 3);

    /* With nothing requested at all, INTA yields the master's IR7 vector. */
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x27);
}

static void test_cascade(void **state)
{
    struct rig *rig = *state;

    linux_init(rig, 0x01);
    pic8259_pulse_irq(rig->pic, 12);
    assert_int_equal(read_irr(rig, SLAVE_CMD), 0x10);
    assert_int_equal(read_irr(rig, MASTER_CMD), 0x04);
    assert_true(pic8259_has_interrupt(rig->pic));
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x2C);
    assert_int_equal(read_isr(rig, SLAVE_CMD), 0x10);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x04);

    /* Master IR2 in service blocks IR3-7 but not IR0-1. */
    pic8259_pulse_irq(rig->pic, 3);
    assert_false(pic8259_has_interrupt(rig->pic));
    /* A higher slave request is blocked by master ISR2 (no SFNM). */
    pic8259_pulse_irq(rig->pic, 9);
    assert_false(pic8259_has_interrupt(rig->pic));
    pic8259_pulse_irq(rig->pic, 1);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x21);
    out8(rig, MASTER_CMD, EOI); /* IR1 */

    /* Linux's order: EOI the slave, then the master. */
    out8(rig, SLAVE_CMD, SPECIFIC_EOI | 4);
    out8(rig, MASTER_CMD, SPECIFIC_EOI | 2);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x29);
    assert_int_equal(read_isr(rig, SLAVE_CMD), 0x02);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x04);
    out8(rig, SLAVE_CMD, EOI);
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x23);
    out8(rig, MASTER_CMD, EOI);
}

static void test_special_fully_nested(void **state)
{
    struct rig *rig = *state;

    linux_init(rig, 0x11); /* SFNM on both; it only matters on the master */
    pic8259_pulse_irq(rig->pic, 12);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x2C);
    /* A higher-priority slave IRQ now reaches the CPU through IR2. */
    pic8259_pulse_irq(rig->pic, 9);
    assert_true(pic8259_has_interrupt(rig->pic));
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x29);
    assert_int_equal(read_isr(rig, SLAVE_CMD), 0x12);
    /* A lower one on the same slave stays blocked by the slave's ISR. */
    pic8259_pulse_irq(rig->pic, 14);
    assert_false(pic8259_has_interrupt(rig->pic));
}

static void test_rotation(void **state)
{
    struct rig *rig = *state;

    linux_init(rig, 0x01);
    /* Rotate on non-specific EOI (0xA0): the level served becomes lowest. */
    pic8259_pulse_irq(rig->pic, 0);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x20);
    out8(rig, MASTER_CMD, 0xA0);
    pic8259_pulse_irq(rig->pic, 0);
    pic8259_pulse_irq(rig->pic, 1);
    pic8259_pulse_irq(rig->pic, 7);
    /* Priority now 1 2 3 4 5 6 7 0. */
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x21);
    out8(rig, MASTER_CMD, 0xA0); /* 1 lowest: 2 ... 7 0 1 */
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x27);
    out8(rig, MASTER_CMD, 0xA0); /* 7 lowest: 0 1 ... 7 */
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x20);
    out8(rig, MASTER_CMD, EOI);

    /* Set priority (0xC0 | L): IR4 lowest, order 5 6 7 0 1 2 3 4. */
    out8(rig, MASTER_CMD, 0xC4);
    pic8259_pulse_irq(rig->pic, 3);
    pic8259_pulse_irq(rig->pic, 6);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x26);
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x23);
    pic8259_pulse_irq(rig->pic, 6); /* outranks IR3 now: nests */
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x26);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x48);
    /* A non-specific EOI clears the highest-priority ISR bit in the
     * rotated order: IR6, not IR3. */
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x08);
    /* Rotate on specific EOI (0xE0 | L): clears IR3 and makes it lowest. */
    out8(rig, MASTER_CMD, 0xE3);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x00);
    pic8259_pulse_irq(rig->pic, 3);
    pic8259_pulse_irq(rig->pic, 4);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x24); /* 4 5 6 7 0 1 2 3 */
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x23);
    out8(rig, MASTER_CMD, EOI);

    /* Rotate in AEOI mode (0x80 set, 0x00 clear). */
    linux_init(rig, 0x03);
    out8(rig, MASTER_CMD, 0x80);
    pic8259_pulse_irq(rig->pic, 3);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x23); /* now 4 5 6 7 0 1 2 3 */
    pic8259_pulse_irq(rig->pic, 3);
    pic8259_pulse_irq(rig->pic, 5);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x25); /* now 6 7 0 ... 5 */
    out8(rig, MASTER_CMD, 0x00);
    pic8259_pulse_irq(rig->pic, 7);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x27); /* no rotation now */
    pic8259_pulse_irq(rig->pic, 6);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x26);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x23);
}

static void test_special_mask_mode(void **state)
{
    struct rig *rig = *state;

    linux_init(rig, 0x01);
    pic8259_pulse_irq(rig->pic, 3);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x23);
    pic8259_pulse_irq(rig->pic, 5);
    assert_false(pic8259_has_interrupt(rig->pic));
    /* Mask IR3 and set special mask mode (OCW3 ESMM|SMM): lower levels
     * are enabled while IR3 is in service. */
    out8(rig, MASTER_DATA, 0x08);
    out8(rig, MASTER_CMD, 0x68);
    assert_true(pic8259_has_interrupt(rig->pic));
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x25);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x28);
    /* In special mask mode a non-specific EOI skips the masked IR3. */
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(read_isr(rig, MASTER_CMD), 0x08);
    /* Reset special mask mode (ESMM alone): IR3 blocks again. */
    out8(rig, MASTER_CMD, 0x48);
    out8(rig, MASTER_DATA, 0x00);
    pic8259_pulse_irq(rig->pic, 6);
    assert_false(pic8259_has_interrupt(rig->pic));
    out8(rig, MASTER_CMD, EOI);
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x26);
}

/* Save → a fresh PIC → load: every register reads back the same, and both
 * answer the next requests, acknowledges and EOIs identically. */
static void test_save_restore(void **state)
{
    struct rig *a = *state, b;
    struct popek_error e;

    linux_init(a, 0x01);
    out8(a, MASTER_DATA, 0x08); /* IRQ 3 masked */
    pic8259_set_irq(a->pic, 1, true);
    pic8259_set_irq(a->pic, 3, true);                    /* latched, masked */
    pic8259_set_irq(a->pic, 12, true);                   /* slave */
    assert_int_equal(pic8259_acknowledge(a->pic), 0x21); /* IRQ 1 in service */
    out8(a, SLAVE_CMD, OCW3_READ_ISR);

    struct snap_writer *w = rig_snap_begin("pic8259", PIC8259_STATE_VERSION);
    pic8259_save(a->pic, w);
    struct snap_rig snap = rig_snap_finish(w);
    b.bus = ioport_bus_create();
    b.pic = pic8259_create(b.bus, &e);
    assert_non_null(b.pic);
    struct snap_section s;
    rig_snap_open(&snap, "pic8259", PIC8259_STATE_VERSION, &s);
    assert_true(pic8259_load(b.pic, &s));
    rig_snap_close(&snap, &s);

    struct rig *both[2] = {a, &b};
    uint8_t seen[2][12];
    for (int i = 0; i < 2; i++) {
        struct rig *r = both[i];
        seen[i][0] = in8(r, SLAVE_CMD); /* OCW3 kept: the slave's ISR */
        seen[i][1] = in8(r, MASTER_DATA);
        seen[i][2] = in8(r, SLAVE_DATA);
        seen[i][3] = read_irr(r, MASTER_CMD);
        seen[i][4] = read_isr(r, MASTER_CMD);
        seen[i][5] = (uint8_t)pic8259_has_interrupt(r->pic);
        seen[i][6] = (uint8_t)pic8259_acknowledge(r->pic);
        out8(r, SLAVE_CMD, EOI);
        out8(r, MASTER_CMD, EOI);
        out8(r, MASTER_CMD, EOI);
        out8(r, MASTER_DATA, 0x00);
        seen[i][7] = (uint8_t)pic8259_acknowledge(r->pic); /* IRQ 3 unmasked now */
        pic8259_set_irq(r->pic, 1, false);                 /* the levels were kept: edges work */
        pic8259_set_irq(r->pic, 1, true);
        seen[i][8] = read_irr(r, MASTER_CMD);
        seen[i][9] = read_isr(r, MASTER_CMD);
        seen[i][10] = (uint8_t)pic8259_acknowledge(r->pic);
        seen[i][11] = read_isr(r, SLAVE_CMD);
    }
    assert_memory_equal(seen[0], seen[1], sizeof(seen[0]));
    pic8259_destroy(b.pic);
    ioport_bus_destroy(b.bus);
}

/* A corrupt section is refused with the file and section named. */
static void test_load_corrupt(void **state)
{
    struct rig *rig = *state;
    uint8_t bytes[40];
    struct snap_section s;

    memset(bytes, 0, sizeof(bytes));
    struct snap_rig snap = rig_snap_raw("pic8259", PIC8259_STATE_VERSION, bytes, 10); /* short */
    rig_snap_open(&snap, "pic8259", PIC8259_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, pic8259_load(rig->pic, &s));
    bytes[5] = 7; /* init step */
    snap = rig_snap_raw("pic8259", PIC8259_STATE_VERSION, bytes, 34);
    rig_snap_open(&snap, "pic8259", PIC8259_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, pic8259_load(rig->pic, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_state, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_linux_init_and_vectors, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_masking, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_priority_order, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_nested_and_eoi, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_auto_eoi, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_poll_mode, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_edge_and_level, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_spurious_irq7_and_irq15, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_cascade, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_special_fully_nested, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_rotation, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_special_mask_mode, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_save_restore, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_corrupt, rig_setup, rig_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
