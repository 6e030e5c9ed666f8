/*
 * bench/paging/pf_heavy.c — a page-fault-heavy guest kernel: demand-zero
 * paging of a 64 MiB region, as a kernel does for a process that touches a
 * large fresh heap or mapping.
 *
 * Paging is on (32-bit paging, SDM Vol. 3A §4.3). The region's 16 page
 * tables start empty. Each round touches every one of its 16,384 pages
 * once; the first access to a page raises #PF (not present), and the #PF
 * handler takes the next frame of a 64 MiB pool, zeroes it (REP STOSD, as a
 * kernel's clear_page does) and maps it. The touch writes a word the round
 * can check, and a verify pass reads every page back. Then the round
 * unmaps everything the way munmap/exit does: it clears every PTE and
 * reloads CR3, the full non-global TLB flush (§4.10.4.1), and gives the
 * pool back. Even rounds touch the pages in address order from ring 0; odd
 * rounds touch them in a scattered order (an odd stride, so every page
 * table is hit all the time) from ring 3, where each fault is also a
 * privilege change onto the TSS's ESP0 stack.
 *
 * What it stresses in a VMM: guest #PF delivery (a host fault on an
 * unmapped shadow page, the guest walk, the exception injected), writes to
 * the guest's page tables from the handler (the first write to a tracked
 * table after a flush), the fill that follows when the access is retried,
 * the bulk clear of 16 page tables and the CR3 reload that invalidates the
 * whole shadow of the region.
 *
 * Output: "pf_heavy <checksum> (<n> faults)", where the checksum folds the
 * value of every read (demand-zero words must read 0, written words must
 * read back) and the fault count. A fault the kernel does not expect, or a
 * read that sees the wrong value, prints "pf_heavy FAIL ..." and exits with
 * code 1.
 */
#include "paging_bench.h"

#define ROUNDS 24

#define PAGE          PG_SIZE
#define REGION        0x40000000u /* linear base of the demand-zero region */
#define REGION_PAGES  16384u      /* 64 MiB */
#define REGION_TABLES (REGION_PAGES / 1024)
#define POOL_PA       0x01000000u /* 64 MiB of frames, 16 MiB .. 80 MiB */
#define POOL_FRAMES   REGION_PAGES
#define IDENTITY_END  (POOL_PA + POOL_FRAMES * PAGE)

/* Ring 3 visits page (i * STRIDE) mod REGION_PAGES: odd, so a permutation,
 * and just over one page table, so consecutive touches change table. */
#define STRIDE 1031u

#define SEL_UCODE3 (RT_SEL_UCODE | 3)
#define SEL_UDATA3 (RT_SEL_UDATA | 3)

/* The region's page tables, contiguous: the PTE of page i is
 * region_pt[i], whichever table holds it. */
static uint32_t region_pt[REGION_PAGES] __attribute__((aligned(PAGE)));
static uint32_t *pd;

static uint8_t kstack[8192] __attribute__((aligned(16)));
static uint8_t ustack[8192] __attribute__((aligned(16)));

static uint32_t next_frame; /* pool frames handed out this round */
/* Volatile: the handler changes them behind the touch loops' back. */
static volatile uint32_t faults, user_faults;
static uint32_t touch_round; /* read by ring 3 too: the kernel is mapped U/S */

#define fail(...) bench_fail("pf_heavy", __VA_ARGS__)

/* ---- ring 3 entry and exit ------------------------------------------------
 *
 * pf_enter_user(fn, user_esp) saves the kernel's callee-saved registers and
 * ESP and IRETs to ring 3 at pf_user_trampoline, which loads the user data
 * selector (IRET nulls DS and ES, whose DPL is 0), calls fn and leaves with
 * INT 0x81. The INT 0x81 handler IRETs at ring 0 to pf_ring0_return, which
 * restores the saved ESP and returns; EAX, fn's result, survives the trip
 * (the handler leaves it in the frame), so pf_enter_user returns it. */
uint32_t pf_enter_user(uint32_t (*fn)(void), uint32_t user_esp);
extern char pf_ring0_return[];

__asm__(".text\n"
        ".globl pf_enter_user\n"
        "pf_enter_user:\n\t"
        "pushl %ebp\n\t"
        "pushl %ebx\n\t"
        "pushl %esi\n\t"
        "pushl %edi\n\t"
        "movl %esp, pf_kernel_esp\n\t"
        "movl 20(%esp), %ebx\n\t"
        "movl 24(%esp), %ecx\n\t"
        "pushl $0x23\n\t" /* SS */
        "pushl %ecx\n\t"  /* ESP */
        "pushl $0x2\n\t"  /* EFLAGS: IF = 0, IOPL 0 */
        "pushl $0x1b\n\t" /* CS */
        "pushl $pf_user_trampoline\n\t"
        "iret\n"
        "pf_user_trampoline:\n\t"
        "movl $0x23, %eax\n\t"
        "movw %ax, %ds\n\t"
        "movw %ax, %es\n\t"
        "call *%ebx\n\t"
        "int $0x81\n\t"
        "ud2\n"
        ".globl pf_ring0_return\n"
        "pf_ring0_return:\n\t"
        "movl pf_kernel_esp, %esp\n\t"
        "popl %edi\n\t"
        "popl %esi\n\t"
        "popl %ebx\n\t"
        "popl %ebp\n\t"
        "ret\n"
        ".data\n"
        ".balign 4\n"
        "pf_kernel_esp: .long 0\n"
        ".text\n");

static void int81_handler(struct rt_frame *f)
{
    if (f->cs != SEL_UCODE3)
        fail("int 0x81 from cs=0x%x", f->cs);
    /* IRET at the same privilege level pops EIP, CS and EFLAGS only;
     * pf_ring0_return abandons the rest of the ESP0 stack. */
    f->eip = (uint32_t)pf_ring0_return;
    f->cs = RT_SEL_KCODE;
    f->eflags = EFLAGS_BIT1;
    f->ds = f->es = f->fs = f->gs = RT_SEL_KDATA;
}

/* ---- demand-zero #PF handler ------------------------------------------------ */

/* 1024 doublewords with REP STOSD: what a kernel's clear_page does, and
 * far cheaper to emulate than the runtime's byte-wise memset. */
static inline void zero_frame(uint32_t pa)
{
    uint32_t d = pa, c = PAGE / 4;
    __asm__ volatile("rep stosl" : "+D"(d), "+c"(c) : "a"(0) : "memory");
}

static void pf_handler(struct rt_frame *f)
{
    uint32_t la = read_cr2(), page = (la - REGION) / PAGE;
    if (la - REGION >= REGION_PAGES * PAGE || (f->error_code & (PF_P | PF_RSVD)))
        fail("unexpected #PF at 0x%x, err=0x%x, eip=0x%x", la, f->error_code, f->eip);
    if (pg_get(&region_pt[page]) & PG_P)
        fail("#PF at 0x%x whose PTE is present", la);
    if (next_frame == POOL_FRAMES)
        fail("frame pool exhausted");
    uint32_t pa = POOL_PA + next_frame++ * PAGE;
    zero_frame(pa);
    /* Not-present translations are never cached (§4.10.2.3), so mapping
     * the page needs no INVLPG: the retried access walks the tables. */
    pg_set(&region_pt[page], pa | PG_P | PG_RW | PG_US);
    faults++;
    if (f->cs & 3)
        user_faults++;
}

/* ---- the touch loops ------------------------------------------------------- */

/* Touches page `page` for the first time this round: a read of a word that
 * must be zero (the fault happens here), then a write of a value the verify
 * pass checks, in another word of the same page. */
static inline uint32_t touch(uint32_t page, uint32_t round, uint32_t h)
{
    volatile uint32_t *p = (volatile uint32_t *)(REGION + page * PAGE);
    uint32_t at = (page * 7 + round) & 1023;
    uint32_t z = p[at ^ 512];
    p[at] = page * 2654435761u + round;
    return mix(h, z);
}

static uint32_t touch_sequential(void)
{
    uint32_t h = 0;
    for (uint32_t i = 0; i < REGION_PAGES; i++)
        h = touch(i, touch_round, h);
    return h;
}

/* Runs at CPL 3 (pf_enter_user); the pages are user pages. */
static uint32_t touch_scattered(void)
{
    uint32_t h = 0;
    for (uint32_t i = 0; i < REGION_PAGES; i++)
        h = touch((i * STRIDE) & (REGION_PAGES - 1), touch_round, h);
    return h;
}

static uint32_t verify(uint32_t round)
{
    uint32_t h = 0, bad = 0;
    for (uint32_t page = 0; page < REGION_PAGES; page++) {
        const volatile uint32_t *p = (const volatile uint32_t *)(REGION + page * PAGE);
        uint32_t at = (page * 7 + round) & 1023, v = p[at];
        bad += v != page * 2654435761u + round;
        h = mix(h, v);
    }
    if (bad)
        fail("round %u: %u pages read back a wrong value", round, bad);
    return h;
}

/* munmap of the whole region: every PTE cleared, then one CR3 reload
 * instead of 16,384 INVLPGs (§4.10.4.1). */
static void unmap_all(void)
{
    for (uint32_t i = 0; i < REGION_PAGES; i++)
        pg_set(&region_pt[i], 0);
    pg_flush_nonglobal();
    next_frame = 0;
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    /* The kernel image (first 4 MiB) is user-accessible so that ring 3 can
     * run touch_scattered; the pool is the kernel's only (it zeroes frames
     * through this identity map). */
    pd = pg_new_identity(PG_IDENTITY_BYTES, PG_P | PG_RW | PG_US);
    pg_map_range(pd, POOL_PA, POOL_PA, IDENTITY_END - POOL_PA, PG_P | PG_RW);
    for (uint32_t t = 0; t < REGION_TABLES; t++)
        pg_set(pg_pde(pd, REGION + t * PG_LARGE_SIZE),
               (uint32_t)&region_pt[t * 1024] | PG_P | PG_RW | PG_US);
    pg_enable(pd);

    rt_set_handler(PG_VECTOR, pf_handler);
    rt_set_handler(0x81, int81_handler);
    rt_set_gate_attr(0x81, RT_GATE_INTR | RT_ACC_DPL(3));
    rt_load_tss((uint32_t)kstack + sizeof(kstack));

    uint32_t h = 0;
    for (uint32_t round = 0; round < ROUNDS; round++) {
        touch_round = round;
        uint32_t faults_before = faults;
        if (round & 1)
            h = mix(h, pf_enter_user(touch_scattered, (uint32_t)ustack + sizeof(ustack)));
        else
            h = mix(h, touch_sequential());
        if (faults - faults_before != REGION_PAGES)
            fail("round %u: %u faults, expected %u", round, faults - faults_before, REGION_PAGES);
        h = mix(h, verify(round));
        unmap_all();
    }
    if (user_faults != (ROUNDS / 2) * REGION_PAGES)
        fail("%u faults from ring 3, expected %u", user_faults, (ROUNDS / 2) * REGION_PAGES);
    h = mix(h, faults);
    rt_printf("pf_heavy %08x (%u faults)\n", (unsigned)h, (unsigned)faults);
    rt_exit(0);
}
