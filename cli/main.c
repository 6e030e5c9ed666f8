/*
 * cli/main.c — the popek command: parse options, build the machine, load the
 * kernel, run it.
 *
 * This is the one place that turns a popek_error into a message and an exit
 * status: 2 for anything the user asked for that cannot be done (bad option,
 * missing or malformed file), 1 when the guest stops without exiting (an
 * unsupported instruction, a triple fault), otherwise the status the guest
 * asked for through the debug-exit port ((v << 1) | 1, as QEMU).
 *
 * Snapshots: with -incoming the first run resumes a saved machine instead
 * of loading the kernel (a reset later boots the kernel the file names,
 * or -kernel when given); with --save-state/--save-when a run that stops
 * for the watched text is saved, and popek exits 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"
#include "cli/options.h"
#include "common/log.h"
#include "common/snapshot.h"
#include "devices/chardev.h"
#include "monitor/machine.h"
#include "monitor/perf_map.h"
#include "monitor/run_loop.h"
#include "monitor/stats.h"

#define EXIT_USAGE          2
#define EXIT_INTERNAL_ERROR 70 /* EX_SOFTWARE: a popek bug, never a guest's doing */

static int fail_usage(const struct popek_error *err)
{
    fprintf(stderr, "popek: %s\n", err->message);
    return EXIT_USAGE;
}

static void close_serial_backends(struct chardev *serial[MACHINE_SERIAL_PORTS])
{
    for (unsigned i = 0; i < MACHINE_SERIAL_PORTS; i++) {
        chardev_destroy(serial[i]);
        serial[i] = NULL;
    }
}

/* The -serial backends; none for "none" (the port stays empty). */
static bool open_serial_backends(const struct popek_options *opts,
                                 struct chardev *serial[MACHINE_SERIAL_PORTS],
                                 struct popek_error *err)
{
    for (unsigned i = 0; i < MACHINE_SERIAL_PORTS; i++)
        serial[i] = NULL;
    for (unsigned i = 0; i < MACHINE_SERIAL_PORTS; i++) {
        if (opts->serial[i].kind == CHARDEV_NONE)
            continue;
        serial[i] = chardev_open(&opts->serial[i], err);
        if (!serial[i]) {
            close_serial_backends(serial);
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    struct popek_options opts;
    struct popek_error err = {{0}};

    if (!options_parse(argc, argv, &opts, &err))
        return fail_usage(&err);
    switch (opts.action) {
    case OPTIONS_HELP:
        options_print_usage(stdout);
        return 0;
    case OPTIONS_VERSION:
        printf("popek %s\n", POPEK_VERSION);
        return 0;
    case OPTIONS_LOG_HELP:
        log_print_items(stdout);
        return 0;
    case OPTIONS_RUN:
        break;
    }

    if (opts.mode == EXEC_MODE_TE) {
        fprintf(stderr, "popek: --mode te (trap-and-emulate) is not built yet; use --mode bt\n");
        return EXIT_USAGE;
    }
    log_mask = opts.log_mask;
    if (opts.log_file && !log_open_file(opts.log_file, &err))
        return fail_usage(&err);
    if ((log_mask & LOG_PERFMAP) && !perf_map_open(&err))
        return fail_usage(&err);

    /* An unwritable --save-state is said now, not after the guest ran. */
    if (opts.save_state && !snap_check_writable(opts.save_state, &err))
        return fail_usage(&err);

    struct chardev *serial[MACHINE_SERIAL_PORTS];
    if (!open_serial_backends(&opts, serial, &err))
        return fail_usage(&err);

    struct machine_config config = {
        .ram_bytes = opts.ram_bytes,
        .mode = opts.mode,
        .no_reboot = opts.no_reboot,
        .collect_stats = opts.stats_file != NULL || (opts.log_mask & LOG_STATS),
        .time_limit_s = opts.time_limit_s,
        .tc_bytes = opts.tc_bytes,
        .address_spaces = opts.address_spaces,
        .no_adaptive = opts.no_adaptive,
        .serial = {serial[0], serial[1]},
        .debugcon = serial[0],
        .kernel = opts.kernel,
        .append = opts.append,
        .initrd = opts.initrd,
    };
    memcpy(config.drives, opts.drives, sizeof(config.drives));
    struct machine *m = machine_create(&config, &err);
    if (!m) {
        close_serial_backends(serial);
        return fail_usage(&err);
    }
    /* Refusals once the machine exists (a state file, --save-when, the
     * kernel) end at fail_machine below. */

    struct boot_config boot = {
        .kernel_path = opts.kernel,
        .cmdline = opts.append,
        .initrd = opts.initrd,
    };
    static struct machine_boot_record saved_boot;
    if (opts.incoming) {
        if (!machine_load_state(m, opts.incoming, &saved_boot, &err))
            goto fail_machine;
        /* What a reset boots: the command line's kernel, else the file's. */
        if (!boot.kernel_path && saved_boot.kernel[0]) {
            boot.kernel_path = saved_boot.kernel;
            boot.cmdline = saved_boot.append[0] ? saved_boot.append : NULL;
            boot.initrd = saved_boot.initrd[0] ? saved_boot.initrd : NULL;
        }
    }
    if (opts.save_when && !machine_save_when(m, opts.save_when, &err))
        goto fail_machine;
    int status;
    bool resume = opts.incoming != NULL, saved = false;
    for (;;) {
        if (!resume && !boot_load_kernel(machine_ram(m), &boot, machine_vcpu_state(m), &err))
            goto fail_machine;
        resume = false;
        status = machine_run(m, &err);
        if (status == MACHINE_RUN_SAVE) {
            /* The guest printed the text: save it where it stopped. */
            if (machine_save_state(m, opts.save_state, &err)) {
                status = 0;
                saved = true;
            } else {
                status = EXIT_USAGE;
            }
            break;
        }
        if (status != RUN_RESET)
            break;
        if (!boot.kernel_path) {
            popek_fail(&err, "the resumed guest reset the machine, and no kernel is known to "
                             "boot (give -kernel)");
            status = 1;
            break;
        }
        /* The guest reset the machine: start again from the kernel file. */
        if (!machine_reset(m, &err)) {
            status = 1;
            break;
        }
    }
    /* The terminal goes back to normal before anything else is said. */
    close_serial_backends(serial);
    /* Why the guest stopped (status 1), or which device reset it under
     * -no-reboot (status 0). */
    if (err.message[0])
        fprintf(stderr, "popek: %s\n", err.message);
    if (saved) /* after the guest's last console bytes */
        fprintf(stderr, "popek: state saved to %s\n", opts.save_state);
    if (opts.save_state && !saved && status != EXIT_USAGE) {
        /* The run ended before the text came: a CI job must not take the
         * missing file for a saved machine. */
        fprintf(stderr,
                "popek: --save-when: the guest ended without printing '%s'; nothing saved\n",
                opts.save_when);
        status = status ? status : 1;
    }
    if (opts.stats_file || log_enabled(LOG_STATS)) {
        static struct stats_report report;
        struct popek_error stats_err;
        machine_collect_stats(m, &report);
        if (log_enabled(LOG_STATS))
            stats_print_summary(&report, log_stream ? log_stream : stderr);
        if (opts.stats_file && !stats_write_json(&report, opts.stats_file, &stats_err)) {
            fprintf(stderr, "popek: %s\n", stats_err.message);
            status = status ? status : 2;
        }
    }
    if (!machine_integrity_intact(m)) {
        fprintf(stderr, "popek: internal error: memory outside the guest's view was modified "
                        "(canary check failed)\n");
        status = EXIT_INTERNAL_ERROR;
    }
    machine_destroy(m);
    return status;

fail_machine:
    close_serial_backends(serial); /* their reader wakes the machine */
    machine_destroy(m);
    return fail_usage(&err);
}
