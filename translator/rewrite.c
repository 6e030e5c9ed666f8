/*
 * translator/rewrite.c — guest memory operands to view-based host operands
 * (see rewrite.h for the table of forms and the invariant).
 */
#include "translator/rewrite.h"

#include <string.h>

#define DISP_LOW_LIMIT (-65536) /* the lower guard is 64 KiB */
#define HALF_WINDOW    0x80000000LL

ZydisRegister rewrite_host_gpr64(ZydisRegister guest_reg)
{
    if (guest_reg >= ZYDIS_REGISTER_EAX && guest_reg <= ZYDIS_REGISTER_EDI)
        return ZYDIS_REGISTER_RAX + (guest_reg - ZYDIS_REGISTER_EAX);
    if (guest_reg >= ZYDIS_REGISTER_AX && guest_reg <= ZYDIS_REGISTER_DI)
        return ZYDIS_REGISTER_RAX + (guest_reg - ZYDIS_REGISTER_AX);
    return ZYDIS_REGISTER_NONE;
}

int rewrite_operand_segment(const ZydisDecodedOperand *op)
{
    switch (op->mem.segment) {
    case ZYDIS_REGISTER_ES:
        return 0;
    case ZYDIS_REGISTER_CS:
        return 1;
    case ZYDIS_REGISTER_SS:
        return 2;
    case ZYDIS_REGISTER_FS:
        return 4;
    case ZYDIS_REGISTER_GS:
        return 5;
    default:
        return 3;
    }
}

static void request_init(ZydisEncoderRequest *req, ZydisMnemonic mnemonic)
{
    memset(req, 0, sizeof(*req));
    req->machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
    req->mnemonic = mnemonic;
}

/* lea r14d, [base + index*scale + disp]: the guest's own 32-bit address
 * arithmetic, wrapping at 4 GiB exactly. */
static void emit_lea_r14d(struct mem_rewrite *out, ZydisRegister base, ZydisRegister index,
                          uint8_t scale, int64_t disp)
{
    ZydisEncoderRequest *req = &out->prefix[out->prefix_count++];

    request_init(req, ZYDIS_MNEMONIC_LEA);
    req->operand_count = 2;
    req->operands[0].type = ZYDIS_OPERAND_TYPE_REGISTER;
    req->operands[0].reg.value = ZYDIS_REGISTER_R14D;
    req->operands[1].type = ZYDIS_OPERAND_TYPE_MEMORY;
    req->operands[1].mem.base = base;
    req->operands[1].mem.index = index;
    req->operands[1].mem.scale = index == ZYDIS_REGISTER_NONE ? 0 : scale;
    req->operands[1].mem.displacement = disp;
    req->operands[1].mem.size = 8; /* Zydis: lea takes the 64-bit address size */
}

static void emit_movzx_r14d_r14w(struct mem_rewrite *out)
{
    ZydisEncoderRequest *req = &out->prefix[out->prefix_count++];

    request_init(req, ZYDIS_MNEMONIC_MOVZX);
    req->operand_count = 2;
    req->operands[0].type = ZYDIS_OPERAND_TYPE_REGISTER;
    req->operands[0].reg.value = ZYDIS_REGISTER_R14D;
    req->operands[1].type = ZYDIS_OPERAND_TYPE_REGISTER;
    req->operands[1].reg.value = ZYDIS_REGISTER_R14W;
}

/* mov r11d, [r15 + base of seg]; or mov r11, [r15 + view of seg] */
static void emit_load_r11(struct mem_rewrite *out, int32_t offset, bool view)
{
    ZydisEncoderRequest *req = &out->prefix[out->prefix_count++];

    request_init(req, ZYDIS_MNEMONIC_MOV);
    req->operand_count = 2;
    req->operands[0].type = ZYDIS_OPERAND_TYPE_REGISTER;
    req->operands[0].reg.value = view ? ZYDIS_REGISTER_R11 : ZYDIS_REGISTER_R11D;
    req->operands[1].type = ZYDIS_OPERAND_TYPE_MEMORY;
    req->operands[1].mem.base = HOST_REG_VCPU;
    req->operands[1].mem.displacement = offset;
    req->operands[1].mem.size = view ? 8 : 4;
}

bool rewrite_memory_operand(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *op,
                            const struct segment_addressing *segments, struct mem_rewrite *out)
{
    ZydisRegister base = ZYDIS_REGISTER_NONE, index = ZYDIS_REGISTER_NONE;
    int64_t disp = op->mem.disp.has_displacement ? op->mem.disp.value : 0;
    int segment = rewrite_operand_segment(op);
    bool own_view = (segments->own_view >> segment) & 1;
    bool add_segment_base = own_view || ((segments->nonzero_bases >> segment) & 1);
    bool addr16 = insn->address_width == 16;

    memset(out, 0, sizeof(*out));
    if (op->mem.type != ZYDIS_MEMOP_TYPE_MEM)
        return false; /* agen-only (lea) and vector-SIB forms are not accesses */
    if (op->mem.base != ZYDIS_REGISTER_NONE) {
        base = rewrite_host_gpr64(op->mem.base);
        if (base == ZYDIS_REGISTER_NONE)
            return false;
    }
    if (op->mem.index != ZYDIS_REGISTER_NONE) {
        index = rewrite_host_gpr64(op->mem.index);
        if (index == ZYDIS_REGISTER_NONE)
            return false;
    }
    /* The guest's displacement as a 32-bit value (16-bit forms sign-extend
     * to the 16-bit address size, which the movzx below truncates). */
    disp = (int32_t)(uint32_t)disp;

    if (index != ZYDIS_REGISTER_NONE || add_segment_base || addr16) {
        /* disp is sign-extended to 64 bits; the 32-bit result is the address. */
        emit_lea_r14d(out, base, index, op->mem.scale, disp);
        if (addr16)
            emit_movzx_r14d_r14w(out);
        if (add_segment_base) {
            /* r14d += segment base, with 32-bit wrap: lea r14d, [r14 + r11] */
            emit_load_r11(out, segments->base_offset[segment], false);
            emit_lea_r14d(out, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R11, 1, 0);
        }
        out->base = ZYDIS_REGISTER_R14;
        out->index = HOST_REG_VIEW;
        if (own_view) {
            emit_load_r11(out, segments->view_offset[segment], true);
            out->index = ZYDIS_REGISTER_R11;
        }
        out->scale = 1;
        out->displacement = 0;
        return true;
    }

    if (base == ZYDIS_REGISTER_NONE) {
        /* Absolute [disp32]: exact, never wraps. */
        uint32_t address = (uint32_t)disp;
        if (address < HALF_WINDOW) {
            out->base = HOST_REG_VIEW;
            out->displacement = address;
        } else {
            out->base = HOST_REG_VIEW_HIGH;
            out->displacement = (int64_t)address - HALF_WINDOW;
        }
        return true;
    }

    /* [base + disp]: base first so that [rsp + r13] encodes (rsp cannot be an
     * index) and [reg + r13] needs no displacement byte when disp is 0. */
    out->base = base;
    out->scale = 1;
    if (disp >= DISP_LOW_LIMIT) {
        out->index = HOST_REG_VIEW;
        out->displacement = disp;
    } else {
        out->index = HOST_REG_VIEW_HIGH;
        out->displacement = (int64_t)(uint32_t)disp - HALF_WINDOW;
    }
    return true;
}
