/*
 * emul/seginsn.c — instructions on segment registers and selectors: MOV to
 * and from a segment register, PUSH/POP of one, LDS/LES/LFS/LGS/LSS, and the
 * selector queries LAR, LSL, VERR, VERW and ARPL.
 *
 * Loads go through emul_load_data_segment() (segments.c), which applies the
 * SDM's checks; the queries never fault on a bad selector, they clear ZF.
 */
#include "emul/emul_internal.h"

/* SDM vol. 2, MOV (segment register forms). Loading SS blocks interrupts
 * until the next instruction completes. MOV r32, Sreg zero-extends (P6 and
 * later); MOV m16, Sreg stores 16 bits. */
enum emul_status emul_mov_sreg(struct emul_ctx *ctx)
{
    const ZydisDecodedOperand *dst = &ctx->ops[0];
    const ZydisDecodedOperand *src = &ctx->ops[1];
    uint32_t sel;

    if (dst->type == ZYDIS_OPERAND_TYPE_REGISTER &&
        ZydisRegisterGetClass(dst->reg.value) == ZYDIS_REGCLASS_SEGMENT) {
        enum vcpu_sreg reg = emul_sreg_from_zydis(dst->reg.value);

        if (reg == SEG_CS) {
            return emul_fail(ctx, VEC_UD, 0);
        }
        if (!emul_operand_read(ctx, src, &sel) || !emul_load_data_segment(ctx, reg, (uint16_t)sel))
            return EMUL_FAULT;
        if (reg == SEG_SS)
            ctx->cpu->interrupt_shadow = EMUL_SHADOW_MOV_SS;
        return EMUL_OK;
    }
    sel = ctx->cpu->seg[emul_sreg_from_zydis(src->reg.value)].selector;
    return emul_operand_write(ctx, dst, sel) ? EMUL_OK : EMUL_FAULT;
}

/* SDM vol. 2, PUSH Sreg: with a 32-bit operand size the selector is pushed
 * zero-extended to 32 bits (the SDM allows this or a 16-bit store; this is
 * what QEMU, the guest tests' oracle, does). */
enum emul_status emul_push_sreg(struct emul_ctx *ctx)
{
    unsigned size = ctx->insn->operand_width / 8;
    uint16_t sel = ctx->cpu->seg[emul_sreg_from_zydis(ctx->ops[0].reg.value)].selector;
    struct emul_stack st;

    emul_stack_current(ctx, &st);
    if (!emul_stack_push(ctx, &st, sel, size))
        return EMUL_FAULT;
    emul_stack_commit(ctx, &st);
    return EMUL_OK;
}

/* SDM vol. 2, POP Sreg: the selector is loaded with the MOV checks; ESP
 * moves only if the load succeeds. POP SS blocks interrupts for one
 * instruction. */
enum emul_status emul_pop_sreg(struct emul_ctx *ctx)
{
    unsigned size = ctx->insn->operand_width / 8;
    enum vcpu_sreg reg = emul_sreg_from_zydis(ctx->ops[0].reg.value);
    struct emul_stack st;
    uint32_t value;

    emul_stack_current(ctx, &st);
    if (!emul_stack_pop(ctx, &st, &value, size))
        return EMUL_FAULT;
    if (!emul_load_data_segment(ctx, reg, (uint16_t)value))
        return EMUL_FAULT;
    emul_stack_commit(ctx, &st);
    if (reg == SEG_SS)
        ctx->cpu->interrupt_shadow = EMUL_SHADOW_MOV_SS;
    return EMUL_OK;
}

/* SDM vol. 2, LDS/LES/LFS/LGS/LSS: m16:32 (or m16:16) = offset, then
 * selector. The segment register is loaded first, so a failed load leaves
 * the general register unchanged. */
enum emul_status emul_load_far_pointer(struct emul_ctx *ctx)
{
    const ZydisDecodedOperand *mem = &ctx->ops[1];
    unsigned size = ctx->insn->operand_width / 8;
    enum vcpu_sreg reg = emul_sreg_from_zydis(ctx->ops[2].reg.value);
    uint32_t offset = 0;
    uint16_t sel = 0;

    if (mem->type != ZYDIS_OPERAND_TYPE_MEMORY) {
        return emul_fail(ctx, VEC_UD, 0);
    }
    if (!emul_mem_read(ctx, mem, 0, &offset, size) || !emul_mem_read(ctx, mem, size, &sel, 2))
        return EMUL_FAULT;
    if (!emul_load_data_segment(ctx, reg, sel))
        return EMUL_FAULT;
    emul_reg_write(ctx->cpu, ctx->ops[0].reg.value, offset);
    return EMUL_OK;
}

static void set_zf(struct vcpu_state *cpu, bool zf)
{
    if (zf)
        cpu->eflags |= EFLAGS_ZF;
    else
        cpu->eflags &= ~EFLAGS_ZF;
}

/* The system descriptor types LAR (and, without gates, LSL) accept
 * (SDM vol. 2, LAR and LSL tables). */
static bool lar_type_ok(unsigned type, bool lsl)
{
    switch (type) {
    case SYS_TSS16_AVAIL:
    case SYS_LDT:
    case SYS_TSS16_BUSY:
    case SYS_TSS32_AVAIL:
    case SYS_TSS32_BUSY:
        return true;
    case SYS_CALL_GATE16:
    case SYS_TASK_GATE:
    case SYS_CALL_GATE32:
        return !lsl;
    default:
        return false;
    }
}

/* Visible to the current CPL and the selector's RPL: conforming code always,
 * everything else when DPL >= CPL and DPL >= RPL. */
static bool selector_visible(const struct vcpu_state *cpu, uint16_t sel, const struct emul_desc *d)
{
    if (desc_is_conforming_code(d))
        return true;
    return desc_dpl(d) >= emul_cpl(cpu) && desc_dpl(d) >= SEL_RPL(sel);
}

/* SDM vol. 2, LAR and LSL: ZF = 1 and the access rights (masked to
 * 00F0FF00h, or FF00h with a 16-bit operand size) or the byte-granular limit
 * when the selector is valid and visible; otherwise ZF = 0 and the
 * destination is unchanged. */
enum emul_status emul_lar_lsl(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    bool lsl = ctx->insn->mnemonic == ZYDIS_MNEMONIC_LSL;
    struct emul_desc d;
    bool in_table;
    uint32_t sel, result;

    if (!emul_operand_read(ctx, &ctx->ops[1], &sel))
        return EMUL_FAULT;
    if (!emul_desc_probe(ctx, (uint16_t)sel, &d, &in_table))
        return EMUL_FAULT;
    if (!in_table || (!desc_s(&d) && !lar_type_ok(desc_type(&d), lsl)) ||
        !selector_visible(cpu, (uint16_t)sel, &d)) {
        set_zf(cpu, false);
        return EMUL_OK;
    }
    if (lsl)
        result = desc_limit(&d);
    else
        result = d.hi & (ctx->insn->operand_width == 16 ? 0xFF00u : 0x00F0FF00u);
    if (!emul_operand_write(ctx, &ctx->ops[0], result))
        return EMUL_FAULT;
    set_zf(cpu, true);
    return EMUL_OK;
}

/* SDM vol. 2, VERR/VERW: ZF = 1 when the selector names a code or data
 * segment visible at CPL and RPL that is readable (VERR: data, or readable
 * code) or writable (VERW: writable data). */
enum emul_status emul_verr_verw(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    bool write = ctx->insn->mnemonic == ZYDIS_MNEMONIC_VERW;
    struct emul_desc d;
    bool in_table, ok;
    uint32_t sel;

    if (!emul_operand_read(ctx, &ctx->ops[0], &sel))
        return EMUL_FAULT;
    if (write && ctx->env->clear_cpu_buffers)
        ctx->env->clear_cpu_buffers(ctx->env->opaque);
    if (!emul_desc_probe(ctx, (uint16_t)sel, &d, &in_table))
        return EMUL_FAULT;
    ok = in_table && desc_s(&d) && selector_visible(cpu, (uint16_t)sel, &d);
    if (ok && write)
        ok = desc_is_data(&d) && (desc_type(&d) & SEG_TYPE_WRITABLE);
    else if (ok)
        ok = desc_is_data(&d) || (desc_type(&d) & SEG_TYPE_READABLE);
    set_zf(cpu, ok);
    return EMUL_OK;
}

/* SDM vol. 2, ARPL: if DEST.RPL < SRC.RPL then ZF = 1 and DEST.RPL = SRC.RPL,
 * else ZF = 0. */
enum emul_status emul_arpl(struct emul_ctx *ctx)
{
    uint32_t dst, src;

    if (!emul_operand_read(ctx, &ctx->ops[0], &dst) || !emul_operand_read(ctx, &ctx->ops[1], &src))
        return EMUL_FAULT;
    if ((dst & 3) < (src & 3)) {
        if (!emul_operand_write(ctx, &ctx->ops[0], (dst & ~3u) | (src & 3)))
            return EMUL_FAULT;
        set_zf(ctx->cpu, true);
    } else {
        set_zf(ctx->cpu, false);
    }
    return EMUL_OK;
}
