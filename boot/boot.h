/*
 * boot/boot.h — putting a guest kernel into RAM and the vCPU at its entry.
 *
 * boot_load_kernel() looks at the kernel image and dispatches to the loader
 * for its format (multiboot v1 today; the Linux bzImage protocol later). Every
 * malformed input is reported through popek_error, never by crashing: the
 * loaders validate each offset and size against the file and against RAM
 * before touching either.
 */
#ifndef POPEK_BOOT_BOOT_H
#define POPEK_BOOT_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "monitor/vcpu.h"
#include "shadowpt/guest_ram.h"

struct boot_config {
    const char *kernel_path; /* -kernel */
    const char *cmdline;     /* -append, or NULL */
    const char *initrd; /* -initrd (multiboot: comma-separated modules "file args,..."), or NULL */
};

/* Reads cfg->kernel_path and loads it. */
bool boot_load_kernel(struct guest_ram *ram, const struct boot_config *cfg, struct vcpu_state *cpu,
                      struct popek_error *err);

#endif
