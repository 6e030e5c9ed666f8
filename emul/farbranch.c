/*
 * emul/farbranch.c — far control transfers between code segments: JMP and
 * CALL with ptr16:32 or m16:32, directly to a code segment or through a
 * 32-bit call gate, and far RET (RETF, RETF imm16) to the same or an outer
 * privilege level (SDM vol. 2, JMP, CALL, RET; vol. 3, §5.8).
 *
 * A CALL through a call gate to a more privileged non-conforming segment
 * switches to the stack for that level from the 32-bit TSS, pushes the
 * caller's SS:ESP, copies the gate's parameter count of dwords from the
 * caller's stack and pushes CS:EIP (vol. 3, §5.8.5, figure 5-13). Task
 * switches (TSS descriptors and task gates) and 16-bit call gates are not
 * modelled (EMUL_UNSUPPORTED).
 */
#include "emul/emul_internal.h"

/* The target of a far JMP/CALL: ptr16:32 in the instruction or m16:32. */
static bool far_target(struct emul_ctx *ctx, uint16_t *sel, uint32_t *offset)
{
    const ZydisDecodedOperand *op = &ctx->ops[0];
    unsigned size = ctx->insn->operand_width / 8;

    if (op->type == ZYDIS_OPERAND_TYPE_POINTER) {
        *sel = op->ptr.segment;
        *offset = op->ptr.offset;
    } else {
        *offset = 0;
        *sel = 0;
        if (!emul_mem_read(ctx, op, 0, offset, size) || !emul_mem_read(ctx, op, size, sel, 2))
            return false;
    }
    if (size == 2)
        *offset &= 0xFFFF;
    return true;
}

/* Pushes the return address CS:EIP at the operand size. */
static bool push_return(struct emul_ctx *ctx, struct emul_stack *st, unsigned size)
{
    return emul_stack_push(ctx, st, ctx->cpu->seg[SEG_CS].selector, size) &&
           emul_stack_push(ctx, st, ctx->cpu->eip, size);
}

/* A far JMP/CALL straight to a code segment (SDM vol. 2, JMP/CALL,
 * "CONFORMING-CODE-SEGMENT" and "NONCONFORMING-CODE-SEGMENT"). */
static enum emul_status to_code_segment(struct emul_ctx *ctx, bool call, uint16_t sel,
                                        struct emul_desc *d, uint32_t offset)
{
    struct vcpu_state *cpu = ctx->cpu;
    unsigned cpl = emul_cpl(cpu);
    unsigned size = ctx->insn->operand_width / 8;
    struct emul_stack st;

    if (desc_is_conforming_code(d) ? desc_dpl(d) > cpl : (SEL_RPL(sel) > cpl || desc_dpl(d) != cpl))
        return emul_fail(ctx, VEC_GP, SEL_ERROR(sel));
    if (!desc_present(d))
        return emul_fail(ctx, VEC_NP, SEL_ERROR(sel));
    emul_stack_current(ctx, &st);
    if (call && !emul_stack_room_push(ctx, &st, 2 * size))
        return EMUL_FAULT;
    if (offset > desc_limit(d))
        return emul_fail(ctx, VEC_GP, 0);
    if (call && !push_return(ctx, &st, size))
        return EMUL_FAULT;
    if (!emul_load_code_segment(ctx, sel, d, cpl))
        return EMUL_FAULT;
    if (call)
        emul_stack_commit(ctx, &st);
    cpu->eip = offset;
    return EMUL_OK;
}

/* CALL through a gate to a more privileged level (SDM vol. 2, CALL,
 * "MORE-PRIVILEGE"). */
static enum emul_status call_gate_inner(struct emul_ctx *ctx, const struct emul_desc *gate,
                                        uint16_t code_sel, struct emul_desc *code)
{
    struct vcpu_state *cpu = ctx->cpu;
    unsigned dpl = desc_dpl(code);
    unsigned params = gate->hi & 0x1F;
    uint32_t offset = gate_offset(gate);
    struct emul_stack old, st;
    struct emul_desc ssd;
    uint16_t ss_sel;
    uint32_t esp;

    if (!emul_tss_is_32bit(cpu))
        return emul_unsupported(ctx, "call gate through a 16-bit TSS");
    if (!emul_tss_stack(ctx, dpl, &ss_sel, &esp) ||
        !emul_fetch_stack_segment(ctx, ss_sel, dpl, VEC_TS, &ssd))
        return EMUL_FAULT;
    emul_desc_to_cache(&ssd, ss_sel, &st.ss);
    st.esp = esp;
    st.cpl = dpl;
    st.fault_error = SEL_ERROR(ss_sel);
    if (!emul_stack_room_push(ctx, &st, 16 + 4 * params))
        return EMUL_FAULT;
    if (offset > desc_limit(code))
        return emul_fail(ctx, VEC_GP, 0);

    emul_stack_current(ctx, &old);
    if (!emul_stack_push(ctx, &st, old.ss.selector, 4) || !emul_stack_push(ctx, &st, old.esp, 4))
        return EMUL_FAULT;
    /* Parameters keep their order: the deepest one is copied first. */
    for (unsigned i = params; i-- > 0;) {
        uint32_t value;

        if (!emul_stack_peek(ctx, &old, 4 * i, &value, 4) || !emul_stack_push(ctx, &st, value, 4))
            return EMUL_FAULT;
    }
    if (!push_return(ctx, &st, 4))
        return EMUL_FAULT;
    if (!emul_desc_set_accessed(ctx, ss_sel, &ssd) ||
        !emul_load_code_segment(ctx, code_sel, code, dpl))
        return EMUL_FAULT;
    emul_desc_to_cache(&ssd, ss_sel, &cpu->seg[SEG_SS]);
    cpu->regs[REG_ESP] = st.esp;
    cpu->eip = offset;
    return EMUL_OK;
}

/* A far JMP/CALL through a 32-bit call gate (SDM vol. 2, JMP/CALL,
 * "CALL-GATE"). */
static enum emul_status through_call_gate(struct emul_ctx *ctx, bool call, uint16_t gate_sel,
                                          const struct emul_desc *gate)
{
    struct vcpu_state *cpu = ctx->cpu;
    unsigned cpl = emul_cpl(cpu);
    uint16_t code_sel = gate_selector(gate);
    uint32_t offset = gate_offset(gate);
    struct emul_desc code;
    struct emul_stack st;

    if (desc_dpl(gate) < cpl || SEL_RPL(gate_sel) > desc_dpl(gate))
        return emul_fail(ctx, VEC_GP, SEL_ERROR(gate_sel));
    if (!desc_present(gate))
        return emul_fail(ctx, VEC_NP, SEL_ERROR(gate_sel));
    if (SEL_IS_NULL(code_sel))
        return emul_fail(ctx, VEC_GP, 0);
    if (!emul_desc_fetch(ctx, code_sel, &code, VEC_GP))
        return EMUL_FAULT;
    if (!desc_is_code(&code))
        return emul_fail(ctx, VEC_GP, SEL_ERROR(code_sel));
    if (call ? desc_dpl(&code) > cpl
             : (desc_is_conforming_code(&code) ? desc_dpl(&code) > cpl : desc_dpl(&code) != cpl))
        return emul_fail(ctx, VEC_GP, SEL_ERROR(code_sel));
    if (!desc_present(&code))
        return emul_fail(ctx, VEC_NP, SEL_ERROR(code_sel));
    if (call && !desc_is_conforming_code(&code) && desc_dpl(&code) < cpl)
        return call_gate_inner(ctx, gate, code_sel, &code);

    /* Same privilege (JMP always). */
    emul_stack_current(ctx, &st);
    if (call && !emul_stack_room_push(ctx, &st, 8))
        return EMUL_FAULT;
    if (offset > desc_limit(&code))
        return emul_fail(ctx, VEC_GP, 0);
    if (call && !push_return(ctx, &st, 4))
        return EMUL_FAULT;
    if (!emul_load_code_segment(ctx, code_sel, &code, cpl))
        return EMUL_FAULT;
    if (call)
        emul_stack_commit(ctx, &st);
    cpu->eip = offset;
    return EMUL_OK;
}

enum emul_status emul_far_jmp_call(struct emul_ctx *ctx)
{
    bool call = ctx->insn->mnemonic == ZYDIS_MNEMONIC_CALL;
    struct emul_desc d;
    uint16_t sel;
    uint32_t offset;

    if (!far_target(ctx, &sel, &offset))
        return EMUL_FAULT;
    if (SEL_IS_NULL(sel))
        return emul_fail(ctx, VEC_GP, 0);
    if (!emul_desc_fetch(ctx, sel, &d, VEC_GP))
        return EMUL_FAULT;
    if (desc_is_code(&d))
        return to_code_segment(ctx, call, sel, &d, offset);
    if (desc_s(&d))
        return emul_fail(ctx, VEC_GP, SEL_ERROR(sel));
    switch (desc_type(&d)) {
    case SYS_CALL_GATE32:
        return through_call_gate(ctx, call, sel, &d);
    case SYS_CALL_GATE16:
        return emul_unsupported(ctx, "16-bit call gate");
    case SYS_TASK_GATE:
    case SYS_TSS16_AVAIL:
    case SYS_TSS32_AVAIL:
        return emul_unsupported(ctx, "task switch");
    default:
        return emul_fail(ctx, VEC_GP, SEL_ERROR(sel));
    }
}

/* SDM vol. 2, RET (far return, protected mode). */
enum emul_status emul_far_ret(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    unsigned size = ctx->insn->operand_width / 8;
    unsigned cpl = emul_cpl(cpu), rpl;
    uint32_t release = 0, eip, cs, esp, ss;
    struct emul_stack st;
    struct emul_desc code, ssd;
    uint16_t sel;

    if (ctx->insn->operand_count_visible > 0 && ctx->ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
        release = (uint32_t)(ctx->ops[0].imm.value.u & 0xFFFF);
    emul_stack_current(ctx, &st);
    if (!emul_stack_room_pop(ctx, &st, 2 * size) || !emul_stack_pop(ctx, &st, &eip, size) ||
        !emul_stack_pop(ctx, &st, &cs, size))
        return EMUL_FAULT;
    if (size == 2)
        eip &= 0xFFFF;
    sel = (uint16_t)cs;
    rpl = SEL_RPL(sel);
    if (SEL_IS_NULL(sel))
        return emul_fail(ctx, VEC_GP, 0);
    if (!emul_desc_fetch(ctx, sel, &code, VEC_GP))
        return EMUL_FAULT;
    if (!desc_is_code(&code) || rpl < cpl ||
        (desc_is_conforming_code(&code) ? desc_dpl(&code) > rpl : desc_dpl(&code) != rpl))
        return emul_fail(ctx, VEC_GP, SEL_ERROR(sel));
    if (!desc_present(&code))
        return emul_fail(ctx, VEC_NP, SEL_ERROR(sel));

    if (rpl > cpl) {
        /* RETURN-TO-OUTER-PRIVILEGE-LEVEL: the caller's SS:ESP lies above
         * the released parameters. */
        st.esp = emul_stack_add(&st.ss, st.esp, release);
        if (!emul_stack_room_pop(ctx, &st, 2 * size) || !emul_stack_pop(ctx, &st, &esp, size) ||
            !emul_stack_pop(ctx, &st, &ss, size))
            return EMUL_FAULT;
        if (!emul_fetch_stack_segment(ctx, (uint16_t)ss, rpl, VEC_GP, &ssd))
            return EMUL_FAULT;
        if (eip > desc_limit(&code))
            return emul_fail(ctx, VEC_GP, 0);
        if (!emul_desc_set_accessed(ctx, (uint16_t)ss, &ssd) ||
            !emul_load_code_segment(ctx, sel, &code, rpl))
            return EMUL_FAULT;
        emul_desc_to_cache(&ssd, (uint16_t)ss, &cpu->seg[SEG_SS]);
        cpu->regs[REG_ESP] = emul_stack_add(&cpu->seg[SEG_SS], esp, release);
        cpu->eip = eip;
        emul_invalidate_data_segments(cpu);
        return EMUL_OK;
    }
    /* RETURN-TO-SAME-PRIVILEGE-LEVEL */
    if (eip > desc_limit(&code))
        return emul_fail(ctx, VEC_GP, 0);
    if (!emul_load_code_segment(ctx, sel, &code, cpl))
        return EMUL_FAULT;
    st.esp = emul_stack_add(&st.ss, st.esp, release);
    emul_stack_commit(ctx, &st);
    cpu->eip = eip;
    return EMUL_OK;
}
