/*
 * emul/decode_fetch.c — fetching the instruction at CS:EIP and decoding it
 * with Zydis (32-bit legacy mode, 32-bit stack).
 *
 * The fetch reads as the processor does: at the current CPL with
 * EMUL_ACCESS_FETCH, never beyond the CS limit (#GP(0)), and first only up
 * to the end of the page, so that an instruction ending before a page
 * boundary never touches (and faults on) the next page. Only when Zydis says
 * it needs more bytes is the rest fetched.
 *
 * An undecodable byte sequence is #UD; more than 15 bytes is #GP(0)
 * (SDM vol. 2, §2.3.11).
 *
 * Decoding is a third of what a callout costs, and a guest runs the same
 * few sensitive instructions over and over (its kernel entry path), so
 * decodes are remembered in a small direct-mapped cache keyed by linear
 * address and checked against the bytes just fetched: an instruction is
 * fully determined by its own bytes, so a match is the same instruction
 * whatever the address space.
 */
#include <string.h>

#include "emul/emul_internal.h"

#define DECODE_CACHE_ENTRIES 256

static struct decode_cache_entry {
    guest_linear_t linear;
    uint8_t length; /* 0: empty */
    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
} decode_cache[DECODE_CACHE_ENTRIES];

const ZydisDecodedInstruction emul_no_insn;
const ZydisDecodedOperand emul_no_ops[ZYDIS_MAX_OPERAND_COUNT];

static struct decode_cache_entry *decode_cache_slot(guest_linear_t linear)
{
    return &decode_cache[(linear ^ (linear >> 8)) & (DECODE_CACHE_ENTRIES - 1)];
}

/* True when the cache holds the instruction whose first `n` bytes (at
 * least its length) were fetched at `linear`. */
static bool decode_cache_lookup(struct emul_ctx *ctx, guest_linear_t linear, uint32_t n)
{
    const struct decode_cache_entry *e = decode_cache_slot(linear);

    if (!e->length || e->linear != linear || n < e->length ||
        memcmp(e->bytes, ctx->bytes, e->length) != 0)
        return false;
    ctx->insn = &e->insn;
    ctx->ops = e->ops;
    return true;
}

static void decode_cache_store(const struct emul_ctx *ctx, guest_linear_t linear)
{
    struct decode_cache_entry *e = decode_cache_slot(linear);

    e->linear = linear;
    e->length = ctx->insn->length;
    memcpy(e->bytes, ctx->bytes, ctx->insn->length);
    e->insn = *ctx->insn;
    memcpy(e->ops, ctx->ops, sizeof(e->ops));
}

enum emul_status emul_fetch_decode(struct emul_ctx *ctx)
{
    const struct vcpu_state *cpu = ctx->cpu;
    const struct segment_cache *cs = &cpu->seg[SEG_CS];
    ZydisDecoder decoder;
    ZyanStatus status;
    uint32_t eip = cpu->eip;
    uint32_t avail = ZYDIS_MAX_INSTRUCTION_LENGTH;
    guest_linear_t lin = cs->base + eip;
    uint32_t first;

    ctx->insn_eip = eip;
    ctx->nbytes = 0;
    ctx->insn = &emul_no_insn;
    ctx->ops = emul_no_ops;
    if (eip > cs->limit) {
        return emul_fail(ctx, VEC_GP, 0);
    }
    if ((uint64_t)cs->limit - eip + 1 < avail)
        avail = cs->limit - eip + 1;
    first = GUEST_PAGE_SIZE - (lin & (GUEST_PAGE_SIZE - 1));
    if (first > avail)
        first = avail;
    const struct emul_decoded_insn *pre = ctx->env->predecoded;
    if (pre && pre->decoded && pre->linear == lin && pre->insn.length <= avail) {
        /* Fetched and decoded already (at translation): the same bytes. */
        memcpy(ctx->bytes, pre->bytes, pre->insn.length);
        ctx->insn = &pre->insn;
        ctx->ops = pre->ops;
        ctx->has_insn = true;
        ctx->nbytes = pre->insn.length;
        ctx->next_eip = eip + pre->insn.length;
        return EMUL_OK;
    }
    if (!emul_linear_read(ctx, lin, ctx->bytes, first, EMUL_ACCESS_FETCH, emul_cpl(cpu)))
        return EMUL_FAULT;
    ctx->nbytes = first;
    if (decode_cache_lookup(ctx, lin, first)) {
        ctx->has_insn = true;
        ctx->nbytes = ctx->insn->length;
        ctx->next_eip = eip + ctx->insn->length;
        return EMUL_OK;
    }

    struct emul_decode_storage *d = ctx->decode;
    emul_init_decoder(&decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    for (;;) {
        status = ZydisDecoderDecodeFull(&decoder, ctx->bytes, ctx->nbytes, &d->insn, d->ops);
        if (status != ZYDIS_STATUS_NO_MORE_DATA || ctx->nbytes == avail)
            break;
        if (!emul_linear_read(ctx, lin + ctx->nbytes, ctx->bytes + ctx->nbytes, avail - ctx->nbytes,
                              EMUL_ACCESS_FETCH, emul_cpl(cpu)))
            return EMUL_FAULT;
        ctx->nbytes = avail;
    }
    if (status == ZYDIS_STATUS_NO_MORE_DATA || status == ZYDIS_STATUS_INSTRUCTION_TOO_LONG) {
        /* Past the CS limit, or longer than 15 bytes. */
        return emul_fail(ctx, VEC_GP, 0);
    }
    if (!ZYAN_SUCCESS(status))
        return emul_fail(ctx, VEC_UD, 0); /* ctx->insn is emul_no_insn: INVALID */
    ctx->insn = &d->insn;
    ctx->ops = d->ops;
    ctx->has_insn = true;
    ctx->nbytes = ctx->insn->length;
    ctx->next_eip = eip + ctx->insn->length;
    decode_cache_store(ctx, lin);
    return EMUL_OK;
}

/* For the message when popek stops on a mode it does not model: the bytes
 * at CS:EIP decoded as 16-bit code, best effort and without faulting. */
void emul_peek_insn(struct emul_ctx *ctx)
{
    const struct vcpu_state *cpu = ctx->cpu;
    guest_linear_t lin = cpu->seg[SEG_CS].base + cpu->eip;
    struct emul_fault ignored;
    ZydisDecoder decoder;

    ctx->insn_eip = cpu->eip;
    ctx->nbytes = 0;
    while (ctx->nbytes < ZYDIS_MAX_INSTRUCTION_LENGTH &&
           ctx->env->read(ctx->env->opaque, lin + ctx->nbytes, ctx->bytes + ctx->nbytes, 1,
                          EMUL_ACCESS_FETCH, emul_cpl(cpu), &ignored))
        ctx->nbytes++;
    if (ctx->nbytes == 0)
        return;
    emul_init_decoder(&decoder, ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
    if (ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, ctx->bytes, ctx->nbytes, &ctx->decode->insn,
                                            ctx->decode->ops))) {
        ctx->insn = &ctx->decode->insn;
        ctx->ops = ctx->decode->ops;
        ctx->nbytes = ctx->insn->length;
    }
    ctx->has_insn = true;
}
