/*
 * devices/escape_keys.h — the console's escape keys, as QEMU's: Ctrl-A
 * followed by a command key.
 *
 *   Ctrl-A x       quit popek (status 0, "popek: terminated")
 *   Ctrl-A h       print the key list
 *   Ctrl-A Ctrl-A  send one Ctrl-A to the guest
 *   Ctrl-A other   nothing (the pair is swallowed)
 *
 * Every other byte goes to the guest. The state machine is pure: the
 * terminal reader (devices/chardev.c) feeds it each byte typed and acts on
 * the answer; it is only used when stdin is a terminal, so bytes piped into
 * popek reach the guest untouched.
 *
 *     struct escape_keys keys = {0};
 *     switch (escape_keys_feed(&keys, byte)) {
 *     case ESCAPE_DELIVER: queue(byte); break;
 *     case ESCAPE_QUIT: ...
 *     }
 */
#ifndef POPEK_DEVICES_ESCAPE_KEYS_H
#define POPEK_DEVICES_ESCAPE_KEYS_H

#include "common/types.h"

#define ESCAPE_KEY 0x01 /* Ctrl-A */

enum escape_action {
    ESCAPE_DELIVER, /* give the byte to the guest */
    ESCAPE_SWALLOW, /* part of an escape sequence: nothing to do */
    ESCAPE_HELP,    /* print escape_keys_help */
    ESCAPE_QUIT,    /* end popek */
};

struct escape_keys {
    bool prefix_seen; /* the last byte was an unpaired Ctrl-A */
};

enum escape_action escape_keys_feed(struct escape_keys *keys, uint8_t byte);

/* The list Ctrl-A h prints ("\n"-terminated lines). */
extern const char escape_keys_help[];

#endif
