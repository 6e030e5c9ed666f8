/*
 * guest-tests/exceptions.c — exceptions raised by instructions at CPL 0:
 * vector, error code and the EIP the CPU pushes (the faulting instruction
 * for faults, the next one for traps), and that a fault leaves the
 * instruction without effect. Covered: #DE (DIV/IDIV/AAM), #BP (INT3 and
 * INT 3), #OF (INTO), #BR (BOUND), #UD (UD2, LOCK misuse, MOV to CS), #NP,
 * #SS and #GP from segment loads and far jumps, #GP from INT n outside the
 * IDT limit, #NP from a not-present gate, and INT n reaching a handler that
 * changes the interrupted registers.
 *
 * Every probe is an asm block that records the addresses of the instruction
 * (label 1) and of the next one (label 2) before executing it. One handler,
 * installed on every vector the probes raise, records the frame and resumes
 * at label 2, so each probe raises at most one exception and then goes on.
 * Error codes follow SDM Vol. 3A §6.13: selector index and TI with RPL
 * cleared, bit 1 (IDT) set when the error refers to a gate, bit 0 (EXT) set
 * when the fault interrupted the delivery of an external event.
 */
#include "rt.h"

uint32_t probe_at, probe_next; /* written by PROBE, read by the handler */

#define PROBE_BEGIN "movl $1f, probe_at\n\tmovl $2f, probe_next\n1:\t"
#define PROBE_END   "\n2:"

struct fault_record {
    unsigned count;
    uint32_t vector, error, eip, cs, eflags;
    uint32_t eax, ebx, ecx, edx, esi, edi, ds;
};
static struct fault_record last;

static void record_and_resume(struct rt_frame *f)
{
    last.count++;
    last.vector = f->vector;
    last.error = f->error_code;
    last.eip = f->eip;
    last.cs = f->cs;
    last.eflags = f->eflags;
    last.eax = f->eax;
    last.ebx = f->ebx;
    last.ecx = f->ecx;
    last.edx = f->edx;
    last.esi = f->esi;
    last.edi = f->edi;
    last.ds = f->ds;
    f->eip = probe_next;
}

static const char *where(uint32_t eip)
{
    return eip == probe_at ? "at" : eip == probe_next ? "after" : "away from";
}

static void expect(const char *what, uint32_t vector, uint32_t error, bool is_trap)
{
    uint32_t want_eip = is_trap ? probe_next : probe_at;
    bool ok = last.count == 1 && last.vector == vector && last.error == error &&
              last.eip == want_eip && last.cs == RT_SEL_KCODE;
    if (last.count == 0)
        rt_check(false, "%s: no exception (expected vector %u)", what, vector);
    else
        rt_check(ok, "%s: vector %u err=0x%x eip %s the instruction%s", what, last.vector,
                 last.error, where(last.eip), last.count > 1 ? " (more than one exception)" : "");
    memset(&last, 0, sizeof(last));
}

static void expect_none(const char *what)
{
    CHECK(last.count == 0, "%s: no exception%s", what, last.count ? " (but one was raised)" : "");
    memset(&last, 0, sizeof(last));
}

/* ---- the probes ------------------------------------------------------------------- */

static void test_divide_errors(void)
{
    uint32_t eax, edx;

    __asm__ volatile(PROBE_BEGIN "divl %%ecx" PROBE_END
                     : "=a"(eax), "=d"(edx)
                     : "a"(1), "d"(0), "c"(0)
                     : "memory", "cc");
    expect("div ecx=0", 0, 0, false);
    CHECK(eax == 1 && edx == 0, "faulting div left eax=%u edx=%u unchanged", eax, edx);

    __asm__ volatile(PROBE_BEGIN "divl %%ecx" PROBE_END
                     : "=a"(eax), "=d"(edx)
                     : "a"(0), "d"(1), "c"(1)
                     : "memory", "cc");
    expect("div quotient 2^32 overflows", 0, 0, false);

    __asm__ volatile(PROBE_BEGIN "idivl %%ecx" PROBE_END
                     : "=a"(eax), "=d"(edx)
                     : "a"(0x80000000), "d"(0xFFFFFFFF), "c"(-1)
                     : "memory", "cc");
    expect("idiv -2^31 / -1 overflows", 0, 0, false);

    __asm__ volatile(PROBE_BEGIN "idivb %%bl" PROBE_END
                     : "=a"(eax)
                     : "a"(0x8000), "b"(0xFF)
                     : "memory", "cc");
    expect("idiv8 -32768 / -1 overflows", 0, 0, false);

    __asm__ volatile(PROBE_BEGIN "aam $0" PROBE_END : "=a"(eax) : "a"(0x1234) : "memory", "cc");
    expect("aam 0", 0, 0, false);
    CHECK(eax == 0x1234, "faulting aam left ax=0x%x", eax);
}

static void test_traps(void)
{
    __asm__ volatile(PROBE_BEGIN "int3" PROBE_END : : : "memory");
    expect("int3 (0xcc)", 3, 0, true);

    __asm__ volatile(PROBE_BEGIN ".byte 0xcd, 0x03" PROBE_END : : : "memory"); /* int $3 */
    expect("int 3 (0xcd 0x03)", 3, 0, true);

    uint32_t eax = 0x7FFFFFFF;
    __asm__ volatile("addl $1, %0\n\t" PROBE_BEGIN "into" PROBE_END : "+r"(eax) : : "memory", "cc");
    expect("into with OF=1", 4, 0, true);

    eax = 1;
    __asm__ volatile("addl $1, %0\n\t" PROBE_BEGIN "into" PROBE_END : "+r"(eax) : : "memory", "cc");
    expect_none("into with OF=0");
}

static void test_bound(void)
{
    static const int32_t bounds[2] = {10, 20};
    static const int32_t values[] = {9, 10, 20, 21, -1};
    for (unsigned i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char what[40];
        int32_t v = values[i];
        __asm__ volatile(PROBE_BEGIN "boundl %0, %1" PROBE_END : : "r"(v), "m"(bounds) : "memory");
        rt_snprintf(what, sizeof(what), "bound %d in [10, 20]", v);
        if (v < 10 || v > 20)
            expect(what, 5, 0, false);
        else
            expect_none(what);
    }
}

static void test_invalid_opcodes(void)
{
    __asm__ volatile(PROBE_BEGIN "ud2" PROBE_END : : : "memory");
    expect("ud2", 6, 0, false);

    __asm__ volatile(PROBE_BEGIN ".byte 0xf0, 0x90" PROBE_END : : : "memory");
    expect("lock nop", 6, 0, false);

    /* lock add ebx, eax: LOCK needs a memory destination (SDM LOCK). */
    __asm__ volatile(PROBE_BEGIN ".byte 0xf0, 0x01, 0xc3" PROBE_END : : : "memory", "ebx", "cc");
    expect("lock add reg, reg", 6, 0, false);

    /* mov cs, ax (8e c8): CS cannot be loaded with MOV. */
    __asm__ volatile(PROBE_BEGIN ".byte 0x8e, 0xc8" PROBE_END : : "a"(RT_SEL_KCODE) : "memory");
    expect("mov cs, ax", 6, 0, false);
}

/* Descriptors for the segment tests (SDM Vol. 3A §3.4.5). */
#define SEL_NP_DATA3   0x30 /* data, DPL 3, not present */
#define SEL_NP_STACK   0x38 /* data, DPL 0, not present */
#define SEL_XONLY_CODE 0x40 /* code, execute-only */
#define SEL_RO_DATA    0x48 /* data, read-only */
#define SEL_NP_CODE    0x50 /* code, not present */

static void setup_descriptors(void)
{
    const uint8_t data = RT_ACC_S | RT_ACC_WRITE | RT_ACC_ACCESSED;
    const uint8_t code = RT_ACC_S | RT_ACC_CODE | RT_ACC_ACCESSED;
    const uint8_t flags = RT_FLAG_G | RT_FLAG_DB;
    rt_set_gdt_entry(SEL_NP_DATA3, 0, 0xFFFFF, data | RT_ACC_DPL(3), flags);
    rt_set_gdt_entry(SEL_NP_STACK, 0, 0xFFFFF, data, flags);
    rt_set_gdt_entry(SEL_XONLY_CODE, 0, 0xFFFFF, RT_ACC_P | code, flags);
    rt_set_gdt_entry(SEL_RO_DATA, 0, 0xFFFFF, RT_ACC_P | RT_ACC_S | RT_ACC_ACCESSED, flags);
    rt_set_gdt_entry(SEL_NP_CODE, 0, 0xFFFFF, code | RT_ACC_READ, flags);
    /* A null LDTR, so that TI=1 selectors are outside every table. */
    __asm__ volatile("lldt %w0" : : "r"(0));
}

#define LOAD_DS(sel) \
    __asm__ volatile(PROBE_BEGIN "movw %w0, %%ds" PROBE_END : : "r"(sel) : "memory")
#define LOAD_SS(sel) \
    __asm__ volatile(PROBE_BEGIN "movw %w0, %%ss" PROBE_END : : "r"(sel) : "memory")

static void test_segment_loads(void)
{
    setup_descriptors();

    LOAD_DS(SEL_NP_DATA3 | 3);
    expect("mov ds, 0x33 (not present, DPL 3)", 11, SEL_NP_DATA3, false);
    LOAD_DS(SEL_NP_STACK);
    expect("mov ds, 0x38 (not present)", 11, SEL_NP_STACK, false);
    LOAD_DS(0x100);
    expect("mov ds, 0x100 (beyond the GDT limit)", 13, 0x100, false);
    LOAD_DS(SEL_XONLY_CODE);
    expect("mov ds, 0x40 (execute-only code)", 13, SEL_XONLY_CODE, false);
    LOAD_DS(0x0C);
    expect("mov ds, 0x0c (TI=1, null LDT)", 13, 0x0C, false);
    /* DPL 3 data is accessible at CPL 0 (max(CPL, RPL) <= DPL): no fault. */
    __asm__ volatile(PROBE_BEGIN "movw %w0, %%ds" PROBE_END "\n\tmovw %w1, %%ds"
                     :
                     : "r"(RT_SEL_UDATA | 3), "r"(RT_SEL_KDATA)
                     : "memory");
    expect_none("mov ds, 0x23 (DPL 3 data at CPL 0)");

    LOAD_SS(SEL_NP_STACK);
    expect("mov ss, 0x38 (not present)", 12, SEL_NP_STACK, false);
    LOAD_SS(0);
    expect("mov ss, 0 (null)", 13, 0, false);
    LOAD_SS(RT_SEL_UDATA);
    expect("mov ss, 0x20 (DPL 3 != CPL)", 13, RT_SEL_UDATA, false);
    LOAD_SS(RT_SEL_KDATA | 3);
    expect("mov ss, 0x13 (RPL 3 != CPL)", 13, RT_SEL_KDATA, false);
    LOAD_SS(SEL_RO_DATA);
    expect("mov ss, 0x48 (read-only data)", 13, SEL_RO_DATA, false);

    __asm__ volatile(PROBE_BEGIN "ljmp $0, $2f" PROBE_END : : : "memory");
    expect("ljmp 0:x (null selector)", 13, 0, false);
    __asm__ volatile(PROBE_BEGIN "ljmp $0x10, $2f" PROBE_END : : : "memory");
    expect("ljmp 0x10:x (data segment)", 13, 0x10, false);
    __asm__ volatile(PROBE_BEGIN "ljmp $0x50, $2f" PROBE_END : : : "memory");
    expect("ljmp 0x50:x (code, not present)", 11, SEL_NP_CODE, false);

    /* Not probed: a memory access through a null FS/GS (#GP(0)) and
     * segment-limit violations. QEMU's TCG does not check either on data
     * accesses, so the oracle would disagree with the SDM. */
}

/* ---- INT n, gates, and the handler's view of the frame -------------------------------- */

static void syscall_like(struct rt_frame *f)
{
    last.count++;
    last.vector = f->vector;
    last.eip = f->eip;
    last.cs = f->cs;
    f->eax = f->eax * 2 + 1; /* the interrupted code sees the result */
}

static void ud_modify(struct rt_frame *f)
{
    record_and_resume(f);
    f->ecx = 0xC0FFEE;
}

static void test_int_n(void)
{
    uint32_t eax = 20;
    rt_set_handler(0x80, syscall_like);
    __asm__ volatile(PROBE_BEGIN "int $0x80" PROBE_END : "+a"(eax) : : "memory");
    CHECK(last.count == 1 && last.vector == 0x80 && last.eip == probe_next && eax == 41,
          "int 0x80: vector 0x%x eip %s the instruction, handler set eax=%u", last.vector,
          where(last.eip), eax);
    memset(&last, 0, sizeof(last));

    /* The frame holds the interrupted registers; changes made to it are
     * what the interrupted code resumes with. */
    uint32_t ebx = 0x1B1B1B1B, ecx = 0x1C1C1C1C, esi = 0x51515151, edi = 0xD1D1D1D1;
    rt_set_handler(6, ud_modify);
    __asm__ volatile(PROBE_BEGIN "ud2" PROBE_END
                     : "+b"(ebx), "+c"(ecx), "+S"(esi), "+D"(edi)
                     :
                     : "memory");
    rt_set_handler(6, record_and_resume);
    CHECK(last.ebx == 0x1B1B1B1B && last.ecx == 0x1C1C1C1C && last.esi == 0x51515151 &&
              last.edi == 0xD1D1D1D1 && last.ds == RT_SEL_KDATA && ecx == 0xC0FFEE &&
              ebx == 0x1B1B1B1B && !(last.eflags & EFLAGS_IF),
          "frame: ebx ecx esi edi ds as interrupted, IF=0; handler's ecx=0x%x resumed", ecx);
    memset(&last, 0, sizeof(last));

    /* A not-present gate: #NP with the gate's number, IDT bit set. */
    rt_set_gate_attr(0x90, RT_GATE_INTR & ~RT_ACC_P);
    __asm__ volatile(PROBE_BEGIN "int $0x90" PROBE_END : : : "memory");
    rt_set_gate_attr(0x90, RT_GATE_INTR);
    expect("int 0x90 with a not-present gate", 11, 0x90 * 8 + 2, false);

    /* The same for INT3: EXT stays 0 for software interrupts (SDM §6.13).
     * Not probed: the same fault during delivery of an exception such as
     * #UD, where the SDM sets EXT (err 0x33 for vector 6) but QEMU does
     * not (0x32); a contributory first exception (#DE) would give #DF. */
    rt_set_gate_attr(3, RT_GATE_INTR & ~RT_ACC_P);
    __asm__ volatile(PROBE_BEGIN "int3" PROBE_END : : : "memory");
    rt_set_gate_attr(3, RT_GATE_INTR);
    expect("int3 with a not-present gate 3", 11, 3 * 8 + 2, false);

    /* A vector beyond the IDT limit: #GP with the vector's number. */
    struct rt_dtr saved, small;
    sidt(&saved);
    small = saved;
    small.limit = 0x40 * 8 - 1;
    lidt(&small);
    __asm__ volatile(PROBE_BEGIN "int $0x50" PROBE_END : : : "memory");
    lidt(&saved);
    expect("int 0x50 beyond an IDT limit of 0x1ff", 13, 0x50 * 8 + 2, false);
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    static const unsigned vectors[] = {0, 3, 4, 5, 6, 11, 12, 13};
    for (unsigned i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
        rt_set_handler(vectors[i], record_and_resume);

    test_divide_errors();
    test_traps();
    test_bound();
    test_invalid_opcodes();
    test_segment_loads();
    test_int_n();
    rt_finish();
}
