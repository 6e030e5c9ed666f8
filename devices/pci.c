/*
 * devices/pci.c — bus 0 behind configuration mechanism #1 (pci.h).
 *
 * Written from the PCI Local Bus Specification 3.0: §3.2.2.3.2 for the
 * CONFIG_ADDRESS/CONFIG_DATA pair, §6.1-§6.2 for the header every function
 * presents, §6.2.5.1 for BAR sizing.
 *
 * Each function keeps three 256-byte images: what software reads now, what
 * it reads after reset, and per bit whether a write may change it. A
 * configuration write merges value and mask byte by byte, so read-only
 * fields (identity, class, BAR type bits, the low bits of a BAR below its
 * size) simply keep their value — which is also all BAR sizing needs:
 * all ones written, the address bits above the size read back as ones.
 * Bytes nobody initialised are reserved: they read 0, as §6.1 requires.
 */
#include "devices/pci.h"

#include <stdlib.h>
#include <string.h>

/* CONFIG_ADDRESS fields (§3.2.2.3.2, figure 3-2). */
#define CONFIG_ENABLE         0x80000000u
#define CONFIG_BUS_SHIFT      16
#define CONFIG_DEVFN_SHIFT    8
#define CONFIG_REGISTER_MASK  0xFCu
#define CONFIG_ADDRESS_MASK   0x80FFFFFCu /* 30-24 reserved, 1-0 read as 0 */
#define PCI_NUM_DEVFN         256
#define PCI_BAR_IO_SPACE      0x1u /* BAR bit 0 (§6.2.5.1) */
#define PCI_BAR_IO_TYPE_BITS  0x3u
#define PCI_BAR_MEM_TYPE_BITS 0xFu

struct pci_function {
    const char *name;
    uint8_t config[PCI_CONFIG_SPACE_SIZE];
    uint8_t reset_config[PCI_CONFIG_SPACE_SIZE];
    uint8_t writable[PCI_CONFIG_SPACE_SIZE];
    uint32_t bar_size[PCI_NUM_BARS]; /* 0: no such BAR */
    enum pci_bar_kind bar_kind[PCI_NUM_BARS];
    pci_mapping_changed_fn changed;
    void *opaque;
};

struct pci_bus {
    uint32_t config_address;
    struct pci_function *functions[PCI_NUM_DEVFN];
};

/* ---- one function's configuration space ---- */

/* The command register and the BARs: what decides where a function
 * decodes. */
static bool pci_is_mapping_byte(unsigned offset)
{
    return (offset >= PCI_COMMAND && offset < PCI_COMMAND + 2) ||
           (offset >= PCI_BAR0 && offset < PCI_BAR0 + 4 * PCI_NUM_BARS);
}

uint32_t pci_config_read(const struct pci_function *fn, unsigned offset, unsigned size)
{
    uint32_t value = 0;

    for (unsigned i = 0; i < size; i++)
        value |= (uint32_t)fn->config[offset + i] << (8 * i);
    return value;
}

void pci_config_write(struct pci_function *fn, unsigned offset, unsigned size, uint32_t value)
{
    bool mapping_changed = false;

    for (unsigned i = 0; i < size; i++) {
        unsigned at = offset + i;
        uint8_t mask = fn->writable[at];
        uint8_t old = fn->config[at];

        fn->config[at] = (uint8_t)((old & ~mask) | ((value >> (8 * i)) & mask));
        if (fn->config[at] != old && pci_is_mapping_byte(at))
            mapping_changed = true;
    }
    if (mapping_changed && fn->changed)
        fn->changed(fn->opaque, fn);
}

void pci_config_init(struct pci_function *fn, unsigned offset, unsigned size, uint32_t value,
                     uint32_t writable)
{
    for (unsigned i = 0; i < size; i++) {
        fn->config[offset + i] = (uint8_t)(value >> (8 * i));
        fn->reset_config[offset + i] = (uint8_t)(value >> (8 * i));
        fn->writable[offset + i] = (uint8_t)(writable >> (8 * i));
    }
}

/* A BAR's low bits say what it maps and are read-only; the bits below its
 * size read 0, so writing all ones reads back ~(size - 1) | type. */
void pci_declare_bar(struct pci_function *fn, unsigned n, uint32_t size, enum pci_bar_kind kind)
{
    uint32_t type = kind == PCI_BAR_IO ? PCI_BAR_IO_SPACE : 0;

    fn->bar_size[n] = size;
    fn->bar_kind[n] = kind;
    pci_config_init(fn, PCI_BAR0 + 4 * n, 4, type, ~(size - 1));
}

uint32_t pci_bar_address(const struct pci_function *fn, unsigned n)
{
    uint16_t command = (uint16_t)pci_config_read(fn, PCI_COMMAND, 2);
    uint32_t bar;

    if (n >= PCI_NUM_BARS || fn->bar_size[n] == 0)
        return PCI_BAR_UNMAPPED;
    bar = pci_config_read(fn, PCI_BAR0 + 4 * n, 4);
    if (fn->bar_kind[n] == PCI_BAR_IO)
        return (command & PCI_COMMAND_IO) ? bar & ~PCI_BAR_IO_TYPE_BITS : PCI_BAR_UNMAPPED;
    return (command & PCI_COMMAND_MEMORY) ? bar & ~PCI_BAR_MEM_TYPE_BITS : PCI_BAR_UNMAPPED;
}

/* ---- the bus ---- */

struct pci_function *pci_add_function(struct pci_bus *bus, unsigned devfn,
                                      const struct pci_function_info *info,
                                      pci_mapping_changed_fn changed, void *opaque,
                                      struct popek_error *err)
{
    struct pci_function *fn;

    if (devfn >= PCI_NUM_DEVFN) {
        popek_fail(err, "pci: %s at a bad device/function 0x%x", info->name, devfn);
        return NULL;
    }
    if (bus->functions[devfn]) {
        popek_fail(err, "pci: %s at %02x.%x already taken by %s", info->name, devfn >> 3, devfn & 7,
                   bus->functions[devfn]->name);
        return NULL;
    }
    fn = calloc(1, sizeof(*fn));
    if (!fn) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    fn->name = info->name;
    fn->changed = changed;
    fn->opaque = opaque;
    pci_config_init(fn, PCI_VENDOR_ID, 2, info->vendor_id, 0);
    pci_config_init(fn, PCI_DEVICE_ID, 2, info->device_id, 0);
    pci_config_init(fn, PCI_REVISION_ID, 1, info->revision_id, 0);
    pci_config_init(fn, PCI_CLASS_PROG, 3, info->class_code, 0);
    pci_config_init(fn, PCI_HEADER_TYPE, 1, info->header_type, 0);
    bus->functions[devfn] = fn;
    return fn;
}

/* Replaces the whole configuration space, telling the owner when where
 * the function decodes may have changed. */
static void pci_config_replace(struct pci_function *fn, const uint8_t *config)
{
    bool mapping_changed = false;

    for (unsigned at = 0; at < PCI_CONFIG_SPACE_SIZE; at++) {
        if (fn->config[at] != config[at] && pci_is_mapping_byte(at))
            mapping_changed = true;
    }
    memcpy(fn->config, config, sizeof(fn->config));
    if (mapping_changed && fn->changed)
        fn->changed(fn->opaque, fn);
}

void pci_bus_reset(struct pci_bus *bus)
{
    bus->config_address = 0;
    for (unsigned devfn = 0; devfn < PCI_NUM_DEVFN; devfn++) {
        if (bus->functions[devfn])
            pci_config_replace(bus->functions[devfn], bus->functions[devfn]->reset_config);
    }
}

/* The function CONFIG_ADDRESS selects, or NULL: enable clear, another bus,
 * or nobody at that device/function. */
static struct pci_function *pci_selected_function(const struct pci_bus *bus)
{
    uint32_t address = bus->config_address;

    if (!(address & CONFIG_ENABLE) || ((address >> CONFIG_BUS_SHIFT) & 0xFF) != 0)
        return NULL;
    return bus->functions[(address >> CONFIG_DEVFN_SHIFT) & 0xFF];
}

/* CONFIG_ADDRESS answers dword accesses only; narrower ones are ordinary
 * I/O cycles nobody claims (0xCF9 is the PIIX3's reset control, see
 * chipset.c). */
static uint32_t pci_address_read(void *opaque, io_port_t port, unsigned size)
{
    struct pci_bus *bus = opaque;

    return size == 4 ? bus->config_address : 0xFFFFFFFFu;
}

static void pci_address_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct pci_bus *bus = opaque;

    if (size == 4)
        bus->config_address = value & CONFIG_ADDRESS_MASK;
}

/* CONFIG_DATA: port 0xCFC + n reaches byte n of the selected dword; bytes
 * of an access that run past 0xCFF are not configuration cycles. */
static uint32_t pci_data_read(void *opaque, io_port_t port, unsigned size)
{
    struct pci_bus *bus = opaque;
    const struct pci_function *fn = pci_selected_function(bus);
    unsigned lane = port - PCI_CONFIG_DATA_PORT;
    unsigned reg = bus->config_address & CONFIG_REGISTER_MASK;
    uint32_t value = 0;

    for (unsigned i = 0; i < size; i++) {
        uint32_t byte = 0xFF;

        if (fn && lane + i < 4)
            byte = pci_config_read(fn, reg + lane + i, 1);
        value |= byte << (8 * i);
    }
    return value;
}

static void pci_data_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct pci_bus *bus = opaque;
    struct pci_function *fn = pci_selected_function(bus);
    unsigned lane = port - PCI_CONFIG_DATA_PORT;
    unsigned reg = bus->config_address & CONFIG_REGISTER_MASK;

    if (!fn)
        return;
    if (lane + size > 4)
        size = 4 - lane;
    pci_config_write(fn, reg + lane, size, value);
}

static const struct ioport_ops pci_address_ops = {
    .name = "pci-config-address",
    .read = pci_address_read,
    .write = pci_address_write,
};

static const struct ioport_ops pci_data_ops = {
    .name = "pci-config-data",
    .read = pci_data_read,
    .write = pci_data_write,
};

struct pci_bus *pci_bus_create(struct ioport_bus *io, struct popek_error *err)
{
    struct pci_bus *bus = calloc(1, sizeof(*bus));

    if (!bus) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    if (!ioport_register(io, PCI_CONFIG_ADDRESS_PORT, 1, &pci_address_ops, bus, err) ||
        !ioport_register(io, PCI_CONFIG_DATA_PORT, 4, &pci_data_ops, bus, err)) {
        free(bus);
        return NULL;
    }
    return bus;
}

void pci_bus_destroy(struct pci_bus *bus)
{
    if (!bus)
        return;
    for (unsigned devfn = 0; devfn < PCI_NUM_DEVFN; devfn++)
        free(bus->functions[devfn]);
    free(bus);
}

/* ---- saved state ---- */

void pci_bus_save(const struct pci_bus *bus, struct snap_writer *w)
{
    unsigned count = 0;

    snap_put_u32(w, bus->config_address);
    for (unsigned devfn = 0; devfn < PCI_NUM_DEVFN; devfn++)
        count += bus->functions[devfn] != NULL;
    snap_put_u16(w, (uint16_t)count);
    for (unsigned devfn = 0; devfn < PCI_NUM_DEVFN; devfn++) {
        const struct pci_function *fn = bus->functions[devfn];
        if (!fn)
            continue;
        snap_put_u8(w, (uint8_t)devfn);
        snap_put_bytes(w, fn->config, sizeof(fn->config));
    }
}

bool pci_bus_load(struct pci_bus *bus, struct snap_section *s)
{
    const uint8_t *configs[PCI_NUM_DEVFN] = {NULL};
    unsigned count = 0;
    int last = -1;

    bus->config_address = snap_get_u32(s);
    snap_check(s, !(bus->config_address & ~CONFIG_ADDRESS_MASK),
               "CONFIG_ADDRESS bits that do not exist");
    for (unsigned devfn = 0; devfn < PCI_NUM_DEVFN; devfn++)
        count += bus->functions[devfn] != NULL;
    if (!snap_check(s, snap_get_u16(s) == count, "another set of PCI functions"))
        return false;
    for (unsigned i = 0; i < count; i++) {
        unsigned devfn = snap_get_u8(s);
        struct pci_function *fn = bus->functions[devfn];
        const uint8_t *config = snap_get_span(s, PCI_CONFIG_SPACE_SIZE);
        /* In increasing devfn, as saved: each function once. */
        if (!snap_check(s, (int)devfn > last, "PCI functions out of order") ||
            !snap_check(s, fn != NULL, "a PCI function this machine does not have") || !config ||
            !snap_check(s, memcmp(config, fn->reset_config, 4) == 0,
                        "a PCI function with another vendor or device ID"))
            return false;
        last = (int)devfn;
        /* Only bits a guest can write may differ from the reset values:
         * the rest (header type, a BAR's type and size bits, capability
         * pointer, ...) are the function's own, not the file's. */
        bool fixed_same = true;
        for (unsigned at = 0; at < PCI_CONFIG_SPACE_SIZE; at++) {
            if ((config[at] ^ fn->reset_config[at]) & ~fn->writable[at])
                fixed_same = false;
        }
        if (!snap_check(s, fixed_same, "PCI configuration bits that are read-only changed"))
            return false;
        configs[devfn] = config;
    }
    if (s->bad)
        return false;
    for (unsigned devfn = 0; devfn < PCI_NUM_DEVFN; devfn++) {
        if (configs[devfn])
            pci_config_replace(bus->functions[devfn], configs[devfn]);
    }
    return true;
}
