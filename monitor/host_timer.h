/*
 * monitor/host_timer.h — waking translated code when a device deadline passes.
 *
 * A host thread sleeps on a timerfd armed for the earliest device deadline
 * (the PIT's next OUT edge). When it fires, the thread sets the vCPU's
 * event flag and nudges the vCPU thread with a signal, whose handler makes
 * the running translated block return to the monitor (monitor/signals.c);
 * the nudge repeats every millisecond until the monitor takes the flag.
 * The vCPU thread then updates the devices: all device state stays on the
 * vCPU thread, the timer thread touches only the flag.
 */
#ifndef POPEK_MONITOR_HOST_TIMER_H
#define POPEK_MONITOR_HOST_TIMER_H

#include <pthread.h>
#include <stdint.h>

#include "common/error.h"

#define HOST_TIMER_NEVER UINT64_MAX

struct host_timer;

/* The monotonic clock in nanoseconds (the guest's devices run on it). */
uint64_t host_monotonic_ns(void);

/* `target` is the thread to nudge with `nudge_signal`. */
struct host_timer *host_timer_create(volatile uint32_t *flag, pthread_t target, int nudge_signal,
                                     struct popek_error *err);
void host_timer_destroy(struct host_timer *t);

/* Arms the timer for absolute monotonic time `deadline_ns` (or disarms it
 * with HOST_TIMER_NEVER). Re-arming with the current deadline is free. */
void host_timer_arm(struct host_timer *t, uint64_t deadline_ns);

/* Sleeps the calling thread until monotonic time deadline_ns (forever with
 * HOST_TIMER_NEVER), or until *woken is set; a signal ends the sleep only
 * then (the timer thread's nudge is such a signal). */
void host_sleep_until(uint64_t deadline_ns, const volatile uint32_t *woken);

/* Thread-safe: sets the flag and nudges the target thread now, and keeps
 * nudging it every millisecond until the flag is taken (an input thread's
 * "service the devices"). */
void host_timer_wake(struct host_timer *t);

#endif
