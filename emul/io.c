/*
 * emul/io.c — port I/O: IN, OUT, INS, OUTS (with and without REP), and the
 * protected-mode I/O permission check (SDM vol. 1, §19.5 "Protection of I/O
 * ports"; vol. 2, IN/OUT/INS/OUTS).
 *
 * When CPL > IOPL an access is allowed only if every bit for its ports in
 * the TSS I/O permission bitmap is 0; a 16-bit TSS, a TSS shorter than 104
 * bytes or a bitmap that does not reach the port all mean #GP(0).
 *
 * String forms: INS writes ES:(E)DI (no segment override), OUTS reads
 * DS:(E)SI (overridable); the address size picks (E)SI/(E)DI/(E)CX; DF picks
 * the direction. REP iterations are committed one by one (ctx->commit_on_
 * fault), so a fault in the middle leaves ECX/ESI/EDI describing the rest
 * and EIP at the instruction, as the processor does. As on the processor,
 * INS reads the port before writing memory: if that write faults, the datum
 * is lost (guests only use INS on present buffers).
 */
#include "emul/emul_internal.h"

/* After this many iterations a REP string instruction returns with EIP
 * still at itself, so that the monitor can deliver interrupts and the rest
 * runs on the next call (the processor is interruptible between iterations). */
#define REP_ITERATIONS_PER_CALL 65536u

#define TSS_IOMAP_BASE_OFFSET 0x66 /* SDM vol. 3, §7.2.1, figure 7-2 */
#define TSS32_MIN_LIMIT       0x67

static bool io_permitted(struct emul_ctx *ctx, io_port_t port, unsigned size)
{
    struct vcpu_state *cpu = ctx->cpu;
    uint16_t map_base = 0, bits = 0;
    uint32_t at;

    if (emul_cpl(cpu) <= emul_iopl(cpu))
        return true;
    if (!emul_tss_is_32bit(cpu) || cpu->tr.limit < TSS32_MIN_LIMIT)
        return emul_raise_gp(ctx, 0);
    if (!emul_linear_read(ctx, cpu->tr.base + TSS_IOMAP_BASE_OFFSET, &map_base, 2,
                          EMUL_ACCESS_SYSTEM_READ, 0))
        return false;
    /* Two bytes are read so that an access straddling a byte of the map is
     * checked in one go (SDM vol. 1, §19.5.2). */
    at = (uint32_t)map_base + port / 8;
    if (at + 1 > cpu->tr.limit)
        return emul_raise_gp(ctx, 0);
    if (!emul_linear_read(ctx, cpu->tr.base + at, &bits, 2, EMUL_ACCESS_SYSTEM_READ, 0))
        return false;
    if ((bits >> (port & 7)) & ((1u << size) - 1))
        return emul_raise_gp(ctx, 0);
    return true;
}

static uint32_t size_mask(unsigned size)
{
    return size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}

enum emul_status emul_in_out(struct emul_ctx *ctx)
{
    bool in = ctx->insn->mnemonic == ZYDIS_MNEMONIC_IN;
    const ZydisDecodedOperand *data = &ctx->ops[in ? 0 : 1];
    const ZydisDecodedOperand *port_op = &ctx->ops[in ? 1 : 0];
    unsigned size = data->size / 8;
    uint32_t port, value;

    if (!emul_operand_read(ctx, port_op, &port))
        return EMUL_FAULT;
    if (!io_permitted(ctx, (io_port_t)port, size))
        return EMUL_FAULT;
    if (in) {
        value = ctx->env->port_in(ctx->env->opaque, (io_port_t)port, size) & size_mask(size);
        emul_reg_write(ctx->cpu, data->reg.value, value);
    } else {
        emul_reg_read(ctx->cpu, data->reg.value, &value);
        ctx->env->port_out(ctx->env->opaque, (io_port_t)port, size, value & size_mask(size));
    }
    return EMUL_OK;
}

static unsigned string_size(ZydisMnemonic m)
{
    switch (m) {
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_OUTSB:
        return 1;
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_OUTSW:
        return 2;
    default:
        return 4;
    }
}

/* Reads/writes an index or count register at the address size. */
static uint32_t addr_reg(const struct emul_ctx *ctx, enum vcpu_gpr r)
{
    uint32_t v = ctx->cpu->regs[r];

    return ctx->insn->address_width == 16 ? (v & 0xFFFF) : v;
}

static void set_addr_reg(struct emul_ctx *ctx, enum vcpu_gpr r, uint32_t v)
{
    uint32_t *reg = &ctx->cpu->regs[r];

    *reg = ctx->insn->address_width == 16 ? ((*reg & 0xFFFF0000u) | (v & 0xFFFF)) : v;
}

enum emul_status emul_ins_outs(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    const struct emul_env *env = ctx->env;
    bool in = ctx->insn->mnemonic == ZYDIS_MNEMONIC_INSB ||
              ctx->insn->mnemonic == ZYDIS_MNEMONIC_INSW ||
              ctx->insn->mnemonic == ZYDIS_MNEMONIC_INSD;
    bool rep = ctx->insn->attributes &
               (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);
    unsigned size = string_size(ctx->insn->mnemonic);
    uint32_t step = (cpu->eflags & EFLAGS_DF) ? -size : size;
    io_port_t port = (io_port_t)cpu->regs[REG_EDX];
    enum vcpu_sreg src_seg = SEG_DS;
    uint32_t count = rep ? addr_reg(ctx, REG_ECX) : 1;
    uint32_t done = 0;

    for (unsigned i = 0; i < ctx->insn->operand_count; i++)
        if (!in && ctx->ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
            src_seg = emul_sreg_from_zydis(ctx->ops[i].mem.segment);
    if (!io_permitted(ctx, port, size))
        return EMUL_FAULT;

    for (; count > 0 && done < REP_ITERATIONS_PER_CALL; count--, done++) {
        uint32_t value = 0;
        bool ok;

        if (in) {
            value = env->port_in(env->opaque, port, size) & size_mask(size);
            ok = emul_vwrite(ctx, SEG_ES, addr_reg(ctx, REG_EDI), &value, size);
        } else {
            ok = emul_vread(ctx, src_seg, addr_reg(ctx, REG_ESI), &value, size);
            if (ok)
                env->port_out(env->opaque, port, size, value);
        }
        if (!ok) {
            /* Keep the completed iterations; restart at this one. */
            cpu->eip = ctx->insn_eip;
            ctx->commit_on_fault = rep && done > 0;
            return EMUL_FAULT;
        }
        if (in)
            set_addr_reg(ctx, REG_EDI, addr_reg(ctx, REG_EDI) + step);
        else
            set_addr_reg(ctx, REG_ESI, addr_reg(ctx, REG_ESI) + step);
        if (rep)
            set_addr_reg(ctx, REG_ECX, count - 1);
    }
    if (count > 0)
        cpu->eip = ctx->insn_eip; /* more to do: run again */
    return EMUL_OK;
}

bool emul_is_port_io(ZydisMnemonic mnemonic)
{
    switch (mnemonic) {
    case ZYDIS_MNEMONIC_IN:
    case ZYDIS_MNEMONIC_OUT:
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD:
        return true;
    default:
        return false;
    }
}
