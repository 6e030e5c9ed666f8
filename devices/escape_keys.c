/*
 * devices/escape_keys.c — Ctrl-A prefix decoding (escape_keys.h).
 */
#include "devices/escape_keys.h"

const char escape_keys_help[] = "C-a h    print this help\n"
                                "C-a x    exit popek\n"
                                "C-a C-a  send C-a to the guest\n";

enum escape_action escape_keys_feed(struct escape_keys *keys, uint8_t byte)
{
    if (!keys->prefix_seen) {
        if (byte != ESCAPE_KEY)
            return ESCAPE_DELIVER;
        keys->prefix_seen = true;
        return ESCAPE_SWALLOW;
    }
    keys->prefix_seen = false;
    switch (byte) {
    case ESCAPE_KEY:
        return ESCAPE_DELIVER;
    case 'x':
        return ESCAPE_QUIT;
    case 'h':
        return ESCAPE_HELP;
    default:
        return ESCAPE_SWALLOW;
    }
}
