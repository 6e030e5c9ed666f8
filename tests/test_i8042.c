/*
 * tests/test_i8042.c — the 8042 keyboard controller and its keyboard
 * (devices/i8042.c), with IRQ 1 and 12 going into a real 8259A pair.
 *
 * The sequences are those Linux's i8042 and atkbd drivers use (self test,
 * command byte, the aux loop-back and IRQ 12 test, keyboard reset and
 * identify) and its reboot (command 0xFE); the replies are the
 * controller's and the keyboard's documented ones, which QEMU also gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/i8042.h"
#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/pic8259.h"
#include "tests/snapshot_rig.h"

#define STATUS_OBF     0x01
#define STATUS_SYS     0x04
#define STATUS_A2      0x08
#define STATUS_INH     0x10
#define STATUS_AUXB    0x20
#define STATUS_TIMEOUT 0x40
#define KBD_VECTOR     0x21 /* IRQ 1 after Linux's PIC set-up */
#define AUX_VECTOR     0x2C /* IRQ 12 */

struct rig {
    struct ioport_bus *bus;
    struct pic8259 *pic;
    struct irq_router *irq;
    struct i8042 *kbc;
    unsigned resets;
    char why[128];
};

static void on_reset(void *ctx, const char *why)
{
    struct rig *rig = ctx;

    rig->resets++;
    strncpy(rig->why, why, sizeof(rig->why) - 1);
}

static int rig_setup(void **state)
{
    static struct rig rig;
    struct popek_error e;

    memset(&rig, 0, sizeof(rig));
    rig.bus = ioport_bus_create();
    rig.pic = pic8259_create(rig.bus, &e);
    rig.irq = irq_router_create(rig.pic, &e);
    rig.kbc = i8042_create(rig.bus, rig.irq, on_reset, &rig, &e);
    assert_non_null(rig.pic);
    assert_non_null(rig.kbc);
    static const uint8_t init[][2] = {
        {0x21, 0xFF}, {0xA1, 0xFF}, {0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01},
        {0xA0, 0x11}, {0xA1, 0x28}, {0xA1, 0x02}, {0xA1, 0x01}, {0x21, 0x00}, {0xA1, 0x00},
    };
    for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
        ioport_write(rig.bus, init[i][0], 1, init[i][1]);
    *state = &rig;
    return 0;
}

static int rig_teardown(void **state)
{
    struct rig *rig = *state;

    i8042_destroy(rig->kbc);
    irq_router_destroy(rig->irq);
    pic8259_destroy(rig->pic);
    ioport_bus_destroy(rig->bus);
    return 0;
}

static void command(struct rig *rig, uint8_t value)
{
    ioport_write(rig->bus, I8042_STATUS_PORT, 1, value);
}

static void data(struct rig *rig, uint8_t value)
{
    ioport_write(rig->bus, I8042_DATA_PORT, 1, value);
}

static uint8_t status(struct rig *rig)
{
    return (uint8_t)ioport_read(rig->bus, I8042_STATUS_PORT, 1);
}

/* Reads the output buffer, which must hold value (from the aux port when
 * aux is set). */
static void expect_byte(struct rig *rig, uint8_t value, bool aux)
{
    uint8_t st = status(rig);

    assert_true(st & STATUS_OBF);
    assert_int_equal(st & STATUS_AUXB, aux ? STATUS_AUXB : 0);
    assert_int_equal(ioport_read(rig->bus, I8042_DATA_PORT, 1), value);
}

static void expect_empty(struct rig *rig)
{
    assert_int_equal(status(rig) & STATUS_OBF, 0);
}

static void expect_kbd_bytes(struct rig *rig, const uint8_t *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expect_byte(rig, bytes[i], false);
    expect_empty(rig);
}

#define EXPECT_KBD(rig, ...)                           \
    do {                                               \
        static const uint8_t bytes_[] = {__VA_ARGS__}; \
        expect_kbd_bytes(rig, bytes_, sizeof(bytes_)); \
    } while (0)

static bool irq_delivered(struct rig *rig, int vector)
{
    if (!pic8259_has_interrupt(rig->pic))
        return false;
    assert_int_equal(pic8259_acknowledge(rig->pic), vector);
    if (vector >= 0x28)
        ioport_write(rig->bus, 0xA0, 1, 0x20);
    ioport_write(rig->bus, 0x20, 1, 0x20);
    return true;
}

static uint8_t read_ctr(struct rig *rig)
{
    command(rig, 0x20);
    assert_true(status(rig) & STATUS_OBF);
    return (uint8_t)ioport_read(rig->bus, I8042_DATA_PORT, 1);
}

static void write_ctr(struct rig *rig, uint8_t ctr)
{
    command(rig, 0x60);
    data(rig, ctr);
}

/* ---- the controller ---- */

static void test_bios_state(void **state)
{
    struct rig *rig = *state;

    assert_int_equal(status(rig), STATUS_SYS | STATUS_A2 | STATUS_INH);
    assert_int_equal(read_ctr(rig), 0x61);
    command(rig, 0xD0);
    expect_byte(rig, 0xCF, false);
    command(rig, 0xC0);
    expect_byte(rig, 0x80, false);
    expect_empty(rig);
}

static void test_self_and_interface_tests(void **state)
{
    struct rig *rig = *state;

    i8042_reset(rig->kbc);
    command(rig, 0xAA);
    expect_byte(rig, 0x55, false);
    assert_true(status(rig) & STATUS_SYS);
    command(rig, 0xAB);
    expect_byte(rig, 0x00, false);
    command(rig, 0xA9);
    expect_byte(rig, 0x00, false);
    /* A2 says which port was written last. */
    assert_true(status(rig) & STATUS_A2);
    data(rig, 0xEE);
    assert_false(status(rig) & STATUS_A2);
    expect_byte(rig, 0xEE, false);
}

static void test_command_byte(void **state)
{
    struct rig *rig = *state;

    write_ctr(rig, 0x74);
    assert_int_equal(read_ctr(rig), 0x74);
    /* the system flag in the status does not follow the command byte (QEMU) */
    assert_true(status(rig) & STATUS_SYS);
    command(rig, 0xA8);
    assert_int_equal(read_ctr(rig), 0x54);
    command(rig, 0xA7);
    assert_int_equal(read_ctr(rig), 0x74);
    command(rig, 0xAE);
    assert_int_equal(read_ctr(rig), 0x64);
    command(rig, 0xAD);
    assert_int_equal(read_ctr(rig), 0x74);
    /* A byte for the keyboard enables its port (QEMU). */
    data(rig, 0xEE);
    assert_int_equal(status(rig) & STATUS_OBF, STATUS_OBF);
    expect_byte(rig, 0xEE, false);
    assert_int_equal(read_ctr(rig), 0x64);
}

/* ---- the keyboard ---- */

static void test_keyboard_replies(void **state)
{
    struct rig *rig = *state;

    write_ctr(rig, 0x60); /* translate, aux disabled, no interrupts */
    data(rig, 0xFF);
    EXPECT_KBD(rig, 0xFA, 0xAA);
    data(rig, 0xF2);
    EXPECT_KBD(rig, 0xFA, 0xAB, 0x41); /* 0x83 translated */
    data(rig, 0xF0);
    data(rig, 0x00);                   /* the first ACK had already reached the output buffer */
    EXPECT_KBD(rig, 0xFA, 0xFA, 0x41); /* set 2, translated */
    write_ctr(rig, 0x20);              /* no translation */
    data(rig, 0xF2);
    EXPECT_KBD(rig, 0xFA, 0xAB, 0x83);
    data(rig, 0xF0);
    EXPECT_KBD(rig, 0xFA);
    data(rig, 0x03);
    EXPECT_KBD(rig, 0xFA);
    data(rig, 0xF0);
    EXPECT_KBD(rig, 0xFA);
    data(rig, 0x00);
    EXPECT_KBD(rig, 0xFA, 0x03);
    data(rig, 0xF0);
    EXPECT_KBD(rig, 0xFA);
    data(rig, 0x07);
    EXPECT_KBD(rig, 0xFE);
    data(rig, 0xEE);
    EXPECT_KBD(rig, 0xEE);
    data(rig, 0xED);
    EXPECT_KBD(rig, 0xFA);
    data(rig, 0x07);
    EXPECT_KBD(rig, 0xFA);
    data(rig, 0xF3);
    EXPECT_KBD(rig, 0xFA);
    data(rig, 0x20);
    EXPECT_KBD(rig, 0xFA);
    data(rig, 0xF4);
    EXPECT_KBD(rig, 0xFA);
    data(rig, 0xF5);
    EXPECT_KBD(rig, 0xFA);
    data(rig, 0xF6);
    EXPECT_KBD(rig, 0xFA);
    data(rig, 0x12);
    EXPECT_KBD(rig, 0xFE);
    /* reset went back to set 2 */
    data(rig, 0xFF);
    EXPECT_KBD(rig, 0xFA, 0xAA);
    data(rig, 0xF0);
    EXPECT_KBD(rig, 0xFA);
    data(rig, 0x00);
    EXPECT_KBD(rig, 0xFA, 0x02);
}

/* Keyboard bytes wait while its port is disabled; controller bytes do not. */
static void test_disabled_keyboard_port_holds_bytes(void **state)
{
    struct rig *rig = *state;

    write_ctr(rig, 0x20);
    data(rig, 0xF2);
    command(rig, 0xAD);
    expect_byte(rig, 0xFA, false);
    expect_empty(rig);
    command(rig, 0xAA);
    expect_byte(rig, 0x55, false);
    expect_empty(rig);
    command(rig, 0xAE);
    EXPECT_KBD(rig, 0xAB, 0x83);
}

/* ---- interrupts ---- */

static void test_irq1_per_byte(void **state)
{
    struct rig *rig = *state;

    write_ctr(rig, 0x21); /* keyboard interrupt, no translation */
    assert_false(irq_delivered(rig, KBD_VECTOR));
    data(rig, 0xF2);
    for (int i = 0; i < 3; i++) {
        assert_true(irq_delivered(rig, KBD_VECTOR));
        assert_false(irq_delivered(rig, KBD_VECTOR)); /* one edge per byte */
        expect_byte(rig, (uint8_t[]){0xFA, 0xAB, 0x83}[i], false);
    }
    assert_false(irq_delivered(rig, KBD_VECTOR));
    /* Controller replies interrupt too. */
    command(rig, 0xAA);
    assert_true(irq_delivered(rig, KBD_VECTOR));
    expect_byte(rig, 0x55, false);
    /* A byte waiting when the interrupt is enabled raises it then. */
    write_ctr(rig, 0x20);
    data(rig, 0xEE);
    assert_false(irq_delivered(rig, KBD_VECTOR));
    write_ctr(rig, 0x21);
    assert_true(irq_delivered(rig, KBD_VECTOR));
    expect_byte(rig, 0xEE, false);
}

/* Linux's i8042_check_aux: loop-back, aux test, the enable bit, and the
 * IRQ 12 delivery test (0xD3 0xA5 with the aux interrupt on). */
static void test_aux_port_probe(void **state)
{
    struct rig *rig = *state;

    write_ctr(rig, 0x70); /* as Linux's i8042_controller_init: no keyboard interrupt */
    command(rig, 0xD3);
    data(rig, 0x5A);
    expect_byte(rig, 0x5A, true);
    command(rig, 0xA9);
    expect_byte(rig, 0x00, false);
    command(rig, 0xA7);
    assert_int_equal(read_ctr(rig) & 0x20, 0x20);
    command(rig, 0xA8);
    assert_int_equal(read_ctr(rig) & 0x20, 0x00);
    write_ctr(rig, 0x42); /* aux interrupt, both ports enabled, no keyboard interrupt */
    command(rig, 0xD3);
    data(rig, 0xA5);
    assert_true(irq_delivered(rig, AUX_VECTOR));
    assert_int_equal(status(rig) & (STATUS_OBF | STATUS_AUXB), STATUS_OBF | STATUS_AUXB);
    expect_byte(rig, 0xA5, true);
    assert_false(irq_delivered(rig, AUX_VECTOR));
    /* The MUX probe's third loop-back comes back unchanged: no MUX. */
    command(rig, 0xD3);
    data(rig, 0xA4);
    assert_true(irq_delivered(rig, AUX_VECTOR));
    expect_byte(rig, 0xA4, true);
}

/* Nothing is on the aux port: a byte for it comes back as 0xFE with the
 * time-out bit, and the port is enabled by the attempt (QEMU). */
static void test_aux_device_absent(void **state)
{
    struct rig *rig = *state;

    write_ctr(rig, 0x62);
    command(rig, 0xD4);
    data(rig, 0xF2);
    assert_true(irq_delivered(rig, AUX_VECTOR));
    assert_int_equal(status(rig) & (STATUS_OBF | STATUS_AUXB | STATUS_TIMEOUT),
                     STATUS_OBF | STATUS_AUXB | STATUS_TIMEOUT);
    expect_byte(rig, 0xFE, true);
    assert_int_equal(status(rig) & STATUS_TIMEOUT, 0);
    assert_int_equal(read_ctr(rig), 0x42);
}

/* ---- output port, A20 and the reset line ---- */

static void test_output_port(void **state)
{
    struct rig *rig = *state;

    command(rig, 0xD1);
    data(rig, 0xCD); /* A20 off, reset high */
    command(rig, 0xD0);
    expect_byte(rig, 0xCD, false);
    command(rig, 0xDF);
    command(rig, 0xD0);
    expect_byte(rig, 0xCF, false);
    command(rig, 0xDD);
    command(rig, 0xD0);
    expect_byte(rig, 0xCD, false);
    assert_int_equal(rig->resets, 0);
    /* Bits 4 and 5 show the interrupt lines. */
    write_ctr(rig, 0x01);
    command(rig, 0xD2);
    data(rig, 0x11);
    command(rig, 0xD0);
    expect_byte(rig, 0x11, false);
    assert_true(irq_delivered(rig, KBD_VECTOR));
    expect_byte(rig, 0xDD, false);
}

static void test_reset_line(void **state)
{
    struct rig *rig = *state;

    command(rig, 0xFE);
    assert_int_equal(rig->resets, 1);
    assert_non_null(strstr(rig->why, "i8042"));
    assert_non_null(strstr(rig->why, "0xFE"));
    for (unsigned c = 0xF0; c <= 0xFF; c++)
        command(rig, (uint8_t)c);
    assert_int_equal(rig->resets, 1 + 8); /* the even ones pulse bit 0 */
    command(rig, 0xD1);
    data(rig, 0xCF);
    assert_int_equal(rig->resets, 9);
    command(rig, 0xD1);
    data(rig, 0xCE);
    assert_int_equal(rig->resets, 10);
    assert_non_null(strstr(rig->why, "output port"));
}

static void test_reset_restores_bios_state(void **state)
{
    struct rig *rig = *state;

    write_ctr(rig, 0x03);
    command(rig, 0xD3);
    data(rig, 0x11);
    assert_true(irq_delivered(rig, AUX_VECTOR));
    command(rig, 0xD1);
    data(rig, 0xCD);
    i8042_reset(rig->kbc);
    expect_empty(rig);
    assert_int_equal(status(rig), STATUS_SYS | STATUS_A2 | STATUS_INH);
    assert_int_equal(read_ctr(rig), 0x61);
    command(rig, 0xD0);
    expect_byte(rig, 0xCF, false);
    assert_true(irq_delivered(rig, KBD_VECTOR)); /* for those replies */
    /* IRQ 12 was lowered: the next aux byte is a new edge. */
    write_ctr(rig, 0x02);
    command(rig, 0xD3);
    data(rig, 0x22);
    assert_true(irq_delivered(rig, AUX_VECTOR));
}

/* Save → a fresh 8042 → load: the command byte, output port, a command
 * waiting for its data byte, the bytes queued for the output buffer (the
 * keyboard's IDENTIFY reply half read) and IRQ 1 come out the same. */
static void test_save_restore(void **state)
{
    struct rig *a = *state, b;
    struct popek_error e;

    write_ctr(a, 0x47);
    data(a, 0xF2); /* IDENTIFY: ACK, AB, 83 */
    expect_byte(a, 0xFA, false);
    irq_delivered(a, 0x21);
    data(a, 0xF0);    /* the keyboard waits for the scan code set */
    command(a, 0xD1); /* and the controller for the output port */

    struct snap_writer *w = rig_snap_begin("i8042", I8042_STATE_VERSION);
    i8042_save(a->kbc, w);
    struct snap_rig snap = rig_snap_finish(w);
    memset(&b, 0, sizeof(b));
    b.bus = ioport_bus_create();
    b.pic = pic8259_create(b.bus, &e);
    b.irq = irq_router_create(b.pic, &e);
    b.kbc = i8042_create(b.bus, b.irq, on_reset, &b, &e);
    assert_non_null(b.kbc);
    struct snap_section s;
    rig_snap_open(&snap, "i8042", I8042_STATE_VERSION, &s);
    assert_true(i8042_load(b.kbc, &s));
    rig_snap_close(&snap, &s);

    struct rig *r[2] = {a, &b};
    uint8_t seen[2][12];
    for (int i = 0; i < 2; i++) {
        unsigned n = 0;
        data(r[i], 0xDF); /* the output port byte */
        seen[i][n++] = status(r[i]);
        for (unsigned k = 0; k < 3; k++) {
            seen[i][n++] = status(r[i]);
            seen[i][n++] = (uint8_t)ioport_read(r[i]->bus, I8042_DATA_PORT, 1);
        }
        command(r[i], 0xD0); /* read the output port back */
        seen[i][n++] = (uint8_t)ioport_read(r[i]->bus, I8042_DATA_PORT, 1);
        seen[i][n++] = read_ctr(r[i]);
        data(r[i], 0x02); /* the scan code set the keyboard waited for */
        seen[i][n++] = (uint8_t)ioport_read(r[i]->bus, I8042_DATA_PORT, 1);
        seen[i][n++] = status(r[i]);
        seen[i][n++] = (uint8_t)r[i]->resets;
    }
    assert_memory_equal(seen[0], seen[1], sizeof(seen[0]));
    assert_int_equal(seen[0][2], 0xAB);
    i8042_destroy(b.kbc);
    irq_router_destroy(b.irq);
    pic8259_destroy(b.pic);
    ioport_bus_destroy(b.bus);
}

static void test_load_corrupt(void **state)
{
    struct rig *rig = *state;
    uint8_t bytes[32] = {0};
    struct snap_section s;

    bytes[7] = 17; /* the controller's queue: longer than it can be */
    struct snap_rig snap = rig_snap_raw("i8042", I8042_STATE_VERSION, bytes, sizeof(bytes));
    rig_snap_open(&snap, "i8042", I8042_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, i8042_load(rig->kbc, &s));
    bytes[7] = 0; /* a scan code set of 0 */
    snap = rig_snap_raw("i8042", I8042_STATE_VERSION, bytes, 13);
    rig_snap_open(&snap, "i8042", I8042_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, i8042_load(rig->kbc, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bios_state, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_self_and_interface_tests, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_command_byte, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_keyboard_replies, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_disabled_keyboard_port_holds_bytes, rig_setup,
                                        rig_teardown),
        cmocka_unit_test_setup_teardown(test_irq1_per_byte, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_aux_port_probe, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_aux_device_absent, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_output_port, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_reset_line, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_reset_restores_bios_state, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_save_restore, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_corrupt, rig_setup, rig_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
