/*
 * boot/multiboot.h — the Multiboot Specification v0.6.96 loader.
 *
 * The loader finds and validates the multiboot header in the first 8 KiB of
 * the image, loads the ELF32 program headers (or the a.out-kludge address
 * fields when header flag 16 is set), loads modules given with -initrd,
 * builds the multiboot information structure in conventional memory and sets
 * the machine state of the spec's §3.2.
 */
#ifndef POPEK_BOOT_MULTIBOOT_H
#define POPEK_BOOT_MULTIBOOT_H

#include "boot/boot.h"

#define MULTIBOOT_HEADER_MAGIC     0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_SEARCH_BYTES     8192u

/* Where the information structure is built: conventional memory, below
 * anything a kernel loaded at 1 MiB can use, above the real-mode IVT/BDA. */
#define MULTIBOOT_INFO_ADDR 0x9000u
#define MULTIBOOT_INFO_END  0x9FC00u /* start of the EBDA; the info area must end here */

/* Returns the offset of a multiboot header in image, or -1 when there is none
 * (magic found and checksum valid are both required). */
long multiboot_find_header(const uint8_t *image, size_t size);

/* Loads a multiboot image already in memory. `name` is used in messages and
 * as the default for cfg->kernel_path. */
bool multiboot_load_image(struct guest_ram *ram, const uint8_t *image, size_t size,
                          const char *name, const struct boot_config *cfg, struct vcpu_state *cpu,
                          struct popek_error *err);

#endif
