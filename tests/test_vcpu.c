/*
 * tests/test_vcpu.c — the vCPU's saved state (monitor/vcpu.c): every
 * architectural field round-trips through the state file, the TSC goes on
 * from the guest's count on a host whose TSC reads otherwise, and states
 * the monitor cannot run (virtual-8086, real mode, PAE) are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "monitor/vcpu.h"
#include "tests/snapshot_rig.h"

/* A state with a different value in every field. */
static void fill(struct vcpu_state *s)
{
    uint32_t v = 0x01020304;

    memset(s, 0, sizeof(*s));
    for (unsigned i = 0; i < REG_COUNT; i++)
        s->regs[i] = v += 0x1111;
    s->eip = 0xC0101234;
    s->eflags = EFLAGS_FIXED1 | EFLAGS_IF | EFLAGS_ZF | EFLAGS_IOPL;
    for (unsigned i = 0; i < SEG_COUNT; i++)
        s->seg[i] = (struct segment_cache){(uint16_t)(0x10 + 8 * i), 0x1000u * i, 0xFFFFF + i,
                                           SEG_ATTR_P | SEG_ATTR_S | SEG_ATTR_DB | i};
    s->ldtr = (struct segment_cache){0x48, 0xC1000000, 0xFF, SEG_ATTR_P | 0x2};
    s->tr = (struct segment_cache){0x80, 0xC2000000, 0x67, SEG_ATTR_P | 0xB};
    s->gdtr = (struct descriptor_table_reg){0xC1234000, 0xFF};
    s->idtr = (struct descriptor_table_reg){0xC1235000, 0x7FF};
    s->cr0 = CR0_PE | CR0_PG | CR0_WP | CR0_ET | CR0_NE;
    s->cr2 = 0xB7001234;
    s->cr3 = 0x01234000;
    s->cr4 = CR4_PSE | CR4_PGE | CR4_OSFXSR;
    for (unsigned i = 0; i < 8; i++)
        s->dr[i] = 0x100 * i + 1;
    s->sysenter_cs = 0x60;
    s->sysenter_esp = 0xC1FFF000;
    s->sysenter_eip = 0xC1000100;
    s->apic_base = 0xFEE00900;
    s->misc_enable = 1;
    s->msr_pat = 0x0007040600070406ull;
    s->tsc_offset = 1000; /* guest TSC = host + 1000 */
    s->interrupt_shadow = 1;
}

static void test_save_restore(void **state)
{
    struct vcpu_state a, b;
    struct snap_section s;

    (void)state;
    fill(&a);
    struct snap_writer *w = rig_snap_begin("cpu", VCPU_STATE_VERSION);
    vcpu_state_save(&a, 50000, w); /* the guest's TSC read 51000 */
    struct snap_rig snap = rig_snap_finish(w);
    memset(&b, 0, sizeof(b)); /* as `a` (fill): padding compares equal */
    rig_snap_open(&snap, "cpu", VCPU_STATE_VERSION, &s);
    assert_true(vcpu_state_load(&b, 7000000, &s)); /* another host's TSC */
    rig_snap_close(&snap, &s);
    assert_true(7000000 + b.tsc_offset == 51000); /* it goes on from 51000 */
    b.tsc_offset = a.tsc_offset;
    assert_memory_equal(&a.regs, &b.regs, sizeof(a.regs));
    assert_int_equal(b.eip, a.eip);
    assert_int_equal(b.eflags, a.eflags);
    for (unsigned i = 0; i < SEG_COUNT; i++) {
        assert_int_equal(b.seg[i].selector, a.seg[i].selector);
        assert_int_equal(b.seg[i].base, a.seg[i].base);
        assert_int_equal(b.seg[i].limit, a.seg[i].limit);
        assert_int_equal(b.seg[i].attr, a.seg[i].attr);
    }
    assert_int_equal(b.ldtr.base, a.ldtr.base);
    assert_int_equal(b.tr.selector, a.tr.selector);
    assert_int_equal(b.gdtr.base, a.gdtr.base);
    assert_int_equal(b.idtr.limit, a.idtr.limit);
    assert_int_equal(b.cr0, a.cr0);
    assert_int_equal(b.cr2, a.cr2);
    assert_int_equal(b.cr3, a.cr3);
    assert_int_equal(b.cr4, a.cr4);
    assert_memory_equal(b.dr, a.dr, sizeof(a.dr));
    assert_int_equal(b.sysenter_esp, a.sysenter_esp);
    assert_true(b.apic_base == a.apic_base && b.msr_pat == a.msr_pat &&
                b.misc_enable == a.misc_enable);
    assert_int_equal(b.interrupt_shadow, a.interrupt_shadow);
    assert_memory_equal(&b, &a, sizeof(a)); /* and every field the lines above leave out */
}

/* States popek cannot run, and a short section, are refused. */
static void test_load_refused(void **state)
{
    struct vcpu_state a, b;
    struct snap_section s;
    const struct {
        uint32_t eflags_or, cr0_clear, cr4_or;
        const char *why;
    } bad[] = {
        {EFLAGS_VM, 0, 0, "virtual-8086"},
        {0, CR0_PE, 0, "protected mode"},
        {0, 0, CR4_PAE, "PAE"},
    };

    (void)state;
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fill(&a);
        a.eflags |= bad[i].eflags_or;
        a.cr0 &= ~bad[i].cr0_clear;
        a.cr4 |= bad[i].cr4_or;
        struct snap_writer *w = rig_snap_begin("cpu", VCPU_STATE_VERSION);
        vcpu_state_save(&a, 0, w);
        struct snap_rig snap = rig_snap_finish(w);
        rig_snap_open(&snap, "cpu", VCPU_STATE_VERSION, &s);
        rig_snap_expect_refused(&snap, &s, vcpu_state_load(&b, 0, &s));
        assert_non_null(strstr(snap.err.message, bad[i].why));
    }
    struct snap_rig snap = rig_snap_raw("cpu", VCPU_STATE_VERSION, "\x01\x02", 2);
    rig_snap_open(&snap, "cpu", VCPU_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, vcpu_state_load(&b, 0, &s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_restore),
        cmocka_unit_test(test_load_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
