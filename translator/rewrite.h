/*
 * translator/rewrite.h — turning a guest memory operand into a host one.
 *
 * Every guest memory access leaves here as view + 32-bit guest address
 * (DESIGN.md §2), which is also the isolation argument: translated code never
 * forms a host address outside the view reservation.
 *
 *   guest form                         host form
 *   [disp32], disp < 2^31              [r13 + disp]
 *   [disp32], disp >= 2^31             [r12 + (disp - 2^31)]          r12 = r13 + 2^31
 *   [base + disp], -64K <= disp < 2^31 [base64 + r13 + disp]
 *   [base + disp], other disp          [base64 + r12 + (disp - 2^31)]
 *   [base + index*scale + disp]        lea r14d, [base + index*scale + disp] ; [r14 + r13]
 *   segment with a non-zero base       ... r14d += segment base (mov r11d / lea) ; [r14 + r13]
 *   16-bit addressing (0x67)           lea r14d, [...]; movzx r14d, r14w ; [r14 + r13]
 *
 * The first four are exact for every value of base: a sum past 4 GiB (or below
 * 0) lands in a view guard, where the fault handler emulates the exact 32-bit
 * wrap. The lea forms wrap exactly by construction. All prefix sequences are
 * flag-neutral (lea, mov, movzx), so the guest's flags in host RFLAGS survive.
 *
 * Invariant: every host memory operand produced here has r13 or r12 as base
 * or index, and every other register in it holds a zero-extended 32-bit value.
 */
#ifndef POPEK_TRANSLATOR_REWRITE_H
#define POPEK_TRANSLATOR_REWRITE_H

#include <Zydis/Zydis.h>

#include "common/types.h"

/* Host registers the translator owns (DESIGN.md §2). */
#define HOST_REG_VCPU      ZYDIS_REGISTER_R15
#define HOST_REG_VIEW      ZYDIS_REGISTER_R13
#define HOST_REG_VIEW_HIGH ZYDIS_REGISTER_R12
#define HOST_REG_ADDR      ZYDIS_REGISTER_R14 /* computed guest address / branch target */
#define HOST_REG_SCRATCH   ZYDIS_REGISTER_R11
#define HOST_REG_SCRATCH2  ZYDIS_REGISTER_R10

#define REWRITE_MAX_PREFIX 5 /* lea, movzx (16-bit forms), base load, lea, view load */

/* How segment bases enter addresses: one bit per segment register (ES..GS in
 * encoding order) whose base is not known to be zero, so it must be added
 * at run time from the vCPU's segment cache. */
typedef uint8_t segment_base_mask;

struct mem_rewrite {
    /* Flag-neutral instructions to emit before the rewritten instruction. */
    unsigned prefix_count;
    ZydisEncoderRequest prefix[REWRITE_MAX_PREFIX];
    /* The host memory operand replacing the guest one (size is kept). */
    ZydisRegister base, index;
    uint8_t scale;
    int64_t displacement;
};

/* The host 64-bit register holding guest 32/16-bit register reg (eax..edi),
 * or ZYDIS_REGISTER_NONE when reg is not a general register of the guest. */
ZydisRegister rewrite_host_gpr64(ZydisRegister guest_reg);

/* How a memory operand reaches its segment, per segment register
 * (encoding order). Most are addressed as view (r13) + offset, plus the
 * segment's base from the vCPU when it is not zero. Segments in `own_view`
 * (FS and GS) always add their base and are addressed from a host pointer
 * of their own in the vCPU instead of r13, which the monitor points past
 * the view when the register is unusable (monitor/vcpu_runtime.h): their
 * base and usability are read at run time, not assumed by the translation. */
struct segment_addressing {
    segment_base_mask nonzero_bases;
    segment_base_mask own_view;
    int32_t base_offset[6]; /* r15-relative offset of each segment's base (32 bits) */
    int32_t view_offset[6]; /* r15-relative offset of each own view pointer (64 bits) */
};

/* Rewrites memory operand `op` of `insn`. Returns false for forms popek
 * does not translate (the caller hands the instruction to the monitor
 * instead). */
bool rewrite_memory_operand(const ZydisDecodedInstruction *insn, const ZydisDecodedOperand *op,
                            const struct segment_addressing *segments, struct mem_rewrite *out);

/* The segment register (0..5, encoding order) an operand is accessed through. */
int rewrite_operand_segment(const ZydisDecodedOperand *op);

#endif
