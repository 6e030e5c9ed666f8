/*
 * guest-tests/runtime/rt.c — the C half of the guest-test runtime: COM1,
 * checks and exit, descriptor tables, exception dispatch, and rt_entry(),
 * which _start (entry.S) calls once the stack and segments are ours.
 *
 * Output goes to the 16550A at 0x3F8 by polling, one byte at a time, with no
 * newline translation: the harness compares it byte for byte with a golden
 * file, so the runtime must never print anything a loader or CPU model could
 * make differ (addresses of loader data, timing, ...).
 */
#include "rt.h"

/* ---- COM1, 16550A (datasheet register map; DLAB is LCR bit 7) ---------- */

#define COM1     0x3F8
#define UART_THR 0 /* transmit holding register (DLAB=0, write) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1 /* interrupt enable (DLAB=0) */
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_FCR 2 /* FIFO control (write) */
#define UART_LCR 3 /* line control */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */

#define LCR_8N1       0x03
#define LCR_DLAB      0x80
#define FCR_ENABLE    0x01
#define FCR_CLEAR_RX  0x02
#define FCR_CLEAR_TX  0x04
#define MCR_DTR_RTS   0x03
#define LSR_THRE      0x20 /* transmit holding register empty */
#define LSR_TEMT      0x40 /* transmitter completely empty */
#define POLL_ATTEMPTS 1000000

static void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00); /* no interrupts: we poll */
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DLL, 1); /* 115200 baud */
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, LCR_8N1);
    outb(COM1 + UART_FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX);
    outb(COM1 + UART_MCR, MCR_DTR_RTS);
}

/* Bounded so that a UART model that never sets THRE costs time, not a hang. */
static void serial_wait(uint8_t bit)
{
    for (int i = 0; i < POLL_ATTEMPTS; i++) {
        if (inb(COM1 + UART_LSR) & bit)
            return;
    }
}

void rt_putc(char c)
{
    serial_wait(LSR_THRE);
    outb(COM1 + UART_THR, (uint8_t)c);
}

void rt_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rt_putc(s[i]);
}

void rt_puts(const char *s)
{
    rt_write(s, strlen(s));
    rt_putc('\n');
}

/* ---- exit ------------------------------------------------------------------ */

void rt_drain(void)
{
    serial_wait(LSR_TEMT);
}

void rt_exit(int code)
{
    rt_drain();
    outb(RT_DEBUG_EXIT_PORT, (uint8_t)code);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* ---- checks ----------------------------------------------------------------- */

static unsigned failures;

static void check_line(bool ok, const char *tail, const char *fmt, va_list ap)
{
    rt_write(ok ? "ok   " : "FAIL ", 5);
    rt_vprintf(fmt, ap);
    if (tail)
        rt_write(tail, strlen(tail));
    rt_putc('\n');
    if (!ok)
        failures++;
}

void rt_check(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    check_line(ok, NULL, fmt, ap);
    va_end(ap);
}

void rt_check_eq(uint64_t got, uint64_t want, const char *fmt, ...)
{
    char tail[64];
    va_list ap;
    if (got == want)
        rt_snprintf(tail, sizeof(tail), " = 0x%llx", (unsigned long long)got);
    else
        rt_snprintf(tail, sizeof(tail), " = 0x%llx, expected 0x%llx", (unsigned long long)got,
                    (unsigned long long)want);
    va_start(ap, fmt);
    check_line(got == want, tail, fmt, ap);
    va_end(ap);
}

void rt_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    check_line(false, NULL, fmt, ap);
    va_end(ap);
}

unsigned rt_failures(void)
{
    return failures;
}

void rt_finish(void)
{
    if (failures == 0) {
        rt_puts("PASS");
        rt_exit(RT_EXIT_PASS);
    }
    rt_printf("FAIL (%u failures)\n", failures);
    rt_exit(RT_EXIT_FAIL);
}

/* ---- GDT and TSS ------------------------------------------------------------- */

extern uint64_t rt_gdt[RT_GDT_ENTRIES];
struct rt_tss rt_tss;

void rt_set_gdt_entry(unsigned selector, uint32_t base, uint32_t limit, uint8_t access,
                      uint8_t flags)
{
    /* Descriptor layout: SDM Vol. 3A Figure 3-8. */
    uint64_t d = (limit & 0xFFFFu) | ((uint64_t)(base & 0xFFFFFFu) << 16) |
                 ((uint64_t)access << 40) | ((uint64_t)((limit >> 16) & 0xF) << 48) |
                 ((uint64_t)(flags & 0xF) << 52) | ((uint64_t)(base >> 24) << 56);
    unsigned index = selector >> 3;
    if (index == 0 || index >= RT_GDT_ENTRIES) {
        rt_printf("rt_set_gdt_entry: selector 0x%x outside the GDT\n", selector);
        rt_exit(RT_EXIT_FAIL);
    }
    rt_gdt[index] = d;
}

uint64_t rt_get_gdt_entry(unsigned selector)
{
    return rt_gdt[(selector >> 3) % RT_GDT_ENTRIES];
}

void rt_load_tss(uint32_t esp0)
{
    rt_tss.ss0 = RT_SEL_KDATA;
    rt_tss.esp0 = esp0;
    rt_tss.iomap_base = sizeof(rt_tss); /* no I/O bitmap */
    rt_set_gdt_entry(RT_SEL_TSS, (uint32_t)&rt_tss, sizeof(rt_tss) - 1, RT_ACC_P | RT_ACC_TSS32, 0);
    ltr(RT_SEL_TSS);
}

/* ---- IDT and exception dispatch ----------------------------------------------- */

extern const uint32_t rt_isr_stubs[256];
static uint64_t idt[256] __attribute__((aligned(8)));
static rt_handler_fn handlers[256];
static unsigned dispatch_depth;

static void set_gate(unsigned vector, uint8_t attr)
{
    /* Interrupt/trap gate layout: SDM Vol. 3A Figure 6-2. */
    uint32_t off = rt_isr_stubs[vector];
    idt[vector] = (off & 0xFFFFu) | ((uint64_t)RT_SEL_KCODE << 16) | ((uint64_t)attr << 40) |
                  ((uint64_t)(off >> 16) << 48);
}

void rt_set_gate_attr(unsigned vector, uint8_t attr)
{
    set_gate(vector & 0xFF, attr);
}

void rt_set_handler(unsigned vector, rt_handler_fn fn)
{
    handlers[vector & 0xFF] = fn;
}

static void idt_init(void)
{
    static struct rt_dtr idtr;
    for (unsigned v = 0; v < 256; v++)
        set_gate(v, RT_GATE_INTR);
    idtr.limit = sizeof(idt) - 1;
    idtr.base = (uint32_t)idt;
    lidt(&idtr);
}

void rt_dispatch_exception(struct rt_frame *f);

void rt_dispatch_exception(struct rt_frame *f)
{
    /* Pushes of segment registers may leave the upper half of the stack slot
     * unmodified on recent CPUs (SDM Vol. 2B, PUSH), and CS is padded the
     * same way on exception entry: keep handlers' view CPU-independent. */
    f->gs &= 0xFFFF;
    f->fs &= 0xFFFF;
    f->es &= 0xFFFF;
    f->ds &= 0xFFFF;
    f->cs &= 0xFFFF;
    if (f->cs & 3)
        f->user_ss &= 0xFFFF;

    rt_handler_fn fn = handlers[f->vector & 0xFF];
    if (fn == NULL || dispatch_depth > 0) {
        rt_printf("unexpected exception %u err=0x%x eip=0x%x%s\n", f->vector, f->error_code, f->eip,
                  dispatch_depth > 0 ? " (inside a handler)" : "");
        rt_exit(RT_EXIT_UNEXPECTED);
    }
    dispatch_depth++;
    fn(f);
    dispatch_depth--;
}

/* ---- boot ---------------------------------------------------------------------- */

bool rt_verbose;
static const char *cmdline = "";

const char *rt_cmdline(void)
{
    return cmdline;
}

bool rt_cmdline_has_word(const char *word)
{
    size_t n = strlen(word);
    for (const char *p = cmdline; *p; p++) {
        bool starts = p == cmdline || p[-1] == ' ';
        if (starts && strncmp(p, word, n) == 0 && (p[n] == '\0' || p[n] == ' '))
            return true;
    }
    return false;
}

void rt_entry(void);

void rt_entry(void)
{
    const struct multiboot_info *mbi = NULL;

    serial_init();
    idt_init();
    if (rt_boot.eax == MULTIBOOT_BOOTLOADER_MAGIC) {
        mbi = (const struct multiboot_info *)rt_boot.ebx;
        if ((mbi->flags & MULTIBOOT_INFO_CMDLINE) && mbi->cmdline != 0)
            cmdline = (const char *)mbi->cmdline;
    } else {
        rt_printf("runtime: bad multiboot magic 0x%x\n", rt_boot.eax);
    }
    rt_verbose = rt_cmdline_has_word("verbose");
    rt_exit(main(mbi));
}

void rt_pic_init(uint8_t master_mask, uint8_t slave_mask)
{
    static const uint8_t icw[][2] = {
        {PIC1_CMD, 0x11}, {PIC1_DATA, 0x20}, {PIC1_DATA, 0x04}, {PIC1_DATA, 0x01},
        {PIC2_CMD, 0x11}, {PIC2_DATA, 0x28}, {PIC2_DATA, 0x02}, {PIC2_DATA, 0x01},
    };
    for (unsigned i = 0; i < sizeof(icw) / sizeof(icw[0]); i++)
        outb(icw[i][0], icw[i][1]);
    outb(PIC1_DATA, master_mask);
    outb(PIC2_DATA, slave_mask);
}
