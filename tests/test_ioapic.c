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
#include "tests/snapshot_rig.h"

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

/* Save → a fresh I/O APIC → load: the redirection table (remote IRR
 * included), IOREGSEL and the pin levels; a level-triggered pin waiting for
 * its EOI is sent again by the loaded one exactly as by the original. */
static void test_save_restore(void **state)
{
    struct rig *a = *state, b;
    struct popek_error e;

    set_entry(a, 3, 0x33, 0);
    set_entry(a, 9, LEVEL | 0x39, 0x01000000);
    set_entry(a, 11, MASKED | 0x3B, 0);
    ioapic_set_pin(a->ioapic, 9, true); /* sent; remote IRR set */
    ioapic_set_pin(a->ioapic, 11, true);
    reg_read(a, 0x10 + 2 * 9); /* IOREGSEL left pointing there */

    struct snap_writer *w = rig_snap_begin("ioapic", IOAPIC_STATE_VERSION);
    ioapic_save(a->ioapic, w);
    struct snap_rig snap = rig_snap_finish(w);
    b = (struct rig){.accept = true};
    b.bus = mmio_bus_create();
    b.ioapic = ioapic_create(b.bus, record, &b, &e);
    assert_non_null(b.ioapic);
    struct snap_section s;
    rig_snap_open(&snap, "ioapic", IOAPIC_STATE_VERSION, &s);
    assert_true(ioapic_load(b.ioapic, &s));
    rig_snap_close(&snap, &s);
    assert_int_equal(b.sent, 0); /* a load sends nothing */

    struct rig *r[2] = {a, &b};
    uint32_t seen[2][1 + 3 + 48 + 4] = {{0}};
    for (int i = 0; i < 2; i++) {
        unsigned n = 0, sent = r[i]->sent;
        uint32_t data;
        mmio_read(r[i]->bus, IOAPIC_BASE + 0x10, &data, 4); /* IOREGSEL kept */
        seen[i][n++] = data;
        for (unsigned k = 0; k < 3; k++) /* ID, version, arbitration */
            seen[i][n++] = reg_read(r[i], (uint8_t)k);
        for (unsigned k = 0x10; k < 0x10 + 2 * 24; k++)
            seen[i][n++] = reg_read(r[i], (uint8_t)k);
        ioapic_eoi(r[i]->ioapic, 0x39); /* pin 9 still high: sent again */
        seen[i][n++] = r[i]->sent - sent;
        seen[i][n++] = r[i]->last.vector;
        set_entry(r[i], 11, 0x3B, 0); /* unmasked: a pin already high sends nothing */
        ioapic_set_pin(r[i]->ioapic, 11, false);
        ioapic_set_pin(r[i]->ioapic, 11, true); /* an edge: sent */
        seen[i][n++] = r[i]->sent - sent;
        seen[i][n++] = r[i]->last.vector;
    }
    assert_memory_equal(seen[0], seen[1], sizeof(seen[0]));
    assert_int_equal(seen[0][52], 1);
    assert_int_equal(seen[0][54], 2);
    ioapic_destroy(b.ioapic);
    mmio_bus_destroy(b.bus);
}

static void test_load_corrupt(void **state)
{
    struct rig *rig = *state;
    uint8_t bytes[1 + 4 + 24 * 8 + 4] = {0};
    struct snap_section s;

    struct snap_rig snap = rig_snap_raw("ioapic", IOAPIC_STATE_VERSION, bytes, sizeof(bytes) - 1);
    rig_snap_open(&snap, "ioapic", IOAPIC_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, ioapic_load(rig->ioapic, &s));
    bytes[5 + 8 * 4 + 2] = 0x20; /* pin 4: redirection bit 21 does not exist */
    snap = rig_snap_raw("ioapic", IOAPIC_STATE_VERSION, bytes, sizeof(bytes));
    rig_snap_open(&snap, "ioapic", IOAPIC_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, ioapic_load(rig->ioapic, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_registers, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_edge_redirection, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_level_and_remote_irr, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_reset, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_save_restore, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_corrupt, rig_setup, rig_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
