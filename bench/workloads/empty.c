/*
 * empty — does nothing: measures the fixed cost of a run (process start,
 * firmware or loader, kernel load, runtime start-up, exit), which every
 * other workload's whole-process time includes.
 */
#include "bench.h"

const char bench_name[] = "empty";

uint32_t bench_run(void)
{
    return 0;
}
