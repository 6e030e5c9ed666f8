/*
 * emul/flags.c — the instructions that read or write the system flags of
 * EFLAGS: CLI, STI, PUSHF/PUSHFD, POPF/POPFD.
 *
 * These are where x86 is not classically virtualizable: at CPL > IOPL, POPF
 * silently keeps IF and IOPL while CLI/STI fault. The rules below are the
 * SDM's, for protected mode without virtual-8086 mode and without CR4.PVI
 * (the virtual CPU has no VME, so CR4.PVI cannot be set).
 */
#include "emul/emul_internal.h"

/* SDM vol. 2, CLI and STI (protected mode, PVI = 0): IF changes only when
 * CPL <= IOPL, otherwise #GP(0). STI with IF = 0 blocks interrupts until the
 * next instruction completes. */
enum emul_status emul_cli_sti(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;

    if (emul_cpl(cpu) > emul_iopl(cpu)) {
        return emul_fail(ctx, VEC_GP, 0);
    }
    if (ctx->insn->mnemonic == ZYDIS_MNEMONIC_CLI) {
        cpu->eflags &= ~EFLAGS_IF;
    } else {
        if (!(cpu->eflags & EFLAGS_IF))
            cpu->interrupt_shadow = EMUL_SHADOW_STI;
        cpu->eflags |= EFLAGS_IF;
    }
    return EMUL_OK;
}

/* SDM vol. 2, PUSHF: the image has VM and RF cleared; PUSHF (16-bit operand
 * size) pushes the low 16 bits. */
enum emul_status emul_pushf(struct emul_ctx *ctx)
{
    unsigned size = ctx->insn->operand_width / 8;
    uint32_t image = ctx->cpu->eflags & ~(EFLAGS_VM | EFLAGS_RF);
    struct emul_stack st;

    emul_stack_current(ctx, &st);
    if (!emul_stack_push(ctx, &st, size == 2 ? (image & 0xFFFF) : image, size))
        return EMUL_FAULT;
    emul_stack_commit(ctx, &st);
    return EMUL_OK;
}

/* SDM vol. 2, POPF, protected mode (VM = 0):
 *  - CPL 0: every non-reserved flag except VIP, VIF, VM changes; RF is cleared.
 *  - CPL > 0, CPL <= IOPL: the same except IOPL, which is kept.
 *  - CPL > IOPL: the same except IOPL and IF, which are kept (no fault).
 * With a 16-bit operand size only bits 15..0 are loaded (and RF is kept). */
#define POPF_ALWAYS                                                                      \
    (EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_TF | EFLAGS_DF | \
     EFLAGS_OF | EFLAGS_NT | EFLAGS_AC | EFLAGS_ID)

enum emul_status emul_popf(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    unsigned size = ctx->insn->operand_width / 8;
    unsigned cpl = emul_cpl(cpu);
    uint32_t mask = POPF_ALWAYS;
    struct emul_stack st;
    uint32_t value;

    emul_stack_current(ctx, &st);
    if (!emul_stack_pop(ctx, &st, &value, size))
        return EMUL_FAULT;
    if (cpl == 0)
        mask |= EFLAGS_IOPL | EFLAGS_IF;
    else if (cpl <= emul_iopl(cpu))
        mask |= EFLAGS_IF;
    if (size == 2)
        mask &= 0xFFFF;
    cpu->eflags = (cpu->eflags & ~mask) | (value & mask) | EFLAGS_FIXED1;
    if (size == 4)
        cpu->eflags &= ~EFLAGS_RF;
    emul_stack_commit(ctx, &st);
    return EMUL_OK;
}
