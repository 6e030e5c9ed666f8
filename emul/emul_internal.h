/*
 * emul/emul_internal.h — what the files of emul/ share, and nothing outside
 * emul/ may include: the execution context of one instruction or event, the
 * fault constructors, guest memory and stack access with segment checks,
 * descriptor loads, operand access, and the instruction handlers.
 *
 * Invariants every handler keeps:
 *  - It works on ctx->cpu, a copy of the caller's state. emul_execute()
 *    copies it back only when the instruction completes (or, for a REP
 *    string instruction, after each completed iteration), so a fault leaves
 *    the caller's state exactly as it was: restartable at the instruction.
 *  - A fault is a value: the helper that detects it fills ctx->fault and
 *    returns false (or EMUL_FAULT); the caller passes it up unchanged. Only
 *    emul_execute() and emul_deliver_event() turn it into a return status.
 *  - Every guest memory access goes through ctx->env; descriptor tables and
 *    the TSS are read with EMUL_ACCESS_SYSTEM_READ, accessed/busy bits are
 *    written with EMUL_ACCESS_SYSTEM_WRITE.
 */
#ifndef POPEK_EMUL_EMUL_INTERNAL_H
#define POPEK_EMUL_EMUL_INTERNAL_H

#include <Zydis/Zydis.h>

#include "emul/emul.h"

/* Selector fields (SDM vol. 3, §3.4.2). */
#define SEL_RPL(s)     (3u & (unsigned)(s))
#define SEL_TI         4u
#define SEL_INDEX(s)   (0xFFF8u & (uint16_t)(s))
#define SEL_ERROR(s)   (0xFFFCu & (uint16_t)(s)) /* selector as an error code (SDM §6.13) */
#define SEL_IS_NULL(s) ((0xFFFCu & (s)) == 0)

/* Error-code bits (SDM vol. 3, §6.13, figure 6-7). */
#define ERR_EXT 1u
#define ERR_IDT 2u

/* Descriptor types with S = 0 (SDM vol. 3, §3.5, table 3-2). */
#define SYS_TSS16_AVAIL 0x1
#define SYS_LDT         0x2
#define SYS_TSS16_BUSY  0x3
#define SYS_CALL_GATE16 0x4
#define SYS_TASK_GATE   0x5
#define SYS_INT_GATE16  0x6
#define SYS_TRAP_GATE16 0x7
#define SYS_TSS32_AVAIL 0x9
#define SYS_TSS32_BUSY  0xB
#define SYS_CALL_GATE32 0xC
#define SYS_INT_GATE32  0xE
#define SYS_TRAP_GATE32 0xF

/* Code/data type bits with S = 1 (SDM vol. 3, §3.4.5.1, table 3-1). */
#define SEG_TYPE_ACCESSED   0x1
#define SEG_TYPE_WRITABLE   0x2 /* data */
#define SEG_TYPE_READABLE   0x2 /* code */
#define SEG_TYPE_EXPAND_DN  0x4 /* data */
#define SEG_TYPE_CONFORMING 0x4 /* code */
#define SEG_TYPE_CODE       0x8

#define DR6_FIXED1 0xFFFF0FF0u /* DR6 bits 4-11 and 16-31 read as 1 (SDM vol. 3, §17.2.3) */
#define DR6_BD     (1u << 13)
#define DR7_FIXED1 0x00000400u /* DR7 bit 10 reads as 1 (SDM vol. 3, §17.2.4) */
#define DR7_GD     (1u << 13)

/* CR4 bits: monitor/vcpu.h. */

/* Whether the machine has a local APIC (devices/lapic.c): CPUID.1:EDX.APIC
 * and the reset value of IA32_APIC_BASE.EN follow. */
#define EMUL_HAVE_LAPIC 1

/* MSR numbers (SDM vol. 4, chapter 2). */
#define MSR_IA32_TIME_STAMP_COUNTER 0x010
#define MSR_IA32_PLATFORM_ID        0x017
#define MSR_IA32_APIC_BASE          0x01B
#define MSR_IA32_BIOS_SIGN_ID       0x08B
#define MSR_IA32_MTRRCAP            0x0FE
#define MSR_IA32_SYSENTER_CS        0x174
#define MSR_IA32_SYSENTER_ESP       0x175
#define MSR_IA32_SYSENTER_EIP       0x176
#define MSR_IA32_MCG_CAP            0x179
#define MSR_IA32_MISC_ENABLE        0x1A0
#define MSR_IA32_PAT                0x277
#define MSR_IA32_MTRR_DEF_TYPE      0x2FF

/* A descriptor as it sits in the GDT, LDT or IDT (SDM vol. 3, §3.4.5). */
struct emul_desc {
    uint32_t lo, hi;
};

static inline unsigned desc_type(const struct emul_desc *d)
{
    return (d->hi >> 8) & 0xF;
}

static inline bool desc_s(const struct emul_desc *d)
{
    return (d->hi >> 12) & 1;
}

static inline unsigned desc_dpl(const struct emul_desc *d)
{
    return (d->hi >> 13) & 3;
}

static inline bool desc_present(const struct emul_desc *d)
{
    return (d->hi >> 15) & 1;
}

static inline bool desc_is_code(const struct emul_desc *d)
{
    return desc_s(d) && (desc_type(d) & SEG_TYPE_CODE);
}

static inline bool desc_is_data(const struct emul_desc *d)
{
    return desc_s(d) && !(desc_type(d) & SEG_TYPE_CODE);
}

static inline bool desc_is_conforming_code(const struct emul_desc *d)
{
    return desc_is_code(d) && (desc_type(d) & SEG_TYPE_CONFORMING);
}

/* Base and byte-granular limit of a segment descriptor (SDM vol. 3, §3.4.5). */
static inline uint32_t desc_base(const struct emul_desc *d)
{
    return (d->lo >> 16) | ((d->hi & 0xFF) << 16) | (d->hi & 0xFF000000u);
}

static inline uint32_t desc_limit(const struct emul_desc *d)
{
    uint32_t limit = (d->lo & 0xFFFF) | (d->hi & 0x000F0000u);

    return (d->hi & (1u << 23)) ? (limit << 12) | 0xFFF : limit;
}

/* Gate fields (SDM vol. 3, §5.8.3 figure 5-8, §6.11 figure 6-2). */
static inline uint16_t gate_selector(const struct emul_desc *d)
{
    return (uint16_t)(d->lo >> 16);
}

static inline uint32_t gate_offset(const struct emul_desc *d)
{
    return (d->lo & 0xFFFF) | (d->hi & 0xFFFF0000u);
}

/* The context of one emul_execute() or emul_deliver_event() call. */
/* Room for one decode, outside the context so that setting up a context
 * (zeroed) stays small. */
struct emul_decode_storage {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

/* No instruction: all zero (mnemonic ZYDIS_MNEMONIC_INVALID). */
extern const ZydisDecodedInstruction emul_no_insn;
extern const ZydisDecodedOperand emul_no_ops[ZYDIS_MAX_OPERAND_COUNT];

struct emul_ctx {
    struct vcpu_state *cpu;       /* working copy; the caller's state is `committed` */
    struct vcpu_state *committed; /* the caller's state */
    const struct emul_env *env;
    struct emul_fault *fault;
    char *why;
    size_t why_len;

    /* The decoded instruction (emul_execute only): pointers to where it
     * is kept — the caller's predecoded copy, the decode cache, or
     * `decode` — so that running it copies nothing (a callout is run
     * millions of times); emul_no_insn while there is none. */
    bool has_insn;
    const ZydisDecodedInstruction *insn;
    const ZydisDecodedOperand *ops;     /* ZYDIS_MAX_OPERAND_COUNT of them */
    struct emul_decode_storage *decode; /* room for a fresh decode */
    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    unsigned nbytes;
    uint32_t insn_eip;    /* EIP of the instruction */
    uint32_t next_eip;    /* EIP after it */
    uint16_t ext;         /* ERR_EXT while delivering an event external to the program */
    bool commit_on_fault; /* REP string: the iterations done so far stay done */

    /* env notifications, made once the new state is committed so that the
     * callee sees it: bit n of cr_written = CRn written (old value in cr_old[n]). */
    unsigned cr_written;
    uint32_t cr_old[5];
    bool invlpg_pending;
    guest_linear_t invlpg_addr;
};

static inline unsigned emul_cpl(const struct vcpu_state *cpu)
{
    return cpu->seg[SEG_CS].selector & 3u;
}

static inline unsigned emul_iopl(const struct vcpu_state *cpu)
{
    return (cpu->eflags >> 12) & 3u;
}

/* ---- faults (fault.c) ---- */

/* Records the fault and returns false, so that helpers can `return emul_raise(...)`. */
bool emul_raise(struct emul_ctx *ctx, uint8_t vector, uint32_t error_code);
bool emul_raise_gp(struct emul_ctx *ctx, uint32_t error_code);
bool emul_raise_ud(struct emul_ctx *ctx);
/* The same for handlers: records the fault and returns EMUL_FAULT. */
enum emul_status emul_fail(struct emul_ctx *ctx, uint8_t vector, uint32_t error_code);
bool emul_vector_has_error_code(uint8_t vector);
/* Formats "<what>: <mnemonic> (<bytes>) at CS:EIP" into ctx->why and
 * returns EMUL_UNSUPPORTED. */
enum emul_status emul_unsupported(struct emul_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- guest memory (memory.c) ---- */

bool emul_linear_read(struct emul_ctx *ctx, guest_linear_t addr, void *buf, unsigned len,
                      enum emul_access access, unsigned cpl);
bool emul_linear_write(struct emul_ctx *ctx, guest_linear_t addr, const void *buf, unsigned len,
                       enum emul_access access, unsigned cpl);
/* True when [offset, offset+len) lies inside the segment's limits, for
 * expand-up and expand-down segments (SDM vol. 3, §5.3). */
bool emul_segment_range_ok(const struct segment_cache *seg, uint32_t offset, uint32_t len);
/* Segment usability, type and limit checks of a data access through `seg`
 * (SDM vol. 3, §3.4.2, §5.3, §5.4): true when it may be made. */
bool emul_segment_access_ok(const struct segment_cache *seg, uint32_t offset, uint32_t len,
                            bool write);
/* The same checks raising #GP(0), or #SS(0) when `stack` is set. */
bool emul_segment_check(struct emul_ctx *ctx, const struct segment_cache *seg, bool stack,
                        uint32_t offset, uint32_t len, bool write);
/* Reads/writes through segment register `sreg` at the current CPL. */
bool emul_vread(struct emul_ctx *ctx, enum vcpu_sreg sreg, uint32_t offset, void *buf,
                unsigned len);
bool emul_vwrite(struct emul_ctx *ctx, enum vcpu_sreg sreg, uint32_t offset, const void *buf,
                 unsigned len);

/* A stack being pushed or popped: the current one, or a new one during a
 * privilege change before SS:ESP are loaded (SDM vol. 3, §6.4.1). */
struct emul_stack {
    struct segment_cache ss;
    uint32_t esp;
    unsigned cpl;         /* privilege of the accesses */
    uint16_t fault_error; /* error code of #SS on a limit violation */
};

void emul_stack_current(struct emul_ctx *ctx, struct emul_stack *st);
/* Checks that `bytes` can be pushed below ESP / popped from ESP+offset. */
bool emul_stack_room_push(struct emul_ctx *ctx, const struct emul_stack *st, uint32_t bytes);
bool emul_stack_room_pop(struct emul_ctx *ctx, const struct emul_stack *st, uint32_t bytes);
bool emul_stack_push(struct emul_ctx *ctx, struct emul_stack *st, uint32_t value, unsigned size);
bool emul_stack_pop(struct emul_ctx *ctx, struct emul_stack *st, uint32_t *value, unsigned size);
/* Reads `size` bytes at ESP+offset without moving ESP. */
bool emul_stack_peek(struct emul_ctx *ctx, const struct emul_stack *st, uint32_t offset,
                     uint32_t *value, unsigned size);
/* ESP (or SP for a 16-bit stack) after adding `delta`. */
uint32_t emul_stack_add(const struct segment_cache *ss, uint32_t esp, uint32_t delta);
/* Writes the stack pointer back into cpu->regs[REG_ESP] (only SP for a 16-bit SS). */
void emul_stack_commit(struct emul_ctx *ctx, const struct emul_stack *st);

/* ---- descriptors and segment loads (segments.c) ---- */

/* Reads the descriptor `sel` selects in the GDT or LDT; a selector beyond the
 * table limit raises `vector`(sel | EXT). */
bool emul_desc_fetch(struct emul_ctx *ctx, uint16_t sel, struct emul_desc *d, uint8_t vector);
/* The same without the limit fault, for LAR/LSL/VERR/VERW: *in_table is false
 * for a null selector or one beyond its table; false only on a memory fault. */
bool emul_desc_probe(struct emul_ctx *ctx, uint16_t sel, struct emul_desc *d, bool *in_table);
/* Sets the accessed bit of a code/data descriptor in memory if clear. */
bool emul_desc_set_accessed(struct emul_ctx *ctx, uint16_t sel, struct emul_desc *d);
/* Writes the high dword of descriptor `sel` back to its table. */
bool emul_desc_write_high(struct emul_ctx *ctx, uint16_t sel, const struct emul_desc *d);
/* Fills a segment cache from a descriptor. */
void emul_desc_to_cache(const struct emul_desc *d, uint16_t sel, struct segment_cache *c);
/* A null selector in a data segment register: unusable until reloaded. */
void emul_null_segment(struct segment_cache *c, uint16_t sel);
/* Loads SS, DS, ES, FS or GS as MOV, POP and LDS/LSS do (SDM vol. 2, MOV). */
bool emul_load_data_segment(struct emul_ctx *ctx, enum vcpu_sreg reg, uint16_t sel);
/* The checks of a new stack segment for a privilege change: null -> `vector`(EXT),
 * RPL/DPL != `dpl` or not writable data -> `vector`(sel), not present -> #SS(sel). */
bool emul_fetch_stack_segment(struct emul_ctx *ctx, uint16_t sel, unsigned dpl, uint8_t vector,
                              struct emul_desc *d);
/* Loads CS from a checked code descriptor with RPL = cpl, setting its accessed bit. */
bool emul_load_code_segment(struct emul_ctx *ctx, uint16_t sel, struct emul_desc *d, unsigned cpl);
/* After a return to an outer level: data segment registers the new CPL may
 * not use become null (SDM vol. 2, RET and IRET). */
void emul_invalidate_data_segments(struct vcpu_state *cpu);
/* The stack SS:ESP for privilege level `dpl` in the 32-bit TSS; errors use EXT
 * from ctx (SDM vol. 2, CALL and INT n: TSSstackAddress). */
bool emul_tss_stack(struct emul_ctx *ctx, unsigned dpl, uint16_t *ss, uint32_t *esp);
static inline bool emul_tss_is_32bit(const struct vcpu_state *cpu)
{
    unsigned t = SEG_ATTR_TYPE(cpu->tr.attr);

    return t == SYS_TSS32_AVAIL || t == SYS_TSS32_BUSY;
}

/* ---- operands (operands.c) ---- */

enum vcpu_sreg emul_sreg_from_zydis(ZydisRegister reg);
/* Offset of a memory operand within its segment, wrapped to the address size. */
uint32_t emul_effective_address(const struct emul_ctx *ctx, const ZydisDecodedOperand *op);
/* Reads/writes `len` bytes of a memory operand (segment checks, current CPL). */
bool emul_mem_read(struct emul_ctx *ctx, const ZydisDecodedOperand *op, uint32_t disp, void *buf,
                   unsigned len);
bool emul_mem_write(struct emul_ctx *ctx, const ZydisDecodedOperand *op, uint32_t disp,
                    const void *buf, unsigned len);
/* Reads a register, memory or immediate operand of `op->size` bits (at most 32). */
bool emul_operand_read(struct emul_ctx *ctx, const ZydisDecodedOperand *op, uint32_t *value);
bool emul_operand_write(struct emul_ctx *ctx, const ZydisDecodedOperand *op, uint32_t value);

/* ---- flags shared by several files ---- */

/* PF of the low byte of `value` (SDM vol. 1, §3.4.3.1). */
static inline bool emul_parity(uint8_t value)
{
    return !__builtin_parity(value);
}

/* ---- instruction handlers (one file per concern) ---- */

typedef enum emul_status (*emul_handler)(struct emul_ctx *ctx);

/* Fetches and decodes the instruction at CS:EIP, runs the handler `select`
 * picks for it (or `unhandled` when it picks none) on a working copy of the
 * state, and commits it as emul_execute() documents: the one place both
 * emul_execute() and emul_execute_implicit() go through. */
enum emul_status emul_run_instruction(struct vcpu_state *cpu, const struct emul_env *env,
                                      struct emul_fault *fault, char *why, size_t why_len,
                                      emul_handler (*select)(const struct emul_ctx *ctx),
                                      emul_handler unhandled);

/* decode_fetch.c */
enum emul_status emul_fetch_decode(struct emul_ctx *ctx);
/* Best-effort decode of CS:EIP as 16-bit code, only to name it in a message. */
void emul_peek_insn(struct emul_ctx *ctx);

/* tables.c */
enum emul_status emul_lgdt_lidt(struct emul_ctx *ctx);
enum emul_status emul_sgdt_sidt(struct emul_ctx *ctx);
enum emul_status emul_lldt(struct emul_ctx *ctx);
enum emul_status emul_ltr(struct emul_ctx *ctx);
enum emul_status emul_sldt_str(struct emul_ctx *ctx);

/* seginsn.c */
enum emul_status emul_mov_sreg(struct emul_ctx *ctx);
enum emul_status emul_push_sreg(struct emul_ctx *ctx);
enum emul_status emul_pop_sreg(struct emul_ctx *ctx);
enum emul_status emul_load_far_pointer(struct emul_ctx *ctx);
enum emul_status emul_lar_lsl(struct emul_ctx *ctx);
enum emul_status emul_verr_verw(struct emul_ctx *ctx);
enum emul_status emul_arpl(struct emul_ctx *ctx);

/* io.c */
enum emul_status emul_in_out(struct emul_ctx *ctx);
enum emul_status emul_ins_outs(struct emul_ctx *ctx);

/* flags.c */
enum emul_status emul_cli_sti(struct emul_ctx *ctx);
enum emul_status emul_pushf(struct emul_ctx *ctx);
enum emul_status emul_popf(struct emul_ctx *ctx);

/* control.c */
enum emul_status emul_mov_cr(struct emul_ctx *ctx);
enum emul_status emul_mov_dr(struct emul_ctx *ctx);
enum emul_status emul_clts(struct emul_ctx *ctx);
enum emul_status emul_lmsw(struct emul_ctx *ctx);
enum emul_status emul_smsw(struct emul_ctx *ctx);
enum emul_status emul_invlpg(struct emul_ctx *ctx);
enum emul_status emul_cache_control(struct emul_ctx *ctx);
enum emul_status emul_hlt(struct emul_ctx *ctx);

/* msr.c */
enum emul_status emul_rdmsr(struct emul_ctx *ctx);
enum emul_status emul_wrmsr(struct emul_ctx *ctx);
enum emul_status emul_rdtsc(struct emul_ctx *ctx);
enum emul_status emul_rdpmc(struct emul_ctx *ctx);

/* cpuid.c */
enum emul_status emul_cpuid_insn(struct emul_ctx *ctx);

/* interrupts.c */
enum emul_status emul_int(struct emul_ctx *ctx);
enum emul_status emul_iret(struct emul_ctx *ctx);

/* farbranch.c */
enum emul_status emul_far_jmp_call(struct emul_ctx *ctx);
enum emul_status emul_far_ret(struct emul_ctx *ctx);

/* sysenter.c */
enum emul_status emul_sysenter(struct emul_ctx *ctx);
enum emul_status emul_sysexit(struct emul_ctx *ctx);

/* bcd.c */
enum emul_status emul_bcd(struct emul_ctx *ctx);
enum emul_status emul_salc(struct emul_ctx *ctx);

/* legacy32.c */
enum emul_status emul_bound(struct emul_ctx *ctx);
enum emul_status emul_pusha(struct emul_ctx *ctx);
enum emul_status emul_popa(struct emul_ctx *ctx);

/* implicit_mem.c: instructions with implicit memory operands (emul_execute_implicit) */
#define EMUL_ARITH_FLAGS (EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_OF)
/* CF PF AF ZF SF OF as SUB/CMP of `size`-byte operands a - b sets them
 * (other EFLAGS bits zero). */
uint32_t emul_flags_sub(unsigned size, uint32_t a, uint32_t b);
enum emul_status emul_string_insn(struct emul_ctx *ctx);
enum emul_status emul_xlat(struct emul_ctx *ctx);
enum emul_status emul_push(struct emul_ctx *ctx);
enum emul_status emul_pop(struct emul_ctx *ctx);
enum emul_status emul_near_call(struct emul_ctx *ctx);
enum emul_status emul_near_ret(struct emul_ctx *ctx);
enum emul_status emul_enter(struct emul_ctx *ctx);
enum emul_status emul_leave(struct emul_ctx *ctx);

#endif
