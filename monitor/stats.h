/*
 * monitor/stats.h — one place where popek's counters are reported.
 *
 * Modules keep their own counters in plain structs (cheap increments on hot
 * paths, no lookups). At the end of a run the machine gathers them into a
 * stats_report — named values in named groups — which is written as JSON
 * (`--stats FILE`) and as a short human summary (`-d stats`).
 */
#ifndef POPEK_MONITOR_STATS_H
#define POPEK_MONITOR_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

#define STATS_MAX_ITEMS 512

struct stats_item {
    const char *group;
    const char *name;
    uint64_t value;
    double real; /* for ratios (is_real) */
    int is_real;
};

struct stats_report {
    unsigned count;
    struct stats_item items[STATS_MAX_ITEMS];
};

void stats_add(struct stats_report *r, const char *group, const char *name, uint64_t value);
void stats_add_ratio(struct stats_report *r, const char *group, const char *name,
                     uint64_t numerator, uint64_t denominator);

/* Writes {"group": {"name": value, ...}, ...}. */
bool stats_write_json(const struct stats_report *r, const char *path, struct popek_error *err);
void stats_print_summary(const struct stats_report *r, FILE *out);

#endif
