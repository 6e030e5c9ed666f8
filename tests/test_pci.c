/*
 * tests/test_pci.c — configuration mechanism #1 and the function API
 * (devices/pci.c), and the 440FX/PIIX3 functions (devices/chipset.c), all
 * through the I/O ports a guest uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "devices/chipset.h"
#include "devices/ioport.h"
#include "devices/pci.h"
#include "tests/snapshot_rig.h"

#define CONFIG_ENABLE 0x80000000u

struct rig {
    struct ioport_bus *io;
    struct pci_bus *pci;
    struct pci_function *fn; /* a test function at 03.0 */
    unsigned mapping_changes;
    unsigned resets_requested;
};

static void count_mapping_change(void *opaque, struct pci_function *fn)
{
    struct rig *rig = opaque;

    rig->mapping_changes++;
}

static const struct pci_function_info test_info = {
    .name = "test",
    .vendor_id = 0x1234,
    .device_id = 0xABCD,
    .revision_id = 0x05,
    .class_code = 0x020000,
};

static int rig_setup(void **state)
{
    static struct rig rig;
    struct popek_error e;

    rig = (struct rig){0};
    rig.io = ioport_bus_create();
    rig.pci = pci_bus_create(rig.io, &e);
    assert_non_null(rig.pci);
    rig.fn = pci_add_function(rig.pci, PCI_DEVFN(3, 0), &test_info, count_mapping_change, &rig, &e);
    assert_non_null(rig.fn);
    pci_config_init(rig.fn, PCI_COMMAND, 2, 0, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    pci_config_init(rig.fn, PCI_INTERRUPT_LINE, 1, 0, 0xFF);
    pci_config_init(rig.fn, PCI_INTERRUPT_PIN, 1, 1, 0);
    pci_config_init(rig.fn, 0x40, 4, 0x11223344, 0x00FF00FF);
    pci_declare_bar(rig.fn, 0, 0x20, PCI_BAR_IO);
    pci_declare_bar(rig.fn, 1, 0x1000, PCI_BAR_MEM32);
    *state = &rig;
    return 0;
}

static int rig_teardown(void **state)
{
    struct rig *rig = *state;

    pci_bus_destroy(rig->pci);
    ioport_bus_destroy(rig->io);
    return 0;
}

static uint32_t config_address(unsigned bus, unsigned devfn, unsigned reg)
{
    return CONFIG_ENABLE | bus << 16 | devfn << 8 | reg;
}

static uint32_t cfg_read(struct rig *rig, unsigned devfn, unsigned reg, unsigned size)
{
    ioport_write(rig->io, PCI_CONFIG_ADDRESS_PORT, 4, config_address(0, devfn, reg & 0xFC));
    return ioport_read(rig->io, (io_port_t)(PCI_CONFIG_DATA_PORT + (reg & 3)), size);
}

static void cfg_write(struct rig *rig, unsigned devfn, unsigned reg, unsigned size, uint32_t value)
{
    ioport_write(rig->io, PCI_CONFIG_ADDRESS_PORT, 4, config_address(0, devfn, reg & 0xFC));
    ioport_write(rig->io, (io_port_t)(PCI_CONFIG_DATA_PORT + (reg & 3)), size, value);
}

static void test_address_latch(void **state)
{
    struct rig *rig = *state;

    assert_int_equal(ioport_read(rig->io, PCI_CONFIG_ADDRESS_PORT, 4), 0);
    ioport_write(rig->io, PCI_CONFIG_ADDRESS_PORT, 4, CONFIG_ENABLE);
    assert_int_equal(ioport_read(rig->io, PCI_CONFIG_ADDRESS_PORT, 4), CONFIG_ENABLE);
    /* Reserved bits 30-24 and bits 1-0 read as 0. */
    ioport_write(rig->io, PCI_CONFIG_ADDRESS_PORT, 4, 0xFFFFFFFF);
    assert_int_equal(ioport_read(rig->io, PCI_CONFIG_ADDRESS_PORT, 4), 0x80FFFFFC);
    /* Only dword accesses reach CONFIG_ADDRESS. */
    ioport_write(rig->io, PCI_CONFIG_ADDRESS_PORT, 2, 0x1234);
    ioport_write(rig->io, PCI_CONFIG_ADDRESS_PORT, 1, 0x12);
    assert_int_equal(ioport_read(rig->io, PCI_CONFIG_ADDRESS_PORT, 4), 0x80FFFFFC);
    assert_int_equal(ioport_read(rig->io, PCI_CONFIG_ADDRESS_PORT, 1), 0xFF);
    assert_int_equal(ioport_read(rig->io, PCI_CONFIG_ADDRESS_PORT, 2), 0xFFFF);
}

static void test_data_access_sizes(void **state)
{
    struct rig *rig = *state;
    unsigned devfn = PCI_DEVFN(3, 0);

    assert_int_equal(cfg_read(rig, devfn, 0x00, 4), 0xABCD1234);
    assert_int_equal(cfg_read(rig, devfn, 0x00, 2), 0x1234);
    assert_int_equal(cfg_read(rig, devfn, 0x02, 2), 0xABCD);
    assert_int_equal(cfg_read(rig, devfn, 0x01, 1), 0x12);
    assert_int_equal(cfg_read(rig, devfn, 0x03, 1), 0xAB);
    assert_int_equal(cfg_read(rig, devfn, 0x08, 4), 0x02000005);
    assert_int_equal(cfg_read(rig, devfn, 0x0B, 1), 0x02);
    assert_int_equal(cfg_read(rig, devfn, 0x3D, 1), 0x01);
    assert_int_equal(cfg_read(rig, devfn, 0x40, 4), 0x11223344);
    /* A word at 0xCFD straddles lanes 1 and 2 of the same dword. */
    assert_int_equal(cfg_read(rig, devfn, 0x41, 2), 0x2233);
    /* Bytes of an access beyond 0xCFF are no configuration cycle. */
    ioport_write(rig->io, PCI_CONFIG_ADDRESS_PORT, 4, config_address(0, devfn, 0x40));
    assert_int_equal(ioport_read(rig->io, 0xCFE, 4), 0xFFFF1122);

    /* Byte and word writes touch only their lanes, through the mask
     * (0x00FF00FF: bytes 0x40 and 0x42 writable). */
    cfg_write(rig, devfn, 0x40, 1, 0xAA);
    assert_int_equal(cfg_read(rig, devfn, 0x40, 4), 0x112233AA);
    cfg_write(rig, devfn, 0x42, 2, 0xBBCC);
    assert_int_equal(cfg_read(rig, devfn, 0x40, 4), 0x11CC33AA);
    cfg_write(rig, devfn, 0x40, 4, 0xFFFFFFFF);
    assert_int_equal(cfg_read(rig, devfn, 0x40, 4), 0x11FF33FF);
    /* Bytes nobody initialised are reserved: 0, read-only. */
    cfg_write(rig, devfn, 0x80, 4, 0xFFFFFFFF);
    assert_int_equal(cfg_read(rig, devfn, 0x80, 4), 0);
}

static void test_absent_functions(void **state)
{
    struct rig *rig = *state;

    assert_int_equal(cfg_read(rig, PCI_DEVFN(4, 0), 0x00, 4), 0xFFFFFFFF);
    assert_int_equal(cfg_read(rig, PCI_DEVFN(3, 1), 0x00, 2), 0xFFFF);
    assert_int_equal(cfg_read(rig, PCI_DEVFN(31, 7), 0x0E, 1), 0xFF);
    cfg_write(rig, PCI_DEVFN(4, 0), 0x04, 2, 0xFFFF); /* ignored, no crash */

    /* Another bus: nobody there. */
    ioport_write(rig->io, PCI_CONFIG_ADDRESS_PORT, 4, config_address(1, PCI_DEVFN(3, 0), 0));
    assert_int_equal(ioport_read(rig->io, PCI_CONFIG_DATA_PORT, 4), 0xFFFFFFFF);
    /* Enable bit clear: CONFIG_DATA is an ordinary, unclaimed I/O port. */
    ioport_write(rig->io, PCI_CONFIG_ADDRESS_PORT, 4, PCI_DEVFN(3, 0) << 8);
    assert_int_equal(ioport_read(rig->io, PCI_CONFIG_DATA_PORT, 4), 0xFFFFFFFF);
    ioport_write(rig->io, PCI_CONFIG_DATA_PORT, 4, 0);
    assert_int_equal(cfg_read(rig, PCI_DEVFN(3, 0), 0x00, 4), 0xABCD1234);
}

static void test_read_only_bits(void **state)
{
    struct rig *rig = *state;
    unsigned devfn = PCI_DEVFN(3, 0);

    cfg_write(rig, devfn, 0x00, 4, 0);
    cfg_write(rig, devfn, 0x08, 4, 0xFFFFFFFF);
    cfg_write(rig, devfn, 0x3D, 1, 0x04);
    assert_int_equal(cfg_read(rig, devfn, 0x00, 4), 0xABCD1234);
    assert_int_equal(cfg_read(rig, devfn, 0x08, 4), 0x02000005);
    assert_int_equal(cfg_read(rig, devfn, 0x3D, 1), 0x01);
    /* Command: only I/O and memory enable are writable here. */
    cfg_write(rig, devfn, PCI_COMMAND, 2, 0xFFFF);
    assert_int_equal(cfg_read(rig, devfn, PCI_COMMAND, 2), 0x0003);
    cfg_write(rig, devfn, PCI_INTERRUPT_LINE, 1, 11);
    assert_int_equal(cfg_read(rig, devfn, PCI_INTERRUPT_LINE, 1), 11);
}

static void test_bar_sizing(void **state)
{
    struct rig *rig = *state;
    unsigned devfn = PCI_DEVFN(3, 0);

    /* Unassigned after reset, with the type bits. */
    assert_int_equal(cfg_read(rig, devfn, 0x10, 4), 0x00000001);
    assert_int_equal(cfg_read(rig, devfn, 0x14, 4), 0x00000000);
    /* §6.2.5.1: all ones written, the size mask read back. */
    cfg_write(rig, devfn, 0x10, 4, 0xFFFFFFFF);
    cfg_write(rig, devfn, 0x14, 4, 0xFFFFFFFF);
    assert_int_equal(cfg_read(rig, devfn, 0x10, 4), 0xFFFFFFE1); /* 32 bytes of I/O */
    assert_int_equal(cfg_read(rig, devfn, 0x14, 4), 0xFFFFF000); /* 4 KiB of memory */
    /* BARs nobody declared read 0 whatever is written. */
    cfg_write(rig, devfn, 0x18, 4, 0xFFFFFFFF);
    assert_int_equal(cfg_read(rig, devfn, 0x18, 4), 0);
    assert_int_equal(pci_bar_address(rig->fn, 2), PCI_BAR_UNMAPPED);
    /* Assigned addresses keep only the bits above the size. */
    cfg_write(rig, devfn, 0x10, 4, 0xC01F);
    cfg_write(rig, devfn, 0x14, 4, 0xFEB00FFF);
    assert_int_equal(cfg_read(rig, devfn, 0x10, 4), 0xC001);
    assert_int_equal(cfg_read(rig, devfn, 0x14, 4), 0xFEB00000);
    /* Decoding follows the command register. */
    assert_int_equal(pci_bar_address(rig->fn, 0), PCI_BAR_UNMAPPED);
    assert_int_equal(pci_bar_address(rig->fn, 1), PCI_BAR_UNMAPPED);
    cfg_write(rig, devfn, PCI_COMMAND, 2, PCI_COMMAND_IO);
    assert_int_equal(pci_bar_address(rig->fn, 0), 0xC000);
    assert_int_equal(pci_bar_address(rig->fn, 1), PCI_BAR_UNMAPPED);
    cfg_write(rig, devfn, PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    assert_int_equal(pci_bar_address(rig->fn, 1), 0xFEB00000);
}

static void test_mapping_callback(void **state)
{
    struct rig *rig = *state;
    unsigned devfn = PCI_DEVFN(3, 0);

    cfg_write(rig, devfn, 0x40, 4, 0x12345678); /* not a mapping register */
    cfg_write(rig, devfn, PCI_INTERRUPT_LINE, 1, 5);
    assert_int_equal(rig->mapping_changes, 0);
    cfg_write(rig, devfn, 0x10, 4, 0xC000);
    assert_int_equal(rig->mapping_changes, 1);
    cfg_write(rig, devfn, 0x10, 4, 0xC000); /* same value: no change */
    assert_int_equal(rig->mapping_changes, 1);
    cfg_write(rig, devfn, PCI_COMMAND, 1, PCI_COMMAND_IO);
    assert_int_equal(rig->mapping_changes, 2);
    cfg_write(rig, devfn, 0x18, 4, 0xFFFFFFFF); /* read-only BAR: nothing changed */
    assert_int_equal(rig->mapping_changes, 2);

    /* Reset restores every register, and says so when mappings moved. */
    pci_bus_reset(rig->pci);
    assert_int_equal(rig->mapping_changes, 3);
    assert_int_equal(ioport_read(rig->io, PCI_CONFIG_ADDRESS_PORT, 4), 0);
    assert_int_equal(cfg_read(rig, devfn, 0x10, 4), 0x00000001);
    assert_int_equal(cfg_read(rig, devfn, PCI_COMMAND, 2), 0);
    assert_int_equal(cfg_read(rig, devfn, PCI_INTERRUPT_LINE, 1), 0);
    assert_int_equal(cfg_read(rig, devfn, 0x40, 4), 0x11223344);
}

static void test_add_function_errors(void **state)
{
    struct rig *rig = *state;
    struct popek_error e;

    assert_null(pci_add_function(rig->pci, PCI_DEVFN(3, 0), &test_info, NULL, NULL, &e));
    assert_string_equal(e.message, "pci: test at 03.0 already taken by test");
    assert_null(pci_add_function(rig->pci, 256, &test_info, NULL, NULL, &e));
}

/* ---- the chipset functions ---- */

static void count_reset(void *ctx)
{
    struct rig *rig = ctx;

    rig->resets_requested++;
}

static void test_chipset_functions(void **state)
{
    struct rig *rig = *state;
    struct popek_error e;
    struct chipset *cs = chipset_create(rig->io, rig->pci, count_reset, rig, &e);
    unsigned host = PCI_DEVFN(0, 0), isa = PCI_DEVFN(1, 0), ide = PCI_DEVFN(1, 1);

    assert_non_null(cs);
    assert_int_equal(cfg_read(rig, host, 0x00, 4), 0x12378086);
    assert_int_equal(cfg_read(rig, host, 0x08, 4), 0x06000002);
    assert_int_equal(cfg_read(rig, host, 0x0E, 1), 0x00);
    assert_int_equal(cfg_read(rig, isa, 0x00, 4), 0x70008086);
    assert_int_equal(cfg_read(rig, isa, 0x08, 4), 0x06010000);
    assert_int_equal(cfg_read(rig, isa, 0x0E, 1), 0x80); /* multifunction */
    assert_int_equal(cfg_read(rig, isa, 0x60, 4), 0x80808080);
    assert_int_equal(cfg_read(rig, ide, 0x00, 4), 0x70108086);
    assert_int_equal(cfg_read(rig, ide, 0x08, 4), 0x01018000);
    assert_int_equal(cfg_read(rig, ide, 0x40, 4), 0x80008000); /* both channels decode */
    assert_int_equal(cfg_read(rig, PCI_DEVFN(1, 2), 0x00, 4), 0xFFFFFFFF);
    assert_int_equal(cfg_read(rig, PCI_DEVFN(2, 0), 0x00, 4), 0xFFFFFFFF);

    /* No bus-master DMA: BAR4 reads 0 and sizes to nothing. */
    cfg_write(rig, ide, 0x20, 4, 0xFFFFFFFF);
    assert_int_equal(cfg_read(rig, ide, 0x20, 4), 0);
    /* Registers a driver writes: IDETIM, command. Identity stays. */
    cfg_write(rig, ide, 0x40, 2, 0xA307);
    assert_int_equal(cfg_read(rig, ide, 0x40, 2), 0xA307);
    cfg_write(rig, ide, PCI_COMMAND, 2, 0xFFFF);
    assert_int_equal(cfg_read(rig, ide, PCI_COMMAND, 2), PCI_COMMAND_IO | PCI_COMMAND_MASTER);
    cfg_write(rig, ide, 0x08, 4, 0);
    assert_int_equal(cfg_read(rig, ide, 0x08, 4), 0x01018000);
    pci_bus_reset(rig->pci);
    assert_int_equal(cfg_read(rig, ide, 0x40, 4), 0x80008000);
    chipset_destroy(cs);
}

static void test_reset_control(void **state)
{
    struct rig *rig = *state;
    struct popek_error e;
    struct chipset *cs = chipset_create(rig->io, rig->pci, count_reset, rig, &e);

    assert_non_null(cs);
    assert_int_equal(ioport_read(rig->io, CHIPSET_RESET_CONTROL_PORT, 1), 0);
    /* Linux's reboot=pci: 0x02 (hard reset selected), then 0x06. */
    ioport_write(rig->io, CHIPSET_RESET_CONTROL_PORT, 1, 0x02);
    assert_int_equal(rig->resets_requested, 0);
    assert_int_equal(ioport_read(rig->io, CHIPSET_RESET_CONTROL_PORT, 1), 0x02);
    ioport_write(rig->io, CHIPSET_RESET_CONTROL_PORT, 1, 0x06);
    assert_int_equal(rig->resets_requested, 1);
    assert_int_equal(ioport_read(rig->io, CHIPSET_RESET_CONTROL_PORT, 1), 0x02); /* RCPU reads 0 */
    /* A dword at 0xCF8 is still CONFIG_ADDRESS, not the reset register. */
    ioport_write(rig->io, PCI_CONFIG_ADDRESS_PORT, 4, 0x80000604);
    assert_int_equal(rig->resets_requested, 1);
    chipset_reset(cs);
    assert_int_equal(ioport_read(rig->io, CHIPSET_RESET_CONTROL_PORT, 1), 0);
    chipset_destroy(cs);
}

/* A bus like rig_setup's, with the chipset's functions too. */
static struct chipset *rig_with_chipset(struct rig *rig)
{
    struct popek_error e;

    rig->pci = pci_bus_create(rig->io, &e);
    rig->fn =
        pci_add_function(rig->pci, PCI_DEVFN(3, 0), &test_info, count_mapping_change, rig, &e);
    pci_config_init(rig->fn, PCI_COMMAND, 2, 0, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    pci_config_init(rig->fn, 0x40, 4, 0x11223344, 0x00FF00FF);
    pci_declare_bar(rig->fn, 0, 0x20, PCI_BAR_IO);
    pci_declare_bar(rig->fn, 1, 0x1000, PCI_BAR_MEM32);
    struct chipset *cs = chipset_create(rig->io, rig->pci, count_reset, rig, &e);
    assert_non_null(cs);
    return cs;
}

/* Save → a fresh bus and chipset → load: CONFIG_ADDRESS, every function's
 * configuration space (BARs, command, chipset registers) and the reset
 * control register read back the same; the function whose BARs moved is
 * told once, as after a configuration write. */
static void test_save_restore(void **state)
{
    struct rig *unused = *state, a = {0}, b = {0};
    unsigned ide = PCI_DEVFN(1, 1), dev = PCI_DEVFN(3, 0);

    (void)unused;
    a.io = ioport_bus_create();
    struct chipset *cs_a = rig_with_chipset(&a);
    cfg_write(&a, dev, 0x10, 4, 0xC000);
    cfg_write(&a, dev, PCI_COMMAND, 2, PCI_COMMAND_IO);
    cfg_write(&a, dev, 0x40, 1, 0xAA);
    cfg_write(&a, ide, 0x40, 4, 0x80008000);
    ioport_write(a.io, CHIPSET_RESET_CONTROL_PORT, 1, 0x02);
    ioport_write(a.io, PCI_CONFIG_ADDRESS_PORT, 4, config_address(0, ide, 0x08));

    struct snap_writer *w = rig_snap_begin("pci", PCI_STATE_VERSION);
    pci_bus_save(a.pci, w);
    snap_end(w);
    snap_begin(w, "chipset", 0, CHIPSET_STATE_VERSION);
    chipset_save(cs_a, w);
    struct snap_rig snap = rig_snap_finish(w);
    b.io = ioport_bus_create();
    struct chipset *cs_b = rig_with_chipset(&b);
    struct snap_section s;
    rig_snap_open(&snap, "pci", PCI_STATE_VERSION, &s);
    assert_true(pci_bus_load(b.pci, &s));
    assert_true(snap_close(&s, &snap.err));
    rig_snap_open(&snap, "chipset", CHIPSET_STATE_VERSION, &s);
    assert_true(chipset_load(cs_b, &s));
    rig_snap_close(&snap, &s);
    assert_int_equal(b.mapping_changes, 1);

    assert_int_equal(ioport_read(b.io, PCI_CONFIG_ADDRESS_PORT, 4),
                     ioport_read(a.io, PCI_CONFIG_ADDRESS_PORT, 4));
    assert_int_equal(ioport_read(b.io, CHIPSET_RESET_CONTROL_PORT, 1), 0x02);
    for (unsigned devfn = 0; devfn < 32; devfn++) {
        for (unsigned reg = 0; reg < 256; reg += 4)
            assert_int_equal(cfg_read(&b, devfn, reg, 4), cfg_read(&a, devfn, reg, 4));
    }
    ioport_write(b.io, CHIPSET_RESET_CONTROL_PORT, 1, 0x06);
    assert_int_equal(b.resets_requested, 1);
    chipset_destroy(cs_a);
    chipset_destroy(cs_b);
    pci_bus_destroy(a.pci);
    pci_bus_destroy(b.pci);
    ioport_bus_destroy(a.io);
    ioport_bus_destroy(b.io);
}

/* A bus whose functions differ from the file's is refused. */
static void test_load_corrupt(void **state)
{
    struct rig *rig = *state;
    struct snap_section s;
    uint8_t bytes[4 + 2 + 1 + 256] = {0};

    bytes[4] = 1; /* one function, at 00.0, where this bus has none */
    struct snap_rig snap = rig_snap_raw("pci", PCI_STATE_VERSION, bytes, sizeof(bytes));
    rig_snap_open(&snap, "pci", PCI_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, pci_bus_load(rig->pci, &s));
    bytes[6] = PCI_DEVFN(3, 0); /* the right place, another vendor */
    snap = rig_snap_raw("pci", PCI_STATE_VERSION, bytes, sizeof(bytes));
    rig_snap_open(&snap, "pci", PCI_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, pci_bus_load(rig->pci, &s));
    assert_non_null(strstr(snap.err.message, "vendor"));
    snap = rig_snap_raw("chipset", CHIPSET_STATE_VERSION, "\xff", 1);
    rig_snap_open(&snap, "chipset", CHIPSET_STATE_VERSION, &s);
    struct popek_error e;
    struct chipset *cs = chipset_create(rig->io, rig->pci, count_reset, rig, &e);
    rig_snap_expect_refused(&snap, &s, chipset_load(cs, &s));
    chipset_destroy(cs);
}

/* The rig's bus saved, as the section's payload (config_address, count,
 * then devfn and 256 bytes per function). */
static uint8_t *saved_bus(struct rig *rig, size_t *size)
{
    struct snap_section_info info;
    struct snap_writer *w = rig_snap_begin("pci", PCI_STATE_VERSION);

    pci_bus_save(rig->pci, w);
    struct snap_rig snap = rig_snap_finish(w);
    assert_true(snap_reader_section_info(snap.reader, 0, &info));
    uint8_t *p = malloc(info.size);
    assert_non_null(p);
    memcpy(p, info.data, info.size);
    *size = info.size;
    rig_snap_free(&snap);
    return p;
}

static void expect_pci_refused(struct rig *rig, const uint8_t *bytes, size_t size, const char *why)
{
    struct snap_section s;
    struct snap_rig snap = rig_snap_raw("pci", PCI_STATE_VERSION, bytes, size);

    rig_snap_open(&snap, "pci", PCI_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, pci_bus_load(rig->pci, &s));
    assert_non_null(strstr(snap.err.message, why));
}

/* Read-only configuration bits come from the function, not the file: a
 * section whose header type, I/O BAR space bit or BAR size bits differ
 * from the function's is refused; writable bits may differ. */
static void test_load_read_only_bits(void **state)
{
    struct rig *rig = *state;
    struct snap_section s;
    size_t size;
    uint8_t *good = saved_bus(rig, &size);
    uint8_t *bytes = malloc(size);
    const size_t config = 4 + 2 + 1;

    assert_non_null(bytes);
    assert_int_equal(size, config + 256);
    assert_int_equal(good[config - 1], PCI_DEVFN(3, 0));

    memcpy(bytes, good, size);
    bytes[config + PCI_INTERRUPT_LINE] = 0x0B; /* writable */
    bytes[config + 0x10 + 1] = 0xC0;           /* BAR0 0xC000 | I/O */
    struct snap_rig snap = rig_snap_raw("pci", PCI_STATE_VERSION, bytes, size);
    rig_snap_open(&snap, "pci", PCI_STATE_VERSION, &s);
    assert_true(pci_bus_load(rig->pci, &s));
    rig_snap_close(&snap, &s);
    assert_int_equal(pci_config_read(rig->fn, PCI_INTERRUPT_LINE, 1), 0x0B);
    assert_int_equal(pci_config_read(rig->fn, 0x10, 4), 0xC001);

    memcpy(bytes, good, size);
    bytes[config + PCI_HEADER_TYPE] ^= 0x80; /* multi-function */
    expect_pci_refused(rig, bytes, size, "read-only");
    memcpy(bytes, good, size);
    bytes[config + 0x10] &= (uint8_t)~1u; /* BAR0 no longer I/O space */
    expect_pci_refused(rig, bytes, size, "read-only");
    memcpy(bytes, good, size);
    bytes[config + 0x10] |= 0x10; /* below BAR0's 32-byte size */
    expect_pci_refused(rig, bytes, size, "read-only");
    memcpy(bytes, good, size);
    bytes[config + 0x41] ^= 0x01; /* a read-only byte of a device register */
    expect_pci_refused(rig, bytes, size, "read-only");
    /* The live configuration is still the one loaded above. */
    assert_int_equal(pci_config_read(rig->fn, 0x10, 4), 0xC001);
    free(bytes);
    free(good);
}

/* Functions come in increasing devfn, each once, as saved. */
static void test_load_function_order(void **state)
{
    struct rig *rig = *state;
    struct popek_error e;
    struct snap_section s;
    size_t size;

    assert_non_null(pci_add_function(rig->pci, PCI_DEVFN(4, 0), &test_info, NULL, NULL, &e));
    uint8_t *good = saved_bus(rig, &size);
    const size_t one = 1 + 256, first = 4 + 2;
    assert_int_equal(size, first + 2 * one);
    assert_int_equal(good[first], PCI_DEVFN(3, 0));
    assert_int_equal(good[first + one], PCI_DEVFN(4, 0));
    uint8_t *bytes = malloc(size);
    assert_non_null(bytes);

    memcpy(bytes, good, size);
    struct snap_rig snap = rig_snap_raw("pci", PCI_STATE_VERSION, bytes, size);
    rig_snap_open(&snap, "pci", PCI_STATE_VERSION, &s);
    assert_true(pci_bus_load(rig->pci, &s));
    rig_snap_close(&snap, &s);

    /* Swapped. */
    memcpy(bytes + first, good + first + one, one);
    memcpy(bytes + first + one, good + first, one);
    expect_pci_refused(rig, bytes, size, "out of order");
    /* The first function twice. */
    memcpy(bytes, good, size);
    memcpy(bytes + first + one, good + first, one);
    expect_pci_refused(rig, bytes, size, "out of order");
    free(bytes);
    free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_address_latch, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_data_access_sizes, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_absent_functions, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_read_only_bits, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_bar_sizing, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_mapping_callback, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_add_function_errors, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_chipset_functions, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_reset_control, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_save_restore, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_corrupt, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_read_only_bits, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_function_order, rig_setup, rig_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
