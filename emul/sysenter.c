/*
 * emul/sysenter.c — SYSENTER and SYSEXIT, the P6 fast system call (SDM
 * vol. 2, SYSENTER/SYSEXIT; vol. 3, §5.8.7).
 *
 * Neither reads a descriptor: CS and SS are loaded with fixed flat
 * descriptors derived from IA32_SYSENTER_CS (CS = MSR & FFFCh, SS = CS + 8
 * for SYSENTER; CS = MSR + 16, SS = MSR + 24, RPL 3, for SYSEXIT), which the
 * kernel must have laid out the same way in its GDT.
 */
#include "emul/emul_internal.h"

/* SYSENTER: #GP(0) if IA32_SYSENTER_CS[15:2] = 0; clears VM, IF, RF; enters
 * CPL 0 at SYSENTER_EIP with SYSENTER_ESP. */
enum emul_status emul_sysenter(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    uint16_t cs = (uint16_t)(cpu->sysenter_cs & 0xFFFC);

    if (cs == 0)
        return emul_fail(ctx, VEC_GP, 0);
    cpu->eflags &= ~(EFLAGS_VM | EFLAGS_IF | EFLAGS_RF);
    vcpu_load_flat_segment(cpu, SEG_CS, cs, true);
    vcpu_load_flat_segment(cpu, SEG_SS, (uint16_t)(cs + 8), false);
    cpu->regs[REG_ESP] = cpu->sysenter_esp;
    cpu->eip = cpu->sysenter_eip;
    return EMUL_OK;
}

/* SYSEXIT: #GP(0) if IA32_SYSENTER_CS[15:2] = 0 or CPL != 0; returns to
 * CPL 3 at EDX with ESP = ECX. */
enum emul_status emul_sysexit(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    uint16_t base = (uint16_t)cpu->sysenter_cs;

    if ((base & 0xFFFC) == 0 || emul_cpl(cpu) != 0)
        return emul_fail(ctx, VEC_GP, 0);
    vcpu_load_flat_segment(cpu, SEG_CS, (uint16_t)((base + 16) | 3), true);
    vcpu_load_flat_segment(cpu, SEG_SS, (uint16_t)((base + 24) | 3), false);
    cpu->regs[REG_ESP] = cpu->regs[REG_ECX];
    cpu->eip = cpu->regs[REG_EDX];
    return EMUL_OK;
}
