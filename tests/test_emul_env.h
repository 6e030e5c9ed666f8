/*
 * tests/test_emul_env.h — the fake machine the emul/ unit tests run on: a
 * flat 16 MiB array as linear memory (paging off), one injectable "not
 * present" page, a port bus that records every access, a settable TSC, and
 * recorders for the CR/INVLPG callbacks. Plus a standard protected-mode set-
 * up: GDT, IDT, TSS and LDT at fixed addresses with the descriptors below.
 *
 * Header-only so that every tests/test_emul_*.c program can include it.
 */
#ifndef POPEK_TESTS_TEST_EMUL_ENV_H
#define POPEK_TESTS_TEST_EMUL_ENV_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emul/emul.h"

#define FAKE_MEM_SIZE (16u << 20)

/* Layout of the standard machine. */
#define GDT_BASE   0x1000u
#define IDT_BASE   0x2000u
#define TSS_BASE   0x3000u
#define LDT_BASE   0x4000u
#define DATA_AREA  0x5000u
#define CODE_BASE  0x10000u
#define STACK0_TOP 0x80000u /* ring-0 stack (TSS ESP0) */
#define STACK1_TOP 0x70000u /* ring-1 stack (TSS ESP1) */
#define STACK3_TOP 0x90000u /* ring-3 stack */

/* GDT selectors of the standard machine. */
enum {
    SEL_CODE0 = 0x08,       /* flat 32-bit code, DPL 0, execute/read, not yet accessed */
    SEL_DATA0 = 0x10,       /* flat data, DPL 0, read/write, not yet accessed */
    SEL_CODE3 = 0x1B,       /* flat code, DPL 3 */
    SEL_DATA3 = 0x23,       /* flat data, DPL 3, not yet accessed */
    SEL_TSS = 0x28,         /* 32-bit TSS, available in memory (TR caches it busy) */
    SEL_LDT = 0x30,         /* LDT at LDT_BASE, 4 entries */
    SEL_DATA_NP = 0x38,     /* data DPL 0, not present */
    SEL_DATA_RO = 0x40,     /* read-only data DPL 0 */
    SEL_CODE_XO = 0x48,     /* execute-only code DPL 0 */
    SEL_CODE_CONF = 0x50,   /* conforming readable code DPL 0 */
    SEL_CALLGATE3 = 0x58,   /* 32-bit call gate DPL 3 -> SEL_CODE0:GATE_TARGET, 2 params */
    SEL_CODE1 = 0x61,       /* flat code DPL 1 (RPL 1) */
    SEL_DATA1 = 0x69,       /* flat data DPL 1 (RPL 1) */
    SEL_DATA3_SMALL = 0x73, /* data DPL 3, limit 0xFFF, base 0 */
    SEL_DATA0_SMALL = 0x78, /* data DPL 0, limit 0xFFF, base 0 */
    SEL_CODE0_SMALL = 0x80, /* code DPL 0, limit 0xFFF, base 0 */
    SEL_CODE_NP = 0x88,     /* code DPL 0, not present */
    SEL_CALLGATE0 = 0x90,   /* 32-bit call gate DPL 0 -> SEL_CODE0:GATE_TARGET */
    SEL_CALLGATE_NP = 0x98, /* 32-bit call gate DPL 3, not present */
    SEL_EXPDOWN = 0xA0,     /* expand-down data DPL 0, limit 0xFFF, B=1 */
    SEL_CODE16 = 0xA8,      /* 16-bit code DPL 0 */
    SEL_TSS_BUSY = 0xB0,    /* 32-bit TSS, busy */
    GDT_ENTRIES = 23,
};
#define GATE_TARGET 0x30000u

struct fake_io {
    io_port_t port;
    unsigned size;
    uint32_t value;
    bool write;
};

struct fake_machine {
    uint8_t *mem;
    struct vcpu_state *cpu; /* for callbacks that look at the committed state */
    /* One page that faults (#PF, not present) when fault_page_enabled. */
    bool fault_page_enabled;
    guest_linear_t fault_page;
    /* Port bus. */
    struct fake_io io[256];
    unsigned nio;
    uint32_t port_in_value;
    /* TSC. */
    uint64_t tsc;
    /* Callbacks seen. */
    unsigned cr_writes;
    unsigned last_crn;
    uint32_t last_cr_old;
    uint32_t cr_value_seen; /* cpu->crN at the time of the callback */
    unsigned invlpgs;
    guest_linear_t last_invlpg;
    unsigned ram_address_calls;
    unsigned buffer_clears;
};

static inline bool fake_faults(struct fake_machine *m, guest_linear_t addr, unsigned len,
                               guest_linear_t *at)
{
    for (unsigned i = 0; i < len; i++) {
        guest_linear_t a = addr + i;

        if (a >= FAKE_MEM_SIZE || (m->fault_page_enabled && (a & ~0xFFFu) == m->fault_page)) {
            *at = a;
            return true;
        }
    }
    return false;
}

/* #PF error code (SDM vol. 3, §4.7): P=0, W/R, U/S, I/D. */
static inline void fake_page_fault(struct emul_fault *fault, guest_linear_t at,
                                   enum emul_access access, unsigned cpl)
{
    bool system = access == EMUL_ACCESS_SYSTEM_READ || access == EMUL_ACCESS_SYSTEM_WRITE;
    bool write = access == EMUL_ACCESS_WRITE || access == EMUL_ACCESS_SYSTEM_WRITE;

    fault->vector = VEC_PF;
    fault->has_error_code = true;
    fault->error_code = (write ? 2u : 0u) | ((!system && cpl == 3) ? 4u : 0u) |
                        (access == EMUL_ACCESS_FETCH ? 16u : 0u);
    fault->fault_address = at;
}

static inline bool fake_read(void *opaque, guest_linear_t addr, void *buf, unsigned len,
                             enum emul_access access, unsigned cpl, struct emul_fault *fault)
{
    struct fake_machine *m = opaque;
    guest_linear_t at;

    if (fake_faults(m, addr, len, &at)) {
        fake_page_fault(fault, at, access, cpl);
        return false;
    }
    memcpy(buf, m->mem + addr, len);
    return true;
}

static inline bool fake_write(void *opaque, guest_linear_t addr, const void *buf, unsigned len,
                              enum emul_access access, unsigned cpl, struct emul_fault *fault)
{
    struct fake_machine *m = opaque;
    guest_linear_t at;

    if (fake_faults(m, addr, len, &at)) {
        fake_page_fault(fault, at, access, cpl);
        return false;
    }
    memcpy(m->mem + addr, buf, len);
    return true;
}

static inline uint32_t fake_port_in(void *opaque, io_port_t port, unsigned size)
{
    struct fake_machine *m = opaque;

    if (m->nio < 256)
        m->io[m->nio++] = (struct fake_io){port, size, m->port_in_value, false};
    return m->port_in_value++;
}

static inline void fake_port_out(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct fake_machine *m = opaque;

    if (m->nio < 256)
        m->io[m->nio++] = (struct fake_io){port, size, value, true};
}

static inline uint64_t fake_read_tsc(void *opaque)
{
    return ((struct fake_machine *)opaque)->tsc;
}

static inline void fake_cr_written(void *opaque, unsigned crn, uint32_t old_value)
{
    struct fake_machine *m = opaque;
    const struct vcpu_state *c = m->cpu;

    m->cr_writes++;
    m->last_crn = crn;
    m->last_cr_old = old_value;
    m->cr_value_seen = crn == 0 ? c->cr0 : crn == 3 ? c->cr3 : c->cr4;
}

static inline void fake_invlpg(void *opaque, guest_linear_t addr)
{
    struct fake_machine *m = opaque;

    m->invlpgs++;
    m->last_invlpg = addr;
}

/* Linear is physical; the faulting page and what lies past memory are not
 * RAM to the bulk string path. */
static inline bool fake_ram_address(void *opaque, guest_linear_t addr, enum emul_access access,
                                    unsigned cpl, uint64_t *phys)
{
    struct fake_machine *m = opaque;

    (void)access;
    (void)cpl;
    m->ram_address_calls++;
    if (addr >= FAKE_MEM_SIZE || (m->fault_page_enabled && (addr & ~0xFFFu) == m->fault_page))
        return false;
    *phys = addr;
    return true;
}

static inline void fake_clear_cpu_buffers(void *opaque)
{
    ((struct fake_machine *)opaque)->buffer_clears++;
}

/* ---- descriptors ---- */

static inline void put32(struct fake_machine *m, uint32_t at, uint32_t v)
{
    memcpy(m->mem + at, &v, 4);
}

static inline void put16(struct fake_machine *m, uint32_t at, uint16_t v)
{
    memcpy(m->mem + at, &v, 2);
}

static inline uint32_t get32(const struct fake_machine *m, uint32_t at)
{
    uint32_t v;

    memcpy(&v, m->mem + at, 4);
    return v;
}

static inline uint16_t get16(const struct fake_machine *m, uint32_t at)
{
    uint16_t v;

    memcpy(&v, m->mem + at, 2);
    return v;
}

/* A code/data or system segment descriptor (SDM vol. 3, §3.4.5, figure 3-8). */
static inline void put_seg(struct fake_machine *m, uint32_t at, uint32_t base, uint32_t limit,
                           unsigned type, bool s, unsigned dpl, bool present, bool db, bool g)
{
    uint32_t lo = (limit & 0xFFFF) | (base & 0xFFFF) << 16;
    uint32_t hi = ((base >> 16) & 0xFF) | type << 8 | (unsigned)s << 12 | dpl << 13 |
                  (unsigned)present << 15 | (limit & 0xF0000) | (unsigned)db << 22 |
                  (unsigned)g << 23 | (base & 0xFF000000u);

    put32(m, at, lo);
    put32(m, at + 4, hi);
}

/* A gate descriptor (SDM vol. 3, figures 5-8 and 6-2). */
static inline void put_gate(struct fake_machine *m, uint32_t at, uint16_t sel, uint32_t offset,
                            unsigned type, unsigned dpl, bool present, unsigned params)
{
    put32(m, at, (offset & 0xFFFF) | (uint32_t)sel << 16);
    put32(m, at + 4,
          (offset & 0xFFFF0000u) | type << 8 | dpl << 13 | (unsigned)present << 15 |
              (params & 0x1F));
}

static inline void put_idt_gate(struct fake_machine *m, unsigned vector, uint16_t sel,
                                uint32_t offset, unsigned type, unsigned dpl, bool present)
{
    put_gate(m, IDT_BASE + vector * 8, sel, offset, type, dpl, present, 0);
}

static inline uint32_t gdt_hi(const struct fake_machine *m, uint16_t sel)
{
    return get32(m, GDT_BASE + (sel & ~7u) + 4);
}

/* Loads a segment cache from the GDT as the processor would (no checks). */
static inline void cache_from_gdt(const struct fake_machine *m, struct segment_cache *c,
                                  uint16_t sel)
{
    uint32_t lo = get32(m, GDT_BASE + (sel & ~7u)), hi = get32(m, GDT_BASE + (sel & ~7u) + 4);
    uint32_t limit = (lo & 0xFFFF) | (hi & 0xF0000);

    c->selector = sel;
    c->base = (lo >> 16) | (hi & 0xFF) << 16 | (hi & 0xFF000000u);
    c->limit = (hi & (1u << 23)) ? (limit << 12) | 0xFFF : limit;
    c->attr = (hi >> 8) & 0xF0FF;
}

/* ---- the standard machine ---- */

struct fixture {
    struct fake_machine m;
    struct vcpu_state cpu;
    struct emul_env env;
    struct emul_fault fault;
    char why[256];
};

static inline void build_gdt(struct fake_machine *m)
{
    uint32_t g = GDT_BASE;

    put_seg(m, g + 0x08, 0, 0xFFFFF, 0xA, true, 0, true, true, true);
    put_seg(m, g + 0x10, 0, 0xFFFFF, 0x2, true, 0, true, true, true);
    put_seg(m, g + 0x18, 0, 0xFFFFF, 0xB, true, 3, true, true, true);
    put_seg(m, g + 0x20, 0, 0xFFFFF, 0x2, true, 3, true, true, true);
    put_seg(m, g + 0x28, TSS_BASE, 0x67, 0x9, false, 0, true, false, false);
    put_seg(m, g + 0x30, LDT_BASE, 0x1F, 0x2, false, 0, true, false, false);
    put_seg(m, g + 0x38, 0, 0xFFFFF, 0x3, true, 0, false, true, true);
    put_seg(m, g + 0x40, 0, 0xFFFFF, 0x1, true, 0, true, true, true);
    put_seg(m, g + 0x48, 0, 0xFFFFF, 0x9, true, 0, true, true, true);
    put_seg(m, g + 0x50, 0, 0xFFFFF, 0xF, true, 0, true, true, true);
    put_gate(m, g + 0x58, SEL_CODE0, GATE_TARGET, 0xC, 3, true, 2);
    put_seg(m, g + 0x60, 0, 0xFFFFF, 0xB, true, 1, true, true, true);
    put_seg(m, g + 0x68, 0, 0xFFFFF, 0x3, true, 1, true, true, true);
    put_seg(m, g + 0x70, 0, 0xFFF, 0x3, true, 3, true, true, false);
    put_seg(m, g + 0x78, 0, 0xFFF, 0x3, true, 0, true, true, false);
    put_seg(m, g + 0x80, 0, 0xFFF, 0xB, true, 0, true, true, false);
    put_seg(m, g + 0x88, 0, 0xFFFFF, 0xB, true, 0, false, true, true);
    put_gate(m, g + 0x90, SEL_CODE0, GATE_TARGET, 0xC, 0, true, 0);
    put_gate(m, g + 0x98, SEL_CODE0, GATE_TARGET, 0xC, 3, false, 0);
    put_seg(m, g + 0xA0, 0, 0xFFF, 0x7, true, 0, true, true, false);
    put_seg(m, g + 0xA8, 0, 0xFFFF, 0xB, true, 0, true, false, false);
    put_seg(m, g + 0xB0, TSS_BASE, 0x67, 0xB, false, 0, true, false, false);
}

/* The cpu in flat ring 0 at CODE_BASE, with GDTR, IDTR (256 gates, all
 * absent), TR (the TSS, ESP0/SS0 = STACK0_TOP/SEL_DATA0, ESP1/SS1 =
 * STACK1_TOP/SEL_DATA1, no I/O bitmap). */
static inline void fixture_init(struct fixture *f)
{
    struct fake_machine *m = &f->m;
    struct vcpu_state *cpu = &f->cpu;

    memset(f, 0, sizeof(*f));
    m->mem = calloc(1, FAKE_MEM_SIZE);
    assert_non_null(m->mem);
    m->cpu = cpu;
    m->port_in_value = 0x11223344;
    f->env = (struct emul_env){m,
                               fake_read,
                               fake_write,
                               fake_port_in,
                               fake_port_out,
                               fake_read_tsc,
                               fake_cr_written,
                               fake_invlpg,
                               fake_ram_address,
                               fake_clear_cpu_buffers,
                               NULL};
    build_gdt(m);
    /* TSS: ESP0/SS0, ESP1/SS1 (SDM vol. 3, figure 7-2); I/O map base past the limit. */
    put32(m, TSS_BASE + 4, STACK0_TOP);
    put16(m, TSS_BASE + 8, SEL_DATA0);
    put32(m, TSS_BASE + 12, STACK1_TOP);
    put16(m, TSS_BASE + 16, SEL_DATA1);
    put16(m, TSS_BASE + 0x66, 0x68);

    vcpu_state_reset(cpu);
    emul_reset_model_state(cpu);
    cpu->cr0 = CR0_PE | CR0_ET;
    cpu->eflags = EFLAGS_FIXED1;
    cpu->gdtr.base = GDT_BASE;
    cpu->gdtr.limit = GDT_ENTRIES * 8 - 1;
    cpu->idtr.base = IDT_BASE;
    cpu->idtr.limit = 256 * 8 - 1;
    vcpu_load_flat_segment(cpu, SEG_CS, SEL_CODE0, true);
    for (int s = 0; s < SEG_COUNT; s++)
        if (s != SEG_CS)
            vcpu_load_flat_segment(cpu, (enum vcpu_sreg)s, SEL_DATA0, false);
    cache_from_gdt(m, &cpu->tr, SEL_TSS);
    cpu->tr.attr |= 0x2; /* busy, as after LTR */
    cpu->ldtr.selector = 0;
    cpu->ldtr.attr = 0;
    cpu->regs[REG_ESP] = STACK0_TOP;
    cpu->eip = CODE_BASE;
}

static inline void fixture_free(struct fixture *f)
{
    free(f->m.mem);
}

/* Switches the cpu to flat ring 3 (CS 0x1B, SS/DS/ES/FS/GS 0x23). */
static inline void enter_ring3(struct fixture *f)
{
    vcpu_load_flat_segment(&f->cpu, SEG_CS, SEL_CODE3, true);
    for (int s = 0; s < SEG_COUNT; s++)
        if (s != SEG_CS)
            vcpu_load_flat_segment(&f->cpu, (enum vcpu_sreg)s, SEL_DATA3, false);
    f->cpu.regs[REG_ESP] = STACK3_TOP;
}

/* Writes instruction bytes at CS:EIP. */
static inline void put_code(struct fixture *f, const uint8_t *bytes, size_t n)
{
    memcpy(f->m.mem + f->cpu.seg[SEG_CS].base + f->cpu.eip, bytes, n);
}

#define CODE(f, ...)                                  \
    do {                                              \
        static const uint8_t code_[] = {__VA_ARGS__}; \
        put_code((f), code_, sizeof(code_));          \
    } while (0)

static inline enum emul_status exec(struct fixture *f)
{
    return emul_execute(&f->cpu, &f->env, &f->fault, f->why, sizeof(f->why));
}

/* Runs the instruction expecting a fault with this vector and error code,
 * and checks that the vCPU state is unchanged. */
static inline void expect_fault(struct fixture *f, uint8_t vector, uint32_t error_code)
{
    struct vcpu_state before = f->cpu;
    enum emul_status st = exec(f);

    assert_int_equal(st, EMUL_FAULT);
    assert_int_equal(f->fault.vector, vector);
    assert_int_equal(f->fault.error_code, error_code);
    assert_memory_equal(&before, &f->cpu, sizeof(before));
}

/* Runs the instruction expecting completion; EIP must have moved by len
 * (pass 0 to skip that check for branches). */
static inline void expect_ok(struct fixture *f, unsigned len)
{
    uint32_t eip = f->cpu.eip;
    enum emul_status st = exec(f);

    if (st != EMUL_OK)
        print_error("status %d vector %u error %#x why '%s'\n", st, f->fault.vector,
                    f->fault.error_code, f->why);
    assert_int_equal(st, EMUL_OK);
    if (len)
        assert_int_equal(f->cpu.eip, eip + len);
}

static inline uint32_t stack_dword(const struct fixture *f, unsigned index)
{
    return get32(&f->m, f->cpu.seg[SEG_SS].base + f->cpu.regs[REG_ESP] + 4 * index);
}

#endif
