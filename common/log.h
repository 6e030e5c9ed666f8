/*
 * common/log.h — QEMU-style debug logging (`-d ITEMS`, `-D FILE`).
 *
 * Each item is one bit; code asks log_enabled() before doing any work to
 * produce a message, so a disabled item costs one load and a test.
 */
#ifndef POPEK_COMMON_LOG_H
#define POPEK_COMMON_LOG_H

#include <stdbool.h>
#include <stdio.h>

#include "common/error.h"

enum log_item {
    LOG_BOOT = 1u << 0,      /* loader: where segments went, initial vCPU state */
    LOG_IN_ASM = 1u << 1,    /* guest code of each new translated block */
    LOG_OUT_ASM = 1u << 2,   /* host code emitted for each new block */
    LOG_INT = 1u << 3,       /* exceptions and interrupts delivered to the guest */
    LOG_EXEC = 1u << 4,      /* each block executed (very verbose; no chaining) */
    LOG_CPU = 1u << 5,       /* register state at each callout/exit */
    LOG_IOPORT = 1u << 6,    /* port I/O accesses */
    LOG_MMU = 1u << 7,       /* shadow paging: CR3 loads, INVLPG, adaptive retranslations */
    LOG_STATS = 1u << 9,     /* human summary of the statistics at exit */
    LOG_PLATFORM = 1u << 10, /* APIC programming popek drops, ACPI sleep and power-off */
    LOG_PERFMAP = 1u << 11,  /* /tmp/perf-PID.map naming each block for perf(1) */
};

extern unsigned log_mask;
extern FILE *log_stream; /* stderr unless -D FILE */

static inline bool log_enabled(enum log_item item)
{
    return (log_mask & item) != 0;
}

/* Parses a comma-separated item list ("boot,in_asm"); "help" is rejected
 * here and handled by the CLI. */
bool log_parse_items(const char *list, unsigned *mask, struct popek_error *err);

/* Prints the item names and their meaning, one per line. */
void log_print_items(FILE *out);

/* Opens the -D file; the stream stays open until exit. */
bool log_open_file(const char *path, struct popek_error *err);

void log_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
