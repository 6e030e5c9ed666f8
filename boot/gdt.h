/*
 * boot/gdt.h — segment descriptors for the GDTs loaders hand to kernels.
 */
#ifndef POPEK_BOOT_GDT_H
#define POPEK_BOOT_GDT_H

#include <stdint.h>

#define BOOT_GDT_CODE32 0x9Bu /* present, DPL 0, code, execute/read, accessed */
#define BOOT_GDT_DATA32 0x93u /* present, DPL 0, data, read/write, accessed */
#define BOOT_GDT_FLAT   0xCu  /* G (4 KiB granularity) and D/B (32-bit) */

/* SDM vol. 3, §3.4.5: a descriptor with base 0: limit 15:0 and 19:16, the
 * access byte and the G/DB flags. */
static inline uint64_t boot_gdt_descriptor(uint32_t limit, uint8_t access, uint8_t flags)
{
    return (uint64_t)(limit & 0xFFFF) | (uint64_t)access << 40 |
           (uint64_t)((limit >> 16) & 0xF) << 48 | (uint64_t)(flags & 0xF) << 52;
}

#endif
