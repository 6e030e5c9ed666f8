/*
 * emul/sysinsn.c — emul_execute(): one guest instruction from fetch to
 * commit, and the table of which file executes which instruction.
 *
 * The flow: refuse what popek does not model (real mode, virtual-8086 mode,
 * 16-bit code segments), fetch and decode (decode_fetch.c), pick the handler
 * by mnemonic and operands, run it on a copy of the vCPU state with EIP
 * already past the instruction, and copy the state back only when it
 * completes. Handlers that branch (far jumps, INT n, IRET...) overwrite EIP.
 *
 * Instructions nobody handles here: UD0/UD1/UD2, undecodable bytes and the
 * instructions the virtual CPU does not have (anything outside the P6 +
 * SSE2 ISA, e.g. SSE3, SYSCALL, VMX) raise #UD as the real CPU would. A
 * valid instruction of the virtual CPU that emul/ does not emulate (for
 * example an ordinary `push eax`, which the translator runs itself) stops
 * with EMUL_UNSUPPORTED, since reaching here is a bug upstream, not a guest
 * error.
 */
#include <string.h>

#include "emul/emul_internal.h"

static bool operand_is_class(const ZydisDecodedOperand *op, ZydisRegisterClass cls)
{
    return op->type == ZYDIS_OPERAND_TYPE_REGISTER && ZydisRegisterGetClass(op->reg.value) == cls;
}

static bool any_operand_is_class(const struct emul_ctx *ctx, ZydisRegisterClass cls)
{
    for (unsigned i = 0; i < ctx->insn->operand_count_visible; i++)
        if (operand_is_class(&ctx->ops[i], cls))
            return true;
    return false;
}

static enum emul_status raise_ud(struct emul_ctx *ctx)
{
    return emul_fail(ctx, VEC_UD, 0);
}

/* The ISA sets of the virtual P6 + SSE2 CPU (DESIGN.md §5). */
bool emul_cpu_has_isa_set(ZydisISASet isa)
{
    switch (isa) {
    case ZYDIS_ISA_SET_I86:
    case ZYDIS_ISA_SET_I186:
    case ZYDIS_ISA_SET_I286PROTECTED:
    case ZYDIS_ISA_SET_I286REAL:
    case ZYDIS_ISA_SET_I386:
    case ZYDIS_ISA_SET_I486:
    case ZYDIS_ISA_SET_I486REAL:
    case ZYDIS_ISA_SET_PENTIUMREAL:
    case ZYDIS_ISA_SET_PPRO:
    case ZYDIS_ISA_SET_CMOV:
    case ZYDIS_ISA_SET_FCMOV:
    case ZYDIS_ISA_SET_X87:
    case ZYDIS_ISA_SET_PENTIUMMMX:
    case ZYDIS_ISA_SET_SSE:
    case ZYDIS_ISA_SET_SSE2:
    case ZYDIS_ISA_SET_SSE2MMX:
    case ZYDIS_ISA_SET_SSEMXCSR:
    case ZYDIS_ISA_SET_SSE_PREFETCH:
    case ZYDIS_ISA_SET_CLFSH:
    case ZYDIS_ISA_SET_FXSAVE:
    case ZYDIS_ISA_SET_FAT_NOP:
    case ZYDIS_ISA_SET_PREFETCH_NOP:
    case ZYDIS_ISA_SET_PAUSE:
        return true;
    default:
        return false;
    }
}

void emul_init_decoder(ZydisDecoder *decoder, ZydisMachineMode mode, ZydisStackWidth width)
{
    ZydisDecoderInit(decoder, mode, width);
    /* Without BMI1/LZCNT, F3 0F BC/BD is BSF/BSR with an ignored REP (SDM
     * vol. 2, TZCNT/LZCNT: "on processors that do not support" them); Linux
     * uses "rep; bsf" expecting exactly that. The others were NOP hints. */
    ZydisDecoderEnableMode(decoder, ZYDIS_DECODER_MODE_TZCNT, false);
    ZydisDecoderEnableMode(decoder, ZYDIS_DECODER_MODE_LZCNT, false);
    ZydisDecoderEnableMode(decoder, ZYDIS_DECODER_MODE_MPX, false);
    ZydisDecoderEnableMode(decoder, ZYDIS_DECODER_MODE_CET, false);
    ZydisDecoderEnableMode(decoder, ZYDIS_DECODER_MODE_CLDEMOTE, false);
}

static enum emul_status not_emulated(struct emul_ctx *ctx)
{
    if (!emul_cpu_has_isa_set(ctx->insn->meta.isa_set))
        return raise_ud(ctx);
    return emul_unsupported(ctx, "instruction not emulated by emul/");
}

static emul_handler handler_for(const struct emul_ctx *ctx)
{
    const ZydisDecodedInstruction *insn = ctx->insn;
    bool far = insn->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR;

    switch (insn->mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
        if (any_operand_is_class(ctx, ZYDIS_REGCLASS_SEGMENT))
            return emul_mov_sreg;
        if (any_operand_is_class(ctx, ZYDIS_REGCLASS_CONTROL))
            return emul_mov_cr;
        if (any_operand_is_class(ctx, ZYDIS_REGCLASS_DEBUG))
            return emul_mov_dr;
        return NULL;
    case ZYDIS_MNEMONIC_PUSH:
        return operand_is_class(&ctx->ops[0], ZYDIS_REGCLASS_SEGMENT) ? emul_push_sreg : NULL;
    case ZYDIS_MNEMONIC_POP:
        return operand_is_class(&ctx->ops[0], ZYDIS_REGCLASS_SEGMENT) ? emul_pop_sreg : NULL;
    case ZYDIS_MNEMONIC_JMP:
    case ZYDIS_MNEMONIC_CALL:
        return far ? emul_far_jmp_call : NULL;
    case ZYDIS_MNEMONIC_RET:
        return far ? emul_far_ret : NULL;
    case ZYDIS_MNEMONIC_LGDT:
    case ZYDIS_MNEMONIC_LIDT:
        return emul_lgdt_lidt;
    case ZYDIS_MNEMONIC_SGDT:
    case ZYDIS_MNEMONIC_SIDT:
        return emul_sgdt_sidt;
    case ZYDIS_MNEMONIC_LLDT:
        return emul_lldt;
    case ZYDIS_MNEMONIC_LTR:
        return emul_ltr;
    case ZYDIS_MNEMONIC_SLDT:
    case ZYDIS_MNEMONIC_STR:
        return emul_sldt_str;
    case ZYDIS_MNEMONIC_LDS:
    case ZYDIS_MNEMONIC_LES:
    case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS:
    case ZYDIS_MNEMONIC_LSS:
        return emul_load_far_pointer;
    case ZYDIS_MNEMONIC_LAR:
    case ZYDIS_MNEMONIC_LSL:
        return emul_lar_lsl;
    case ZYDIS_MNEMONIC_VERR:
    case ZYDIS_MNEMONIC_VERW:
        return emul_verr_verw;
    case ZYDIS_MNEMONIC_ARPL:
        return emul_arpl;
    case ZYDIS_MNEMONIC_IN:
    case ZYDIS_MNEMONIC_OUT:
        return emul_in_out;
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD:
        return emul_ins_outs;
    case ZYDIS_MNEMONIC_CLI:
    case ZYDIS_MNEMONIC_STI:
        return emul_cli_sti;
    case ZYDIS_MNEMONIC_PUSHF:
    case ZYDIS_MNEMONIC_PUSHFD:
        return emul_pushf;
    case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD:
        return emul_popf;
    case ZYDIS_MNEMONIC_HLT:
        return emul_hlt;
    case ZYDIS_MNEMONIC_INT:
    case ZYDIS_MNEMONIC_INT1:
    case ZYDIS_MNEMONIC_INT3:
    case ZYDIS_MNEMONIC_INTO:
        return emul_int;
    case ZYDIS_MNEMONIC_IRET:
    case ZYDIS_MNEMONIC_IRETD:
        return emul_iret;
    case ZYDIS_MNEMONIC_CPUID:
        return emul_cpuid_insn;
    case ZYDIS_MNEMONIC_RDTSC:
        return emul_rdtsc;
    case ZYDIS_MNEMONIC_RDMSR:
        return emul_rdmsr;
    case ZYDIS_MNEMONIC_WRMSR:
        return emul_wrmsr;
    case ZYDIS_MNEMONIC_RDPMC:
        return emul_rdpmc;
    case ZYDIS_MNEMONIC_CLTS:
        return emul_clts;
    case ZYDIS_MNEMONIC_LMSW:
        return emul_lmsw;
    case ZYDIS_MNEMONIC_SMSW:
        return emul_smsw;
    case ZYDIS_MNEMONIC_INVLPG:
        return emul_invlpg;
    case ZYDIS_MNEMONIC_INVD:
    case ZYDIS_MNEMONIC_WBINVD:
        return emul_cache_control;
    case ZYDIS_MNEMONIC_SYSENTER:
        return emul_sysenter;
    case ZYDIS_MNEMONIC_SYSEXIT:
        return emul_sysexit;
    case ZYDIS_MNEMONIC_DAA:
    case ZYDIS_MNEMONIC_DAS:
    case ZYDIS_MNEMONIC_AAA:
    case ZYDIS_MNEMONIC_AAS:
    case ZYDIS_MNEMONIC_AAM:
    case ZYDIS_MNEMONIC_AAD:
        return emul_bcd;
    case ZYDIS_MNEMONIC_SALC:
        return emul_salc;
    case ZYDIS_MNEMONIC_BOUND:
        return emul_bound;
    case ZYDIS_MNEMONIC_PUSHA:
    case ZYDIS_MNEMONIC_PUSHAD:
        return emul_pusha;
    case ZYDIS_MNEMONIC_POPA:
    case ZYDIS_MNEMONIC_POPAD:
        return emul_popa;
    case ZYDIS_MNEMONIC_UD0:
    case ZYDIS_MNEMONIC_UD1:
    case ZYDIS_MNEMONIC_UD2:
    case ZYDIS_MNEMONIC_RSM: /* #UD outside system-management mode (SDM vol. 2, RSM) */
        return raise_ud;
    default:
        return NULL;
    }
}

/* The env callbacks for what the instruction changed, after the commit. */
static void notify_env(const struct emul_ctx *ctx)
{
    const struct emul_env *env = ctx->env;

    for (unsigned crn = 0; crn < 5; crn++)
        if ((ctx->cr_written & (1u << crn)) && env->control_register_written)
            env->control_register_written(env->opaque, crn, ctx->cr_old[crn]);
    if (ctx->invlpg_pending && env->invlpg)
        env->invlpg(env->opaque, ctx->invlpg_addr);
}

enum emul_status emul_run_instruction(struct vcpu_state *cpu, const struct emul_env *env,
                                      struct emul_fault *fault, char *why, size_t why_len,
                                      emul_handler (*select)(const struct emul_ctx *ctx),
                                      emul_handler unhandled)
{
    struct vcpu_state work;
    struct emul_decode_storage decode;
    struct emul_ctx ctx = {
        .cpu = &work,
        .committed = cpu,
        .env = env,
        .fault = fault,
        .why = why,
        .why_len = why_len,
        .insn = &emul_no_insn,
        .ops = emul_no_ops,
        .decode = &decode,
    };
    enum emul_status status;
    emul_handler handler;

    vcpu_state_copy(&work, cpu);
    memset(fault, 0, sizeof(*fault));
    if (why && why_len)
        why[0] = '\0';
    if (!(cpu->cr0 & CR0_PE) || (cpu->eflags & EFLAGS_VM) ||
        !(cpu->seg[SEG_CS].attr & SEG_ATTR_DB)) {
        emul_peek_insn(&ctx);
        if (!(cpu->cr0 & CR0_PE))
            return emul_unsupported(&ctx, "real mode (CR0.PE=0) is not supported yet");
        if (cpu->eflags & EFLAGS_VM)
            return emul_unsupported(&ctx, "virtual-8086 mode is not supported yet");
        return emul_unsupported(&ctx, "16-bit code segments are not supported yet");
    }

    status = emul_fetch_decode(&ctx);
    if (status != EMUL_OK)
        return status;
    handler = select(&ctx);
    if (!handler)
        return unhandled(&ctx);

    /* The previous instruction has completed: its interrupt shadow ends. */
    work.interrupt_shadow = 0;
    work.eip = ctx.next_eip;
    status = handler(&ctx);
    switch (status) {
    case EMUL_OK:
    case EMUL_HALT:
        /* SDM vol. 3, §17.3.1.1: RF is cleared after each instruction except
         * IRET (which loads it) and POPF (which clears it itself). */
        if (ctx.insn->mnemonic != ZYDIS_MNEMONIC_IRET && ctx.insn->mnemonic != ZYDIS_MNEMONIC_IRETD)
            work.eflags &= ~EFLAGS_RF;
        vcpu_state_copy(cpu, &work);
        notify_env(&ctx);
        break;
    case EMUL_FAULT:
        if (ctx.commit_on_fault)
            vcpu_state_copy(cpu, &work);
        break;
    default:
        break;
    }
    return status;
}

enum emul_status emul_execute(struct vcpu_state *cpu, const struct emul_env *env,
                              struct emul_fault *fault, char *why, size_t why_len)
{
    return emul_run_instruction(cpu, env, fault, why, why_len, handler_for, not_emulated);
}
