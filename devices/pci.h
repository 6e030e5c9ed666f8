/*
 * devices/pci.h — PCI bus 0 and configuration mechanism #1 (PCI Local Bus
 * Specification 3.0, §3.2.2.3.2).
 *
 * Software reaches a function's 256-byte configuration space through two
 * I/O locations owned by the host bridge:
 *
 *   0xCF8       CONFIG_ADDRESS, dword accesses only
 *               31 enable | 30-24 reserved (0) | 23-16 bus | 15-11 device |
 *               10-8 function | 7-2 register (dword) | 1-0 read as 0
 *   0xCFC-0xCFF CONFIG_DATA: byte, word or dword at any offset in the
 *               dword; port 0xCFC + n reaches register + n
 *
 * Only bus 0 exists. A function nobody registered reads all ones (no
 * device claims the cycle: master abort) and ignores writes, and so does
 * CONFIG_DATA while the enable bit is clear.
 *
 * A device registers a function with its identity, then sets up the rest
 * of its configuration space: each byte has a value after reset and a mask
 * of the bits software may write (the others are read-only). BARs are
 * declared with their size; writing all ones to one reads back its size
 * mask (§6.2.5.1). A callback tells the device when its command register
 * or one of its BARs changed, so it can move or stop decoding its ranges.
 *
 *     struct pci_function *fn = pci_add_function(bus, PCI_DEVFN(3, 0), &info,
 *                                                nic_mapping_changed, nic, err);
 *     pci_declare_bar(fn, 0, 0x20, PCI_BAR_IO);
 *     pci_config_init(fn, PCI_INTERRUPT_LINE, 1, 11, 0xFF);
 *     ...
 *     uint32_t base = pci_bar_address(fn, 0);  // PCI_BAR_UNMAPPED if off
 */
#ifndef POPEK_DEVICES_PCI_H
#define POPEK_DEVICES_PCI_H

#include "common/snapshot.h"
#include "devices/ioport.h"

#define PCI_CONFIG_ADDRESS_PORT 0xCF8
#define PCI_CONFIG_DATA_PORT    0xCFC
#define PCI_CONFIG_SPACE_SIZE   256

#define PCI_DEVFN(device, function) (((device) << 3) | (function))

/* Type 0 configuration header (PCI 3.0 §6.1, figure 6-1). */
#define PCI_VENDOR_ID      0x00
#define PCI_DEVICE_ID      0x02
#define PCI_COMMAND        0x04
#define PCI_STATUS         0x06
#define PCI_REVISION_ID    0x08
#define PCI_CLASS_PROG     0x09 /* programming interface; 0x0A sub-class, 0x0B class */
#define PCI_LATENCY_TIMER  0x0D
#define PCI_HEADER_TYPE    0x0E
#define PCI_BAR0           0x10
#define PCI_INTERRUPT_LINE 0x3C
#define PCI_INTERRUPT_PIN  0x3D

#define PCI_COMMAND_IO     0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004

#define PCI_STATUS_FAST_BACK     0x0080
#define PCI_STATUS_DEVSEL_MEDIUM 0x0200

#define PCI_HEADER_MULTIFUNCTION 0x80

#define PCI_NUM_BARS     6
#define PCI_BAR_UNMAPPED UINT32_MAX

enum pci_bar_kind {
    PCI_BAR_IO,    /* bit 0 = 1; I/O space, 4-byte granularity */
    PCI_BAR_MEM32, /* bits 2-1 = 00: anywhere in 32-bit memory space */
};

struct pci_function_info {
    const char *name;
    uint16_t vendor_id, device_id;
    uint8_t revision_id;
    uint32_t class_code; /* class << 16 | sub-class << 8 | programming interface */
    uint8_t header_type; /* 0, or PCI_HEADER_MULTIFUNCTION on function 0 */
};

struct pci_bus;
struct pci_function;

/* Called after a configuration write changed the command register or a
 * BAR (and after a reset that did): the device reads pci_bar_address. */
typedef void (*pci_mapping_changed_fn)(void *opaque, struct pci_function *fn);

/* Creates bus 0 and claims CONFIG_ADDRESS and CONFIG_DATA on io. */
struct pci_bus *pci_bus_create(struct ioport_bus *io, struct popek_error *err);
void pci_bus_destroy(struct pci_bus *bus);

/* PCI RST#: every function's configuration space back to its reset
 * values, CONFIG_ADDRESS cleared. */
void pci_bus_reset(struct pci_bus *bus);

/* Registers a function at devfn (PCI_DEVFN(device 0-31, function 0-7)).
 * The header's identity registers are read-only; the command register
 * reads 0 with no bit writable until pci_config_init says otherwise.
 * changed may be NULL. The function lives as long as the bus. */
struct pci_function *pci_add_function(struct pci_bus *bus, unsigned devfn,
                                      const struct pci_function_info *info,
                                      pci_mapping_changed_fn changed, void *opaque,
                                      struct popek_error *err);

/* Sets size (1, 2 or 4) bytes at offset: their value after reset and the
 * bits software may change (little-endian, as config space is). */
void pci_config_init(struct pci_function *fn, unsigned offset, unsigned size, uint32_t value,
                     uint32_t writable);

/* Declares BAR n (0-5) of size bytes (a power of two: at least 4 for I/O,
 * 16 for memory). It reads 0 (unassigned) after reset. */
void pci_declare_bar(struct pci_function *fn, unsigned n, uint32_t size, enum pci_bar_kind kind);

/* The base BAR n decodes, or PCI_BAR_UNMAPPED when the BAR does not exist
 * or the command register's I/O or memory enable for it is clear. */
uint32_t pci_bar_address(const struct pci_function *fn, unsigned n);

/* Configuration space as software sees it (size 1, 2 or 4; offset + size
 * within the 256 bytes). */
uint32_t pci_config_read(const struct pci_function *fn, unsigned offset, unsigned size);
void pci_config_write(struct pci_function *fn, unsigned offset, unsigned size, uint32_t value);

/* Saved state (devices/platform.h): CONFIG_ADDRESS and the configuration
 * space of every function. A load requires the same functions (by devfn,
 * vendor and device ID) and tells each function whose command register or
 * BARs differ from before, as a configuration write would. */
#define PCI_STATE_VERSION 1
void pci_bus_save(const struct pci_bus *bus, struct snap_writer *w);
bool pci_bus_load(struct pci_bus *bus, struct snap_section *s);

#endif
