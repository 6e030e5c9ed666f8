/*
 * boot/firmware.c — the BIOS data area words and the EBDA (firmware.h).
 */
#include "boot/firmware.h"

#include <string.h>

#include "boot/acpi_tables.h"
#include "boot/mptable.h"
#include "common/bytes.h"
#include "emul/emul.h"

uint8_t *table_area_alloc(struct table_area *a, size_t len, size_t align)
{
    size_t start = a->used;
    uint8_t *p;

    while ((a->addr + start) & (align - 1))
        start++;
    if (start > a->size || len > a->size - start)
        return NULL;
    p = a->buf + start;
    memset(p, 0, len);
    a->used = start + len;
    return p;
}

guest_phys_t table_area_phys(const struct table_area *a, const uint8_t *p)
{
    return a->addr + (guest_phys_t)(p - a->buf);
}

uint8_t table_checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;

    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)-sum;
}

void firmware_platform_of(const struct guest_ram *ram, struct firmware_platform *pf)
{
    uint32_t leaf1[4];

    emul_cpuid(1, 0, leaf1);
    *pf = (struct firmware_platform){
        .ram_bytes = guest_ram_size(ram),
        .cpu_signature = leaf1[0],
        .cpu_features = leaf1[3],
        .reset_register = true, /* the PIIX3's 0xCF9 (devices/chipset.h) */
    };
}

bool firmware_build_ebda(uint8_t *ebda, const struct firmware_platform *pf)
{
    struct table_area area = {.buf = ebda, .size = FIRMWARE_EBDA_SIZE, .addr = FIRMWARE_EBDA_ADDR};

    memset(ebda, 0, FIRMWARE_EBDA_SIZE);
    ebda[0] = FIRMWARE_EBDA_SIZE / 1024; /* the EBDA's size in KiB */
    area.used = FIRMWARE_MP_OFFSET;
    return mptable_build(&area, pf) && acpi_tables_build(&area, pf);
}

void firmware_load(struct guest_ram *ram)
{
    struct firmware_platform pf;
    uint8_t *bda = guest_ram_host_ptr(ram, FIRMWARE_BDA_EBDA_SEGMENT, 8);
    uint8_t *ebda = guest_ram_host_ptr(ram, FIRMWARE_EBDA_ADDR, FIRMWARE_EBDA_SIZE);

    firmware_platform_of(ram, &pf);
    store_le16(bda, FIRMWARE_EBDA_ADDR >> 4);
    store_le16(bda + (FIRMWARE_BDA_BASE_MEMORY_KB - FIRMWARE_BDA_EBDA_SEGMENT),
               FIRMWARE_EBDA_ADDR / 1024);
    /* The layout is fixed and unit-tested to fit (tests/test_firmware.c). */
    firmware_build_ebda(ebda, &pf);
}
