/*
 * tests/test_host_timer.c — unit tests of the device deadline timer
 * (monitor/host_timer.c).
 *
 * The timer nudges the thread that created it with a signal; here the
 * handler sets the flag, as the monitor's does. What matters: an expiry
 * ends a sleep; a wake from another thread ends a sleep with no deadline,
 * even when it comes between the sleeper's check of the flag and its
 * sleep; re-arming and disarming right at an expiry neither hangs nor
 * leaves the timer armed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "monitor/host_timer.h"

static volatile uint32_t flag;
static volatile uint32_t nudges;

static void on_nudge(int signo)
{
    (void)signo;
    __atomic_store_n(&flag, 1, __ATOMIC_RELEASE);
    nudges++;
}

static void test_expiry_ends_the_sleep(void **state)
{
    struct popek_error err;
    struct host_timer *t = host_timer_create(&flag, SIGUSR2, &err);

    (void)state;
    assert_non_null(t);
    flag = 0;
    uint64_t start = host_monotonic_ns();
    host_timer_arm(t, start + 1000000);
    host_timer_sleep_until(t, start + 10000000000ull, &flag);
    assert_int_equal(flag, 1);
    assert_true(host_monotonic_ns() - start >= 1000000);
    host_timer_destroy(t);
}

static void test_deadline_ends_the_sleep(void **state)
{
    struct popek_error err;
    struct host_timer *t = host_timer_create(&flag, SIGUSR2, &err);

    (void)state;
    flag = 0;
    uint64_t start = host_monotonic_ns();
    host_timer_sleep_until(t, start + 2000000, &flag);
    assert_int_equal(flag, 0);
    assert_true(host_monotonic_ns() - start >= 2000000);
    host_timer_destroy(t);
}

struct waker {
    struct host_timer *t;
    unsigned delay_us;
};

static void *wake_later(void *arg)
{
    struct waker *w = arg;

    usleep(w->delay_us);
    host_timer_wake(w->t);
    return NULL;
}

/* No deadline: only the wake can end these sleeps. Some wakes land before
 * the sleep starts, some during it; none may be lost (a lost one hangs,
 * which ctest's timeout turns into a failure). */
static void test_wake_from_another_thread(void **state)
{
    struct popek_error err;
    struct host_timer *t = host_timer_create(&flag, SIGUSR2, &err);

    (void)state;
    for (unsigned round = 0; round < 200; round++) {
        struct waker w = {t, round % 4 ? round % 50 : 0};
        pthread_t thread;
        flag = 0;
        assert_int_equal(pthread_create(&thread, NULL, wake_later, &w), 0);
        host_timer_sleep_until(t, HOST_TIMER_NEVER, &flag);
        assert_int_equal(flag, 1);
        pthread_join(thread, NULL);
    }
    host_timer_destroy(t);
}

static void test_rearm_racing_the_expiry(void **state)
{
    struct popek_error err;

    (void)state;
    for (int round = 0; round < 300; round++) {
        struct host_timer *t = host_timer_create(&flag, SIGUSR2, &err);
        assert_non_null(t);
        for (int i = 0; i < 20; i++) {
            uint64_t now = host_monotonic_ns();
            host_timer_arm(t, now + 2000 * (uint64_t)(i % 5));
            while (host_monotonic_ns() < now + 2000 * (uint64_t)(i % 5))
                ;
            host_timer_arm(t, HOST_TIMER_NEVER);
        }
        host_timer_destroy(t);
    }
    /* Disarmed stays disarmed. */
    struct host_timer *t = host_timer_create(&flag, SIGUSR2, &err);
    host_timer_arm(t, host_monotonic_ns() + 1000000);
    host_timer_arm(t, HOST_TIMER_NEVER);
    uint32_t before = nudges;
    usleep(5000);
    assert_int_equal(nudges, before);
    host_timer_destroy(t);
}

int main(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_nudge;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry_ends_the_sleep),
        cmocka_unit_test(test_deadline_ends_the_sleep),
        cmocka_unit_test(test_wake_from_another_thread),
        cmocka_unit_test(test_rearm_racing_the_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
