/*
 * guest-tests/callout_flush.c — a compare with device memory followed at
 * once by a segment load, with a great deal of other code run
 * in between, for a small translation cache (guest.popek-bt-tinycache).
 *
 * What it is for: a binary translator emulates the access of an ALU
 * instruction on device memory (here CMP with the local APIC's TPR, SDM
 * vol. 3, §10.8.3.1: read/write, bits 7:0) by running the instruction once against
 * a buffer of its own, which it may have to translate; with the cache full
 * that translation flushes it, while the monitor is still handling the
 * instruction — and the segment load after it, which the monitor would
 * run in the same exit, was described by what the flush freed. The
 * processor's answer is simple: both instructions take effect, in order.
 * 96 such pairs, each a generated function of its own, follow 128
 * generated functions of add instructions in every round, so that the
 * cache fills and flushes over and over, often while a pair's buffer
 * block is being translated.
 */
#include "rt.h"

#define TPR       0xFEE00080u /* local APIC task-priority register */
#define CODE_BASE 0x00200000u /* generated functions, 256 bytes apart */
#define FILLERS   128         /* functions of ADDS add instructions */
#define ADDS      40
#define PAIRS     96 /* functions "cmp [esi], eax; mov ds, edx; sete al; ret" */
#define ROUNDS    100

/* add eax, (i << 8 | k) for k < ADDS; ret. Returns what the function adds. */
static uint32_t write_filler(uint32_t i)
{
    uint8_t *p = (uint8_t *)(CODE_BASE + i * 256);
    uint32_t sum = 0;
    unsigned n = 0;

    for (uint32_t k = 0; k < ADDS; k++) {
        uint32_t imm = i << 8 | k;
        p[n++] = 0x05;
        for (int b = 0; b < 4; b++)
            p[n++] = (uint8_t)(imm >> (8 * b));
        sum += imm;
    }
    p[n++] = 0xC3;
    return sum;
}

/* cmp [esi], eax; mov ds, edx; sete al; ret: each pair at an address of
 * its own, so that each needs its own translations. (A compare, not a
 * store: the monitor runs the next instruction in the same exit only when
 * the first wrote no memory.) */
static void write_pair(uint32_t i)
{
    static const uint8_t code[] = {0x39, 0x06, 0x8E, 0xDA, 0x0F, 0x94, 0xC0, 0xC3};
    uint8_t *p = (uint8_t *)(CODE_BASE + (FILLERS + i) * 256);

    for (unsigned n = 0; n < sizeof(code); n++)
        p[n] = code[n];
}

static uint32_t call_filler(uint32_t i, uint32_t eax)
{
    uint32_t out;
    __asm__ volatile("call *%2" : "=a"(out) : "a"(eax), "r"(CODE_BASE + i * 256) : "memory", "cc");
    return out;
}

/* Compares the TPR with `bits`, then loads DS with the flat data selector
 * (the instruction right after); returns whether they were equal, and DS
 * after. */
static bool call_pair(uint32_t i, uint32_t bits, uint16_t *ds_after)
{
    uint32_t eax;
    uint16_t ds;
    __asm__ volatile("call *%2\n\t"
                     "movw %%ds, %1"
                     : "=a"(eax), "=r"(ds)
                     : "r"(CODE_BASE + (FILLERS + i) * 256), "a"(bits), "S"(TPR),
                       "d"((uint32_t)RT_SEL_KDATA)
                     : "memory", "cc");
    *ds_after = ds;
    return (eax & 0xFF) == 1;
}

int main(const struct multiboot_info *mbi)
{
    uint32_t want = 0;
    (void)mbi;

    for (uint32_t i = 0; i < FILLERS; i++)
        want += write_filler(i);
    for (uint32_t i = 0; i < PAIRS; i++)
        write_pair(i);
    CHECK(1, "%u functions of %u add instructions and %u of cmp [esi], eax; mov ds, edx at 0x%08x",
          FILLERS, ADDS, PAIRS, CODE_BASE);

    unsigned wrong_sums = 0, wrong_tpr = 0, wrong_ds = 0;
    for (uint32_t round = 0; round < ROUNDS; round++) {
        uint32_t eax = round;
        for (uint32_t i = 0; i < FILLERS; i++)
            eax = call_filler(i, eax);
        wrong_sums += eax != round + want;
        for (uint32_t i = 0; i < PAIRS; i++) {
            uint32_t bits = (round + i) << 4 & 0xF0;
            *(volatile uint32_t *)TPR = bits;
            uint16_t ds;
            wrong_tpr += !call_pair(i, bits, &ds);
            wrong_ds += ds != RT_SEL_KDATA;
        }
    }
    *(volatile uint32_t *)TPR = 0;
    CHECK_EQ(wrong_sums, 0, "%u rounds: sums of the generated functions wrong", ROUNDS);
    CHECK_EQ(wrong_tpr, 0, "compares of the TPR that were not equal");
    CHECK_EQ(wrong_ds, 0, "DS after the load wrong");
    rt_finish();
}
