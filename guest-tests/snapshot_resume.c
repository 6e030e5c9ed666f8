/*
 * guest-tests/snapshot_resume.c — a guest to save in the middle of its run
 * and resume (guest-tests/run-snapshot-test.sh): paging on, PIT channel 0
 * interrupting at 1 kHz through the 8259A, work whose checksum is printed
 * after each phase, and state in the places a snapshot must carry across:
 * guest RAM, the page tables and CR3, x87 registers and control word, an
 * XMM register and MXCSR, the TSC (never going back), the PIC and PIT
 * programming (ticks keep coming after the resume).
 *
 * It prints "snapshot point" halfway (the test saves there) and otherwise
 * only facts that do not depend on speed, so one uninterrupted run and a
 * run saved at the point then resumed print the same bytes.
 */
#include "paging.h"
#include "rt.h"

#define PIT_CH0         0x40
#define PIT_CMD         0x43
#define PIT_1MS         1193
#define PHASES          8
#define TICKS_PER_PHASE 5
#define WORK_WORDS      16384 /* 64 KiB that the work keeps rewriting */

static volatile unsigned ticks;
static uint32_t work[WORK_WORDS];

static void timer_handler(struct rt_frame *f)
{
    (void)f;
    ticks++;
    outb(PIC1_CMD, 0x20);
}

/* A deterministic mix over the work area (xorshift and FNV-1a). */
static uint32_t do_work(unsigned phase)
{
    uint32_t x = 0x9E3779B9u * (phase + 1), h = 2166136261u;

    for (unsigned round = 0; round < 4; round++) {
        for (unsigned i = 0; i < WORK_WORDS; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            work[i] = work[i] * 31u + x;
            h = (h ^ work[i]) * 16777619u;
        }
    }
    return h;
}

/* Waits (in HLT) until `until` ticks have come. */
static bool wait_ticks(unsigned until)
{
    for (unsigned halts = 0; halts < 1000000 && ticks < until; halts++) {
        sti();
        hlt();
        cli();
    }
    return ticks >= until;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    uint32_t *pd = pg_new_identity(PG_IDENTITY_BYTES, PG_P | PG_RW);
    pg_enable(pd);
    rt_set_handler(0x20, timer_handler);
    rt_pic_init(0xFE, 0xFF);
    outb(PIT_CMD, 0x34); /* channel 0, lobyte/hibyte, mode 2 */
    outb(PIT_CH0, PIT_1MS & 0xFF);
    outb(PIT_CH0, PIT_1MS >> 8);

    /* FPU state to carry across: round-toward-zero, 2/3 on the x87
     * stack, and XMM7 with MXCSR's round-down mode. */
    static const uint32_t pattern[4] = {0x01234567, 0x89ABCDEF, 0xFEDCBA98, 0x76543210};
    uint16_t fcw = 0x0F7F, fcw_after = 0;
    uint32_t mxcsr = 0x3F80, mxcsr_after = 0;
    uint32_t xmm_after[4] = {0};
    int64_t third_after = 0;
    __asm__ volatile("fninit\n\tfldcw %0\n\tfildl %1\n\tfidivl %2" ::"m"(fcw), "m"((int32_t){2}),
                     "m"((int32_t){3}));
    __asm__ volatile("mov %%cr4, %%eax\n\tor $0x600, %%eax\n\tmov %%eax, %%cr4" ::: "eax");
    __asm__ volatile("ldmxcsr %0\n\tmovups %1, %%xmm7" ::"m"(mxcsr), "m"(pattern));

    uint32_t total = 0;
    uint64_t tsc_before = 0;
    for (unsigned phase = 0; phase < PHASES; phase++) {
        uint32_t h = do_work(phase);
        total = total * 33u + h;
        bool waited = wait_ticks((phase + 1) * TICKS_PER_PHASE);
        rt_printf("phase %u: checksum %08x, ticks %s\n", phase, h, waited ? "reached" : "MISSING");
        CHECK(waited, "phase %u: at least %u timer ticks", phase, (phase + 1) * TICKS_PER_PHASE);
        if (phase == PHASES / 2 - 1) {
            tsc_before = rdtsc();
            rt_printf("snapshot point\n");
        }
    }
    uint64_t tsc_after = rdtsc();
    /* 2/3 * 1e6 stored as an integer: 666666 when rounding toward zero
     * (666667 to nearest), so both the stack and the mode must be kept. */
    __asm__ volatile("fnstcw %0" : "=m"(fcw_after));
    __asm__ volatile("fimull %1\n\tfistpll %0" : "=m"(third_after) : "m"((int32_t){1000000}));
    __asm__ volatile("stmxcsr %0\n\tmovups %%xmm7, %1" : "=m"(mxcsr_after), "=m"(xmm_after));
    rt_printf("total checksum %08x\n", total);
    CHECK_EQ(fcw_after, fcw, "x87 control word kept");
    CHECK_EQ(third_after, 666666, "x87 stack kept (2/3 * 1e6 rounded toward zero)");
    CHECK_EQ(mxcsr_after, mxcsr, "MXCSR kept");
    CHECK(xmm_after[0] == pattern[0] && xmm_after[1] == pattern[1] && xmm_after[2] == pattern[2] &&
              xmm_after[3] == pattern[3],
          "XMM7 kept");
    CHECK(tsc_after > tsc_before, "the TSC went on forward");
    CHECK(read_cr0() & CR0_PG, "paging still on");
    rt_finish();
}
