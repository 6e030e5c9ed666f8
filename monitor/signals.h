/*
 * monitor/signals.h — host signals raised by translated code.
 *
 * A fault inside the translation cache (a guest #DE, an access to an unmapped
 * part of a view) arrives as SIGSEGV/SIGBUS/SIGFPE on the thread that runs
 * guest code, on an alternate stack (the guest's ESP is in RSP). The handler
 * maps the host RIP to the guest instruction through the block metadata,
 * copies the guest registers out of the signal frame, and resumes the thread
 * at tc_fault_landing with exit_reason = EXIT_FAULT: a precise guest state
 * at the faulting instruction, handled by the monitor in ordinary C.
 *
 * A fault anywhere else is a popek bug: the handler restores the terminal
 * (devices/chardev.h) and the default action, so the process dies with the
 * usual diagnostics.
 */
#ifndef POPEK_MONITOR_SIGNALS_H
#define POPEK_MONITOR_SIGNALS_H

#include <signal.h>

#include "cache/tcache.h"
#include "common/error.h"
#include "monitor/vcpu_runtime.h"

/* The signal the device timer and input threads send to the vCPU thread
 * when an event is pending (see event_nudge_handler in signals.c). */
#define SIGNAL_EVENT_NUDGE SIGUSR1

/* Installs the handlers and this thread's alternate stack. */
bool signals_install(struct popek_error *err);

/* The vCPU and cache the current thread runs (NULL when none). */
void signals_set_current(struct vcpu *cpu, struct tcache *tc);

/* Brackets every entry into translated code at `code` (after the
 * indirect-branch tag is set): a nudge from the bracket's start on makes
 * the entered block return to the monitor when it ends, and one that came
 * earlier and left the event flag set does the same. Without it, a nudge
 * landing just before the entry would be lost and chained code could run
 * on long past the event. */
void signals_begin_entry(const void *code);
void signals_end_entry(void);

#endif
