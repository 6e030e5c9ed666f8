/*
 * emul/access.c — describing the memory access of a faulting instruction.
 *
 * When a translated instruction's access faults on the host for a reason
 * that is not a guest fault (the 32-bit sum wrapped past 4 GiB into a view
 * guard, or the address is not RAM), the monitor re-executes the instruction
 * natively with its memory operand redirected to a bounce buffer. This file
 * computes which guest bytes that buffer stands for: the effective address
 * with the architecture's 32-bit (or 16-bit) wrap, plus the segment base
 * (SDM vol. 1, §3.7.5; vol. 3, §3.4).
 */
#include "emul/emul.h"

#include <Zydis/Zydis.h>

static bool gpr_value(const struct vcpu_state *cpu, ZydisRegister reg, uint32_t *value)
{
    if (reg >= ZYDIS_REGISTER_EAX && reg <= ZYDIS_REGISTER_EDI) {
        *value = cpu->regs[reg - ZYDIS_REGISTER_EAX];
        return true;
    }
    if (reg >= ZYDIS_REGISTER_AX && reg <= ZYDIS_REGISTER_DI) {
        *value = cpu->regs[reg - ZYDIS_REGISTER_AX] & 0xFFFF;
        return true;
    }
    return false;
}

int emul_segment_of(ZydisRegister reg)
{
    switch (reg) {
    case ZYDIS_REGISTER_ES:
        return SEG_ES;
    case ZYDIS_REGISTER_CS:
        return SEG_CS;
    case ZYDIS_REGISTER_SS:
        return SEG_SS;
    case ZYDIS_REGISTER_DS:
        return SEG_DS;
    case ZYDIS_REGISTER_FS:
        return SEG_FS;
    case ZYDIS_REGISTER_GS:
        return SEG_GS;
    default:
        return -1;
    }
}

bool emul_describe_access(const struct vcpu_state *cpu, const uint8_t *bytes, size_t len,
                          struct emul_access_desc *out)
{
    ZydisDecoder decoder;
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];

    emul_init_decoder(&decoder, ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, bytes, len, &insn, ops)))
        return false;
    return emul_describe_decoded_access(cpu, &insn, ops, out);
}

bool emul_describe_decoded_access(const struct vcpu_state *cpu,
                                  const ZydisDecodedInstruction *decoded,
                                  const ZydisDecodedOperand *ops, struct emul_access_desc *out)
{
    const ZydisDecodedInstruction insn = *decoded;
    const ZydisDecodedOperand *mem = NULL;

    for (unsigned i = 0; i < insn.operand_count_visible; i++) {
        if (ops[i].type != ZYDIS_OPERAND_TYPE_MEMORY || ops[i].mem.type != ZYDIS_MEMOP_TYPE_MEM)
            continue;
        if (mem)
            return false;
        mem = &ops[i];
    }
    if (!mem || mem->size == 0)
        return false;

    uint32_t ea = (uint32_t)mem->mem.disp.value, v;
    if (mem->mem.base != ZYDIS_REGISTER_NONE) {
        if (!gpr_value(cpu, mem->mem.base, &v))
            return false;
        ea += v;
    }
    if (mem->mem.index != ZYDIS_REGISTER_NONE) {
        if (!gpr_value(cpu, mem->mem.index, &v))
            return false;
        ea += v * (mem->mem.scale ? mem->mem.scale : 1);
    }
    if (insn.address_width == 16)
        ea &= 0xFFFF;
    /* BT/BTS/BTR/BTC with a register bit offset address the operand-sized
     * unit the offset falls in (SDM vol. 2, BT, "bit string"). */
    if ((insn.mnemonic == ZYDIS_MNEMONIC_BT || insn.mnemonic == ZYDIS_MNEMONIC_BTS ||
         insn.mnemonic == ZYDIS_MNEMONIC_BTR || insn.mnemonic == ZYDIS_MNEMONIC_BTC) &&
        ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER && gpr_value(cpu, ops[1].reg.value, &v)) {
        int32_t offset = insn.operand_width == 16 ? (int16_t)v : (int32_t)v;
        ea += (uint32_t)((offset >> (insn.operand_width == 16 ? 4 : 5)) *
                         (int32_t)(insn.operand_width / 8));
    }
    int seg = emul_segment_of(mem->mem.segment);
    out->segment = seg >= 0 ? seg : SEG_DS;
    out->address = cpu->seg[out->segment].base + ea;
    out->size = mem->size / 8;
    out->reads = (mem->actions & ZYDIS_OPERAND_ACTION_MASK_READ) != 0;
    out->writes = (mem->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
    out->insn_length = insn.length;
    return true;
}
