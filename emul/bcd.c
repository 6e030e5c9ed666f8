/*
 * emul/bcd.c — the decimal and ASCII adjust instructions DAA, DAS, AAA, AAS,
 * AAM, AAD and the undocumented SALC. None exists in 64-bit mode, so the
 * translator hands them all to emul/.
 *
 * Results and defined flags follow the SDM vol. 2 pseudocode of each
 * instruction. The flags the SDM calls undefined are set as QEMU, the guest
 * tests' oracle, sets them (popek has no measured real-CPU values to match):
 *  - DAA, DAS: OF = 0.
 *  - AAA, AAS: OF, SF, ZF, PF keep their previous values.
 *  - AAM, AAD: OF = AF = CF = 0.
 */
#include "emul/emul_internal.h"

#define ARITH_FLAGS (EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_OF)

static uint8_t get_al(const struct vcpu_state *cpu)
{
    return (uint8_t)cpu->regs[REG_EAX];
}

static uint8_t get_ah(const struct vcpu_state *cpu)
{
    return (uint8_t)(cpu->regs[REG_EAX] >> 8);
}

static void set_ax(struct vcpu_state *cpu, uint8_t al, uint8_t ah)
{
    cpu->regs[REG_EAX] = (cpu->regs[REG_EAX] & 0xFFFF0000u) | (uint32_t)ah << 8 | al;
}

/* SF, ZF, PF of AL; CF and AF as given; OF = 0. */
static void set_result_flags(struct vcpu_state *cpu, uint8_t al, bool cf, bool af)
{
    uint32_t f = cpu->eflags & ~ARITH_FLAGS;

    if (cf)
        f |= EFLAGS_CF;
    if (af)
        f |= EFLAGS_AF;
    if (al == 0)
        f |= EFLAGS_ZF;
    if (al & 0x80)
        f |= EFLAGS_SF;
    if (emul_parity(al))
        f |= EFLAGS_PF;
    cpu->eflags = f;
}

/* SDM vol. 2, DAA. */
static void daa(struct vcpu_state *cpu)
{
    uint8_t old_al = get_al(cpu), al = old_al;
    bool old_cf = cpu->eflags & EFLAGS_CF;
    bool af = cpu->eflags & EFLAGS_AF;
    bool cf;

    if ((al & 0x0F) > 9 || af) {
        al += 6;
        af = true;
    } else {
        af = false;
    }
    if (old_al > 0x99 || old_cf) {
        al += 0x60;
        cf = true;
    } else {
        cf = false;
    }
    set_ax(cpu, al, get_ah(cpu));
    set_result_flags(cpu, al, cf, af);
}

/* SDM vol. 2, DAS. */
static void das(struct vcpu_state *cpu)
{
    uint8_t old_al = get_al(cpu), al = old_al;
    bool old_cf = cpu->eflags & EFLAGS_CF;
    bool af = cpu->eflags & EFLAGS_AF;
    bool cf = false;

    if ((al & 0x0F) > 9 || af) {
        cf = old_cf || old_al < 6; /* borrow from AL - 6 */
        al -= 6;
        af = true;
    } else {
        af = false;
    }
    if (old_al > 0x99 || old_cf) {
        al -= 0x60;
        cf = true;
    }
    set_ax(cpu, al, get_ah(cpu));
    set_result_flags(cpu, al, cf, af);
}

/* SDM vol. 2, AAA and AAS: AX +/- 106h (the carry or borrow of AL+6 / AL-6
 * reaches AH), AF = CF = adjusted, AL &= 0Fh. */
static void aaa_aas(struct vcpu_state *cpu, bool subtract)
{
    uint16_t ax = (uint16_t)cpu->regs[REG_EAX];
    bool adjust = (ax & 0x0F) > 9 || (cpu->eflags & EFLAGS_AF);

    if (adjust)
        ax = subtract ? (uint16_t)(ax - 6 - 0x100) : (uint16_t)(ax + 0x106);
    set_ax(cpu, ax & 0x0F, (uint8_t)(ax >> 8));
    if (adjust)
        cpu->eflags |= EFLAGS_AF | EFLAGS_CF;
    else
        cpu->eflags &= ~(EFLAGS_AF | EFLAGS_CF);
}

enum emul_status emul_bcd(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    uint8_t al = get_al(cpu), ah = get_ah(cpu);
    uint8_t base;

    switch (ctx->insn->mnemonic) {
    case ZYDIS_MNEMONIC_DAA:
        daa(cpu);
        return EMUL_OK;
    case ZYDIS_MNEMONIC_DAS:
        das(cpu);
        return EMUL_OK;
    case ZYDIS_MNEMONIC_AAA:
        aaa_aas(cpu, false);
        return EMUL_OK;
    case ZYDIS_MNEMONIC_AAS:
        aaa_aas(cpu, true);
        return EMUL_OK;
    case ZYDIS_MNEMONIC_AAM:
        /* SDM vol. 2, AAM: AH = AL / imm8, AL = AL mod imm8; #DE if imm8 = 0. */
        base = (uint8_t)ctx->ops[0].imm.value.u;
        if (base == 0)
            return emul_fail(ctx, VEC_DE, 0);
        set_ax(cpu, al % base, al / base);
        set_result_flags(cpu, al % base, false, false);
        return EMUL_OK;
    default:
        /* SDM vol. 2, AAD: AL = (AL + AH * imm8) & FFh, AH = 0. */
        base = (uint8_t)ctx->ops[0].imm.value.u;
        al = (uint8_t)(al + ah * base);
        set_ax(cpu, al, 0);
        set_result_flags(cpu, al, false, false);
        return EMUL_OK;
    }
}

/* SALC (D6): AL = CF ? FFh : 00h; no flags change. */
enum emul_status emul_salc(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;

    set_ax(cpu, (cpu->eflags & EFLAGS_CF) ? 0xFF : 0x00, get_ah(cpu));
    return EMUL_OK;
}
