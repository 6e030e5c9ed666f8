/*
 * tests/test_uart16550.c — the 16550A UART (devices/uart16550.c), with its
 * IRQ going into a real 8259A pair and its input coming through a real
 * chardev ring.
 *
 * Time is a fake clock the tests set. Expected values follow the PC16550D
 * datasheet: the register map, table III (interrupt priorities and what
 * resets each), "FIFO Interrupt Mode Operation" (trigger levels, the
 * character timeout) and the loopback wiring of the Modem Control
 * Register. Where Linux's 8250 driver depends on a behaviour (autoconfig,
 * the UART_BUG_THRE and UART_BUG_TXEN probes), the test says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/chardev.h"
#include "devices/ioport.h"
#include "devices/irq.h"
#include "devices/pic8259.h"
#include "devices/uart16550.h"
#include "tests/snapshot_rig.h"

#define COM1 UART_COM1_BASE
#define RBR  (COM1 + 0)
#define THR  (COM1 + 0)
#define DLL  (COM1 + 0)
#define IER  (COM1 + 1)
#define DLM  (COM1 + 1)
#define IIR  (COM1 + 2)
#define FCR  (COM1 + 2)
#define LCR  (COM1 + 3)
#define MCR  (COM1 + 4)
#define LSR  (COM1 + 5)
#define MSR  (COM1 + 6)
#define SCR  (COM1 + 7)

#define MCR_LOOP 0x10
#define MCR_OUT2 0x08
#define MCR_OUT1 0x04
#define MCR_RTS  0x02
#define MCR_DTR  0x01

/* 8N1 at divisor 1 (115200 baud): 10 bits = 20 half bits; four
 * characters = 80e9 / 230400 ns, rounded up. */
#define TIMEOUT_8N1_DIV1 347223u

struct rig {
    struct ioport_bus *bus;
    struct pic8259 *pic;
    struct irq_router *irq;
    struct chardev *backend; /* null backend: its ring plays the host */
    struct uart16550 *uart;
    uint64_t now_ns;
};

static uint64_t fake_clock(void *ctx)
{
    return *(const uint64_t *)ctx;
}

static void out8(struct rig *rig, io_port_t port, uint8_t value)
{
    ioport_write(rig->bus, port, 1, value);
}

static uint8_t in8(struct rig *rig, io_port_t port)
{
    return (uint8_t)ioport_read(rig->bus, port, 1);
}

static int rig_setup(void **state)
{
    static struct rig rig;
    struct popek_error e;
    struct chardev_spec null_spec = {CHARDEV_NULL, NULL};

    rig.now_ns = 1000;
    rig.bus = ioport_bus_create();
    rig.pic = pic8259_create(rig.bus, &e);
    rig.irq = irq_router_create(rig.pic, &e);
    rig.backend = chardev_open(&null_spec, &e);
    rig.uart = uart16550_create(rig.bus, COM1, rig.irq, UART_COM1_IRQ, rig.backend, fake_clock,
                                &rig.now_ns, &e);
    assert_non_null(rig.uart);
    /* Linux's init_8259A: master vectors 0x20-0x27, everything unmasked. */
    static const uint8_t init[][2] = {
        {0x21, 0xFF}, {0xA1, 0xFF}, {0x20, 0x11}, {0x21, 0x20}, {0x21, 0x04}, {0x21, 0x01},
        {0xA0, 0x11}, {0xA1, 0x28}, {0xA1, 0x02}, {0xA1, 0x01}, {0x21, 0x00}, {0xA1, 0x00},
    };
    for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
        out8(&rig, init[i][0], init[i][1]);
    *state = &rig;
    return 0;
}

static int rig_teardown(void **state)
{
    struct rig *rig = *state;

    uart16550_destroy(rig->uart);
    chardev_destroy(rig->backend);
    irq_router_destroy(rig->irq);
    pic8259_destroy(rig->pic);
    ioport_bus_destroy(rig->bus);
    return 0;
}

/* Loopback with 8N1 at 115200 baud, the FIFO on with the given FCR. */
static void loopback_8n1(struct rig *rig, uint8_t fcr, uint8_t ier)
{
    out8(rig, LCR, 0x80);
    out8(rig, DLL, 1);
    out8(rig, DLM, 0);
    out8(rig, LCR, 0x03);
    out8(rig, FCR, fcr);
    out8(rig, MCR, MCR_LOOP | MCR_OUT2);
    in8(rig, MSR); /* entering loopback changed DSR: clear the delta */
    out8(rig, IER, ier);
}

static void send(struct rig *rig, const char *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out8(rig, THR, (uint8_t)bytes[i]);
}

/* ---- registers ---- */

static void test_reset_state(void **state)
{
    struct rig *rig = *state;

    /* Datasheet table IV, and the divisor a PC BIOS leaves (9600 baud). */
    assert_int_equal(in8(rig, IER), 0x00);
    assert_int_equal(in8(rig, IIR), 0x01);
    assert_int_equal(in8(rig, LCR), 0x00);
    assert_int_equal(in8(rig, MCR), 0x00);
    assert_int_equal(in8(rig, LSR), 0x60);
    assert_int_equal(in8(rig, MSR), 0xB0); /* a connected line: DCD, DSR, CTS */
    assert_int_equal(in8(rig, SCR), 0x00);
    out8(rig, LCR, 0x80);
    assert_int_equal(in8(rig, DLL), 0x0C);
    assert_int_equal(in8(rig, DLM), 0x00);
    out8(rig, LCR, 0x00);
    assert_false(uart16550_irq_line(rig->uart));
    assert_int_equal(uart16550_next_deadline(rig->uart), UINT64_MAX);
}

static void test_register_file(void **state)
{
    struct rig *rig = *state;

    out8(rig, IER, 0xFF);
    assert_int_equal(in8(rig, IER), 0x0F); /* D4-D7 are always 0 (Linux's IER probe) */
    out8(rig, IER, 0x00);
    out8(rig, MCR, 0xE3);
    assert_int_equal(in8(rig, MCR), 0x03); /* D5-D7 are always 0 */
    out8(rig, LCR, 0x5B);
    assert_int_equal(in8(rig, LCR), 0x5B);
    out8(rig, SCR, 0xA5);
    assert_int_equal(in8(rig, SCR), 0xA5);
    out8(rig, LSR, 0x00); /* read-only: ignored */
    out8(rig, MSR, 0x00);
    assert_int_equal(in8(rig, LSR), 0x60);
    assert_int_equal(in8(rig, MSR), 0xB0);

    /* DLAB: offsets 0 and 1 are the divisor latch, and writes there send
     * nothing; the other registers stay where they are. */
    out8(rig, LCR, 0x83);
    out8(rig, DLL, 0x34);
    out8(rig, DLM, 0x12);
    assert_int_equal(in8(rig, DLL), 0x34);
    assert_int_equal(in8(rig, DLM), 0x12);
    assert_int_equal(in8(rig, SCR), 0xA5);
    assert_int_equal(in8(rig, IIR), 0x01);
    out8(rig, LCR, 0x03);
    assert_int_equal(in8(rig, IER), 0x00);
    assert_int_equal(in8(rig, LSR), 0x60); /* nothing was received either */
}

static void test_wide_accesses_split_into_bytes(void **state)
{
    struct rig *rig = *state;

    /* A 16-bit write at LCR writes LCR then MCR; a 16-bit read at IER
     * reads IER then IIR. */
    ioport_write(rig->bus, LCR, 2, 0x0103);
    assert_int_equal(in8(rig, LCR), 0x03);
    assert_int_equal(in8(rig, MCR), 0x01);
    out8(rig, IER, 0x02);
    assert_int_equal(ioport_read(rig->bus, IER, 2), 0x0202);
    /* Past the last register the bus floats. */
    assert_int_equal(ioport_read(rig->bus, SCR, 2), 0xFF00);
}

static char *file_contents(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "rb");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_transmit_reaches_backend(void **state)
{
    struct popek_error e;
    struct ioport_bus *bus = ioport_bus_create();
    char path[] = "/tmp/popek-uart-XXXXXX";
    int fd = mkstemp(path);
    struct chardev_spec spec = {CHARDEV_FILE, path};
    uint64_t now = 0;

    assert_true(fd >= 0);
    close(fd);
    struct chardev *out = chardev_open(&spec, &e);
    assert_non_null(out);
    struct uart16550 *uart = uart16550_create(bus, COM1, NULL, 4, out, fake_clock, &now, &e);
    assert_non_null(uart);

    ioport_write(bus, THR, 1, 'h');
    ioport_write(bus, THR, 1, 'i');
    ioport_write(bus, THR, 1, '\n');
    assert_int_equal(ioport_read(bus, LSR, 1), 0x60); /* instantly sent */
    ioport_write(bus, LCR, 1, 0x80);
    ioport_write(bus, DLL, 1, 'X'); /* the divisor latch: not sent */
    ioport_write(bus, LCR, 1, 0x03);
    ioport_write(bus, MCR, 1, MCR_LOOP);
    ioport_write(bus, THR, 1, 'Y'); /* loopback: to the receiver only */
    assert_int_equal(ioport_read(bus, RBR, 1), 'Y');
    chardev_flush(out);
    assert_string_equal(file_contents(path), "hi\n");

    uart16550_destroy(uart);
    chardev_destroy(out);
    ioport_bus_destroy(bus);
    unlink(path);
}

/* ---- FIFO ---- */

static void test_fifo_control(void **state)
{
    struct rig *rig = *state;

    /* FIFO enable shows in IIR D6-D7 (Linux's autoconfig reads IIR >> 6:
     * 3 means a 16550A). */
    out8(rig, FCR, 0x01);
    assert_int_equal(in8(rig, IIR), 0xC1);
    out8(rig, FCR, 0x00);
    assert_int_equal(in8(rig, IIR), 0x01);

    /* Bytes wait in the FIFO; clear RCVR empties it. */
    out8(rig, FCR, 0x01);
    out8(rig, MCR, MCR_LOOP);
    send(rig, "abc", 3);
    assert_int_equal(in8(rig, LSR) & 0x01, 0x01);
    assert_int_equal(in8(rig, RBR), 'a');
    out8(rig, FCR, 0x03);
    assert_int_equal(in8(rig, LSR) & 0x01, 0x00);

    /* Leaving FIFO mode, and entering it, empty the FIFO too. */
    send(rig, "de", 2);
    out8(rig, FCR, 0x00);
    assert_int_equal(in8(rig, LSR) & 0x01, 0x00);
    send(rig, "f", 1);
    out8(rig, FCR, 0x01);
    assert_int_equal(in8(rig, LSR) & 0x01, 0x00);

    /* FCR = 0x01 programs trigger level 1 (D6-D7 = 0): one byte is enough. */
    out8(rig, IER, 0x01);
    send(rig, "g", 1);
    assert_int_equal(in8(rig, IIR), 0xC4);
}

static void test_trigger_levels(void **state)
{
    struct rig *rig = *state;
    static const struct {
        uint8_t fcr;
        unsigned level;
    } cases[] = {{0x01, 1}, {0x41, 4}, {0x81, 8}, {0xC1, 14}};

    for (size_t c = 0; c < 4; c++) {
        loopback_8n1(rig, cases[c].fcr | 0x02, 0x01);
        for (unsigned i = 0; i + 1 < cases[c].level; i++)
            out8(rig, THR, (uint8_t)i);
        assert_int_equal(in8(rig, IIR), 0xC1); /* below the trigger */
        assert_false(uart16550_irq_line(rig->uart));
        out8(rig, THR, 0xEE);
        assert_int_equal(in8(rig, IIR), 0xC4); /* at the trigger */
        assert_true(uart16550_irq_line(rig->uart));
        in8(rig, RBR);
        /* One byte below the trigger: the interrupt is gone. */
        assert_int_equal(in8(rig, IIR), 0xC1);
        assert_false(uart16550_irq_line(rig->uart));
    }
}

static void test_16450_mode_receive(void **state)
{
    struct rig *rig = *state;

    loopback_8n1(rig, 0x00, 0x01);
    out8(rig, THR, 'q');
    assert_int_equal(in8(rig, IIR), 0x04); /* one byte is enough; no FIFO bits */
    assert_int_equal(in8(rig, RBR), 'q');
    assert_int_equal(in8(rig, IIR), 0x01);
    /* No FIFO, no timeout. */
    out8(rig, THR, 'r');
    assert_int_equal(uart16550_next_deadline(rig->uart), UINT64_MAX);
}

/* ---- the character timeout ---- */

static void test_character_timeout(void **state)
{
    struct rig *rig = *state;
    uint64_t t0 = rig->now_ns;

    loopback_8n1(rig, 0x87, 0x01); /* trigger 8, as Linux programs it */
    send(rig, "abc", 3);
    assert_int_equal(uart16550_next_deadline(rig->uart), t0 + TIMEOUT_8N1_DIV1);
    rig->now_ns = t0 + TIMEOUT_8N1_DIV1 - 1;
    uart16550_update(rig->uart);
    assert_int_equal(in8(rig, IIR), 0xC1);
    rig->now_ns = t0 + TIMEOUT_8N1_DIV1;
    uart16550_update(rig->uart);
    assert_true(uart16550_irq_line(rig->uart));
    assert_int_equal(in8(rig, IIR), 0xCC);
    assert_int_equal(in8(rig, IIR), 0xCC); /* reading IIR does not clear it */
    assert_int_equal(uart16550_next_deadline(rig->uart), UINT64_MAX);

    /* Reading RBR clears it and restarts the timer from the read. */
    uint64_t t1 = rig->now_ns + 5000;
    rig->now_ns = t1;
    assert_int_equal(in8(rig, RBR), 'a');
    assert_int_equal(in8(rig, IIR), 0xC1);
    assert_false(uart16550_irq_line(rig->uart));
    assert_int_equal(uart16550_next_deadline(rig->uart), t1 + TIMEOUT_8N1_DIV1);

    /* A byte received restarts it too. */
    uint64_t t2 = t1 + 100000;
    rig->now_ns = t2;
    out8(rig, THR, 'd');
    assert_int_equal(uart16550_next_deadline(rig->uart), t2 + TIMEOUT_8N1_DIV1);

    /* Read at the register: the timeout is computed from the clock even
     * before the device's update runs. */
    rig->now_ns = t2 + TIMEOUT_8N1_DIV1;
    assert_int_equal(in8(rig, IIR), 0xCC);

    /* An empty FIFO never times out. */
    while (in8(rig, LSR) & 0x01)
        in8(rig, RBR);
    assert_int_equal(in8(rig, IIR), 0xC1);
    assert_int_equal(uart16550_next_deadline(rig->uart), UINT64_MAX);

    /* With ERBFI off the timeout does not show, but appears when enabled. */
    out8(rig, IER, 0x00);
    out8(rig, THR, 'e');
    rig->now_ns += TIMEOUT_8N1_DIV1;
    assert_int_equal(in8(rig, IIR), 0xC1);
    out8(rig, IER, 0x01);
    assert_int_equal(in8(rig, IIR), 0xCC);
}

static void test_character_time_follows_lcr_and_divisor(void **state)
{
    struct rig *rig = *state;
    static const struct {
        uint8_t lcr;
        uint16_t divisor;
        uint64_t timeout_ns;
    } cases[] = {
        /* half bits: 2 * (start + data + parity) + stop */
        {0x03, 1, 347223},         /* 8N1: 20 half bits */
        {0x04, 1, 260417},         /* 5 bits, 1.5 stop: 12 + 3 */
        {0x0E, 1, 381945},         /* 7E2: 18 + 4 */
        {0x1F, 1, 416667},         /* 8E2: 20 + 4 */
        {0x03, 12, 4166667},       /* 8N1 at 9600 baud */
        {0x03, 0x0180, 133333334}, /* 8N1 at 300 baud */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        out8(rig, LCR, 0x80);
        out8(rig, DLL, (uint8_t)cases[i].divisor);
        out8(rig, DLM, (uint8_t)(cases[i].divisor >> 8));
        out8(rig, LCR, cases[i].lcr);
        out8(rig, FCR, 0x07);
        out8(rig, MCR, MCR_LOOP);
        out8(rig, THR, 'x');
        assert_int_equal(uart16550_next_deadline(rig->uart) - rig->now_ns, cases[i].timeout_ns);
        out8(rig, FCR, 0x07);
    }
}

/* ---- interrupts ---- */

static void test_iir_priorities_and_clearing(void **state)
{
    struct rig *rig = *state;

    /* All four sources at once: an overrun (line status), 16 bytes at
     * trigger 1 (received data), THR empty, and a modem-status delta. */
    loopback_8n1(rig, 0x07, 0x00);
    for (int i = 0; i < 17; i++)
        out8(rig, THR, (uint8_t)i);
    out8(rig, MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS); /* CTS rises: DCTS */
    out8(rig, IER, 0x0F);

    assert_int_equal(in8(rig, IIR), 0xC6);
    assert_int_equal(in8(rig, LSR), 0x63); /* DR, OE, THRE, TEMT; the read clears OE */
    assert_int_equal(in8(rig, IIR), 0xC4);
    for (int i = 0; i < 16; i++)
        assert_int_equal(in8(rig, RBR), i); /* the 17th byte was lost */
    assert_int_equal(in8(rig, IIR), 0xC2);
    /* Reading IIR with THRE as the source cleared it. */
    assert_int_equal(in8(rig, IIR), 0xC0);
    assert_int_equal(in8(rig, MSR), 0x91); /* CTS, DCD; DCTS */
    assert_int_equal(in8(rig, IIR), 0xC1);
    assert_int_equal(in8(rig, MSR), 0x90);
}

static void test_thre_interrupt(void **state)
{
    struct rig *rig = *state;

    out8(rig, MCR, MCR_OUT2);
    /* Enabling ETBEI with THR empty raises it at once (Linux's UART_BUG_TXEN
     * probe reads IIR right after the IER write). */
    out8(rig, IER, 0x02);
    assert_true(uart16550_irq_line(rig->uart));
    assert_int_equal(in8(rig, IIR), 0x02);
    assert_int_equal(in8(rig, IIR), 0x01); /* cleared by the read */
    assert_false(uart16550_irq_line(rig->uart));
    /* Writing IER again with ETBEI still set does not re-raise it... */
    out8(rig, IER, 0x02);
    assert_int_equal(in8(rig, IIR), 0x01);
    /* ...turning it off and on does (Linux's UART_BUG_THRE probe). */
    out8(rig, IER, 0x00);
    out8(rig, IER, 0x02);
    assert_int_equal(in8(rig, IIR), 0x02);
    /* A THR write empties at once: raised again. */
    out8(rig, THR, 0);
    assert_true(uart16550_irq_line(rig->uart));
    assert_int_equal(in8(rig, IIR), 0x02);

    /* A higher source hides THRE: reading IIR then does not clear it. */
    out8(rig, MCR, MCR_OUT2 | MCR_LOOP);
    in8(rig, MSR);
    out8(rig, IER, 0x03);
    out8(rig, THR, 'z'); /* received (16450 mode: data available), and THR empty */
    assert_int_equal(in8(rig, IIR), 0x04);
    assert_int_equal(in8(rig, RBR), 'z');
    assert_int_equal(in8(rig, IIR), 0x02);
    assert_int_equal(in8(rig, IIR), 0x01);
}

static void test_out2_gates_the_irq_line(void **state)
{
    struct rig *rig = *state;

    out8(rig, MCR, 0x00);
    out8(rig, IER, 0x02); /* THRE pending in the UART... */
    assert_false(uart16550_irq_line(rig->uart));
    assert_false(pic8259_has_interrupt(rig->pic)); /* ...but OUT2 is low */
    out8(rig, MCR, MCR_OUT2);
    assert_true(uart16550_irq_line(rig->uart));
    assert_true(pic8259_has_interrupt(rig->pic));
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x24); /* IRQ 4 */
    out8(rig, 0x20, 0x20);                                 /* EOI */
    out8(rig, MCR, 0x00);
    assert_false(uart16550_irq_line(rig->uart));
    assert_int_equal(in8(rig, IIR), 0x02); /* still pending inside */
}

static void test_com2_uses_irq3(void **state)
{
    struct rig *rig = *state;
    struct popek_error e;
    struct uart16550 *com2 = uart16550_create(rig->bus, UART_COM2_BASE, rig->irq, UART_COM2_IRQ,
                                              NULL, fake_clock, &rig->now_ns, &e);

    assert_non_null(com2);
    ioport_write(rig->bus, UART_COM2_BASE + 4, 1, MCR_OUT2);
    ioport_write(rig->bus, UART_COM2_BASE + 1, 1, 0x02);
    assert_true(pic8259_has_interrupt(rig->pic));
    assert_int_equal(pic8259_acknowledge(rig->pic), 0x23);
    /* Unconnected: output goes nowhere, nothing arrives. */
    ioport_write(rig->bus, UART_COM2_BASE, 1, 'x');
    uart16550_update(com2);
    assert_int_equal(ioport_read(rig->bus, UART_COM2_BASE + 5, 1), 0x60);
    uart16550_destroy(com2);
}

/* ---- loopback and modem status ---- */

static void test_loopback_and_modem_status(void **state)
{
    struct rig *rig = *state;

    /* Linux's autoconfig: MCR = LOOP | 0x0A must read MSR & 0xF0 = 0x90. */
    out8(rig, MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS);
    assert_int_equal(in8(rig, MSR), 0x92); /* CTS, DCD; DSR fell: DDSR */
    assert_int_equal(in8(rig, MSR), 0x90);
    out8(rig, MCR, MCR_LOOP | MCR_DTR | MCR_OUT1);
    assert_int_equal(in8(rig, MSR), 0x6B); /* DSR, RI; DCTS, DDSR, DDCD */
    out8(rig, MCR, MCR_LOOP | MCR_DTR);
    assert_int_equal(in8(rig, MSR), 0x24); /* RI fell: TERI */
    out8(rig, MCR, MCR_LOOP | MCR_DTR | MCR_OUT1);
    assert_int_equal(in8(rig, MSR), 0x60); /* RI rose: no TERI */

    /* THR feeds RBR; the modem-status interrupt follows the deltas. */
    out8(rig, THR, 0xAE);
    assert_int_equal(in8(rig, LSR), 0x61);
    assert_int_equal(in8(rig, RBR), 0xAE);
    assert_int_equal(in8(rig, LSR), 0x60);
    out8(rig, IER, 0x08);
    out8(rig, MCR, MCR_LOOP | MCR_OUT2);
    assert_int_equal(in8(rig, IIR), 0x00);
    assert_true(uart16550_irq_line(rig->uart));
    in8(rig, MSR);
    assert_int_equal(in8(rig, IIR), 0x01);

    /* Leaving loopback: the line's inputs again. */
    out8(rig, IER, 0x00);
    out8(rig, MCR, 0x00);
    assert_int_equal(in8(rig, MSR) & 0xF0, 0xB0);
}

static void test_overrun(void **state)
{
    struct rig *rig = *state;

    /* FIFO mode: the 17th byte is lost, the FIFO kept. */
    loopback_8n1(rig, 0x07, 0x00);
    for (int i = 0; i < 17; i++)
        out8(rig, THR, (uint8_t)(0x40 + i));
    assert_int_equal(in8(rig, LSR), 0x63);
    assert_int_equal(in8(rig, LSR), 0x61); /* OE cleared by the read */
    for (int i = 0; i < 16; i++)
        assert_int_equal(in8(rig, RBR), 0x40 + i);
    assert_int_equal(in8(rig, LSR), 0x60);

    /* 16450 mode: the new byte replaces the unread one. */
    out8(rig, FCR, 0x00);
    out8(rig, THR, 'a');
    out8(rig, THR, 'b');
    assert_int_equal(in8(rig, LSR), 0x63);
    assert_int_equal(in8(rig, RBR), 'b');
    assert_int_equal(in8(rig, LSR), 0x60);
}

/* ---- host input ---- */

static void test_backend_ring_feeds_fifo_without_loss(void **state)
{
    struct rig *rig = *state;
    enum { TOTAL = 3 * CHARDEV_RING_BYTES + 123 };
    static uint8_t sent[TOTAL];
    size_t queued = 0, received = 0;

    for (size_t i = 0; i < TOTAL; i++)
        sent[i] = (uint8_t)(i * 7 + i / 256);
    out8(rig, FCR, 0x87);
    out8(rig, MCR, MCR_OUT2 | MCR_RTS | MCR_DTR);
    out8(rig, IER, 0x01);
    /* The host writes as fast as the ring takes it; the guest reads a
     * few bytes at a time between updates. */
    while (received < TOTAL) {
        queued += chardev_queue_input(rig->backend, sent + queued, TOTAL - queued);
        uart16550_update(rig->uart);
        for (int i = 0; i < 5 && (in8(rig, LSR) & 0x01); i++) {
            uint8_t lsr = in8(rig, LSR);
            assert_int_equal(lsr & 0x02, 0); /* never an overrun */
            assert_int_equal(in8(rig, RBR), sent[received]);
            received++;
        }
        rig->now_ns += 1000;
    }
    assert_int_equal(queued, TOTAL);
    assert_int_equal(in8(rig, LSR), 0x60);
}

static void test_backend_input_interrupts(void **state)
{
    struct rig *rig = *state;
    uint8_t byte;

    out8(rig, LCR, 0x80);
    out8(rig, DLL, 1);
    out8(rig, LCR, 0x03);
    out8(rig, FCR, 0x87);
    out8(rig, MCR, MCR_OUT2);
    out8(rig, IER, 0x01);

    /* Hardware flow control: nothing arrives until the guest raises RTS,
     * as a driver does when it opens the port. */
    assert_int_equal(chardev_queue_input(rig->backend, (const uint8_t *)"ok\n", 3), 3);
    uart16550_update(rig->uart);
    assert_int_equal(in8(rig, LSR), 0x60);
    out8(rig, MCR, MCR_OUT2 | MCR_RTS | MCR_DTR);

    /* Three bytes: below the trigger, then the timeout. */
    uart16550_update(rig->uart);
    assert_int_equal(in8(rig, LSR), 0x61);
    assert_int_equal(in8(rig, IIR), 0xC1);
    rig->now_ns += TIMEOUT_8N1_DIV1;
    uart16550_update(rig->uart);
    assert_true(pic8259_has_interrupt(rig->pic));
    assert_int_equal(in8(rig, IIR), 0xCC);

    /* Sixteen taken at once, the rest kept in the ring for later. */
    static const char many[] = "0123456789abcdefghij";
    out8(rig, FCR, 0x87);
    chardev_queue_input(rig->backend, (const uint8_t *)many, 20);
    uart16550_update(rig->uart);
    assert_int_equal(in8(rig, IIR), 0xC4);
    for (int i = 0; i < 20; i++)
        assert_int_equal(in8(rig, RBR), many[i]); /* refilled as it drains */
    assert_int_equal(in8(rig, LSR), 0x60);

    /* In loopback the line is disconnected: input waits in the ring. */
    out8(rig, MCR, MCR_LOOP);
    chardev_queue_input(rig->backend, (const uint8_t *)"w", 1);
    uart16550_update(rig->uart);
    assert_int_equal(in8(rig, LSR), 0x60);
    out8(rig, MCR, MCR_RTS);
    assert_int_equal(in8(rig, RBR), 'w');
    assert_false(chardev_read(rig->backend, &byte));
}

static void test_reset_clears_state_and_irq(void **state)
{
    struct rig *rig = *state;

    loopback_8n1(rig, 0x07, 0x0F);
    send(rig, "abc", 3);
    assert_true(uart16550_irq_line(rig->uart));
    uart16550_reset(rig->uart);
    assert_false(uart16550_irq_line(rig->uart));
    assert_int_equal(in8(rig, LSR), 0x60);
    assert_int_equal(in8(rig, IIR), 0x01);
    assert_int_equal(in8(rig, IER), 0x00);
    assert_int_equal(in8(rig, MCR), 0x00);
    assert_int_equal(in8(rig, MSR), 0xB0);
}

/* ---- what Linux's 8250 driver does to a 16550A ---- */

static void test_linux_autoconfig_finds_a_16550a(void **state)
{
    struct rig *rig = *state;

    /* IER test */
    out8(rig, IER, 0x00);
    uint8_t scratch2 = in8(rig, IER) & 0x0F;
    out8(rig, IER, 0x0F);
    uint8_t scratch3 = in8(rig, IER) & 0x0F;
    out8(rig, IER, 0x00);
    assert_true(scratch2 == 0 && scratch3 == 0x0F);
    /* loopback test */
    out8(rig, MCR, MCR_LOOP | 0x0A);
    assert_int_equal(in8(rig, MSR) & 0xF0, 0x90);
    out8(rig, MCR, 0x00);
    /* EFR (at FCR with LCR = 0xBF) zeroed, then the FIFO probe */
    out8(rig, LCR, 0xBF);
    out8(rig, FCR, 0x00);
    out8(rig, LCR, 0x00);
    out8(rig, FCR, 0x01);
    assert_int_equal(in8(rig, IIR) >> 6, 3);
    /* autoconfig_16550a: no EFR under either DLAB setting */
    out8(rig, LCR, 0x80);
    assert_int_not_equal(in8(rig, IIR), 0);
    out8(rig, LCR, 0xBF);
    assert_int_not_equal(in8(rig, IIR), 0);
    /* no 64-byte FIFO (TI16750: IIR bit 5) */
    out8(rig, LCR, 0x00);
    out8(rig, FCR, 0x21);
    assert_int_equal(in8(rig, IIR) >> 5, 6);
    out8(rig, FCR, 0x01);
    /* no XScale UUE bit in IER */
    out8(rig, IER, 0x40);
    assert_int_equal(in8(rig, IER) & 0x40, 0);
    out8(rig, IER, 0x00);
    /* size_fifo: 256 bytes in loopback at divisor 1 leave 16 to read */
    out8(rig, FCR, 0x07);
    out8(rig, MCR, MCR_LOOP);
    out8(rig, LCR, 0x80);
    out8(rig, DLL, 1);
    out8(rig, DLM, 0);
    out8(rig, LCR, 0x03);
    for (int i = 0; i < 256; i++)
        out8(rig, THR, (uint8_t)i);
    int count = 0;
    while ((in8(rig, LSR) & 0x01) && count < 256) {
        in8(rig, RBR);
        count++;
    }
    assert_int_equal(count, 16);
}

/* ---- saved state ---- */

/* A second UART on its own bus, its clock at now_ns. */
static void rig_make(struct rig *rig, uint64_t now_ns)
{
    struct popek_error e;
    struct chardev_spec null_spec = {CHARDEV_NULL, NULL};

    rig->now_ns = now_ns;
    rig->bus = ioport_bus_create();
    rig->pic = pic8259_create(rig->bus, &e);
    rig->irq = irq_router_create(rig->pic, &e);
    rig->backend = chardev_open(&null_spec, &e);
    rig->uart = uart16550_create(rig->bus, COM1, rig->irq, UART_COM1_IRQ, rig->backend, fake_clock,
                                 &rig->now_ns, &e);
    assert_non_null(rig->uart);
}

/* Save → a fresh UART whose clock reads a day later → load: registers,
 * the bytes in the receive FIFO, the pending sources, and the character
 * timeout (which fires as long after the load as it was due after the
 * save) all behave as in the original. */
static void test_save_restore(void **state)
{
    struct rig *a = *state, b;

    loopback_8n1(a, 0x41, 0x0F); /* FIFO on, trigger 4; every interrupt enabled */
    out8(a, SCR, 0x5A);
    send(a, "ab", 2); /* below the trigger: the timeout will name them */
    a->now_ns += TIMEOUT_8N1_DIV1 / 2;
    out8(a, MCR, MCR_LOOP | MCR_OUT2 | MCR_RTS); /* a CTS delta */
    uart16550_update(a->uart);

    struct snap_writer *w = rig_snap_begin("uart16550", UART16550_STATE_VERSION);
    uart16550_save(a->uart, w);
    struct snap_rig snap = rig_snap_finish(w);
    rig_make(&b, a->now_ns + 86400ull * 1000000000ull);
    struct snap_section s;
    rig_snap_open(&snap, "uart16550", UART16550_STATE_VERSION, &s);
    assert_true(uart16550_load(b.uart, &s));
    rig_snap_close(&snap, &s);

    assert_true(uart16550_irq_line(b.uart) == uart16550_irq_line(a->uart));
    assert_true(uart16550_next_deadline(b.uart) - b.now_ns ==
                uart16550_next_deadline(a->uart) - a->now_ns);
    struct rig *r[2] = {a, &b};
    uint8_t seen[2][14];
    for (int i = 0; i < 2; i++) {
        seen[i][0] = in8(r[i], IER);
        seen[i][1] = in8(r[i], LCR);
        seen[i][2] = in8(r[i], MCR);
        seen[i][3] = in8(r[i], SCR);
        seen[i][4] = in8(r[i], IIR); /* the modem-status delta is lowest: THRE first */
        seen[i][5] = in8(r[i], MSR);
        r[i]->now_ns += TIMEOUT_8N1_DIV1 / 2 + 1; /* the timeout, due now */
        uart16550_update(r[i]->uart);
        seen[i][6] = in8(r[i], IIR);
        seen[i][7] = in8(r[i], LSR);
        seen[i][8] = in8(r[i], RBR);
        seen[i][9] = in8(r[i], RBR);
        seen[i][10] = in8(r[i], LSR);
        out8(r[i], LCR, 0x83);
        seen[i][11] = in8(r[i], DLL); /* the divisor latch */
        out8(r[i], LCR, 0x03);
        send(r[i], "xyzw", 4); /* to the trigger level */
        seen[i][12] = in8(r[i], IIR);
        seen[i][13] = (uint8_t)uart16550_irq_line(r[i]->uart);
    }
    assert_memory_equal(seen[0], seen[1], sizeof(seen[0]));
    assert_int_equal(seen[0][6] & 0x0F, 0x0C); /* it was the timeout */
    assert_int_equal(seen[0][8], 'a');
    uart16550_destroy(b.uart);
    chardev_destroy(b.backend);
    irq_router_destroy(b.irq);
    pic8259_destroy(b.pic);
    ioport_bus_destroy(b.bus);
}

/* Corrupt sections: too short, more FIFO bytes than a FIFO holds, a flag
 * that is neither 0 nor 1. */
static void test_load_corrupt(void **state)
{
    struct rig *rig = *state;
    uint8_t bytes[48] = {0};
    struct snap_section s;

    struct snap_rig snap = rig_snap_raw("uart16550", UART16550_STATE_VERSION, bytes, 8);
    rig_snap_open(&snap, "uart16550", UART16550_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, uart16550_load(rig->uart, &s));
    bytes[1] = 0x01; /* FIFO on */
    bytes[10] = 17;  /* FIFO count */
    snap = rig_snap_raw("uart16550", UART16550_STATE_VERSION, bytes, 11 + 17 + 12);
    rig_snap_open(&snap, "uart16550", UART16550_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, uart16550_load(rig->uart, &s));
    assert_non_null(strstr(snap.err.message, "FIFO"));
    /* An empty FIFO, then RBR, the quiet time (8), and timeout_pending at
     * 20: 2 is no flag. */
    memset(bytes, 0, sizeof(bytes));
    snap = rig_snap_raw("uart16550", UART16550_STATE_VERSION, bytes, 23);
    rig_snap_open(&snap, "uart16550", UART16550_STATE_VERSION, &s);
    assert_true(uart16550_load(rig->uart, &s));
    rig_snap_close(&snap, &s);
    bytes[20] = 2;
    snap = rig_snap_raw("uart16550", UART16550_STATE_VERSION, bytes, 23);
    rig_snap_open(&snap, "uart16550", UART16550_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, uart16550_load(rig->uart, &s));
    assert_non_null(strstr(snap.err.message, "a flag that is neither 0 nor 1"));
}

/* --save-when: the watch fires once the bytes sent end with the text,
 * across repeats and partial matches, and never on loopback bytes. */
static void test_watch_output(void **state)
{
    struct rig *rig = *state;

    uart16550_watch_output(rig->uart, "abab!");
    send(rig, "xxababa", 7);
    assert_false(uart16550_watch_seen(rig->uart));
    send(rig, "bab", 3);
    assert_false(uart16550_watch_seen(rig->uart));
    send(rig, "!", 1);
    assert_true(uart16550_watch_seen(rig->uart));
    uart16550_watch_output(rig->uart, "q");
    assert_false(uart16550_watch_seen(rig->uart));
    out8(rig, MCR, MCR_LOOP);
    send(rig, "q", 1);
    assert_false(uart16550_watch_seen(rig->uart));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, rig_setup, rig_teardown)
    const struct CMUnitTest tests[] = {
        T(test_reset_state),
        T(test_register_file),
        T(test_wide_accesses_split_into_bytes),
        cmocka_unit_test(test_transmit_reaches_backend),
        T(test_fifo_control),
        T(test_trigger_levels),
        T(test_16450_mode_receive),
        T(test_character_timeout),
        T(test_character_time_follows_lcr_and_divisor),
        T(test_iir_priorities_and_clearing),
        T(test_thre_interrupt),
        T(test_out2_gates_the_irq_line),
        T(test_com2_uses_irq3),
        T(test_loopback_and_modem_status),
        T(test_overrun),
        T(test_backend_ring_feeds_fifo_without_loss),
        T(test_backend_input_interrupts),
        T(test_reset_clears_state_and_irq),
        T(test_linux_autoconfig_finds_a_16550a),
        cmocka_unit_test_setup_teardown(test_save_restore, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_corrupt, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_watch_output, rig_setup, rig_teardown),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
