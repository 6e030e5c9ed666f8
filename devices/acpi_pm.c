/*
 * devices/acpi_pm.c — the PM1 registers and the PM timer (acpi_pm.h).
 *
 * From the ACPI specification (6.x), §4.8.3 "Power Management Timer",
 * §4.8.4.1 "PM1 Event Grouping" and §4.8.4.2 "PM1 Control Grouping":
 *
 *   PM1_STS  bit 0 TMR_STS, 4 BM_STS, 5 GBL_STS, 8 PWRBTN_STS,
 *            9 SLPBTN_STS, 10 RTC_STS, 15 WAK_STS; writing 1 clears a bit
 *   PM1_EN   bit 0 TMR_EN, 5 GBL_EN, 8 PWRBTN_EN, 9 SLPBTN_EN, 10 RTC_EN
 *   PM1_CNT  bit 0 SCI_EN, 1 BM_RLD, 2 GBL_RLS (write-only), 12-10
 *            SLP_TYP, 13 SLP_EN (write-only: reads 0)
 *   PM_TMR   bits 23-0 TMR_VAL (the FADT's TMR_VAL_EXT is 0), 31-24 read 0
 *
 * The SCI is a level: high while SCI_EN is set and some status bit is set
 * together with its enable. Registers are handled byte by byte, so a
 * 16-bit write of SLP_TYP | SLP_EN acts when its high byte is written —
 * the byte that holds both fields.
 */
#include "devices/acpi_pm.h"

#include <stdlib.h>

#define PM1_EVENTS     (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | ACPI_PM1_RTC)
#define PM1_STS_BITS   (PM1_EVENTS | (1u << 4) | ACPI_PM1_WAK_STS)
#define PM1_CNT_STORED (ACPI_PM1_SCI_EN | (1u << 1) | ACPI_PM1_SLP_TYP_MASK)
#define TMR_VAL_BITS   24
#define TMR_MSB_SHIFT  (TMR_VAL_BITS - 1)

struct acpi_pm {
    uint16_t sts, en, cnt;
    uint64_t epoch_ns;   /* the timer reads 0 here */
    uint64_t last_ticks; /* timer ticks at the last update */
    bool sci;
    struct irq_router *irq;
    acpi_pm_clock_fn now_ns;
    void *clock_ctx;
    acpi_pm_sleep_fn on_sleep;
    void *sleep_ctx;
};

/* ---- the PM timer (§4.8.3) ---- */

static uint64_t pm_ticks(const struct acpi_pm *pm, uint64_t now)
{
    return (uint64_t)((unsigned __int128)(now - pm->epoch_ns) * ACPI_PM_TIMER_HZ / 1000000000u);
}

/* When tick k happens on the clock. */
static uint64_t pm_tick_ns(const struct acpi_pm *pm, uint64_t k)
{
    return pm->epoch_ns + (uint64_t)(((unsigned __int128)k * 1000000000u + ACPI_PM_TIMER_HZ - 1) /
                                     ACPI_PM_TIMER_HZ);
}

static void pm_update_sci(struct acpi_pm *pm)
{
    bool sci = (pm->cnt & ACPI_PM1_SCI_EN) && (pm->sts & pm->en & PM1_EVENTS);

    if (sci != pm->sci && pm->irq)
        irq_set_level(pm->irq, ACPI_SCI_IRQ, sci);
    pm->sci = sci;
}

/* TMR_STS is set each time the counter's most significant bit toggles. */
static void pm_sync(struct acpi_pm *pm)
{
    uint64_t ticks = pm_ticks(pm, pm->now_ns(pm->clock_ctx));

    if ((ticks >> TMR_MSB_SHIFT) != (pm->last_ticks >> TMR_MSB_SHIFT))
        pm->sts |= ACPI_PM1_TMR;
    pm->last_ticks = ticks;
    pm_update_sci(pm);
}

void acpi_pm_update(struct acpi_pm *pm)
{
    pm_sync(pm);
}

uint64_t acpi_pm_next_deadline(const struct acpi_pm *pm)
{
    if (!(pm->en & ACPI_PM1_TMR) || !(pm->cnt & ACPI_PM1_SCI_EN))
        return UINT64_MAX;
    uint64_t deadline = pm_tick_ns(pm, ((pm->last_ticks >> TMR_MSB_SHIFT) + 1) << TMR_MSB_SHIFT);
    /* A loaded epoch may lie before the clock's zero (wrapped around, see
     * snap_get_origin): a deadline that wrapped too is long past, due now.
     * Monotonic nanoseconds stay below 2^63. */
    return (int64_t)deadline < 0 ? 0 : deadline;
}

void acpi_pm_press_power_button(struct acpi_pm *pm)
{
    pm->sts |= ACPI_PM1_PWRBTN;
    pm_update_sci(pm);
}

/* ---- PM1 registers, one byte at a time ---- */

static uint16_t byte_merge(uint16_t reg, unsigned byte, uint8_t value)
{
    unsigned shift = 8 * byte;

    return (uint16_t)((reg & ~(0xFFu << shift)) | (unsigned)value << shift);
}

static uint8_t pm1_evt_read(struct acpi_pm *pm, unsigned offset)
{
    uint16_t reg = offset < 2 ? pm->sts : pm->en;

    return (uint8_t)(reg >> (8 * (offset & 1)));
}

static void pm1_evt_write(struct acpi_pm *pm, unsigned offset, uint8_t value)
{
    uint16_t bits = (uint16_t)(value << (8 * (offset & 1)));

    if (offset < 2)
        pm->sts &= (uint16_t)~bits; /* write 1 to clear */
    else
        pm->en = byte_merge(pm->en, offset & 1, value) & PM1_EVENTS;
}

static void pm1_cnt_write(struct acpi_pm *pm, unsigned offset, uint8_t value)
{
    uint16_t written = byte_merge(0, offset, value);

    pm->cnt = (uint16_t)((byte_merge(pm->cnt, offset, value) & PM1_CNT_STORED));
    if (written & ACPI_PM1_SLP_EN)
        pm->on_sleep(pm->sleep_ctx, (pm->cnt & ACPI_PM1_SLP_TYP_MASK) >> ACPI_PM1_SLP_TYP_SHIFT);
}

static uint32_t pm1_evt_io_read(void *opaque, io_port_t port, unsigned size)
{
    struct acpi_pm *pm = opaque;
    uint32_t value = 0;

    pm_sync(pm);
    for (unsigned i = 0; i < size; i++) {
        unsigned offset = port - ACPI_PM1_EVT_BLK + i;
        if (offset < ACPI_PM1_EVT_LEN)
            value |= (uint32_t)pm1_evt_read(pm, offset) << (8 * i);
    }
    return value;
}

static void pm1_evt_io_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct acpi_pm *pm = opaque;

    pm_sync(pm); /* a TMR_STS due before the write is there to clear */
    for (unsigned i = 0; i < size; i++) {
        unsigned offset = port - ACPI_PM1_EVT_BLK + i;
        if (offset < ACPI_PM1_EVT_LEN)
            pm1_evt_write(pm, offset, (uint8_t)(value >> (8 * i)));
    }
    pm_update_sci(pm);
}

static uint32_t pm1_cnt_io_read(void *opaque, io_port_t port, unsigned size)
{
    struct acpi_pm *pm = opaque;
    uint32_t value = 0;

    for (unsigned i = 0; i < size; i++) {
        unsigned offset = port - ACPI_PM1_CNT_BLK + i;
        if (offset < ACPI_PM1_CNT_LEN)
            value |= (uint32_t)(uint8_t)(pm->cnt >> (8 * offset)) << (8 * i);
    }
    return value;
}

static void pm1_cnt_io_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct acpi_pm *pm = opaque;

    for (unsigned i = 0; i < size; i++) {
        unsigned offset = port - ACPI_PM1_CNT_BLK + i;
        if (offset < ACPI_PM1_CNT_LEN)
            pm1_cnt_write(pm, offset, (uint8_t)(value >> (8 * i)));
    }
    pm_update_sci(pm);
}

static uint32_t pm_tmr_io_read(void *opaque, io_port_t port, unsigned size)
{
    struct acpi_pm *pm = opaque;
    unsigned offset = port - ACPI_PM_TMR_BLK;
    uint32_t value;

    pm_sync(pm);
    value = (uint32_t)(pm->last_ticks & ((1u << TMR_VAL_BITS) - 1)) >> (8 * offset);
    return size == 4 ? value : value & ((1u << (8 * size)) - 1);
}

static const struct ioport_ops pm1_evt_ops = {
    .name = "acpi-pm1-evt",
    .read = pm1_evt_io_read,
    .write = pm1_evt_io_write,
};

static const struct ioport_ops pm1_cnt_ops = {
    .name = "acpi-pm1-cnt",
    .read = pm1_cnt_io_read,
    .write = pm1_cnt_io_write,
};

static const struct ioport_ops pm_tmr_ops = {
    .name = "acpi-pm-tmr",
    .read = pm_tmr_io_read,
};

/* ---- the device ---- */

void acpi_pm_reset(struct acpi_pm *pm)
{
    pm->sts = pm->en = 0;
    pm->cnt = ACPI_PM1_SCI_EN;
    pm->epoch_ns = pm->now_ns(pm->clock_ctx);
    pm->last_ticks = 0;
    pm_update_sci(pm);
}

struct acpi_pm *acpi_pm_create(struct ioport_bus *bus, struct irq_router *irq,
                               acpi_pm_clock_fn now_ns, void *clock_ctx, acpi_pm_sleep_fn on_sleep,
                               void *sleep_ctx, struct popek_error *err)
{
    struct acpi_pm *pm = calloc(1, sizeof(*pm));

    if (!pm) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    pm->irq = irq;
    pm->now_ns = now_ns;
    pm->clock_ctx = clock_ctx;
    pm->on_sleep = on_sleep;
    pm->sleep_ctx = sleep_ctx;
    acpi_pm_reset(pm);
    if (!ioport_register(bus, ACPI_PM1_EVT_BLK, ACPI_PM1_EVT_LEN, &pm1_evt_ops, pm, err) ||
        !ioport_register(bus, ACPI_PM1_CNT_BLK, ACPI_PM1_CNT_LEN, &pm1_cnt_ops, pm, err) ||
        !ioport_register(bus, ACPI_PM_TMR_BLK, ACPI_PM_TMR_LEN, &pm_tmr_ops, pm, err)) {
        free(pm);
        return NULL;
    }
    return pm;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
    free(pm);
}

/* ---- saved state ---- */

void acpi_pm_save(const struct acpi_pm *pm, struct snap_writer *w)
{
    snap_put_u16(w, pm->sts);
    snap_put_u16(w, pm->en);
    snap_put_u16(w, pm->cnt);
    snap_put_time(w, pm->epoch_ns, pm->now_ns(pm->clock_ctx));
    snap_put_u64(w, pm->last_ticks);
    snap_put_bool(w, pm->sci);
}

bool acpi_pm_load(struct acpi_pm *pm, struct snap_section *s)
{
    pm->sts = snap_get_u16(s);
    pm->en = snap_get_u16(s);
    pm->cnt = snap_get_u16(s);
    pm->epoch_ns = snap_get_origin(s, pm->now_ns(pm->clock_ctx)); /* may wrap: see there */
    pm->last_ticks = snap_get_u64(s);
    pm->sci = snap_get_bool(s);
    return !s->bad;
}
