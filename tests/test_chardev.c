/*
 * tests/test_chardev.c — serial backends (devices/chardev.c): output, the
 * input ring, the reader thread on a pipe (flow control, end of input),
 * and on a real terminal — a pseudo-terminal made the controlling
 * terminal of a child process: raw mode, the escape keys, and the
 * terminal's settings coming back on every way out (chardev_destroy, exit,
 * a fatal signal), and a background process leaving it alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "devices/chardev.h"

#define WAIT_MS 5000

/* ---- helpers ---- */

static int wake_fd = -1;

static void count_wake(void *ctx)
{
    uint64_t one = 1;

    if (write(wake_fd, &one, sizeof(one)) < 0)
        abort();
}

/* Takes n bytes from the ring, waiting for wakes; false on a timeout. */
static bool read_bytes(struct chardev *cd, uint8_t *out, size_t n)
{
    size_t got = 0;

    while (got < n) {
        if (chardev_read(cd, &out[got])) {
            got++;
            continue;
        }
        struct pollfd p = {.fd = wake_fd, .events = POLLIN};
        uint64_t count;
        if (poll(&p, 1, WAIT_MS) <= 0)
            return false;
        if (read(wake_fd, &count, sizeof(count)) < 0)
            return false;
    }
    return true;
}

/* Runs fn with stdin replaced by fd; restores stdin afterwards. */
static void with_stdin(int fd, void (*fn)(void))
{
    int saved = dup(STDIN_FILENO);

    assert_true(saved >= 0);
    assert_true(dup2(fd, STDIN_FILENO) == STDIN_FILENO);
    fn();
    assert_true(dup2(saved, STDIN_FILENO) == STDIN_FILENO);
    close(saved);
}

static struct chardev *open_kind(enum chardev_kind kind)
{
    struct popek_error e;
    struct chardev_spec spec = {kind, NULL};
    struct chardev *cd = chardev_open(&spec, &e);

    assert_non_null(cd);
    return cd;
}

/* ---- backends and the ring ---- */

static void test_null_and_file_backends(void **state)
{
    struct popek_error e;
    struct chardev *null = open_kind(CHARDEV_NULL);
    bool connected = true;
    uint8_t byte;

    chardev_write(null, "dropped", 7);
    assert_false(chardev_read(null, &byte));
    assert_true(chardev_start_input(null, count_wake, NULL, &connected, &e));
    assert_false(connected);
    chardev_destroy(null);

    char path[] = "/tmp/popek-chardev-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    struct chardev_spec spec = {CHARDEV_FILE, path};
    struct chardev *file = chardev_open(&spec, &e);
    assert_non_null(file);
    char buf[2 * CHARDEV_OUT_BYTES] = {0};

    /* Buffered: nothing written yet, and a deadline at most
     * CHARDEV_FLUSH_NS away; the update after it writes the bytes out. */
    assert_int_equal(chardev_flush_deadline(file), CHARDEV_NEVER);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t before = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    chardev_write(file, "to the file\n", 12);
    uint64_t deadline = chardev_flush_deadline(file);
    assert_true(deadline >= before + CHARDEV_FLUSH_NS);
    assert_int_equal(pread(fd, buf, sizeof(buf), 0), 0);
    usleep((CHARDEV_FLUSH_NS / 1000) * 2);
    chardev_update(file);
    assert_int_equal(chardev_flush_deadline(file), CHARDEV_NEVER);
    assert_int_equal(pread(fd, buf, sizeof(buf), 0), 12);
    assert_memory_equal(buf, "to the file\n", 12);

    /* A full buffer is written at once; the rest waits for the end. */
    static uint8_t lots[CHARDEV_OUT_BYTES + 100];
    memset(lots, 'z', sizeof(lots));
    chardev_write(file, lots, sizeof(lots));
    assert_int_equal(pread(fd, buf, sizeof(buf), 0), 12 + CHARDEV_OUT_BYTES);
    chardev_destroy(file);
    assert_int_equal(pread(fd, buf, sizeof(buf), 0), 12 + sizeof(lots));
    close(fd);
    unlink(path);

    struct chardev_spec bad = {CHARDEV_FILE, "/nonexistent/dir/out"};
    assert_null(chardev_open(&bad, &e));
    assert_string_equal(e.message, "-serial file:/nonexistent/dir/out: cannot create the file: "
                                   "No such file or directory");
}

static void test_ring_keeps_order_and_refuses_overflow(void **state)
{
    static uint8_t bytes[CHARDEV_RING_BYTES + 10];
    struct chardev *cd = open_kind(CHARDEV_NULL);
    uint8_t byte;

    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (uint8_t)(i ^ (i >> 8));
    assert_int_equal(chardev_queue_input(cd, bytes, sizeof(bytes)), CHARDEV_RING_BYTES);
    assert_int_equal(chardev_queue_input(cd, bytes, 1), 0);
    for (size_t i = 0; i < 100; i++) {
        assert_true(chardev_read(cd, &byte));
        assert_int_equal(byte, bytes[i]);
    }
    /* Room again: the rest goes in behind, in order. */
    assert_int_equal(chardev_queue_input(cd, bytes + CHARDEV_RING_BYTES, 10), 10);
    for (size_t i = 100; i < sizeof(bytes); i++) {
        assert_true(chardev_read(cd, &byte));
        assert_int_equal(byte, bytes[i]);
    }
    assert_false(chardev_read(cd, &byte));
    chardev_destroy(cd);
}

/* ---- the reader on a pipe ---- */

static int pipe_write_end;

static void pipe_scenario(void)
{
    enum { BIG = 3 * CHARDEV_RING_BYTES + 500 };
    static uint8_t big[BIG], got[BIG];
    struct popek_error e;
    struct chardev *cd = open_kind(CHARDEV_STDIO);
    bool connected = false;

    assert_true(chardev_start_input(cd, count_wake, NULL, &connected, &e));
    assert_true(connected);

    /* Bytes go in untouched: no escape keys on a pipe. */
    assert_int_equal(write(pipe_write_end, "hi\x01x\n", 5), 5);
    assert_true(read_bytes(cd, got, 5));
    assert_memory_equal(got, "hi\x01x\n", 5);
    assert_false(chardev_quit_requested(cd));

    /* More than the ring holds: the reader waits for room, loses nothing. */
    for (size_t i = 0; i < BIG; i++)
        big[i] = (uint8_t)(i * 13 + (i >> 9));
    assert_int_equal(write(pipe_write_end, big, BIG), BIG);
    assert_true(read_bytes(cd, got, BIG));
    assert_memory_equal(got, big, BIG);

    /* End of input: nothing more, and the reader still stops cleanly. */
    close(pipe_write_end);
    usleep(20000);
    uint8_t byte;
    assert_false(chardev_read(cd, &byte));
    chardev_destroy(cd);
}

static void test_reader_on_a_pipe(void **state)
{
    int fds[2];

    assert_int_equal(pipe(fds), 0);
    pipe_write_end = fds[1];
    with_stdin(fds[0], pipe_scenario);
    close(fds[0]);
}

static void dev_null_scenario(void)
{
    struct popek_error e;
    struct chardev *cd = open_kind(CHARDEV_STDIO);
    bool connected = true;

    assert_true(chardev_start_input(cd, count_wake, NULL, &connected, &e));
    assert_false(connected); /* /dev/null is no input */
    chardev_destroy(cd);
}

static void test_dev_null_is_no_input(void **state)
{
    int fd = open("/dev/null", O_RDONLY);

    assert_true(fd >= 0);
    with_stdin(fd, dev_null_scenario);
    close(fd);
}

/* ---- a real terminal ---- */

enum tty_ending {
    END_DESTROY,    /* chardev_destroy */
    END_EXIT,       /* exit() without destroying: atexit */
    END_SIGNAL,     /* killed by SIGTERM */
    END_BACKGROUND, /* a background process group: never touched */
};

/* Child failures, as exit statuses. */
enum { CHILD_OK = 0, CHILD_NOT_RAW = 10, CHILD_BAD_BYTES, CHILD_NO_QUIT, CHILD_START, CHILD_RAW };

static bool is_raw(int fd)
{
    struct termios t;

    return tcgetattr(fd, &t) == 0 && !(t.c_lflag & (ICANON | ECHO | ISIG)) &&
           !(t.c_iflag & ICRNL) && (t.c_oflag & OPOST);
}

/* In the child: the session leader of a new session whose controlling
 * terminal is the pty slave, with stdout going to out_fd. */
static int tty_child(const char *slave_name, int out_fd, int ready_fd, enum tty_ending ending)
{
    struct popek_error e;
    bool connected = false;
    char go = 'g';

    setsid();
    int fd = open(slave_name, O_RDWR); /* becomes the controlling terminal */
    if (fd < 0)
        return CHILD_START;
    dup2(fd, STDIN_FILENO);
    dup2(out_fd, STDOUT_FILENO);
    wake_fd = eventfd(0, 0);

    if (ending == END_BACKGROUND) {
        pid_t grandchild = fork();
        if (grandchild == 0) {
            setpgid(0, 0); /* not the terminal's foreground group */
            struct chardev *cd = open_kind(CHARDEV_STDIO);
            if (!chardev_start_input(cd, count_wake, NULL, &connected, &e) || connected)
                _exit(CHILD_START);
            _exit(is_raw(STDIN_FILENO) ? CHILD_RAW : CHILD_OK);
        }
        int status;
        waitpid(grandchild, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : CHILD_START;
    }

    struct chardev *cd = open_kind(CHARDEV_STDIO);
    if (!chardev_start_input(cd, count_wake, NULL, &connected, &e) || !connected)
        return CHILD_START;
    if (!is_raw(STDIN_FILENO))
        return CHILD_NOT_RAW;
    if (write(ready_fd, &go, 1) != 1)
        return CHILD_START;

    switch (ending) {
    case END_EXIT:
        exit(CHILD_OK);
    case END_SIGNAL:
        raise(SIGTERM);
        return CHILD_START; /* not reached */
    default:
        break;
    }
    /* The parent types: a, Ctrl-A Ctrl-A, b, Ctrl-A h, c, Ctrl-A x. */
    uint8_t got[4];
    if (!read_bytes(cd, got, 4) || memcmp(got,
                                          "a\x01"
                                          "bc",
                                          4) != 0)
        return CHILD_BAD_BYTES;
    for (int i = 0; i < 500 && !chardev_quit_requested(cd); i++)
        usleep(1000);
    if (!chardev_quit_requested(cd))
        return CHILD_NO_QUIT;
    chardev_destroy(cd);
    return is_raw(STDIN_FILENO) ? CHILD_RAW : CHILD_OK;
}

struct tty_result {
    int status;
    bool restored;    /* the slave's settings equal what they were before */
    char output[512]; /* what the child wrote to stdout */
};

static void run_tty_child(enum tty_ending ending, struct tty_result *r)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    int out[2], ready[2];
    struct termios before, after;
    char go;

    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    char *name = ptsname(master);
    assert_non_null(name);
    /* Held open so the slave's settings outlive the child. */
    int slave = open(name, O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    assert_int_equal(tcgetattr(slave, &before), 0);
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(ready), 0);

    fflush(stdout);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(master);
        close(slave);
        close(out[0]);
        close(ready[0]);
        _exit(tty_child(name, out[1], ready[1], ending));
    }
    close(out[1]);
    close(ready[1]);
    if (ending == END_DESTROY && read(ready[0], &go, 1) == 1) {
        static const char typed[] = "a\x01\x01"
                                    "b\x01h"
                                    "c\x01x";
        assert_int_equal(write(master, typed, sizeof(typed) - 1), sizeof(typed) - 1);
    }
    waitpid(child, &r->status, 0);
    ssize_t n = read(out[0], r->output, sizeof(r->output) - 1);
    r->output[n > 0 ? n : 0] = 0;
    assert_int_equal(tcgetattr(slave, &after), 0);
    r->restored = after.c_lflag == before.c_lflag && after.c_iflag == before.c_iflag &&
                  after.c_oflag == before.c_oflag && after.c_cflag == before.c_cflag;
    close(out[0]);
    close(ready[0]);
    close(slave);
    close(master);
}

static void test_terminal_raw_mode_and_escape_keys(void **state)
{
    struct tty_result r;

    run_tty_child(END_DESTROY, &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), CHILD_OK);
    assert_true(r.restored);
    assert_non_null(strstr(r.output, "C-a x    exit popek"));
    assert_non_null(strstr(r.output, "popek: terminated\n"));
}

static void test_terminal_restored_at_exit(void **state)
{
    struct tty_result r;

    run_tty_child(END_EXIT, &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), CHILD_OK);
    assert_true(r.restored);
}

static void test_terminal_restored_on_fatal_signal(void **state)
{
    struct tty_result r;

    run_tty_child(END_SIGNAL, &r);
    assert_true(WIFSIGNALED(r.status)); /* the signal still kills */
    assert_int_equal(WTERMSIG(r.status), SIGTERM);
    assert_true(r.restored);
}

static void test_background_job_leaves_terminal_alone(void **state)
{
    struct tty_result r;

    run_tty_child(END_BACKGROUND, &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), CHILD_OK);
    assert_true(r.restored);
}

static int setup(void **state)
{
    wake_fd = eventfd(0, 0);
    return wake_fd < 0;
}

static int teardown(void **state)
{
    close(wake_fd);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_and_file_backends),
        cmocka_unit_test(test_ring_keeps_order_and_refuses_overflow),
        cmocka_unit_test(test_reader_on_a_pipe),
        cmocka_unit_test(test_dev_null_is_no_input),
        cmocka_unit_test(test_terminal_raw_mode_and_escape_keys),
        cmocka_unit_test(test_terminal_restored_at_exit),
        cmocka_unit_test(test_terminal_restored_on_fatal_signal),
        cmocka_unit_test(test_background_job_leaves_terminal_alone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
