/*
 * tests/test_guest_ram.c — guest RAM and views (shadowpt/guest_ram.c,
 * view.c).
 *
 * Host accessibility is probed without taking signals: write(2) from an
 * address fails with EFAULT when it is not readable, read(2) into an address
 * fails with EFAULT when it is not writable.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/host_probe.h"

#include "shadowpt/guest_ram.h"
#include "shadowpt/view.h"
#include "tests/snapshot_rig.h"

static int setup(void **state)
{
    return host_probe_open();
}

static int teardown(void **state)
{
    host_probe_close();
    return 0;
}

static void test_ram_sizes(void **state)
{
    struct popek_error e;
    struct guest_ram *ram;

    assert_null(guest_ram_create(MIB(1), &e));
    assert_non_null(strstr(e.message, "out of range"));
    assert_null(guest_ram_create(MIB(4096), &e));
    assert_null(guest_ram_create(MIB(64) + 100, &e));
    ram = guest_ram_create(MIB(64), &e);
    assert_non_null(ram);
    assert_int_equal(guest_ram_size(ram), MIB(64));
    assert_true(guest_ram_fd(ram) >= 0);
    guest_ram_destroy(ram);
}

static void test_ram_bounds(void **state)
{
    struct popek_error e;
    struct guest_ram *ram = guest_ram_create(MIB(16), &e);

    assert_non_null(guest_ram_host_ptr(ram, 0, 1));
    assert_non_null(guest_ram_host_ptr(ram, MIB(16) - 4, 4));
    assert_null(guest_ram_host_ptr(ram, MIB(16) - 3, 4));
    assert_null(guest_ram_host_ptr(ram, MIB(16), 1));
    assert_null(guest_ram_host_ptr(ram, 0xFFFFFFFFu, 2));
    assert_null(guest_ram_host_ptr(ram, 0x1000, UINT64_MAX));

    assert_true(guest_ram_is_usable_frame(ram, 0));
    assert_true(guest_ram_is_usable_frame(ram, 0x9F));
    assert_false(guest_ram_is_usable_frame(ram, 0xA0));
    assert_false(guest_ram_is_usable_frame(ram, 0xFF));
    assert_true(guest_ram_is_usable_frame(ram, 0x100));
    assert_true(guest_ram_is_usable_frame(ram, (MIB(16) >> 12) - 1));
    assert_false(guest_ram_is_usable_frame(ram, MIB(16) >> 12));
    guest_ram_destroy(ram);
}

/* The monitor's mapping is entered in the host's page tables 64 KiB at a
 * time, at the first access to each 64 KiB: the rest of the chunk takes no
 * host page fault of its own, and nothing outside it is entered. */
static void test_monitor_access_enters_its_chunk(void **state)
{
    void *probe = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(probe != MAP_FAILED);
    bool supported = madvise(probe, 4096, MADV_POPULATE_WRITE) == 0 || errno != EINVAL;
    munmap(probe, 4096);
    if (!supported)
        skip(); /* a host before Linux 5.14: popek goes without, as it should */
    struct popek_error e;
    struct guest_ram *ram = guest_ram_create(MIB(16), &e);
    assert_non_null(ram);
    uint8_t *p = guest_ram_host_ptr(ram, 0x123456, 4);
    assert_non_null(p);
    uint8_t *base = p - 0x123456;

    for (uint32_t a = 0x120000; a < 0x130000; a += 0x1000)
        assert_true(host_page_present(base + a));
    assert_false(host_page_present(base + 0x11F000));
    assert_false(host_page_present(base + 0x130000));

    /* An access across a chunk boundary enters both chunks. */
    assert_non_null(guest_ram_host_ptr(ram, 0x14FFFE, 4));
    assert_true(host_page_present(base + 0x140000));
    assert_true(host_page_present(base + 0x15F000));
    assert_false(host_page_present(base + 0x160000));

    /* A reset gives the memory back; the next access enters it again. */
    assert_true(guest_ram_clear(ram, &e));
    assert_false(host_page_present(base + 0x121000));
    assert_non_null(guest_ram_host_ptr(ram, 0x120000, 1));
    assert_true(host_page_present(base + 0x12F000));
    guest_ram_destroy(ram);
}

static void test_view_reservation(void **state)
{
    struct popek_error e;
    struct guest_ram *ram = guest_ram_create(MIB(8), &e);
    struct view *view = view_create(ram, &e);
    uint8_t *base = view_base(view);
    int64_t linear;

    assert_non_null(view);
    assert_int_equal((uintptr_t)base % GIB(4), 0); /* low 32 bits of base + L are L */
    /* Nothing is mapped yet: window and both guards are inaccessible. */
    assert_false(host_readable(base));
    assert_false(host_readable(base - 1));
    assert_false(host_readable(base - VIEW_GUARD_BELOW));
    assert_false(host_readable(base + 0xFFFFFFFFull));
    assert_false(host_readable(base + GIB(4) + GIB(36) - 1));

    assert_true(view_contains_host(view, base - VIEW_GUARD_BELOW, &linear));
    assert_int_equal(linear, -(int64_t)VIEW_GUARD_BELOW);
    assert_true(view_contains_host(view, base + GIB(5), &linear));
    assert_int_equal(linear, (int64_t)GIB(5));
    assert_false(view_contains_host(view, base - VIEW_GUARD_BELOW - 1, NULL));
    assert_false(view_contains_host(view, base + GIB(40), NULL));

    /* Bad requests are refused, not passed to the host. */
    assert_false(view_map_frames(view, 0x123, 0, 1, VIEW_PROT_READ, &e));
    assert_false(view_map_frames(view, 0xFFFFF000u, 0, 2, VIEW_PROT_READ, &e));
    assert_false(view_map_frames(view, 0, (MIB(8) >> 12) - 1, 2, VIEW_PROT_READ, &e));
    view_destroy(view);
    guest_ram_destroy(ram);
}

static void test_view_map_alias_and_protection(void **state)
{
    struct popek_error e;
    struct guest_ram *ram = guest_ram_create(MIB(8), &e);
    struct view *view = view_create(ram, &e);
    uint8_t *base = view_base(view);
    uint32_t *phys = guest_ram_host_ptr(ram, 0x5000, 4);

    /* Frame 5 at two linear addresses, one of them read-only. */
    assert_true(view_map_frames(view, 0xC0000000u, 5, 1, VIEW_PROT_READ_WRITE, &e));
    assert_true(view_map_frames(view, 0x00400000u, 5, 1, VIEW_PROT_READ, &e));
    *(volatile uint32_t *)(base + 0xC0000010u) = 0xCAFEBABE;
    assert_int_equal(phys[4], 0xCAFEBABE);
    assert_int_equal(*(volatile uint32_t *)(base + 0x00400010u), 0xCAFEBABE);
    assert_true(host_writable(base + 0xC0000000u));
    assert_true(host_readable(base + 0x00400000u));
    assert_false(host_writable(base + 0x00400000u));
    assert_false(host_readable(base + 0x00401000u));
    assert_true(view_map_frames(view, 0xFFFFF000u, 7, 1, VIEW_PROT_READ_WRITE, &e));
    assert_true(host_writable(base + 0xFFFFFFFFull));
    assert_false(host_readable(base + 0x100000000ull)); /* the upper guard */

    assert_true(view_unmap(view, 0xC0000000u, 1, &e));
    assert_false(host_readable(base + 0xC0000000u));
    assert_true(view_contains_host(view, base + 0xC0000000u, NULL));
    assert_int_equal(view_mapping_calls(view), 3);
    view_destroy(view);
    guest_ram_destroy(ram);
}

/* The host mappings (lines of /proc/self/maps) that overlap [from, to). */
static unsigned host_mappings_within(const uint8_t *from, const uint8_t *to)
{
    FILE *maps = fopen("/proc/self/maps", "r");
    unsigned long lo, hi;
    unsigned n = 0;
    char line[512];

    assert_non_null(maps);
    while (fgets(line, sizeof(line), maps)) {
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo < (uintptr_t)to && hi > (uintptr_t)from)
            n++;
    }
    fclose(maps);
    return n;
}

/* Unmapping gives the range back to the reservation: after runs are mapped
 * here and there and dropped again, in pieces and as one span, the window is
 * one host mapping, as it was at first. (A view that kept each dropped run
 * as a mapping of its own gathered thousands under a Linux guest, and every
 * host call on the view walked them.) */
static void test_view_unmap_leaves_no_host_mappings(void **state)
{
    struct popek_error e;
    struct guest_ram *ram = guest_ram_create(MIB(8), &e);
    struct view *view = view_create(ram, &e);
    uint8_t *base = view_base(view);
    uint8_t *end = base + 0x100000000ull;

    assert_int_equal(host_mappings_within(base, end), 1);
    for (uint32_t i = 0; i < 64; i++) /* frames out of order: no two runs merge */
        assert_true(view_map_frames(view, 0x08000000u + i * 0x3000u, 200 - 3 * i, 2,
                                    i & 1 ? VIEW_PROT_READ : VIEW_PROT_READ_WRITE, &e));
    assert_true(host_mappings_within(base, end) >= 64);
    assert_true(view_unmap(view, 0x08000000u, 1, &e)); /* half of the first run */
    assert_false(host_readable(base + 0x08000000u));
    assert_true(host_readable(base + 0x08001000u));
    assert_true(view_unmap(view, 0x08000000u, 64 * 3, &e)); /* the rest, as one span */
    assert_false(host_readable(base + 0x08001000u));
    assert_int_equal(host_mappings_within(base, end), 1);
    view_destroy(view);
    guest_ram_destroy(ram);
}

/* The host's costs are measured once, are real times, and decide whether
 * a page is populated ahead of its access. */
static void test_view_host_costs(void **state)
{
    const struct view_host_costs *c = view_host_costs();

    print_message("populate %.0f ns, fault %.0f ns, populate %s\n", c->populate_ns, c->fault_ns,
                  c->populate_works ? "works" : "unsupported");
    assert_true(c->fault_ns > 0);
    if (c->populate_works)
        assert_true(c->populate_ns > 0);
    assert_ptr_equal(view_host_costs(), c);
    assert_int_equal(view_populate_pays(), c->populate_works && c->populate_ns < c->fault_ns);
}

/* Save → fresh RAM of the same size → load: every byte; only the pages
 * that are not zero are in the section (runs of them), and RAM of another
 * size or a run outside RAM is refused. */
static void test_ram_save_restore(void **state)
{
    struct popek_error e;
    struct guest_ram *a = guest_ram_create(MIB(8), &e), *b = guest_ram_create(MIB(8), &e);
    struct guest_ram *small = guest_ram_create(MIB(4), &e);
    struct snap_section s;

    (void)state;
    /* Written through pointers to the three places only, so the memfd
     * keeps holes between them (a pointer to all of RAM would enter every
     * chunk) and the save's hole skipping is what runs. */
    *(uint8_t *)guest_ram_host_ptr(a, 0, 1) = 1;
    memset(guest_ram_host_ptr(a, 5 * 4096, 3 * 4096), 0xAB, 3 * 4096); /* frames 5-7: one run */
    *(uint8_t *)guest_ram_host_ptr(a, MIB(8) - 1, 1) = 0x77;           /* the last frame */
    assert_true(lseek(guest_ram_fd(a), 0, SEEK_HOLE) < (off_t)MIB(8));
    struct snap_writer *w = rig_snap_begin("ram", GUEST_RAM_STATE_VERSION);
    guest_ram_save(a, w);
    uint8_t *ha = guest_ram_host_ptr(a, 0, MIB(8));
    struct snap_rig snap = rig_snap_finish(w);
    rig_snap_open(&snap, "ram", GUEST_RAM_STATE_VERSION, &s);
    /* size, three runs of (frame, count, pages), the end mark */
    assert_int_equal(s.size, 8 + 3 * 8 + 5 * 4096 + 4);
    assert_true(guest_ram_load(b, &s));
    rig_snap_close(&snap, &s);
    assert_memory_equal(guest_ram_host_ptr(b, 0, MIB(8)), ha, MIB(8));

    w = rig_snap_begin("ram", GUEST_RAM_STATE_VERSION);
    guest_ram_save(a, w);
    snap = rig_snap_finish(w);
    rig_snap_open(&snap, "ram", GUEST_RAM_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, guest_ram_load(small, &s));
    assert_non_null(strstr(snap.err.message, "-m"));

    uint8_t bytes[8 + 8 + 4096] = {0};
    bytes[2] = 0x80; /* 8 MiB */
    bytes[8] = 0x00; /* frame 0x800 (8 MiB): outside */
    bytes[9] = 0x08;
    bytes[12] = 1;
    snap = rig_snap_raw("ram", GUEST_RAM_STATE_VERSION, bytes, sizeof(bytes));
    rig_snap_open(&snap, "ram", GUEST_RAM_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, guest_ram_load(b, &s));
    guest_ram_destroy(a);
    guest_ram_destroy(b);
    guest_ram_destroy(small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ram_sizes),
        cmocka_unit_test(test_ram_bounds),
        cmocka_unit_test(test_monitor_access_enters_its_chunk),
        cmocka_unit_test(test_view_reservation),
        cmocka_unit_test(test_view_map_alias_and_protection),
        cmocka_unit_test(test_view_unmap_leaves_no_host_mappings),
        cmocka_unit_test(test_view_host_costs),
        cmocka_unit_test(test_ram_save_restore),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
