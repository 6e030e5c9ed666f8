/*
 * guest-tests/paging_faults.c — page faults under 32-bit paging: the error
 * code (SDM Vol. 3A §4.7: P bit 0 = protection violation rather than
 * not-present, W/R bit 1 = write, U/S bit 2 = user-mode access; I/D bit 4
 * stays 0 for fetches because neither SMEP nor PAE with NXE is on), CR2 (the
 * faulting linear address) and the EIP pushed (the faulting instruction:
 * #PF is a fault, §6.15).
 *
 * Covered: not-present PTE and not-present PDE, reads and writes, at CPL 0
 * and CPL 3; the access rights of §4.6 — user access to a supervisor page,
 * user write to a read-only page, supervisor write to a read-only page with
 * CR0.WP = 1 (faults) and WP = 0 (allowed; user writes still fault),
 * supervisor access to user pages (no SMAP); a PDE whose R/W or U/S is 0
 * over a PTE that allows the access (the most restrictive wins, §4.6.1);
 * instruction fetch from a not-present page and, at CPL 3, from a
 * supervisor page; a data access and an instruction that straddle into a
 * not-present page (CR2 = the first byte of the page that faulted); a push
 * onto a not-present or read-only ring-3 stack page (saved ESP unchanged);
 * REP MOVSD/STOSD running into a not-present page (ECX/ESI/EDI and EIP as
 * the REP prefix defines for an interrupted string instruction: registers
 * reflect the completed iterations, EIP the string instruction), resumed
 * after the handler maps the page (P 0 -> 1 needs no INVLPG, §4.10.4.3);
 * and a R/W 0 -> 1 upgrade without INVLPG, for which a spurious #PF is
 * allowed (§4.10.4.3) and then a plain retry must succeed, because the
 * fault itself invalidated the stale translation (§4.10.4.1).
 *
 * Ring-3 probes are one instruction each (paging_faults_user.S); the
 * identity map of the kernel is user-accessible so that ring 3 can run the
 * kernel's code. Test pages are at fixed linear addresses (0x40000000 up),
 * printed as such; kernel addresses only as offsets.
 */
#include "paging.h"

#define SEL_UCODE3 (RT_SEL_UCODE | 3)

/* Test pages (frames from the pool; PTE flags in test_setup). */
#define NP_PAGE   0x40000000u /* PTE not present */
#define S_RW      0x40001000u /* supervisor, read/write */
#define U_RO      0x40002000u /* user, read-only */
#define S_RO      0x40003000u /* supervisor, read-only */
#define U_RW      0x40004000u /* user, read/write: INT 0x81 at +0, MOV opcode at +0xffe */
#define NP_NEXT   0x40005000u /* not present, right after U_RW */
#define NP_STACK  0x40006000u /* not present: ring-3 stack page below 0x40007000 */
#define UPGRADE   0x40007000u /* user, read-only, then made writable */
#define REP_DST   0x40010000u /* supervisor RW, then REP_DST2 not present */
#define REP_DST2  0x40011000u
#define STOS_DST  0x40012000u /* supervisor RW, then STOS_DST2 not present */
#define STOS_DST2 0x40013000u
#define REP_SRC   0x40014000u /* supervisor RW, then REP_SRC2 not present */
#define REP_SRC2  0x40015000u
#define NP_PDE    0x40400000u /* PDE not present */
#define PDE_RO    0x40800000u /* PDE R/W = 0, PTE P|RW|US */
#define PDE_SUP   0x40C00000u /* PDE U/S = 0, PTE P|RW|US */

void pgf_user_run(uint32_t eip, uint32_t esp, uint32_t esi, uint32_t edi);
extern char pgf_user_return[], pgf_user_read[], pgf_user_write[], pgf_user_push[], pgf_user_jump[];

static uint32_t *pd;
static uint32_t *f_s_rw, *f_u_ro, *f_s_ro, *f_u_rw, *f_upgrade, *f_rep[6], *f_pde_ro, *f_pde_sup;

static uint8_t kstack[8192] __attribute__((aligned(16)));
static uint8_t ustack[4096] __attribute__((aligned(16)));
#define KSTACK_TOP ((uint32_t)kstack + sizeof(kstack))
#define USTACK_TOP ((uint32_t)ustack + sizeof(ustack))

/* ---- the #PF handler ------------------------------------------------------------ */

uint32_t probe_at, probe_next;
#define PROBE_BEGIN "movl $1f, probe_at\n\tmovl $2f, probe_next\n1:\t"
#define PROBE_END   "\n2:"

/* What the handler does with a ring-0 fault on the page fix_la. */
enum fix_mode {
    FIX_NONE,  /* resume at probe_next */
    FIX_MAP,   /* *fix_pte = fix_value (P 0 -> 1), retry the instruction */
    FIX_RETRY, /* retry the instruction as it is */
};
static enum fix_mode fix;
static uint32_t fix_la, fix_value, *fix_pte;

/* The first fault of a probe, and how many there were. */
static struct {
    unsigned count;
    uint32_t error, cr2, eip, cs, ecx, esi, edi, user_esp;
} last;

/* INT 0x81: ring 3 ended its probe without faulting. */
static struct {
    unsigned count;
    uint32_t eip, eax;
} user_exit;

static void to_ring0(struct rt_frame *f)
{
    /* IRET at the same level pops EIP, CS and EFLAGS only; pgf_user_return
     * abandons the rest of the ESP0 stack. */
    f->eip = (uint32_t)pgf_user_return;
    f->cs = RT_SEL_KCODE;
    f->eflags = EFLAGS_BIT1;
    f->ds = f->es = f->fs = f->gs = RT_SEL_KDATA;
}

static void pf_handler(struct rt_frame *f)
{
    uint32_t cr2 = read_cr2();
    if (last.count++ == 0) {
        last.error = f->error_code;
        last.cr2 = cr2;
        last.eip = f->eip;
        last.cs = f->cs;
        last.ecx = f->ecx;
        last.esi = f->esi;
        last.edi = f->edi;
        last.user_esp = (f->cs & 3) ? f->user_esp : 0;
    }
    if (f->cs & 3) {
        to_ring0(f);
        return;
    }
    bool on_fix_page = (cr2 & PG_FRAME) == fix_la && last.count < 4;
    if (fix == FIX_MAP && on_fix_page) {
        pg_set(fix_pte, fix_value);
        return;
    }
    if (fix == FIX_RETRY && on_fix_page)
        return;
    f->eip = probe_next;
}

static void int81_handler(struct rt_frame *f)
{
    user_exit.count++;
    user_exit.eip = f->eip;
    user_exit.eax = f->eax;
    to_ring0(f);
}

static void reset(void)
{
    memset(&last, 0, sizeof(last));
    memset(&user_exit, 0, sizeof(user_exit));
    fix = FIX_NONE;
}

/* ---- probes ------------------------------------------------------------------- */

static uint32_t k_read(uint32_t la)
{
    uint32_t v = 0xDEADBEEF;
    reset();
    __asm__ volatile(PROBE_BEGIN "movl (%1), %0" PROBE_END : "+r"(v) : "r"(la) : "memory");
    return v;
}

static void k_write(uint32_t la, uint32_t v)
{
    reset();
    __asm__ volatile(PROBE_BEGIN "movl %1, (%0)" PROBE_END : : "r"(la), "r"(v) : "memory");
}

static void k_jump(uint32_t la)
{
    reset();
    __asm__ volatile(PROBE_BEGIN "jmp *%0" PROBE_END : : "r"(la) : "memory");
}

static void u_run(const char *entry, uint32_t esp, uint32_t esi, uint32_t edi)
{
    reset();
    pgf_user_run((uint32_t)entry, esp, esi, edi);
}

static void u_read(uint32_t la)
{
    u_run(pgf_user_read, USTACK_TOP, la, 0);
}

static void u_write(uint32_t la)
{
    u_run(pgf_user_write, USTACK_TOP, 0, la);
}

/* ---- verdicts ------------------------------------------------------------------ */

static const char *where(uint32_t eip, uint32_t want)
{
    return eip == want ? "at the instruction" : "elsewhere";
}

/* Exactly one #PF with this error code and CR2, pushed EIP = want_eip,
 * taken at CPL 3 when `user`. */
static void expect_pf(const char *what, uint32_t error, uint32_t cr2, uint32_t want_eip, bool user)
{
    if (last.count == 0) {
        rt_fail("%s: no #PF (expected err=0x%x cr2=0x%08x)", what, error, cr2);
        return;
    }
    uint32_t cs = user ? SEL_UCODE3 : RT_SEL_KCODE;
    bool ok = last.count == 1 && last.error == error && last.cr2 == cr2 && last.eip == want_eip &&
              last.cs == cs && user_exit.count == 0;
    CHECK(ok, "%s: #PF err=0x%x cr2=0x%08x, eip %s%s%s", what, last.error, last.cr2,
          where(last.eip, want_eip), last.cs == cs ? "" : " (wrong CPL)",
          last.count > 1 ? " (more than one #PF)" : "");
}

static void expect_kpf(const char *what, uint32_t error, uint32_t cr2)
{
    expect_pf(what, error, cr2, probe_at, false);
}

static void expect_upf(const char *what, uint32_t error, uint32_t cr2, const char *insn)
{
    expect_pf(what, error, cr2, (uint32_t)insn, true);
}

static void expect_none(const char *what, bool user)
{
    bool ok = last.count == 0 && (!user || user_exit.count == 1);
    CHECK(ok, "%s: no fault%s", what, last.count ? " (but a #PF was raised)" : "");
}

/* ---- setup -------------------------------------------------------------------- */

static uint32_t *frame(uint32_t seed)
{
    uint32_t *f = pg_alloc();
    for (unsigned i = 0; i < 1024; i++)
        f[i] = seed + i;
    return f;
}

static void test_setup(void)
{
    pd = pg_new_identity(PG_IDENTITY_BYTES, PG_P | PG_RW | PG_US);

    f_s_rw = frame(0x51000000);
    f_u_ro = frame(0x52000000);
    f_s_ro = frame(0x53000000);
    f_u_rw = frame(0x54000000);
    f_upgrade = frame(0x57000000);
    for (unsigned i = 0; i < 6; i++)
        f_rep[i] = frame(0x60000000 + (i << 16));
    f_pde_ro = frame(0x48000000);
    f_pde_sup = frame(0x4C000000);

    pg_map(pd, NP_PAGE, 0, 0);
    pg_map(pd, S_RW, (uint32_t)f_s_rw, PG_P | PG_RW);
    pg_map(pd, U_RO, (uint32_t)f_u_ro, PG_P | PG_US);
    pg_map(pd, S_RO, (uint32_t)f_s_ro, PG_P);
    pg_map(pd, U_RW, (uint32_t)f_u_rw, PG_P | PG_RW | PG_US);
    pg_map(pd, UPGRADE, (uint32_t)f_upgrade, PG_P | PG_US);
    pg_map(pd, REP_DST, (uint32_t)f_rep[0], PG_P | PG_RW);
    pg_map(pd, STOS_DST, (uint32_t)f_rep[2], PG_P | PG_RW);
    pg_map(pd, REP_SRC, (uint32_t)f_rep[4], PG_P | PG_RW);
    /* NP_NEXT, NP_STACK and the pages after the REP ones stay zero (not
     * present) in the same page table. */

    pg_map(pd, PDE_RO, (uint32_t)f_pde_ro, PG_P | PG_RW | PG_US);
    pg_set(pg_pde(pd, PDE_RO), (pg_get(pg_pde(pd, PDE_RO)) & PG_FRAME) | PG_P | PG_US);
    pg_map(pd, PDE_SUP, (uint32_t)f_pde_sup, PG_P | PG_RW | PG_US);
    pg_set(pg_pde(pd, PDE_SUP), (pg_get(pg_pde(pd, PDE_SUP)) & PG_FRAME) | PG_P | PG_RW);

    /* U_RW: INT 0x81 at its start (a ring-3 jump target), and the first
     * two bytes of MOV EAX, imm32 at its end, the imm32 on NP_NEXT. */
    uint8_t *code = (uint8_t *)f_u_rw;
    code[0] = 0xCD;
    code[1] = 0x81;
    code[PG_SIZE - 2] = 0xB8;
    code[PG_SIZE - 1] = 0x11;

    rt_load_tss(KSTACK_TOP);
    pg_enable(pd);
    write_cr0(read_cr0() | CR0_WP);
    CHECK((read_cr0() & (CR0_PG | CR0_WP)) == (CR0_PG | CR0_WP),
          "paging on, CR0.WP=1; kernel identity-mapped user-accessible");
}

/* ---- not present ---------------------------------------------------------------- */

static void test_not_present(void)
{
    uint32_t v = k_read(NP_PAGE + 0x10);
    expect_kpf("CPL 0 read, PTE not present", 0, NP_PAGE + 0x10);
    CHECK_EQ(v, 0xDEADBEEF, "the faulting read left its destination register");
    k_write(NP_PAGE + 0x20, 1);
    expect_kpf("CPL 0 write, PTE not present", PF_W, NP_PAGE + 0x20);
    u_read(NP_PAGE + 0x30);
    expect_upf("CPL 3 read, PTE not present", PF_U, NP_PAGE + 0x30, pgf_user_read);
    u_write(NP_PAGE + 0x40);
    expect_upf("CPL 3 write, PTE not present", PF_U | PF_W, NP_PAGE + 0x40, pgf_user_write);

    k_read(NP_PDE + 0x120);
    expect_kpf("CPL 0 read, PDE not present", 0, NP_PDE + 0x120);
    k_write(NP_PDE + 0x3FFFFC, 1);
    expect_kpf("CPL 0 write, PDE not present (last dword of the 4 MiB)", PF_W, NP_PDE + 0x3FFFFC);
    u_read(NP_PDE + 0x130);
    expect_upf("CPL 3 read, PDE not present", PF_U, NP_PDE + 0x130, pgf_user_read);
    u_write(NP_PDE + 0x140);
    expect_upf("CPL 3 write, PDE not present", PF_U | PF_W, NP_PDE + 0x140, pgf_user_write);
}

/* ---- protection -------------------------------------------------------------------- */

static void test_protection(void)
{
    u_read(S_RW + 0x10);
    expect_upf("CPL 3 read of a supervisor page", PF_U | PF_P, S_RW + 0x10, pgf_user_read);
    u_write(S_RW + 0x14);
    expect_upf("CPL 3 write to a supervisor page", PF_U | PF_W | PF_P, S_RW + 0x14, pgf_user_write);
    CHECK_EQ(f_s_rw[5], 0x51000005, "supervisor page unchanged");

    u_read(U_RO + 0x18);
    expect_none("CPL 3 read of a user read-only page", true);
    CHECK_EQ(user_exit.eax, 0x52000006, "value read at CPL 3");
    u_write(U_RO + 0x1C);
    expect_upf("CPL 3 write to a user read-only page", PF_U | PF_W | PF_P, U_RO + 0x1C,
               pgf_user_write);
    CHECK_EQ(f_u_ro[7], 0x52000007, "read-only page unchanged");

    u_write(U_RW + 0x20);
    expect_none("CPL 3 write to a user read/write page", true);
    CHECK_EQ(f_u_rw[8], 0x5A5A5A5A, "value written at CPL 3");

    /* No SMAP: supervisor accesses to user pages are allowed (§4.6.1). */
    CHECK(k_read(U_RW + 0x24) == 0x54000009 && last.count == 0,
          "CPL 0 read of a user page: no fault");
    k_write(U_RW + 0x28, 0x1111);
    CHECK(last.count == 0 && f_u_rw[10] == 0x1111,
          "CPL 0 write to a user read/write page: no fault");
    k_write(S_RW + 0x2C, 0x2222);
    CHECK(last.count == 0 && f_s_rw[11] == 0x2222, "CPL 0 write to a supervisor read/write page");

    k_write(S_RO + 0x30, 0x3333);
    expect_kpf("CR0.WP=1: CPL 0 write to a supervisor read-only page", PF_W | PF_P, S_RO + 0x30);
    CHECK_EQ(f_s_ro[12], 0x5300000C, "read-only page unchanged");
    k_write(U_RO + 0x34, 0x3434);
    expect_kpf("CR0.WP=1: CPL 0 write to a user read-only page", PF_W | PF_P, U_RO + 0x34);

    /* CR0.WP=0: supervisor writes ignore R/W (§4.6.1). No INVLPG needed: the
     * faults above dropped these translations (§4.10.4.1), and CR0.WP is not
     * part of what a TLB entry caches (§4.10.2.2). */
    write_cr0(read_cr0() & ~CR0_WP);
    k_write(S_RO + 0x38, 0x3838);
    CHECK(last.count == 0 && f_s_ro[14] == 0x3838,
          "CR0.WP=0: CPL 0 write to a supervisor read-only page: no fault, value 0x%x", f_s_ro[14]);
    k_write(U_RO + 0x3C, 0x3C3C);
    CHECK(last.count == 0 && f_u_ro[15] == 0x3C3C,
          "CR0.WP=0: CPL 0 write to a user read-only page: no fault, value 0x%x", f_u_ro[15]);
    u_write(U_RO + 0x40);
    expect_upf("CR0.WP=0: CPL 3 write to a user read-only page still faults", PF_U | PF_W | PF_P,
               U_RO + 0x40, pgf_user_write);
    write_cr0(read_cr0() | CR0_WP);
}

static void test_pde_rights(void)
{
    /* The PDE's R/W and U/S combine with the PTE's: both must allow the
     * access (§4.6.1). */
    u_read(PDE_RO + 0x10);
    expect_none("PDE R/W=0, PTE R/W=1: CPL 3 read", true);
    CHECK_EQ(user_exit.eax, 0x48000004, "value read");
    u_write(PDE_RO + 0x14);
    expect_upf("PDE R/W=0, PTE R/W=1: CPL 3 write", PF_U | PF_W | PF_P, PDE_RO + 0x14,
               pgf_user_write);
    k_write(PDE_RO + 0x18, 0x1818);
    expect_kpf("PDE R/W=0, PTE R/W=1: CPL 0 write, CR0.WP=1", PF_W | PF_P, PDE_RO + 0x18);
    write_cr0(read_cr0() & ~CR0_WP);
    k_write(PDE_RO + 0x1C, 0x1C1C);
    CHECK(last.count == 0 && f_pde_ro[7] == 0x1C1C,
          "PDE R/W=0, PTE R/W=1: CPL 0 write, CR0.WP=0: no fault");
    write_cr0(read_cr0() | CR0_WP);

    u_read(PDE_SUP + 0x20);
    expect_upf("PDE U/S=0, PTE U/S=1: CPL 3 read", PF_U | PF_P, PDE_SUP + 0x20, pgf_user_read);
    u_write(PDE_SUP + 0x24);
    expect_upf("PDE U/S=0, PTE U/S=1: CPL 3 write", PF_U | PF_W | PF_P, PDE_SUP + 0x24,
               pgf_user_write);
    CHECK(k_read(PDE_SUP + 0x28) == 0x4C00000A && last.count == 0,
          "PDE U/S=0, PTE U/S=1: CPL 0 read: no fault");
    k_write(PDE_SUP + 0x2C, 0x2C2C);
    CHECK(last.count == 0 && f_pde_sup[11] == 0x2C2C,
          "PDE U/S=0, PTE U/S=1: CPL 0 write: no fault");
}

/* ---- instruction fetch ------------------------------------------------------------ */

static void test_fetch(void)
{
    /* I/D (bit 4) is 0: CR4.SMEP = 0 and no PAE/NXE (§4.7). The pushed EIP
     * is the jump target, the instruction that could not be fetched. */
    k_jump(NP_NEXT + 0xABC);
    expect_pf("CPL 0 jump to a not-present page", 0, NP_NEXT + 0xABC, NP_NEXT + 0xABC, false);
    u_run(pgf_user_jump, USTACK_TOP, NP_NEXT + 0x10, 0);
    expect_pf("CPL 3 jump to a not-present page", PF_U, NP_NEXT + 0x10, NP_NEXT + 0x10, true);
    u_run(pgf_user_jump, USTACK_TOP, S_RW + 0x20, 0);
    expect_pf("CPL 3 jump to a supervisor page", PF_U | PF_P, S_RW + 0x20, S_RW + 0x20, true);
    u_run(pgf_user_jump, USTACK_TOP, U_RW, 0);
    CHECK(last.count == 0 && user_exit.count == 1 && user_exit.eip == U_RW + 2,
          "CPL 3 jump to a user page: ran its INT 0x81 (return eip 0x%08x)", user_exit.eip);

    /* MOV EAX, imm32 at 0x40004ffe: opcode and one byte on U_RW, the rest
     * on the not-present NP_NEXT. CR2 is the first byte that could not be
     * fetched, EIP the start of the instruction. */
    k_jump(U_RW + PG_SIZE - 2);
    expect_pf("CPL 0 jump to an instruction straddling into a not-present page", 0, NP_NEXT,
              U_RW + PG_SIZE - 2, false);
}

/* ---- straddling data accesses and the stack ------------------------------------------------ */

static void test_straddle(void)
{
    k_read(U_RW + PG_SIZE - 2);
    expect_kpf("CPL 0 dword read straddling into a not-present page", 0, NP_NEXT);
    k_write(U_RW + PG_SIZE - 2, 0x99999999);
    expect_kpf("CPL 0 dword write straddling into a not-present page", PF_W, NP_NEXT);
    u_read(U_RW + PG_SIZE - 1);
    expect_upf("CPL 3 dword read straddling into a not-present page", PF_U, NP_NEXT, pgf_user_read);
    /* The first page is the one that denies the access. */
    u_write(S_RO + PG_SIZE - 2);
    expect_upf("CPL 3 dword write straddling a supervisor page into a user page",
               PF_U | PF_W | PF_P, S_RO + PG_SIZE - 2, pgf_user_write);

    /* PUSH at CPL 3: the exception frame goes to the ESP0 stack; the user
     * ESP saved in it is the one before the faulting PUSH. */
    u_run(pgf_user_push, NP_STACK + PG_SIZE, 0, 0);
    expect_upf("CPL 3 push onto a not-present stack page", PF_U | PF_W, NP_STACK + PG_SIZE - 4,
               pgf_user_push);
    CHECK(last.user_esp == NP_STACK + PG_SIZE, "saved ring-3 ESP = 0x%08x, before the push",
          last.user_esp);
    u_run(pgf_user_push, U_RO + PG_SIZE, 0, 0);
    expect_upf("CPL 3 push onto a read-only stack page", PF_U | PF_W | PF_P, U_RO + PG_SIZE - 4,
               pgf_user_push);
    CHECK(last.user_esp == U_RO + PG_SIZE && f_u_ro[1023] == 0x520003FF,
          "saved ring-3 ESP = 0x%08x, stack page unchanged", last.user_esp);
}

/* ---- REP string instructions ------------------------------------------------------------ */

static uint32_t src_buf[8], dst_buf[8];

static void test_rep(void)
{
    for (unsigned i = 0; i < 8; i++)
        src_buf[i] = 0xC0DE0000 + i;

    /* REP MOVSD of 8 dwords to 0x40010ff8: 2 fit, the third store faults
     * on REP_DST2. The handler maps REP_DST2 (not present -> present, no
     * INVLPG) and the instruction resumes where it stopped. */
    uint32_t *pte2 = pg_pte(pd, REP_DST2);
    reset();
    fix = FIX_MAP;
    fix_la = REP_DST2;
    fix_pte = pte2;
    fix_value = (uint32_t)f_rep[1] | PG_P | PG_RW;
    uint32_t ecx = 8, esi = (uint32_t)src_buf, edi = REP_DST2 - 8;
    __asm__ volatile(PROBE_BEGIN "rep movsl" PROBE_END
                     : "+c"(ecx), "+S"(esi), "+D"(edi)
                     :
                     : "memory");
    fix = FIX_NONE;
    expect_kpf("rep movsd, destination runs into a not-present page", PF_W, REP_DST2);
    CHECK(last.ecx == 6 && last.esi == (uint32_t)src_buf + 8 && last.edi == REP_DST2,
          "at the fault: ecx=%u esi=src+%u edi=0x%08x (2 dwords done)", last.ecx,
          last.esi - (uint32_t)src_buf, last.edi);
    bool data = f_rep[0][1022] == src_buf[0] && f_rep[0][1023] == src_buf[1];
    for (unsigned i = 0; i < 6; i++)
        data &= f_rep[1][i] == src_buf[2 + i];
    CHECK(ecx == 0 && esi == (uint32_t)src_buf + 32 && edi == REP_DST2 + 24 && data,
          "page mapped, no INVLPG, resumed: ecx=%u esi=src+%u edi=0x%08x, 8 dwords copied", ecx,
          esi - (uint32_t)src_buf, edi);

    /* REP STOSD into a not-present page, not resumed: the registers stay as
     * at the fault. */
    reset();
    uint32_t eax = 0x57057057;
    ecx = 5;
    edi = STOS_DST2 - 12;
    __asm__ volatile(PROBE_BEGIN "rep stosl" PROBE_END
                     : "+c"(ecx), "+D"(edi)
                     : "a"(eax)
                     : "memory");
    expect_kpf("rep stosd, runs into a not-present page", PF_W, STOS_DST2);
    CHECK(ecx == 2 && edi == STOS_DST2 && f_rep[2][1021] == eax && f_rep[2][1022] == eax &&
              f_rep[2][1023] == eax,
          "ecx=%u edi=0x%08x, 3 dwords stored", ecx, edi);

    /* REP MOVSD whose source runs into a not-present page. */
    reset();
    memset(dst_buf, 0, sizeof(dst_buf));
    ecx = 8;
    esi = REP_SRC2 - 4;
    edi = (uint32_t)dst_buf;
    __asm__ volatile(PROBE_BEGIN "rep movsl" PROBE_END
                     : "+c"(ecx), "+S"(esi), "+D"(edi)
                     :
                     : "memory");
    expect_kpf("rep movsd, source runs into a not-present page", 0, REP_SRC2);
    CHECK(ecx == 7 && esi == REP_SRC2 && edi == (uint32_t)dst_buf + 4 &&
              dst_buf[0] == f_rep[4][1023] && dst_buf[1] == 0,
          "ecx=%u esi=0x%08x edi=dst+%u, 1 dword copied", ecx, esi, edi - (uint32_t)dst_buf);
}

/* ---- R/W 0 -> 1 without INVLPG ------------------------------------------------------------- */

static void test_upgrade(void)
{
    k_write(UPGRADE + 0x14, 0x1414);
    expect_kpf("read-only page, CPL 0 write, CR0.WP=1", PF_W | PF_P, UPGRADE + 0x14);
    CHECK_EQ(k_read(UPGRADE + 0x10), 0x57000004, "read of the read-only page");

    /* R/W 0 -> 1 without INVLPG: the translation read above may still be
     * cached, so the write may raise a spurious #PF (§4.10.4.3). A page
     * fault invalidates the TLB entries and paging-structure caches for its
     * address (§4.10.4.1), so the handler only retries, and the retry must
     * succeed. Either way the write lands. */
    pg_set(pg_pte(pd, UPGRADE), (uint32_t)f_upgrade | PG_P | PG_RW | PG_US);
    reset();
    fix = FIX_RETRY;
    fix_la = UPGRADE;
    __asm__ volatile(PROBE_BEGIN "movl %1, (%0)" PROBE_END
                     :
                     : "r"(UPGRADE + 0x18), "r"(0x1818)
                     : "memory");
    fix = FIX_NONE;
    CHECK(f_upgrade[6] == 0x1818 && (last.count == 0 || (last.count == 1 && last.error == 3)),
          "R/W 0 -> 1 without INVLPG: the write lands (at most one spurious #PF, retried)");
    k_write(UPGRADE + 0x1C, 0x1C1C);
    CHECK(last.count == 0 && f_upgrade[7] == 0x1C1C, "next write: no fault");
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    rt_set_handler(PG_VECTOR, pf_handler);
    rt_set_handler(0x81, int81_handler);
    rt_set_gate_attr(0x81, RT_GATE_INTR | RT_ACC_DPL(3));

    test_setup();
    test_not_present();
    test_protection();
    test_pde_rights();
    test_fetch();
    test_straddle();
    test_rep();
    test_upgrade();

    pg_disable();
    write_cr0(read_cr0() & ~CR0_WP);
    rt_finish();
}
