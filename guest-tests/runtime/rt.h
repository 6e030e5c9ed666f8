/*
 * guest-tests/runtime/rt.h — the freestanding runtime every guest-test kernel
 * links: boot state, COM1 console, printf, checks, descriptor tables,
 * exception handlers and exit through QEMU's isa-debug-exit port.
 *
 * Invariants the runtime keeps for tests:
 *  - flat segments: CS=0x08, DS=ES=FS=GS=SS=0x10 (base 0, limit 4 GiB) when
 *    main() is entered and whenever a handler runs (DS/ES are reloaded on
 *    exception entry, the interrupted values come back on iret);
 *  - EFLAGS.IF=0 and DF=0 at main(); nothing in the runtime enables
 *    interrupts;
 *  - output is byte-exact: what a test prints is what reaches COM1, no "\r".
 *
 * A test is:
 *
 *     #include "rt.h"
 *     int main(const struct multiboot_info *mbi)
 *     {
 *         CHECK(1 + 1 == 2, "addition works");
 *         CHECK_EQ(answer(), 42, "answer()");
 *         rt_finish();          // prints PASS or FAIL (<n> failures), exits
 *     }
 */
#ifndef GUEST_RT_H
#define GUEST_RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "multiboot.h"

/* ---- boot --------------------------------------------------------------- */

/* Machine state captured by _start before the runtime changes anything
 * (Multiboot 0.6.96 §3.2 lists what a loader must guarantee). */
struct rt_boot_state {
    uint32_t eax; /* must be MULTIBOOT_BOOTLOADER_MAGIC */
    uint32_t ebx; /* physical address of the multiboot_info */
    uint32_t esp;
    uint32_t eflags;
    uint32_t cr0;
    uint32_t cs, ds, es, fs, gs, ss; /* selectors, zero-extended */
};
extern struct rt_boot_state rt_boot;

/* The test's entry point. `mbi` is NULL when the loader's magic was wrong. */
int main(const struct multiboot_info *mbi);

/* True when the multiboot command line contains the word "verbose": tests
 * may then print details that are too long (or loader-specific) for golden
 * files. Never true under the harness. */
extern bool rt_verbose;

/* The command line, or "" when the loader gave none. */
const char *rt_cmdline(void);
bool rt_cmdline_has_word(const char *word);

/* ---- exit --------------------------------------------------------------- */

#define RT_DEBUG_EXIT_PORT 0xF4
/* Exit codes (QEMU turns code c into process status (c << 1) | 1). */
#define RT_EXIT_PASS       0
#define RT_EXIT_FAIL       1
#define RT_EXIT_UNEXPECTED 2 /* unhandled exception */

/* Drains COM1, writes `code` to the isa-debug-exit port, then halts with
 * interrupts off in case no such device exists. */
__attribute__((noreturn)) void rt_exit(int code);

/* Waits until COM1 has sent everything written so far (before a test ends
 * the machine some other way, e.g. ACPI soft-off). */
void rt_drain(void);

/* ---- console and formatting ---------------------------------------------- */

void rt_putc(char c);
void rt_write(const char *s, size_t n);
void rt_puts(const char *s); /* like libc puts: appends "\n" */
int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rt_vprintf(const char *fmt, va_list ap);
int rt_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int rt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);

/* ---- checks -------------------------------------------------------------- */

/* Prints "ok   <message>" or "FAIL <message>" and counts failures. */
void rt_check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "ok   <message> = 0x<got>" or
 * "FAIL <message> = 0x<got>, expected 0x<want>". */
void rt_check_eq(uint64_t got, uint64_t want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Counts a failure and prints "FAIL <message>" without a condition. */
void rt_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define CHECK(cond, ...)         rt_check(!!(cond), __VA_ARGS__)
#define CHECK_EQ(got, want, ...) rt_check_eq((uint64_t)(got), (uint64_t)(want), __VA_ARGS__)

unsigned rt_failures(void);
/* Prints "PASS" or "FAIL (<n> failures)" and exits with 0 or 1. */
__attribute__((noreturn)) void rt_finish(void);

/* ---- descriptor tables ---------------------------------------------------- */

/* GDT layout (runtime/entry.S). Selectors from RT_SEL_FIRST_FREE up to
 * (RT_GDT_ENTRIES - 1) * 8 are free for tests. */
#define RT_SEL_KCODE      0x08
#define RT_SEL_KDATA      0x10
#define RT_SEL_UCODE      0x18 /* DPL 3; use with RPL 3: 0x1b */
#define RT_SEL_UDATA      0x20 /* DPL 3; use with RPL 3: 0x23 */
#define RT_SEL_TSS        0x28
#define RT_SEL_FIRST_FREE 0x30
#define RT_GDT_ENTRIES    16

/* Access byte (SDM Vol. 3A §3.4.5): P, DPL, S, type. */
#define RT_ACC_P        0x80
#define RT_ACC_DPL(n)   ((n) << 5)
#define RT_ACC_S        0x10 /* code or data, not system */
#define RT_ACC_CODE     0x08
#define RT_ACC_CONFORM  0x04 /* code */
#define RT_ACC_READ     0x02 /* code: readable */
#define RT_ACC_EXPDOWN  0x04 /* data */
#define RT_ACC_WRITE    0x02 /* data: writable */
#define RT_ACC_ACCESSED 0x01
#define RT_ACC_TSS32    0x09 /* available 32-bit TSS, with S = 0 */
/* Flags nibble: G (4 KiB granularity), D/B (32-bit). */
#define RT_FLAG_G       0x8
#define RT_FLAG_DB      0x4

/* Writes GDT entry `selector >> 3`. `limit` is the raw 20-bit field. Does
 * not reload any segment register. */
void rt_set_gdt_entry(unsigned selector, uint32_t base, uint32_t limit, uint8_t access,
                      uint8_t flags);
uint64_t rt_get_gdt_entry(unsigned selector);

/* The 32-bit TSS (SDM Vol. 3A §7.2.1), used for ring-3 → ring-0 stack
 * switches. */
struct rt_tss {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2;
    uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap_base;
};
extern struct rt_tss rt_tss;
/* Installs rt_tss at RT_SEL_TSS with ss0 = RT_SEL_KDATA and the given esp0,
 * and loads TR (the descriptor is rewritten as available first, so calling
 * it again does not raise #GP for a busy TSS). */
void rt_load_tss(uint32_t esp0);

/* ---- exceptions and interrupts ------------------------------------------ */

/* What the common stub (entry.S) saves, lowest address first. A handler may
 * change any field except esp_pushad (popad ignores it) and the CPU restores
 * the result with iret. user_esp/user_ss exist only when the interrupted
 * code ran at ring 3 ((cs & 3) != 0). */
struct rt_frame {
    uint32_t gs, fs, es, ds;
    uint32_t edi, esi, ebp, esp_pushad, ebx, edx, ecx, eax;
    uint32_t vector;
    uint32_t error_code; /* 0 for vectors without one (the stub pushes it) */
    uint32_t eip, cs, eflags;
    uint32_t user_esp, user_ss;
};
typedef void (*rt_handler_fn)(struct rt_frame *frame);

/* Installs (or with NULL removes) the handler for a vector. Vectors without
 * a handler print "unexpected exception <vec> err=0x<err> eip=0x<eip>" and
 * exit with RT_EXIT_UNEXPECTED. */
void rt_set_handler(unsigned vector, rt_handler_fn fn);

/* Rewrites the attribute byte of an IDT gate (SDM Vol. 3A §6.11): P, DPL and
 * the gate type. Default is RT_GATE_INTR (interrupt gate, DPL 0, present). */
#define RT_GATE_INTR 0x8E
#define RT_GATE_TRAP 0x8F
void rt_set_gate_attr(unsigned vector, uint8_t attr);

/* ---- instruction wrappers ------------------------------------------------- */

struct __attribute__((packed)) rt_dtr {
    uint16_t limit;
    uint32_t base;
};

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* The 8259A pair at the PC's ports. */
#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xA0
#define PIC2_DATA 0xA1
#define PIC_EOI   0x20 /* OCW2: non-specific end of interrupt */

/* Initializes both 8259As for protected mode as a PC BIOS's successor
 * does (ICW1-4: edge triggered, cascaded on IRQ 2, IRQ 0-7 at vectors
 * 0x20-0x27 and IRQ 8-15 at 0x28-0x2F, 8086 mode), then masks them
 * (OCW1: a set bit masks that IRQ). */
void rt_pic_init(uint8_t master_mask, uint8_t slave_mask);

#define RT_DEFINE_CR(n)                                   \
    static inline uint32_t read_cr##n(void)               \
    {                                                     \
        uint32_t v;                                       \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v)); \
        return v;                                         \
    }
RT_DEFINE_CR(0)
RT_DEFINE_CR(2)
RT_DEFINE_CR(3)
RT_DEFINE_CR(4)
#undef RT_DEFINE_CR

static inline void write_cr0(uint32_t v)
{
    __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline void write_cr3(uint32_t v)
{
    __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline void write_cr4(uint32_t v)
{
    __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

static inline uint32_t read_eflags(void)
{
    uint32_t v;
    __asm__ volatile("pushfl; popl %0" : "=r"(v));
    return v;
}

static inline void write_eflags(uint32_t v)
{
    __asm__ volatile("pushl %0; popfl" : : "r"(v) : "memory", "cc");
}

static inline void lgdt(const struct rt_dtr *d)
{
    __asm__ volatile("lgdt %0" : : "m"(*d));
}

static inline void lidt(const struct rt_dtr *d)
{
    __asm__ volatile("lidt %0" : : "m"(*d));
}

static inline void sgdt(struct rt_dtr *d)
{
    __asm__ volatile("sgdt %0" : "=m"(*d));
}

static inline void sidt(struct rt_dtr *d)
{
    __asm__ volatile("sidt %0" : "=m"(*d));
}

static inline void ltr(uint16_t sel)
{
    __asm__ volatile("ltr %0" : : "r"(sel) : "memory");
}

static inline void cli(void)
{
    __asm__ volatile("cli" : : : "memory");
}

static inline void sti(void)
{
    __asm__ volatile("sti" : : : "memory");
}

static inline void hlt(void)
{
    __asm__ volatile("hlt" : : : "memory");
}

/* EFLAGS bits (SDM Vol. 1 §3.4.3). */
#define EFLAGS_CF    (1u << 0)
#define EFLAGS_BIT1  (1u << 1) /* reads as 1 */
#define EFLAGS_PF    (1u << 2)
#define EFLAGS_AF    (1u << 4)
#define EFLAGS_ZF    (1u << 6)
#define EFLAGS_SF    (1u << 7)
#define EFLAGS_TF    (1u << 8)
#define EFLAGS_IF    (1u << 9)
#define EFLAGS_DF    (1u << 10)
#define EFLAGS_OF    (1u << 11)
#define EFLAGS_NT    (1u << 14)
#define EFLAGS_RF    (1u << 16)
#define EFLAGS_VM    (1u << 17)
#define EFLAGS_AC    (1u << 18)
#define EFLAGS_ARITH (EFLAGS_CF | EFLAGS_PF | EFLAGS_AF | EFLAGS_ZF | EFLAGS_SF | EFLAGS_OF)

#define CR0_PE (1u << 0)
#define CR0_PG (1u << 31)

/* ---- freestanding libc subset (runtime/string.c) ------------------------ */

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif
