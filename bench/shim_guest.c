/*
 * bench/shim_guest.c — runs a workload as a multiboot kernel on the
 * guest-tests runtime: prints "<name> <checksum>" on COM1 and exits through
 * the isa-debug-exit port with code 0 (QEMU's process status is then 1).
 *
 * The runtime's stack is 64 KiB; the recursion workload goes deeper than
 * that, so the workload runs on a 1 MiB stack of its own in .bss.
 */
#include "bench.h"
#include "rt.h"

#define BENCH_STACK_SIZE (1u << 20)

static uint8_t bench_stack[BENCH_STACK_SIZE] __attribute__((aligned(16)));

/* Calls bench_run() with ESP at the (16-byte aligned) top of bench_stack and
 * switches back afterwards. ESI holds the old ESP across the call: it is
 * callee-saved, so bench_run() preserves it, and listed as clobbered, so the
 * compiler saves our caller's value. */
static uint32_t run_on_own_stack(void)
{
    uint32_t sum;
    __asm__ volatile("movl %%esp, %%esi\n\t"
                     "movl %1, %%esp\n\t"
                     "call bench_run\n\t"
                     "movl %%esi, %%esp"
                     : "=a"(sum)
                     : "D"(bench_stack + BENCH_STACK_SIZE)
                     : "ecx", "edx", "esi", "memory", "cc");
    return sum;
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    uint32_t sum = run_on_own_stack();
    rt_printf("%s %08x\n", bench_name, (unsigned)sum);
    rt_exit(0);
}
