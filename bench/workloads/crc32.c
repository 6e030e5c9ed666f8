/*
 * crc32 — table-driven CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320)
 * over CRC32_PASSES passes of a 1 MiB buffer filled by xorshift32: a tight
 * loop of byte loads, a table lookup, shifts and xors. Stresses straight-line
 * translated code in one hot block and memory loads; almost no branches
 * besides the loop's own.
 */
#include "bench.h"

const char bench_name[] = "crc32";

#define CRC32_BUF_SIZE (1u << 20)
#define CRC32_PASSES   384

static uint8_t crc32_buf[CRC32_BUF_SIZE];
static uint32_t crc32_table[256];

static void crc32_make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc32_table[i] = c;
    }
}

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        crc = crc32_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc;
}

uint32_t bench_run(void)
{
    crc32_make_table();

    /* Known-answer check: CRC-32("123456789") = 0xCBF43926. */
    static const uint8_t check[9] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
    if (~crc32_update(0xFFFFFFFFu, check, 9) != 0xCBF43926u)
        return BENCH_VERIFY_FAILED;

    uint32_t s = 0x12345678u;
    for (uint32_t i = 0; i < CRC32_BUF_SIZE; i += 4) {
        uint32_t r = bench_xorshift32(&s);
        crc32_buf[i + 0] = (uint8_t)r;
        crc32_buf[i + 1] = (uint8_t)(r >> 8);
        crc32_buf[i + 2] = (uint8_t)(r >> 16);
        crc32_buf[i + 3] = (uint8_t)(r >> 24);
    }

    uint32_t crc = 0xFFFFFFFFu;
    for (int pass = 0; pass < CRC32_PASSES; pass++)
        crc = crc32_update(crc, crc32_buf, CRC32_BUF_SIZE);
    return ~crc;
}
