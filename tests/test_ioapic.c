/*
 * tests/test_ioapic.c — the I/O APIC (devices/ioapic.c) through its two
 * memory-mapped registers, with a recorder in place of the APIC bus.
 *
 * Expected behaviour follows the 82093AA datasheet §3.2: the ID, version
 * and arbitration registers, redirection entries (which bits are
 * writable), masking (edges on a masked pin are lost), polarity, and the
 * remote IRR of level-triggered entries cleared by the local APIC's EOI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/ioapic.h"
#include "devices/mmio.h"

#define MASKED     0x10000u
#define LEVEL      0x08000u
#define REMOTE_IRR 0x04000u
#define ACTIVE_LOW 0x02000u
#define LOGICAL    0x00800u

struct rig {
    struct mmio_bus *bus;
    struct ioapic *ioapic;
    bool accept;
    unsigned sent;
    struct apic_message last;
};

static bool record(void *ctx, const struct apic_message *msg)
{
    struct rig *rig = ctx;

    rig->sent++;
    rig->last = *msg;
    return rig->accept;
}

static uint32_t reg_read(struct rig *rig, uint8_t index)
{
    uint32_t v;

    mmio_write(rig->bus, IOAPIC_BASE, &index, 1);
    mmio_read(rig->bus, IOAPIC_BASE + 0x10, &v, 4);
    return v;
}

static void reg_write(struct rig *rig, uint8_t index, uint32_t value)
{
    uint32_t sel = index;

    mmio_write(rig->bus, IOAPIC_BASE, &sel, 4);
    mmio_write(rig->bus, IOAPIC_BASE + 0x10, &value, 4);
}

static void set_entry(struct rig *rig, unsigned pin, uint32_t low, uint32_t high)
{
    reg_write(rig, (uint8_t)(0x10 + 2 * pin + 1), high);
    reg_write(rig, (uint8_t)(0x10 + 2 * pin), low);
}

static int rig_setup(void **state)
{
    static struct rig rig;
    struct popek_error e;

    rig = (struct rig){.accept = true};
    rig.bus = mmio_bus_create();
    rig.ioapic = ioapic_create(rig.bus, record, &rig, &e);
    assert_non_null(rig.ioapic);
    *state = &rig;
    return 0;
}

static int rig_teardown(void **state)
{
    struct rig *rig = *state;

    ioapic_destroy(rig->ioapic);
    mmio_bus_destroy(rig->bus);
    return 0;
}

static void test_registers(void **state)
{
    struct rig *rig = *state;
    uint8_t sel;

    assert_int_equal(reg_read(rig, 0x00), 0);          /* ID 0 */
    assert_int_equal(reg_read(rig, 0x01), 0x00170011); /* 24 entries, version 0x11 */
    assert_int_equal(reg_read(rig, 0x02), 0);
    for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
        assert_int_equal(reg_read(rig, (uint8_t)(0x10 + 2 * pin)), MASKED);
        assert_int_equal(reg_read(rig, (uint8_t)(0x11 + 2 * pin)), 0);
    }
    /* ID bits 27-24 only; the arbitration ID follows it; version is RO. */
    reg_write(rig, 0x00, 0xFFFFFFFFu);
    assert_int_equal(reg_read(rig, 0x00), 0x0F000000u);
    assert_int_equal(reg_read(rig, 0x02), 0x0F000000u);
    reg_write(rig, 0x01, 0);
    assert_int_equal(reg_read(rig, 0x01), 0x00170011);
    /* Delivery status (12) and remote IRR (14) are read-only. */
    set_entry(rig, 5, 0xFFFFFFFFu, 0xFFFFFFFFu);
    assert_int_equal(reg_read(rig, 0x1A), 0x0001AFFFu);
    assert_int_equal(reg_read(rig, 0x1B), 0xFF000000u);
    /* IOREGSEL reads back; registers past the table read 0. */
    sel = 0x55;
    mmio_write(rig->bus, IOAPIC_BASE, &sel, 1);
    sel = 0;
    mmio_read(rig->bus, IOAPIC_BASE, &sel, 1);
    assert_int_equal(sel, 0x55);
    assert_int_equal(reg_read(rig, 0x40), 0);
}

static void test_edge_redirection(void **state)
{
    struct rig *rig = *state;

    /* Masked: an edge is lost (not held pending). */
    ioapic_set_pin(rig->ioapic, 2, true);
    ioapic_set_pin(rig->ioapic, 2, false);
    set_entry(rig, 2, 0x30, 0x01000000);
    assert_int_equal(rig->sent, 0);
    /* Unmasked, edge, physical destination 1, fixed. */
    ioapic_set_pin(rig->ioapic, 2, true);
    assert_int_equal(rig->sent, 1);
    assert_int_equal(rig->last.vector, 0x30);
    assert_int_equal(rig->last.delivery_mode, APIC_DM_FIXED);
    assert_false(rig->last.logical);
    assert_int_equal(rig->last.destination, 1);
    assert_false(rig->last.level);
    /* Staying high sends nothing more; the next rising edge does. */
    ioapic_set_pin(rig->ioapic, 2, true);
    assert_int_equal(rig->sent, 1);
    ioapic_set_pin(rig->ioapic, 2, false);
    ioapic_set_pin(rig->ioapic, 2, true);
    assert_int_equal(rig->sent, 2);
    assert_int_equal(reg_read(rig, 0x14) & REMOTE_IRR, 0);
    /* Logical destination, lowest priority. */
    set_entry(rig, 3, LOGICAL | 0x100 | 0x33, 0x01000000);
    ioapic_set_pin(rig->ioapic, 3, true);
    assert_int_equal(rig->last.vector, 0x33);
    assert_int_equal(rig->last.delivery_mode, APIC_DM_LOWEST);
    assert_true(rig->last.logical);
    /* Active low: a falling level is the assertion. */
    set_entry(rig, 4, ACTIVE_LOW | 0x34, 0);
    ioapic_set_pin(rig->ioapic, 4, true);
    assert_int_equal(rig->last.vector, 0x33);
    ioapic_set_pin(rig->ioapic, 4, false);
    assert_int_equal(rig->last.vector, 0x34);
}

static void test_level_and_remote_irr(void **state)
{
    struct rig *rig = *state;

    set_entry(rig, 9, LEVEL | 0x39, 0);
    ioapic_set_pin(rig->ioapic, 9, true);
    assert_int_equal(rig->sent, 1);
    assert_true(rig->last.level);
    assert_int_equal(reg_read(rig, 0x22), LEVEL | REMOTE_IRR | 0x39);
    /* While remote IRR is set nothing more is sent. */
    ioapic_set_pin(rig->ioapic, 9, false);
    ioapic_set_pin(rig->ioapic, 9, true);
    assert_int_equal(rig->sent, 1);
    /* The EOI of another vector changes nothing; of this one, clears
     * remote IRR and, the line still asserted, sends again. */
    ioapic_eoi(rig->ioapic, 0x38);
    assert_int_equal(rig->sent, 1);
    ioapic_eoi(rig->ioapic, 0x39);
    assert_int_equal(rig->sent, 2);
    assert_int_equal(reg_read(rig, 0x22) & REMOTE_IRR, REMOTE_IRR);
    /* Line low at the EOI: remote IRR clears, nothing is sent. */
    ioapic_set_pin(rig->ioapic, 9, false);
    ioapic_eoi(rig->ioapic, 0x39);
    assert_int_equal(rig->sent, 2);
    assert_int_equal(reg_read(rig, 0x22) & REMOTE_IRR, 0);
    /* Masked, a level pin's changes have no effect; unmasking it while
     * asserted sends. */
    set_entry(rig, 9, MASKED | LEVEL | 0x39, 0);
    ioapic_set_pin(rig->ioapic, 9, true);
    assert_int_equal(rig->sent, 2);
    set_entry(rig, 9, LEVEL | 0x39, 0);
    assert_int_equal(rig->sent, 3);
    /* Nobody accepting: remote IRR stays clear (tried again on change). */
    ioapic_eoi(rig->ioapic, 0x39);
    assert_int_equal(rig->sent, 4);
    rig->accept = false;
    ioapic_set_pin(rig->ioapic, 9, false);
    ioapic_eoi(rig->ioapic, 0x39);
    ioapic_set_pin(rig->ioapic, 9, true);
    assert_int_equal(rig->sent, 5);
    assert_int_equal(reg_read(rig, 0x22) & REMOTE_IRR, 0);
    /* Switching an entry to edge drops its remote IRR. */
    rig->accept = true;
    ioapic_set_pin(rig->ioapic, 9, false);
    ioapic_set_pin(rig->ioapic, 9, true);
    assert_int_equal(reg_read(rig, 0x22) & REMOTE_IRR, REMOTE_IRR);
    set_entry(rig, 9, 0x39, 0);
    assert_int_equal(reg_read(rig, 0x22) & REMOTE_IRR, 0);
}

static void test_reset(void **state)
{
    struct rig *rig = *state;

    reg_write(rig, 0x00, 0x05000000);
    set_entry(rig, 1, 0x31, 0);
    ioapic_reset(rig->ioapic);
    assert_int_equal(reg_read(rig, 0x00), 0);
    assert_int_equal(reg_read(rig, 0x12), MASKED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registers, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_edge_redirection, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_level_and_remote_irr, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_reset, rig_setup, rig_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
