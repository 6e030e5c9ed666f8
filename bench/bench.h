/*
 * bench/bench.h — the interface between a CPU workload and the platform shim
 * that runs it.
 *
 * Every workload in workloads/<name>.c is plain, portable C that is compiled
 * twice from the same file: for the guest (a 32-bit multiboot kernel on the
 * guest-tests runtime, shim_guest.c) and for the host (an ordinary x86-64
 * Linux program, shim_native.c). A workload defines bench_name and
 * bench_run(); the shim calls bench_run() once and prints
 *
 *     <bench_name> <checksum as 8 lowercase hex digits>\n
 *
 * so that the outputs of all builds can be compared byte for byte.
 *
 * Rules for workloads, so that both builds compute the same thing:
 *  - only fixed-width types; no long, no pointer-sized arithmetic in the
 *    checksum, no floating point;
 *  - no 64-bit division or modulo (the guest has no libgcc);
 *  - no library calls (the guest has no libc beyond runtime/string.c), and
 *    big data in static arrays (the guest has no heap);
 *  - a workload that verifies its own result returns BENCH_VERIFY_FAILED
 *    when the verification fails.
 */
#ifndef POPEK_BENCH_H
#define POPEK_BENCH_H

#include <stdint.h>

#define BENCH_VERIFY_FAILED 0u

extern const char bench_name[];
uint32_t bench_run(void);

/* Marsaglia's xorshift32 (13, 17, 5); the state must not be 0. */
static inline uint32_t bench_xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* Folds a value into a running checksum (FNV-1a style on 32-bit words). */
static inline uint32_t bench_mix(uint32_t h, uint32_t v)
{
    return (h ^ v) * 16777619u;
}

#endif
