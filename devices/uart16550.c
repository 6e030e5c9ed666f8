/*
 * devices/uart16550.c — the 16550A UART (uart16550.h).
 *
 * Written from the National Semiconductor PC16550D datasheet; names below
 * are its register and section headings. Register map (offset from base;
 * DLAB = LCR bit 7):
 *
 *   0  RBR (read) / THR (write)      DLL when DLAB=1
 *   1  IER  D0 ERBFI received data (and timeout), D1 ETBEI THR empty,
 *           D2 ELSI line status, D3 EDSSI modem status; D4-D7 read 0
 *                                    DLM when DLAB=1
 *   2  IIR (read): D0 no interrupt pending, D1-D3 the source (below),
 *           D6-D7 set when the FIFOs are enabled
 *      FCR (write): D0 FIFO enable, D1 clear RCVR FIFO, D2 clear XMIT
 *           FIFO, D3 DMA mode, D6-D7 RCVR trigger 1/4/8/14 bytes
 *   3  LCR  D0-D1 word length 5-8, D2 stop bits, D3 parity enable,
 *           D4-D6 parity and break, D7 DLAB
 *   4  MCR  D0 DTR, D1 RTS, D2 OUT1, D3 OUT2, D4 LOOP; D5-D7 read 0
 *   5  LSR  D0 DR, D1 OE, D2 PE, D3 FE, D4 BI, D5 THRE, D6 TEMT,
 *           D7 error in RCVR FIFO
 *   6  MSR  D0 DCTS, D1 DDSR, D2 TERI, D3 DDCD (deltas since the last
 *           read), D4 CTS, D5 DSR, D6 RI, D7 DCD
 *   7  SCR  scratchpad
 *
 * Interrupts ("Interrupt Identification Register", table III), highest
 * priority first, with what clears each:
 *
 *   0x06 receiver line status   overrun          reading LSR
 *   0x04 received data          FIFO at trigger  FIFO below trigger
 *                               (16450: DR)      (16450: reading RBR)
 *   0x0C character timeout      see below        reading RBR
 *   0x02 THR empty              THR became empty reading IIR (when it is
 *                               or ETBEI set     the source), writing THR
 *   0x00 modem status           a delta bit      reading MSR
 *
 * Received data and the timeout share level 2; when both hold, IIR names
 * the timeout (QEMU, the guest tests' oracle, answers the same).
 *
 * Character timeout ("FIFO Interrupt Mode Operation"): in FIFO mode, with
 * at least one byte in the RCVR FIFO, no byte received and none read for
 * four character times. Its timer restarts on every byte received and
 * every read of RBR. A character time is start + data + parity + stop bits
 * at the baud rate of the divisor latch.
 *
 * Overrun ("Line Status Register", OE): in 16450 mode a byte arriving
 * while RBR is full replaces it; in FIFO mode a byte arriving with the
 * FIFO full is lost and the FIFO kept. Either way OE is set until LSR is
 * read. Backend bytes never overrun — they wait in the backend — so an
 * overrun only comes from loopback.
 *
 * Loopback ("Modem Control Register", LOOP): THR goes to the receiver, the
 * line input is disconnected, and the modem inputs follow the MCR outputs:
 * CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2 (with their delta bits and
 * interrupt). On the chip the OUT2 pin is forced inactive in loopback;
 * the interrupt gate here follows the MCR bit instead, so a loopback
 * self-test can run on interrupts (as under QEMU). Outside loopback the
 * line is a connected null-modem: CTS, DSR and DCD asserted, RI not.
 *
 * Wide accesses are split into byte accesses of consecutive registers, as
 * the ISA bus does for an 8-bit device.
 */
#include "devices/uart16550.h"

#include <stdlib.h>
#include <string.h>

enum {
    UART_RBR_THR = 0,
    UART_IER = 1,
    UART_IIR_FCR = 2,
    UART_LCR = 3,
    UART_MCR = 4,
    UART_LSR = 5,
    UART_MSR = 6,
    UART_SCR = 7,
};

#define IER_ERBFI    0x01
#define IER_ETBEI    0x02
#define IER_ELSI     0x04
#define IER_EDSSI    0x08
#define IER_WRITABLE 0x0F

#define IIR_NO_INT       0x01
#define IIR_MODEM_STATUS 0x00
#define IIR_THR_EMPTY    0x02
#define IIR_RX_DATA      0x04
#define IIR_LINE_STATUS  0x06
#define IIR_RX_TIMEOUT   0x0C
#define IIR_FIFOS_ON     0xC0

#define FCR_ENABLE     0x01
#define FCR_CLEAR_RX   0x02
#define FCR_CLEAR_TX   0x04
#define FCR_DMA_MODE   0x08
#define FCR_TRIGGER    0xC0
#define FCR_PROGRAMMED (FCR_ENABLE | FCR_DMA_MODE | FCR_TRIGGER)

#define LCR_WORD_LENGTH 0x03
#define LCR_STOP_BITS   0x04
#define LCR_PARITY      0x08
#define LCR_DLAB        0x80

#define MCR_DTR      0x01
#define MCR_RTS      0x02
#define MCR_OUT1     0x04
#define MCR_OUT2     0x08
#define MCR_LOOP     0x10
#define MCR_WRITABLE 0x1F

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80

#define RX_FIFO_BYTES   16
#define TIMEOUT_CHARS   4
#define BIOS_DIVISOR    0x000C /* 9600 baud */
#define LINE_INPUTS     (MSR_CTS | MSR_DSR | MSR_DCD)
#define NS_PER_SEC      1000000000ull
#define UART_NEVER      UINT64_MAX
#define HALF_BITS_PER_S (2ull * UART_CLOCK_HZ / 16) /* at divisor 1 */

struct uart16550 {
    struct irq_router *lines; /* the ISA interrupt lines (devices/irq.h) */
    unsigned irq;
    struct chardev *backend;
    uart16550_clock_fn now_ns;
    void *clock_ctx;

    /* registers */
    uint8_t ier, fcr, lcr, mcr, scr;
    uint16_t divisor;
    uint8_t lsr_errors; /* OE, held until LSR is read */
    uint8_t msr_inputs; /* MSR D4-D7: the modem inputs now */
    uint8_t msr_deltas; /* MSR D0-D3 */

    /* receiver: the RCVR FIFO (one byte deep in 16450 mode) */
    uint8_t rx[RX_FIFO_BYTES];
    unsigned rx_head, rx_count;
    uint8_t rbr_last;        /* what RBR reads when empty */
    uint64_t rx_quiet_since; /* last byte received or read: the timeout counts from here */
    bool timeout_pending;

    /* transmitter */
    bool thre_pending; /* the THR-empty interrupt, until IIR or THR clears it */

    bool irq_level; /* what the IRQ line is driven to */

    /* --save-when: the text watched for and the last bytes transmitted
     * (host side; never saved). */
    char watch[UART_WATCH_MAX];
    size_t watch_len;
    uint8_t recent[UART_WATCH_MAX];
    size_t recent_len;
    bool watch_seen;
};

/* ---- time ---- */

static uint64_t uart_now(const struct uart16550 *uart)
{
    return uart->now_ns(uart->clock_ctx);
}

/* Four character times: start bit, 5-8 data bits, parity, and 1, 1.5 (5-bit
 * words) or 2 stop bits ("Line Control Register"), in half bits, at
 * UART_CLOCK_HZ / (16 * divisor) bits per second. A divisor of 0 counts as
 * 65536, where the 16-bit counter wraps. */
static uint64_t uart_timeout_ns(const struct uart16550 *uart)
{
    unsigned data_bits = 5 + (uart->lcr & LCR_WORD_LENGTH);
    unsigned half_bits = 2 * (1 + data_bits + ((uart->lcr & LCR_PARITY) ? 1 : 0));
    uint64_t divisor = uart->divisor ? uart->divisor : 65536;

    if (!(uart->lcr & LCR_STOP_BITS))
        half_bits += 2;
    else
        half_bits += data_bits == 5 ? 3 : 4;
    return (TIMEOUT_CHARS * half_bits * divisor * NS_PER_SEC + HALF_BITS_PER_S - 1) /
           HALF_BITS_PER_S;
}

/* ---- receiver ---- */

static bool uart_fifo_mode(const struct uart16550 *uart)
{
    return uart->fcr & FCR_ENABLE;
}

static unsigned uart_rx_capacity(const struct uart16550 *uart)
{
    return uart_fifo_mode(uart) ? RX_FIFO_BYTES : 1;
}

static unsigned uart_rx_trigger(const struct uart16550 *uart)
{
    static const unsigned trigger[4] = {1, 4, 8, 14};

    return trigger[uart->fcr >> 6];
}

static void uart_clear_rx(struct uart16550 *uart)
{
    uart->rx_count = 0;
    uart->timeout_pending = false;
}

/* A byte completes in the receiver shift register and moves to RBR/FIFO. */
static void uart_receive(struct uart16550 *uart, uint8_t byte, uint64_t now)
{
    if (uart->rx_count == uart_rx_capacity(uart)) {
        uart->lsr_errors |= LSR_OE;
        if (!uart_fifo_mode(uart))
            uart->rx[uart->rx_head] = byte; /* 16450: RBR overwritten */
    } else {
        uart->rx[(uart->rx_head + uart->rx_count) % RX_FIFO_BYTES] = byte;
        uart->rx_count++;
    }
    uart->rx_quiet_since = now;
}

static uint8_t uart_read_rbr(struct uart16550 *uart, uint64_t now)
{
    if (uart->rx_count) {
        uart->rbr_last = uart->rx[uart->rx_head];
        uart->rx_head = (uart->rx_head + 1) % RX_FIFO_BYTES;
        uart->rx_count--;
    }
    uart->rx_quiet_since = now;
    uart->timeout_pending = false;
    return uart->rbr_last;
}

static uint64_t uart_timeout_deadline(const struct uart16550 *uart)
{
    if (!uart_fifo_mode(uart) || uart->rx_count == 0 || uart->timeout_pending)
        return UART_NEVER;
    return uart->rx_quiet_since + uart_timeout_ns(uart);
}

/* Brings the receiver up to now: backend bytes into the free FIFO space
 * (none in loopback: the line is disconnected), then the timeout.
 *
 * The host side honours hardware flow control: it sends only while the
 * guest asserts RTS (MCR bit 1), as a terminal or modem wired for RTS/CTS
 * does. A driver raises RTS when the port is opened, not while probing or
 * resetting the chip, so input typed or piped in before the guest is ready
 * waits in the backend instead of being overrun or flushed away. */
static void uart_sync(struct uart16550 *uart, uint64_t now)
{
    uint8_t byte;

    if (uart->backend && !(uart->mcr & MCR_LOOP) && (uart->mcr & MCR_RTS)) {
        while (uart->rx_count < uart_rx_capacity(uart) && chardev_read(uart->backend, &byte))
            uart_receive(uart, byte, now);
    }
    if (now >= uart_timeout_deadline(uart))
        uart->timeout_pending = true;
}

/* ---- modem status ---- */

static uint8_t uart_modem_inputs(const struct uart16550 *uart)
{
    uint8_t mcr = uart->mcr;

    if (!(mcr & MCR_LOOP))
        return LINE_INPUTS;
    return ((mcr & MCR_RTS) ? MSR_CTS : 0) | ((mcr & MCR_DTR) ? MSR_DSR : 0) |
           ((mcr & MCR_OUT1) ? MSR_RI : 0) | ((mcr & MCR_OUT2) ? MSR_DCD : 0);
}

/* The inputs change: record the deltas ("Modem Status Register"); TERI is
 * the trailing edge of RI only. */
static void uart_set_modem_inputs(struct uart16550 *uart, uint8_t inputs)
{
    uint8_t changed = uart->msr_inputs ^ inputs;

    if (changed & MSR_CTS)
        uart->msr_deltas |= MSR_DCTS;
    if (changed & MSR_DSR)
        uart->msr_deltas |= MSR_DDSR;
    if ((changed & MSR_RI) && !(inputs & MSR_RI))
        uart->msr_deltas |= MSR_TERI;
    if (changed & MSR_DCD)
        uart->msr_deltas |= MSR_DDCD;
    uart->msr_inputs = inputs;
}

/* ---- interrupts ---- */

/* The highest-priority pending source, as IIR D0-D3 name it. */
static uint8_t uart_interrupt_id(const struct uart16550 *uart)
{
    if ((uart->ier & IER_ELSI) && (uart->lsr_errors & LSR_OE))
        return IIR_LINE_STATUS;
    if (uart->ier & IER_ERBFI) {
        if (uart->timeout_pending)
            return IIR_RX_TIMEOUT;
        if (uart->rx_count && (!uart_fifo_mode(uart) || uart->rx_count >= uart_rx_trigger(uart)))
            return IIR_RX_DATA;
    }
    if ((uart->ier & IER_ETBEI) && uart->thre_pending)
        return IIR_THR_EMPTY;
    if ((uart->ier & IER_EDSSI) && uart->msr_deltas)
        return IIR_MODEM_STATUS;
    return IIR_NO_INT;
}

/* INTR gated by OUT2 drives the ISA interrupt line. */
static void uart_update_irq(struct uart16550 *uart)
{
    bool level = uart_interrupt_id(uart) != IIR_NO_INT && (uart->mcr & MCR_OUT2);

    if (level == uart->irq_level)
        return;
    uart->irq_level = level;
    if (uart->lines)
        irq_set_level(uart->lines, uart->irq, level);
}

/* ---- registers ---- */

static uint8_t uart_read_register(struct uart16550 *uart, unsigned reg, uint64_t now)
{
    bool dlab = uart->lcr & LCR_DLAB;
    uint8_t value;

    switch (reg) {
    case UART_RBR_THR:
        return dlab ? (uint8_t)uart->divisor : uart_read_rbr(uart, now);
    case UART_IER:
        return dlab ? (uint8_t)(uart->divisor >> 8) : uart->ier;
    case UART_IIR_FCR:
        value = uart_interrupt_id(uart);
        if (value == IIR_THR_EMPTY)
            uart->thre_pending = false; /* reading IIR clears it as the source */
        return value | (uart_fifo_mode(uart) ? IIR_FIFOS_ON : 0);
    case UART_LCR:
        return uart->lcr;
    case UART_MCR:
        return uart->mcr;
    case UART_LSR:
        value = (uart->rx_count ? LSR_DR : 0) | uart->lsr_errors | LSR_THRE | LSR_TEMT;
        uart->lsr_errors = 0;
        return value;
    case UART_MSR:
        value = uart->msr_inputs | uart->msr_deltas;
        uart->msr_deltas = 0;
        return value;
    default:
        return uart->scr;
    }
}

/* The bytes sent so far end with the watched text? */
static void uart_watch_byte(struct uart16550 *uart, uint8_t byte)
{
    if (uart->recent_len == uart->watch_len) {
        memmove(uart->recent, uart->recent + 1, uart->recent_len - 1);
        uart->recent_len--;
    }
    uart->recent[uart->recent_len++] = byte;
    if (uart->recent_len == uart->watch_len && !memcmp(uart->recent, uart->watch, uart->watch_len))
        uart->watch_seen = true;
}

/* THR: the byte leaves at once (to the receiver in loopback, where the
 * transmitter's serial output is held marking), so THR is empty again. */
static void uart_transmit(struct uart16550 *uart, uint8_t byte, uint64_t now)
{
    if (uart->mcr & MCR_LOOP)
        uart_receive(uart, byte, now);
    else if (uart->backend)
        chardev_write(uart->backend, &byte, 1);
    if (uart->watch_len && !(uart->mcr & MCR_LOOP))
        uart_watch_byte(uart, byte);
    uart->thre_pending = true;
}

/* FCR: FCR0 must be set for the other bits to be programmed; changing it
 * clears both FIFOs ("FIFO Control Register"). */
static void uart_write_fcr(struct uart16550 *uart, uint8_t value)
{
    bool enable = value & FCR_ENABLE;

    if (enable != uart_fifo_mode(uart))
        uart_clear_rx(uart);
    if (!enable) {
        uart->fcr &= (uint8_t)~FCR_ENABLE;
        return;
    }
    uart->fcr = value & FCR_PROGRAMMED;
    if (value & FCR_CLEAR_RX)
        uart_clear_rx(uart);
    /* FCR_CLEAR_TX: the transmitter holds nothing to clear. */
}

static void uart_write_register(struct uart16550 *uart, unsigned reg, uint8_t value, uint64_t now)
{
    bool dlab = uart->lcr & LCR_DLAB;

    switch (reg) {
    case UART_RBR_THR:
        if (dlab)
            uart->divisor = (uint16_t)((uart->divisor & 0xFF00) | value);
        else
            uart_transmit(uart, value, now);
        break;
    case UART_IER:
        if (dlab) {
            uart->divisor = (uint16_t)((uart->divisor & 0x00FF) | value << 8);
            break;
        }
        /* Enabling the THRE interrupt with THR empty raises it at once. */
        if ((value & IER_ETBEI) && !(uart->ier & IER_ETBEI))
            uart->thre_pending = true;
        uart->ier = value & IER_WRITABLE;
        break;
    case UART_IIR_FCR:
        uart_write_fcr(uart, value);
        break;
    case UART_LCR:
        uart->lcr = value;
        break;
    case UART_MCR:
        uart->mcr = value & MCR_WRITABLE;
        uart_set_modem_inputs(uart, uart_modem_inputs(uart));
        break;
    case UART_LSR:
    case UART_MSR:
        break; /* writable only in the factory */
    default:
        uart->scr = value;
        break;
    }
}

static uint32_t uart_read(void *opaque, io_port_t port, unsigned size)
{
    struct uart16550 *uart = opaque;
    unsigned first = port & (UART_NPORTS - 1);
    uint64_t now = uart_now(uart);
    uint32_t value = 0;

    uart_sync(uart, now);
    for (unsigned i = 0; i < size; i++) {
        uint8_t byte = first + i < UART_NPORTS ? uart_read_register(uart, first + i, now) : 0xFF;
        value |= (uint32_t)byte << (8 * i);
    }
    uart_sync(uart, now); /* a read may have made room in the FIFO */
    uart_update_irq(uart);
    return value;
}

static void uart_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct uart16550 *uart = opaque;
    unsigned first = port & (UART_NPORTS - 1);
    uint64_t now = uart_now(uart);

    uart_sync(uart, now);
    for (unsigned i = 0; i < size && first + i < UART_NPORTS; i++)
        uart_write_register(uart, first + i, (uint8_t)(value >> (8 * i)), now);
    uart_sync(uart, now);
    uart_update_irq(uart);
}

static const struct ioport_ops uart_ops = {
    .name = "uart16550",
    .read = uart_read,
    .write = uart_write,
};

/* ---- the device ---- */

void uart16550_reset(struct uart16550 *uart)
{
    uart->ier = 0;
    uart->fcr = 0;
    uart->lcr = 0;
    uart->mcr = 0;
    uart->scr = 0;
    uart->lsr_errors = 0;
    uart->msr_inputs = uart_modem_inputs(uart);
    uart->msr_deltas = 0;
    uart->rx_head = 0;
    uart->rbr_last = 0;
    uart_clear_rx(uart);
    uart->rx_quiet_since = uart_now(uart);
    uart->thre_pending = false;
    uart_update_irq(uart);
}

struct uart16550 *uart16550_create(struct ioport_bus *bus, io_port_t base, struct irq_router *lines,
                                   unsigned irq, struct chardev *backend, uart16550_clock_fn now_ns,
                                   void *clock_ctx, struct popek_error *err)
{
    struct uart16550 *uart = calloc(1, sizeof(*uart));

    if (!uart) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    uart->lines = lines;
    uart->irq = irq;
    uart->backend = backend;
    uart->now_ns = now_ns;
    uart->clock_ctx = clock_ctx;
    uart->divisor = BIOS_DIVISOR;
    uart16550_reset(uart);
    if (!ioport_register(bus, base, UART_NPORTS, &uart_ops, uart, err)) {
        free(uart);
        return NULL;
    }
    return uart;
}

void uart16550_destroy(struct uart16550 *uart)
{
    free(uart);
}

void uart16550_update(struct uart16550 *uart)
{
    uart_sync(uart, uart_now(uart));
    uart_update_irq(uart);
}

uint64_t uart16550_next_deadline(const struct uart16550 *uart)
{
    return uart_timeout_deadline(uart);
}

bool uart16550_irq_line(const struct uart16550 *uart)
{
    return uart->irq_level;
}

void uart16550_watch_output(struct uart16550 *uart, const char *text)
{
    size_t n = text ? strlen(text) : 0;

    if (n > UART_WATCH_MAX)
        n = UART_WATCH_MAX;
    if (n) /* text may be NULL: memcpy's pointers must be valid even for 0 */
        memcpy(uart->watch, text, n);
    uart->watch_len = n;
    uart->recent_len = 0;
    uart->watch_seen = false;
}

bool uart16550_watch_seen(const struct uart16550 *uart)
{
    return uart->watch_seen;
}

/* ---- saved state ---- */

void uart16550_save(const struct uart16550 *uart, struct snap_writer *w)
{
    snap_put_u8(w, uart->ier);
    snap_put_u8(w, uart->fcr);
    snap_put_u8(w, uart->lcr);
    snap_put_u8(w, uart->mcr);
    snap_put_u8(w, uart->scr);
    snap_put_u16(w, uart->divisor);
    snap_put_u8(w, uart->lsr_errors);
    snap_put_u8(w, uart->msr_inputs);
    snap_put_u8(w, uart->msr_deltas);
    snap_put_u8(w, (uint8_t)uart->rx_count);
    for (unsigned i = 0; i < uart->rx_count; i++)
        snap_put_u8(w, uart->rx[(uart->rx_head + i) % RX_FIFO_BYTES]);
    snap_put_u8(w, uart->rbr_last);
    snap_put_time(w, uart->rx_quiet_since, uart_now(uart));
    snap_put_bool(w, uart->timeout_pending);
    snap_put_bool(w, uart->thre_pending);
    snap_put_bool(w, uart->irq_level);
}

bool uart16550_load(struct uart16550 *uart, struct snap_section *s)
{
    uart->ier = snap_get_u8(s);
    snap_check(s, !(uart->ier & ~IER_WRITABLE), "IER bits that do not exist");
    uart->fcr = snap_get_u8(s);
    snap_check(s, !(uart->fcr & ~FCR_PROGRAMMED), "FCR bits that are not kept");
    uart->lcr = snap_get_u8(s);
    uart->mcr = snap_get_u8(s);
    snap_check(s, !(uart->mcr & ~MCR_WRITABLE), "MCR bits that do not exist");
    uart->scr = snap_get_u8(s);
    uart->divisor = snap_get_u16(s);
    uart->lsr_errors = snap_get_u8(s);
    snap_check(s, !(uart->lsr_errors & ~LSR_OE), "LSR error bits popek never sets");
    uart->msr_inputs = snap_get_u8(s);
    snap_check(s, !(uart->msr_inputs & 0x0F), "modem inputs in the delta bits");
    uart->msr_deltas = snap_get_u8(s);
    snap_check(s, !(uart->msr_deltas & 0xF0), "modem deltas in the input bits");
    unsigned count = snap_get_u8(s);
    uart->rx_head = 0;
    uart->rx_count = 0;
    if (snap_check(s, count <= uart_rx_capacity(uart), "more received bytes than the FIFO holds")) {
        snap_get_bytes(s, uart->rx, count);
        uart->rx_count = count;
    }
    uart->rbr_last = snap_get_u8(s);
    uart->rx_quiet_since = snap_get_time(s, uart_now(uart));
    uart->timeout_pending = snap_get_bool(s);
    uart->thre_pending = snap_get_bool(s);
    uart->irq_level = snap_get_bool(s);
    return !s->bad;
}
