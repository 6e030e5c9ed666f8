/*
 * devices/rtc_cmos.h — the PC/AT real-time clock and its CMOS RAM at ports
 * 0x70-0x71 (Motorola MC146818A datasheet), interrupting on IRQ 8.
 *
 *   0x70  write: bit 7 = NMI disable (remembered), bits 6-0 = index
 *         read: 0xFF (the index register is write-only)
 *   0x71  the byte at the index: clock registers 0x00-0x0D, then RAM
 *
 * The clock shows the host's real time in UTC (QEMU's default
 * `-rtc base=utc`) plus whatever offset the guest sets. Time is read from
 * two injected clocks — the host's wall clock (the date) and its monotonic
 * clock (the deadlines the platform arms) — so unit tests need no sleeping.
 *
 * The monitor keeps IRQ 8 flowing through the platform list:
 *
 *     deadline = rtc_cmos_next_deadline(rtc);   // the next interrupt due
 *     ...when monotonic time >= deadline:
 *     rtc_cmos_update(rtc);                      // raises IRQ 8 (devices/irq.h)
 *
 * Port accesses bring the clock up to date by themselves. IRQ 8 stays high
 * from the interrupt until the guest reads register C, as on the chip.
 *
 * The RAM holds what a PC BIOS (SeaBIOS under QEMU) leaves there for a
 * guest to read: the memory sizes derived from the RAM size given at
 * creation, no floppy or hard disk, an FPU and a VGA display.
 */
#ifndef POPEK_DEVICES_RTC_CMOS_H
#define POPEK_DEVICES_RTC_CMOS_H

#include "common/snapshot.h"
#include "devices/ioport.h"
#include "devices/irq.h"

#define RTC_CMOS_BASE    0x70
#define RTC_CMOS_IRQ     8
#define RTC_CMOS_CENTURY 0x32 /* the RAM byte holding the century (the FADT's CENTURY) */

struct rtc_cmos;

/* Nanoseconds: the monotonic clock (never goes backwards) and the wall
 * clock (since 1970-01-01 00:00:00 UTC). */
typedef uint64_t (*rtc_cmos_clock_fn)(void *ctx);

struct rtc_cmos_clocks {
    rtc_cmos_clock_fn monotonic_ns;
    rtc_cmos_clock_fn wall_ns;
    void *ctx;
};

/* Creates the RTC in the state a BIOS leaves it (register A 0x26: 32.768
 * kHz time base, 1024 Hz periodic rate; register B 0x02: 24-hour BCD, no
 * interrupts), the clock set to the host's time, the RAM filled in for
 * ram_bytes of guest RAM, and claims 0x70-0x71. irq may be NULL. */
struct rtc_cmos *rtc_cmos_create(struct ioport_bus *bus, struct irq_router *irq,
                                 const struct rtc_cmos_clocks *clocks, uint64_t ram_bytes,
                                 struct popek_error *err);
void rtc_cmos_destroy(struct rtc_cmos *rtc);

/* The PC's reset line, then what the BIOS writes on its way up: the
 * interrupt enables and flags clear, IRQ 8 low, registers A and B back to
 * the BIOS values. The time, the guest's offset and the RAM survive. */
void rtc_cmos_reset(struct rtc_cmos *rtc);

/* Brings the interrupt flags up to the clock and drives IRQ 8. */
void rtc_cmos_update(struct rtc_cmos *rtc);

/* Monotonic time (ns) at which an enabled interrupt next becomes due, or
 * UINT64_MAX (none enabled, or IRQ 8 already high until register C is
 * read). */
uint64_t rtc_cmos_next_deadline(const struct rtc_cmos *rtc);

/* True while the guest has NMIs masked (bit 7 of the last write to 0x70). */
bool rtc_cmos_nmi_masked(const struct rtc_cmos *rtc);

/* Rising edges of IRQ 8 so far. */
uint64_t rtc_cmos_interrupts(const struct rtc_cmos *rtc);

/* Saved state (devices/platform.h): the CMOS RAM with every register, the
 * index and NMI mask, the IRQ 8 level and the divider chain. The clock
 * follows the host's real-time clock, which all processes share, so its
 * offset from it is saved as is: a machine resumed later reads a later
 * date, as under QEMU's default -rtc clock=host. */
#define RTC_CMOS_STATE_VERSION 1
void rtc_cmos_save(const struct rtc_cmos *rtc, struct snap_writer *w);
bool rtc_cmos_load(struct rtc_cmos *rtc, struct snap_section *s);

#endif
