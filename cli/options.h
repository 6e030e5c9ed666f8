/*
 * cli/options.h — popek's command line.
 *
 * Options QEMU has keep QEMU's spelling (one or two leading dashes, a separate
 * argument), so an i386 QEMU command line works with the binary name changed:
 * -kernel -append -initrd -m -no-reboot -d -D -nographic -serial -drive
 * -hda..-hdd, -incoming file:PATH. popek's own options are long: --mode,
 * --stats, --save-state, --save-when, --help, --version.
 *
 * Snapshots: `--save-state PATH --save-when TEXT` saves the machine once
 * COM1 has printed TEXT and exits 0; `-incoming file:PATH` (QEMU's
 * spelling) resumes a saved machine instead of booting -kernel, which it
 * then does not need.
 *
 * Disks: `-drive file=IMG,format=raw[,index=N][,if=ide][,media=disk]
 * [,readonly=on]` (a comma in IMG is written twice, as QEMU wants) and
 * `-hda/-hdb/-hdc/-hdd IMG` fill the four IDE slots: index 0 primary
 * master, 1 primary slave, 2 secondary master, 3 secondary slave; a -drive
 * without index takes the first free one.
 */
#ifndef POPEK_CLI_OPTIONS_H
#define POPEK_CLI_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "monitor/machine.h"

#define OPTIONS_DEFAULT_RAM_MIB 128
#define OPTIONS_DEFAULT_TC_MIB  64
#define OPTIONS_MAX_PATH        4096

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
    /* IDE slots: drives[i].path points into drive_paths[i] when set. */
    struct ata_drive_config drives[ATA_MAX_DRIVES];
    char drive_paths[ATA_MAX_DRIVES][OPTIONS_MAX_PATH];
    /* -serial, in order: COM1 then COM2. Unset ports default to stdio
     * (COM1) and null (COM2: present, unconnected). */
    struct chardev_spec serial[MACHINE_SERIAL_PORTS];
    unsigned serial_count;  /* how many -serial options were given */
    const char *incoming;   /* -incoming file:PATH: the PATH */
    const char *save_state; /* --save-state PATH */
    const char *save_when;  /* --save-when TEXT */
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
