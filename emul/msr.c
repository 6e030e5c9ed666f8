/*
 * emul/msr.c — model-specific registers and counters: RDMSR, WRMSR, RDTSC,
 * RDPMC, and the power-on values of the model-specific vCPU state.
 *
 * The MSR set is what a P6-family kernel touches (Linux i686 early Intel
 * set-up, microcode revision check, PAT, SYSENTER); every other MSR is
 * #GP(0), as on hardware, so guests probing with rdmsr_safe() see "absent".
 * MTRRs are not modelled: CPUID.1:EDX.MTRR is 0, IA32_MTRRCAP reads 0 (no
 * variable or fixed ranges, no WC) and IA32_MTRR_DEF_TYPE reads 0 (MTRRs
 * disabled, UC); a valid write to the latter is accepted and ignored.
 *
 * Register values live in vcpu_state's model-specific block (monitor/vcpu.h).
 */
#include "emul/emul_internal.h"

/* IA32_APIC_BASE (SDM vol. 3, §10.4.4): BSP flag (RO), global enable, base. */
#define APIC_BASE_BSP      (1u << 8)
#define APIC_BASE_EN       (1u << 11)
#define APIC_BASE_DEFAULT  0xFEE00000u
#define APIC_BASE_WRITABLE (0xFFFFF000u | APIC_BASE_EN)

/* IA32_MISC_ENABLE (SDM vol. 4, table 2-2 / 2-3): fast strings (0), TCC (3),
 * EIST (16), MONITOR FSM (18), limit CPUID maxval (22), xTPR disable (23),
 * XD disable (34) are writable and stored; BTS unavailable (11) and PEBS
 * unavailable (12) read as 1; the rest is reserved (#GP on 1). */
#define MISC_ENABLE_FAST_STRINGS (1ull << 0)
#define MISC_ENABLE_WRITABLE                                                                 \
    ((1ull << 0) | (1ull << 3) | (1ull << 16) | (1ull << 18) | (1ull << 22) | (1ull << 23) | \
     (1ull << 34))
#define MISC_ENABLE_FIXED1 ((1ull << 11) | (1ull << 12))

#define PAT_POWER_ON 0x0007040600070406ull /* SDM vol. 3, §11.12.4, table 11-12 */

void emul_reset_model_state(struct vcpu_state *cpu)
{
    for (unsigned i = 0; i < 8; i++)
        cpu->dr[i] = 0;
    cpu->dr[6] = DR6_FIXED1;
    cpu->dr[7] = DR7_FIXED1;
    cpu->sysenter_cs = cpu->sysenter_esp = cpu->sysenter_eip = 0;
    cpu->apic_base = APIC_BASE_DEFAULT | APIC_BASE_BSP | (EMUL_HAVE_LAPIC ? APIC_BASE_EN : 0);
    cpu->misc_enable = MISC_ENABLE_FAST_STRINGS;
    cpu->msr_pat = PAT_POWER_ON;
    cpu->tsc_offset = 0;
    cpu->interrupt_shadow = 0;
}

bool emul_lapic_enabled(const struct vcpu_state *cpu)
{
    return EMUL_HAVE_LAPIC && (cpu->apic_base & APIC_BASE_EN);
}

static uint64_t guest_tsc(const struct emul_ctx *ctx)
{
    return ctx->env->read_tsc(ctx->env->opaque) + ctx->cpu->tsc_offset;
}

/* A PAT entry may hold UC (0), WC (1), WT (4), WP (5), WB (6), UC- (7);
 * 2, 3 and anything above 7 are #GP(0) (SDM vol. 3, §11.12.2). */
static bool pat_valid(uint64_t pat)
{
    for (unsigned i = 0; i < 8; i++) {
        unsigned type = (pat >> (8 * i)) & 0xFF;

        if (type == 2 || type == 3 || type > 7)
            return false;
    }
    return true;
}

static bool msr_read(struct emul_ctx *ctx, uint32_t msr, uint64_t *value)
{
    const struct vcpu_state *cpu = ctx->cpu;

    switch (msr) {
    case MSR_IA32_TIME_STAMP_COUNTER:
        *value = guest_tsc(ctx);
        return true;
    case MSR_IA32_PLATFORM_ID:  /* platform id 0: matches any microcode */
    case MSR_IA32_BIOS_SIGN_ID: /* no microcode update loaded: revision 0 */
    case MSR_IA32_MTRRCAP:
    case MSR_IA32_MTRR_DEF_TYPE:
    case MSR_IA32_MCG_CAP: /* no machine-check banks */
        *value = 0;
        return true;
    case MSR_IA32_APIC_BASE:
        *value = cpu->apic_base ? cpu->apic_base : APIC_BASE_DEFAULT | APIC_BASE_BSP;
        return true;
    case MSR_IA32_SYSENTER_CS:
        *value = cpu->sysenter_cs;
        return true;
    case MSR_IA32_SYSENTER_ESP:
        *value = cpu->sysenter_esp;
        return true;
    case MSR_IA32_SYSENTER_EIP:
        *value = cpu->sysenter_eip;
        return true;
    case MSR_IA32_MISC_ENABLE:
        *value = (cpu->misc_enable & MISC_ENABLE_WRITABLE) | MISC_ENABLE_FIXED1;
        return true;
    case MSR_IA32_PAT:
        *value = cpu->msr_pat;
        return true;
    default:
        return emul_raise_gp(ctx, 0);
    }
}

static bool msr_write(struct emul_ctx *ctx, uint32_t msr, uint64_t value)
{
    struct vcpu_state *cpu = ctx->cpu;

    switch (msr) {
    case MSR_IA32_TIME_STAMP_COUNTER:
        /* SDM vol. 3, §17.17: a write sets the counter; kept as an offset. */
        cpu->tsc_offset = value - ctx->env->read_tsc(ctx->env->opaque);
        return true;
    case MSR_IA32_BIOS_SIGN_ID:
        /* Software writes 0 before CPUID to read the microcode revision back. */
        return true;
    case MSR_IA32_APIC_BASE:
        if (value & ~(uint64_t)(APIC_BASE_WRITABLE | APIC_BASE_BSP))
            return emul_raise_gp(ctx, 0);
        cpu->apic_base = (value & APIC_BASE_WRITABLE) | APIC_BASE_BSP;
        return true;
    case MSR_IA32_SYSENTER_CS:
        cpu->sysenter_cs = (uint32_t)value;
        return true;
    case MSR_IA32_SYSENTER_ESP:
        cpu->sysenter_esp = (uint32_t)value;
        return true;
    case MSR_IA32_SYSENTER_EIP:
        cpu->sysenter_eip = (uint32_t)value;
        return true;
    case MSR_IA32_MISC_ENABLE:
        if (value & ~(MISC_ENABLE_WRITABLE | MISC_ENABLE_FIXED1))
            return emul_raise_gp(ctx, 0);
        cpu->misc_enable = value & MISC_ENABLE_WRITABLE;
        return true;
    case MSR_IA32_PAT:
        if (!pat_valid(value))
            return emul_raise_gp(ctx, 0);
        cpu->msr_pat = value;
        return true;
    case MSR_IA32_MTRR_DEF_TYPE: {
        /* Type UC, WC, WT, WP or WB (0, 1, 4, 5, 6), FE (10), E (11); the
         * rest is reserved (SDM vol. 3, §11.11.2.1). */
        unsigned type = value & 0xFF;

        if ((value & ~0xCFFull) || type > 6 || !((1u << type) & 0x73))
            return emul_raise_gp(ctx, 0);
        return true;
    }
    default:
        /* Unknown MSRs and the read-only ones above (PLATFORM_ID, MTRRCAP,
         * MCG_CAP). */
        return emul_raise_gp(ctx, 0);
    }
}

/* SDM vol. 2, RDMSR/WRMSR: CPL 0 only; ECX selects, EDX:EAX is the value. */
enum emul_status emul_rdmsr(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    uint64_t value = 0;

    if (emul_cpl(cpu) != 0) {
        return emul_fail(ctx, VEC_GP, 0);
    }
    if (!msr_read(ctx, cpu->regs[REG_ECX], &value))
        return EMUL_FAULT;
    cpu->regs[REG_EAX] = (uint32_t)value;
    cpu->regs[REG_EDX] = (uint32_t)(value >> 32);
    return EMUL_OK;
}

enum emul_status emul_wrmsr(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    uint64_t value = (uint64_t)cpu->regs[REG_EDX] << 32 | cpu->regs[REG_EAX];

    if (emul_cpl(cpu) != 0) {
        return emul_fail(ctx, VEC_GP, 0);
    }
    return msr_write(ctx, cpu->regs[REG_ECX], value) ? EMUL_OK : EMUL_FAULT;
}

/* SDM vol. 2, RDTSC: #GP(0) when CR4.TSD = 1 and CPL > 0. */
enum emul_status emul_rdtsc(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    uint64_t tsc;

    if ((cpu->cr4 & CR4_TSD) && emul_cpl(cpu) != 0) {
        return emul_fail(ctx, VEC_GP, 0);
    }
    tsc = guest_tsc(ctx);
    cpu->regs[REG_EAX] = (uint32_t)tsc;
    cpu->regs[REG_EDX] = (uint32_t)(tsc >> 32);
    return EMUL_OK;
}

/* SDM vol. 2, RDPMC: #GP(0) when CR4.PCE = 0 and CPL > 0, or for a counter
 * the P6 does not have (ECX other than 0 or 1). The counters are not
 * modelled: they read 0. */
enum emul_status emul_rdpmc(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;

    if ((!(cpu->cr4 & CR4_PCE) && emul_cpl(cpu) != 0) || cpu->regs[REG_ECX] > 1) {
        return emul_fail(ctx, VEC_GP, 0);
    }
    cpu->regs[REG_EAX] = 0;
    cpu->regs[REG_EDX] = 0;
    return EMUL_OK;
}
