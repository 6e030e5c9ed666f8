/*
 * guest-tests/paging_basic.c — 32-bit paging (SDM Vol. 3A ch. 4, CR4.PAE = 0)
 * as an operating system uses it: paging on with an identity map of the
 * kernel's first 4 MiB (4 KiB pages) plus a higher-half alias of the same
 * memory at 0xC0000000, data and code used through both; 4 MiB pages
 * (CR4.PSE, §4.3) as a second alias, and a 4 MiB PDE replaced by a page
 * table; two page directories that map one linear page to different
 * frames, switched with MOV CR3; INVLPG after a PTE change; a not-present
 * PTE made present without invalidation (§4.10.4.3); global pages with
 * CR4.PGE (§4.10.2.4, §4.10.4.1); a recursive page-directory entry; paging
 * turned off and on again.
 *
 * The TLB rules the checks rely on (SDM §4.10.4.1-§4.10.4.3): MOV to CR3
 * invalidates every non-global translation; INVLPG invalidates the
 * translations of its page, global or not; a MOV to CR4 that changes PGE and
 * a MOV to CR0 that clears PG invalidate everything; no translation is ever
 * cached from a not-present entry. Where a stale translation MAY still be
 * used (a PTE changed without any of these), both the old and the new frame
 * are accepted and the same line is printed either way.
 *
 * Test frames are pool pages (runtime/paging.c), identity-mapped, so their
 * contents are also checked through their physical address. No absolute
 * kernel address is printed: only the fixed test addresses (0x40000000...)
 * and offsets.
 */
#include "paging.h"

#define HIGH_HALF  0xC0000000u /* 4 KiB alias of [0, 4 MiB) */
#define LARGE_BASE 0x80000000u /* 4 MiB alias of [0, 4 MiB) */
#define TEST_LA    0x40000000u /* linear pages whose frames the tests change */
#define RECURSIVE  1023u       /* PDE index that points at the directory itself */

/* A position-independent function (no absolute references) that can run
 * from any alias of its page: returns 3 * x + 1. */
uint32_t pgb_pic(uint32_t x);
__asm__(".text\n"
        ".globl pgb_pic\n"
        "pgb_pic:\n\t"
        "movl 4(%esp), %eax\n\t"
        "leal 1(%eax,%eax,2), %eax\n\t"
        "ret\n");

typedef uint32_t (*pic_fn)(uint32_t);

static uint32_t *pd1, *pd2;
static uint32_t *frame_a, *frame_b, *frame_c;

/* Two pages of data, so that an access can straddle a PTE boundary. */
static uint8_t buf[2 * PG_SIZE] __attribute__((aligned(PG_SIZE)));

static volatile uint32_t *at(uint32_t la)
{
    return (volatile uint32_t *)la;
}

static uint32_t read32(uint32_t la)
{
    return *at(la);
}

/* ---- #PF: record and skip the probed instruction ------------------------------ */

uint32_t probe_at, probe_next;
#define PROBE_BEGIN "movl $1f, probe_at\n\tmovl $2f, probe_next\n1:\t"
#define PROBE_END   "\n2:"

static struct {
    unsigned count;
    uint32_t error, cr2, eip;
} pf;

static void pf_handler(struct rt_frame *f)
{
    pf.count++;
    pf.error = f->error_code;
    pf.cr2 = read_cr2();
    pf.eip = f->eip;
    f->eip = probe_next;
}

/* mov reg, [la], skipped when it faults (the result is then `fallback`). */
static uint32_t probe_read(uint32_t la, uint32_t fallback)
{
    uint32_t v = fallback;
    __asm__ volatile(PROBE_BEGIN "movl (%1), %0" PROBE_END : "+r"(v) : "r"(la) : "memory");
    return v;
}

/* ---- checks ---------------------------------------------------------------------- */

static void test_enable(void)
{
    uint32_t edx = pg_cpuid1_edx();
    CHECK((edx & CPUID_1_EDX_PSE) && (edx & CPUID_1_EDX_PGE), "CPUID.1:EDX: PSE %u PGE %u",
          (edx >> 3) & 1, (edx >> 13) & 1);

    pd1 = pg_new_identity(PG_IDENTITY_BYTES, PG_P | PG_RW);
    pg_map_range(pd1, HIGH_HALF, 0, PG_IDENTITY_BYTES, PG_P | PG_RW);
    frame_a = pg_alloc();
    frame_b = pg_alloc();
    frame_c = pg_alloc();
    for (unsigned i = 0; i < 1024; i++) {
        frame_a[i] = 0xA0000000u + i;
        frame_b[i] = 0xB0000000u + i;
        frame_c[i] = 0xC0000000u + i;
    }

    pg_enable(pd1);
    CHECK((read_cr0() & (CR0_PG | CR0_PE)) == (CR0_PG | CR0_PE) && read_cr3() == (uint32_t)pd1,
          "paging on: CR0.PG %u, CR3 = the page directory", read_cr0() >> 31);
    /* Still running: code, stack and this variable are identity-mapped. */
    static volatile uint32_t alive = 0x1234;
    alive += 1;
    CHECK_EQ(alive, 0x1235, "identity-mapped data after CR0.PG=1");
}

static void test_higher_half(void)
{
    volatile uint32_t *low = (volatile uint32_t *)buf;
    volatile uint32_t *high = (volatile uint32_t *)(HIGH_HALF + (uint32_t)buf);
    bool ok = true;
    for (unsigned i = 0; i < 2 * PG_SIZE / 4; i++)
        low[i] = 0x5EED0000u ^ (i * 0x9E3779B9u);
    for (unsigned i = 0; i < 2 * PG_SIZE / 4; i++)
        ok &= high[i] == (0x5EED0000u ^ (i * 0x9E3779B9u));
    CHECK(ok, "8 KiB written through the identity map, read back through 0xC0000000+");
    for (unsigned i = 0; i < 2 * PG_SIZE / 4; i++)
        high[i] = ~i;
    ok = true;
    for (unsigned i = 0; i < 2 * PG_SIZE / 4; i++)
        ok &= low[i] == ~i;
    CHECK(ok, "8 KiB written through 0xC0000000+, read back through the identity map");

    /* A dword across the boundary of two alias pages lands in two frames. */
    *(volatile uint32_t *)(HIGH_HALF + (uint32_t)buf + PG_SIZE - 2) = 0x44332211;
    const volatile uint8_t *b = buf + PG_SIZE - 2;
    uint8_t b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
    CHECK(b0 == 0x11 && b1 == 0x22 && b2 == 0x33 && b3 == 0x44,
          "dword store straddling two alias pages: bytes %02x %02x | %02x %02x", b0, b1, b2, b3);

    pic_fn high_fn = (pic_fn)(HIGH_HALF + (uint32_t)pgb_pic);
    CHECK_EQ(high_fn(14), 43, "code called through its 0xC0000000 alias: f(14)");
}

static void test_large_pages(void)
{
    write_cr4(read_cr4() | CR4_PSE);
    /* The PDE was not present: nothing to invalidate (SDM §4.10.4.3). */
    pg_map_large(pd1, LARGE_BASE, 0, PG_P | PG_RW);
    volatile uint32_t *low = (volatile uint32_t *)buf;
    volatile uint32_t *big = (volatile uint32_t *)(LARGE_BASE + (uint32_t)buf);
    low[5] = 0x4D1B0005;
    CHECK_EQ(big[5], 0x4D1B0005, "identity write, read through the 4 MiB page at 0x80000000");
    big[6] = 0x4D1B0006;
    CHECK_EQ(low[6], 0x4D1B0006, "write through the 4 MiB page, identity read");
    pic_fn big_fn = (pic_fn)(LARGE_BASE + (uint32_t)pgb_pic);
    CHECK_EQ(big_fn(100), 301, "code called through the 4 MiB alias: f(100)");

    /* 4 MiB page -> page table (PS 1 -> 0). MOV CR3 drops every cached
     * translation and paging-structure entry for it (SDM §4.10.4.1). */
    pg_set(pg_pde(pd1, LARGE_BASE), 0);
    pg_map(pd1, LARGE_BASE, (uint32_t)frame_c, PG_P | PG_RW);
    pg_flush_nonglobal();
    CHECK_EQ(read32(LARGE_BASE + 8), 0xC0000002,
             "4 MiB PDE replaced by a page table, MOV CR3: 0x80000008");
    pf.count = 0;
    uint32_t v = probe_read(LARGE_BASE + PG_SIZE, 0xDEAD);
    CHECK(pf.count == 1 && pf.error == 0 && pf.cr2 == LARGE_BASE + PG_SIZE && v == 0xDEAD,
          "0x80001000, inside the old 4 MiB page, is not mapped any more: #PF err=0x%x "
          "cr2=0x%08x",
          pf.error, pf.cr2);
}

static void test_cr3_switch(void)
{
    /* pd2 shares pd1's identity page table. */
    pd2 = pg_alloc();
    pg_set(&pd2[0], pg_get(&pd1[0]));
    pg_map(pd1, TEST_LA, (uint32_t)frame_a, PG_P | PG_RW);
    pg_map(pd2, TEST_LA, (uint32_t)frame_b, PG_P | PG_RW);
    pg_flush_nonglobal();

    uint32_t a = read32(TEST_LA + 4);
    write_cr3((uint32_t)pd2);
    uint32_t b = read32(TEST_LA + 4);
    write_cr3((uint32_t)pd1);
    uint32_t a2 = read32(TEST_LA + 4);
    CHECK(a == 0xA0000001 && b == 0xB0000001 && a2 == 0xA0000001,
          "0x40000004 under pd1, pd2, pd1: 0x%08x 0x%08x 0x%08x", a, b, a2);

    bool ok = true;
    for (uint32_t round = 0; round < 20; round++) {
        write_cr3((uint32_t)(round & 1 ? pd1 : pd2));
        *at(TEST_LA + 0x800 + 4 * round) = round * 0x01010101u;
    }
    write_cr3((uint32_t)pd1);
    for (uint32_t round = 0; round < 20; round++) {
        uint32_t *frame = round & 1 ? frame_a : frame_b;
        ok &= frame[0x200 + round] == round * 0x01010101u;
    }
    CHECK(ok && read_cr3() == (uint32_t)pd1,
          "20 writes to 0x40000800+ alternating pd2/pd1 landed in frames B/A");
}

static void test_invlpg(void)
{
    uint32_t *pte = pg_pte(pd1, TEST_LA);
    CHECK_EQ(read32(TEST_LA + 12), 0xA0000003, "0x4000000c before the PTE change (frame A)");

    /* No invalidation: the old translation may still be cached, or not
     * (SDM §4.10.4.2). Either frame is acceptable. */
    pg_set(pte, (uint32_t)frame_c | PG_P | PG_RW);
    uint32_t maybe = read32(TEST_LA + 12);
    CHECK(maybe == 0xA0000003 || maybe == 0xC0000003,
          "PTE A -> C without INVLPG: frame A or C (both allowed)");

    invlpg(TEST_LA);
    CHECK_EQ(read32(TEST_LA + 12), 0xC0000003, "after INVLPG: frame C");

    pg_set(pte, (uint32_t)frame_a | PG_P | PG_RW);
    invlpg(TEST_LA + 0xFFF); /* any address in the page will do */
    CHECK_EQ(read32(TEST_LA + 12), 0xA0000003, "PTE C -> A, INVLPG of the page's last byte");

    /* Not present -> present: no translation is cached from a not-present
     * entry, so no invalidation is needed (SDM §4.10.4.3). */
    uint32_t la = TEST_LA + PG_SIZE;
    pg_map(pd1, la, (uint32_t)frame_b, 0);
    pf.count = 0;
    uint32_t v = probe_read(la + 16, 0xDEAD);
    CHECK(pf.count == 1 && pf.error == 0 && pf.cr2 == la + 16 && v == 0xDEAD,
          "read of a not-present page: #PF err=0x%x cr2=0x%08x", pf.error, pf.cr2);
    pg_set(pg_pte(pd1, la), (uint32_t)frame_b | PG_P | PG_RW);
    pf.count = 0;
    v = probe_read(la + 16, 0xDEAD);
    CHECK(pf.count == 0 && v == 0xB0000004,
          "same page made present, no INVLPG: read 0x%08x without a fault", v);
}

static void test_global(void)
{
    uint32_t la = TEST_LA + 2 * PG_SIZE, la_ng = TEST_LA + 3 * PG_SIZE;
    write_cr4(read_cr4() | CR4_PGE);
    CHECK((read_cr4() & (CR4_PGE | CR4_PSE)) == (CR4_PGE | CR4_PSE), "CR4.PGE and CR4.PSE set");

    pg_map(pd1, la, (uint32_t)frame_a, PG_P | PG_RW | PG_G);
    pg_map(pd1, la_ng, (uint32_t)frame_a, PG_P | PG_RW);
    CHECK(read32(la) == 0xA0000000 && read32(la_ng) == 0xA0000000,
          "global and non-global page, both frame A");

    pg_set(pg_pte(pd1, la), (uint32_t)frame_b | PG_P | PG_RW | PG_G);
    pg_set(pg_pte(pd1, la_ng), (uint32_t)frame_b | PG_P | PG_RW);
    pg_flush_nonglobal();
    uint32_t g = read32(la);
    CHECK(g == 0xA0000000 || g == 0xB0000000,
          "global page, PTE A -> B, MOV CR3: frame A or B (a global translation may survive)");
    CHECK_EQ(read32(la_ng), 0xB0000000, "non-global page, PTE A -> B, MOV CR3: frame B");

    invlpg(la);
    CHECK_EQ(read32(la), 0xB0000000, "global page after INVLPG: frame B");

    /* Changing CR4.PGE flushes global translations too (SDM §4.10.4.1). */
    pg_set(pg_pte(pd1, la), (uint32_t)frame_a | PG_P | PG_RW | PG_G);
    write_cr4(read_cr4() & ~CR4_PGE);
    CHECK_EQ(read32(la), 0xA0000000, "global page, PTE B -> A, CR4.PGE cleared: frame A");

    /* With CR4.PGE = 0 the G flag is ignored: MOV CR3 suffices. */
    pg_set(pg_pte(pd1, la), (uint32_t)frame_c | PG_P | PG_RW | PG_G);
    pg_flush_nonglobal();
    CHECK_EQ(read32(la), 0xC0000000, "G set but CR4.PGE=0, PTE A -> C, MOV CR3: frame C");

    /* A global translation cached with CR4.PGE = 1, dropped by turning PGE
     * off and on again. */
    write_cr4(read_cr4() | CR4_PGE);
    CHECK_EQ(read32(la), 0xC0000000, "CR4.PGE set again: frame C");
    pg_set(pg_pte(pd1, la), (uint32_t)frame_b | PG_P | PG_RW | PG_G);
    write_cr4(read_cr4() & ~CR4_PGE);
    write_cr4(read_cr4() | CR4_PGE);
    CHECK_EQ(read32(la), 0xB0000000, "global page, PTE C -> B, CR4.PGE off and on: frame B");
}

static void test_recursive(void)
{
    /* PDE 1023 -> the directory: the page tables appear at 0xFFC00000 and
     * the directory itself at 0xFFFFF000 (a PDE used as a PTE). */
    pg_set(&pd1[RECURSIVE], (uint32_t)pd1 | PG_P | PG_RW);
    const uint32_t ad = PG_A | PG_D;
    uint32_t la = TEST_LA + 4 * PG_SIZE;
    pg_map(pd1, la, (uint32_t)frame_a, PG_P | PG_RW);
    uint32_t *pte = pg_pte(pd1, la);
    volatile uint32_t *rpte = (volatile uint32_t *)(0xFFC00000u + (la >> 12) * 4);
    volatile uint32_t *rpde = (volatile uint32_t *)(0xFFFFF000u + PG_PDX(la) * 4);
    volatile uint32_t *rself = (volatile uint32_t *)(0xFFFFF000u + RECURSIVE * 4);

    CHECK(((*rpte ^ pg_get(pte)) & ~ad) == 0 && ((*rpde ^ pg_get(pg_pde(pd1, la))) & ~ad) == 0 &&
              (*rself & ~ad) == ((uint32_t)pd1 | PG_P | PG_RW),
          "recursive PDE: PTE, PDE and the self entry read through 0xFFC00000/0xFFFFF000");
    CHECK_EQ(read32(la + 20), 0xA0000005, "0x40004014 through its PTE (frame A)");
    *rpte = (uint32_t)frame_b | PG_P | PG_RW;
    invlpg(la);
    CHECK((pg_get(pte) & ~ad) == ((uint32_t)frame_b | PG_P | PG_RW),
          "PTE written through the recursive mapping, read directly");
    CHECK_EQ(read32(la + 20), 0xB0000005, "0x40004014 after INVLPG (frame B)");

    pg_set(&pd1[RECURSIVE], 0);
    pg_flush_nonglobal();
}

static void test_off_on(void)
{
    /* Make the page global too: clearing CR0.PG flushes global translations
     * as well (SDM §4.10.4.1). */
    uint32_t la = TEST_LA + 5 * PG_SIZE;
    pg_map(pd1, la, (uint32_t)frame_a, PG_P | PG_RW | PG_G);
    CHECK_EQ(read32(la + 24), 0xA0000006, "global page 0x40005018 before paging off (frame A)");

    pg_disable();
    CHECK((read_cr0() & CR0_PG) == 0 && read_cr3() == (uint32_t)pd1,
          "paging off: CR0.PG %u, CR3 unchanged", read_cr0() >> 31);
    /* Linear = physical now: the PTE and the frame are written directly. */
    frame_b[6] = 0xB0FF0006;
    pg_set(pg_pte(pd1, la), (uint32_t)frame_b | PG_P | PG_RW | PG_G);
    CHECK_EQ(*(volatile uint32_t *)((uint32_t)frame_b + 24), 0xB0FF0006,
             "paging off: frame B read at its physical address");

    pg_enable(pd1);
    CHECK_EQ(read32(la + 24), 0xB0FF0006, "paging on again: 0x40005018 maps frame B");
    CHECK_EQ(*(volatile uint32_t *)(HIGH_HALF + (uint32_t)frame_b + 24), 0xB0FF0006,
             "and the higher-half alias still works");

    pg_disable();
    write_cr4(read_cr4() & ~(CR4_PGE | CR4_PSE));
    CHECK((read_cr0() & CR0_PG) == 0, "paging off at the end");
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    rt_set_handler(PG_VECTOR, pf_handler);
    test_enable();
    test_higher_half();
    test_large_pages();
    test_cr3_switch();
    test_invlpg();
    test_global();
    test_recursive();
    test_off_on();
    rt_finish();
}
