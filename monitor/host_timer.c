/*
 * monitor/host_timer.c — the deadline thread (host_timer.h).
 */
#include "monitor/host_timer.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

struct host_timer {
    int timer_fd;
    int stop_fd;
    int wake_fd; /* written by host_timer_wake: makes the thread re-check the flag */
    pthread_t thread;
    volatile uint32_t *flag;
    pthread_t target;
    int nudge_signal;
    uint64_t armed; /* the deadline the timerfd holds (vCPU thread only) */
};

uint64_t host_monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timespec to_timespec(uint64_t ns)
{
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
                             .tv_nsec = (long)(ns % 1000000000u)};
}

static void *timer_thread(void *arg)
{
    struct host_timer *t = arg;
    struct pollfd fds[3] = {{.fd = t->timer_fd, .events = POLLIN},
                            {.fd = t->stop_fd, .events = POLLIN},
                            {.fd = t->wake_fd, .events = POLLIN}};

    for (;;) {
        /* While an event is pending and not taken, nudge again every ms. */
        bool pending = __atomic_load_n(t->flag, __ATOMIC_ACQUIRE);
        if (pending)
            pthread_kill(t->target, t->nudge_signal);
        if (poll(fds, 3, pending ? 1 : -1) < 0 && errno != EINTR)
            return NULL;
        if (fds[1].revents)
            return NULL;
        if (fds[2].revents) {
            uint64_t count;
            if (read(t->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
                return NULL;
        }
        if (fds[0].revents) {
            uint64_t expirations;
            if (read(t->timer_fd, &expirations, sizeof(expirations)) > 0)
                __atomic_store_n(t->flag, 1, __ATOMIC_RELEASE);
        }
    }
}

struct host_timer *host_timer_create(volatile uint32_t *flag, pthread_t target, int nudge_signal,
                                     struct popek_error *err)
{
    struct host_timer *t = calloc(1, sizeof(*t));

    if (!t) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    t->flag = flag;
    t->target = target;
    t->nudge_signal = nudge_signal;
    t->armed = HOST_TIMER_NEVER;
    /* Non-blocking: the vCPU thread may re-arm or disarm the timer between
     * this thread's poll and its read, and a blocking read would then wait
     * for an expiry that never comes (and host_timer_destroy with it). */
    t->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    t->stop_fd = eventfd(0, EFD_CLOEXEC);
    t->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->timer_fd < 0 || t->stop_fd < 0 || t->wake_fd < 0 ||
        pthread_create(&t->thread, NULL, timer_thread, t)) {
        popek_fail(err, "cannot start the device timer thread: %s", strerror(errno));
        if (t->timer_fd >= 0)
            close(t->timer_fd);
        if (t->stop_fd >= 0)
            close(t->stop_fd);
        if (t->wake_fd >= 0)
            close(t->wake_fd);
        free(t);
        return NULL;
    }
    return t;
}

void host_timer_destroy(struct host_timer *t)
{
    uint64_t one = 1;

    if (!t)
        return;
    if (write(t->stop_fd, &one, sizeof(one)) == sizeof(one))
        pthread_join(t->thread, NULL);
    close(t->timer_fd);
    close(t->stop_fd);
    close(t->wake_fd);
    free(t);
}

void host_timer_wake(struct host_timer *t)
{
    uint64_t one = 1;

    __atomic_store_n(t->flag, 1, __ATOMIC_RELEASE);
    pthread_kill(t->target, t->nudge_signal);
    if (write(t->wake_fd, &one, sizeof(one)) < 0) {
        /* The counter cannot overflow in practice; the nudge above stands. */
    }
}

void host_timer_arm(struct host_timer *t, uint64_t deadline_ns)
{
    struct itimerspec spec = {{0, 0}, {0, 0}};

    if (deadline_ns == t->armed)
        return;
    t->armed = deadline_ns;
    if (deadline_ns != HOST_TIMER_NEVER) {
        spec.it_value = to_timespec(deadline_ns ? deadline_ns : 1);
    }
    timerfd_settime(t->timer_fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

void host_sleep_until(uint64_t deadline_ns, const volatile uint32_t *woken)
{
    /* "Forever" is a day at a time: the wake-up is a signal either way. */
    for (;;) {
        uint64_t until = deadline_ns;
        if (until == HOST_TIMER_NEVER)
            until = host_monotonic_ns() + 86400ull * 1000000000u;
        struct timespec ts = to_timespec(until);
        if (woken && __atomic_load_n(woken, __ATOMIC_ACQUIRE))
            return;
        int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        if (rc != EINTR && deadline_ns != HOST_TIMER_NEVER)
            return;
    }
}
