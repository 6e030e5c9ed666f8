/*
 * cli/options.c — parsing popek's command line (options.h).
 *
 * The parser is a table: each option names how many arguments it takes and
 * the function that stores it, so the usage text and the parser cannot drift.
 */
#include "cli/options.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/types.h"
#include "devices/uart16550.h"
#include "shadowpt/guest_ram.h"
#include "shadowpt/shadow.h"

typedef bool (*option_store_fn)(struct popek_options *opts, const char *arg,
                                struct popek_error *err);

struct option_spec {
    const char *name; /* without leading dashes */
    const char *arg;  /* argument name for the usage text, NULL for flags */
    option_store_fn store;
    const char *help;
    bool popek_only; /* popek's own option: shown with "--" in the usage text */
};

static bool store_kernel(struct popek_options *o, const char *a, struct popek_error *e)
{
    o->kernel = a;
    return true;
}

static bool store_append(struct popek_options *o, const char *a, struct popek_error *e)
{
    o->append = a;
    return true;
}

static bool store_initrd(struct popek_options *o, const char *a, struct popek_error *e)
{
    o->initrd = a;
    return true;
}

static bool store_memory(struct popek_options *o, const char *a, struct popek_error *e)
{
    uint64_t bytes;

    if (!options_parse_size(a, &bytes, e))
        return false;
    if (bytes < GUEST_RAM_MIN_SIZE || bytes > GUEST_RAM_MAX_SIZE)
        return popek_fail(e, "-m: %s is out of range (%llu MiB to %llu MiB)", a,
                          (unsigned long long)(GUEST_RAM_MIN_SIZE >> 20),
                          (unsigned long long)(GUEST_RAM_MAX_SIZE >> 20));
    if (bytes % GUEST_PAGE_SIZE)
        return popek_fail(e, "-m: %s is not a multiple of 4 KiB", a);
    o->ram_bytes = bytes;
    return true;
}

static bool store_no_reboot(struct popek_options *o, const char *a, struct popek_error *e)
{
    o->no_reboot = true;
    return true;
}

static bool store_log_items(struct popek_options *o, const char *a, struct popek_error *e)
{
    unsigned mask;

    if (strcmp(a, "help") == 0) {
        o->action = OPTIONS_LOG_HELP;
        return true;
    }
    if (!log_parse_items(a, &mask, e))
        return false;
    o->log_mask |= mask;
    return true;
}

static bool store_log_file(struct popek_options *o, const char *a, struct popek_error *e)
{
    o->log_file = a;
    return true;
}

static bool store_nographic(struct popek_options *o, const char *a, struct popek_error *e)
{
    return true; /* popek has no display: COM1 is on stdio unless -serial says otherwise */
}

/* QEMU's -serial: stdio, file:PATH, null or none; given twice, the second
 * is COM2. */
static bool store_serial(struct popek_options *o, const char *a, struct popek_error *e)
{
    struct chardev_spec spec = {CHARDEV_NONE, NULL};
    unsigned port = o->serial_count;

    if (strcmp(a, "stdio") == 0)
        spec.kind = CHARDEV_STDIO;
    else if (strcmp(a, "null") == 0)
        spec.kind = CHARDEV_NULL;
    else if (strcmp(a, "none") == 0)
        spec.kind = CHARDEV_NONE;
    else if (strncmp(a, "file:", 5) == 0 && a[5])
        spec = (struct chardev_spec){CHARDEV_FILE, a + 5};
    else
        return popek_fail(e, "-serial: unknown backend '%s' (stdio, file:PATH, null or none)", a);
    if (port == MACHINE_SERIAL_PORTS)
        return popek_fail(e, "-serial: '%s' is one too many (COM1 and COM2 only)", a);
    for (unsigned i = 0; i < port; i++) {
        if (spec.kind == CHARDEV_STDIO && o->serial[i].kind == CHARDEV_STDIO)
            return popek_fail(e, "-serial: stdio can back only one serial port");
    }
    o->serial[port] = spec;
    o->serial_count++;
    return true;
}

static bool store_mode(struct popek_options *o, const char *a, struct popek_error *e)
{
    if (strcmp(a, "bt") == 0)
        o->mode = EXEC_MODE_BT;
    else if (strcmp(a, "te") == 0)
        o->mode = EXEC_MODE_TE;
    else
        return popek_fail(e, "--mode: unknown mode '%s' (bt or te)", a);
    return true;
}

static bool store_stats(struct popek_options *o, const char *a, struct popek_error *e)
{
    o->stats_file = a;
    return true;
}

static bool store_time_limit(struct popek_options *o, const char *a, struct popek_error *e)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(a, &end, 10);
    if (!isdigit((unsigned char)a[0]) || *end || errno || v == 0 || v > 86400)
        return popek_fail(e, "--time-limit: '%s' is not a number of seconds (1 to 86400)", a);
    o->time_limit_s = (unsigned)v;
    return true;
}

static bool store_tc_size(struct popek_options *o, const char *a, struct popek_error *e)
{
    uint64_t bytes;

    if (!options_parse_size(a, &bytes, e))
        return popek_fail(e, "--tc-size: '%s' is not a size (e.g. 64M, 512k)", a);
    if (bytes < KIB(16) || bytes > GIB(1))
        return popek_fail(e, "--tc-size: %s is out of range (16k to 1G)", a);
    o->tc_bytes = bytes;
    return true;
}

static bool store_address_spaces(struct popek_options *o, const char *a, struct popek_error *e)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(a, &end, 10);
    if (!isdigit((unsigned char)a[0]) || *end || errno || v < 1 || v > SHADOW_MAX_SPACES)
        return popek_fail(e, "--address-spaces: '%s' is not a number from 1 to %u", a,
                          SHADOW_MAX_SPACES);
    o->address_spaces = (unsigned)v;
    return true;
}

static bool store_no_adaptive(struct popek_options *o, const char *a, struct popek_error *e)
{
    o->no_adaptive = true;
    return true;
}

/* ---- disks ---- */

/* Puts the image in IDE slot index (or the first free one when index is
 * negative), once the file is known to be readable. */
static bool add_drive(struct popek_options *o, const char *option, int index, const char *path,
                      bool read_only, struct popek_error *e)
{
    if (index < 0) {
        for (index = 0; index < ATA_MAX_DRIVES && o->drives[index].path; index++)
            ;
        if (index == ATA_MAX_DRIVES)
            return popek_fail(e, "%s: all %d IDE slots are taken", option, ATA_MAX_DRIVES);
    }
    if (o->drives[index].path)
        return popek_fail(e, "%s: two drives on index %d ('%s' and '%s')", option, index,
                          o->drives[index].path, path);
    if (strlen(path) >= OPTIONS_MAX_PATH)
        return popek_fail(e, "%s: file name too long", option);
    if (access(path, R_OK) != 0)
        return popek_fail(e, "%s: cannot read '%s': %s", option, path, strerror(errno));
    strcpy(o->drive_paths[index], path);
    o->drives[index].path = o->drive_paths[index];
    o->drives[index].read_only = read_only;
    return true;
}

/* One key=value item of a -drive list, starting at *p; ",," stands for a
 * comma inside a value. Advances *p past the item and its comma. */
static bool next_drive_item(const char **p, char *key, size_t key_size, char *value,
                            size_t value_size, struct popek_error *e)
{
    const char *s = *p;
    size_t n = 0;

    while (*s && *s != '=' && *s != ',') {
        if (n + 1 < key_size)
            key[n++] = *s;
        s++;
    }
    key[n] = '\0';
    if (*s != '=')
        return popek_fail(e, "-drive: '%s' is not key=value", key);
    s++;
    n = 0;
    while (*s) {
        if (*s == ',' && s[1] != ',')
            break;
        if (*s == ',')
            s++; /* ",," */
        if (n + 1 >= value_size)
            return popek_fail(e, "-drive: value of '%s' too long", key);
        value[n++] = *s++;
    }
    value[n] = '\0';
    *p = *s ? s + 1 : s;
    return true;
}

static bool parse_on_off(const char *key, const char *value, bool *out, struct popek_error *e)
{
    if (!strcmp(value, "on") || !strcmp(value, "yes") || !strcmp(value, "true"))
        *out = true;
    else if (!strcmp(value, "off") || !strcmp(value, "no") || !strcmp(value, "false"))
        *out = false;
    else
        return popek_fail(e, "-drive: %s='%s' is not on or off", key, value);
    return true;
}

static bool store_drive(struct popek_options *o, const char *a, struct popek_error *e)
{
    char key[32], value[OPTIONS_MAX_PATH], file[OPTIONS_MAX_PATH] = "";
    const char *p = a;
    int index = -1;
    bool read_only = false, have_file = false;

    while (*p) {
        if (!next_drive_item(&p, key, sizeof(key), value, sizeof(value), e))
            return false;
        if (!strcmp(key, "file")) {
            strcpy(file, value);
            have_file = true;
        } else if (!strcmp(key, "format")) {
            if (strcmp(value, "raw"))
                return popek_fail(e, "-drive: format '%s' is not supported (only raw)", value);
        } else if (!strcmp(key, "if")) {
            if (strcmp(value, "ide"))
                return popek_fail(e, "-drive: interface '%s' is not supported (only ide)", value);
        } else if (!strcmp(key, "media")) {
            if (strcmp(value, "disk"))
                return popek_fail(e, "-drive: media '%s' is not supported (only disk)", value);
        } else if (!strcmp(key, "index")) {
            char *end;
            long v;

            errno = 0;
            v = strtol(value, &end, 10);
            if (!isdigit((unsigned char)value[0]) || *end || errno || v >= ATA_MAX_DRIVES)
                return popek_fail(e, "-drive: index '%s' is out of range (0 to %d)", value,
                                  ATA_MAX_DRIVES - 1);
            index = (int)v;
        } else if (!strcmp(key, "readonly")) {
            if (!parse_on_off(key, value, &read_only, e))
                return false;
        } else {
            return popek_fail(e,
                              "-drive: unknown key '%s' (popek knows file, format, index, if, "
                              "media, readonly)",
                              key);
        }
    }
    if (!have_file || !file[0])
        return popek_fail(e, "-drive: no file= given");
    return add_drive(o, "-drive", index, file, read_only, e);
}

static bool store_hda(struct popek_options *o, const char *a, struct popek_error *e)
{
    return add_drive(o, "-hda", 0, a, false, e);
}

static bool store_hdb(struct popek_options *o, const char *a, struct popek_error *e)
{
    return add_drive(o, "-hdb", 1, a, false, e);
}

static bool store_hdc(struct popek_options *o, const char *a, struct popek_error *e)
{
    return add_drive(o, "-hdc", 2, a, false, e);
}

static bool store_hdd(struct popek_options *o, const char *a, struct popek_error *e)
{
    return add_drive(o, "-hdd", 3, a, false, e);
}

/* QEMU's -incoming takes a URI; popek knows its file: form (what QEMU's
 * "migrate file:PATH" writes). */
static bool store_incoming(struct popek_options *o, const char *a, struct popek_error *e)
{
    if (strncmp(a, "file:", 5) != 0 || !a[5])
        return popek_fail(e, "-incoming: '%s' is not file:PATH (popek resumes from files only)", a);
    o->incoming = a + 5;
    return true;
}

static bool store_save_state(struct popek_options *o, const char *a, struct popek_error *e)
{
    if (!a[0])
        return popek_fail(e, "--save-state: empty file name");
    o->save_state = a;
    return true;
}

static bool store_save_when(struct popek_options *o, const char *a, struct popek_error *e)
{
    if (!a[0] || strlen(a) > UART_WATCH_MAX)
        return popek_fail(e, "--save-when: the text must have 1 to %d bytes", UART_WATCH_MAX);
    o->save_when = a;
    return true;
}

static bool store_help(struct popek_options *o, const char *a, struct popek_error *e)
{
    o->action = OPTIONS_HELP;
    return true;
}

static bool store_version(struct popek_options *o, const char *a, struct popek_error *e)
{
    o->action = OPTIONS_VERSION;
    return true;
}

static const struct option_spec option_table[] = {
    {"kernel", "FILE", store_kernel, "guest kernel (multiboot ELF32 or a.out-kludge image)", false},
    {"append", "STR", store_append, "kernel command line", false},
    {"initrd", "FILE", store_initrd, "initial ramdisk; multiboot: modules 'file args,file2'",
     false},
    {"m", "SIZE", store_memory, "guest RAM, MiB or with suffix k/M/G (default 128M)", false},
    {"no-reboot", NULL, store_no_reboot, "exit instead of resetting on reboot or triple fault",
     false},
    {"d", "ITEMS", store_log_items, "debug log items, comma separated ('-d help' lists them)",
     false},
    {"D", "FILE", store_log_file, "write the debug log to FILE instead of stderr", false},
    {"drive", "SPEC", store_drive,
     "IDE disk: file=IMG,format=raw[,index=0-3][,readonly=on][,if=ide][,media=disk]", false},
    {"hda", "IMG", store_hda, "raw disk image as primary master (index 0)", false},
    {"hdb", "IMG", store_hdb, "raw disk image as primary slave (index 1)", false},
    {"hdc", "IMG", store_hdc, "raw disk image as secondary master (index 2)", false},
    {"hdd", "IMG", store_hdd, "raw disk image as secondary slave (index 3)", false},
    {"nographic", NULL, store_nographic, "no display: COM1 on stdio (popek's default anyway)",
     false},
    {"serial", "DEV", store_serial,
     "COM1, then COM2 if given twice: stdio (default), file:PATH, null or none", false},
    {"incoming", "file:PATH", store_incoming,
     "resume the machine saved in PATH (by --save-state) instead of booting -kernel", false},
    {"mode", "bt|te", store_mode, "execution mode: binary translation or trap-and-emulate", true},
    {"stats", "FILE", store_stats, "write run statistics as JSON to FILE", true},
    {"time-limit", "SECONDS", store_time_limit, "stop the guest after SECONDS of wall time", true},
    {"tc-size", "SIZE", store_tc_size, "translation cache size (default 64M; flushed when full)",
     true},
    {"address-spaces", "N", store_address_spaces,
     "guest address spaces kept mapped (default 8, at most 15)", true},
    {"no-adaptive", NULL, store_no_adaptive,
     "never retranslate trapping instructions as monitor calls (for measurements)", true},
    {"save-state", "PATH", store_save_state,
     "with --save-when: save the machine to PATH, then exit with status 0", true},
    {"save-when", "TEXT", store_save_when,
     "save (--save-state) once the guest's COM1 output has just printed TEXT", true},
    {"help", NULL, store_help, "print this help and exit", true},
    {"version", NULL, store_version, "print the version and exit", true},
};

const char *exec_mode_name(enum exec_mode mode)
{
    return mode == EXEC_MODE_TE ? "te" : "bt";
}

bool options_parse_size(const char *text, uint64_t *bytes, struct popek_error *err)
{
    char *end;
    unsigned long long value;
    unsigned shift = 20;

    if (strncmp(text, "size=", 5) == 0)
        text += 5;
    if (!isdigit((unsigned char)text[0]))
        return popek_fail(err, "-m: '%s' is not a size (e.g. 128, 128M, 1G)", text);
    errno = 0;
    value = strtoull(text, &end, 10);
    if (errno == ERANGE)
        return popek_fail(err, "-m: '%s' is too large", text);
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    default:
        return popek_fail(err, "-m: '%s' has an unknown unit (use k, M or G)", text);
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end != '\0')
        return popek_fail(err, "-m: '%s' is not a size (e.g. 128, 128M, 1G)", text);
    if (value > (UINT64_MAX >> shift))
        return popek_fail(err, "-m: '%s' is too large", text);
    *bytes = (uint64_t)value << shift;
    return true;
}

static const struct option_spec *find_option(const char *arg)
{
    /* QEMU accepts one or two leading dashes for every option. */
    if (arg[0] != '-')
        return NULL;
    arg += (arg[1] == '-') ? 2 : 1;
    for (size_t i = 0; i < ARRAY_SIZE(option_table); i++) {
        if (strcmp(arg, option_table[i].name) == 0)
            return &option_table[i];
    }
    return NULL;
}

bool options_parse(int argc, char *const argv[], struct popek_options *opts,
                   struct popek_error *err)
{
    memset(opts, 0, sizeof(*opts));
    opts->ram_bytes = MIB(OPTIONS_DEFAULT_RAM_MIB);
    opts->mode = EXEC_MODE_BT;
    opts->tc_bytes = MIB(OPTIONS_DEFAULT_TC_MIB);
    opts->serial[0].kind = CHARDEV_STDIO;
    opts->serial[1].kind = CHARDEV_NULL;

    for (int i = 1; i < argc; i++) {
        const struct option_spec *spec = find_option(argv[i]);
        const char *arg = NULL;

        if (!spec) {
            if (argv[i][0] != '-')
                return popek_fail(err, "unexpected argument '%s' (see --help)", argv[i]);
            return popek_fail(err, "unknown option '%s' (see --help)", argv[i]);
        }
        if (spec->arg) {
            if (i + 1 >= argc)
                return popek_fail(err, "option '%s' needs an argument (%s)", argv[i], spec->arg);
            arg = argv[++i];
        }
        if (!spec->store(opts, arg, err))
            return false;
    }
    if (opts->action != OPTIONS_RUN)
        return true;
    if (!opts->kernel && !opts->incoming)
        return popek_fail(err, "no guest kernel given (use -kernel FILE or -incoming file:PATH; "
                               "see --help)");
    if (!opts->save_state != !opts->save_when)
        return popek_fail(err, "%s needs %s (see --help)",
                          opts->save_state ? "--save-state" : "--save-when",
                          opts->save_state ? "--save-when TEXT" : "--save-state PATH");
    if (opts->save_state && opts->incoming && !strcmp(opts->save_state, opts->incoming))
        return popek_fail(err, "--save-state: '%s' is also the -incoming file", opts->save_state);
    return true;
}

void options_print_usage(FILE *out)
{
    fprintf(out, "usage: popek -kernel FILE [options]\n"
                 "       popek -incoming file:PATH [options]\n"
                 "Runs a 32-bit x86 guest kernel by binary translation.\n\n");
    for (size_t i = 0; i < ARRAY_SIZE(option_table); i++) {
        const struct option_spec *s = &option_table[i];
        char left[40];

        snprintf(left, sizeof(left), "%s%s%s%s", s->popek_only ? "--" : "-", s->name,
                 s->arg ? " " : "", s->arg ? s->arg : "");
        fprintf(out, "  %-20s %s\n", left, s->help);
    }
}
