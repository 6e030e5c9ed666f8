/*
 * monitor/trampoline.h — crossing between the monitor and translated code.
 *
 * tc_enter() saves the host's callee-saved registers and stack pointer in the
 * vCPU, loads the guest's registers, arithmetic flags and FPU/SSE state into
 * the host CPU (DESIGN.md §2 register convention) and jumps into the cache.
 * It returns when translated code jumps to tc_exit_routine (the address every
 * exit stub reaches through [r15 + exit_routine]); by then the guest's state
 * is back in the vCPU and exit_reason says why.
 *
 * tc_fault_landing is where the host signal handler sends a thread that
 * faulted inside translated code, after it copied the guest registers out of
 * the signal frame: it finishes the exit exactly like tc_exit_routine.
 */
#ifndef POPEK_MONITOR_TRAMPOLINE_H
#define POPEK_MONITOR_TRAMPOLINE_H

#include "monitor/vcpu_runtime.h"

void tc_enter(struct vcpu *cpu, const void *code);
void tc_exit_routine(void);
void tc_fault_landing(void);

#endif
