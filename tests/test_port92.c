/*
 * tests/test_port92.c — System Control Port A (devices/port92.c): the
 * fast reset on a 0 → 1 edge of bit 0, the A20 bit read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/ioport.h"
#include "devices/port92.h"
#include "tests/snapshot_rig.h"

struct rig {
    struct ioport_bus *bus;
    struct port92 *port;
    unsigned resets;
};

static void on_reset(void *ctx, const char *why)
{
    struct rig *rig = ctx;

    assert_non_null(why);
    rig->resets++;
}

static void test_fast_reset_and_a20(void **state)
{
    struct rig rig = {0};
    struct popek_error e;

    (void)state;
    rig.bus = ioport_bus_create();
    rig.port = port92_create(rig.bus, on_reset, &rig, &e);
    assert_non_null(rig.port);
    assert_int_equal(ioport_read(rig.bus, PORT92_PORT, 1), 0x02);
    ioport_write(rig.bus, PORT92_PORT, 1, 0x00); /* A20 "off": kept, no effect */
    assert_int_equal(ioport_read(rig.bus, PORT92_PORT, 1), 0x00);
    ioport_write(rig.bus, PORT92_PORT, 1, 0x12);
    assert_int_equal(ioport_read(rig.bus, PORT92_PORT, 1), 0x12);
    assert_int_equal(rig.resets, 0);
    ioport_write(rig.bus, PORT92_PORT, 1, 0x03); /* 0 → 1: reset */
    assert_int_equal(rig.resets, 1);
    ioport_write(rig.bus, PORT92_PORT, 1, 0x03); /* still 1: no edge */
    assert_int_equal(rig.resets, 1);
    port92_reset(rig.port); /* the reset clears bit 0, A20 stays */
    assert_int_equal(ioport_read(rig.bus, PORT92_PORT, 1), 0x02);
    ioport_write(rig.bus, PORT92_PORT, 1, 0x03);
    assert_int_equal(rig.resets, 2);
    port92_destroy(rig.port);
    ioport_bus_destroy(rig.bus);
}

/* Save → a fresh port → load: the value (A20 and the fast-reset bit) is
 * the same, loading a set reset bit is no edge, and the next edge resets. */
static void test_save_restore(void **state)
{
    struct rig a = {0}, b = {0};
    struct popek_error e;

    (void)state;
    a.bus = ioport_bus_create();
    a.port = port92_create(a.bus, on_reset, &a, &e);
    ioport_write(a.bus, PORT92_PORT, 1, 0x13);
    assert_int_equal(a.resets, 1);
    struct snap_writer *w = rig_snap_begin("port92", PORT92_STATE_VERSION);
    port92_save(a.port, w);
    struct snap_rig snap = rig_snap_finish(w);
    b.bus = ioport_bus_create();
    b.port = port92_create(b.bus, on_reset, &b, &e);
    struct snap_section s;
    rig_snap_open(&snap, "port92", PORT92_STATE_VERSION, &s);
    assert_true(port92_load(b.port, &s));
    rig_snap_close(&snap, &s);
    assert_int_equal(b.resets, 0);
    assert_int_equal(ioport_read(b.bus, PORT92_PORT, 1), 0x13);
    ioport_write(b.bus, PORT92_PORT, 1, 0x02);
    ioport_write(b.bus, PORT92_PORT, 1, 0x03);
    assert_int_equal(b.resets, 1);

    snap = rig_snap_raw("port92", PORT92_STATE_VERSION, "", 0); /* empty: corrupt */
    rig_snap_open(&snap, "port92", PORT92_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, port92_load(b.port, &s));
    port92_destroy(a.port);
    port92_destroy(b.port);
    ioport_bus_destroy(a.bus);
    ioport_bus_destroy(b.bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_reset_and_a20),
        cmocka_unit_test(test_save_restore),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
