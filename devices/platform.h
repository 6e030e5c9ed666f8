/*
 * devices/platform.h — the list of a machine's devices and their events.
 *
 * Every device registers here with its hooks: reset (the PC's reset line),
 * update (catch up with the host clock and with host input, driving its
 * interrupt lines: irq.h), next_deadline (when it next needs an update),
 * and save/load (its guest-visible state as one section of a state file,
 * common/snapshot.h). The monitor services the whole list at once — after
 * port I/O and device-memory writes, when the host timer fires, when an
 * input thread wakes it — and arms one host timer for the earliest
 * deadline.
 *
 *     platform_add(pf, &rtc_events, rtc, err);      // at machine creation
 *     deadline = platform_service(pf);              // in the run loop
 *     platform_wake(pf);                            // from a reader thread
 *     platform_save(pf, w);  ok = platform_load(pf, r, err);  // snapshots
 *
 * Deadlines are host CLOCK_MONOTONIC nanoseconds (timekeeping follows the
 * host, DESIGN.md §5); PLATFORM_NEVER means "only when woken".
 */
#ifndef POPEK_DEVICES_PLATFORM_H
#define POPEK_DEVICES_PLATFORM_H

#include "common/error.h"
#include "common/snapshot.h"
#include "common/types.h"

#define PLATFORM_NEVER UINT64_MAX

struct platform_device_ops {
    const char *name;
    /* The PC's reset line; NULL when the device keeps no state worth
     * resetting. */
    void (*reset)(void *opaque);
    /* Brings the device up to the host clock and host input; NULL for a
     * device with neither. Called on the vCPU thread only. */
    void (*update)(void *opaque);
    /* The next time update must run, or PLATFORM_NEVER; NULL = never. */
    uint64_t (*next_deadline)(void *opaque);
    /* The device's guest-visible state, as the section named `name` (and
     * its instance number among devices of that name, in registration
     * order, as QEMU numbers them) with version state_version. save writes
     * the fields; load reads them back into a device freshly created with
     * the same configuration, validating each (snap_check) and touching
     * nothing outside the device — interrupt lines and other devices are
     * restored from their own sections. Clock readings are saved relative
     * to the device's clock (snap_put_time). NULL for a device with no
     * state of the guest's (a host backend). */
    uint32_t state_version;
    void (*save)(const void *opaque, struct snap_writer *w);
    bool (*load)(void *opaque, struct snap_section *s);
};

/* A device pulling the PC's reset line (the keyboard controller's output
 * port, port 0x92): the machine resets once the instruction that did it
 * completes, as after a triple fault. why names the device and what the
 * guest did ("i8042: command 0xFE"), for logs and the -no-reboot message.
 * The machine passes one to each such device at creation. */
typedef void (*platform_reset_fn)(void *ctx, const char *why);

/* What the platform calls to make the vCPU service devices soon: set by the
 * machine (a flag the run loop polls plus a signal that ends a sleep). */
typedef void (*platform_wake_fn)(void *ctx);

struct platform;

struct platform *platform_create(platform_wake_fn wake, void *wake_ctx, struct popek_error *err);
void platform_destroy(struct platform *pf);

/* Registers a device; ops must outlive the platform. */
bool platform_add(struct platform *pf, const struct platform_device_ops *ops, void *opaque,
                  struct popek_error *err);

/* Resets every registered device, in registration order. */
void platform_reset(struct platform *pf);

/* Writes a section for every device with a save hook. */
void platform_save(const struct platform *pf, struct snap_writer *w);

/* Loads every such device from its section of r; false with err naming
 * the file and the section when one is missing, of another version, or
 * refused by the device. */
bool platform_load(struct platform *pf, struct snap_reader *r, struct popek_error *err);

/* Updates every device and returns the earliest next deadline. */
uint64_t platform_service(struct platform *pf);

/* The earliest next deadline without updating anything. */
uint64_t platform_next_deadline(const struct platform *pf);

/* Thread-safe: asks the vCPU thread to call platform_service soon. Input
 * threads call it after queueing host input for a device. */
void platform_wake(struct platform *pf);

/* Marks that some device takes asynchronous host input, so a guest halted
 * with no deadline armed is waiting for it rather than hung. */
void platform_set_has_input(struct platform *pf);
bool platform_has_input(const struct platform *pf);

#endif
