/*
 * emul/emul.h — executing, in C, the guest instructions translated code hands
 * to the monitor, and delivering exceptions and interrupts.
 *
 * The translator turns every sensitive or system instruction into a callout;
 * the monitor then calls emul_execute(), which decodes the instruction at
 * CS:EIP, checks it as the processor would (CPL, IOPL, descriptor rules) and
 * either completes it (EIP advanced) or reports a guest fault as a value. It
 * never delivers the fault itself: the monitor decides (STYLE.md, "exceptions
 * are data") and calls emul_deliver_event() to push the frame through the
 * guest IDT.
 *
 * emul/ touches guest memory and devices only through the callbacks of
 * struct emul_env, so it is unit-tested against a flat array and a fake bus.
 */
#ifndef POPEK_EMUL_EMUL_H
#define POPEK_EMUL_EMUL_H

#include <stddef.h>

#include <Zydis/Zydis.h>

#include "common/types.h"
#include "monitor/vcpu.h"

/* Exception vectors (SDM vol. 3, §6.3.1, table 6-1). */
enum x86_vector {
    VEC_DE = 0,
    VEC_DB = 1,
    VEC_NMI = 2,
    VEC_BP = 3,
    VEC_OF = 4,
    VEC_BR = 5,
    VEC_UD = 6,
    VEC_NM = 7,
    VEC_DF = 8,
    VEC_TS = 10,
    VEC_NP = 11,
    VEC_SS = 12,
    VEC_GP = 13,
    VEC_PF = 14,
    VEC_MF = 16,
    VEC_AC = 17,
    VEC_MC = 18,
    VEC_XM = 19,
};

/* A guest fault as a value: the vector, its error code if it has one, and
 * for #PF the linear address for CR2. */
struct emul_fault {
    uint8_t vector;
    bool has_error_code;
    uint32_t error_code;
    guest_linear_t fault_address; /* #PF only */
};

/* Memory access kinds, for the page-fault error code and checks. */
enum emul_access {
    EMUL_ACCESS_READ,
    EMUL_ACCESS_WRITE,
    EMUL_ACCESS_FETCH,
    EMUL_ACCESS_SYSTEM_READ,  /* descriptor tables, TSS: supervisor access at any CPL */
    EMUL_ACCESS_SYSTEM_WRITE, /* accessed bits, stack pushes during delivery at CPL 0 */
};

/* An instruction fetched and decoded once: by the monitor for its
 * decisions about it, or by the translator when it made a callout of it
 * (translated code hands that one to the monitor with the exit). */
struct emul_decoded_insn {
    guest_linear_t linear; /* where it was fetched */
    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    size_t nbytes; /* how many could be read (RAM only) */
    bool decoded;
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    /* The instruction right after it, when the translator found that one
     * to be a callout too, on the same page (NULL otherwise): the monitor
     * runs such a run of callouts in one exit. emul/ does not use it. */
    const struct emul_decoded_insn *next;
};

struct emul_env {
    void *opaque;
    /* Linear-address memory access; on failure fill *fault (#PF or #GP) and
     * return false. `cpl` is the privilege the access is made with. */
    bool (*read)(void *opaque, guest_linear_t addr, void *buf, unsigned len,
                 enum emul_access access, unsigned cpl, struct emul_fault *fault);
    bool (*write)(void *opaque, guest_linear_t addr, const void *buf, unsigned len,
                  enum emul_access access, unsigned cpl, struct emul_fault *fault);
    uint32_t (*port_in)(void *opaque, io_port_t port, unsigned size);
    void (*port_out)(void *opaque, io_port_t port, unsigned size, uint32_t value);
    /* The guest's time-stamp counter. */
    uint64_t (*read_tsc)(void *opaque);
    /* Called after CR0, CR3 or CR4 changed (shadow paging, translation modes). */
    void (*control_register_written)(void *opaque, unsigned crn, uint32_t old_value);
    /* Called after INVLPG. */
    void (*invlpg)(void *opaque, guest_linear_t addr);
    /* Optional: the physical address of `addr` when the access would reach
     * ordinary RAM (no fault, no device memory), else false — setting A/D
     * as the access will. REP MOVS/STOS move whole pages at a time where
     * it says yes (emul/implicit_mem.c). */
    bool (*ram_address)(void *opaque, guest_linear_t addr, enum emul_access access, unsigned cpl,
                        uint64_t *phys);
    /* Optional: called at every VERW. Guest kernels execute it to have the
     * CPU overwrite its internal buffers before returning to a less trusted
     * context (Linux's MDS mitigation, Intel's MD_CLEAR); checking the
     * selector here touches no buffer, so the host does it for real. */
    void (*clear_cpu_buffers)(void *opaque);
    /* Optional: the instruction at CS:EIP as already fetched and decoded
     * (its bytes cannot have changed since: the caller answers for that).
     * emul_execute then does not fetch it again. */
    const struct emul_decoded_insn *predecoded;
};

enum emul_status {
    EMUL_OK,          /* completed; EIP and state updated */
    EMUL_FAULT,       /* the instruction faults: *fault says how; state unchanged */
    EMUL_HALT,        /* HLT completed: sleep until an interrupt */
    EMUL_UNSUPPORTED, /* a feature popek does not model yet: stop with the message */
    EMUL_TRIPLE_FAULT,
};

/* Executes one instruction at CS:EIP. On EMUL_UNSUPPORTED, `why` (if not
 * NULL) receives a message naming the instruction and address. */
enum emul_status emul_execute(struct vcpu_state *cpu, const struct emul_env *env,
                              struct emul_fault *fault, char *why, size_t why_len);

/* How an event reaches the CPU, which decides the privilege checks and the
 * EIP pushed (SDM vol. 3, §6.4–6.5, §6.12). */
enum emul_event_kind {
    EMUL_EVENT_EXCEPTION, /* fault/trap raised by an instruction: EIP is already right */
    EMUL_EVENT_EXTERNAL,  /* hardware interrupt from the PIC/APIC */
    EMUL_EVENT_SOFTWARE,  /* INT n / INT3 / INTO: gate DPL checked against CPL */
};

/* Delivers an event through the guest IDT: gate checks, stack switch through
 * the TSS on a privilege change, frame push, CS:EIP load, IF/TF/NT/RF/VM
 * clearing. A fault during delivery becomes #DF; a fault while delivering #DF
 * returns EMUL_TRIPLE_FAULT. Task gates return EMUL_UNSUPPORTED. */
enum emul_status emul_deliver_event(struct vcpu_state *cpu, const struct emul_env *env,
                                    enum emul_event_kind kind, uint8_t vector, bool has_error_code,
                                    uint32_t error_code, char *why, size_t why_len);

/* The one memory access of an instruction, for re-executing it against a
 * bounce buffer when the access cannot be made in place (emul/access.c). */
struct emul_access_desc {
    guest_linear_t address; /* segment base + effective address, 32-bit wrap */
    int segment;            /* the segment register it goes through (SEG_ES..SEG_GS) */
    unsigned size;          /* bytes */
    bool reads, writes;
    unsigned insn_length;
};

/* A general register of any width (AL..BH, AX..DI, EAX..EDI) in the vCPU:
 * read zero-extended, or written as the 32-bit rules say (an 8- or 16-bit
 * write leaves the rest). False for any other register. */
bool emul_reg_read(const struct vcpu_state *cpu, ZydisRegister reg, uint32_t *value);
bool emul_reg_write(struct vcpu_state *cpu, ZydisRegister reg, uint32_t value);

/* Decodes the instruction in `bytes` and describes its single explicit
 * memory operand under the register state `cpu`. False when it has none, or
 * more than one, or is not a 32-bit-address form popek re-executes. */
bool emul_describe_access(const struct vcpu_state *cpu, const uint8_t *bytes, size_t len,
                          struct emul_access_desc *out);

/* The vCPU's index (SEG_ES..SEG_GS) of a segment register, or -1. */
int emul_segment_of(ZydisRegister reg);

/* True for the instructions that reach the port-I/O bus (in, out, ins,
 * outs). */
bool emul_is_port_io(ZydisMnemonic mnemonic);

/* The same for an instruction the caller has decoded already. */
bool emul_describe_decoded_access(const struct vcpu_state *cpu, const ZydisDecodedInstruction *insn,
                                  const ZydisDecodedOperand *ops, struct emul_access_desc *out);

/* True when the virtual CPU has instructions of this Zydis ISA set (the
 * translator runs only these natively; emul/ raises #UD for the others). */
bool emul_cpu_has_isa_set(ZydisISASet isa);

/* Initialises a Zydis decoder that decodes as the virtual CPU does: opcodes
 * later extensions took over from hint NOPs and prefixed BSF/BSR (TZCNT,
 * LZCNT, MPX, CET, CLDEMOTE) mean what they meant on a P6. Every decoder of
 * guest code is made here. */
void emul_init_decoder(ZydisDecoder *decoder, ZydisMachineMode mode, ZydisStackWidth width);

/* CPUID for the virtual CPU of DESIGN.md §5; exposed for unit tests and for
 * the translator's mode decisions. */
void emul_cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

/* --- Added by emul/ (declarations above are the lead's contract) --- */

/* vcpu_state.interrupt_shadow (SDM vol. 3, §6.8.3 and STI): an instruction
 * that sets it blocks external interrupts (and, for MOV SS/POP SS, debug
 * traps) until the next instruction has completed. emul_execute() clears it
 * when it starts an instruction and emul_deliver_event() when it delivers;
 * code that runs guest instructions elsewhere must clear it after one. */
#define EMUL_SHADOW_STI    1u /* STI with IF previously 0 */
#define EMUL_SHADOW_MOV_SS 2u /* MOV SS or POP SS (not LSS) */

/* CPUID.1:EAX, the processor signature (family 6, model 15, stepping 1): also
 * the EDX value after RESET (vcpu_state_reset). */
#define EMUL_CPUID_SIGNATURE 0x000006F1u

/* Power-on values of the model-specific part of vcpu_state (DR6, DR7,
 * IA32_PAT, IA32_APIC_BASE, IA32_MISC_ENABLE, SYSENTER MSRs, TSC offset);
 * call after vcpu_state_reset() (SDM vol. 3, §9.1.1, table 9-1). */
void emul_reset_model_state(struct vcpu_state *cpu);

/* Whether IA32_APIC_BASE enables the local APIC (SDM vol. 3, §10.4.3): when
 * it does not, the CPU's INTR pin belongs to the 8259A (devices/irq.h). */
bool emul_lapic_enabled(const struct vcpu_state *cpu);

/* Executes one instruction at CS:EIP whose memory operands are implicit, for
 * when translated code could not make its access in place (device memory,
 * unassigned memory, a 32-bit wrap past 4 GiB): MOVS/STOS/LODS/CMPS/SCAS
 * (b/w/d, REP/REPE/REPNE, 16- or 32-bit address size, source segment
 * override, DF), PUSH/POP (register, immediate, memory, segment register),
 * PUSHA/PUSHAD, POPA/POPAD, PUSHF/POPF, near CALL (rel, r/m) and RET (with
 * and without imm16), ENTER (any nesting level), LEAVE, XLAT — through
 * env->read/env->write (emul/implicit_mem.c). Outcomes as emul_execute():
 * EMUL_OK (state and EIP updated), EMUL_FAULT (*fault; state unchanged,
 * except that a REP string instruction keeps the iterations already done:
 * ESI/EDI/ECX show the progress and EIP stays at the instruction), and
 * EMUL_UNSUPPORTED for any other instruction (`why` names it). A REP
 * instruction runs all its iterations in one call. */
enum emul_status emul_execute_implicit(struct vcpu_state *cpu, const struct emul_env *env,
                                       struct emul_fault *fault, char *why, size_t why_len);

#endif
