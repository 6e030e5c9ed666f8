/*
 * monitor/machine.h — one virtual PC: RAM, views, buses, devices and the vCPU.
 *
 * The machine owns every piece of a guest's state and wires the devices to
 * the buses. cli/ creates it, boot/ loads a kernel into its RAM and vCPU
 * state, and machine_run() executes the guest until it exits, resets (with
 * -no-reboot: stops) or fails.
 */
#ifndef POPEK_MONITOR_MACHINE_H
#define POPEK_MONITOR_MACHINE_H

#include "common/error.h"
#include "devices/ata.h"
#include "devices/chardev.h"
#include "monitor/vcpu.h"
#include "shadowpt/guest_ram.h"

enum exec_mode {
    EXEC_MODE_BT, /* binary translation of all guest code (default) */
    EXEC_MODE_TE, /* trap-and-emulate, as on deprivileged hardware */
};

#define MACHINE_SERIAL_PORTS 2 /* COM1, COM2 */

struct machine_config {
    uint64_t ram_bytes;
    enum exec_mode mode;
    bool no_reboot;
    bool collect_stats;      /* --stats or -d stats: count indirect-branch probes too */
    unsigned time_limit_s;   /* stop the guest after this long (0: never) */
    uint64_t tc_bytes;       /* translation cache arena size */
    unsigned address_spaces; /* cached guest address spaces (0: the default) */
    bool no_adaptive;        /* --no-adaptive: trapping instructions stay in place */
    struct ata_drive_config drives[ATA_MAX_DRIVES]; /* -drive index 0-3 (no path: none) */
    /* The backend of COM1 and COM2; NULL leaves the port empty (-serial
     * none). The machine starts their input when the guest first runs;
     * the caller opens them and closes them after the last machine_run,
     * before machine_destroy (their reader thread wakes the machine). */
    struct chardev *serial[MACHINE_SERIAL_PORTS];
    struct chardev *debugcon; /* port 0xE9's output (COM1's backend); NULL: dropped */
    /* What the machine boots (recorded in saved states, so a guest
     * resumed from one can reset into its kernel again); NULL: none. */
    const char *kernel, *append, *initrd;
};

struct machine;

struct machine *machine_create(const struct machine_config *config, struct popek_error *err);
void machine_destroy(struct machine *m);

struct guest_ram *machine_ram(struct machine *m);
struct vcpu_state *machine_vcpu_state(struct machine *m);
struct ioport_bus *machine_ioport_bus(struct machine *m);

/* Runs the guest until it exits through the debug-exit port (the return
 * value is that status), powers the machine off through ACPI (returns 0),
 * resets (RUN_RESET) or stops (returns 1 and err says why — among the
 * reasons, an ACPI sleep state other than soft-off). With -no-reboot a
 * device's reset ends it with 0, err saying which device. */
int machine_run(struct machine *m, struct popek_error *err);

/* Resets the machine as the PC's reset line does: RAM cleared, CPU and
 * devices in their reset state, the translation cache emptied. The kernel
 * must be loaded again before machine_run. */
bool machine_reset(struct machine *m, struct popek_error *err);

/* Gathers every module's counters into one report (monitor/stats.h). */
struct stats_report;
void machine_collect_stats(const struct machine *m, struct stats_report *r);

/* True when the canaries placed around every structure translated code can
 * reach (views, the vCPU) are untouched: false means a popek bug. */
bool machine_integrity_intact(struct machine *m);

/* True once the guest asked to exit through the debug-exit port or powered
 * the machine off, or the user through the console (Ctrl-A x: status 0). */
bool machine_exit_requested(const struct machine *m, int *status);

/* ---- snapshots (common/snapshot.h) ----
 *
 * A saved machine is: section "machine" (RAM size, which serial ports
 * exist, what it boots), "cpu" (monitor/vcpu.h), "fpu" (x87/MMX/SSE),
 * "ram" (shadowpt/guest_ram.h) and one section per device on the platform
 * list (devices/platform.h). The translation cache, the shadow page
 * tables, the indirect-branch table and the run loop's memos are caches:
 * a loaded machine starts with them empty, as after a reset, and the MMU
 * is told the loaded CR0/CR3/CR4 as after the guest wrote them. */

/* machine_run's status when the console has produced the text given to
 * machine_save_when: the machine stopped at an instruction boundary (the
 * run loop's top, after the port write that completed the text) and may
 * be saved. */
#define MACHINE_RUN_SAVE (-2)

/* Watches COM1's output for text; false when there is no COM1. */
bool machine_save_when(struct machine *m, const char *text, struct popek_error *err);

/* Writes the machine to a state file at path (made whole or not at all). */
bool machine_save_state(struct machine *m, const char *path, struct popek_error *err);

/* What a saved machine booted, for resets after it resumes. */
struct machine_boot_record {
    char kernel[4096], append[4096], initrd[4096]; /* "" when none */
};

/* Loads a state file into a machine just created with a matching
 * configuration (RAM size, serial ports, drives); machine_run then
 * resumes the guest where it was saved. False with err naming the file,
 * and the section or the option that does not match. `boot` receives what
 * the saved machine booted; a machine created without a kernel takes it
 * as its own (a state saved again records it), so `boot` must outlive the
 * machine. */
bool machine_load_state(struct machine *m, const char *path, struct machine_boot_record *boot,
                        struct popek_error *err);

#endif
