/*
 * guest-tests/paging_ad_bits.c — the accessed (A, bit 5) and dirty (D, bit 6)
 * flags of 32-bit paging (SDM Vol. 3A §4.8): the processor sets A in every
 * paging-structure entry it uses to translate an address, and D in the
 * entry that maps the page (PTE, or PDE with PS = 1) when it writes to it;
 * it never clears them.
 *
 * Covered: a read sets A in the PTE and the PDE and leaves D clear; a write
 * sets D; an instruction fetch sets A but not D; the same for a 4 MiB page
 * (A and D in the PDE); A/D cleared by software, then INVLPG, then an access
 * sets them again (§4.10.4.2: without the INVLPG the cached translation may
 * be used and the flags may stay clear: that case is accepted either way);
 * a write that faults on a read-only page does not set D; a supervisor write
 * to a read-only page with CR0.WP = 0 does; a fault on a not-present PTE
 * leaves the entry, whose other bits are ignored (Figure 4-4), as it was.
 *
 * Not asserted: that A is clear before an access (a processor may set A
 * when it caches a translation speculatively, §4.10.2.3), and D in a PDE
 * that references a page table (ignored, Table 4-5). Every entry is read
 * through a volatile access after the access under test.
 */
#include "paging.h"

#define DATA_LA  0x40000000u /* 4 KiB page, read/write */
#define CODE_LA  0x40400000u /* 4 KiB page holding RET, in its own page table */
#define RO_LA    0x40001000u /* 4 KiB page, read-only (supervisor) */
#define NP_LA    0x40002000u /* not present, every other PTE bit set */
#define LARGE_LA 0x80000000u /* 4 MiB page over [0, 4 MiB) */

#define NP_PTE 0xFFFFFFFEu

static uint32_t *pd, *data_frame, *code_frame, *ro_frame;

/* A word in .bss, accessed through the 4 MiB alias. */
static uint32_t large_word;

uint32_t probe_at, probe_next;
#define PROBE_BEGIN "movl $1f, probe_at\n\tmovl $2f, probe_next\n1:\t"
#define PROBE_END   "\n2:"

static struct {
    unsigned count;
    uint32_t error, cr2;
} pf;

static void pf_handler(struct rt_frame *f)
{
    pf.count++;
    pf.error = f->error_code;
    pf.cr2 = read_cr2();
    f->eip = probe_next;
}

static uint32_t touch_read(uint32_t la)
{
    uint32_t v;
    __asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(la) : "memory");
    return v;
}

static void touch_write(uint32_t la, uint32_t v)
{
    __asm__ volatile("movl %1, (%0)" : : "r"(la), "r"(v) : "memory");
}

static void probe_write(uint32_t la, uint32_t v)
{
    pf.count = 0;
    __asm__ volatile(PROBE_BEGIN "movl %1, (%0)" PROBE_END : : "r"(la), "r"(v) : "memory");
}

static uint32_t probe_read(uint32_t la)
{
    uint32_t v = 0;
    pf.count = 0;
    __asm__ volatile(PROBE_BEGIN "movl (%1), %0" PROBE_END : "+r"(v) : "r"(la) : "memory");
    return v;
}

static unsigned bit(uint32_t *entry, uint32_t flag)
{
    return (pg_get(entry) & flag) != 0;
}

static void clear_ad(uint32_t *entry)
{
    pg_set(entry, pg_get(entry) & ~(PG_A | PG_D));
}

/* "PTE A=1 D=0": prints the flags, checks them against want_a/want_d. */
static void expect_ad(const char *what, uint32_t *entry, unsigned want_a, unsigned want_d)
{
    unsigned a = bit(entry, PG_A), d = bit(entry, PG_D);
    CHECK(a == want_a && d == want_d, "%s: A=%u D=%u", what, a, d);
}

static void test_setup(void)
{
    pd = pg_new_identity(PG_IDENTITY_BYTES, PG_P | PG_RW);
    data_frame = pg_alloc();
    code_frame = pg_alloc();
    ro_frame = pg_alloc();
    for (unsigned i = 0; i < 1024; i++) {
        data_frame[i] = 0xDA7A0000 + i;
        ro_frame[i] = 0x0D0D0000 + i;
    }
    ((uint8_t *)code_frame)[0x10] = 0xC3; /* ret */

    pg_map(pd, DATA_LA, (uint32_t)data_frame, PG_P | PG_RW);
    pg_map(pd, RO_LA, (uint32_t)ro_frame, PG_P);
    pg_map(pd, NP_LA, 0, 0);
    pg_set(pg_pte(pd, NP_LA), NP_PTE);
    pg_map(pd, CODE_LA, (uint32_t)code_frame, PG_P | PG_RW);
    write_cr4(read_cr4() | CR4_PSE);
    pg_map_large(pd, LARGE_LA, 0, PG_P | PG_RW);

    pg_enable(pd);
    write_cr0(read_cr0() | CR0_WP);
    CHECK((read_cr0() & (CR0_PG | CR0_WP)) == (CR0_PG | CR0_WP) && (read_cr4() & CR4_PSE),
          "paging on, CR0.WP=1, CR4.PSE=1");
}

static void test_4k(void)
{
    uint32_t *pte = pg_pte(pd, DATA_LA), *pde = pg_pde(pd, DATA_LA);

    CHECK_EQ(touch_read(DATA_LA + 4), 0xDA7A0001, "read 0x40000004");
    expect_ad("after a read: PTE", pte, 1, 0);
    CHECK_EQ(bit(pde, PG_A), 1, "after a read: PDE A");

    touch_write(DATA_LA + 8, 0x11111111);
    expect_ad("after a write: PTE", pte, 1, 1);
    CHECK_EQ(data_frame[2], 0x11111111, "written value in the frame");

    /* Software clears A and D; INVLPG drops the cached translation, whose
     * flags the processor would otherwise trust (§4.10.4.2). */
    clear_ad(pte);
    invlpg(DATA_LA);
    touch_read(DATA_LA + 12);
    expect_ad("cleared, INVLPG, read: PTE", pte, 1, 0);
    touch_write(DATA_LA + 16, 0x22222222);
    expect_ad("then a write: PTE", pte, 1, 1);

    clear_ad(pte);
    invlpg(DATA_LA);
    touch_write(DATA_LA + 20, 0x33333333);
    expect_ad("cleared, INVLPG, write without a read first: PTE", pte, 1, 1);

    /* The PDE's A, cleared: INVLPG also drops paging-structure caches
     * (§4.10.4.1), so the next access walks the PDE again. */
    pg_set(pde, pg_get(pde) & ~PG_A);
    invlpg(DATA_LA);
    touch_read(DATA_LA + 24);
    CHECK_EQ(bit(pde, PG_A), 1, "PDE A cleared, INVLPG, read: PDE A");

    /* Without INVLPG the old translation (D=1) may still be used and D
     * stay 0, or the entry is walked again and D set: both allowed. */
    clear_ad(pte);
    touch_write(DATA_LA + 28, 0x44444444);
    unsigned d = bit(pte, PG_D);
    CHECK(d == 0 || d == 1, "D cleared without INVLPG, write: D is 0 or 1 (both allowed)");
    invlpg(DATA_LA);
    touch_write(DATA_LA + 32, 0x55555555);
    expect_ad("then INVLPG and a write: PTE", pte, 1, 1);
}

static void test_fetch(void)
{
    uint32_t *pte = pg_pte(pd, CODE_LA), *pde = pg_pde(pd, CODE_LA);
    void (*fn)(void) = (void (*)(void))(CODE_LA + 0x10);
    fn();
    expect_ad("after an instruction fetch: PTE", pte, 1, 0);
    CHECK_EQ(bit(pde, PG_A), 1, "after an instruction fetch: PDE A");

    clear_ad(pte);
    invlpg(CODE_LA);
    fn();
    expect_ad("cleared, INVLPG, fetch: PTE", pte, 1, 0);
}

static void test_large(void)
{
    uint32_t *pde = pg_pde(pd, LARGE_LA);
    uint32_t la = LARGE_LA + (uint32_t)&large_word;

    large_word = 0x1A46E;
    CHECK_EQ(touch_read(la), 0x1A46E, "read through the 4 MiB page");
    expect_ad("after a read: 4 MiB PDE", pde, 1, 0);
    touch_write(la, 0x2B57F);
    expect_ad("after a write: 4 MiB PDE", pde, 1, 1);
    CHECK_EQ(*(volatile uint32_t *)&large_word, 0x2B57F, "written value, identity read");

    clear_ad(pde);
    invlpg(la);
    touch_read(la);
    expect_ad("cleared, INVLPG, read: 4 MiB PDE", pde, 1, 0);
    clear_ad(pde);
    invlpg(LARGE_LA); /* any address in the 4 MiB page */
    touch_write(la, 0x3C680);
    expect_ad("cleared, INVLPG of the page's first byte, write: 4 MiB PDE", pde, 1, 1);
}

static void test_faults(void)
{
    uint32_t *pte = pg_pte(pd, RO_LA);

    CHECK_EQ(touch_read(RO_LA + 4), 0x0D0D0001, "read of a read-only page");
    expect_ad("read-only page after a read: PTE", pte, 1, 0);
    probe_write(RO_LA + 8, 0x66666666);
    CHECK(pf.count == 1 && pf.error == (PF_P | PF_W) && pf.cr2 == RO_LA + 8,
          "CR0.WP=1: write to it: #PF err=0x%x cr2=0x%08x", pf.error, pf.cr2);
    expect_ad("after the faulting write: PTE", pte, 1, 0);
    CHECK_EQ(ro_frame[2], 0x0D0D0002, "frame unchanged");

    /* With CR0.WP=0 the supervisor write is performed, so it sets D. */
    write_cr0(read_cr0() & ~CR0_WP);
    probe_write(RO_LA + 12, 0x77777777);
    write_cr0(read_cr0() | CR0_WP);
    CHECK(pf.count == 0 && ro_frame[3] == 0x77777777, "CR0.WP=0: write to it: no fault");
    expect_ad("after the write with CR0.WP=0: PTE", pte, 1, 1);

    uint32_t *np = pg_pte(pd, NP_LA);
    probe_read(NP_LA + 4);
    CHECK(pf.count == 1 && pf.error == 0 && pf.cr2 == NP_LA + 4,
          "read of a not-present page: #PF err=0x%x cr2=0x%08x", pf.error, pf.cr2);
    probe_write(NP_LA + 8, 1);
    CHECK(pf.count == 1 && pf.error == PF_W && pf.cr2 == NP_LA + 8,
          "write to it: #PF err=0x%x cr2=0x%08x", pf.error, pf.cr2);
    CHECK_EQ(pg_get(np), NP_PTE, "the not-present PTE is unchanged");
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    rt_set_handler(PG_VECTOR, pf_handler);
    test_setup();
    test_4k();
    test_fetch();
    test_large();
    test_faults();
    pg_disable();
    write_cr0(read_cr0() & ~CR0_WP);
    write_cr4(read_cr4() & ~CR4_PSE);
    rt_finish();
}
