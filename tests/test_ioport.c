/*
 * tests/test_ioport.c — the port-I/O bus and the devices on it today
 * (devices/ioport.c, uart16550.c, debug_ports.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devices/debug_ports.h"
#include "devices/ioport.h"
#include "devices/uart16550.h"

struct recorder {
    io_port_t last_port;
    unsigned last_size;
    uint32_t last_value;
    unsigned reads, writes;
};

static uint32_t recorder_read(void *opaque, io_port_t port, unsigned size)
{
    struct recorder *r = opaque;

    r->reads++;
    r->last_port = port;
    r->last_size = size;
    return 0x12345678;
}

static void recorder_write(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    struct recorder *r = opaque;

    r->writes++;
    r->last_port = port;
    r->last_size = size;
    r->last_value = value;
}

static const struct ioport_ops recorder_ops = {"recorder", recorder_read, recorder_write};

static void test_bus_dispatch(void **state)
{
    struct ioport_bus *bus = ioport_bus_create();
    struct recorder r = {0};
    struct popek_error e;

    assert_true(ioport_register(bus, 0x40, 4, &recorder_ops, &r, &e));
    assert_int_equal(ioport_read(bus, 0x42, 1), 0x78); /* truncated to the size */
    assert_int_equal(r.last_port, 0x42);
    assert_int_equal(ioport_read(bus, 0x40, 2), 0x5678);
    assert_int_equal(ioport_read(bus, 0x43, 4), 0x12345678);
    assert_int_equal(r.last_size, 4);
    ioport_write(bus, 0x41, 1, 0x1FF);
    assert_int_equal(r.last_value, 0xFF);
    ioport_write(bus, 0x41, 2, 0x12345);
    assert_int_equal(r.last_value, 0x2345);
    assert_string_equal(ioport_owner(bus, 0x43), "recorder");
    assert_null(ioport_owner(bus, 0x44));

    /* Unclaimed ports float high and swallow writes. */
    assert_int_equal(ioport_read(bus, 0x44, 1), 0xFF);
    assert_int_equal(ioport_read(bus, 0xFFFF, 2), 0xFFFF);
    assert_int_equal(ioport_read(bus, 0x3F, 4), 0xFFFFFFFF);
    ioport_write(bus, 0x44, 1, 1);
    assert_int_equal(r.writes, 2);
    assert_int_equal(r.reads, 3);
    ioport_bus_destroy(bus);
}

static void test_bus_overlap(void **state)
{
    struct ioport_bus *bus = ioport_bus_create();
    struct recorder r = {0};
    struct popek_error e;

    assert_true(ioport_register(bus, 0x40, 4, &recorder_ops, &r, &e));
    assert_false(ioport_register(bus, 0x43, 2, &recorder_ops, &r, &e));
    assert_non_null(strstr(e.message, "port 0x43 already owned by recorder"));
    assert_false(ioport_register(bus, 0xFFFF, 2, &recorder_ops, &r, &e));
    assert_false(ioport_register(bus, 0x100, 0, &recorder_ops, &r, &e));
    assert_true(ioport_register(bus, 0xFFFF, 1, &recorder_ops, &r, &e));
    ioport_bus_destroy(bus);
}

static char *captured(FILE *f)
{
    static char buf[256];
    size_t n;

    fflush(f);
    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = 0;
    return buf;
}

static void test_uart_transmit_and_registers(void **state)
{
    struct ioport_bus *bus = ioport_bus_create();
    struct popek_error e;
    FILE *out = tmpfile();
    struct uart16550 *uart = uart16550_create(bus, UART_COM1_BASE, out, &e);

    assert_non_null(uart);
    /* Transmitter always empty: LSR.THRE|TEMT; no data ready; no interrupt. */
    assert_int_equal(ioport_read(bus, 0x3FD, 1), 0x60);
    assert_int_equal(ioport_read(bus, 0x3FA, 1), 0x01);
    ioport_write(bus, 0x3F8, 1, 'h');
    ioport_write(bus, 0x3F8, 1, 'i');
    ioport_write(bus, 0x3F8, 1, '\n');
    assert_string_equal(captured(out), "hi\n");

    /* DLAB switches offsets 0 and 1 to the divisor latch. */
    ioport_write(bus, 0x3FB, 1, 0x83);
    ioport_write(bus, 0x3F8, 1, 0x01);
    ioport_write(bus, 0x3F9, 1, 0x00);
    assert_int_equal(ioport_read(bus, 0x3F8, 1), 0x01);
    assert_int_equal(ioport_read(bus, 0x3FB, 1), 0x83);
    ioport_write(bus, 0x3FB, 1, 0x03);
    assert_string_equal(captured(out), "hi\n"); /* divisor writes are not output */

    /* FIFO enable shows in IIR bits 6-7; scratch register holds a byte. */
    ioport_write(bus, 0x3FA, 1, 0xC7);
    assert_int_equal(ioport_read(bus, 0x3FA, 1), 0xC1);
    ioport_write(bus, 0x3FF, 1, 0x5A);
    assert_int_equal(ioport_read(bus, 0x3FF, 1), 0x5A);
    ioport_write(bus, 0x3F9, 1, 0xFF);
    assert_int_equal(ioport_read(bus, 0x3F9, 1), 0x0F); /* IER bits 4-7 read 0 */

    uart16550_destroy(uart);
    ioport_bus_destroy(bus);
    fclose(out);
}

static void test_uart_loopback_and_receive(void **state)
{
    struct ioport_bus *bus = ioport_bus_create();
    struct popek_error e;
    FILE *out = tmpfile();
    struct uart16550 *uart = uart16550_create(bus, UART_COM1_BASE, out, &e);

    /* Loopback (MCR bit 4): outputs feed the modem inputs, THR feeds RBR. */
    ioport_write(bus, 0x3FC, 1, 0x1E);                         /* LOOP|OUT2|OUT1|RTS */
    assert_int_equal(ioport_read(bus, 0x3FE, 1) & 0xF0, 0xD0); /* DCD|RI|CTS */
    ioport_write(bus, 0x3F8, 1, 0xAE);
    assert_int_equal(ioport_read(bus, 0x3FD, 1) & 0x01, 0x01);
    assert_int_equal(ioport_read(bus, 0x3F8, 1), 0xAE);
    assert_int_equal(ioport_read(bus, 0x3FD, 1) & 0x01, 0x00);
    assert_string_equal(captured(out), "");
    ioport_write(bus, 0x3FC, 1, 0x03);
    assert_int_equal(ioport_read(bus, 0x3FE, 1), 0xB0);

    /* Received bytes queue in a 16-byte FIFO. */
    for (int i = 0; i < 16; i++)
        assert_true(uart16550_receive(uart, (uint8_t)('a' + i)));
    assert_false(uart16550_receive(uart, 'z'));
    assert_int_equal(ioport_read(bus, 0x3F8, 1), 'a');
    assert_int_equal(ioport_read(bus, 0x3F8, 1), 'b');
    ioport_write(bus, 0x3FA, 1, 0x03); /* clear the receive FIFO */
    assert_int_equal(ioport_read(bus, 0x3FD, 1) & 0x01, 0);

    uart16550_destroy(uart);
    ioport_bus_destroy(bus);
    fclose(out);
}

static int exit_calls, exit_status;

static void on_exit_request(void *ctx, int status)
{
    exit_calls++;
    exit_status = status;
}

static void test_debug_ports(void **state)
{
    struct ioport_bus *bus = ioport_bus_create();
    struct popek_error e;
    FILE *out = tmpfile();
    struct debug_ports *ports = debug_ports_create(bus, out, on_exit_request, NULL, &e);

    assert_non_null(ports);
    assert_int_equal(ioport_read(bus, DEBUGCON_PORT, 1), 0xE9);
    ioport_write(bus, DEBUGCON_PORT, 1, 'o');
    ioport_write(bus, DEBUGCON_PORT, 1, 'k');
    assert_string_equal(captured(out), "ok");

    ioport_write(bus, DEBUG_EXIT_PORT, 1, 0);
    assert_int_equal(exit_calls, 1);
    assert_int_equal(exit_status, 1);
    ioport_write(bus, DEBUG_EXIT_PORT + 3, 4, 0x21);
    assert_int_equal(exit_status, 0x43);
    debug_ports_destroy(ports);
    ioport_bus_destroy(bus);
    fclose(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bus_dispatch),
        cmocka_unit_test(test_bus_overlap),
        cmocka_unit_test(test_uart_transmit_and_registers),
        cmocka_unit_test(test_uart_loopback_and_receive),
        cmocka_unit_test(test_debug_ports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
