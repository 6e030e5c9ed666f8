/*
 * guest-tests/fuzz_insns.c — pseudo-random instruction bytes, as a guest.
 *
 * The translator is a security boundary: whatever bytes a guest executes,
 * popek must end in a guest exception or a clean stop, never a host crash,
 * and never touch host memory outside the guest's view (popek checks canary
 * pages around the view and the vCPU at exit). This kernel executes rounds
 * of random code: each round fills a 4 KiB buffer with xorshift bytes,
 * loads random registers and flags, and IRETs into the buffer at a random
 * offset — at ring 3 (with a TSS stack for the way back, IRQ0 unmasked as a
 * watchdog), and in the last round at ring 0 (where every system
 * instruction is reachable).
 * Every vector comes back through one handler that abandons the round.
 *
 * Random code can also stop the machine (a triple fault after lidt with
 * garbage, hlt with interrupts off, an out to the exit port): that is a
 * clean stop and ends the run. Output differs from QEMU's by design (timing,
 * undefined flags), so this kernel is not golden-compared: guest-tests/
 * run-fuzz.sh runs it under popek with many seeds and checks how each run
 * ended.
 *
 * With the word "paging" on the command line, the rounds run with paging on
 * (the shadow MMU is a boundary too): the kernel's first 8 MiB identity-
 * mapped user-writable (as flat segments leave it without paging), a user
 * region at 0x40000000 whose page table is re-randomized every round —
 * frames inside RAM, in the legacy hole, far above RAM, with random flags —
 * and that page table itself mapped user-writable at 0x40400000, so random
 * code rewrites live PTEs; registers point into the region half the time;
 * each round ends with a CR3 reload (a resync) and toggles CR0.WP.
 *
 * Command line: "seed=N rounds=N [paging]".
 */
#include "paging.h"
#include "rt.h"

#define CODE_BYTES       4096
#define RAND_STACK       0x00380000u /* ring 0/3 stacks for random code */
#define KERNEL_STACK_TOP 0x00370000u

struct fuzz_frame {
    uint32_t *regs;
    uint32_t pad[3];
    uint32_t iret[5]; /* eip, cs, eflags, esp, ss */
};

int fuzz_enter(struct fuzz_frame *frame);
void fuzz_resume(void); /* IRET target: EAX = vector */

static uint8_t code[CODE_BYTES + 16] __attribute__((aligned(4096)));
static uint32_t state;
static unsigned vector_counts[256];

static uint32_t xorshift(void)
{
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

static uint32_t cmdline_number(const char *key, uint32_t fallback)
{
    const char *s = rt_cmdline();
    size_t klen = strlen(key);

    for (; *s; s++) {
        if (strncmp(s, key, klen) == 0 && s[klen] == '=') {
            uint32_t v = 0;
            for (s += klen + 1; *s >= '0' && *s <= '9'; s++)
                v = v * 10 + (uint32_t)(*s - '0');
            return v;
        }
    }
    return fallback;
}

/* Every vector: a fault in ring-3 random code skips a few bytes and goes
 * on (up to SKIPS_PER_ROUND times), so a round executes many instructions;
 * the watchdog tick, a ring-0 fault, or one fault too many abandons the
 * round by returning (through the runtime's IRET, so its handler
 * bookkeeping stays right) to fuzz_resume at ring 0. */
#define SKIPS_PER_ROUND 64
static unsigned round_skips;

static void catch_all(struct rt_frame *frame)
{
    bool watchdog = frame->vector >= 0x20 && frame->vector < 0x30;

    /* PIC interrupts need an EOI so the watchdog keeps ticking. */
    if (watchdog)
        outb(0x20, 0x20);
    vector_counts[frame->vector & 0xFF]++;
    if (!watchdog && (frame->cs & 3) == 3 && round_skips < SKIPS_PER_ROUND) {
        round_skips++;
        frame->eip += 1 + (xorshift() & 7);
        return;
    }
    frame->eax = frame->vector;
    frame->eip = (uint32_t)fuzz_resume;
    frame->cs = RT_SEL_KCODE;
    frame->eflags = 0x2;
}

static void start_watchdog(void)
{
    /* PIC: vectors 0x20-0x2F, only IRQ0; PIT channel 0 at ~200 Hz. */
    outb(0x20, 0x11);
    outb(0x21, 0x20);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    outb(0xA0, 0x11);
    outb(0xA1, 0x28);
    outb(0xA1, 0x02);
    outb(0xA1, 0x01);
    outb(0x21, 0xFE);
    outb(0xA1, 0xFF);
    outb(0x43, 0x34);
    outb(0x40, 5966 & 0xFF);
    outb(0x40, 5966 >> 8);
}

#define USER_REGION 0x40000000u
#define PTE_ALIAS   0x40400000u

static uint32_t *user_pt;

/* Paging for the rounds (see the header). */
static void setup_paging(void)
{
    uint32_t *pd = pg_new_identity(8u << 20, PG_P | PG_RW | PG_US);

    user_pt = pg_alloc();
    pg_set(pg_pde(pd, USER_REGION), (uint32_t)user_pt | PG_P | PG_RW | PG_US);
    pg_map(pd, PTE_ALIAS, (uint32_t)user_pt, PG_P | PG_RW | PG_US);
    pg_map(pd, PTE_ALIAS + PG_SIZE, (uint32_t)pd, PG_P | PG_US); /* the PD, read-only */
    if (pg_cpuid1_edx() & CPUID_1_EDX_PSE) {
        write_cr4(read_cr4() | CR4_PSE);
        pg_map_large(pd, 0x80000000u, 0, PG_P | PG_US); /* the low 4 MiB again */
    }
    pg_enable(pd);
}

static void randomize_user_region(void)
{
    for (unsigned i = 0; i < 1024; i++) {
        uint32_t r = xorshift(), frame;
        switch (r & 3) {
        case 0:
            frame = 0x00400000u + ((r >> 8) & 0x3FF) * PG_SIZE; /* RAM, above the kernel */
            break;
        case 1:
            frame = 0x000A0000u + ((r >> 8) & 0x5F) * PG_SIZE; /* the legacy hole */
            break;
        case 2:
            frame = r & PG_FRAME; /* anywhere, mostly not RAM */
            break;
        default:
            frame = 0x00800000u + ((r >> 8) & 0x3FF) * PG_SIZE; /* RAM beyond the identity map */
            break;
        }
        pg_set(&user_pt[i], frame | ((r >> 2) & (PG_P | PG_RW | PG_US | PG_A | PG_D | PG_G)));
    }
}

int main(const struct multiboot_info *mbi)
{
    uint32_t seed = cmdline_number("seed", 1);
    uint32_t rounds = cmdline_number("rounds", 1000);
    uint32_t regs[8];
    struct fuzz_frame frame = {.regs = regs};
    uint64_t bytes = 0;

    (void)mbi;
    state = seed * 2654435761u + 1;
    for (unsigned v = 0; v < 256; v++) {
        rt_set_handler(v, catch_all);
        rt_set_gate_attr(v, RT_GATE_INTR); /* DPL 0: int n from ring 3 is #GP */
    }
    rt_load_tss(KERNEL_STACK_TOP);
    bool paging = rt_cmdline_has_word("paging");
    if (paging)
        setup_paging();
    start_watchdog();

    for (uint32_t r = 0; r < rounds; r++) {
        /* Ring 3, except the last round: random ring-0 code tends to wreck
         * this kernel (it can move ESP, reload GDTR/IDTR, overwrite any
         * byte), so it goes last, where the run may end however it ends. */
        bool ring3 = r + 1 < rounds;

        for (unsigned i = 0; i < CODE_BYTES; i += 4) {
            uint32_t v = xorshift();
            memcpy(code + i, &v, 4);
        }
        for (unsigned i = 0; i < 16; i += 2) {
            code[CODE_BYTES + i] = 0x0F; /* ud2 after the buffer */
            code[CODE_BYTES + i + 1] = 0x0B;
        }
        bytes += CODE_BYTES;
        for (unsigned i = 0; i < 8; i++)
            regs[i] = xorshift();
        /* A small ECX: a rep stos with a random count would wipe all of RAM,
         * this kernel included, in the first round that meets one. */
        regs[1] &= 0xFFF;
        if (paging) {
            randomize_user_region();
            for (unsigned i = 0; i < 8; i++) {
                if (i != 4 && (xorshift() & 1))
                    regs[i] = USER_REGION + (regs[i] & 0x3FFFFF);
            }
            write_cr0(read_cr0() ^ (xorshift() & CR0_WP));
            pg_flush_nonglobal();
        }
        frame.iret[0] = (uint32_t)code + (xorshift() % CODE_BYTES);
        /* Arithmetic flags random; IF on for the watchdog; IOPL 0. */
        frame.iret[2] = (xorshift() & 0x8D5) | 0x202;
        frame.iret[3] = RAND_STACK - (xorshift() & 0xFFC);
        if (ring3) {
            frame.iret[1] = RT_SEL_UCODE | 3;
            frame.iret[4] = RT_SEL_UDATA | 3;
        } else {
            /* Same privilege: IRET pops EIP, CS, EFLAGS only; ESP is the
             * kernel's, which random code will move at will. */
            frame.iret[1] = RT_SEL_KCODE;
        }
        round_skips = 0;
        fuzz_enter(&frame);
        if ((r + 1) % 50 == 0)
            rt_printf("fuzz: round %u done\n", r + 1);
        rt_load_tss(KERNEL_STACK_TOP); /* random ring-0 code may have ltr'd something else */
    }

    rt_printf("fuzz: seed %u, %u rounds, %u KiB of random code\n", seed, rounds,
              (unsigned)(bytes / 1024));
    for (unsigned v = 0; v < 256; v++) {
        if (vector_counts[v])
            rt_printf("  vector %3u: %u\n", v, vector_counts[v]);
    }
    rt_finish();
}
