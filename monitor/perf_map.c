/*
 * monitor/perf_map.c — /tmp/perf-PID.map for perf(1) (see perf_map.h).
 */
#include "monitor/perf_map.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static FILE *perf_map;

bool perf_map_open(struct popek_error *err)
{
    char path[64];

    snprintf(path, sizeof(path), "/tmp/perf-%ld.map", (long)getpid());
    perf_map = fopen(path, "w");
    if (!perf_map)
        return popek_fail(err, "-d perfmap: cannot create %s: %s", path, strerror(errno));
    return true;
}

void perf_map_block(const void *code, uint32_t code_size, uint32_t guest_eip, unsigned cpl)
{
    if (!perf_map)
        return;
    fprintf(perf_map, "%" PRIxPTR " %" PRIx32 " guest:%08" PRIx32 "/cpl%u\n", (uintptr_t)code,
            code_size, guest_eip, cpl);
}

void perf_map_close(void)
{
    if (perf_map)
        fclose(perf_map);
    perf_map = NULL;
}
