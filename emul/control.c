/*
 * emul/control.c — control and debug registers and the CPL-0 housekeeping
 * instructions: MOV to/from CR0/CR2/CR3/CR4, CLTS, LMSW, SMSW, MOV to/from
 * DR0-DR7, INVLPG, INVD, WBINVD, HLT.
 *
 * CR0/CR3/CR4 writes and INVLPG are reported to the env (shadow paging and
 * the translator's mode keys depend on them) after the instruction commits:
 * ctx->cr_written / ctx->invlpg_pending, acted on by emul_execute().
 *
 * Debug registers are stored, not enforced: no breakpoint in DR0-DR3 ever
 * fires. Only DR7.GD (general detect) is honoured, because it is checked by
 * MOV DR itself.
 */
#include "emul/emul_internal.h"

/* CR0 bits the virtual CPU implements; writes to the others are ignored
 * and ET reads as 1 (SDM vol. 3, §2.5: reserved CR0 bits keep their value;
 * ET is hardwired to 1 on P6). */
#define CR0_IMPLEMENTED                                                                        \
    (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD | \
     CR0_PG)

/* CR4 bits of the virtual CPU's features (CPUID.1:EDX: DE, PSE, TSC, PGE,
 * FXSR, SSE); setting any other is #GP(0) (SDM vol. 3, §2.5; vol. 2, MOV CR).
 * VME/PVI, PAE, MCE and the later bits are reserved here. */
#define CR4_IMPLEMENTED \
    (CR4_TSD | CR4_DE | CR4_PSE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT)

static void note_cr_write(struct emul_ctx *ctx, unsigned crn, uint32_t old)
{
    if (!(ctx->cr_written & (1u << crn)))
        ctx->cr_old[crn] = old;
    ctx->cr_written |= 1u << crn;
}

/* SDM vol. 2, MOV CR: #GP(0) for PG without PE, NW without CD, or a
 * reserved CR4 bit. */
static bool write_cr0(struct emul_ctx *ctx, uint32_t value)
{
    struct vcpu_state *cpu = ctx->cpu;

    value = (value & CR0_IMPLEMENTED) | CR0_ET;
    if ((value & CR0_PG) && !(value & CR0_PE))
        return emul_raise_gp(ctx, 0);
    if ((value & CR0_NW) && !(value & CR0_CD))
        return emul_raise_gp(ctx, 0);
    note_cr_write(ctx, 0, cpu->cr0);
    cpu->cr0 = value;
    return true;
}

static bool write_cr(struct emul_ctx *ctx, unsigned crn, uint32_t value)
{
    struct vcpu_state *cpu = ctx->cpu;

    switch (crn) {
    case 0:
        return write_cr0(ctx, value);
    case 2:
        cpu->cr2 = value;
        return true;
    case 3:
        /* Legacy 32-bit paging ignores CR3 bits 0-2 and 5-11 (SDM vol. 3,
         * §4.3, table 4-3); they are stored as written. */
        note_cr_write(ctx, 3, cpu->cr3);
        cpu->cr3 = value;
        return true;
    case 4:
        if (value & ~CR4_IMPLEMENTED)
            return emul_raise_gp(ctx, 0);
        note_cr_write(ctx, 4, cpu->cr4);
        cpu->cr4 = value;
        return true;
    default:
        return emul_raise_ud(ctx);
    }
}

enum emul_status emul_mov_cr(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    const ZydisDecodedOperand *dst = &ctx->ops[0];
    const ZydisDecodedOperand *src = &ctx->ops[1];
    bool to_cr = ZydisRegisterGetClass(dst->reg.value) == ZYDIS_REGCLASS_CONTROL;
    unsigned crn = (to_cr ? dst : src)->reg.value - ZYDIS_REGISTER_CR0;
    uint32_t value;

    if (crn == 1 || crn > 4) {
        return emul_fail(ctx, VEC_UD, 0);
    }
    if (emul_cpl(cpu) != 0)
        return emul_fail(ctx, VEC_GP, 0);
    if (to_cr) {
        emul_reg_read(cpu, src->reg.value, &value);
        return write_cr(ctx, crn, value) ? EMUL_OK : EMUL_FAULT;
    }
    value = crn == 0 ? cpu->cr0 : crn == 2 ? cpu->cr2 : crn == 3 ? cpu->cr3 : cpu->cr4;
    emul_reg_write(cpu, dst->reg.value, value);
    return EMUL_OK;
}

/* SDM vol. 2, CLTS: CPL 0 only; clears CR0.TS. */
enum emul_status emul_clts(struct emul_ctx *ctx)
{
    if (emul_cpl(ctx->cpu) != 0)
        return emul_fail(ctx, VEC_GP, 0);
    note_cr_write(ctx, 0, ctx->cpu->cr0);
    ctx->cpu->cr0 &= ~CR0_TS;
    return EMUL_OK;
}

/* SDM vol. 2, LMSW: CPL 0 only; loads CR0 bits 0-3 (PE, MP, EM, TS); PE can
 * be set but not cleared. */
enum emul_status emul_lmsw(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    uint32_t value;

    if (emul_cpl(cpu) != 0)
        return emul_fail(ctx, VEC_GP, 0);
    if (!emul_operand_read(ctx, &ctx->ops[0], &value))
        return EMUL_FAULT;
    note_cr_write(ctx, 0, cpu->cr0);
    cpu->cr0 = (cpu->cr0 & ~0xFu) | (value & 0xFu) | (cpu->cr0 & CR0_PE);
    return EMUL_OK;
}

/* SDM vol. 2, SMSW: allowed at every CPL (no UMIP). A memory destination
 * gets CR0[15:0]; a 32-bit register gets all of CR0 (the SDM leaves bits
 * 31:16 undefined; P6 and later processors, and QEMU, store CR0). */
enum emul_status emul_smsw(struct emul_ctx *ctx)
{
    return emul_operand_write(ctx, &ctx->ops[0], ctx->cpu->cr0) ? EMUL_OK : EMUL_FAULT;
}

/* SDM vol. 2, INVLPG: CPL 0 only; the operand's linear address (no limit
 * check: nothing is accessed). */
enum emul_status emul_invlpg(struct emul_ctx *ctx)
{
    const ZydisDecodedOperand *op = &ctx->ops[0];

    if (op->type != ZYDIS_OPERAND_TYPE_MEMORY) {
        return emul_fail(ctx, VEC_UD, 0);
    }
    if (emul_cpl(ctx->cpu) != 0)
        return emul_fail(ctx, VEC_GP, 0);
    ctx->invlpg_pending = true;
    ctx->invlpg_addr =
        ctx->cpu->seg[emul_sreg_from_zydis(op->mem.segment)].base + emul_effective_address(ctx, op);
    return EMUL_OK;
}

/* SDM vol. 2, INVD/WBINVD: CPL 0 only; guest caches are not modelled. */
enum emul_status emul_cache_control(struct emul_ctx *ctx)
{
    return emul_cpl(ctx->cpu) == 0 ? EMUL_OK : emul_fail(ctx, VEC_GP, 0);
}

/* SDM vol. 2, HLT: CPL 0 only; EIP is already past the instruction, where an
 * interrupt will return. */
enum emul_status emul_hlt(struct emul_ctx *ctx)
{
    return emul_cpl(ctx->cpu) == 0 ? EMUL_HALT : emul_fail(ctx, VEC_GP, 0);
}

/* ---- debug registers (SDM vol. 3, §17.2) ---- */

static uint32_t read_dr(const struct vcpu_state *cpu, unsigned n)
{
    switch (n) {
    case 6:
        return (cpu->dr[6] | DR6_FIXED1) & ~(1u << 12);
    case 7:
        return cpu->dr[7] | DR7_FIXED1;
    default:
        return cpu->dr[n];
    }
}

static void write_dr(struct vcpu_state *cpu, unsigned n, uint32_t value)
{
    switch (n) {
    case 6:
        /* B0-B3, BD, BS, BT are writable; the rest is fixed. */
        cpu->dr[6] = (value & 0x0000E00Fu) | DR6_FIXED1;
        break;
    case 7:
        /* Bits 11, 12, 14, 15 read as 0 and bit 10 as 1. */
        cpu->dr[7] = (value & 0xFFFF23FFu) | DR7_FIXED1;
        break;
    default:
        cpu->dr[n] = value;
        break;
    }
}

/* SDM vol. 2, MOV DR: CPL 0 only (#GP(0)); DR4/DR5 are #UD when CR4.DE = 1
 * and alias DR6/DR7 otherwise; with DR7.GD set any access is a #DB fault
 * with DR6.BD set and DR7.GD cleared (vol. 3, §17.2.4). */
enum emul_status emul_mov_dr(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    const ZydisDecodedOperand *dst = &ctx->ops[0];
    const ZydisDecodedOperand *src = &ctx->ops[1];
    bool to_dr = ZydisRegisterGetClass(dst->reg.value) == ZYDIS_REGCLASS_DEBUG;
    unsigned n = (to_dr ? dst : src)->reg.value - ZYDIS_REGISTER_DR0;
    uint32_t value;

    if (n > 7) {
        return emul_fail(ctx, VEC_UD, 0);
    }
    if (emul_cpl(cpu) != 0)
        return emul_fail(ctx, VEC_GP, 0);
    if (n == 4 || n == 5) {
        if (cpu->cr4 & CR4_DE) {
            return emul_fail(ctx, VEC_UD, 0);
        }
        n += 2;
    }
    if (read_dr(cpu, 7) & DR7_GD) {
        /* The #DB handler's entry state: part of delivering the fault. */
        ctx->committed->dr[6] = read_dr(cpu, 6) | DR6_BD;
        ctx->committed->dr[7] = read_dr(cpu, 7) & ~DR7_GD;
        return emul_fail(ctx, VEC_DB, 0);
    }
    if (to_dr) {
        emul_reg_read(cpu, src->reg.value, &value);
        write_dr(cpu, n, value);
    } else {
        emul_reg_write(cpu, dst->reg.value, read_dr(cpu, n));
    }
    return EMUL_OK;
}
