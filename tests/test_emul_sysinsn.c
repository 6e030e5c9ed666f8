/*
 * tests/test_emul_sysinsn.c — emul_execute() on the first-priority system
 * instructions: descriptor-table loads and stores, far JMP, segment-register
 * moves, port I/O and the I/O bitmap, CLI/STI/PUSHF/POPF, HLT, CPUID, RDTSC,
 * control and debug registers, MSRs, and what happens to unknown
 * instructions and unsupported modes (emul/sysinsn.c and the files it calls).
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

/* ---- LGDT, LIDT, SGDT, SIDT ---- */

static void test_lgdt_lidt(void **state)
{
    struct fixture *f = *state;

    put16(&f->m, DATA_AREA, 0x00FF);
    put32(&f->m, DATA_AREA + 2, 0x12345678);
    CODE(f, 0x0F, 0x01, 0x15, 0x00, 0x50, 0x00, 0x00); /* lgdt [0x5000] */
    expect_ok(f, 7);
    assert_int_equal(f->cpu.gdtr.base, 0x12345678);
    assert_int_equal(f->cpu.gdtr.limit, 0x00FF);

    f->cpu.regs[REG_EAX] = DATA_AREA;
    CODE(f, 0x0F, 0x01, 0x18); /* lidt [eax] */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.idtr.base, 0x12345678);
    assert_int_equal(f->cpu.idtr.limit, 0x00FF);

    /* 16-bit operand size: 24 bits of base. */
    CODE(f, 0x66, 0x0F, 0x01, 0x18); /* o16 lidt [eax] */
    expect_ok(f, 4);
    assert_int_equal(f->cpu.idtr.base, 0x00345678);
}

static void test_lgdt_faults(void **state)
{
    struct fixture *f = *state;

    /* CPL 3: #GP(0). */
    enter_ring3(f);
    CODE(f, 0x0F, 0x01, 0x15, 0x00, 0x50, 0x00, 0x00);
    expect_fault(f, VEC_GP, 0);

    /* Beyond the DS limit: #GP(0). */
    fixture_free(f);
    fixture_init(f);
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_DS], SEL_DATA0_SMALL);
    f->cpu.regs[REG_EAX] = 0xFFC;
    CODE(f, 0x0F, 0x01, 0x10); /* lgdt [eax]: 6 bytes from 0xFFC */
    expect_fault(f, VEC_GP, 0);

    /* SS-relative and beyond the SS limit: #SS(0). */
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_SS], SEL_DATA0_SMALL);
    f->cpu.regs[REG_ESP] = 0xFFC;
    CODE(f, 0x0F, 0x01, 0x14, 0x24); /* lgdt [esp] */
    expect_fault(f, VEC_SS, 0);

    /* A page fault on the operand. */
    vcpu_load_flat_segment(&f->cpu, SEG_DS, SEL_DATA0, false);
    f->m.fault_page_enabled = true;
    f->m.fault_page = 0x7000;
    f->cpu.regs[REG_EAX] = 0x6FFE;
    CODE(f, 0x0F, 0x01, 0x10);
    expect_fault(f, VEC_PF, 0);
    assert_int_equal(f->fault.fault_address, 0x7000);

    /* Register operand forms are other instructions (vmcall...): #UD. */
    CODE(f, 0x0F, 0x01, 0xC1);
    expect_fault(f, VEC_UD, 0);
}

static void test_sgdt_sidt(void **state)
{
    struct fixture *f = *state;

    enter_ring3(f); /* no UMIP: allowed at CPL 3 */
    f->cpu.gdtr.base = 0xC1234567;
    f->cpu.gdtr.limit = 0x1FF;
    memset(f->m.mem + 0x6000, 0xEE, 8);
    CODE(f, 0x0F, 0x01, 0x05, 0x00, 0x60, 0x00, 0x00); /* sgdt [0x6000] */
    expect_ok(f, 7);
    assert_int_equal(get16(&f->m, 0x6000), 0x1FF);
    assert_int_equal(get32(&f->m, 0x6002), 0xC1234567);
    assert_int_equal(f->m.mem[0x6006], 0xEE);

    f->cpu.idtr.base = 0xC0ABCDEF;
    f->cpu.idtr.limit = 0x7FF;
    CODE(f, 0x66, 0x0F, 0x01, 0x0D, 0x00, 0x60, 0x00, 0x00); /* o16 sidt [0x6000] */
    expect_ok(f, 8);
    assert_int_equal(get16(&f->m, 0x6000), 0x7FF);
    assert_int_equal(get32(&f->m, 0x6002), 0x00ABCDEF);

    /* Writing into a read-only data segment: #GP(0). */
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_DS], SEL_DATA_RO);
    CODE(f, 0x0F, 0x01, 0x05, 0x00, 0x60, 0x00, 0x00);
    expect_fault(f, VEC_GP, 0);
}

/* ---- far JMP ---- */

static void test_far_jmp_direct(void **state)
{
    struct fixture *f = *state;

    assert_false(gdt_hi(&f->m, SEL_CODE0) & (1u << 8));
    CODE(f, 0xEA, 0x00, 0x20, 0x01, 0x00, 0x08, 0x00); /* jmp 0x08:0x12000 */
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, 0x12000);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE0);
    assert_true(gdt_hi(&f->m, SEL_CODE0) & (1u << 8)); /* accessed */

    /* m16:32 */
    put32(&f->m, DATA_AREA, 0x13000);
    put16(&f->m, DATA_AREA + 4, SEL_CODE0);
    CODE(f, 0xFF, 0x2D, 0x00, 0x50, 0x00, 0x00); /* jmp far [0x5000] */
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, 0x13000);

    /* ptr16:16 with a 16-bit operand size */
    CODE(f, 0x66, 0xEA, 0x34, 0x12, 0x08, 0x00);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, 0x1234);
}

static void test_far_jmp_faults(void **state)
{
    struct fixture *f = *state;

    CODE(f, 0xEA, 0x00, 0x20, 0x01, 0x00, 0x00, 0x00); /* null selector */
    expect_fault(f, VEC_GP, 0);
    CODE(f, 0xEA, 0x00, 0x20, 0x01, 0x00, 0x03, 0x04); /* 0x403: beyond the GDT */
    expect_fault(f, VEC_GP, 0x400);
    CODE(f, 0xEA, 0x00, 0x20, 0x01, 0x00, SEL_DATA0, 0x00); /* a data segment */
    expect_fault(f, VEC_GP, SEL_DATA0);
    CODE(f, 0xEA, 0x00, 0x20, 0x01, 0x00, SEL_CODE_NP, 0x00);
    expect_fault(f, VEC_NP, SEL_CODE_NP);
    CODE(f, 0xEA, 0x00, 0x20, 0x01, 0x00, SEL_CODE3, 0x00); /* DPL 3 != CPL 0 */
    expect_fault(f, VEC_GP, SEL_CODE3 & ~3);
    CODE(f, 0xEA, 0x00, 0x20, 0x00, 0x00, SEL_CODE0_SMALL, 0x00); /* EIP 0x2000 > limit */
    expect_fault(f, VEC_GP, 0);
    CODE(f, 0xEA, 0x00, 0x20, 0x00, 0x00, SEL_TSS, 0x00); /* task switch */
    assert_int_equal(exec(f), EMUL_UNSUPPORTED);
    assert_non_null(strstr(f->why, "task switch"));

    /* RPL 3 > CPL 0 into a non-conforming segment. */
    CODE(f, 0xEA, 0x00, 0x20, 0x01, 0x00, SEL_CODE0 | 3, 0x00);
    expect_fault(f, VEC_GP, SEL_CODE0);
}

static void test_far_jmp_conforming(void **state)
{
    struct fixture *f = *state;

    enter_ring3(f);
    CODE(f, 0xEA, 0x00, 0x20, 0x01, 0x00, SEL_CODE_CONF, 0x00);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE_CONF | 3); /* CPL stays 3 */
    assert_int_equal(f->cpu.eip, 0x12000);
    /* From CPL 3 to a non-conforming DPL 0 segment: #GP. */
    CODE(f, 0xEA, 0x00, 0x20, 0x01, 0x00, SEL_CODE0, 0x00);
    expect_fault(f, VEC_GP, SEL_CODE0);
}

/* ---- MOV Sreg, PUSH/POP Sreg ---- */

static void test_mov_to_data_segment(void **state)
{
    struct fixture *f = *state;

    assert_false(gdt_hi(&f->m, SEL_DATA3) & (1u << 8));
    f->cpu.regs[REG_EAX] = SEL_DATA3;
    CODE(f, 0x8E, 0xD8); /* mov ds, ax */
    expect_ok(f, 2);
    assert_int_equal(f->cpu.seg[SEG_DS].selector, SEL_DATA3);
    assert_int_equal(SEG_ATTR_DPL(f->cpu.seg[SEG_DS].attr), 3);
    assert_int_equal(f->cpu.seg[SEG_DS].limit, 0xFFFFFFFF);
    assert_true(gdt_hi(&f->m, SEL_DATA3) & (1u << 8)); /* accessed bit written */

    /* Readable code is allowed in DS. */
    f->cpu.regs[REG_EAX] = SEL_CODE0;
    CODE(f, 0x8E, 0xC0); /* mov es, ax */
    expect_ok(f, 2);
    assert_int_equal(f->cpu.seg[SEG_ES].selector, SEL_CODE0);

    /* A null selector: allowed, the register becomes unusable. */
    f->cpu.regs[REG_EAX] = 0x0003;
    CODE(f, 0x8E, 0xE0); /* mov fs, ax */
    expect_ok(f, 2);
    assert_int_equal(f->cpu.seg[SEG_FS].selector, 3);
    assert_false(f->cpu.seg[SEG_FS].attr & SEG_ATTR_P);
    /* ... and using it is #GP(0). */
    CODE(f, 0x64, 0x0F, 0x01, 0x05, 0x00, 0x60, 0x00, 0x00); /* sgdt fs:[0x6000] */
    expect_fault(f, VEC_GP, 0);

    /* From memory. */
    put16(&f->m, DATA_AREA, SEL_DATA0);
    CODE(f, 0x8E, 0x2D, 0x00, 0x50, 0x00, 0x00); /* mov gs, [0x5000] */
    expect_ok(f, 6);
    assert_int_equal(f->cpu.seg[SEG_GS].selector, SEL_DATA0);
}

static void test_mov_to_data_segment_faults(void **state)
{
    struct fixture *f = *state;

    CODE(f, 0x8E, 0xD8); /* mov ds, ax */
    f->cpu.regs[REG_EAX] = 0x403;
    expect_fault(f, VEC_GP, 0x400); /* beyond the GDT limit */
    f->cpu.regs[REG_EAX] = 0x0C;
    expect_fault(f, VEC_GP, 0x08 | 4); /* LDT selector with no LDT */
    f->cpu.regs[REG_EAX] = SEL_DATA_NP;
    expect_fault(f, VEC_NP, SEL_DATA_NP);
    f->cpu.regs[REG_EAX] = SEL_CODE_XO;
    expect_fault(f, VEC_GP, SEL_CODE_XO); /* execute-only code */
    f->cpu.regs[REG_EAX] = SEL_TSS;
    expect_fault(f, VEC_GP, SEL_TSS); /* system descriptor */
    f->cpu.regs[REG_EAX] = SEL_DATA0 | 3;
    expect_fault(f, VEC_GP, SEL_DATA0); /* RPL 3 > DPL 0 */

    enter_ring3(f);
    f->cpu.regs[REG_EAX] = SEL_DATA0 | 3;
    expect_fault(f, VEC_GP, SEL_DATA0); /* CPL 3 > DPL 0 */
    f->cpu.regs[REG_EAX] = SEL_CODE_CONF | 3;
    expect_ok(f, 2); /* conforming readable code: no privilege check */
}

static void test_mov_ss(void **state)
{
    struct fixture *f = *state;

    CODE(f, 0x8E, 0xD0); /* mov ss, ax */
    f->cpu.regs[REG_EAX] = 0;
    expect_fault(f, VEC_GP, 0); /* null SS */
    f->cpu.regs[REG_EAX] = SEL_DATA3;
    expect_fault(f, VEC_GP, SEL_DATA3 & ~3); /* RPL != CPL */
    f->cpu.regs[REG_EAX] = SEL_DATA3 & ~3;
    expect_fault(f, VEC_GP, SEL_DATA3 & ~3); /* DPL != CPL */
    f->cpu.regs[REG_EAX] = SEL_DATA_RO;
    expect_fault(f, VEC_GP, SEL_DATA_RO); /* not writable */
    f->cpu.regs[REG_EAX] = SEL_CODE0;
    expect_fault(f, VEC_GP, SEL_CODE0); /* code */
    f->cpu.regs[REG_EAX] = SEL_DATA_NP;
    expect_fault(f, VEC_SS, SEL_DATA_NP); /* not present: #SS */

    f->cpu.regs[REG_EAX] = SEL_DATA0_SMALL;
    expect_ok(f, 2);
    assert_int_equal(f->cpu.seg[SEG_SS].selector, SEL_DATA0_SMALL);
    assert_int_equal(f->cpu.seg[SEG_SS].limit, 0xFFF);
    assert_int_equal(f->cpu.interrupt_shadow, EMUL_SHADOW_MOV_SS);

    /* Any next instruction ends the shadow. */
    CODE(f, 0x0F, 0xA2); /* cpuid */
    expect_ok(f, 2);
    assert_int_equal(f->cpu.interrupt_shadow, 0);
}

static void test_mov_from_sreg(void **state)
{
    struct fixture *f = *state;

    f->cpu.regs[REG_EAX] = 0xFFFFFFFF;
    CODE(f, 0x8C, 0xD8); /* mov eax, ds: zero-extended */
    expect_ok(f, 2);
    assert_int_equal(f->cpu.regs[REG_EAX], SEL_DATA0);

    f->cpu.regs[REG_EAX] = 0xFFFFFFFF;
    CODE(f, 0x66, 0x8C, 0xC8); /* mov ax, cs */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_EAX], 0xFFFF0000u | SEL_CODE0);

    memset(f->m.mem + DATA_AREA, 0xEE, 4);
    CODE(f, 0x8C, 0x15, 0x00, 0x50, 0x00, 0x00); /* mov [0x5000], ss: 16 bits */
    expect_ok(f, 6);
    assert_int_equal(get32(&f->m, DATA_AREA), 0xEEEE0000u | SEL_DATA0);

    /* MOV CS, ax does not exist. */
    CODE(f, 0x8E, 0xC8);
    expect_fault(f, VEC_UD, 0);
}

static void test_push_pop_sreg(void **state)
{
    struct fixture *f = *state;

    put32(&f->m, STACK0_TOP - 4, 0xFFFFFFFF);
    CODE(f, 0x1E); /* push ds */
    expect_ok(f, 1);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 4);
    assert_int_equal(stack_dword(f, 0), SEL_DATA0); /* zero-extended */

    CODE(f, 0x66, 0x0F, 0xA8); /* push gs, 16-bit */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 6);
    assert_int_equal(get16(&f->m, STACK0_TOP - 6), SEL_DATA0);
    f->cpu.regs[REG_ESP] += 2;

    put32(&f->m, STACK0_TOP - 4, SEL_DATA3);
    CODE(f, 0x07); /* pop es */
    expect_ok(f, 1);
    assert_int_equal(f->cpu.seg[SEG_ES].selector, SEL_DATA3);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP);

    /* A bad selector: #GP(sel), ESP unchanged. */
    f->cpu.regs[REG_ESP] = STACK0_TOP - 4;
    put32(&f->m, STACK0_TOP - 4, SEL_DATA_NP);
    CODE(f, 0x1F); /* pop ds */
    expect_fault(f, VEC_NP, SEL_DATA_NP);

    put32(&f->m, STACK0_TOP - 4, SEL_DATA0);
    CODE(f, 0x17); /* pop ss */
    expect_ok(f, 1);
    assert_int_equal(f->cpu.interrupt_shadow, EMUL_SHADOW_MOV_SS);

    /* Push below the limit of a small stack segment: #SS(0). */
    enter_ring3(f);
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_SS], SEL_DATA3_SMALL);
    f->cpu.regs[REG_ESP] = 2;
    CODE(f, 0x06); /* push es */
    expect_fault(f, VEC_SS, 0);
    /* Pop beyond it: #SS(0). */
    f->cpu.regs[REG_ESP] = 0xFFE;
    CODE(f, 0x07);
    expect_fault(f, VEC_SS, 0);
}

/* ---- IN, OUT, INS, OUTS ---- */

static void test_in_out(void **state)
{
    struct fixture *f = *state;

    f->cpu.regs[REG_EAX] = 0xAAAAAAAA;
    f->m.port_in_value = 0x12345678;
    CODE(f, 0xE4, 0x60); /* in al, 0x60 */
    expect_ok(f, 2);
    assert_int_equal(f->cpu.regs[REG_EAX], 0xAAAAAA78);
    assert_int_equal(f->m.io[0].port, 0x60);
    assert_int_equal(f->m.io[0].size, 1);
    assert_false(f->m.io[0].write);

    f->cpu.regs[REG_EDX] = 0x1F0;
    CODE(f, 0x66, 0xED); /* in ax, dx */
    expect_ok(f, 2);
    assert_int_equal(f->cpu.regs[REG_EAX], 0xAAAA5679);
    assert_int_equal(f->m.io[1].port, 0x1F0);
    assert_int_equal(f->m.io[1].size, 2);

    CODE(f, 0xED); /* in eax, dx */
    expect_ok(f, 1);
    assert_int_equal(f->cpu.regs[REG_EAX], 0x1234567A);

    CODE(f, 0xE6, 0x80); /* out 0x80, al */
    expect_ok(f, 2);
    assert_int_equal(f->m.io[3].port, 0x80);
    assert_int_equal(f->m.io[3].value, 0x7A);
    assert_true(f->m.io[3].write);

    f->cpu.regs[REG_EDX] = 0x3F8;
    CODE(f, 0xEF); /* out dx, eax */
    expect_ok(f, 1);
    assert_int_equal(f->m.io[4].value, 0x1234567A);
    assert_int_equal(f->m.io[4].size, 4);
}

static void test_io_privilege(void **state)
{
    struct fixture *f = *state;

    enter_ring3(f);
    CODE(f, 0xE4, 0x60); /* in al, 0x60 */
    /* CPL 3 > IOPL 0 and the TSS has no bitmap (limit 0x67): #GP(0). */
    expect_fault(f, VEC_GP, 0);
    assert_int_equal(f->m.nio, 0);

    /* IOPL 3: allowed. */
    f->cpu.eflags |= EFLAGS_IOPL;
    expect_ok(f, 2);
    assert_int_equal(f->m.nio, 1);

    /* IOPL 0 with a bitmap allowing ports 0x60 and 0x3F8-0x3FF only. */
    f->cpu.eflags &= ~EFLAGS_IOPL;
    memset(f->m.mem + TSS_BASE + 0x68, 0xFF, 129);
    f->m.mem[TSS_BASE + 0x68 + 0x60 / 8] = 0xFE;  /* port 0x60 */
    f->m.mem[TSS_BASE + 0x68 + 0x3F8 / 8] = 0x00; /* 0x3F8-0x3FF */
    f->cpu.tr.limit = 0x68 + 128;                 /* bitmap + 1 terminator byte */
    CODE(f, 0xE4, 0x60);
    expect_ok(f, 2);
    CODE(f, 0xE4, 0x61);
    expect_fault(f, VEC_GP, 0);
    CODE(f, 0x66, 0xE5, 0x5F); /* in ax, 0x5F: 0x5F denied */
    expect_fault(f, VEC_GP, 0);
    f->cpu.regs[REG_EDX] = 0x3FC;
    CODE(f, 0xEF); /* out dx, eax: 0x3FC-0x3FF allowed */
    expect_ok(f, 1);
    CODE(f, 0xEF);
    f->cpu.regs[REG_EDX] = 0x3FE; /* 0x3FE-0x401: the terminator denies 0x400 */
    expect_fault(f, VEC_GP, 0);
    /* The bitmap byte pair beyond the TSS limit: #GP(0). */
    f->cpu.tr.limit = 0x68 + 127;
    expect_fault(f, VEC_GP, 0);
    /* CPL 3 > IOPL with a 16-bit TSS: #GP(0). */
    f->cpu.tr.limit = 0x68 + 128;
    f->cpu.tr.attr = (f->cpu.tr.attr & ~0xFu) | 0x3;
    f->cpu.regs[REG_EDX] = 0x3F8;
    expect_fault(f, VEC_GP, 0);
}

static void test_ins_outs(void **state)
{
    struct fixture *f = *state;

    f->m.port_in_value = 0xA0;
    f->cpu.regs[REG_EDX] = 0x1F0;
    f->cpu.regs[REG_EDI] = 0x6000;
    CODE(f, 0x6C); /* insb */
    expect_ok(f, 1);
    assert_int_equal(f->m.mem[0x6000], 0xA0);
    assert_int_equal(f->cpu.regs[REG_EDI], 0x6001);

    f->cpu.regs[REG_ECX] = 4;
    CODE(f, 0xF3, 0x66, 0x6D); /* rep insw */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_ECX], 0);
    assert_int_equal(f->cpu.regs[REG_EDI], 0x6009);
    assert_int_equal(get16(&f->m, 0x6001), 0xA1);
    assert_int_equal(get16(&f->m, 0x6007), 0xA4);
    assert_int_equal(f->m.nio, 5);

    /* DF = 1: downwards. */
    f->cpu.eflags |= EFLAGS_DF;
    f->cpu.regs[REG_ECX] = 2;
    f->cpu.regs[REG_EDI] = 0x6100;
    CODE(f, 0xF3, 0x6D); /* rep insd */
    expect_ok(f, 2);
    assert_int_equal(f->cpu.regs[REG_EDI], 0x60F8);
    assert_int_equal(get32(&f->m, 0x6100), 0xA5);
    assert_int_equal(get32(&f->m, 0x60FC), 0xA6);
    f->cpu.eflags &= ~EFLAGS_DF;

    /* REP with ECX = 0: nothing happens. */
    f->cpu.regs[REG_ECX] = 0;
    CODE(f, 0xF3, 0x6D);
    expect_ok(f, 2);
    assert_int_equal(f->m.nio, 7);

    /* rep outsb from DS:ESI, and a segment override. */
    memcpy(f->m.mem + 0x6200, "abc", 3);
    f->cpu.regs[REG_ESI] = 0x6200;
    f->cpu.regs[REG_ECX] = 3;
    CODE(f, 0xF3, 0x6E); /* rep outsb */
    expect_ok(f, 2);
    assert_int_equal(f->m.io[7].value, 'a');
    assert_int_equal(f->m.io[9].value, 'c');
    assert_true(f->m.io[9].write);
    assert_int_equal(f->cpu.regs[REG_ESI], 0x6203);

    f->cpu.seg[SEG_FS].base = 0x100;
    f->cpu.regs[REG_ESI] = 0x6101;
    CODE(f, 0x64, 0x6E); /* outsb fs:[esi] */
    expect_ok(f, 2);
    assert_int_equal(f->m.io[10].value, 'b');

    /* 16-bit address size: SI/CX, upper halves kept. */
    f->cpu.regs[REG_ESI] = 0xABCD6200;
    f->cpu.regs[REG_ECX] = 0x55550001;
    f->cpu.seg[SEG_DS].base = 0;
    CODE(f, 0x67, 0xF3, 0x6E);
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_ESI], 0xABCD6201);
    assert_int_equal(f->cpu.regs[REG_ECX], 0x55550000);
}

static void test_rep_ins_fault_midway(void **state)
{
    struct fixture *f = *state;
    uint32_t eip = f->cpu.eip;

    f->m.fault_page_enabled = true;
    f->m.fault_page = 0x7000;
    f->cpu.regs[REG_EDX] = 0x1F0;
    f->cpu.regs[REG_EDI] = 0x6FFF;
    f->cpu.regs[REG_ECX] = 3;
    CODE(f, 0xF3, 0x6C); /* rep insb */
    assert_int_equal(exec(f), EMUL_FAULT);
    assert_int_equal(f->fault.vector, VEC_PF);
    assert_int_equal(f->fault.error_code, 2); /* supervisor write, not present */
    assert_int_equal(f->fault.fault_address, 0x7000);
    /* The first iteration stays done; EIP is at the instruction. */
    assert_int_equal(f->cpu.eip, eip);
    assert_int_equal(f->cpu.regs[REG_EDI], 0x7000);
    assert_int_equal(f->cpu.regs[REG_ECX], 2);

    /* I/O privilege is checked before anything: CPL 3, IOPL 0. */
    enter_ring3(f);
    f->m.nio = 0;
    expect_fault(f, VEC_GP, 0);
    assert_int_equal(f->m.nio, 0);
}

/* ---- CLI, STI, PUSHF, POPF, HLT ---- */

static void test_cli_sti(void **state)
{
    struct fixture *f = *state;

    f->cpu.eflags |= EFLAGS_IF;
    CODE(f, 0xFA); /* cli */
    expect_ok(f, 1);
    assert_false(f->cpu.eflags & EFLAGS_IF);
    CODE(f, 0xFB); /* sti */
    expect_ok(f, 1);
    assert_true(f->cpu.eflags & EFLAGS_IF);
    assert_int_equal(f->cpu.interrupt_shadow, EMUL_SHADOW_STI);
    /* STI with IF already 1 opens no shadow. */
    CODE(f, 0xFB);
    expect_ok(f, 1);
    assert_int_equal(f->cpu.interrupt_shadow, 0);

    enter_ring3(f);
    CODE(f, 0xFB);
    expect_fault(f, VEC_GP, 0); /* sti at CPL 3, IOPL 0 */
    CODE(f, 0xFA);
    expect_fault(f, VEC_GP, 0); /* cli */
    f->cpu.eflags |= EFLAGS_IOPL;
    expect_ok(f, 1);
    assert_false(f->cpu.eflags & EFLAGS_IF);
}

static void test_pushf(void **state)
{
    struct fixture *f = *state;

    f->cpu.eflags = EFLAGS_FIXED1 | EFLAGS_IF | EFLAGS_RF | EFLAGS_CF | EFLAGS_AC;
    CODE(f, 0x9C); /* pushfd */
    expect_ok(f, 1);
    assert_int_equal(stack_dword(f, 0), EFLAGS_FIXED1 | EFLAGS_IF | EFLAGS_CF | EFLAGS_AC);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 4);
    CODE(f, 0x66, 0x9C); /* pushf (16-bit) */
    expect_ok(f, 2);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 6);
    assert_int_equal(get16(&f->m, STACK0_TOP - 6), EFLAGS_FIXED1 | EFLAGS_IF | EFLAGS_CF);
}

static void run_popf(struct fixture *f, uint32_t eflags, uint32_t image, bool o16)
{
    f->cpu.eflags = eflags;
    f->cpu.regs[REG_ESP] = f->cpu.seg[SEG_CS].selector & 3 ? STACK3_TOP - 4 : STACK0_TOP - 4;
    put32(&f->m, f->cpu.regs[REG_ESP], image);
    if (o16)
        CODE(f, 0x66, 0x9D);
    else
        CODE(f, 0x9D);
    expect_ok(f, o16 ? 2 : 1);
}

static void test_popf_privilege(void **state)
{
    struct fixture *f = *state;
    const uint32_t all = 0xFFFFFFFF;

    /* CPL 0: everything but VM, VIF, VIP, RF and reserved bits. */
    run_popf(f, EFLAGS_FIXED1 | EFLAGS_RF, all, false);
    assert_int_equal(f->cpu.eflags, 0x00247FD7);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP);
    run_popf(f, EFLAGS_FIXED1 | EFLAGS_IOPL | EFLAGS_IF, 0, false);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1);

    /* CPL 3, IOPL 0: IF and IOPL kept, no fault. */
    enter_ring3(f);
    run_popf(f, EFLAGS_FIXED1 | EFLAGS_IF, EFLAGS_IOPL | EFLAGS_CF | EFLAGS_ZF, false);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | EFLAGS_IF | EFLAGS_CF | EFLAGS_ZF);
    run_popf(f, EFLAGS_FIXED1, EFLAGS_IF | EFLAGS_IOPL, false);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1);

    /* CPL 3, IOPL 3: IF changes, IOPL does not. */
    run_popf(f, EFLAGS_FIXED1 | EFLAGS_IOPL | EFLAGS_IF, EFLAGS_DF, false);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | EFLAGS_IOPL | EFLAGS_DF);

    /* CPL 1, IOPL 1: IF changes, IOPL does not. */
    vcpu_load_flat_segment(&f->cpu, SEG_CS, SEL_CODE1, true);
    run_popf(f, EFLAGS_FIXED1 | (1u << 12), EFLAGS_IF | EFLAGS_IOPL, false);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | (1u << 12) | EFLAGS_IF);

    /* 16-bit POPF keeps bits 16-31 (AC here; RF is cleared anyway, as after
     * every instruction but IRET). */
    enter_ring3(f);
    run_popf(f, EFLAGS_FIXED1 | EFLAGS_AC | EFLAGS_RF, 0xFFFF, true);
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | EFLAGS_AC | 0x4DD5);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK3_TOP - 2);
}

static void test_hlt(void **state)
{
    struct fixture *f = *state;

    CODE(f, 0xF4);
    assert_int_equal(exec(f), EMUL_HALT);
    assert_int_equal(f->cpu.eip, CODE_BASE + 1);
    enter_ring3(f);
    CODE(f, 0xF4);
    expect_fault(f, VEC_GP, 0);
}

/* ---- CPUID, RDTSC ---- */

static void test_cpuid_leaves(void **state)
{
    uint32_t r[4], r2[4];
    char vendor[13], brand[49];

    emul_cpuid(0, 0, r);
    assert_int_equal(r[0], 2);
    memcpy(vendor, &r[1], 4);
    memcpy(vendor + 4, &r[3], 4);
    memcpy(vendor + 8, &r[2], 4);
    vendor[12] = '\0';
    assert_string_equal(vendor, "GenuineIntel");

    emul_cpuid(1, 0, r);
    assert_int_equal(r[0], 0x6F1); /* family 6, model 15, stepping 1 */
    assert_int_equal(r[0], EMUL_CPUID_SIGNATURE);
    assert_int_equal(r[1], 0x00010800);
    assert_int_equal(r[2], 0x80000000u);
    /* FPU DE PSE TSC MSR CX8 APIC SEP PGE CMOV PAT CLFSH MMX FXSR SSE SSE2 */
    assert_int_equal(r[3], 0x0789AB3Du);
    for (unsigned bit = 0; bit < 32; bit++) {
        bool absent =
            bit == 1 || bit == 6 || bit == 7 || bit == 12 || bit == 14 || bit == 17 || bit == 28;
        if (absent)
            assert_false(r[3] & (1u << bit));
    }

    emul_cpuid(0x40000000, 0, r);
    assert_int_equal(r[0], 0x40000000);
    memcpy(vendor, &r[1], 4);
    memcpy(vendor + 4, &r[2], 4);
    memcpy(vendor + 8, &r[3], 4);
    assert_string_equal(vendor, "popekpopekpo");

    emul_cpuid(0x80000000, 0, r);
    assert_int_equal(r[0], 0x80000004);
    emul_cpuid(0x80000001, 0, r);
    assert_int_equal(r[0] | r[1] | r[2] | r[3], 0);
    for (unsigned i = 0; i < 3; i++) {
        emul_cpuid(0x80000002 + i, 0, r);
        memcpy(brand + 16 * i, r, 16);
    }
    brand[48] = '\0';
    assert_string_equal(brand, "popek virtual CPU");

    /* Beyond the maximum: the highest basic leaf. */
    emul_cpuid(2, 0, r);
    emul_cpuid(7, 0, r2);
    assert_memory_equal(r, r2, sizeof(r));
    emul_cpuid(0x80000008, 0, r2);
    assert_memory_equal(r, r2, sizeof(r));
    assert_int_equal(r[0] & 0xFF, 1);
}

static void test_cpuid_insn(void **state)
{
    struct fixture *f = *state;

    enter_ring3(f);
    f->cpu.regs[REG_EAX] = 1;
    CODE(f, 0x0F, 0xA2);
    expect_ok(f, 2);
    assert_int_equal(f->cpu.regs[REG_EAX], 0x6F1);
    assert_int_equal(f->cpu.regs[REG_EDX], 0x0789AB3Du);
    assert_int_equal(f->cpu.regs[REG_ECX], 0x80000000u);
}

static void test_rdtsc(void **state)
{
    struct fixture *f = *state;

    f->m.tsc = 0x123456789AULL;
    CODE(f, 0x0F, 0x31);
    expect_ok(f, 2);
    assert_int_equal(f->cpu.regs[REG_EAX], 0x3456789A);
    assert_int_equal(f->cpu.regs[REG_EDX], 0x12);

    f->cpu.cr4 |= (1u << 2);
    CODE(f, 0x0F, 0x31);
    expect_ok(f, 2); /* CPL 0 */
    enter_ring3(f);
    CODE(f, 0x0F, 0x31);
    expect_fault(f, VEC_GP, 0);
    f->cpu.cr4 = 0;
    expect_ok(f, 2);
}

/* ---- control registers ---- */

static void test_mov_cr0(void **state)
{
    struct fixture *f = *state;

    f->cpu.regs[REG_EAX] = CR0_PE | CR0_PG | CR0_WP | 0x0000FF00; /* + reserved bits */
    CODE(f, 0x0F, 0x22, 0xC0);                                    /* mov cr0, eax */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.cr0, CR0_PE | CR0_PG | CR0_WP | CR0_ET);
    assert_int_equal(f->m.cr_writes, 1);
    assert_int_equal(f->m.last_crn, 0);
    assert_int_equal(f->m.last_cr_old, CR0_PE | CR0_ET);
    assert_int_equal(f->m.cr_value_seen, f->cpu.cr0); /* called after the commit */

    f->cpu.regs[REG_EAX] = CR0_PG; /* PG without PE */
    CODE(f, 0x0F, 0x22, 0xC0);
    expect_fault(f, VEC_GP, 0);
    f->cpu.regs[REG_EAX] = CR0_PE | CR0_NW; /* NW without CD */
    expect_fault(f, VEC_GP, 0);
    assert_int_equal(f->m.cr_writes, 1);

    f->cpu.regs[REG_EBX] = 0;
    CODE(f, 0x0F, 0x20, 0xC3); /* mov ebx, cr0 */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_EBX], CR0_PE | CR0_PG | CR0_WP | CR0_ET);

    enter_ring3(f);
    CODE(f, 0x0F, 0x20, 0xC3);
    expect_fault(f, VEC_GP, 0);
    CODE(f, 0x0F, 0x22, 0xC0);
    expect_fault(f, VEC_GP, 0);
}

static void test_mov_cr234(void **state)
{
    struct fixture *f = *state;

    f->cpu.regs[REG_ECX] = 0x00123000;
    f->cpu.cr3 = 0x5000;
    CODE(f, 0x0F, 0x22, 0xD9); /* mov cr3, ecx */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.cr3, 0x00123000);
    assert_int_equal(f->m.last_crn, 3);
    assert_int_equal(f->m.last_cr_old, 0x5000);
    assert_int_equal(f->m.cr_value_seen, 0x00123000);

    CODE(f, 0x0F, 0x20, 0xDA); /* mov edx, cr3 */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_EDX], 0x00123000);

    f->cpu.regs[REG_EAX] = 0xDEADB000;
    CODE(f, 0x0F, 0x22, 0xD0); /* mov cr2, eax */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.cr2, 0xDEADB000);
    CODE(f, 0x0F, 0x20, 0xD6); /* mov esi, cr2 */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_ESI], 0xDEADB000);

    f->cpu.regs[REG_EAX] =
        (1u << 4) | (1u << 7) | (1u << 9) | (1u << 10); /* PSE PGE OSFXSR OSXMMEXCPT */
    CODE(f, 0x0F, 0x22, 0xE0);                          /* mov cr4, eax */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.cr4, f->cpu.regs[REG_EAX]);
    assert_int_equal(f->m.last_crn, 4);
    f->cpu.regs[REG_EAX] = 1u << 5; /* PAE: not on this CPU */
    CODE(f, 0x0F, 0x22, 0xE0);
    expect_fault(f, VEC_GP, 0);
    f->cpu.regs[REG_EAX] = 1u << 0; /* VME */
    expect_fault(f, VEC_GP, 0);
    f->cpu.regs[REG_EAX] = 1u << 13; /* VMXE */
    expect_fault(f, VEC_GP, 0);

    CODE(f, 0x0F, 0x20, 0xC8); /* mov eax, cr1 */
    expect_fault(f, VEC_UD, 0);
}

static void test_clts_lmsw_smsw(void **state)
{
    struct fixture *f = *state;

    f->cpu.cr0 |= CR0_TS | CR0_MP;
    CODE(f, 0x0F, 0x06); /* clts */
    expect_ok(f, 2);
    assert_false(f->cpu.cr0 & CR0_TS);
    assert_true(f->cpu.cr0 & CR0_MP);
    assert_int_equal(f->m.last_crn, 0);

    f->cpu.regs[REG_EAX] = 0xFFF0 | CR0_TS | CR0_EM; /* PE clear: cannot clear PE */
    CODE(f, 0x0F, 0x01, 0xF0);                       /* lmsw ax */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.cr0 & 0xF, CR0_PE | CR0_TS | CR0_EM);
    assert_int_equal(f->cpu.cr0 & 0xFFF0, CR0_ET);

    f->cpu.cr0 |= CR0_PG;
    enter_ring3(f);
    CODE(f, 0x0F, 0x01, 0xE3); /* smsw ebx: allowed at CPL 3 */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_EBX], f->cpu.cr0);
    memset(f->m.mem + 0x6000, 0xEE, 4);
    CODE(f, 0x0F, 0x01, 0x25, 0x00, 0x60, 0x00, 0x00); /* smsw [0x6000] */
    expect_ok(f, 7);
    assert_int_equal(get32(&f->m, 0x6000), 0xEEEE0000u | (f->cpu.cr0 & 0xFFFF));

    CODE(f, 0x0F, 0x06);
    expect_fault(f, VEC_GP, 0);
    CODE(f, 0x0F, 0x01, 0xF0);
    expect_fault(f, VEC_GP, 0);
}

static void test_invlpg_invd_wbinvd(void **state)
{
    struct fixture *f = *state;

    f->cpu.seg[SEG_DS].base = 0x1000;
    f->cpu.regs[REG_EAX] = 0xC0001234;
    CODE(f, 0x0F, 0x01, 0x38); /* invlpg [eax] */
    expect_ok(f, 3);
    assert_int_equal(f->m.invlpgs, 1);
    assert_int_equal(f->m.last_invlpg, 0xC0002234);
    CODE(f, 0x0F, 0x08); /* invd */
    expect_ok(f, 2);
    CODE(f, 0x0F, 0x09); /* wbinvd */
    expect_ok(f, 2);

    enter_ring3(f);
    CODE(f, 0x0F, 0x09);
    expect_fault(f, VEC_GP, 0);
    CODE(f, 0x0F, 0x08);
    expect_fault(f, VEC_GP, 0);
    CODE(f, 0x0F, 0x01, 0x38);
    expect_fault(f, VEC_GP, 0);
    assert_int_equal(f->m.invlpgs, 1);
}

/* ---- debug registers ---- */

static void test_mov_dr(void **state)
{
    struct fixture *f = *state;

    f->cpu.regs[REG_EAX] = 0xC0100000;
    CODE(f, 0x0F, 0x23, 0xC0); /* mov dr0, eax */
    expect_ok(f, 3);
    CODE(f, 0x0F, 0x21, 0xC1); /* mov ecx, dr0 */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_ECX], 0xC0100000);

    CODE(f, 0x0F, 0x21, 0xF1); /* mov ecx, dr6 */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_ECX], 0xFFFF0FF0);
    CODE(f, 0x0F, 0x21, 0xF9); /* mov ecx, dr7 */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_ECX], 0x400);

    f->cpu.regs[REG_EAX] = 0xFFFFFFFF;
    CODE(f, 0x0F, 0x23, 0xF8); /* mov dr7, eax */
    expect_ok(f, 3);
    CODE(f, 0x0F, 0x21, 0xF9);
    /* GD is now set: the next access is a #DB with DR6.BD, GD cleared. */
    assert_int_equal(exec(f), EMUL_FAULT);
    assert_int_equal(f->fault.vector, VEC_DB);
    assert_true(f->cpu.dr[6] & (1u << 13));
    assert_false(f->cpu.dr[7] & (1u << 13));
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_ECX], 0xFFFF07FF);

    /* DR4/DR5 alias DR6/DR7 while CR4.DE = 0; #UD once it is set. */
    CODE(f, 0x0F, 0x21, 0xE9); /* mov ecx, dr5 */
    expect_ok(f, 3);
    assert_int_equal(f->cpu.regs[REG_ECX], 0xFFFF07FF);
    f->cpu.cr4 |= 1u << 3;
    CODE(f, 0x0F, 0x21, 0xE9);
    expect_fault(f, VEC_UD, 0);

    enter_ring3(f);
    CODE(f, 0x0F, 0x21, 0xC1);
    expect_fault(f, VEC_GP, 0);
}

/* ---- MSRs ---- */

static void rdmsr(struct fixture *f, uint32_t msr)
{
    f->cpu.regs[REG_ECX] = msr;
    CODE(f, 0x0F, 0x32);
    expect_ok(f, 2);
}

static void wrmsr(struct fixture *f, uint32_t msr, uint64_t value)
{
    f->cpu.regs[REG_ECX] = msr;
    f->cpu.regs[REG_EAX] = (uint32_t)value;
    f->cpu.regs[REG_EDX] = (uint32_t)(value >> 32);
    CODE(f, 0x0F, 0x30);
}

static uint64_t edx_eax(const struct fixture *f)
{
    return (uint64_t)f->cpu.regs[REG_EDX] << 32 | f->cpu.regs[REG_EAX];
}

static void test_msrs(void **state)
{
    struct fixture *f = *state;

    rdmsr(f, 0x277);
    assert_int_equal(edx_eax(f), 0x0007040600070406ULL);
    wrmsr(f, 0x277, 0x0000000100070406ULL);
    expect_ok(f, 2);
    rdmsr(f, 0x277);
    assert_int_equal(edx_eax(f), 0x0000000100070406ULL);
    wrmsr(f, 0x277, 0x0000000000000002ULL); /* type 2 is reserved */
    expect_fault(f, VEC_GP, 0);

    wrmsr(f, 0x174, SEL_CODE0);
    expect_ok(f, 2);
    wrmsr(f, 0x175, 0xC0801000);
    expect_ok(f, 2);
    wrmsr(f, 0x176, 0xC0100000);
    expect_ok(f, 2);
    assert_int_equal(f->cpu.sysenter_cs, SEL_CODE0);
    assert_int_equal(f->cpu.sysenter_esp, 0xC0801000);
    rdmsr(f, 0x176);
    assert_int_equal(edx_eax(f), 0xC0100000);

    rdmsr(f, 0x1B); /* APIC base: BSP, globally enabled */
    assert_int_equal(edx_eax(f), 0xFEE00900);
    assert_true(emul_lapic_enabled(&f->cpu));
    wrmsr(f, 0x1B, 0xFEE00100); /* disabled: INTR belongs to the 8259A */
    expect_ok(f, 2);
    assert_false(emul_lapic_enabled(&f->cpu));
    rdmsr(f, 0x1B);
    assert_int_equal(edx_eax(f), 0xFEE00100);
    wrmsr(f, 0x1B, 0xFEE00900);
    expect_ok(f, 2);
    assert_true(emul_lapic_enabled(&f->cpu));
    wrmsr(f, 0x1B, 0xFEE00001); /* reserved bit */
    expect_fault(f, VEC_GP, 0);

    rdmsr(f, 0x1A0);
    assert_int_equal(edx_eax(f), 0x1801);
    wrmsr(f, 0x1A0, 0x1800);
    expect_ok(f, 2);
    rdmsr(f, 0x1A0);
    assert_int_equal(edx_eax(f), 0x1800);
    wrmsr(f, 0x1A0, 1u << 2); /* reserved */
    expect_fault(f, VEC_GP, 0);

    rdmsr(f, 0xFE); /* MTRRCAP: no MTRRs */
    assert_int_equal(edx_eax(f), 0);
    rdmsr(f, 0x2FF);
    assert_int_equal(edx_eax(f), 0);
    wrmsr(f, 0x2FF, 0x806);
    expect_ok(f, 2);
    wrmsr(f, 0x2FF, 0x2);
    expect_fault(f, VEC_GP, 0);
    wrmsr(f, 0xFE, 0);
    expect_fault(f, VEC_GP, 0); /* read-only */
    rdmsr(f, 0x17);
    rdmsr(f, 0x179);
    assert_int_equal(edx_eax(f), 0);
    wrmsr(f, 0x8B, 0);
    expect_ok(f, 2);
    rdmsr(f, 0x8B);
    assert_int_equal(edx_eax(f), 0);

    /* Unknown MSRs: #GP(0) both ways. */
    f->cpu.regs[REG_ECX] = 0xC0000080; /* EFER: no long mode here */
    CODE(f, 0x0F, 0x32);
    expect_fault(f, VEC_GP, 0);
    wrmsr(f, 0x3A, 0);
    expect_fault(f, VEC_GP, 0);

    enter_ring3(f);
    f->cpu.regs[REG_ECX] = 0x10;
    CODE(f, 0x0F, 0x32);
    expect_fault(f, VEC_GP, 0);
    CODE(f, 0x0F, 0x30);
    expect_fault(f, VEC_GP, 0);
}

static void test_tsc_msr(void **state)
{
    struct fixture *f = *state;

    f->m.tsc = 1000;
    wrmsr(f, 0x10, 0x100000000ULL);
    expect_ok(f, 2);
    f->m.tsc = 1500;
    rdmsr(f, 0x10);
    assert_int_equal(edx_eax(f), 0x100000000ULL + 500);
    CODE(f, 0x0F, 0x31); /* rdtsc sees the same counter */
    expect_ok(f, 2);
    assert_int_equal(edx_eax(f), 0x100000000ULL + 500);
}

/* ---- unknown instructions, unsupported modes, fetch ---- */

static void test_undefined_opcodes(void **state)
{
    struct fixture *f = *state;

    CODE(f, 0x0F, 0x0B); /* ud2 */
    expect_fault(f, VEC_UD, 0);
    CODE(f, 0x0F, 0xFF, 0x00); /* ud0 */
    expect_fault(f, VEC_UD, 0);
    CODE(f, 0x0F, 0x05); /* syscall: #UD in legacy mode on Intel */
    expect_fault(f, VEC_UD, 0);
    CODE(f, 0xF2, 0x0F, 0x7C, 0xC1); /* haddps: SSE3, not on this CPU */
    expect_fault(f, VEC_UD, 0);
    CODE(f, 0x0F, 0x01, 0xC1); /* vmcall */
    expect_fault(f, VEC_UD, 0);
    CODE(f, 0xF0, 0xFA); /* lock cli */
    expect_fault(f, VEC_UD, 0);
    CODE(f, 0x0F, 0x20, 0xC0 | (5 << 3)); /* mov eax, cr5 */
    expect_fault(f, VEC_UD, 0);
}

static void test_not_emulated_and_modes(void **state)
{
    struct fixture *f = *state;

    CODE(f, 0x50); /* push eax: the translator's job */
    assert_int_equal(exec(f), EMUL_UNSUPPORTED);
    assert_non_null(strstr(f->why, "push"));
    assert_non_null(strstr(f->why, "50"));
    assert_non_null(strstr(f->why, "00010000"));

    f->cpu.cr0 &= ~CR0_PE;
    assert_int_equal(exec(f), EMUL_UNSUPPORTED);
    assert_non_null(strstr(f->why, "real mode"));
    assert_non_null(strstr(f->why, "push (50)")); /* decoded as 16-bit code */
    f->cpu.cr0 |= CR0_PE;

    f->cpu.eflags |= EFLAGS_VM;
    assert_int_equal(exec(f), EMUL_UNSUPPORTED);
    assert_non_null(strstr(f->why, "virtual-8086"));
    f->cpu.eflags &= ~EFLAGS_VM;

    cache_from_gdt(&f->m, &f->cpu.seg[SEG_CS], SEL_CODE16);
    f->cpu.eip = 0x100;
    assert_int_equal(exec(f), EMUL_UNSUPPORTED);
    assert_non_null(strstr(f->why, "16-bit"));
}

static void test_fetch(void **state)
{
    struct fixture *f = *state;

    /* EIP beyond the CS limit. */
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_CS], SEL_CODE0_SMALL);
    f->cpu.eip = 0x1000;
    expect_fault(f, VEC_GP, 0);
    /* An instruction crossing the CS limit. */
    f->cpu.eip = 0xFFF;
    CODE(f, 0x0F);
    expect_fault(f, VEC_GP, 0);
    /* A one-byte instruction ending at the limit is fine. */
    CODE(f, 0xFA); /* cli */
    expect_ok(f, 1);

    /* A one-byte instruction at a page end does not touch the next page... */
    fixture_free(f);
    fixture_init(f);
    f->m.fault_page_enabled = true;
    f->m.fault_page = 0x12000;
    f->cpu.eip = 0x11FFF;
    CODE(f, 0xFB); /* sti */
    expect_ok(f, 1);
    /* ... but one that continues there faults on it, as a fetch. */
    f->cpu.eip = 0x11FFE;
    CODE(f, 0x0F, 0x01); /* lgdt [eax] continues with 0x10 on the next page */
    expect_fault(f, VEC_PF, 0x10);
    assert_int_equal(f->fault.fault_address, 0x12000);

    /* More than 15 bytes: #GP(0). */
    f->m.fault_page_enabled = false;
    f->cpu.eip = CODE_BASE;
    memset(f->m.mem + CODE_BASE, 0x66, 15);
    f->m.mem[CODE_BASE + 15] = 0xFA;
    expect_fault(f, VEC_GP, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lgdt_lidt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lgdt_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sgdt_sidt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_far_jmp_direct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_far_jmp_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_far_jmp_conforming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mov_to_data_segment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mov_to_data_segment_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mov_ss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mov_from_sreg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_push_pop_sreg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_in_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_io_privilege, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ins_outs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rep_ins_fault_midway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_sti, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pushf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_popf_privilege, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hlt, setup, teardown),
        cmocka_unit_test(test_cpuid_leaves),
        cmocka_unit_test_setup_teardown(test_cpuid_insn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rdtsc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mov_cr0, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mov_cr234, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clts_lmsw_smsw, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invlpg_invd_wbinvd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mov_dr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msrs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tsc_msr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_undefined_opcodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_emulated_and_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
