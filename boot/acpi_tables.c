/*
 * boot/acpi_tables.c — the ACPI tables (acpi_tables.h).
 *
 * ACPI specification 2.0, chapter 5 (section and table numbers below are
 * its). Every table but the RSDP and the FACS starts with the 36-byte
 * system description header (§5.2.6): signature, length, revision,
 * checksum (the whole table sums to 0), OEM ID (6), OEM table ID (8), OEM
 * revision, creator ID, creator revision.
 *
 *   RSDP (§5.2.4.3, revision 0: the 20-byte ACPI 1.0 form) "RSD PTR ",
 *        checksum, OEM ID, revision 0, RSDT address
 *   RSDT (§5.2.7) the FADT's and the MADT's addresses
 *   FADT (§5.2.9, revision 3, 244 bytes) FACS, DSDT; SCI_INT 9; SMI_CMD 0;
 *        PM1a_EVT_BLK 0x600 (4 bytes), PM1a_CNT_BLK 0x604 (2), PM_TMR_BLK
 *        0x608 (4, 24-bit); no GPE blocks; no C2/C3; CENTURY: CMOS byte
 *        0x32, where the RTC keeps it (no day/month alarm); IAPC_BOOT_ARCH:
 *        legacy devices and an 8042; RESET_REG 0x06 to I/O port 0xCF9 when
 *        the machine has it; X_DSDT and the X_ register blocks repeat the
 *        32-bit fields as generic addresses (§5.2.3.1)
 *   FACS (§5.2.10, 64-byte aligned) "FACS", length 64, version 1, no
 *        waking vector, no global lock
 *   MADT (§5.2.10.4) local APIC address 0xFEE00000, PCAT_COMPAT (8259A
 *        present); processor local APIC (UID 0, APIC ID 0, enabled); I/O
 *        APIC (ID 0, 0xFEC00000, GSI base 0); interrupt source overrides
 *        ISA IRQ 0 -> GSI 2 (conforming) and IRQ 9 -> GSI 9 level, active
 *        high (the SCI); local APIC NMI on LINT1 of every processor
 *   DSDT (§5.2.10.1) AML written by hand below
 */
#include "boot/acpi_tables.h"

#include <string.h>

#include "common/bytes.h"
#include "devices/acpi_pm.h"
#include "devices/ioapic.h"
#include "devices/irq.h"
#include "devices/lapic.h"
#include "devices/rtc_cmos.h"

#define ACPI_HEADER_SIZE  36u
#define ACPI_RSDP_SIZE    20u
#define ACPI_CREATOR_ID   "POPK"
#define ACPI_OEM_REVISION 1u
#define ACPI_CREATOR_REV  1u
#define RSDT_ENTRIES      2u
#define FACS_VERSION      1u

/* Generic address structure (§5.2.3.1): space ID, bit width, bit offset,
 * access size (reserved, 0, in ACPI 2.0), 64-bit address. */
#define GAS_SIZE      12u
#define GAS_SYSTEM_IO 1u

/* MADT (§5.2.10.4): structure types and sizes, and the MPS INTI flags of
 * an override (table 5-25: polarity bits 1-0, trigger mode bits 3-2). */
#define MADT_PCAT_COMPAT    1u
#define MADT_LOCAL_APIC     0u
#define MADT_IO_APIC        1u
#define MADT_OVERRIDE       2u
#define MADT_LOCAL_APIC_NMI 4u
#define MADT_LOCAL_APIC_LEN 8u
#define MADT_IO_APIC_LEN    12u
#define MADT_OVERRIDE_LEN   10u
#define MADT_LOCAL_NMI_LEN  6u
#define MADT_ENTRIES_LEN \
    (MADT_LOCAL_APIC_LEN + MADT_IO_APIC_LEN + 2 * MADT_OVERRIDE_LEN + MADT_LOCAL_NMI_LEN)
#define MPS_INTI_CONFORMS      0x0u
#define MPS_INTI_ACTIVE_HIGH   0x1u
#define MPS_INTI_LEVEL         0xCu
#define MADT_ALL_PROCESSORS    0xFFu
#define ACPI_PROCESSOR_ENABLED 1u

#define PCI_HOLE_END 0xFEC00000u /* the I/O APIC and the other chipset ranges start here */

/*
 * The DSDT's AML (ACPI 2.0, chapter 16), encoding this ASL:
 *
 *   DefinitionBlock ("", "DSDT", 1, "POPEK", "POPEKPC", 1)
 *   {
 *       Scope (\_SB)
 *       {
 *           Device (PCI0)                      // the host bridge, PCI bus 0
 *           {
 *               Name (_HID, EisaId ("PNP0A03"))
 *               Name (_UID, Zero)
 *               Name (_CRS, ResourceTemplate ()
 *               {
 *                   WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
 *                       0x0000, 0x0000, 0x00FF, 0x0000, 0x0100)
 *                   WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
 *                       0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
 *                   WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
 *                       0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
 *                   DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
 *                       Cacheable, ReadWrite,
 *                       0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000)
 *                   DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed,
 *                       NonCacheable, ReadWrite,
 *                       0x00000000, <end of RAM>, 0xFEBFFFFF, 0x00000000, <length>)
 *               })
 *           }
 *       }
 *       Name (_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })   // ACPI_SLP_TYP_S5
 *   }
 *
 * Without PCI0 an ACPI kernel would find no PCI bus: Linux enumerates PCI
 * through the namespace's PNP0A03 devices once ACPI is on. The last memory
 * window runs from the end of RAM to the I/O APIC: its minimum and length
 * are filled in by acpi_build_dsdt. A PkgLength of two bytes is 0x4n 0xmm
 * for the length 0xmmn (§16.2.4).
 */
static const uint8_t dsdt_aml_head[] = {
    0x10, 0x4F, 0x08,               /* Scope, PkgLength 0x08F */
    '\\', '_', 'S', 'B', '_',       /*   \_SB_ */
    0x5B, 0x82, 0x46, 0x08,         /*   Device, PkgLength 0x086 */
    'P', 'C', 'I', '0',             /*     PCI0 */
    0x08, '_', 'H', 'I', 'D',       /*     Name (_HID, */
    0x0C, 0x41, 0xD0, 0x0A, 0x03,   /*       DWord 0x030AD041 = "PNP0A03") */
    0x08, '_', 'U', 'I', 'D', 0x00, /*     Name (_UID, Zero) */
    0x08, '_', 'C', 'R', 'S',       /*     Name (_CRS, */
    0x11, 0x4A, 0x06, 0x0A, 0x66,   /*       Buffer, PkgLength 0x06A, 102 bytes */
    /* Word Address Space Descriptor (§6.4.3.5.3): 0x88, length 13, type
     * (2 bus, 1 I/O), flags 0x0C (producer, MinFixed, MaxFixed,
     * PosDecode), type flags (I/O: 3 = EntireRange), granularity, min, max,
     * translation, length. */
    0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0x00, 0x00, /* bus numbers 0x00-0xFF */
    0x00, 0x00, 0xFF, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0x00,
    0x00, /* I/O 0x0000-0x0CF7 */
    0x00, 0x00, 0xF7, 0x0C, 0x00, 0x00, 0xF8, 0x0C, 0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0x00,
    0x00, /* I/O 0x0D00-0xFFFF */
    0x00, 0x0D, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xF3,
    /* DWord Address Space Descriptor (§6.4.3.5.2): 0x87, length 23, type 0
     * (memory), flags 0x0C, type flags (bit 0 read-write, bits 2-1 1 =
     * cacheable, 0 = non-cacheable), granularity, min, max, translation,
     * length. */
    0x87, 0x17, 0x00, 0x00, 0x0C, 0x03, /* memory 0xA0000-0xBFFFF (VGA) */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x00, 0xFF, 0xFF, 0x0B, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x00, 0x87, 0x17, 0x00, 0x00, 0x0C, 0x01, /* memory <end of RAM>-0xFEBFFFFF */
    0x00, 0x00, 0x00, 0x00,                                     /*   granularity; min, max, */
};                                                              /*   translation, length follow */
static const uint8_t dsdt_aml_tail[] = {
    0x79, 0x00, /* End Tag, checksum 0 (none) */
    0x08, '_',
    'S',  '5',
    '_', /* Name (_S5, */
    0x12, 0x08,
    0x04, /*   Package, PkgLength 8, 4 elements */
    0x0A, ACPI_SLP_TYP_S5,
    0x0A, ACPI_SLP_TYP_S5, /*   SLP_TYPa, SLP_TYPb */
    0x00, 0x00,            /*   Zero, Zero) */
};
#define DSDT_HOLE_FIELDS 16u /* min, max, translation, length */
#define DSDT_AML_SIZE    (sizeof(dsdt_aml_head) + DSDT_HOLE_FIELDS + sizeof(dsdt_aml_tail))

/* The system description header (§5.2.6); the checksum comes last. */
static void acpi_put_header(uint8_t *t, const char *signature, uint32_t length, uint8_t revision)
{
    memcpy(t, signature, 4);
    store_le32(t + 4, length);
    t[8] = revision;
    memcpy(t + 10, ACPI_OEM_ID, 6);
    memcpy(t + 16, ACPI_OEM_TABLE_ID, 8);
    store_le32(t + 24, ACPI_OEM_REVISION);
    memcpy(t + 28, ACPI_CREATOR_ID, 4);
    store_le32(t + 32, ACPI_CREATOR_REV);
}

static void acpi_finish(uint8_t *t, uint32_t length)
{
    t[9] = table_checksum(t, length);
}

static void acpi_put_gas_io(uint8_t *gas, uint32_t port, unsigned bytes)
{
    gas[0] = GAS_SYSTEM_IO;
    gas[1] = (uint8_t)(8 * bytes);
    gas[2] = 0;
    gas[3] = 0;
    store_le64(gas + 4, port);
}

static uint8_t *acpi_build_dsdt(struct table_area *a, const struct firmware_platform *pf)
{
    uint32_t length = ACPI_HEADER_SIZE + DSDT_AML_SIZE;
    uint8_t *t = table_area_alloc(a, length, 4);
    uint64_t hole_start = pf->ram_bytes < PCI_HOLE_END ? pf->ram_bytes : PCI_HOLE_END;
    uint8_t *p;

    if (!t)
        return NULL;
    acpi_put_header(t, "DSDT", length, 1);
    p = t + ACPI_HEADER_SIZE;
    memcpy(p, dsdt_aml_head, sizeof(dsdt_aml_head));
    p += sizeof(dsdt_aml_head);
    store_le32(p, (uint32_t)hole_start);
    store_le32(p + 4, PCI_HOLE_END - 1);
    store_le32(p + 8, 0);
    store_le32(p + 12, (uint32_t)(PCI_HOLE_END - hole_start));
    p += DSDT_HOLE_FIELDS;
    memcpy(p, dsdt_aml_tail, sizeof(dsdt_aml_tail));
    acpi_finish(t, length);
    return t;
}

static uint8_t *acpi_build_facs(struct table_area *a)
{
    uint8_t *t = table_area_alloc(a, ACPI_FACS_SIZE, 64);

    if (!t)
        return NULL;
    memcpy(t, "FACS", 4);
    store_le32(t + 4, ACPI_FACS_SIZE);
    t[32] = FACS_VERSION; /* hardware signature, waking vectors, lock, flags: 0 */
    return t;
}

static uint8_t *acpi_build_fadt(struct table_area *a, const struct firmware_platform *pf,
                                const uint8_t *facs, const uint8_t *dsdt)
{
    uint8_t *t = table_area_alloc(a, ACPI_FADT_SIZE, 4);
    uint32_t flags = FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON;

    if (!t)
        return NULL;
    acpi_put_header(t, "FACP", ACPI_FADT_SIZE, ACPI_FADT_REVISION);
    store_le32(t + FADT_FIRMWARE_CTRL, table_area_phys(a, facs));
    store_le32(t + FADT_DSDT, table_area_phys(a, dsdt));
    store_le16(t + FADT_SCI_INT, ACPI_SCI_IRQ);
    store_le32(t + FADT_SMI_CMD, 0); /* no SMI command port: always in ACPI mode */
    store_le32(t + FADT_PM1A_EVT_BLK, ACPI_PM1_EVT_BLK);
    store_le32(t + FADT_PM1A_CNT_BLK, ACPI_PM1_CNT_BLK);
    store_le32(t + FADT_PM_TMR_BLK, ACPI_PM_TMR_BLK);
    t[FADT_PM1_EVT_LEN] = ACPI_PM1_EVT_LEN;
    t[FADT_PM1_CNT_LEN] = ACPI_PM1_CNT_LEN;
    t[FADT_PM_TMR_LEN] = ACPI_PM_TMR_LEN;
    store_le16(t + 96, 101);  /* P_LVL2_LAT > 100: no C2 */
    store_le16(t + 98, 1001); /* P_LVL3_LAT > 1000: no C3 */
    t[FADT_CENTURY] = RTC_CMOS_CENTURY;
    store_le16(t + FADT_IAPC_BOOT_ARCH, IAPC_LEGACY_DEVICES | IAPC_8042);
    if (pf->reset_register) {
        flags |= FADT_F_RESET_REG_SUP;
        acpi_put_gas_io(t + FADT_RESET_REG, CHIPSET_RESET_CONTROL_PORT, 1);
        t[FADT_RESET_VALUE] = ACPI_RESET_VALUE;
    }
    store_le32(t + FADT_FLAGS, flags);
    /* X_FIRMWARE_CTRL stays 0: it is for a FACS above 4 GiB, and must be 0
     * when FIRMWARE_CTRL is set. */
    store_le64(t + FADT_X_DSDT, table_area_phys(a, dsdt));
    acpi_put_gas_io(t + FADT_X_PM1A_EVT_BLK, ACPI_PM1_EVT_BLK, ACPI_PM1_EVT_LEN);
    acpi_put_gas_io(t + FADT_X_PM1A_CNT_BLK, ACPI_PM1_CNT_BLK, ACPI_PM1_CNT_LEN);
    acpi_put_gas_io(t + FADT_X_PM_TMR_BLK, ACPI_PM_TMR_BLK, ACPI_PM_TMR_LEN);
    acpi_finish(t, ACPI_FADT_SIZE);
    return t;
}

static uint8_t *madt_put_override(uint8_t *e, uint8_t irq, uint32_t gsi, uint16_t flags)
{
    e[0] = MADT_OVERRIDE;
    e[1] = MADT_OVERRIDE_LEN;
    e[2] = 0; /* bus: ISA */
    e[3] = irq;
    store_le32(e + 4, gsi);
    store_le16(e + 8, flags);
    return e + MADT_OVERRIDE_LEN;
}

static uint8_t *acpi_build_madt(struct table_area *a)
{
    uint32_t length = ACPI_HEADER_SIZE + 8 + MADT_ENTRIES_LEN;
    uint8_t *t = table_area_alloc(a, length, 4);
    uint8_t *e;

    if (!t)
        return NULL;
    acpi_put_header(t, "APIC", length, 1);
    store_le32(t + 36, LAPIC_BASE);
    store_le32(t + 40, MADT_PCAT_COMPAT);
    e = t + 44;
    e[0] = MADT_LOCAL_APIC;
    e[1] = MADT_LOCAL_APIC_LEN;
    e[2] = 0; /* ACPI processor UID */
    e[3] = 0; /* APIC ID */
    store_le32(e + 4, ACPI_PROCESSOR_ENABLED);
    e += MADT_LOCAL_APIC_LEN;
    e[0] = MADT_IO_APIC;
    e[1] = MADT_IO_APIC_LEN;
    e[2] = IOAPIC_ID;
    store_le32(e + 4, IOAPIC_BASE);
    store_le32(e + 8, 0); /* global system interrupt base */
    e += MADT_IO_APIC_LEN;
    e = madt_put_override(e, 0, irq_isa_to_gsi(0), MPS_INTI_CONFORMS);
    e = madt_put_override(e, ACPI_SCI_IRQ, irq_isa_to_gsi(ACPI_SCI_IRQ),
                          MPS_INTI_ACTIVE_HIGH | MPS_INTI_LEVEL);
    e[0] = MADT_LOCAL_APIC_NMI;
    e[1] = MADT_LOCAL_NMI_LEN;
    e[2] = MADT_ALL_PROCESSORS;
    store_le16(e + 3, MPS_INTI_CONFORMS);
    e[5] = 1; /* LINT1 */
    acpi_finish(t, length);
    return t;
}

bool acpi_tables_build(struct table_area *a, const struct firmware_platform *pf)
{
    uint32_t rsdt_length = ACPI_HEADER_SIZE + 4 * RSDT_ENTRIES;
    uint8_t *rsdp = table_area_alloc(a, ACPI_RSDP_SIZE, 16);
    uint8_t *rsdt = table_area_alloc(a, rsdt_length, 4);
    uint8_t *facs = acpi_build_facs(a);
    uint8_t *dsdt = facs ? acpi_build_dsdt(a, pf) : NULL;
    uint8_t *fadt = dsdt ? acpi_build_fadt(a, pf, facs, dsdt) : NULL;
    uint8_t *madt = fadt ? acpi_build_madt(a) : NULL;

    if (!rsdp || !rsdt || !madt)
        return false;
    acpi_put_header(rsdt, "RSDT", rsdt_length, 1);
    store_le32(rsdt + ACPI_HEADER_SIZE, table_area_phys(a, fadt));
    store_le32(rsdt + ACPI_HEADER_SIZE + 4, table_area_phys(a, madt));
    acpi_finish(rsdt, rsdt_length);

    memcpy(rsdp, "RSD PTR ", 8);
    memcpy(rsdp + 9, ACPI_OEM_ID, 6);
    rsdp[15] = 0; /* revision 0: ACPI 1.0 RSDP, RSDT only */
    store_le32(rsdp + 16, table_area_phys(a, rsdt));
    rsdp[8] = table_checksum(rsdp, ACPI_RSDP_SIZE);
    return true;
}
