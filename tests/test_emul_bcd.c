/*
 * tests/test_emul_bcd.c — DAA, DAS, AAA, AAS, AAM, AAD, SALC (emul/bcd.c)
 * and BOUND, PUSHA/POPA (emul/legacy32.c).
 *
 * The expected values were worked out by hand from the SDM vol. 2
 * pseudocode of each instruction, not produced by the implementation; the
 * comment on each row shows the working.
 */
#include "test_emul_env.h"

static int setup(void **state)
{
    struct fixture *f = malloc(sizeof(*f));

    fixture_init(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    free(*state);
    return 0;
}

enum { F_CF = 1, F_AF = 2, F_ZF = 4, F_SF = 8, F_PF = 16 };

struct bcd_case {
    uint8_t opcode[2];
    unsigned len;
    uint16_t ax_in;
    unsigned flags_in; /* F_CF, F_AF */
    uint16_t ax_out;
    unsigned flags_out; /* F_CF, F_AF, and for DAA/DAS/AAM/AAD also F_ZF, F_SF, F_PF */
};

static const struct bcd_case cases[] = {
    /* DAA (27) */
    /* 79: low 9 <= 9, AF=0: no +6; 79 <= 99, CF=0: no +60. PF: 0111 1001 odd. */
    {{0x27}, 1, 0x0079, 0, 0x0079, 0},
    /* BE: low E > 9: +6 = C4, AF; BE > 99: +60 = 24, CF. PF: 0010 0100 even. */
    {{0x27}, 1, 0x00BE, 0, 0x0024, F_CF | F_AF | F_PF},
    /* 00 with CF, AF: +6 = 06, AF; CF: +60 = 66, CF. PF: 0110 0110 even. */
    {{0x27}, 1, 0x0000, F_CF | F_AF, 0x0066, F_CF | F_AF | F_PF},
    /* 9A: +6 = A0, AF; 9A > 99: +60 = 00, CF. ZF, PF. */
    {{0x27}, 1, 0x009A, 0, 0x0000, F_CF | F_AF | F_ZF | F_PF},
    /* 0F: +6 = 15, AF; no CF. PF: 0001 0101 odd. AH untouched. */
    {{0x27}, 1, 0x120F, 0, 0x1215, F_AF},
    /* 90 with AF: +6 = 96, AF; 90 <= 99, CF=0: CF=0. SF; PF: 1001 0110 even. */
    {{0x27}, 1, 0x0090, F_AF, 0x0096, F_AF | F_SF | F_PF},

    /* DAS (2F) */
    /* 2F: low F > 9: CF = 0 or borrow(2F-6)=0, -6 = 29, AF. PF: 0010 1001 odd. */
    {{0x2F}, 1, 0x002F, 0, 0x0029, F_AF},
    /* FF: -6 = F9, AF; FF > 99: -60 = 99, CF. SF; PF: 1001 1001 even. */
    {{0x2F}, 1, 0x00FF, 0, 0x0099, F_CF | F_AF | F_SF | F_PF},
    /* 03 with AF: borrow(03-6) = 1: CF; = FD, AF; 03 <= 99, old CF 0: stop. SF; PF: 7 ones. */
    {{0x2F}, 1, 0x0003, F_AF, 0x00FD, F_CF | F_AF | F_SF},
    /* 66 with CF, AF: -6 = 60, AF, CF; old CF: -60 = 00, CF. ZF, PF. */
    {{0x2F}, 1, 0x0066, F_CF | F_AF, 0x0000, F_CF | F_AF | F_ZF | F_PF},
    /* 45: nothing. PF: 0100 0101 odd. */
    {{0x2F}, 1, 0x0045, 0, 0x0045, 0},

    /* AAA (37): AX + 106h when adjusting, then AL &= 0F. */
    {{0x37}, 1, 0x0009, 0, 0x0009, 0},
    {{0x37}, 1, 0x000F, 0, 0x0105, F_CF | F_AF},    /* 000F + 106 = 0115 */
    {{0x37}, 1, 0x00FA, 0, 0x0200, F_CF | F_AF},    /* 00FA + 106 = 0200: carry to AH */
    {{0x37}, 1, 0x0102, F_AF, 0x0208, F_CF | F_AF}, /* 0102 + 106 = 0208 */
    {{0x37}, 1, 0x0035, F_CF, 0x0005, 0},           /* CF alone does not adjust */

    /* AAS (3F): AX - 6, AH - 1 when adjusting, then AL &= 0F. */
    {{0x3F}, 1, 0x0205, 0, 0x0205, 0},
    {{0x3F}, 1, 0x020F, 0, 0x0109, F_CF | F_AF},    /* 020F-6 = 0209, AH-1: 0109 */
    {{0x3F}, 1, 0x0203, F_AF, 0x000D, F_CF | F_AF}, /* 0203-6 = 01FD, AH-1: 00FD, AL&F */
    {{0x3F}, 1, 0x0000, F_AF, 0xFE0A, F_CF | F_AF}, /* 0000-6 = FFFA, AH-1: FEFA */

    /* AAM ib (D4): AH = AL / ib, AL = AL mod ib. */
    {{0xD4, 10}, 2, 0x003F, 0, 0x0603, F_PF}, /* 63 = 6*10 + 3; 03: two ones */
    {{0xD4, 10}, 2, 0xFF00, 0, 0x0000, F_ZF | F_PF},
    {{0xD4, 16}, 2, 0x00FF, 0, 0x0F0F, F_PF},   /* 255 = 15*16 + 15 */
    {{0xD4, 0xFF}, 2, 0x0080, 0, 0x0080, F_SF}, /* 128 < 255; 80: one 1 */

    /* AAD ib (D5): AL = AL + AH * ib, AH = 0. */
    {{0xD5, 10}, 2, 0x0603, 0, 0x003F, F_PF},        /* 3 + 60 = 63 = 3F: six ones */
    {{0xD5, 10}, 2, 0x0909, 0, 0x0063, F_PF},        /* 9 + 90 = 99 = 63: 0110 0011 */
    {{0xD5, 10}, 2, 0xFFFF, 0, 0x00F5, F_SF | F_PF}, /* 255 + 2550 = 2805 = AF5 -> F5 */
    {{0xD5, 0}, 2, 0x0100, 0, 0x0000, F_ZF | F_PF},
    {{0xD5, 16}, 2, 0x1000, 0, 0x0000, F_ZF | F_PF}, /* 16*16 = 256 -> 00 */
};

static uint32_t to_eflags(unsigned flags)
{
    return ((flags & F_CF) ? EFLAGS_CF : 0) | ((flags & F_AF) ? EFLAGS_AF : 0) |
           ((flags & F_ZF) ? EFLAGS_ZF : 0) | ((flags & F_SF) ? EFLAGS_SF : 0) |
           ((flags & F_PF) ? EFLAGS_PF : 0);
}

static void test_bcd_table(void **state)
{
    struct fixture *f = *state;

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct bcd_case *c = &cases[i];
        bool aaa_aas = c->opcode[0] == 0x37 || c->opcode[0] == 0x3F;
        uint32_t checked = aaa_aas ? (EFLAGS_CF | EFLAGS_AF)
                                   : (EFLAGS_CF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_PF);

        f->cpu.eip = CODE_BASE;
        f->cpu.regs[REG_EAX] = 0xABCD0000u | c->ax_in;
        f->cpu.eflags = EFLAGS_FIXED1 | to_eflags(c->flags_in);
        put_code(f, c->opcode, c->len);
        expect_ok(f, c->len);
        if (f->cpu.regs[REG_EAX] != (0xABCD0000u | c->ax_out) ||
            (f->cpu.eflags & checked) != (to_eflags(c->flags_out) & checked))
            fail_msg("case %zu (%02x, ax %04x): ax %04x flags %#x, expected ax %04x flags %#x", i,
                     c->opcode[0], c->ax_in, f->cpu.regs[REG_EAX] & 0xFFFF, f->cpu.eflags & checked,
                     c->ax_out, to_eflags(c->flags_out) & checked);
    }
}

/* The flags the SDM leaves undefined, as documented in emul/bcd.c. */
static void test_bcd_undefined_flags(void **state)
{
    struct fixture *f = *state;
    const uint32_t szpo = EFLAGS_SF | EFLAGS_ZF | EFLAGS_PF | EFLAGS_OF;

    /* DAA/DAS: OF = 0. */
    f->cpu.regs[REG_EAX] = 0x79;
    f->cpu.eflags = EFLAGS_FIXED1 | EFLAGS_OF;
    CODE(f, 0x27);
    expect_ok(f, 1);
    assert_false(f->cpu.eflags & EFLAGS_OF);

    /* AAA/AAS: SF, ZF, PF, OF kept. */
    f->cpu.regs[REG_EAX] = 0x0F;
    f->cpu.eflags = EFLAGS_FIXED1 | szpo;
    CODE(f, 0x37);
    expect_ok(f, 1);
    assert_int_equal(f->cpu.eflags & szpo, szpo);
    f->cpu.eflags = EFLAGS_FIXED1;
    CODE(f, 0x3F);
    expect_ok(f, 1);
    assert_int_equal(f->cpu.eflags & szpo, 0);

    /* AAM/AAD: OF = AF = CF = 0. */
    f->cpu.regs[REG_EAX] = 0x3F;
    f->cpu.eflags = EFLAGS_FIXED1 | EFLAGS_OF | EFLAGS_AF | EFLAGS_CF;
    CODE(f, 0xD4, 0x0A);
    expect_ok(f, 2);
    assert_false(f->cpu.eflags & (EFLAGS_OF | EFLAGS_AF | EFLAGS_CF));
    f->cpu.eflags = EFLAGS_FIXED1 | EFLAGS_OF | EFLAGS_AF | EFLAGS_CF;
    CODE(f, 0xD5, 0x0A);
    expect_ok(f, 2);
    assert_false(f->cpu.eflags & (EFLAGS_OF | EFLAGS_AF | EFLAGS_CF));
}

static void test_aam_divide_error(void **state)
{
    struct fixture *f = *state;

    f->cpu.regs[REG_EAX] = 0x3F;
    CODE(f, 0xD4, 0x00);
    expect_fault(f, VEC_DE, 0);
}

static void test_salc(void **state)
{
    struct fixture *f = *state;

    f->cpu.regs[REG_EAX] = 0x12345600;
    f->cpu.eflags = EFLAGS_FIXED1 | EFLAGS_CF | EFLAGS_ZF;
    CODE(f, 0xD6);
    expect_ok(f, 1);
    assert_int_equal(f->cpu.regs[REG_EAX], 0x123456FF);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | EFLAGS_CF | EFLAGS_ZF);
    f->cpu.eflags = EFLAGS_FIXED1;
    CODE(f, 0xD6);
    expect_ok(f, 1);
    assert_int_equal(f->cpu.regs[REG_EAX], 0x12345600);
}

/* ---- BOUND, PUSHA, POPA ---- */

static void test_bound(void **state)
{
    struct fixture *f = *state;

    put32(&f->m, DATA_AREA, 10);
    put32(&f->m, DATA_AREA + 4, 20);
    f->cpu.regs[REG_EAX] = DATA_AREA;
    CODE(f, 0x62, 0x08); /* bound ecx, [eax] */
    f->cpu.regs[REG_ECX] = 15;
    expect_ok(f, 2);
    CODE(f, 0x62, 0x08);
    f->cpu.regs[REG_ECX] = 20;
    expect_ok(f, 2);
    CODE(f, 0x62, 0x08);
    f->cpu.regs[REG_ECX] = 21;
    expect_fault(f, VEC_BR, 0);
    f->cpu.regs[REG_ECX] = 9;
    expect_fault(f, VEC_BR, 0);

    /* Signed comparison. */
    put32(&f->m, DATA_AREA, (uint32_t)-5);
    put32(&f->m, DATA_AREA + 4, 5);
    f->cpu.regs[REG_ECX] = (uint32_t)-1;
    expect_ok(f, 2);

    /* 16-bit: bounds are words. */
    put16(&f->m, DATA_AREA, 0xFFF0); /* -16 */
    put16(&f->m, DATA_AREA + 2, 0x0010);
    f->cpu.regs[REG_ECX] = 0x1234FFF8; /* cx = -8 */
    CODE(f, 0x66, 0x62, 0x08);
    expect_ok(f, 3);
    CODE(f, 0x66, 0x62, 0x08);
    f->cpu.regs[REG_ECX] = 0x00000011;
    expect_fault(f, VEC_BR, 0);
}

static void test_pusha_popa(void **state)
{
    struct fixture *f = *state;

    for (unsigned r = 0; r < REG_COUNT; r++)
        if (r != REG_ESP)
            f->cpu.regs[r] = 0x11111111u * (r + 1);
    CODE(f, 0x60); /* pushad */
    expect_ok(f, 1);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 32);
    assert_int_equal(stack_dword(f, 7), 0x11111111); /* EAX first */
    assert_int_equal(stack_dword(f, 3), STACK0_TOP); /* the original ESP */
    assert_int_equal(stack_dword(f, 0), 0x88888888); /* EDI last */

    put32(&f->m, STACK0_TOP - 32 + 12, 0xDEAD); /* the ESP slot is skipped */
    for (unsigned r = 0; r < REG_COUNT; r++)
        if (r != REG_ESP)
            f->cpu.regs[r] = 0;
    CODE(f, 0x61); /* popad */
    expect_ok(f, 1);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP);
    assert_int_equal(f->cpu.regs[REG_EAX], 0x11111111);
    assert_int_equal(f->cpu.regs[REG_EBX], 0x44444444);
    assert_int_equal(f->cpu.regs[REG_EDI], 0x88888888);

    /* 16-bit forms move words and keep the upper halves. */
    CODE(f, 0x66, 0x60);
    expect_ok(f, 2);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 16);
    assert_int_equal(get16(&f->m, STACK0_TOP - 2), 0x1111);
    put16(&f->m, STACK0_TOP - 2, 0xAAAA); /* AX slot */
    CODE(f, 0x66, 0x61);
    expect_ok(f, 2);
    assert_int_equal(f->cpu.regs[REG_EAX], 0x1111AAAA);

    /* Not enough stack: #SS(0) before anything is written. */
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_SS], SEL_DATA0_SMALL);
    f->cpu.regs[REG_ESP] = 28;
    CODE(f, 0x60);
    expect_fault(f, VEC_SS, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bcd_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bcd_undefined_flags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aam_divide_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_salc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pusha_popa, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
