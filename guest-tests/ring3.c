/*
 * guest-tests/ring3.c — privilege level 3: IRET to ring 3 through a TSS
 * (ring3_entry.S), INT 0x80 through a DPL 3 trap gate whose handler sees the
 * ring-3 frame (CS RPL 3, user ESP and SS pushed, on the TSS's ESP0 stack)
 * and returns values in registers; the instructions ring 3 may not execute
 * (#GP(0) for HLT, CLI/STI and IN/OUT/INS/OUTS with IOPL 0, moves to and
 * from control and debug registers, descriptor-table loads, INVLPG, CLTS,
 * WBINVD, RDMSR, LMSW); INT n, INT3 and INTO through DPL 0 gates
 * (#GP(vector*8+2)); segment loads checked against CPL; the I/O permission
 * bitmap of the TSS; POPF, which at CPL 3 never changes IOPL and changes
 * IF only when IOPL is 3; the same instructions with IOPL 3; the
 * instructions that reveal system state at CPL 3 without faulting (SGDT,
 * SIDT, SLDT, STR, SMSW); the null selectors IRET leaves in DS/ES/FS when
 * it lowers the privilege; and the way back to ring 0 (INT 0x81).
 *
 * Ring 3 cannot print (COM1 is a port): the ring-3 code records every probe
 * in results[] and ring 0 reports after returning.
 */
#include "rt.h"

#define SEL_UCODE3 (RT_SEL_UCODE | 3)
#define SEL_UDATA3 (RT_SEL_UDATA | 3)
#define SEL_BIGTSS 0x30

#define PORT_ALLOWED 0x3FF /* COM1 scratch register: allowed by the bitmap */
#define PORT_DENIED  0x3FE

/* ---- TSS with an I/O permission bitmap (SDM Vol. 1 §19.5.2) ---------------- */

static struct __attribute__((packed, aligned(128))) {
    struct rt_tss tss;
    uint8_t iomap[8192 + 1]; /* one bit per port, then the 0xff terminator */
} big_tss;

static uint8_t kstack[8192] __attribute__((aligned(16)));
static uint8_t ustack[16384] __attribute__((aligned(16)));
#define KSTACK_TOP ((uint32_t)kstack + sizeof(kstack))
#define USTACK_TOP ((uint32_t)ustack + sizeof(ustack))

static void setup_tss(void)
{
    big_tss.tss.ss0 = RT_SEL_KDATA;
    big_tss.tss.esp0 = KSTACK_TOP;
    big_tss.tss.iomap_base = sizeof(struct rt_tss);
    memset(big_tss.iomap, 0xFF, sizeof(big_tss.iomap));
    big_tss.iomap[PORT_ALLOWED / 8] &= (uint8_t) ~(1u << (PORT_ALLOWED % 8));
    rt_set_gdt_entry(SEL_BIGTSS, (uint32_t)&big_tss, sizeof(big_tss) - 1, RT_ACC_P | RT_ACC_TSS32,
                     0);
    ltr(SEL_BIGTSS);
}

/* ---- ring3_entry.S ---------------------------------------------------------- */

void enter_user(void (*fn)(void), uint32_t user_esp, uint32_t eflags);
extern char ring0_return[];
extern uint32_t r3_entry_segs[7]; /* ds es fs gs cs ss eflags, as ring 3 saw them first */

/* ---- probes (run at CPL 3; the handlers run at CPL 0) ---------------------------- */

uint32_t probe_at, probe_next;

#define PROBE_BEGIN "movl $1f, probe_at\n\tmovl $2f, probe_next\n1:\t"
#define PROBE_END   "\n2:"

#define NONE 0xFF

struct fault {
    unsigned count;
    uint32_t vector, error, eip, cs, user_ss;
    bool frame_on_esp0;
};
static struct fault last;

struct result {
    const char *what;
    uint32_t at; /* the probed instruction */
    uint32_t want_vector, want_error;
    struct fault got;
};
static struct result results[64];
static unsigned nresults;

static bool frame_on_esp0(const struct rt_frame *f)
{
    /* A ring-3 -> ring-0 transfer pushes SS, ESP, EFLAGS, CS, EIP (and an
     * error code) at the TSS's ESP0 (SDM Vol. 3A §6.12.1). */
    return (uint32_t)&f->eip == KSTACK_TOP - 20;
}

static void record_and_resume(struct rt_frame *f)
{
    last.count++;
    last.vector = f->vector;
    last.error = f->error_code;
    last.eip = f->eip;
    last.cs = f->cs;
    last.user_ss = (f->cs & 3) ? f->user_ss : 0;
    last.frame_on_esp0 = frame_on_esp0(f);
    f->eip = probe_next;
}

/* Runs at CPL 3: stores the outcome of the probe just executed. */
static void take(const char *what, uint32_t vector, uint32_t error)
{
    if (nresults < sizeof(results) / sizeof(results[0])) {
        results[nresults].what = what;
        results[nresults].want_vector = vector;
        results[nresults].want_error = error;
        results[nresults].at = probe_at;
        results[nresults].got = last;
        nresults++;
    }
    memset(&last, 0, sizeof(last));
}

/* One probe: `setup` runs first, `insn` is the instruction probed. */
#define U(what, vector, error, setup, insn)                                    \
    do {                                                                       \
        __asm__ volatile(setup "\n\t" PROBE_BEGIN insn PROBE_END               \
                         :                                                     \
                         :                                                     \
                         : "eax", "ecx", "edx", "esi", "edi", "memory", "cc"); \
        take(what, vector, error);                                             \
    } while (0)

/* ---- INT 0x80 through a DPL 3 trap gate, INT 0x81 back to ring 0 ------------------------ */

static struct {
    unsigned count;
    uint32_t cs, user_ss, user_esp, eflags, handler_cs;
    bool frame_on_esp0;
} sc;
uint32_t sc_user_esp; /* ESP at the INT, written by ring 3 */

static void syscall_handler(struct rt_frame *f)
{
    uint32_t cs;
    __asm__ volatile("movl %%cs, %0" : "=r"(cs));
    sc.count++;
    sc.cs = f->cs;
    sc.user_ss = f->user_ss;
    sc.user_esp = f->user_esp;
    sc.eflags = f->eflags;
    sc.handler_cs = cs & 0xFFFF;
    sc.frame_on_esp0 = frame_on_esp0(f);
    f->eax = f->eax * 2 + 1;
    f->edx = ~f->edx;
}

static uint32_t exit_cs;

static void back_to_ring0(struct rt_frame *f)
{
    exit_cs = f->cs;
    /* IRET at the same level: pops EIP, CS, EFLAGS and leaves ESP on the
     * ESP0 stack, which ring0_return abandons. */
    f->eip = (uint32_t)ring0_return;
    f->cs = RT_SEL_KCODE;
    f->eflags = EFLAGS_BIT1;
    f->ds = f->es = f->fs = f->gs = RT_SEL_KDATA;
}

/* ---- what ring 3 does -------------------------------------------------------------------- */

struct user_state {
    uint32_t sc_eax, sc_edx, cs, ss;
    uint32_t popf_out;
    uint32_t sti_flags, cli_flags;
    uint32_t in_value;
    struct rt_dtr gdtr, idtr;
    uint32_t tr, ldtr, msw;
};
struct user_state u;
uint32_t u_in_value;

static void user_common(void)
{
    uint32_t a = 20, d = 0x12345678;
    __asm__ volatile("movl %%esp, sc_user_esp\n\tint $0x80" : "+a"(a), "+d"(d) : : "memory");
    u.sc_eax = a;
    u.sc_edx = d;
    __asm__ volatile("movl %%cs, %0\n\tmovl %%ss, %1" : "=r"(u.cs), "=r"(u.ss));

    U("hlt", 13, 0, "", "hlt");
    U("mov eax, cr0", 13, 0, "", "movl %%cr0, %%eax");
    U("mov cr3, eax", 13, 0, "xorl %%eax, %%eax", "movl %%eax, %%cr3");
    U("mov eax, dr7", 13, 0, "", "movl %%dr7, %%eax");
    U("lgdt [m]", 13, 0, "", "lgdt u");
    U("lidt [m]", 13, 0, "", "lidt u");
    U("lldt ax", 13, 0, "xorl %%eax, %%eax", "lldt %%ax");
    U("ltr ax", 13, 0, "movl $0x28, %%eax", "ltr %%ax");
    U("lmsw ax", 13, 0, "movl $1, %%eax", "lmsw %%ax");
    U("invlpg [m]", 13, 0, "", "invlpg u");
    U("clts", 13, 0, "", "clts");
    U("wbinvd", 13, 0, "", "wbinvd");
    U("rdmsr", 13, 0, "movl $0x10, %%ecx", "rdmsr");
    U("int 0x30 (DPL 0 gate)", 13, 0x30 * 8 + 2, "", "int $0x30");
    U("int3 (DPL 0 gate)", 13, 3 * 8 + 2, "", "int3");
    U("into with OF=1 (DPL 0 gate)", 13, 4 * 8 + 2, "movl $0x7fffffff, %%eax\n\taddl $1, %%eax",
      "into");
    U("mov ds, 0x10 (DPL 0 data)", 13, RT_SEL_KDATA, "movl $0x10, %%eax", "movw %%ax, %%ds");
    U("mov es, 0x0b (DPL 0 code, RPL 3)", 13, RT_SEL_KCODE, "movl $0x0b, %%eax", "movw %%ax, %%es");
    U("mov ss, 0x20 (RPL 0 != CPL)", 13, RT_SEL_UDATA, "movl $0x20, %%eax", "movw %%ax, %%ss");
    U("mov ss, 0x10 (DPL 0)", 13, RT_SEL_KDATA, "movl $0x10, %%eax", "movw %%ax, %%ss");
    U("lcall 0x08:x (DPL 0 code)", 13, RT_SEL_KCODE, "", "lcall $0x08, $2f");
    U("mov fs, 0 (null)", NONE, 0, "xorl %%eax, %%eax", "movw %%ax, %%fs");
    U("mov gs, 0x23", NONE, 0, "movl $0x23, %%eax", "movw %%ax, %%gs");

    /* Not privileged at CPL 3 (without UMIP): they reveal the real tables. */
    u.tr = u.ldtr = u.msw = 0xFFFFFFFF;
    __asm__ volatile("sgdt %0\n\tsidt %1\n\tsldt %2\n\tstr %3\n\tsmsw %4"
                     : "=m"(u.gdtr), "=m"(u.idtr), "=m"(u.ldtr), "=m"(u.tr), "=m"(u.msw));
}

static void user_iopl0(void)
{
    user_common();
    U("cli", 13, 0, "", "cli");
    U("sti", 13, 0, "", "sti");
    U("in al, 0xa1", 13, 0, "", "inb $0xa1, %%al");
    U("out 0xa1, al", 13, 0, "movb $0xff, %%al", "outb %%al, $0xa1");
    U("in al, dx (0x3fe, denied by the bitmap)", 13, 0, "movl $0x3fe, %%edx", "inb %%dx, %%al");
    U("out dx, al (0x3fe)", 13, 0, "movl $0x3fe, %%edx", "outb %%al, %%dx");
    U("in ax, dx (0x3ff-0x400, 0x400 denied)", 13, 0, "movl $0x3ff, %%edx", "inw %%dx, %%ax");
    U("in eax, dx (0x3fc-0x3ff, 0x3fc denied)", 13, 0, "movl $0x3fc, %%edx", "inl %%dx, %%eax");
    U("insb (0x3fe)", 13, 0, "movl $0x3fe, %%edx\n\tleal u, %%edi", "insb");
    U("outsb (0x3fe)", 13, 0, "movl $0x3fe, %%edx\n\tleal u, %%esi", "outsb");
    U("out dx, al (0x3ff, allowed by the bitmap)", NONE, 0,
      "movl $0x3ff, %%edx\n\tmovb $0x5a, %%al", "outb %%al, %%dx");
    U("in al, dx (0x3ff)", NONE, 0, "movl $0x3ff, %%edx\n\tmovl $0, %%eax",
      "inb %%dx, %%al\n\tmovl %%eax, u_in_value");
    __asm__ volatile("pushfl\n\t"
                     "orl $0x3201, (%%esp)\n\t" /* IF, IOPL 3, CF */
                     "popfl\n\t"
                     "pushfl\n\t"
                     "popl %0"
                     : "=r"(u.popf_out)
                     :
                     : "cc");
}

static void user_iopl3(void)
{
    user_common();
    U("cli", NONE, 0, "", "cli");
    U("sti", NONE, 0, "", "sti\n\tcli");
    /* The PIC is masked: IF=1 lets nothing in. */
    __asm__ volatile("sti\n\tpushfl\n\tpopl %0\n\tcli\n\tpushfl\n\tpopl %1"
                     : "=r"(u.sti_flags), "=r"(u.cli_flags));
    U("in al, 0xa1 (slave PIC mask)", NONE, 0, "movl $0, %%eax",
      "inb $0xa1, %%al\n\tmovl %%eax, u_in_value");
    U("out 0xa1, al", NONE, 0, "movb $0xff, %%al", "outb %%al, $0xa1");
    U("in al, dx (0x3fe, no bitmap check at IOPL 3)", NONE, 0, "movl $0x3fe, %%edx",
      "inb %%dx, %%al");
    __asm__ volatile("pushfl\n\t"
                     "andl $~0x3000, (%%esp)\n\t" /* IOPL 0 */
                     "orl $0x201, (%%esp)\n\t"    /* IF, CF */
                     "popfl\n\t"
                     "pushfl\n\t"
                     "popl %0\n\t"
                     "cli"
                     : "=r"(u.popf_out)
                     :
                     : "cc");
}

/* ---- ring 0: run a phase and report -------------------------------------------------------------
 */

static const char *vec_name(uint32_t v)
{
    return v == 13 ? "#GP" : v == 11 ? "#NP" : v == 6 ? "#UD" : v == 3 ? "#BP" : "#?";
}

static void report_results(const char *phase)
{
    for (unsigned i = 0; i < nresults; i++) {
        const struct result *r = &results[i];
        const struct fault *g = &r->got;
        if (r->want_vector == NONE) {
            CHECK(g->count == 0, "%s: %s: no fault%s", phase, r->what,
                  g->count ? " (but one was raised)" : "");
            continue;
        }
        if (g->count == 0) {
            rt_fail("%s: %s: no fault, expected %s(0x%x)", phase, r->what, vec_name(r->want_vector),
                    r->want_error);
            continue;
        }
        bool ok = g->count == 1 && g->vector == r->want_vector && g->error == r->want_error &&
                  g->eip == r->at && g->cs == SEL_UCODE3 && g->user_ss == SEL_UDATA3 &&
                  g->frame_on_esp0;
        CHECK(ok, "%s: %s: %s(0x%x)%s%s", phase, r->what, vec_name(g->vector), g->error,
              g->cs == SEL_UCODE3 && g->user_ss == SEL_UDATA3 ? "" : " (frame not from ring 3)",
              g->frame_on_esp0 ? "" : " (frame not at ESP0)");
    }
}

static void run_phase(const char *phase, void (*fn)(void), unsigned iopl)
{
    memset(&u, 0, sizeof(u));
    memset(&sc, 0, sizeof(sc));
    memset(&last, 0, sizeof(last));
    memset(r3_entry_segs, 0xFF, 7 * sizeof(uint32_t));
    nresults = 0;
    u_in_value = 0xFFFFFFFF;
    exit_cs = 0;

    enter_user(fn, USTACK_TOP, EFLAGS_BIT1 | (iopl << 12));

    uint32_t cs0, ds0, ss0;
    __asm__ volatile("movl %%cs, %0\n\tmovl %%ds, %1\n\tmovl %%ss, %2"
                     : "=r"(cs0), "=r"(ds0), "=r"(ss0));
    CHECK(cs0 == RT_SEL_KCODE && ds0 == RT_SEL_KDATA && ss0 == RT_SEL_KDATA &&
              exit_cs == SEL_UCODE3,
          "%s: int 0x81 from cs=0x%x came back to ring 0: cs=0x%x ds=0x%x ss=0x%x", phase, exit_cs,
          cs0, ds0, ss0);

    const uint32_t *e = r3_entry_segs;
    CHECK(e[0] == 0 && e[1] == 0 && e[2] == 0 && e[3] == SEL_UDATA3,
          "%s: iret to ring 3 nulls ds/es/fs with DPL 0, keeps gs=0x23: %x %x %x %x", phase, e[0],
          e[1], e[2], e[3]);
    CHECK(e[4] == SEL_UCODE3 && e[5] == SEL_UDATA3 && ((e[6] >> 12) & 3) == iopl &&
              !(e[6] & EFLAGS_IF),
          "%s: ring 3 entered with cs=0x%x ss=0x%x IOPL %u IF %u", phase, e[4], e[5],
          (e[6] >> 12) & 3, (e[6] >> 9) & 1);
    CHECK(u.cs == SEL_UCODE3 && (u.cs & 3) == 3 && u.ss == SEL_UDATA3,
          "%s: CPL as read in ring 3: cs=0x%x (CPL %u) ss=0x%x", phase, u.cs, u.cs & 3, u.ss);

    CHECK(sc.count == 1 && sc.cs == SEL_UCODE3 && sc.user_ss == SEL_UDATA3 &&
              sc.user_esp == sc_user_esp && sc.handler_cs == RT_SEL_KCODE && sc.frame_on_esp0 &&
              ((sc.eflags >> 12) & 3) == iopl,
          "%s: int 0x80 (DPL 3 trap gate): frame cs=0x%x ss=0x%x esp %s, on the ESP0 stack %s; "
          "handler cs=0x%x",
          phase, sc.cs, sc.user_ss, sc.user_esp == sc_user_esp ? "= ring-3 esp" : "wrong",
          sc.frame_on_esp0 ? "yes" : "no", sc.handler_cs);
    CHECK(u.sc_eax == 41 && u.sc_edx == ~0x12345678u,
          "%s: int 0x80 returned eax=%u edx=0x%08x to ring 3", phase, u.sc_eax, u.sc_edx);

    report_results(phase);

    struct rt_dtr g0, i0;
    sgdt(&g0);
    sidt(&i0);
    CHECK(u.gdtr.limit == g0.limit && u.gdtr.base == g0.base && u.idtr.limit == i0.limit &&
              u.idtr.base == i0.base,
          "%s: sgdt/sidt at CPL 3 = the real GDTR/IDTR (limits 0x%x 0x%x)", phase, u.gdtr.limit,
          u.idtr.limit);
    CHECK((u.tr & 0xFFFF) == SEL_BIGTSS && (u.ldtr & 0xFFFF) == 0 &&
              (u.msw & 0xFFFF) == (read_cr0() & 0xFFFF),
          "%s: str=0x%x sldt=0x%x, smsw = CR0[15:0]", phase, u.tr & 0xFFFF, u.ldtr & 0xFFFF);
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    /* Mask every IRQ: ring 3 with IOPL 3 executes STI. */
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
    setup_tss();
    rt_set_handler(13, record_and_resume);
    rt_set_handler(11, record_and_resume);
    rt_set_handler(6, record_and_resume);
    rt_set_handler(0x80, syscall_handler);
    rt_set_gate_attr(0x80, RT_GATE_TRAP | RT_ACC_DPL(3));
    rt_set_handler(0x81, back_to_ring0);
    rt_set_gate_attr(0x81, RT_GATE_INTR | RT_ACC_DPL(3));

    run_phase("IOPL 0", user_iopl0, 0);
    CHECK_EQ(u_in_value & 0xFF, 0x5A, "IOPL 0: in al, 0x3ff (scratch register) after out 0x5a");
    CHECK(!(u.popf_out & EFLAGS_IF) && ((u.popf_out >> 12) & 3) == 0 && (u.popf_out & EFLAGS_CF),
          "IOPL 0: popf at CPL 3 with IF, IOPL=3, CF set: IF %u IOPL %u CF %u",
          (u.popf_out >> 9) & 1, (u.popf_out >> 12) & 3, u.popf_out & 1);

    run_phase("IOPL 3", user_iopl3, 3);
    CHECK((u.sti_flags & EFLAGS_IF) && !(u.cli_flags & EFLAGS_IF),
          "IOPL 3: sti then pushf: IF %u; cli then pushf: IF %u", (u.sti_flags >> 9) & 1,
          (u.cli_flags >> 9) & 1);
    CHECK_EQ(u_in_value & 0xFF, 0xFF, "IOPL 3: in al, 0xa1 (all IRQs masked)");
    CHECK((u.popf_out & EFLAGS_IF) && ((u.popf_out >> 12) & 3) == 3 && (u.popf_out & EFLAGS_CF),
          "IOPL 3: popf at CPL 3 with IF, IOPL=0, CF set: IF %u IOPL %u CF %u",
          (u.popf_out >> 9) & 1, (u.popf_out >> 12) & 3, u.popf_out & 1);

    uint32_t fl = read_eflags();
    CHECK(((fl >> 12) & 3) == 0 && !(fl & EFLAGS_IF), "back in ring 0: IOPL %u IF %u",
          (fl >> 12) & 3, (fl >> 9) & 1);
    rt_finish();
}
