/*
 * tests/test_emul_segments.c — the second group of emul/ instructions:
 * LDS/LES/LFS/LGS/LSS, LLDT/SLDT, LTR/STR, LAR/LSL/VERR/VERW/ARPL
 * (emul/seginsn.c, emul/tables.c), far CALL/RET and call gates
 * (emul/farbranch.c), SYSENTER/SYSEXIT (emul/sysenter.c).
 */
#include "test_emul_env.h"

static int setup(void **state)
{
    struct fixture *f = malloc(sizeof(*f));

    fixture_init(f);
    /* LDT: entry 0 flat data DPL 3 (not accessed), entry 1 flat code DPL 0. */
    put_seg(&f->m, LDT_BASE, 0, 0xFFFFF, 0x2, true, 3, true, true, true);
    put_seg(&f->m, LDT_BASE + 8, 0, 0xFFFFF, 0xA, true, 0, true, true, true);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    free(*state);
    return 0;
}

static void set_zf(struct fixture *f, bool zf)
{
    if (zf)
        f->cpu.eflags |= EFLAGS_ZF;
    else
        f->cpu.eflags &= ~EFLAGS_ZF;
}

static bool zf(const struct fixture *f)
{
    return f->cpu.eflags & EFLAGS_ZF;
}

/* ---- the access description the monitor emulates faulting accesses by ---- */

static void test_describe_access_segment(void **state)
{
    struct fixture *f = *state;
    struct emul_access_desc d;
    static const uint8_t fs_load[] = {0x64, 0x8B, 0x43, 0x08}; /* mov eax, fs:[ebx+8] */
    static const uint8_t ss_load[] = {0x8B, 0x45, 0xFC};       /* mov eax, [ebp-4] */
    static const uint8_t ds_store[] = {0x89, 0x11};            /* mov [ecx], edx */

    f->cpu.seg[SEG_FS].base = 0x80000000u;
    f->cpu.regs[REG_EBX] = 0x80001000u; /* wraps past 4 GiB with the base */
    f->cpu.regs[REG_EBP] = 0x2000;
    f->cpu.regs[REG_ECX] = 0x3000;
    assert_true(emul_describe_access(&f->cpu, fs_load, sizeof(fs_load), &d));
    assert_int_equal(d.segment, SEG_FS);
    assert_int_equal(d.address, 0x1008);
    assert_true(d.reads && !d.writes);
    assert_int_equal(d.size, 4);
    assert_true(emul_describe_access(&f->cpu, ss_load, sizeof(ss_load), &d));
    assert_int_equal(d.segment, SEG_SS);
    assert_int_equal(d.address, f->cpu.seg[SEG_SS].base + 0x1FFC);
    assert_true(emul_describe_access(&f->cpu, ds_store, sizeof(ds_store), &d));
    assert_int_equal(d.segment, SEG_DS);
    assert_true(d.writes && !d.reads);
}

/* ---- LDS, LES, LFS, LGS, LSS ---- */

static void test_load_far_pointer(void **state)
{
    struct fixture *f = *state;

    put32(&f->m, DATA_AREA, 0x11223344);
    put16(&f->m, DATA_AREA + 4, SEL_DATA3);
    CODE(f, 0xC5, 0x05, 0x00, 0x50, 0x00, 0x00); /* lds eax, [0x5000] */
    expect_ok(f, 6);
    assert_int_equal(f->cpu.regs[REG_EAX], 0x11223344);
    assert_int_equal(f->cpu.seg[SEG_DS].selector, SEL_DATA3);

    put16(&f->m, DATA_AREA + 4, SEL_DATA0);
    CODE(f, 0x0F, 0xB2, 0x1D, 0x00, 0x50, 0x00, 0x00); /* lss ebx, [0x5000] */
    expect_ok(f, 7);
    assert_int_equal(f->cpu.regs[REG_EBX], 0x11223344);
    assert_int_equal(f->cpu.seg[SEG_SS].selector, SEL_DATA0);
    assert_int_equal(f->cpu.interrupt_shadow, 0); /* LSS opens no shadow */

    /* m16:16 with a 16-bit operand size. */
    put16(&f->m, DATA_AREA + 2, SEL_DATA3);
    f->cpu.regs[REG_ECX] = 0xFFFFFFFF;
    CODE(f, 0x66, 0x0F, 0xB4, 0x0D, 0x00, 0x50, 0x00, 0x00); /* lfs cx, [0x5000] */
    expect_ok(f, 8);
    assert_int_equal(f->cpu.regs[REG_ECX], 0xFFFF3344);
    assert_int_equal(f->cpu.seg[SEG_FS].selector, SEL_DATA3);

    /* A null selector is fine for GS, not for SS. */
    put16(&f->m, DATA_AREA + 4, 0);
    CODE(f, 0x0F, 0xB5, 0x15, 0x00, 0x50, 0x00, 0x00); /* lgs edx, [0x5000] */
    expect_ok(f, 7);
    assert_false(f->cpu.seg[SEG_GS].attr & SEG_ATTR_P);
    CODE(f, 0x0F, 0xB2, 0x1D, 0x00, 0x50, 0x00, 0x00);
    expect_fault(f, VEC_GP, 0);

    /* A bad selector leaves the register alone. */
    put16(&f->m, DATA_AREA + 4, 0x400);
    f->cpu.regs[REG_EAX] = 0;
    CODE(f, 0xC4, 0x05, 0x00, 0x50, 0x00, 0x00); /* les eax, [0x5000] */
    expect_fault(f, VEC_GP, 0x400);
}

/* ---- LLDT, SLDT ---- */

static void test_lldt_sldt(void **state)
{
    struct fixture *f = *state;

    f->cpu.regs[REG_EAX] = SEL_LDT;
    CODE(f, 0x0F, 0x00, 0xD0); /* lldt ax */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.ldtr.selector, SEL_LDT);
    assert_int_equal(f->cpu.ldtr.base, LDT_BASE);
    assert_int_equal(f->cpu.ldtr.limit, 0x1F);

    /* LDT selectors now work, and set the accessed bit in the LDT. */
    f->cpu.regs[REG_EAX] = 0x07; /* index 0, TI, RPL 3 */
    CODE(f, 0x8E, 0xD8);
    expect_ok(f, 2);
    assert_int_equal(f->cpu.seg[SEG_DS].selector, 0x07);
    assert_true(get32(&f->m, LDT_BASE + 4) & (1u << 8));
    f->cpu.regs[REG_EAX] = 0x27; /* index 4: beyond the LDT limit */
    CODE(f, 0x8E, 0xD8);
    expect_fault(f, VEC_GP, 0x24);

    f->cpu.regs[REG_EAX] = 0xFFFFFFFF;
    CODE(f, 0x0F, 0x00, 0xC0); /* sldt eax */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_EAX], SEL_LDT);
    memset(f->m.mem + 0x6000, 0xEE, 4);
    CODE(f, 0x0F, 0x00, 0x05, 0x00, 0x60, 0x00, 0x00); /* sldt [0x6000] */
    expect_ok(f, 7);
    assert_int_equal(get32(&f->m, 0x6000), 0xEEEE0000u | SEL_LDT);

    /* Null: LDT references fail again. */
    f->cpu.regs[REG_EAX] = 0;
    CODE(f, 0x0F, 0x00, 0xD0);
    expect_ok(f, 3);
    f->cpu.regs[REG_EAX] = 0x07;
    CODE(f, 0x8E, 0xD8);
    expect_fault(f, VEC_GP, 0x04);

    CODE(f, 0x0F, 0x00, 0xD0);
    f->cpu.regs[REG_EAX] = SEL_LDT | 4; /* TI set */
    expect_fault(f, VEC_GP, SEL_LDT | 4);
    f->cpu.regs[REG_EAX] = SEL_DATA0; /* not an LDT */
    expect_fault(f, VEC_GP, SEL_DATA0);
    f->cpu.regs[REG_EAX] = 0x400;
    expect_fault(f, VEC_GP, 0x400);
    put_seg(&f->m, GDT_BASE + SEL_DATA_NP, LDT_BASE, 0x1F, 0x2, false, 0, false, false, false);
    f->cpu.regs[REG_EAX] = SEL_DATA_NP;
    expect_fault(f, VEC_NP, SEL_DATA_NP);

    enter_ring3(f);
    f->cpu.regs[REG_EAX] = SEL_LDT;
    expect_fault(f, VEC_GP, 0);
}

/* ---- LTR, STR ---- */

static void test_ltr_str(void **state)
{
    struct fixture *f = *state;

    memset(&f->cpu.tr, 0, sizeof(f->cpu.tr));
    f->cpu.regs[REG_EAX] = SEL_TSS;
    CODE(f, 0x0F, 0x00, 0xD8); /* ltr ax */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.tr.selector, SEL_TSS);
    assert_int_equal(f->cpu.tr.base, TSS_BASE);
    assert_int_equal(f->cpu.tr.limit, 0x67);
    assert_int_equal(SEG_ATTR_TYPE(f->cpu.tr.attr), 0xB);
    assert_int_equal((gdt_hi(&f->m, SEL_TSS) >> 8) & 0xF, 0xB); /* busy in the GDT */

    CODE(f, 0x0F, 0x00, 0xD8);
    expect_fault(f, VEC_GP, SEL_TSS); /* now busy */
    f->cpu.regs[REG_EAX] = SEL_TSS_BUSY;
    expect_fault(f, VEC_GP, SEL_TSS_BUSY);
    f->cpu.regs[REG_EAX] = 0;
    expect_fault(f, VEC_GP, 0);
    f->cpu.regs[REG_EAX] = SEL_DATA0;
    expect_fault(f, VEC_GP, SEL_DATA0);
    f->cpu.regs[REG_EAX] = SEL_TSS | 4;
    expect_fault(f, VEC_GP, SEL_TSS | 4);

    f->cpu.regs[REG_EBX] = 0xFFFFFFFF;
    CODE(f, 0x0F, 0x00, 0xCB); /* str ebx */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_EBX], SEL_TSS);
    f->cpu.regs[REG_EAX] = 0x6000;
    memset(f->m.mem + 0x6000, 0xEE, 4);
    CODE(f, 0x0F, 0x00, 0x08); /* str [eax] */
    expect_ok(f, 3);
    assert_int_equal(get32(&f->m, 0x6000), 0xEEEE0000u | SEL_TSS);

    enter_ring3(f);
    f->cpu.regs[REG_EAX] = SEL_TSS;
    CODE(f, 0x0F, 0x00, 0xD8);
    expect_fault(f, VEC_GP, 0);
}

/* ---- LAR, LSL, VERR, VERW, ARPL ---- */

static void lar(struct fixture *f, uint16_t sel, bool o16)
{
    f->cpu.regs[REG_EBX] = sel;
    if (o16)
        CODE(f, 0x66, 0x0F, 0x02, 0xC3); /* lar ax, bx */
    else
        CODE(f, 0x0F, 0x02, 0xC3); /* lar eax, ebx */
    expect_ok(f, o16 ? 4 : 3);
}

static void lsl(struct fixture *f, uint16_t sel)
{
    f->cpu.regs[REG_EBX] = sel;
    CODE(f, 0x0F, 0x03, 0xC3); /* lsl eax, ebx */
    expect_ok(f, 3);
}

static void test_lar(void **state)
{
    struct fixture *f = *state;

    lar(f, SEL_CODE0, false);
    assert_true(zf(f));
    assert_int_equal(f->cpu.regs[REG_EAX], 0x00C09A00);
    lar(f, SEL_CALLGATE3, false);
    assert_true(zf(f));
    assert_int_equal(f->cpu.regs[REG_EAX], 0x0000EC00);
    lar(f, SEL_TSS, false);
    assert_true(zf(f));
    assert_int_equal(f->cpu.regs[REG_EAX], 0x00008900);

    f->cpu.regs[REG_EAX] = 0x12345678;
    lar(f, SEL_CODE0, true);
    assert_int_equal(f->cpu.regs[REG_EAX], 0x12349A00);

    /* Invalid: ZF = 0, destination unchanged. */
    f->cpu.regs[REG_EAX] = 0xCAFE;
    lar(f, 0x400, false);
    assert_false(zf(f));
    assert_int_equal(f->cpu.regs[REG_EAX], 0xCAFE);
    set_zf(f, true);
    lar(f, 0, false);
    assert_false(zf(f));
    set_zf(f, true);
    lar(f, SEL_DATA0 | 3, false); /* DPL 0 < RPL 3 */
    assert_false(zf(f));

    enter_ring3(f);
    set_zf(f, true);
    lar(f, SEL_DATA0, false); /* DPL 0 < CPL 3 */
    assert_false(zf(f));
    lar(f, SEL_CODE_CONF, false); /* conforming: visible */
    assert_true(zf(f));
    set_zf(f, true);
    lar(f, SEL_TSS, false);
    assert_false(zf(f));
    lar(f, SEL_DATA3, false);
    assert_true(zf(f));
}

static void test_lsl(void **state)
{
    struct fixture *f = *state;

    lsl(f, SEL_DATA3_SMALL);
    assert_true(zf(f));
    assert_int_equal(f->cpu.regs[REG_EAX], 0xFFF);
    lsl(f, SEL_CODE0);
    assert_int_equal(f->cpu.regs[REG_EAX], 0xFFFFFFFF);
    lsl(f, SEL_TSS);
    assert_int_equal(f->cpu.regs[REG_EAX], 0x67);
    lsl(f, SEL_LDT);
    assert_int_equal(f->cpu.regs[REG_EAX], 0x1F);
    lsl(f, SEL_CALLGATE3); /* gates have no limit */
    assert_false(zf(f));
    assert_int_equal(f->cpu.regs[REG_EAX], 0x1F);

    f->cpu.regs[REG_EAX] = 0xABCD0000;
    f->cpu.regs[REG_EBX] = SEL_CODE0;
    CODE(f, 0x66, 0x0F, 0x03, 0xC3); /* lsl ax, bx */
    expect_ok(f, 4);
    assert_int_equal(f->cpu.regs[REG_EAX], 0xABCDFFFF);
}

/* VERR and VERW on `sel`, each starting from the opposite ZF. Every VERW,
 * whatever its selector, and no VERR, asks the host to clear the CPU's
 * buffers (the guest's MDS mitigation). */
static void check_verify(struct fixture *f, uint16_t sel, bool readable, bool writable)
{
    unsigned clears = f->m.buffer_clears;

    f->cpu.regs[REG_EBX] = sel;
    set_zf(f, !readable);
    CODE(f, 0x0F, 0x00, 0xE3); /* verr bx */
    expect_ok(f, 3);
    assert_int_equal(zf(f), readable);
    assert_int_equal(f->m.buffer_clears, clears);
    set_zf(f, !writable);
    CODE(f, 0x0F, 0x00, 0xEB); /* verw bx */
    expect_ok(f, 3);
    assert_int_equal(zf(f), writable);
    assert_int_equal(f->m.buffer_clears, clears + 1);
}

static void test_verr_verw(void **state)
{
    struct fixture *f = *state;

    check_verify(f, SEL_DATA0, true, true);
    check_verify(f, SEL_DATA_RO, true, false);
    check_verify(f, SEL_CODE_XO, false, false);
    check_verify(f, SEL_CODE0, true, false);
    check_verify(f, SEL_DATA_NP, true, true); /* presence is not checked */
    check_verify(f, 0, false, false);
    check_verify(f, SEL_TSS, false, false);
    check_verify(f, 0x400, false, false);
    check_verify(f, SEL_DATA0 | 3, false, false); /* RPL 3 > DPL 0 */

    enter_ring3(f);
    check_verify(f, SEL_DATA0, false, false);
    check_verify(f, SEL_CODE_CONF, true, false);
    check_verify(f, SEL_DATA3, true, true);
}

static void test_arpl(void **state)
{
    struct fixture *f = *state;

    f->cpu.regs[REG_EAX] = 0xAAAA0010;
    f->cpu.regs[REG_EBX] = 0x3;
    CODE(f, 0x63, 0xD8); /* arpl ax, bx */
    expect_ok(f, 2);
    assert_int_equal(f->cpu.regs[REG_EAX], 0xAAAA0013);
    assert_true(zf(f));
    f->cpu.regs[REG_EBX] = 0x1;
    CODE(f, 0x63, 0xD8);
    expect_ok(f, 2);
    assert_int_equal(f->cpu.regs[REG_EAX], 0xAAAA0013);
    assert_false(zf(f));

    put16(&f->m, DATA_AREA, 0x0021);
    f->cpu.regs[REG_EBX] = 0x2;
    CODE(f, 0x63, 0x1D, 0x00, 0x50, 0x00, 0x00); /* arpl [0x5000], bx */
    expect_ok(f, 6);
    assert_int_equal(get16(&f->m, DATA_AREA), 0x0022);
    assert_true(zf(f));
}

/* ---- far CALL, far RET ---- */

static void test_far_call_ret_same_level(void **state)
{
    struct fixture *f = *state;

    f->cpu.regs[REG_ESP] = STACK0_TOP - 4;                  /* one parameter pushed */
    CODE(f, 0x9A, 0x00, 0x00, 0x03, 0x00, SEL_CODE0, 0x00); /* call 0x08:0x30000 */
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, 0x30000);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 12);
    assert_int_equal(stack_dword(f, 0), CODE_BASE + 7);
    assert_int_equal(stack_dword(f, 1), SEL_CODE0);

    CODE(f, 0xCA, 0x04, 0x00); /* retf 4 */
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, CODE_BASE + 7);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE0);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP);

    /* Through m16:32, to a conforming segment. */
    put32(&f->m, DATA_AREA, 0x31000);
    put16(&f->m, DATA_AREA + 4, SEL_CODE_CONF);
    CODE(f, 0xFF, 0x1D, 0x00, 0x50, 0x00, 0x00); /* call far [0x5000] */
    expect_ok(f, 0);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE_CONF);
    CODE(f, 0xCB); /* retf */
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, CODE_BASE + 13);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP);
}

static void test_far_call_faults(void **state)
{
    struct fixture *f = *state;

    CODE(f, 0x9A, 0x00, 0x00, 0x03, 0x00, SEL_CODE_NP, 0x00);
    expect_fault(f, VEC_NP, SEL_CODE_NP);
    CODE(f, 0x9A, 0x00, 0x00, 0x03, 0x00, SEL_DATA0, 0x00);
    expect_fault(f, VEC_GP, SEL_DATA0);
    CODE(f, 0x9A, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00);
    expect_fault(f, VEC_GP, 0);
    /* No room for CS:EIP on the stack. */
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_SS], SEL_DATA0_SMALL);
    f->cpu.regs[REG_ESP] = 4;
    CODE(f, 0x9A, 0x00, 0x00, 0x03, 0x00, SEL_CODE0, 0x00);
    expect_fault(f, VEC_SS, 0);
}

static void test_far_ret_outer(void **state)
{
    struct fixture *f = *state;
    uint32_t frame[6] = {0x12345, SEL_CODE3, 0xAAAA, 0xBBBB, STACK3_TOP - 8, SEL_DATA3};

    f->cpu.regs[REG_ESP] = STACK0_TOP - sizeof(frame);
    memcpy(f->m.mem + f->cpu.regs[REG_ESP], frame, sizeof(frame));
    CODE(f, 0xCA, 0x08, 0x00); /* retf 8 */
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, 0x12345);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE3);
    assert_int_equal(f->cpu.seg[SEG_SS].selector, SEL_DATA3);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK3_TOP);
    /* DS held a DPL-0 segment: nulled. */
    assert_int_equal(f->cpu.seg[SEG_DS].selector, 0);
    assert_false(f->cpu.seg[SEG_DS].attr & SEG_ATTR_P);

    /* At CPL 3: returning inwards is #GP(selector). */
    uint32_t inward[2] = {0x12345, SEL_CODE0};
    f->cpu.regs[REG_ESP] = STACK3_TOP - 8;
    memcpy(f->m.mem + f->cpu.regs[REG_ESP], inward, sizeof(inward));
    CODE(f, 0xCB);
    expect_fault(f, VEC_GP, SEL_CODE0);
    put32(&f->m, STACK3_TOP - 4, 0);
    expect_fault(f, VEC_GP, 0);
}

static void test_far_ret_outer_bad_ss(void **state)
{
    struct fixture *f = *state;
    uint32_t frame[4] = {0x12345, SEL_CODE3, STACK3_TOP, SEL_DATA0};

    f->cpu.regs[REG_ESP] = STACK0_TOP - sizeof(frame);
    memcpy(f->m.mem + f->cpu.regs[REG_ESP], frame, sizeof(frame));
    CODE(f, 0xCB);
    expect_fault(f, VEC_GP, SEL_DATA0); /* SS RPL 0 != CS RPL 3 */
    put32(&f->m, STACK0_TOP - 4, SEL_DATA_NP | 3);
    expect_fault(f, VEC_GP, SEL_DATA_NP); /* DPL 0 != 3 */
    put32(&f->m, STACK0_TOP - 4, 0);
    expect_fault(f, VEC_GP, 0);
}

/* ---- call gates ---- */

static void test_call_gate_to_ring0_with_parameters(void **state)
{
    struct fixture *f = *state;

    enter_ring3(f);
    f->cpu.regs[REG_ESP] = STACK3_TOP - 8;
    put32(&f->m, STACK3_TOP - 8, 0xAAAA1111);                   /* parameter 1 (last pushed) */
    put32(&f->m, STACK3_TOP - 4, 0xBBBB2222);                   /* parameter 2 */
    CODE(f, 0x9A, 0x00, 0x00, 0x00, 0x00, SEL_CALLGATE3, 0x00); /* call 0x58:0 */
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, GATE_TARGET);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE0);
    assert_int_equal(f->cpu.seg[SEG_SS].selector, SEL_DATA0);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 24);
    assert_int_equal(stack_dword(f, 0), CODE_BASE + 7);
    assert_int_equal(stack_dword(f, 1), SEL_CODE3);
    assert_int_equal(stack_dword(f, 2), 0xAAAA1111);
    assert_int_equal(stack_dword(f, 3), 0xBBBB2222);
    assert_int_equal(stack_dword(f, 4), STACK3_TOP - 8);
    assert_int_equal(stack_dword(f, 5), SEL_DATA3);

    /* And back, releasing the parameters. */
    CODE(f, 0xCA, 0x08, 0x00);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, CODE_BASE + 7);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE3);
    assert_int_equal(f->cpu.seg[SEG_SS].selector, SEL_DATA3);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK3_TOP);
}

static void test_call_gate_same_level_and_jmp(void **state)
{
    struct fixture *f = *state;

    CODE(f, 0x9A, 0x00, 0x00, 0x00, 0x00, SEL_CALLGATE0, 0x00);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, GATE_TARGET);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 8);
    assert_int_equal(stack_dword(f, 0), CODE_BASE + 7);

    CODE(f, 0xEA, 0x00, 0x00, 0x00, 0x00, SEL_CALLGATE3, 0x00); /* jmp through a gate */
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, GATE_TARGET);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 8);
}

static void test_call_gate_faults(void **state)
{
    struct fixture *f = *state;

    enter_ring3(f);
    CODE(f, 0x9A, 0x00, 0x00, 0x00, 0x00, SEL_CALLGATE0 | 3, 0x00); /* gate DPL 0 < CPL 3 */
    expect_fault(f, VEC_GP, SEL_CALLGATE0);
    CODE(f, 0x9A, 0x00, 0x00, 0x00, 0x00, SEL_CALLGATE_NP, 0x00);
    expect_fault(f, VEC_NP, SEL_CALLGATE_NP);
    /* JMP through a gate never changes privilege. */
    CODE(f, 0xEA, 0x00, 0x00, 0x00, 0x00, SEL_CALLGATE3, 0x00);
    expect_fault(f, VEC_GP, SEL_CODE0);

    /* Stack switch errors come from the TSS. */
    CODE(f, 0x9A, 0x00, 0x00, 0x00, 0x00, SEL_CALLGATE3, 0x00);
    put16(&f->m, TSS_BASE + 8, SEL_DATA3);
    expect_fault(f, VEC_TS, SEL_DATA3 & ~3);
    put16(&f->m, TSS_BASE + 8, 0);
    expect_fault(f, VEC_TS, 0);
    put16(&f->m, TSS_BASE + 8, SEL_DATA0_SMALL);
    put32(&f->m, TSS_BASE + 4, 20); /* room for 16 + 8 bytes needed */
    expect_fault(f, VEC_SS, SEL_DATA0_SMALL);

    /* The gate's target must be a present code segment. */
    put16(&f->m, TSS_BASE + 8, SEL_DATA0);
    put32(&f->m, TSS_BASE + 4, STACK0_TOP);
    put_gate(&f->m, GDT_BASE + SEL_CALLGATE3, SEL_CODE_NP, GATE_TARGET, 0xC, 3, true, 0);
    expect_fault(f, VEC_NP, SEL_CODE_NP);
    put_gate(&f->m, GDT_BASE + SEL_CALLGATE3, SEL_DATA0, GATE_TARGET, 0xC, 3, true, 0);
    expect_fault(f, VEC_GP, SEL_DATA0);
    put_gate(&f->m, GDT_BASE + SEL_CALLGATE3, 0, GATE_TARGET, 0xC, 3, true, 0);
    expect_fault(f, VEC_GP, 0);
    put_gate(&f->m, GDT_BASE + SEL_CALLGATE3, SEL_CODE0, GATE_TARGET, 0x4, 3, true, 0);
    assert_int_equal(exec(f), EMUL_UNSUPPORTED); /* 16-bit gate */
}

/* ---- SYSENTER, SYSEXIT ---- */

static void test_sysenter_sysexit(void **state)
{
    struct fixture *f = *state;

    f->cpu.sysenter_cs = SEL_CODE0;
    f->cpu.sysenter_esp = STACK0_TOP;
    f->cpu.sysenter_eip = 0x40000;
    enter_ring3(f);
    f->cpu.eflags |= EFLAGS_IF;
    CODE(f, 0x0F, 0x34);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, 0x40000);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE0);
    assert_int_equal(f->cpu.seg[SEG_CS].base, 0);
    assert_int_equal(f->cpu.seg[SEG_CS].limit, 0xFFFFFFFF);
    assert_int_equal(f->cpu.seg[SEG_CS].attr, 0xC09B);
    assert_int_equal(f->cpu.seg[SEG_SS].selector, SEL_DATA0);
    assert_int_equal(f->cpu.seg[SEG_SS].attr, 0xC093);
    assert_false(f->cpu.eflags & EFLAGS_IF);

    f->cpu.regs[REG_ECX] = STACK3_TOP;
    f->cpu.regs[REG_EDX] = 0x41000;
    CODE(f, 0x0F, 0x35);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, 0x41000);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK3_TOP);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE3);
    assert_int_equal(f->cpu.seg[SEG_CS].attr, 0xC0FB);
    assert_int_equal(f->cpu.seg[SEG_SS].selector, SEL_DATA3);
    assert_int_equal(f->cpu.seg[SEG_SS].attr, 0xC0F3);

    CODE(f, 0x0F, 0x35); /* sysexit at CPL 3 */
    expect_fault(f, VEC_GP, 0);
    f->cpu.sysenter_cs = 3; /* selector bits 15:2 zero */
    CODE(f, 0x0F, 0x34);
    expect_fault(f, VEC_GP, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_far_pointer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lldt_sldt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ltr_str, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lsl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verr_verw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_arpl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_far_call_ret_same_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_far_call_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_far_ret_outer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_far_ret_outer_bad_ss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_gate_to_ring0_with_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_gate_same_level_and_jmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_gate_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sysenter_sysexit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe_access_segment, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
