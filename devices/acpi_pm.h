/*
 * devices/acpi_pm.h — ACPI fixed-feature power management hardware (ACPI
 * specification 6.x, §4.8 "ACPI Hardware Features": the PM1 event and
 * control register blocks and the power management timer), at the I/O
 * ports of QEMU's PIIX4 (0x600 base):
 *
 *   0x600  PM1a_STS  16  status, write 1 to clear
 *   0x602  PM1a_EN   16  enables: a set status bit with its enable raises
 *                        the SCI
 *   0x604  PM1a_CNT  16  SCI_EN, SLP_TYP, SLP_EN
 *   0x608  PM_TMR    32  24-bit counter at 3.579545 MHz (read-only)
 *
 * The FADT (boot/acpi_tables.c) gives these addresses, SCI_INT = IRQ 9
 * (level, active high) and SMI_CMD = 0: the machine is always in ACPI mode,
 * SCI_EN reads 1 from reset. The DSDT's \_S5 package holds
 * ACPI_SLP_TYP_S5: writing SLP_TYP = that with SLP_EN is soft-off.
 *
 *     pm = acpi_pm_create(io, irq, clock, ctx, on_sleep, machine, &err);
 *     ...guest writes PM1a_CNT = SLP_TYP(5) | SLP_EN:
 *        on_sleep(machine, 5)        // the machine powers off
 *
 * Time is injected as in the PIT (pit8254.h): the timer's count is derived
 * from the clock, and TMR_STS (the counter's bit 23 toggling) is raised by
 * acpi_pm_update when TMR_EN asks for its SCI.
 */
#ifndef POPEK_DEVICES_ACPI_PM_H
#define POPEK_DEVICES_ACPI_PM_H

#include "common/snapshot.h"
#include "devices/ioport.h"
#include "devices/irq.h"

#define ACPI_PM1_EVT_BLK 0x600u
#define ACPI_PM1_EVT_LEN 4u
#define ACPI_PM1_CNT_BLK 0x604u
#define ACPI_PM1_CNT_LEN 2u
#define ACPI_PM_TMR_BLK  0x608u
#define ACPI_PM_TMR_LEN  4u
#define ACPI_SCI_IRQ     9u
#define ACPI_PM_TIMER_HZ 3579545u
#define ACPI_SLP_TYP_S5  5u /* the \_S5 value this hardware powers off on */

/* PM1 status / enable bits (ACPI 6.x, tables 4.16 and 4.17). */
#define ACPI_PM1_TMR           (1u << 0)
#define ACPI_PM1_GBL           (1u << 5)
#define ACPI_PM1_PWRBTN        (1u << 8)
#define ACPI_PM1_SLPBTN        (1u << 9)
#define ACPI_PM1_RTC           (1u << 10)
#define ACPI_PM1_WAK_STS       (1u << 15)
/* PM1 control bits (table 4.18). */
#define ACPI_PM1_SCI_EN        (1u << 0)
#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_TYP_MASK  (7u << ACPI_PM1_SLP_TYP_SHIFT)
#define ACPI_PM1_SLP_EN        (1u << 13)

typedef uint64_t (*acpi_pm_clock_fn)(void *ctx);
/* The guest asked to enter sleep type slp_typ (SLP_EN written). */
typedef void (*acpi_pm_sleep_fn)(void *ctx, unsigned slp_typ);

struct acpi_pm;

/* Claims the three register blocks on bus; the SCI drives IRQ 9 on irq
 * (which may be NULL). */
struct acpi_pm *acpi_pm_create(struct ioport_bus *bus, struct irq_router *irq,
                               acpi_pm_clock_fn now_ns, void *clock_ctx, acpi_pm_sleep_fn on_sleep,
                               void *sleep_ctx, struct popek_error *err);
void acpi_pm_destroy(struct acpi_pm *pm);

/* Status and enables clear, SCI_EN set (ACPI mode), SCI low. */
void acpi_pm_reset(struct acpi_pm *pm);

/* Brings TMR_STS up to the clock (and the SCI with it). */
void acpi_pm_update(struct acpi_pm *pm);

/* When TMR_STS next sets while TMR_EN would raise the SCI for it, or
 * UINT64_MAX. */
uint64_t acpi_pm_next_deadline(const struct acpi_pm *pm);

/* The power button: PWRBTN_STS, and the SCI if PWRBTN_EN. */
void acpi_pm_press_power_button(struct acpi_pm *pm);

/* Saved state (devices/platform.h): PM1 status, enable and control, the
 * SCI level, and the PM timer as its count and its epoch relative to the
 * clock (the timer stands still while the machine is in a file). */
#define ACPI_PM_STATE_VERSION 1
void acpi_pm_save(const struct acpi_pm *pm, struct snap_writer *w);
bool acpi_pm_load(struct acpi_pm *pm, struct snap_section *s);

#endif
