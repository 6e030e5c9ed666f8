/*
 * monitor/perf_map.h — a perf(1) map of the translation cache (`-d perfmap`).
 *
 * perf attributes samples in JIT code through /tmp/perf-PID.map, one line
 * "START SIZE NAME" per code region (the convention of tools/perf's
 * Documentation/jit-interface.txt). popek writes a line for every block it
 * translates, named after the guest address and mode, so `perf report`
 * shows which guest code the host's time went to. A flush reuses arena
 * addresses; later lines describe the newer blocks.
 */
#ifndef POPEK_MONITOR_PERF_MAP_H
#define POPEK_MONITOR_PERF_MAP_H

#include <stdint.h>

#include "common/error.h"

/* Creates /tmp/perf-<pid>.map (truncating an older one). */
bool perf_map_open(struct popek_error *err);

/* Records one block; a no-op when the map is not open. */
void perf_map_block(const void *code, uint32_t code_size, uint32_t guest_eip, unsigned cpl);

void perf_map_close(void);

#endif
