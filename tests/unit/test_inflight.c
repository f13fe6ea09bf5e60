/* The in-flight table: a delivery is settled once, when the last target owing
 * an answer gives it, with the worst outcome. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "inflight.h"

static void test_single_target_settles_on_its_answer(void **state)
{
    (void)state;
    struct cut_inflight tab;
    enum cut_outcome final = CUT_OUTCOME_REJECT;
    cut_inflight_init(&tab);
    assert_int_equal(cut_inflight_add(&tab, 42, 0x1), CUT_OK);
    assert_int_equal(cut_inflight_answer(&tab, 42, 0x1, CUT_OUTCOME_ACCEPT, &final), 1);
    assert_int_equal(final, CUT_OUTCOME_ACCEPT);
    assert_int_equal(tab.n, 0);
    cut_inflight_fini(&tab);
}

static void test_two_targets_wait_for_both_and_keep_the_worst(void **state)
{
    (void)state;
    struct cut_inflight tab;
    enum cut_outcome final = CUT_OUTCOME_ACCEPT;
    cut_inflight_init(&tab);
    cut_inflight_add(&tab, 7, 0x3);
    assert_int_equal(cut_inflight_answer(&tab, 7, 0x2, CUT_OUTCOME_RETRY, &final), 0);
    assert_int_equal(cut_inflight_answer(&tab, 7, 0x1, CUT_OUTCOME_ACCEPT, &final), 1);
    assert_int_equal(final, CUT_OUTCOME_RETRY);
    cut_inflight_add(&tab, 8, 0x3);
    cut_inflight_answer(&tab, 8, 0x1, CUT_OUTCOME_REJECT, &final);
    assert_int_equal(cut_inflight_answer(&tab, 8, 0x2, CUT_OUTCOME_RETRY, &final), 1);
    assert_int_equal(final, CUT_OUTCOME_REJECT);
    cut_inflight_fini(&tab);
}

static void test_unknown_token_and_repeated_answer_are_refused(void **state)
{
    (void)state;
    struct cut_inflight tab;
    enum cut_outcome final;
    cut_inflight_init(&tab);
    assert_int_equal(cut_inflight_answer(&tab, 1, 0x1, CUT_OUTCOME_ACCEPT, &final), -1);
    cut_inflight_add(&tab, 1, 0x3);
    assert_int_equal(cut_inflight_answer(&tab, 1, 0x1, CUT_OUTCOME_ACCEPT, &final), 0);
    assert_int_equal(cut_inflight_answer(&tab, 1, 0x1, CUT_OUTCOME_ACCEPT, &final), -1);
    cut_inflight_fini(&tab);
}

/* Many tokens in and out in a scrambled order: every one is found exactly
 * once, across growth and backward-shift deletions. */
static void test_many_tokens_survive_growth_and_deletion(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct cut_inflight tab;
    enum cut_outcome final;
    cut_inflight_init(&tab);
    for (uint64_t i = 1; i <= N; i++) {
        assert_int_equal(cut_inflight_add(&tab, (3ull << 48) | i, 0x1), CUT_OK);
    }
    assert_int_equal(tab.n, N);
    /* Answer the odd ones, then the even ones backwards. */
    for (uint64_t i = 1; i <= N; i += 2) {
        assert_int_equal(
            cut_inflight_answer(&tab, (3ull << 48) | i, 0x1, CUT_OUTCOME_ACCEPT, &final), 1);
    }
    for (uint64_t i = N; i >= 2; i -= 2) {
        assert_int_equal(
            cut_inflight_answer(&tab, (3ull << 48) | i, 0x1, CUT_OUTCOME_ACCEPT, &final), 1);
    }
    assert_int_equal(tab.n, 0);
    cut_inflight_fini(&tab);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_target_settles_on_its_answer),
        cmocka_unit_test(test_two_targets_wait_for_both_and_keep_the_worst),
        cmocka_unit_test(test_unknown_token_and_repeated_answer_are_refused),
        cmocka_unit_test(test_many_tokens_survive_growth_and_deletion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
