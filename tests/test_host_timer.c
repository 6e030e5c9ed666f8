/*
 * tests/test_host_timer.c — unit tests of the deadline thread
 * (monitor/host_timer.c).
 *
 * The race that matters: the vCPU thread re-arms or disarms the timer
 * between the timer thread's poll (which saw an expiry) and its read. The
 * stress loop below makes that window likely; a blocking read there would
 * hang host_timer_destroy, which ctest's timeout turns into a failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <signal.h>
#include <string.h>

#include "monitor/host_timer.h"

static void on_nudge(int signo)
{
    (void)signo;
}

static void test_expiry_sets_the_flag(void **state)
{
    volatile uint32_t flag = 0;
    struct popek_error err;
    struct host_timer *t = host_timer_create(&flag, pthread_self(), SIGUSR2, &err);

    (void)state;
    assert_non_null(t);
    host_timer_arm(t, host_monotonic_ns() + 1000000);
    host_sleep_until(host_monotonic_ns() + 1000000000ull, &flag);
    assert_int_equal(flag, 1);
    host_timer_destroy(t);
}

static void test_rearm_racing_the_expiry(void **state)
{
    volatile uint32_t flag = 0;
    struct popek_error err;

    (void)state;
    for (int round = 0; round < 300; round++) {
        struct host_timer *t = host_timer_create(&flag, pthread_self(), SIGUSR2, &err);
        assert_non_null(t);
        for (int i = 0; i < 20; i++) {
            uint64_t now = host_monotonic_ns();
            host_timer_arm(t, now + 2000 * (uint64_t)(i % 5));
            while (host_monotonic_ns() < now + 2000 * (uint64_t)(i % 5))
                ;
            host_timer_arm(t, HOST_TIMER_NEVER);
        }
        host_timer_destroy(t); /* must not wait for an expiry */
    }
}

int main(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_nudge;
    sigaction(SIGUSR2, &sa, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry_sets_the_flag),
        cmocka_unit_test(test_rearm_racing_the_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
