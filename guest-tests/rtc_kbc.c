/*
 * guest-tests/rtc_kbc.c — the CMOS RTC (MC146818A) and the 8042 keyboard
 * controller as a guest finds them after the BIOS, probed the way Linux
 * does:
 *
 * - CMOS RAM: the memory sizes for the runners' default 128 MiB,
 *   the equipment byte's FPU and display bits, registers A, B and D;
 * - the clock: a consistent read of the time registers (UIP clear, the
 *   same values twice) holding a valid BCD date whose day of week matches
 *   — only properties are printed, never the time;
 * - the periodic interrupt at 1024 Hz through the slave PIC (vector
 *   0x28), register C's IRQF and PF in the handler, IRQ 8 staying high
 *   (one interrupt only) until C is read;
 * - UIP rising and falling around an update, the seconds moving on, and
 *   register C's UF after it (PF clear with PIE off, as QEMU);
 * - the 8042: command byte, self test, interface tests, input and output
 *   ports, keyboard reset, identify (translated and not), echo and scan
 *   set, the aux loop-back, and IRQ 1 and IRQ 12 through the PIC.
 *
 * Not printed, because QEMU and popek differ on purpose: the floppy bits
 * (QEMU's default machine has a floppy drive), the status register's A2
 * bit (QEMU keeps it at 1), and anything sent to the aux device (QEMU has
 * a mouse there). Every wait is bounded by a poll count: a broken model
 * fails, never hangs.
 */
#include "rt.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA  0x71
#define RTC_A      0x0A
#define RTC_B      0x0B
#define RTC_C      0x0C
#define RTC_D      0x0D
#define RTC_UIP    0x80

#define KBC_DATA     0x60
#define KBC_STATUS   0x64
#define KBC_OBF      0x01
#define KBC_IBF      0x02
#define KBC_SYS      0x04
#define KBC_AUXB     0x20
#define KBC_MAX_READ 8

#define POLL_LIMIT      50000000u /* several seconds of CMOS reads on either runner */
#define KBC_POLL_LIMIT  100000u
#define PERIODIC_WANTED 8
#define HALT_LIMIT      100000u

/* ---- CMOS ---- */

static uint8_t cmos_read(uint8_t index)
{
    outb(CMOS_INDEX, index);
    return inb(CMOS_DATA);
}

static void cmos_write(uint8_t index, uint8_t value)
{
    outb(CMOS_INDEX, index);
    outb(CMOS_DATA, value);
}

static unsigned cmos_word(uint8_t index)
{
    return cmos_read(index) | (unsigned)cmos_read(index + 1) << 8;
}

static bool wait_uip(bool level)
{
    for (uint32_t i = 0; i < POLL_LIMIT; i++) {
        if (!!(cmos_read(RTC_A) & RTC_UIP) == level)
            return true;
    }
    return false;
}

/* Both runners give the guest their default 128 MiB (QEMU's default -m,
 * and popek's). */
#define RAM_MIB 128u

/* Waits for the seconds register to change twice: at least a whole
 * second, without having to catch UIP's 244 us window. */
static bool wait_full_second(void)
{
    for (unsigned changes = 0; changes < 2; changes++) {
        uint8_t start = cmos_read(0x00);
        uint32_t i = 0;

        while (i < POLL_LIMIT && cmos_read(0x00) == start)
            i++;
        if (i == POLL_LIMIT)
            return false;
    }
    return true;
}

static void test_cmos_ram(void)
{
    unsigned ext_kib = (RAM_MIB - 1) * 1024, high = (RAM_MIB - 16) * 16;
    uint8_t equipment = cmos_read(0x14);

    CHECK_EQ(cmos_word(0x15), 640, "base memory (0x15-0x16), KiB");
    CHECK_EQ(cmos_word(0x17), ext_kib > 0xFFFF ? 0xFFFF : ext_kib,
             "extended memory (0x17-0x18), KiB above 1 MiB, capped");
    CHECK_EQ(cmos_word(0x30), ext_kib > 0xFFFF ? 0xFFFF : ext_kib,
             "extended memory again (0x30-0x31)");
    CHECK_EQ(cmos_word(0x34), high, "memory above 16 MiB (0x34-0x35), 64 KiB units");
    CHECK_EQ(cmos_word(0x5B) | (unsigned)cmos_read(0x5D) << 16, 0,
             "memory above 4 GiB (0x5B-0x5D)");
    CHECK_EQ(equipment & 0x02, 0x02, "equipment byte (0x14): FPU present");
    CHECK_EQ(equipment & 0x30, 0x00, "equipment byte (0x14): EGA/VGA display");
    CHECK_EQ(cmos_read(0x0F), 0x00, "shutdown status (0x0F)");
    CHECK_EQ(cmos_read(0x12), 0x00, "hard disk types (0x12)");
    CHECK_EQ(cmos_read(RTC_A) & 0x7F, 0x26, "register A: 32.768 kHz time base, 1024 Hz rate");
    CHECK_EQ(cmos_read(RTC_B), 0x02, "register B: 24-hour BCD, no interrupts");
    CHECK_EQ(cmos_read(RTC_D), 0x80, "register D: VRT");
}

/* ---- the date ---- */

struct rtc_time {
    uint8_t sec, min, hour, weekday, day, month, year, century;
};

static struct rtc_time read_time(void)
{
    struct rtc_time t;

    t.sec = cmos_read(0x00);
    t.min = cmos_read(0x02);
    t.hour = cmos_read(0x04);
    t.weekday = cmos_read(0x06);
    t.day = cmos_read(0x07);
    t.month = cmos_read(0x08);
    t.year = cmos_read(0x09);
    t.century = cmos_read(0x32);
    return t;
}

static bool same_time(const struct rtc_time *a, const struct rtc_time *b)
{
    return a->sec == b->sec && a->min == b->min && a->hour == b->hour && a->weekday == b->weekday &&
           a->day == b->day && a->month == b->month && a->year == b->year &&
           a->century == b->century;
}

static bool bcd_in_range(uint8_t v, unsigned lo, unsigned hi)
{
    unsigned n = (v >> 4) * 10u + (v & 15);

    return (v >> 4) <= 9 && (v & 15) <= 9 && n >= lo && n <= hi;
}

static unsigned from_bcd(uint8_t v)
{
    return (v >> 4) * 10u + (v & 15);
}

static unsigned days_in_month(unsigned year, unsigned month)
{
    static const uint8_t days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

/* 0 = Sunday (Sakamoto's method). */
static unsigned weekday_of(unsigned y, unsigned m, unsigned d)
{
    static const uint8_t t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};

    if (m < 3)
        y--;
    return (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7;
}

/* Linux's mc146818_get_time: wait for UIP to clear, read everything, and
 * read again until two reads agree. */
static void test_date(void)
{
    struct rtc_time t, again;
    bool stable = false, uip_clear = false;

    for (unsigned tries = 0; tries < 10 && !stable; tries++) {
        uip_clear = wait_uip(false);
        t = read_time();
        again = read_time();
        stable = same_time(&t, &again);
    }
    CHECK(uip_clear, "UIP clear before reading the time");
    CHECK(stable, "two reads of the time registers agree");
    CHECK(bcd_in_range(t.sec, 0, 59), "seconds (0x00): BCD 00-59");
    CHECK(bcd_in_range(t.min, 0, 59), "minutes (0x02): BCD 00-59");
    CHECK(bcd_in_range(t.hour, 0, 23), "hours (0x04): BCD 00-23, 24-hour");
    CHECK(bcd_in_range(t.month, 1, 12), "month (0x08): BCD 01-12");
    CHECK(bcd_in_range(t.year, 0, 99), "year (0x09): BCD 00-99");
    CHECK(bcd_in_range(t.century, 20, 99), "century (0x32): BCD 20 or later");
    unsigned year = from_bcd(t.century) * 100 + from_bcd(t.year);
    unsigned month = bcd_in_range(t.month, 1, 12) ? from_bcd(t.month) : 1;
    CHECK(year >= 2024, "the year is 2024 or later");
    CHECK(bcd_in_range(t.day, 1, days_in_month(year, month)), "day (0x07): BCD, within the month");
    CHECK(t.weekday == weekday_of(year, month, from_bcd(t.day)) + 1,
          "day of week (0x06) matches the date (1 = Sunday)");
}

/* ---- the periodic interrupt ---- */

static volatile unsigned periodic_count;
static volatile uint32_t periodic_vector;
static volatile uint8_t periodic_first_c;
static volatile bool handler_reads_c;

static void rtc_handler(struct rt_frame *f)
{
    if (handler_reads_c) {
        uint8_t c = cmos_read(RTC_C);
        if (periodic_count == 0) {
            periodic_first_c = c;
            periodic_vector = f->vector;
        }
    }
    periodic_count++;
    outb(PIC2_CMD, PIC_EOI);
    outb(PIC1_CMD, PIC_EOI);
}

static void test_periodic_interrupt(void)
{
    rt_set_handler(0x28, rtc_handler);
    cmos_read(RTC_C);
    outb(PIC1_DATA, 0xFB);   /* the cascade */
    outb(PIC2_DATA, 0xFE);   /* IRQ 8 */
    cmos_write(RTC_A, 0x26); /* 1024 Hz */
    handler_reads_c = true;
    cmos_write(RTC_B, 0x42); /* PIE */
    uint32_t halts = 0;
    sti();
    while (periodic_count < PERIODIC_WANTED && halts < HALT_LIMIT) {
        hlt();
        halts++;
    }
    cli();
    CHECK(periodic_count >= PERIODIC_WANTED, "at least %u periodic interrupts while halting",
          PERIODIC_WANTED);
    CHECK_EQ(periodic_vector, 0x28, "IRQ 8 arrives at vector");
    CHECK_EQ(periodic_first_c & 0xC0, 0xC0, "register C in the handler: IRQF and PF");

    /* A handler that does not read C gets one interrupt, however long we
     * wait: IRQ 8 stays high, the PIC sees no new edge. A second is 1024
     * periods. (PIE off and the PIC initialised again first:
     * an edge latched since the cli would otherwise add an interrupt.) */
    cmos_write(RTC_B, 0x02);
    rt_pic_init(0xFF, 0xFF);
    outb(PIC1_DATA, 0xFB);
    outb(PIC2_DATA, 0xFE);
    cmos_read(RTC_C);
    handler_reads_c = false;
    periodic_count = 0;
    cmos_write(RTC_B, 0x42);
    sti();
    bool waited = wait_full_second();
    cli();
    CHECK(waited, "a whole second passed (the seconds changed twice)");
    CHECK_EQ(periodic_count, 1, "interrupts while register C goes unread");
    CHECK_EQ(cmos_read(RTC_C) & 0xC0, 0xC0, "register C then: IRQF and PF");
    sti();
    for (uint32_t i = 0; i < POLL_LIMIT && periodic_count < 2; i++)
        __asm__ volatile("pause");
    cli();
    CHECK(periodic_count >= 2, "interrupts resume once C has been read");

    cmos_write(RTC_B, 0x02);
    cmos_read(RTC_C);
    outb(PIC2_DATA, 0xFF);
    outb(PIC1_DATA, 0xFF);
}

/* UIP rises 244 us before an update and falls with it; the seconds have
 * moved on and UF is set (UIE off, so no IRQF; PIE off, so no PF). */
static void test_update_cycle(void)
{
    CHECK(wait_uip(false), "UIP clear");
    uint8_t before = cmos_read(0x00);
    cmos_read(RTC_C);
    CHECK(wait_uip(true), "UIP rises before an update");
    CHECK(wait_uip(false), "UIP falls after it");
    CHECK(cmos_read(0x00) != before, "the seconds moved on");
    CHECK_EQ(cmos_read(RTC_C) & 0xD0, 0x10, "register C after the update (IRQF, PF, UF)");
}

/* ---- the 8042 ---- */

static bool kbc_wait_input_empty(void)
{
    for (uint32_t i = 0; i < KBC_POLL_LIMIT; i++) {
        if (!(inb(KBC_STATUS) & KBC_IBF))
            return true;
    }
    return false;
}

static void kbc_command(uint8_t command)
{
    kbc_wait_input_empty();
    outb(KBC_STATUS, command);
}

static void kbc_data(uint8_t value)
{
    kbc_wait_input_empty();
    outb(KBC_DATA, value);
}

/* Reads what the controller has to say, as "fa ab 41" (an aux byte gets
 * an "aux:" prefix). */
static void kbc_read_all(char *out, size_t size)
{
    size_t len = 0;

    out[0] = 0;
    for (unsigned n = 0; n < KBC_MAX_READ; n++) {
        uint32_t i;
        uint8_t status = 0;

        for (i = 0; i < KBC_POLL_LIMIT && !((status = inb(KBC_STATUS)) & KBC_OBF); i++)
            ;
        if (i == KBC_POLL_LIMIT)
            break;
        len += (size_t)rt_snprintf(out + len, size - len, "%s%s%02x", n ? " " : "",
                                   status & KBC_AUXB ? "aux:" : "", inb(KBC_DATA));
    }
    if (!out[0])
        rt_snprintf(out, size, "nothing");
}

static void expect_replies(const char *what, const char *want)
{
    char got[64];

    kbc_read_all(got, sizeof(got));
    CHECK(!strcmp(got, want), "%s: %s", what, got);
}

static volatile unsigned kbc_irq_count;
static volatile uint32_t kbc_irq_vector;
static volatile uint8_t kbc_irq_status, kbc_irq_data;

static void kbc_handler(struct rt_frame *f)
{
    kbc_irq_status = inb(KBC_STATUS);
    kbc_irq_data = inb(KBC_DATA);
    kbc_irq_vector = f->vector;
    kbc_irq_count++;
    if (f->vector >= 0x28)
        outb(PIC2_CMD, PIC_EOI);
    outb(PIC1_CMD, PIC_EOI);
}

static void wait_kbc_irq(void)
{
    sti();
    for (uint32_t i = 0; i < KBC_POLL_LIMIT && !kbc_irq_count; i++)
        __asm__ volatile("pause");
    cli();
}

static void test_kbc_polled(void)
{
    char nothing[64];

    kbc_read_all(nothing, sizeof(nothing)); /* flush, as i8042_flush */
    kbc_command(0x20);
    expect_replies("command byte the BIOS left (0x20)", "61");
    kbc_command(0x60);
    kbc_data(0x60); /* interrupts off for polling, as i8042_controller_init */
    kbc_command(0x20);
    expect_replies("command byte after writing 0x60", "60");
    kbc_command(0xAA);
    expect_replies("self test (0xAA)", "55");
    CHECK(inb(KBC_STATUS) & KBC_SYS, "status: system flag set");
    CHECK(!(inb(KBC_STATUS) & KBC_OBF), "status: output buffer empty");
    kbc_command(0xAB);
    expect_replies("keyboard interface test (0xAB)", "00");
    kbc_command(0xA9);
    expect_replies("aux interface test (0xA9)", "00");
    kbc_command(0xC0);
    expect_replies("input port (0xC0)", "80");
    kbc_command(0xD0);
    expect_replies("output port (0xD0)", "cf");
    kbc_command(0xA8);
    kbc_command(0x20);
    expect_replies("command byte after aux enable (0xA8)", "40");
    kbc_command(0xA7);
    kbc_command(0xAD);
    kbc_command(0x20);
    expect_replies("command byte after 0xA7, 0xAD", "70");
    kbc_command(0xAE);
    kbc_command(0x20);
    expect_replies("command byte after 0xAE", "60");
    kbc_command(0xD3);
    kbc_data(0x5A);
    expect_replies("aux loop-back (0xD3 0x5A)", "aux:5a");
    kbc_command(0xD2);
    kbc_data(0x3C);
    expect_replies("keyboard buffer write (0xD2 0x3C)", "3c");

    kbc_data(0xFF);
    expect_replies("keyboard reset (0xFF)", "fa aa");
    kbc_data(0xF2);
    expect_replies("keyboard identify (0xF2), translated", "fa ab 41");
    kbc_data(0xF0);
    expect_replies("scan code set (0xF0)", "fa");
    kbc_data(0x00);
    expect_replies("scan code set query (0), translated", "fa 41");
    kbc_data(0xEE);
    expect_replies("keyboard echo (0xEE)", "ee");
    kbc_data(0xED);
    expect_replies("set LEDs (0xED)", "fa");
    kbc_data(0x00);
    expect_replies("LED argument", "fa");
    kbc_data(0x12);
    expect_replies("unknown keyboard command (0x12)", "fe");
    kbc_command(0x60);
    kbc_data(0x20); /* translation off */
    kbc_data(0xF2);
    expect_replies("keyboard identify (0xF2), untranslated", "fa ab 83");
    kbc_data(0xF0);
    expect_replies("scan code set (0xF0)", "fa");
    kbc_data(0x00);
    expect_replies("scan code set query (0), untranslated", "fa 02");
    kbc_data(0xF4);
    expect_replies("keyboard enable (0xF4)", "fa");
}

static void test_kbc_interrupts(void)
{
    rt_set_handler(0x21, kbc_handler);
    rt_set_handler(0x2C, kbc_handler);
    rt_pic_init(0xFF, 0xFF); /* forget IRQ 1 edges latched while it was masked */

    /* IRQ 1: the keyboard's echo. */
    kbc_command(0x60);
    kbc_data(0x21); /* keyboard interrupt, no translation */
    outb(PIC1_DATA, 0xFD);
    kbc_data(0xEE);
    wait_kbc_irq();
    CHECK_EQ(kbc_irq_count, 1, "IRQ 1 for the echo");
    CHECK_EQ(kbc_irq_vector, 0x21, "IRQ 1 arrives at vector");
    CHECK_EQ(kbc_irq_status & (KBC_OBF | KBC_AUXB), KBC_OBF, "status in the handler: OBF, not aux");
    CHECK_EQ(kbc_irq_data, 0xEE, "data in the handler");

    /* IRQ 12: Linux's aux IRQ test, loop-back 0xA5 with the aux interrupt. */
    kbc_command(0x60);
    kbc_data(0x02); /* aux interrupt, both ports enabled */
    outb(PIC1_DATA, 0xFB);
    outb(PIC2_DATA, 0xEF);
    kbc_irq_count = 0;
    kbc_command(0xD3);
    kbc_data(0xA5);
    wait_kbc_irq();
    CHECK_EQ(kbc_irq_count, 1, "IRQ 12 for the aux loop-back");
    CHECK_EQ(kbc_irq_vector, 0x2C, "IRQ 12 arrives at vector");
    CHECK_EQ(kbc_irq_status & (KBC_OBF | KBC_AUXB), KBC_OBF | KBC_AUXB,
             "status in the handler: OBF, aux");
    CHECK_EQ(kbc_irq_data, 0xA5, "data in the handler");

    outb(PIC1_DATA, 0xFF);
    outb(PIC2_DATA, 0xFF);
    kbc_command(0x60);
    kbc_data(0x61);
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    rt_pic_init(0xFF, 0xFF);
    test_cmos_ram();
    test_date();
    test_periodic_interrupt();
    test_update_cycle();
    test_kbc_polled();
    test_kbc_interrupts();
    rt_finish();
}
