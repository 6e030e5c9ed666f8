/*
 * tests/test_firmware.c — the firmware tables (boot/firmware.c,
 * boot/mptable.c, boot/acpi_tables.c): every structure, length, checksum
 * and entry, found the way a kernel finds them (the specifications'
 * searches of the EBDA's first KiB), and the BDA words in guest RAM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "boot/acpi_tables.h"
#include "boot/firmware.h"
#include "boot/mptable.h"
#include "common/bytes.h"
#include "devices/acpi_pm.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"

static uint8_t ebda[FIRMWARE_EBDA_SIZE];

static const struct firmware_platform platform = {
    .ram_bytes = 256u << 20,
    .cpu_signature = 0x6F1,
    .cpu_features = 0x0789AB3D,
    .reset_register = false,
};

/* A guest-physical address inside the EBDA as a pointer into ebda[]. */
static const uint8_t *at(uint32_t phys, size_t len)
{
    assert_true(phys >= FIRMWARE_EBDA_ADDR);
    assert_true(phys + len <= FIRMWARE_EBDA_ADDR + FIRMWARE_EBDA_SIZE);
    return ebda + (phys - FIRMWARE_EBDA_ADDR);
}

static uint8_t sum(const uint8_t *p, size_t len)
{
    uint8_t s = 0;

    for (size_t i = 0; i < len; i++)
        s = (uint8_t)(s + p[i]);
    return s;
}

/* The 16-byte-aligned search both specifications prescribe. */
static const uint8_t *search(const char *signature, size_t len)
{
    for (size_t off = 0; off + 16 <= FIRMWARE_EBDA_SIZE; off += 16) {
        if (memcmp(ebda + off, signature, len) == 0)
            return ebda + off;
    }
    return NULL;
}

/* An ACPI table at phys: signature, its length, checksum 0. */
static const uint8_t *acpi_table(uint32_t phys, const char *signature)
{
    const uint8_t *t = at(phys, 36);
    uint32_t length = load_le32(t + 4);

    assert_memory_equal(t, signature, 4);
    at(phys, length);
    assert_int_equal(sum(t, length), 0);
    assert_memory_equal(t + 10, ACPI_OEM_ID, 6);
    return t;
}

static int build(void **state)
{
    assert_true(firmware_build_ebda(ebda, &platform));
    return 0;
}

static void test_ebda_layout(void **state)
{
    /* build() checked that everything fits in the EBDA's KiB. */
    assert_int_equal(ebda[0], 1); /* the EBDA's size in KiB */
    /* Too small a buffer is refused, not overrun. */
    uint8_t small[256];
    struct table_area a = {.buf = small, .size = sizeof(small), .addr = FIRMWARE_EBDA_ADDR};
    assert_true(mptable_build(&a, &platform));
    assert_false(acpi_tables_build(&a, &platform));
    assert_true(a.used <= sizeof(small));
}

static void test_table_area(void **state)
{
    uint8_t buf[64];
    struct table_area a = {.buf = buf, .size = sizeof(buf), .addr = 0x1008};
    uint8_t *p = table_area_alloc(&a, 4, 1), *q = table_area_alloc(&a, 4, 16);

    assert_ptr_equal(p, buf);
    assert_int_equal(table_area_phys(&a, q), 0x1010); /* aligned by address */
    assert_null(table_area_alloc(&a, 64, 1));
    assert_int_equal(table_checksum((const uint8_t *)"\x01\x02\x00", 3), 0xFD);
}

static void test_mp_floating_pointer(void **state)
{
    const uint8_t *fp = search("_MP_", 4);

    assert_non_null(fp);
    assert_int_equal(fp - ebda, FIRMWARE_MP_OFFSET);
    assert_int_equal(sum(fp, 16), 0);
    assert_int_equal(fp[8], 1);  /* 16 bytes */
    assert_int_equal(fp[9], 4);  /* MP spec 1.4 */
    assert_int_equal(fp[11], 0); /* a configuration table follows */
    assert_int_equal(fp[12], 0); /* virtual wire mode */
}

static void test_mp_configuration_table(void **state)
{
    const uint8_t *fp = search("_MP_", 4);
    const uint8_t *t = at(load_le32(fp + 4), 44);
    uint16_t length = load_le16(t + 4), entries = load_le16(t + 34);
    const uint8_t *e;
    unsigned intsrc = 0;

    assert_memory_equal(t, "PCMP", 4);
    at(load_le32(fp + 4), length);
    assert_int_equal(sum(t, length), 0);
    assert_int_equal(t[6], 4);
    assert_memory_equal(t + 8, "POPEK   ", 8);
    assert_int_equal(load_le32(t + 36), LAPIC_BASE);
    assert_int_equal(load_le16(t + 40), 0); /* no extended table */
    assert_int_equal(entries, 1 + 1 + 1 + 15 + 2);
    assert_int_equal(length, 44 + 20 + (entries - 1) * 8);

    e = t + 44;
    assert_int_equal(e[0], 0); /* processor */
    assert_int_equal(e[1], 0); /* local APIC ID */
    assert_int_equal(e[2], LAPIC_VERSION);
    assert_int_equal(e[3], 3); /* enabled, bootstrap processor */
    assert_int_equal(load_le32(e + 4), 0x6F1);
    assert_int_equal(load_le32(e + 8), 0x0789AB3D);
    e += 20;
    assert_int_equal(e[0], 1); /* bus 0: ISA */
    assert_int_equal(e[1], MPTABLE_ISA_BUS);
    assert_memory_equal(e + 2, "ISA   ", 6);
    e += 8;
    assert_int_equal(e[0], 2); /* I/O APIC */
    assert_int_equal(e[1], IOAPIC_ID);
    assert_int_equal(e[2], IOAPIC_VERSION);
    assert_int_equal(e[3], 1);
    assert_int_equal(load_le32(e + 4), IOAPIC_BASE);
    e += 8;
    for (unsigned irq = 0; irq < 16; irq++) {
        if (irq == 2)
            continue; /* the cascade */
        assert_int_equal(e[0], 3);
        assert_int_equal(e[1], 0);             /* INT */
        assert_int_equal(load_le16(e + 2), 0); /* conforms to the bus */
        assert_int_equal(e[4], MPTABLE_ISA_BUS);
        assert_int_equal(e[5], irq);
        assert_int_equal(e[6], IOAPIC_ID);
        assert_int_equal(e[7], irq == 0 ? 2 : irq);
        e += 8;
        intsrc++;
    }
    assert_int_equal(intsrc, 15);
    assert_int_equal(e[0], 4); /* ExtINT on the BSP's LINT0 */
    assert_int_equal(e[1], 3);
    assert_int_equal(e[6], 0);
    assert_int_equal(e[7], 0);
    e += 8;
    assert_int_equal(e[0], 4); /* NMI on every LINT1 */
    assert_int_equal(e[1], 1);
    assert_int_equal(e[6], 0xFF);
    assert_int_equal(e[7], 1);
    e += 8;
    assert_int_equal(e - t, length);
}

static const uint8_t *rsdt_entry(const char *signature)
{
    const uint8_t *rsdp = search("RSD PTR ", 8);
    const uint8_t *rsdt = acpi_table(load_le32(rsdp + 16), "RSDT");
    uint32_t length = load_le32(rsdt + 4);

    for (uint32_t off = 36; off < length; off += 4) {
        const uint8_t *t = at(load_le32(rsdt + off), 4);
        if (memcmp(t, signature, 4) == 0)
            return acpi_table(load_le32(rsdt + off), signature);
    }
    return NULL;
}

static void test_rsdp_rsdt(void **state)
{
    const uint8_t *rsdp = search("RSD PTR ", 8);
    const uint8_t *rsdt;

    assert_non_null(rsdp);
    assert_int_equal(sum(rsdp, 20), 0);
    assert_int_equal(rsdp[15], 0); /* revision 0 */
    assert_memory_equal(rsdp + 9, ACPI_OEM_ID, 6);
    rsdt = acpi_table(load_le32(rsdp + 16), "RSDT");
    assert_int_equal(load_le32(rsdt + 4), 36 + 8);
    assert_non_null(rsdt_entry("FACP"));
    assert_non_null(rsdt_entry("APIC"));
}

static void test_fadt(void **state)
{
    const uint8_t *f = rsdt_entry("FACP");
    uint32_t facs_addr = load_le32(f + FADT_FIRMWARE_CTRL);
    const uint8_t *facs = at(facs_addr, ACPI_FACS_SIZE);

    assert_int_equal(load_le32(f + 4), ACPI_FADT_SIZE);
    assert_int_equal(f[8], ACPI_FADT_REVISION);
    assert_int_equal(load_le16(f + FADT_SCI_INT), ACPI_SCI_IRQ);
    assert_int_equal(load_le32(f + FADT_SMI_CMD), 0);
    assert_int_equal(load_le32(f + FADT_PM1A_EVT_BLK), 0x600);
    assert_int_equal(load_le32(f + 60), 0); /* no PM1b */
    assert_int_equal(load_le32(f + FADT_PM1A_CNT_BLK), 0x604);
    assert_int_equal(load_le32(f + FADT_PM_TMR_BLK), 0x608);
    assert_int_equal(load_le32(f + FADT_GPE0_BLK), 0);
    assert_int_equal(f[FADT_PM1_EVT_LEN], 4);
    assert_int_equal(f[FADT_PM1_CNT_LEN], 2);
    assert_int_equal(f[FADT_PM_TMR_LEN], 4);
    assert_true(load_le16(f + 96) > 100);    /* no C2 */
    assert_true(load_le16(f + 98) > 1000);   /* no C3 */
    assert_int_equal(f[FADT_CENTURY], 0x32); /* the RTC's century byte */
    assert_int_equal(load_le16(f + FADT_IAPC_BOOT_ARCH), IAPC_LEGACY_DEVICES | IAPC_8042);
    uint32_t flags = load_le32(f + FADT_FLAGS);
    assert_int_equal(flags & FADT_F_TMR_VAL_EXT, 0); /* 24-bit PM timer */
    assert_int_equal(flags & FADT_F_RESET_REG_SUP, 0);
    assert_true(flags & FADT_F_WBINVD);
    /* The 64-bit fields: X_FIRMWARE_CTRL 0 (FIRMWARE_CTRL is set), the
     * rest equal to the 32-bit ones. */
    assert_int_equal(load_le64(f + FADT_X_FIRMWARE_CTRL), 0);
    assert_int_equal(load_le64(f + FADT_X_DSDT), load_le32(f + FADT_DSDT));
    static const unsigned x_blocks[][3] = {
        {FADT_X_PM1A_EVT_BLK, 0x600, 32},
        {FADT_X_PM1A_CNT_BLK, 0x604, 16},
        {FADT_X_PM_TMR_BLK, 0x608, 32},
    };
    for (unsigned i = 0; i < 3; i++) {
        const uint8_t *gas = f + x_blocks[i][0];
        assert_int_equal(gas[0], 1); /* system I/O */
        assert_int_equal(gas[1], x_blocks[i][2]);
        assert_int_equal(load_le64(gas + 4), x_blocks[i][1]);
    }
    /* The FACS: 64-byte aligned, no checksum. */
    assert_int_equal(facs_addr % 64, 0);
    assert_memory_equal(facs, "FACS", 4);
    assert_int_equal(load_le32(facs + 4), 64);
    assert_int_equal(facs[32], 1);
}

static void test_fadt_reset_register(void **state)
{
    struct firmware_platform with_reset = platform;

    with_reset.reset_register = true;
    assert_true(firmware_build_ebda(ebda, &with_reset));
    const uint8_t *f = rsdt_entry("FACP");
    assert_true(load_le32(f + FADT_FLAGS) & FADT_F_RESET_REG_SUP);
    assert_int_equal(f[FADT_RESET_REG], 1); /* system I/O */
    assert_int_equal(f[FADT_RESET_REG + 1], 8);
    assert_int_equal(load_le64(f + FADT_RESET_REG + 4), 0xCF9);
    assert_int_equal(f[FADT_RESET_VALUE], 0x06);
}

static void test_madt(void **state)
{
    const uint8_t *m = rsdt_entry("APIC");
    uint32_t length = load_le32(m + 4);
    const uint8_t *e = m + 44;

    assert_int_equal(load_le32(m + 36), LAPIC_BASE);
    assert_int_equal(load_le32(m + 40), 1); /* PCAT_COMPAT */
    static const uint8_t expected[] = {
        0, 8,  0,    0,    1,    0,    0,    0, /* processor UID 0, APIC 0, enabled */
        1, 12, 0,    0,    0x00, 0x00, 0xC0, 0xFE, 0,    0,
        0, 0,                                                  /* I/O APIC 0 at 0xFEC00000, GSI 0 */
        2, 10, 0,    0,    2,    0,    0,    0,    0x00, 0x00, /* IRQ 0 -> GSI 2, conforming */
        2, 10, 0,    9,    9,    0,    0,    0,    0x0D, 0x00, /* IRQ 9 -> GSI 9, level high */
        4, 6,  0xFF, 0x00, 0x00, 1,                            /* NMI on LINT1, all processors */
    };
    assert_int_equal(length, 44 + sizeof(expected));
    assert_memory_equal(e, expected, sizeof(expected));
}

/* A PkgLength (ACPI 2.0, §16.2.4) at p: its value and encoded size. */
static unsigned pkg_length(const uint8_t *p, unsigned *bytes)
{
    unsigned extra = p[0] >> 6;
    unsigned value = extra ? p[0] & 0x0F : p[0] & 0x3F;

    for (unsigned i = 0; i < extra; i++)
        value |= (unsigned)p[1 + i] << (4 + 8 * i);
    *bytes = 1 + extra;
    return value;
}

static void test_dsdt(void **state)
{
    const uint8_t *f = rsdt_entry("FACP");
    const uint8_t *d = acpi_table(load_le32(f + FADT_DSDT), "DSDT");
    uint32_t length = load_le32(d + 4);
    const uint8_t *aml = d + 36, *end = d + length, *p;
    unsigned n, scope_len, device_len, buffer_len;

    assert_int_equal(d[8], 1);
    /* Scope (\_SB) { Device (PCI0) { ... Name (_CRS, Buffer ...) } }, and
     * every PkgLength ends where the next object starts. */
    assert_int_equal(aml[0], 0x10);
    scope_len = pkg_length(aml + 1, &n);
    assert_memory_equal(aml + 1 + n, "\\_SB_", 5);
    p = aml + 1 + n + 5;
    assert_int_equal(p[0], 0x5B);
    assert_int_equal(p[1], 0x82);
    device_len = pkg_length(p + 2, &n);
    assert_memory_equal(p + 2 + n, "PCI0", 4);
    assert_ptr_equal(p + 2 + device_len, aml + 1 + scope_len);
    const uint8_t *crs = p + 2 + n + 4 + 10 + 6;
    assert_memory_equal(p + 2 + n + 4, "\x08_HID\x0C\x41\xD0\x0A\x03", 10);
    assert_memory_equal(p + 2 + n + 4 + 10, "\x08_UID\x00", 6);
    assert_memory_equal(crs, "\x08_CRS\x11", 6);
    buffer_len = pkg_length(crs + 6, &n);
    assert_ptr_equal(crs + 6 + buffer_len, p + 2 + device_len);
    assert_int_equal(crs[6 + n], 0x0A); /* BytePrefix: the buffer size */
    const uint8_t *res = crs + 6 + n + 2;
    assert_int_equal(crs[6 + n + 1], crs + 6 + buffer_len - res);
    /* The resource template: three Word descriptors, two DWord memory
     * windows, the last from the end of RAM to the I/O APIC; End Tag. */
    assert_int_equal(res[0], 0x88);
    assert_int_equal(res[3], 2); /* bus numbers */
    assert_int_equal(load_le16(res + 10), 0xFF);
    res += 16;
    assert_int_equal(res[3], 1); /* I/O */
    assert_int_equal(load_le16(res + 10), 0x0CF7);
    res += 16;
    assert_int_equal(load_le16(res + 8), 0x0D00);
    res += 16;
    assert_int_equal(res[0], 0x87);
    assert_int_equal(load_le32(res + 10), 0xA0000);
    res += 26;
    assert_int_equal(res[0], 0x87);
    assert_int_equal(load_le32(res + 10), 256u << 20);
    assert_int_equal(load_le32(res + 14), 0xFEBFFFFF);
    assert_int_equal(load_le32(res + 22), 0xFEC00000 - (256u << 20));
    res += 26;
    assert_memory_equal(res, "\x79\x00", 2);
    /* Name (_S5, Package (4) { S5, S5, 0, 0 }), to the end of the table. */
    p = aml + 1 + scope_len;
    static const uint8_t s5[] = {
        0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0A, ACPI_SLP_TYP_S5, 0x0A, ACPI_SLP_TYP_S5,
        0x00, 0x00};
    assert_memory_equal(p, s5, sizeof(s5));
    assert_ptr_equal(p + sizeof(s5), end);
}

static void test_firmware_load(void **state)
{
    struct popek_error err;
    struct guest_ram *ram = guest_ram_create(64u << 20, &err);
    const uint8_t *low;

    assert_non_null(ram);
    struct firmware_platform pf;
    firmware_platform_of(ram, &pf);
    assert_int_equal(pf.ram_bytes, 64u << 20);
    assert_int_equal(pf.cpu_signature, 0x6F1);
    assert_true(pf.cpu_features & (1u << 9)); /* CPUID.1:EDX.APIC */
    assert_true(pf.reset_register);           /* the PIIX3's 0xCF9 is there */
    firmware_load(ram);
    low = guest_ram_host_ptr(ram, 0, 0xA0000);
    assert_int_equal(load_le16(low + 0x40E), 0x9FC0);
    assert_int_equal(load_le16(low + 0x413), 639);
    assert_memory_equal(low + FIRMWARE_EBDA_ADDR + FIRMWARE_MP_OFFSET, "_MP_", 4);
    guest_ram_destroy(ram);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_ebda_layout, build),
        cmocka_unit_test(test_table_area),
        cmocka_unit_test_setup(test_mp_floating_pointer, build),
        cmocka_unit_test_setup(test_mp_configuration_table, build),
        cmocka_unit_test_setup(test_rsdp_rsdt, build),
        cmocka_unit_test_setup(test_fadt, build),
        cmocka_unit_test_setup(test_fadt_reset_register, build),
        cmocka_unit_test_setup(test_madt, build),
        cmocka_unit_test_setup(test_dsdt, build),
        cmocka_unit_test(test_firmware_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
