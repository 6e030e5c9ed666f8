/*
 * emul/fault.c — guest faults as values, and the "unsupported" message.
 *
 * Every check in emul/ that fails ends here: emul_raise() fills the caller's
 * struct emul_fault and returns false, which the check's caller passes up
 * until emul_execute() or emul_deliver_event() returns EMUL_FAULT. Nothing
 * in emul/ delivers a fault itself (STYLE.md, "exceptions are data").
 */
#include <stdarg.h>
#include <stdio.h>

#include "emul/emul_internal.h"

/* Exceptions that push an error code (SDM vol. 3, §6.3.1, table 6-1). */
bool emul_vector_has_error_code(uint8_t vector)
{
    switch (vector) {
    case VEC_DF:
    case VEC_TS:
    case VEC_NP:
    case VEC_SS:
    case VEC_GP:
    case VEC_PF:
    case VEC_AC:
        return true;
    default:
        return false;
    }
}

bool emul_raise(struct emul_ctx *ctx, uint8_t vector, uint32_t error_code)
{
    ctx->fault->vector = vector;
    ctx->fault->has_error_code = emul_vector_has_error_code(vector);
    ctx->fault->error_code = ctx->fault->has_error_code ? error_code : 0;
    ctx->fault->fault_address = 0;
    return false;
}

bool emul_raise_gp(struct emul_ctx *ctx, uint32_t error_code)
{
    return emul_raise(ctx, VEC_GP, error_code);
}

bool emul_raise_ud(struct emul_ctx *ctx)
{
    return emul_raise(ctx, VEC_UD, 0);
}

enum emul_status emul_fail(struct emul_ctx *ctx, uint8_t vector, uint32_t error_code)
{
    emul_raise(ctx, vector, error_code);
    return EMUL_FAULT;
}

enum emul_status emul_unsupported(struct emul_ctx *ctx, const char *fmt, ...)
{
    char what[160];
    char bytes[3 * ZYDIS_MAX_INSTRUCTION_LENGTH + 1] = "";
    const struct vcpu_state *cpu = ctx->committed;
    va_list ap;

    if (!ctx->why || ctx->why_len == 0)
        return EMUL_UNSUPPORTED;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (!ctx->has_insn) {
        snprintf(ctx->why, ctx->why_len, "%s at %04x:%08x", what, cpu->seg[SEG_CS].selector,
                 cpu->eip);
        return EMUL_UNSUPPORTED;
    }
    for (unsigned i = 0, pos = 0; i < ctx->nbytes && i < ZYDIS_MAX_INSTRUCTION_LENGTH; i++)
        pos += snprintf(bytes + pos, sizeof(bytes) - pos, i ? " %02x" : "%02x", ctx->bytes[i]);
    snprintf(
        ctx->why, ctx->why_len, "%s: %s (%s) at %04x:%08x (linear %08x)", what,
        ctx->insn->mnemonic != ZYDIS_MNEMONIC_INVALID ? ZydisMnemonicGetString(ctx->insn->mnemonic)
                                                      : "?",
        bytes, cpu->seg[SEG_CS].selector, ctx->insn_eip, cpu->seg[SEG_CS].base + ctx->insn_eip);
    return EMUL_UNSUPPORTED;
}
