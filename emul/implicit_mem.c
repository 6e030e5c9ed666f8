/*
 * emul/implicit_mem.c — emul_execute_implicit(): executing in C the
 * instructions whose memory operands are implicit, when their access could
 * not be made in place by translated code.
 *
 * Translated code reaches guest memory through a host view (DESIGN.md §2).
 * When that host access faults for a reason that is not a guest fault — the
 * guest address is not RAM (device memory, unassigned physical memory, the
 * 640K-1M hole) or a 32-bit address computation wrapped past 4 GiB into a
 * view guard — the monitor has the instruction emulated once. Instructions
 * with one explicit memory operand are re-executed natively against a bounce
 * buffer (emul/access.c); this file owns the ones that cannot be: string
 * instructions (MOVS, STOS, LODS, CMPS, SCAS with REP/REPE/REPNE), stack
 * instructions (PUSH, POP, PUSHA/POPA, near CALL/RET, ENTER, LEAVE; PUSHF/POPF
 * and segment-register PUSH/POP through their emul/ handlers) and XLAT.
 *
 * Invariants, as in emul_execute() (emul_internal.h):
 *  - Handlers work on a copy of the vCPU state; it is committed when the
 *    instruction completes. A fault commits nothing, except for a REP string
 *    instruction: the iterations already done stay done (ESI/EDI/ECX show the
 *    progress) and EIP stays at the instruction (SDM vol. 2, REP).
 *  - Every guest access goes through env->read/env->write, after the segment
 *    checks of SDM vol. 3, §5.3-5.4. An offset that wraps past 4 GiB inside
 *    one access (ESI = FFFFFFFEh with MOVSD) is checked byte-range by
 *    byte-range, so a 4-GiB expand-up segment wraps to offset 0 instead of
 *    faulting — SDM vol. 3, §5.3 leaves this implementation-specific for an
 *    effective limit of FFFFFFFFh, and the wrap is what QEMU (our oracle) and
 *    the bounce-buffer path do. Linear addresses wrap at 32 bits
 *    (emul_linear_read/write split the access).
 *  - Stack accesses go through the emul_stack_* helpers: the B flag of SS
 *    picks ESP or SP, limit violations are #SS(0).
 *
 * Usage (monitor, on a host fault at a translated instruction whose guest
 * state has been recovered):
 *     switch (emul_execute_implicit(&cpu, &env, &fault, why, sizeof(why))) {
 *     case EMUL_OK: resume at cpu.eip;
 *     case EMUL_FAULT: deliver fault.vector through the guest IDT;
 *     default: stop with `why`;
 *     }
 */
#include <string.h>

#include "emul/emul_internal.h"

/* ---- flags ---- */

/* SDM vol. 1, §3.4.3.1 and appendix A; vol. 2, SUB: CF is the borrow out of
 * the most significant bit, OF a signed overflow (operands of different
 * signs and a result whose sign differs from the minuend's), AF the borrow
 * out of bit 3, SF/ZF/PF from the result (PF of its low byte only). */
uint32_t emul_flags_sub(unsigned size, uint32_t a, uint32_t b)
{
    uint32_t mask = size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
    uint32_t sign = (mask >> 1) + 1;
    uint32_t result, flags = 0;

    a &= mask;
    b &= mask;
    result = (a - b) & mask;
    if (a < b)
        flags |= EFLAGS_CF;
    if (emul_parity((uint8_t)result))
        flags |= EFLAGS_PF;
    if ((a ^ b ^ result) & 0x10)
        flags |= EFLAGS_AF;
    if (result == 0)
        flags |= EFLAGS_ZF;
    if (result & sign)
        flags |= EFLAGS_SF;
    if ((a ^ b) & (a ^ result) & sign)
        flags |= EFLAGS_OF;
    return flags;
}

static void set_arith_flags(struct vcpu_state *cpu, uint32_t flags)
{
    cpu->eflags = (cpu->eflags & ~EMUL_ARITH_FLAGS) | (flags & EMUL_ARITH_FLAGS);
}

/* ---- data accesses through a segment, wrapping at 4 GiB ---- */

/* The checks of emul_segment_check() for [offset, offset+len) taken modulo
 * 2^32: an access whose offset range wraps is checked as its two pieces. */
static bool segment_check_wrapping(struct emul_ctx *ctx, enum vcpu_sreg sreg, uint32_t offset,
                                   unsigned len, bool write)
{
    const struct segment_cache *seg = &ctx->cpu->seg[sreg];
    bool stack = sreg == SEG_SS;
    unsigned first = len;

    if ((uint64_t)offset + len > (1ull << 32))
        first = (unsigned)((1ull << 32) - offset);
    if (!emul_segment_check(ctx, seg, stack, offset, first, write))
        return false;
    return first == len || emul_segment_check(ctx, seg, stack, 0, len - first, write);
}

static bool seg_read(struct emul_ctx *ctx, enum vcpu_sreg sreg, uint32_t offset, void *buf,
                     unsigned len)
{
    if (!segment_check_wrapping(ctx, sreg, offset, len, false))
        return false;
    return emul_linear_read(ctx, ctx->cpu->seg[sreg].base + offset, buf, len, EMUL_ACCESS_READ,
                            emul_cpl(ctx->cpu));
}

static bool seg_write(struct emul_ctx *ctx, enum vcpu_sreg sreg, uint32_t offset, const void *buf,
                      unsigned len)
{
    if (!segment_check_wrapping(ctx, sreg, offset, len, true))
        return false;
    return emul_linear_write(ctx, ctx->cpu->seg[sreg].base + offset, buf, len, EMUL_ACCESS_WRITE,
                             emul_cpl(ctx->cpu));
}

/* An explicit operand of PUSH, POP or CALL: a register, or memory read
 * through seg_read (so it wraps like the implicit ones). */
static bool explicit_read(struct emul_ctx *ctx, const ZydisDecodedOperand *op, unsigned size,
                          uint32_t *value)
{
    *value = 0;
    if (op->type == ZYDIS_OPERAND_TYPE_MEMORY)
        return seg_read(ctx, emul_sreg_from_zydis(op->mem.segment), emul_effective_address(ctx, op),
                        value, size);
    return emul_operand_read(ctx, op, value);
}

/* ---- string instructions (SDM vol. 2, MOVS, STOS, LODS, CMPS, SCAS, REP) ---- */

enum string_kind { STR_MOVS, STR_STOS, STR_LODS, STR_CMPS, STR_SCAS };

static bool string_kind_of(ZydisMnemonic m, enum string_kind *kind, unsigned *size)
{
    switch (m) {
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSD:
        *kind = STR_MOVS;
        *size = m == ZYDIS_MNEMONIC_MOVSB ? 1 : m == ZYDIS_MNEMONIC_MOVSW ? 2 : 4;
        return true;
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
        *kind = STR_STOS;
        *size = m == ZYDIS_MNEMONIC_STOSB ? 1 : m == ZYDIS_MNEMONIC_STOSW ? 2 : 4;
        return true;
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
        *kind = STR_LODS;
        *size = m == ZYDIS_MNEMONIC_LODSB ? 1 : m == ZYDIS_MNEMONIC_LODSW ? 2 : 4;
        return true;
    case ZYDIS_MNEMONIC_CMPSB:
    case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_CMPSD:
        *kind = STR_CMPS;
        *size = m == ZYDIS_MNEMONIC_CMPSB ? 1 : m == ZYDIS_MNEMONIC_CMPSW ? 2 : 4;
        return true;
    case ZYDIS_MNEMONIC_SCASB:
    case ZYDIS_MNEMONIC_SCASW:
    case ZYDIS_MNEMONIC_SCASD:
        *kind = STR_SCAS;
        *size = m == ZYDIS_MNEMONIC_SCASB ? 1 : m == ZYDIS_MNEMONIC_SCASW ? 2 : 4;
        return true;
    default:
        return false;
    }
}

/* (E)SI, (E)DI and (E)CX at the address size: SI/DI/CX with a 16-bit
 * address size, whose updates wrap at 64 KiB and keep bits 31..16. */
static uint32_t index_get(const struct emul_ctx *ctx, enum vcpu_gpr r)
{
    uint32_t v = ctx->cpu->regs[r];

    return ctx->insn->address_width == 16 ? (v & 0xFFFFu) : v;
}

static void index_set(struct emul_ctx *ctx, enum vcpu_gpr r, uint32_t v)
{
    uint32_t *reg = &ctx->cpu->regs[r];

    if (ctx->insn->address_width == 16)
        *reg = (*reg & 0xFFFF0000u) | (v & 0xFFFFu);
    else
        *reg = v;
}

/* The segment of the DS:(E)SI operand: DS unless overridden. ES:(E)DI cannot
 * be overridden. */
static enum vcpu_sreg source_segment(const struct emul_ctx *ctx)
{
    for (unsigned i = 0; i < ctx->insn->operand_count; i++) {
        const ZydisDecodedOperand *op = &ctx->ops[i];

        if (op->type == ZYDIS_OPERAND_TYPE_MEMORY &&
            (op->mem.base == ZYDIS_REGISTER_ESI || op->mem.base == ZYDIS_REGISTER_SI))
            return emul_sreg_from_zydis(op->mem.segment);
    }
    return SEG_DS;
}

static uint32_t accumulator(const struct vcpu_state *cpu, unsigned size)
{
    uint32_t eax = cpu->regs[REG_EAX];

    return size == 4 ? eax : eax & ((1u << (8 * size)) - 1);
}

static void set_accumulator(struct vcpu_state *cpu, unsigned size, uint32_t value)
{
    uint32_t mask = size == 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;

    cpu->regs[REG_EAX] = (cpu->regs[REG_EAX] & ~mask) | (value & mask);
}

/* One iteration: the memory accesses, then the register and flag updates.
 * Nothing in the vCPU state changes unless every access succeeded. */
static bool string_step(struct emul_ctx *ctx, enum string_kind kind, unsigned size,
                        enum vcpu_sreg src_seg)
{
    struct vcpu_state *cpu = ctx->cpu;
    uint32_t step = (cpu->eflags & EFLAGS_DF) ? (uint32_t)-size : size;
    uint32_t si = index_get(ctx, REG_ESI), di = index_get(ctx, REG_EDI);
    uint32_t a = 0, b = 0;

    switch (kind) {
    case STR_MOVS:
        if (!seg_read(ctx, src_seg, si, &a, size) || !seg_write(ctx, SEG_ES, di, &a, size))
            return false;
        break;
    case STR_STOS:
        a = accumulator(cpu, size);
        if (!seg_write(ctx, SEG_ES, di, &a, size))
            return false;
        break;
    case STR_LODS:
        if (!seg_read(ctx, src_seg, si, &a, size))
            return false;
        set_accumulator(cpu, size, a);
        break;
    case STR_CMPS:
        /* temp <- SRC1 - SRC2 with SRC1 = DS:(E)SI, SRC2 = ES:(E)DI. */
        if (!seg_read(ctx, src_seg, si, &a, size) || !seg_read(ctx, SEG_ES, di, &b, size))
            return false;
        set_arith_flags(cpu, emul_flags_sub(size, a, b));
        break;
    case STR_SCAS:
        /* temp <- AL/AX/EAX - ES:(E)DI. */
        a = accumulator(cpu, size);
        if (!seg_read(ctx, SEG_ES, di, &b, size))
            return false;
        set_arith_flags(cpu, emul_flags_sub(size, a, b));
        break;
    }
    if (kind == STR_MOVS || kind == STR_LODS || kind == STR_CMPS)
        index_set(ctx, REG_ESI, si + step);
    if (kind != STR_LODS)
        index_set(ctx, REG_EDI, di + step);
    return true;
}

/* SDM vol. 2, REP/REPE/REPZ/REPNE/REPNZ: nothing at all when the count is 0;
 * otherwise iterate, decrementing the count after each iteration, until it
 * reaches 0 or — for CMPS/SCAS only — ZF says stop (REPE: ZF = 0, REPNE:
 * ZF = 1). F2 on MOVS/STOS/LODS repeats as F3 does. At most
 * STRING_ITERATIONS_PER_CALL iterations run per call; a fault keeps the
 * completed ones and leaves EIP at the instruction so that it resumes where
 * it stopped. */
#define STRING_ITERATIONS_PER_CALL 65536u

/* REP MOVS and REP STOS a page at a time (SDM vol. 1, §7.3.9.3 lets
 * fast-string operation group iterations): `n` iterations from the current
 * ESI/EDI, all within one page of each operand, read and written with one
 * access each. Only where element-by-element execution is indistinguishable
 * from it: forward (DF=0), 32-bit addresses, ordinary RAM (device memory
 * sees every element), no segment limit or 4 GiB wrap within the run, and
 * no destination overlapping the source ahead of it (MOVS then replicates,
 * element by element). Returns the number of iterations done (0: take one
 * step the slow way, which also raises whatever fault is due). */
static uint32_t string_bulk(struct emul_ctx *ctx, enum string_kind kind, unsigned size,
                            enum vcpu_sreg src_seg, uint32_t count)
{
    static uint8_t buf[GUEST_PAGE_SIZE];
    const struct emul_env *env = ctx->env;
    struct vcpu_state *cpu = ctx->cpu;
    const struct segment_cache *es = &cpu->seg[SEG_ES], *ds = &cpu->seg[src_seg];
    uint32_t di = cpu->regs[REG_EDI], si = cpu->regs[REG_ESI];
    guest_linear_t dst = es->base + di, src = ds->base + si;
    uint64_t dst_phys, src_phys;
    unsigned cpl = emul_cpl(cpu);

    if (!env->ram_address || (kind != STR_MOVS && kind != STR_STOS) ||
        (cpu->eflags & (EFLAGS_DF | EFLAGS_TF)) || ctx->insn->address_width != 32)
        return 0;
    uint32_t n = (GUEST_PAGE_SIZE - (dst & (GUEST_PAGE_SIZE - 1))) / size;
    if (kind == STR_MOVS && n > (GUEST_PAGE_SIZE - (src & (GUEST_PAGE_SIZE - 1))) / size)
        n = (GUEST_PAGE_SIZE - (src & (GUEST_PAGE_SIZE - 1))) / size;
    if (n > count)
        n = count;
    uint32_t bytes = n * size;
    if (n < 2 || (uint64_t)di + bytes > (1ull << 32) || (uint64_t)dst + bytes > (1ull << 32))
        return 0;
    /* The whole run must pass the checks each element would (a run that
     * fails them goes slowly, so the fault comes at the right element). */
    if (!emul_segment_access_ok(es, di, bytes, true))
        return 0;
    if (kind == STR_MOVS &&
        (!emul_segment_access_ok(ds, si, bytes, false) || (uint64_t)si + bytes > (1ull << 32) ||
         (uint64_t)src + bytes > (1ull << 32)))
        return 0;
    if (kind == STR_MOVS &&
        (!env->ram_address(env->opaque, src, EMUL_ACCESS_READ, cpl, &src_phys) ||
         !env->ram_address(env->opaque, dst, EMUL_ACCESS_WRITE, cpl, &dst_phys) ||
         (dst_phys > src_phys && dst_phys < src_phys + bytes)))
        return 0;
    if (kind == STR_STOS && !env->ram_address(env->opaque, dst, EMUL_ACCESS_WRITE, cpl, &dst_phys))
        return 0;
    if (kind == STR_STOS) {
        uint32_t value = accumulator(cpu, size);
        for (uint32_t i = 0; i < bytes; i += size)
            memcpy(buf + i, &value, size);
    } else if (!env->read(env->opaque, src, buf, bytes, EMUL_ACCESS_READ, cpl, ctx->fault)) {
        return 0;
    }
    if (!env->write(env->opaque, dst, buf, bytes, EMUL_ACCESS_WRITE, cpl, ctx->fault))
        return 0;
    cpu->regs[REG_EDI] = di + bytes;
    if (kind == STR_MOVS)
        cpu->regs[REG_ESI] = si + bytes;
    return n;
}

enum emul_status emul_string_insn(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    ZyanU64 attr = ctx->insn->attributes;
    bool rep = attr & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);
    bool repne = attr & ZYDIS_ATTRIB_HAS_REPNE;
    enum vcpu_sreg src_seg = source_segment(ctx);
    enum string_kind kind;
    unsigned size;
    uint32_t count;
    bool compares, done_any = false;

    if (!string_kind_of(ctx->insn->mnemonic, &kind, &size))
        return emul_unsupported(ctx, "not a string instruction");
    if (!rep) {
        if (!string_step(ctx, kind, size, src_seg))
            return EMUL_FAULT;
        return EMUL_OK;
    }
    compares = kind == STR_CMPS || kind == STR_SCAS;
    count = index_get(ctx, REG_ECX);
    for (unsigned done = 0; count != 0; done++) {
        if (done == STRING_ITERATIONS_PER_CALL) {
            /* More to do: return with EIP at the instruction so the monitor
             * can take interrupts (and its time limit) between chunks, as
             * the processor is interruptible between iterations. */
            cpu->eip = ctx->insn_eip;
            return EMUL_OK;
        }
        uint32_t bulk = compares ? 0
                                 : string_bulk(ctx, kind, size, src_seg,
                                               count < STRING_ITERATIONS_PER_CALL - done
                                                   ? count
                                                   : STRING_ITERATIONS_PER_CALL - done);
        if (bulk) {
            done += bulk - 1;
            done_any = true;
            count -= bulk;
            index_set(ctx, REG_ECX, count);
            continue;
        }
        if (!string_step(ctx, kind, size, src_seg)) {
            cpu->eip = ctx->insn_eip;
            ctx->commit_on_fault = done_any;
            return EMUL_FAULT;
        }
        done_any = true;
        count--;
        index_set(ctx, REG_ECX, count);
        if (compares && (repne ? (cpu->eflags & EFLAGS_ZF) : !(cpu->eflags & EFLAGS_ZF)))
            break;
    }
    return EMUL_OK;
}

/* ---- XLAT (SDM vol. 2, XLAT/XLATB): AL <- [seg:(E)BX + ZeroExtend(AL)] ---- */

enum emul_status emul_xlat(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    enum vcpu_sreg seg = SEG_DS;
    uint32_t offset = cpu->regs[REG_EBX] + (cpu->regs[REG_EAX] & 0xFF);
    uint8_t value;

    if (ctx->ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY)
        seg = emul_sreg_from_zydis(ctx->ops[0].mem.segment);
    if (ctx->insn->address_width == 16)
        offset &= 0xFFFF;
    if (!seg_read(ctx, seg, offset, &value, 1))
        return EMUL_FAULT;
    cpu->regs[REG_EAX] = (cpu->regs[REG_EAX] & ~0xFFu) | value;
    return EMUL_OK;
}

/* ---- PUSH and POP (SDM vol. 2, PUSH, POP) ---- */

static bool is_segment_register(const ZydisDecodedOperand *op)
{
    return op->type == ZYDIS_OPERAND_TYPE_REGISTER &&
           ZydisRegisterGetClass(op->reg.value) == ZYDIS_REGCLASS_SEGMENT;
}

/* PUSH r/m, r, imm: the operand is read before ESP moves, so PUSH ESP
 * pushes the old ESP and PUSH [ESP+n] addresses from the old ESP. An
 * immediate is sign-extended to the operand size. */
enum emul_status emul_push(struct emul_ctx *ctx)
{
    const ZydisDecodedOperand *op = &ctx->ops[0];
    unsigned size = ctx->insn->operand_width / 8;
    struct emul_stack st;
    uint32_t value;

    if (is_segment_register(op))
        return emul_push_sreg(ctx);
    if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
        value = (uint32_t)op->imm.value.s;
    else if (!explicit_read(ctx, op, size, &value))
        return EMUL_FAULT;
    emul_stack_current(ctx, &st);
    if (!emul_stack_push(ctx, &st, value, size))
        return EMUL_FAULT;
    emul_stack_commit(ctx, &st);
    return EMUL_OK;
}

/* POP r/m, r: ESP is incremented before the destination is written, so
 * POP ESP leaves the popped value in ESP and POP [ESP+n] computes its
 * address with the incremented ESP. A faulting write leaves ESP unchanged
 * (nothing is committed). */
enum emul_status emul_pop(struct emul_ctx *ctx)
{
    const ZydisDecodedOperand *op = &ctx->ops[0];
    unsigned size = ctx->insn->operand_width / 8;
    struct emul_stack st;
    uint32_t value;

    if (is_segment_register(op))
        return emul_pop_sreg(ctx);
    emul_stack_current(ctx, &st);
    if (!emul_stack_pop(ctx, &st, &value, size))
        return EMUL_FAULT;
    emul_stack_commit(ctx, &st);
    if (op->type == ZYDIS_OPERAND_TYPE_MEMORY) {
        if (!seg_write(ctx, emul_sreg_from_zydis(op->mem.segment), emul_effective_address(ctx, op),
                       &value, size))
            return EMUL_FAULT;
        return EMUL_OK;
    }
    if (!emul_reg_write(ctx->cpu, op->reg.value, value))
        return emul_fail(ctx, VEC_UD, 0);
    return EMUL_OK;
}

/* ---- near CALL and RET (SDM vol. 2, CALL and RET, near forms) ---- */

/* CALL rel16/rel32 and CALL r/m16/r/m32: the target (EIP + rel, or the
 * operand read before anything is pushed; truncated to 16 bits with a 16-bit
 * operand size) must lie within the CS limit, else #GP(0); then the return
 * address is pushed. */
enum emul_status emul_near_call(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    const ZydisDecodedOperand *op = &ctx->ops[0];
    unsigned size = ctx->insn->operand_width / 8;
    uint32_t target, ret = ctx->next_eip;
    struct emul_stack st;

    if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        target = ctx->next_eip + (uint32_t)op->imm.value.s;
    } else if (!explicit_read(ctx, op, size, &target)) {
        return EMUL_FAULT;
    }
    if (size == 2) {
        target &= 0xFFFF;
        ret &= 0xFFFF;
    }
    if (target > cpu->seg[SEG_CS].limit)
        return emul_fail(ctx, VEC_GP, 0);
    emul_stack_current(ctx, &st);
    if (!emul_stack_push(ctx, &st, ret, size))
        return EMUL_FAULT;
    emul_stack_commit(ctx, &st);
    cpu->eip = target;
    return EMUL_OK;
}

/* RET and RET imm16: pop the return address (16 bits with a 16-bit operand
 * size), #GP(0) if it is beyond the CS limit, then release imm16 bytes of
 * parameters (ESP or SP by the B flag of SS). */
enum emul_status emul_near_ret(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    const ZydisDecodedOperand *op = &ctx->ops[0];
    unsigned size = ctx->insn->operand_width / 8;
    struct emul_stack st;
    uint32_t target;

    emul_stack_current(ctx, &st);
    if (!emul_stack_pop(ctx, &st, &target, size))
        return EMUL_FAULT;
    if (size == 2)
        target &= 0xFFFF;
    if (target > cpu->seg[SEG_CS].limit)
        return emul_fail(ctx, VEC_GP, 0);
    if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
        st.esp = emul_stack_add(&st.ss, st.esp, (uint32_t)(op->imm.value.u & 0xFFFF));
    emul_stack_commit(ctx, &st);
    cpu->eip = target;
    return EMUL_OK;
}

/* ---- ENTER and LEAVE (SDM vol. 2, ENTER and LEAVE; vol. 1, §6.5) ---- */

/* ENTER imm16, imm8:
 *     NestingLevel <- imm8 MOD 32
 *     Push(EBP or BP)                    (operand size)
 *     FrameTemp <- ESP or SP             (stack size, after that push)
 *     for i = 1 .. NestingLevel-1: push the frame pointer at [SS:EBP - i*size]
 *     if NestingLevel > 0: Push(FrameTemp)
 *     EBP (or BP) <- FrameTemp; ESP (or SP) <- ESP - imm16
 * The room for all of it (the pushes and the allocation) is checked first:
 * #SS(0) if the new stack pointer would be outside the segment. */
enum emul_status emul_enter(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    unsigned size = ctx->insn->operand_width / 8;
    uint32_t alloc = (uint32_t)(ctx->ops[0].imm.value.u & 0xFFFF);
    unsigned level = (unsigned)(ctx->ops[1].imm.value.u & 31);
    unsigned pushes = level ? level + 1 : 1;
    bool stack32 = cpu->seg[SEG_SS].attr & SEG_ATTR_DB;
    uint32_t frame_temp, frame_ptr = cpu->regs[REG_EBP];
    struct emul_stack st;

    emul_stack_current(ctx, &st);
    if (!emul_stack_room_push(ctx, &st, pushes * size + alloc))
        return EMUL_FAULT;
    if (!emul_stack_push(ctx, &st, frame_ptr, size))
        return EMUL_FAULT;
    frame_temp = stack32 ? st.esp : (st.esp & 0xFFFF);
    for (unsigned i = 1; i < level; i++) {
        uint32_t at = frame_ptr - i * size, value = 0;

        if (!stack32)
            at &= 0xFFFF;
        if (!seg_read(ctx, SEG_SS, at, &value, size) || !emul_stack_push(ctx, &st, value, size))
            return EMUL_FAULT;
    }
    if (level && !emul_stack_push(ctx, &st, frame_temp, size))
        return EMUL_FAULT;
    st.esp = emul_stack_add(&st.ss, st.esp, -alloc);
    emul_stack_commit(ctx, &st);
    if (size == 4)
        cpu->regs[REG_EBP] = frame_temp;
    else
        cpu->regs[REG_EBP] = (cpu->regs[REG_EBP] & 0xFFFF0000u) | (frame_temp & 0xFFFF);
    return EMUL_OK;
}

/* LEAVE: ESP (or SP) <- EBP (or BP), then pop EBP (or BP). #SS(0) if the
 * frame pointer is outside the stack segment; ESP is unchanged then. */
enum emul_status emul_leave(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    unsigned size = ctx->insn->operand_width / 8;
    struct emul_stack st;
    uint32_t value;

    emul_stack_current(ctx, &st);
    if (st.ss.attr & SEG_ATTR_DB)
        st.esp = cpu->regs[REG_EBP];
    else
        st.esp = (st.esp & 0xFFFF0000u) | (cpu->regs[REG_EBP] & 0xFFFF);
    if (!emul_stack_pop(ctx, &st, &value, size))
        return EMUL_FAULT;
    emul_stack_commit(ctx, &st);
    if (size == 4)
        cpu->regs[REG_EBP] = value;
    else
        cpu->regs[REG_EBP] = (cpu->regs[REG_EBP] & 0xFFFF0000u) | (value & 0xFFFF);
    return EMUL_OK;
}

/* ---- dispatch and commit ---- */

static emul_handler implicit_handler_for(const struct emul_ctx *ctx)
{
    enum string_kind kind;
    unsigned size;

    if (string_kind_of(ctx->insn->mnemonic, &kind, &size))
        return emul_string_insn;
    switch (ctx->insn->mnemonic) {
    case ZYDIS_MNEMONIC_PUSH:
        return emul_push;
    case ZYDIS_MNEMONIC_POP:
        return emul_pop;
    case ZYDIS_MNEMONIC_PUSHA:
    case ZYDIS_MNEMONIC_PUSHAD:
        return emul_pusha;
    case ZYDIS_MNEMONIC_POPA:
    case ZYDIS_MNEMONIC_POPAD:
        return emul_popa;
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_PUSHFD:
        return emul_pushf;
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD:
        return emul_popf;
    case ZYDIS_MNEMONIC_CALL:
        return ctx->insn->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR ? NULL : emul_near_call;
    case ZYDIS_MNEMONIC_RET:
        return ctx->insn->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR ? NULL : emul_near_ret;
    case ZYDIS_MNEMONIC_ENTER:
        return emul_enter;
    case ZYDIS_MNEMONIC_LEAVE:
        return emul_leave;
    case ZYDIS_MNEMONIC_XLAT:
        return emul_xlat;
    default:
        return NULL;
    }
}

static enum emul_status not_implicit(struct emul_ctx *ctx)
{
    return emul_unsupported(ctx, "not an instruction with implicit memory operands");
}

enum emul_status emul_execute_implicit(struct vcpu_state *cpu, const struct emul_env *env,
                                       struct emul_fault *fault, char *why, size_t why_len)
{
    return emul_run_instruction(cpu, env, fault, why, why_len, implicit_handler_for, not_implicit);
}
