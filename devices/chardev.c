/*
 * devices/chardev.c — serial backends: output, the input ring and its
 * reader thread, the terminal's raw mode (chardev.h).
 */
#include "devices/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "common/clock.h"
#include "devices/escape_keys.h"

/* After Ctrl-A x the monitor normally stops the guest within microseconds;
 * if it has not after this long (a wedged monitor), the reader ends the
 * process itself so the user gets the terminal back. */
#define QUIT_GRACE_MS 3000

struct chardev {
    enum chardev_kind kind;

    /* output: buffered, written out when full or CHARDEV_FLUSH_NS after the
     * oldest byte waiting (chardev_update), and at the end */
    int out_fd; /* -1: output dropped */
    bool own_out_fd;
    bool output_closed;       /* the reader of our output went away (EPIPE) */
    pthread_mutex_t out_lock; /* the reader thread writes too (help, quit) */
    uint8_t out[CHARDEV_OUT_BYTES];
    size_t out_len;
    uint64_t out_since; /* when the oldest byte in out was written */

    /* input */
    int in_fd;
    bool input_started;
    bool in_terminal; /* stdin is the terminal we made raw: escape keys apply */
    pthread_t reader;
    bool reader_running;
    int stop_fd;  /* eventfd: chardev_destroy stops the reader */
    int space_fd; /* eventfd: the guest took bytes from a full ring */
    chardev_wake_fn wake;
    void *wake_ctx;
    uint32_t quit; /* Ctrl-A x seen (atomic) */

    pthread_mutex_t lock; /* guards the ring */
    uint8_t ring[CHARDEV_RING_BYTES];
    size_t ring_head, ring_count;
};

/* ---- the terminal -------------------------------------------------------- */

/* One terminal per process: its saved settings are process state, reachable
 * from signal handlers and atexit. */
static struct termios terminal_saved;
static int terminal_fd = -1;
static volatile sig_atomic_t terminal_raw;

void chardev_restore_terminal(void)
{
    if (terminal_raw) {
        tcsetattr(terminal_fd, TCSANOW, &terminal_saved);
        terminal_raw = 0;
    }
}

static void terminal_restore_at_exit(void)
{
    chardev_restore_terminal();
}

/* Restores the terminal, then lets the signal do what it would have done
 * (SA_RESETHAND put the default action back; SA_NODEFER lets it in now). */
static void terminal_fatal_signal(int signo)
{
    int saved_errno = errno;

    chardev_restore_terminal();
    raise(signo);
    errno = saved_errno;
}

static void terminal_install_guards(void)
{
    static const int fatal[] = {SIGTERM, SIGHUP,  SIGINT,  SIGQUIT,   SIGPIPE, SIGABRT,
                                SIGALRM, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGUSR2};
    static bool installed;
    struct sigaction sa, old;

    if (installed)
        return;
    installed = true;
    atexit(terminal_restore_at_exit);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = terminal_fatal_signal;
    sa.sa_flags = SA_RESETHAND | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < ARRAY_SIZE(fatal); i++) {
        /* A signal someone chose to ignore or handle stays theirs. */
        if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
            sigaction(fatal[i], &sa, NULL);
    }
}

/* Raw input, as cfmakeraw but with output processing left on. */
static bool terminal_make_raw(int fd)
{
    struct termios raw;

    if (tcgetattr(fd, &terminal_saved) < 0)
        return false;
    raw = terminal_saved;
    raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    raw.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    raw.c_cflag |= CS8;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    terminal_install_guards();
    terminal_fd = fd;
    if (tcsetattr(fd, TCSANOW, &raw) < 0)
        return false;
    terminal_raw = 1;
    return true;
}

/* ---- output -------------------------------------------------------------- */

static void write_all(struct chardev *cd, const uint8_t *bytes, size_t n)
{
    while (n > 0 && !cd->output_closed) {
        ssize_t done = write(cd->out_fd, bytes, n);
        if (done > 0) {
            bytes += done;
            n -= (size_t)done;
        } else if (done < 0 && errno == EAGAIN) {
            /* stdout inherited non-blocking: wait until it drains. */
            struct pollfd p = {.fd = cd->out_fd, .events = POLLOUT};
            poll(&p, 1, -1);
        } else if (done < 0 && errno == EINTR) {
            continue;
        } else {
            cd->output_closed = true; /* EPIPE, a full disk...: drop from now on */
        }
    }
}

static void flush_locked(struct chardev *cd)
{
    write_all(cd, cd->out, cd->out_len);
    cd->out_len = 0;
}

void chardev_write(struct chardev *cd, const void *bytes, size_t n)
{
    const uint8_t *from = bytes;

    if (cd->out_fd < 0)
        return;
    pthread_mutex_lock(&cd->out_lock);
    if (cd->out_len == 0 && n > 0)
        cd->out_since = host_monotonic_ns();
    while (n > 0) {
        size_t part = CHARDEV_OUT_BYTES - cd->out_len;
        if (part > n)
            part = n;
        memcpy(cd->out + cd->out_len, from, part);
        cd->out_len += part;
        from += part;
        n -= part;
        if (cd->out_len == CHARDEV_OUT_BYTES)
            flush_locked(cd);
    }
    pthread_mutex_unlock(&cd->out_lock);
}

void chardev_flush(struct chardev *cd)
{
    pthread_mutex_lock(&cd->out_lock);
    flush_locked(cd);
    pthread_mutex_unlock(&cd->out_lock);
}

uint64_t chardev_flush_deadline(struct chardev *cd)
{
    uint64_t deadline = CHARDEV_NEVER;

    pthread_mutex_lock(&cd->out_lock);
    if (cd->out_len)
        deadline = cd->out_since + CHARDEV_FLUSH_NS;
    pthread_mutex_unlock(&cd->out_lock);
    return deadline;
}

void chardev_update(struct chardev *cd)
{
    if (host_monotonic_ns() >= chardev_flush_deadline(cd))
        chardev_flush(cd);
}

/* ---- the ring ------------------------------------------------------------ */

size_t chardev_queue_input(struct chardev *cd, const uint8_t *bytes, size_t n)
{
    size_t queued = 0;

    pthread_mutex_lock(&cd->lock);
    while (queued < n && cd->ring_count < CHARDEV_RING_BYTES) {
        cd->ring[(cd->ring_head + cd->ring_count) % CHARDEV_RING_BYTES] = bytes[queued++];
        cd->ring_count++;
    }
    pthread_mutex_unlock(&cd->lock);
    return queued;
}

static size_t ring_room(struct chardev *cd)
{
    size_t room;

    pthread_mutex_lock(&cd->lock);
    room = CHARDEV_RING_BYTES - cd->ring_count;
    pthread_mutex_unlock(&cd->lock);
    return room;
}

bool chardev_read(struct chardev *cd, uint8_t *byte)
{
    bool was_full;
    uint64_t one = 1;

    pthread_mutex_lock(&cd->lock);
    if (cd->ring_count == 0) {
        pthread_mutex_unlock(&cd->lock);
        return false;
    }
    was_full = cd->ring_count == CHARDEV_RING_BYTES;
    *byte = cd->ring[cd->ring_head];
    cd->ring_head = (cd->ring_head + 1) % CHARDEV_RING_BYTES;
    cd->ring_count--;
    pthread_mutex_unlock(&cd->lock);
    if (was_full && cd->space_fd >= 0 && write(cd->space_fd, &one, sizeof(one)) < 0) {
        /* an eventfd counter cannot overflow here */
    }
    return true;
}

/* ---- the reader thread --------------------------------------------------- */

bool chardev_quit_requested(const struct chardev *cd)
{
    return __atomic_load_n(&cd->quit, __ATOMIC_ACQUIRE);
}

static void request_quit(struct chardev *cd)
{
    static const char message[] = "popek: terminated\n";
    struct pollfd stop = {.fd = cd->stop_fd, .events = POLLIN};

    chardev_write(cd, message, sizeof(message) - 1);
    chardev_flush(cd);
    __atomic_store_n(&cd->quit, 1, __ATOMIC_RELEASE);
    cd->wake(cd->wake_ctx);
    if (poll(&stop, 1, QUIT_GRACE_MS) == 0) {
        chardev_restore_terminal();
        _exit(0);
    }
}

/* Passes typed bytes through the escape keys; returns how many remain for
 * the guest (compacted in place). False once the user asked to quit. */
static size_t apply_escape_keys(struct chardev *cd, struct escape_keys *keys, uint8_t *bytes,
                                size_t n, bool *quit)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        switch (escape_keys_feed(keys, bytes[i])) {
        case ESCAPE_DELIVER:
            bytes[kept++] = bytes[i];
            break;
        case ESCAPE_HELP:
            chardev_write(cd, escape_keys_help, strlen(escape_keys_help));
            chardev_flush(cd);
            break;
        case ESCAPE_QUIT:
            *quit = true;
            return kept;
        case ESCAPE_SWALLOW:
            break;
        }
    }
    return kept;
}

static void *reader_thread(void *arg)
{
    struct chardev *cd = arg;
    struct escape_keys keys = {0};
    bool at_eof = false;
    uint8_t buf[512];

    for (;;) {
        size_t room = ring_room(cd);
        struct pollfd fds[2] = {{.fd = cd->stop_fd, .events = POLLIN}};
        nfds_t nfds = 1;

        /* Read stdin only as far as the ring has room; otherwise wait for
         * the guest to take some. */
        if (room == 0)
            fds[nfds++] = (struct pollfd){.fd = cd->space_fd, .events = POLLIN};
        else if (!at_eof)
            fds[nfds++] = (struct pollfd){.fd = cd->in_fd, .events = POLLIN};
        if (poll(fds, nfds, -1) < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (fds[0].revents)
            return NULL;
        if (nfds == 1 || !fds[1].revents)
            continue;
        if (room == 0) {
            uint64_t count;
            if (read(cd->space_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
                return NULL;
            continue;
        }
        ssize_t got = read(cd->in_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0) {
            at_eof = true; /* end of input, or the terminal hung up */
            continue;
        }
        size_t n = (size_t)got;
        bool quit = false;
        if (cd->in_terminal)
            n = apply_escape_keys(cd, &keys, buf, n, &quit);
        if (n > 0) {
            chardev_queue_input(cd, buf, n); /* fits: only this thread adds */
            cd->wake(cd->wake_ctx);
        }
        if (quit) {
            request_quit(cd);
            return NULL;
        }
    }
}

/* Whether stdin can give the guest anything (see chardev.h). */
static bool stdin_is_input(bool *terminal)
{
    struct stat st;

    *terminal = false;
    if (fstat(STDIN_FILENO, &st) < 0)
        return false;
    if (isatty(STDIN_FILENO)) {
        if (tcgetpgrp(STDIN_FILENO) != getpgrp())
            return false; /* a background job: the terminal is not ours */
        *terminal = true;
        return true;
    }
    return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISREG(st.st_mode);
}

bool chardev_start_input(struct chardev *cd, chardev_wake_fn wake, void *wake_ctx, bool *connected,
                         struct popek_error *err)
{
    bool terminal;

    *connected = cd->reader_running;
    if (cd->input_started)
        return true;
    cd->input_started = true;
    if (cd->kind != CHARDEV_STDIO || !stdin_is_input(&terminal))
        return true;
    cd->in_fd = STDIN_FILENO;
    cd->wake = wake;
    cd->wake_ctx = wake_ctx;
    cd->stop_fd = eventfd(0, EFD_CLOEXEC);
    cd->space_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (cd->stop_fd < 0 || cd->space_fd < 0)
        return popek_fail(err, "cannot set up the console input: %s", strerror(errno));
    if (terminal)
        cd->in_terminal = terminal_make_raw(STDIN_FILENO);
    int rc = pthread_create(&cd->reader, NULL, reader_thread, cd);
    if (rc) {
        chardev_restore_terminal();
        return popek_fail(err, "cannot start the console input thread: %s", strerror(rc));
    }
    cd->reader_running = true;
    *connected = true;
    return true;
}

/* ---- the backend --------------------------------------------------------- */

struct chardev *chardev_open(const struct chardev_spec *spec, struct popek_error *err)
{
    struct chardev *cd = calloc(1, sizeof(*cd));

    if (!cd) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    cd->kind = spec->kind;
    cd->out_fd = -1;
    cd->in_fd = -1;
    cd->stop_fd = -1;
    cd->space_fd = -1;
    pthread_mutex_init(&cd->lock, NULL);
    pthread_mutex_init(&cd->out_lock, NULL);
    switch (spec->kind) {
    case CHARDEV_STDIO:
        cd->out_fd = STDOUT_FILENO;
        break;
    case CHARDEV_FILE:
        cd->out_fd = open(spec->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (cd->out_fd < 0) {
            popek_fail(err, "-serial file:%s: cannot create the file: %s", spec->path,
                       strerror(errno));
            chardev_destroy(cd);
            return NULL;
        }
        cd->own_out_fd = true;
        break;
    case CHARDEV_NULL:
    case CHARDEV_NONE:
        break;
    }
    return cd;
}

void chardev_destroy(struct chardev *cd)
{
    uint64_t one = 1;

    if (!cd)
        return;
    if (cd->reader_running && write(cd->stop_fd, &one, sizeof(one)) == sizeof(one))
        pthread_join(cd->reader, NULL);
    if (cd->out_fd >= 0)
        chardev_flush(cd);
    if (cd->in_terminal)
        chardev_restore_terminal();
    if (cd->stop_fd >= 0)
        close(cd->stop_fd);
    if (cd->space_fd >= 0)
        close(cd->space_fd);
    if (cd->own_out_fd)
        close(cd->out_fd);
    pthread_mutex_destroy(&cd->lock);
    pthread_mutex_destroy(&cd->out_lock);
    free(cd);
}
