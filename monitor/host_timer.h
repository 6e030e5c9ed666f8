/*
 * monitor/host_timer.h — waking translated code when a device deadline passes.
 *
 * A POSIX timer armed for the earliest device deadline (the PIT's next OUT
 * edge) sends the nudge signal straight to the vCPU thread, whose handler
 * sets the vCPU's event flag and makes the running translated block return
 * to the monitor (monitor/signals.c). Threads that feed host input call
 * host_timer_wake, which does the same with pthread_kill. The vCPU thread
 * then updates the devices: all device state stays on the vCPU thread.
 *
 * There is no timer thread. A second thread sharing the address space puts
 * the process's mm on a second CPU, and every mmap, munmap and mprotect the
 * shadow MMU makes then sends that CPU a TLB-shootdown IPI — about 5% of a
 * fork+exec-heavy Linux guest's time on our machines.
 */
#ifndef POPEK_MONITOR_HOST_TIMER_H
#define POPEK_MONITOR_HOST_TIMER_H

#include <pthread.h>
#include <stdint.h>

#include "common/clock.h" /* host_monotonic_ns: the clock the timer counts on */
#include "common/error.h"

#define HOST_TIMER_NEVER UINT64_MAX

struct host_timer;

/* A timer that nudges the calling thread with `nudge_signal`, whose handler
 * sets *flag; host_timer_wake sets *flag itself. */
struct host_timer *host_timer_create(volatile uint32_t *flag, int nudge_signal,
                                     struct popek_error *err);
void host_timer_destroy(struct host_timer *t);

/* Arms the timer for absolute monotonic time `deadline_ns` (or disarms it
 * with HOST_TIMER_NEVER). Re-arming with the current deadline is free. */
void host_timer_arm(struct host_timer *t, uint64_t deadline_ns);

/* Sleeps the timer's thread until monotonic time deadline_ns (forever with
 * HOST_TIMER_NEVER) or until *woken is set. The nudge signal is unblocked
 * only inside the sleep (ppoll), so a nudge that comes between the check
 * of *woken and the sleep ends the sleep instead of being lost. */
void host_timer_sleep_until(struct host_timer *t, uint64_t deadline_ns,
                            const volatile uint32_t *woken);

/* Thread-safe: sets the flag and nudges the timer's thread now (an input
 * thread's "service the devices"). */
void host_timer_wake(struct host_timer *t);

#endif
