/*
 * monitor/host_timer.h — waking translated code when a device deadline passes.
 *
 * Translated code polls vcpu->event_pending at every block entry (one load
 * and a jrcxz); nothing else interrupts it. A host thread sleeps on a
 * timerfd armed for the earliest device deadline (the PIT's next OUT edge)
 * and, when it fires, sets the flag. The vCPU thread then leaves the cache
 * at the next block entry and updates the devices — all device state stays
 * on the vCPU thread; the timer thread touches only the flag.
 */
#ifndef POPEK_MONITOR_HOST_TIMER_H
#define POPEK_MONITOR_HOST_TIMER_H

#include <stdint.h>

#include "common/error.h"

#define HOST_TIMER_NEVER UINT64_MAX

struct host_timer;

/* The monotonic clock in nanoseconds (the guest's devices run on it). */
uint64_t host_monotonic_ns(void);

struct host_timer *host_timer_create(volatile uint32_t *flag, struct popek_error *err);
void host_timer_destroy(struct host_timer *t);

/* Arms the timer for absolute monotonic time `deadline_ns` (or disarms it
 * with HOST_TIMER_NEVER). Re-arming with the current deadline is free. */
void host_timer_arm(struct host_timer *t, uint64_t deadline_ns);

/* Sleeps the calling thread until `deadline_ns` (HLT with a timer pending). */
void host_sleep_until(uint64_t deadline_ns);

#endif
