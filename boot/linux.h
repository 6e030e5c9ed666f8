/*
 * boot/linux.h — the Linux/x86 boot protocol's 32-bit entry (bzImage).
 *
 * The loader does what a boot loader using the 32-bit boot protocol does
 * (Documentation/arch/x86/boot.rst, "32-bit Boot Protocol"): it loads the
 * protected-mode kernel at 1 MiB, builds the zero page (struct boot_params)
 * with the image's setup header copied in, an e820 map matching guest RAM,
 * the command line and the initrd, and starts the vCPU at the kernel's
 * 32-bit entry in flat protected mode with ESI pointing at the zero page.
 * The kernel's real-mode setup code is never run: popek has no BIOS.
 */
#ifndef POPEK_BOOT_LINUX_H
#define POPEK_BOOT_LINUX_H

#include "boot/boot.h"

/* The setup header's "HdrS" signature and the oldest protocol accepted:
 * 2.06 is the first with cmdline_size and a 32-bit entry all loaders may
 * use unchanged. */
#define LINUX_HDRS_OFFSET  0x202u
#define LINUX_HDRS_MAGIC   "HdrS"
#define LINUX_MIN_PROTOCOL 0x206u

/* Where the loader puts what it builds, in conventional memory below the
 * EBDA (boot.rst: the zero page and command line may go anywhere the
 * kernel does not load itself). */
#define LINUX_GDT_ADDR         0x6000u
#define LINUX_ZERO_PAGE_ADDR   0x7000u
#define LINUX_CMDLINE_ADDR     0x20000u
#define LINUX_KERNEL_LOAD_ADDR 0x100000u

/* True when image carries a Linux setup header. */
bool linux_is_bzimage(const uint8_t *image, size_t size);

/* Loads a bzImage already in memory; `name` names it in messages. */
bool linux_load_image(struct guest_ram *ram, const uint8_t *image, size_t size, const char *name,
                      const struct boot_config *cfg, struct vcpu_state *cpu,
                      struct popek_error *err);

#endif
