/*
 * emul/segments.c — descriptors and segment-register loads: the protection
 * checks of SDM vol. 3, chapter 5 that every segment load shares.
 *
 * Reading a descriptor checks the selector against the GDT or LDT limit;
 * loading a data or stack segment applies the MOV/POP/LDS rules (null
 * selector, type, RPL/CPL/DPL, presence) and sets the accessed bit in the
 * descriptor in memory; far transfers check their code descriptors
 * themselves (farbranch.c, interrupts.c) and load CS through
 * emul_load_code_segment(). Every error code is the selector with RPL
 * cleared, plus EXT while delivering an event (ctx->ext, SDM §6.13).
 *
 * A null selector loaded into DS/ES/FS/GS leaves the register unusable: the
 * cache gets attr 0 (P clear), and memory.c raises #GP(0) on its use.
 */
#include <string.h>

#include "emul/emul_internal.h"

/* The table a selector indexes and its limit: TI=0 the GDT, TI=1 the LDT
 * (SDM vol. 3, §3.5.1). A null LDTR makes every LDT selector out of range. */
static bool selector_table(const struct vcpu_state *cpu, uint16_t sel, uint32_t *base,
                           uint32_t *limit)
{
    if (sel & SEL_TI) {
        if (SEL_IS_NULL(cpu->ldtr.selector) || !(cpu->ldtr.attr & SEG_ATTR_P))
            return false;
        *base = cpu->ldtr.base;
        *limit = cpu->ldtr.limit;
    } else {
        *base = cpu->gdtr.base;
        *limit = cpu->gdtr.limit;
    }
    return true;
}

bool emul_desc_fetch(struct emul_ctx *ctx, uint16_t sel, struct emul_desc *d, uint8_t vector)
{
    uint32_t base, limit;
    uint32_t raw[2];

    memset(d, 0, sizeof(*d));
    if (!selector_table(ctx->cpu, sel, &base, &limit) || (uint32_t)SEL_INDEX(sel) + 7 > limit)
        return emul_raise(ctx, vector, SEL_ERROR(sel) | ctx->ext);
    if (!emul_linear_read(ctx, base + SEL_INDEX(sel), raw, 8, EMUL_ACCESS_SYSTEM_READ, 0))
        return false;
    d->lo = raw[0];
    d->hi = raw[1];
    return true;
}

bool emul_desc_probe(struct emul_ctx *ctx, uint16_t sel, struct emul_desc *d, bool *in_table)
{
    uint32_t base, limit;
    uint32_t raw[2];

    memset(d, 0, sizeof(*d));
    *in_table = !SEL_IS_NULL(sel) && selector_table(ctx->cpu, sel, &base, &limit) &&
                (uint32_t)SEL_INDEX(sel) + 7 <= limit;
    if (!*in_table)
        return true;
    if (!emul_linear_read(ctx, base + SEL_INDEX(sel), raw, 8, EMUL_ACCESS_SYSTEM_READ, 0))
        return false;
    d->lo = raw[0];
    d->hi = raw[1];
    return true;
}

bool emul_desc_write_high(struct emul_ctx *ctx, uint16_t sel, const struct emul_desc *d)
{
    uint32_t base, limit;

    if (!selector_table(ctx->cpu, sel, &base, &limit))
        return emul_raise_gp(ctx, SEL_ERROR(sel) | ctx->ext);
    return emul_linear_write(ctx, base + SEL_INDEX(sel) + 4, &d->hi, 4, EMUL_ACCESS_SYSTEM_WRITE,
                             0);
}

/* SDM vol. 3, §3.4.5.1: the processor sets the accessed bit of a code or
 * data descriptor when it loads the selector into a segment register. */
bool emul_desc_set_accessed(struct emul_ctx *ctx, uint16_t sel, struct emul_desc *d)
{
    if (!desc_s(d) || (desc_type(d) & SEG_TYPE_ACCESSED))
        return true;
    d->hi |= SEG_TYPE_ACCESSED << 8;
    return emul_desc_write_high(ctx, sel, d);
}

void emul_desc_to_cache(const struct emul_desc *d, uint16_t sel, struct segment_cache *c)
{
    c->selector = sel;
    c->base = desc_base(d);
    c->limit = desc_limit(d);
    c->attr = (d->hi >> 8) & 0xF0FF;
}

void emul_null_segment(struct segment_cache *c, uint16_t sel)
{
    c->selector = sel;
    c->base = 0;
    c->limit = 0;
    c->attr = 0;
}

bool emul_fetch_stack_segment(struct emul_ctx *ctx, uint16_t sel, unsigned dpl, uint8_t vector,
                              struct emul_desc *d)
{
    uint16_t err = SEL_ERROR(sel) | ctx->ext;

    if (SEL_IS_NULL(sel))
        return emul_raise(ctx, vector, ctx->ext);
    if (!emul_desc_fetch(ctx, sel, d, vector))
        return false;
    if (SEL_RPL(sel) != dpl || desc_dpl(d) != dpl)
        return emul_raise(ctx, vector, err);
    if (!desc_is_data(d) || !(desc_type(d) & SEG_TYPE_WRITABLE))
        return emul_raise(ctx, vector, err);
    if (!desc_present(d))
        return emul_raise(ctx, VEC_SS, err);
    return true;
}

/* SDM vol. 2, MOV, "IF SS is loaded" and "IF DS, ES, FS, or GS is loaded
 * with non-NULL selector"; vol. 3, §5.10.4 (privilege checks for data). */
bool emul_load_data_segment(struct emul_ctx *ctx, enum vcpu_sreg reg, uint16_t sel)
{
    struct vcpu_state *cpu = ctx->cpu;
    unsigned cpl = emul_cpl(cpu);
    struct emul_desc d;

    if (reg == SEG_SS) {
        if (!emul_fetch_stack_segment(ctx, sel, cpl, VEC_GP, &d))
            return false;
    } else {
        if (SEL_IS_NULL(sel)) {
            emul_null_segment(&cpu->seg[reg], sel);
            return true;
        }
        if (!emul_desc_fetch(ctx, sel, &d, VEC_GP))
            return false;
        if (!desc_is_data(&d) && !(desc_is_code(&d) && (desc_type(&d) & SEG_TYPE_READABLE)))
            return emul_raise_gp(ctx, SEL_ERROR(sel));
        if (!desc_is_conforming_code(&d) && (SEL_RPL(sel) > desc_dpl(&d) || cpl > desc_dpl(&d)))
            return emul_raise_gp(ctx, SEL_ERROR(sel));
        if (!desc_present(&d))
            return emul_raise(ctx, VEC_NP, SEL_ERROR(sel));
    }
    if (!emul_desc_set_accessed(ctx, sel, &d))
        return false;
    emul_desc_to_cache(&d, sel, &cpu->seg[reg]);
    return true;
}

bool emul_load_code_segment(struct emul_ctx *ctx, uint16_t sel, struct emul_desc *d, unsigned cpl)
{
    if (!emul_desc_set_accessed(ctx, sel, d))
        return false;
    emul_desc_to_cache(d, (uint16_t)((sel & ~3u) | cpl), &ctx->cpu->seg[SEG_CS]);
    return true;
}

/* SDM vol. 2, RET and IRET (RETURN-TO-OUTER-PRIVILEGE-LEVEL): "FOR each of
 * segment register ES, FS, GS, and DS: IF segment register points to data or
 * non-conforming code segment AND CPL > segment descriptor DPL, THEN set the
 * segment register to null". */
void emul_invalidate_data_segments(struct vcpu_state *cpu)
{
    static const enum vcpu_sreg regs[] = {SEG_ES, SEG_FS, SEG_GS, SEG_DS};
    unsigned cpl = emul_cpl(cpu);

    for (unsigned i = 0; i < ARRAY_SIZE(regs); i++) {
        struct segment_cache *c = &cpu->seg[regs[i]];
        unsigned type = SEG_ATTR_TYPE(c->attr);
        bool conforming_code = (type & SEG_TYPE_CODE) && (type & SEG_TYPE_CONFORMING);

        if (!(c->attr & SEG_ATTR_P) || !(c->attr & SEG_ATTR_S) || conforming_code)
            continue;
        if (SEG_ATTR_DPL(c->attr) < cpl)
            emul_null_segment(c, 0);
    }
}

/* SDM vol. 2, CALL (MORE-PRIVILEGE) and INT n (INTER-PRIVILEGE-LEVEL-
 * INTERRUPT): TSSstackAddress = DPL * 8 + 4 in a 32-bit TSS (vol. 3, §7.2.1,
 * figure 7-2); beyond the TSS limit -> #TS(TSS selector). */
bool emul_tss_stack(struct emul_ctx *ctx, unsigned dpl, uint16_t *ss, uint32_t *esp)
{
    const struct vcpu_state *cpu = ctx->cpu;
    uint32_t at = dpl * 8 + 4;

    if (at + 7 > cpu->tr.limit)
        return emul_raise(ctx, VEC_TS, SEL_ERROR(cpu->tr.selector) | ctx->ext);
    *ss = 0;
    return emul_linear_read(ctx, cpu->tr.base + at, esp, 4, EMUL_ACCESS_SYSTEM_READ, 0) &&
           emul_linear_read(ctx, cpu->tr.base + at + 4, ss, 2, EMUL_ACCESS_SYSTEM_READ, 0);
}
