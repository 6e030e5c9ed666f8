/*
 * guest-tests/pc_tables.h — finding the firmware's platform tables the way
 * an operating system does, for the kernels that test them (apic_platform,
 * acpi_poweroff). Paging must be off (tables are read at their physical
 * addresses).
 *
 *   MP floating pointer (MultiProcessor Specification 1.4, §4): the first
 *     KiB of the EBDA (segment in the BDA word at 0x40E), else the last KiB
 *     of base memory (KiB count in the BDA word at 0x413), else the BIOS
 *     ROM 0xF0000-0xFFFFF; 16-byte aligned, "_MP_", checksum 0.
 *   RSDP (ACPI 2.0, §5.2.4.1): the first KiB of the EBDA, else
 *     0xE0000-0xFFFFF; 16-byte aligned, "RSD PTR ", checksum 0.
 *
 * Both popek (the EBDA) and QEMU with SeaBIOS (the ROM area) are found.
 */
#ifndef GUEST_PC_TABLES_H
#define GUEST_PC_TABLES_H

#include <stdbool.h>
#include <stdint.h>

static inline uint16_t pt_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t pt_le32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* True when the len bytes at p sum to 0 modulo 256. */
bool pt_checksum_ok(const uint8_t *p, uint32_t len);

/* The MP floating pointer structure, or NULL. */
const uint8_t *pt_find_mp(void);

/* The RSDP, or NULL. */
const uint8_t *pt_find_rsdp(void);

/* The table with this signature the RSDT lists (checksum not checked),
 * or NULL. */
const uint8_t *pt_acpi_table(const char *signature);

/* The ACPI table's length field. */
static inline uint32_t pt_acpi_length(const uint8_t *table)
{
    return pt_le32(table + 4);
}

/* In an AML byte stream: the SLP_TYPa value of Name (_S5, Package ...),
 * decoding ZeroOp, OneOp, BytePrefix and WordPrefix integers. False when
 * the DSDT has no \_S5 package. */
bool pt_dsdt_s5(const uint8_t *dsdt, uint32_t *slp_typ_a);

#endif
