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

#define VCPU_IBL_ENTRIES 65536

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

    /* Set by the device timer thread when a deadline passed (together with
     * a signal that makes translated code return); cleared by the monitor. */
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
    /* A two-slot stack inline pushf borrows to read RFLAGS (pushfq) without
     * touching the guest's stack (RSP is the guest's ESP). */
    uint64_t flags_scratch[2] __attribute__((aligned(16)));

    /* Indirect-branch lookup (translator/translate.c emits the probe): the
     * mode key of the running code in the upper half, and a count of probes. */
    uint64_t ibl_mode_tag;
    uint64_t ibl_lookups;

    /* Indexed by the low 16 bits of the guest target. Each entry holds the
     * one's complement of (eip | mode key << 32), so translated code can
     * compare with lea and jrcxz instead of flag-changing instructions. */
    struct vcpu_ibl_entry {
        uint64_t not_tag;
        uint64_t host_code;
    } ibl[VCPU_IBL_ENTRIES];

    /* The guest's XMM0-7 and MXCSR while the monitor runs C code, in
     * fxsave layout; its x87/MMX state stays live in the registers
     * (monitor/trampoline.c). */
    uint8_t fpu_state[512] __attribute__((aligned(16)));
};

#define VCPU_OFFSET(field) ((int32_t)offsetof(struct vcpu, field))

/* The guest arithmetic flags and DF, which live in host RFLAGS while
 * translated code runs (SDM vol. 1, §3.4.3). */
#define VCPU_HOST_FLAGS_MASK \
    (EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_DF | EFLAGS_OF)

#endif
