/*
 * guest-tests/string_ops.c — MOVS, STOS, LODS, CMPS and SCAS at byte, word
 * and dword size: single, REP, REPE and REPNE; DF=0 and DF=1; ECX=0;
 * overlapping copies; early exits of REPE/REPNE; segment overrides with
 * non-zero segment bases; copies across a 4 KiB boundary.
 *
 * Each table case runs one string instruction on a 512-byte arena and the
 * same case through a model that executes the SDM's REP loop one element at
 * a time (Vol. 2B "REP/REPE/REPZ/REPNE/REPNZ"); registers, EFLAGS (CMPS/SCAS
 * define all six arithmetic flags, the others change none) and the whole
 * arena must agree. Addresses are printed relative to the arena so that the
 * output does not depend on where the linker put it.
 */
#include "rt.h"

enum kind { MOVS, STOS, LODS, CMPS, SCAS };
enum rep { NOREP, REP, REPE, REPNE };
enum setup { PATTERN, EQUAL_EXCEPT, DIFFER_EXCEPT };

struct regs {
    uint32_t esi, edi, ecx, eax, flags;
};

typedef void sop_fn(struct regs *r);

/* EFLAGS (with DF) in, run, EFLAGS out, DF cleared again for C. */
#define SOP(name, insn)                                                                  \
    static void name(struct regs *r)                                                     \
    {                                                                                    \
        __asm__ volatile("pushl %[f]\n\tpopfl\n\t" insn "\n\tpushfl\n\tpopl %[f]\n\tcld" \
                         : "+S"(r->esi), "+D"(r->edi), "+c"(r->ecx),                     \
                           "+a"(r->eax), [f] "+r"(r->flags)                              \
                         :                                                               \
                         : "cc", "memory");                                              \
    }

SOP(op_movsb, "movsb")
SOP(op_movsw, "movsw")
SOP(op_movsl, "movsl")
SOP(op_rep_movsb, "rep movsb")
SOP(op_rep_movsw, "rep movsw")
SOP(op_rep_movsl, "rep movsl")
SOP(op_stosb, "stosb")
SOP(op_rep_stosb, "rep stosb")
SOP(op_rep_stosw, "rep stosw")
SOP(op_rep_stosl, "rep stosl")
SOP(op_lodsb, "lodsb")
SOP(op_lodsw, "lodsw")
SOP(op_rep_lodsb, "rep lodsb")
SOP(op_rep_lodsl, "rep lodsl")
SOP(op_cmpsb, "cmpsb")
SOP(op_cmpsl, "cmpsl")
SOP(op_repe_cmpsb, "repe cmpsb")
SOP(op_repe_cmpsw, "repe cmpsw")
SOP(op_repe_cmpsl, "repe cmpsl")
SOP(op_repne_cmpsb, "repne cmpsb")
SOP(op_repne_cmpsl, "repne cmpsl")
SOP(op_scasb, "scasb")
SOP(op_repe_scasb, "repe scasb")
SOP(op_repne_scasb, "repne scasb")
SOP(op_repne_scasw, "repne scasw")
SOP(op_repe_scasl, "repe scasl")

struct scase {
    const char *name;
    sop_fn *run;
    enum kind kind;
    enum rep rep;
    unsigned size;
    bool df;
    uint32_t ecx;
    uint32_t src, dst; /* arena offsets of ESI and EDI */
    uint32_t eax;
    uint32_t fin; /* arithmetic flags before */
    enum setup setup;
    unsigned special; /* the element that differs (EQUAL_EXCEPT) or matches */
};

#define ARITH EFLAGS_ARITH

static const struct scase cases[] = {
    {"movsb", op_movsb, MOVS, NOREP, 1, false, 77, 10, 300, 0, 0, PATTERN, 0},
    {"movsw", op_movsw, MOVS, NOREP, 2, true, 77, 10, 300, 0, ARITH, PATTERN, 0},
    {"movsd", op_movsl, MOVS, NOREP, 4, false, 77, 12, 300, 0, 0, PATTERN, 0},
    {"rep movsb", op_rep_movsb, MOVS, REP, 1, false, 13, 0, 100, 0, ARITH, PATTERN, 0},
    {"rep movsw", op_rep_movsw, MOVS, REP, 2, false, 7, 1, 101, 0, 0, PATTERN, 0},
    {"rep movsd", op_rep_movsl, MOVS, REP, 4, false, 5, 4, 100, 0, 0, PATTERN, 0},
    {"rep movsb", op_rep_movsb, MOVS, REP, 1, true, 13, 50, 150, 0, 0, PATTERN, 0},
    {"rep movsd", op_rep_movsl, MOVS, REP, 4, true, 5, 52, 152, 0, ARITH, PATTERN, 0},
    {"rep movsb ecx=0", op_rep_movsb, MOVS, REP, 1, false, 0, 0, 100, 0, ARITH, PATTERN, 0},
    {"rep movsd ecx=0", op_rep_movsl, MOVS, REP, 4, true, 0, 0, 100, 0, 0, PATTERN, 0},
    /* Overlap: element-by-element semantics, not memmove. */
    {"rep movsb overlap +1", op_rep_movsb, MOVS, REP, 1, false, 16, 200, 201, 0, 0, PATTERN, 0},
    {"rep movsd overlap +2", op_rep_movsl, MOVS, REP, 4, false, 6, 200, 202, 0, 0, PATTERN, 0},
    {"rep movsw overlap -1", op_rep_movsw, MOVS, REP, 2, false, 9, 201, 200, 0, 0, PATTERN, 0},
    {"rep movsb overlap +1", op_rep_movsb, MOVS, REP, 1, true, 16, 266, 267, 0, 0, PATTERN, 0},
    {"rep movsw overlap -3", op_rep_movsw, MOVS, REP, 2, true, 9, 260, 257, 0, 0, PATTERN, 0},
    {"stosb", op_stosb, STOS, NOREP, 1, false, 5, 0, 40, 0xAABBCCDD, ARITH, PATTERN, 0},
    {"rep stosb", op_rep_stosb, STOS, REP, 1, false, 9, 0, 41, 0x11223344, 0, PATTERN, 0},
    {"rep stosw", op_rep_stosw, STOS, REP, 2, true, 9, 0, 80, 0x11223344, 0, PATTERN, 0},
    {"rep stosd", op_rep_stosl, STOS, REP, 4, false, 9, 0, 120, 0x8899AABB, ARITH, PATTERN, 0},
    {"rep stosd ecx=0", op_rep_stosl, STOS, REP, 4, false, 0, 0, 120, 0x8899AABB, 0, PATTERN, 0},
    {"lodsb", op_lodsb, LODS, NOREP, 1, false, 3, 33, 0, 0xFFFFFFFF, 0, PATTERN, 0},
    {"lodsw", op_lodsw, LODS, NOREP, 2, true, 3, 33, 0, 0x12345678, ARITH, PATTERN, 0},
    {"rep lodsd", op_rep_lodsl, LODS, REP, 4, false, 3, 36, 0, 0, 0, PATTERN, 0},
    {"rep lodsb ecx=0", op_rep_lodsb, LODS, REP, 1, false, 0, 36, 0, 0x5555, 0, PATTERN, 0},
    {"cmpsb equal", op_cmpsb, CMPS, NOREP, 1, false, 1, 10, 110, 0, 0, EQUAL_EXCEPT, 99},
    {"cmpsd differ", op_cmpsl, CMPS, NOREP, 4, true, 1, 12, 112, 0, 0, EQUAL_EXCEPT, 0},
    {"repe cmpsb all equal", op_repe_cmpsb, CMPS, REPE, 1, false, 20, 0, 100, 0, 0, EQUAL_EXCEPT,
     99},
    {"repe cmpsb", op_repe_cmpsb, CMPS, REPE, 1, false, 20, 0, 100, 0, ARITH, EQUAL_EXCEPT, 7},
    {"repe cmpsw", op_repe_cmpsw, CMPS, REPE, 2, false, 10, 0, 100, 0, 0, EQUAL_EXCEPT, 9},
    {"repe cmpsd", op_repe_cmpsl, CMPS, REPE, 4, true, 8, 60, 160, 0, 0, EQUAL_EXCEPT, 0},
    {"repe cmpsd", op_repe_cmpsl, CMPS, REPE, 4, true, 8, 60, 160, 0, 0, EQUAL_EXCEPT, 5},
    {"repne cmpsb", op_repne_cmpsb, CMPS, REPNE, 1, false, 20, 0, 100, 0, 0, DIFFER_EXCEPT, 11},
    {"repne cmpsd none", op_repne_cmpsl, CMPS, REPNE, 4, false, 6, 0, 100, 0, 0, DIFFER_EXCEPT, 99},
    {"repe cmpsb ecx=0", op_repe_cmpsb, CMPS, REPE, 1, false, 0, 0, 100, 0, ARITH, PATTERN, 0},
    {"repne cmpsb ecx=0", op_repne_cmpsb, CMPS, REPNE, 1, true, 0, 0, 100, 0, 0, PATTERN, 0},
    {"scasb", op_scasb, SCAS, NOREP, 1, false, 1, 0, 100, 0x41, 0, PATTERN, 0},
    {"repne scasb", op_repne_scasb, SCAS, REPNE, 1, false, 32, 0, 100, 0x80, 0, DIFFER_EXCEPT, 17},
    {"repe scasd", op_repe_scasl, SCAS, REPE, 4, false, 10, 0, 100, 0x7FFFFFFF, ARITH, EQUAL_EXCEPT,
     4},
    {"repne scasw", op_repne_scasw, SCAS, REPNE, 2, true, 12, 0, 180, 0xFFFF, 0, DIFFER_EXCEPT, 5},
    {"repe scasb ecx=0", op_repe_scasb, SCAS, REPE, 1, false, 0, 0, 100, 0, 0, PATTERN, 0},
};

#define ARENA 512
static uint8_t arena[ARENA] __attribute__((aligned(16)));
static uint8_t model_arena[ARENA];

static uint32_t load(const uint8_t *p, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static void store(uint8_t *p, uint32_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Flags of CMP a, b at the given size (SDM Vol. 1 Appendix A). */
static uint32_t cmp_flags(uint32_t a, uint32_t b, unsigned size)
{
    unsigned bits = size * 8;
    uint32_t m = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1, sb = 1u << (bits - 1);
    uint32_t r = (a - b) & m, f = 0, ones = 0;
    for (int i = 0; i < 8; i++)
        ones += (r >> i) & 1;
    f |= (a & m) < (b & m) ? EFLAGS_CF : 0;
    f |= (ones & 1) ? 0 : EFLAGS_PF;
    f |= ((a ^ b ^ r) & 0x10) ? EFLAGS_AF : 0;
    f |= r == 0 ? EFLAGS_ZF : 0;
    f |= (r & sb) ? EFLAGS_SF : 0;
    f |= ((a ^ b) & (a ^ r) & sb) ? EFLAGS_OF : 0;
    return f;
}

static void fill_arena(const struct scase *c)
{
    int step = c->df ? -(int)c->size : (int)c->size;
    for (unsigned i = 0; i < ARENA; i++)
        arena[i] = (uint8_t)(i * 37 + 11);
    if (c->setup == PATTERN)
        return;
    for (unsigned i = 0; i < c->ecx; i++) {
        uint8_t *d = arena + c->dst + (int)i * step;
        if (c->kind == CMPS)
            memcpy(d, arena + c->src + (int)i * step, c->size);
        else
            store(d, c->eax, c->size);
        /* Flipping the top bit of the low byte gives unequal elements with
         * interesting CF/SF/OF; flipping bit 0 gives "mostly equal" ones. */
        if ((c->setup == EQUAL_EXCEPT) == (i == c->special))
            d[0] ^= c->setup == EQUAL_EXCEPT ? 0x80 : 0x01;
    }
}

/* The SDM's REP loop, one element at a time. Registers hold arena offsets. */
static void model(const struct scase *c, struct regs *r)
{
    int step = c->df ? -(int)c->size : (int)c->size;
    uint32_t m = c->size == 4 ? 0xFFFFFFFFu : (1u << (8 * c->size)) - 1;
    for (;;) {
        if (c->rep != NOREP && r->ecx == 0)
            break;
        uint8_t *s = model_arena + r->esi, *d = model_arena + r->edi;
        uint8_t tmp[4];
        switch (c->kind) {
        case MOVS:
            memcpy(tmp, s, c->size); /* read the whole element, then write */
            memcpy(d, tmp, c->size);
            r->esi += step;
            r->edi += step;
            break;
        case STOS:
            store(d, r->eax, c->size);
            r->edi += step;
            break;
        case LODS:
            r->eax = (r->eax & ~m) | load(s, c->size);
            r->esi += step;
            break;
        case CMPS:
            r->flags = (r->flags & ~ARITH) | cmp_flags(load(s, c->size), load(d, c->size), c->size);
            r->esi += step;
            r->edi += step;
            break;
        case SCAS:
            r->flags = (r->flags & ~ARITH) | cmp_flags(r->eax & m, load(d, c->size), c->size);
            r->edi += step;
            break;
        }
        if (c->rep == NOREP)
            break;
        r->ecx--;
        if (r->ecx == 0)
            break;
        if ((c->rep == REPE && !(r->flags & EFLAGS_ZF)) ||
            (c->rep == REPNE && (r->flags & EFLAGS_ZF)))
            break;
    }
}

static void run_case(const struct scase *c)
{
    uint32_t base = (uint32_t)arena;
    uint32_t fin = EFLAGS_BIT1 | c->fin | (c->df ? EFLAGS_DF : 0);
    struct regs want = {c->src, c->dst, c->ecx, c->eax, fin};
    struct regs got = {base + c->src, base + c->dst, c->ecx, c->eax, fin};

    fill_arena(c);
    memcpy(model_arena, arena, ARENA);
    model(c, &want);
    c->run(&got);
    got.esi -= base;
    got.edi -= base;
    got.flags &= ARITH | EFLAGS_DF;
    want.flags &= ARITH | EFLAGS_DF;

    bool regs_ok = got.esi == want.esi && got.edi == want.edi && got.ecx == want.ecx &&
                   got.eax == want.eax && got.flags == want.flags;
    bool mem_ok = memcmp(arena, model_arena, ARENA) == 0;
    CHECK(regs_ok && mem_ok, "%-20s DF=%d n=%-2u: ecx=%u esi=%+d edi=%+d eax=%08x flags=%03x%s",
          c->name, c->df, c->ecx, got.ecx, (int)got.esi - (int)c->src, (int)got.edi - (int)c->dst,
          got.eax, got.flags, mem_ok ? "" : " (memory differs)");
    if (!regs_ok)
        rt_printf("     expected ecx=%u esi=%+d edi=%+d eax=%08x flags=%03x\n", want.ecx,
                  (int)want.esi - (int)c->src, (int)want.edi - (int)c->dst, want.eax, want.flags);
    if (!mem_ok) {
        for (unsigned i = 0; i < ARENA; i++) {
            if (arena[i] != model_arena[i]) {
                rt_printf("     first difference at arena+%u: %02x, expected %02x\n", i, arena[i],
                          model_arena[i]);
                break;
            }
        }
    }
}

/* ---- cases that need more than the table ------------------------------------ */

/* The strlen idiom: ECX = -1, AL = 0, REPNE SCASB; length = ~ECX - 1. */
static void test_strlen_idiom(void)
{
    static const char text[] = "hello, guest";
    uint32_t ecx = 0xFFFFFFFF, edi = (uint32_t)text;
    __asm__ volatile("repne scasb" : "+c"(ecx), "+D"(edi) : "a"(0) : "cc", "memory");
    CHECK(~ecx - 1 == 12 && edi == (uint32_t)text + 13, "strlen idiom: ~ecx-1=%u edi=text%+d",
          ~ecx - 1, (int)(edi - (uint32_t)text));
}

/* A segment register with a non-zero base: the effective address is base +
 * ESI (or EDI), SDM Vol. 3A §3.4. MOVS reads DS:ESI (overridable) and
 * always writes ES:EDI (not overridable). */
#define SEL_BASED 0x30

static uint8_t based_area[256] __attribute__((aligned(16)));

static void test_segment_overrides(void)
{
    uint8_t out[8] = {0};
    uint32_t base = (uint32_t)based_area;

    for (unsigned i = 0; i < sizeof(based_area); i++)
        based_area[i] = (uint8_t)(0xF0 ^ i);
    rt_set_gdt_entry(SEL_BASED, base, 0xFFFFF, RT_ACC_P | RT_ACC_S | RT_ACC_WRITE | RT_ACC_ACCESSED,
                     RT_FLAG_G | RT_FLAG_DB);

    /* fs: rep movsb from FS:5 to the flat buffer `out`. */
    uint32_t esi = 5, edi = (uint32_t)out, ecx = 4;
    __asm__ volatile("movw %w[sel], %%fs\n\t"
                     "rep movsb %%fs:(%%esi), %%es:(%%edi)\n\t"
                     "movw %w[flat], %%fs"
                     : "+S"(esi), "+D"(edi), "+c"(ecx)
                     : [sel] "r"(SEL_BASED), [flat] "r"(RT_SEL_KDATA)
                     : "memory");
    CHECK(load(out, 4) == load(based_area + 5, 4) && esi == 9 && ecx == 0,
          "rep movsb fs:[esi] with fs.base != 0: %08x esi=%u", load(out, 4), esi);

    /* es: rep stosw to ES:10 = base + 10. */
    edi = 10;
    ecx = 3;
    __asm__ volatile("pushl %%es\n\t"
                     "movw %w[sel], %%es\n\t"
                     "rep stosw\n\t"
                     "popl %%es"
                     : "+D"(edi), "+c"(ecx)
                     : [sel] "r"(SEL_BASED), "a"(0xBEEF)
                     : "memory");
    CHECK(load(based_area + 10, 4) == 0xBEEFBEEF && load(based_area + 14, 2) == 0xBEEF &&
              based_area[16] == (0xF0 ^ 16) && edi == 16,
          "rep stosw es:[edi] with es.base != 0: edi=%u", edi);

    /* gs: lodsd from GS:20, and cmpsb comparing GS:[esi] with ES:[edi]. */
    uint32_t eax = 0;
    esi = 20;
    __asm__ volatile("movw %w[sel], %%gs\n\t"
                     "lodsl %%gs:(%%esi), %%eax\n\t"
                     "movw %w[flat], %%gs"
                     : "+a"(eax), "+S"(esi)
                     : [sel] "r"(SEL_BASED), [flat] "r"(RT_SEL_KDATA)
                     : "memory");
    CHECK(eax == load(based_area + 20, 4) && esi == 24, "lodsd gs:[esi]: eax=%08x esi=%u", eax,
          esi);

    uint32_t flags;
    memcpy(out, based_area + 40, 8);
    out[5] ^= 0x80; /* GS:40.. and out differ at element 5 only */
    esi = 40;
    edi = (uint32_t)out;
    ecx = 8;
    __asm__ volatile("movw %w[sel], %%gs\n\t"
                     "repe cmpsb %%es:(%%edi), %%gs:(%%esi)\n\t"
                     "pushfl\n\t"
                     "popl %[f]\n\t"
                     "movw %w[flat], %%gs"
                     : "+S"(esi), "+D"(edi), "+c"(ecx), [f] "=r"(flags)
                     : [sel] "r"(SEL_BASED), [flat] "r"(RT_SEL_KDATA)
                     : "memory", "cc");
    CHECK(esi == 46 && edi == (uint32_t)out + 6 && ecx == 2 && !(flags & EFLAGS_ZF),
          "repe cmpsb gs:[esi], es:[edi] stops after element 5: esi=%u ecx=%u", esi, ecx);
}

/* Copies that cross a 4 KiB boundary, and large counts. */
static uint8_t big_src[16384] __attribute__((aligned(4096)));
static uint8_t big_dst[16384] __attribute__((aligned(4096)));

static void test_large_and_page_crossing(void)
{
    for (unsigned i = 0; i < sizeof(big_src); i++)
        big_src[i] = (uint8_t)(i ^ (i >> 8) ^ 0x5A);

    uint32_t esi = (uint32_t)big_src + 4096 - 30, edi = (uint32_t)big_dst + 8192 - 33, ecx = 64;
    __asm__ volatile("rep movsb" : "+S"(esi), "+D"(edi), "+c"(ecx) : : "memory");
    CHECK(memcmp(big_dst + 8192 - 33, big_src + 4096 - 30, 64) == 0 && ecx == 0,
          "rep movsb of 64 bytes across 4 KiB boundaries");

    uint32_t eax = 0xA5A5A5A5;
    edi = (uint32_t)big_dst;
    ecx = sizeof(big_dst) / 4;
    __asm__ volatile("rep stosl" : "+D"(edi), "+c"(ecx) : "a"(eax) : "memory");
    bool all = true;
    for (unsigned i = 0; i < sizeof(big_dst); i++)
        all = all && big_dst[i] == 0xA5;
    CHECK(all && edi == (uint32_t)big_dst + sizeof(big_dst), "rep stosd of 16 KiB");

    esi = (uint32_t)big_src;
    edi = (uint32_t)big_dst;
    ecx = sizeof(big_src) / 4;
    __asm__ volatile("rep movsl" : "+S"(esi), "+D"(edi), "+c"(ecx) : : "memory");
    CHECK(memcmp(big_src, big_dst, sizeof(big_src)) == 0, "rep movsd of 16 KiB");

    /* Backwards over the whole buffer, byte by byte. */
    esi = (uint32_t)big_src + sizeof(big_src) - 1;
    edi = (uint32_t)big_dst + sizeof(big_dst) - 1;
    ecx = sizeof(big_src);
    memset(big_dst, 0, sizeof(big_dst));
    __asm__ volatile("std\n\trep movsb\n\tcld" : "+S"(esi), "+D"(edi), "+c"(ecx) : : "memory");
    CHECK(memcmp(big_src, big_dst, sizeof(big_src)) == 0 && esi == (uint32_t)big_src - 1,
          "std; rep movsb of 16 KiB backwards");
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
    test_strlen_idiom();
    test_segment_overrides();
    test_large_and_page_crossing();
    rt_finish();
}
