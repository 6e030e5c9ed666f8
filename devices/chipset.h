/*
 * devices/chipset.h — the PC chipset on PCI bus 0, as QEMU's `pc` machine
 * has it (so guests see the same functions under both): the Intel 440FX
 * host bridge and the PIIX3 south bridge.
 *
 *   00.0  82441FX PMC host bridge      8086:1237  class 06.00.00
 *   01.0  PIIX3 PCI-to-ISA bridge      8086:7000  class 06.01.00, multifunction
 *   01.1  PIIX3 IDE interface          8086:7010  class 01.01.80
 *   I/O 0xCF9  PIIX3 reset control register (RC)
 *
 * The configuration registers hold what a PC BIOS leaves in them, since
 * popek boots kernels without one: in particular both IDE channels are
 * decoding (IDETIM bit 15), which Linux's ata_piix checks before it probes
 * a channel. The IDE function works in compatibility mode only (prog-if
 * 0x80: primary at 0x1F0/0x3F6 IRQ 14, secondary at 0x170/0x376 IRQ 15;
 * devices/ata.c answers there). Its bus-master DMA BAR (BAR4) is not
 * implemented and reads 0: Linux's libata then says "BMDMA: BAR4 is zero,
 * falling back to PIO" and drives the disks with PIO commands only.
 *
 * A write to RC that sets Reset CPU (bit 2) resets the machine through the
 * callback given at creation; popek does not tell a hard reset (bit 1 set,
 * what Linux's reboot=pci writes: 0x06) from a soft one (INIT), since both
 * end in the firmware and a new boot.
 */
#ifndef POPEK_DEVICES_CHIPSET_H
#define POPEK_DEVICES_CHIPSET_H

#include "common/snapshot.h"
#include "devices/ioport.h"
#include "devices/pci.h"

#define CHIPSET_RESET_CONTROL_PORT 0xCF9

typedef void (*chipset_reset_fn)(void *ctx);

struct chipset;

/* Registers the three functions on pci and claims port 0xCF9. */
struct chipset *chipset_create(struct ioport_bus *io, struct pci_bus *pci,
                               chipset_reset_fn request_reset, void *ctx, struct popek_error *err);
void chipset_destroy(struct chipset *cs);

/* The reset control register back to 0 (the functions' configuration
 * spaces are reset with the bus). */
void chipset_reset(struct chipset *cs);

/* Saved state (devices/platform.h): the reset control register (the PCI
 * functions' configuration spaces are the PCI bus's section). */
#define CHIPSET_STATE_VERSION 1
void chipset_save(const struct chipset *cs, struct snap_writer *w);
bool chipset_load(struct chipset *cs, struct snap_section *s);

#endif
