/*
 * monitor/stats.c — the statistics report, as JSON and as a summary.
 */
#include "monitor/stats.h"

#include <errno.h>
#include <string.h>

/* Appends the item after the last one of its group, so that a group is
 * always one run of items (one JSON object), whatever order they come in. */
static void insert_item(struct stats_report *r, struct stats_item item)
{
    unsigned at = r->count;

    if (r->count == STATS_MAX_ITEMS)
        return;
    for (unsigned i = r->count; i > 0; i--) {
        if (strcmp(r->items[i - 1].group, item.group) == 0) {
            at = i;
            break;
        }
    }
    memmove(&r->items[at + 1], &r->items[at], (r->count - at) * sizeof(r->items[0]));
    r->items[at] = item;
    r->count++;
}

void stats_add(struct stats_report *r, const char *group, const char *name, uint64_t value)
{
    insert_item(r, (struct stats_item){.group = group, .name = name, .value = value});
}

void stats_add_ratio(struct stats_report *r, const char *group, const char *name,
                     uint64_t numerator, uint64_t denominator)
{
    insert_item(r, (struct stats_item){
                       .group = group,
                       .name = name,
                       .real = denominator ? (double)numerator / (double)denominator : 0.0,
                       .is_real = 1,
                   });
}

static void write_value(FILE *f, const struct stats_item *it)
{
    if (it->is_real)
        fprintf(f, "%.6f", it->real);
    else
        fprintf(f, "%llu", (unsigned long long)it->value);
}

bool stats_write_json(const struct stats_report *r, const char *path, struct popek_error *err)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return popek_fail(err, "--stats: cannot write '%s': %s", path, strerror(errno));
    fprintf(f, "{");
    /* A group is one run of items (insert_item). */
    for (unsigned i = 0; i < r->count; i++) {
        const struct stats_item *it = &r->items[i];
        bool first_of_group = i == 0 || strcmp(r->items[i - 1].group, it->group) != 0;
        bool last_of_group = i + 1 == r->count || strcmp(r->items[i + 1].group, it->group) != 0;

        if (first_of_group)
            fprintf(f, "%s\n  \"%s\": {", i ? "," : "", it->group);
        fprintf(f, "%s\n    \"%s\": ", first_of_group ? "" : ",", it->name);
        write_value(f, it);
        if (last_of_group)
            fprintf(f, "\n  }");
    }
    fprintf(f, "\n}\n");
    if (fclose(f) != 0)
        return popek_fail(err, "--stats: cannot write '%s': %s", path, strerror(errno));
    return true;
}

void stats_print_summary(const struct stats_report *r, FILE *out)
{
    const char *group = NULL;

    fprintf(out, "popek statistics\n");
    for (unsigned i = 0; i < r->count; i++) {
        const struct stats_item *it = &r->items[i];

        if (!group || strcmp(group, it->group) != 0) {
            group = it->group;
            fprintf(out, "  %s:\n", group);
        }
        fprintf(out, "    %-32s ", it->name);
        if (it->is_real)
            fprintf(out, "%.4f\n", it->real);
        else
            fprintf(out, "%llu\n", (unsigned long long)it->value);
    }
}
