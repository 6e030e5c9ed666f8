/*
 * emul/legacy32.c — ordinary 32-bit instructions that have no 64-bit
 * encoding, for when the translator hands them over: BOUND (62h is EVEX in
 * 64-bit mode) and PUSHA/POPA (60h/61h are invalid in 64-bit mode).
 */
#include "emul/emul_internal.h"

/* SDM vol. 2, BOUND: #BR (a fault) unless lower <= index <= upper, signed,
 * with the bounds at m and m + operand size. */
enum emul_status emul_bound(struct emul_ctx *ctx)
{
    unsigned size = ctx->insn->operand_width / 8;
    const ZydisDecodedOperand *mem = &ctx->ops[1];
    uint32_t index = 0, lower = 0, upper = 0;
    int32_t i, lo, hi;

    if (mem->type != ZYDIS_OPERAND_TYPE_MEMORY)
        return emul_fail(ctx, VEC_UD, 0);
    emul_reg_read(ctx->cpu, ctx->ops[0].reg.value, &index);
    if (!emul_mem_read(ctx, mem, 0, &lower, size) || !emul_mem_read(ctx, mem, size, &upper, size))
        return EMUL_FAULT;
    if (size == 2) {
        i = (int16_t)index;
        lo = (int16_t)lower;
        hi = (int16_t)upper;
    } else {
        i = (int32_t)index;
        lo = (int32_t)lower;
        hi = (int32_t)upper;
    }
    if (i < lo || i > hi)
        return emul_fail(ctx, VEC_BR, 0);
    return EMUL_OK;
}

/* SDM vol. 2, PUSHA/PUSHAD: EAX, ECX, EDX, EBX, the original ESP, EBP, ESI,
 * EDI; #SS(0) before anything is written if the stack lacks the room. */
enum emul_status emul_pusha(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    unsigned size = ctx->insn->operand_width / 8;
    struct emul_stack st;

    emul_stack_current(ctx, &st);
    if (!emul_stack_room_push(ctx, &st, 8 * size))
        return EMUL_FAULT;
    for (unsigned r = REG_EAX; r <= REG_EDI; r++)
        if (!emul_stack_push(ctx, &st, cpu->regs[r], size))
            return EMUL_FAULT;
    emul_stack_commit(ctx, &st);
    return EMUL_OK;
}

/* SDM vol. 2, POPA/POPAD: EDI, ESI, EBP, (ESP skipped), EBX, EDX, ECX, EAX. */
enum emul_status emul_popa(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    unsigned size = ctx->insn->operand_width / 8;
    uint32_t values[REG_COUNT];
    struct emul_stack st;

    emul_stack_current(ctx, &st);
    if (!emul_stack_room_pop(ctx, &st, 8 * size))
        return EMUL_FAULT;
    for (int r = REG_EDI; r >= REG_EAX; r--)
        if (!emul_stack_pop(ctx, &st, &values[r], size))
            return EMUL_FAULT;
    for (unsigned r = REG_EAX; r <= REG_EDI; r++) {
        if (r == REG_ESP)
            continue;
        cpu->regs[r] =
            size == 2 ? ((cpu->regs[r] & 0xFFFF0000u) | (values[r] & 0xFFFF)) : values[r];
    }
    emul_stack_commit(ctx, &st);
    return EMUL_OK;
}
