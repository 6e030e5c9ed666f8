/*
 * tests/test_perf_map.c — the perf(1) map of the translation cache
 * (monitor/perf_map.c): one "START SIZE NAME" line per block, in hex, at
 * /tmp/perf-PID.map, which perf reads for samples in anonymous memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "monitor/perf_map.h"

static void test_lines_name_guest_blocks(void **state)
{
    struct popek_error err;
    char path[64], line[128];
    static const uint8_t code[0x40];

    (void)state;
    perf_map_block(code, sizeof(code), 0xC1000000, 0); /* not open: nothing */
    assert_true(perf_map_open(&err));
    perf_map_block(code, sizeof(code), 0xC1000000, 0);
    perf_map_block(code + 0x20, 0x1F, 0x0804A010, 3);
    perf_map_close();

    snprintf(path, sizeof(path), "/tmp/perf-%ld.map", (long)getpid());
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char expected[128];
    assert_non_null(fgets(line, sizeof(line), f));
    snprintf(expected, sizeof(expected), "%lx 40 guest:c1000000/cpl0\n", (unsigned long)code);
    assert_string_equal(line, expected);
    assert_non_null(fgets(line, sizeof(line), f));
    snprintf(expected, sizeof(expected), "%lx 1f guest:0804a010/cpl3\n",
             (unsigned long)(code + 0x20));
    assert_string_equal(line, expected);
    assert_null(fgets(line, sizeof(line), f));
    fclose(f);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_name_guest_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
