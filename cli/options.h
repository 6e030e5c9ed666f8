/*
 * cli/options.h — popek's command line.
 *
 * Options QEMU has keep QEMU's spelling (one or two leading dashes, a separate
 * argument), so an i386 QEMU command line works with the binary name changed:
 * -kernel -append -initrd -m -no-reboot -d -D -nographic. popek's own options
 * are long: --mode, --stats, --help, --version.
 */
#ifndef POPEK_CLI_OPTIONS_H
#define POPEK_CLI_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "monitor/machine.h"

#define OPTIONS_DEFAULT_RAM_MIB 128
#define OPTIONS_DEFAULT_TC_MIB  64

enum options_action {
    OPTIONS_RUN,
    OPTIONS_HELP,
    OPTIONS_VERSION,
    OPTIONS_LOG_HELP, /* -d help */
};

struct popek_options {
    enum options_action action;
    const char *kernel;
    const char *append;
    const char *initrd;
    uint64_t ram_bytes;
    bool no_reboot;
    unsigned log_mask;
    const char *log_file;
    enum exec_mode mode;
    const char *stats_file;
    unsigned time_limit_s;   /* 0: none */
    uint64_t tc_bytes;       /* translation cache arena size */
    unsigned address_spaces; /* 0: the default */
    bool no_adaptive;
};

/* Parses argv (argv[0] is the program name). On error err names the option or
 * value and the function returns false; the caller exits with status 2. */
bool options_parse(int argc, char *const argv[], struct popek_options *opts,
                   struct popek_error *err);

/* Parses a QEMU-style memory size: a number with an optional k/M/G suffix,
 * mebibytes when there is none ("128", "128M", "1G"). */
bool options_parse_size(const char *text, uint64_t *bytes, struct popek_error *err);

void options_print_usage(FILE *out);

const char *exec_mode_name(enum exec_mode mode);

#endif
