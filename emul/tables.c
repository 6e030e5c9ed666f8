/*
 * emul/tables.c — the system-table registers: LGDT, LIDT, SGDT, SIDT (GDTR
 * and IDTR), LLDT, SLDT (LDTR) and LTR, STR (the task register).
 *
 * Loads are CPL-0 only; stores are allowed at every CPL (the virtual CPU has
 * no UMIP), which is one of the classic virtualization holes: a guest at
 * CPL 3 sees the real GDTR/IDTR values here, which are its own.
 */
#include "emul/emul_internal.h"

/* SDM vol. 2, LGDT/LIDT: #GP(0) at CPL > 0; m16&32 = limit, then base; with
 * a 16-bit operand size only 24 bits of base are loaded. */
enum emul_status emul_lgdt_lidt(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    const ZydisDecodedOperand *op = &ctx->ops[0];
    uint8_t raw[6];
    uint16_t limit;
    uint32_t base;

    if (op->type != ZYDIS_OPERAND_TYPE_MEMORY) {
        return emul_fail(ctx, VEC_UD, 0);
    }
    if (emul_cpl(cpu) != 0)
        return emul_fail(ctx, VEC_GP, 0);
    if (!emul_mem_read(ctx, op, 0, raw, sizeof(raw)))
        return EMUL_FAULT;
    limit = (uint16_t)(raw[0] | raw[1] << 8);
    base =
        (uint32_t)raw[2] | (uint32_t)raw[3] << 8 | (uint32_t)raw[4] << 16 | (uint32_t)raw[5] << 24;
    if (ctx->insn->operand_width == 16)
        base &= 0x00FFFFFF;
    if (ctx->insn->mnemonic == ZYDIS_MNEMONIC_LGDT) {
        cpu->gdtr.base = base;
        cpu->gdtr.limit = limit;
    } else {
        cpu->idtr.base = base;
        cpu->idtr.limit = limit;
    }
    return EMUL_OK;
}

/* SDM vol. 2, SGDT/SIDT: limit then base; with a 16-bit operand size the
 * high byte of the base is stored as 0. */
enum emul_status emul_sgdt_sidt(struct emul_ctx *ctx)
{
    const struct vcpu_state *cpu = ctx->cpu;
    const struct descriptor_table_reg *reg =
        ctx->insn->mnemonic == ZYDIS_MNEMONIC_SGDT ? &cpu->gdtr : &cpu->idtr;
    const ZydisDecodedOperand *op = &ctx->ops[0];
    uint32_t base = reg->base;
    uint8_t raw[6];

    if (op->type != ZYDIS_OPERAND_TYPE_MEMORY) {
        return emul_fail(ctx, VEC_UD, 0);
    }
    if (ctx->insn->operand_width == 16)
        base &= 0x00FFFFFF;
    raw[0] = (uint8_t)reg->limit;
    raw[1] = (uint8_t)(reg->limit >> 8);
    for (int i = 0; i < 4; i++)
        raw[2 + i] = (uint8_t)(base >> (8 * i));
    return emul_mem_write(ctx, op, 0, raw, sizeof(raw)) ? EMUL_OK : EMUL_FAULT;
}

/* SDM vol. 2, LLDT: #GP(0) at CPL > 0; a null selector makes LDTR invalid;
 * otherwise the selector must be in the GDT (TI = 0) and name a present LDT
 * descriptor: #GP(sel) / #NP(sel). */
enum emul_status emul_lldt(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    struct emul_desc d;
    uint32_t sel;

    if (emul_cpl(cpu) != 0)
        return emul_fail(ctx, VEC_GP, 0);
    if (!emul_operand_read(ctx, &ctx->ops[0], &sel))
        return EMUL_FAULT;
    if (SEL_IS_NULL(sel)) {
        emul_null_segment(&cpu->ldtr, (uint16_t)sel);
        return EMUL_OK;
    }
    if (sel & SEL_TI) {
        return emul_fail(ctx, VEC_GP, SEL_ERROR(sel));
    }
    if (!emul_desc_fetch(ctx, (uint16_t)sel, &d, VEC_GP))
        return EMUL_FAULT;
    if (desc_s(&d) || desc_type(&d) != SYS_LDT) {
        return emul_fail(ctx, VEC_GP, SEL_ERROR(sel));
    }
    if (!desc_present(&d)) {
        return emul_fail(ctx, VEC_NP, SEL_ERROR(sel));
    }
    emul_desc_to_cache(&d, (uint16_t)sel, &cpu->ldtr);
    return EMUL_OK;
}

/* SDM vol. 2, LTR: #GP(0) at CPL > 0 or for a null selector; the selector
 * must be in the GDT and name a present, available TSS (16- or 32-bit):
 * #GP(sel) / #NP(sel). The descriptor is then marked busy in memory. */
enum emul_status emul_ltr(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    struct emul_desc d;
    uint32_t sel;

    if (emul_cpl(cpu) != 0)
        return emul_fail(ctx, VEC_GP, 0);
    if (!emul_operand_read(ctx, &ctx->ops[0], &sel))
        return EMUL_FAULT;
    if (SEL_IS_NULL(sel))
        return emul_fail(ctx, VEC_GP, 0);
    if (sel & SEL_TI) {
        return emul_fail(ctx, VEC_GP, SEL_ERROR(sel));
    }
    if (!emul_desc_fetch(ctx, (uint16_t)sel, &d, VEC_GP))
        return EMUL_FAULT;
    if (desc_s(&d) || (desc_type(&d) != SYS_TSS32_AVAIL && desc_type(&d) != SYS_TSS16_AVAIL)) {
        return emul_fail(ctx, VEC_GP, SEL_ERROR(sel));
    }
    if (!desc_present(&d)) {
        return emul_fail(ctx, VEC_NP, SEL_ERROR(sel));
    }
    d.hi |= 0x2u << 8; /* busy: type 1 -> 3, 9 -> B */
    if (!emul_desc_write_high(ctx, (uint16_t)sel, &d))
        return EMUL_FAULT;
    emul_desc_to_cache(&d, (uint16_t)sel, &cpu->tr);
    return EMUL_OK;
}

/* SDM vol. 2, SLDT/STR: a 32-bit register destination is zero-extended, a
 * memory destination is always 16 bits (Zydis gives the operand size). */
enum emul_status emul_sldt_str(struct emul_ctx *ctx)
{
    const struct vcpu_state *cpu = ctx->cpu;
    uint16_t sel =
        ctx->insn->mnemonic == ZYDIS_MNEMONIC_SLDT ? cpu->ldtr.selector : cpu->tr.selector;

    return emul_operand_write(ctx, &ctx->ops[0], sel) ? EMUL_OK : EMUL_FAULT;
}
