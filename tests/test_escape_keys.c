/*
 * tests/test_escape_keys.c — the console's Ctrl-A keys (devices/escape_keys.c),
 * apart from any terminal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/escape_keys.h"

/* Feeds bytes and writes one letter per answer: D deliver, S swallow, H
 * help, Q quit. */
static const char *feed(struct escape_keys *keys, const char *bytes)
{
    static char answers[64];
    size_t n = strlen(bytes);
    static const char letter[] = {
        [ESCAPE_DELIVER] = 'D', [ESCAPE_SWALLOW] = 'S', [ESCAPE_HELP] = 'H', [ESCAPE_QUIT] = 'Q'};

    for (size_t i = 0; i < n; i++)
        answers[i] = letter[escape_keys_feed(keys, (uint8_t)bytes[i])];
    answers[n] = 0;
    return answers;
}

static void test_plain_bytes_are_delivered(void **state)
{
    struct escape_keys keys = {0};

    assert_string_equal(feed(&keys, "ls -l\r\x03\x1b[A\x7f"), "DDDDDDDDDDD");
    assert_false(keys.prefix_seen);
}

static void test_ctrl_a_x_quits(void **state)
{
    struct escape_keys keys = {0};

    assert_string_equal(feed(&keys, "a\x01x"), "DSQ");
    assert_false(keys.prefix_seen);
}

static void test_ctrl_a_h_helps(void **state)
{
    struct escape_keys keys = {0};

    assert_string_equal(feed(&keys, "\x01h"
                                    "b"),
                        "SHD");
    assert_non_null(strstr(escape_keys_help, "C-a x"));
    assert_non_null(strstr(escape_keys_help, "C-a h"));
    assert_non_null(strstr(escape_keys_help, "C-a C-a"));
}

static void test_ctrl_a_ctrl_a_sends_one(void **state)
{
    struct escape_keys keys = {0};

    /* The second Ctrl-A is delivered (the guest gets one 0x01); a third
     * starts a new sequence. */
    assert_string_equal(feed(&keys, "\x01\x01"), "SD");
    assert_string_equal(feed(&keys, "\x01\x01\x01x"), "SDSQ");
}

static void test_other_keys_are_swallowed(void **state)
{
    struct escape_keys keys = {0};

    /* Unknown commands (QEMU's c, s, b, t among them, X in capitals) are
     * eaten with their prefix; the next byte is ordinary again. */
    assert_string_equal(feed(&keys, "\x01"
                                    "c"
                                    "x"),
                        "SSD");
    assert_string_equal(feed(&keys, "\x01X"
                                    "\x01\r"
                                    "\x01 "
                                    "q"),
                        "SSSSSSD");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_bytes_are_delivered),
        cmocka_unit_test(test_ctrl_a_x_quits),
        cmocka_unit_test(test_ctrl_a_h_helps),
        cmocka_unit_test(test_ctrl_a_ctrl_a_sends_one),
        cmocka_unit_test(test_other_keys_are_swallowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
