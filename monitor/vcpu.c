/*
 * monitor/vcpu.c — reset state and register dumps of the vCPU (vcpu.h).
 */
#include "monitor/vcpu.h"

#include <string.h>

static const char *const gpr_names[REG_COUNT] = {"EAX", "ECX", "EDX", "EBX",
                                                 "ESP", "EBP", "ESI", "EDI"};
static const char *const sreg_names[SEG_COUNT] = {"ES", "CS", "SS", "DS", "FS", "GS"};

void vcpu_state_reset(struct vcpu_state *s)
{
    memset(s, 0, sizeof(*s));
    /* SDM vol. 3, table 9-1: EFLAGS 2, EIP FFF0, CS F000 base FFFF0000,
     * other segments 0 with limit FFFF, CR0 60000010, EDX the CPU signature. */
    s->eflags = EFLAGS_FIXED1;
    s->eip = 0xFFF0;
    for (int i = 0; i < SEG_COUNT; i++) {
        s->seg[i].limit = 0xFFFF;
        s->seg[i].attr = SEG_ATTR_P | SEG_ATTR_S | 0x3; /* read/write data, accessed */
    }
    s->seg[SEG_CS].selector = 0xF000;
    s->seg[SEG_CS].base = 0xFFFF0000;
    s->seg[SEG_CS].attr = SEG_ATTR_P | SEG_ATTR_S | 0xB; /* execute/read code, accessed */
    s->cr0 = CR0_CD | CR0_NW | CR0_ET;
    s->gdtr.limit = 0xFFFF;
    s->idtr.limit = 0xFFFF;
    s->ldtr.limit = 0xFFFF;
    s->ldtr.attr = SEG_ATTR_P | 0x2;
    s->tr.limit = 0xFFFF;
    s->tr.attr = SEG_ATTR_P | 0xB;
    s->regs[REG_EDX] = 0x000006F1; /* family 6 (P6), see the CPUID leaf 1 signature */
}

void vcpu_load_flat_segment(struct vcpu_state *s, enum vcpu_sreg reg, uint16_t selector, bool code)
{
    struct segment_cache *seg = &s->seg[reg];

    seg->selector = selector;
    seg->base = 0;
    seg->limit = 0xFFFFFFFF;
    /* Type 0xB = execute/read, accessed; 0x3 = read/write, accessed. */
    seg->attr = SEG_ATTR_G | SEG_ATTR_DB | SEG_ATTR_P | SEG_ATTR_S | (code ? 0xB : 0x3) |
                ((selector & 3u) << 5);
}

static void dump_segment(FILE *out, const char *name, const struct segment_cache *seg)
{
    fprintf(out, "%-3s=%04x %08x %08x %08x DPL=%u\n", name, seg->selector, seg->base, seg->limit,
            seg->attr << 8, SEG_ATTR_DPL(seg->attr));
}

void vcpu_state_dump(const struct vcpu_state *s, FILE *out)
{
    for (int i = 0; i < REG_COUNT; i++)
        fprintf(out, "%s=%08x%s", gpr_names[i], s->regs[i], (i % 4 == 3) ? "\n" : " ");
    fprintf(out, "EIP=%08x EFL=%08x [%c%c%c%c%c%c%c] CPL=%u IF=%u\n", s->eip, s->eflags,
            s->eflags & EFLAGS_DF ? 'D' : '-', s->eflags & EFLAGS_OF ? 'O' : '-',
            s->eflags & EFLAGS_SF ? 'S' : '-', s->eflags & EFLAGS_ZF ? 'Z' : '-',
            s->eflags & EFLAGS_AF ? 'A' : '-', s->eflags & EFLAGS_PF ? 'P' : '-',
            s->eflags & EFLAGS_CF ? 'C' : '-', s->seg[SEG_CS].selector & 3u,
            (s->eflags & EFLAGS_IF) ? 1 : 0);
    for (int i = 0; i < SEG_COUNT; i++)
        dump_segment(out, sreg_names[i], &s->seg[i]);
    dump_segment(out, "LDT", &s->ldtr);
    dump_segment(out, "TR", &s->tr);
    fprintf(out, "GDT=     %08x %08x\n", s->gdtr.base, s->gdtr.limit);
    fprintf(out, "IDT=     %08x %08x\n", s->idtr.base, s->idtr.limit);
    fprintf(out, "CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n", s->cr0, s->cr2, s->cr3, s->cr4);
}

/* ---- saved state ---- */

static void segment_save(const struct segment_cache *seg, struct snap_writer *w)
{
    snap_put_u16(w, seg->selector);
    snap_put_u32(w, seg->base);
    snap_put_u32(w, seg->limit);
    snap_put_u32(w, seg->attr);
}

static void segment_load(struct segment_cache *seg, struct snap_section *sec)
{
    seg->selector = snap_get_u16(sec);
    seg->base = snap_get_u32(sec);
    seg->limit = snap_get_u32(sec);
    seg->attr = snap_get_u32(sec);
    snap_check(sec, !(seg->attr & ~0xFFFFu), "descriptor attribute bits that do not exist");
}

void vcpu_state_save(const struct vcpu_state *s, uint64_t host_tsc, struct snap_writer *w)
{
    for (unsigned i = 0; i < REG_COUNT; i++)
        snap_put_u32(w, s->regs[i]);
    snap_put_u32(w, s->eip);
    snap_put_u32(w, s->eflags);
    for (unsigned i = 0; i < SEG_COUNT; i++)
        segment_save(&s->seg[i], w);
    segment_save(&s->ldtr, w);
    segment_save(&s->tr, w);
    snap_put_u32(w, s->gdtr.base);
    snap_put_u16(w, s->gdtr.limit);
    snap_put_u32(w, s->idtr.base);
    snap_put_u16(w, s->idtr.limit);
    snap_put_u32(w, s->cr0);
    snap_put_u32(w, s->cr2);
    snap_put_u32(w, s->cr3);
    snap_put_u32(w, s->cr4);
    for (unsigned i = 0; i < 8; i++)
        snap_put_u32(w, s->dr[i]);
    snap_put_u32(w, s->sysenter_cs);
    snap_put_u32(w, s->sysenter_esp);
    snap_put_u32(w, s->sysenter_eip);
    snap_put_u64(w, s->apic_base);
    snap_put_u64(w, s->misc_enable);
    snap_put_u64(w, s->msr_pat);
    snap_put_u64(w, host_tsc + s->tsc_offset);
    snap_put_u8(w, s->interrupt_shadow);
}

bool vcpu_state_load(struct vcpu_state *s, uint64_t host_tsc, struct snap_section *sec)
{
    for (unsigned i = 0; i < REG_COUNT; i++)
        s->regs[i] = snap_get_u32(sec);
    s->eip = snap_get_u32(sec);
    s->eflags = snap_get_u32(sec);
    snap_check(sec, (s->eflags & EFLAGS_FIXED1) && !(s->eflags & EFLAGS_VM),
               "EFLAGS without its fixed bit, or in virtual-8086 mode");
    for (unsigned i = 0; i < SEG_COUNT; i++)
        segment_load(&s->seg[i], sec);
    segment_load(&s->ldtr, sec);
    segment_load(&s->tr, sec);
    s->gdtr.base = snap_get_u32(sec);
    s->gdtr.limit = snap_get_u16(sec);
    s->idtr.base = snap_get_u32(sec);
    s->idtr.limit = snap_get_u16(sec);
    s->cr0 = snap_get_u32(sec);
    s->cr2 = snap_get_u32(sec);
    s->cr3 = snap_get_u32(sec);
    s->cr4 = snap_get_u32(sec);
    snap_check(sec, (s->cr0 & CR0_PE) && !(s->cr4 & CR4_PAE),
               "a CPU outside 32-bit protected mode without PAE");
    for (unsigned i = 0; i < 8; i++)
        s->dr[i] = snap_get_u32(sec);
    s->sysenter_cs = snap_get_u32(sec);
    s->sysenter_esp = snap_get_u32(sec);
    s->sysenter_eip = snap_get_u32(sec);
    s->apic_base = snap_get_u64(sec);
    s->misc_enable = snap_get_u64(sec);
    s->msr_pat = snap_get_u64(sec);
    s->tsc_offset = snap_get_u64(sec) - host_tsc;
    s->interrupt_shadow = snap_get_u8(sec);
    snap_check(sec, s->interrupt_shadow <= 2, "an interrupt shadow out of range");
    return !sec->bad;
}
