/*
 * guest-tests/paging_smc_alias.c — self-modifying code through aliased
 * linear addresses. One frame is mapped twice: at EXEC (read-only, where the
 * code is called) and at WRITE (read/write, where it is rewritten); its
 * identity address is a third alias. A binary translator that tracks code by
 * linear address misses these stores; the processor does not (SDM Vol. 3A
 * §11.6: the instruction cache is checked by physical address).
 *
 * §11.6 also says that code modified through a different linear address than
 * the one it is fetched from is only guaranteed to be seen after a
 * serializing instruction: every rewrite below is followed by CPUID before
 * the call (MOV CR3 and INVLPG are serializing too, §8.3). The one store
 * that is not (into the very next instruction, through the alias) accepts
 * the old and the new bytes alike.
 *
 * Covered: an immediate rewritten through WRITE (dword, byte, REP MOVSB
 * stores) and through the identity alias, 100 rounds; the whole function
 * replaced by different instructions, rounds over three templates; a call
 * through WRITE itself; code at EXEC that rewrites its own next instruction
 * through WRITE, with and without CPUID in between; EXEC remapped to
 * another frame with INVLPG, back and forth; two page directories mapping
 * EXEC to different frames, switched with MOV CR3, and a frame rewritten
 * while it is not mapped at EXEC.
 */
#include "paging.h"

#define EXEC 0x40000000u /* read-only alias: where the code runs */
#define SPLIT                                                                                     \
    0x40200000u           /* two pages; a function whose ADD crosses from the first to the second \
                           */
#define WRITE 0x40100000u /* read/write alias: where it is rewritten */

#define SELF_OFF   0x100 /* the self-rewriting function, with CPUID */
#define NOSYNC_OFF 0x200 /* the same without CPUID */
#define SELF_IMM   16    /* offset of its MOV EAX, imm32's immediate */

typedef uint32_t (*fn0)(void);
typedef uint32_t (*fn1)(uint32_t);

static uint32_t *pd_a, *pd_b, *frame1, *frame2;

static void serialize(void)
{
    uint32_t a = 0, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d) : : "memory");
}

static void emit(uint32_t la, const uint8_t *bytes, unsigned n)
{
    volatile uint8_t *p = (volatile uint8_t *)la;
    for (unsigned i = 0; i < n; i++)
        p[i] = bytes[i];
}

static void put32(uint32_t la, uint32_t v)
{
    *(volatile uint32_t *)la = v;
}

static uint32_t call_at(uint32_t la)
{
    serialize();
    return ((fn0)la)();
}

/* Templates: B8 imm32 (mov eax, imm32), then 05 imm32 (add eax, imm32) or
 * F7 D0 (not eax), then C3 (ret). */
enum shape { MOV, MOV_ADD, MOV_NOT };

static unsigned write_fn(uint32_t la, enum shape s, uint32_t imm, uint32_t imm2)
{
    uint8_t code[12];
    unsigned n = 0;
    code[n++] = 0xB8;
    for (int i = 0; i < 4; i++)
        code[n++] = (uint8_t)(imm >> (8 * i));
    if (s == MOV_ADD) {
        code[n++] = 0x05;
        for (int i = 0; i < 4; i++)
            code[n++] = (uint8_t)(imm2 >> (8 * i));
    } else if (s == MOV_NOT) {
        code[n++] = 0xF7;
        code[n++] = 0xD0;
    }
    code[n++] = 0xC3;
    emit(la, code, n);
    return n;
}

static uint32_t model(enum shape s, uint32_t imm, uint32_t imm2)
{
    return s == MOV_ADD ? imm + imm2 : s == MOV_NOT ? ~imm : imm;
}

static void test_setup(void)
{
    frame1 = pg_alloc();
    frame2 = pg_alloc();
    pd_a = pg_new_identity(PG_IDENTITY_BYTES, PG_P | PG_RW);
    pg_map(pd_a, EXEC, (uint32_t)frame1, PG_P);
    pg_map(pd_a, WRITE, (uint32_t)frame1, PG_P | PG_RW);
    /* pd_b: the same identity table and WRITE, EXEC on frame2. */
    pd_b = pg_alloc();
    pg_set(&pd_b[0], pg_get(&pd_a[0]));
    pg_map(pd_b, EXEC, (uint32_t)frame2, PG_P);
    pg_map(pd_b, WRITE, (uint32_t)frame1, PG_P | PG_RW);

    write_fn((uint32_t)frame2, MOV, 0xF2F2F2F2, 0);
    pg_enable(pd_a);
    CHECK(read_cr0() & CR0_PG, "paging on; frame mapped read-only at 0x%08x, read/write at 0x%08x",
          EXEC, WRITE);
}

static void test_immediate(void)
{
    write_fn(WRITE, MOV, 0x11111111, 0);
    uint32_t a = call_at(EXEC);
    put32(WRITE + 1, 0x22222222);
    uint32_t b = call_at(EXEC);
    *(volatile uint8_t *)(WRITE + 4) = 0x33;
    uint32_t c = call_at(EXEC);
    CHECK(a == 0x11111111 && b == 0x22222222 && c == 0x33222222,
          "written via 0x40100000, run at 0x40000000: 0x%08x, dword store 0x%08x, byte store "
          "0x%08x",
          a, b, c);

    static const uint8_t imm[4] = {0x78, 0x56, 0x34, 0x12};
    const uint8_t *si = imm;
    uint8_t *di = (uint8_t *)(WRITE + 1);
    uint32_t n = 4;
    __asm__ volatile("rep movsb" : "+S"(si), "+D"(di), "+c"(n) : : "memory");
    uint32_t d = call_at(EXEC);
    put32((uint32_t)frame1 + 1, 0x44444444);
    uint32_t e = call_at(EXEC);
    CHECK(d == 0x12345678 && e == 0x44444444,
          "rep movsb via 0x40100000: 0x%08x; dword store via the identity address: 0x%08x", d, e);

    uint32_t sum = 0, want = 0;
    for (uint32_t i = 0; i < 100; i++) {
        uint32_t v = i * 0x01010101u + 0x1000;
        if (i % 5 == 4)
            put32((uint32_t)frame1 + 1, v);
        else
            put32(WRITE + 1, v);
        sum += call_at(EXEC);
        want += v;
    }
    CHECK(sum == want, "100 rewrites (1 in 5 via the identity address), each run: sum 0x%08x", sum);
}

static void test_shapes(void)
{
    unsigned wrong = 0;
    for (uint32_t i = 0; i < 30; i++) {
        enum shape s = (enum shape)(i % 3);
        uint32_t imm = 0xA5000000 + i * 0x10101, imm2 = i * 7;
        write_fn(WRITE, s, imm, imm2);
        wrong += call_at(EXEC) != model(s, imm, imm2);
    }
    CHECK(wrong == 0, "30 rounds replacing the function (mov / mov+add / mov+not): %u wrong",
          wrong);

    write_fn(WRITE, MOV_ADD, 0x100, 0x23);
    uint32_t via_write = call_at(WRITE), via_exec = call_at(EXEC);
    CHECK(via_write == 0x123 && via_exec == 0x123,
          "the same bytes called through 0x40100000 and 0x40000000: 0x%x 0x%x", via_write,
          via_exec);
}

/* Code at EXEC+off that stores its argument, through WRITE, into the
 * immediate of its own MOV EAX, imm32 and then executes that MOV:
 *   push ebx; mov ecx, [esp+8]; mov [WRITE+off+16], ecx;
 *   xor eax, eax; cpuid    (or four NOPs);
 *   mov eax, imm32; pop ebx; ret */
static void write_self(unsigned off, bool sync)
{
    uint32_t target = WRITE + off + SELF_IMM;
    uint8_t code[22] = {0x53,
                        0x8B,
                        0x4C,
                        0x24,
                        0x08,
                        0x89,
                        0x0D,
                        (uint8_t)target,
                        (uint8_t)(target >> 8),
                        (uint8_t)(target >> 16),
                        (uint8_t)(target >> 24),
                        0x31,
                        0xC0,
                        0x0F,
                        0xA2,
                        0xB8,
                        0xEE,
                        0xEE,
                        0xEE,
                        0xEE,
                        0x5B,
                        0xC3};
    if (!sync)
        code[11] = code[12] = code[13] = code[14] = 0x90;
    emit(WRITE + off, code, sizeof(code));
}

static void test_self(void)
{
    write_self(SELF_OFF, true);
    write_self(NOSYNC_OFF, false);
    fn1 self = (fn1)(EXEC + SELF_OFF), nosync = (fn1)(EXEC + NOSYNC_OFF);
    serialize();

    bool ok = true;
    for (uint32_t i = 0; i < 20; i++)
        ok &= self(0x5E1F0000 + i) == 0x5E1F0000 + i;
    CHECK(ok,
          "20 calls storing into the next instruction via the alias, then CPUID: new bytes run");

    /* Without a serializing instruction the next instruction may already be
     * fetched through EXEC (§11.6): old or new immediate. */
    ok = true;
    uint32_t prev = 0xEEEEEEEE;
    for (uint32_t i = 0; i < 20; i++) {
        uint32_t v = 0x7A7A0000 + i, got = nosync(v);
        ok &= got == v || got == prev;
        prev = v;
    }
    CHECK(ok, "20 calls without CPUID: old or new immediate each time (both allowed)");
    serialize();
    CHECK_EQ(*(volatile uint32_t *)(EXEC + NOSYNC_OFF + SELF_IMM), 0x7A7A0013,
             "the immediate as data, read through 0x40000000");
}

static void test_remap(void)
{
    write_fn(WRITE, MOV, 0xF1F1F1F1, 0);
    uint32_t *pte = pg_pte(pd_a, EXEC);
    bool ok = true;
    for (unsigned i = 0; i < 10; i++) {
        /* INVLPG is serializing: no CPUID needed, but call_at adds one. */
        pg_set(pte, (uint32_t)frame2 | PG_P);
        invlpg(EXEC);
        ok &= call_at(EXEC) == 0xF2F2F2F2;
        pg_set(pte, (uint32_t)frame1 | PG_P);
        invlpg(EXEC);
        ok &= call_at(EXEC) == 0xF1F1F1F1;
    }
    CHECK(ok, "0x40000000 remapped frame1 <-> frame2 with INVLPG, 10 times: each runs its code");

    ok = true;
    for (uint32_t i = 0; i < 10; i++) {
        write_cr3((uint32_t)pd_b);
        ok &= call_at(EXEC) == 0xF2F2F2F2 + i;
        write_cr3((uint32_t)pd_a);
        ok &= call_at(EXEC) == 0xF1F1F1F1 + i;
        /* Rewrite both frames while pd_a maps EXEC to frame1: frame2's code
         * is not mapped at EXEC now, only at its identity address. */
        put32((uint32_t)frame2 + 1, 0xF2F2F2F2 + i + 1);
        put32(WRITE + 1, 0xF1F1F1F1 + i + 1);
    }
    CHECK(ok, "MOV CR3 between two directories mapping 0x40000000 to frame1/frame2, both "
              "rewritten between switches, 10 times");
}

/* A function that starts with an instruction crossing a page boundary:
 * mov eax, imm32 at SPLIT+0xFFD, two bytes of its immediate on the next
 * page, then ret. The second page is remapped between two frames holding
 * different bytes, with INVLPG of that page only (SDM vol. 3, §4.10.4.1:
 * that invalidates every translation of it), and the function is called
 * through a pointer each time: a translation of the crossing block, or a
 * table entry leading to one, kept past the INVLPG runs the other frame's
 * bytes. */
/* One call site for every call, so that its inline cache holds one target
 * and the others are looked up in the indirect-branch table. */
__attribute__((noinline)) static uint32_t call_shared(uint32_t la)
{
    return ((fn0)la)();
}

static void test_remap_straddling(void)
{
    uint8_t *first = (uint8_t *)pg_alloc(), *second_a = (uint8_t *)pg_alloc(),
            *second_b = (uint8_t *)pg_alloc();

    first[0xFFD] = 0xB8; /* mov eax, imm32 */
    first[0xFFE] = 0x22;
    first[0xFFF] = 0x11;
    second_a[0] = 0x44;
    second_a[1] = 0x33;
    second_b[0] = 0xBB;
    second_b[1] = 0xAA;
    second_a[2] = second_b[2] = 0xC3; /* ret */
    pg_map(pd_a, SPLIT, (uint32_t)first, PG_P);
    pg_map(pd_a, SPLIT + 0x1000, (uint32_t)second_a, PG_P);
    uint32_t *pte = pg_pte(pd_a, SPLIT + 0x1000);
    unsigned wrong = 0;
    for (unsigned i = 0; i < 20; i++) {
        bool b = i & 1;
        pg_set(pte, (uint32_t)(b ? second_b : second_a) | PG_P);
        invlpg(SPLIT + 0x1000);
        /* The same call site calls EXEC's function in between, so that
         * the call to SPLIT is not the one its inline cache holds. */
        serialize();
        call_shared(EXEC);
        wrong += call_shared(SPLIT + 0xFFD) != (b ? 0xAABB1122u : 0x33441122u);
    }
    CHECK(wrong == 0,
          "an instruction crossing into a page remapped with INVLPG of that page, 20 calls: %u "
          "wrong",
          wrong);
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    test_setup();
    test_immediate();
    test_shapes();
    test_self();
    test_remap();
    test_remap_straddling();
    pg_disable();
    rt_finish();
}
