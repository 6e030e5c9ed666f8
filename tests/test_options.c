/*
 * tests/test_options.c — the command-line parser (cli/options.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    for (int i = 0; i < ATA_MAX_DRIVES; i++)
        assert_null(o.drives[i].path);
    /* COM1 on stdio, COM2 present and unconnected. */
    assert_int_equal(o.serial_count, 0);
    assert_int_equal(o.serial[0].kind, CHARDEV_STDIO);
    assert_int_equal(o.serial[1].kind, CHARDEV_NULL);
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

/* Disk images: the files must exist and be readable at parse time. */
struct images {
    char dir[64], a[96], b[96], comma[96], missing[96];
};

static void make_images(struct images *im)
{
    strcpy(im->dir, "/tmp/popek-test-options-XXXXXX");
    assert_non_null(mkdtemp(im->dir));
    snprintf(im->a, sizeof(im->a), "%s/a.img", im->dir);
    snprintf(im->b, sizeof(im->b), "%s/b.img", im->dir);
    snprintf(im->comma, sizeof(im->comma), "%s/c,d.img", im->dir);
    snprintf(im->missing, sizeof(im->missing), "%s/missing.img", im->dir);
    fclose(fopen(im->a, "w"));
    fclose(fopen(im->b, "w"));
    fclose(fopen(im->comma, "w"));
}

static void remove_images(struct images *im)
{
    unlink(im->a);
    unlink(im->b);
    unlink(im->comma);
    rmdir(im->dir);
}

static void test_drives(void **state)
{
    static struct popek_options o;
    struct popek_error e;
    struct images im;
    char spec[4][256];

    make_images(&im);
    /* -hdX name their slot; -drive without index takes the first free. */
    snprintf(spec[0], sizeof(spec[0]), "file=%s,format=raw", im.a);
    snprintf(spec[1], sizeof(spec[1]), "file=%s,format=raw,index=3,if=ide,media=disk", im.b);
    assert_true(PARSE(&o, &e, "-kernel", "k", "-hda", im.b, "-drive", spec[0], "-drive", spec[1]));
    assert_string_equal(o.drives[0].path, im.b);
    assert_string_equal(o.drives[1].path, im.a);
    assert_null(o.drives[2].path);
    assert_string_equal(o.drives[3].path, im.b);
    assert_false(o.drives[0].read_only);

    assert_true(PARSE(&o, &e, "-kernel", "k", "-hdc", im.a, "-hdd", im.b));
    assert_null(o.drives[0].path);
    assert_string_equal(o.drives[2].path, im.a);
    assert_string_equal(o.drives[3].path, im.b);

    /* ",," is a comma in the file name; readonly=on. */
    snprintf(spec[0], sizeof(spec[0]), "file=%s/c,,d.img,readonly=on,index=2", im.dir);
    assert_true(PARSE(&o, &e, "-kernel", "k", "-drive", spec[0]));
    assert_string_equal(o.drives[2].path, im.comma);
    assert_true(o.drives[2].read_only);
    /* Without format: raw (QEMU would probe and find raw). */
    snprintf(spec[0], sizeof(spec[0]), "file=%s", im.a);
    assert_true(PARSE(&o, &e, "-kernel", "k", "-drive", spec[0]));
    assert_string_equal(o.drives[0].path, im.a);
    remove_images(&im);
}

static void test_drive_errors(void **state)
{
    static struct popek_options o;
    struct popek_error e;
    struct images im;
    char spec[256], want[512];

    make_images(&im);
    snprintf(spec, sizeof(spec), "file=%s,format=raw", im.missing);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-drive", spec));
    snprintf(want, sizeof(want), "-drive: cannot read '%s': No such file or directory", im.missing);
    assert_string_equal(e.message, want);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-hdb", im.missing));
    snprintf(want, sizeof(want), "-hdb: cannot read '%s': No such file or directory", im.missing);
    assert_string_equal(e.message, want);
    if (geteuid() != 0) {
        chmod(im.a, 0);
        assert_false(PARSE(&o, &e, "-kernel", "k", "-hda", im.a));
        assert_non_null(strstr(e.message, "Permission denied"));
        chmod(im.a, 0644);
    }

    snprintf(spec, sizeof(spec), "file=%s,format=qcow2", im.a);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-drive", spec));
    assert_string_equal(e.message, "-drive: format 'qcow2' is not supported (only raw)");
    snprintf(spec, sizeof(spec), "file=%s,if=virtio", im.a);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-drive", spec));
    assert_string_equal(e.message, "-drive: interface 'virtio' is not supported (only ide)");
    snprintf(spec, sizeof(spec), "file=%s,media=cdrom", im.a);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-drive", spec));
    assert_string_equal(e.message, "-drive: media 'cdrom' is not supported (only disk)");
    snprintf(spec, sizeof(spec), "file=%s,index=4", im.a);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-drive", spec));
    assert_string_equal(e.message, "-drive: index '4' is out of range (0 to 3)");
    snprintf(spec, sizeof(spec), "file=%s,index=-1", im.a);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-drive", spec));
    snprintf(spec, sizeof(spec), "file=%s,index=1x", im.a);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-drive", spec));
    snprintf(spec, sizeof(spec), "file=%s,cache=none", im.a);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-drive", spec));
    assert_string_equal(e.message, "-drive: unknown key 'cache' (popek knows file, format, "
                                   "index, if, media, readonly)");
    snprintf(spec, sizeof(spec), "file=%s,readonly=maybe", im.a);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-drive", spec));
    assert_string_equal(e.message, "-drive: readonly='maybe' is not on or off");
    assert_false(PARSE(&o, &e, "-kernel", "k", "-drive", "format=raw"));
    assert_string_equal(e.message, "-drive: no file= given");
    assert_false(PARSE(&o, &e, "-kernel", "k", "-drive", im.a));
    assert_non_null(strstr(e.message, "is not key=value"));

    /* Two drives on one index. */
    snprintf(spec, sizeof(spec), "file=%s,index=1", im.a);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-hdb", im.b, "-drive", spec));
    snprintf(want, sizeof(want), "-drive: two drives on index 1 ('%s' and '%s')", im.b, im.a);
    assert_string_equal(e.message, want);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-hda", im.a, "-hda", im.b));
    assert_non_null(strstr(e.message, "-hda: two drives on index 0"));
    /* A fifth drive finds no slot. */
    snprintf(spec, sizeof(spec), "file=%s", im.a);
    assert_false(PARSE(&o, &e, "-kernel", "k", "-drive", spec, "-drive", spec, "-drive", spec,
                       "-drive", spec, "-drive", spec));
    assert_string_equal(e.message, "-drive: all 4 IDE slots are taken");
    remove_images(&im);
}

static void test_serial(void **state)
{
    static struct popek_options o;
    struct popek_error e;

    assert_true(PARSE(&o, &e, "-kernel", "k", "-serial", "file:out.log"));
    assert_int_equal(o.serial[0].kind, CHARDEV_FILE);
    assert_string_equal(o.serial[0].path, "out.log");
    assert_int_equal(o.serial[1].kind, CHARDEV_NULL);
    assert_true(PARSE(&o, &e, "-kernel", "k", "-nographic", "-serial", "none"));
    assert_int_equal(o.serial[0].kind, CHARDEV_NONE);
    /* Twice: the second is COM2. */
    assert_true(PARSE(&o, &e, "-kernel", "k", "-serial", "null", "--serial", "stdio"));
    assert_int_equal(o.serial[0].kind, CHARDEV_NULL);
    assert_int_equal(o.serial[1].kind, CHARDEV_STDIO);
    assert_int_equal(o.serial_count, 2);
    assert_true(PARSE(&o, &e, "-kernel", "k", "-serial", "stdio", "-serial", "file:f:with:colons"));
    assert_string_equal(o.serial[1].path, "f:with:colons");

    assert_false(PARSE(&o, &e, "-kernel", "k", "-serial", "pty"));
    assert_string_equal(e.message,
                        "-serial: unknown backend 'pty' (stdio, file:PATH, null or none)");
    assert_false(PARSE(&o, &e, "-kernel", "k", "-serial", "file:"));
    assert_string_equal(e.message,
                        "-serial: unknown backend 'file:' (stdio, file:PATH, null or none)");
    assert_false(PARSE(&o, &e, "-kernel", "k", "-serial", "stdio", "-serial", "stdio"));
    assert_string_equal(e.message, "-serial: stdio can back only one serial port");
    assert_false(
        PARSE(&o, &e, "-kernel", "k", "-serial", "null", "-serial", "null", "-serial", "null"));
    assert_string_equal(e.message, "-serial: 'null' is one too many (COM1 and COM2 only)");
    assert_false(PARSE(&o, &e, "-kernel", "k", "-serial"));
    assert_string_equal(e.message, "option '-serial' needs an argument (DEV)");
}

static void test_usage_lists_serial(void **state)
{
    char text[8192] = {0};
    FILE *f = fmemopen(text, sizeof(text) - 1, "w");

    options_print_usage(f);
    fclose(f);
    assert_non_null(strstr(text, "-serial DEV"));
    assert_non_null(strstr(text, "stdio (default), file:PATH, null or none"));
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

/* Snapshots: -incoming file:PATH stands in for -kernel; --save-state and
 * --save-when go together; the usage text lists all three. */
static void test_snapshot_options(void **state)
{
    struct popek_options o;
    struct popek_error e;
    char text[8192] = {0};

    assert_true(PARSE(&o, &e, "-incoming", "file:/tmp/m.state", "-m", "256"));
    assert_string_equal(o.incoming, "/tmp/m.state");
    assert_null(o.kernel);
    assert_true(PARSE(&o, &e, "-kernel", "k", "--save-state", "s", "--save-when", "login: "));
    assert_string_equal(o.save_state, "s");
    assert_string_equal(o.save_when, "login: ");
    assert_null(o.incoming);
    assert_false(PARSE(&o, &e, "-incoming", "/tmp/m.state"));
    assert_non_null(strstr(e.message, "-incoming: '/tmp/m.state' is not file:PATH"));
    assert_false(PARSE(&o, &e, "-incoming", "tcp:0:4444"));
    assert_false(PARSE(&o, &e, "-incoming", "file:"));
    assert_false(PARSE(&o, &e, "-kernel", "k", "--save-state", "s"));
    assert_string_equal(e.message, "--save-state needs --save-when TEXT (see --help)");
    assert_false(PARSE(&o, &e, "-kernel", "k", "--save-when", "x"));
    assert_string_equal(e.message, "--save-when needs --save-state PATH (see --help)");
    assert_false(PARSE(&o, &e, "-kernel", "k", "--save-state", "s", "--save-when", ""));
    assert_false(PARSE(&o, &e, "-incoming", "file:s", "--save-state", "s", "--save-when", "x"));
    assert_non_null(strstr(e.message, "also the -incoming file"));
    FILE *f = fmemopen(text, sizeof(text) - 1, "w");
    options_print_usage(f);
    fclose(f);
    assert_non_null(strstr(text, "-incoming file:PATH"));
    assert_non_null(strstr(text, "--save-state PATH"));
    assert_non_null(strstr(text, "--save-when TEXT"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_qemu_spellings),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_memory_range),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_actions),
        cmocka_unit_test(test_drives),
        cmocka_unit_test(test_drive_errors),
        cmocka_unit_test(test_serial),
        cmocka_unit_test(test_usage_lists_serial),
        cmocka_unit_test(test_snapshot_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
