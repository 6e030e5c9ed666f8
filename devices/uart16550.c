/*
 * devices/uart16550.c — 16550A UART registers (PC16550D datasheet, §8).
 *
 * Register map (offset from base; DLAB = LCR bit 7):
 *   0  RBR (read) / THR (write)      DLL when DLAB=1
 *   1  IER                           DLM when DLAB=1
 *   2  IIR (read) / FCR (write)
 *   3  LCR    4 MCR    5 LSR    6 MSR    7 SCR
 */
#include "devices/uart16550.h"

#include <stdlib.h>

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

#define LCR_DLAB      0x80
#define MCR_DTR       0x01
#define MCR_RTS       0x02
#define MCR_OUT1      0x04
#define MCR_OUT2      0x08
#define MCR_LOOP      0x10
#define LSR_DR        0x01 /* data ready */
#define LSR_THRE      0x20 /* transmitter holding register empty */
#define LSR_TEMT      0x40 /* transmitter empty */
#define MSR_CTS       0x10
#define MSR_DSR       0x20
#define MSR_RI        0x40
#define MSR_DCD       0x80
#define IIR_NO_INT    0x01
#define IIR_FIFO_ON   0xC0
#define FCR_ENABLE    0x01
#define FCR_CLEAR_RX  0x02
#define RX_FIFO_BYTES 16

struct uart16550 {
    FILE *out;
    uint8_t ier, lcr, mcr, scr, fcr;
    uint8_t dll, dlm;
    uint8_t rx[RX_FIFO_BYTES];
    unsigned rx_head, rx_count;
};

bool uart16550_receive(struct uart16550 *uart, uint8_t byte)
{
    if (uart->rx_count == RX_FIFO_BYTES)
        return false;
    uart->rx[(uart->rx_head + uart->rx_count) % RX_FIFO_BYTES] = byte;
    uart->rx_count++;
    return true;
}

static uint8_t uart_pop_rx(struct uart16550 *uart)
{
    uint8_t byte;

    if (uart->rx_count == 0)
        return 0;
    byte = uart->rx[uart->rx_head];
    uart->rx_head = (uart->rx_head + 1) % RX_FIFO_BYTES;
    uart->rx_count--;
    return byte;
}

/* Modem status: in loopback the outputs of MCR feed the inputs (§8.6.8);
 * otherwise the line is always connected and ready. */
static uint8_t uart_msr(const struct uart16550 *uart)
{
    if (uart->mcr & MCR_LOOP) {
        return ((uart->mcr & MCR_RTS) ? MSR_CTS : 0) | ((uart->mcr & MCR_DTR) ? MSR_DSR : 0) |
               ((uart->mcr & MCR_OUT1) ? MSR_RI : 0) | ((uart->mcr & MCR_OUT2) ? MSR_DCD : 0);
    }
    return MSR_CTS | MSR_DSR | MSR_DCD;
}

static uint32_t uart_read(void *opaque, io_port_t port, unsigned size)
{
    struct uart16550 *uart = opaque;
    bool dlab = uart->lcr & LCR_DLAB;

    switch (port & 7) {
    case UART_RBR_THR:
        return dlab ? uart->dll : uart_pop_rx(uart);
    case UART_IER:
        return dlab ? uart->dlm : uart->ier;
    case UART_IIR_FCR:
        return IIR_NO_INT | ((uart->fcr & FCR_ENABLE) ? IIR_FIFO_ON : 0);
    case UART_LCR:
        return uart->lcr;
    case UART_MCR:
        return uart->mcr;
    case UART_LSR:
        return LSR_THRE | LSR_TEMT | (uart->rx_count ? LSR_DR : 0);
    case UART_MSR:
        return uart_msr(uart);
    default:
        return uart->scr;
    }
}

static void uart_transmit(struct uart16550 *uart, uint8_t byte)
{
    if (uart->mcr & MCR_LOOP) {
        uart16550_receive(uart, byte);
        return;
    }
    fputc(byte, uart->out);
    if (byte == '\n')
        fflush(uart->out);
}

static void uart_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct uart16550 *uart = opaque;
    bool dlab = uart->lcr & LCR_DLAB;
    uint8_t byte = (uint8_t)value;

    switch (port & 7) {
    case UART_RBR_THR:
        if (dlab)
            uart->dll = byte;
        else
            uart_transmit(uart, byte);
        break;
    case UART_IER:
        if (dlab)
            uart->dlm = byte;
        else
            uart->ier = byte & 0x0F;
        break;
    case UART_IIR_FCR:
        uart->fcr = byte & 0xC9;
        if (byte & FCR_CLEAR_RX)
            uart->rx_count = 0;
        break;
    case UART_LCR:
        uart->lcr = byte;
        break;
    case UART_MCR:
        uart->mcr = byte & 0x1F;
        break;
    case UART_LSR:
    case UART_MSR:
        break; /* read-only in normal operation */
    default:
        uart->scr = byte;
        break;
    }
}

static const struct ioport_ops uart_ops = {
    .name = "uart16550",
    .read = uart_read,
    .write = uart_write,
};

struct uart16550 *uart16550_create(struct ioport_bus *bus, io_port_t base, FILE *out,
                                   struct popek_error *err)
{
    struct uart16550 *uart = calloc(1, sizeof(*uart));

    if (!uart) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    uart->out = out;
    uart->dll = 0x0C; /* 9600 baud, the BIOS default */
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
