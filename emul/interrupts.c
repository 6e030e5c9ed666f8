/*
 * emul/interrupts.c — entering and leaving interrupt handlers: event
 * delivery through the IDT (emul_deliver_event), the software interrupts
 * INT n, INT3, INTO and INT1, and IRET.
 *
 * Delivery (SDM vol. 3, §6.10-6.12; vol. 2, INT n "PROTECTED-MODE"):
 * IDT limit and gate type, the gate DPL check for software interrupts, gate
 * presence, the target code segment, then either the same stack or, for a
 * non-conforming handler at a more privileged level, the stack for that
 * level from the 32-bit TSS; the frame is [SS, ESP,] EFLAGS, CS, EIP
 * [, error code]; TF, NT, RF, VM are cleared, and IF too for an interrupt
 * gate. Task gates, 16-bit gates and 16-bit TSSs are not modelled
 * (EMUL_UNSUPPORTED).
 *
 * A fault while delivering an event is combined with it as SDM vol. 3,
 * table 6-5 says: contributory + contributory or page fault + (contributory
 * or page fault) is a double fault (#DF, error code 0); anything else is
 * delivered after it; a fault while delivering #DF is a triple fault. When
 * such a second fault is a #PF, CR2 gets its address here (the monitor sets
 * CR2 itself before asking to deliver a #PF it found).
 *
 * INT n and friends are delivered from emul_execute() with EIP past the
 * instruction; a fault during their delivery is the instruction's fault
 * (EIP back at the INT), for the monitor to deliver.
 */
#include <string.h>

#include "emul/emul_internal.h"

#define EFLAGS_VIF (1u << 19)
#define EFLAGS_VIP (1u << 20)

/* One attempt at delivering an event on ctx->cpu. */
static enum emul_status deliver_once(struct emul_ctx *ctx, enum emul_event_kind kind,
                                     uint8_t vector, bool has_error_code, uint32_t error_code)
{
    struct vcpu_state *cpu = ctx->cpu;
    unsigned cpl = emul_cpl(cpu);
    uint16_t ext = kind == EMUL_EVENT_SOFTWARE ? 0 : ERR_EXT;
    uint32_t idt_error = (uint32_t)vector * 8 + ERR_IDT + ext;
    struct emul_desc gate, code, ssd;
    struct emul_stack st;
    unsigned gate_type, new_cpl;
    uint16_t sel;
    uint32_t offset, old_eflags = cpu->eflags;

    ctx->ext = ext;
    if ((uint32_t)vector * 8 + 7 > cpu->idtr.limit)
        return emul_fail(ctx, VEC_GP, idt_error);
    if (!emul_linear_read(ctx, cpu->idtr.base + (uint32_t)vector * 8, &gate, 8,
                          EMUL_ACCESS_SYSTEM_READ, 0))
        return EMUL_FAULT;
    gate_type = desc_type(&gate);
    if (!desc_s(&gate) && gate_type == SYS_TASK_GATE)
        return emul_unsupported(ctx, "task gate in the IDT (vector %u): task switch", vector);
    if (!desc_s(&gate) && (gate_type == SYS_INT_GATE16 || gate_type == SYS_TRAP_GATE16))
        return emul_unsupported(ctx, "16-bit interrupt/trap gate (vector %u)", vector);
    if (desc_s(&gate) || (gate_type != SYS_INT_GATE32 && gate_type != SYS_TRAP_GATE32))
        return emul_fail(ctx, VEC_GP, idt_error);
    /* SDM vol. 3, §6.12.1.1: INT n/INT3/INTO need gate DPL >= CPL. */
    if (kind == EMUL_EVENT_SOFTWARE && desc_dpl(&gate) < cpl)
        return emul_fail(ctx, VEC_GP, idt_error);
    if (!desc_present(&gate))
        return emul_fail(ctx, VEC_NP, idt_error);

    sel = gate_selector(&gate);
    offset = gate_offset(&gate);
    if (SEL_IS_NULL(sel))
        return emul_fail(ctx, VEC_GP, ext);
    if (!emul_desc_fetch(ctx, sel, &code, VEC_GP))
        return EMUL_FAULT;
    if (!desc_is_code(&code) || desc_dpl(&code) > cpl)
        return emul_fail(ctx, VEC_GP, SEL_ERROR(sel) | ext);
    if (!desc_present(&code))
        return emul_fail(ctx, VEC_NP, SEL_ERROR(sel) | ext);
    new_cpl = (!desc_is_conforming_code(&code) && desc_dpl(&code) < cpl) ? desc_dpl(&code) : cpl;

    if (new_cpl < cpl) {
        /* INTER-PRIVILEGE-LEVEL-INTERRUPT: the stack from the TSS. */
        uint16_t ss_sel;
        uint32_t esp;

        if (!emul_tss_is_32bit(cpu))
            return emul_unsupported(ctx, "interrupt through a 16-bit TSS (vector %u)", vector);
        if (!emul_tss_stack(ctx, new_cpl, &ss_sel, &esp) ||
            !emul_fetch_stack_segment(ctx, ss_sel, new_cpl, VEC_TS, &ssd))
            return EMUL_FAULT;
        emul_desc_to_cache(&ssd, ss_sel, &st.ss);
        st.esp = esp;
        st.cpl = new_cpl;
        st.fault_error = SEL_ERROR(ss_sel) | ext;
        if (!emul_stack_room_push(ctx, &st, has_error_code ? 24 : 20))
            return EMUL_FAULT;
        if (offset > desc_limit(&code))
            return emul_fail(ctx, VEC_GP, ext);
        if (!emul_stack_push(ctx, &st, cpu->seg[SEG_SS].selector, 4) ||
            !emul_stack_push(ctx, &st, cpu->regs[REG_ESP], 4))
            return EMUL_FAULT;
        if (!emul_desc_set_accessed(ctx, ss_sel, &ssd))
            return EMUL_FAULT;
        emul_desc_to_cache(&ssd, ss_sel, &st.ss);
    } else {
        /* INTRA-PRIVILEGE-LEVEL-INTERRUPT: the current stack. */
        emul_stack_current(ctx, &st);
        st.fault_error = ext;
        if (!emul_stack_room_push(ctx, &st, has_error_code ? 16 : 12))
            return EMUL_FAULT;
        if (offset > desc_limit(&code))
            return emul_fail(ctx, VEC_GP, ext);
    }
    if (!emul_stack_push(ctx, &st, old_eflags, 4) ||
        !emul_stack_push(ctx, &st, cpu->seg[SEG_CS].selector, 4) ||
        !emul_stack_push(ctx, &st, cpu->eip, 4))
        return EMUL_FAULT;
    if (has_error_code && !emul_stack_push(ctx, &st, error_code, 4))
        return EMUL_FAULT;

    if (!emul_load_code_segment(ctx, sel, &code, new_cpl))
        return EMUL_FAULT;
    cpu->seg[SEG_SS] = st.ss;
    cpu->regs[REG_ESP] = st.esp;
    cpu->eip = offset;
    cpu->eflags &= ~(EFLAGS_TF | EFLAGS_NT | EFLAGS_RF | EFLAGS_VM);
    if (gate_type == SYS_INT_GATE32)
        cpu->eflags &= ~EFLAGS_IF;
    cpu->interrupt_shadow = 0;
    return EMUL_OK;
}

enum exception_class { CLASS_BENIGN, CLASS_CONTRIBUTORY, CLASS_PAGE_FAULT };

/* SDM vol. 3, §6.15 "Interrupt 8", table 6-4. */
static enum exception_class exception_class(enum emul_event_kind kind, uint8_t vector)
{
    if (kind != EMUL_EVENT_EXCEPTION)
        return CLASS_BENIGN;
    switch (vector) {
    case VEC_DE:
    case VEC_TS:
    case VEC_NP:
    case VEC_SS:
    case VEC_GP:
        return CLASS_CONTRIBUTORY;
    case VEC_PF:
        return CLASS_PAGE_FAULT;
    default:
        return CLASS_BENIGN;
    }
}

enum emul_status emul_deliver_event(struct vcpu_state *cpu, const struct emul_env *env,
                                    enum emul_event_kind kind, uint8_t vector, bool has_error_code,
                                    uint32_t error_code, char *why, size_t why_len)
{
    struct emul_fault fault;
    struct vcpu_state work;
    struct emul_ctx ctx = {
        .cpu = &work,
        .committed = cpu,
        .env = env,
        .fault = &fault,
        .why = why,
        .why_len = why_len,
        .insn = &emul_no_insn,
        .ops = emul_no_ops,
    };

    if (why && why_len)
        why[0] = '\0';
    if (!(cpu->cr0 & CR0_PE))
        return emul_unsupported(&ctx, "real-mode interrupt delivery (vector %u)", vector);
    if (cpu->eflags & EFLAGS_VM)
        return emul_unsupported(&ctx, "interrupt from virtual-8086 mode (vector %u)", vector);

    /* At most: the event, a contributory fault or #PF, #DF, then shutdown. */
    for (;;) {
        enum exception_class first, second;
        enum emul_status status;

        vcpu_state_copy(&work, cpu);
        memset(&fault, 0, sizeof(fault));
        status = deliver_once(&ctx, kind, vector, has_error_code, error_code);
        if (status == EMUL_OK)
            vcpu_state_copy(cpu, &work);
        if (status != EMUL_FAULT)
            return status;
        if (kind == EMUL_EVENT_EXCEPTION && vector == VEC_DF)
            return EMUL_TRIPLE_FAULT;
        if (fault.vector == VEC_PF)
            cpu->cr2 = fault.fault_address;
        first = exception_class(kind, vector);
        second = exception_class(EMUL_EVENT_EXCEPTION, fault.vector);
        kind = EMUL_EVENT_EXCEPTION;
        if ((first == CLASS_CONTRIBUTORY && second == CLASS_CONTRIBUTORY) ||
            (first == CLASS_PAGE_FAULT && second != CLASS_BENIGN)) {
            vector = VEC_DF;
            has_error_code = true;
            error_code = 0;
        } else {
            vector = fault.vector;
            has_error_code = fault.has_error_code;
            error_code = fault.error_code;
        }
    }
}

/* SDM vol. 2, INT n/INTO/INT3/INT1. INT1 (ICEBP, F1) is delivered like a
 * hardware #DB: no gate DPL check and EXT set in error codes. */
enum emul_status emul_int(struct emul_ctx *ctx)
{
    enum emul_event_kind kind = EMUL_EVENT_SOFTWARE;
    uint8_t vector;

    switch (ctx->insn->mnemonic) {
    case ZYDIS_MNEMONIC_INT3:
        vector = VEC_BP;
        break;
    case ZYDIS_MNEMONIC_INTO:
        if (!(ctx->cpu->eflags & EFLAGS_OF))
            return EMUL_OK;
        vector = VEC_OF;
        break;
    case ZYDIS_MNEMONIC_INT1:
        vector = VEC_DB;
        kind = EMUL_EVENT_EXCEPTION;
        break;
    default:
        vector = (uint8_t)ctx->ops[0].imm.value.u;
        break;
    }
    return deliver_once(ctx, kind, vector, false, 0);
}

/* SDM vol. 2, IRET: which EFLAGS bits the popped image may change, decided
 * with the CPL before the return. */
static void iret_load_eflags(struct vcpu_state *cpu, uint32_t image, unsigned size,
                             unsigned old_cpl)
{
    uint32_t mask = EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_TF |
                    EFLAGS_DF | EFLAGS_OF | EFLAGS_NT;

    if (size == 4)
        mask |= EFLAGS_RF | EFLAGS_AC | EFLAGS_ID;
    if (old_cpl <= emul_iopl(cpu))
        mask |= EFLAGS_IF;
    if (old_cpl == 0) {
        mask |= EFLAGS_IOPL;
        if (size == 4)
            mask |= EFLAGS_VIF | EFLAGS_VIP;
    }
    if (size == 2)
        mask &= 0xFFFF;
    cpu->eflags = (cpu->eflags & ~mask) | (image & mask) | EFLAGS_FIXED1;
}

/* IRET with NT=1 returns to the task in the current TSS's back link (SDM
 * vol. 2, IRET, "TASK-RETURN"). The checks that can fail are made — a back
 * link with TI=1 or that does not name a busy TSS in the GDT is #TS — and
 * only a valid task switch, which popek does not perform yet, stops. */
static enum emul_status iret_task_return(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    uint16_t link = 0;
    struct emul_desc d;
    bool in_table;

    if (!emul_linear_read(ctx, cpu->tr.base, &link, 2, EMUL_ACCESS_SYSTEM_READ, 0))
        return EMUL_FAULT;
    if (link & 4)
        return emul_fail(ctx, VEC_TS, link & 0xFFFC);
    if (!emul_desc_probe(ctx, link, &d, &in_table))
        return EMUL_FAULT;
    if (!in_table || desc_s(&d) ||
        (desc_type(&d) != SYS_TSS32_BUSY && desc_type(&d) != SYS_TSS16_BUSY))
        return emul_fail(ctx, VEC_TS, link & 0xFFFC);
    return emul_unsupported(ctx, "task switch (IRET with NT=1 to TSS 0x%04x)", link);
}

/* SDM vol. 2, IRET, PROTECTED-MODE-RETURN with NT = 0: return to the same
 * level, or to an outer level popping SS:ESP too and nulling the data
 * segment registers the outer level may not use. */
enum emul_status emul_iret(struct emul_ctx *ctx)
{
    struct vcpu_state *cpu = ctx->cpu;
    unsigned size = ctx->insn->operand_width / 8;
    unsigned cpl = emul_cpl(cpu), new_cpl;
    struct emul_stack st;
    struct emul_desc code, ssd;
    uint32_t eip, cs, image, esp, ss;
    uint16_t sel;

    if (cpu->eflags & EFLAGS_NT)
        return iret_task_return(ctx);
    emul_stack_current(ctx, &st);
    if (!emul_stack_room_pop(ctx, &st, 3 * size) || !emul_stack_pop(ctx, &st, &eip, size) ||
        !emul_stack_pop(ctx, &st, &cs, size) || !emul_stack_pop(ctx, &st, &image, size))
        return EMUL_FAULT;
    if (size == 4 && (image & EFLAGS_VM) && cpl == 0)
        return emul_unsupported(ctx, "IRET to virtual-8086 mode");

    sel = (uint16_t)cs;
    new_cpl = SEL_RPL(sel);
    if (SEL_IS_NULL(sel))
        return emul_fail(ctx, VEC_GP, 0);
    if (!emul_desc_fetch(ctx, sel, &code, VEC_GP))
        return EMUL_FAULT;
    if (!desc_is_code(&code) || new_cpl < cpl ||
        (desc_is_conforming_code(&code) && desc_dpl(&code) > new_cpl) ||
        (!desc_is_conforming_code(&code) && desc_dpl(&code) != new_cpl))
        return emul_fail(ctx, VEC_GP, SEL_ERROR(sel));
    if (!desc_present(&code))
        return emul_fail(ctx, VEC_NP, SEL_ERROR(sel));
    if (size == 2)
        eip &= 0xFFFF;

    if (new_cpl > cpl) {
        /* RETURN-TO-OUTER-PRIVILEGE-LEVEL */
        if (!emul_stack_room_pop(ctx, &st, 2 * size) || !emul_stack_pop(ctx, &st, &esp, size) ||
            !emul_stack_pop(ctx, &st, &ss, size))
            return EMUL_FAULT;
        if (!emul_fetch_stack_segment(ctx, (uint16_t)ss, new_cpl, VEC_GP, &ssd))
            return EMUL_FAULT;
        if (eip > desc_limit(&code))
            return emul_fail(ctx, VEC_GP, 0);
        if (!emul_desc_set_accessed(ctx, (uint16_t)ss, &ssd) ||
            !emul_load_code_segment(ctx, sel, &code, new_cpl))
            return EMUL_FAULT;
        iret_load_eflags(cpu, image, size, cpl);
        emul_desc_to_cache(&ssd, (uint16_t)ss, &cpu->seg[SEG_SS]);
        cpu->regs[REG_ESP] =
            size == 2 ? ((cpu->regs[REG_ESP] & 0xFFFF0000u) | (esp & 0xFFFF)) : esp;
        cpu->eip = eip;
        emul_invalidate_data_segments(cpu);
        return EMUL_OK;
    }
    /* RETURN-TO-SAME-PRIVILEGE-LEVEL */
    if (eip > desc_limit(&code))
        return emul_fail(ctx, VEC_GP, 0);
    if (!emul_load_code_segment(ctx, sel, &code, new_cpl))
        return EMUL_FAULT;
    iret_load_eflags(cpu, image, size, cpl);
    emul_stack_commit(ctx, &st);
    cpu->eip = eip;
    return EMUL_OK;
}
