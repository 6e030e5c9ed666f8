/*
 * devices/chardev.h — the host side of a serial line: where a UART's
 * transmitted bytes go and where its received bytes come from.
 *
 * Backends, in QEMU's -serial spelling:
 *
 *   stdio      output to stdout; input from stdin (the default)
 *   file:PATH  output to PATH, created or truncated; no input
 *   null       output discarded; no input
 *   none       no backend and no device (the machine leaves the port empty)
 *
 * Output is buffered (a system call costs microseconds on these hosts,
 * more than a guest takes to send a byte) and written out when the buffer
 * is full, at chardev_update once the oldest byte has waited
 * CHARDEV_FLUSH_NS — the machine runs it as a device with that deadline,
 * so a prompt without a newline shows within a millisecond even when the
 * guest then halts — and at chardev_destroy.
 *
 * Input (stdio only) arrives on a reader thread that polls stdin and a stop
 * eventfd, queues what it reads in a lock-protected ring and calls the wake
 * callback; the UART takes bytes with chardev_read on the vCPU thread as
 * its receive FIFO has room. When the ring is full the reader stops reading
 * stdin until the guest takes some, so no byte is ever dropped while the
 * guest keeps up. At end of input nothing more arrives; popek goes on.
 *
 * stdin is read when it is a terminal owned by popek's process group, a
 * pipe, a socket or a regular file; /dev/null and other character devices
 * are no input, and a terminal popek runs in the background of is left
 * alone (touching it would stop popek with SIGTTIN/SIGTTOU).
 *
 * A terminal is put in raw mode — no echo, no line editing, no signals
 * from Ctrl-C/Ctrl-Z (they go to the guest), 8-bit input — but output
 * processing stays on, so '\n' still returns the carriage (as QEMU does).
 * Its settings are restored on every way out: chardev_destroy, exit()
 * (atexit), and the fatal signals (SIGTERM, SIGHUP, SIGINT, SIGQUIT,
 * SIGPIPE, SIGABRT... — a handler restores, then the signal kills as it
 * would have). A popek bug that faults reaches the monitor's SIGSEGV
 * handler, which calls chardev_restore_terminal before dying. On a
 * terminal the escape keys of escape_keys.h apply: Ctrl-A x asks popek to
 * quit (chardev_quit_requested), Ctrl-A h lists the keys.
 *
 *     struct chardev *cd = chardev_open(&spec, err);        // cli/main.c
 *     chardev_start_input(cd, wake, ctx, &connected, err);  // when the guest runs
 *     if (connected)
 *         platform_set_has_input(pf);
 *     chardev_write(cd, "x", 1);                            // UART THR
 *     chardev_update(cd);                // at chardev_flush_deadline(cd)
 *     while (room && chardev_read(cd, &byte)) ...           // UART receiver
 */
#ifndef POPEK_DEVICES_CHARDEV_H
#define POPEK_DEVICES_CHARDEV_H

#include "common/error.h"
#include "common/types.h"

enum chardev_kind {
    CHARDEV_NONE,  /* no device */
    CHARDEV_NULL,  /* a device with nothing attached */
    CHARDEV_STDIO, /* stdin/stdout */
    CHARDEV_FILE,  /* output to a file */
};

struct chardev_spec {
    enum chardev_kind kind;
    const char *path; /* CHARDEV_FILE */
};

/* The ring between the reader thread and the guest. */
#define CHARDEV_RING_BYTES 4096
/* The output buffer, and how long a byte may wait in it. */
#define CHARDEV_OUT_BYTES  4096
#define CHARDEV_FLUSH_NS   1000000u
#define CHARDEV_NEVER      UINT64_MAX

struct chardev;

/* Opens a backend (not CHARDEV_NONE). A file that cannot be created is
 * the user's error: err names it as "-serial file:PATH". */
struct chardev *chardev_open(const struct chardev_spec *spec, struct popek_error *err);

/* Stops the reader, writes out the buffered output, restores the terminal,
 * closes the file. */
void chardev_destroy(struct chardev *cd);

typedef void (*chardev_wake_fn)(void *ctx);

/* Starts taking host input (once; later calls change nothing). wake is
 * called from the reader thread after bytes are queued or a quit is
 * requested. *connected says whether an input source is attached (the
 * guest may then wait for it). False when the reader cannot start. */
bool chardev_start_input(struct chardev *cd, chardev_wake_fn wake, void *wake_ctx, bool *connected,
                         struct popek_error *err);

/* Sends bytes to the backend's output (dropped when it has none or it was
 * closed under us). Thread-safe. */
void chardev_write(struct chardev *cd, const void *bytes, size_t n);

/* Writes out what the output buffer holds. Thread-safe. */
void chardev_flush(struct chardev *cd);

/* Host CLOCK_MONOTONIC time by which the buffered output must be written
 * (CHARDEV_NEVER when none waits), and the update that writes it then. */
uint64_t chardev_flush_deadline(struct chardev *cd);
void chardev_update(struct chardev *cd);

/* Takes the next received byte; false when none is waiting. Never blocks. */
bool chardev_read(struct chardev *cd, uint8_t *byte);

/* Queues received bytes as the reader thread does; returns how many fit.
 * Thread-safe. Used by the reader, and by tests to play a host. */
size_t chardev_queue_input(struct chardev *cd, const uint8_t *bytes, size_t n);

/* True once the user typed Ctrl-A x. Thread-safe. */
bool chardev_quit_requested(const struct chardev *cd);

/* Puts the terminal back as popek found it, if popek made it raw.
 * Async-signal-safe: fatal signal handlers call it. */
void chardev_restore_terminal(void);

#endif
