/*
 * tests/host_probe.h — whether host memory is readable or writable, asked
 * without taking a signal: write(2) from an address fails with EFAULT when
 * it is not readable, read(2) into an address fails with EFAULT when it is
 * not writable. Used by the tests of views and of the shadow MMU; call
 * host_probe_open() in the group set-up.
 */
#ifndef POPEK_TESTS_HOST_PROBE_H
#define POPEK_TESTS_HOST_PROBE_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static int probe_pipe[2];

static inline int host_probe_open(void)
{
    return pipe(probe_pipe);
}

static inline void host_probe_close(void)
{
    close(probe_pipe[0]);
    close(probe_pipe[1]);
}

static inline bool host_readable(const void *p)
{
    ssize_t n = write(probe_pipe[1], p, 1);
    char sink;

    if (n == 1) {
        assert_int_equal(read(probe_pipe[0], &sink, 1), 1);
        return true;
    }
    assert_int_equal(errno, EFAULT);
    return false;
}

/* Whether the host has the page of p in its page tables now (bit 63 of
 * its /proc/self/pagemap entry), without touching it. */
static inline bool host_page_present(const void *p)
{
    uint64_t entry = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY);

    assert_true(fd >= 0);
    off_t at = (off_t)((uintptr_t)p / (uintptr_t)sysconf(_SC_PAGESIZE) * sizeof(entry));
    assert_int_equal(pread(fd, &entry, sizeof(entry), at), sizeof(entry));
    close(fd);
    return entry >> 63;
}

static inline bool host_writable(void *p)
{
    char byte = 0;

    /* Refill with the byte already there so the probe changes nothing. */
    if (!host_readable(p))
        return false;
    memcpy(&byte, p, 1);
    assert_int_equal(write(probe_pipe[1], &byte, 1), 1);
    ssize_t n = read(probe_pipe[0], p, 1);
    if (n == 1)
        return true;
    assert_int_equal(errno, EFAULT);
    assert_int_equal(read(probe_pipe[0], &byte, 1), 1); /* drain */
    return false;
}

#endif
