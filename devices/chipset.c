/*
 * devices/chipset.c — the 440FX/PIIX3 functions on PCI bus 0 and the
 * PIIX3 reset control register (chipset.h).
 *
 * Register values are the datasheets' reset defaults (Intel 82441FX PMC
 * and 82371SB PIIX3 datasheets, "PCI configuration registers"), except
 * where a BIOS would have changed them (marked "BIOS"). Chipset registers
 * that steer things popek does not model — DRAM timing and row
 * boundaries, PAM shadowing, PIRQ routing, SMI — are plain writable
 * storage: software reads back what it wrote and nothing else happens.
 *
 *   00.0 82441FX   04 PCICMD  0x0006 (memory and bus master hardwired on;
 *                             parity and SERR enables writable)
 *                  06 PCISTS  0x0280   08 RID 0x02   0D MLT 0x00 (rw)
 *                  50-7F      PMCCFG, DETURBO, DBC, AXC, DRT, DRAMC,
 *                             DRAMT, PAM0-6, DRB0-7, FDHC, MTT, CLT,
 *                             SMRAM: storage
 *   01.0 PIIX3     04 PCICMD  0x0007 (I/O, memory, bus master hardwired)
 *                  06 PCISTS  0x0200   0E HEDT 0x80 (multifunction)
 *                  4C IORT 0x4D   4E XBCS 0x0003   60-63 PIRQRC 0x80 each
 *                  69 TOM 0x02   6A MSTAT 0x0000   70 MBIRQ0 0x80
 *                  76-77 MBDMA 0x0C each   78 PCSC 0x0002
 *                  80 APICBASE 0x00   82 DLC 0x00: storage
 *   01.1 PIIX3 IDE 04 PCICMD  0x0001 (BIOS: I/O enabled; IOSE, BME rw)
 *                  06 PCISTS  0x0280   09 PI 0x80 (bus-master capable,
 *                             both channels in compatibility mode, fixed)
 *                  0D MLT 0x00 (rw)   20 BMIBA: not implemented, reads 0
 *                  40-41 IDETIM primary, 42-43 secondary: 0x8000 (BIOS:
 *                             IDE decode enable), rw   44 SIDETIM 0x00
 *
 * RC (I/O 0xCF9): bit 1 System Reset (read/write), bit 2 Reset CPU (reads
 * 0): writing bit 2 = 1 resets.
 */
#include "devices/chipset.h"

#include <stdlib.h>

#define VENDOR_INTEL     0x8086
#define DEVICE_82441FX   0x1237
#define DEVICE_PIIX3_ISA 0x7000
#define DEVICE_PIIX3_IDE 0x7010

#define CLASS_HOST_BRIDGE    0x060000
#define CLASS_ISA_BRIDGE     0x060100
#define CLASS_IDE_COMPAT_BM  0x010180 /* mass storage, IDE, prog-if 0x80 */
#define IDETIM_DECODE_ENABLE 0x8000

#define RC_SYSTEM_RESET 0x02
#define RC_RESET_CPU    0x04

struct chipset {
    uint8_t reset_control;
    chipset_reset_fn request_reset;
    void *ctx;
};

static const struct pci_function_info host_bridge_info = {
    .name = "i440fx",
    .vendor_id = VENDOR_INTEL,
    .device_id = DEVICE_82441FX,
    .revision_id = 0x02,
    .class_code = CLASS_HOST_BRIDGE,
};

static const struct pci_function_info isa_bridge_info = {
    .name = "piix3-isa",
    .vendor_id = VENDOR_INTEL,
    .device_id = DEVICE_PIIX3_ISA,
    .class_code = CLASS_ISA_BRIDGE,
    .header_type = PCI_HEADER_MULTIFUNCTION,
};

static const struct pci_function_info ide_info = {
    .name = "piix3-ide",
    .vendor_id = VENDOR_INTEL,
    .device_id = DEVICE_PIIX3_IDE,
    .class_code = CLASS_IDE_COMPAT_BM,
};

/* Writable storage with a reset value, size bytes at offset. */
static void chipset_storage(struct pci_function *fn, unsigned offset, unsigned size, uint32_t value)
{
    pci_config_init(fn, offset, size, value, 0xFFFFFFFFu);
}

static bool chipset_add_host_bridge(struct pci_bus *pci, struct popek_error *err)
{
    struct pci_function *fn =
        pci_add_function(pci, PCI_DEVFN(0, 0), &host_bridge_info, NULL, NULL, err);

    if (!fn)
        return false;
    pci_config_init(fn, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0x0140);
    pci_config_init(fn, PCI_STATUS, 2, PCI_STATUS_DEVSEL_MEDIUM | PCI_STATUS_FAST_BACK, 0);
    chipset_storage(fn, PCI_LATENCY_TIMER, 1, 0);
    for (unsigned offset = 0x50; offset < 0x80; offset += 4)
        chipset_storage(fn, offset, 4, 0);
    return true;
}

static bool chipset_add_isa_bridge(struct pci_bus *pci, struct popek_error *err)
{
    struct pci_function *fn =
        pci_add_function(pci, PCI_DEVFN(1, 0), &isa_bridge_info, NULL, NULL, err);

    if (!fn)
        return false;
    pci_config_init(fn, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
                    0x0108);
    pci_config_init(fn, PCI_STATUS, 2, PCI_STATUS_DEVSEL_MEDIUM, 0);
    chipset_storage(fn, 0x4C, 1, 0x4D);       /* IORT */
    chipset_storage(fn, 0x4E, 2, 0x0003);     /* XBCS */
    chipset_storage(fn, 0x60, 4, 0x80808080); /* PIRQRC[A-D]: routing disabled */
    chipset_storage(fn, 0x69, 1, 0x02);       /* TOM */
    chipset_storage(fn, 0x6A, 2, 0x0000);     /* MSTAT */
    chipset_storage(fn, 0x70, 1, 0x80);       /* MBIRQ0 */
    chipset_storage(fn, 0x76, 2, 0x0C0C);     /* MBDMA0-1 */
    chipset_storage(fn, 0x78, 2, 0x0002);     /* PCSC */
    chipset_storage(fn, 0x80, 1, 0x00);       /* APICBASE */
    chipset_storage(fn, 0x82, 1, 0x00);       /* DLC */
    return true;
}

static bool chipset_add_ide(struct pci_bus *pci, struct popek_error *err)
{
    struct pci_function *fn = pci_add_function(pci, PCI_DEVFN(1, 1), &ide_info, NULL, NULL, err);

    if (!fn)
        return false;
    pci_config_init(fn, PCI_COMMAND, 2, PCI_COMMAND_IO, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
    pci_config_init(fn, PCI_STATUS, 2, PCI_STATUS_DEVSEL_MEDIUM | PCI_STATUS_FAST_BACK, 0);
    chipset_storage(fn, PCI_LATENCY_TIMER, 1, 0);
    chipset_storage(fn, PCI_INTERRUPT_LINE, 1, 0);
    chipset_storage(fn, 0x40, 2, IDETIM_DECODE_ENABLE); /* IDETIM, primary */
    chipset_storage(fn, 0x42, 2, IDETIM_DECODE_ENABLE); /* IDETIM, secondary */
    chipset_storage(fn, 0x44, 1, 0);                    /* SIDETIM */
    return true;
}

/* ---- RC: reset control (PIIX3 datasheet, I/O register CF9h) ---- */

static uint32_t reset_control_read(void *opaque, io_port_t port, unsigned size)
{
    struct chipset *cs = opaque;

    return size == 1 ? cs->reset_control : 0xFFFFFFFFu;
}

static void reset_control_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct chipset *cs = opaque;

    if (size != 1)
        return;
    cs->reset_control = (uint8_t)(value & RC_SYSTEM_RESET);
    if (value & RC_RESET_CPU)
        cs->request_reset(cs->ctx);
}

static const struct ioport_ops reset_control_ops = {
    .name = "piix3-reset-control",
    .read = reset_control_read,
    .write = reset_control_write,
};

struct chipset *chipset_create(struct ioport_bus *io, struct pci_bus *pci,
                               chipset_reset_fn request_reset, void *ctx, struct popek_error *err)
{
    struct chipset *cs = calloc(1, sizeof(*cs));

    if (!cs) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    cs->request_reset = request_reset;
    cs->ctx = ctx;
    if (!chipset_add_host_bridge(pci, err) || !chipset_add_isa_bridge(pci, err) ||
        !chipset_add_ide(pci, err) ||
        !ioport_register(io, CHIPSET_RESET_CONTROL_PORT, 1, &reset_control_ops, cs, err)) {
        free(cs);
        return NULL;
    }
    return cs;
}

void chipset_destroy(struct chipset *cs)
{
    free(cs);
}

void chipset_reset(struct chipset *cs)
{
    cs->reset_control = 0;
}

void chipset_save(const struct chipset *cs, struct snap_writer *w)
{
    snap_put_u8(w, cs->reset_control);
}

bool chipset_load(struct chipset *cs, struct snap_section *s)
{
    uint8_t rc = snap_get_u8(s);

    snap_check(s, !(rc & ~RC_SYSTEM_RESET), "reset control bits that cannot be set");
    cs->reset_control = rc;
    return !s->bad;
}
