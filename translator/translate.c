/*
 * translator/translate.c — the block translator (see translate.h for the
 * block layout and the precise-state rule every sequence here keeps).
 *
 * One function per class turns a decoded guest instruction into host code:
 * translate_ident, translate_stack, translate_string, translate_xlat,
 * translate_branch, and emit_callout_exit for everything the monitor runs.
 * Host sequences use only flag-neutral helpers (mov, lea, movzx, jrcxz), so
 * the guest's arithmetic flags stay in host RFLAGS throughout.
 */
#include "translator/translate.h"

#include <string.h>

#include "emul/emul.h"
#include "monitor/vcpu_runtime.h"

struct block_state {
    const struct translate_config *cfg;
    size_t ic_fill_site; /* rel32 of the inline cache's jump to its fill stub */
    struct emit_buf *buf;
    struct translated_block *out;
    struct segment_addressing segments;
    bool ended;
};

/* ---- decoding --------------------------------------------------------- */

bool translate_decode(const uint8_t *bytes, size_t len, ZydisDecodedInstruction *insn,
                      ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT])
{
    static ZydisDecoder decoder;
    static bool ready;

    if (!ready) {
        emul_init_decoder(&decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
        ready = true;
    }
    return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, bytes, len, insn, operands));
}

/* ---- request builders --------------------------------------------------- */

static void req_init(ZydisEncoderRequest *req, ZydisMnemonic mnemonic, unsigned noperands)
{
    memset(req, 0, sizeof(*req));
    req->machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
    req->mnemonic = mnemonic;
    req->operand_count = (ZyanU8)noperands;
}

static void op_reg(ZydisEncoderOperand *op, ZydisRegister reg)
{
    op->type = ZYDIS_OPERAND_TYPE_REGISTER;
    op->reg.value = reg;
}

static void op_mem(ZydisEncoderOperand *op, ZydisRegister base, ZydisRegister index, int64_t disp,
                   unsigned size)
{
    op->type = ZYDIS_OPERAND_TYPE_MEMORY;
    op->mem.base = base;
    op->mem.index = index;
    op->mem.scale = index == ZYDIS_REGISTER_NONE ? 0 : 1;
    op->mem.displacement = disp;
    op->mem.size = (ZyanU16)size;
}

static void op_imm(ZydisEncoderOperand *op, uint64_t value)
{
    op->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
    op->imm.u = value;
}

/* The 32-bit (or 16-bit) name of host register number n (0 = rax .. 7 = rdi). */
static ZydisRegister gpr(unsigned n, unsigned width)
{
    if (width == 16)
        return (ZydisRegister)(ZYDIS_REGISTER_AX + n);
    if (width == 64)
        return (ZydisRegister)(ZYDIS_REGISTER_RAX + n);
    return (ZydisRegister)(ZYDIS_REGISTER_EAX + n);
}

static void emit_mov_reg_mem(struct emit_buf *b, ZydisRegister reg, ZydisRegister base,
                             ZydisRegister index, int64_t disp, unsigned size)
{
    ZydisEncoderRequest req;

    req_init(&req, ZYDIS_MNEMONIC_MOV, 2);
    op_reg(&req.operands[0], reg);
    op_mem(&req.operands[1], base, index, disp, size);
    emit_request(b, &req);
}

static void emit_mov_mem_reg(struct emit_buf *b, ZydisRegister base, ZydisRegister index,
                             int64_t disp, unsigned size, ZydisRegister reg)
{
    ZydisEncoderRequest req;

    req_init(&req, ZYDIS_MNEMONIC_MOV, 2);
    op_mem(&req.operands[0], base, index, disp, size);
    op_reg(&req.operands[1], reg);
    emit_request(b, &req);
}

static void emit_mov_mem_imm(struct emit_buf *b, ZydisRegister base, ZydisRegister index,
                             int64_t disp, unsigned size, uint32_t imm)
{
    ZydisEncoderRequest req;

    req_init(&req, ZYDIS_MNEMONIC_MOV, 2);
    op_mem(&req.operands[0], base, index, disp, size);
    /* Zydis wants the immediate as the sign-extended value it will encode. */
    op_imm(&req.operands[1],
           size == 2 ? (uint64_t)(int64_t)(int16_t)imm : (uint64_t)(int64_t)(int32_t)imm);
    emit_request(b, &req);
}

static void emit_mov_reg_reg(struct emit_buf *b, ZydisRegister dst, ZydisRegister src)
{
    ZydisEncoderRequest req;

    req_init(&req, ZYDIS_MNEMONIC_MOV, 2);
    op_reg(&req.operands[0], dst);
    op_reg(&req.operands[1], src);
    emit_request(b, &req);
}

/* lea dst, [base + disp] — the flag-neutral add. */
static void emit_lea(struct emit_buf *b, ZydisRegister dst, ZydisRegister base, ZydisRegister index,
                     int64_t disp)
{
    ZydisEncoderRequest req;

    req_init(&req, ZYDIS_MNEMONIC_LEA, 2);
    op_reg(&req.operands[0], dst);
    op_mem(&req.operands[1], base, index, disp, 8); /* Zydis: lea takes the address size */
    emit_request(b, &req);
}

/* lea esp, [rsp + delta]: moves the guest stack pointer with 32-bit wrap. */
static void emit_adjust_esp(struct emit_buf *b, int32_t delta)
{
    emit_lea(b, ZYDIS_REGISTER_ESP, ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_NONE, delta);
}

static void emit_rewrite_prefix(struct emit_buf *b, const struct mem_rewrite *rw)
{
    for (unsigned i = 0; i < rw->prefix_count; i++)
        emit_request(b, &rw->prefix[i]);
}

/* An FS/GS operand (rewrite.h) is [r14 + r11], r11 the segment's view
 * pointer. Sequences that need r11 for something else emit the prefix
 * here and fold the pointer into r14: the operand becomes [r14]. */
static void emit_fold_own_view(struct emit_buf *b, struct mem_rewrite *rw)
{
    if (rw->index != ZYDIS_REGISTER_R11)
        return;
    emit_rewrite_prefix(b, rw);
    emit_lea(b, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R11, 0);
    rw->prefix_count = 0;
    rw->base = ZYDIS_REGISTER_R14;
    rw->index = ZYDIS_REGISTER_NONE;
    rw->scale = 0;
    rw->displacement = 0;
}

/* ---- exits -------------------------------------------------------------- */

static void emit_exit(struct emit_buf *b, enum vcpu_exit_reason reason)
{
    emit_store_vcpu_u32(b, VCPU_OFFSET(exit_reason), reason);
    emit_jmp_vcpu_indirect(b, VCPU_OFFSET(exit_routine));
}

/* The monitor executes the instruction at eip (emul/); `decoded`, when
 * not NULL, is that instruction, handed over in r14 (vcpu.exit_link). */
static void emit_callout(struct emit_buf *b, guest_linear_t eip, ZydisMnemonic mnemonic,
                         const struct emul_decoded_insn *decoded)
{
    emit_store_vcpu_u32(b, VCPU_OFFSET(next_eip), eip);
    emit_store_vcpu_u32(b, VCPU_OFFSET(callout_mnemonic), (uint32_t)mnemonic);
    if (decoded)
        emit_mov_r14_imm64(b, (uint64_t)(uintptr_t)decoded);
    else
        emit_mov_r14d_imm(b, 0);
    emit_exit(b, EXIT_CALLOUT);
}

#define CALLOUT_RUN_MAX 8 /* instructions one callout exit may run (keep_decoded) */

/* The instruction is a callout wherever it appears: a system instruction,
 * or a pop into a segment register (a segment load, translate_pop). */
static bool always_a_callout(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops)
{
    if (insn->mnemonic == ZYDIS_MNEMONIC_POP && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
        ZydisRegisterGetClass(ops[0].reg.value) == ZYDIS_REGCLASS_SEGMENT)
        return true;
    return classify_instruction(insn, ops) == INSN_CALLOUT;
}

/* Keeps the decoded instruction for the monitor (cfg->alloc_decoded),
 * chained to the system instructions that follow it on its page (up to
 * CALLOUT_RUN_MAX in all): an exception stub's or a kernel exit's "pop gs;
 * pop fs; pop es; pop ds" is then one exit to the monitor, not four. The
 * page's frame is write-protected as this block's code, so the chained
 * bytes stay what they were while the block is in the cache. */
static const struct emul_decoded_insn *
keep_decoded(const struct block_state *st, guest_linear_t eip, const uint8_t *bytes, size_t nbytes,
             const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops)
{
    struct emul_decoded_insn *first = NULL, *last = NULL;
    uint8_t next_bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    ZydisDecodedInstruction next_insn;
    ZydisDecodedOperand next_ops[ZYDIS_MAX_OPERAND_COUNT];

    for (unsigned n = 0; n < CALLOUT_RUN_MAX && insn && st->cfg->alloc_decoded; n++) {
        struct emul_decoded_insn *d = st->cfg->alloc_decoded(st->cfg->opaque);
        if (!d)
            break;
        d->linear = eip;
        memcpy(d->bytes, bytes, nbytes);
        d->nbytes = nbytes;
        d->decoded = true;
        d->insn = *insn;
        memcpy(d->ops, ops, sizeof(d->ops));
        d->next = NULL;
        if (last)
            last->next = d;
        else
            first = d;
        last = d;
        /* The next one, if it is a system instruction wholly on this page. */
        eip += insn->length;
        insn = NULL;
        nbytes = st->cfg->fetch(st->cfg->opaque, eip, next_bytes, sizeof(next_bytes));
        if (nbytes && (eip & GUEST_PAGE_MASK) == (first->linear & GUEST_PAGE_MASK) &&
            translate_decode(next_bytes, nbytes, &next_insn, next_ops) &&
            ((eip + next_insn.length - 1) & GUEST_PAGE_MASK) == (eip & GUEST_PAGE_MASK) &&
            always_a_callout(&next_insn, next_ops)) {
            bytes = next_bytes;
            insn = &next_insn;
            ops = next_ops;
        }
    }
    return first;
}

/* mov r32, crN that runs in place: CPL 0, CR0/2/3/4 (CR1 and CR5-7 are
 * #UD), into a register other than ESP (the host's RSP holds it with the
 * view added). */
static bool is_inline_cr_read(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops,
                              const struct translate_config *cfg)
{
    if (insn->mnemonic != ZYDIS_MNEMONIC_MOV || cfg->cpl != 0 || cfg->bounce_buffer ||
        insn->operand_count_visible != 2 || ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
        ops[1].type != ZYDIS_OPERAND_TYPE_REGISTER ||
        ZydisRegisterGetClass(ops[1].reg.value) != ZYDIS_REGCLASS_CONTROL ||
        ZydisRegisterGetClass(ops[0].reg.value) != ZYDIS_REGCLASS_GPR32 ||
        ops[0].reg.value == ZYDIS_REGISTER_ESP)
        return false;
    unsigned crn = ops[1].reg.value - ZYDIS_REGISTER_CR0;
    return crn == 0 || crn == 2 || crn == 3 || crn == 4;
}

/* ...as the block's last instruction. */
static void emit_callout_exit(struct block_state *st, guest_linear_t eip, ZydisMnemonic mnemonic,
                              const struct emul_decoded_insn *decoded)
{
    emit_callout(st->buf, eip, mnemonic, decoded);
    st->out->ends_in_callout = true;
    st->ended = true;
}

/* cli/sti at CPL 0, where neither can fault (SDM vol. 2, CLI/STI: CPL <=
 * IOPL always holds): a store to the vCPU's virtual IF. sti first checks,
 * flag-free, whether an interrupt is waiting: then it calls out, so that
 * the monitor delivers it after the interrupt shadow. Otherwise it records
 * the next instruction's address: an exit right there keeps the shadow. */
static void emit_virtual_if(struct block_state *st, bool set, guest_linear_t eip,
                            guest_linear_t next_eip)
{
    struct emit_buf *b = st->buf;

    if (!set) {
        emit_store_vcpu_u8(b, VCPU_OFFSET(virtual_if), 0);
        return;
    }
    emit_save_rcx_in_r11(b);
    emit_movzx_ecx_vcpu_u8(b, VCPU_OFFSET(irq_waiting));
    size_t none_waiting = emit_jrcxz_rel8(b);
    emit_restore_rcx_from_r11(b);
    emit_callout(b, eip, ZYDIS_MNEMONIC_STI, NULL);
    emit_patch_rel8(b, none_waiting, emit_offset(b));
    emit_restore_rcx_from_r11(b);
    emit_store_vcpu_u8(b, VCPU_OFFSET(virtual_if), 1);
    emit_store_vcpu_u32(b, VCPU_OFFSET(sti_shadow_eip), next_eip);
}

/* The instruction at eip faults before doing anything (a null segment). */
static void emit_raise_exit(struct block_state *st, guest_linear_t eip, uint8_t vector,
                            uint32_t error_code)
{
    emit_store_vcpu_u32(st->buf, VCPU_OFFSET(next_eip), eip);
    emit_store_vcpu_u32(st->buf, VCPU_OFFSET(raise_vector), vector);
    emit_store_vcpu_u32(st->buf, VCPU_OFFSET(raise_error), error_code);
    emit_mov_r14d_imm(st->buf, 0);
    emit_exit(st->buf, EXIT_RAISE);
    st->ended = true;
}

/* True when an operand of the instruction accesses memory through a segment
 * the configuration marks unusable. */
static bool uses_unusable_segment(const struct block_state *st, const ZydisDecodedInstruction *insn,
                                  const ZydisDecodedOperand *ops)
{
    for (unsigned i = 0; i < insn->operand_count; i++) {
        if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.type == ZYDIS_MEMOP_TYPE_MEM &&
            ((st->cfg->unusable_segments >> rewrite_operand_segment(&ops[i])) & 1))
            return true;
    }
    return false;
}

/* The exception an x87/MMX/SSE instruction raises under cfg->fpu_mode
 * (SDM vol. 3, §2.5 and §13.1, table 2-2), or -1 when it executes. */
static int fpu_exception(const struct block_state *st, const ZydisDecodedInstruction *insn)
{
    unsigned mode = st->cfg->fpu_mode;
    bool x87 = false, simd = false, sse = false;

    switch (insn->meta.isa_set) {
    case ZYDIS_ISA_SET_X87:
    case ZYDIS_ISA_SET_FCMOV:
        x87 = true;
        break;
    case ZYDIS_ISA_SET_PENTIUMMMX:
        simd = true;
        break;
    case ZYDIS_ISA_SET_SSE:
    case ZYDIS_ISA_SET_SSE2:
    case ZYDIS_ISA_SET_SSE2MMX:
    case ZYDIS_ISA_SET_SSEMXCSR:
        simd = sse = true;
        break;
    case ZYDIS_ISA_SET_FXSAVE:
        /* FXSAVE/FXRSTOR: #NM with TS or EM (not affected by OSFXSR). */
        return (mode & (TRANSLATE_FPU_TS | TRANSLATE_FPU_EM)) ? VEC_NM : -1;
    default:
        if (insn->mnemonic == ZYDIS_MNEMONIC_FWAIT)
            return (mode & TRANSLATE_FPU_TS) && (mode & TRANSLATE_FPU_MP) ? VEC_NM : -1;
        return -1;
    }
    /* Fences and prefetches do not touch the FPU/SSE state. */
    if (insn->mnemonic == ZYDIS_MNEMONIC_SFENCE || insn->mnemonic == ZYDIS_MNEMONIC_LFENCE ||
        insn->mnemonic == ZYDIS_MNEMONIC_MFENCE || insn->meta.category == ZYDIS_CATEGORY_PREFETCH)
        return -1;
    if (x87 && (mode & (TRANSLATE_FPU_EM | TRANSLATE_FPU_TS)))
        return VEC_NM;
    if (simd && (mode & TRANSLATE_FPU_EM))
        return VEC_UD;
    if (sse && (mode & TRANSLATE_FPU_NO_SSE))
        return VEC_UD;
    if (simd && (mode & TRANSLATE_FPU_TS))
        return VEC_NM;
    return -1;
}

/* r11 = the target's set in the indirect-branch table, scaled so that
 * [r15 + r11*8 + ibl] is its way 0: (r14 & 0xFFFF) * 4 * 8 = set * 32. */
static void emit_ibl_set_index(struct emit_buf *b)
{
    ZydisEncoderRequest req;

    _Static_assert(VCPU_IBL_SETS == 65536 && VCPU_IBL_WAYS == 2 &&
                       sizeof(struct vcpu_ibl_entry) == 16,
                   "the probe indexes with movzx r11d, r14w and 32-byte sets");
    req_init(&req, ZYDIS_MNEMONIC_MOVZX, 2);
    op_reg(&req.operands[0], ZYDIS_REGISTER_R11D);
    op_reg(&req.operands[1], ZYDIS_REGISTER_R14W);
    emit_request(b, &req);
    emit_lea(b, ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R11, 0);
    emit_lea(b, ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R11, 0);
}

/* Indirect branch with the guest target in r14d: probe the vCPU's lookup
 * table (vcpu_runtime.h) and jump straight to the block on a hit; on a miss
 * exit to the monitor, which translates the target and fills the entry.
 * Flag-free throughout: the guest's flags live in RFLAGS. */
static void emit_indirect_exit(struct block_state *st)
{
    struct emit_buf *b = st->buf;
    ZydisEncoderRequest req;
    const int32_t ibl = VCPU_OFFSET(ibl);
    struct translated_ic *ic = &st->out->ic;
    static const uint8_t lea_ecx_r14_disp32[] = {0x41, 0x8D, 0x8E}; /* lea ecx, [r14 + disp32] */

    /* Inline cache: until filled, go to the fill stub (emitted with the
     * exit stubs); once filled, compare with the cached target. */
    ic->site = (uint32_t)emit_offset(b);
    size_t to_fill = emit_jmp_rel32(b);
    emit_mov_reg_reg(b, ZYDIS_REGISTER_R10, ZYDIS_REGISTER_RCX);
    emit_bytes(b, lea_ecx_r14_disp32, sizeof(lea_ecx_r14_disp32));
    ic->disp = (uint32_t)emit_offset(b);
    emit_u32(b, 0);
    size_t ic_hit = emit_jrcxz_rel8(b);
    size_t to_probe = emit_jmp_rel8(b);
    /* inline-cache hit: a direct jump, patched to the cached target */
    emit_patch_rel8(b, ic_hit, emit_offset(b));
    emit_mov_reg_reg(b, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R10);
    ic->hit_rel32 = (uint32_t)emit_jmp_rel32(b);
    emit_patch_rel8(b, to_probe, emit_offset(b));
    st->out->has_ic = true;
    st->ic_fill_site = to_fill;
    if (st->cfg->count_indirect) {
        /* ibl_lookups += 1 */
        emit_mov_reg_mem(b, ZYDIS_REGISTER_RCX, HOST_REG_VCPU, ZYDIS_REGISTER_NONE,
                         VCPU_OFFSET(ibl_lookups), 8);
        emit_lea(b, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 1);
        emit_mov_mem_reg(b, HOST_REG_VCPU, ZYDIS_REGISTER_NONE, VCPU_OFFSET(ibl_lookups), 8,
                         ZYDIS_REGISTER_RCX);
    }
    /* For way 0, then way 1 of the target's set:
     * rcx = (mode tag + target + 1) + ~tag = expected - tag, zero on a hit. */
    size_t hit[VCPU_IBL_WAYS];
    for (unsigned way = 0; way < VCPU_IBL_WAYS; way++) {
        emit_mov_reg_mem(b, ZYDIS_REGISTER_RCX, HOST_REG_VCPU, ZYDIS_REGISTER_NONE,
                         VCPU_OFFSET(ibl_mode_tag), 8);
        emit_lea(b, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R14, 1);
        emit_ibl_set_index(b);
        req_init(&req, ZYDIS_MNEMONIC_MOV, 2);
        op_reg(&req.operands[0], ZYDIS_REGISTER_R11);
        req.operands[1].type = ZYDIS_OPERAND_TYPE_MEMORY;
        req.operands[1].mem = (struct ZydisEncoderOperandMem_){
            .base = HOST_REG_VCPU,
            .index = ZYDIS_REGISTER_R11,
            .scale = 8,
            .displacement = ibl + (int32_t)(way * sizeof(struct vcpu_ibl_entry)),
            .size = 8};
        emit_request(b, &req);
        emit_lea(b, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R11, 0);
        hit[way] = emit_jrcxz_rel8(b);
    }
    size_t to_miss = emit_jmp_rel8(b);
    /* hit: jmp [r15 + set*32 + way*16 + ibl + 8] */
    for (unsigned way = 0; way < VCPU_IBL_WAYS; way++) {
        emit_patch_rel8(b, hit[way], emit_offset(b));
        emit_mov_reg_reg(b, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R10);
        emit_ibl_set_index(b);
        req_init(&req, ZYDIS_MNEMONIC_JMP, 1);
        req.branch_type = ZYDIS_BRANCH_TYPE_NEAR;
        req.operands[0].type = ZYDIS_OPERAND_TYPE_MEMORY;
        req.operands[0].mem = (struct ZydisEncoderOperandMem_){
            .base = HOST_REG_VCPU,
            .index = ZYDIS_REGISTER_R11,
            .scale = 8,
            .displacement = ibl + (int32_t)(way * sizeof(struct vcpu_ibl_entry)) + 8,
            .size = 8};
        emit_request(b, &req);
    }
    /* miss */
    emit_patch_rel8(b, to_miss, emit_offset(b));
    emit_mov_reg_reg(b, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R10);
    emit_store_vcpu_r14d(b, VCPU_OFFSET(next_eip));
    emit_mov_r14d_imm(b, 0);
    emit_exit(b, EXIT_BRANCH);
    st->ended = true;
}

/* Records a direct exit whose rel32 is at `site`; its stub is emitted after
 * the body. */
static void add_direct_exit(struct block_state *st, size_t site, guest_linear_t target)
{
    struct translated_block *out = st->out;

    if (out->nexits == TRANSLATE_MAX_EXITS) {
        st->buf->encode_failed = true; /* a translator bug, caught by tests */
        return;
    }
    out->exits[out->nexits].target = target;
    out->exits[out->nexits].jump_rel32 = (uint32_t)site;
    out->nexits++;
}

static void emit_exit_stubs(struct block_state *st)
{
    if (st->out->has_ic) {
        /* Inline-cache fill: exit with the target and a link to the site. */
        struct translated_ic *ic = &st->out->ic;
        ic->fill_stub = (uint32_t)emit_offset(st->buf);
        emit_patch_rel32(st->buf, st->ic_fill_site, ic->fill_stub);
        emit_patch_rel32(st->buf, ic->hit_rel32, ic->fill_stub);
        emit_store_vcpu_r14d(st->buf, VCPU_OFFSET(next_eip));
        emit_lea_r14_rip(st->buf, ic->site);
        emit_exit(st->buf, EXIT_BRANCH);
    }
    for (unsigned i = 0; i < st->out->nexits; i++) {
        struct translated_exit *exit = &st->out->exits[i];

        exit->stub = (uint32_t)emit_offset(st->buf);
        emit_patch_rel32(st->buf, exit->jump_rel32, exit->stub);
        emit_store_vcpu_u32(st->buf, VCPU_OFFSET(next_eip), exit->target);
        emit_lea_r14_rip(st->buf, exit->jump_rel32);
        emit_exit(st->buf, EXIT_BRANCH);
    }
}

/* ---- ident -------------------------------------------------------------- */

static bool is_high_byte_reg(ZydisRegister r)
{
    return r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_BH || r == ZYDIS_REGISTER_CH ||
           r == ZYDIS_REGISTER_DH;
}

/* A legacy register (0-7) that none of the instruction's operands uses, to
 * hold a host address without a REX prefix. */
static int pick_free_legacy_reg(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *ops)
{
    static const unsigned candidates[] = {6, 7, 5, 3, 1, 2}; /* esi edi ebp ebx ecx edx */
    bool used[8] = {false};

    for (unsigned i = 0; i < insn->operand_count; i++) {
        ZydisRegister regs[3] = {ZYDIS_REGISTER_NONE, ZYDIS_REGISTER_NONE, ZYDIS_REGISTER_NONE};
        if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER)
            regs[0] = ops[i].reg.value;
        if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) {
            regs[1] = ops[i].mem.base;
            regs[2] = ops[i].mem.index;
        }
        for (unsigned j = 0; j < 3; j++) {
            if (regs[j] == ZYDIS_REGISTER_NONE)
                continue;
            ZydisRegister largest =
                ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, regs[j]);
            if (largest >= ZYDIS_REGISTER_EAX && largest <= ZYDIS_REGISTER_EDI)
                used[largest - ZYDIS_REGISTER_EAX] = true;
        }
    }
    for (unsigned i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        if (!used[candidates[i]])
            return (int)candidates[i];
    }
    return -1;
}

/* lea with a 16-bit address size (0x67), which has no 64-bit-mode encoding:
 * the sum is computed in r14d, truncated to 16 bits (the address size),
 * then moved at the operand size (SDM vol. 2, LEA, table 3-53). */
static bool translate_lea16(struct block_state *st, const ZydisDecodedInstruction *insn,
                            const ZydisDecodedOperand *ops)
{
    const ZydisDecodedOperand *dst = &ops[0], *src = &ops[1];
    ZydisRegister base = rewrite_host_gpr64(src->mem.base);
    ZydisRegister index = rewrite_host_gpr64(src->mem.index);
    ZydisEncoderRequest req;

    if (dst->type != ZYDIS_OPERAND_TYPE_REGISTER || rewrite_host_gpr64(dst->reg.value) == 0 ||
        (src->mem.base != ZYDIS_REGISTER_NONE && !base) ||
        (src->mem.index != ZYDIS_REGISTER_NONE && !index))
        return false;
    req_init(&req, ZYDIS_MNEMONIC_LEA, 2);
    op_reg(&req.operands[0], ZYDIS_REGISTER_R14D);
    op_mem(&req.operands[1], base, index, (int32_t)src->mem.disp.value, 8);
    req.operands[1].mem.scale = index ? src->mem.scale : 0;
    emit_request(st->buf, &req);
    req_init(&req, ZYDIS_MNEMONIC_MOVZX, 2);
    op_reg(&req.operands[0], ZYDIS_REGISTER_R14D);
    op_reg(&req.operands[1], ZYDIS_REGISTER_R14W);
    emit_request(st->buf, &req);
    emit_mov_reg_reg(st->buf, dst->reg.value,
                     insn->operand_width == 16 ? ZYDIS_REGISTER_R14W : ZYDIS_REGISTER_R14D);
    return emit_ok(st->buf);
}

/* BT/BTS/BTR/BTC with a memory operand and a register bit offset address
 * memory at EA + (offset SAR 5) * 4 (SDM vol. 2, BT, "bit string"): up to
 * 256 MiB below or above the operand, far past the view's 64 KiB lower guard.
 * So the host never sees that form: r14d = EA + (offset SAR 5) * 4 is
 * computed flag-free (sarx, lea), the dword is loaded, the register form of
 * the instruction (bit = offset mod 32) runs on it, and the result is
 * stored back. Uniprocessor guest: the lock prefix has nobody to exclude. */
static bool is_bit_string_access(const ZydisDecodedInstruction *insn,
                                 const ZydisDecodedOperand *ops)
{
    switch (insn->mnemonic) {
    case ZYDIS_MNEMONIC_BT:
    case ZYDIS_MNEMONIC_BTS:
    case ZYDIS_MNEMONIC_BTR:
    case ZYDIS_MNEMONIC_BTC:
        return ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY &&
               ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER;
    default:
        return false;
    }
}

static bool translate_bit_string(struct block_state *st, const ZydisDecodedInstruction *insn,
                                 const ZydisDecodedOperand *ops)
{
    struct emit_buf *b = st->buf;
    ZydisEncoderRequest req;
    unsigned size = insn->operand_width / 8;
    ZydisRegister offset = ops[1].reg.value;
    ZydisRegister value = size == 2 ? ZYDIS_REGISTER_R11W : ZYDIS_REGISTER_R11D;
    ZydisRegister addr_base = HOST_REG_VIEW;
    bool own_view = false;

    if ((size != 2 && size != 4) || !rewrite_host_gpr64(offset))
        return false;
    if (st->cfg->bounce_buffer) {
        /* r14 holds the bounce buffer, already the right dword. */
        addr_base = ZYDIS_REGISTER_NONE;
    } else {
        /* r14d = EA (with the segment base), as for index forms. */
        struct mem_rewrite rw;
        ZydisDecodedOperand forced = ops[0];
        if (!rewrite_memory_operand(insn, &forced, &st->segments, &rw))
            return false;
        own_view = rw.index == ZYDIS_REGISTER_R11;
        if (rw.base != ZYDIS_REGISTER_R14) {
            /* A [base+disp] or [disp] form: compute the same address in r14d. */
            int64_t disp =
                (int32_t)(uint32_t)(forced.mem.disp.has_displacement ? forced.mem.disp.value : 0);
            emit_lea(b, ZYDIS_REGISTER_R14D,
                     forced.mem.base != ZYDIS_REGISTER_NONE ? rewrite_host_gpr64(forced.mem.base)
                                                            : ZYDIS_REGISTER_NONE,
                     ZYDIS_REGISTER_NONE, disp);
        } else {
            emit_rewrite_prefix(b, &rw);
        }
        /* r11d = offset SAR log2(bits), r14d += r11d * size */
        if (size == 2) {
            req_init(&req, ZYDIS_MNEMONIC_MOVSX, 2);
            op_reg(&req.operands[0], ZYDIS_REGISTER_R11D);
            op_reg(&req.operands[1], offset);
            emit_request(b, &req);
        }
        emit_bytes(b, (const uint8_t[]){0x41, 0xBA}, 2); /* mov r10d, imm32 */
        emit_u32(b, size == 2 ? 4 : 5);
        req_init(&req, ZYDIS_MNEMONIC_SARX, 3);
        op_reg(&req.operands[0], ZYDIS_REGISTER_R11D);
        op_reg(&req.operands[1], size == 2 ? ZYDIS_REGISTER_R11D : offset);
        op_reg(&req.operands[2], ZYDIS_REGISTER_R10D);
        emit_request(b, &req);
        req_init(&req, ZYDIS_MNEMONIC_LEA, 2);
        op_reg(&req.operands[0], ZYDIS_REGISTER_R14D);
        op_mem(&req.operands[1], ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R11, 0, 8);
        req.operands[1].mem.scale = (uint8_t)size;
        emit_request(b, &req);
        if (own_view) {
            /* FS/GS: the segment's view pointer (rewrite.h), after r11's
             * use as the offset above. */
            emit_mov_reg_mem(b, ZYDIS_REGISTER_R11, HOST_REG_VCPU, ZYDIS_REGISTER_NONE,
                             st->segments.view_offset[rewrite_operand_segment(&ops[0])], 8);
            emit_lea(b, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R11, 0);
            addr_base = ZYDIS_REGISTER_NONE;
        }
    }
    emit_mov_reg_mem(b, value, ZYDIS_REGISTER_R14, addr_base, 0, size);
    req_init(&req, insn->mnemonic, 2);
    op_reg(&req.operands[0], value);
    op_reg(&req.operands[1], offset);
    emit_request(b, &req);
    if (insn->mnemonic != ZYDIS_MNEMONIC_BT)
        emit_mov_mem_reg(b, ZYDIS_REGISTER_R14, addr_base, 0, size, value);
    return emit_ok(b);
}

static bool translate_ident(struct block_state *st, const ZydisDecodedInstruction *insn,
                            const ZydisDecodedOperand *ops, struct translated_insn *rec)
{
    ZydisEncoderRequest req;
    struct mem_rewrite rw;
    int mem_index = -1;
    bool high_byte = false;

    if (is_bit_string_access(insn, ops))
        return translate_bit_string(st, insn, ops);
    if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(
            insn, ops, insn->operand_count_visible, &req)))
        return false;
    req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
    req.prefixes &= ~(ZydisInstructionAttributes)ZYDIS_ATTRIB_HAS_SEGMENT;
    req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;

    for (unsigned i = 0; i < req.operand_count; i++) {
        if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER && is_high_byte_reg(ops[i].reg.value))
            high_byte = true;
        if (ops[i].type != ZYDIS_OPERAND_TYPE_MEMORY)
            continue;
        if (ops[i].mem.type == ZYDIS_MEMOP_TYPE_AGEN) {
            /* lea: pure arithmetic on guest registers, no access. */
            if (insn->address_width == 16)
                return translate_lea16(st, insn, ops);
            continue;
        }
        if (mem_index >= 0)
            return false; /* two explicit memory operands: none in IA-32 */
        if (st->cfg->bounce_buffer) {
            /* The buffer's address is loaded into r14 before the instruction. */
            memset(&rw, 0, sizeof(rw));
            rw.base = ZYDIS_REGISTER_R14;
            rw.index = ZYDIS_REGISTER_NONE;
        } else if (!rewrite_memory_operand(insn, &ops[i], &st->segments, &rw)) {
            return false;
        }
        mem_index = (int)i;
    }

    if (mem_index >= 0 && high_byte) {
        /* AH/BH/CH/DH cannot be encoded with the REX prefix r13 needs: put
         * the host address in a free legacy register for this instruction. */
        int temp = pick_free_legacy_reg(insn, ops);
        if (temp < 0)
            return false;
        emit_fold_own_view(st->buf, &rw);
        emit_rewrite_prefix(st->buf, &rw);
        emit_mov_reg_reg(st->buf, ZYDIS_REGISTER_R11, gpr((unsigned)temp, 64));
        emit_lea(st->buf, gpr((unsigned)temp, 64), rw.base, rw.index, rw.displacement);
        ZydisEncoderOperand *m = &req.operands[mem_index];
        m->mem.base = gpr((unsigned)temp, 64);
        m->mem.index = ZYDIS_REGISTER_NONE;
        m->mem.scale = 0;
        m->mem.displacement = 0;
        rec->fixup = FIXUP_TEMP_IN_R11;
        rec->fixup_reg = (uint8_t)temp;
        bool ok = emit_request(st->buf, &req);
        emit_mov_reg_reg(st->buf, gpr((unsigned)temp, 64), ZYDIS_REGISTER_R11);
        return ok;
    }
    if (mem_index >= 0) {
        ZydisEncoderOperand *m = &req.operands[mem_index];
        emit_rewrite_prefix(st->buf, &rw);
        m->mem.base = rw.base;
        m->mem.index = rw.index;
        m->mem.scale = rw.scale;
        m->mem.displacement = rw.displacement;
    }
    return emit_request(st->buf, &req);
}

/* ---- implicit stack ------------------------------------------------------ */

#define STACK_BASE ZYDIS_REGISTER_RSP
#define VIEW       HOST_REG_VIEW

/* Loads the value of a push's source operand into r14 (sized) if it is not
 * a register or immediate. Returns false for forms handled elsewhere. */
static bool load_memory_operand_r14(struct block_state *st, const ZydisDecodedInstruction *insn,
                                    const ZydisDecodedOperand *op, unsigned size)
{
    struct mem_rewrite rw;

    if (!rewrite_memory_operand(insn, op, &st->segments, &rw))
        return false;
    emit_rewrite_prefix(st->buf, &rw);
    emit_mov_reg_mem(st->buf, size == 2 ? ZYDIS_REGISTER_R14W : ZYDIS_REGISTER_R14D, rw.base,
                     rw.index, rw.displacement, size);
    return true;
}

/* pushfd at CPL 0 (SDM vol. 2, PUSHF: never faults at CPL 0 outside v8086
 * mode): the image is the host's live arithmetic flags and DF, the virtual
 * IF, and the vCPU's other bits with VM and RF cleared. RFLAGS is read with
 * pushfq on a borrowed stack in struct vcpu (the host RSP is the guest's
 * ESP) and restored with popfq, so the flag-changing arithmetic in between
 * leaves the guest's flags as they were. The push itself comes last, with
 * every register but the scratch ones restored, so a fault on it is
 * precise. */
static void emit_pushfd(struct block_state *st)
{
    struct emit_buf *b = st->buf;
    static const uint8_t save_rsp[] = {0x49, 0x89, 0xE3};               /* mov r11, rsp */
    static const uint8_t lea_rsp[] = {0x49, 0x8D, 0xA7};                /* lea rsp, [r15+disp32] */
    static const uint8_t read_flags[] = {0x9C, 0x4C, 0x8B, 0x34, 0x24}; /* pushfq; mov r14,[rsp] */
    static const uint8_t and_r14d[] = {0x41, 0x81, 0xE6};               /* and r14d, imm32 */
    static const uint8_t load_r10d[] = {0x45, 0x8B, 0x97};              /* mov r10d, [r15+disp32] */
    static const uint8_t and_r10d[] = {0x41, 0x81, 0xE2};               /* and r10d, imm32 */
    static const uint8_t or_r14d_r10d[] = {0x45, 0x09, 0xD6};           /* or r14d, r10d */
    static const uint8_t movzx_r10d[] = {0x45, 0x0F, 0xB6,
                                         0x97}; /* movzx r10d, byte [r15+disp32] */
    static const uint8_t shl_r10d_9[] = {0x41, 0xC1, 0xE2, 0x09}; /* shl r10d, 9 */
    static const uint8_t restore[] = {0x9D, 0x4C, 0x89, 0xDC};    /* popfq; mov rsp, r11 */

    emit_bytes(b, save_rsp, sizeof(save_rsp));
    emit_bytes(b, lea_rsp, sizeof(lea_rsp));
    emit_u32(b, (uint32_t)(VCPU_OFFSET(flags_scratch) + 16));
    emit_bytes(b, read_flags, sizeof(read_flags));
    emit_bytes(b, and_r14d, sizeof(and_r14d));
    emit_u32(b, VCPU_HOST_FLAGS_MASK);
    emit_bytes(b, load_r10d, sizeof(load_r10d));
    emit_u32(b, (uint32_t)VCPU_OFFSET(arch.eflags));
    emit_bytes(b, and_r10d, sizeof(and_r10d));
    emit_u32(b, ~(uint32_t)(VCPU_HOST_FLAGS_MASK | EFLAGS_IF | EFLAGS_RF | EFLAGS_VM));
    emit_bytes(b, or_r14d_r10d, sizeof(or_r14d_r10d));
    emit_bytes(b, movzx_r10d, sizeof(movzx_r10d));
    emit_u32(b, (uint32_t)VCPU_OFFSET(virtual_if));
    emit_bytes(b, shl_r10d_9, sizeof(shl_r10d_9));
    emit_bytes(b, or_r14d_r10d, sizeof(or_r14d_r10d));
    emit_bytes(b, restore, sizeof(restore));
    emit_mov_mem_reg(b, STACK_BASE, VIEW, -4, 4, ZYDIS_REGISTER_R14D);
    emit_adjust_esp(b, -4);
}

static bool translate_push(struct block_state *st, const ZydisDecodedInstruction *insn,
                           const ZydisDecodedOperand *ops)
{
    const ZydisDecodedOperand *src = &ops[0];
    unsigned size = insn->operand_width / 8;
    struct emit_buf *b = st->buf;

    if (size != 2 && size != 4)
        return false;
    switch (src->type) {
    case ZYDIS_OPERAND_TYPE_REGISTER: {
        ZydisRegister host = rewrite_host_gpr64(src->reg.value);
        int seg = emul_segment_of(src->reg.value);
        if (seg >= 0) {
            /* push sreg: the selector from the vCPU's segment cache,
             * zero-extended to the operand size (a 32-bit push writes
             * 4 bytes, as QEMU does; SDM vol. 2, PUSH, allows it). */
            emit_movzx_r14d_vcpu_u16(b, VCPU_OFFSET(arch.seg[0].selector) +
                                            seg * (int32_t)sizeof(struct segment_cache));
            emit_mov_mem_reg(b, STACK_BASE, VIEW, -(int64_t)size, size,
                             size == 2 ? ZYDIS_REGISTER_R14W : ZYDIS_REGISTER_R14D);
            break;
        }
        if (host == ZYDIS_REGISTER_NONE)
            return false;
        emit_mov_mem_reg(b, STACK_BASE, VIEW, -(int64_t)size, size, src->reg.value);
        break;
    }
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        emit_mov_mem_imm(b, STACK_BASE, VIEW, -(int64_t)size, size, (uint32_t)src->imm.value.u);
        break;
    case ZYDIS_OPERAND_TYPE_MEMORY:
        if (!load_memory_operand_r14(st, insn, src, size))
            return false;
        emit_mov_mem_reg(b, STACK_BASE, VIEW, -(int64_t)size, size,
                         size == 2 ? ZYDIS_REGISTER_R14W : ZYDIS_REGISTER_R14D);
        break;
    default:
        return false;
    }
    emit_adjust_esp(b, -(int32_t)size);
    return true;
}

static bool translate_pop(struct block_state *st, const ZydisDecodedInstruction *insn,
                          const ZydisDecodedOperand *ops)
{
    const ZydisDecodedOperand *dst = &ops[0];
    unsigned size = insn->operand_width / 8;
    struct emit_buf *b = st->buf;

    if (size != 2 && size != 4)
        return false;
    if (dst->type == ZYDIS_OPERAND_TYPE_REGISTER) {
        if (rewrite_host_gpr64(dst->reg.value) == ZYDIS_REGISTER_NONE)
            return false; /* segment registers: callout */
        emit_mov_reg_mem(b, dst->reg.value, STACK_BASE, VIEW, 0, size);
        /* pop esp loads ESP from the stack: no increment afterwards. */
        if (dst->reg.value != ZYDIS_REGISTER_ESP && dst->reg.value != ZYDIS_REGISTER_SP)
            emit_adjust_esp(b, (int32_t)size);
        return true;
    }
    if (dst->type != ZYDIS_OPERAND_TYPE_MEMORY)
        return false;
    /* pop m: the address is computed with ESP already incremented (SDM vol. 2,
     * POP); store before moving ESP so a faulting store leaves ESP intact. */
    ZydisDecodedOperand adjusted = *dst;
    if (adjusted.mem.base == ZYDIS_REGISTER_ESP) {
        adjusted.mem.disp.has_displacement = true;
        adjusted.mem.disp.value += size;
    }
    struct mem_rewrite rw;
    if (!rewrite_memory_operand(insn, &adjusted, &st->segments, &rw))
        return false;
    emit_fold_own_view(b, &rw); /* r11 carries the value here */
    ZydisRegister temp = size == 2 ? ZYDIS_REGISTER_R11W : ZYDIS_REGISTER_R11D;
    emit_mov_reg_mem(b, temp, STACK_BASE, VIEW, 0, size);
    emit_rewrite_prefix(b, &rw);
    emit_mov_mem_reg(b, rw.base, rw.index, rw.displacement, size, temp);
    emit_adjust_esp(b, (int32_t)size);
    return true;
}

static void translate_pushad(struct block_state *st)
{
    /* Order pushed: EAX ECX EDX EBX (original) ESP EBP ESI EDI (SDM vol. 2, PUSHA). */
    for (unsigned n = 0; n < 8; n++)
        emit_mov_mem_reg(st->buf, STACK_BASE, VIEW, -4 * (int64_t)(n + 1), 4, gpr(n, 32));
    emit_adjust_esp(st->buf, -32);
}

static void translate_popad(struct block_state *st)
{
    struct emit_buf *b = st->buf;

    /* Touch both ends first: a fault can then only happen before any
     * register changed. */
    emit_mov_reg_mem(b, ZYDIS_REGISTER_R11D, STACK_BASE, VIEW, 0, 4);
    emit_mov_reg_mem(b, ZYDIS_REGISTER_R11D, STACK_BASE, VIEW, 28, 4);
    for (unsigned n = 0; n < 8; n++) {
        if (n == 4)
            continue; /* the saved ESP is skipped */
        emit_mov_reg_mem(b, gpr(n, 32), STACK_BASE, VIEW, 28 - 4 * (int64_t)n, 4);
    }
    emit_adjust_esp(b, 32);
}

/* ENTER size, level (SDM vol. 2, ENTER): push ebp, copy level-1 frame
 * pointers from the old frame, push the new frame pointer, reserve size
 * bytes. All stores happen before EBP/ESP change, so a fault is precise. */
static void translate_enter(struct block_state *st, uint32_t size, unsigned level)
{
    struct emit_buf *b = st->buf;

    emit_mov_mem_reg(b, STACK_BASE, VIEW, -4, 4, ZYDIS_REGISTER_EBP);
    if (level > 0) {
        for (unsigned i = 1; i < level; i++) {
            emit_mov_reg_mem(b, ZYDIS_REGISTER_R11D, ZYDIS_REGISTER_RBP, VIEW, -4 * (int64_t)i, 4);
            emit_mov_mem_reg(b, STACK_BASE, VIEW, -4 - 4 * (int64_t)i, 4, ZYDIS_REGISTER_R11D);
        }
        emit_lea(b, ZYDIS_REGISTER_R11D, ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_NONE, -4);
        emit_mov_mem_reg(b, STACK_BASE, VIEW, -4 - 4 * (int64_t)level, 4, ZYDIS_REGISTER_R11D);
    }
    emit_lea(b, ZYDIS_REGISTER_EBP, ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_NONE, -4);
    emit_adjust_esp(b, -4 - 4 * (int32_t)level - (int32_t)size);
}

static bool translate_stack(struct block_state *st, const ZydisDecodedInstruction *insn,
                            const ZydisDecodedOperand *ops)
{
    struct emit_buf *b = st->buf;

    switch (insn->mnemonic) {
    case ZYDIS_MNEMONIC_PUSH:
        return translate_push(st, insn, ops);
    case ZYDIS_MNEMONIC_POP:
        return translate_pop(st, insn, ops);
    case ZYDIS_MNEMONIC_PUSHAD:
        translate_pushad(st);
        return true;
    case ZYDIS_MNEMONIC_POPAD:
        translate_popad(st);
        return true;
    case ZYDIS_MNEMONIC_ENTER:
        if (insn->operand_width != 32)
            return false;
        translate_enter(st, (uint32_t)(ops[0].imm.value.u & 0xFFFF),
                        (unsigned)(ops[1].imm.value.u & 31));
        return true;
    case ZYDIS_MNEMONIC_LEAVE:
        /* mov esp, ebp; pop ebp — loading first keeps a fault precise. */
        if (insn->operand_width != 32)
            return false;
        emit_mov_reg_mem(b, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_RBP, VIEW, 0, 4);
        emit_lea(b, ZYDIS_REGISTER_ESP, ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_NONE, 4);
        emit_mov_reg_reg(b, ZYDIS_REGISTER_EBP, ZYDIS_REGISTER_R14D);
        return true;
    default:
        return false;
    }
}

/* ---- string instructions ------------------------------------------------- */

/* rsi/rdi = view + guest value (+ segment base when it is not zero; FS and
 * GS from their own view pointer: rewrite.h). */
static void emit_string_bias(struct block_state *st, ZydisRegister reg64, int segment)
{
    if (segment >= 0) {
        emit_mov_reg_mem(st->buf, ZYDIS_REGISTER_R11D, HOST_REG_VCPU, ZYDIS_REGISTER_NONE,
                         st->segments.base_offset[segment], 4);
        emit_lea(st->buf, reg64, reg64, ZYDIS_REGISTER_R11, 0);
        if ((st->segments.own_view >> segment) & 1) {
            emit_mov_reg_mem(st->buf, ZYDIS_REGISTER_R11, HOST_REG_VCPU, ZYDIS_REGISTER_NONE,
                             st->segments.view_offset[segment], 8);
            emit_lea(st->buf, reg64, reg64, ZYDIS_REGISTER_R11, 0);
            return;
        }
    }
    emit_lea(st->buf, reg64, reg64, VIEW, 0);
}

/* Back to the guest value: the view base is 4 GiB aligned, so the low 32 bits
 * are guest value + base; the base comes off as + ~base + 1 (not and lea keep
 * the flags). */
static void emit_string_unbias(struct block_state *st, ZydisRegister reg32, ZydisRegister reg64,
                               int segment)
{
    if (segment < 0) {
        emit_mov_reg_reg(st->buf, reg32, reg32);
        return;
    }
    ZydisEncoderRequest req;
    emit_mov_reg_mem(st->buf, ZYDIS_REGISTER_R11D, HOST_REG_VCPU, ZYDIS_REGISTER_NONE,
                     st->segments.base_offset[segment], 4);
    req_init(&req, ZYDIS_MNEMONIC_NOT, 1);
    op_reg(&req.operands[0], ZYDIS_REGISTER_R11D);
    emit_request(st->buf, &req);
    emit_lea(st->buf, reg32, reg64, ZYDIS_REGISTER_R11, 1);
}

static bool translate_string(struct block_state *st, const ZydisDecodedInstruction *insn,
                             const ZydisDecodedOperand *ops, struct translated_insn *rec)
{
    struct emit_buf *b = st->buf;
    bool uses_esi = false, uses_edi = false;
    int source_segment = -1, dest_segment = -1; /* segments with a non-zero base */

    if (insn->address_width != 32)
        return false;
    for (unsigned i = 0; i < insn->operand_count; i++) {
        if (ops[i].type != ZYDIS_OPERAND_TYPE_MEMORY)
            continue;
        int segment = rewrite_operand_segment(&ops[i]);
        int based =
            (((st->segments.nonzero_bases | st->segments.own_view) >> segment) & 1) ? segment : -1;
        if (ops[i].mem.base == ZYDIS_REGISTER_ESI) {
            uses_esi = true;
            source_segment = based;
        }
        if (ops[i].mem.base == ZYDIS_REGISTER_EDI) {
            uses_edi = true;
            dest_segment = based;
        }
    }
    if (uses_esi)
        emit_string_bias(st, ZYDIS_REGISTER_RSI, source_segment);
    if (uses_edi)
        emit_string_bias(st, ZYDIS_REGISTER_RDI, dest_segment);
    rec->fixup = FIXUP_STRING_BIASED;
    rec->fixup_reg = (uint8_t)((source_segment + 1) | ((dest_segment + 1) << 4));
    if (insn->mnemonic == ZYDIS_MNEMONIC_MASKMOVQ || insn->mnemonic == ZYDIS_MNEMONIC_MASKMOVDQU) {
        /* Register operands only; the store goes to [rdi] in 64-bit mode. */
        ZydisEncoderRequest req;
        if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(
                insn, ops, insn->operand_count_visible, &req)))
            return false;
        req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
        req.prefixes &= ~(ZydisInstructionAttributes)ZYDIS_ATTRIB_HAS_SEGMENT;
        req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;
        if (!emit_request(b, &req))
            return false;
    } else {
        if (insn->attributes & ZYDIS_ATTRIB_HAS_REPNE)
            emit_u8(b, 0xF2);
        else if (insn->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE))
            emit_u8(b, 0xF3);
        if (insn->operand_width == 16)
            emit_u8(b, 0x66);
        emit_u8(b, insn->opcode); /* A4-AF: the same one-byte opcode in 64-bit mode */
    }
    if (uses_esi)
        emit_string_unbias(st, ZYDIS_REGISTER_ESI, ZYDIS_REGISTER_RSI, source_segment);
    if (uses_edi)
        emit_string_unbias(st, ZYDIS_REGISTER_EDI, ZYDIS_REGISTER_RDI, dest_segment);
    return true;
}

static bool translate_xlat(struct block_state *st, const ZydisDecodedInstruction *insn,
                           const ZydisDecodedOperand *ops)
{
    struct emit_buf *b = st->buf;
    ZydisEncoderRequest req;
    int segment = 3;

    if (insn->address_width != 32)
        return false;
    for (unsigned i = 0; i < insn->operand_count; i++) {
        if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
            segment = rewrite_operand_segment(&ops[i]);
    }
    /* r14d = ebx + zero-extended al, plus the segment base if needed. */
    req_init(&req, ZYDIS_MNEMONIC_MOVZX, 2);
    op_reg(&req.operands[0], ZYDIS_REGISTER_R14D);
    op_reg(&req.operands[1], ZYDIS_REGISTER_AL);
    emit_request(b, &req);
    emit_lea(b, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_RBX, ZYDIS_REGISTER_R14, 0);
    bool own_view = (st->segments.own_view >> segment) & 1;
    if (own_view || ((st->segments.nonzero_bases >> segment) & 1)) {
        emit_mov_reg_mem(b, ZYDIS_REGISTER_R11D, HOST_REG_VCPU, ZYDIS_REGISTER_NONE,
                         st->segments.base_offset[segment], 4);
        emit_lea(b, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R11, 0);
    }
    if (own_view)
        emit_mov_reg_mem(b, ZYDIS_REGISTER_R11, HOST_REG_VCPU, ZYDIS_REGISTER_NONE,
                         st->segments.view_offset[segment], 8);
    emit_mov_reg_mem(b, ZYDIS_REGISTER_AL, ZYDIS_REGISTER_R14, own_view ? ZYDIS_REGISTER_R11 : VIEW,
                     0, 1);
    return true;
}

/* ---- control transfers --------------------------------------------------- */

/* The condition nibble of a Jcc (same order as the 0F 8x opcodes). */
static int jcc_condition(ZydisMnemonic m)
{
    switch (m) {
    case ZYDIS_MNEMONIC_JO:
        return 0x0;
    case ZYDIS_MNEMONIC_JNO:
        return 0x1;
    case ZYDIS_MNEMONIC_JB:
        return 0x2;
    case ZYDIS_MNEMONIC_JNB:
        return 0x3;
    case ZYDIS_MNEMONIC_JZ:
        return 0x4;
    case ZYDIS_MNEMONIC_JNZ:
        return 0x5;
    case ZYDIS_MNEMONIC_JBE:
        return 0x6;
    case ZYDIS_MNEMONIC_JNBE:
        return 0x7;
    case ZYDIS_MNEMONIC_JS:
        return 0x8;
    case ZYDIS_MNEMONIC_JNS:
        return 0x9;
    case ZYDIS_MNEMONIC_JP:
        return 0xA;
    case ZYDIS_MNEMONIC_JNP:
        return 0xB;
    case ZYDIS_MNEMONIC_JL:
        return 0xC;
    case ZYDIS_MNEMONIC_JNL:
        return 0xD;
    case ZYDIS_MNEMONIC_JLE:
        return 0xE;
    case ZYDIS_MNEMONIC_JNLE:
        return 0xF;
    default:
        return -1;
    }
}

/* Loads the target of an indirect near branch (register or memory) into r14d. */
static bool load_branch_target(struct block_state *st, const ZydisDecodedInstruction *insn,
                               const ZydisDecodedOperand *op)
{
    if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
        emit_mov_reg_reg(st->buf, ZYDIS_REGISTER_R14D, op->reg.value);
        return true;
    }
    if (op->type == ZYDIS_OPERAND_TYPE_MEMORY)
        return load_memory_operand_r14(st, insn, op, 4);
    return false;
}

/* JCXZ and LOOPcc with a 16-bit address size count in CX (SDM vol. 2,
 * LOOPcc): the flag-free zero test goes through RCX, saved in r11. */
static void translate_cx_branch(struct block_state *st, ZydisMnemonic m, guest_linear_t next,
                                guest_linear_t target)
{
    struct emit_buf *b = st->buf;
    ZydisEncoderRequest req;

    if (m != ZYDIS_MNEMONIC_JCXZ)
        emit_lea(b, ZYDIS_REGISTER_CX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, -1);
    emit_mov_reg_reg(b, ZYDIS_REGISTER_R11, ZYDIS_REGISTER_RCX);
    req_init(&req, ZYDIS_MNEMONIC_MOVZX, 2);
    op_reg(&req.operands[0], ZYDIS_REGISTER_ECX);
    op_reg(&req.operands[1], ZYDIS_REGISTER_CX);
    emit_request(b, &req);
    size_t zero = emit_jrcxz_rel8(b);
    emit_mov_reg_reg(b, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R11);
    /* CX != 0 */
    if (m == ZYDIS_MNEMONIC_JCXZ) {
        add_direct_exit(st, emit_jmp_rel32(b), next);
    } else {
        if (m == ZYDIS_MNEMONIC_LOOPE)
            add_direct_exit(st, emit_jcc_rel32(b, 0x5), next); /* ZF=0: fall through */
        else if (m == ZYDIS_MNEMONIC_LOOPNE)
            add_direct_exit(st, emit_jcc_rel32(b, 0x4), next); /* ZF=1: fall through */
        add_direct_exit(st, emit_jmp_rel32(b), target);
    }
    /* CX == 0 */
    emit_patch_rel8(b, zero, emit_offset(b));
    emit_mov_reg_reg(b, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R11);
    add_direct_exit(st, emit_jmp_rel32(b), m == ZYDIS_MNEMONIC_JCXZ ? target : next);
    st->ended = true;
}

static bool translate_branch(struct block_state *st, const ZydisDecodedInstruction *insn,
                             const ZydisDecodedOperand *ops, guest_linear_t eip)
{
    struct emit_buf *b = st->buf;
    guest_linear_t next = eip + insn->length;
    guest_linear_t target = 0;
    bool relative = ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[0].imm.is_relative;

    bool counts_cx = insn->address_width == 16; /* LOOP/JCXZ with 0x67 use CX */

    if (insn->meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)
        return false; /* the monitor's (segment checks) */
    if (insn->operand_width != 32) {
        /* A 16-bit operand size truncates EIP to 16 bits (SDM vol. 2, JMP,
         * Jcc). Direct forms are translated; calls, returns and indirect
         * forms (which also move 16-bit stack slots) are the monitor's. */
        if (!relative || insn->mnemonic == ZYDIS_MNEMONIC_CALL)
            return false;
    }
    if (relative) {
        target = next + (uint32_t)ops[0].imm.value.s;
        if (insn->operand_width == 16)
            target &= 0xFFFF;
    }
    if (counts_cx) {
        switch (insn->mnemonic) {
        case ZYDIS_MNEMONIC_JCXZ:
        case ZYDIS_MNEMONIC_LOOP:
        case ZYDIS_MNEMONIC_LOOPE:
        case ZYDIS_MNEMONIC_LOOPNE:
            translate_cx_branch(st, insn->mnemonic, next, target);
            return true;
        default:
            break;
        }
    }

    switch (insn->mnemonic) {
    case ZYDIS_MNEMONIC_JMP:
        if (relative) {
            add_direct_exit(st, emit_jmp_rel32(b), target);
            break;
        }
        if (!load_branch_target(st, insn, &ops[0]))
            return false;
        emit_indirect_exit(st);
        return true;
    case ZYDIS_MNEMONIC_CALL:
        if (!relative && !load_branch_target(st, insn, &ops[0]))
            return false;
        emit_mov_mem_imm(b, STACK_BASE, VIEW, -4, 4, next);
        emit_adjust_esp(b, -4);
        if (relative) {
            add_direct_exit(st, emit_jmp_rel32(b), target);
            break;
        }
        emit_indirect_exit(st);
        return true;
    case ZYDIS_MNEMONIC_RET: {
        uint32_t extra =
            ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (uint16_t)ops[0].imm.value.u : 0;
        emit_mov_reg_mem(b, ZYDIS_REGISTER_R14D, STACK_BASE, VIEW, 0, 4);
        emit_adjust_esp(b, (int32_t)(4 + extra));
        emit_indirect_exit(st);
        return true;
    }
    case ZYDIS_MNEMONIC_JECXZ: {
        size_t taken = emit_jecxz_rel8(b);
        add_direct_exit(st, emit_jmp_rel32(b), next);
        emit_patch_rel8(b, taken, emit_offset(b));
        add_direct_exit(st, emit_jmp_rel32(b), target);
        break;
    }
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE: {
        /* ECX is decremented without touching flags (SDM vol. 2, LOOPcc). */
        emit_lea(b, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, -1);
        size_t done = emit_jecxz_rel8(b);
        if (insn->mnemonic == ZYDIS_MNEMONIC_LOOPE)
            add_direct_exit(st, emit_jcc_rel32(b, 0x5), next); /* ZF=0: fall through */
        else if (insn->mnemonic == ZYDIS_MNEMONIC_LOOPNE)
            add_direct_exit(st, emit_jcc_rel32(b, 0x4), next); /* ZF=1: fall through */
        add_direct_exit(st, emit_jmp_rel32(b), target);
        emit_patch_rel8(b, done, emit_offset(b));
        add_direct_exit(st, emit_jmp_rel32(b), next);
        break;
    }
    default: {
        int cc = jcc_condition(insn->mnemonic);
        if (cc < 0 || !relative)
            return false;
        add_direct_exit(st, emit_jcc_rel32(b, (unsigned)cc), target);
        add_direct_exit(st, emit_jmp_rel32(b), next);
        break;
    }
    }
    st->ended = true;
    return true;
}

/* ---- the block loop ------------------------------------------------------ */

static bool translate_one(struct block_state *st, const ZydisDecodedInstruction *insn,
                          const ZydisDecodedOperand *ops, guest_linear_t eip,
                          struct translated_insn *rec)
{
    if (st->cfg->bounce_buffer) {
        static const uint8_t mov_r14_imm64[] = {0x49, 0xBE}; /* mov r14, imm64 */
        if (rec->cls != INSN_IDENT)
            return false;
        emit_bytes(st->buf, mov_r14_imm64, sizeof(mov_r14_imm64));
        emit_bytes(st->buf, &st->cfg->bounce_buffer, 8);
        return translate_ident(st, insn, ops, rec);
    }
    switch ((enum insn_class)rec->cls) {
    case INSN_IDENT:
        return translate_ident(st, insn, ops, rec);
    case INSN_STACK:
        return translate_stack(st, insn, ops);
    case INSN_STRING:
        return translate_string(st, insn, ops, rec);
    case INSN_XLAT:
        return translate_xlat(st, insn, ops);
    case INSN_BRANCH:
        return translate_branch(st, insn, ops, eip);
    case INSN_CALLOUT:
        return false;
    }
    return false;
}

bool translate_block(const struct translate_config *cfg, guest_linear_t eip, struct emit_buf *buf,
                     struct translated_block *out)
{
    struct block_state st = {.cfg = cfg, .buf = buf, .out = out};
    guest_linear_t pc = eip;
    unsigned max = cfg->max_insns ? cfg->max_insns : TRANSLATE_MAX_INSNS;

    if (cfg->bounce_buffer)
        max = 1;

    if (max > TRANSLATE_MAX_INSNS)
        max = TRANSLATE_MAX_INSNS;
    memset(out, 0, offsetof(struct translated_block, insns));
    out->nexits = 0;
    out->ends_in_callout = false;
    out->has_ic = false;
    out->eip = eip;
    st.segments.nonzero_bases = cfg->nonzero_bases;
    st.segments.own_view = cfg->own_view_segments;
    for (int i = 0; i < SEG_COUNT; i++) {
        st.segments.base_offset[i] = VCPU_OFFSET(arch.seg[i].base);
        st.segments.view_offset[i] = VCPU_OFFSET(seg_view[i]);
    }

    while (!st.ended) {
        uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
        ZydisDecodedInstruction insn;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        size_t avail = cfg->fetch(cfg->opaque, pc, bytes, sizeof(bytes));
        size_t mark = emit_offset(buf);
        unsigned exits_mark = out->nexits;

        if (out->ninsns == max ||
            (pc != eip && (pc & GUEST_PAGE_MASK) != (eip & GUEST_PAGE_MASK))) {
            /* Bounded length; blocks never span a page (invalidation works per page). */
            add_direct_exit(&st, emit_jmp_rel32(buf), pc);
            st.ended = true;
            break;
        }
        struct translated_insn *rec = &out->insns[out->ninsns];
        memset(rec, 0, sizeof(*rec));
        rec->eip = pc;
        rec->host_offset = (uint32_t)mark;
        if (avail == 0 || !translate_decode(bytes, avail, &insn, ops)) {
            /* Unreadable or undecodable: the monitor raises the right
             * exception (#PF, #UD) when execution gets here. */
            rec->cls = INSN_CALLOUT;
            rec->length = 0;
            out->ninsns++;
            emit_callout_exit(&st, pc, ZYDIS_MNEMONIC_INVALID, NULL);
            break;
        }
        rec->length = insn.length;
        rec->cls = (uint8_t)classify_instruction(&insn, ops);
        if (insn.mnemonic == ZYDIS_MNEMONIC_PUSHFD && insn.operand_width == 32 && cfg->cpl == 0 &&
            !cfg->bounce_buffer) {
            rec->cls = INSN_STACK;
            emit_pushfd(&st);
            out->ninsns++;
            pc += insn.length;
            if (!emit_ok(buf))
                break;
            continue;
        }
        if (insn.mnemonic == ZYDIS_MNEMONIC_RDTSC && cfg->cpl == 0 && cfg->native_rdtsc &&
            !cfg->bounce_buffer) {
            /* CR4.TSD does not apply at CPL 0 (SDM vol. 2, RDTSC). */
            static const uint8_t rdtsc[] = {0x0F, 0x31};
            rec->cls = INSN_IDENT;
            emit_bytes(buf, rdtsc, sizeof(rdtsc));
            out->ninsns++;
            pc += insn.length;
            if (!emit_ok(buf))
                break;
            continue;
        }
        if (is_inline_cr_read(&insn, ops, cfg)) {
            /* mov r32, CR0/2/3/4 at CPL 0 cannot fault (SDM vol. 2, MOV
             * -- Move to/from Control Registers): the guest's value is in
             * the vCPU. Linux reads CR2 on every page fault. */
            unsigned crn = ops[1].reg.value - ZYDIS_REGISTER_CR0;
            int32_t offset = crn == 0   ? VCPU_OFFSET(arch.cr0)
                             : crn == 2 ? VCPU_OFFSET(arch.cr2)
                             : crn == 3 ? VCPU_OFFSET(arch.cr3)
                                        : VCPU_OFFSET(arch.cr4);
            rec->cls = INSN_IDENT;
            emit_mov_reg_mem(buf, ops[0].reg.value, HOST_REG_VCPU, ZYDIS_REGISTER_NONE, offset, 4);
            out->ninsns++;
            pc += insn.length;
            if (!emit_ok(buf))
                break;
            continue;
        }
        if ((insn.mnemonic == ZYDIS_MNEMONIC_CLI || insn.mnemonic == ZYDIS_MNEMONIC_STI) &&
            cfg->cpl == 0 && !cfg->bounce_buffer) {
            emit_virtual_if(&st, insn.mnemonic == ZYDIS_MNEMONIC_STI, pc, pc + insn.length);
            out->ninsns++;
            pc += insn.length;
            if (!emit_ok(buf))
                break;
            continue;
        }
        if (rec->cls != INSN_CALLOUT && cfg->emulate && cfg->emulate(cfg->opaque, pc)) {
            rec->cls = INSN_CALLOUT;
            out->ninsns++;
            emit_callout_exit(&st, pc, insn.mnemonic,
                              keep_decoded(&st, pc, bytes, avail, &insn, ops));
            break;
        }
        if (rec->cls != INSN_CALLOUT && uses_unusable_segment(&st, &insn, ops)) {
            out->ninsns++;
            emit_raise_exit(&st, pc, VEC_GP, 0);
            break;
        }
        int fpu_vector =
            (rec->cls == INSN_IDENT || rec->cls == INSN_STRING) ? fpu_exception(&st, &insn) : -1;
        if (fpu_vector >= 0) {
            out->ninsns++;
            emit_raise_exit(&st, pc, (uint8_t)fpu_vector, 0);
            break;
        }
        if (!translate_one(&st, &insn, ops, pc, rec)) {
            /* Anything without a host sequence is executed by the monitor. */
            buf->cursor = buf->start + mark;
            buf->encode_failed = false;
            out->nexits = exits_mark;
            st.ended = false;
            out->has_ic = false;
            rec->cls = INSN_CALLOUT;
            rec->fixup = FIXUP_NONE;
            out->ninsns++;
            emit_callout_exit(&st, pc, insn.mnemonic,
                              keep_decoded(&st, pc, bytes, avail, &insn, ops));
            break;
        }
        out->ninsns++;
        pc += insn.length;
        if (!emit_ok(buf))
            break;
    }
    emit_exit_stubs(&st);
    out->guest_size = pc - eip;
    out->code_size = (uint32_t)emit_offset(buf);
    return emit_ok(buf);
}
