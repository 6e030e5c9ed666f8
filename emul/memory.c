/*
 * emul/memory.c — guest memory as an instruction sees it: segment checks,
 * linear accesses through the env callbacks, and the stack.
 *
 * Paging is not done here: env->read/env->write translate linear addresses
 * and report #PF as a fault value. What is done here is everything in front
 * of paging (SDM vol. 3, §3.4 and §5.3-5.4): null-segment use, type checks
 * (writes to code or read-only data, reads of execute-only code), limit
 * checks for expand-up and expand-down segments, 16- vs 32-bit stacks, and
 * the exact 32-bit wrap of linear addresses (an access that crosses 4 GiB is
 * split in two, as the processor does).
 *
 * Usage:
 *     struct emul_stack st;
 *     emul_stack_current(ctx, &st);
 *     if (!emul_stack_push(ctx, &st, value, 4))
 *         return EMUL_FAULT;
 *     emul_stack_commit(ctx, &st);
 */
#include "emul/emul_internal.h"

bool emul_linear_read(struct emul_ctx *ctx, guest_linear_t addr, void *buf, unsigned len,
                      enum emul_access access, unsigned cpl)
{
    const struct emul_env *env = ctx->env;
    uint64_t end = (uint64_t)addr + len;

    if (end > (1ull << 32)) {
        unsigned first = (unsigned)((1ull << 32) - addr);

        return env->read(env->opaque, addr, buf, first, access, cpl, ctx->fault) &&
               env->read(env->opaque, 0, (uint8_t *)buf + first, len - first, access, cpl,
                         ctx->fault);
    }
    return env->read(env->opaque, addr, buf, len, access, cpl, ctx->fault);
}

bool emul_linear_write(struct emul_ctx *ctx, guest_linear_t addr, const void *buf, unsigned len,
                       enum emul_access access, unsigned cpl)
{
    const struct emul_env *env = ctx->env;
    uint64_t end = (uint64_t)addr + len;

    if (end > (1ull << 32)) {
        unsigned first = (unsigned)((1ull << 32) - addr);

        return env->write(env->opaque, addr, buf, first, access, cpl, ctx->fault) &&
               env->write(env->opaque, 0, (const uint8_t *)buf + first, len - first, access, cpl,
                          ctx->fault);
    }
    return env->write(env->opaque, addr, buf, len, access, cpl, ctx->fault);
}

/* SDM vol. 3, §5.3: expand-up segments allow offsets 0..limit; expand-down
 * data segments allow limit+1..FFFFh (B=0) or limit+1..FFFFFFFFh (B=1). */
bool emul_segment_range_ok(const struct segment_cache *seg, uint32_t offset, uint32_t len)
{
    uint64_t last = (uint64_t)offset + (len ? len - 1 : 0);
    unsigned type = SEG_ATTR_TYPE(seg->attr);
    bool expand_down =
        (seg->attr & SEG_ATTR_S) && !(type & SEG_TYPE_CODE) && (type & SEG_TYPE_EXPAND_DN);

    if (expand_down) {
        uint64_t upper = (seg->attr & SEG_ATTR_DB) ? 0xFFFFFFFFull : 0xFFFFull;

        return offset > seg->limit && last <= upper;
    }
    return last <= seg->limit;
}

bool emul_segment_access_ok(const struct segment_cache *seg, uint32_t offset, uint32_t len,
                            bool write)
{
    unsigned type = SEG_ATTR_TYPE(seg->attr);

    /* A null (unusable) segment register: #GP(0) on use (SDM vol. 3, §3.4.2). */
    if (!(seg->attr & SEG_ATTR_P))
        return false;
    /* SDM vol. 3, §5.4: no writes to code or read-only data, no reads of
     * execute-only code. */
    if (seg->attr & SEG_ATTR_S) {
        if (write && ((type & SEG_TYPE_CODE) || !(type & SEG_TYPE_WRITABLE)))
            return false;
        if (!write && (type & SEG_TYPE_CODE) && !(type & SEG_TYPE_READABLE))
            return false;
    }
    return emul_segment_range_ok(seg, offset, len);
}

bool emul_segment_check(struct emul_ctx *ctx, const struct segment_cache *seg, bool stack,
                        uint32_t offset, uint32_t len, bool write)
{
    return emul_segment_access_ok(seg, offset, len, write) ||
           emul_raise(ctx, stack ? VEC_SS : VEC_GP, 0);
}

bool emul_vread(struct emul_ctx *ctx, enum vcpu_sreg sreg, uint32_t offset, void *buf, unsigned len)
{
    const struct segment_cache *seg = &ctx->cpu->seg[sreg];

    if (!emul_segment_check(ctx, seg, sreg == SEG_SS, offset, len, false))
        return false;
    return emul_linear_read(ctx, seg->base + offset, buf, len, EMUL_ACCESS_READ,
                            emul_cpl(ctx->cpu));
}

bool emul_vwrite(struct emul_ctx *ctx, enum vcpu_sreg sreg, uint32_t offset, const void *buf,
                 unsigned len)
{
    const struct segment_cache *seg = &ctx->cpu->seg[sreg];

    if (!emul_segment_check(ctx, seg, sreg == SEG_SS, offset, len, true))
        return false;
    return emul_linear_write(ctx, seg->base + offset, buf, len, EMUL_ACCESS_WRITE,
                             emul_cpl(ctx->cpu));
}

/* ---- the stack (SDM vol. 1, §6.2; vol. 3, §6.12.1) ---- */

void emul_stack_current(struct emul_ctx *ctx, struct emul_stack *st)
{
    st->ss = ctx->cpu->seg[SEG_SS];
    st->esp = ctx->cpu->regs[REG_ESP];
    st->cpl = emul_cpl(ctx->cpu);
    st->fault_error = 0;
}

/* The B flag of SS selects ESP or SP as the stack pointer (SDM vol. 3, §3.4.5). */
uint32_t emul_stack_add(const struct segment_cache *ss, uint32_t esp, uint32_t delta)
{
    if (ss->attr & SEG_ATTR_DB)
        return esp + delta;
    return (esp & 0xFFFF0000u) | ((esp + delta) & 0xFFFFu);
}

static uint32_t stack_offset(const struct segment_cache *ss, uint32_t esp)
{
    return (ss->attr & SEG_ATTR_DB) ? esp : (esp & 0xFFFFu);
}

bool emul_stack_room_push(struct emul_ctx *ctx, const struct emul_stack *st, uint32_t bytes)
{
    uint32_t top = stack_offset(&st->ss, emul_stack_add(&st->ss, st->esp, -bytes));

    if (bytes && !emul_segment_range_ok(&st->ss, top, bytes))
        return emul_raise(ctx, VEC_SS, st->fault_error);
    return true;
}

bool emul_stack_room_pop(struct emul_ctx *ctx, const struct emul_stack *st, uint32_t bytes)
{
    if (bytes && !emul_segment_range_ok(&st->ss, stack_offset(&st->ss, st->esp), bytes))
        return emul_raise(ctx, VEC_SS, st->fault_error);
    return true;
}

bool emul_stack_push(struct emul_ctx *ctx, struct emul_stack *st, uint32_t value, unsigned size)
{
    uint32_t esp = emul_stack_add(&st->ss, st->esp, -size);
    uint32_t offset = stack_offset(&st->ss, esp);

    if (!emul_segment_range_ok(&st->ss, offset, size))
        return emul_raise(ctx, VEC_SS, st->fault_error);
    if (!emul_linear_write(ctx, st->ss.base + offset, &value, size, EMUL_ACCESS_WRITE, st->cpl))
        return false;
    st->esp = esp;
    return true;
}

bool emul_stack_peek(struct emul_ctx *ctx, const struct emul_stack *st, uint32_t offset,
                     uint32_t *value, unsigned size)
{
    uint32_t at = stack_offset(&st->ss, emul_stack_add(&st->ss, st->esp, offset));

    *value = 0;
    if (!emul_segment_range_ok(&st->ss, at, size))
        return emul_raise(ctx, VEC_SS, st->fault_error);
    return emul_linear_read(ctx, st->ss.base + at, value, size, EMUL_ACCESS_READ, st->cpl);
}

bool emul_stack_pop(struct emul_ctx *ctx, struct emul_stack *st, uint32_t *value, unsigned size)
{
    if (!emul_stack_peek(ctx, st, 0, value, size))
        return false;
    st->esp = emul_stack_add(&st->ss, st->esp, size);
    return true;
}

void emul_stack_commit(struct emul_ctx *ctx, const struct emul_stack *st)
{
    ctx->cpu->regs[REG_ESP] = st->esp;
}
