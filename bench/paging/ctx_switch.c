/*
 * bench/paging/ctx_switch.c — a context-switch-heavy guest kernel: three
 * ring-3 processes, each in its own address space, that yield to each
 * other after a few memory accesses, as processes talking through pipes
 * or a lock do.
 *
 * Every process has a page directory of its own. Its entry 0 is the
 * kernel's page table (0-4 MiB identity, supervisor-only, global pages when
 * CPUID has PGE, as Linux maps its kernel half); its user pages are at the
 * same linear addresses in every process: code at 0x40000000 (the frames
 * of this file's "utext" section, read-only, shared), four private data
 * pages at 0x40010000 and a private stack page below 0x80000000. The user
 * program (assembly, below) updates one word in each data page, then makes
 * the "yield" system call (INT 0x80, EAX = 1); the kernel saves the trap
 * frame (all general registers, segments, EIP, EFLAGS, ESP) in the current
 * process, picks the next one round robin, copies its saved frame over the
 * trap frame, points TSS.esp0 at its kernel stack and loads its CR3, then
 * IRETs into it. After SLICES slices a process exits (EAX = 2); when the
 * last one has, the kernel returns to main and hashes every process's data
 * pages.
 *
 * Because the processes use the same linear addresses with different
 * frames and different constants, a translation kept across a CR3 load, or
 * a register not restored, changes the checksum.
 *
 * What it stresses in a VMM: CR3 loads (switching the shadow address
 * space: a cache hit with three processes), INT n and IRET across
 * privilege levels with a TSS stack switch, and the refill of the few
 * pages each slice touches (code, data, the kernel's stack and tables) in
 * the address space switched to.
 *
 * Output: "ctx_switch <checksum> (<n> switches)". A check that fails
 * prints "ctx_switch FAIL ..." and exits with code 1.
 */
#include "paging_bench.h"

#define NPROC  3
#define SLICES 120000u /* per process */

#define PAGE        PG_SIZE
#define UCODE       0x40000000u
#define UDATA       0x40010000u
#define UDATA_PAGES 4u
#define USTACK_TOP  0x80000000u

#define SYS_YIELD 1
#define SYS_EXIT  2

#define SEL_UCODE3 (RT_SEL_UCODE | 3)
#define SEL_UDATA3 (RT_SEL_UDATA | 3)

/* ---- the user program -------------------------------------------------------
 *
 * Position-independent (it runs at UCODE, not where it was linked) and
 * self-contained: it only touches its own data pages, at fixed linear
 * addresses, and keeps its state in registers across system calls, so
 * that the kernel's save and restore of the frame is exercised:
 *   EBX  slices left        EBP  the process's constant (set by the kernel)
 *   ESI  word index         EDI  a running value
 * Per slice, in each of the four data pages:
 *   w[esi] = (w[esi] ^ edi) * 33 + ebp;  edi = w[esi] + ebx
 * then ESI moves to another word (another cache line) and it yields.
 */
extern const char __start_utext[], __stop_utext[];
extern const char user_main[];

__asm__(".section utext, \"ax\", @progbits\n"
        ".balign 4096\n"
        ".globl user_main\n"
        "user_main:\n\t"
        "xorl %esi, %esi\n\t"
        "xorl %edi, %edi\n"
        "1:\n\t"
        ".irp page, 0, 1, 2, 3\n\t"
        "movl 0x40010000 + \\page * 0x1000(, %esi, 4), %eax\n\t"
        "xorl %edi, %eax\n\t"
        "movl %eax, %ecx\n\t"
        "shll $5, %eax\n\t"
        "addl %ecx, %eax\n\t"
        "addl %ebp, %eax\n\t"
        "movl %eax, 0x40010000 + \\page * 0x1000(, %esi, 4)\n\t"
        "leal (%eax, %ebx), %edi\n\t"
        ".endr\n\t"
        "addl $17, %esi\n\t"
        "andl $1023, %esi\n\t"
        "movl $1, %eax\n\t" /* SYS_YIELD */
        "int $0x80\n\t"
        "decl %ebx\n\t"
        "jnz 1b\n\t"
        "movl %edi, %ebx\n\t"
        "movl $2, %eax\n\t" /* SYS_EXIT, EBX = status */
        "int $0x80\n\t"
        "ud2\n"
        ".balign 4096\n"
        ".text\n");

/* ---- processes -------------------------------------------------------------- */

struct proc {
    uint32_t *pd;
    uint32_t kstack_top;
    struct rt_frame tf; /* user registers while not running */
    uint32_t data_pa[UDATA_PAGES];
    uint32_t status, slices;
    bool alive;
};

static struct proc procs[NPROC];
static unsigned cur, alive;
static uint8_t kstacks[NPROC][4096] __attribute__((aligned(16)));
/* Private frames: data pages and the stack page of every process. */
static uint8_t frames[NPROC][UDATA_PAGES + 1][PAGE] __attribute__((aligned(PAGE)));

static uint32_t switches, bad_cr3, bad_stack;

#define fail(...) bench_fail("ctx_switch", __VA_ARGS__)

/* ---- entering ring 3 the first time, and coming back at the end -------------
 *
 * cs_enter_user(frame) saves the kernel's callee-saved registers and ESP,
 * loads every register from a struct rt_frame and IRETs through it, as the
 * runtime's common interrupt path does when it resumes a process. When the
 * last process exits, the kernel rewrites the trap frame to IRET at ring 0
 * to cs_ring0_return, which puts the saved ESP back and returns. */
void cs_enter_user(const struct rt_frame *frame);
extern char cs_ring0_return[];

__asm__(".text\n"
        ".globl cs_enter_user\n"
        "cs_enter_user:\n\t"
        "pushl %ebp\n\t"
        "pushl %ebx\n\t"
        "pushl %esi\n\t"
        "pushl %edi\n\t"
        "movl %esp, cs_kernel_esp\n\t"
        "movl 20(%esp), %esi\n\t"
        "pushl 72(%esi)\n\t" /* user_ss */
        "pushl 68(%esi)\n\t" /* user_esp */
        "pushl 64(%esi)\n\t" /* eflags */
        "pushl 60(%esi)\n\t" /* cs */
        "pushl 56(%esi)\n\t" /* eip */
        "movl 16(%esi), %edi\n\t"
        "movl 24(%esi), %ebp\n\t"
        "movl 32(%esi), %ebx\n\t"
        "movl 36(%esi), %edx\n\t"
        "movl 40(%esi), %ecx\n\t"
        "movl 44(%esi), %eax\n\t"
        /* The user data selector is usable at CPL 0 too, so the frame
         * stays addressable after DS is loaded. */
        "movw 0(%esi), %gs\n\t"
        "movw 4(%esi), %fs\n\t"
        "movw 8(%esi), %es\n\t"
        "movw 12(%esi), %ds\n\t"
        "movl 20(%esi), %esi\n\t"
        "iret\n"
        ".globl cs_ring0_return\n"
        "cs_ring0_return:\n\t"
        "movl cs_kernel_esp, %esp\n\t"
        "popl %edi\n\t"
        "popl %esi\n\t"
        "popl %ebx\n\t"
        "popl %ebp\n\t"
        "ret\n"
        ".data\n"
        ".balign 4\n"
        "cs_kernel_esp: .long 0\n"
        ".text\n");

_Static_assert(__builtin_offsetof(struct rt_frame, eip) == 56 &&
                   __builtin_offsetof(struct rt_frame, user_ss) == 72 &&
                   __builtin_offsetof(struct rt_frame, esi) == 20,
               "cs_enter_user's frame offsets");

/* ---- the system-call handler: yield and exit ---------------------------------- */

/*
 * The kernel is not preemptible (interrupt gates, IF = 0 throughout) and
 * every switch happens at the end of a trap from ring 3: the outgoing
 * process's registers are saved from the trap frame and the incoming one's
 * copied over it, so the runtime's common path IRETs into the new process.
 * Its next trap lands on its own kernel stack, because the processor takes
 * SS0:ESP0 from the TSS on entry to ring 0 (SDM Vol. 3A §6.12.1): TSS.esp0
 * changes with CR3.
 */
static void switch_to(struct rt_frame *f, unsigned next)
{
    cur = next;
    *f = procs[next].tf;
    rt_tss.esp0 = procs[next].kstack_top;
    /* Flushes every non-global translation of the previous process
     * (§4.10.4.1); the kernel's global ones stay. */
    write_cr3((uint32_t)procs[next].pd);
    switches++;
}

static void syscall_handler(struct rt_frame *f)
{
    struct proc *p = &procs[cur];
    if (f->cs != SEL_UCODE3 || f->user_ss != SEL_UDATA3)
        fail("int 0x80 from cs=0x%x ss=0x%x", f->cs, f->user_ss);
    /* Cheap invariants of every trap: the process's own address space and
     * kernel stack. */
    bad_cr3 += read_cr3() != (uint32_t)p->pd;
    bad_stack += (uint32_t)f + sizeof(*f) != p->kstack_top;

    if (f->eax == SYS_YIELD) {
        p->slices++;
    } else if (f->eax == SYS_EXIT) {
        p->status = f->ebx;
        p->alive = false;
        alive--;
    } else {
        fail("unknown system call %u", f->eax);
    }

    unsigned next = cur;
    for (unsigned k = 1; k <= NPROC; k++) {
        unsigned c = (cur + k) % NPROC;
        if (procs[c].alive) {
            next = c;
            break;
        }
    }
    if (alive == 0) {
        /* IRET at the same privilege level pops EIP, CS and EFLAGS only;
         * cs_ring0_return abandons the rest of this kernel stack. */
        f->eip = (uint32_t)cs_ring0_return;
        f->cs = RT_SEL_KCODE;
        f->eflags = EFLAGS_BIT1;
        f->ds = f->es = f->fs = f->gs = RT_SEL_KDATA;
        return;
    }
    if (next == cur)
        return;
    p->tf = *f;
    switch_to(f, next);
}

static void unexpected_handler(struct rt_frame *f)
{
    fail("exception %u err=0x%x at eip=0x%x cs=0x%x cr2=0x%x (process %u)", f->vector,
         f->error_code, f->eip, f->cs, read_cr2(), cur);
}

/* ---- set-up ------------------------------------------------------------------------ */

static void proc_init(unsigned i, const uint32_t *kernel_pd)
{
    struct proc *p = &procs[i];
    p->pd = pg_alloc();
    /* The kernel in every address space: the same page table, so its
     * supervisor-only (and, with PGE, global) mappings are shared. */
    pg_set(pg_pde(p->pd, 0), pg_get(pg_pde((uint32_t *)kernel_pd, 0)));

    uint32_t code = (uint32_t)__start_utext, code_end = (uint32_t)__stop_utext;
    for (uint32_t off = 0; code + off < code_end; off += PAGE)
        pg_map(p->pd, UCODE + off, code + off, PG_P | PG_US);
    for (unsigned k = 0; k < UDATA_PAGES; k++) {
        p->data_pa[k] = (uint32_t)frames[i][k];
        uint32_t *w = (uint32_t *)frames[i][k];
        for (unsigned j = 0; j < 1024; j++)
            w[j] = (i + 1) * 0x01000193u + k * 1024 + j;
        pg_map(p->pd, UDATA + k * PAGE, p->data_pa[k], PG_P | PG_RW | PG_US);
    }
    pg_map(p->pd, USTACK_TOP - PAGE, (uint32_t)frames[i][UDATA_PAGES], PG_P | PG_RW | PG_US);

    p->kstack_top = (uint32_t)kstacks[i] + sizeof(kstacks[i]);
    p->tf.eip = UCODE + (uint32_t)(user_main - __start_utext);
    p->tf.cs = SEL_UCODE3;
    p->tf.eflags = EFLAGS_BIT1;
    p->tf.user_esp = USTACK_TOP - 16;
    p->tf.user_ss = SEL_UDATA3;
    p->tf.ds = p->tf.es = p->tf.fs = p->tf.gs = SEL_UDATA3;
    p->tf.ebx = SLICES;
    p->tf.ebp = 0x9E3779B1u * (i + 1);
    p->alive = true;
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    bool pge = (pg_cpuid1_edx() & CPUID_1_EDX_PGE) != 0;
    uint32_t *kernel_pd = pg_new_identity(PG_IDENTITY_BYTES, PG_P | PG_RW | (pge ? PG_G : 0));
    if (pge)
        write_cr4(read_cr4() | CR4_PGE);
    pg_enable(kernel_pd);

    for (unsigned i = 0; i < NPROC; i++)
        proc_init(i, kernel_pd);
    alive = NPROC;

    for (unsigned v = 0; v < 32; v++)
        rt_set_handler(v, unexpected_handler);
    rt_set_handler(0x80, syscall_handler);
    rt_set_gate_attr(0x80, RT_GATE_INTR | RT_ACC_DPL(3));
    rt_load_tss(procs[0].kstack_top);

    cur = 0;
    write_cr3((uint32_t)procs[0].pd);
    cs_enter_user(&procs[0].tf);
    write_cr3((uint32_t)kernel_pd);

    if (bad_cr3 || bad_stack)
        fail("%u traps with a wrong CR3, %u on a wrong kernel stack", bad_cr3, bad_stack);
    uint32_t h = 0;
    for (unsigned i = 0; i < NPROC; i++) {
        const struct proc *p = &procs[i];
        if (p->slices != SLICES)
            fail("process %u yielded %u times, expected %u", i, p->slices, SLICES);
        h = mix(h, p->status);
        for (unsigned k = 0; k < UDATA_PAGES; k++) {
            const uint32_t *w = (const uint32_t *)p->data_pa[k];
            for (unsigned j = 0; j < 1024; j++)
                h = mix(h, w[j]);
        }
    }
    /* Every yield but each process's last switches, and so does every
     * exit but the last one. */
    if (switches != NPROC * SLICES + NPROC - 1)
        fail("%u switches, expected %u", switches, NPROC * SLICES + NPROC - 1);
    h = mix(h, switches);
    rt_printf("ctx_switch %08x (%u switches)\n", (unsigned)h, (unsigned)switches);
    rt_exit(0);
}
