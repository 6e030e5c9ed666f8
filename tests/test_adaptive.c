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
    while (!adaptive_note_emulation(set, 0xC0101000u, ADAPTIVE_UNKNOWN))
        n++;
    assert_int_equal(n + 1, ADAPTIVE_PROBATION);
    assert_false(adaptive_is_emulated(set, 0xC0101000u));
    /* ...and when it traps again — twice as often before it is switched
     * back — the next probation is twice as long. */
    for (int i = 0; i < 2 * ADAPTIVE_THRESHOLD - 1; i++)
        assert_false(adaptive_note_fault(set, 0xC0101000u));
    assert_true(adaptive_note_fault(set, 0xC0101000u));
    assert_true(adaptive_is_emulated(set, 0xC0101000u));
    n = 0;
    while (!adaptive_note_emulation(set, 0xC0101000u, ADAPTIVE_UNKNOWN))
        n++;
    assert_int_equal(n + 1, 2 * ADAPTIVE_PROBATION);

    /* Emulations that would have trapped keep it emulated; a run of ones
     * that would not puts it back in place at once. */
    for (int i = 0; i < ADAPTIVE_THRESHOLD; i++)
        adaptive_note_fault(set, 0x2000);
    for (int i = 0; i < 1000; i++)
        assert_false(adaptive_note_emulation(set, 0x2000, ADAPTIVE_WOULD_TRAP));
    for (int i = 1; i < ADAPTIVE_USELESS; i++)
        assert_false(adaptive_note_emulation(set, 0x2000, ADAPTIVE_WOULD_NOT_TRAP));
    assert_true(adaptive_is_emulated(set, 0x2000));
    assert_true(adaptive_note_emulation(set, 0x2000, ADAPTIVE_WOULD_NOT_TRAP));
    assert_false(adaptive_is_emulated(set, 0x2000));

    /* Forgotten: gone at once. */
    for (int i = 0; i < ADAPTIVE_THRESHOLD; i++)
        adaptive_note_fault(set, 0x3000);
    adaptive_forget(set, 0x3000);
    assert_false(adaptive_is_emulated(set, 0x3000));

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
