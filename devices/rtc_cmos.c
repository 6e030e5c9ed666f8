/*
 * devices/rtc_cmos.c — the MC146818A real-time clock and CMOS RAM
 * (rtc_cmos.h).
 *
 * Written from the Motorola MC146818A datasheet; section names below are
 * its headings. Register map (the index written to port 0x70):
 *
 *   0x00 seconds      0x01 seconds alarm     0x06 day of week (1 = Sunday)
 *   0x02 minutes      0x03 minutes alarm     0x07 day of month
 *   0x04 hours        0x05 hours alarm       0x08 month   0x09 year (00-99)
 *        (12-hour mode: bit 7 = PM)          0x32 century (IBM PC/AT RAM byte)
 *   0x0A register A   D7 UIP (read only)  D6-D4 DV2-DV0 divider  D3-D0 RS3-RS0 rate
 *   0x0B register B   D7 SET  D6 PIE  D5 AIE  D4 UIE  D3 SQWE  D2 DM (1 = binary)
 *                     D1 24/12 (1 = 24-hour)  D0 DSE
 *   0x0C register C   D7 IRQF  D6 PF  D5 AF  D4 UF (read only; a read clears it)
 *   0x0D register D   D7 VRT (reads 1: the battery is good)
 *   0x0E-0x7F         RAM (the PC/AT's CMOS layout, filled in as below)
 *
 * The model. Nothing ticks: the divider chain is a time in nanoseconds,
 * the host's wall clock plus an offset while it runs (frozen while it is
 * held in reset), and everything the chip shows is computed from it when
 * asked — the time registers while the clock runs (SET clear, divider
 * running), UIP, and the flags PF, UF and AF, which are accumulated over
 * the divider time since the last look ("synced"). While the clock is
 * stopped the time registers are plain RAM the guest edits; when it starts
 * again they are read back into a time (the datasheet's set procedure).
 *
 * What follows QEMU rather than the datasheet (Linux cares about neither):
 * - the day of week is derived from the date, not counted separately;
 * - PF is set only while PIE is (the datasheet sets it regardless);
 * - the divider runs for DV2-DV0 = 000, 001 and 010 (the datasheet's 000
 *   and 001 are time bases a PC does not have);
 * - DSE (daylight saving) and SQWE (the square-wave pin, unconnected on a
 *   PC) are stored and do nothing;
 * - a time register written while the clock runs sets the clock at once;
 * - the update cycle is only the 244 us of UIP before each second, not the
 *   datasheet's 1984 us cycle after it: the registers change at the second.
 */
#include "devices/rtc_cmos.h"

#include <stdlib.h>

#define NS_PER_SEC      1000000000
#define SECONDS_PER_DAY 86400
#define DIVIDER_HZ      32768 /* the PC's time-base crystal */

/* Registers and their bits ("Register A" ... "Register D"). */
enum {
    REG_SECONDS = 0x00,
    REG_SECONDS_ALARM = 0x01,
    REG_MINUTES = 0x02,
    REG_MINUTES_ALARM = 0x03,
    REG_HOURS = 0x04,
    REG_HOURS_ALARM = 0x05,
    REG_DAY_OF_WEEK = 0x06,
    REG_DAY_OF_MONTH = 0x07,
    REG_MONTH = 0x08,
    REG_YEAR = 0x09,
    REG_A = 0x0A,
    REG_B = 0x0B,
    REG_C = 0x0C,
    REG_D = 0x0D,
    REG_CENTURY = RTC_CMOS_CENTURY,
};

#define A_UIP         0x80
#define A_DV_SHIFT    4
#define A_DV_MASK     7
#define A_DV_MAX_RUN  2 /* 000-010 run; 011-111 test modes and reset hold it */
#define A_RS_MASK     0x0F
#define A_BIOS        0x26 /* DV = 010 (32.768 kHz), RS = 0110 (1024 Hz) */
#define B_SET         0x80
#define B_PIE         0x40
#define B_AIE         0x20
#define B_UIE         0x10
#define B_SQWE        0x08
#define B_DM_BINARY   0x04
#define B_24_HOUR     0x02
#define B_BIOS        B_24_HOUR /* BCD, 24-hour, no interrupts */
#define C_IRQF        0x80
#define C_PF          0x40 /* PF, AF, UF sit where PIE, AIE, UIE sit in B */
#define C_AF          0x20
#define C_UF          0x10
#define C_FLAGS       (C_PF | C_AF | C_UF)
#define D_VRT         0x80
#define HOURS_PM      0x80
#define ALARM_ANY     0xC0 /* an alarm byte 11xxxxxx matches every value */
#define INDEX_NMI_OFF 0x80
#define INDEX_MASK    0x7F
#define RAM_BYTES     128

/* UIP is set this long before each update: 8 periods of 32.768 kHz, 244 us
 * ("UIP — Update In Progress"). */
#define UIP_TICKS 8

/* The PC/AT's CMOS RAM layout (what a BIOS leaves for the OS). */
enum {
    CMOS_SHUTDOWN_STATUS = 0x0F,
    CMOS_FLOPPY_TYPES = 0x10,
    CMOS_DISK_TYPES = 0x12,
    CMOS_EQUIPMENT = 0x14,
    CMOS_BASE_KIB_LOW = 0x15, /* and 0x16 */
    CMOS_EXT_KIB_LOW = 0x17,  /* and 0x18: KiB above 1 MiB */
    CMOS_EXT_KIB_COPY = 0x30, /* and 0x31: the same */
    CMOS_HIGH_64K_LOW = 0x34, /* and 0x35: 64 KiB units above 16 MiB */
    CMOS_PS2_CENTURY = 0x37,
    CMOS_ABOVE_4G_LOW = 0x5B, /* 0x5B-0x5D: 64 KiB units above 4 GiB */
    CMOS_CPU_COUNT_LESS_1 = 0x5F,
};

#define EQUIPMENT_FPU   0x02 /* bits 5-4 = 00: EGA/VGA; bit 0 = 0: no floppy */
#define BASE_MEMORY_KIB 640
#define CMOS_WORD_MAX   0xFFFF

/* A divider-chain time: seconds since 1970-01-01 00:00:00 and the
 * nanoseconds into that second (0 <= ns < 1e9). Seconds are 64-bit so that
 * any date the registers can name (years 0-9999) fits. */
struct rtc_instant {
    int64_t sec;
    int64_t ns;
};

struct rtc_cmos {
    uint8_t ram[RAM_BYTES]; /* every register but C's IRQF and A's UIP, and the RAM */
    uint8_t index;
    bool nmi_masked;
    /* The divider chain: wall clock + offset while it runs, frozen while
     * held. The interrupt flags are accumulated up to synced. */
    struct rtc_instant offset;
    struct rtc_instant frozen;
    struct rtc_instant synced;
    bool irq_level;
    uint64_t interrupts;
    struct irq_router *irq; /* the ISA interrupt lines (devices/irq.h) */
    struct rtc_cmos_clocks clocks;
};

/* ---- time arithmetic ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t floor_mod(int64_t a, int64_t b)
{
    return a - floor_div(a, b) * b;
}

static struct rtc_instant instant_from_ns(uint64_t ns)
{
    return (struct rtc_instant){(int64_t)(ns / NS_PER_SEC), (int64_t)(ns % NS_PER_SEC)};
}

static struct rtc_instant instant_add(struct rtc_instant a, struct rtc_instant b)
{
    struct rtc_instant r = {a.sec + b.sec, a.ns + b.ns};

    if (r.ns >= NS_PER_SEC) {
        r.ns -= NS_PER_SEC;
        r.sec++;
    }
    return r;
}

static struct rtc_instant instant_sub(struct rtc_instant a, struct rtc_instant b)
{
    struct rtc_instant r = {a.sec - b.sec, a.ns - b.ns};

    if (r.ns < 0) {
        r.ns += NS_PER_SEC;
        r.sec--;
    }
    return r;
}

static bool instant_before(struct rtc_instant a, struct rtc_instant b)
{
    return a.sec < b.sec || (a.sec == b.sec && a.ns < b.ns);
}

/* The last 32.768 kHz divider edge at or before t. */
static int64_t instant_to_ticks(struct rtc_instant t)
{
    return t.sec * DIVIDER_HZ + t.ns * DIVIDER_HZ / NS_PER_SEC;
}

/* When divider edge k happens (rounded up to the nanosecond). */
static struct rtc_instant ticks_to_instant(int64_t k)
{
    int64_t within = floor_mod(k, DIVIDER_HZ);

    return (struct rtc_instant){floor_div(k, DIVIDER_HZ),
                                (within * NS_PER_SEC + DIVIDER_HZ - 1) / DIVIDER_HZ};
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12; day
 * may run past the month's end, as mktime allows). Counted in 400-year
 * eras of 146097 days from 0000-03-01, with March first in the year so
 * that February's leap day comes last. */
static int64_t days_from_date(int64_t year, unsigned month, int64_t day)
{
    int64_t y = month <= 2 ? year - 1 : year;
    int64_t era = floor_div(y, 400);
    int64_t year_of_era = y - era * 400;                    /* 0-399 */
    int64_t month_from_march = (month + 9) % 12;            /* March = 0 */
    int64_t day_of_year = (153 * month_from_march + 2) / 5; /* days before the month */
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;

    return era * 146097 + day_of_era + day - 1 - 719468; /* 719468: 0000-03-01 to 1970-01-01 */
}

struct rtc_date {
    int64_t year;
    unsigned month, day, hour, minute, second;
    unsigned weekday; /* 0 = Sunday */
};

static struct rtc_date date_from_seconds(int64_t t)
{
    int64_t days = floor_div(t, SECONDS_PER_DAY);
    int64_t in_day = t - days * SECONDS_PER_DAY;
    int64_t from_march = days + 719468;
    int64_t era = floor_div(from_march, 146097);
    int64_t day_of_era = from_march - era * 146097; /* 0-146096 */
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t month_from_march = (5 * day_of_year + 2) / 153;
    struct rtc_date d;

    d.day = (unsigned)(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    d.month = (unsigned)(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    d.year = year_of_era + era * 400 + (d.month <= 2);
    d.hour = (unsigned)(in_day / 3600);
    d.minute = (unsigned)(in_day / 60 % 60);
    d.second = (unsigned)(in_day % 60);
    d.weekday = (unsigned)floor_mod(days + 4, 7); /* 1970-01-01 was a Thursday */
    return d;
}

/* ---- the registers' formats ("Data Mode", "24/12") ---- */

static bool rtc_binary(const struct rtc_cmos *rtc)
{
    return rtc->ram[REG_B] & B_DM_BINARY;
}

static uint8_t rtc_encode(const struct rtc_cmos *rtc, unsigned v)
{
    return rtc_binary(rtc) ? (uint8_t)v : (uint8_t)((v / 10 % 10) << 4 | v % 10);
}

/* A BCD byte with digits above 9 decodes at face value (0xFF is 165). */
static unsigned rtc_decode(const struct rtc_cmos *rtc, uint8_t byte)
{
    return rtc_binary(rtc) ? byte : (byte >> 4) * 10u + (byte & 0x0F);
}

static uint8_t rtc_encode_hours(const struct rtc_cmos *rtc, unsigned hour)
{
    if (rtc->ram[REG_B] & B_24_HOUR)
        return rtc_encode(rtc, hour);
    return (uint8_t)(rtc_encode(rtc, hour % 12 ? hour % 12 : 12) | (hour >= 12 ? HOURS_PM : 0));
}

static unsigned rtc_decode_hours(const struct rtc_cmos *rtc, uint8_t byte)
{
    unsigned hour = rtc_decode(rtc, byte & ~HOURS_PM);

    if (rtc->ram[REG_B] & B_24_HOUR)
        return hour;
    return hour % 12 + (byte & HOURS_PM ? 12 : 0);
}

static bool rtc_is_time_register(unsigned index)
{
    switch (index) {
    case REG_SECONDS:
    case REG_MINUTES:
    case REG_HOURS:
    case REG_DAY_OF_WEEK:
    case REG_DAY_OF_MONTH:
    case REG_MONTH:
    case REG_YEAR:
    case REG_CENTURY:
        return true;
    default:
        return false;
    }
}

/* Writes time t into the time registers in the current format. */
static void rtc_render(struct rtc_cmos *rtc, int64_t t)
{
    struct rtc_date d = date_from_seconds(t);

    rtc->ram[REG_SECONDS] = rtc_encode(rtc, d.second);
    rtc->ram[REG_MINUTES] = rtc_encode(rtc, d.minute);
    rtc->ram[REG_HOURS] = rtc_encode_hours(rtc, d.hour);
    rtc->ram[REG_DAY_OF_WEEK] = rtc_encode(rtc, d.weekday + 1);
    rtc->ram[REG_DAY_OF_MONTH] = rtc_encode(rtc, d.day);
    rtc->ram[REG_MONTH] = rtc_encode(rtc, d.month);
    rtc->ram[REG_YEAR] = rtc_encode(rtc, (unsigned)floor_mod(d.year, 100));
    rtc->ram[REG_CENTURY] = rtc_encode(rtc, (unsigned)floor_mod(floor_div(d.year, 100), 100));
}

/* The time the registers name, read in the current format. Out-of-range
 * fields carry over as mktime's do (month 13 is January of the next
 * year); the day of week is ignored. */
static int64_t rtc_parse(const struct rtc_cmos *rtc)
{
    int64_t year =
        rtc_decode(rtc, rtc->ram[REG_CENTURY]) * 100 + rtc_decode(rtc, rtc->ram[REG_YEAR]);
    int64_t month0 = (int64_t)rtc_decode(rtc, rtc->ram[REG_MONTH]) - 1;
    int64_t days = days_from_date(year + floor_div(month0, 12), (unsigned)floor_mod(month0, 12) + 1,
                                  rtc_decode(rtc, rtc->ram[REG_DAY_OF_MONTH]));

    return days * SECONDS_PER_DAY + rtc_decode_hours(rtc, rtc->ram[REG_HOURS]) * 3600 +
           rtc_decode(rtc, rtc->ram[REG_MINUTES]) * 60 + rtc_decode(rtc, rtc->ram[REG_SECONDS]);
}

/* ---- the divider chain and the clock ("Divider Stages", "SET") ---- */

static bool rtc_divider_running(const struct rtc_cmos *rtc)
{
    return ((rtc->ram[REG_A] >> A_DV_SHIFT) & A_DV_MASK) <= A_DV_MAX_RUN;
}

static bool rtc_clock_running(const struct rtc_cmos *rtc)
{
    return rtc_divider_running(rtc) && !(rtc->ram[REG_B] & B_SET);
}

static struct rtc_instant rtc_wall(const struct rtc_cmos *rtc)
{
    return instant_from_ns(rtc->clocks.wall_ns(rtc->clocks.ctx));
}

static struct rtc_instant rtc_divider_now(const struct rtc_cmos *rtc)
{
    if (!rtc_divider_running(rtc))
        return rtc->frozen;
    return instant_add(rtc_wall(rtc), rtc->offset);
}

/* Makes the divider read t now. */
static void rtc_set_divider(struct rtc_cmos *rtc, struct rtc_instant t)
{
    if (rtc_divider_running(rtc))
        rtc->offset = instant_sub(t, rtc_wall(rtc));
    else
        rtc->frozen = t;
    rtc->synced = t;
}

/* Periodic interrupt period in divider edges (the datasheet's table of
 * periodic interrupt rates, 32.768 kHz column): 2^(RS-1) edges, 122 us
 * at RS = 3 to 500 ms at RS = 15; RS = 1 and 2 repeat rates 8 and 9; 0
 * is off. */
static int64_t rtc_periodic_ticks(const struct rtc_cmos *rtc)
{
    unsigned rs = rtc->ram[REG_A] & A_RS_MASK;

    if (rs == 0)
        return 0;
    return rs <= 2 ? (int64_t)1 << (rs + 6) : (int64_t)1 << (rs - 1);
}

/* The value (0 to limit-1) an alarm byte names in the current format: -1
 * for a don't-care code, limit for a byte the time never shows. */
static int rtc_alarm_value(const struct rtc_cmos *rtc, unsigned index, unsigned limit)
{
    uint8_t alarm = rtc->ram[index];

    if ((alarm & ALARM_ANY) == ALARM_ANY)
        return -1;
    for (unsigned v = 0; v < limit; v++) {
        if ((index == REG_HOURS_ALARM ? rtc_encode_hours(rtc, v) : rtc_encode(rtc, v)) == alarm)
            return (int)v;
    }
    return (int)limit;
}

/* Seconds from t to the next second after it whose time of day the alarm
 * registers match ("Alarm": each byte equal to the time register, or a
 * don't-care code), or 0 if no time ever matches. */
static int64_t rtc_seconds_to_alarm(const struct rtc_cmos *rtc, int64_t t)
{
    int hour = rtc_alarm_value(rtc, REG_HOURS_ALARM, 24);
    int minute = rtc_alarm_value(rtc, REG_MINUTES_ALARM, 60);
    int second = rtc_alarm_value(rtc, REG_SECONDS_ALARM, 60);
    int64_t tod = floor_mod(t, SECONDS_PER_DAY);
    int64_t delta = 1;

    if (hour == 24 || minute == 60 || second == 60)
        return 0;
    while (delta <= SECONDS_PER_DAY) {
        int64_t at = (tod + delta) % SECONDS_PER_DAY;
        int64_t s = at % 60;

        if (hour >= 0 && at / 3600 != hour)
            delta += 3600 - at % 3600; /* to the next hour */
        else if (minute >= 0 && at / 60 % 60 != minute)
            delta += 60 - s; /* to the next minute */
        else if (second >= 0 && s != second)
            delta += second > s ? second - s : 60 - s;
        else
            return delta;
    }
    return 0;
}

/* ---- interrupts ("Interrupts", "Register C") ---- */

/* IRQF = PF·PIE + AF·AIE + UF·UIE, and IRQ 8 follows it. */
static void rtc_drive_irq(struct rtc_cmos *rtc)
{
    uint8_t flags = rtc->ram[REG_C] & C_FLAGS;
    bool level = (flags & rtc->ram[REG_B]) != 0;

    rtc->ram[REG_C] = (uint8_t)(flags | (level ? C_IRQF : 0));
    if (level == rtc->irq_level)
        return;
    rtc->irq_level = level;
    if (level)
        rtc->interrupts++;
    if (rtc->irq)
        irq_set_level(rtc->irq, RTC_CMOS_IRQ, level);
}

/* Accumulates the flags of the divider time since the last sync: PF for a
 * periodic edge (QEMU: only while PIE is set), UF for an update (a second
 * boundary while the clock runs), AF for an update onto the alarm time. */
static void rtc_sync(struct rtc_cmos *rtc)
{
    struct rtc_instant now = rtc_divider_now(rtc);
    int64_t period = rtc_periodic_ticks(rtc);
    uint8_t flags = 0;

    if (rtc_divider_running(rtc) && instant_before(rtc->synced, now)) {
        if ((rtc->ram[REG_B] & B_PIE) && period &&
            floor_div(instant_to_ticks(now), period) >
                floor_div(instant_to_ticks(rtc->synced), period))
            flags |= C_PF;
        if (rtc_clock_running(rtc) && now.sec > rtc->synced.sec) {
            int64_t to_alarm = rtc_seconds_to_alarm(rtc, rtc->synced.sec);

            flags |= C_UF;
            if (to_alarm && to_alarm <= now.sec - rtc->synced.sec)
                flags |= C_AF;
        }
    }
    rtc->synced = now; /* also when the host's clock stepped back */
    rtc->ram[REG_C] |= flags;
    rtc_drive_irq(rtc);
}

/* ---- register writes that move the clock ---- */

/* After a write to A or B: starts or stops the divider and the clock
 * ("Divider Stages": the first update comes 500 ms after the divider leaves
 * reset; "SET": the time registers hold still while SET is 1, and the clock
 * starts again from what they then say). before is the divider time and
 * registers the time the registers named, both under the old settings. */
static void rtc_transition(struct rtc_cmos *rtc, struct rtc_instant before, bool divider_was,
                           bool clock_was, int64_t registers)
{
    struct rtc_instant t = before;

    if (!clock_was && rtc_clock_running(rtc))
        t.sec = registers;
    if (!divider_was && rtc_divider_running(rtc))
        t.ns = NS_PER_SEC / 2;
    rtc_set_divider(rtc, t);
}

static void rtc_write_control(struct rtc_cmos *rtc, unsigned index, uint8_t value)
{
    struct rtc_instant before = rtc_divider_now(rtc);
    bool divider_was = rtc_divider_running(rtc), clock_was = rtc_clock_running(rtc);
    int64_t registers;

    if (clock_was)
        rtc_render(rtc, before.sec); /* what the registers hold if the clock stops */
    registers = rtc_parse(rtc);
    if (index == REG_A) {
        rtc->ram[REG_A] = value & ~A_UIP;
    } else {
        /* "UIE ... is cleared when SET goes high" */
        rtc->ram[REG_B] = value & B_SET ? value & ~B_UIE : value;
    }
    rtc_transition(rtc, before, divider_was, clock_was, registers);
    rtc_drive_irq(rtc); /* IRQF follows the enables at once */
}

/* A time register written while the clock runs sets the clock (QEMU);
 * the position within the second is kept. */
static void rtc_write_time(struct rtc_cmos *rtc, unsigned index, uint8_t value)
{
    struct rtc_instant now;

    if (!rtc_clock_running(rtc)) {
        rtc->ram[index] = value;
        return;
    }
    now = rtc_divider_now(rtc);
    rtc_render(rtc, now.sec);
    rtc->ram[index] = value;
    now.sec = rtc_parse(rtc);
    rtc_set_divider(rtc, now);
}

/* ---- port handlers ---- */

static uint8_t rtc_read_register(struct rtc_cmos *rtc, unsigned index)
{
    struct rtc_instant now;
    uint8_t value;

    switch (index) {
    case REG_A:
        now = rtc_divider_now(rtc);
        value = rtc->ram[REG_A];
        if (rtc_clock_running(rtc) &&
            floor_mod(instant_to_ticks(now), DIVIDER_HZ) >= DIVIDER_HZ - UIP_TICKS)
            value |= A_UIP;
        return value;
    case REG_C:
        value = rtc->ram[REG_C];
        rtc->ram[REG_C] = 0; /* "all bits are cleared after a read" */
        rtc_drive_irq(rtc);
        return value;
    case REG_D:
        return D_VRT;
    default:
        if (rtc_is_time_register(index) && rtc_clock_running(rtc))
            rtc_render(rtc, rtc_divider_now(rtc).sec);
        return rtc->ram[index];
    }
}

static void rtc_write_register(struct rtc_cmos *rtc, unsigned index, uint8_t value)
{
    switch (index) {
    case REG_A:
    case REG_B:
        rtc_write_control(rtc, index, value);
        break;
    case REG_C: /* read only */
    case REG_D:
        break;
    default:
        if (rtc_is_time_register(index))
            rtc_write_time(rtc, index, value);
        else
            rtc->ram[index] = value;
        break;
    }
}

static uint32_t rtc_port_read(void *opaque, io_port_t port, unsigned size)
{
    struct rtc_cmos *rtc = opaque;

    if (port == RTC_CMOS_BASE)
        return 0xFF; /* the index register is write-only */
    rtc_sync(rtc);
    return rtc_read_register(rtc, rtc->index);
}

static void rtc_port_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct rtc_cmos *rtc = opaque;

    if (port == RTC_CMOS_BASE) {
        rtc->index = (uint8_t)(value & INDEX_MASK);
        rtc->nmi_masked = value & INDEX_NMI_OFF;
        return;
    }
    rtc_sync(rtc);
    rtc_write_register(rtc, rtc->index, (uint8_t)value);
}

static const struct ioport_ops rtc_ops = {
    .name = "rtc_cmos",
    .read = rtc_port_read,
    .write = rtc_port_write,
};

/* ---- the device ---- */

static void rtc_put_word(struct rtc_cmos *rtc, unsigned index, uint64_t value)
{
    if (value > CMOS_WORD_MAX)
        value = CMOS_WORD_MAX;
    rtc->ram[index] = (uint8_t)value;
    rtc->ram[index + 1] = (uint8_t)(value >> 8);
}

/* The RAM bytes a PC BIOS fills in (QEMU's pc_cmos_init computes the same
 * memory sizes). popek's RAM lies entirely below 4 GiB and it has one CPU,
 * no floppy and no hard disk in CMOS; the equipment byte says an FPU and
 * an EGA/VGA display. The shutdown status is 0 (a cold boot). */
static void rtc_fill_bios_ram(struct rtc_cmos *rtc, uint64_t ram_bytes)
{
    uint64_t base_kib = ram_bytes / KIB(1) < BASE_MEMORY_KIB ? ram_bytes / KIB(1) : BASE_MEMORY_KIB;
    uint64_t ext_kib = ram_bytes > MIB(1) ? (ram_bytes - MIB(1)) / KIB(1) : 0;
    uint64_t high_64k = ram_bytes > MIB(16) ? (ram_bytes - MIB(16)) / KIB(64) : 0;

    rtc->ram[CMOS_SHUTDOWN_STATUS] = 0;
    rtc->ram[CMOS_FLOPPY_TYPES] = 0;
    rtc->ram[CMOS_DISK_TYPES] = 0;
    rtc->ram[CMOS_EQUIPMENT] = EQUIPMENT_FPU;
    rtc_put_word(rtc, CMOS_BASE_KIB_LOW, base_kib);
    rtc_put_word(rtc, CMOS_EXT_KIB_LOW, ext_kib);
    rtc_put_word(rtc, CMOS_EXT_KIB_COPY, ext_kib);
    rtc_put_word(rtc, CMOS_HIGH_64K_LOW, high_64k);
    rtc->ram[CMOS_ABOVE_4G_LOW] = rtc->ram[CMOS_ABOVE_4G_LOW + 1] =
        rtc->ram[CMOS_ABOVE_4G_LOW + 2] = 0;
    rtc->ram[CMOS_CPU_COUNT_LESS_1] = 0;
}

void rtc_cmos_reset(struct rtc_cmos *rtc)
{
    rtc_sync(rtc);
    /* "RESET": PIE, AIE, UIE, SQWE and the flags clear; IRQ goes away. */
    rtc->ram[REG_B] &= ~(B_PIE | B_AIE | B_UIE | B_SQWE);
    rtc->ram[REG_C] = 0;
    rtc_drive_irq(rtc);
    /* The BIOS's POST: the 32.768 kHz time base at 1024 Hz, BCD 24-hour.
     * popek always boots cold: the shutdown status goes back to 0. */
    rtc_write_control(rtc, REG_A, A_BIOS);
    rtc_write_control(rtc, REG_B, B_BIOS);
    rtc->ram[CMOS_SHUTDOWN_STATUS] = 0;
}

struct rtc_cmos *rtc_cmos_create(struct ioport_bus *bus, struct irq_router *irq,
                                 const struct rtc_cmos_clocks *clocks, uint64_t ram_bytes,
                                 struct popek_error *err)
{
    struct rtc_cmos *rtc = calloc(1, sizeof(*rtc));

    if (!rtc) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    rtc->irq = irq;
    rtc->clocks = *clocks;
    rtc->ram[REG_A] = A_BIOS;
    rtc->ram[REG_B] = B_BIOS;
    rtc_set_divider(rtc, rtc_wall(rtc)); /* host time, offset 0 */
    rtc_render(rtc, rtc->synced.sec);
    rtc->ram[CMOS_PS2_CENTURY] = rtc->ram[REG_CENTURY]; /* set once, as QEMU does */
    rtc_fill_bios_ram(rtc, ram_bytes);
    if (!ioport_register(bus, RTC_CMOS_BASE, 2, &rtc_ops, rtc, err)) {
        free(rtc);
        return NULL;
    }
    return rtc;
}

void rtc_cmos_destroy(struct rtc_cmos *rtc)
{
    free(rtc);
}

/* With no interrupt enabled nothing can reach IRQ 8; the flags catch up
 * at the next port access (they accumulate over the whole interval), so
 * the run loop's call after every port access costs nothing then. */
void rtc_cmos_update(struct rtc_cmos *rtc)
{
    if (rtc->ram[REG_B] & (B_PIE | B_AIE | B_UIE))
        rtc_sync(rtc);
}

static void rtc_earliest(struct rtc_instant *due, struct rtc_instant candidate)
{
    if (instant_before(candidate, *due))
        *due = candidate;
}

uint64_t rtc_cmos_next_deadline(const struct rtc_cmos *rtc)
{
    const struct rtc_instant never = {INT64_MAX, 0};
    struct rtc_instant now, due = never, delta;
    int64_t period = rtc_periodic_ticks(rtc), to_alarm;
    uint8_t b = rtc->ram[REG_B];

    if (rtc->irq_level || !(b & (B_PIE | B_AIE | B_UIE)) || !rtc_divider_running(rtc))
        return UINT64_MAX; /* nothing (new) can reach IRQ 8: none enabled, or C unread */
    now = rtc_divider_now(rtc);
    if ((b & B_PIE) && period)
        rtc_earliest(&due,
                     ticks_to_instant((floor_div(instant_to_ticks(now), period) + 1) * period));
    if (rtc_clock_running(rtc) && (b & B_UIE))
        rtc_earliest(&due, (struct rtc_instant){now.sec + 1, 0});
    if (rtc_clock_running(rtc) && (b & B_AIE) && (to_alarm = rtc_seconds_to_alarm(rtc, now.sec)))
        rtc_earliest(&due, (struct rtc_instant){now.sec + to_alarm, 0});
    if (due.sec == never.sec)
        return UINT64_MAX;
    delta = instant_sub(due, now);
    if (delta.sec < 0)
        delta = (struct rtc_instant){0, 0};
    return rtc->clocks.monotonic_ns(rtc->clocks.ctx) + (uint64_t)delta.sec * NS_PER_SEC +
           (uint64_t)delta.ns;
}

bool rtc_cmos_nmi_masked(const struct rtc_cmos *rtc)
{
    return rtc->nmi_masked;
}

uint64_t rtc_cmos_interrupts(const struct rtc_cmos *rtc)
{
    return rtc->interrupts;
}

/* ---- saved state ---- */

static void rtc_put_instant(struct snap_writer *w, struct rtc_instant t)
{
    snap_put_i64(w, t.sec);
    snap_put_i64(w, t.ns);
}

static struct rtc_instant rtc_get_instant(struct snap_section *s)
{
    struct rtc_instant t;

    t.sec = snap_get_i64(s);
    t.ns = snap_get_i64(s);
    /* Years 0-9999 and then some, either way: no sum of two overflows. */
    snap_check(s,
               t.ns >= 0 && t.ns < (int64_t)NS_PER_SEC && t.sec > -(INT64_C(1) << 40) &&
                   t.sec < (INT64_C(1) << 40),
               "a divider time out of range");
    return t;
}

void rtc_cmos_save(const struct rtc_cmos *rtc, struct snap_writer *w)
{
    snap_put_bytes(w, rtc->ram, sizeof(rtc->ram));
    snap_put_u8(w, rtc->index);
    snap_put_bool(w, rtc->nmi_masked);
    rtc_put_instant(w, rtc->offset);
    rtc_put_instant(w, rtc->frozen);
    rtc_put_instant(w, rtc->synced);
    snap_put_bool(w, rtc->irq_level);
}

bool rtc_cmos_load(struct rtc_cmos *rtc, struct snap_section *s)
{
    snap_get_bytes(s, rtc->ram, sizeof(rtc->ram));
    rtc->index = snap_get_u8(s);
    snap_check(s, rtc->index < RAM_BYTES, "a CMOS index out of range");
    rtc->nmi_masked = snap_get_bool(s);
    rtc->offset = rtc_get_instant(s);
    rtc->frozen = rtc_get_instant(s);
    rtc->synced = rtc_get_instant(s);
    rtc->irq_level = snap_get_bool(s);
    return !s->bad;
}
