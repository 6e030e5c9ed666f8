/*
 * tests/test_stats.c — the --stats report (monitor/stats.c): every group is
 * one JSON object, whatever order its items were added in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "monitor/stats.h"

static void test_groups_stay_together(void **state)
{
    static struct stats_report r;
    struct popek_error err;
    char path[] = "/tmp/popek-test-stats-XXXXXX", text[512] = "";

    (void)state;
    stats_add(&r, "cache", "lookups", 10);
    stats_add(&r, "exits", "branch", 3);
    stats_add_ratio(&r, "cache", "hit_rate", 1, 4);
    stats_add(&r, "exits", "callout", 5);
    stats_add(&r, "shadow", "fills", 7);
    stats_add(&r, "cache", "flushes", 0);

    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_true(stats_write_json(&r, path, &err));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    unlink(path);
    text[n] = 0;
    assert_string_equal(text, "{\n"
                              "  \"cache\": {\n"
                              "    \"lookups\": 10,\n"
                              "    \"hit_rate\": 0.250000,\n"
                              "    \"flushes\": 0\n"
                              "  },\n"
                              "  \"exits\": {\n"
                              "    \"branch\": 3,\n"
                              "    \"callout\": 5\n"
                              "  },\n"
                              "  \"shadow\": {\n"
                              "    \"fills\": 7\n"
                              "  }\n"
                              "}\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_stay_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
