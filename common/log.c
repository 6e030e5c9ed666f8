/*
 * common/log.c — the -d item table and the log stream (see log.h).
 */
#include "common/log.h"
#include "common/types.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

unsigned log_mask;
FILE *log_stream;

static const struct {
    const char *name;
    unsigned mask;
    const char *help;
} log_items[] = {
    {"boot", LOG_BOOT, "show where the loader put each segment and the initial vCPU state"},
    {"in_asm", LOG_IN_ASM, "show the guest code of each translated block"},
    {"out_asm", LOG_OUT_ASM, "show the host code generated for each translated block"},
    {"int", LOG_INT, "show exceptions and interrupts delivered to the guest"},
    {"exec", LOG_EXEC, "show each translated block as it is executed (disables chaining)"},
    {"cpu", LOG_CPU, "show the vCPU state at each exit from translated code"},
    {"ioport", LOG_IOPORT, "show guest port I/O"},
    {"mmu", LOG_MMU, "show CR3 loads, INVLPGs and instructions switched to emulation"},
    {"stats", LOG_STATS, "print a summary of the statistics at exit"},
    {"platform", LOG_PLATFORM,
     "show ACPI power-off and sleep requests and APIC messages popek does not model"},
    {"perfmap", LOG_PERFMAP,
     "write /tmp/perf-PID.map, naming each translated block for perf report"},
};

bool log_parse_items(const char *list, unsigned *mask, struct popek_error *err)
{
    unsigned result = 0;
    const char *p = list;

    while (*p) {
        size_t len = strcspn(p, ",");
        size_t i;

        for (i = 0; i < ARRAY_SIZE(log_items); i++) {
            if (strlen(log_items[i].name) == len && strncmp(p, log_items[i].name, len) == 0)
                break;
        }
        if (i == ARRAY_SIZE(log_items))
            return popek_fail(err, "-d: unknown log item '%.*s' (try -d help)", (int)len, p);
        result |= log_items[i].mask;
        p += len;
        if (*p == ',')
            p++;
    }
    *mask = result;
    return true;
}

void log_print_items(FILE *out)
{
    fprintf(out, "Log items (comma separated):\n");
    for (size_t i = 0; i < ARRAY_SIZE(log_items); i++)
        fprintf(out, "%-13s %s\n", log_items[i].name, log_items[i].help);
}

bool log_open_file(const char *path, struct popek_error *err)
{
    FILE *f = fopen(path, "w");

    if (!f)
        return popek_fail(err, "-D: cannot open log file '%s': %s", path, strerror(errno));
    setvbuf(f, NULL, _IOLBF, 0);
    log_stream = f;
    return true;
}

void log_printf(const char *fmt, ...)
{
    va_list ap;
    FILE *out = log_stream ? log_stream : stderr;

    va_start(ap, fmt);
    vfprintf(out, fmt, ap);
    va_end(ap);
}
