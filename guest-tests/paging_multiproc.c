/*
 * guest-tests/paging_multiproc.c — a small multi-process kernel on 32-bit
 * paging (SDM Vol. 3A chapter 4): one page directory per process, the kernel
 * identity-mapped supervisor-only (global pages when CPUID has PGE), user
 * code, read-only data, heap and stack at 0x40000000 and up with U/S = 1;
 * three ring-3 tasks preempted by the PIT at 1 kHz (IRQ0 through the 8259A),
 * every switch loading CR3 and TSS.esp0; system calls through INT 0x80 (a
 * DPL 3 interrupt gate): write, getpid, yield, fork, exit, wait, sbrk; fork
 * with copy-on-write (reference-counted frames, the #PF handler copies on
 * write, INVLPG and CR3 reloads where a real kernel needs them); demand-zero
 * heap pages; processes killed by the faults a kernel must catch (a write to
 * a read-only code page, a read of supervisor memory, a heap page that sbrk
 * gave back, HLT at CPL 3).
 *
 * Determinism. Where a timer interrupt lands differs between QEMU and
 * popek, so nothing printed may depend on the interleaving: processes never
 * print as they run, write() appends to a per-process kernel buffer, and
 * after the last exit the kernel prints every buffer in pid order with the
 * exit statuses and counters the program structure fixes exactly (forks,
 * copy-on-write faults on the heap, zero-fill faults). Pids are
 * deterministic because only one process forks at a time (init waits for
 * each child that forks before forking again). Timing-dependent numbers
 * (ticks, switches, yields, spin iterations, copy-on-write faults on the
 * stack, whose count depends on the compiler's frame sizes) are only used
 * in checks (`-append verbose` prints traps, preemptions, yields and
 * stack faults). Preemption is proven by a spinner that announces itself
 * in a page shared with a helper, then loops without any system call until
 * the helper (which yields meanwhile) acknowledges: under any fair schedule
 * this ends, and only a timer interrupt can let the helper run during the
 * loop.
 *
 * User code is C in this file, placed in the sections "utext" and "urodata"
 * and copied to UCODE_BASE and URO_BASE (the program "file"). It must be
 * position-independent: calls between user functions are EIP-relative, every
 * string goes through US() (which places it in urodata and rebases its
 * address), user memory is reached through fixed addresses or sbrk, and
 * nothing may refer to kernel data (no globals, string literals, switch
 * jump tables or memcpy/memset calls). A slip shows up as a process killed
 * by a #PF on kernel memory, which fails the test.
 */
#include "rt.h"

/* ---- virtual memory layout --------------------------------------------------- */

#define PAGE         4096u
#define PAGE_MASK    0xFFFFF000u
#define IDENTITY_END 0x00400000u /* the kernel's identity map: one page table */
#define USER_LO      0x40000000u
#define UCODE_BASE   0x40000000u /* utext, read-only */
#define URO_BASE     0x40010000u /* urodata, read-only */
#define UIMAGE_MAX   0x10000u    /* per section */
#define USHARED      0x40020000u /* the spinner/helper page, shared writable */
#define HEAP_BASE    0x40100000u /* sbrk: demand-zero pages */
#define HEAP_LIMIT   0x40400000u
#define USTACK_TOP   0x80000000u
#define USTACK_PAGES 4
#define USER_HI      0x80000000u
#define KERNEL_PROBE 0x00100000u /* the kernel image: what a user read probes */

/* Page-table entry bits (SDM Vol. 3A §4.3, Table 4-6). Bits 9-11 are
 * ignored by the processor and free for software. */
#define PTE_P      0x001u
#define PTE_W      0x002u
#define PTE_U      0x004u
#define PTE_G      0x100u
#define PTE_COW    0x200u /* read-only now, writable after a private copy */
#define PTE_SHARED 0x400u /* writable and shared across fork */

/* Page-fault error code (SDM Vol. 3A §4.7). */
#define PF_P 0x1u
#define PF_W 0x2u
#define PF_U 0x4u

#define CR0_WP    (1u << 16)
#define CR4_PGE   (1u << 7)
#define CPUID_PGE (1u << 13) /* CPUID.01H:EDX */

/* ---- system calls: EAX = number, EBX/ECX = arguments, result in EAX ----------- */

#define SYS_WRITE  1 /* (buf, len) -> len or -1 */
#define SYS_GETPID 2
#define SYS_YIELD  3
#define SYS_FORK   4 /* -> child pid in the parent, 0 in the child */
#define SYS_EXIT   5 /* (status) */
#define SYS_WAIT   6 /* (pid) -> the child's status, -1 if not a child */
#define SYS_SBRK   7 /* (increment) -> old break or -1 */

/* Status of a process killed by an exception. Normal statuses stay below. */
#define KILLED(vec, err) (0x10000u | ((vec) << 8) | ((err)&0xFFu))
#define STATUS_BAD       0xBADu /* a user program's own check failed */

/* ---- the program structure (shared by user code and the kernel's model) ----- */

#define NWORDS      4096u /* init's array: 4 pages of the heap */
#define WPP         1024u /* words per page */
#define INIT_POKE   (3 * WPP + 5)
#define CHILD_POKE  (2 * WPP)
#define GRAND_POKE  (1 * WPP)
#define FIB_N       27
#define SIB_ROUNDS  64
#define HANOI_N     10
#define SIEVE_BYTES 65536u
#define SPIN_LIMIT  (1u << 28) /* only reached if the timer never preempts */
#define YIELD_LIMIT 1000000u

enum variant { V_ORIG, V_INIT, V_CHILD, V_GRAND };

/* =============================================================================
 * User side (ring 3)
 * ============================================================================= */

#define UFN static __attribute__((section("utext")))

extern const char __start_utext[], __stop_utext[], __start_urodata[], __stop_urodata[];

/* A string constant in urodata, addressed where user processes see it. */
#define US(text)                                                              \
    ({                                                                        \
        static const char us_[] __attribute__((section("urodata"))) = text;   \
        (const char *)((uint32_t)us_ - (uint32_t)__start_urodata + URO_BASE); \
    })

#define SYSCALL(n, a, b)                                          \
    ({                                                            \
        uint32_t r_ = (n);                                        \
        __asm__ volatile("int $0x80"                              \
                         : "+a"(r_)                               \
                         : "b"((uint32_t)(a)), "c"((uint32_t)(b)) \
                         : "memory");                             \
        r_;                                                       \
    })
#define u_write(p, n) SYSCALL(SYS_WRITE, p, n)
#define u_getpid()    SYSCALL(SYS_GETPID, 0, 0)
#define u_yield()     SYSCALL(SYS_YIELD, 0, 0)
#define u_fork()      SYSCALL(SYS_FORK, 0, 0)
#define u_wait(pid)   SYSCALL(SYS_WAIT, pid, 0)
#define u_sbrk(n)     SYSCALL(SYS_SBRK, n, 0)
#define u_exit(st)                \
    do {                          \
        SYSCALL(SYS_EXIT, st, 0); \
        __builtin_unreachable();  \
    } while (0)

struct ushared {
    volatile uint32_t request, ack;
};
#define USH ((struct ushared *)USHARED)

/* printf for ring 3: %u, %x (no padding), %s; one write() per call. */
UFN void u_print(const char *fmt, ...)
{
    char buf[160];
    uint32_t n = 0;
    va_list ap;
    va_start(ap, fmt);
    for (const char *p = fmt; *p && n < sizeof(buf) - 12; p++) {
        if (*p != '%') {
            buf[n++] = *p;
            continue;
        }
        p++;
        if (*p == 's') {
            for (const char *s = va_arg(ap, const char *); *s && n < sizeof(buf) - 12; s++)
                buf[n++] = *s;
        } else if (*p == 'u' || *p == 'x') {
            uint32_t v = va_arg(ap, uint32_t), base = *p == 'u' ? 10 : 16;
            char d[10];
            unsigned k = 0;
            do {
                uint32_t digit = v % base;
                d[k++] = (char)(digit < 10 ? '0' + digit : 'a' + digit - 10);
                v /= base;
            } while (v);
            while (k)
                buf[n++] = d[--k];
        } else {
            buf[n++] = *p;
        }
    }
    va_end(ap);
    u_write(buf, n);
}

/* CRC-32 (IEEE 802.3, reflected) of the bytes of nwords words, bit by bit. */
UFN uint32_t u_crc32(const volatile uint32_t *w, uint32_t nwords)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < nwords; i++) {
        uint32_t v = w[i];
        for (int byte = 0; byte < 4; byte++, v >>= 8) {
            crc ^= v & 0xFF;
            for (int bit = 0; bit < 8; bit++)
                crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
        }
    }
    return ~crc;
}

UFN uint32_t u_expect(unsigned v, uint32_t i)
{
    uint32_t x = (i + 1) * 0x9E3779B1u;
    if (v == V_INIT && i == INIT_POKE)
        x ^= 0xFFFF;
    if (v == V_CHILD || v == V_GRAND) {
        if (i < WPP)
            x += 1;
        if (i == CHILD_POKE)
            x = 0x12345678;
    }
    if (v == V_GRAND) {
        if (i < WPP)
            x = ~x;
        if (i == GRAND_POKE)
            x = 7;
    }
    return x;
}

UFN uint32_t u_mismatches(const volatile uint32_t *a, unsigned v)
{
    uint32_t bad = 0;
    for (uint32_t i = 0; i < NWORDS; i++)
        bad += a[i] != u_expect(v, i);
    return bad;
}

UFN unsigned u_fib(unsigned n)
{
    return n < 2 ? n : u_fib(n - 1) + u_fib(n - 2);
}

/* Hash of the move sequence of the recursive Towers of Hanoi. */
UFN uint32_t u_hanoi(unsigned n, unsigned from, unsigned to, unsigned via, uint32_t h)
{
    if (n == 0)
        return h;
    h = u_hanoi(n - 1, from, via, to, h);
    h = h * 31 + from * 3 + to;
    return u_hanoi(n - 1, via, to, from, h);
}

/* pid 5: forked by pid 4; writes pages 0 and 1 of its copy. */
UFN __attribute__((noreturn)) void grandchild(volatile uint32_t *a, uint32_t crc_child)
{
    uint32_t crc = u_crc32(a, NWORDS), bad = crc != crc_child;
    u_print(US("grandchild %u sees its parent's array: crc32 0x%x\n"), u_getpid(), crc);
    for (uint32_t i = 0; i < WPP; i++)
        a[i] = ~a[i];
    a[GRAND_POKE] = 7;
    bad += u_mismatches(a, V_GRAND);
    crc = u_crc32(a, NWORDS);
    u_print(US("grandchild wrote pages 0 and 1: crc32 0x%x, %u mismatches\n"), crc, bad);
    u_exit(bad ? STATUS_BAD : crc & 0xFFFF);
}

/* pid 4: forked by init; writes pages 0 and 2, forks pid 5, checks that the
 * grandchild's writes to the same pages never reach its own copy. */
UFN __attribute__((noreturn)) void child(volatile uint32_t *a, uint32_t crc_parent)
{
    uint32_t crc = u_crc32(a, NWORDS), bad = crc != crc_parent;
    u_print(US("child %u sees the parent's array: crc32 0x%x\n"), u_getpid(), crc);
    for (uint32_t i = 0; i < WPP; i++)
        a[i] += 1;
    a[CHILD_POKE] = 0x12345678;
    uint32_t crc_mine = u_crc32(a, NWORDS);
    u_print(US("child wrote pages 0 and 2: crc32 0x%x\n"), crc_mine);
    uint32_t g = u_fork();
    if (g == 0)
        grandchild(a, crc_mine);
    for (int i = 0; i < 3; i++)
        u_yield();
    uint32_t before = u_mismatches(a, V_CHILD);
    uint32_t st = u_wait(g);
    uint32_t after = u_mismatches(a, V_CHILD);
    u_print(US("child: grandchild %u exited with 0x%x; mismatches in my copy: %u before, %u "
               "after\n"),
            g, st, before, after);
    bad += before + after;
    u_exit(bad ? STATUS_BAD : crc_mine & 0xFFFF);
}

/* pids 6 and 7: forked back to back, both rewrite page 1 of the array
 * round after round (long enough to be preempted, interleaved with each
 * other) and touch the same fresh heap pages, then check that they only
 * ever see their own data. */
UFN __attribute__((noreturn)) void sibling(volatile uint32_t *a, volatile uint32_t *b, uint32_t k)
{
    uint32_t h = 0;
    for (uint32_t r = 0; r < SIB_ROUNDS; r++) {
        for (uint32_t i = 0; i < WPP; i++)
            a[WPP + i] = a[WPP + i] * 3 + k;
        h = h * 31 + u_crc32(a + WPP, WPP);
        if (r % 8 == 7)
            u_yield();
    }
    b[0] = k;
    uint32_t z = b[WPP]; /* never written by anyone: a zero-fill read fault */
    for (int i = 0; i < 3; i++)
        u_yield();
    uint32_t bad = (b[0] != k) + (z != 0);
    for (uint32_t i = 0; i < NWORDS; i++) {
        uint32_t x = u_expect(V_INIT, i);
        for (uint32_t r = 0; i / WPP == 1 && r < SIB_ROUNDS; r++)
            x = x * 3 + k;
        bad += a[i] != x;
    }
    u_print(US("sibling %u (k=%u): %u rounds over page 1, hash 0x%x, %u mismatches\n"), u_getpid(),
            k, SIB_ROUNDS, h, bad);
    u_exit(bad ? STATUS_BAD : h & 0xFFFF);
}

UFN void report_child(const char *what, uint32_t pid, uint32_t status)
{
    u_print(US("%s: child %u exit status 0x%x\n"), what, pid, status);
}

/* pid 1. */
UFN __attribute__((noreturn)) void task_init(void)
{
    uint32_t bad = 0;
    u_print(US("init: getpid %u\n"), u_getpid());
    volatile uint32_t *a = (volatile uint32_t *)u_sbrk(NWORDS * 4);
    u_print(US("sbrk(16 KiB) = heap base + 0x%x, then sbrk(0) = heap base + 0x%x\n"),
            (uint32_t)a - HEAP_BASE, u_sbrk(0) - HEAP_BASE);
    for (uint32_t i = 0; i < NWORDS; i++)
        a[i] = u_expect(V_ORIG, i);
    uint32_t crc0 = u_crc32(a, NWORDS);
    u_print(US("array of %u words: crc32 0x%x\n"), NWORDS, crc0);
    u_print(US("write(kernel address) = 0x%x, wait(2) (not my child) = 0x%x\n"),
            u_write(KERNEL_PROBE, 4), u_wait(2));

    /* A child (which forks a grandchild) shares the array copy-on-write. */
    uint32_t c = u_fork();
    if (c == 0)
        child(a, crc0);
    a[INIT_POKE] ^= 0xFFFF;
    report_child(US("fork 1"), c, u_wait(c));
    uint32_t m = u_mismatches(a, V_INIT);
    u_print(US("init's array after the child and grandchild: %u mismatches\n"), m);
    bad += m;

    /* Two siblings write the same page and the same fresh heap pages. */
    volatile uint32_t *b = (volatile uint32_t *)u_sbrk(2 * PAGE);
    uint32_t s1 = u_fork();
    if (s1 == 0)
        sibling(a, b, 3);
    uint32_t s2 = u_fork();
    if (s2 == 0)
        sibling(a, b, 5);
    report_child(US("sibling 1"), s1, u_wait(s1));
    report_child(US("sibling 2"), s2, u_wait(s2));
    m = u_mismatches(a, V_INIT);
    u_print(US("init's array after the siblings: %u mismatches; b[0] = %u\n"), m, b[0]);
    bad += m + b[0];

    /* Children that the kernel must kill. */
    c = u_fork();
    if (c == 0) {
        *(volatile uint32_t *)UCODE_BASE = 0;
        u_exit(0);
    }
    report_child(US("write to the code page"), c, u_wait(c));
    c = u_fork();
    if (c == 0)
        u_exit(*(volatile uint32_t *)KERNEL_PROBE);
    report_child(US("read of kernel memory"), c, u_wait(c));
    c = u_fork();
    if (c == 0) {
        volatile uint32_t *q = (volatile uint32_t *)u_sbrk(PAGE);
        q[0] = 0x77;
        u_sbrk(0u - PAGE); /* unmapped by the kernel, with INVLPG */
        u_exit(q[0]);
    }
    report_child(US("read of a page sbrk gave back"), c, u_wait(c));
    c = u_fork();
    if (c == 0) {
        __asm__ volatile("hlt");
        u_exit(0);
    }
    report_child(US("hlt at CPL 3"), c, u_wait(c));
    u_print(US("wait(%u) again = 0x%x\n"), c, u_wait(c));

    uint32_t crc = u_crc32(a, NWORDS);
    u_print(US("init done: crc32 0x%x, %u problems\n"), crc, bad);
    u_exit(bad ? STATUS_BAD : crc & 0xFFFF);
}

/* pid 2: recursion, then the preemption proof. */
UFN __attribute__((noreturn)) void task_spinner(void)
{
    unsigned fib = u_fib(FIB_N);
    uint32_t h = u_hanoi(HANOI_N, 0, 2, 1, 0);
    u_print(US("spinner %u: fib(%u) = %u, hanoi(%u) move hash 0x%x\n"), u_getpid(), FIB_N, fib,
            HANOI_N, h);
    USH->request = 1;
    uint32_t n = 0;
    while (USH->ack == 0 && n < SPIN_LIMIT) /* no system call in here */
        n++;
    bool acked = USH->ack != 0;
    u_print(acked ? US("spinner: the helper acknowledged while I spun without a system call\n")
                  : US("spinner: no acknowledgement (never preempted?)\n"));
    u_exit(acked ? (fib + h) & 0xFFFF : STATUS_BAD);
}

/* pid 3: yields until the spinner asks, acknowledges, then sieves. */
UFN __attribute__((noreturn)) void task_helper(void)
{
    uint32_t n = 0;
    while (USH->request == 0 && n < YIELD_LIMIT) {
        u_yield();
        n++;
    }
    bool asked = USH->request != 0;
    USH->ack = 1;
    u_print(asked ? US("helper %u: saw the spinner's request, acknowledged\n")
                  : US("helper %u: the request never came\n"),
            u_getpid());
    volatile uint8_t *s = (volatile uint8_t *)u_sbrk(SIEVE_BYTES);
    uint32_t primes = 0;
    for (uint32_t i = 2; i < SIEVE_BYTES; i++) {
        if (s[i])
            continue;
        primes++;
        if (i < 256)
            for (uint32_t j = i * i; j < SIEVE_BYTES; j += i)
                s[j] = 1;
    }
    u_print(US("helper: %u primes below %u (sieve in demand-zero heap pages)\n"), primes,
            SIEVE_BYTES);
    u_exit(asked ? primes : STATUS_BAD);
}

/* =============================================================================
 * Kernel side (ring 0)
 * ============================================================================= */

void mp_enter_user(const struct rt_frame *frame);
extern char mp_ring0_return[];
extern char __bss_end[];

__attribute__((noreturn, format(printf, 1, 2))) static void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_printf("kernel panic: ");
    rt_vprintf(fmt, ap);
    rt_printf("\n");
    va_end(ap);
    rt_exit(RT_EXIT_FAIL);
}

static inline void invlpg(uint32_t va)
{
    __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* ---- physical frames: a pool in .bss, reference-counted ------------------------ */

#define NFRAMES 256
static uint8_t pool[NFRAMES][PAGE] __attribute__((aligned(PAGE)));
static uint16_t refcnt[NFRAMES];
static uint16_t free_list[NFRAMES];
static unsigned nfree;

static void frames_init(void)
{
    for (unsigned i = 0; i < NFRAMES; i++)
        free_list[nfree++] = (uint16_t)(NFRAMES - 1 - i);
}

static unsigned frame_index(uint32_t pa)
{
    uint32_t i = (pa - (uint32_t)pool) / PAGE;
    if (pa < (uint32_t)pool || i >= NFRAMES || refcnt[i] == 0)
        panic("bad frame 0x%x", pa);
    return i;
}

static uint32_t frame_alloc(void)
{
    if (nfree == 0)
        panic("out of frames");
    unsigned i = free_list[--nfree];
    refcnt[i] = 1;
    memset(pool[i], 0, PAGE);
    return (uint32_t)pool[i];
}

static void frame_ref(uint32_t pa)
{
    refcnt[frame_index(pa)]++;
}

static void frame_unref(uint32_t pa)
{
    unsigned i = frame_index(pa);
    if (--refcnt[i] == 0)
        free_list[nfree++] = (uint16_t)i;
}

/* ---- page tables (32-bit paging, SDM Vol. 3A §4.3) ------------------------------ */

static uint32_t kernel_pd[1024] __attribute__((aligned(PAGE)));
static uint32_t kernel_pt[1024] __attribute__((aligned(PAGE)));

/* The PTE of va, or NULL when its page table is absent and !create. Every
 * page directory and table is reached through the identity map. */
static uint32_t *pte_of(uint32_t *pd, uint32_t va, bool create)
{
    uint32_t *pde = &pd[va >> 22];
    if (!(*pde & PTE_P)) {
        if (!create)
            return NULL;
        /* U and W at the directory level: the PTE decides (the access rights
         * of a translation are the most restrictive of both, §4.6.1). */
        *pde = frame_alloc() | PTE_P | PTE_W | PTE_U;
    }
    uint32_t *pt = (uint32_t *)(*pde & PAGE_MASK);
    return &pt[(va >> 12) & 0x3FF];
}

static void map_page(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags)
{
    *pte_of(pd, va, true) = pa | flags;
}

static bool cpu_has_pge(void)
{
    uint32_t a = 1, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return d & CPUID_PGE;
}

static void paging_init(void)
{
    if ((uint32_t)__bss_end > IDENTITY_END)
        panic("the kernel image ends beyond the identity map");
    /* Global kernel pages survive the CR3 loads of every process switch
     * (§4.10.2.4); the kernel's mappings never change, so no INVLPG is ever
     * owed for them. Page 0 stays not-present to catch null pointers. */
    bool pge = cpu_has_pge();
    for (uint32_t i = 1; i < 1024; i++)
        kernel_pt[i] = (i * PAGE) | PTE_P | PTE_W | (pge ? PTE_G : 0);
    kernel_pd[0] = (uint32_t)kernel_pt | PTE_P | PTE_W;
    write_cr3((uint32_t)kernel_pd);
    if (pge)
        write_cr4(read_cr4() | CR4_PGE);
    /* The code that sets PG is identity-mapped, so the next fetch resolves
     * to the same bytes (§9.9.1). WP makes read-only pages read-only for
     * the kernel too (§2.5), as a kernel relying on copy-on-write needs. */
    write_cr0(read_cr0() | CR0_PG | CR0_WP);
}

/* ---- processes ------------------------------------------------------------------ */

#define NPROC       16
#define KSTACK_SIZE 8192
#define OUTBUF      1024

enum pstate { P_UNUSED, P_RUNNABLE, P_WAITING, P_ZOMBIE, P_DEAD };

struct proc {
    enum pstate state;
    const char *name; /* the three tasks the kernel starts; NULL for forks */
    unsigned pid, ppid, parent, wait_for;
    uint32_t *pd;
    uint32_t brk;
    uint32_t kstack_top;
    struct rt_frame tf; /* user registers while not running */
    uint32_t status;
    bool killed;
    uint32_t kill_vector, kill_error;
    const char *kill_where;
    unsigned forks, cow_heap, zero_fill;
    unsigned preempted, yields; /* timing-dependent: verbose only */
    char out[OUTBUF];
    unsigned outlen;
    bool overflow;
};

static struct proc procs[NPROC + 1]; /* indexed by pid; slots are never reused */
static uint8_t kstacks[NPROC + 1][KSTACK_SIZE] __attribute__((aligned(16)));
static unsigned npids;
static struct proc *cur;

/* Timing-dependent counters: used in checks, never printed. */
static unsigned user_traps, bad_kstack, bad_cr3, bad_segs, preemptions, stack_cow, kernel_ticks;
static unsigned total_forks;

static uint32_t image_code[UIMAGE_MAX / PAGE], image_ro[UIMAGE_MAX / PAGE];
static unsigned ncode, nro;
static uint32_t shared_frame;

static uint32_t ucode_addr(void (*fn)(void))
{
    return (uint32_t)fn - (uint32_t)__start_utext + UCODE_BASE;
}

/* Copies [start, stop) of the kernel image into fresh frames: the program
 * "file" that processes map read-only. */
static unsigned load_section(const char *start, const char *stop, uint32_t *frames)
{
    uint32_t size = (uint32_t)(stop - start), n = (size + PAGE - 1) / PAGE;
    if (size > UIMAGE_MAX)
        panic("user section of %u bytes is too large", size);
    for (uint32_t i = 0; i < n; i++) {
        frames[i] = frame_alloc();
        uint32_t chunk = size - i * PAGE < PAGE ? size - i * PAGE : PAGE;
        memcpy((void *)frames[i], start + i * PAGE, chunk);
    }
    return n;
}

static struct proc *proc_new(unsigned parent)
{
    if (npids == NPROC)
        panic("out of process slots");
    struct proc *p = &procs[++npids];
    p->pid = npids;
    p->ppid = p->parent = parent;
    p->kstack_top = (uint32_t)kstacks[p->pid] + KSTACK_SIZE;
    p->pd = (uint32_t *)frame_alloc();
    p->pd[0] = kernel_pd[0]; /* the kernel, supervisor-only, in every space */
    return p;
}

static void spawn(const char *name, void (*entry)(void), bool shared)
{
    struct proc *p = proc_new(0);
    p->name = name;
    for (unsigned i = 0; i < ncode; i++) {
        map_page(p->pd, UCODE_BASE + i * PAGE, image_code[i], PTE_P | PTE_U);
        frame_ref(image_code[i]);
    }
    for (unsigned i = 0; i < nro; i++) {
        map_page(p->pd, URO_BASE + i * PAGE, image_ro[i], PTE_P | PTE_U);
        frame_ref(image_ro[i]);
    }
    if (shared) {
        map_page(p->pd, USHARED, shared_frame, PTE_P | PTE_W | PTE_U | PTE_SHARED);
        frame_ref(shared_frame);
    }
    for (unsigned i = 1; i <= USTACK_PAGES; i++)
        map_page(p->pd, USTACK_TOP - i * PAGE, frame_alloc(), PTE_P | PTE_W | PTE_U);
    p->brk = HEAP_BASE;
    p->tf.eip = ucode_addr(entry);
    p->tf.cs = RT_SEL_UCODE | 3;
    p->tf.eflags = EFLAGS_BIT1 | EFLAGS_IF;
    /* As if called: a (zero) return address at ESP, ESP + 4 16-byte aligned. */
    p->tf.user_esp = USTACK_TOP - 4;
    p->tf.user_ss = RT_SEL_UDATA | 3;
    p->tf.ds = p->tf.es = p->tf.fs = p->tf.gs = RT_SEL_UDATA | 3;
    p->state = P_RUNNABLE;
}

static void free_address_space(struct proc *p)
{
    for (unsigned d = 1; d < 1024; d++) {
        if (!(p->pd[d] & PTE_P))
            continue;
        uint32_t *pt = (uint32_t *)(p->pd[d] & PAGE_MASK);
        for (unsigned i = 0; i < 1024; i++)
            if (pt[i] & PTE_P)
                frame_unref(pt[i] & PAGE_MASK);
        frame_unref((uint32_t)pt);
    }
    frame_unref((uint32_t)p->pd);
    p->pd = NULL;
}

/* ---- scheduling: frames are swapped in place ------------------------------------ */

/*
 * The kernel is not preemptible (every gate is an interrupt gate, so IF is
 * clear in ring 0) and every switch happens at the end of a trap from ring
 * 3. The outgoing process's registers are saved from the trap frame and the
 * incoming one's are copied over it, so the runtime's common path IRETs into
 * the new process. The new process's next trap lands on its own kernel
 * stack: the processor takes SS0:ESP0 from the TSS on a transition to ring
 * 0 (SDM Vol. 3A §6.12.1, §7.2.1), hence TSS.esp0 is switched with CR3.
 */
static void switch_to(struct rt_frame *f, struct proc *next)
{
    cur = next;
    *f = next->tf;
    rt_tss.esp0 = next->kstack_top;
    /* Flushes every non-global translation of the previous process
     * (§4.10.4.1); the kernel's global ones stay. */
    write_cr3((uint32_t)next->pd);
}

/* Back to mp_enter_user's caller once no process is left. */
static void return_to_kernel(struct rt_frame *f)
{
    outb(0x21, 0xFF); /* no more timer interrupts */
    f->eip = (uint32_t)mp_ring0_return;
    f->cs = RT_SEL_KCODE;
    f->eflags = EFLAGS_BIT1;
    f->ds = f->es = f->fs = f->gs = RT_SEL_KDATA;
    cur = NULL;
}

/* Round robin from the pid after the current one. Returns true when a
 * different process will run. */
static bool resched(struct rt_frame *f)
{
    struct proc *next = NULL;
    bool waiting = false;
    for (unsigned k = 1; k <= npids; k++) {
        struct proc *p = &procs[(cur->pid - 1 + k) % npids + 1];
        waiting |= p->state == P_WAITING;
        if (p->state == P_RUNNABLE) {
            next = p;
            break;
        }
    }
    if (next == cur)
        return false;
    if (cur->state == P_RUNNABLE || cur->state == P_WAITING)
        cur->tf = *f;
    if (next == NULL) {
        if (waiting)
            panic("every process waits");
        return_to_kernel(f);
        return true;
    }
    switch_to(f, next);
    return true;
}

/* Bookkeeping of every trap from ring 3: it must arrive on the current
 * process's kernel stack with its page directory loaded. */
static void trap_from_user(struct rt_frame *f)
{
    user_traps++;
    if ((uint32_t)f + sizeof(*f) != cur->kstack_top)
        bad_kstack++;
    if (read_cr3() != (uint32_t)cur->pd)
        bad_cr3++;
    if (f->cs != (RT_SEL_UCODE | 3) || f->user_ss != (RT_SEL_UDATA | 3))
        bad_segs++;
}

static void proc_exit(struct rt_frame *f, uint32_t status)
{
    /* Leave the address space before freeing its page directory. */
    write_cr3((uint32_t)kernel_pd);
    free_address_space(cur);
    cur->status = status;
    for (unsigned pid = 1; pid <= npids; pid++) {
        struct proc *c = &procs[pid];
        if (c->parent == cur->pid && c->state != P_DEAD) {
            c->parent = 0; /* orphans are reaped by the kernel */
            if (c->state == P_ZOMBIE)
                c->state = P_DEAD;
        }
    }
    struct proc *parent = cur->parent ? &procs[cur->parent] : NULL;
    if (parent && parent->state == P_WAITING && parent->wait_for == cur->pid) {
        parent->tf.eax = status; /* completes the parent's wait() */
        parent->state = P_RUNNABLE;
        cur->state = P_DEAD;
    } else {
        cur->state = parent ? P_ZOMBIE : P_DEAD;
    }
    resched(f);
}

static void kill(struct rt_frame *f, uint32_t vector, uint32_t error, const char *where)
{
    cur->killed = true;
    cur->kill_vector = vector;
    cur->kill_error = error;
    cur->kill_where = where;
    proc_exit(f, KILLED(vector, error));
}

/* ---- system calls ---------------------------------------------------------------- */

/* Copies from user memory through the page tables, as the kernel never
 * dereferences user addresses: -1 unless every byte is in present U pages. */
static int copy_from_user(char *dst, uint32_t src, uint32_t len)
{
    if (src < USER_LO || src >= USER_HI || len > USER_HI - src)
        return -1;
    while (len > 0) {
        uint32_t *pte = pte_of(cur->pd, src, false);
        if (!pte || (*pte & (PTE_P | PTE_U)) != (PTE_P | PTE_U))
            return -1;
        uint32_t off = src & ~PAGE_MASK, n = PAGE - off < len ? PAGE - off : len;
        memcpy(dst, (const char *)(*pte & PAGE_MASK) + off, n);
        dst += n;
        src += n;
        len -= n;
    }
    return 0;
}

static uint32_t sys_write(uint32_t buf, uint32_t len)
{
    uint32_t room = OUTBUF - cur->outlen, n = len < room ? len : room;
    if (copy_from_user(cur->out + cur->outlen, buf, n) < 0)
        return (uint32_t)-1;
    cur->outlen += n;
    cur->overflow |= n < len;
    return len;
}

static uint32_t sys_fork(struct rt_frame *f)
{
    struct proc *c = proc_new(cur->pid);
    for (unsigned d = 1; d < 1024; d++) {
        if (!(cur->pd[d] & PTE_P))
            continue;
        uint32_t *pt = (uint32_t *)(cur->pd[d] & PAGE_MASK);
        for (unsigned i = 0; i < 1024; i++) {
            uint32_t pte = pt[i];
            if (!(pte & PTE_P))
                continue;
            /* Private writable pages become read-only copy-on-write in
             * both spaces; shared and read-only pages are just shared. */
            if (!(pte & PTE_SHARED) && (pte & (PTE_W | PTE_COW))) {
                pte = (pte & ~PTE_W) | PTE_COW;
                pt[i] = pte;
            }
            frame_ref(pte & PAGE_MASK);
            map_page(c->pd, (d << 22) | (i << 12), pte & PAGE_MASK, pte & ~PAGE_MASK);
        }
    }
    /* The parent's TLB may still hold writable translations of the pages
     * just made read-only: reload CR3 (§4.10.4.1), as one INVLPG per page
     * would cost more here. */
    write_cr3((uint32_t)cur->pd);
    c->brk = cur->brk;
    c->tf = *f;
    c->tf.eax = 0;
    c->state = P_RUNNABLE;
    cur->forks++;
    total_forks++;
    return c->pid;
}

static void sys_wait(struct rt_frame *f, uint32_t pid)
{
    struct proc *c = pid >= 1 && pid <= npids ? &procs[pid] : NULL;
    if (!c || c->parent != cur->pid || c->state == P_DEAD) {
        f->eax = (uint32_t)-1;
        return;
    }
    if (c->state == P_ZOMBIE) {
        c->state = P_DEAD;
        f->eax = c->status;
        return;
    }
    cur->state = P_WAITING; /* proc_exit of the child fills in EAX */
    cur->wait_for = pid;
    resched(f);
}

static uint32_t page_up(uint32_t a)
{
    return (a + PAGE - 1) & PAGE_MASK;
}

static uint32_t sys_sbrk(int32_t incr)
{
    uint32_t old = cur->brk, new = old + (uint32_t)incr;
    if (incr >= 0 ? new > HEAP_LIMIT || new < old : new < HEAP_BASE || new > old)
        return (uint32_t)-1;
    /* Giving memory back unmaps whole pages; a present translation may be
     * cached, so each is invalidated (§4.10.4.1, INVLPG). */
    for (uint32_t va = page_up(new); va < page_up(old); va += PAGE) {
        uint32_t *pte = pte_of(cur->pd, va, false);
        if (pte && (*pte & PTE_P)) {
            frame_unref(*pte & PAGE_MASK);
            *pte = 0;
            invlpg(va);
        }
    }
    cur->brk = new;
    return old;
}

static void syscall_handler(struct rt_frame *f)
{
    trap_from_user(f);
    switch (f->eax) {
    case SYS_WRITE:
        f->eax = sys_write(f->ebx, f->ecx);
        break;
    case SYS_GETPID:
        f->eax = cur->pid;
        break;
    case SYS_YIELD:
        f->eax = 0;
        cur->yields++;
        resched(f);
        break;
    case SYS_FORK:
        f->eax = sys_fork(f);
        break;
    case SYS_EXIT:
        proc_exit(f, f->ebx);
        break;
    case SYS_WAIT:
        sys_wait(f, f->ebx);
        break;
    case SYS_SBRK:
        f->eax = sys_sbrk((int32_t)f->ebx);
        break;
    default:
        f->eax = (uint32_t)-1;
        break;
    }
}

/* ---- faults and interrupts ------------------------------------------------------ */

static const char *region_of(uint32_t va)
{
    if (va < USER_LO)
        return "kernel memory";
    if (va < UCODE_BASE + UIMAGE_MAX)
        return "code";
    if (va >= URO_BASE && va < URO_BASE + UIMAGE_MAX)
        return "read-only data";
    if (va >= HEAP_BASE && va < HEAP_LIMIT)
        return "heap";
    if (va >= USTACK_TOP - USTACK_PAGES * PAGE && va < USTACK_TOP)
        return "stack";
    return "unmapped";
}

static void page_fault_handler(struct rt_frame *f)
{
    uint32_t va = read_cr2(), err = f->error_code;
    if (!(f->cs & 3))
        panic("#PF in the kernel: eip=0x%x cr2=0x%x err=0x%x", f->eip, va, err);
    trap_from_user(f);
    uint32_t *pte = pte_of(cur->pd, va, false);

    if ((err & (PF_P | PF_W | PF_U)) == (PF_P | PF_W | PF_U) && pte && (*pte & PTE_COW)) {
        uint32_t old = *pte & PAGE_MASK;
        if (refcnt[frame_index(old)] > 1) {
            uint32_t copy = frame_alloc();
            memcpy((void *)copy, (const void *)old, PAGE);
            frame_unref(old);
            *pte = copy | PTE_P | PTE_W | PTE_U;
        } else {
            /* The other sharers are gone: the frame is ours already. */
            *pte = (*pte & ~PTE_COW) | PTE_W;
        }
        /* The read-only translation (of the old frame, after a copy) may be
         * cached and must not be used again (§4.10.4.2). */
        invlpg(va);
        if (va >= HEAP_BASE && va < HEAP_LIMIT)
            cur->cow_heap++;
        else
            stack_cow++;
        return;
    }
    if (!(err & PF_P) && va >= HEAP_BASE && va < page_up(cur->brk)) {
        /* Not-present translations are never cached (§4.10.2.3): no INVLPG. */
        map_page(cur->pd, va & PAGE_MASK, frame_alloc(), PTE_P | PTE_W | PTE_U);
        cur->zero_fill++;
        return;
    }
    kill(f, 14, err, region_of(va));
}

static void user_exception_handler(struct rt_frame *f)
{
    if (!(f->cs & 3))
        panic("exception %u in the kernel: eip=0x%x err=0x%x", f->vector, f->eip, f->error_code);
    trap_from_user(f);
    kill(f, f->vector, f->error_code, "");
}

#define PIT_CH0 0x40
#define PIT_CMD 0x43
#define PIT_1MS 1193 /* 1193182 Hz / 1000 */

static void timer_handler(struct rt_frame *f)
{
    outb(PIC1_CMD, PIC_EOI);
    if (!(f->cs & 3)) {
        kernel_ticks++; /* cannot happen: the kernel runs with IF = 0 */
        return;
    }
    trap_from_user(f);
    struct proc *was = cur;
    if (resched(f)) {
        was->preempted++;
        preemptions++;
    }
}

/* IRQ7 is masked, so vector 0x27 can only be the 8259A's spurious
 * interrupt, which must not be acknowledged with an EOI. */
static void spurious_handler(struct rt_frame *f)
{
    (void)f;
}

static void pic_pit_init(void)
{
    rt_pic_init(0xFF, 0xFF);
    outb(PIT_CMD, 0x34); /* channel 0, lobyte/hibyte, mode 2, binary */
    outb(PIT_CH0, PIT_1MS & 0xFF);
    outb(PIT_CH0, PIT_1MS >> 8);
}

/* ---- the kernel's own model of the results --------------------------------------- */

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        crc_table[i] = c;
    }
}

/* Table-driven, so independent of the user's bitwise loop. */
static uint32_t k_crc32(const uint32_t *w, uint32_t nwords)
{
    const uint8_t *p = (const uint8_t *)w;
    uint32_t crc = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < nwords * 4; i++)
        crc = (crc >> 8) ^ crc_table[(crc ^ p[i]) & 0xFF];
    return ~crc;
}

static uint32_t model[NWORDS];

static uint32_t model_crc(enum variant v)
{
    for (uint32_t i = 0; i < NWORDS; i++) {
        uint32_t x = (i + 1) * 0x9E3779B1u;
        if (v == V_INIT && i == INIT_POKE)
            x ^= 0xFFFF;
        if (v == V_CHILD || v == V_GRAND)
            x = i == CHILD_POKE ? 0x12345678 : i < WPP ? x + 1 : x;
        if (v == V_GRAND)
            x = i == GRAND_POKE ? 7 : i < WPP ? ~x : x;
        model[i] = x;
    }
    return k_crc32(model, NWORDS);
}

static uint32_t model_sibling(uint32_t k)
{
    uint32_t h = 0;
    for (uint32_t i = 0; i < WPP; i++)
        model[i] = (WPP + i + 1) * 0x9E3779B1u;
    for (uint32_t r = 0; r < SIB_ROUNDS; r++) {
        for (uint32_t i = 0; i < WPP; i++)
            model[i] = model[i] * 3 + k;
        h = h * 31 + k_crc32(model, WPP);
    }
    return h & 0xFFFF;
}

static uint32_t k_hanoi(unsigned n, unsigned from, unsigned to, unsigned via, uint32_t h)
{
    if (n == 0)
        return h;
    h = k_hanoi(n - 1, from, via, to, h);
    h = h * 31 + from * 3 + to;
    return k_hanoi(n - 1, via, to, from, h);
}

static uint32_t k_fib(unsigned n)
{
    uint32_t a = 0, b = 1;
    while (n--) {
        uint32_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}

struct expectation {
    uint32_t status;
    unsigned forks, cow_heap, zero_fill;
    const char *why;
};

/* ---- report ------------------------------------------------------------------------ */

static const char *vector_name(uint32_t v)
{
    return v == 14 ? "#PF" : v == 13 ? "#GP" : v == 6 ? "#UD" : v == 0 ? "#DE" : "exception";
}

static void print_proc(const struct proc *p)
{
    if (p->name)
        rt_printf("pid %u %s (started by the kernel)", p->pid, p->name);
    else
        rt_printf("pid %u (forked by pid %u)", p->pid, p->ppid);
    rt_printf(": exit status 0x%x", p->status);
    if (p->killed)
        rt_printf(", killed by %s err=0x%x%s%s", vector_name(p->kill_vector), p->kill_error,
                  *p->kill_where ? " in " : "", p->kill_where);
    rt_printf("\n    forks %u, copy-on-write faults on the heap %u, zero-fill faults %u\n",
              p->forks, p->cow_heap, p->zero_fill);
    bool bol = true;
    for (unsigned i = 0; i < p->outlen; i++) {
        if (bol)
            rt_write("    | ", 6);
        rt_putc(p->out[i]);
        bol = p->out[i] == '\n';
    }
    if (!bol)
        rt_putc('\n');
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    frames_init();
    crc_init();
    paging_init();
    CHECK((read_cr0() & (CR0_PG | CR0_WP)) == (CR0_PG | CR0_WP) &&
              read_cr3() == (uint32_t)kernel_pd,
          "paging on (CR0.PG, CR0.WP), CR3 = the kernel's page directory");

    ncode = load_section(__start_utext, __stop_utext, image_code);
    nro = load_section(__start_urodata, __stop_urodata, image_ro);
    shared_frame = frame_alloc();
    spawn("init", task_init, false);
    spawn("spinner", task_spinner, true);
    spawn("helper", task_helper, true);
    /* The processes hold the program's frames now. */
    for (unsigned i = 0; i < ncode; i++)
        frame_unref(image_code[i]);
    for (unsigned i = 0; i < nro; i++)
        frame_unref(image_ro[i]);
    frame_unref(shared_frame);
    rt_printf("kernel: %u processes created, switching to pid 1\n", npids);

    for (unsigned v = 0; v < 32; v++)
        rt_set_handler(v, user_exception_handler);
    rt_set_handler(14, page_fault_handler);
    rt_set_handler(0x20, timer_handler);
    rt_set_handler(0x27, spurious_handler);
    rt_set_handler(0x80, syscall_handler);
    rt_set_gate_attr(0x80, RT_GATE_INTR | RT_ACC_DPL(3));
    rt_load_tss(procs[1].kstack_top);
    pic_pit_init();
    outb(PIC1_DATA, 0xFE); /* IRQ0 only */

    cur = &procs[1];
    write_cr3((uint32_t)cur->pd);
    mp_enter_user(&cur->tf);

    /* Every process has exited. */
    CHECK(read_cr3() == (uint32_t)kernel_pd && !(read_eflags() & EFLAGS_IF),
          "back in the kernel after the last exit, in its own address space, IF = 0");
    for (unsigned pid = 1; pid <= npids; pid++)
        print_proc(&procs[pid]);

    uint32_t crc_init = model_crc(V_INIT) & 0xFFFF, crc_child = model_crc(V_CHILD) & 0xFFFF;
    uint32_t crc_grand = model_crc(V_GRAND) & 0xFFFF;
    const struct expectation want[] = {
        [1] = {crc_init, 7, 1, 5, "init: array page 3 after fork; 4 + 1 heap pages"},
        [2] = {(k_fib(FIB_N) + k_hanoi(HANOI_N, 0, 2, 1, 0)) & 0xFFFF, 0, 0, 0, "spinner"},
        [3] = {6542, 0, 0, SIEVE_BYTES / PAGE, "helper: pi(65536) = 6542, 16 sieve pages"},
        [4] = {crc_child, 1, 2, 0, "child: array pages 0 and 2"},
        [5] = {crc_grand, 0, 2, 0, "grandchild: array pages 0 and 1"},
        [6] = {model_sibling(3), 0, 1, 2, "sibling k=3: array page 1; b pages 0 and 1"},
        [7] = {model_sibling(5), 0, 1, 2, "sibling k=5: array page 1; b pages 0 and 1"},
        [8] = {KILLED(14, PF_P | PF_W | PF_U), 0, 0, 0, "write to the code page"},
        [9] = {KILLED(14, PF_P | PF_U), 0, 0, 0, "read of a supervisor page"},
        [10] = {KILLED(14, PF_U), 0, 0, 1, "read of a page sbrk gave back"},
        [11] = {KILLED(13, 0), 0, 0, 0, "hlt at CPL 3: #GP(0)"},
    };
    const unsigned nwant = sizeof(want) / sizeof(want[0]) - 1;
    CHECK_EQ(npids, nwant, "processes that ran");
    for (unsigned pid = 1; pid <= nwant && pid <= npids; pid++) {
        const struct proc *p = &procs[pid];
        const struct expectation *w = &want[pid];
        CHECK(p->state == P_DEAD && p->status == w->status && p->forks == w->forks &&
                  p->cow_heap == w->cow_heap && p->zero_fill == w->zero_fill,
              "pid %u (%s): status 0x%x (want 0x%x), forks %u/%u, heap COW faults %u/%u, "
              "zero-fill faults %u/%u",
              pid, w->why, p->status, w->status, p->forks, w->forks, p->cow_heap, w->cow_heap,
              p->zero_fill, w->zero_fill);
    }
    CHECK_EQ(total_forks, 8, "forks in all");
    bool overflow = false;
    for (unsigned pid = 1; pid <= npids; pid++)
        overflow |= procs[pid].overflow;
    CHECK(!overflow, "no write() buffer overflowed");
    CHECK(user_traps > 0 && bad_kstack == 0,
          "every trap from ring 3 arrived on the current process's kernel stack (TSS.esp0)");
    CHECK(bad_cr3 == 0, "CR3 held the current process's page directory at every trap");
    CHECK(bad_segs == 0, "every trap from ring 3 came from CS 0x1b, SS 0x23");
    CHECK(kernel_ticks == 0, "no timer interrupt in ring 0");
    CHECK(preemptions > 0, "the timer preempted ring-3 code at least once");
    CHECK(stack_cow > 0, "stack pages were copy-on-write too");
    CHECK_EQ(nfree, NFRAMES, "frames back in the pool after the last exit");
    if (rt_verbose) {
        rt_printf("verbose: %u traps from ring 3, %u preemptions, %u stack COW faults\n",
                  user_traps, preemptions, stack_cow);
        for (unsigned pid = 1; pid <= npids; pid++)
            rt_printf("verbose: pid %u preempted %u times, %u yields\n", pid, procs[pid].preempted,
                      procs[pid].yields);
    }
    rt_finish();
}
