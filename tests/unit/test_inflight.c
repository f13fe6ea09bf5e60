/* The in-flight table: entries are found by token across growth and
 * deletions, and a removed entry's envelope copy is freed (valgrind). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "inflight.h"

static void test_added_entry_is_found_zeroed_and_removed(void **state)
{
    (void)state;
    struct cut_inflight tab;
    cut_inflight_init(&tab);
    struct cut_inflight_slot *slot = cut_inflight_add(&tab, 42);
    assert_non_null(slot);
    assert_int_equal(slot->mode, 0);
    assert_int_equal(slot->res[0], 0);
    assert_null(slot->copy);
    slot->mode = 2;
    assert_ptr_equal(cut_inflight_find(&tab, 42), slot);
    assert_null(cut_inflight_find(&tab, 43));
    cut_inflight_remove(&tab, slot);
    assert_null(cut_inflight_find(&tab, 42));
    assert_int_equal(tab.n, 0);
    cut_inflight_fini(&tab);
}

static void test_copies_are_freed_on_remove_and_fini(void **state)
{
    (void)state;
    struct cut_inflight tab;
    cut_inflight_init(&tab);
    for (uint64_t t = 1; t <= 3; t++) {
        struct cut_inflight_slot *slot = cut_inflight_add(&tab, t);
        slot->copy = calloc(1, sizeof(*slot->copy));
        slot->copy->data = malloc(64);
        slot->copy->cap = 64;
    }
    cut_inflight_remove(&tab, cut_inflight_find(&tab, 2));
    cut_inflight_fini(&tab); /* frees the other two: valgrind checks */
}

/* Many tokens in and out in a scrambled order: every one is found exactly
 * once, across growth and backward-shift deletions. */
static void test_many_tokens_survive_growth_and_deletion(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct cut_inflight tab;
    cut_inflight_init(&tab);
    for (uint64_t i = 1; i <= N; i++) {
        struct cut_inflight_slot *slot = cut_inflight_add(&tab, (3ull << 48) | i);
        assert_non_null(slot);
        slot->sent_us = (int64_t)i;
    }
    assert_int_equal(tab.n, N);
    for (uint64_t i = 1; i <= N; i += 2) {
        struct cut_inflight_slot *slot = cut_inflight_find(&tab, (3ull << 48) | i);
        assert_non_null(slot);
        assert_int_equal(slot->sent_us, (int64_t)i);
        cut_inflight_remove(&tab, slot);
    }
    for (uint64_t i = N; i >= 2; i -= 2) {
        struct cut_inflight_slot *slot = cut_inflight_find(&tab, (3ull << 48) | i);
        assert_non_null(slot);
        assert_int_equal(slot->sent_us, (int64_t)i);
        cut_inflight_remove(&tab, slot);
    }
    assert_int_equal(tab.n, 0);
    cut_inflight_fini(&tab);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_added_entry_is_found_zeroed_and_removed),
        cmocka_unit_test(test_copies_are_freed_on_remove_and_fini),
        cmocka_unit_test(test_many_tokens_survive_growth_and_deletion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
