/*
 * translator/translate.h — one guest basic block to host code.
 *
 * translate_block() decodes guest instructions from `eip` (decode), sorts
 * each into a class (classify), rewrites its memory operands into the view
 * (rewrite) and encodes the host sequence (emit), until a control transfer,
 * a callout, a page boundary or `max_insns`. The host code it writes is
 * position independent; the cache copies it into the arena.
 *
 * Block layout:
 *     body:   one host sequence per guest instruction
 *             (no event poll: the monitor stops translated code with a
 *             signal that unlinks the running block, monitor/signals.c)
 *     end:    the control transfer: rel32 jumps to exit stubs (patched to
 *             chain), an indirect exit with the target in r14d, or a callout
 *     stubs:  one per direct exit: store next_eip, point r14 at the jump to
 *             patch, jump to the monitor's exit routine
 *
 * Precise state: each guest instruction's host sequence commits its register
 * effects only after its last access that can fault, so a host fault inside
 * it leaves the guest registers as they were before the instruction, except
 * for the recorded fixups (string instructions hold view-biased ESI/EDI).
 */
#ifndef POPEK_TRANSLATOR_TRANSLATE_H
#define POPEK_TRANSLATOR_TRANSLATE_H

#include "translator/classify.h"
#include "translator/emit.h"

struct emul_decoded_insn; /* emul/emul.h */
#include "translator/rewrite.h"

#define TRANSLATE_MAX_INSNS 64
#define TRANSLATE_MAX_EXITS 4

#define TRANSLATE_FPU_TS     1u /* CR0.TS: x87/MMX/SSE raise #NM */
#define TRANSLATE_FPU_EM     2u /* CR0.EM: x87 raises #NM, MMX/SSE #UD */
#define TRANSLATE_FPU_MP     4u /* CR0.MP: with TS, WAIT raises #NM too */
#define TRANSLATE_FPU_NO_SSE 8u /* CR4.OSFXSR clear: SSE raises #UD */

/* What a fault handler must undo to recover the guest state of an
 * instruction that faulted part-way. */
enum insn_fixup {
    FIXUP_NONE,
    /* RSI/RDI hold view_base + guest value (+ segment base): keep the low 32
     * bits, minus the base of segment (fixup_reg & 15) - 1 for ESI and
     * (fixup_reg >> 4) - 1 for EDI when those are not zero. */
    FIXUP_STRING_BIASED,
    FIXUP_TEMP_IN_R11, /* register fixup_reg (0-7) was saved in r11 and now holds an address */
};

struct translated_insn {
    guest_linear_t eip;
    uint32_t host_offset; /* start of its host sequence in the block */
    uint8_t length;
    uint8_t cls;   /* enum insn_class */
    uint8_t fixup; /* enum insn_fixup */
    uint8_t fixup_reg;
};

struct translated_exit {
    guest_linear_t target;
    uint32_t jump_rel32; /* offset of the rel32 to patch when chaining */
    uint32_t stub;       /* offset of the exit stub (the unchained target) */
};

/* The inline cache of a block's indirect exit: the first target seen is
 * compared inline and reached with a direct jump (cache/tcache.c fills it). */
struct translated_ic {
    uint32_t site;      /* 5 bytes: jmp fill_stub until filled, then a nop */
    uint32_t disp;      /* disp32 of lea ecx, [r14 + disp]: minus the cached target */
    uint32_t hit_rel32; /* rel32 of the jump to the cached target's block */
    uint32_t fill_stub; /* exits to the monitor with exit_link = site */
};

struct translated_block {
    guest_linear_t eip;
    /* Where the code came from physically, filled in by the monitor (the
     * translator reads through its fetch callback and never knows): the
     * physical address of eip and the frame of the block's last byte. */
    guest_phys_t phys;
    uint32_t phys_last_frame;
    uint32_t guest_size;
    uint32_t code_size;
    unsigned ninsns;
    struct translated_insn insns[TRANSLATE_MAX_INSNS];
    unsigned nexits;
    struct translated_exit exits[TRANSLATE_MAX_EXITS];
    bool ends_in_callout;
    bool has_ic;
    struct translated_ic ic;
};

struct translate_config {
    /* Copies up to len code bytes at linear eip into buf; returns how many
     * were readable (stops at the first byte that is not). */
    size_t (*fetch)(void *opaque, guest_linear_t eip, uint8_t *buf, size_t len);
    void *opaque;
    /* Optional: storage, living as long as the translated code, for the
     * decoded instruction of each callout. A callout loads its address
     * into r14, which the exit stores in vcpu.exit_link, so the monitor
     * neither fetches nor decodes the instruction again. NULL (no
     * storage): r14 is 0. */
    struct emul_decoded_insn *(*alloc_decoded)(void *opaque);
    segment_base_mask nonzero_bases; /* segments whose base is added at run time */
    /* Segments addressed through their own view pointer, vcpu.seg_view (FS
     * and GS): their base and usability are read at run time, not assumed
     * (translator/rewrite.h). */
    segment_base_mask own_view_segments;
    /* Segments holding a null selector (unusable): any access through one
     * raises #GP(0) instead (SDM vol. 3, §3.4.2). */
    segment_base_mask unusable_segments;
    /* What x87/MMX/SSE instructions do under the current CR0/CR4 (SDM vol. 3,
     * §2.5, table 2-2): TRANSLATE_FPU_* bits. */
    unsigned fpu_mode;
    unsigned max_insns; /* 1 .. TRANSLATE_MAX_INSNS */
    /* The privilege level the block runs at (part of the mode key): at
     * CPL 0, cli and sti are inline stores to vcpu.virtual_if. */
    unsigned cpl;
    /* RDTSC at CPL 0 runs in place: the guest's TSC is the host's (no
     * offset written through IA32_TIME_STAMP_COUNTER). Linux reads it
     * millions of times (sched_clock, udelay, timekeeping). */
    bool native_rdtsc;
    /* Count indirect-branch probes in vcpu->ibl_lookups (costs a memory
     * increment per indirect branch: only when statistics are wanted). */
    bool count_indirect;
    /* Bounce mode (monitor/bounce.c): when not zero, translate exactly one
     * ident instruction whose memory operand is the host buffer at this
     * address instead of guest memory. Used to re-execute natively an
     * instruction whose guest access cannot be done in place (4 GiB
     * wrap-around, unmapped or device memory). */
    uint64_t bounce_buffer;
    /* Adaptive translation (monitor/adaptive.h): when set and true for an
     * instruction's EIP, the instruction becomes a callout, because running
     * it in place keeps trapping (device memory, a write-protected page
     * table). NULL: never. */
    bool (*emulate)(void *opaque, guest_linear_t eip);
};

/* Translates the block at eip into buf. Returns false only when buf is too
 * small for even one instruction (the caller flushes the cache and retries). */
bool translate_block(const struct translate_config *cfg, guest_linear_t eip, struct emit_buf *buf,
                     struct translated_block *out);

/* Decodes one 32-bit guest instruction (exposed for tracing and tests). */
bool translate_decode(const uint8_t *bytes, size_t len, ZydisDecodedInstruction *insn,
                      ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT]);

#endif
