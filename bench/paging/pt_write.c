/*
 * bench/paging/pt_write.c — a page-table-write-heavy guest kernel: the PTE
 * traffic of a kernel's mmap, munmap and fork on a 4 MiB region (one page
 * table) over a pool of 2048 frames.
 *
 * Each round has three phases, all at ring 0 with CR0.WP = 1:
 *  1. single remaps (mmap/munmap of one page): 4096 times, a pseudo-random
 *     page of the region gets a pseudo-random frame, INVLPG drops its old
 *     translation (SDM Vol. 3A §4.10.4.1) and a word of it is read and
 *     written; every fourth time the page is unmapped instead (PTE cleared,
 *     INVLPG, no access);
 *  2. a bulk remap (a new mapping of the whole region): all 1024 PTEs are
 *     rewritten to another frame each, one CR3 reload flushes them all,
 *     and every page is read;
 *  3. a fork-style write protection: every PTE loses R/W, CR3 is reloaded,
 *     and one page in four is written; each write raises #PF (present,
 *     write), whose handler gives the PTE its R/W back and INVLPGs it, as a
 *     copy-on-write fault on a page with one owner does.
 * Pages are often aliases (two PTEs, one frame), so a stale translation
 * after a remap reads or writes the wrong frame and changes the checksum.
 *
 * What it stresses in a VMM with shadow page tables: guest writes to a
 * page table (write-protected while it is in sync, so the first write after
 * each INVLPG or CR3 load is a host fault that unsyncs the table), the
 * resync on INVLPG and on CR3 loads (comparing the table with its snapshot,
 * dropping the changed entries' mappings), the fills after each remap and
 * the read-only-then-dirty mapping of written pages, and guest #PFs on
 * present, write-protected pages.
 *
 * Output: "pt_write <checksum> (<n> PTE writes)". A check that fails
 * prints "pt_write FAIL ..." and exits with code 1.
 */
#include "paging_bench.h"

#define ROUNDS 128

#define PAGE         PG_SIZE
#define REGION       0x40000000u
#define REGION_PAGES 1024u /* one page table */
#define POOL_PA      0x01000000u
#define POOL_FRAMES  2048u /* 8 MiB at 16 MiB */
#define REMAPS       4096u /* single remaps per round */
#define COW_STEP     4u    /* phase 3 writes every COW_STEP-th page */

static uint32_t *pd, *region_pt;
static uint32_t cow_expected;
/* Volatile: the #PF handler changes them behind the writing loop's back. */
static volatile uint32_t pte_writes, cow_faults;

#define fail(...) bench_fail("pt_write", __VA_ARGS__)

static inline uint32_t xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static inline volatile uint32_t *page_va(uint32_t page)
{
    return (volatile uint32_t *)(REGION + page * PAGE);
}

static inline uint32_t frame_pa(uint32_t frame)
{
    return POOL_PA + frame * PAGE;
}

static inline void set_pte(uint32_t page, uint32_t value)
{
    pg_set(&region_pt[page], value);
    pte_writes++;
}

/* Phase 3's copy-on-write fault, for a page whose only owner writes it: no
 * copy, the PTE just becomes writable again. The read-only translation may
 * be cached, hence INVLPG (§4.10.4.2). */
static void pf_handler(struct rt_frame *f)
{
    uint32_t la = read_cr2(), page = (la - REGION) / PAGE;
    uint32_t want = PF_P | PF_W;
    if (la - REGION >= REGION_PAGES * PAGE || (f->error_code & (want | PF_U | PF_RSVD)) != want)
        fail("unexpected #PF at 0x%x, err=0x%x, eip=0x%x", la, f->error_code, f->eip);
    uint32_t pte = pg_get(&region_pt[page]);
    if ((pte & (PG_P | PG_RW)) != PG_P)
        fail("#PF on a write to 0x%x whose PTE is 0x%x", la, pte);
    set_pte(page, pte | PG_RW);
    invlpg(la & PG_FRAME);
    cow_faults++;
}

/* Phase 1: mmap and munmap of single pages. */
static uint32_t single_remaps(uint32_t *seed, uint32_t h)
{
    for (uint32_t n = 0; n < REMAPS; n++) {
        uint32_t x = xorshift32(seed);
        uint32_t page = x & (REGION_PAGES - 1), frame = (x >> 10) & (POOL_FRAMES - 1);
        uint32_t at = x >> 22;
        if (n % 4 == 3) {
            set_pte(page, 0);
            invlpg(REGION + page * PAGE);
            continue;
        }
        set_pte(page, frame_pa(frame) | PG_P | PG_RW);
        invlpg(REGION + page * PAGE);
        volatile uint32_t *w = page_va(page);
        uint32_t v = w[at];
        w[at] = v * 3 + n;
        h = mix(h, v);
    }
    return h;
}

/* Phase 2: a new mapping of the whole region, then a read of every page. */
static uint32_t bulk_remap(uint32_t round, uint32_t h)
{
    for (uint32_t page = 0; page < REGION_PAGES; page++) {
        uint32_t frame = (page * 5 + round * 97) & (POOL_FRAMES - 1);
        set_pte(page, frame_pa(frame) | PG_P | PG_RW);
    }
    pg_flush_nonglobal();
    for (uint32_t page = 0; page < REGION_PAGES; page++)
        h = mix(h, page_va(page)[(page * 3 + round) & 1023]);
    return h;
}

/* Phase 3: write-protect everything, as fork does, then write. */
static uint32_t fork_protect(uint32_t round, uint32_t h)
{
    for (uint32_t page = 0; page < REGION_PAGES; page++)
        set_pte(page, pg_get(&region_pt[page]) & ~PG_RW);
    pg_flush_nonglobal();
    for (uint32_t page = round % COW_STEP; page < REGION_PAGES; page += COW_STEP) {
        volatile uint32_t *w = page_va(page);
        uint32_t at = (page * 11 + round) & 1023;
        w[at] = w[at] + page;
        h = mix(h, w[at]);
    }
    cow_expected += REGION_PAGES / COW_STEP;
    return h;
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    pd = pg_new_identity(PG_IDENTITY_BYTES, PG_P | PG_RW);
    pg_map_range(pd, POOL_PA, POOL_PA, POOL_FRAMES * PAGE, PG_P | PG_RW);
    region_pt = pg_alloc();
    pg_set(pg_pde(pd, REGION), (uint32_t)region_pt | PG_P | PG_RW);
    pg_enable(pd);
    /* WP: supervisor writes honour R/W = 0 (§4.6), which phase 3 needs. */
    write_cr0(read_cr0() | CR0_WP);
    rt_set_handler(PG_VECTOR, pf_handler);

    /* Distinct contents in every frame, through the identity map. */
    for (uint32_t frame = 0; frame < POOL_FRAMES; frame++) {
        uint32_t *w = (uint32_t *)frame_pa(frame);
        for (uint32_t j = 0; j < 1024; j++)
            w[j] = frame * 0x00010001u + j * 0x9E3779B1u;
    }

    uint32_t h = 0, seed = 2463534242u;
    for (uint32_t round = 0; round < ROUNDS; round++) {
        h = single_remaps(&seed, h);
        h = bulk_remap(round, h);
        h = fork_protect(round, h);
    }
    if (cow_faults != cow_expected)
        fail("%u copy-on-write faults, expected %u", cow_faults, cow_expected);

    /* The final state of every frame, through the identity map. */
    for (uint32_t frame = 0; frame < POOL_FRAMES; frame++) {
        const uint32_t *w = (const uint32_t *)frame_pa(frame);
        for (uint32_t j = 0; j < 1024; j++)
            h = mix(h, w[j]);
    }
    h = mix(h, pte_writes);
    rt_printf("pt_write %08x (%u PTE writes)\n", (unsigned)h, (unsigned)pte_writes);
    rt_exit(0);
}
