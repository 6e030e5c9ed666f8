/*
 * bench/paging/paging_bench.h — what the memory-virtualization benchmark
 * kernels share: how they fail and how they fold values into a checksum.
 */
#ifndef POPEK_BENCH_PAGING_BENCH_H
#define POPEK_BENCH_PAGING_BENCH_H

#include "paging.h"

/* Prints "<name> FAIL: <message>" and exits with code 1. */
__attribute__((noreturn, format(printf, 2, 3))) static void bench_fail(const char *name,
                                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_printf("%s FAIL: ", name);
    rt_vprintf(fmt, ap);
    rt_printf("\n");
    va_end(ap);
    rt_exit(RT_EXIT_FAIL);
}

/* FNV-1a step plus a shift, so that high bits reach the low ones (plain
 * FNV-1a never carries a difference downwards). */
static inline uint32_t mix(uint32_t h, uint32_t v)
{
    h = (h ^ v) * 16777619u;
    return h ^ (h >> 15);
}

#endif
