/*
 * guest-tests/runtime/multiboot.h — the Multiboot v1 information structure as
 * a kernel receives it (Multiboot Specification 0.6.96, §3.3).
 *
 * Only the fields the test kernels read are named; the layout is the spec's,
 * so offsets must never change. Every field is valid only when its bit in
 * `flags` is set; the loaders we run under (QEMU, popek) differ in what they
 * fill in, so tests must not print loader-specific values by default.
 */
#ifndef GUEST_RT_MULTIBOOT_H
#define GUEST_RT_MULTIBOOT_H

#include <stdint.h>

#define MULTIBOOT_HEADER_MAGIC     0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u

/* Header flags we request: bit 0 page-align modules, bit 1 memory info. */
#define MULTIBOOT_HEADER_FLAGS 0x00000003u

/* Bits of multiboot_info.flags (§3.3). */
#define MULTIBOOT_INFO_MEMORY  (1u << 0)
#define MULTIBOOT_INFO_BOOTDEV (1u << 1)
#define MULTIBOOT_INFO_CMDLINE (1u << 2)
#define MULTIBOOT_INFO_MODS    (1u << 3)
#define MULTIBOOT_INFO_MMAP    (1u << 6)

struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower; /* KiB of memory from 0, at most 640 */
    uint32_t mem_upper; /* KiB of memory from 1 MiB up to the first hole */
    uint32_t boot_device;
    uint32_t cmdline; /* physical address of a NUL-terminated string */
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
    uint32_t apm_table;
};

/* One entry of the memory map; `size` does not count itself (§3.3). */
struct multiboot_mmap_entry {
    uint32_t size;
    uint64_t addr;
    uint64_t len;
    uint32_t type; /* 1 = available RAM */
} __attribute__((packed));

#endif
