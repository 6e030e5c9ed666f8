/*
 * emul/cpuid.c — CPUID: the identity of the virtual CPU (DESIGN.md §5).
 *
 * A uniprocessor P6-class Intel CPU, family 6 model 15 stepping 1, with
 * FPU, DE, PSE, TSC, MSR, CX8, APIC (devices/lapic.c: EMUL_HAVE_LAPIC), SEP,
 * PGE, CMOV, PAT, CLFLUSH, MMX, FXSR, SSE and SSE2, and the hypervisor bit
 * with leaf 0x40000000 ("popekpopekpo"). Deliberately absent: VME, PAE,
 * MCE, MTRR, MCA, PSE36, HTT, every CPUID.1:ECX feature (TSC_DEADLINE among
 * them: the APIC timer has no TSC-deadline mode), and in the extended
 * leaves LM, NX and SYSCALL.
 *
 * Leaves: basic 0-2 (leaf 2 describes the caches with descriptors, so no
 * leaf 4 is needed), 0x40000000, extended 0x80000000-0x80000004 (brand
 * string). Any other leaf returns what the highest basic leaf returns, as
 * Intel processors do (SDM vol. 2, CPUID, "If a value entered for CPUID.EAX
 * is higher than the maximum input value for basic or extended function...").
 */
#include <string.h>

#include "emul/emul_internal.h"

#define CPUID_MAX_BASIC    0x00000002u
#define CPUID_HYPERVISOR   0x40000000u
#define CPUID_MAX_EXTENDED 0x80000004u

/* CPUID.1:EDX (SDM vol. 2, CPUID, table 3-11). */
#define CPUID_1_EDX_FPU   (1u << 0)
#define CPUID_1_EDX_DE    (1u << 2)
#define CPUID_1_EDX_PSE   (1u << 3)
#define CPUID_1_EDX_TSC   (1u << 4)
#define CPUID_1_EDX_MSR   (1u << 5)
#define CPUID_1_EDX_CX8   (1u << 8)
#define CPUID_1_EDX_APIC  (1u << 9)
#define CPUID_1_EDX_SEP   (1u << 11)
#define CPUID_1_EDX_PGE   (1u << 13)
#define CPUID_1_EDX_CMOV  (1u << 15)
#define CPUID_1_EDX_PAT   (1u << 16)
#define CPUID_1_EDX_CLFSH (1u << 19)
#define CPUID_1_EDX_MMX   (1u << 23)
#define CPUID_1_EDX_FXSR  (1u << 24)
#define CPUID_1_EDX_SSE   (1u << 25)
#define CPUID_1_EDX_SSE2  (1u << 26)

#define CPUID_1_ECX_HYPERVISOR (1u << 31)

static const uint32_t leaf1_edx =
    CPUID_1_EDX_FPU | CPUID_1_EDX_DE | CPUID_1_EDX_PSE | CPUID_1_EDX_TSC | CPUID_1_EDX_MSR |
    CPUID_1_EDX_CX8 | CPUID_1_EDX_SEP | CPUID_1_EDX_PGE | CPUID_1_EDX_CMOV | CPUID_1_EDX_PAT |
    CPUID_1_EDX_CLFSH | CPUID_1_EDX_MMX | CPUID_1_EDX_FXSR | CPUID_1_EDX_SSE | CPUID_1_EDX_SSE2 |
    (EMUL_HAVE_LAPIC ? CPUID_1_EDX_APIC : 0);

/* Four ASCII characters as the register holding them (little-endian). */
static uint32_t chars4(const char *s)
{
    uint32_t v;

    memcpy(&v, s, 4);
    return v;
}

static void basic_leaf(uint32_t leaf, uint32_t out[4])
{
    switch (leaf) {
    case 0:
        out[0] = CPUID_MAX_BASIC;
        out[1] = chars4("Genu");
        out[3] = chars4("ineI");
        out[2] = chars4("ntel");
        break;
    case 1:
        out[0] = EMUL_CPUID_SIGNATURE;
        /* Brand index 0, CLFLUSH line 8 * 8 = 64 bytes, 1 logical
         * processor, initial APIC ID 0. */
        out[1] = (8u << 8) | (1u << 16);
        out[2] = CPUID_1_ECX_HYPERVISOR;
        out[3] = leaf1_edx;
        break;
    default:
        /* Leaf 2: AL = 1 (one call), then descriptors (SDM vol. 2, CPUID,
         * table 3-12): 2Ch L1D 32 KiB 8-way 64 B, 30h L1I 32 KiB 8-way 64 B,
         * 7Dh L2 2 MiB 8-way 64 B; B0h ITLB 4 KiB 128 entries 4-way, B3h
         * DTLB 4 KiB 128 entries 4-way. */
        out[0] = 0x7D302C01u;
        out[1] = 0x0000B3B0u;
        out[2] = 0;
        out[3] = 0;
        break;
    }
}

void emul_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
    static const char brand[48] = "popek virtual CPU";

    out[0] = out[1] = out[2] = out[3] = 0;
    if (leaf <= CPUID_MAX_BASIC) {
        basic_leaf(leaf, out);
    } else if (leaf == CPUID_HYPERVISOR) {
        out[0] = CPUID_HYPERVISOR; /* highest hypervisor leaf */
        out[1] = chars4("pope");
        out[2] = chars4("kpop");
        out[3] = chars4("ekpo");
    } else if (leaf == 0x80000000u) {
        out[0] = CPUID_MAX_EXTENDED;
    } else if (leaf == 0x80000001u) {
        /* No LAHF in 64-bit mode, LM, NX, SYSCALL: all zero. */
    } else if (leaf >= 0x80000002u && leaf <= CPUID_MAX_EXTENDED) {
        memcpy(out, brand + 16 * (leaf - 0x80000002u), 16);
    } else {
        basic_leaf(CPUID_MAX_BASIC, out);
    }
}

/* SDM vol. 2, CPUID: EAX = leaf, ECX = subleaf; allowed at every CPL. */
enum emul_status emul_cpuid_insn(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    uint32_t out[4];

    emul_cpuid(cpu->regs[REG_EAX], cpu->regs[REG_ECX], out);
    cpu->regs[REG_EAX] = out[0];
    cpu->regs[REG_EBX] = out[1];
    cpu->regs[REG_ECX] = out[2];
    cpu->regs[REG_EDX] = out[3];
    return EMUL_OK;
}
