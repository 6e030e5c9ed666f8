/*
 * tests/test_emul_implicit.c — emul_execute_implicit() (emul/implicit_mem.c):
 * string instructions (MOVS, STOS, LODS, CMPS, SCAS with REP/REPE/REPNE,
 * DF, 16-bit address size, source overrides, faults part-way, the 32-bit
 * wrap), stack instructions (every PUSH/POP form, PUSHA/POPA, near CALL/RET,
 * ENTER at several nesting levels, LEAVE) and XLAT.
 *
 * The machine is test_emul_env.h's, with its memory callbacks wrapped: the
 * top 64 KiB of the 4 GiB linear space is backed too (so that an access
 * wrapping from FFFFFFFFh to 0 can be seen), a read can be made to fail at
 * one chosen byte, and every data access is logged. The expected flags of
 * CMPS/SCAS come from a table worked out by hand from the SDM's definition
 * of SUB, not from the code under test.
 */
#include "test_emul_env.h"

#define HIGH_BASE 0xFFFF0000u
#define LOG_MAX   64

struct access_log {
    guest_linear_t addr;
    unsigned len;
    bool write;
};

struct tmachine {
    struct fixture f; /* first: the fake callbacks find f.m at the same address */
    uint8_t high[0x10000];
    bool fail_read_enabled;
    guest_linear_t fail_read_at;
    unsigned data_accesses;
    unsigned nlog;
    struct access_log log[LOG_MAX];
};

static void log_access(struct tmachine *t, guest_linear_t addr, unsigned len, bool write)
{
    t->data_accesses++;
    if (t->nlog < LOG_MAX)
        t->log[t->nlog++] = (struct access_log){addr, len, write};
}

static bool t_read(void *opaque, guest_linear_t addr, void *buf, unsigned len,
                   enum emul_access access, unsigned cpl, struct emul_fault *fault)
{
    struct tmachine *t = opaque;

    /* emul/ must split an access that crosses 4 GiB. */
    assert_true((uint64_t)addr + len <= (1ull << 32));
    if (access != EMUL_ACCESS_FETCH)
        log_access(t, addr, len, false);
    if (t->fail_read_enabled && t->fail_read_at - addr < len) {
        fake_page_fault(fault, t->fail_read_at, access, cpl);
        return false;
    }
    if (addr >= HIGH_BASE) {
        memcpy(buf, t->high + (addr - HIGH_BASE), len);
        return true;
    }
    return fake_read(&t->f.m, addr, buf, len, access, cpl, fault);
}

static bool t_write(void *opaque, guest_linear_t addr, const void *buf, unsigned len,
                    enum emul_access access, unsigned cpl, struct emul_fault *fault)
{
    struct tmachine *t = opaque;

    assert_true((uint64_t)addr + len <= (1ull << 32));
    log_access(t, addr, len, true);
    if (addr >= HIGH_BASE) {
        memcpy(t->high + (addr - HIGH_BASE), buf, len);
        return true;
    }
    return fake_write(&t->f.m, addr, buf, len, access, cpl, fault);
}

static int setup(void **state)
{
    struct tmachine *t = calloc(1, sizeof(*t));

    assert_non_null(t);
    fixture_init(&t->f);
    t->f.env.opaque = t;
    t->f.env.read = t_read;
    t->f.env.write = t_write;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tmachine *t = *state;

    fixture_free(&t->f);
    free(t);
    return 0;
}

static enum emul_status run(struct tmachine *t)
{
    t->nlog = 0;
    t->data_accesses = 0;
    return emul_execute_implicit(&t->f.cpu, &t->f.env, &t->f.fault, t->f.why, sizeof(t->f.why));
}

/* Expects completion with EIP advanced by len (0: not checked). */
static void run_ok(struct tmachine *t, unsigned len)
{
    uint32_t eip = t->f.cpu.eip;
    enum emul_status st = run(t);

    if (st != EMUL_OK)
        print_error("status %d vector %u error %#x why '%s'\n", st, t->f.fault.vector,
                    t->f.fault.error_code, t->f.why);
    assert_int_equal(st, EMUL_OK);
    if (len)
        assert_int_equal(t->f.cpu.eip, eip + len);
}

/* Expects a fault and an unchanged vCPU state. */
static void run_fault(struct tmachine *t, uint8_t vector, uint32_t error_code)
{
    struct vcpu_state before = t->f.cpu;

    assert_int_equal(run(t), EMUL_FAULT);
    assert_int_equal(t->f.fault.vector, vector);
    assert_int_equal(t->f.fault.error_code, error_code);
    assert_memory_equal(&before, &t->f.cpu, sizeof(before));
}

#define REG(t, r) ((t)->f.cpu.regs[REG_##r])
#define MEM(t)    ((t)->f.m.mem)

static void fill_pattern(struct tmachine *t, uint32_t at, unsigned n, uint8_t seed)
{
    for (unsigned i = 0; i < n; i++)
        MEM(t)[at + i] = (uint8_t)(seed + i * 7);
}

/* ---- MOVS ---- */

static void test_movs(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    fill_pattern(t, 0x6000, 16, 0x10);
    REG(t, ESI) = 0x6000;
    REG(t, EDI) = 0x7000;
    REG(t, ECX) = 0x55;
    f->cpu.eflags = EFLAGS_FIXED1 | EFLAGS_CF | EFLAGS_ZF;
    CODE(f, 0xA4); /* movsb */
    run_ok(t, 1);
    assert_int_equal(MEM(t)[0x7000], 0x10);
    assert_int_equal(REG(t, ESI), 0x6001);
    assert_int_equal(REG(t, EDI), 0x7001);
    assert_int_equal(REG(t, ECX), 0x55); /* no REP: ECX untouched */
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | EFLAGS_CF | EFLAGS_ZF);

    CODE(f, 0x66, 0xA5); /* movsw */
    run_ok(t, 2);
    assert_int_equal(get16(&f->m, 0x7001), get16(&f->m, 0x6001));
    assert_int_equal(REG(t, ESI), 0x6003);
    assert_int_equal(REG(t, EDI), 0x7003);

    CODE(f, 0xA5); /* movsd */
    run_ok(t, 1);
    assert_int_equal(get32(&f->m, 0x7003), get32(&f->m, 0x6003));
    assert_int_equal(REG(t, ESI), 0x6007);
    assert_int_equal(REG(t, EDI), 0x7007);
    assert_int_equal(t->nlog, 2);
    assert_int_equal(t->log[0].addr, 0x6003);
    assert_false(t->log[0].write);
    assert_int_equal(t->log[1].addr, 0x7003);
    assert_true(t->log[1].write);

    /* DF = 1: the indexes move down. */
    f->cpu.eflags |= EFLAGS_DF;
    CODE(f, 0xA5);
    run_ok(t, 1);
    assert_int_equal(get32(&f->m, 0x7007), get32(&f->m, 0x6007));
    assert_int_equal(REG(t, ESI), 0x6003);
    assert_int_equal(REG(t, EDI), 0x7003);
    CODE(f, 0xA4);
    run_ok(t, 1);
    assert_int_equal(REG(t, ESI), 0x6002);
    assert_int_equal(REG(t, EDI), 0x7002);
}

static void test_rep_movs(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    fill_pattern(t, 0x6000, 256, 0x31);
    REG(t, ESI) = 0x6000;
    REG(t, EDI) = 0x7000;
    REG(t, ECX) = 16;
    CODE(f, 0xF3, 0xA5); /* rep movsd */
    run_ok(t, 2);
    assert_memory_equal(MEM(t) + 0x7000, MEM(t) + 0x6000, 64);
    assert_int_equal(MEM(t)[0x7040], 0);
    assert_int_equal(REG(t, ECX), 0);
    assert_int_equal(REG(t, ESI), 0x6040);
    assert_int_equal(REG(t, EDI), 0x7040);

    /* Backwards, overlapping (memmove-style, as a kernel does it). */
    fill_pattern(t, 0x6000, 16, 0x40);
    uint8_t expect[20];
    memcpy(expect, MEM(t) + 0x6000, 4);
    memcpy(expect + 4, MEM(t) + 0x6000, 16);
    f->cpu.eflags |= EFLAGS_DF;
    REG(t, ESI) = 0x600F;
    REG(t, EDI) = 0x6013;
    REG(t, ECX) = 16;
    CODE(f, 0xF3, 0xA4); /* std; rep movsb */
    run_ok(t, 2);
    assert_memory_equal(MEM(t) + 0x6000, expect, 20);
    assert_int_equal(REG(t, ESI), 0x5FFF);
    assert_int_equal(REG(t, EDI), 0x6003);
    assert_int_equal(REG(t, ECX), 0);

    /* F2 on MOVS repeats like F3. */
    f->cpu.eflags &= ~EFLAGS_DF;
    REG(t, ESI) = 0x6100;
    REG(t, EDI) = 0x7100;
    REG(t, ECX) = 3;
    CODE(f, 0xF2, 0xA4);
    run_ok(t, 2);
    assert_memory_equal(MEM(t) + 0x7100, MEM(t) + 0x6100, 3);
    assert_int_equal(REG(t, ECX), 0);
    assert_int_equal(REG(t, ESI), 0x6103);
}

/* ECX = 0: no iteration, no data access, nothing changes but EIP. */
static void test_rep_ecx_zero(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;
    static const uint8_t insns[][2] = {
        {0xF3, 0xA4}, {0xF3, 0xA5}, {0xF3, 0xAA}, {0xF3, 0xAB}, {0xF3, 0xAC},
        {0xF3, 0xA6}, {0xF2, 0xA6}, {0xF3, 0xAE}, {0xF2, 0xAF},
    };

    for (unsigned i = 0; i < sizeof(insns) / sizeof(insns[0]); i++) {
        struct vcpu_state before;

        f->cpu.eip = CODE_BASE;
        put_code(f, insns[i], 2);
        REG(t, ECX) = 0;
        REG(t, ESI) = 0xFFFFFFF0; /* nothing mapped there: any access would fail */
        REG(t, EDI) = 0xFFFFFFF0;
        t->fail_read_enabled = true;
        t->fail_read_at = 0xFFFFFFF0;
        f->cpu.eflags = EFLAGS_FIXED1 | EFLAGS_ZF | EFLAGS_SF | EFLAGS_CF;
        before = f->cpu;
        run_ok(t, 2);
        assert_int_equal(t->data_accesses, 0);
        before.eip += 2;
        assert_memory_equal(&before, &f->cpu, sizeof(before));
    }
}

/* ---- STOS, LODS ---- */

static void test_stos(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    REG(t, EAX) = 0x11223344;
    REG(t, EDI) = 0x7000;
    CODE(f, 0xAA); /* stosb */
    run_ok(t, 1);
    assert_int_equal(MEM(t)[0x7000], 0x44);
    assert_int_equal(MEM(t)[0x7001], 0);
    assert_int_equal(REG(t, EDI), 0x7001);
    CODE(f, 0x66, 0xAB); /* stosw */
    run_ok(t, 2);
    assert_int_equal(get16(&f->m, 0x7001), 0x3344);
    assert_int_equal(REG(t, EDI), 0x7003);
    CODE(f, 0xAB); /* stosd */
    run_ok(t, 1);
    assert_int_equal(get32(&f->m, 0x7003), 0x11223344);
    assert_int_equal(REG(t, EDI), 0x7007);

    /* A segment prefix does not apply to ES:EDI. */
    f->cpu.seg[SEG_FS].base = 0x100000;
    CODE(f, 0x64, 0xAA); /* stosb with fs: */
    run_ok(t, 2);
    assert_int_equal(MEM(t)[0x7007], 0x44);
    assert_int_equal(MEM(t)[0x107007], 0);

    /* rep stosd, DF = 0, and std; rep stosw. */
    REG(t, EAX) = 0xA5A5A5A5;
    REG(t, EDI) = 0x8000;
    REG(t, ECX) = 1000;
    CODE(f, 0xF3, 0xAB);
    run_ok(t, 2);
    for (unsigned i = 0; i < 1000; i++)
        assert_int_equal(get32(&f->m, 0x8000 + 4 * i), 0xA5A5A5A5);
    assert_int_equal(get32(&f->m, 0x8000 + 4000), 0);
    assert_int_equal(REG(t, EDI), 0x8000 + 4000);
    assert_int_equal(REG(t, ECX), 0);

    f->cpu.eflags |= EFLAGS_DF;
    REG(t, EAX) = 0xBEEF;
    REG(t, EDI) = 0x9010;
    REG(t, ECX) = 3;
    CODE(f, 0x66, 0xF3, 0xAB);
    run_ok(t, 3);
    assert_int_equal(get16(&f->m, 0x9010), 0xBEEF);
    assert_int_equal(get16(&f->m, 0x900E), 0xBEEF);
    assert_int_equal(get16(&f->m, 0x900C), 0xBEEF);
    assert_int_equal(get16(&f->m, 0x900A), 0);
    assert_int_equal(REG(t, EDI), 0x900A);
}

static void test_lods(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    put32(&f->m, 0x6000, 0x89ABCDEF);
    REG(t, EAX) = 0x11223344;
    REG(t, ESI) = 0x6000;
    REG(t, EDI) = 0x1234;
    CODE(f, 0xAC); /* lodsb */
    run_ok(t, 1);
    assert_int_equal(REG(t, EAX), 0x112233EF);
    assert_int_equal(REG(t, ESI), 0x6001);
    assert_int_equal(REG(t, EDI), 0x1234);
    REG(t, ESI) = 0x6000;
    CODE(f, 0x66, 0xAD); /* lodsw */
    run_ok(t, 2);
    assert_int_equal(REG(t, EAX), 0x1122CDEF);
    assert_int_equal(REG(t, ESI), 0x6002);
    REG(t, ESI) = 0x6000;
    CODE(f, 0xAD); /* lodsd */
    run_ok(t, 1);
    assert_int_equal(REG(t, EAX), 0x89ABCDEF);
    assert_int_equal(REG(t, ESI), 0x6004);

    /* rep lodsb: AL ends with the last byte. */
    REG(t, ESI) = 0x6000;
    REG(t, ECX) = 3;
    CODE(f, 0xF3, 0xAC);
    run_ok(t, 2);
    assert_int_equal(REG(t, EAX) & 0xFF, 0xAB);
    assert_int_equal(REG(t, ESI), 0x6003);
    assert_int_equal(REG(t, ECX), 0);

    /* DF = 1 */
    f->cpu.eflags |= EFLAGS_DF;
    REG(t, ESI) = 0x6003;
    CODE(f, 0xAC);
    run_ok(t, 1);
    assert_int_equal(REG(t, EAX) & 0xFF, 0x89);
    assert_int_equal(REG(t, ESI), 0x6002);
}

/* ---- CMPS and SCAS flags, from the SDM by hand ---- */

#define CF        EFLAGS_CF
#define PF        EFLAGS_PF
#define AF        EFLAGS_AF
#define ZF        EFLAGS_ZF
#define SF        EFLAGS_SF
#define OF        EFLAGS_OF
#define ALL_ARITH (CF | PF | AF | ZF | SF | OF)

/* a - b at `size` bytes: CF = unsigned borrow, OF = signed overflow, AF =
 * borrow from bit 4, SF = top bit, ZF = zero, PF = even number of ones in
 * the low byte of the result. */
static const struct {
    unsigned size;
    uint32_t a, b, flags;
} sub_table[] = {
    {1, 0x00, 0x00, ZF | PF},                       /* 0x00 */
    {1, 0x00, 0x01, CF | PF | AF | SF},             /* 0xFF */
    {1, 0x80, 0x01, OF | AF},                       /* 0x7F: -128 - 1 */
    {1, 0x7F, 0xFF, OF | CF | SF},                  /* 0x80: 127 - (-1) */
    {1, 0x10, 0x01, AF | PF},                       /* 0x0F */
    {1, 0x35, 0x12, 0},                             /* 0x23 */
    {1, 0xFF, 0x7F, SF},                            /* 0x80: -1 - 127 = -128 */
    {1, 0x80, 0x80, ZF | PF},                       /* 0x00 */
    {1, 0x01, 0x80, OF | CF | SF | PF},             /* 0x81: 1 - (-128) */
    {2, 0x8000, 0x0001, OF | AF | PF},              /* 0x7FFF */
    {2, 0x0000, 0x8000, CF | OF | SF | PF},         /* 0x8000 */
    {2, 0x1234, 0x1234, ZF | PF},                   /* 0x0000 */
    {2, 0x0100, 0x0001, AF | PF},                   /* 0x00FF */
    {2, 0x0001, 0x0100, CF | SF},                   /* 0xFF01: low byte 0x01 */
    {4, 0x00000001, 0x00000002, CF | SF | AF | PF}, /* 0xFFFFFFFF */
    {4, 0x80000000, 0x80000000, ZF | PF},           /* 0 */
    {4, 0x7FFFFFFF, 0xFFFFFFFF, OF | CF | SF | PF}, /* 0x80000000 */
    {4, 0x80000000, 0x00000001, OF | AF | PF},      /* 0x7FFFFFFF */
    {4, 0x12345678, 0x12345603, 0},                 /* 0x00000075 */
    {4, 0x00000000, 0x00000100, CF | SF | PF},      /* 0xFFFFFF00 */
};

static void test_cmps_scas_flags(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    for (unsigned i = 0; i < sizeof(sub_table) / sizeof(sub_table[0]); i++) {
        unsigned size = sub_table[i].size;

        for (int start = 0; start < 2; start++) {
            uint32_t base_flags = EFLAGS_FIXED1 | EFLAGS_IF | (start ? ALL_ARITH : 0);

            /* cmps: [ESI] - [EDI] */
            put32(&f->m, 0x6000, sub_table[i].a);
            put32(&f->m, 0x7000, sub_table[i].b);
            REG(t, ESI) = 0x6000;
            REG(t, EDI) = 0x7000;
            f->cpu.eflags = base_flags;
            f->cpu.eip = CODE_BASE;
            if (size == 1)
                CODE(f, 0xA6);
            else if (size == 2)
                CODE(f, 0x66, 0xA7);
            else
                CODE(f, 0xA7);
            run_ok(t, size == 2 ? 2 : 1);
            assert_int_equal(f->cpu.eflags & ~ALL_ARITH, base_flags & ~ALL_ARITH);
            if ((f->cpu.eflags & ALL_ARITH) != sub_table[i].flags)
                print_error("cmps entry %u: %#x - %#x\n", i, sub_table[i].a, sub_table[i].b);
            assert_int_equal(f->cpu.eflags & ALL_ARITH, sub_table[i].flags);
            assert_int_equal(REG(t, ESI), 0x6000 + size);
            assert_int_equal(REG(t, EDI), 0x7000 + size);

            /* scas: AL/AX/EAX - [EDI]; the upper bits of EAX do not take part. */
            REG(t, EAX) = sub_table[i].a | (size == 4 ? 0 : 0xDEAD0000u);
            if (size == 1)
                REG(t, EAX) |= 0x5A00;
            REG(t, EDI) = 0x7000;
            f->cpu.eflags = base_flags;
            f->cpu.eip = CODE_BASE;
            if (size == 1)
                CODE(f, 0xAE);
            else if (size == 2)
                CODE(f, 0x66, 0xAF);
            else
                CODE(f, 0xAF);
            run_ok(t, size == 2 ? 2 : 1);
            if ((f->cpu.eflags & ALL_ARITH) != sub_table[i].flags)
                print_error("scas entry %u: %#x - %#x\n", i, sub_table[i].a, sub_table[i].b);
            assert_int_equal(f->cpu.eflags, (base_flags & ~ALL_ARITH) | sub_table[i].flags);
            assert_int_equal(REG(t, EDI), 0x7000 + size);
        }
    }
}

static void test_repe_cmpsb(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    memcpy(MEM(t) + 0x6000, "abcdXfgh", 8);
    memcpy(MEM(t) + 0x7000, "abcdYfgh", 8);
    REG(t, ESI) = 0x6000;
    REG(t, EDI) = 0x7000;
    REG(t, ECX) = 10;
    f->cpu.eflags = EFLAGS_FIXED1 | OF;
    CODE(f, 0xF3, 0xA6); /* repe cmpsb */
    run_ok(t, 2);
    /* Stops after the 5th comparison ('X' - 'Y' = 0xFF). */
    assert_int_equal(REG(t, ECX), 5);
    assert_int_equal(REG(t, ESI), 0x6005);
    assert_int_equal(REG(t, EDI), 0x7005);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | CF | PF | AF | SF);
    assert_int_equal(t->data_accesses, 10);

    /* All equal: runs out with ZF = 1. */
    REG(t, ESI) = 0x6005;
    REG(t, EDI) = 0x7005;
    REG(t, ECX) = 3;
    f->cpu.eip = CODE_BASE;
    run_ok(t, 2);
    assert_int_equal(REG(t, ECX), 0);
    assert_int_equal(REG(t, ESI), 0x6008);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | ZF | PF);

    /* repne cmpsb: stops at the first equal pair. */
    memcpy(MEM(t) + 0x6100, "12345", 5);
    memcpy(MEM(t) + 0x7100, "abc45", 5);
    REG(t, ESI) = 0x6100;
    REG(t, EDI) = 0x7100;
    REG(t, ECX) = 100;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xF2, 0xA6);
    run_ok(t, 2);
    assert_int_equal(REG(t, ECX), 96);
    assert_int_equal(REG(t, ESI), 0x6104);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | ZF | PF);

    /* repe cmpsd with DF = 1 */
    put32(&f->m, 0x6200, 7);
    put32(&f->m, 0x6204, 9);
    put32(&f->m, 0x7200, 8);
    put32(&f->m, 0x7204, 9);
    REG(t, ESI) = 0x6204;
    REG(t, EDI) = 0x7204;
    REG(t, ECX) = 5;
    f->cpu.eflags = EFLAGS_FIXED1 | EFLAGS_DF;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xF3, 0xA7);
    run_ok(t, 2);
    assert_int_equal(REG(t, ECX), 3);
    assert_int_equal(REG(t, ESI), 0x61FC);
    assert_int_equal(REG(t, EDI), 0x71FC);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | EFLAGS_DF | CF | SF | AF | PF); /* 7 - 8 */
}

static void test_repne_scasb(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    memcpy(MEM(t) + 0x7000, "hello\0world", 11);
    /* strlen: repne scasb for AL = 0 with ECX = -1. */
    REG(t, EAX) = 0xFFFFFF00;
    REG(t, EDI) = 0x7000;
    REG(t, ECX) = 0xFFFFFFFF;
    CODE(f, 0xF2, 0xAE);
    run_ok(t, 2);
    assert_int_equal(REG(t, EDI), 0x7006);
    assert_int_equal(REG(t, ECX), 0xFFFFFFFF - 6);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | ZF | PF);

    /* Not found within ECX: runs out with ZF = 0 and the last comparison's flags. */
    REG(t, EAX) = 'z';
    REG(t, EDI) = 0x7000;
    REG(t, ECX) = 3;
    f->cpu.eip = CODE_BASE;
    run_ok(t, 2);
    assert_int_equal(REG(t, ECX), 0);
    assert_int_equal(REG(t, EDI), 0x7003);
    /* 'z' - 'l' = 0x7A - 0x6C = 0x0E: AF (0xA < 0xC), PF clear (3 ones). */
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | AF);

    /* repe scasd: skip while equal. */
    put32(&f->m, 0x7100, 0x11111111);
    put32(&f->m, 0x7104, 0x11111111);
    put32(&f->m, 0x7108, 0x22222222);
    REG(t, EAX) = 0x11111111;
    REG(t, EDI) = 0x7100;
    REG(t, ECX) = 10;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xF3, 0xAF);
    run_ok(t, 2);
    assert_int_equal(REG(t, ECX), 7);
    assert_int_equal(REG(t, EDI), 0x710C);
    /* 0x11111111 - 0x22222222 = 0xEEEEEEEF: CF SF AF, PF (0xEF has 7 ones) clear. */
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | CF | SF | AF);
}

/* ---- address size, overrides, wrap ---- */

static void test_address_size_16(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    MEM(t)[0xFFFF] = 0x5A;
    MEM(t)[0x0000] = 0x00; /* never written by the test machine */
    REG(t, ESI) = 0x1234FFFF;
    REG(t, EDI) = 0x56787000;
    CODE(f, 0x67, 0xA4); /* a16 movsb: DS:SI -> ES:DI */
    run_ok(t, 2);
    assert_int_equal(MEM(t)[0x7000], 0x5A);
    assert_int_equal(REG(t, ESI), 0x12340000); /* SI wrapped, upper half kept */
    assert_int_equal(REG(t, EDI), 0x56787001);
    assert_int_equal(t->log[0].addr, 0xFFFF);

    /* rep with CX, crossing the 64 KiB wrap of DI. */
    MEM(t)[0x1000] = 1;
    MEM(t)[0x1001] = 2;
    MEM(t)[0x1002] = 3;
    REG(t, ESI) = 0xAAAA1000;
    REG(t, EDI) = 0xBBBBFFFE;
    REG(t, ECX) = 0xCCCC0003;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xF3, 0x67, 0xA4);
    run_ok(t, 3);
    assert_int_equal(MEM(t)[0xFFFE], 1);
    assert_int_equal(MEM(t)[0xFFFF], 2);
    assert_int_equal(MEM(t)[0x0000], 3);
    assert_int_equal(REG(t, ECX), 0xCCCC0000);
    assert_int_equal(REG(t, ESI), 0xAAAA1003);
    assert_int_equal(REG(t, EDI), 0xBBBB0001);
    MEM(t)[0x0000] = 0;

    /* DF = 1 wraps down from 0 to FFFFh. */
    f->cpu.eflags |= EFLAGS_DF;
    REG(t, EAX) = 0x77;
    REG(t, EDI) = 0x00010000;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0x67, 0xAA); /* a16 stosb at ES:0 */
    run_ok(t, 2);
    assert_int_equal(MEM(t)[0], 0x77);
    assert_int_equal(REG(t, EDI), 0x0001FFFF);
    MEM(t)[0x0000] = 0;

    /* A16 CX = 0 with ECX upper bits set: no iteration. */
    f->cpu.eflags &= ~EFLAGS_DF;
    REG(t, ECX) = 0x00010000;
    REG(t, EDI) = 0x7100;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xF3, 0x67, 0xAA);
    run_ok(t, 3);
    assert_int_equal(t->data_accesses, 0);
    assert_int_equal(REG(t, ECX), 0x00010000);
    assert_int_equal(REG(t, EDI), 0x7100);
}

static void test_source_override(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    f->cpu.seg[SEG_FS].base = 0x100000;
    MEM(t)[0x100200] = 0xC3;
    MEM(t)[0x000200] = 0x99;
    REG(t, ESI) = 0x200;
    REG(t, EDI) = 0x7000;
    CODE(f, 0x64, 0xA4); /* movsb fs:[esi] -> es:[edi] */
    run_ok(t, 2);
    assert_int_equal(MEM(t)[0x7000], 0xC3);
    assert_int_equal(t->log[0].addr, 0x100200);
    assert_int_equal(t->log[1].addr, 0x7000);
    assert_int_equal(REG(t, ESI), 0x201);

    /* ES with a base too: the destination uses it. */
    f->cpu.seg[SEG_ES].base = 0x200000;
    REG(t, ESI) = 0x200;
    REG(t, EDI) = 0x10;
    REG(t, ECX) = 1;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xF3, 0x64, 0xA4);
    run_ok(t, 3);
    assert_int_equal(MEM(t)[0x200010], 0xC3);

    /* lods and cmps take the override too. */
    REG(t, ESI) = 0x200;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0x64, 0xAC);
    run_ok(t, 2);
    assert_int_equal(REG(t, EAX) & 0xFF, 0xC3);
    REG(t, ESI) = 0x200;
    REG(t, EDI) = 0x10; /* ES:0x10 = linear 0x200010 = 0xC3 */
    f->cpu.eip = CODE_BASE;
    CODE(f, 0x64, 0xA6);
    run_ok(t, 2);
    assert_true(f->cpu.eflags & ZF);
    REG(t, ESI) = 0x200;
    REG(t, EDI) = 0x10;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xA6); /* without the override: DS:0x200 = 0x99 */
    run_ok(t, 1);
    assert_false(f->cpu.eflags & ZF);
}

static void test_wrap_32(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    /* movsd from FFFFFFFEh reads FFFFFFFE, FFFFFFFF, 0, 1. */
    t->high[0xFFFE] = 0xA1;
    t->high[0xFFFF] = 0xB2;
    MEM(t)[0] = 0xC3;
    MEM(t)[1] = 0xD4;
    REG(t, ESI) = 0xFFFFFFFE;
    REG(t, EDI) = 0x7000;
    CODE(f, 0xA5);
    run_ok(t, 1);
    assert_int_equal(get32(&f->m, 0x7000), 0xD4C3B2A1);
    assert_int_equal(REG(t, ESI), 0x00000002);
    assert_int_equal(t->nlog, 3);
    assert_int_equal(t->log[0].addr, 0xFFFFFFFE);
    assert_int_equal(t->log[0].len, 2);
    assert_int_equal(t->log[1].addr, 0);
    assert_int_equal(t->log[1].len, 2);

    /* stosd at EDI = FFFFFFFFh writes FFFFFFFF, 0, 1, 2. */
    REG(t, EAX) = 0x44332211;
    REG(t, EDI) = 0xFFFFFFFF;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xAB);
    run_ok(t, 1);
    assert_int_equal(t->high[0xFFFF], 0x11);
    assert_int_equal(MEM(t)[0], 0x22);
    assert_int_equal(MEM(t)[1], 0x33);
    assert_int_equal(MEM(t)[2], 0x44);
    assert_int_equal(REG(t, EDI), 3);

    /* The wrap of base + offset: FS base FFFFFFFCh, ESI = 2. */
    memset(MEM(t), 0, 4);
    t->high[0xFFFE] = 0x01;
    t->high[0xFFFF] = 0x02;
    MEM(t)[0] = 0x03;
    MEM(t)[1] = 0x04;
    f->cpu.seg[SEG_FS].base = 0xFFFFFFFC;
    REG(t, ESI) = 2;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0x64, 0xAD); /* lodsd fs: */
    run_ok(t, 2);
    assert_int_equal(REG(t, EAX), 0x04030201);

    /* rep movsb running backwards through 0 into the top of the space. */
    t->high[0xFFFF] = 0x55;
    MEM(t)[0] = 0x66;
    f->cpu.eflags |= EFLAGS_DF;
    REG(t, ESI) = 0;
    REG(t, EDI) = 0x7101;
    REG(t, ECX) = 2;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xF3, 0xA4);
    run_ok(t, 2);
    assert_int_equal(MEM(t)[0x7101], 0x66);
    assert_int_equal(MEM(t)[0x7100], 0x55);
    assert_int_equal(REG(t, ESI), 0xFFFFFFFE);

    /* An expand-down segment (valid offsets limit+1..FFFFFFFFh) wrapping to
     * offset 0: the bytes at 0.. are outside it, #GP(0). */
    f->cpu.eflags &= ~EFLAGS_DF;
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_DS], SEL_EXPDOWN);
    REG(t, ESI) = 0xFFFFFFFE;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xA5);
    run_fault(t, VEC_GP, 0);
    REG(t, ESI) = 0xFFFFFFFC;
    run_ok(t, 1);
    assert_int_equal(REG(t, ESI), 0);

    /* A segment whose limit is not 4 GiB does not wrap: #GP(0). */
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_DS], SEL_DATA0_SMALL);
    REG(t, ESI) = 0xFFFFFFFE;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xA5);
    run_fault(t, VEC_GP, 0);
}

/* ---- faults ---- */

static void test_rep_movsd_fault_midway(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    fill_pattern(t, 0x6000, 32, 0x21);
    REG(t, ESI) = 0x6000;
    REG(t, EDI) = 0x7000;
    REG(t, ECX) = 8;
    t->fail_read_enabled = true;
    t->fail_read_at = 0x600D; /* inside the 4th dword */
    CODE(f, 0xF3, 0xA5);
    assert_int_equal(run(t), EMUL_FAULT);
    assert_int_equal(f->fault.vector, VEC_PF);
    assert_int_equal(f->fault.error_code, 0);
    assert_int_equal(f->fault.fault_address, 0x600D);
    /* Three iterations done and kept; EIP still at the instruction. */
    assert_int_equal(REG(t, ECX), 5);
    assert_int_equal(REG(t, ESI), 0x600C);
    assert_int_equal(REG(t, EDI), 0x700C);
    assert_int_equal(f->cpu.eip, CODE_BASE);
    assert_memory_equal(MEM(t) + 0x7000, MEM(t) + 0x6000, 12);
    assert_int_equal(get32(&f->m, 0x700C), 0);

    /* Once the page is back, the same call finishes the rest. */
    t->fail_read_enabled = false;
    run_ok(t, 2);
    assert_int_equal(REG(t, ECX), 0);
    assert_int_equal(REG(t, ESI), 0x6020);
    assert_memory_equal(MEM(t) + 0x7000, MEM(t) + 0x6000, 32);

    /* A fault on the first iteration changes nothing. */
    f->cpu.eip = CODE_BASE;
    REG(t, ESI) = 0x6000;
    REG(t, EDI) = 0x7100;
    REG(t, ECX) = 4;
    t->fail_read_enabled = true;
    t->fail_read_at = 0x6003;
    run_fault(t, VEC_PF, 0);

    /* A write fault part-way: the destination page 0x8000 is not present. */
    t->fail_read_enabled = false;
    f->m.fault_page_enabled = true;
    f->m.fault_page = 0x8000;
    REG(t, ESI) = 0x6000;
    REG(t, EDI) = 0x7FF8;
    REG(t, ECX) = 4;
    f->cpu.eflags |= EFLAGS_RF;
    assert_int_equal(run(t), EMUL_FAULT);
    assert_int_equal(f->fault.vector, VEC_PF);
    assert_int_equal(f->fault.error_code, 2); /* write, supervisor, not present */
    assert_int_equal(f->fault.fault_address, 0x8000);
    assert_int_equal(REG(t, ECX), 2);
    assert_int_equal(REG(t, ESI), 0x6008);
    assert_int_equal(REG(t, EDI), 0x8000);
    assert_int_equal(f->cpu.eip, CODE_BASE);

    /* repe cmpsb faulting after one equal pair keeps its flags. */
    f->m.fault_page_enabled = false;
    MEM(t)[0x6100] = 'q';
    MEM(t)[0x7100] = 'q';
    REG(t, ESI) = 0x6100;
    REG(t, EDI) = 0x7100;
    REG(t, ECX) = 9;
    f->cpu.eflags = EFLAGS_FIXED1;
    t->fail_read_enabled = true;
    t->fail_read_at = 0x7101;
    CODE(f, 0xF3, 0xA6);
    assert_int_equal(run(t), EMUL_FAULT);
    assert_int_equal(REG(t, ECX), 8);
    assert_int_equal(REG(t, ESI), 0x6101);
    assert_int_equal(REG(t, EDI), 0x7101);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | ZF | PF);
    assert_int_equal(f->cpu.eip, CODE_BASE);
}

static void test_string_segment_checks(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    /* Source beyond the DS limit: #GP(0). */
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_DS], SEL_DATA0_SMALL);
    REG(t, ESI) = 0x1000;
    REG(t, EDI) = 0x7000;
    CODE(f, 0xA4);
    run_fault(t, VEC_GP, 0);
    /* A dword that straddles the limit. */
    REG(t, ESI) = 0xFFE;
    CODE(f, 0xA5);
    run_fault(t, VEC_GP, 0);

    /* SS-relative source beyond the SS limit: #SS(0). */
    vcpu_load_flat_segment(&f->cpu, SEG_DS, SEL_DATA0, false);
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_SS], SEL_DATA0_SMALL);
    REG(t, ESP) = 0x800;
    REG(t, ESI) = 0x1000;
    CODE(f, 0x36, 0xA4);
    run_fault(t, VEC_SS, 0);

    /* ES read-only: stos #GP(0). */
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_ES], SEL_DATA_RO);
    CODE(f, 0xAA);
    run_fault(t, VEC_GP, 0);
    /* ... but scas only reads ES. */
    CODE(f, 0xAE);
    run_ok(t, 1);

    /* Null FS used as a source: #GP(0). */
    f->cpu.seg[SEG_FS].attr = 0;
    f->cpu.seg[SEG_FS].selector = 0;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0x64, 0xAC);
    run_fault(t, VEC_GP, 0);

    /* REP running into the limit: the iterations before it stay done. */
    vcpu_load_flat_segment(&f->cpu, SEG_ES, SEL_DATA0, false);
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_DS], SEL_DATA0_SMALL);
    REG(t, ESI) = 0xFFE;
    REG(t, EDI) = 0x7000;
    REG(t, ECX) = 4;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xF3, 0xA4);
    assert_int_equal(run(t), EMUL_FAULT);
    assert_int_equal(f->fault.vector, VEC_GP);
    assert_int_equal(REG(t, ECX), 2);
    assert_int_equal(REG(t, ESI), 0x1000);
    assert_int_equal(REG(t, EDI), 0x7002);
    assert_int_equal(f->cpu.eip, CODE_BASE);
}

static void test_big_rep(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;
    const uint32_t n = 1u << 20;

    REG(t, EAX) = 0x3C;
    REG(t, EDI) = 0x200000;
    REG(t, ECX) = n;
    CODE(f, 0xF3, 0xAA);
    /* 65536 iterations per call, EIP staying at the instruction until the
     * count is done (the monitor takes interrupts in between). */
    uint32_t eip = f->cpu.eip;
    for (unsigned call = 1; call < n / 65536; call++) {
        run_ok(t, 0);
        assert_int_equal(f->cpu.eip, eip);
        assert_int_equal(REG(t, ECX), n - call * 65536);
    }
    run_ok(t, 2);
    assert_int_equal(REG(t, ECX), 0);
    assert_int_equal(REG(t, EDI), 0x200000 + n);
    /* The last call: 65536 bytes in RAM, written a page per access. */
    assert_int_equal(t->data_accesses, 16);
    assert_int_equal(MEM(t)[0x200000], 0x3C);
    assert_int_equal(MEM(t)[0x200000 + n - 1], 0x3C);
    assert_int_equal(MEM(t)[0x200000 + n], 0);
}

/* REP MOVS/STOS over RAM go a page at a time, with the results of
 * element-by-element execution: across page boundaries (a dword
 * straddling one goes alone), up to a fault with the iterations before it
 * kept, and not where the destination runs into the source ahead of it
 * (MOVSB with EDI = ESI + 1 replicates the first byte). */
static void test_rep_bulk_pages(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    REG(t, EAX) = 0xA1B2C3D4;
    REG(t, EDI) = 0x7F02; /* misaligned: the dword at 0x7FFE straddles */
    REG(t, ECX) = 0x500;
    CODE(f, 0xF3, 0xAB); /* rep stosd */
    t->data_accesses = 0;
    run_ok(t, 2);
    assert_true(f->m.ram_address_calls > 0);
    assert_true(t->data_accesses < 16);
    assert_int_equal(REG(t, ECX), 0);
    assert_int_equal(REG(t, EDI), 0x7F02 + 0x1400);
    for (uint32_t a = 0x7F02; a < 0x7F02 + 0x1400; a += 4)
        assert_int_equal(get32(&f->m, a), 0xA1B2C3D4);
    assert_int_equal(get32(&f->m, 0x7F02 + 0x1400), 0);

    /* rep movsd of 3 pages from there, then a fault on the page 0x20000. */
    f->cpu.eip = CODE_BASE;
    REG(t, ESI) = 0x7F02;
    REG(t, EDI) = 0x1E800;
    REG(t, ECX) = 0x700;
    f->m.fault_page_enabled = true;
    f->m.fault_page = 0x20000;
    CODE(f, 0xF3, 0xA5);
    assert_int_equal(run(t), EMUL_FAULT);
    assert_int_equal(f->fault.fault_address, 0x20000);
    assert_int_equal(f->fault.error_code, 2);
    assert_int_equal(REG(t, EDI), 0x20000);
    assert_int_equal(REG(t, ESI), 0x7F02 + 0x1800);
    assert_int_equal(REG(t, ECX), 0x100);
    assert_memory_equal(MEM(t) + 0x1E800, MEM(t) + 0x7F02, 0x1800);
    f->m.fault_page_enabled = false;

    /* Overlapping forward: replication, as element by element. */
    f->cpu.eip = CODE_BASE;
    memset(MEM(t) + 0x30000, 0, 0x100);
    MEM(t)[0x30000] = 'r';
    REG(t, ESI) = 0x30000;
    REG(t, EDI) = 0x30001;
    REG(t, ECX) = 0xFF;
    CODE(f, 0xF3, 0xA4); /* rep movsb */
    run_ok(t, 2);
    for (unsigned i = 0; i < 0x100; i++)
        assert_int_equal(MEM(t)[0x30000 + i], 'r');

    /* Overlapping the other way (EDI below ESI): a plain forward move. */
    f->cpu.eip = CODE_BASE;
    for (unsigned i = 0; i < 0x100; i++)
        MEM(t)[0x31000 + i] = (uint8_t)i;
    REG(t, ESI) = 0x31010;
    REG(t, EDI) = 0x31000;
    REG(t, ECX) = 0xF0;
    run_ok(t, 2);
    for (unsigned i = 0; i < 0xF0; i++)
        assert_int_equal(MEM(t)[0x31000 + i], (uint8_t)(i + 0x10));
}

/* ---- XLAT ---- */

static void test_xlat(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    for (unsigned i = 0; i < 256; i++)
        MEM(t)[0x6000 + i] = (uint8_t)(255 - i);
    REG(t, EBX) = 0x6000;
    REG(t, EAX) = 0x12345605;
    CODE(f, 0xD7);
    run_ok(t, 1);
    assert_int_equal(REG(t, EAX), 0x123456FA);
    /* AL is unsigned: 0xF0 indexes forward. */
    REG(t, EAX) = 0xF0;
    f->cpu.eip = CODE_BASE;
    run_ok(t, 1);
    assert_int_equal(REG(t, EAX), 0x0F);

    /* fs: override */
    f->cpu.seg[SEG_FS].base = 0x100000;
    MEM(t)[0x106003] = 0xEE;
    REG(t, EAX) = 3;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0x64, 0xD7);
    run_ok(t, 2);
    assert_int_equal(REG(t, EAX), 0xEE);

    /* a16: BX + AL wraps at 64 KiB. */
    MEM(t)[0x0001] = 0x42;
    REG(t, EBX) = 0x0005FFFF;
    REG(t, EAX) = 2;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0x67, 0xD7);
    run_ok(t, 2);
    assert_int_equal(REG(t, EAX), 0x42);
    MEM(t)[0x0001] = 0;

    /* 32-bit: EBX + AL wraps at 4 GiB. */
    MEM(t)[0x0000] = 0x24;
    REG(t, EBX) = 0xFFFFFFFF;
    REG(t, EAX) = 1;
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xD7);
    run_ok(t, 1);
    assert_int_equal(REG(t, EAX), 0x24);
    MEM(t)[0x0000] = 0;
}

/* ---- PUSH and POP ---- */

static void test_push_forms(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;
    uint32_t sp = STACK0_TOP;

    REG(t, EAX) = 0xCAFEBABE;
    CODE(f, 0x50); /* push eax */
    run_ok(t, 1);
    sp -= 4;
    assert_int_equal(REG(t, ESP), sp);
    assert_int_equal(get32(&f->m, sp), 0xCAFEBABE);

    CODE(f, 0x66, 0x50); /* push ax */
    run_ok(t, 2);
    sp -= 2;
    assert_int_equal(REG(t, ESP), sp);
    assert_int_equal(get16(&f->m, sp), 0xBABE);

    CODE(f, 0x6A, 0x80); /* push -128 (imm8, sign-extended) */
    run_ok(t, 2);
    sp -= 4;
    assert_int_equal(get32(&f->m, sp), 0xFFFFFF80);

    CODE(f, 0x66, 0x6A, 0x80); /* o16 push imm8 */
    run_ok(t, 3);
    sp -= 2;
    assert_int_equal(get16(&f->m, sp), 0xFF80);

    CODE(f, 0x68, 0x78, 0x56, 0x34, 0x12); /* push 0x12345678 */
    run_ok(t, 5);
    sp -= 4;
    assert_int_equal(get32(&f->m, sp), 0x12345678);

    CODE(f, 0x66, 0x68, 0x34, 0x12); /* push word 0x1234 */
    run_ok(t, 4);
    sp -= 2;
    assert_int_equal(get16(&f->m, sp), 0x1234);

    put32(&f->m, DATA_AREA, 0x0BADF00D);
    CODE(f, 0xFF, 0x35, 0x00, 0x50, 0x00, 0x00); /* push dword [0x5000] */
    run_ok(t, 6);
    sp -= 4;
    assert_int_equal(get32(&f->m, sp), 0x0BADF00D);

    CODE(f, 0x66, 0xFF, 0x35, 0x00, 0x50, 0x00, 0x00); /* push word [0x5000] */
    run_ok(t, 7);
    sp -= 2;
    assert_int_equal(get16(&f->m, sp), 0xF00D);

    /* push [esp+4]: the address uses ESP before the decrement. */
    REG(t, ESP) = sp = 0x7F000;
    put32(&f->m, 0x7F000, 0x11111111);
    put32(&f->m, 0x7F004, 0x22222222);
    CODE(f, 0xFF, 0x74, 0x24, 0x04);
    run_ok(t, 4);
    assert_int_equal(REG(t, ESP), 0x7EFFC);
    assert_int_equal(get32(&f->m, 0x7EFFC), 0x22222222);

    /* push esp: the value before the push. */
    CODE(f, 0x54);
    run_ok(t, 1);
    assert_int_equal(REG(t, ESP), 0x7EFF8);
    assert_int_equal(get32(&f->m, 0x7EFF8), 0x7EFFC);
    CODE(f, 0x66, 0x54); /* push sp */
    run_ok(t, 2);
    assert_int_equal(REG(t, ESP), 0x7EFF6);
    assert_int_equal(get16(&f->m, 0x7EFF6), 0xEFF8);
}

static void test_pop_forms(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    REG(t, ESP) = 0x7F000;
    put32(&f->m, 0x7F000, 0xAABBCCDD);
    put32(&f->m, 0x7F004, 0x11223344);
    REG(t, ECX) = 0x99999999;
    CODE(f, 0x59); /* pop ecx */
    run_ok(t, 1);
    assert_int_equal(REG(t, ECX), 0xAABBCCDD);
    assert_int_equal(REG(t, ESP), 0x7F004);

    CODE(f, 0x66, 0x59); /* pop cx */
    run_ok(t, 2);
    assert_int_equal(REG(t, ECX), 0xAABB3344);
    assert_int_equal(REG(t, ESP), 0x7F006);

    /* pop [mem] */
    REG(t, ESP) = 0x7F000;
    CODE(f, 0x8F, 0x05, 0x00, 0x50, 0x00, 0x00); /* pop dword [0x5000] */
    run_ok(t, 6);
    assert_int_equal(get32(&f->m, DATA_AREA), 0xAABBCCDD);
    assert_int_equal(REG(t, ESP), 0x7F004);
    CODE(f, 0x66, 0x8F, 0x05, 0x10, 0x50, 0x00, 0x00); /* pop word [0x5010] */
    run_ok(t, 7);
    assert_int_equal(get32(&f->m, DATA_AREA + 0x10), 0x3344);
    assert_int_equal(REG(t, ESP), 0x7F006);

    /* pop [esp+4]: the address uses ESP after the increment: S+4+4. */
    REG(t, ESP) = 0x7F000;
    put32(&f->m, 0x7F008, 0);
    put32(&f->m, 0x7F004, 0x55555555);
    CODE(f, 0x8F, 0x44, 0x24, 0x04);
    run_ok(t, 4);
    assert_int_equal(REG(t, ESP), 0x7F004);
    assert_int_equal(get32(&f->m, 0x7F008), 0xAABBCCDD);
    assert_int_equal(get32(&f->m, 0x7F004), 0x55555555);

    /* pop [esp]: written at the new top. */
    REG(t, ESP) = 0x7F000;
    CODE(f, 0x8F, 0x04, 0x24);
    run_ok(t, 3);
    assert_int_equal(get32(&f->m, 0x7F004), 0xAABBCCDD);

    /* pop esp: ESP takes the popped value. */
    REG(t, ESP) = 0x7F000;
    put32(&f->m, 0x7F000, 0x00060000);
    CODE(f, 0x5C);
    run_ok(t, 1);
    assert_int_equal(REG(t, ESP), 0x00060000);

    /* pop sp: ESP += 2 first, then SP is loaded (bits 31..16 from the increment). */
    REG(t, ESP) = 0x7FFFE;
    put16(&f->m, 0x7FFFE, 0x1234);
    CODE(f, 0x66, 0x5C);
    run_ok(t, 2);
    assert_int_equal(REG(t, ESP), 0x81234);
}

static void test_push_pop_faults(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    /* The stack page is not present: #PF (write), ESP and memory unchanged. */
    f->m.fault_page_enabled = true;
    f->m.fault_page = STACK0_TOP - 0x1000;
    CODE(f, 0x50);
    run_fault(t, VEC_PF, 2);
    assert_int_equal(f->fault.fault_address, STACK0_TOP - 4);
    CODE(f, 0xE8, 0x00, 0x00, 0x00, 0x00); /* call: EIP unchanged too */
    run_fault(t, VEC_PF, 2);
    CODE(f, 0xC8, 0x10, 0x00, 0x00); /* enter */
    run_fault(t, VEC_PF, 2);

    /* pop into a faulting destination: ESP unchanged. */
    f->m.fault_page = 0x9000;
    REG(t, ESP) = 0x7F000;
    put32(&f->m, 0x7F000, 0x77);
    CODE(f, 0x8F, 0x05, 0x00, 0x90, 0x00, 0x00); /* pop dword [0x9000] */
    run_fault(t, VEC_PF, 2);
    /* push from a faulting source. */
    CODE(f, 0xFF, 0x35, 0x00, 0x90, 0x00, 0x00);
    run_fault(t, VEC_PF, 0);
    f->m.fault_page_enabled = false;

    /* SS limit: #SS(0) on push below 0 / pop above the limit. */
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_SS], SEL_DATA0_SMALL);
    REG(t, ESP) = 0x1000;
    CODE(f, 0x58); /* pop eax at 0x1000 > limit */
    run_fault(t, VEC_SS, 0);
    REG(t, ESP) = 0xFFE;
    run_fault(t, VEC_SS, 0);
    REG(t, ESP) = 2;
    CODE(f, 0x50);
    run_fault(t, VEC_SS, 0);
    CODE(f, 0xC9); /* leave with EBP beyond the limit */
    REG(t, EBP) = 0x2000;
    run_fault(t, VEC_SS, 0);

    /* push from beyond the DS limit: #GP(0). */
    vcpu_load_flat_segment(&f->cpu, SEG_SS, SEL_DATA0, false);
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_DS], SEL_DATA0_SMALL);
    CODE(f, 0xFF, 0x35, 0x00, 0x50, 0x00, 0x00);
    run_fault(t, VEC_GP, 0);
}

static void test_push_pop_sreg_pushf(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    CODE(f, 0x0F, 0xA0); /* push fs */
    run_ok(t, 2);
    assert_int_equal(REG(t, ESP), STACK0_TOP - 4);
    assert_int_equal(get16(&f->m, STACK0_TOP - 4), SEL_DATA0);

    put32(&f->m, STACK0_TOP - 4, SEL_DATA3 & ~3u); /* DPL 3 data, RPL 0: allowed at CPL 0 */
    CODE(f, 0x1F);                                 /* pop ds */
    run_ok(t, 1);
    assert_int_equal(f->cpu.seg[SEG_DS].selector, SEL_DATA3 & ~3u);
    assert_int_equal(REG(t, ESP), STACK0_TOP);

    f->cpu.eflags = EFLAGS_FIXED1 | EFLAGS_IF | EFLAGS_CF | EFLAGS_RF;
    CODE(f, 0x9C); /* pushfd */
    run_ok(t, 1);
    assert_int_equal(get32(&f->m, STACK0_TOP - 4), EFLAGS_FIXED1 | EFLAGS_IF | EFLAGS_CF);
    assert_false(f->cpu.eflags & EFLAGS_RF);
    put32(&f->m, STACK0_TOP - 4, EFLAGS_FIXED1 | EFLAGS_ZF);
    CODE(f, 0x9D); /* popfd */
    run_ok(t, 1);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | EFLAGS_ZF);
}

static void test_pushad_popad(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    for (unsigned r = 0; r < REG_COUNT; r++)
        f->cpu.regs[r] = 0x10101010u * (r + 1);
    REG(t, ESP) = 0x7F000;
    CODE(f, 0x60); /* pushad */
    run_ok(t, 1);
    assert_int_equal(REG(t, ESP), 0x7F000 - 32);
    /* EDI at the lowest address ... EAX at the highest; ESP is the original. */
    assert_int_equal(get32(&f->m, 0x7F000 - 4), 0x10101010);  /* EAX */
    assert_int_equal(get32(&f->m, 0x7F000 - 8), 0x20202020);  /* ECX */
    assert_int_equal(get32(&f->m, 0x7F000 - 12), 0x30303030); /* EDX */
    assert_int_equal(get32(&f->m, 0x7F000 - 16), 0x40404040); /* EBX */
    assert_int_equal(get32(&f->m, 0x7F000 - 20), 0x7F000);    /* ESP */
    assert_int_equal(get32(&f->m, 0x7F000 - 24), 0x60606060); /* EBP */
    assert_int_equal(get32(&f->m, 0x7F000 - 28), 0x70707070); /* ESI */
    assert_int_equal(get32(&f->m, 0x7F000 - 32), 0x80808080); /* EDI */

    for (unsigned r = 0; r < REG_COUNT; r++)
        if (r != REG_ESP)
            f->cpu.regs[r] = 0;
    put32(&f->m, 0x7F000 - 20, 0xDEADDEAD); /* the ESP slot is skipped */
    CODE(f, 0x61);                          /* popad */
    run_ok(t, 1);
    assert_int_equal(REG(t, ESP), 0x7F000);
    for (unsigned r = 0; r < REG_COUNT; r++)
        if (r != REG_ESP)
            assert_int_equal(f->cpu.regs[r], 0x10101010u * (r + 1));

    /* 16-bit pusha / popa */
    CODE(f, 0x66, 0x60);
    run_ok(t, 2);
    assert_int_equal(REG(t, ESP), 0x7F000 - 16);
    assert_int_equal(get16(&f->m, 0x7F000 - 2), 0x1010);
    assert_int_equal(get16(&f->m, 0x7F000 - 10), 0xF000); /* SP */
    assert_int_equal(get16(&f->m, 0x7F000 - 16), 0x8080);
    put16(&f->m, 0x7F000 - 2, 0xABCD); /* AX */
    CODE(f, 0x66, 0x61);
    run_ok(t, 2);
    assert_int_equal(REG(t, EAX), 0x1010ABCD);
    assert_int_equal(REG(t, ESP), 0x7F000);
}

/* ---- CALL and RET ---- */

static void test_call_ret(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    CODE(f, 0xE8, 0xFB, 0x0F, 0x00, 0x00); /* call rel32 -> 0x11000 */
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, 0x11000);
    assert_int_equal(REG(t, ESP), STACK0_TOP - 4);
    assert_int_equal(get32(&f->m, STACK0_TOP - 4), CODE_BASE + 5);

    CODE(f, 0xC3); /* ret */
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, CODE_BASE + 5);
    assert_int_equal(REG(t, ESP), STACK0_TOP);

    /* call rel32 backwards, wrapping EIP arithmetic. */
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xE8, 0xFB, 0xFF, 0xFF, 0xFF); /* call $ (rel -5) */
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, CODE_BASE);
    REG(t, ESP) = STACK0_TOP;

    /* call eax */
    REG(t, EAX) = 0x12345;
    CODE(f, 0xFF, 0xD0);
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, 0x12345);
    assert_int_equal(get32(&f->m, STACK0_TOP - 4), CODE_BASE + 2);

    /* call [esp]: the target is read from the old top of stack. */
    f->cpu.eip = CODE_BASE;
    put32(&f->m, STACK0_TOP - 4, 0x23456);
    REG(t, ESP) = STACK0_TOP - 4;
    CODE(f, 0xFF, 0x14, 0x24);
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, 0x23456);
    assert_int_equal(REG(t, ESP), STACK0_TOP - 8);
    assert_int_equal(get32(&f->m, STACK0_TOP - 8), CODE_BASE + 3);

    /* call [mem] */
    f->cpu.eip = CODE_BASE;
    put32(&f->m, DATA_AREA, 0x34567);
    CODE(f, 0xFF, 0x15, 0x00, 0x50, 0x00, 0x00);
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, 0x34567);
    assert_int_equal(get32(&f->m, STACK0_TOP - 12), CODE_BASE + 6);

    /* ret imm16: releases the parameters. */
    f->cpu.eip = CODE_BASE;
    REG(t, ESP) = 0x7F000;
    put32(&f->m, 0x7F000, 0x45678);
    CODE(f, 0xC2, 0x08, 0x00);
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, 0x45678);
    assert_int_equal(REG(t, ESP), 0x7F00C);

    /* rep ret (AMD's branch-predictor idiom) is a plain ret. */
    f->cpu.eip = CODE_BASE;
    REG(t, ESP) = 0x7F000;
    CODE(f, 0xF3, 0xC3);
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, 0x45678);
    assert_int_equal(REG(t, ESP), 0x7F004);

    /* 16-bit operand size: IP pushed/popped as a word, EIP truncated. */
    f->cpu.eip = CODE_BASE;
    REG(t, ESP) = 0x7F000;
    CODE(f, 0x66, 0xE8, 0x30, 0x02); /* call rel16: (0x10004 + 0x230) & 0xFFFF */
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, 0x0234);
    assert_int_equal(REG(t, ESP), 0x7EFFE);
    assert_int_equal(get16(&f->m, 0x7EFFE), 0x0004);
    put16(&f->m, 0x7EFFE, 0x5678);
    CODE(f, 0x66, 0xC3); /* o16 ret */
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, 0x5678);
    assert_int_equal(REG(t, ESP), 0x7F000);
    f->cpu.eip = CODE_BASE;
    REG(t, EAX) = 0xFFFF1234;
    CODE(f, 0x66, 0xFF, 0xD0); /* call ax */
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, 0x1234);
    assert_int_equal(get16(&f->m, 0x7EFFE), 0x0003);
}

static void test_call_ret_limits(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    cache_from_gdt(&f->m, &f->cpu.seg[SEG_CS], SEL_CODE0_SMALL); /* limit 0xFFF */
    f->cpu.eip = 0x800;
    memset(MEM(t) + STACK0_TOP - 16, 0xEE, 16);
    CODE(f, 0xE8, 0xFB, 0x0F, 0x00, 0x00); /* call 0x1800: beyond the limit */
    run_fault(t, VEC_GP, 0);
    assert_int_equal(get32(&f->m, STACK0_TOP - 4), 0xEEEEEEEE); /* nothing pushed */
    CODE(f, 0xE8, 0xF3, 0x07, 0x00, 0x00);                      /* call 0xFF8 */
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, 0xFF8);

    f->cpu.eip = 0x800;
    REG(t, ESP) = 0x7F000;
    put32(&f->m, 0x7F000, 0x1000);
    CODE(f, 0xC3); /* ret to 0x1000: beyond the limit */
    run_fault(t, VEC_GP, 0);
    CODE(f, 0xC2, 0x04, 0x00);
    run_fault(t, VEC_GP, 0);
}

/* ---- ENTER and LEAVE ---- */

static void test_enter_leave(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;
    const uint32_t esp0 = 0x7F000, ebp0 = 0x7F100;

    /* Level 0: push ebp; ebp = esp; esp -= 16. */
    REG(t, ESP) = esp0;
    REG(t, EBP) = ebp0;
    CODE(f, 0xC8, 0x10, 0x00, 0x00);
    run_ok(t, 4);
    assert_int_equal(get32(&f->m, esp0 - 4), ebp0);
    assert_int_equal(REG(t, EBP), esp0 - 4);
    assert_int_equal(REG(t, ESP), esp0 - 4 - 16);
    CODE(f, 0xC9); /* leave */
    run_ok(t, 1);
    assert_int_equal(REG(t, ESP), esp0);
    assert_int_equal(REG(t, EBP), ebp0);

    /* Level 1: push ebp; push FrameTemp. */
    CODE(f, 0xC8, 0x08, 0x00, 0x01);
    run_ok(t, 4);
    assert_int_equal(get32(&f->m, esp0 - 4), ebp0);
    assert_int_equal(get32(&f->m, esp0 - 8), esp0 - 4);
    assert_int_equal(REG(t, EBP), esp0 - 4);
    assert_int_equal(REG(t, ESP), esp0 - 8 - 8);
    CODE(f, 0xC9);
    run_ok(t, 1);
    assert_int_equal(REG(t, ESP), esp0);
    assert_int_equal(REG(t, EBP), ebp0);

    /* Level 3: push ebp; push [ebp-4]; push [ebp-8]; push FrameTemp. */
    put32(&f->m, ebp0 - 4, 0xF1F1F1F1);
    put32(&f->m, ebp0 - 8, 0xF2F2F2F2);
    put32(&f->m, ebp0 - 12, 0xF3F3F3F3);
    CODE(f, 0xC8, 0x20, 0x00, 0x03);
    run_ok(t, 4);
    assert_int_equal(get32(&f->m, esp0 - 4), ebp0);
    assert_int_equal(get32(&f->m, esp0 - 8), 0xF1F1F1F1);
    assert_int_equal(get32(&f->m, esp0 - 12), 0xF2F2F2F2);
    assert_int_equal(get32(&f->m, esp0 - 16), esp0 - 4);
    assert_int_equal(REG(t, EBP), esp0 - 4);
    assert_int_equal(REG(t, ESP), esp0 - 16 - 0x20);
    CODE(f, 0xC9);
    run_ok(t, 1);
    assert_int_equal(REG(t, ESP), esp0);
    assert_int_equal(REG(t, EBP), ebp0);

    /* Level 33 is level 1 (MOD 32); alloc 0. */
    CODE(f, 0xC8, 0x00, 0x00, 0x21);
    run_ok(t, 4);
    assert_int_equal(REG(t, ESP), esp0 - 8);
    assert_int_equal(get32(&f->m, esp0 - 8), esp0 - 4);

    /* 16-bit operand size, level 2: words, BP only. */
    REG(t, ESP) = esp0;
    REG(t, EBP) = 0x0007F100;
    put16(&f->m, 0x7F100 - 2, 0x5151);
    CODE(f, 0x66, 0xC8, 0x04, 0x00, 0x02);
    run_ok(t, 5);
    assert_int_equal(get16(&f->m, esp0 - 2), 0xF100);
    assert_int_equal(get16(&f->m, esp0 - 4), 0x5151);
    assert_int_equal(get16(&f->m, esp0 - 6), (esp0 - 2) & 0xFFFF);
    assert_int_equal(REG(t, EBP), 0x0007EFFE); /* upper half kept */
    assert_int_equal(REG(t, ESP), esp0 - 6 - 4);
    CODE(f, 0x66, 0xC9); /* o16 leave: ESP = EBP, pop BP */
    run_ok(t, 2);
    assert_int_equal(REG(t, ESP), esp0);
    assert_int_equal(REG(t, EBP), 0x0007F100);

    /* #SS(0) when the new ESP (after the allocation) is outside SS, even
     * though the pushes themselves fit. */
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_SS], SEL_DATA0_SMALL);
    REG(t, ESP) = 0x800;
    REG(t, EBP) = 0x900;
    CODE(f, 0xC8, 0x00, 0x10, 0x00); /* enter 0x1000, 0 */
    run_fault(t, VEC_SS, 0);
    CODE(f, 0xC8, 0x00, 0x01, 0x01); /* enter 0x100, 1 */
    run_ok(t, 4);
    assert_int_equal(REG(t, ESP), 0x800 - 8 - 0x100);
    vcpu_load_flat_segment(&f->cpu, SEG_SS, SEL_DATA0, false);
    REG(t, ESP) = esp0;

    /* The frame-pointer read at level > 1 can fault: nothing changes. */
    f->m.fault_page_enabled = true;
    f->m.fault_page = 0x5000;
    REG(t, EBP) = 0x5008;
    CODE(f, 0xC8, 0x00, 0x00, 0x02);
    run_fault(t, VEC_PF, 0);
}

/* ---- 16-bit stack segment (B = 0) ---- */

static void test_stack16(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;
    struct segment_cache *ss = &f->cpu.seg[SEG_SS];

    ss->base = 0x20000;
    ss->limit = 0xFFFF;
    ss->attr &= ~SEG_ATTR_DB;
    REG(t, ESP) = 0xABCD0008;
    REG(t, EAX) = 0x01020304;
    CODE(f, 0x50);
    run_ok(t, 1);
    assert_int_equal(REG(t, ESP), 0xABCD0004);
    assert_int_equal(get32(&f->m, 0x20004), 0x01020304);
    CODE(f, 0xE8, 0x00, 0x00, 0x00, 0x00); /* call next */
    run_ok(t, 5);
    assert_int_equal(REG(t, ESP), 0xABCD0000);
    CODE(f, 0xC2, 0x04, 0x00); /* ret 4: SP = 0 + 4 + 4 */
    run_ok(t, 0);
    assert_int_equal(f->cpu.eip, CODE_BASE + 6);
    assert_int_equal(REG(t, ESP), 0xABCD0008);
    /* leave uses BP, not EBP. */
    REG(t, EBP) = 0x77770004;
    CODE(f, 0xC9);
    run_ok(t, 1);
    assert_int_equal(REG(t, ESP), 0xABCD0008);
    assert_int_equal(REG(t, EBP), 0x01020304);
}

/* ---- what is not ours ---- */

static void test_not_implicit(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;
    struct vcpu_state before;

    CODE(f, 0x8B, 0x03); /* mov eax, [ebx]: one explicit operand */
    before = f->cpu;
    assert_int_equal(run(t), EMUL_UNSUPPORTED);
    assert_non_null(strstr(f->why, "implicit"));
    assert_memory_equal(&before, &f->cpu, sizeof(before));
    CODE(f, 0xCB); /* far ret */
    assert_int_equal(run(t), EMUL_UNSUPPORTED);
    CODE(f, 0x6C); /* insb: port I/O is emul_execute()'s */
    assert_int_equal(run(t), EMUL_UNSUPPORTED);

    /* Undecodable: #UD as from emul_execute(). */
    CODE(f, 0xF0, 0xA4); /* lock movsb */
    run_fault(t, VEC_UD, 0);

    /* Real mode is not modelled. */
    f->cpu.cr0 &= ~CR0_PE;
    CODE(f, 0xA4);
    assert_int_equal(run(t), EMUL_UNSUPPORTED);
}

static void test_commit_details(void **state)
{
    struct tmachine *t = *state;
    struct fixture *f = &t->f;

    /* RF and the interrupt shadow end with the instruction. */
    f->cpu.eflags |= EFLAGS_RF;
    f->cpu.interrupt_shadow = EMUL_SHADOW_STI;
    CODE(f, 0x50);
    run_ok(t, 1);
    assert_false(f->cpu.eflags & EFLAGS_RF);
    assert_int_equal(f->cpu.interrupt_shadow, 0);

    /* pop ss sets the MOV-SS shadow. */
    put32(&f->m, REG(t, ESP), SEL_DATA0);
    CODE(f, 0x17);
    run_ok(t, 1);
    assert_int_equal(f->cpu.interrupt_shadow, EMUL_SHADOW_MOV_SS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_movs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rep_movs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rep_ecx_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stos, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cmps_scas_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repe_cmpsb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repne_scasb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_address_size_16, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrap_32, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rep_movsd_fault_midway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_string_segment_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rep_bulk_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_rep, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xlat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pop_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_pop_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_pop_sreg_pushf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pushad_popad, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_ret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_ret_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enter_leave, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stack16, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_implicit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_details, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
