/*
 * bench/shim_native.c — runs a workload as an ordinary x86-64 Linux program:
 * the "native proxy", the speed of light popek is measured against.
 *
 * This host cannot execute 32-bit code natively, so the proxy is the same C
 * source compiled for x86-64. 64-bit code has twice the general registers
 * (and a register calling convention), so the proxy is slightly optimistic:
 * a real 32-bit run on this CPU would be a little slower, and popek/native
 * ratios are therefore slightly pessimistic for popek.
 */
#include <stdio.h>

#include "bench.h"

int main(void)
{
    uint32_t sum = bench_run();
    printf("%s %08x\n", bench_name, (unsigned)sum);
    return 0;
}
