/*
 * devices/uart16550.h — a 16550A UART: COM1 (0x3F8, IRQ 4) and COM2
 * (0x2F8, IRQ 3) of the PC (National Semiconductor PC16550D datasheet).
 *
 * What a driver sees is the chip: the 16-byte receive FIFO with its trigger
 * levels and character timeout, the four interrupt sources with their
 * priorities and clearing rules, line and modem status with delta bits,
 * loopback, the scratch register — enough for Linux's 8250 driver to
 * detect a 16550A and run it on interrupts. Two simplifications:
 *
 *  - transmission is instantaneous: a byte written to THR reaches the
 *    backend (or, in loopback, the receiver) at once, so LSR.THRE and TEMT
 *    always read 1, and THR becomes empty again right after each write
 *    (which is when the THRE interrupt is raised);
 *  - parity, framing and break are never seen (LSR PE/FE/BI and the FIFO
 *    error bit read 0); overrun is real.
 *
 * The interrupt line reaches the PIC through MCR.OUT2, as on every PC
 * serial card: IRQ = INTR && OUT2.
 *
 * Received bytes come from a chardev (devices/chardev.h), taken as the
 * FIFO has room — a byte waiting in the backend's ring is never lost —
 * and never while in loopback (the receiver is disconnected from the line).
 *
 * Time: the character timeout counts character times computed from the
 * divisor latch and LCR on an injected clock, like the PIT's:
 *
 *     uart = uart16550_create(bus, UART_COM1_BASE, lines, UART_COM1_IRQ,
 *                             backend, clock_ns, ctx, err);
 *     deadline = uart16550_next_deadline(uart);  // a timeout to come
 *     uart16550_update(uart);                    // clock and host input
 */
#ifndef POPEK_DEVICES_UART16550_H
#define POPEK_DEVICES_UART16550_H

#include "common/snapshot.h"
#include "devices/chardev.h"
#include "devices/ioport.h"
#include "devices/irq.h"

#define UART_COM1_BASE 0x3F8
#define UART_COM1_IRQ  4
#define UART_COM2_BASE 0x2F8
#define UART_COM2_IRQ  3
#define UART_NPORTS    8

/* The baud generator's input on PC serial cards: 1.8432 MHz, divided by 16
 * times the divisor latch (115200 baud with a divisor of 1). */
#define UART_CLOCK_HZ 1843200u

struct uart16550;

typedef uint64_t (*uart16550_clock_fn)(void *ctx);

/* Creates the UART in its reset state on bus at base, driving ISA line irq
 * of lines (devices/irq.h; NULL: no interrupt delivery). backend may be NULL: nothing
 * attached (output dropped, nothing received). now_ns must not go
 * backwards. */
struct uart16550 *uart16550_create(struct ioport_bus *bus, io_port_t base, struct irq_router *lines,
                                   unsigned irq, struct chardev *backend, uart16550_clock_fn now_ns,
                                   void *clock_ctx, struct popek_error *err);
void uart16550_destroy(struct uart16550 *uart);

/* The master reset pin (datasheet table IV): IER, FCR, LCR, MCR zero, LSR
 * 0x60, the FIFO empty, no interrupt. The divisor latch keeps its value
 * (0x000C, 9600 baud, at creation: what a PC BIOS programs). */
void uart16550_reset(struct uart16550 *uart);

/* Takes waiting backend input into the receive FIFO, brings the character
 * timeout up to the clock, and drives the IRQ line. */
void uart16550_update(struct uart16550 *uart);

/* Clock time at which a character timeout will fire, or UINT64_MAX. */
uint64_t uart16550_next_deadline(const struct uart16550 *uart);

/* What the UART drives on its IRQ line now (INTR && MCR.OUT2). */
bool uart16550_irq_line(const struct uart16550 *uart);

/* Saved state (devices/platform.h): every register, the receive FIFO,
 * the pending interrupt sources and the IRQ level, the character timeout
 * relative to the clock. Not the backend: bytes the host typed that the
 * FIFO has not taken stay with the host, as with QEMU. */
#define UART16550_STATE_VERSION 1
void uart16550_save(const struct uart16550 *uart, struct snap_writer *w);
bool uart16550_load(struct uart16550 *uart, struct snap_section *s);

/* Watches what the UART transmits to its backend for text (at most
 * UART_WATCH_MAX bytes; NULL stops watching): uart16550_watch_seen turns
 * true once the transmitted bytes have ended with it. The machine's
 * --save-when. */
#define UART_WATCH_MAX 256
void uart16550_watch_output(struct uart16550 *uart, const char *text);
bool uart16550_watch_seen(const struct uart16550 *uart);

#endif
