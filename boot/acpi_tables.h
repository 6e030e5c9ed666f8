/*
 * boot/acpi_tables.h — the ACPI tables (ACPI specification 2.0, chapter 5)
 * that describe popek's PC to an operating system:
 *
 *   RSDP (revision 0) -> RSDT -> FADT -> FACS, DSDT
 *                             -> MADT
 *
 * The FADT points at the fixed-feature hardware of devices/acpi_pm.h (PM1a
 * event and control blocks, PM timer, SCI on IRQ 9) with SMI_CMD 0 (the
 * machine is already in ACPI mode); the MADT lists the local APIC, the I/O
 * APIC and the ISA interrupt overrides (IRQ 0 on GSI 2, the SCI level and
 * active high); the DSDT holds \_S5 (soft-off) and the PCI host bridge.
 */
#ifndef POPEK_BOOT_ACPI_TABLES_H
#define POPEK_BOOT_ACPI_TABLES_H

#include "boot/firmware.h"
#include "devices/chipset.h"

#define ACPI_OEM_ID        "POPEK "   /* 6 characters */
#define ACPI_OEM_TABLE_ID  "POPEKPC " /* 8 */
#define ACPI_FADT_REVISION 3u         /* the ACPI 2.0 FADT, 244 bytes */
#define ACPI_FADT_SIZE     244u
#define ACPI_FACS_SIZE     64u

/* FADT field offsets (ACPI 2.0, table 5-9) tests and other code read. */
#define FADT_FIRMWARE_CTRL   36u
#define FADT_DSDT            40u
#define FADT_SCI_INT         46u
#define FADT_SMI_CMD         48u
#define FADT_PM1A_EVT_BLK    56u
#define FADT_PM1A_CNT_BLK    64u
#define FADT_PM_TMR_BLK      76u
#define FADT_GPE0_BLK        80u
#define FADT_PM1_EVT_LEN     88u
#define FADT_PM1_CNT_LEN     89u
#define FADT_PM_TMR_LEN      91u
#define FADT_CENTURY         108u
#define FADT_IAPC_BOOT_ARCH  109u
#define FADT_FLAGS           112u
#define FADT_RESET_REG       116u
#define FADT_RESET_VALUE     128u
#define FADT_X_FIRMWARE_CTRL 132u
#define FADT_X_DSDT          140u
#define FADT_X_PM1A_EVT_BLK  148u
#define FADT_X_PM1A_CNT_BLK  172u
#define FADT_X_PM_TMR_BLK    208u

/* FADT flags (table 5-10) and IAPC_BOOT_ARCH bits (table 5-11). */
#define FADT_F_WBINVD        (1u << 0)
#define FADT_F_PROC_C1       (1u << 2)
#define FADT_F_SLP_BUTTON    (1u << 5) /* no fixed-feature sleep button */
#define FADT_F_TMR_VAL_EXT   (1u << 8)
#define FADT_F_RESET_REG_SUP (1u << 10)
#define IAPC_LEGACY_DEVICES  (1u << 0)
#define IAPC_8042            (1u << 1)

#define ACPI_RESET_VALUE 0x06u /* PIIX3 reset control: system reset | reset CPU */

/* Lays out all the tables, the RSDP first (16-byte aligned, so it must be
 * in the first KiB of the EBDA); false if they do not fit. */
bool acpi_tables_build(struct table_area *a, const struct firmware_platform *pf);

#endif
