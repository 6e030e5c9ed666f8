/*
 * boot/boot.c — choosing the loader for a kernel image (boot.h).
 *
 * This file owns format detection: it reads the -kernel file once and hands
 * the bytes to the loader that recognises them. Today that is the multiboot v1
 * loader (multiboot.c) and the Linux bzImage loader (linux.c, the 32-bit
 * boot protocol of Documentation/arch/x86/boot.rst). Detection only looks; each loader validates
 * everything it uses. Before either loader runs, the firmware area (the BIOS
 * data area words and the EBDA with the MP and ACPI tables, firmware.h) is
 * written, as a BIOS would have left it: a kernel image placed over the BDA
 * wins.
 *
 * Usage:
 *   struct boot_config cfg = {.kernel_path = "k.elf", .cmdline = "console=ttyS0"};
 *   if (!boot_load_kernel(ram, &cfg, &cpu, &err))
 *       die(err.message);
 */
#include "boot/boot.h"

#include <stdlib.h>
#include <string.h>

#include "boot/firmware.h"
#include "boot/linux.h"
#include "boot/multiboot.h"
#include "common/file.h"
#include "common/types.h"

#define BOOT_KERNEL_MAX_SIZE MIB(64)

bool boot_load_kernel(struct guest_ram *ram, const struct boot_config *cfg, struct vcpu_state *cpu,
                      struct popek_error *err)
{
    const char *path = cfg->kernel_path;
    uint8_t *image;
    size_t size;
    bool ok;

    if (!path)
        return popek_fail(err, "no kernel given (use -kernel FILE)");
    if (!file_read_all(path, "kernel", BOOT_KERNEL_MAX_SIZE, &image, &size, err))
        return false;

    firmware_load(ram);
    if (multiboot_find_header(image, size) >= 0)
        ok = multiboot_load_image(ram, image, size, path, cfg, cpu, err);
    else if (linux_is_bzimage(image, size))
        ok = linux_load_image(ram, image, size, path, cfg, cpu, err);
    else
        /* No loader claims the image. The multiboot loader says what is wrong
         * with it: a bad checksum, a truncated header or no header at all. */
        ok = multiboot_load_image(ram, image, size, path, cfg, cpu, err);

    free(image);
    return ok;
}
