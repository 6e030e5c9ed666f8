/*
 * devices/uart16550.h — a 16550A UART (COM1 at 0x3F8).
 *
 * Transmitted bytes go to an output stream at once, so the transmitter is
 * always empty (LSR.THRE and LSR.TEMT stay set) — enough for a kernel that
 * polls LSR and writes THR. Loopback mode (MCR bit 4) routes THR to RBR, as
 * the Linux driver's probe expects. Interrupts and terminal input come with
 * the platform work (issue 5); the register file is complete already.
 */
#ifndef POPEK_DEVICES_UART16550_H
#define POPEK_DEVICES_UART16550_H

#include <stdio.h>

#include "devices/ioport.h"

#define UART_COM1_BASE 0x3F8
#define UART_NPORTS    8

struct uart16550;

/* Creates a UART at base whose transmitter writes to out, registered on bus. */
struct uart16550 *uart16550_create(struct ioport_bus *bus, io_port_t base, FILE *out,
                                   struct popek_error *err);
void uart16550_destroy(struct uart16550 *uart);

/* Queues a received byte (from the terminal); false if the FIFO is full. */
bool uart16550_receive(struct uart16550 *uart, uint8_t byte);

#endif
