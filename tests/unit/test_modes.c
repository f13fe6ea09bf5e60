/*
 * Modes (bridge/modes.c): names, resolution, guarded promotion for every
 * from -> to pair, the ack rule for every mode and every pair of side
 * results, and the board that hands tables to running flows. The expected
 * tables below are the ones in docs/operations.md, written out cell by cell.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "cutover/status.h"
#include "modes.h"

#define J  CUT_MODE_JMS_ONLY
#define DJ CUT_MODE_DUAL_JMS_PRIMARY
#define DK CUT_MODE_DUAL_KAFKA_PRIMARY
#define K  CUT_MODE_KAFKA_ONLY

/* ---- names ---------------------------------------------------------------- */

static void test_mode_names_print_and_parse_exactly(void **state)
{
    (void)state;
    static const char *const names[] = {"JMS_ONLY", "DUAL_WRITE_JMS_PRIMARY",
                                        "DUAL_WRITE_KAFKA_PRIMARY", "KAFKA_ONLY"};
    for (int m = 0; m < CUT_MODE_COUNT; m++) {
        enum cut_mode parsed = (enum cut_mode) - 1;
        assert_string_equal(cut_mode_name((enum cut_mode)m), names[m]);
        assert_int_equal(cut_mode_parse(names[m], &parsed), 0);
        assert_int_equal(parsed, m);
    }
    enum cut_mode parsed;
    assert_int_equal(cut_mode_parse("dual_write_kafka_primary", &parsed), 0);
    assert_int_equal(parsed, DK);
    assert_int_equal(cut_mode_parse("DUAL_JMS_PRIMARY", &parsed), -1);
    assert_int_equal(cut_mode_parse("", &parsed), -1);
    assert_int_equal(cut_mode_parse(NULL, &parsed), -1);
    assert_string_equal(cut_mode_name((enum cut_mode)9), "?");
}

static void test_status_and_side_names_round_trip(void **state)
{
    (void)state;
    static const char *const names[] = {"PENDING", "IN_PROGRESS", "COMPLETED", "ROLLED_BACK"};
    for (int s = 0; s < CUT_FLOW_STATUS_COUNT; s++) {
        enum cut_flow_status parsed;
        assert_string_equal(cut_flow_status_name((enum cut_flow_status)s), names[s]);
        assert_int_equal(cut_flow_status_parse(names[s], &parsed), 0);
        assert_int_equal(parsed, s);
    }
    enum cut_flow_status st;
    assert_int_equal(cut_flow_status_parse("DONE", &st), -1);
    enum cut_side side;
    assert_int_equal(cut_side_parse("kafka", &side), 0);
    assert_int_equal(side, CUT_SIDE_KAFKA);
    assert_int_equal(cut_side_parse("legacy", &side), 0);
    assert_int_equal(side, CUT_SIDE_LEGACY);
    assert_int_equal(cut_side_parse("jms", &side), -1);
}

static void test_modes_write_to_the_sides_their_name_says(void **state)
{
    (void)state;
    assert_true(cut_mode_writes(J, CUT_SIDE_LEGACY));
    assert_false(cut_mode_writes(J, CUT_SIDE_KAFKA));
    assert_true(cut_mode_writes(DJ, CUT_SIDE_LEGACY) && cut_mode_writes(DJ, CUT_SIDE_KAFKA));
    assert_true(cut_mode_writes(DK, CUT_SIDE_LEGACY) && cut_mode_writes(DK, CUT_SIDE_KAFKA));
    assert_false(cut_mode_writes(K, CUT_SIDE_LEGACY));
    assert_true(cut_mode_writes(K, CUT_SIDE_KAFKA));
    assert_int_equal(cut_mode_primary(J), CUT_SIDE_LEGACY);
    assert_int_equal(cut_mode_primary(DJ), CUT_SIDE_LEGACY);
    assert_int_equal(cut_mode_primary(DK), CUT_SIDE_KAFKA);
    assert_int_equal(cut_mode_primary(K), CUT_SIDE_KAFKA);
}

/* ---- resolution ----------------------------------------------------------- */

static void test_resolution_prefers_type_then_flow_then_default_then_jms_only(void **state)
{
    (void)state;
    struct cut_mode_table t;
    cut_mode_table_init(&t);

    assert_int_equal(cut_mode_resolve(NULL, "orders", "invoice"), J);
    assert_int_equal(cut_mode_resolve(&t, "orders", "invoice"), J);

    t.has_default = true;
    t.def = DJ;
    assert_int_equal(cut_mode_resolve(&t, "orders", "invoice"), DJ);

    assert_int_equal(cut_mode_table_set(&t, "orders", NULL, DK), CUT_OK);
    assert_int_equal(cut_mode_resolve(&t, "orders", "invoice"), DK);
    assert_int_equal(cut_mode_resolve(&t, "orders", NULL), DK);
    assert_int_equal(cut_mode_resolve(&t, "orders", ""), DK);

    assert_int_equal(cut_mode_table_set(&t, "orders", "invoice", K), CUT_OK);
    assert_int_equal(cut_mode_resolve(&t, "orders", "invoice"), K);
    assert_int_equal(cut_mode_resolve(&t, "orders", "refund"), DK);
    assert_int_equal(cut_mode_resolve(&t, "orders", NULL), DK);

    /* Another flow with the same type name is not touched by the override. */
    assert_int_equal(cut_mode_resolve(&t, "payments", "invoice"), DJ);
    /* An override alone, without a flow-level mode, still wins for its type. */
    assert_int_equal(cut_mode_table_set(&t, "payments", "refund", K), CUT_OK);
    assert_int_equal(cut_mode_resolve(&t, "payments", "refund"), K);
    assert_int_equal(cut_mode_resolve(&t, "payments", "invoice"), DJ);

    t.has_default = false;
    assert_int_equal(cut_mode_resolve(&t, "payments", "invoice"), J);
    cut_mode_table_fini(&t);
}

static void test_table_set_replaces_and_keeps_entries_sorted(void **state)
{
    (void)state;
    struct cut_mode_table t, u;
    char flow[16];
    cut_mode_table_init(&t);
    cut_mode_table_init(&u);
    /* Insert in a scrambled order, past the first growth. */
    for (int i = 0; i < 100; i++) {
        snprintf(flow, sizeof(flow), "f%03d", (i * 37) % 100);
        assert_int_equal(cut_mode_table_set(&t, flow, NULL, (enum cut_mode)(i % 4)), CUT_OK);
    }
    assert_int_equal(t.n, 100);
    for (size_t i = 1; i < t.n; i++) {
        assert_true(strcmp(t.entries[i - 1].flow, t.entries[i].flow) < 0);
    }
    assert_int_equal(cut_mode_table_set(&t, "f010", NULL, K), CUT_OK);
    assert_int_equal(t.n, 100);
    assert_int_equal(cut_mode_resolve(&t, "f010", NULL), K);
    assert_non_null(cut_mode_table_find(&t, "f010", ""));
    assert_null(cut_mode_table_find(&t, "f010", "x"));

    assert_false(cut_mode_table_equal(&t, &u));
    for (size_t i = 0; i < t.n; i++) {
        cut_mode_table_set(&u, t.entries[i].flow, t.entries[i].msg_type, t.entries[i].mode);
    }
    assert_true(cut_mode_table_equal(&t, &u));
    u.has_default = true;
    assert_false(cut_mode_table_equal(&t, &u));
    cut_mode_table_fini(&t);
    cut_mode_table_fini(&u);
}

/* ---- guarded promotion ---------------------------------------------------- */

/* allowed[from][to] without --force, when the consistency is good enough. */
static const int allowed_good[4][4] = {
    /*         J  DJ DK K */
    /* J  */ {1, 1, 0, 0},
    /* DJ */ {1, 1, 1, 0},
    /* DK */ {1, 1, 1, 1},
    /* K  */ {1, 1, 1, 1},
};
/* ... when it is too low or unknown: DK -> K is refused as well. */
static const int allowed_bad[4][4] = {
    /*         J  DJ DK K */
    /* J  */ {1, 1, 0, 0},
    /* DJ */ {1, 1, 1, 0},
    /* DK */ {1, 1, 1, 0},
    /* K  */ {1, 1, 1, 1},
};

static void check_pairs(const int allowed[4][4], double consistency, bool have)
{
    for (int from = 0; from < 4; from++) {
        for (int to = 0; to < 4; to++) {
            char why[256];
            int rc = cut_mode_check_change((enum cut_mode)from, (enum cut_mode)to, consistency,
                                           have, 0.99, false, why, sizeof(why));
            if (allowed[from][to]) {
                assert_int_equal(rc, CUT_OK);
                assert_string_equal(why, "");
            } else {
                assert_int_equal(rc, CUT_EINVAL);
                assert_true(strlen(why) > 0);
                if (to > from + 1) {
                    assert_non_null(strstr(why, "skips"));
                }
                if (to == K && (!have || consistency < 0.99)) {
                    assert_non_null(strstr(why, "consistency"));
                }
            }
            /* --force lets everything through, and says what it overrode. */
            rc = cut_mode_check_change((enum cut_mode)from, (enum cut_mode)to, consistency, have,
                                       0.99, true, why, sizeof(why));
            assert_int_equal(rc, CUT_OK);
            if (allowed[from][to]) {
                assert_string_equal(why, "");
            } else {
                assert_memory_equal(why, "forced: ", 8);
            }
        }
    }
}

static void test_promotion_every_pair_with_good_consistency(void **state)
{
    (void)state;
    check_pairs(allowed_good, 0.995, true);
    check_pairs(allowed_good, 0.99, true); /* the threshold itself is enough */
}

static void test_promotion_every_pair_with_low_consistency(void **state)
{
    (void)state;
    check_pairs(allowed_bad, 0.98, true);
}

static void test_promotion_every_pair_with_unknown_consistency(void **state)
{
    (void)state;
    check_pairs(allowed_bad, 1.0, false);
    check_pairs(allowed_bad, NAN, true);
}

static void test_refusal_of_skip_into_kafka_only_gives_both_reasons(void **state)
{
    (void)state;
    char why[256];
    assert_int_equal(cut_mode_check_change(DJ, K, 0.5, true, 0.99, false, why, sizeof(why)),
                     CUT_EINVAL);
    assert_non_null(strstr(why, "skips DUAL_WRITE_KAFKA_PRIMARY"));
    assert_non_null(strstr(why, "0.5000"));
    /* why may be NULL. */
    assert_int_equal(cut_mode_check_change(J, K, 0, false, 0.99, false, NULL, 0), CUT_EINVAL);
}

/* ---- the ack rule --------------------------------------------------------- */

enum { W = CUT_ACK_WAIT, A = CUT_ACK_ACCEPT, R = CUT_ACK_RETRY, D = CUT_ACK_DEAD_LETTER };

/* [legacy][kafka], in the order of enum cut_side_result:
 * pending, confirmed, failed-transient, failed-permanent, recorded, not-required. */
static const int ack_table[4][CUT_RES_COUNT][CUT_RES_COUNT] = {
    [CUT_MODE_JMS_ONLY] = {
        /*           P  C  FT FP R  N  (kafka) */
        /* P  */ {W, W, W, W, W, W},
        /* C  */ {W, A, A, A, A, A},
        /* FT */ {W, R, R, R, R, R},
        /* FP */ {W, D, D, D, D, D},
        /* R  */ {W, R, R, R, R, R},
        /* N  */ {W, R, R, R, R, R},
    },
    [CUT_MODE_DUAL_JMS_PRIMARY] = {
        /* P  */ {W, W, W, W, W, W},
        /* C  */ {W, A, W, W, A, A},
        /* FT */ {W, R, R, R, R, R},
        /* FP */ {W, D, D, D, D, D},
        /* R  */ {W, R, R, R, R, R},
        /* N  */ {W, R, R, R, R, R},
    },
    [CUT_MODE_DUAL_KAFKA_PRIMARY] = {
        /* P  */ {W, W, W, W, W, W},
        /* C  */ {W, A, R, D, R, R},
        /* FT */ {W, W, R, D, R, R},
        /* FP */ {W, W, R, D, R, R},
        /* R  */ {W, A, R, D, R, R},
        /* N  */ {W, A, R, D, R, R},
    },
    [CUT_MODE_KAFKA_ONLY] = {
        /* P  */ {W, W, W, W, W, W},
        /* C  */ {W, A, R, D, R, R},
        /* FT */ {W, A, R, D, R, R},
        /* FP */ {W, A, R, D, R, R},
        /* R  */ {W, A, R, D, R, R},
        /* N  */ {W, A, R, D, R, R},
    },
};

static void test_ack_rule_every_mode_and_every_pair_of_results(void **state)
{
    (void)state;
    for (int m = 0; m < CUT_MODE_COUNT; m++) {
        for (int l = 0; l < CUT_RES_COUNT; l++) {
            for (int k = 0; k < CUT_RES_COUNT; k++) {
                enum cut_ack got = cut_mode_ack((enum cut_mode)m, (enum cut_side_result)l,
                                                (enum cut_side_result)k);
                if ((int)got != ack_table[m][l][k]) {
                    fail_msg("%s legacy=%s kafka=%s: got %s, want %s",
                             cut_mode_name((enum cut_mode)m),
                             cut_side_result_name((enum cut_side_result)l),
                             cut_side_result_name((enum cut_side_result)k), cut_ack_name(got),
                             cut_ack_name((enum cut_ack)ack_table[m][l][k]));
                }
            }
        }
    }
}

/* The zero-loss promise in one property: ACCEPT only when the primary
 * confirmed, and in dual-write only when the secondary confirmed or its
 * failure is on disk (or it was not required). */
static void test_ack_never_accepts_without_what_the_mode_requires(void **state)
{
    (void)state;
    for (int m = 0; m < CUT_MODE_COUNT; m++) {
        bool dual = m == DJ || m == DK;
        for (int l = 0; l < CUT_RES_COUNT; l++) {
            for (int k = 0; k < CUT_RES_COUNT; k++) {
                if (cut_mode_ack((enum cut_mode)m, (enum cut_side_result)l,
                                 (enum cut_side_result)k) != CUT_ACK_ACCEPT) {
                    continue;
                }
                int primary = cut_mode_primary((enum cut_mode)m) == CUT_SIDE_LEGACY ? l : k;
                int secondary = cut_mode_primary((enum cut_mode)m) == CUT_SIDE_LEGACY ? k : l;
                assert_int_equal(primary, CUT_RES_CONFIRMED);
                if (dual) {
                    assert_true(secondary == CUT_RES_CONFIRMED || secondary == CUT_RES_RECORDED ||
                                secondary == CUT_RES_NOT_REQUIRED);
                }
                assert_true(l != CUT_RES_PENDING && k != CUT_RES_PENDING);
            }
        }
    }
    assert_string_equal(cut_ack_name(CUT_ACK_DEAD_LETTER), "DEAD_LETTER");
    assert_string_equal(cut_side_result_name(CUT_RES_RECORDED), "recorded");
}

/* ---- the board ------------------------------------------------------------ */

static void test_board_keeps_an_old_table_alive_until_released(void **state)
{
    (void)state;
    struct cut_mode_board *board;
    struct cut_mode_table t;
    uint64_t gen0, gen1, gen2;

    assert_int_equal(cut_mode_board_create(&board), CUT_OK);
    const struct cut_mode_table *first = cut_mode_board_acquire(board, &gen0);
    assert_int_equal(cut_mode_resolve(first, "orders", NULL), J);
    assert_int_equal(cut_mode_board_generation(board), gen0);

    cut_mode_table_init(&t);
    cut_mode_table_set(&t, "orders", NULL, DJ);
    assert_int_equal(cut_mode_board_publish(board, &t), CUT_OK);
    assert_int_equal(t.n, 0); /* taken */
    gen1 = cut_mode_board_generation(board);
    assert_true(gen1 > gen0);

    /* The flow still holding the first table resolves against it. */
    assert_int_equal(cut_mode_resolve(first, "orders", NULL), J);
    const struct cut_mode_table *second = cut_mode_board_acquire(board, &gen2);
    assert_int_equal(gen2, gen1);
    assert_int_equal(cut_mode_resolve(second, "orders", NULL), DJ);
    cut_mode_board_release(board, first);
    cut_mode_board_release(board, second);
    cut_mode_board_release(board, NULL);
    cut_mode_board_destroy(board);
    cut_mode_board_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mode_names_print_and_parse_exactly),
        cmocka_unit_test(test_status_and_side_names_round_trip),
        cmocka_unit_test(test_modes_write_to_the_sides_their_name_says),
        cmocka_unit_test(test_resolution_prefers_type_then_flow_then_default_then_jms_only),
        cmocka_unit_test(test_table_set_replaces_and_keeps_entries_sorted),
        cmocka_unit_test(test_promotion_every_pair_with_good_consistency),
        cmocka_unit_test(test_promotion_every_pair_with_low_consistency),
        cmocka_unit_test(test_promotion_every_pair_with_unknown_consistency),
        cmocka_unit_test(test_refusal_of_skip_into_kafka_only_gives_both_reasons),
        cmocka_unit_test(test_ack_rule_every_mode_and_every_pair_of_results),
        cmocka_unit_test(test_ack_never_accepts_without_what_the_mode_requires),
        cmocka_unit_test(test_board_keeps_an_old_table_alive_until_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
