/* The shared reconnect backoff: every wait within [min, min(max, min * 2^n)],
 * capped at max, back to min after a reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cutover/backoff.h"

static void test_waits_stay_within_the_growing_ceiling(void **state)
{
    (void)state;
    struct cut_backoff b = {.min_ms = 100, .max_ms = 10000, .rng = 42};
    int64_t ceiling = 100;
    for (int n = 0; n < 20; n++) {
        int64_t wait = cut_backoff_next(&b);
        assert_true(wait >= 100);
        assert_true(wait <= ceiling);
        ceiling = ceiling * 2 > 10000 ? 10000 : ceiling * 2;
    }
    assert_int_equal(b.attempts, 20);
}

static void test_waits_spread_out_once_the_ceiling_is_high(void **state)
{
    (void)state;
    struct cut_backoff b = {.min_ms = 100, .max_ms = 10000, .rng = 7, .attempts = 10};
    int64_t lo = INT64_MAX, hi = 0;
    for (int n = 0; n < 200; n++) {
        b.attempts = 10;
        int64_t wait = cut_backoff_next(&b);
        lo = wait < lo ? wait : lo;
        hi = wait > hi ? wait : hi;
    }
    /* Full jitter: the draws cover most of [100, 10000]. */
    assert_true(lo < 1000);
    assert_true(hi > 9000);
}

static void test_reset_brings_back_the_minimum(void **state)
{
    (void)state;
    struct cut_backoff b = {.min_ms = 50, .max_ms = 50, .rng = 1, .attempts = 9};
    assert_int_equal(cut_backoff_next(&b), 50);
    cut_backoff_reset(&b);
    assert_int_equal(b.attempts, 0);
    b.max_ms = 1000;
    assert_int_equal(cut_backoff_next(&b), 50); /* ceiling is min on the first try */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waits_stay_within_the_growing_ceiling),
        cmocka_unit_test(test_waits_spread_out_once_the_ceiling_is_high),
        cmocka_unit_test(test_reset_brings_back_the_minimum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
