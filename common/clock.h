/*
 * common/clock.h — the host's monotonic clock, which the guest's devices,
 * popek's deadlines and its own measurements all read.
 */
#ifndef POPEK_COMMON_CLOCK_H
#define POPEK_COMMON_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t host_monotonic_ns(void);

#endif
