/*
 * guest-tests/bit_string.c — BT/BTS/BTR/BTC with a memory operand and a
 * register bit offset: the offset is a signed bit index into a bit string
 * that starts at the operand, so the instruction may touch memory far before
 * or after it (SDM vol. 2, BT, "bit string"; up to 256 MiB either way with a
 * 32-bit offset). A translator that hands the instruction to the host as it
 * is lets the guest reach host memory outside its window — this test pins
 * the architectural behaviour: negative offsets, offsets of many KiB, 16-bit
 * forms, and an offset that wraps the address past 4 GiB.
 */
#include "rt.h"

static uint8_t area[3 * 4096] __attribute__((aligned(4096)));

static uint32_t bt_op(int op, void *base, int32_t offset, uint32_t *cf)
{
    uint32_t c = 0;

    switch (op) {
    case 0:
        __asm__ volatile("bt %2, (%1)\n\tsetc %b0"
                         : "+q"(c)
                         : "r"(base), "r"(offset)
                         : "cc", "memory");
        break;
    case 1:
        __asm__ volatile("bts %2, (%1)\n\tsetc %b0"
                         : "+q"(c)
                         : "r"(base), "r"(offset)
                         : "cc", "memory");
        break;
    case 2:
        __asm__ volatile("btr %2, (%1)\n\tsetc %b0"
                         : "+q"(c)
                         : "r"(base), "r"(offset)
                         : "cc", "memory");
        break;
    default:
        __asm__ volatile("btc %2, (%1)\n\tsetc %b0"
                         : "+q"(c)
                         : "r"(base), "r"(offset)
                         : "cc", "memory");
        break;
    }
    *cf = c;
    return c;
}

int main(const struct multiboot_info *mbi)
{
    uint8_t *middle = area + 4096;
    uint32_t cf;

    (void)mbi;
    memset(area, 0, sizeof(area));
    /* Offsets relative to the middle page: before it, inside, after it. */
    static const int32_t offsets[] = {-4096 * 8, -33, -1, 0, 5, 31, 32, 4096 * 8 + 7, 8191 * 8};
    for (unsigned i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
        int32_t off = offsets[i];
        uint8_t *byte = middle + (off >> 3);
        uint8_t bit = (uint8_t)(1u << (off & 7));

        bt_op(1, middle, off, &cf);
        CHECK(cf == 0 && (*byte & bit), "bts [m], %d: was clear, now set at m%+d bit %d", off,
              (int)(byte - middle), off & 7);
        bt_op(0, middle, off, &cf);
        CHECK(cf == 1, "bt [m], %d: reads the bit back", off);
        bt_op(3, middle, off, &cf);
        CHECK(cf == 1 && !(*byte & bit), "btc [m], %d: was set, now clear", off);
        bt_op(3, middle, off, &cf);
        bt_op(2, middle, off, &cf);
        CHECK(cf == 1 && !(*byte & bit), "btr [m], %d: was set, now clear", off);
    }
    unsigned nonzero = 0;
    for (unsigned i = 0; i < sizeof(area); i++)
        nonzero += area[i] != 0;
    CHECK(nonzero == 0, "the area is clean again (%u bytes differ)", nonzero);

    /* 16-bit form: offset -17 is bit 15 of the word 4 bytes before. */
    uint16_t words[4] = {0, 0, 0, 0};
    __asm__ volatile("btsw %w1, (%0)" : : "r"(&words[2]), "r"(-17) : "cc", "memory");
    CHECK(words[0] == 0x8000 && words[1] == 0 && words[2] == 0, "btsw [m], -17 sets m-4 bit 15");

    /* An offset of -2^31 bits is 256 MiB before the operand: an operand
     * 256 MiB past the area (not RAM itself) addresses the area's first
     * dword, bit 0. */
    void *far = (void *)((uintptr_t)area + 0x10000000u); /* an address, never dereferenced */
    bt_op(1, far, (int32_t)0x80000000, &cf);
    CHECK(cf == 0 && area[0] == 1, "bts [area + 256 MiB], -2^31 sets bit 0 of area[0]");
    bt_op(2, far, (int32_t)0x80000000, &cf);
    CHECK(cf == 1 && area[0] == 0, "btr [area + 256 MiB], -2^31 clears it again");

    /* With the operand near 0 the same offset wraps past 4 GiB to memory
     * that is not RAM (what it reads is the platform's business): the
     * instructions complete and RAM is untouched. */
    for (int op = 0; op < 4; op++)
        bt_op(op, (void *)0x00001000, (int32_t)0x80000000, &cf);
    nonzero = 0;
    for (unsigned i = 0; i < sizeof(area); i++)
        nonzero += area[i] != 0;
    CHECK(nonzero == 0, "bt/bts/btr/btc [0x1000], -2^31 completed; the area is untouched");
    rt_finish();
}
