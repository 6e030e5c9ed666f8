/*
 * tests/test_shadow.c — the guest page walk and the shadow MMU
 * (shadowpt/walk.c, shadow.c, rmap.c).
 *
 * Guest page tables are built in a real guest RAM; faults are handed to
 * shadow_handle_fault() as the monitor would after a host SIGSEGV, and the
 * views' host protections are probed without taking signals: write(2) from
 * an address fails with EFAULT when it is not readable, read(2) into an
 * address fails with EFAULT when it is not writable.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/host_probe.h"

#include "monitor/vcpu.h"
#include "shadowpt/guest_ram.h"
#include "shadowpt/shadow.h"
#include "shadowpt/view.h"
#include "shadowpt/walk.h"

/* ---- a guest address space built in RAM ----------------------------------- */

#define PD1  0x00100000u /* page directories */
#define PD2  0x00101000u
#define PT_A 0x00102000u /* page tables */
#define PT_B 0x00103000u

static struct guest_ram *ram;

static uint32_t *entry(guest_phys_t table, unsigned index)
{
    return (uint32_t *)guest_ram_host_ptr(ram, table + index * 4, 4);
}

static void set_pde(guest_phys_t pd, guest_linear_t linear, uint32_t value)
{
    *entry(pd, linear >> 22) = value;
}

static void set_pte(guest_phys_t pt, guest_linear_t linear, uint32_t value)
{
    *entry(pt, (linear >> 12) & 0x3FF) = value;
}

static int setup(void **state)
{
    struct popek_error err;

    ram = guest_ram_create(MIB(32), &err);
    return ram ? host_probe_open() : -1;
}

static int teardown(void **state)
{
    host_probe_close();
    guest_ram_destroy(ram);
    return 0;
}

static int clear_ram(void **state)
{
    struct popek_error err;

    return guest_ram_clear(ram, &err) ? 0 : -1;
}

static const struct paging_regs paging_on = {.cr0 = CR0_PE | CR0_PG | CR0_WP, .cr3 = PD1};

/* ---- the walk -------------------------------------------------------------- */

static void test_walk_4k_pages_and_error_codes(void **state)
{
    struct walk_result w;

    set_pde(PD1, 0x40000000, PT_A | PTE_P | PTE_RW | PTE_US);
    set_pte(PT_A, 0x40000000, 0x00500000 | PTE_P | PTE_US);          /* user, read-only */
    set_pte(PT_A, 0x40001000, 0x00501000 | PTE_P | PTE_RW);          /* supervisor */
    set_pte(PT_A, 0x40002000, 0x00502000 | PTE_P | PTE_RW | PTE_US); /* user, writable */

    assert_true(guest_walk(ram, &paging_on, 0x40000123, WALK_READ, true, true, &w));
    assert_int_equal(w.phys, 0x00500123);
    assert_true(w.user_ok);
    assert_false(w.user_write_ok);
    assert_false(w.super_write_ok); /* CR0.WP: supervisor writes honour R/W */

    /* SDM vol. 3, §4.7: P for a protection violation, W for a write, U
     * for a CPL-3 access. */
    assert_false(guest_walk(ram, &paging_on, 0x40000000, WALK_WRITE, true, true, &w));
    assert_int_equal(w.error_code, PF_ERR_P | PF_ERR_W | PF_ERR_U);
    assert_false(guest_walk(ram, &paging_on, 0x40000000, WALK_WRITE, false, true, &w));
    assert_int_equal(w.error_code, PF_ERR_P | PF_ERR_W);
    assert_false(guest_walk(ram, &paging_on, 0x40001000, WALK_READ, true, true, &w));
    assert_int_equal(w.error_code, PF_ERR_P | PF_ERR_U);
    assert_false(guest_walk(ram, &paging_on, 0x40003000, WALK_FETCH, true, true, &w));
    assert_int_equal(w.error_code, PF_ERR_U); /* no I/D bit without NX */
    assert_false(guest_walk(ram, &paging_on, 0x80000000, WALK_WRITE, false, true, &w));
    assert_int_equal(w.error_code, PF_ERR_W); /* PDE not present */
    assert_true(guest_walk(ram, &paging_on, 0x40002FFF, WALK_WRITE, true, true, &w));
    assert_int_equal(w.phys, 0x00502FFF);

    /* With CR0.WP clear, supervisor writes ignore R/W. */
    struct paging_regs no_wp = paging_on;
    no_wp.cr0 &= ~CR0_WP;
    assert_true(guest_walk(ram, &no_wp, 0x40000000, WALK_WRITE, false, true, &w));

    /* The most restrictive level wins: a read-only PDE over a writable PTE. */
    set_pde(PD1, 0x40000000, PT_A | PTE_P | PTE_US);
    assert_false(guest_walk(ram, &paging_on, 0x40002000, WALK_WRITE, true, true, &w));
    assert_int_equal(w.error_code, PF_ERR_P | PF_ERR_W | PF_ERR_U);
}

static void test_walk_accessed_and_dirty(void **state)
{
    struct walk_result w;

    set_pde(PD1, 0x40000000, PT_A | PTE_P | PTE_RW | PTE_US);
    set_pte(PT_A, 0x40000000, 0x00500000 | PTE_P | PTE_RW | PTE_US);

    /* A read sets A at both levels, not D (SDM vol. 3, §4.8). */
    assert_true(guest_walk(ram, &paging_on, 0x40000000, WALK_READ, false, true, &w));
    assert_int_equal(*entry(PD1, 0x100) & (PTE_A | PTE_D), PTE_A);
    assert_int_equal(*entry(PT_A, 0) & (PTE_A | PTE_D), PTE_A);
    /* A write sets D in the PTE only. */
    assert_true(guest_walk(ram, &paging_on, 0x40000000, WALK_WRITE, false, true, &w));
    assert_int_equal(*entry(PT_A, 0) & PTE_D, PTE_D);
    assert_int_equal(*entry(PD1, 0x100) & PTE_D, 0);
    /* A faulting write sets no D; a walk without set_flags sets nothing. */
    set_pte(PT_A, 0x40001000, 0x00501000 | PTE_P | PTE_US);
    assert_false(guest_walk(ram, &paging_on, 0x40001000, WALK_WRITE, true, true, &w));
    assert_int_equal(*entry(PT_A, 1) & (PTE_A | PTE_D), 0);
    set_pte(PT_A, 0x40002000, 0x00502000 | PTE_P);
    assert_true(guest_walk(ram, &paging_on, 0x40002000, WALK_READ, false, false, &w));
    assert_int_equal(*entry(PT_A, 2) & PTE_A, 0);
}

static void test_walk_large_and_global_pages(void **state)
{
    struct walk_result w;
    struct paging_regs pse = paging_on;

    pse.cr4 = CR4_PSE | CR4_PGE;
    set_pde(PD1, 0xC0000000, 0x00400000 | PTE_P | PTE_RW | PTE_PS | PTE_G);
    assert_true(guest_walk(ram, &pse, 0xC0123456, WALK_WRITE, false, true, &w));
    assert_true(w.large);
    assert_true(w.global);
    assert_int_equal(w.phys, 0x00523456);
    assert_int_equal(*entry(PD1, 0x300) & (PTE_A | PTE_D), PTE_A | PTE_D);

    /* Without CR4.PSE the PS bit is ignored: the PDE points at a table. */
    assert_false(guest_walk(ram, &paging_on, 0xC0000000, WALK_READ, false, true, &w));
    assert_int_equal(w.error_code, 0); /* the "table" at 4 MiB is empty */
    /* G means nothing without CR4.PGE. */
    pse.cr4 = CR4_PSE;
    assert_true(guest_walk(ram, &pse, 0xC0000000, WALK_READ, false, true, &w));
    assert_false(w.global);

    /* Paging off: linear is physical, everything allowed. */
    struct paging_regs off = {.cr0 = CR0_PE};
    assert_true(guest_walk(ram, &off, 0x12345678, WALK_WRITE, true, true, &w));
    assert_int_equal(w.phys, 0x12345678);
}

/* ---- the shadow MMU ---------------------------------------------------------- */

static struct shadow_mmu *mmu_create(void)
{
    struct popek_error err;
    struct shadow_mmu *mmu = shadow_create(ram, 2, &err);

    assert_non_null(mmu);
    return mmu;
}

static void fault(struct shadow_mmu *mmu, bool user, guest_linear_t linear, bool write,
                  struct shadow_fault *out)
{
    uint8_t *base = shadow_view_base(mmu, user);

    shadow_handle_fault(mmu, base, base + linear, write, out);
}

static void test_identity_space(void **state)
{
    struct shadow_mmu *mmu = mmu_create();
    uint8_t *base = shadow_view_base(mmu, false);
    struct shadow_fault f;

    /* Paging off: one view for every CPL, filled a 4 MiB region at a time. */
    assert_ptr_equal(shadow_view_base(mmu, true), base);
    assert_false(host_readable(base + 0x200000));
    fault(mmu, false, 0x200000, false, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
    assert_true(host_writable(base + 0x200000));
    assert_true(host_writable(base + 0x3FFFFF));
    assert_false(host_readable(base + 0x400000));
    memcpy(base + 0x200000, "popek", 6);
    assert_string_equal((char *)guest_ram_host_ptr(ram, 0x200000, 6), "popek");

    /* The legacy hole and what lies above RAM are not RAM. */
    fault(mmu, false, 0xA0000, false, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_NOT_RAM);
    assert_false(host_readable(base + 0xA0000));
    assert_true(host_readable(base + 0x9F000)); /* mapped with the region */
    fault(mmu, false, 0xFEE00000u, false, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_NOT_RAM);

    /* Code protection: read-only; a write is reported with its frame, and
     * after unprotecting, the next write fault makes it writable. */
    shadow_protect_code_frame(mmu, 0x201);
    assert_false(host_writable(base + 0x201000));
    assert_true(host_writable(base + 0x202000));
    fault(mmu, false, 0x201000, true, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_CODE_WRITE);
    assert_int_equal(f.frame, 0x201);
    shadow_unprotect_code_frame(mmu, 0x201);
    fault(mmu, false, 0x201000, true, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
    assert_true(host_writable(base + 0x201000));

    /* Outside the window: a guard. */
    shadow_handle_fault(mmu, base, base + 0x100000010ull, false, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_OUTSIDE);
    shadow_destroy(mmu);
}

static void build_user_space(void)
{
    set_pde(PD1, 0x40000000, PT_A | PTE_P | PTE_RW | PTE_US | PTE_A);
    for (unsigned i = 0; i < 8; i++)
        set_pte(PT_A, 0x40000000 + i * 4096,
                (0x00500000 + i * 4096) | PTE_P | PTE_RW | PTE_US | (i < 4 ? PTE_A : 0));
    set_pte(PT_A, 0x40010000, 0x00510000 | PTE_P | PTE_RW); /* supervisor page */
    /* The page tables themselves, visible at 0x50000000. */
    set_pde(PD1, 0x50000000, PT_B | PTE_P | PTE_RW);
    set_pte(PT_B, 0x50000000, PT_A | PTE_P | PTE_RW | PTE_D | PTE_A);
}

/* A shadow MMU with paging on over build_user_space(); *user is its user
 * view. */
static struct shadow_mmu *mmu_with_user_space(uint8_t **user)
{
    struct shadow_mmu *mmu = mmu_create();

    build_user_space();
    shadow_set_paging(mmu, &paging_on, true);
    *user = shadow_view_base(mmu, true);
    return mmu;
}

static void test_paged_fills_and_permissions(void **state)
{
    struct shadow_mmu *mmu = mmu_create();
    struct shadow_fault f;

    build_user_space();
    assert_int_equal(shadow_set_paging(mmu, &paging_on, true), SHADOW_FLUSH_ALL);
    uint8_t *user = shadow_view_base(mmu, true), *super = shadow_view_base(mmu, false);
    assert_ptr_not_equal(user, super);

    /* A read maps the page read-only (D clear) and prefaults its accessed
     * neighbours; the not-yet-accessed ones stay unmapped. */
    fault(mmu, true, 0x40000010, false, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
    assert_true(host_readable(user + 0x40000000));
    assert_false(host_writable(user + 0x40000000));
    assert_true(host_readable(user + 0x40003000));
    assert_false(host_readable(user + 0x40004000));
    assert_int_equal(shadow_stats(mmu)->prefaulted_pages, 3);
    assert_int_equal(*entry(PT_A, 4) & PTE_A, 0);

    /* The first write sets D and makes the page writable. */
    fault(mmu, true, 0x40000010, true, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
    assert_int_equal(*entry(PT_A, 0) & PTE_D, PTE_D);
    assert_true(host_writable(user + 0x40000000));
    memcpy(user + 0x40000000, "user", 5);
    assert_string_equal((char *)guest_ram_host_ptr(ram, 0x00500000, 5), "user");

    /* User access to a supervisor page: #PF(P|U), nothing mapped; the
     * supervisor view maps it. */
    fault(mmu, true, 0x40010000, false, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_GUEST_PF);
    assert_int_equal(f.error_code, PF_ERR_P | PF_ERR_U);
    assert_int_equal(f.linear, 0x40010000);
    assert_false(host_readable(user + 0x40010000));
    fault(mmu, false, 0x40010000, false, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
    assert_true(host_readable(super + 0x40010000));
    /* Not present: #PF without P. */
    fault(mmu, true, 0x40020000, true, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_GUEST_PF);
    assert_int_equal(f.error_code, PF_ERR_W | PF_ERR_U);
    shadow_destroy(mmu);
}

/* A fill has the host enter the faulting page in its page tables at once
 * (the retried access takes no host page fault) where that costs this host
 * less than the fault (view_populate_pays); the neighbours mapped with it
 * wait for their first access. */
static void test_fill_populates_the_faulting_page(void **state)
{
    uint8_t *user;
    struct shadow_mmu *mmu = mmu_with_user_space(&user);
    struct shadow_fault f;
    bool pays = view_populate_pays();

    fault(mmu, true, 0x40001010, false, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
    assert_int_equal(host_page_present(user + 0x40001000), pays);
    assert_false(host_page_present(user + 0x40003000)); /* prefaulted, not touched */
    assert_true(host_readable(user + 0x40003000));
    fault(mmu, true, 0x40005000, true, &f); /* not yet accessed: a fill of its own */
    assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
    assert_int_equal(host_page_present(user + 0x40005000), pays);
    assert_true(host_writable(user + 0x40005000));
    shadow_destroy(mmu);
}

/* A user page the kernel touches first (in the supervisor view) is mapped
 * in the user view too, with the rights a user access has; a supervisor
 * page is not. */
static void test_kernel_touch_maps_user_view(void **state)
{
    uint8_t *user;
    struct shadow_mmu *mmu = mmu_with_user_space(&user);
    struct shadow_fault f;

    fault(mmu, false, 0x40001000, true, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
    assert_int_equal(shadow_stats(mmu)->cross_view_fills, 1);
    uint64_t fills = shadow_stats(mmu)->fills;
    assert_true(host_writable(user + 0x40001000)); /* D set by the kernel's write */
    assert_int_equal(shadow_stats(mmu)->fills, fills);
    fault(mmu, false, 0x40000000, false, &f); /* read: read-only for the process too */
    assert_true(host_readable(user + 0x40000000));
    assert_false(host_writable(user + 0x40000000));
    assert_int_equal(shadow_stats(mmu)->cross_view_fills, 2);

    fault(mmu, false, 0x40010000, false, &f); /* a supervisor page */
    assert_int_equal(shadow_stats(mmu)->cross_view_fills, 2);
    assert_false(host_readable(user + 0x40010000));
    shadow_destroy(mmu);
}

/* A page table written by the guest: the first write unsyncs it (one trap),
 * later writes go straight through, and the next CR3 load drops the
 * mappings of the entries that changed. */
static void test_page_table_tracking(void **state)
{
    struct shadow_mmu *mmu = mmu_create();
    struct shadow_fault f;

    build_user_space();
    shadow_set_paging(mmu, &paging_on, true);
    uint8_t *user = shadow_view_base(mmu, true), *super = shadow_view_base(mmu, false);
    fault(mmu, true, 0x40001000, false, &f);
    assert_true(host_readable(user + 0x40001000));
    assert_int_equal(shadow_stats(mmu)->tracked_pages, 2); /* PD1 and PT_A */

    /* PT_A through its alias: mapped, but read-only while in sync. */
    fault(mmu, false, 0x50000000, false, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
    assert_true(host_readable(super + 0x50000000));
    assert_false(host_writable(super + 0x50000000));
    fault(mmu, false, 0x50000000, true, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
    assert_int_equal(shadow_stats(mmu)->unsyncs, 1);
    assert_true(host_writable(super + 0x50000000));

    /* The guest points 0x40001000 at another frame, without INVLPG: the
     * old translation may still be used (SDM vol. 3, §4.10.4.3)... */
    uint32_t *pte1 = (uint32_t *)(super + 0x50000000) + 1;
    *pte1 = 0x00600000 | PTE_P | PTE_RW | PTE_US | PTE_A;
    assert_true(host_readable(user + 0x40001000));
    /* ...until the TLB is flushed: the mapping goes, the table is
     * protected again, and the next access maps the new frame. */
    assert_int_equal(shadow_set_paging(mmu, &paging_on, true), SHADOW_FLUSH_NON_GLOBAL);
    assert_int_equal(shadow_stats(mmu)->resyncs, 1);
    assert_false(host_readable(user + 0x40001000));
    assert_true(host_readable(user + 0x40000000)); /* unchanged entries stay */
    assert_false(host_writable(super + 0x50000000));
    memcpy(guest_ram_host_ptr(ram, 0x00600000, 4), "new", 4);
    fault(mmu, true, 0x40001000, false, &f);
    assert_string_equal((char *)(user + 0x40001000), "new");

    /* INVLPG of an entry the guest did not change keeps its mapping. */
    shadow_invlpg(mmu, 0x40000000);
    assert_true(host_readable(user + 0x40000000));
    /* The guest rewrites two PTEs (one trap unsyncs the table again) and
     * invalidates one: that one maps its new frame at once (present and
     * accessed); the other may stay stale; the table stays writable. */
    fault(mmu, false, 0x50000000, true, &f);
    assert_int_equal(shadow_stats(mmu)->unsyncs, 2);
    uint32_t *ptes = (uint32_t *)(super + 0x50000000);
    ptes[0] = 0x00601000 | PTE_P | PTE_RW | PTE_US | PTE_A;
    ptes[3] = 0x00603000 | PTE_P | PTE_RW | PTE_US | PTE_A;
    memcpy(guest_ram_host_ptr(ram, 0x00601000, 4), "inv", 4);
    shadow_invlpg(mmu, 0x40000123);
    assert_string_equal((char *)(user + 0x40000000), "inv");
    assert_false(host_writable(user + 0x40000000)); /* D clear: read-only */
    assert_true(host_readable(user + 0x40003000));  /* stale, allowed */
    assert_true(host_writable(super + 0x50000000));
    /* The next CR3 load brings the rest in sync. */
    shadow_set_paging(mmu, &paging_on, true);
    assert_false(host_readable(user + 0x40003000));
    assert_string_equal((char *)(user + 0x40000000), "inv");
    shadow_destroy(mmu);
}

/* A resync keeps a mapping whose entry kept its frame but lost rights —
 * fork's copy-on-write protection, a cleared Dirty flag — read-only,
 * instead of unmapping it; the next write is judged by the new entry. */
static void test_resync_refreshes_lost_rights(void **state)
{
    uint8_t *user;
    struct shadow_mmu *mmu = mmu_with_user_space(&user);
    struct shadow_fault f;

    fault(mmu, true, 0x40000000, true, &f);
    fault(mmu, true, 0x40001000, true, &f);
    assert_true(host_writable(user + 0x40000000));
    assert_true(host_writable(user + 0x40001000));

    /* Page 0 becomes read-only (copy-on-write); page 1 loses its D flag. */
    *entry(PT_A, 0) &= ~PTE_RW;
    *entry(PT_A, 1) &= ~PTE_D;
    shadow_note_phys_write(mmu, PT_A, 8);
    uint64_t fills = shadow_stats(mmu)->fills;
    shadow_set_paging(mmu, &paging_on, true);
    assert_int_equal(shadow_stats(mmu)->resync_refreshes, 2);
    assert_true(host_readable(user + 0x40000000));
    assert_false(host_writable(user + 0x40000000));
    assert_true(host_readable(user + 0x40001000));
    assert_false(host_writable(user + 0x40001000));
    assert_int_equal(shadow_stats(mmu)->fills, fills);

    fault(mmu, true, 0x40000000, true, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_GUEST_PF);
    assert_int_equal(f.error_code, PF_ERR_P | PF_ERR_W | PF_ERR_U);
    fault(mmu, true, 0x40001000, true, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
    assert_int_equal(*entry(PT_A, 1) & PTE_D, PTE_D);
    assert_true(host_writable(user + 0x40001000));

    /* Another frame in the entry: dropped, not refreshed. */
    *entry(PT_A, 2) = 0x00600000 | PTE_P | PTE_RW | PTE_US | PTE_A;
    fault(mmu, true, 0x40002000, false, &f);
    shadow_note_phys_write(mmu, PT_A + 8, 4);
    assert_true(host_readable(user + 0x40002000));
    *entry(PT_A, 2) = 0x00601000 | PTE_P | PTE_RW | PTE_US | PTE_A;
    shadow_note_phys_write(mmu, PT_A + 8, 4);
    shadow_set_paging(mmu, &paging_on, true);
    assert_false(host_readable(user + 0x40002000));
    shadow_destroy(mmu);
}

/* INVLPG of a page that still maps the same frame gives its mapping the
 * entry's rights (read-only when copy-on-write takes R/W away, writable
 * again when the fault handler gives it back, without a host fault); an
 * INVLPG of a page not mapped in the view maps nothing. */
static void test_invlpg_rights_and_unmapped_pages(void **state)
{
    uint8_t *user;
    struct shadow_mmu *mmu = mmu_with_user_space(&user);
    struct shadow_fault f;

    fault(mmu, true, 0x40000000, true, &f);
    assert_true(host_writable(user + 0x40000000));

    *entry(PT_A, 0) &= ~PTE_RW;
    shadow_note_phys_write(mmu, PT_A, 4);
    shadow_invlpg(mmu, 0x40000000);
    assert_true(host_readable(user + 0x40000000));
    assert_false(host_writable(user + 0x40000000));
    *entry(PT_A, 0) |= PTE_RW;
    shadow_invlpg(mmu, 0x40000000);
    assert_true(host_writable(user + 0x40000000));
    assert_int_equal(shadow_stats(mmu)->resync_refreshes, 2);

    *entry(PT_A, 5) |= PTE_A;
    uint64_t ops = shadow_stats(mmu)->host_map_ops;
    shadow_invlpg(mmu, 0x40005000);
    assert_false(host_readable(user + 0x40005000));
    assert_int_equal(shadow_stats(mmu)->host_map_ops, ops);
    shadow_destroy(mmu);
}

/* Maps 0x40001000 through PT_A, then has the guest write PT_A through its
 * alias at 0x50000000 between SHADOW_WRITE_HOT_UNSYNCS CR3 loads (each
 * write the first after a resync: a trap that unsyncs it). */
static void heat_pt_a(struct shadow_mmu *mmu)
{
    uint8_t *super = shadow_view_base(mmu, false);
    uint32_t *ptes = (uint32_t *)(super + 0x50000000);
    struct shadow_fault f;

    fault(mmu, true, 0x40001000, false, &f);
    fault(mmu, false, 0x50000000, false, &f);
    for (unsigned i = 1; i <= SHADOW_WRITE_HOT_UNSYNCS; i++) {
        assert_false(host_writable(super + 0x50000000));
        fault(mmu, false, 0x50000000, true, &f);
        assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
        assert_int_equal(shadow_stats(mmu)->unsyncs, i);
        ptes[6] ^= PTE_A; /* a change the next resync finds */
        shadow_set_paging(mmu, &paging_on, true);
    }
}

/* A table the guest writes between CR3 loads again and again stays
 * writable: it is still brought in sync at every CR3 load, and once it
 * stops changing it is protected again. */
static void test_write_hot_table_stays_writable(void **state)
{
    uint8_t *user;
    struct shadow_mmu *mmu = mmu_with_user_space(&user);
    uint8_t *super = shadow_view_base(mmu, false);
    uint32_t *ptes = (uint32_t *)(super + 0x50000000);
    struct shadow_fault f;

    heat_pt_a(mmu);
    assert_int_equal(shadow_stats(mmu)->write_hot_resyncs, 1);
    assert_true(host_writable(super + 0x50000000));

    /* Writable, yet a changed entry's mapping goes at the next CR3 load. */
    assert_true(host_readable(user + 0x40001000));
    ptes[1] = 0x00600000 | PTE_P | PTE_RW | PTE_US | PTE_A;
    shadow_set_paging(mmu, &paging_on, true);
    assert_false(host_readable(user + 0x40001000));
    assert_int_equal(shadow_stats(mmu)->unsyncs, SHADOW_WRITE_HOT_UNSYNCS);

    /* Unchanged at enough resyncs in a row: protected again. */
    for (unsigned i = 1; i < SHADOW_WRITE_HOT_COOL_RESYNCS; i++) {
        shadow_set_paging(mmu, &paging_on, true);
        assert_true(host_writable(super + 0x50000000));
    }
    shadow_set_paging(mmu, &paging_on, true);
    assert_int_equal(shadow_stats(mmu)->write_hot_cooled, 1);
    assert_false(host_writable(super + 0x50000000));
    fault(mmu, false, 0x50000000, true, &f);
    assert_int_equal(shadow_stats(mmu)->unsyncs, SHADOW_WRITE_HOT_UNSYNCS + 1);
    shadow_destroy(mmu);
}

/* A frame that was a write-hot table, freed and used as a table again
 * (the next process's, from the guest's free list), starts write-hot: it
 * is not protected when tracked, and a change in it is still caught at the
 * next CR3 load. */
static void test_retracked_table_starts_write_hot(void **state)
{
    uint8_t *user;
    struct shadow_mmu *mmu = mmu_with_user_space(&user);
    uint8_t *super = shadow_view_base(mmu, false);
    uint32_t *ptes = (uint32_t *)(super + 0x50000000);
    struct shadow_fault f;

    heat_pt_a(mmu);
    assert_true(host_writable(super + 0x50000000));

    /* The region goes (PT_A is no table of any space now: untracked)... */
    set_pde(PD1, 0x40000000, 0);
    shadow_note_phys_write(mmu, PD1, 4096);
    shadow_set_paging(mmu, &paging_on, true);
    assert_false(host_readable(user + 0x40001000));
    uint64_t tracked = shadow_stats(mmu)->tracked_pages;

    /* ...and comes back: PT_A is tracked again, and stays writable. */
    set_pde(PD1, 0x40000000, PT_A | PTE_P | PTE_RW | PTE_US | PTE_A);
    shadow_set_paging(mmu, &paging_on, true);
    fault(mmu, true, 0x40001000, false, &f);
    assert_int_equal(shadow_stats(mmu)->tracked_pages, tracked + 1);
    assert_int_equal(shadow_stats(mmu)->write_hot_tracked, 1);
    assert_true(host_writable(super + 0x50000000));
    assert_true(host_readable(user + 0x40001000));
    ptes[1] = 0x00600000 | PTE_P | PTE_RW | PTE_US | PTE_A;
    shadow_set_paging(mmu, &paging_on, true);
    assert_false(host_readable(user + 0x40001000));
    shadow_destroy(mmu);
}

/* Regions dropped at one resync (a process's exit clears its whole user
 * half) go in one host call per view, across regions with nothing mapped
 * between them; a region kept mapped between splits the call. */
static void test_dropped_regions_unmap_together(void **state)
{
    uint8_t *user;
    struct shadow_mmu *mmu = mmu_with_user_space(&user);
    const guest_phys_t pt_c = 0x00104000, pt_e = 0x00105000;
    struct shadow_fault f;

    set_pde(PD1, 0x48000000, pt_c | PTE_P | PTE_RW | PTE_US | PTE_A);
    set_pte(pt_c, 0x48000000, 0x00520000 | PTE_P | PTE_RW | PTE_US | PTE_A);
    set_pde(PD1, 0x50400000, pt_e | PTE_P | PTE_RW | PTE_US | PTE_A);
    set_pte(pt_e, 0x50400000, 0x00530000 | PTE_P | PTE_RW | PTE_US | PTE_A);
    fault(mmu, true, 0x40000000, false, &f);
    fault(mmu, true, 0x48000000, false, &f);
    fault(mmu, true, 0x50400000, false, &f);
    assert_true(host_readable(user + 0x48000000));

    /* 0x40000000 and 0x48000000 go; nothing is mapped between them. */
    set_pde(PD1, 0x40000000, 0);
    set_pde(PD1, 0x48000000, 0);
    shadow_note_phys_write(mmu, PD1, 4096);
    uint64_t ops = shadow_stats(mmu)->host_map_ops;
    shadow_set_paging(mmu, &paging_on, true);
    assert_int_equal(shadow_stats(mmu)->host_map_ops, ops + 1);
    assert_false(host_readable(user + 0x40000000));
    assert_false(host_readable(user + 0x48000000));
    assert_true(host_readable(user + 0x50400000));

    /* Now around a region that stays mapped (0x48000000): two calls. */
    set_pde(PD1, 0x40000000, PT_A | PTE_P | PTE_RW | PTE_US | PTE_A);
    set_pde(PD1, 0x48000000, pt_c | PTE_P | PTE_RW | PTE_US | PTE_A);
    shadow_note_phys_write(mmu, PD1, 4096);
    shadow_set_paging(mmu, &paging_on, true);
    fault(mmu, true, 0x40000000, false, &f);
    fault(mmu, true, 0x48000000, false, &f);
    set_pde(PD1, 0x40000000, 0);
    set_pde(PD1, 0x50400000, 0);
    shadow_note_phys_write(mmu, PD1, 4096);
    ops = shadow_stats(mmu)->host_map_ops;
    shadow_set_paging(mmu, &paging_on, true);
    assert_int_equal(shadow_stats(mmu)->host_map_ops, ops + 2);
    assert_false(host_readable(user + 0x40000000));
    assert_true(host_readable(user + 0x48000000));
    assert_false(host_readable(user + 0x50400000));
    shadow_destroy(mmu);
}

/* Writes by the monitor (emulated stores) to a page table unsync it too. */
static void test_monitor_writes_unsync(void **state)
{
    uint8_t *user;
    struct shadow_mmu *mmu = mmu_with_user_space(&user);
    struct shadow_fault f;

    fault(mmu, true, 0x40002000, false, &f);
    assert_true(host_readable(user + 0x40002000));
    set_pte(PT_A, 0x40002000, 0);
    shadow_note_phys_write(mmu, PT_A + 8, 4);
    shadow_set_paging(mmu, &paging_on, true);
    assert_false(host_readable(user + 0x40002000));
    fault(mmu, true, 0x40002000, false, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_GUEST_PF);
    shadow_destroy(mmu);
}

/* Switching between cached address spaces keeps their mappings. */
static void test_address_space_cache(void **state)
{
    struct shadow_mmu *mmu = mmu_create();
    struct shadow_fault f;
    struct paging_regs second = paging_on;

    build_user_space();
    memcpy(guest_ram_host_ptr(ram, PD2, 4096), guest_ram_host_ptr(ram, PD1, 4096), 4096);
    second.cr3 = PD2;
    shadow_set_paging(mmu, &paging_on, true);
    fault(mmu, true, 0x40000000, false, &f);
    uint8_t *first_view = shadow_view_base(mmu, true);
    shadow_set_paging(mmu, &second, true);
    assert_ptr_not_equal(shadow_view_base(mmu, true), first_view);
    assert_false(host_readable(shadow_view_base(mmu, true) + 0x40000000));
    shadow_set_paging(mmu, &paging_on, true);
    assert_ptr_equal(shadow_view_base(mmu, true), first_view);
    assert_true(host_readable(first_view + 0x40000000));
    assert_int_equal(shadow_stats(mmu)->space_hits, 1);
    assert_int_equal(shadow_stats(mmu)->space_misses, 2);

    /* A third CR3 evicts the least recently used space (the second). */
    struct paging_regs third = paging_on;
    third.cr3 = 0x00104000;
    shadow_set_paging(mmu, &third, true);
    shadow_set_paging(mmu, &paging_on, true);
    assert_true(host_readable(first_view + 0x40000000));
    assert_int_equal(shadow_stats(mmu)->space_hits, 2);
    shadow_destroy(mmu);
}

/* A cached space reused for a new directory keeps the regions whose
 * directory entries are the same in both (a kernel half shared by every
 * process) and drops the others. With two spaces, a third CR3 reuses one. */
static void test_space_reuse_keeps_shared_regions(void **state)
{
    struct shadow_mmu *mmu = mmu_create();
    struct shadow_fault f;
    struct paging_regs second = paging_on, third = paging_on;
    const guest_phys_t pd3 = 0x00104000;

    build_user_space();
    /* A 4 MiB "kernel" page at 0xC0000000, in every directory. */
    set_pde(PD1, 0xC0000000, 0x00400000 | PTE_P | PTE_RW | PTE_PS | PTE_A | PTE_D);
    memcpy(guest_ram_host_ptr(ram, PD2, 4096), guest_ram_host_ptr(ram, PD1, 4096), 4096);
    memcpy(guest_ram_host_ptr(ram, pd3, 4096), guest_ram_host_ptr(ram, PD1, 4096), 4096);
    set_pde(pd3, 0x40000000, 0); /* the third has no user region */
    second.cr3 = PD2;
    third.cr3 = pd3;
    struct paging_regs pse = paging_on;
    pse.cr4 = CR4_PSE;
    second.cr4 = third.cr4 = CR4_PSE;
    shadow_set_paging(mmu, &pse, true);
    fault(mmu, false, 0xC0001000, false, &f);
    fault(mmu, true, 0x40000000, false, &f);
    uint8_t *super = shadow_view_base(mmu, false), *user = shadow_view_base(mmu, true);
    assert_true(host_readable(super + 0xC0001000));
    assert_true(host_readable(user + 0x40000000));
    shadow_set_paging(mmu, &second, true); /* the second space: a miss, empty */
    shadow_set_paging(mmu, &third, true);  /* reuses the first (least recent) */
    assert_int_equal(shadow_stats(mmu)->space_retargets, 1);
    assert_ptr_equal(shadow_view_base(mmu, false), super);
    assert_true(host_readable(super + 0xC0001000)); /* same PDE: kept, no fault */
    assert_false(host_readable(user + 0x40000000)); /* PDE gone: dropped */
    uint64_t fills = shadow_stats(mmu)->fills;
    assert_true(host_readable(super + 0xC0002000));
    assert_int_equal(shadow_stats(mmu)->fills, fills);
    shadow_destroy(mmu);
}

/* A cached space whose directory is freed and reused for the next process
 * while another space runs (Linux: exit, then fork) keeps its supervisor
 * regions until it is used again, and then keeps exactly those whose
 * entries are the same; its user regions go at once. A page table a kept
 * region was made through is still checked when it changes, though the
 * directory that named it is zero meanwhile. */
static void test_freed_directory_keeps_kernel_regions(void **state)
{
    struct shadow_mmu *mmu = mmu_create();
    struct shadow_fault f;
    const guest_phys_t pt_kernel = 0x00105000;
    const uint32_t kernel = PTE_P | PTE_RW | PTE_A | PTE_D;
    struct paging_regs first = paging_on, second = paging_on;

    build_user_space();
    first.cr4 = second.cr4 = CR4_PSE;
    second.cr3 = PD2;
    /* Kernel: a 4 MiB page at 0xC0000000 and a page table at 0xC0400000,
     * a 4 MiB page at 0xC0800000 that the next process maps elsewhere. */
    set_pde(PD1, 0xC0000000, 0x00400000 | kernel | PTE_PS);
    set_pde(PD1, 0xC0400000, pt_kernel | kernel);
    set_pte(pt_kernel, 0xC0400000, 0x00700000 | kernel);
    set_pte(pt_kernel, 0xC0401000, 0x00701000 | kernel);
    set_pde(PD1, 0xC0800000, 0x00800000 | kernel | PTE_PS);
    memcpy(guest_ram_host_ptr(ram, PD2, 4096), guest_ram_host_ptr(ram, PD1, 4096), 4096);
    memcpy(guest_ram_host_ptr(ram, 0x00700000, 4), "old", 4);
    memcpy(guest_ram_host_ptr(ram, 0x00701000, 4), "new", 4);
    memcpy(guest_ram_host_ptr(ram, 0x00800000, 4), "800", 4);
    memcpy(guest_ram_host_ptr(ram, 0x00C00000, 4), "C00", 4);

    shadow_set_paging(mmu, &first, true);
    uint8_t *super = shadow_view_base(mmu, false), *user = shadow_view_base(mmu, true);
    fault(mmu, false, 0xC0001000, false, &f);
    fault(mmu, false, 0xC0400000, false, &f);
    fault(mmu, false, 0xC0800000, false, &f);
    fault(mmu, true, 0x40000000, false, &f);
    assert_string_equal((char *)(super + 0xC0400000), "old");

    /* Another process runs; the first exits and its directory is zeroed. */
    shadow_set_paging(mmu, &second, true);
    memset(guest_ram_host_ptr(ram, PD1, 4096), 0, 4096);
    shadow_note_phys_write(mmu, PD1, 4096);
    shadow_set_paging(mmu, &second, true);
    assert_false(host_readable(user + 0x40000000)); /* user region: at once */
    assert_true(host_readable(super + 0xC0001000)); /* kernel: waits */
    /* The kernel page table changes while the first directory is zero. */
    set_pte(pt_kernel, 0xC0400000, 0x00701000 | kernel);
    shadow_note_phys_write(mmu, pt_kernel, 4);
    shadow_set_paging(mmu, &second, true);
    assert_false(host_readable(super + 0xC0400000));

    /* The frame becomes the next process's directory: the kernel half
     * again, but 0xC0800000 now maps another frame, and no user region. */
    memcpy(guest_ram_host_ptr(ram, PD1, 4096), guest_ram_host_ptr(ram, PD2, 4096), 4096);
    set_pde(PD1, 0xC0800000, 0x00C00000 | kernel | PTE_PS);
    set_pde(PD1, 0x40000000, 0);
    shadow_note_phys_write(mmu, PD1, 4096);
    uint64_t fills = shadow_stats(mmu)->fills;
    shadow_set_paging(mmu, &first, true);
    assert_int_equal(shadow_stats(mmu)->deferred_rechecks, 1);
    assert_ptr_equal(shadow_view_base(mmu, false), super);
    assert_true(host_readable(super + 0xC0001000)); /* same entry: kept */
    assert_int_equal(shadow_stats(mmu)->fills, fills);
    assert_false(host_readable(super + 0xC0800000)); /* changed entry: dropped */
    fault(mmu, false, 0xC0800000, false, &f);
    assert_string_equal((char *)(super + 0xC0800000), "C00");
    fault(mmu, false, 0xC0400000, false, &f);
    assert_string_equal((char *)(super + 0xC0400000), "new");
    fault(mmu, true, 0x40000000, false, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_GUEST_PF);
    shadow_destroy(mmu);
}

/* Prefault-around maps the faulting page's own run of contiguous frames,
 * and other runs of at least four pages; a lone neighbour would cost a host
 * call of its own and waits for its own fault. In the supervisor view of a
 * user region, only the faulting page's own run. */
static void test_prefault_runs(void **state)
{
    struct shadow_mmu *mmu = mmu_create();
    struct shadow_fault f;
    const uint32_t user_rw = PTE_P | PTE_RW | PTE_US | PTE_A;

    set_pde(PD1, 0x40000000, PT_A | PTE_P | PTE_RW | PTE_US | PTE_A);
    for (unsigned i = 0; i < 3; i++) /* pages 0-2: frames 0x600.. contiguous */
        set_pte(PT_A, 0x40000000 + i * 4096, (0x00600000 + i * 4096) | user_rw);
    set_pte(PT_A, 0x40005000, 0x00700000 | user_rw); /* a lone page */
    for (unsigned i = 0; i < 4; i++)                 /* pages 16-19: a run of four elsewhere */
        set_pte(PT_A, 0x40010000 + i * 4096, (0x00800000 + i * 4096) | user_rw);
    shadow_set_paging(mmu, &paging_on, true);
    fault(mmu, true, 0x40001000, false, &f);
    uint8_t *user = shadow_view_base(mmu, true);
    assert_true(host_readable(user + 0x40000000)); /* the fault's own run */
    assert_true(host_readable(user + 0x40002000));
    assert_false(host_readable(user + 0x40005000)); /* alone: not worth a call */
    assert_true(host_readable(user + 0x40010000));  /* a run of four */
    assert_true(host_readable(user + 0x40013000));
    assert_int_equal(shadow_stats(mmu)->prefaulted_pages, 6);

    /* The kernel touching the same region (supervisor view): its own run
     * only — the process's other pages are the user view's business. */
    uint8_t *super = shadow_view_base(mmu, false);
    fault(mmu, false, 0x40001000, false, &f);
    assert_true(host_readable(super + 0x40000000));
    assert_true(host_readable(super + 0x40002000));
    assert_false(host_readable(super + 0x40010000));
    assert_int_equal(shadow_stats(mmu)->prefaulted_pages, 8);
    shadow_destroy(mmu);
}

/* A long run around the faulting page (a linear map being swept) is
 * entered in the host's page tables whole; a short one only at the
 * faulting page (test_fill_populates_the_faulting_page), other runs not
 * at all. */
static void test_long_run_is_populated(void **state)
{
    struct shadow_mmu *mmu = mmu_create();
    struct shadow_fault f;
    const uint32_t kernel_rw = PTE_P | PTE_RW | PTE_A | PTE_D;

    set_pde(PD1, 0x40000000, PT_A | PTE_P | PTE_RW | PTE_A);
    for (unsigned i = 0; i < 64; i++) /* 64 pages, frames contiguous */
        set_pte(PT_A, 0x40100000 + i * 4096, (0x00A00000 + i * 4096) | kernel_rw);
    for (unsigned i = 0; i < 64; i++) /* another long run, not the fault's */
        set_pte(PT_A, 0x40200000 + i * 4096, (0x00C00000 + i * 4096) | kernel_rw);
    shadow_set_paging(mmu, &paging_on, false);
    uint8_t *super = shadow_view_base(mmu, false);

    fault(mmu, false, 0x40120000, true, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
    assert_true(host_page_present(super + 0x40100000));
    assert_true(host_page_present(super + 0x4013F000));
    assert_true(host_writable(super + 0x4013F000));
    assert_int_equal(shadow_stats(mmu)->populated_run_pages, 64);

    /* The other run is prefaulted (mapped) but not entered: only the run
     * holding the fault is about to be swept. */
    assert_false(host_page_present(super + 0x40220000));
    assert_true(host_readable(super + 0x40220000));
    shadow_destroy(mmu);
}

/* Over the mapping budget, spaces are emptied rather than failing. */
static void test_mapping_budget(void **state)
{
    struct shadow_mmu *mmu = mmu_create();
    struct shadow_fault f;

    set_pde(PD1, 0x40000000, PT_A | PTE_P | PTE_RW | PTE_US);
    for (unsigned i = 0; i < 64; i++) /* every other frame: no coalescing */
        set_pte(PT_A, 0x40000000 + i * 4096, (0x00500000 + 2 * i * 4096) | PTE_P | PTE_US);
    shadow_set_paging(mmu, &paging_on, true);
    shadow_set_map_budget(mmu, 16);
    uint8_t *user = shadow_view_base(mmu, true);
    for (unsigned i = 0; i < 64; i++) {
        fault(mmu, true, 0x40000000 + i * 4096, false, &f);
        assert_int_equal(f.kind, SHADOW_FAULT_RETRY);
        assert_true(host_readable(user + 0x40000000 + i * 4096));
    }
    assert_true(shadow_stats(mmu)->evictions > 0);
    shadow_destroy(mmu);
}

/* The instruction that took a #PF runs again after the guest mapped the
 * page: the monitor fills it first, as the access would. */
static void test_prefill_after_guest_fault(void **state)
{
    uint8_t *user;
    struct shadow_mmu *mmu = mmu_with_user_space(&user);
    struct shadow_fault f;

    fault(mmu, true, 0x40020000, true, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_GUEST_PF);
    assert_false(shadow_prefill(mmu, 0x40020000, true, true)); /* still not present */
    set_pte(PT_A, 0x40020000, 0x00520000 | PTE_P | PTE_RW | PTE_US);
    assert_true(shadow_prefill(mmu, 0x40020000, true, true));
    assert_true(host_writable(user + 0x40020000));
    assert_int_equal(*entry(PT_A, 0x20) & (PTE_A | PTE_D), PTE_A | PTE_D);
    /* A read fault: mapped read-only, D left clear. */
    set_pte(PT_A, 0x40021000, 0x00521000 | PTE_P | PTE_RW | PTE_US);
    assert_true(shadow_prefill(mmu, 0x40021000, false, true));
    assert_true(host_readable(user + 0x40021000));
    assert_false(host_writable(user + 0x40021000));
    assert_int_equal(*entry(PT_A, 0x21) & (PTE_A | PTE_D), PTE_A);
    /* Not allowed to that privilege: nothing happens, no flag set. */
    assert_false(shadow_prefill(mmu, 0x40010000, false, true));
    assert_int_equal(*entry(PT_A, 0x10) & PTE_A, 0);
    assert_int_equal(shadow_stats(mmu)->prefills, 2);
    shadow_destroy(mmu);
}

/* The monitor's software walks keep a TLB of their own: flushed as the
 * guest's would be (INVLPG, CR3 load except global pages), and a write
 * through a read-only cached translation walks again to set D. */
/* The physical address a read of `linear` translates to (it must). */
static guest_phys_t translated_read(struct shadow_mmu *mmu, guest_linear_t linear, bool user)
{
    struct walk_result w;

    assert_true(shadow_translate(mmu, linear, WALK_READ, user, &w));
    return w.phys;
}

static void test_monitor_tlb(void **state)
{
    struct shadow_mmu *mmu = mmu_create();
    struct walk_result w;
    struct paging_regs pge = paging_on;

    pge.cr4 = CR4_PGE | CR4_PSE;
    set_pde(PD1, 0x40000000, PT_A | PTE_P | PTE_RW | PTE_US);
    set_pte(PT_A, 0x40000000, 0x00500000 | PTE_P | PTE_RW | PTE_US);
    set_pte(PT_A, 0x40001000, 0x00501000 | PTE_P | PTE_RW | PTE_G);
    set_pde(PD1, 0xC0000000, 0x00400000 | PTE_P | PTE_RW | PTE_PS);
    shadow_set_paging(mmu, &pge, true);
    assert_int_equal(translated_read(mmu, 0x40000010, true), 0x00500010);
    assert_int_equal(*entry(PT_A, 0) & (PTE_A | PTE_D), PTE_A);
    assert_true(shadow_translate(mmu, 0x40000010, WALK_WRITE, true, &w));
    assert_int_equal(*entry(PT_A, 0) & PTE_D, PTE_D);
    translated_read(mmu, 0x40001000, false);
    assert_false(shadow_translate(mmu, 0x40001000, WALK_READ, true, &w)); /* supervisor page */
    assert_int_equal(w.error_code, PF_ERR_P | PF_ERR_U);

    /* Changed without INVLPG: the cached translation may still be used. */
    set_pte(PT_A, 0x40000000, 0x00600000 | PTE_P | PTE_RW | PTE_US);
    set_pte(PT_A, 0x40001000, 0x00601000 | PTE_P | PTE_RW | PTE_G);
    assert_int_equal(translated_read(mmu, 0x40000000, true), 0x00500000);
    /* A CR3 load drops it, but not the global one... */
    shadow_set_paging(mmu, &pge, true);
    assert_int_equal(translated_read(mmu, 0x40000000, true), 0x00600000);
    assert_int_equal(translated_read(mmu, 0x40001000, false), 0x00501000);
    /* ...which INVLPG does. */
    shadow_invlpg(mmu, 0x40001000);
    assert_int_equal(translated_read(mmu, 0x40001000, false), 0x00601000);
    /* INVLPG drops the translation of its own page only: another page's
     * changed entry may still be served from the cache. */
    set_pte(PT_A, 0x40000000, 0x00700000 | PTE_P | PTE_RW | PTE_US);
    shadow_invlpg(mmu, 0x40001000);
    assert_int_equal(translated_read(mmu, 0x40000000, true), 0x00600000);
    /* Of a 4 MiB page it drops every 4 KiB piece: the page's one TLB entry
     * goes, whichever address in it is named. */
    translated_read(mmu, 0xC0001000, false);
    assert_int_equal(translated_read(mmu, 0xC0002000, false), 0x00402000);
    set_pde(PD1, 0xC0000000, 0x00800000 | PTE_P | PTE_RW | PTE_PS);
    shadow_invlpg(mmu, 0xC0001000);
    assert_int_equal(translated_read(mmu, 0xC0002000, false), 0x00802000);
    shadow_destroy(mmu);
}

/* Code protection covers every alias of a frame. */
static void test_code_protection_through_aliases(void **state)
{
    struct shadow_mmu *mmu = mmu_create();
    struct shadow_fault f;

    set_pde(PD1, 0x40000000, PT_A | PTE_P | PTE_RW | PTE_US);
    set_pte(PT_A, 0x40000000, 0x00500000 | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
    set_pte(PT_A, 0x40008000, 0x00500000 | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
    shadow_set_paging(mmu, &paging_on, true);
    uint8_t *user = shadow_view_base(mmu, true), *super = shadow_view_base(mmu, false);
    fault(mmu, true, 0x40000000, true, &f);
    fault(mmu, true, 0x40008000, true, &f);
    fault(mmu, false, 0x40008000, true, &f);
    assert_true(host_writable(user + 0x40000000));
    assert_true(host_writable(user + 0x40008000));
    assert_true(host_writable(super + 0x40008000));
    shadow_protect_code_frame(mmu, 0x500);
    assert_false(host_writable(user + 0x40000000));
    assert_false(host_writable(user + 0x40008000));
    assert_false(host_writable(super + 0x40008000));
    assert_true(host_readable(super + 0x40008000));
    fault(mmu, false, 0x40008000, true, &f);
    assert_int_equal(f.kind, SHADOW_FAULT_CODE_WRITE);
    assert_int_equal(f.frame, 0x500);
    shadow_destroy(mmu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_walk_4k_pages_and_error_codes, clear_ram),
        cmocka_unit_test_setup(test_walk_accessed_and_dirty, clear_ram),
        cmocka_unit_test_setup(test_walk_large_and_global_pages, clear_ram),
        cmocka_unit_test_setup(test_identity_space, clear_ram),
        cmocka_unit_test_setup(test_paged_fills_and_permissions, clear_ram),
        cmocka_unit_test_setup(test_fill_populates_the_faulting_page, clear_ram),
        cmocka_unit_test_setup(test_kernel_touch_maps_user_view, clear_ram),
        cmocka_unit_test_setup(test_page_table_tracking, clear_ram),
        cmocka_unit_test_setup(test_resync_refreshes_lost_rights, clear_ram),
        cmocka_unit_test_setup(test_invlpg_rights_and_unmapped_pages, clear_ram),
        cmocka_unit_test_setup(test_monitor_writes_unsync, clear_ram),
        cmocka_unit_test_setup(test_write_hot_table_stays_writable, clear_ram),
        cmocka_unit_test_setup(test_retracked_table_starts_write_hot, clear_ram),
        cmocka_unit_test_setup(test_dropped_regions_unmap_together, clear_ram),
        cmocka_unit_test_setup(test_address_space_cache, clear_ram),
        cmocka_unit_test_setup(test_space_reuse_keeps_shared_regions, clear_ram),
        cmocka_unit_test_setup(test_freed_directory_keeps_kernel_regions, clear_ram),
        cmocka_unit_test_setup(test_prefault_runs, clear_ram),
        cmocka_unit_test_setup(test_long_run_is_populated, clear_ram),
        cmocka_unit_test_setup(test_mapping_budget, clear_ram),
        cmocka_unit_test_setup(test_prefill_after_guest_fault, clear_ram),
        cmocka_unit_test_setup(test_monitor_tlb, clear_ram),
        cmocka_unit_test_setup(test_code_protection_through_aliases, clear_ram),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
