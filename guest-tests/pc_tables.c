/*
 * guest-tests/pc_tables.c — the specifications' table searches (pc_tables.h).
 */
#include "pc_tables.h"

#include "rt.h"

#define BDA_EBDA_SEGMENT   0x40E
#define BDA_BASE_MEMORY_KB 0x413

bool pt_checksum_ok(const uint8_t *p, uint32_t len)
{
    uint8_t sum = 0;

    for (uint32_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return sum == 0;
}

static const uint8_t *scan(uint32_t start, uint32_t len, const char *signature,
                           uint32_t signature_len, uint32_t struct_len)
{
    for (uint32_t a = start; a + struct_len <= start + len; a += 16) {
        const uint8_t *p = (const uint8_t *)a;
        if (memcmp(p, signature, signature_len) == 0 && pt_checksum_ok(p, struct_len))
            return p;
    }
    return NULL;
}

/* A BIOS data area word. The address goes through an asm so that GCC does
 * not take a constant pointer near 0 for an out-of-bounds access. */
static uint16_t bda_word(uint32_t addr)
{
    const volatile uint16_t *p;

    __asm__("" : "=r"(p) : "0"(addr));
    return *p;
}

static uint32_t ebda_start(void)
{
    return (uint32_t)bda_word(BDA_EBDA_SEGMENT) << 4;
}

const uint8_t *pt_find_mp(void)
{
    uint32_t ebda = ebda_start();
    uint32_t base_end = (uint32_t)bda_word(BDA_BASE_MEMORY_KB) * 1024;
    const uint8_t *p = NULL;

    if (ebda)
        p = scan(ebda, 1024, "_MP_", 4, 16);
    if (!p && base_end >= 1024)
        p = scan(base_end - 1024, 1024, "_MP_", 4, 16);
    if (!p)
        p = scan(0xF0000, 0x10000, "_MP_", 4, 16);
    return p;
}

const uint8_t *pt_find_rsdp(void)
{
    uint32_t ebda = ebda_start();
    const uint8_t *p = NULL;

    if (ebda)
        p = scan(ebda, 1024, "RSD PTR ", 8, 20);
    if (!p)
        p = scan(0xE0000, 0x20000, "RSD PTR ", 8, 20);
    return p;
}

const uint8_t *pt_acpi_table(const char *signature)
{
    const uint8_t *rsdp = pt_find_rsdp();
    const uint8_t *rsdt;

    if (!rsdp)
        return NULL;
    rsdt = (const uint8_t *)pt_le32(rsdp + 16);
    for (uint32_t off = 36; off + 4 <= pt_acpi_length(rsdt); off += 4) {
        const uint8_t *t = (const uint8_t *)pt_le32(rsdt + off);
        if (memcmp(t, signature, 4) == 0)
            return t;
    }
    return NULL;
}

/* One AML integer (ACPI 2.0, §16.2.3): ZeroOp, OneOp, BytePrefix,
 * WordPrefix. */
static bool aml_integer(const uint8_t **p, uint32_t *value)
{
    switch (**p) {
    case 0x00:
    case 0x01:
        *value = **p;
        *p += 1;
        return true;
    case 0x0A:
        *value = (*p)[1];
        *p += 2;
        return true;
    case 0x0B:
        *value = pt_le16(*p + 1);
        *p += 3;
        return true;
    default:
        return false;
    }
}

bool pt_dsdt_s5(const uint8_t *dsdt, uint32_t *slp_typ_a)
{
    uint32_t length = pt_acpi_length(dsdt);

    for (uint32_t i = 36; i + 9 < length; i++) {
        const uint8_t *p = dsdt + i;
        /* NameOp "_S5_" PackageOp PkgLength NumElements, the name
         * possibly with a root or parent prefix before it. */
        if (memcmp(p, "_S5_", 4) != 0 || p[4] != 0x12)
            continue;
        if (p[-1] != 0x08 && !(p[-1] == '\\' && p[-2] == 0x08) && !(p[-1] == '^' && p[-2] == 0x08))
            continue;
        p += 5;
        p += 1 + (*p >> 6); /* PkgLength */
        p += 1;             /* NumElements */
        return aml_integer(&p, slp_typ_a);
    }
    return false;
}
