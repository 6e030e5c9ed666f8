/*
 * boot/firmware.h — what popek leaves in low memory in place of a PC BIOS,
 * so that kernels find the platform where the specifications tell them to
 * look: the MP configuration (Intel MultiProcessor Specification 1.4) and
 * the ACPI tables (ACPI 2.0), both in the extended BIOS data area.
 *
 *   0x40E  BDA word: EBDA segment (0x9FC0)      — where both searches start
 *   0x413  BDA word: base memory in KiB (639)
 *   0x9FC00-0x9FFFF  the EBDA (1 KiB), reserved in the e820 map and the
 *          multiboot memory map:
 *            +0x000  its size in KiB (1), as BIOSes keep it
 *            +0x010  MP floating pointer, then the MP configuration table
 *                    (boot/mptable.c)
 *            then    RSDP, RSDT, FACS, FADT, MADT, DSDT (boot/acpi_tables.c)
 *
 * The MP specification searches the first KiB of the EBDA (§4), ACPI the
 * first KiB of the EBDA too (ACPI 2.0, §5.2.4.1): both find these at once.
 * Under QEMU, SeaBIOS puts the same tables in the BIOS ROM area, which
 * popek does not have (the 640 KiB-1 MiB hole is not RAM).
 *
 * The table builders are pure functions over a byte buffer that will sit at
 * a given guest-physical address (a struct table_area), so unit tests check
 * every structure and checksum:
 *
 *     uint8_t ebda[FIRMWARE_EBDA_SIZE];
 *     if (firmware_build_ebda(ebda, &platform))
 *         ...ebda holds what firmware_load copies to 0x9FC00
 */
#ifndef POPEK_BOOT_FIRMWARE_H
#define POPEK_BOOT_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "common/types.h"
#include "shadowpt/guest_ram.h"

#define FIRMWARE_BDA_EBDA_SEGMENT   0x40Eu
#define FIRMWARE_BDA_BASE_MEMORY_KB 0x413u
#define FIRMWARE_EBDA_ADDR          0x9FC00u
#define FIRMWARE_EBDA_SIZE          0x400u
#define FIRMWARE_MP_OFFSET          0x10u /* the MP floating pointer within the EBDA */

/* What the tables describe beyond the fixed devices (whose addresses come
 * from their headers in devices/). */
struct firmware_platform {
    uint64_t ram_bytes;     /* the PCI memory window starts above RAM */
    uint32_t cpu_signature; /* CPUID.1:EAX, for the MP processor entry */
    uint32_t cpu_features;  /* CPUID.1:EDX */
    bool reset_register;    /* FADT RESET_REG: write 0x06 to port 0xCF9 (the PIIX3's) */
};

/* The platform popek's machine is: RAM size, the virtual CPU's CPUID, the
 * reset control register at 0xCF9. */
void firmware_platform_of(const struct guest_ram *ram, struct firmware_platform *pf);

/* A cursor laying tables out in buf, which will sit at guest-physical
 * address addr. */
struct table_area {
    uint8_t *buf;
    size_t size, used;
    guest_phys_t addr;
};

/* Reserves len zeroed bytes whose guest-physical address is a multiple of
 * align (a power of two); NULL when they do not fit. */
uint8_t *table_area_alloc(struct table_area *a, size_t len, size_t align);

/* The guest-physical address of p, which lies in a's buffer. */
guest_phys_t table_area_phys(const struct table_area *a, const uint8_t *p);

/* The byte that makes the sum of the len bytes at p (that byte being 0 in
 * them) zero modulo 256: the checksum of MP and ACPI structures. */
uint8_t table_checksum(const uint8_t *p, size_t len);

/* Fills the EBDA image (FIRMWARE_EBDA_SIZE bytes) with the MP and ACPI
 * tables; false if they do not fit (a popek bug: unit-tested). */
bool firmware_build_ebda(uint8_t *ebda, const struct firmware_platform *pf);

/* Writes the BDA words and the EBDA into guest RAM, before a loader puts
 * the kernel there. */
void firmware_load(struct guest_ram *ram);

#endif
