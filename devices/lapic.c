/*
 * devices/lapic.c — the local APIC (lapic.h).
 *
 * Written from the Intel SDM vol. 3, chapter 10; section numbers below are
 * its. Register map (table 10-1), each register in the first 32 bits of a
 * 16-byte slot:
 *
 *   0x020 ID          RW   bits 31-24 APIC ID
 *   0x030 version     RO   bits 23-16 max LVT entry, 7-0 version (0x14)
 *   0x080 TPR         RW   task priority (bits 7-0)
 *   0x090 APR         RO   arbitration priority (no bus arbitration: 0)
 *   0x0A0 PPR         RO   processor priority, from TPR and the ISR
 *   0x0B0 EOI         WO   end of interrupt
 *   0x0C0 RRD         RO   remote read (not supported: 0)
 *   0x0D0 LDR         RW   bits 31-24 logical APIC ID
 *   0x0E0 DFR         RW   bits 31-28 model (1111 flat, 0000 cluster), rest 1
 *   0x0F0 SVR         RW   7-0 spurious vector, 8 APIC software enable,
 *                          9 focus processor checking
 *   0x100-0x170 ISR   RO   in service, 256 bits
 *   0x180-0x1F0 TMR   RO   trigger mode of accepted vectors (1 = level)
 *   0x200-0x270 IRR   RO   requests
 *   0x280 ESR         RW   error status; a write latches the errors so far
 *   0x300 ICR low     RW   7-0 vector, 10-8 delivery mode, 11 logical,
 *                          12 delivery status (RO), 14 level, 15 trigger,
 *                          19-18 destination shorthand
 *   0x310 ICR high    RW   bits 31-24 destination
 *   0x320 LVT timer   RW   7-0 vector, 16 mask, 17 periodic
 *   0x330 LVT thermal, 0x340 LVT perf: 7-0 vector, 10-8 mode, 16 mask
 *   0x350 LVT LINT0, 0x360 LVT LINT1: also 13 polarity, 14 remote IRR (RO),
 *                          15 trigger mode
 *   0x370 LVT error   RW   7-0 vector, 16 mask
 *   0x380 initial count, 0x390 current count (RO), 0x3E0 divide configuration
 *
 * Offsets not listed read 0 and ignore writes. Accesses other than aligned
 * 32-bit ones are undefined by the SDM (§10.4.1): narrower reads return
 * their bytes of the register, narrower writes are ignored.
 *
 * The timer (§10.5.4) keeps when its count was last loaded; the current
 * count and each expiry follow from the clock, as in the PIT.
 */
#include "devices/lapic.h"

#include <stdlib.h>

#include "common/log.h"

enum lapic_reg {
    REG_ID = 0x020,
    REG_VERSION = 0x030,
    REG_TPR = 0x080,
    REG_APR = 0x090,
    REG_PPR = 0x0A0,
    REG_EOI = 0x0B0,
    REG_RRD = 0x0C0,
    REG_LDR = 0x0D0,
    REG_DFR = 0x0E0,
    REG_SVR = 0x0F0,
    REG_ISR = 0x100,
    REG_TMR = 0x180,
    REG_IRR = 0x200,
    REG_ESR = 0x280,
    REG_ICR_LOW = 0x300,
    REG_ICR_HIGH = 0x310,
    REG_LVT_TIMER = 0x320,
    REG_LVT_THERMAL = 0x330,
    REG_LVT_PERF = 0x340,
    REG_LVT_LINT0 = 0x350,
    REG_LVT_LINT1 = 0x360,
    REG_LVT_ERROR = 0x370,
    REG_TIMER_INITIAL = 0x380,
    REG_TIMER_CURRENT = 0x390,
    REG_TIMER_DIVIDE = 0x3E0,
};

/* The LVT, in register order from 0x320. */
enum lvt_index { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

#define LVT_VECTOR         0x000FFu
#define LVT_DELIVERY_MODE  0x00700u
#define LVT_MASKED         (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
/* Writable bits of each LVT entry (figure 10-8). Bit 18 of the timer entry
 * (TSC-deadline mode) is reserved: the CPU does not offer that mode. */
static const uint32_t lvt_writable[LVT_COUNT] = {
    [LVT_TIMER] = 0x300FF, [LVT_THERMAL] = 0x107FF, [LVT_PERF] = 0x107FF,
    [LVT_LINT0] = 0x1A7FF, [LVT_LINT1] = 0x1A7FF,   [LVT_ERROR] = 0x100FF,
};

#define SVR_VECTOR   0x0FFu
#define SVR_ENABLED  (1u << 8)
#define SVR_WRITABLE 0x3FFu /* vector, APIC enable, focus checking */

#define DFR_MODEL_FLAT    0xFu
#define DFR_RESERVED_ONES 0x0FFFFFFFu

#define ICR_VECTOR          0x000FFu
#define ICR_DELIVERY_SHIFT  8
#define ICR_LOGICAL         (1u << 11)
#define ICR_LEVEL_ASSERT    (1u << 14)
#define ICR_TRIGGER_LEVEL   (1u << 15)
#define ICR_SHORTHAND_SHIFT 18
#define ICR_WRITABLE        0x000CCFFFu

enum icr_shorthand {
    SHORTHAND_NONE = 0,
    SHORTHAND_SELF = 1,
    SHORTHAND_ALL_INCLUDING_SELF = 2,
    SHORTHAND_ALL_EXCLUDING_SELF = 3,
};

/* ESR bits (figure 10-9). */
#define ESR_SEND_ILLEGAL_VECTOR     (1u << 5)
#define ESR_RECEIVED_ILLEGAL_VECTOR (1u << 6)

#define APIC_BROADCAST 0xFFu

/* A periodic timer never interrupts more often than this (host time):
 * a guest asking for a 1 ns period gets an interrupt per microsecond. */
#define TIMER_MIN_PERIOD_NS 1000u

struct lapic {
    uint32_t id, tpr, ldr, dfr, svr;
    uint32_t isr[8], tmr[8], irr[8];
    uint32_t esr, esr_pending; /* visible ESR; errors since its last write */
    uint32_t icr_low, icr_high;
    uint32_t lvt[LVT_COUNT];
    /* Timer (§10.5.4). */
    uint32_t timer_initial, timer_divide;
    bool timer_running;      /* counting: a one-shot not yet at 0, or periodic */
    uint64_t timer_start_ns; /* when the count was last (re)loaded */
    uint64_t missed_ticks;

    lapic_clock_fn now_ns;
    void *clock_ctx;
    lapic_eoi_fn eoi;
    void *eoi_ctx;
};

/* ---- 256-bit registers ---- */

static void bit_set(uint32_t *bits, unsigned vector)
{
    bits[vector >> 5] |= 1u << (vector & 31);
}

static void bit_clear(uint32_t *bits, unsigned vector)
{
    bits[vector >> 5] &= ~(1u << (vector & 31));
}

static bool bit_test(const uint32_t *bits, unsigned vector)
{
    return bits[vector >> 5] & (1u << (vector & 31));
}

/* The highest vector set, or -1. */
static int bit_highest(const uint32_t *bits)
{
    for (int word = 7; word >= 0; word--) {
        if (bits[word])
            return word * 32 + 31 - __builtin_clz(bits[word]);
    }
    return -1;
}

/* ---- priorities (§10.8.3.1) ---- */

/* PPR: the TPR when its class is at least the highest in-service
 * vector's, otherwise that vector's class. */
static uint32_t lapic_ppr(const struct lapic *l)
{
    int isrv = bit_highest(l->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xF0;

    return (l->tpr & 0xF0) >= isr_class ? l->tpr & 0xFF : isr_class;
}

static bool lapic_software_enabled(const struct lapic *l)
{
    return l->svr & SVR_ENABLED;
}

/* ---- accepting interrupts (§10.8.3, §10.8.4) ---- */

static void lapic_raise_error(struct lapic *l, uint32_t error);

/* An interrupt for vector arrives: IRR, and TMR for its trigger mode. */
static void lapic_set_irr(struct lapic *l, unsigned vector, bool level)
{
    if (vector < 16) {
        lapic_raise_error(l, ESR_RECEIVED_ILLEGAL_VECTOR);
        return;
    }
    bit_set(l->irr, vector);
    if (level)
        bit_set(l->tmr, vector);
    else
        bit_clear(l->tmr, vector);
}

/* A local interrupt source fires through its LVT entry (edge, fixed). */
static void lapic_fire_lvt(struct lapic *l, enum lvt_index index)
{
    uint32_t lvt = l->lvt[index];

    if (!lapic_software_enabled(l) || (lvt & LVT_MASKED))
        return;
    lapic_set_irr(l, lvt & LVT_VECTOR, false);
}

/* §10.5.3: an error is recorded for the next ESR write and raises the
 * error LVT interrupt. An illegal error vector cannot recurse: it raises
 * nothing the second time, the bit being pending already. */
static void lapic_raise_error(struct lapic *l, uint32_t error)
{
    bool fresh = !(l->esr_pending & error);

    l->esr_pending |= error;
    if (fresh)
        lapic_fire_lvt(l, LVT_ERROR);
}

bool lapic_accepts(const struct lapic *l, const struct apic_message *msg)
{
    uint8_t logical_id = (uint8_t)(l->ldr >> 24);

    if (msg->destination == APIC_BROADCAST)
        return true;
    if (!msg->logical)
        return msg->destination == (uint8_t)(l->id >> 24);
    /* §10.6.2.2 */
    if ((l->dfr >> 28) == DFR_MODEL_FLAT)
        return (logical_id & msg->destination) != 0;
    return (logical_id >> 4) == (msg->destination >> 4) &&
           (logical_id & msg->destination & 0x0F) != 0;
}

static const char *delivery_mode_name(unsigned mode)
{
    static const char *const names[8] = {"fixed", "lowest priority", "SMI",   "reserved", "NMI",
                                         "INIT",  "STARTUP",         "ExtINT"};
    return names[mode & 7];
}

void lapic_deliver(struct lapic *l, const struct apic_message *msg)
{
    switch (msg->delivery_mode) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST:
        lapic_set_irr(l, msg->vector, msg->level);
        break;
    default:
        if (log_enabled(LOG_PLATFORM))
            log_printf("lapic: %s message (vector 0x%02x) dropped: not modelled\n",
                       delivery_mode_name(msg->delivery_mode), msg->vector);
        break;
    }
}

bool lapic_has_interrupt(const struct lapic *l)
{
    int irrv = bit_highest(l->irr);

    return lapic_software_enabled(l) && irrv >= 0 &&
           ((uint32_t)irrv & 0xF0) > (lapic_ppr(l) & 0xF0);
}

int lapic_acknowledge(struct lapic *l)
{
    int vector;

    if (!lapic_has_interrupt(l))
        return (int)(l->svr & SVR_VECTOR); /* §10.9: spurious interrupt */
    vector = bit_highest(l->irr);
    bit_clear(l->irr, (unsigned)vector);
    bit_set(l->isr, (unsigned)vector);
    return vector;
}

bool lapic_extint_enabled(const struct lapic *l)
{
    uint32_t lint0 = l->lvt[LVT_LINT0];

    return !(lint0 & LVT_MASKED) && ((lint0 & LVT_DELIVERY_MODE) >> 8) == APIC_DM_EXTINT;
}

/* §10.8.5: the highest ISR bit is done; a level-triggered one is reported
 * to the I/O APICs, whose remote IRR it clears. */
static void lapic_eoi(struct lapic *l)
{
    int vector = bit_highest(l->isr);

    if (vector < 0)
        return;
    bit_clear(l->isr, (unsigned)vector);
    if (bit_test(l->tmr, (unsigned)vector) && l->eoi)
        l->eoi(l->eoi_ctx, (uint8_t)vector);
}

/* ---- interprocessor interrupts (§10.6) ---- */

static void lapic_send_ipi(struct lapic *l)
{
    uint32_t icr = l->icr_low;
    struct apic_message msg = {
        .vector = (uint8_t)(icr & ICR_VECTOR),
        .delivery_mode = (uint8_t)((icr >> ICR_DELIVERY_SHIFT) & 7),
        .logical = icr & ICR_LOGICAL,
        .destination = (uint8_t)(l->icr_high >> 24),
        .level = false, /* fixed IPIs are edge (§10.6.1, trigger mode) */
    };
    bool to_self;

    switch ((icr >> ICR_SHORTHAND_SHIFT) & 3) {
    case SHORTHAND_SELF:
    case SHORTHAND_ALL_INCLUDING_SELF:
        to_self = true;
        break;
    case SHORTHAND_ALL_EXCLUDING_SELF:
        to_self = false;
        break;
    default:
        to_self = lapic_accepts(l, &msg);
        break;
    }
    if (msg.delivery_mode == APIC_DM_INIT && (icr & ICR_TRIGGER_LEVEL) && !(icr & ICR_LEVEL_ASSERT))
        return; /* INIT level de-assert: only synchronises arbitration IDs */
    if ((msg.delivery_mode == APIC_DM_FIXED || msg.delivery_mode == APIC_DM_LOWEST) &&
        msg.vector < 16) {
        lapic_raise_error(l, ESR_SEND_ILLEGAL_VECTOR);
        return;
    }
    if (to_self) {
        lapic_deliver(l, &msg);
    } else if (log_enabled(LOG_PLATFORM)) {
        log_printf("lapic: %s IPI (ICR %08x:%08x) reaches no processor\n",
                   delivery_mode_name(msg.delivery_mode), l->icr_high, icr);
    }
}

/* ---- timer (§10.5.4) ---- */

static uint64_t lapic_now(const struct lapic *l)
{
    return l->now_ns(l->clock_ctx);
}

/* Divide configuration bits 3, 1, 0 (figure 10-10): 000 = 2 ... 110 =
 * 128, 111 = 1. With a 1 GHz bus, also the nanoseconds per count. */
static uint64_t timer_divisor(const struct lapic *l)
{
    unsigned code = ((l->timer_divide & 8) >> 1) | (l->timer_divide & 3);

    return code == 7 ? 1 : 2ull << code;
}

static uint64_t timer_period_ns(const struct lapic *l)
{
    return (uint64_t)l->timer_initial * timer_divisor(l) * (1000000000u / LAPIC_BUS_HZ);
}

static bool timer_periodic(const struct lapic *l)
{
    return l->lvt[LVT_TIMER] & LVT_TIMER_PERIODIC;
}

/* The time of the next expiry of a running timer. */
static uint64_t timer_expiry(const struct lapic *l)
{
    uint64_t period = timer_period_ns(l);

    if (timer_periodic(l) && period < TIMER_MIN_PERIOD_NS)
        period = TIMER_MIN_PERIOD_NS;
    return l->timer_start_ns + period;
}

/* Brings the timer to `now`: an expiry raises the LVT timer interrupt
 * (once), a periodic timer reloads at the last period boundary passed. */
static void timer_sync(struct lapic *l, uint64_t now)
{
    uint64_t expiry, period, periods;

    if (!l->timer_running)
        return;
    expiry = timer_expiry(l);
    if ((int64_t)(now - expiry) < 0) /* the start may have wrapped (snap_get_origin) */
        return;
    if (timer_periodic(l)) {
        period = expiry - l->timer_start_ns;
        periods = (now - l->timer_start_ns) / period;
        l->timer_start_ns += periods * period;
        l->missed_ticks += periods - 1;
    } else {
        l->timer_running = false;
    }
    lapic_fire_lvt(l, LVT_TIMER);
}

static uint32_t timer_current_count(const struct lapic *l, uint64_t now)
{
    uint64_t counts;

    if (!l->timer_running || l->timer_initial == 0)
        return 0;
    counts = (now - l->timer_start_ns) / timer_divisor(l);
    if (timer_periodic(l))
        return l->timer_initial - (uint32_t)(counts % l->timer_initial);
    return counts >= l->timer_initial ? 0 : l->timer_initial - (uint32_t)counts;
}

/* A write to the initial count starts the count from it; 0 stops it. */
static void timer_load(struct lapic *l, uint32_t count, uint64_t now)
{
    l->timer_initial = count;
    l->timer_start_ns = now;
    l->timer_running = count != 0;
}

/* A new divisor applies from the current count on. */
static void timer_set_divide(struct lapic *l, uint32_t value, uint64_t now)
{
    uint32_t current = timer_current_count(l, now);

    l->timer_divide = value & 0xB;
    if (l->timer_running)
        l->timer_start_ns = now - (uint64_t)(l->timer_initial - current) * timer_divisor(l);
}

void lapic_update(struct lapic *l)
{
    timer_sync(l, lapic_now(l));
}

uint64_t lapic_next_deadline(const struct lapic *l)
{
    if (!l->timer_running || !lapic_software_enabled(l) || (l->lvt[LVT_TIMER] & LVT_MASKED))
        return UINT64_MAX;
    uint64_t expiry = timer_expiry(l);
    /* A loaded start may lie before the clock's zero (wrapped around, see
     * snap_get_origin): an expiry that wrapped too is long past, due now.
     * Monotonic nanoseconds stay below 2^63. */
    return (int64_t)expiry < 0 ? 0 : expiry;
}

uint64_t lapic_missed_ticks(const struct lapic *l)
{
    return l->missed_ticks;
}

/* ---- register access ---- */

static uint32_t lapic_read_reg(struct lapic *l, unsigned reg)
{
    uint64_t now = lapic_now(l);

    timer_sync(l, now);
    if (reg >= REG_ISR && reg < REG_ISR + 0x80)
        return l->isr[(reg - REG_ISR) >> 4];
    if (reg >= REG_TMR && reg < REG_TMR + 0x80)
        return l->tmr[(reg - REG_TMR) >> 4];
    if (reg >= REG_IRR && reg < REG_IRR + 0x80)
        return l->irr[(reg - REG_IRR) >> 4];
    if (reg >= REG_LVT_TIMER && reg <= REG_LVT_ERROR)
        return l->lvt[(reg - REG_LVT_TIMER) >> 4];
    switch (reg) {
    case REG_ID:
        return l->id;
    case REG_VERSION:
        return LAPIC_MAX_LVT << 16 | LAPIC_VERSION;
    case REG_TPR:
        return l->tpr;
    case REG_PPR:
        return lapic_ppr(l);
    case REG_LDR:
        return l->ldr;
    case REG_DFR:
        return l->dfr;
    case REG_SVR:
        return l->svr;
    case REG_ESR:
        return l->esr;
    case REG_ICR_LOW:
        return l->icr_low; /* delivery status 0: every IPI is sent at once */
    case REG_ICR_HIGH:
        return l->icr_high;
    case REG_TIMER_INITIAL:
        return l->timer_initial;
    case REG_TIMER_CURRENT:
        return timer_current_count(l, now);
    case REG_TIMER_DIVIDE:
        return l->timer_divide;
    default:
        return 0; /* APR, RRD, EOI (write-only) and reserved offsets */
    }
}

static void lapic_write_lvt(struct lapic *l, enum lvt_index index, uint32_t value)
{
    value &= lvt_writable[index];
    if (!lapic_software_enabled(l))
        value |= LVT_MASKED; /* §10.4.7.2 */
    l->lvt[index] = value;
}

/* §10.4.7.2: clearing the enable bit masks every LVT entry. */
static void lapic_write_svr(struct lapic *l, uint32_t value)
{
    l->svr = value & SVR_WRITABLE;
    if (!lapic_software_enabled(l)) {
        for (unsigned i = 0; i < LVT_COUNT; i++)
            l->lvt[i] |= LVT_MASKED;
    }
}

static void lapic_write_reg(struct lapic *l, unsigned reg, uint32_t value)
{
    uint64_t now = lapic_now(l);

    timer_sync(l, now); /* expiries so far count under the old settings */
    if (reg >= REG_LVT_TIMER && reg <= REG_LVT_ERROR) {
        lapic_write_lvt(l, (enum lvt_index)((reg - REG_LVT_TIMER) >> 4), value);
        return;
    }
    switch (reg) {
    case REG_ID:
        l->id = value & 0xFF000000u;
        break;
    case REG_TPR:
        l->tpr = value & 0xFF;
        break;
    case REG_EOI:
        lapic_eoi(l);
        break;
    case REG_LDR:
        l->ldr = value & 0xFF000000u;
        break;
    case REG_DFR:
        l->dfr = (value & 0xF0000000u) | DFR_RESERVED_ONES;
        break;
    case REG_SVR:
        lapic_write_svr(l, value);
        break;
    case REG_ESR:
        l->esr = l->esr_pending;
        l->esr_pending = 0;
        break;
    case REG_ICR_LOW:
        l->icr_low = value & ICR_WRITABLE;
        lapic_send_ipi(l);
        break;
    case REG_ICR_HIGH:
        l->icr_high = value & 0xFF000000u;
        break;
    case REG_TIMER_INITIAL:
        timer_load(l, value, now);
        break;
    case REG_TIMER_DIVIDE:
        timer_set_divide(l, value, now);
        break;
    default:
        break; /* read-only and reserved offsets */
    }
}

static uint32_t lapic_mmio_read(void *opaque, guest_phys_t offset, unsigned size)
{
    unsigned in_slot = offset & 0xF;
    uint32_t value;

    if (in_slot >= 4)
        return 0;
    value = lapic_read_reg(opaque, offset & 0xFF0) >> (8 * in_slot);
    return size == 4 ? value : value & ((1u << (8 * size)) - 1);
}

static void lapic_mmio_write(void *opaque, guest_phys_t offset, unsigned size, uint32_t value)
{
    if (size == 4 && (offset & 0xF) == 0)
        lapic_write_reg(opaque, offset & 0xFF0, value);
}

static const struct mmio_ops lapic_mmio_ops = {
    .name = "lapic",
    .read = lapic_mmio_read,
    .write = lapic_mmio_write,
};

/* ---- the device ---- */

void lapic_reset(struct lapic *l)
{
    /* §10.4.7.1, power-up and reset. */
    l->id = 0;
    l->tpr = l->ldr = 0;
    l->dfr = 0xFFFFFFFFu;
    l->svr = SVR_VECTOR;
    for (unsigned i = 0; i < 8; i++)
        l->isr[i] = l->tmr[i] = l->irr[i] = 0;
    l->esr = l->esr_pending = 0;
    l->icr_low = l->icr_high = 0;
    for (unsigned i = 0; i < LVT_COUNT; i++)
        l->lvt[i] = LVT_MASKED;
    l->timer_initial = l->timer_divide = 0;
    l->timer_running = false;
    l->timer_start_ns = 0;
    l->missed_ticks = 0;
    /* What SeaBIOS then programs (MP specification §3.6.2.2, virtual wire
     * mode through the local APIC): enabled, LINT0 ExtINT, LINT1 NMI. */
    lapic_write_svr(l, SVR_ENABLED | SVR_VECTOR);
    lapic_write_lvt(l, LVT_LINT0, APIC_DM_EXTINT << 8 | 1u << 15);
    lapic_write_lvt(l, LVT_LINT1, APIC_DM_NMI << 8 | 1u << 15);
}

struct lapic *lapic_create(struct mmio_bus *mmio, lapic_clock_fn now_ns, void *clock_ctx,
                           lapic_eoi_fn eoi, void *eoi_ctx, struct popek_error *err)
{
    struct lapic *l = calloc(1, sizeof(*l));

    if (!l) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    l->now_ns = now_ns;
    l->clock_ctx = clock_ctx;
    l->eoi = eoi;
    l->eoi_ctx = eoi_ctx;
    lapic_reset(l);
    if (!mmio_register(mmio, LAPIC_BASE, LAPIC_SIZE, &lapic_mmio_ops, l, err)) {
        free(l);
        return NULL;
    }
    return l;
}

void lapic_destroy(struct lapic *l)
{
    free(l);
}

/* ---- saved state ---- */

void lapic_save(const struct lapic *l, struct snap_writer *w)
{
    snap_put_u32(w, l->id);
    snap_put_u32(w, l->tpr);
    snap_put_u32(w, l->ldr);
    snap_put_u32(w, l->dfr);
    snap_put_u32(w, l->svr);
    for (unsigned i = 0; i < 8; i++) {
        snap_put_u32(w, l->isr[i]);
        snap_put_u32(w, l->tmr[i]);
        snap_put_u32(w, l->irr[i]);
    }
    snap_put_u32(w, l->esr);
    snap_put_u32(w, l->esr_pending);
    snap_put_u32(w, l->icr_low);
    snap_put_u32(w, l->icr_high);
    for (unsigned i = 0; i < LVT_COUNT; i++)
        snap_put_u32(w, l->lvt[i]);
    snap_put_u32(w, l->timer_initial);
    snap_put_u32(w, l->timer_divide);
    snap_put_bool(w, l->timer_running);
    snap_put_time(w, l->timer_start_ns, lapic_now(l));
}

bool lapic_load(struct lapic *l, struct snap_section *s)
{
    /* Only values the register writes can leave. */
    l->id = snap_get_u32(s);
    snap_check(s, !(l->id & ~0xFF000000u), "APIC ID bits that do not exist");
    l->tpr = snap_get_u32(s);
    snap_check(s, l->tpr <= 0xFF, "a TPR out of range");
    l->ldr = snap_get_u32(s);
    snap_check(s, !(l->ldr & ~0xFF000000u), "LDR bits that do not exist");
    l->dfr = snap_get_u32(s);
    snap_check(s, (l->dfr & ~0xF0000000u) == DFR_RESERVED_ONES,
               "a DFR whose reserved bits are not all ones");
    l->svr = snap_get_u32(s);
    snap_check(s, !(l->svr & ~SVR_WRITABLE), "SVR bits that do not exist");
    for (unsigned i = 0; i < 8; i++) {
        l->isr[i] = snap_get_u32(s);
        l->tmr[i] = snap_get_u32(s);
        l->irr[i] = snap_get_u32(s);
    }
    l->esr = snap_get_u32(s);
    l->esr_pending = snap_get_u32(s);
    l->icr_low = snap_get_u32(s);
    l->icr_high = snap_get_u32(s);
    for (unsigned i = 0; i < LVT_COUNT; i++) {
        l->lvt[i] = snap_get_u32(s);
        snap_check(s, !(l->lvt[i] & ~(lvt_writable[i] | 0x5000u)), /* + status, remote IRR */
                   "LVT bits that do not exist");
    }
    l->timer_initial = snap_get_u32(s);
    l->timer_divide = snap_get_u32(s);
    snap_check(s, !(l->timer_divide & ~0xBu), "a timer divide value out of range");
    l->timer_running = snap_get_bool(s);
    l->timer_start_ns = snap_get_origin(s, lapic_now(l)); /* may wrap: see there */
    return !s->bad;
}
