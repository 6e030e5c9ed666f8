/*
 * tests/test_ioport.c — the port-I/O bus and the debug ports on it
 * (devices/ioport.c, debug_ports.c). The UART has its own test
 * (test_uart16550.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "devices/chardev.h"
#include "devices/debug_ports.h"
#include "devices/ioport.h"

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

/* A file backend on a fresh temporary file; *path names it. */
static struct chardev *file_backend(char *path)
{
    struct popek_error e;
    struct chardev_spec spec = {CHARDEV_FILE, path};
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    close(fd);
    struct chardev *cd = chardev_open(&spec, &e);
    assert_non_null(cd);
    return cd;
}

static char *captured(const char *path)
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
    char path[] = "/tmp/popek-debugcon-XXXXXX";
    struct chardev *out = file_backend(path);
    struct debug_ports *ports = debug_ports_create(bus, out, on_exit_request, NULL, &e);

    assert_non_null(ports);
    assert_int_equal(ioport_read(bus, DEBUGCON_PORT, 1), 0xE9);
    ioport_write(bus, DEBUGCON_PORT, 1, 'o');
    ioport_write(bus, DEBUGCON_PORT, 1, 'k');
    chardev_flush(out);
    assert_string_equal(captured(path), "ok");

    ioport_write(bus, DEBUG_EXIT_PORT, 1, 0);
    assert_int_equal(exit_calls, 1);
    assert_int_equal(exit_status, 1);
    ioport_write(bus, DEBUG_EXIT_PORT + 3, 4, 0x21);
    assert_int_equal(exit_status, 0x43);
    debug_ports_destroy(ports);
    ioport_bus_destroy(bus);
    chardev_destroy(out);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bus_dispatch),
        cmocka_unit_test(test_bus_overlap),
        cmocka_unit_test(test_debug_ports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
