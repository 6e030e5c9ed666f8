/*
 * monitor/host_timer.c — the device deadline timer (host_timer.h).
 */
#include "monitor/host_timer.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* glibc names the SIGEV_THREAD_ID target only in its own headers' union. */
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

struct host_timer {
    timer_t timer;
    pthread_t target;
    int nudge_signal;
    volatile uint32_t *flag;
    uint64_t armed; /* the deadline the timer holds (target thread only) */
};

static struct timespec to_timespec(uint64_t ns)
{
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
                             .tv_nsec = (long)(ns % 1000000000u)};
}

struct host_timer *host_timer_create(volatile uint32_t *flag, int nudge_signal,
                                     struct popek_error *err)
{
    struct host_timer *t = calloc(1, sizeof(*t));
    struct sigevent ev;

    if (!t) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    t->target = pthread_self();
    t->nudge_signal = nudge_signal;
    t->flag = flag;
    t->armed = HOST_TIMER_NEVER;
    memset(&ev, 0, sizeof(ev));
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = nudge_signal;
    ev.sigev_notify_thread_id = gettid();
    if (timer_create(CLOCK_MONOTONIC, &ev, &t->timer) < 0) {
        popek_fail(err, "cannot create the device timer: %s", strerror(errno));
        free(t);
        return NULL;
    }
    return t;
}

void host_timer_destroy(struct host_timer *t)
{
    if (!t)
        return;
    timer_delete(t->timer);
    free(t);
}

void host_timer_arm(struct host_timer *t, uint64_t deadline_ns)
{
    struct itimerspec spec = {{0, 0}, {0, 0}};

    if (deadline_ns == t->armed)
        return;
    t->armed = deadline_ns;
    if (deadline_ns != HOST_TIMER_NEVER)
        spec.it_value = to_timespec(deadline_ns ? deadline_ns : 1);
    timer_settime(t->timer, TIMER_ABSTIME, &spec, NULL);
}

void host_timer_sleep_until(struct host_timer *t, uint64_t deadline_ns,
                            const volatile uint32_t *woken)
{
    sigset_t nudge, outside, inside;

    sigemptyset(&nudge);
    sigaddset(&nudge, t->nudge_signal);
    pthread_sigmask(SIG_BLOCK, &nudge, &outside);
    inside = outside;
    sigdelset(&inside, t->nudge_signal);
    for (;;) {
        if (woken && __atomic_load_n(woken, __ATOMIC_ACQUIRE))
            break;
        uint64_t now = host_monotonic_ns();
        if (deadline_ns != HOST_TIMER_NEVER && now >= deadline_ns)
            break;
        struct timespec left = to_timespec(deadline_ns - now);
        ppoll(NULL, 0, deadline_ns == HOST_TIMER_NEVER ? NULL : &left, &inside);
    }
    pthread_sigmask(SIG_SETMASK, &outside, NULL);
}

void host_timer_wake(struct host_timer *t)
{
    __atomic_store_n(t->flag, 1, __ATOMIC_RELEASE);
    pthread_kill(t->target, t->nudge_signal);
}
