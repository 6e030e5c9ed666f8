/*
 * emul/operands.c — reading and writing the operands Zydis decoded: general
 * registers of every width, memory operands (effective address with 16- or
 * 32-bit address size, default or overridden segment, segment checks) and
 * immediates.
 *
 * Register writes follow the 32-bit rules: an 8- or 16-bit destination
 * changes only its part of the register, a 32-bit one the whole register.
 */
#include "emul/emul_internal.h"

/* Maps a Zydis general register to (register number, width in bits, shift). */
static bool gpr_lookup(ZydisRegister reg, unsigned *num, unsigned *width, unsigned *shift)
{
    *shift = 0;
    if (reg >= ZYDIS_REGISTER_EAX && reg <= ZYDIS_REGISTER_EDI) {
        *num = reg - ZYDIS_REGISTER_EAX;
        *width = 32;
    } else if (reg >= ZYDIS_REGISTER_AX && reg <= ZYDIS_REGISTER_DI) {
        *num = reg - ZYDIS_REGISTER_AX;
        *width = 16;
    } else if (reg >= ZYDIS_REGISTER_AL && reg <= ZYDIS_REGISTER_BL) {
        *num = reg - ZYDIS_REGISTER_AL;
        *width = 8;
    } else if (reg >= ZYDIS_REGISTER_AH && reg <= ZYDIS_REGISTER_BH) {
        *num = reg - ZYDIS_REGISTER_AH;
        *width = 8;
        *shift = 8;
    } else {
        return false;
    }
    return true;
}

bool emul_reg_read(const struct vcpu_state *cpu, ZydisRegister reg, uint32_t *value)
{
    unsigned num, width, shift;

    if (!gpr_lookup(reg, &num, &width, &shift))
        return false;
    *value = cpu->regs[num] >> shift;
    if (width < 32)
        *value &= (1u << width) - 1;
    return true;
}

bool emul_reg_write(struct vcpu_state *cpu, ZydisRegister reg, uint32_t value)
{
    unsigned num, width, shift;
    uint32_t mask;

    if (!gpr_lookup(reg, &num, &width, &shift))
        return false;
    mask = (width == 32) ? 0xFFFFFFFFu : (((1u << width) - 1) << shift);
    cpu->regs[num] = (cpu->regs[num] & ~mask) | ((value << shift) & mask);
    return true;
}

enum vcpu_sreg emul_sreg_from_zydis(ZydisRegister reg)
{
    return (enum vcpu_sreg)(reg - ZYDIS_REGISTER_ES);
}

/* SDM vol. 1, §3.7.5: base + index * scale + displacement, truncated to the
 * address size (16-bit addressing wraps at 64 KiB). */
uint32_t emul_effective_address(const struct emul_ctx *ctx, const ZydisDecodedOperand *op)
{
    uint32_t ea = (uint32_t)op->mem.disp.value;
    uint32_t v;

    if (op->mem.base != ZYDIS_REGISTER_NONE && emul_reg_read(ctx->cpu, op->mem.base, &v))
        ea += v;
    if (op->mem.index != ZYDIS_REGISTER_NONE && emul_reg_read(ctx->cpu, op->mem.index, &v))
        ea += v * (op->mem.scale ? op->mem.scale : 1);
    if (ctx->insn->address_width == 16)
        ea &= 0xFFFF;
    return ea;
}

bool emul_mem_read(struct emul_ctx *ctx, const ZydisDecodedOperand *op, uint32_t disp, void *buf,
                   unsigned len)
{
    return emul_vread(ctx, emul_sreg_from_zydis(op->mem.segment),
                      emul_effective_address(ctx, op) + disp, buf, len);
}

bool emul_mem_write(struct emul_ctx *ctx, const ZydisDecodedOperand *op, uint32_t disp,
                    const void *buf, unsigned len)
{
    return emul_vwrite(ctx, emul_sreg_from_zydis(op->mem.segment),
                       emul_effective_address(ctx, op) + disp, buf, len);
}

bool emul_operand_read(struct emul_ctx *ctx, const ZydisDecodedOperand *op, uint32_t *value)
{
    unsigned bytes = op->size / 8;

    *value = 0;
    switch (op->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        if (!emul_reg_read(ctx->cpu, op->reg.value, value))
            return emul_raise_ud(ctx);
        return true;
    case ZYDIS_OPERAND_TYPE_MEMORY:
        return emul_mem_read(ctx, op, 0, value, bytes > 4 ? 4 : bytes);
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        *value = (uint32_t)op->imm.value.u;
        if (op->size && op->size < 32)
            *value &= (1u << op->size) - 1;
        return true;
    default:
        return emul_raise_ud(ctx);
    }
}

bool emul_operand_write(struct emul_ctx *ctx, const ZydisDecodedOperand *op, uint32_t value)
{
    unsigned bytes = op->size / 8;

    switch (op->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
        if (!emul_reg_write(ctx->cpu, op->reg.value, value))
            return emul_raise_ud(ctx);
        return true;
    case ZYDIS_OPERAND_TYPE_MEMORY:
        return emul_mem_write(ctx, op, 0, &value, bytes > 4 ? 4 : bytes);
    default:
        return emul_raise_ud(ctx);
    }
}
