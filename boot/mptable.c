/*
 * boot/mptable.c — the MP configuration (mptable.h).
 *
 * Intel MultiProcessor Specification 1.4, chapter 4 (section numbers below
 * are its). Layout:
 *
 *   MP floating pointer structure (§4.1, 16 bytes)
 *     0 "_MP_"  4 physical address of the configuration table  8 length
 *     in 16-byte units (1)  9 spec revision (4)  10 checksum  11 feature
 *     byte 1 (0: a configuration table is present)  12 feature byte 2 (bit
 *     7 IMCRP = 0: virtual wire mode, no IMCR)  13-15 reserved
 *   MP configuration table header (§4.2, 44 bytes)
 *     0 "PCMP"  4 base table length  6 spec revision  7 checksum  8 OEM ID
 *     (8)  16 product ID (12)  28 OEM table pointer  32 OEM table size
 *     34 entry count  36 local APIC address  40 extended table length
 *     42 extended table checksum  43 reserved
 *   then the entries, sorted by type (§4.3):
 *     processor (20 bytes): the BSP, local APIC ID 0, version 0x14,
 *        enabled, its CPUID signature and feature flags
 *     bus (8): bus 0, "ISA   "
 *     I/O APIC (8): ID 0, version 0x11, enabled, 0xFEC00000
 *     I/O interrupt assignment (8 each): ISA IRQ 0 on pin 2, IRQ 1 and
 *        3-15 on the pin of the same number, all "conforms to the bus"
 *        (ISA: edge, active high); IRQ 2 is the 8259A cascade, not on the
 *        bus, and has none — as SeaBIOS builds it under QEMU
 *     local interrupt assignment (8 each): ExtINT (the 8259A) on the BSP's
 *        LINT0, NMI on every local APIC's LINT1 (§5.1, virtual wire mode)
 */
#include "boot/mptable.h"

#include <string.h>

#include "common/bytes.h"
#include "devices/ioapic.h"
#include "devices/irq.h"
#include "devices/lapic.h"

#define MP_FLOATING_SIZE  16u
#define MP_HEADER_SIZE    44u
#define MP_PROCESSOR_SIZE 20u
#define MP_ENTRY_SIZE     8u /* every other entry type */

enum mp_entry_type {
    MP_PROCESSOR = 0,
    MP_BUS = 1,
    MP_IOAPIC = 2,
    MP_IO_INTERRUPT = 3,
    MP_LOCAL_INTERRUPT = 4,
};

/* Interrupt types of the assignment entries (§4.3.4, table 4-10). */
enum mp_interrupt_type { MP_INT = 0, MP_NMI = 1, MP_SMI = 2, MP_EXTINT = 3 };

#define MP_CPU_ENABLED     0x01u
#define MP_CPU_BSP         0x02u
#define MP_IOAPIC_ENABLED  0x01u
#define MP_ALL_LOCAL_APICS 0xFFu

#define MP_OEM_ID     "POPEK   "     /* 8 characters, space padded */
#define MP_PRODUCT_ID "POPEK PC    " /* 12 */

/* One 8-byte interrupt assignment entry (§4.3.4, §4.3.5): both kinds have
 * the same shape. */
static void mp_put_interrupt(uint8_t *e, enum mp_entry_type type, enum mp_interrupt_type kind,
                             uint8_t source_irq, uint8_t dest_apic, uint8_t dest_pin)
{
    e[0] = (uint8_t)type;
    e[1] = (uint8_t)kind;
    store_le16(e + 2, 0); /* polarity and trigger conform to the bus */
    e[4] = MPTABLE_ISA_BUS;
    e[5] = source_irq;
    e[6] = dest_apic;
    e[7] = dest_pin;
}

bool mptable_build(struct table_area *a, const struct firmware_platform *pf)
{
    unsigned isa_irqs = IRQ_ISA_LINES - 1; /* all but the cascade */
    unsigned entries = 1 + 1 + 1 + isa_irqs + 2;
    size_t length = MP_HEADER_SIZE + MP_PROCESSOR_SIZE + (entries - 1) * MP_ENTRY_SIZE;
    uint8_t *fp = table_area_alloc(a, MP_FLOATING_SIZE, 16);
    uint8_t *table = table_area_alloc(a, length, 4);
    uint8_t *e;

    if (!fp || !table)
        return false;

    /* §4.2: the header. */
    memcpy(table, "PCMP", 4);
    store_le16(table + 4, (uint16_t)length);
    table[6] = MPTABLE_SPEC_REV;
    memcpy(table + 8, MP_OEM_ID, 8);
    memcpy(table + 16, MP_PRODUCT_ID, 12);
    store_le16(table + 34, (uint16_t)entries);
    store_le32(table + 36, LAPIC_BASE);

    /* §4.3.1: the processor. */
    e = table + MP_HEADER_SIZE;
    e[0] = MP_PROCESSOR;
    e[1] = 0; /* local APIC ID */
    e[2] = LAPIC_VERSION;
    e[3] = MP_CPU_ENABLED | MP_CPU_BSP;
    store_le32(e + 4, pf->cpu_signature);
    store_le32(e + 8, pf->cpu_features);
    e += MP_PROCESSOR_SIZE;

    /* §4.3.2: the bus. */
    e[0] = MP_BUS;
    e[1] = MPTABLE_ISA_BUS;
    memcpy(e + 2, "ISA   ", 6);
    e += MP_ENTRY_SIZE;

    /* §4.3.3: the I/O APIC. */
    e[0] = MP_IOAPIC;
    e[1] = IOAPIC_ID;
    e[2] = IOAPIC_VERSION;
    e[3] = MP_IOAPIC_ENABLED;
    store_le32(e + 4, IOAPIC_BASE);
    e += MP_ENTRY_SIZE;

    /* §4.3.4: the ISA interrupts on the I/O APIC's pins. */
    for (unsigned irq = 0; irq < IRQ_ISA_LINES; irq++) {
        if (irq == PIC_CASCADE_IRQ)
            continue;
        mp_put_interrupt(e, MP_IO_INTERRUPT, MP_INT, (uint8_t)irq, IOAPIC_ID,
                         (uint8_t)irq_isa_to_gsi(irq));
        e += MP_ENTRY_SIZE;
    }

    /* §4.3.5: the local APIC's own inputs. */
    mp_put_interrupt(e, MP_LOCAL_INTERRUPT, MP_EXTINT, 0, 0, 0);
    e += MP_ENTRY_SIZE;
    mp_put_interrupt(e, MP_LOCAL_INTERRUPT, MP_NMI, 0, MP_ALL_LOCAL_APICS, 1);
    table[7] = table_checksum(table, length);

    /* §4.1: the floating pointer. */
    memcpy(fp, "_MP_", 4);
    store_le32(fp + 4, table_area_phys(a, table));
    fp[8] = MP_FLOATING_SIZE / 16;
    fp[9] = MPTABLE_SPEC_REV;
    fp[10] = table_checksum(fp, MP_FLOATING_SIZE);
    return true;
}
