/*
 * monitor/vcpu_runtime.h — the structure translated code sees through r15.
 *
 * struct vcpu wraps the architectural state with what the translation cache
 * needs at run time: the view bases it keeps in r13/r12, where to go on an
 * exit, why it exited, the event flag polled at block entry, and the guest's
 * FPU/SSE image while C code runs. The translator addresses these fields as
 * [r15 + offsetof(struct vcpu, field)], so the struct is an ABI between
 * translator/, the trampoline (monitor/trampoline.c) and the monitor.
 */
#ifndef POPEK_MONITOR_VCPU_RUNTIME_H
#define POPEK_MONITOR_VCPU_RUNTIME_H

#include <stddef.h>

#include "monitor/vcpu.h"

/* Why translated code returned to the monitor. */
enum vcpu_exit_reason {
    EXIT_BRANCH = 1, /* a block ended at a branch whose target is not chained: next_eip */
    EXIT_CALLOUT,    /* next_eip is an instruction for emul/ (system/sensitive) */
    EXIT_FAULT,      /* a host signal inside translated code: fault fields */
    EXIT_RAISE,      /* the instruction at next_eip raises raise_vector(raise_error) */
};

/* Host signal details of an EXIT_FAULT, taken from the siginfo. */
struct vcpu_host_fault {
    int signo;
    int code;
    uint64_t host_address; /* si_addr */
    uint64_t error_code;   /* the host #PF error code (bit 1: a write) */
    uint64_t host_rip;
};

/* 8 GiB: past the 4 GiB window, inside the guard above the view
 * (shadowpt/view.h) for any 32-bit offset. */
#define VCPU_SEG_VIEW_UNUSABLE (8ull << 30)

/* The indirect-branch table: 65536 sets of two ways. */
#define VCPU_IBL_SETS    65536
#define VCPU_IBL_WAYS    2
#define VCPU_IBL_ENTRIES (VCPU_IBL_SETS * VCPU_IBL_WAYS)

struct vcpu {
    struct vcpu_state arch;

    /* Read by translated code and the trampoline. */
    uint64_t view_base;      /* r13 */
    uint64_t view_base_high; /* r12 = r13 + 2^31 */
    uint64_t host_rsp;       /* the monitor's stack while guest code runs */
    uint64_t exit_routine;   /* address of the exit path every stub jumps to */

    /* Written by exit stubs. */
    uint64_t exit_link; /* r14 at exit: host address of the jump to patch, or 0 */
    uint32_t next_eip;
    uint32_t exit_reason;

    /* Set by the event nudge (a device deadline passed, or host input
     * came; signals.c), which also makes translated code return; cleared
     * by the monitor. */
    volatile uint32_t event_pending;

    struct vcpu_host_fault host_fault;

    /* The callout's guest mnemonic (ZydisMnemonic), stored by its exit. */
    uint32_t callout_mnemonic;
    /* EXIT_RAISE: the exception, with its error code (always pushed). */
    uint32_t raise_vector;
    uint32_t raise_error;

    /* EFLAGS.IF while translated code runs: CPL-0 cli/sti are a store here
     * (translator/translate.c). The trampoline loads it from arch.eflags on
     * entry and merges it back on every exit. */
    uint8_t virtual_if;
    /* Set by the monitor before entry when an interrupt is waiting for IF
     * (devices/irq.h): an inline sti then calls out instead, so that it
     * is delivered. */
    uint8_t irq_waiting;
    /* The instruction after the last inline sti: an exit there keeps the
     * interrupt shadow (SDM vol. 2, STI). */
    uint32_t sti_shadow_eip;
    /* The guest executed VERW to have the CPU's buffers overwritten (an
     * MDS mitigation) since guest code last ran at CPL 3: the monitor does
     * it for real just before it next enters CPL-3 code, when nothing of its
     * own (an IRET's emulation reading the guest kernel's stack) runs
     * between the clearing and the less trusted code. */
    uint8_t clear_buffers_due;
    /* A two-slot stack inline pushf borrows to read RFLAGS (pushfq) without
     * touching the guest's stack (RSP is the guest's ESP). */
    uint64_t flags_scratch[2] __attribute__((aligned(16)));

    /* FS and GS are addressed as seg_view[FS or GS] + (offset + base mod
     * 2^32) (translator/rewrite.h): the view's base (r13), or
     * VCPU_SEG_VIEW_UNUSABLE past it when the register holds a null
     * selector, which puts every access in the guard above the view, where
     * the monitor emulates it and raises the #GP(0) (SDM vol. 3, §3.4.2).
     * Neither their bases nor their usability is then part of the mode key:
     * the kernel runs with the user's GS, null in one process and TLS in the
     * next, and every kernel block would otherwise exist twice (and thrash
     * the indirect-branch table). Set by the monitor before each entry;
     * the other elements are unused. */
    uint64_t seg_view[SEG_COUNT];

    /* Indirect-branch lookup (translator/translate.c emits the probe): the
     * mode key of the running code in the upper half, and a count of probes. */
    uint64_t ibl_mode_tag;
    uint64_t ibl_lookups;

    /* Set = the low 16 bits of the guest target; entry = set * 2 + way.
     * Two ways, because one target is often looked up under two mode keys
     * in turn (a kernel function called while user GS is null and while it
     * holds TLS: a Linux fork+exec thrashed a direct-mapped table). Each
     * entry holds the one's complement of (eip | mode key << 32), so
     * translated code can compare with lea and jrcxz instead of
     * flag-changing instructions. The monitor keeps the most recently
     * filled entry of a set in way 0, which is probed first. */
    struct vcpu_ibl_entry {
        uint64_t not_tag;
        uint64_t host_code;
    } ibl[VCPU_IBL_ENTRIES];

    /* The guest's XMM0-7 and MXCSR while the monitor runs C code, in
     * fxsave layout; its x87/MMX state stays live in the registers
     * (monitor/trampoline.c). */
    uint8_t fpu_state[512] __attribute__((aligned(16)));
};

/* Offsets in an FXSAVE image (SDM vol. 1, table 10-2). */
#define FXSAVE_MXCSR     24
#define FXSAVE_MXCSR_MSK 28
#define FXSAVE_XMM0      160

#define VCPU_OFFSET(field) ((int32_t)offsetof(struct vcpu, field))

/* The guest arithmetic flags and DF, which live in host RFLAGS while
 * translated code runs (SDM vol. 1, §3.4.3). */
#define VCPU_HOST_FLAGS_MASK \
    (EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_DF | EFLAGS_OF)

#endif
