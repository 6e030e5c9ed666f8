/*
 * tests/test_mmio.c — the MMIO bus (devices/mmio.c) and the VGA text buffer
 * (devices/vga_text.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "devices/mmio.h"
#include "devices/vga_text.h"
#include "tests/snapshot_rig.h"

/* A device that records every access it sees. */
struct recorder {
    unsigned n;
    struct {
        guest_phys_t offset;
        unsigned size;
        uint32_t value;
        bool write;
    } log[64];
};

static uint32_t rec_read(void *opaque, guest_phys_t offset, unsigned size)
{
    struct recorder *r = opaque;

    r->log[r->n++] = (typeof(r->log[0])){offset, size, 0, false};
    return 0xA0u + offset;
}

static void rec_write(void *opaque, guest_phys_t offset, unsigned size, uint32_t value)
{
    struct recorder *r = opaque;

    r->log[r->n++] = (typeof(r->log[0])){offset, size, value, true};
}

static const struct mmio_ops rec_ops = {.name = "recorder", .read = rec_read, .write = rec_write};

static void test_split_into_aligned_pieces(void **state)
{
    struct popek_error err;
    struct mmio_bus *bus = mmio_bus_create();
    struct recorder rec = {0};
    uint8_t buf[16];

    assert_true(mmio_register(bus, 0xFEC00000u, 0x1000, &rec_ops, &rec, &err));
    /* Aligned 1, 2, 4: one access each, whole. */
    mmio_write(bus, 0xFEC00010u, "\x78\x56\x34\x12", 4);
    assert_int_equal(rec.n, 1);
    assert_int_equal(rec.log[0].offset, 0x10);
    assert_int_equal(rec.log[0].size, 4);
    assert_int_equal(rec.log[0].value, 0x12345678);
    /* A qword: two dwords, low first. */
    rec.n = 0;
    mmio_read(bus, 0xFEC00020u, buf, 8);
    assert_int_equal(rec.n, 2);
    assert_int_equal(rec.log[0].offset, 0x20);
    assert_int_equal(rec.log[1].offset, 0x24);
    assert_int_equal(rec.log[1].size, 4);
    /* An unaligned dword at +1: byte, word, byte. */
    rec.n = 0;
    mmio_write(bus, 0xFEC00001u, "\x11\x22\x33\x44", 4);
    assert_int_equal(rec.n, 3);
    assert_int_equal(rec.log[0].size, 1);
    assert_int_equal(rec.log[0].value, 0x11);
    assert_int_equal(rec.log[1].offset, 2);
    assert_int_equal(rec.log[1].size, 2);
    assert_int_equal(rec.log[1].value, 0x3322);
    assert_int_equal(rec.log[2].offset, 4);
    assert_int_equal(rec.log[2].value, 0x44);
    /* A 10-byte x87 tword: dword, dword, word. */
    rec.n = 0;
    mmio_read(bus, 0xFEC00100u, buf, 10);
    assert_int_equal(rec.n, 3);
    assert_int_equal(rec.log[2].size, 2);
    assert_int_equal(mmio_accesses(bus), 9);

    /* Unclaimed addresses: all ones, writes vanish. */
    memset(buf, 0, sizeof(buf));
    mmio_read(bus, 0xFED00000u, buf, 4);
    assert_memory_equal(buf, "\xFF\xFF\xFF\xFF", 4);
    rec.n = 0;
    mmio_write(bus, 0xFED00000u, buf, 4);
    assert_int_equal(rec.n, 0);
    assert_string_equal(mmio_owner(bus, 0xFEC00FFFu), "recorder");
    assert_null(mmio_owner(bus, 0xFEC01000u));

    /* Overlapping or unaligned claims are refused. */
    assert_false(mmio_register(bus, 0xFEC00000u, 0x1000, &rec_ops, &rec, &err));
    assert_false(mmio_register(bus, 0xFEB00800u, 0x1000, &rec_ops, &rec, &err));
    mmio_bus_destroy(bus);
}

static void test_vga_text_is_memory(void **state)
{
    struct popek_error err;
    struct mmio_bus *bus = mmio_bus_create();
    struct vga_text *vga = vga_text_create(bus, &err);
    uint8_t buf[16];

    assert_non_null(vga);
    mmio_write(bus, 0xB8000u, "H\x07i\x07", 4);
    mmio_write(bus, 0xB8FFEu, "0123456789", 10); /* across a page */
    mmio_read(bus, 0xB8FFEu, buf, 10);
    assert_memory_equal(buf, "0123456789", 10);
    assert_memory_equal(vga_text_buffer(vga), "H\x07i\x07", 4);
    mmio_read(bus, 0xC0000u, buf, 1); /* past the buffer: nothing there */
    assert_int_equal(buf[0], 0xFF);
    vga_text_reset(vga);
    assert_int_equal(vga_text_buffer(vga)[0], 0);
    vga_text_destroy(vga);
    mmio_bus_destroy(bus);
}

/* Save → a fresh text buffer → load: every byte; a short section is refused. */
static void test_vga_text_save_restore(void **state)
{
    struct popek_error err;
    struct mmio_bus *bus_a = mmio_bus_create(), *bus_b = mmio_bus_create();
    struct vga_text *a = vga_text_create(bus_a, &err), *b = vga_text_create(bus_b, &err);
    struct snap_section s;

    mmio_write(bus_a, 0xB8000u, "H\x07i\x07", 4);
    mmio_write(bus_a, 0xBFFFEu, "!\x1f", 2);
    struct snap_writer *w = rig_snap_begin("vga_text", VGA_TEXT_STATE_VERSION);
    vga_text_save(a, w);
    struct snap_rig snap = rig_snap_finish(w);
    rig_snap_open(&snap, "vga_text", VGA_TEXT_STATE_VERSION, &s);
    assert_true(vga_text_load(b, &s));
    rig_snap_close(&snap, &s);
    assert_memory_equal(vga_text_buffer(a), vga_text_buffer(b), VGA_TEXT_LENGTH);
    snap = rig_snap_raw("vga_text", VGA_TEXT_STATE_VERSION, "abc", 3);
    rig_snap_open(&snap, "vga_text", VGA_TEXT_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, vga_text_load(b, &s));
    vga_text_destroy(a);
    vga_text_destroy(b);
    mmio_bus_destroy(bus_a);
    mmio_bus_destroy(bus_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_into_aligned_pieces),
        cmocka_unit_test(test_vga_text_is_memory),
        cmocka_unit_test(test_vga_text_save_restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
