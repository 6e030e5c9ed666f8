/*
 * tests/test_adaptive.c — adaptive translation's per-instruction counts
 * (monitor/adaptive.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "monitor/adaptive.h"

static void test_threshold_and_probation(void **state)
{
    struct adaptive_set *set = calloc(1, sizeof(*set));

    /* Emulated from the third trapping access on. */
    assert_false(adaptive_note_fault(set, 0xC0101000u));
    assert_false(adaptive_is_emulated(set, 0xC0101000u));
    assert_false(adaptive_note_fault(set, 0xC0101000u));
    assert_true(adaptive_note_fault(set, 0xC0101000u));
    assert_true(adaptive_is_emulated(set, 0xC0101000u));
    assert_false(adaptive_is_emulated(set, 0xC0101001u));

    /* After its probation it runs in place again... */
    unsigned n = 0;
    while (!adaptive_note_emulation(set, 0xC0101000u))
        n++;
    assert_int_equal(n + 1, ADAPTIVE_PROBATION);
    assert_false(adaptive_is_emulated(set, 0xC0101000u));
    /* ...and when it traps again, the next probation is twice as long. */
    for (int i = 0; i < ADAPTIVE_THRESHOLD; i++)
        adaptive_note_fault(set, 0xC0101000u);
    assert_true(adaptive_is_emulated(set, 0xC0101000u));
    n = 0;
    while (!adaptive_note_emulation(set, 0xC0101000u))
        n++;
    assert_int_equal(n + 1, 2 * ADAPTIVE_PROBATION);

    /* Disabled: never. */
    set->disabled = true;
    for (int i = 0; i < 10; i++)
        assert_false(adaptive_note_fault(set, 0x1000));
    assert_false(adaptive_is_emulated(set, 0x1000));
    adaptive_clear(set);
    free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold_and_probation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
