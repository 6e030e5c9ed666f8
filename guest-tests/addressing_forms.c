/*
 * guest-tests/addressing_forms.c — effective-address computation for every
 * ModRM/SIB form (SDM Vol. 2A §2.1.5): base only with each of the eight
 * registers (ESP needs a SIB byte, EBP a disp8 of 0), disp8 and disp32,
 * base + index*1/2/4/8 for every (base, index) pair, index*scale + disp32
 * without base, absolute disp32, encodings an assembler never picks (SIB
 * without index, disp32 for small displacements); 8/16/32-bit operands and
 * AH/CH/DH/BH; loads, stores and read-modify-write (add [m],r; add r,[m];
 * inc [m]; xchg); 32-bit wrap-around of the effective address (large,
 * negative displacements, index*scale overflow); accesses straddling a page
 * boundary; segment overrides (ES/CS/SS/DS flat, FS/GS with non-zero bases,
 * a base + offset that wraps the linear address at 4 GiB, SS with a
 * non-zero base as the default segment of ESP/EBP bases); and LEA, which
 * computes the same addresses without any access.
 *
 * The probes are in addressing_forms.S (one instruction each, see
 * addressing_forms.h); here every result is compared with a model: the
 * load buffer holds a known pattern, the store windows start at known
 * values, LEA's expected address is in the table. A group prints one line
 * with its probe count; a failing probe prints its instruction, its
 * register before and after, and its 8-byte window. With `verbose` every
 * probe is printed.
 */
#include "rt.h"

#include "addressing_forms.h"

struct ab_probe {
    uint32_t op, k, slot;
    const char *text;
};

extern const struct ab_probe ab_table[], ab_table_end[];
extern const uint32_t ab_nslots;
extern uint8_t ab_buf[AB_BUF_SIZE], ab_sbuf[AB_BUF_SIZE];
extern uint32_t ab_res[4 * AB_MAX_SLOTS];
void ab_run(void);

static uint8_t pattern(uint32_t i)
{
    return (uint8_t)((i * 0x9D + 0x5B) ^ (i >> 8));
}

static uint32_t size_mask(unsigned size)
{
    return size == 1 ? 0xFF : size == 2 ? 0xFFFF : 0xFFFFFFFF;
}

/* Little-endian value of `size` bytes at offset `at` of the 8-byte window. */
static uint32_t win_get(const uint8_t *w, unsigned at, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)w[at + i] << (8 * i);
    return v;
}

static void win_put(uint8_t *w, unsigned at, unsigned size, uint32_t v)
{
    for (unsigned i = 0; i < size; i++)
        w[at + i] = (uint8_t)(v >> (8 * i));
}

static uint32_t pattern_get(uint32_t k, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)pattern(k + i) << (8 * i);
    return v;
}

/* Checks one probe; returns true when it matches the model. */
static bool check_probe(const struct ab_probe *p, const char *group)
{
    const uint32_t *r = &ab_res[4 * p->slot];
    unsigned size = p->op & AB_SIZE_MASK, kind = p->op & AB_KIND_MASK;
    unsigned shift = (p->op & AB_HI) ? 8 : 0, at = p->k & 3;
    uint32_t smask = size_mask(size), mask = smask << shift;
    uint32_t pre = r[0], v = (pre >> shift) & smask;
    uint32_t want_post = pre, old;
    uint8_t want_win[8] = {0}, got_win[8];
    bool writes = kind == AB_ST || kind == AB_ADD || kind == AB_INC || kind == AB_XCHG;

    win_put(got_win, 0, 4, r[2]);
    win_put(got_win, 4, 4, r[3]);
    if (kind == AB_ADD || kind == AB_INC || kind == AB_XCHG) {
        win_put(want_win, 0, 4, AB_W0);
        win_put(want_win, 4, 4, AB_W1);
    }
    old = win_get(want_win, at, size);

    switch (kind) {
    case AB_LD:
        want_post = (pre & ~mask) | (pattern_get(p->k, size) << shift);
        break;
    case AB_ADDR:
        want_post = (pre & ~mask) | (((v + pattern_get(p->k, size)) & smask) << shift);
        break;
    case AB_ST:
        win_put(want_win, at, size, v);
        break;
    case AB_ADD:
        win_put(want_win, at, size, old + v);
        break;
    case AB_INC:
        win_put(want_win, at, size, old + 1);
        break;
    case AB_XCHG:
        win_put(want_win, at, size, v);
        want_post = (pre & ~mask) | (old << shift);
        break;
    case AB_LEA:
        want_post = size == 4 ? p->k : (pre & 0xFFFF0000) | (p->k & 0xFFFF);
        break;
    }

    bool ok = r[1] == want_post && memcmp(got_win, want_win, 8) == 0;
    if (!ok || rt_verbose) {
        rt_check(ok, "[%s] %s: k=0x%x pre=0x%08x post=0x%08x (want 0x%08x)", group, p->text, p->k,
                 pre, r[1], want_post);
        if (writes && !ok)
            rt_printf("     window %08x %08x, want %08x %08x\n", r[2], r[3],
                      win_get(want_win, 0, 4), win_get(want_win, 4, 4));
    }
    return ok;
}

static void set_segments(void)
{
    const uint8_t acc = RT_ACC_P | RT_ACC_S | RT_ACC_WRITE | RT_ACC_ACCESSED;
    const uint8_t flags = RT_FLAG_G | RT_FLAG_DB;
    uint32_t buf = (uint32_t)ab_buf, sbuf = (uint32_t)ab_sbuf;
    rt_set_gdt_entry(AB_SEL_FS_LOAD, buf + AB_FS_LOAD_OFF, 0xFFFFF, acc, flags);
    rt_set_gdt_entry(AB_SEL_GS_STORE, sbuf + AB_GS_STORE_OFF, 0xFFFFF, acc, flags);
    rt_set_gdt_entry(AB_SEL_WRAP, buf + AB_WRAP_OFF, 0xFFFFF, acc, flags);
    rt_set_gdt_entry(AB_SEL_SS_LOAD, buf + AB_SS_LOAD_OFF, 0xFFFFF, acc, flags);
    rt_set_gdt_entry(AB_SEL_SS_STORE, sbuf + AB_SS_STORE_OFF, 0xFFFFF, acc, flags);
}

/* The example from the brief, with a literal base: 0x40100000 + 0xC0000000
 * wraps to 0x00100000, where the kernel image begins with the multiboot
 * header's magic (the linker script puts it first at 1 MiB). */
static void test_literal_wrap(void)
{
    uint32_t v, h = 0;
    __asm__ volatile("movl 0xC0000000(%1), %0" : "=r"(v) : "r"(0x40100000) : "memory");
    CHECK_EQ(v, 0x1BADB002, "mov eax, [ebx+0xC0000000] with ebx=0x40100000 reads 0x00100000");
    __asm__ volatile("movb 0xC0000003(%1), %h0" : "+Q"(h) : "r"(0x40100000) : "memory");
    CHECK_EQ(h, 0x1B00, "mov ah, [ebx+0xC0000003] with ebx=0x40100000");
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    for (uint32_t i = 0; i < AB_BUF_SIZE; i++)
        ab_buf[i] = pattern(i);
    set_segments();

    ab_run();

    const char *group = NULL;
    unsigned count = 0, bad = 0, total = 0;
    for (const struct ab_probe *p = ab_table; p <= ab_table_end; p++) {
        bool end = p == ab_table_end;
        if (end || (p->op & AB_KIND_MASK) == AB_GROUP) {
            if (group)
                rt_check(bad == 0, "%s: %u probes%s", group, count, bad ? ", some failed" : "");
            if (end)
                break;
            group = p->text;
            count = bad = 0;
            continue;
        }
        count++;
        total++;
        if (!check_probe(p, group))
            bad++;
    }
    CHECK_EQ(total, ab_nslots, "probes checked");

    /* Nothing but the probes' own windows may have been written, and every
     * window was cleared again. */
    bool load_intact = true, store_clear = true;
    for (uint32_t i = 0; i < AB_BUF_SIZE; i++) {
        load_intact = load_intact && ab_buf[i] == pattern(i);
        store_clear = store_clear && ab_sbuf[i] == 0;
    }
    CHECK(load_intact, "load buffer unchanged");
    CHECK(store_clear, "no store outside its window");

    uint16_t ss, fs, gs;
    __asm__ volatile("movw %%ss, %0\n\tmovw %%fs, %1\n\tmovw %%gs, %2"
                     : "=r"(ss), "=r"(fs), "=r"(gs));
    CHECK(ss == RT_SEL_KDATA && fs == RT_SEL_KDATA && gs == RT_SEL_KDATA,
          "ss fs gs restored to 0x%x 0x%x 0x%x", ss, fs, gs);

    test_literal_wrap();
    rt_finish();
}
