/*
 * tests/test_emul_interrupts.c — event delivery and return (emul/
 * interrupts.c): INT n, INT3, INTO, INT1, IRET, emul_deliver_event() for
 * external interrupts and exceptions, the TSS stack switch, every gate and
 * stack check with its vector and error code, #DF escalation and the triple
 * fault.
 */
#include "test_emul_env.h"

#define HANDLER(v) (0x30000u + (v))

/* IDT of these tests (on top of the standard machine). */
static void build_idt(struct fake_machine *m)
{
    put_idt_gate(m, 0x80, SEL_CODE0, 0x20000, 0xF, 3, true);      /* trap gate, DPL 3 */
    put_idt_gate(m, 0x81, SEL_CODE0, 0x21000, 0xE, 0, true);      /* interrupt gate, DPL 0 */
    put_idt_gate(m, 0x82, SEL_CODE0, 0x22000, 0xE, 3, false);     /* not present */
    put_idt_gate(m, 0x83, SEL_TSS, 0, 0x5, 3, true);              /* task gate */
    put_idt_gate(m, 0x84, SEL_CODE0, 0x2400, 0x6, 3, true);       /* 16-bit interrupt gate */
    put_idt_gate(m, 0x85, 0, 0x25000, 0xE, 3, true);              /* null selector */
    put_idt_gate(m, 0x86, SEL_DATA0, 0x26000, 0xE, 3, true);      /* data segment */
    put_idt_gate(m, 0x87, SEL_CODE_NP, 0x27000, 0xE, 3, true);    /* code not present */
    put_idt_gate(m, 0x88, SEL_CODE0, 0x28000, 0x1E, 3, true);     /* S = 1: not a gate */
    put_idt_gate(m, 0x89, SEL_CODE0_SMALL, 0x2000, 0xE, 3, true); /* EIP beyond the limit */
    put_idt_gate(m, 0x8A, SEL_CODE3, 0x2A000, 0xE, 3, true);      /* handler DPL 3 */
    put_idt_gate(m, 0x8B, SEL_CODE_CONF, 0x2B000, 0xE, 3, true);  /* conforming handler */
    put_idt_gate(m, 0x8C, SEL_CODE1 & ~3, 0x2C000, 0xE, 3, true); /* ring-1 handler */
    put_idt_gate(m, VEC_DB, SEL_CODE0, HANDLER(VEC_DB), 0xE, 0, true);
    put_idt_gate(m, VEC_BP, SEL_CODE0, HANDLER(VEC_BP), 0xF, 3, true);
    put_idt_gate(m, VEC_OF, SEL_CODE0, HANDLER(VEC_OF), 0xF, 3, true);
    put_idt_gate(m, VEC_DF, SEL_CODE0, HANDLER(VEC_DF), 0xE, 0, true);
    put_idt_gate(m, VEC_NP, SEL_CODE0, HANDLER(VEC_NP), 0xE, 0, true);
    put_idt_gate(m, VEC_GP, SEL_CODE0, HANDLER(VEC_GP), 0xE, 0, true);
    put_idt_gate(m, VEC_PF, SEL_CODE0, HANDLER(VEC_PF), 0xE, 0, true);
}

static int setup(void **state)
{
    struct fixture *f = malloc(sizeof(*f));

    fixture_init(f);
    build_idt(&f->m);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    free(*state);
    return 0;
}

static enum emul_status deliver(struct fixture *f, enum emul_event_kind kind, uint8_t vector,
                                bool has_error_code, uint32_t error_code)
{
    return emul_deliver_event(&f->cpu, &f->env, kind, vector, has_error_code, error_code, f->why,
                              sizeof(f->why));
}

/* ---- INT n ---- */

static void test_int_same_privilege(void **state)
{
    struct fixture *f = *state;
    uint32_t flags = EFLAGS_FIXED1 | EFLAGS_IF | EFLAGS_TF | EFLAGS_CF | EFLAGS_NT | EFLAGS_RF;

    f->cpu.eflags = flags;
    f->cpu.interrupt_shadow = EMUL_SHADOW_STI;
    CODE(f, 0xCD, 0x80);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, 0x20000);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE0);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 12);
    assert_int_equal(stack_dword(f, 0), CODE_BASE + 2);
    assert_int_equal(stack_dword(f, 1), SEL_CODE0);
    assert_int_equal(stack_dword(f, 2), flags);
    /* Trap gate: IF kept; TF, NT, RF cleared. */
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | EFLAGS_IF | EFLAGS_CF);
    assert_int_equal(f->cpu.interrupt_shadow, 0);

    /* An interrupt gate clears IF too. */
    CODE(f, 0xCD, 0x81);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, 0x21000);
    assert_false(f->cpu.eflags & EFLAGS_IF);
}

static void test_int_gate_dpl(void **state)
{
    struct fixture *f = *state;

    enter_ring3(f);
    CODE(f, 0xCD, 0x81); /* gate DPL 0 < CPL 3 */
    expect_fault(f, VEC_GP, 0x81 * 8 + 2);
}

static void test_int_from_ring3_and_iret_back(void **state)
{
    struct fixture *f = *state;
    uint32_t flags = EFLAGS_FIXED1 | EFLAGS_IF | EFLAGS_ZF;

    enter_ring3(f);
    f->cpu.eflags = flags;
    CODE(f, 0xCD, 0x80);
    expect_ok(f, 0);
    /* CPL 0 on the ring-0 stack from the TSS. */
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE0);
    assert_int_equal(f->cpu.seg[SEG_SS].selector, SEL_DATA0);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 20);
    assert_int_equal(stack_dword(f, 0), CODE_BASE + 2);
    assert_int_equal(stack_dword(f, 1), SEL_CODE3);
    assert_int_equal(stack_dword(f, 2), flags);
    assert_int_equal(stack_dword(f, 3), STACK3_TOP);
    assert_int_equal(stack_dword(f, 4), SEL_DATA3);
    assert_true(gdt_hi(&f->m, SEL_DATA0) & (1u << 8)); /* SS accessed */

    /* The handler loads a ring-0 DS and keeps ES = 0x23, FS conforming code. */
    vcpu_load_flat_segment(&f->cpu, SEG_DS, SEL_DATA0, false);
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_FS], SEL_CODE_CONF);
    CODE(f, 0xCF); /* iretd */
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, CODE_BASE + 2);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE3);
    assert_int_equal(f->cpu.seg[SEG_SS].selector, SEL_DATA3);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK3_TOP);
    assert_int_equal(f->cpu.eflags, flags);
    /* DS (DPL 0 < CPL 3) is nulled; ES (DPL 3) and FS (conforming) stay. */
    assert_int_equal(f->cpu.seg[SEG_DS].selector, 0);
    assert_false(f->cpu.seg[SEG_DS].attr & SEG_ATTR_P);
    assert_int_equal(f->cpu.seg[SEG_ES].selector, SEL_DATA3);
    assert_int_equal(f->cpu.seg[SEG_FS].selector, SEL_CODE_CONF);
}

static void test_int_to_ring1_and_conforming(void **state)
{
    struct fixture *f = *state;

    enter_ring3(f);
    CODE(f, 0xCD, 0x8C);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE1);
    assert_int_equal(f->cpu.seg[SEG_SS].selector, SEL_DATA1);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK1_TOP - 20);

    /* A conforming handler runs at the caller's CPL on the caller's stack. */
    enter_ring3(f);
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xCD, 0x8B);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.seg[SEG_CS].selector, SEL_CODE_CONF | 3);
    assert_int_equal(f->cpu.seg[SEG_SS].selector, SEL_DATA3);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK3_TOP - 12);
}

static void test_int_gate_faults(void **state)
{
    struct fixture *f = *state;

    CODE(f, 0xCD, 0x82);
    expect_fault(f, VEC_NP, 0x82 * 8 + 2);
    CODE(f, 0xCD, 0x85);
    expect_fault(f, VEC_GP, 0);
    CODE(f, 0xCD, 0x86);
    expect_fault(f, VEC_GP, SEL_DATA0);
    CODE(f, 0xCD, 0x87);
    expect_fault(f, VEC_NP, SEL_CODE_NP);
    CODE(f, 0xCD, 0x88);
    expect_fault(f, VEC_GP, 0x88 * 8 + 2);
    CODE(f, 0xCD, 0x89);
    expect_fault(f, VEC_GP, 0);
    CODE(f, 0xCD, 0x8A); /* handler DPL 3 > CPL 0 */
    expect_fault(f, VEC_GP, SEL_CODE3 & ~3);
    CODE(f, 0xCD, 0x90); /* an empty IDT entry */
    expect_fault(f, VEC_GP, 0x90 * 8 + 2);

    CODE(f, 0xCD, 0x83);
    assert_int_equal(exec(f), EMUL_UNSUPPORTED);
    assert_non_null(strstr(f->why, "task gate"));
    CODE(f, 0xCD, 0x84);
    assert_int_equal(exec(f), EMUL_UNSUPPORTED);
    assert_non_null(strstr(f->why, "16-bit"));

    /* Beyond the IDT limit. */
    f->cpu.idtr.limit = 0x80 * 8 + 7;
    CODE(f, 0xCD, 0x81);
    expect_fault(f, VEC_GP, 0x81 * 8 + 2);
}

static void test_int_tss_faults(void **state)
{
    struct fixture *f = *state;

    enter_ring3(f);
    CODE(f, 0xCD, 0x80);
    put16(&f->m, TSS_BASE + 8, 0);
    expect_fault(f, VEC_TS, 0);
    put16(&f->m, TSS_BASE + 8, SEL_DATA3);
    expect_fault(f, VEC_TS, SEL_DATA3 & ~3);
    put16(&f->m, TSS_BASE + 8, SEL_DATA3 & ~3); /* RPL 0 but DPL 3 */
    expect_fault(f, VEC_TS, SEL_DATA3 & ~3);
    put16(&f->m, TSS_BASE + 8, SEL_DATA_RO);
    expect_fault(f, VEC_TS, SEL_DATA_RO);
    put16(&f->m, TSS_BASE + 8, 0x400);
    expect_fault(f, VEC_TS, 0x400);
    put16(&f->m, TSS_BASE + 8, SEL_DATA_NP);
    expect_fault(f, VEC_SS, SEL_DATA_NP);
    put16(&f->m, TSS_BASE + 8, SEL_DATA0_SMALL);
    put32(&f->m, TSS_BASE + 4, 0x10); /* no room for 20 bytes */
    expect_fault(f, VEC_SS, SEL_DATA0_SMALL);

    put16(&f->m, TSS_BASE + 8, SEL_DATA0);
    put32(&f->m, TSS_BASE + 4, STACK0_TOP);
    f->cpu.tr.limit = 8; /* ESP0/SS0 at 4..11 */
    expect_fault(f, VEC_TS, SEL_TSS);
    f->cpu.tr.limit = 0x67;

    /* A page fault on the ring-0 stack: a supervisor write. */
    f->m.fault_page_enabled = true;
    f->m.fault_page = STACK0_TOP - 0x1000;
    expect_fault(f, VEC_PF, 2);
    assert_int_equal(f->fault.fault_address, STACK0_TOP - 4);
    f->m.fault_page_enabled = false;

    f->cpu.tr.attr = (f->cpu.tr.attr & ~0xFu) | 0x3; /* 16-bit TSS */
    assert_int_equal(exec(f), EMUL_UNSUPPORTED);
}

static void test_int3_into_int1(void **state)
{
    struct fixture *f = *state;

    enter_ring3(f);
    CODE(f, 0xCC);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, HANDLER(VEC_BP));
    assert_int_equal(stack_dword(f, 0), CODE_BASE + 1);

    enter_ring3(f);
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xCE); /* into, OF = 0: nothing */
    expect_ok(f, 1);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK3_TOP);
    CODE(f, 0xCE);
    f->cpu.eflags |= EFLAGS_OF;
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, HANDLER(VEC_OF));
    assert_int_equal(stack_dword(f, 0), CODE_BASE + 2);

    /* INT1 ignores the gate DPL (0 here). */
    enter_ring3(f);
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xF1);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, HANDLER(VEC_DB));
    assert_int_equal(stack_dword(f, 0), CODE_BASE + 1);
    /* ... and INT 1 does not. */
    enter_ring3(f);
    f->cpu.eip = CODE_BASE;
    CODE(f, 0xCD, 0x01);
    expect_fault(f, VEC_GP, 1 * 8 + 2);
}

/* ---- IRET ---- */

static void push_frame(struct fixture *f, const uint32_t *words, unsigned n, unsigned size)
{
    f->cpu.regs[REG_ESP] -= n * size;
    for (unsigned i = 0; i < n; i++)
        memcpy(f->m.mem + f->cpu.seg[SEG_SS].base + f->cpu.regs[REG_ESP] + i * size, &words[i],
               size);
}

static void test_iret_same_level(void **state)
{
    struct fixture *f = *state;
    uint32_t frame[3] = {0x12345, SEL_CODE0, EFLAGS_CF | EFLAGS_IF | EFLAGS_IOPL | (1u << 19)};

    push_frame(f, frame, 3, 4);
    CODE(f, 0xCF);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, 0x12345);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP);
    assert_int_equal(f->cpu.eflags,
                     EFLAGS_FIXED1 | EFLAGS_CF | EFLAGS_IF | EFLAGS_IOPL | (1u << 19));

    /* 16-bit IRET: three words. */
    uint32_t frame16[3] = {0x2345, SEL_CODE0, EFLAGS_ZF};
    push_frame(f, frame16, 3, 2);
    CODE(f, 0x66, 0xCF);
    expect_ok(f, 0);
    assert_int_equal(f->cpu.eip, 0x2345);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP);
    assert_int_equal(f->cpu.eflags & 0xFFFF, EFLAGS_FIXED1 | EFLAGS_ZF);
    assert_true(f->cpu.eflags & (1u << 19)); /* bits 31:16 untouched */
}

static void test_iret_eflags_at_ring3(void **state)
{
    struct fixture *f = *state;
    uint32_t frame[3] = {0x12345, SEL_CODE3, EFLAGS_IOPL | EFLAGS_DF | EFLAGS_AC};

    enter_ring3(f);
    f->cpu.eflags = EFLAGS_FIXED1 | EFLAGS_IF;
    push_frame(f, frame, 3, 4);
    CODE(f, 0xCF);
    expect_ok(f, 0);
    /* CPL 3 > IOPL 0: IF and IOPL kept. */
    assert_int_equal(f->cpu.eflags, EFLAGS_FIXED1 | EFLAGS_IF | EFLAGS_DF | EFLAGS_AC);
}

static void test_iret_faults(void **state)
{
    struct fixture *f = *state;
    uint32_t frame[5] = {0x12345, 0, EFLAGS_FIXED1, STACK3_TOP, SEL_DATA3};

    CODE(f, 0xCF);
    push_frame(f, frame, 5, 4);
    expect_fault(f, VEC_GP, 0); /* null CS */
    f->m.mem[STACK0_TOP - 16] = SEL_DATA0;
    expect_fault(f, VEC_GP, SEL_DATA0);
    f->m.mem[STACK0_TOP - 16] = SEL_CODE_NP;
    expect_fault(f, VEC_NP, SEL_CODE_NP);
    f->m.mem[STACK0_TOP - 16] = SEL_CODE_CONF | 3; /* conforming DPL 0 <= RPL 3: outer return */
    put32(&f->m, STACK0_TOP - 4, SEL_DATA0);       /* SS RPL 0 != 3 */
    expect_fault(f, VEC_GP, SEL_DATA0);
    put32(&f->m, STACK0_TOP - 4, 0);
    expect_fault(f, VEC_GP, 0);
    put32(&f->m, STACK0_TOP - 4, SEL_DATA_RO | 3);
    expect_fault(f, VEC_GP, SEL_DATA_RO);
    f->m.mem[STACK0_TOP - 16] = SEL_CODE3;
    put32(&f->m, STACK0_TOP - 4, SEL_DATA3);
    put32(&f->m, STACK0_TOP - 20, 0x12345); /* fine now */
    f->m.mem[STACK0_TOP - 16] = SEL_CODE0_SMALL;
    expect_fault(f, VEC_GP, 0); /* EIP beyond the limit */

    f->m.mem[STACK0_TOP - 16] = SEL_CODE3;
    /* NT=1: a task return through the TSS back link (SDM vol. 2, IRET). A
     * null link, one with TI=1, or one naming an available (not busy) TSS
     * is #TS(link); a busy TSS would be a real task switch, not modelled. */
    f->cpu.eflags |= EFLAGS_NT;
    put32(&f->m, TSS_BASE, 0);
    expect_fault(f, VEC_TS, 0);
    put32(&f->m, TSS_BASE, 0x0C);
    expect_fault(f, VEC_TS, 0x0C);
    put32(&f->m, TSS_BASE, SEL_TSS);
    expect_fault(f, VEC_TS, SEL_TSS);
    put32(&f->m, TSS_BASE, SEL_TSS_BUSY);
    assert_int_equal(exec(f), EMUL_UNSUPPORTED);
    assert_non_null(strstr(f->why, "task switch"));
    put32(&f->m, TSS_BASE, 0);
    f->cpu.eflags &= ~EFLAGS_NT;

    put32(&f->m, STACK0_TOP - 12, EFLAGS_VM | EFLAGS_FIXED1);
    assert_int_equal(exec(f), EMUL_UNSUPPORTED);
    assert_non_null(strstr(f->why, "virtual-8086"));

    /* Too little stack: #SS(0). */
    cache_from_gdt(&f->m, &f->cpu.seg[SEG_SS], SEL_DATA0_SMALL);
    f->cpu.regs[REG_ESP] = 0xFF8;
    expect_fault(f, VEC_SS, 0);

    /* From CPL 3, returning to CPL 0: #GP(selector). */
    enter_ring3(f);
    uint32_t up[3] = {0x12345, SEL_CODE0, EFLAGS_FIXED1};
    push_frame(f, up, 3, 4);
    expect_fault(f, VEC_GP, SEL_CODE0);
}

/* ---- emul_deliver_event ---- */

static void test_deliver_external(void **state)
{
    struct fixture *f = *state;

    enter_ring3(f);
    f->cpu.eflags |= EFLAGS_IF;
    /* Vector 0x81 has DPL 0: no check for hardware interrupts. */
    assert_int_equal(deliver(f, EMUL_EVENT_EXTERNAL, 0x81, false, 0), EMUL_OK);
    assert_int_equal(f->cpu.eip, 0x21000);
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 20);
    assert_int_equal(stack_dword(f, 0), CODE_BASE); /* EIP as it was */
    assert_false(f->cpu.eflags & EFLAGS_IF);
}

static void test_deliver_exception_error_code(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(deliver(f, EMUL_EVENT_EXCEPTION, VEC_GP, true, 0x1234), EMUL_OK);
    assert_int_equal(f->cpu.eip, HANDLER(VEC_GP));
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 16);
    assert_int_equal(stack_dword(f, 0), 0x1234);
    assert_int_equal(stack_dword(f, 1), CODE_BASE);
    assert_int_equal(stack_dword(f, 2), SEL_CODE0);
}

static void test_deliver_fault_has_ext_bit(void **state)
{
    struct fixture *f = *state;

    /* An external interrupt through a not-present gate: #NP(vector*8 + 2 + EXT),
     * delivered after it (benign first event). */
    assert_int_equal(deliver(f, EMUL_EVENT_EXTERNAL, 0x82, false, 0), EMUL_OK);
    assert_int_equal(f->cpu.eip, HANDLER(VEC_NP));
    assert_int_equal(stack_dword(f, 0), 0x82 * 8 + 2 + 1);

    /* #UD (benign) through an empty gate: #GP(6*8 + 2 + EXT), delivered. */
    fixture_free(f);
    fixture_init(f);
    build_idt(&f->m);
    assert_int_equal(deliver(f, EMUL_EVENT_EXCEPTION, VEC_UD, false, 0), EMUL_OK);
    assert_int_equal(f->cpu.eip, HANDLER(VEC_GP)); /* empty gate 6: #GP(6*8+2+1) */
    assert_int_equal(stack_dword(f, 0), VEC_UD * 8 + 2 + 1);
}

static void test_double_fault(void **state)
{
    struct fixture *f = *state;

    /* #GP through a not-present gate: #NP, contributory on contributory: #DF. */
    put_idt_gate(&f->m, VEC_GP, SEL_CODE0, HANDLER(VEC_GP), 0xE, 0, false);
    assert_int_equal(deliver(f, EMUL_EVENT_EXCEPTION, VEC_GP, true, 0), EMUL_OK);
    assert_int_equal(f->cpu.eip, HANDLER(VEC_DF));
    assert_int_equal(f->cpu.regs[REG_ESP], STACK0_TOP - 16);
    assert_int_equal(stack_dword(f, 0), 0);

    /* #PF then #NP: #DF. */
    fixture_free(f);
    fixture_init(f);
    build_idt(&f->m);
    put_idt_gate(&f->m, VEC_PF, SEL_CODE0, HANDLER(VEC_PF), 0xE, 0, false);
    assert_int_equal(deliver(f, EMUL_EVENT_EXCEPTION, VEC_PF, true, 2), EMUL_OK);
    assert_int_equal(f->cpu.eip, HANDLER(VEC_DF));

    /* #NP then #PF (contributory, then page fault) is no #DF: the #PF is
     * delivered next; it needs the same absent ring-0 stack: #PF on #PF is
     * #DF, which needs it too: shutdown. CR2 holds the address. */
    fixture_free(f);
    fixture_init(f);
    build_idt(&f->m);
    enter_ring3(f);
    f->m.fault_page_enabled = true;
    f->m.fault_page = STACK0_TOP - 0x1000;
    put_idt_gate(&f->m, VEC_NP, SEL_CODE0, HANDLER(VEC_NP), 0xE, 3, true);
    assert_int_equal(deliver(f, EMUL_EVENT_EXCEPTION, VEC_NP, true, 0), EMUL_TRIPLE_FAULT);
    assert_int_equal(f->cpu.cr2, STACK0_TOP - 4);
}

static void test_triple_fault(void **state)
{
    struct fixture *f = *state;
    struct vcpu_state before;

    put_idt_gate(&f->m, VEC_GP, SEL_CODE0, HANDLER(VEC_GP), 0xE, 0, false);
    put_idt_gate(&f->m, VEC_DF, SEL_CODE0, HANDLER(VEC_DF), 0xE, 0, false);
    before = f->cpu;
    assert_int_equal(deliver(f, EMUL_EVENT_EXCEPTION, VEC_GP, true, 0), EMUL_TRIPLE_FAULT);
    assert_memory_equal(&before, &f->cpu, sizeof(before));
}

static void test_page_fault_in_idt_sets_cr2(void **state)
{
    struct fixture *f = *state;

    /* Move the IDT so that gates 0x80 and up lie in an absent page. */
    f->cpu.idtr.base = 0x7C00;
    put_gate(&f->m, 0x7C00 + VEC_PF * 8, SEL_CODE0, HANDLER(VEC_PF), 0xE, 0, true, 0);
    f->m.fault_page_enabled = true;
    f->m.fault_page = 0x8000;
    assert_int_equal(deliver(f, EMUL_EVENT_EXTERNAL, 0x80, false, 0), EMUL_OK);
    assert_int_equal(f->cpu.eip, HANDLER(VEC_PF));
    assert_int_equal(f->cpu.cr2, 0x8000);
    assert_int_equal(stack_dword(f, 0), 0); /* supervisor read, not present */
}

static void test_deliver_unsupported(void **state)
{
    struct fixture *f = *state;

    f->cpu.cr0 &= ~CR0_PE;
    assert_int_equal(deliver(f, EMUL_EVENT_EXTERNAL, 0x80, false, 0), EMUL_UNSUPPORTED);
    assert_non_null(strstr(f->why, "real-mode"));
    f->cpu.cr0 |= CR0_PE;
    assert_int_equal(deliver(f, EMUL_EVENT_EXTERNAL, 0x83, false, 0), EMUL_UNSUPPORTED);
    assert_non_null(strstr(f->why, "task gate"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_int_same_privilege, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_gate_dpl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_from_ring3_and_iret_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_to_ring1_and_conforming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_gate_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int_tss_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_int3_into_int1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iret_same_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iret_eflags_at_ring3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_iret_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_external, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_exception_error_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_fault_has_ext_bit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_double_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_triple_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_fault_in_idt_sets_cr2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliver_unsupported, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
