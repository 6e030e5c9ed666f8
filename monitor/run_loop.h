/*
 * monitor/run_loop.h — the dispatcher: find or translate the block at EIP,
 * chain it to the exit that led here, enter it, and handle why it came back.
 */
#ifndef POPEK_MONITOR_RUN_LOOP_H
#define POPEK_MONITOR_RUN_LOOP_H

#include "cache/tcache.h"
#include "devices/ioport.h"
#include "devices/mmio.h"
#include "devices/irq.h"
#include "devices/platform.h"
#include "monitor/host_timer.h"
#include "monitor/vcpu_runtime.h"
#include "shadowpt/guest_ram.h"
#include "shadowpt/shadow.h"

struct run_env {
    struct vcpu *cpu;
    struct tcache *tc;
    struct guest_ram *ram;
    struct ioport_bus *io;
    struct mmio_bus *mmio;
    struct irq_router *irq;    /* the interrupt controllers, as the CPU sees them */
    struct platform *platform; /* every device with a clock or host input */
    struct host_timer *timer;
    struct shadow_mmu *mmu;
    bool (*exit_requested)(void *ctx, int *status);
    /* Non-NULL once a device pulled the reset line: what it did. */
    const char *(*reset_requested)(void *ctx);
    /* Writes out the console output the devices still buffer, so that a
     * message popek prints on stderr comes after the guest's lines before
     * it when both go to one file (optional). */
    void (*flush_output)(void *ctx);
    void *ctx;
    bool no_reboot;
    bool collect_stats;  /* also count what costs time to count (indirect-branch probes) */
    bool no_adaptive;    /* never retranslate trapping instructions as callouts */
    uint64_t stop_at_ns; /* --time-limit as a monotonic deadline, or HOST_TIMER_NEVER */
};

#define RUN_STATS_MNEMONICS 2048 /* > ZYDIS_MNEMONIC_MAX_VALUE */

struct run_stats {
    uint64_t exits_branch, exits_callout, exits_fault, exits_raise;
    uint64_t callouts_chained; /* run after another callout in the same exit */
    uint64_t events;           /* event nudges the monitor took (deadlines, input) */
    uint64_t exceptions_delivered, interrupts_delivered;
    uint64_t ibl_misses;
    uint64_t stale_callouts; /* callout blocks whose bytes had changed under them */
    uint64_t signals_segv, signals_fpe, signals_other;
    uint64_t smc_write_faults;        /* stores that hit a write-protected code page */
    uint64_t page_faults_delivered;   /* guest #PF, from translated code or emul/ */
    uint64_t shadow_fill_faults;      /* host faults that only needed a shadow fill */
    uint64_t mmio_faults;             /* host faults on device (or absent) memory */
    uint64_t page_table_write_faults; /* host faults that unsynced a guest page table */
    uint64_t adaptive_retranslations; /* blocks dropped to emulate a trapping instruction */
    uint64_t adaptive_emulations;     /* instructions emulated from such callouts */
    uint64_t adaptive_restores;       /* instructions put back in place after probation */
    uint64_t adaptive_would_trap;     /* emulations whose access would have trapped in place */
    uint64_t adaptive_would_not_trap; /* ... would not have trapped */
    uint64_t direct_movs;             /* faulting or emulated movs done without a bounce block */
    uint64_t bounce_executions;       /* accesses re-executed against the bounce buffer */
    uint64_t implicit_emulations;     /* string/stack accesses emulated by emul/ */
    uint64_t callouts[RUN_STATS_MNEMONICS]; /* by guest mnemonic */
};

#define RUN_RESET (-1) /* the guest reset the machine (a triple fault or a device) */

/* Runs until the machine asks to stop (env->exit_requested: the
 * debug-exit port, ACPI power-off; returns its status), resets the machine
 * (RUN_RESET) or stops (returns 1 with err describing why: unsupported
 * instruction, triple fault with -no-reboot, halted forever, time limit).
 * With -no-reboot a reset by a device ends the run with status 0 (as QEMU),
 * err saying which device. */
int run_loop(const struct run_env *env, struct run_stats *stats, struct popek_error *err);

#endif
