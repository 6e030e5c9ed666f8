/*
 * devices/pit8254.c — the 8254 interval timer and port 0x61 (pit8254.h).
 *
 * Written from the Intel 82C54 datasheet; section names below are its
 * headings. Register map:
 *
 *   0x40-0x42  counter 0-2: count register (write), output latch / status
 *              (read), one or two bytes as RW1:RW0 say
 *   0x43       control word (write only; reads float):
 *                D7-D6 SC1:SC0  counter, 11 = read-back command
 *                D5-D4 RW1:RW0  00 counter latch, 01 LSB, 10 MSB, 11 LSB then MSB
 *                D3-D1 M2:M0    mode 0-5 (11x aliases 01x)
 *                D0    BCD      four decades instead of 16 bits
 *              read-back: D5 /COUNT, D4 /STATUS, D3-D1 counter 2-0
 *              status byte: D7 OUTPUT, D6 NULL COUNT, D5-D0 as written
 *   0x61       port B: D0 GATE2, D1 speaker data, D2-D3 NMI check enables
 *              (read/write); D4 refresh toggle, D5 OUT2 (read only)
 *
 * The model: time is counted in CLK pulses (ticks) of the input clock.
 * When a count is loaded into the counting element (CE) on pulse L, CE and
 * OUT at any later pulse are closed-form functions of (pulse - L) — a
 * "run". Nothing is ticked; reads, OUT and interrupt deadlines are
 * computed when asked, exactly to the pulse. Gate and reprogramming events
 * end one run and start the next. BCD counting is implemented: CE counts in
 * binary modulo 10000 and is converted on every read and write (a written
 * nibble above 9 is taken at face value, modulo 10000).
 *
 * Illegal counts: a count of 1 in modes 2 and 3 (datasheet minimum 2) runs
 * as 2.
 */
#include "devices/pit8254.h"

#include <stdlib.h>

enum { PIT_CONTROL_OFFSET = 3, PIT_NR_COUNTERS = 3 };

#define NS_PER_SEC 1000000000u

#define CW_SC_SHIFT     6
#define CW_SC_READ_BACK 3
#define CW_RW_SHIFT     4
#define CW_MODE_SHIFT   1
#define CW_BCD          0x01
#define CW_PROGRAM_BITS 0x3F /* RW, mode and BCD: what the status byte echoes */

enum pit_rw { PIT_RW_LATCH = 0, PIT_RW_LSB = 1, PIT_RW_MSB = 2, PIT_RW_WORD = 3 };

#define READ_BACK_NOT_COUNT  0x20
#define READ_BACK_NOT_STATUS 0x10
#define STATUS_OUTPUT        0x80
#define STATUS_NULL_COUNT    0x40

#define PORT_B_GATE2    0x01
#define PORT_B_WRITABLE 0x0F
#define PORT_B_REFRESH  0x10
#define PORT_B_OUT2     0x20

/* The refresh request bit toggles once per DRAM refresh cycle, 15.09 us on
 * the AT, i.e. every 18 input clocks. */
#define REFRESH_TICKS 18

#define TICK_NEVER_PAST  INT64_MIN /* a terminal count already behind us */
#define TICK_NEVER_AHEAD INT64_MAX

/* One loading of the counting element: CE got its value on pulse load_tick. */
struct pit_run {
    int64_t load_tick;
    /* modes 0, 1, 4, 5: CE on load_tick, and the pulse on which CE reaches
     * zero (terminal count), TICK_NEVER_PAST once it no longer matters. */
    uint32_t ce0;
    int64_t tc_tick;
    /* modes 2, 3: the effective count and the position in the period on
     * load_tick (non-zero when mode 3 starts with the low half). */
    uint32_t period;
    uint32_t phase0;
};

enum pit_ce_state {
    PIT_IDLE,     /* no count since the control word, or GATE low in mode 2/3 */
    PIT_COUNTING, /* run is live (its load pulse may still be ahead) */
    PIT_PAUSED,   /* mode 0/4 with GATE low: CE holds paused_ce */
};

struct pit_counter {
    /* control word */
    uint8_t program; /* RW1 RW0 M2 M1 M0 BCD */
    unsigned mode;
    enum pit_rw rw;
    bool bcd;
    /* count register and the read/write byte flip-flops */
    uint16_t cr;
    bool cr_written;
    bool write_msb_next, read_msb_next;
    /* output latch and status latch */
    unsigned latched_bytes;
    uint16_t ol;
    bool status_latched;
    uint8_t status;
    bool gate;
    /* counting element */
    enum pit_ce_state state;
    struct pit_run run;
    bool has_next; /* modes 2, 3: a count written while counting */
    struct pit_run next;
    uint32_t ce_held; /* CE when idle, or before run.load_tick */
    bool out_held;    /* OUT likewise */
    uint32_t paused_ce;
    int64_t paused_remaining; /* pulses to terminal count on resume; -1 = past */
    int64_t null_until;       /* NULL COUNT reads 1 before this pulse */
};

struct pit8254 {
    struct pit_counter counter[PIT_NR_COUNTERS];
    uint8_t port_b;
    struct irq_router *irq;
    pit8254_clock_fn now_ns;
    void *clock_ctx;
    int64_t irq_tick; /* OUT 0 has been delivered up to this pulse */
    bool irq_level;   /* what IRQ 0 was last driven to */
    uint64_t missed_ticks;
};

/* ---- time ---- */

/* The last CLK pulse at or before ns: floor(ns * F / 1e9), without
 * overflowing 64 bits. */
static int64_t pit_ns_to_tick(uint64_t ns)
{
    return (int64_t)((ns / NS_PER_SEC) * PIT_CLOCK_HZ +
                     (ns % NS_PER_SEC) * PIT_CLOCK_HZ / NS_PER_SEC);
}

/* When pulse tick happens: ceil(tick * 1e9 / F). */
static uint64_t pit_tick_to_ns(int64_t tick)
{
    uint64_t t = (uint64_t)tick;

    return (t / PIT_CLOCK_HZ) * NS_PER_SEC +
           ((t % PIT_CLOCK_HZ) * NS_PER_SEC + PIT_CLOCK_HZ - 1) / PIT_CLOCK_HZ;
}

static int64_t pit_now(const struct pit8254 *pit)
{
    int64_t tick = pit_ns_to_tick(pit->now_ns(pit->clock_ctx));

    return tick < pit->irq_tick ? pit->irq_tick : tick;
}

/* ---- counting element ("Mode Definitions") ---- */

static uint32_t pit_modulus(const struct pit_counter *c)
{
    return c->bcd ? 10000 : 65536;
}

static uint32_t bcd_to_binary(uint16_t v)
{
    return (((v >> 12) & 15) * 1000u + ((v >> 8) & 15) * 100u + ((v >> 4) & 15) * 10u + (v & 15)) %
           10000u;
}

static uint16_t binary_to_bcd(uint32_t v)
{
    return (uint16_t)(((v / 1000) % 10) << 12 | ((v / 100) % 10) << 8 | ((v / 10) % 10) << 4 |
                      (v % 10));
}

/* The count register as a number (0 stands for the maximum count). */
static uint32_t pit_initial_count(const struct pit_counter *c)
{
    return c->bcd ? bcd_to_binary(c->cr) : c->cr;
}

/* Pulses per count: 0 means 65536 (10000 in BCD). */
static uint32_t pit_effective_count(const struct pit_counter *c)
{
    uint32_t n = pit_initial_count(c);

    if (n == 0)
        n = pit_modulus(c);
    if ((c->mode == 2 || c->mode == 3) && n < 2)
        n = 2;
    return n;
}

static const struct pit_run *pit_run_at(const struct pit_counter *c, int64_t tick)
{
    return (c->has_next && tick >= c->next.load_tick) ? &c->next : &c->run;
}

static uint32_t pit_periodic_pos(const struct pit_run *run, int64_t tick)
{
    return (uint32_t)(((uint64_t)(tick - run->load_tick) + run->phase0) % run->period);
}

/* Mode 3: even counts load N and step by two, toggling OUT when CE
 * expires; odd counts load N-1 and spend one extra pulse high. */
static uint32_t pit_mode3_ce(uint32_t period, uint32_t pos)
{
    uint32_t high = (period + 1) / 2;
    uint32_t step = pos < high ? pos : pos - high;

    return (period & ~1u) - 2 * step;
}

/* CE at pulse tick, in binary. */
static uint32_t pit_ce_at(const struct pit_counter *c, int64_t tick)
{
    const struct pit_run *run = pit_run_at(c, tick);
    uint32_t modulus = pit_modulus(c);
    uint64_t elapsed;

    if (c->state == PIT_IDLE || tick < run->load_tick)
        return c->ce_held;
    if (c->state == PIT_PAUSED)
        return c->paused_ce;
    elapsed = (uint64_t)(tick - run->load_tick);
    switch (c->mode) {
    case 2:
        return (run->period - pit_periodic_pos(run, tick)) % modulus;
    case 3:
        return pit_mode3_ce(run->period, pit_periodic_pos(run, tick)) % modulus;
    default: /* modes 0, 1, 4, 5 count down and wrap */
        return (uint32_t)((run->ce0 + modulus - elapsed % modulus) % modulus);
    }
}

/* OUT at pulse tick. */
static bool pit_out_at(const struct pit_counter *c, int64_t tick)
{
    const struct pit_run *run = pit_run_at(c, tick);

    if (c->state != PIT_COUNTING || tick < run->load_tick)
        return c->out_held;
    switch (c->mode) {
    case 0: /* low until terminal count, then high until reprogrammed */
    case 1: /* low from the trigger's load until terminal count */
        return tick >= run->tc_tick;
    case 2: /* low for the one pulse on which CE is 1 */
        return pit_periodic_pos(run, tick) != run->period - 1;
    case 3: /* high for the first ceil(N/2) pulses of each period */
        return pit_periodic_pos(run, tick) < (run->period + 1) / 2;
    default: /* modes 4, 5: low for the one pulse of terminal count */
        return tick != run->tc_tick;
    }
}

/* Rising edges of OUT on pulses in (after, upto] within one run. A run
 * starts at the OUT level held before it, so its load pulse is no edge. */
static uint64_t pit_run_rises(const struct pit_counter *c, const struct pit_run *run, int64_t after,
                              int64_t upto)
{
    int64_t from = after > run->load_tick ? after : run->load_tick;
    int64_t rise;

    if (upto <= from)
        return 0;
    switch (c->mode) {
    case 2:
    case 3:
        /* OUT rises whenever the position wraps to 0. */
        return ((uint64_t)(upto - run->load_tick) + run->phase0) / run->period -
               ((uint64_t)(from - run->load_tick) + run->phase0) / run->period;
    case 0:
    case 1:
        rise = run->tc_tick;
        break;
    default:
        rise = run->tc_tick == TICK_NEVER_PAST ? TICK_NEVER_PAST : run->tc_tick + 1;
        break;
    }
    return rise > from && rise <= upto;
}

static uint64_t pit_rises(const struct pit_counter *c, int64_t after, int64_t upto)
{
    if (c->state != PIT_COUNTING)
        return 0;
    if (c->has_next && upto >= c->next.load_tick)
        return pit_run_rises(c, &c->run, after, c->next.load_tick) +
               pit_run_rises(c, &c->next, after, upto);
    return pit_run_rises(c, &c->run, after, upto);
}

static int64_t pit_run_next_rise(const struct pit_counter *c, const struct pit_run *run,
                                 int64_t after)
{
    int64_t from = after > run->load_tick ? after : run->load_tick;
    uint64_t u;

    switch (c->mode) {
    case 2:
    case 3:
        u = (uint64_t)(from - run->load_tick) + run->phase0;
        return run->load_tick - run->phase0 + (int64_t)((u / run->period + 1) * run->period);
    case 0:
    case 1:
        return run->tc_tick > from ? run->tc_tick : TICK_NEVER_AHEAD;
    default:
        if (run->tc_tick == TICK_NEVER_PAST || run->tc_tick + 1 <= from)
            return TICK_NEVER_AHEAD;
        return run->tc_tick + 1;
    }
}

static int64_t pit_next_rise(const struct pit_counter *c, int64_t after)
{
    int64_t rise;

    if (c->state != PIT_COUNTING)
        return TICK_NEVER_AHEAD;
    rise = pit_run_next_rise(c, &c->run, after);
    if (c->has_next && rise > c->next.load_tick)
        rise = pit_run_next_rise(c, &c->next, after);
    return rise;
}

/* A pending mode 2/3 count whose load pulse has come becomes the run. */
static void pit_commit(struct pit_counter *c, int64_t tick)
{
    if (c->has_next && tick >= c->next.load_tick) {
        c->run = c->next;
        c->has_next = false;
    }
}

/* Starts a run whose load pulse is the one after tick ("the count is loaded
 * on the next CLK pulse"). */
static void pit_start_run(struct pit_counter *c, int64_t tick)
{
    uint32_t count = pit_effective_count(c);

    c->ce_held = pit_ce_at(c, tick);
    c->out_held = pit_out_at(c, tick);
    c->run = (struct pit_run){
        .load_tick = tick + 1,
        .ce0 = pit_initial_count(c) % pit_modulus(c),
        .tc_tick = tick + 1 + count,
        .period = count,
    };
    c->has_next = false;
    c->state = PIT_COUNTING;
    if (c->null_until > tick)
        c->null_until = tick + 1;
}

/* GATE low in modes 0 and 4 disables counting; CE holds. */
static void pit_pause(struct pit_counter *c, int64_t tick)
{
    const struct pit_run *run = &c->run;

    if (tick < run->load_tick) {
        c->paused_ce = run->ce0;
        c->paused_remaining = run->tc_tick - run->load_tick;
    } else {
        c->paused_ce = pit_ce_at(c, tick);
        c->paused_remaining = run->tc_tick > tick ? run->tc_tick - tick : -1;
    }
    c->out_held = c->mode == 0 ? c->paused_remaining < 0 : true;
    c->state = PIT_PAUSED;
}

static void pit_resume(struct pit_counter *c, int64_t tick)
{
    int64_t load = tick > c->run.load_tick ? tick : c->run.load_tick;

    c->run.load_tick = load;
    c->run.ce0 = c->paused_ce;
    c->run.tc_tick = c->paused_remaining < 0 ? TICK_NEVER_PAST : load + c->paused_remaining;
    c->state = PIT_COUNTING;
}

/* Counting stops where it is (control word, first byte in mode 0, GATE low
 * in modes 2 and 3). */
static void pit_stop(struct pit_counter *c, int64_t tick, bool out)
{
    c->ce_held = pit_ce_at(c, tick);
    c->out_held = out;
    c->state = PIT_IDLE;
    c->has_next = false;
}

/* A complete count has been written to CR ("Write Operations" and the
 * per-mode rules for a new count). */
static void pit_load_count(struct pit_counter *c, int64_t tick)
{
    uint32_t count, pos, high;

    c->cr_written = true;
    c->null_until = TICK_NEVER_AHEAD;
    switch (c->mode) {
    case 0: /* loaded on the next pulse; OUT low until terminal count */
    case 4: /* likewise, a new count restarts the strobe */
        pit_stop(c, tick, c->mode != 0);
        pit_start_run(c, tick);
        if (!c->gate)
            pit_pause(c, tick);
        break;
    case 1: /* the one-shot in progress is unaffected until retriggered */
    case 5:
        break;
    case 2: /* a new count takes effect at the end of the period ... */
    case 3: /* ... or of the half-period in mode 3 */
        if (c->state == PIT_COUNTING && tick >= c->run.load_tick) {
            count = pit_effective_count(c);
            pos = pit_periodic_pos(&c->run, tick);
            high = (c->run.period + 1) / 2;
            c->next = (struct pit_run){.period = count};
            if (c->mode == 3 && pos < high) {
                c->next.load_tick = tick + (high - pos);
                c->next.phase0 = (count + 1) / 2;
            } else {
                c->next.load_tick = tick + (c->run.period - pos);
            }
            c->has_next = true;
            c->null_until = c->next.load_tick;
        } else if (c->state == PIT_COUNTING) {
            c->run.period = pit_effective_count(c); /* not loaded yet */
            c->null_until = c->run.load_tick;
        } else if (c->gate) {
            pit_start_run(c, tick);
        }
        break;
    }
}

/* "Gate" table: modes 0/4 pause on GATE low; modes 2/3 stop with OUT high
 * and reload on the rising edge; modes 1/5 trigger on the rising edge. */
static void pit_set_gate(struct pit_counter *c, int64_t tick, bool gate)
{
    if (gate == c->gate)
        return;
    c->gate = gate;
    switch (c->mode) {
    case 0:
    case 4:
        if (!gate && c->state == PIT_COUNTING)
            pit_pause(c, tick);
        else if (gate && c->state == PIT_PAUSED)
            pit_resume(c, tick);
        break;
    case 2:
    case 3:
        if (!gate && c->state == PIT_COUNTING) {
            pit_stop(c, tick, true);
            if (c->null_until > tick)
                c->null_until = TICK_NEVER_AHEAD;
        } else if (gate && c->cr_written) {
            pit_start_run(c, tick);
        }
        break;
    default:
        if (gate && c->cr_written)
            pit_start_run(c, tick);
        break;
    }
}

/* ---- the counter's registers ("Read Operations", "Write Operations") ---- */

static uint8_t pit_status(const struct pit_counter *c, int64_t tick)
{
    return (uint8_t)((pit_out_at(c, tick) ? STATUS_OUTPUT : 0) |
                     (tick < c->null_until ? STATUS_NULL_COUNT : 0) | c->program);
}

static uint16_t pit_count_value(const struct pit_counter *c, int64_t tick)
{
    uint32_t ce = pit_ce_at(c, tick);

    return c->bcd ? binary_to_bcd(ce) : (uint16_t)ce;
}

/* "Counter Latch Command": a second latch before the read is ignored. */
static void pit_latch_count(struct pit_counter *c, int64_t tick)
{
    if (c->latched_bytes)
        return;
    c->ol = pit_count_value(c, tick);
    c->latched_bytes = c->rw == PIT_RW_WORD ? 2 : 1;
}

static void pit_latch_status(struct pit_counter *c, int64_t tick)
{
    if (c->status_latched)
        return;
    c->status = pit_status(c, tick);
    c->status_latched = true;
}

static uint8_t pit_read_counter(struct pit_counter *c, int64_t tick)
{
    uint16_t value;
    uint8_t byte;

    if (c->status_latched) { /* status first, whichever was latched first */
        c->status_latched = false;
        return c->status;
    }
    if (c->latched_bytes) {
        value = c->ol;
        c->latched_bytes--;
    } else {
        value = pit_count_value(c, tick);
    }
    switch (c->rw) {
    case PIT_RW_MSB:
        return (uint8_t)(value >> 8);
    case PIT_RW_WORD:
        byte = c->read_msb_next ? (uint8_t)(value >> 8) : (uint8_t)value;
        c->read_msb_next = !c->read_msb_next;
        return byte;
    default:
        return (uint8_t)value;
    }
}

static void pit_write_counter(struct pit_counter *c, int64_t tick, uint8_t byte)
{
    switch (c->rw) {
    case PIT_RW_MSB:
        c->cr = (uint16_t)(byte << 8);
        break;
    case PIT_RW_WORD:
        if (!c->write_msb_next) {
            c->cr = (uint16_t)((c->cr & 0xFF00) | byte);
            c->write_msb_next = true;
            /* Mode 0: the first byte stops counting and drops OUT. */
            if (c->mode == 0)
                pit_stop(c, tick, false);
            return;
        }
        c->cr = (uint16_t)((c->cr & 0x00FF) | byte << 8);
        c->write_msb_next = false;
        break;
    default:
        c->cr = byte;
        break;
    }
    pit_load_count(c, tick);
}

/* "Control Word Format": resets the counter's control logic; OUT goes low
 * in mode 0 and high in every other mode; the count waits for CR. */
/* The counter mode a control word selects: 6 and 7 are 2 and 3. */
static unsigned control_word_mode(uint8_t value)
{
    unsigned mode = (value >> CW_MODE_SHIFT) & 7;

    return mode > 5 ? mode - 4 : mode;
}

static void pit_write_control(struct pit_counter *c, int64_t tick, uint8_t value)
{
    pit_stop(c, tick, ((value >> CW_MODE_SHIFT) & 7) != 0);
    c->program = value & CW_PROGRAM_BITS;
    c->mode = control_word_mode(value);
    c->rw = (enum pit_rw)((value >> CW_RW_SHIFT) & 3);
    c->bcd = value & CW_BCD;
    c->cr_written = false;
    c->write_msb_next = false;
    c->read_msb_next = false;
    c->latched_bytes = 0; /* "held until read (or until reprogrammed)" */
    c->null_until = TICK_NEVER_AHEAD;
}

/* ---- IRQ 0 ---- */

/* Delivers OUT 0 on pulses (irq_tick, tick] to IRQ 0. A late call that
 * spans several rising edges gives one edge and counts the rest missed. */
static void pit_sync(struct pit8254 *pit, int64_t tick)
{
    struct pit_counter *c0 = &pit->counter[0];
    uint64_t rises = pit_rises(c0, pit->irq_tick, tick);
    bool out;

    for (unsigned i = 0; i < PIT_NR_COUNTERS; i++)
        pit_commit(&pit->counter[i], tick);
    out = pit_out_at(c0, tick);
    if (rises > 0) {
        if (pit->irq && pit->irq_level)
            irq_set_level(pit->irq, 0, false);
        if (pit->irq)
            irq_set_level(pit->irq, 0, true);
        pit->irq_level = true;
        pit->missed_ticks += rises - 1;
    }
    if (out != pit->irq_level && pit->irq)
        irq_set_level(pit->irq, 0, out);
    pit->irq_level = out;
    pit->irq_tick = tick;
}

/* ---- port handlers ---- */

static uint32_t pit_read(void *opaque, io_port_t port, unsigned size)
{
    struct pit8254 *pit = opaque;
    unsigned index = port - PIT_BASE;
    int64_t tick = pit_now(pit);

    if (index == PIT_CONTROL_OFFSET)
        return 0xFF; /* the control word register cannot be read */
    pit_sync(pit, tick);
    return pit_read_counter(&pit->counter[index], tick);
}

static void pit_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct pit8254 *pit = opaque;
    unsigned index = port - PIT_BASE;
    int64_t tick = pit_now(pit);
    uint8_t byte = (uint8_t)value;
    unsigned select = byte >> CW_SC_SHIFT;

    pit_sync(pit, tick);
    if (index != PIT_CONTROL_OFFSET) {
        pit_write_counter(&pit->counter[index], tick, byte);
    } else if (select == CW_SC_READ_BACK) {
        /* "Read-Back Command" */
        for (unsigned i = 0; i < PIT_NR_COUNTERS; i++) {
            if (!(byte & (2u << i)))
                continue;
            if (!(byte & READ_BACK_NOT_COUNT))
                pit_latch_count(&pit->counter[i], tick);
            if (!(byte & READ_BACK_NOT_STATUS))
                pit_latch_status(&pit->counter[i], tick);
        }
    } else if (((byte >> CW_RW_SHIFT) & 3) == PIT_RW_LATCH) {
        pit_latch_count(&pit->counter[select], tick);
    } else {
        pit_write_control(&pit->counter[select], tick, byte);
    }
    pit_sync(pit, tick); /* a write can move OUT 0 at once */
}

static uint32_t port_b_read(void *opaque, io_port_t port, unsigned size)
{
    struct pit8254 *pit = opaque;
    int64_t tick = pit_now(pit);

    pit_sync(pit, tick);
    return (pit->port_b & PORT_B_WRITABLE) | ((tick / REFRESH_TICKS) & 1 ? PORT_B_REFRESH : 0) |
           (pit_out_at(&pit->counter[2], tick) ? PORT_B_OUT2 : 0);
}

static void port_b_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct pit8254 *pit = opaque;
    int64_t tick = pit_now(pit);

    pit_sync(pit, tick);
    pit->port_b = (uint8_t)value & PORT_B_WRITABLE;
    pit_set_gate(&pit->counter[2], tick, pit->port_b & PORT_B_GATE2);
}

static const struct ioport_ops pit_ops = {
    .name = "pit8254",
    .read = pit_read,
    .write = pit_write,
};

static const struct ioport_ops port_b_ops = {
    .name = "port61",
    .read = port_b_read,
    .write = port_b_write,
};

/* ---- the device ---- */

void pit8254_reset(struct pit8254 *pit)
{
    int64_t tick = pit_ns_to_tick(pit->now_ns(pit->clock_ctx));
    static const uint16_t bios_count[PIT_NR_COUNTERS] = {0, 18, 0};

    pit->port_b = 0;
    pit->missed_ticks = 0;
    pit->irq_tick = tick;
    for (unsigned i = 0; i < PIT_NR_COUNTERS; i++) {
        struct pit_counter *c = &pit->counter[i];

        *c = (struct pit_counter){.gate = i != 2};
        pit_write_control(
            c, tick, (uint8_t)(i << CW_SC_SHIFT | PIT_RW_WORD << CW_RW_SHIFT | 3 << CW_MODE_SHIFT));
        if (i != 2) {
            pit_write_counter(c, tick, (uint8_t)bios_count[i]);
            pit_write_counter(c, tick, (uint8_t)(bios_count[i] >> 8));
        }
    }
    pit->irq_level = pit_out_at(&pit->counter[0], tick);
    if (pit->irq)
        irq_set_level(pit->irq, 0, pit->irq_level);
}

struct pit8254 *pit8254_create(struct ioport_bus *bus, struct irq_router *irq,
                               pit8254_clock_fn now_ns, void *clock_ctx, struct popek_error *err)
{
    struct pit8254 *pit = calloc(1, sizeof(*pit));

    if (!pit) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    pit->irq = irq;
    pit->now_ns = now_ns;
    pit->clock_ctx = clock_ctx;
    pit8254_reset(pit);
    if (!ioport_register(bus, PIT_BASE, 4, &pit_ops, pit, err) ||
        !ioport_register(bus, PIT_PORT_B, 1, &port_b_ops, pit, err)) {
        free(pit);
        return NULL;
    }
    return pit;
}

void pit8254_destroy(struct pit8254 *pit)
{
    free(pit);
}

void pit8254_update(struct pit8254 *pit)
{
    pit_sync(pit, pit_now(pit));
}

uint64_t pit8254_next_deadline(const struct pit8254 *pit)
{
    int64_t rise = pit_next_rise(&pit->counter[0], pit->irq_tick);

    return rise == TICK_NEVER_AHEAD ? UINT64_MAX : pit_tick_to_ns(rise);
}

uint64_t pit8254_missed_ticks(const struct pit8254 *pit)
{
    return pit->missed_ticks;
}

/* ---- saved state ---- */

/* A pulse number relative to the pulse now; the two sentinels as such. */
static void pit_put_tick(struct snap_writer *w, int64_t tick, int64_t now)
{
    if (tick == TICK_NEVER_PAST || tick == TICK_NEVER_AHEAD)
        snap_put_i64(w, tick);
    else
        snap_put_i64(w, tick - now);
}

static int64_t pit_get_tick(struct snap_section *s, int64_t now)
{
    int64_t delta = snap_get_i64(s);

    if (delta == TICK_NEVER_PAST || delta == TICK_NEVER_AHEAD)
        return delta;
    /* Pulses are counted from the clock's zero: years of them fit. */
    if (!snap_check(s, delta > -(INT64_C(1) << 60) && delta < (INT64_C(1) << 60),
                    "a pulse number out of range"))
        return now;
    return now + delta;
}

static void pit_run_save(const struct pit_run *run, struct snap_writer *w, int64_t now)
{
    pit_put_tick(w, run->load_tick, now);
    snap_put_u32(w, run->ce0);
    pit_put_tick(w, run->tc_tick, now);
    snap_put_u32(w, run->period);
    snap_put_u32(w, run->phase0);
}

static void pit_run_load(struct pit_run *run, struct snap_section *s, int64_t now)
{
    run->load_tick = pit_get_tick(s, now);
    run->ce0 = snap_get_u32(s);
    run->tc_tick = pit_get_tick(s, now);
    run->period = snap_get_u32(s);
    run->phase0 = snap_get_u32(s);
    snap_check(s, run->period <= 0x10000 && run->phase0 <= 0x10000 && run->ce0 <= 0x10000,
               "a count out of range");
}

void pit8254_save(const struct pit8254 *pit, struct snap_writer *w)
{
    int64_t now = pit_ns_to_tick(pit->now_ns(pit->clock_ctx));

    for (unsigned i = 0; i < PIT_NR_COUNTERS; i++) {
        const struct pit_counter *c = &pit->counter[i];
        snap_put_u8(w, c->program);
        snap_put_u8(w, (uint8_t)c->mode);
        snap_put_u8(w, (uint8_t)c->rw);
        snap_put_bool(w, c->bcd);
        snap_put_u16(w, c->cr);
        snap_put_bool(w, c->cr_written);
        snap_put_bool(w, c->write_msb_next);
        snap_put_bool(w, c->read_msb_next);
        snap_put_u8(w, (uint8_t)c->latched_bytes);
        snap_put_u16(w, c->ol);
        snap_put_bool(w, c->status_latched);
        snap_put_u8(w, c->status);
        snap_put_bool(w, c->gate);
        snap_put_u8(w, (uint8_t)c->state);
        pit_run_save(&c->run, w, now);
        snap_put_bool(w, c->has_next);
        pit_run_save(&c->next, w, now);
        snap_put_u32(w, c->ce_held);
        snap_put_bool(w, c->out_held);
        snap_put_u32(w, c->paused_ce);
        snap_put_i64(w, c->paused_remaining);
        pit_put_tick(w, c->null_until, now);
    }
    snap_put_u8(w, pit->port_b);
    pit_put_tick(w, pit->irq_tick, now);
    snap_put_bool(w, pit->irq_level);
}

bool pit8254_load(struct pit8254 *pit, struct snap_section *s)
{
    int64_t now = pit_ns_to_tick(pit->now_ns(pit->clock_ctx));

    for (unsigned i = 0; i < PIT_NR_COUNTERS; i++) {
        struct pit_counter *c = &pit->counter[i];
        c->program = snap_get_u8(s);
        c->mode = snap_get_u8(s);
        snap_check(s, c->mode <= 5, "a counter mode out of range");
        uint8_t rw = snap_get_u8(s);
        snap_check(s, rw <= PIT_RW_WORD, "a read/write mode out of range");
        c->rw = (enum pit_rw)rw;
        c->bcd = snap_get_bool(s);
        /* All three come from the last control word, which the status byte
         * echoes: they must say the same. */
        snap_check(s,
                   !(c->program & ~CW_PROGRAM_BITS) && c->mode == control_word_mode(c->program) &&
                       rw == ((c->program >> CW_RW_SHIFT) & 3) &&
                       c->bcd == (bool)(c->program & CW_BCD),
                   "a counter mode, access or BCD flag its control word does not say");
        c->cr = snap_get_u16(s);
        c->cr_written = snap_get_bool(s);
        c->write_msb_next = snap_get_bool(s);
        c->read_msb_next = snap_get_bool(s);
        c->latched_bytes = snap_get_u8(s);
        snap_check(s, c->latched_bytes <= 2, "a latch of more than two bytes");
        c->ol = snap_get_u16(s);
        c->status_latched = snap_get_bool(s);
        c->status = snap_get_u8(s);
        c->gate = snap_get_bool(s);
        uint8_t state = snap_get_u8(s);
        snap_check(s, state <= PIT_PAUSED, "a counting state out of range");
        c->state = (enum pit_ce_state)state;
        pit_run_load(&c->run, s, now);
        c->has_next = snap_get_bool(s);
        pit_run_load(&c->next, s, now);
        c->ce_held = snap_get_u32(s);
        c->out_held = snap_get_bool(s);
        c->paused_ce = snap_get_u32(s);
        c->paused_remaining = snap_get_i64(s);
        snap_check(s, c->paused_remaining >= -1 && c->paused_remaining <= 0x20000,
                   "a paused count out of range");
        c->null_until = pit_get_tick(s, now);
        /* Modes 2 and 3 divide by the period. */
        snap_check(s,
                   c->state != PIT_COUNTING || (c->mode != 2 && c->mode != 3) ||
                       (c->run.period > 0 && (!c->has_next || c->next.period > 0)),
                   "a periodic count of zero");
    }
    pit->port_b = snap_get_u8(s);
    pit->irq_tick = pit_get_tick(s, now);
    pit->irq_level = snap_get_bool(s);
    return !s->bad;
}
