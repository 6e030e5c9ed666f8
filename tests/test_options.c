/*
 * tests/test_options.c — the command-line parser (cli/options.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cli/options.h"
#include "common/log.h"

#define ARGV(...)             ((char *const[]){"popek", __VA_ARGS__})
#define ARGC(...)             ((int)(sizeof((char *const[]){"popek", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(opts, err, ...) options_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), opts, err)

static void test_defaults(void **state)
{
    struct popek_options o;
    struct popek_error e;

    assert_true(PARSE(&o, &e, "-kernel", "k.elf"));
    assert_int_equal(o.action, OPTIONS_RUN);
    assert_string_equal(o.kernel, "k.elf");
    assert_null(o.append);
    assert_null(o.initrd);
    assert_int_equal(o.ram_bytes, 128ull << 20);
    assert_false(o.no_reboot);
    assert_int_equal(o.mode, EXEC_MODE_BT);
    assert_int_equal(o.log_mask, 0);
    assert_null(o.stats_file);
    assert_int_equal(o.tc_bytes, 64ull << 20);
    assert_int_equal(o.time_limit_s, 0);
}

static void test_qemu_spellings(void **state)
{
    struct popek_options o;
    struct popek_error e;

    assert_true(PARSE(&o, &e, "--kernel", "k", "-append", "console=ttyS0 quiet", "-initrd", "i",
                      "-m", "256", "-no-reboot", "-nographic", "-d", "boot,in_asm", "-D", "log",
                      "--mode", "te", "--stats", "s.json"));
    assert_string_equal(o.kernel, "k");
    assert_string_equal(o.append, "console=ttyS0 quiet");
    assert_string_equal(o.initrd, "i");
    assert_int_equal(o.ram_bytes, 256ull << 20);
    assert_true(o.no_reboot);
    assert_int_equal(o.log_mask, LOG_BOOT | LOG_IN_ASM);
    assert_string_equal(o.log_file, "log");
    assert_int_equal(o.mode, EXEC_MODE_TE);
    assert_string_equal(o.stats_file, "s.json");
}

static void test_sizes(void **state)
{
    struct popek_error e;
    uint64_t b;

    assert_true(options_parse_size("128", &b, &e));
    assert_int_equal(b, 128ull << 20);
    assert_true(options_parse_size("128M", &b, &e));
    assert_int_equal(b, 128ull << 20);
    assert_true(options_parse_size("128MB", &b, &e));
    assert_int_equal(b, 128ull << 20);
    assert_true(options_parse_size("1G", &b, &e));
    assert_int_equal(b, 1ull << 30);
    assert_true(options_parse_size("65536k", &b, &e));
    assert_int_equal(b, 64ull << 20);
    assert_true(options_parse_size("size=64M", &b, &e));
    assert_int_equal(b, 64ull << 20);

    assert_false(options_parse_size("", &b, &e));
    assert_false(options_parse_size("-5", &b, &e));
    assert_false(options_parse_size("12X", &b, &e));
    assert_string_equal(e.message, "-m: '12X' has an unknown unit (use k, M or G)");
    assert_false(options_parse_size("12MM", &b, &e));
    assert_false(options_parse_size("abc", &b, &e));
    assert_false(options_parse_size("99999999999999999999999", &b, &e));
    assert_false(options_parse_size("17179869184G", &b, &e));
}

static void test_memory_range(void **state)
{
    struct popek_options o;
    struct popek_error e;

    assert_false(PARSE(&o, &e, "-kernel", "k", "-m", "1"));
    assert_non_null(strstr(e.message, "-m: 1 is out of range"));
    assert_false(PARSE(&o, &e, "-kernel", "k", "-m", "4G"));
    assert_non_null(strstr(e.message, "out of range"));
    assert_false(PARSE(&o, &e, "-kernel", "k", "-m", "8195k"));
    assert_non_null(strstr(e.message, "multiple of 4 KiB"));
    assert_true(PARSE(&o, &e, "-kernel", "k", "-m", "3G"));
    assert_true(PARSE(&o, &e, "-kernel", "k", "-m", "4"));
}

static void test_errors(void **state)
{
    struct popek_options o;
    struct popek_error e;

    assert_false(PARSE(&o, &e, "-kernel", "k", "-bogus"));
    assert_string_equal(e.message, "unknown option '-bogus' (see --help)");
    assert_false(PARSE(&o, &e, "-kernel"));
    assert_string_equal(e.message, "option '-kernel' needs an argument (FILE)");
    assert_false(PARSE(&o, &e, "-kernel", "k", "stray"));
    assert_string_equal(e.message, "unexpected argument 'stray' (see --help)");
    assert_false(PARSE(&o, &e, "-m", "64"));
    assert_non_null(strstr(e.message, "no guest kernel"));
    assert_false(PARSE(&o, &e, "-kernel", "k", "--mode", "fast"));
    assert_string_equal(e.message, "--mode: unknown mode 'fast' (bt or te)");
    assert_false(PARSE(&o, &e, "-kernel", "k", "-d", "boot,nonsense"));
    assert_string_equal(e.message, "-d: unknown log item 'nonsense' (try -d help)");
    assert_false(PARSE(&o, &e, "-kernel", "k", "-D"));
    assert_false(PARSE(&o, &e, "-kernel", "k", "--tc-size", "4k"));
    assert_string_equal(e.message, "--tc-size: 4k is out of range (16k to 1G)");
    assert_false(PARSE(&o, &e, "-kernel", "k", "--time-limit", "0"));
    assert_false(PARSE(&o, &e, "-kernel", "k", "--time-limit", "5s"));
    assert_false(PARSE(&o, &e, "-kernel", "k", "--address-spaces", "0"));
    assert_string_equal(e.message, "--address-spaces: '0' is not a number from 1 to 15");
    assert_false(PARSE(&o, &e, "-kernel", "k", "--address-spaces", "16"));
    assert_false(PARSE(&o, &e, "-kernel", "k", "--address-spaces", "four"));
    assert_true(PARSE(&o, &e, "-kernel", "k", "--address-spaces", "15", "--no-adaptive"));
    assert_int_equal(o.address_spaces, 15);
    assert_true(o.no_adaptive);
    assert_true(PARSE(&o, &e, "-kernel", "k", "-d", "mmu"));
}

static void test_actions(void **state)
{
    struct popek_options o;
    struct popek_error e;

    assert_true(PARSE(&o, &e, "--help"));
    assert_int_equal(o.action, OPTIONS_HELP);
    assert_true(PARSE(&o, &e, "-version"));
    assert_int_equal(o.action, OPTIONS_VERSION);
    assert_true(PARSE(&o, &e, "-d", "help"));
    assert_int_equal(o.action, OPTIONS_LOG_HELP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_qemu_spellings),
        cmocka_unit_test(test_sizes),    cmocka_unit_test(test_memory_range),
        cmocka_unit_test(test_errors),   cmocka_unit_test(test_actions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
