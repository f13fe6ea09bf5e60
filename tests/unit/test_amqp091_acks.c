/*
 * The AMQP 0-9-1 source's acknowledgement window (connectors/amqp091/ackwin.c):
 * which basic.ack / basic.nack frames go out for a sequence of deliveries and
 * settlements, without a broker. The last test drives random sequences
 * against a model of RabbitMQ's channel that fails the way the broker would
 * (406 on an unknown tag) and also catches what the broker would not notice:
 * a multiple-ack that swallows a delivery the flow has not accepted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ackwin.h"
#include "cutover/status.h"

#define MAX_OPS 4096

struct recorder {
    struct cut_ackwin_op ops[MAX_OPS];
    size_t n;
    size_t fail_at; /* emit fails when n reaches this (0 = never) */
};

static int record(void *opaque, const struct cut_ackwin_op *op)
{
    struct recorder *rec = opaque;
    if (rec->fail_at != 0 && rec->n + 1 == rec->fail_at) {
        return CUT_EFATAL;
    }
    assert_true(rec->n < MAX_OPS);
    rec->ops[rec->n++] = *op;
    return CUT_OK;
}

static void assert_op(const struct recorder *rec, size_t i, uint64_t tag, bool ack, bool multiple,
                      bool requeue)
{
    assert_true(i < rec->n);
    assert_int_equal(rec->ops[i].tag, tag);
    assert_int_equal(rec->ops[i].ack, ack);
    assert_int_equal(rec->ops[i].multiple, multiple);
    if (!ack) {
        assert_int_equal(rec->ops[i].requeue, requeue);
    }
}

/* Deliver tags 1..n and return their tokens in tok[1..n]. */
static void deliver(struct cut_ackwin *win, cut_token_t *tok, uint64_t n)
{
    for (uint64_t tag = win->next; tag <= n; tag++) {
        assert_int_equal(cut_ackwin_deliver(win, tag, &tok[tag]), CUT_OK);
    }
}

static void settle(struct cut_ackwin *win, cut_token_t token, enum cut_outcome outcome, int64_t now)
{
    assert_int_equal(cut_ackwin_settle(win, token, outcome, now), CUT_ACKWIN_SETTLED);
}

static void test_in_order_accepts_batch_into_one_multiple_ack(void **state)
{
    (void)state;
    struct cut_ackwin win;
    struct recorder rec = {0};
    cut_token_t tok[16];

    assert_int_equal(cut_ackwin_init(&win, 16, 4, 1000, 0), CUT_OK);
    deliver(&win, tok, 6);
    for (int tag = 1; tag <= 3; tag++) {
        settle(&win, tok[tag], CUT_OUTCOME_ACCEPT, 0);
    }
    assert_false(cut_ackwin_due(&win, 10));
    assert_int_equal(cut_ackwin_collect(&win, 10, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 0);

    settle(&win, tok[4], CUT_OUTCOME_ACCEPT, 10);
    assert_true(cut_ackwin_due(&win, 10));
    assert_int_equal(cut_ackwin_collect(&win, 10, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 1);
    assert_op(&rec, 0, 4, true, true, false);
    assert_int_equal(cut_ackwin_unsent(&win), 0);
    assert_int_equal(cut_ackwin_in_flight(&win), 2);
    cut_ackwin_fini(&win);
}

static void test_interval_sends_a_short_run(void **state)
{
    (void)state;
    struct cut_ackwin win;
    struct recorder rec = {0};
    cut_token_t tok[16];

    assert_int_equal(cut_ackwin_init(&win, 16, 100, 50, 0), CUT_OK);
    deliver(&win, tok, 3);
    settle(&win, tok[1], CUT_OUTCOME_ACCEPT, 1000);
    settle(&win, tok[2], CUT_OUTCOME_ACCEPT, 1020);
    assert_false(cut_ackwin_due(&win, 1049));
    assert_true(cut_ackwin_due(&win, 1050));
    assert_int_equal(cut_ackwin_collect(&win, 1049, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 0);
    assert_int_equal(cut_ackwin_collect(&win, 1050, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 1);
    assert_op(&rec, 0, 2, true, true, false);
    assert_false(cut_ackwin_due(&win, 5000));
    cut_ackwin_fini(&win);
}

static void test_out_of_order_completion_acks_only_the_contiguous_prefix(void **state)
{
    (void)state;
    struct cut_ackwin win;
    struct recorder rec = {0};
    cut_token_t tok[16];

    assert_int_equal(cut_ackwin_init(&win, 16, 1, 0, 0), CUT_OK);
    deliver(&win, tok, 5);
    settle(&win, tok[2], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[3], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[5], CUT_OUTCOME_ACCEPT, 0);
    /* Tag 1 is still in flight: nothing may be acked, however long we wait. */
    assert_false(cut_ackwin_due(&win, 100000));
    assert_int_equal(cut_ackwin_collect(&win, 100000, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 0);

    settle(&win, tok[1], CUT_OUTCOME_ACCEPT, 0);
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 1);
    assert_op(&rec, 0, 3, true, true, false); /* 4 is in flight: 5 waits */

    settle(&win, tok[4], CUT_OUTCOME_ACCEPT, 0);
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 2);
    assert_op(&rec, 1, 5, true, true, false);
    cut_ackwin_fini(&win);
}

static void test_nack_in_the_middle_splits_the_multiple_ack(void **state)
{
    (void)state;
    struct cut_ackwin win;
    struct recorder rec = {0};
    cut_token_t tok[16];

    assert_int_equal(cut_ackwin_init(&win, 16, 100, 1000, 0), CUT_OK);
    deliver(&win, tok, 6);
    settle(&win, tok[1], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[2], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[4], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[5], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[6], CUT_OUTCOME_REJECT, 0);
    settle(&win, tok[3], CUT_OUTCOME_RETRY, 0);
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 4);
    assert_op(&rec, 0, 2, true, true, false);
    assert_op(&rec, 1, 3, false, false, true);
    assert_op(&rec, 2, 5, true, true, false);
    assert_op(&rec, 3, 6, false, false, false);
    assert_int_equal(cut_ackwin_unsent(&win), 0);
    cut_ackwin_fini(&win);
}

static void test_nack_above_a_slow_delivery_goes_out_at_once_and_is_never_reacked(void **state)
{
    (void)state;
    struct cut_ackwin win;
    struct recorder rec = {0};
    cut_token_t tok[16];

    assert_int_equal(cut_ackwin_init(&win, 16, 100, 1000, 0), CUT_OK);
    deliver(&win, tok, 5);
    settle(&win, tok[3], CUT_OUTCOME_RETRY, 0);
    assert_true(cut_ackwin_due(&win, 0));
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 1);
    assert_op(&rec, 0, 3, false, false, true);

    settle(&win, tok[4], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[1], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[2], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[5], CUT_OUTCOME_ACCEPT, 0);
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_ALL, record, &rec), CUT_OK);
    /* Two runs, split at the tag that was nacked on its own. */
    assert_int_equal(rec.n, 3);
    assert_op(&rec, 1, 2, true, true, false);
    assert_op(&rec, 2, 5, true, true, false);
    cut_ackwin_fini(&win);
}

static void test_tokens_of_an_old_epoch_are_ignored(void **state)
{
    (void)state;
    struct cut_ackwin win;
    struct recorder rec = {0};
    cut_token_t old[16];
    cut_token_t tok[16];

    assert_int_equal(cut_ackwin_init(&win, 16, 1, 0, 0), CUT_OK);
    deliver(&win, old, 3);
    cut_ackwin_reset(&win); /* the channel died */
    deliver(&win, tok, 3);  /* the new channel reuses tags 1..3 */
    assert_int_not_equal(old[1], tok[1]);
    assert_int_equal(cut_ackwin_settle(&win, old[1], CUT_OUTCOME_ACCEPT, 0), CUT_ACKWIN_STALE);
    assert_int_equal(cut_ackwin_settle(&win, old[2], CUT_OUTCOME_RETRY, 0), CUT_ACKWIN_STALE);
    assert_false(cut_ackwin_due(&win, 1000));
    assert_int_equal(cut_ackwin_collect(&win, 1000, CUT_ACKWIN_ALL, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 0);
    assert_int_equal(cut_ackwin_in_flight(&win), 3);
    assert_int_equal(cut_ackwin_settle(&win, 0, CUT_OUTCOME_ACCEPT, 0), CUT_ACKWIN_STALE);
    cut_ackwin_fini(&win);
}

static void test_settling_twice_or_an_unknown_tag_is_refused(void **state)
{
    (void)state;
    struct cut_ackwin win;
    struct recorder rec = {0};
    cut_token_t tok[16];

    assert_int_equal(cut_ackwin_init(&win, 16, 1, 0, 0), CUT_OK);
    deliver(&win, tok, 2);
    settle(&win, tok[1], CUT_OUTCOME_ACCEPT, 0);
    assert_int_equal(cut_ackwin_settle(&win, tok[1], CUT_OUTCOME_REJECT, 0), CUT_ACKWIN_UNKNOWN);
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(cut_ackwin_settle(&win, tok[1], CUT_OUTCOME_ACCEPT, 0), CUT_ACKWIN_UNKNOWN);
    assert_int_equal(cut_ackwin_settle(&win, tok[2] + 5, CUT_OUTCOME_ACCEPT, 0),
                     CUT_ACKWIN_UNKNOWN);
    assert_int_equal(rec.n, 1);
    assert_op(&rec, 0, 1, true, true, false);
    cut_ackwin_fini(&win);
}

static void test_deliveries_out_of_sequence_are_a_protocol_error(void **state)
{
    (void)state;
    struct cut_ackwin win;
    cut_token_t token;

    assert_int_equal(cut_ackwin_init(&win, 16, 1, 0, 0), CUT_OK);
    assert_int_equal(cut_ackwin_deliver(&win, 2, &token), CUT_EINVAL);
    assert_int_equal(cut_ackwin_deliver(&win, 1, &token), CUT_OK);
    assert_int_equal(cut_ackwin_deliver(&win, 1, &token), CUT_EINVAL);
    assert_int_equal(cut_ackwin_deliver(&win, CUT_ACKWIN_TAG_MAX + 1, &token), CUT_EINVAL);
    cut_ackwin_fini(&win);
}

static void test_relief_acks_singly_behind_a_stuck_delivery(void **state)
{
    (void)state;
    struct cut_ackwin win;
    struct recorder rec = {0};
    cut_token_t tok[16];

    assert_int_equal(cut_ackwin_init(&win, 16, 100, 1000, 3), CUT_OK);
    deliver(&win, tok, 6);
    settle(&win, tok[2], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[3], CUT_OUTCOME_ACCEPT, 0);
    assert_false(cut_ackwin_due(&win, 0));
    settle(&win, tok[5], CUT_OUTCOME_ACCEPT, 0);
    assert_true(cut_ackwin_due(&win, 0));
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 3);
    assert_op(&rec, 0, 2, true, false, false);
    assert_op(&rec, 1, 3, true, false, false);
    assert_op(&rec, 2, 5, true, false, false);

    settle(&win, tok[1], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[4], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[6], CUT_OUTCOME_ACCEPT, 0);
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_ALL, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 6);
    assert_op(&rec, 3, 1, true, true, false);
    assert_op(&rec, 4, 4, true, true, false);
    assert_op(&rec, 5, 6, true, true, false);
    cut_ackwin_fini(&win);
}

static void test_flush_ignores_thresholds_but_keeps_the_prefix_rule(void **state)
{
    (void)state;
    struct cut_ackwin win;
    struct recorder rec = {0};
    cut_token_t tok[16];

    assert_int_equal(cut_ackwin_init(&win, 16, 100, 100000, 0), CUT_OK);
    deliver(&win, tok, 5);
    settle(&win, tok[1], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[2], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[4], CUT_OUTCOME_ACCEPT, 0);
    assert_false(cut_ackwin_due(&win, 0));
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_FLUSH, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 1);
    assert_op(&rec, 0, 2, true, true, false);
    assert_int_equal(cut_ackwin_unsent(&win), 1); /* 4 waits for 3 */
    cut_ackwin_fini(&win);
}

static void test_collect_all_sends_everything_settled(void **state)
{
    (void)state;
    struct cut_ackwin win;
    struct recorder rec = {0};
    cut_token_t tok[16];

    assert_int_equal(cut_ackwin_init(&win, 16, 100, 100000, 0), CUT_OK);
    deliver(&win, tok, 4);
    settle(&win, tok[1], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[3], CUT_OUTCOME_ACCEPT, 0);
    assert_false(cut_ackwin_due(&win, 0));
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_ALL, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 2);
    assert_op(&rec, 0, 1, true, true, false);
    assert_op(&rec, 1, 3, true, false, false);
    assert_int_equal(cut_ackwin_unsent(&win), 0);
    assert_int_equal(cut_ackwin_in_flight(&win), 2);
    cut_ackwin_fini(&win);
}

static void test_failed_emit_keeps_the_rest_pending(void **state)
{
    (void)state;
    struct cut_ackwin win;
    struct recorder rec = {.fail_at = 2};
    cut_token_t tok[16];

    assert_int_equal(cut_ackwin_init(&win, 16, 1, 0, 0), CUT_OK);
    deliver(&win, tok, 3);
    settle(&win, tok[1], CUT_OUTCOME_ACCEPT, 0);
    settle(&win, tok[2], CUT_OUTCOME_RETRY, 0);
    settle(&win, tok[3], CUT_OUTCOME_ACCEPT, 0);
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_DUE, record, &rec), CUT_EFATAL);
    assert_int_equal(rec.n, 1);
    assert_op(&rec, 0, 1, true, true, false);
    rec.fail_at = 0;
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 3);
    assert_op(&rec, 1, 2, false, false, true);
    assert_op(&rec, 2, 3, true, true, false);
    cut_ackwin_fini(&win);
}

static void test_ring_grows_when_settled_tags_pile_up_above_a_slow_one(void **state)
{
    (void)state;
    struct cut_ackwin win;
    struct recorder rec = {0};
    static cut_token_t tok[200];

    /* Capacity 16, but 150 tags open at once: tag 1 never settles while the
     * rest are nacked (which frees them at the broker, not in the ring). */
    assert_int_equal(cut_ackwin_init(&win, 16, 1, 0, 0), CUT_OK);
    deliver(&win, tok, 1);
    for (uint64_t tag = 2; tag <= 150; tag++) {
        deliver(&win, tok, tag);
        settle(&win, tok[tag], CUT_OUTCOME_RETRY, 0);
        assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    }
    assert_int_equal(rec.n, 149);
    settle(&win, tok[1], CUT_OUTCOME_ACCEPT, 0);
    assert_int_equal(cut_ackwin_collect(&win, 0, CUT_ACKWIN_DUE, record, &rec), CUT_OK);
    assert_int_equal(rec.n, 150);
    assert_op(&rec, 149, 1, true, true, false);
    assert_int_equal(win.base, 151);
    cut_ackwin_fini(&win);
}

/* ---- randomised: a model of RabbitMQ's channel ---------------------------- */

enum broker_state { B_NONE, B_UNACKED, B_ACKED, B_REQUEUED, B_DROPPED };

struct model {
    uint8_t broker[2048];  /* per tag */
    uint8_t outcome[2048]; /* what the flow settled: 1 + enum cut_outcome, 0 = not yet */
};

static int model_emit(void *opaque, const struct cut_ackwin_op *op)
{
    struct model *m = opaque;
    /* The tag named must still be unacknowledged: RabbitMQ's 406 check. */
    assert_true(op->tag > 0 && op->tag < 2048);
    assert_int_equal(m->broker[op->tag], B_UNACKED);
    if (op->multiple) {
        /* The strict reading of "multiple": the range from the end of the
         * resolved prefix up to the tag holds no tag that a frame of its own
         * already resolved, so nothing is acknowledged twice. */
        uint64_t low = 1;
        while (low < op->tag && m->broker[low] != B_UNACKED) {
            low++;
        }
        for (uint64_t tag = low; tag <= op->tag; tag++) {
            assert_int_equal(m->broker[tag], B_UNACKED);
        }
    }
    uint64_t first = op->multiple ? 1 : op->tag;
    for (uint64_t tag = first; tag <= op->tag; tag++) {
        if (m->broker[tag] != B_UNACKED) {
            continue;
        }
        /* Every delivery this frame resolves must have been settled by the
         * flow, with the outcome the frame carries: else a message is lost
         * (acked unfinished) or wrongly requeued. */
        if (op->ack) {
            assert_int_equal(m->outcome[tag], 1 + CUT_OUTCOME_ACCEPT);
            m->broker[tag] = B_ACKED;
        } else {
            assert_false(op->multiple);
            assert_int_equal(m->outcome[tag],
                             1 + (op->requeue ? CUT_OUTCOME_RETRY : CUT_OUTCOME_REJECT));
            m->broker[tag] = op->requeue ? B_REQUEUED : B_DROPPED;
        }
    }
    return CUT_OK;
}

static enum cut_ackwin_mode random_mode(void)
{
    int r = rand() % 100;
    return r < 2 ? CUT_ACKWIN_ALL : r < 10 ? CUT_ACKWIN_FLUSH : CUT_ACKWIN_DUE;
}

static void test_random_sequences_never_lose_or_double_settle(void **state)
{
    (void)state;
    srand(12345);
    for (int round = 0; round < 300; round++) {
        struct cut_ackwin win;
        static struct model m;
        static cut_token_t tok[2048];
        uint64_t open[2048];
        size_t n_open = 0;
        uint64_t delivered = 0;
        size_t prefetch = 1 + (size_t)(rand() % 64);
        int64_t now = 0;

        memset(&m, 0, sizeof(m));
        assert_int_equal(cut_ackwin_init(&win, prefetch, 1 + (size_t)(rand() % 16), rand() % 20,
                                         (size_t)(rand() % 3) * prefetch / 2),
                         CUT_OK);
        while (delivered < 1500 || n_open > 0) {
            now += rand() % 5;
            /* The broker delivers while fewer than prefetch are unacked. */
            size_t unacked = 0;
            for (uint64_t tag = 1; tag <= delivered; tag++) {
                unacked += m.broker[tag] == B_UNACKED;
            }
            if (delivered < 1500 && unacked < prefetch && rand() % 2) {
                delivered++;
                assert_int_equal(cut_ackwin_deliver(&win, delivered, &tok[delivered]), CUT_OK);
                m.broker[delivered] = B_UNACKED;
                open[n_open++] = delivered;
            } else if (n_open > 0) {
                size_t i = (size_t)rand() % n_open;
                uint64_t tag = open[i];
                open[i] = open[--n_open];
                int r = rand() % 10;
                enum cut_outcome outcome = r < 7   ? CUT_OUTCOME_ACCEPT
                                           : r < 9 ? CUT_OUTCOME_RETRY
                                                   : CUT_OUTCOME_REJECT;
                m.outcome[tag] = (uint8_t)(1 + outcome);
                settle(&win, tok[tag], outcome, now);
            }
            assert_int_equal(cut_ackwin_collect(&win, now, random_mode(), model_emit, &m), CUT_OK);
        }
        assert_int_equal(cut_ackwin_collect(&win, now, CUT_ACKWIN_ALL, model_emit, &m), CUT_OK);
        for (uint64_t tag = 1; tag <= delivered; tag++) {
            assert_int_not_equal(m.broker[tag], B_UNACKED);
        }
        assert_int_equal(cut_ackwin_unsent(&win), 0);
        assert_int_equal(cut_ackwin_in_flight(&win), 0);
        cut_ackwin_fini(&win);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_accepts_batch_into_one_multiple_ack),
        cmocka_unit_test(test_interval_sends_a_short_run),
        cmocka_unit_test(test_out_of_order_completion_acks_only_the_contiguous_prefix),
        cmocka_unit_test(test_nack_in_the_middle_splits_the_multiple_ack),
        cmocka_unit_test(test_nack_above_a_slow_delivery_goes_out_at_once_and_is_never_reacked),
        cmocka_unit_test(test_tokens_of_an_old_epoch_are_ignored),
        cmocka_unit_test(test_settling_twice_or_an_unknown_tag_is_refused),
        cmocka_unit_test(test_deliveries_out_of_sequence_are_a_protocol_error),
        cmocka_unit_test(test_relief_acks_singly_behind_a_stuck_delivery),
        cmocka_unit_test(test_flush_ignores_thresholds_but_keeps_the_prefix_rule),
        cmocka_unit_test(test_collect_all_sends_everything_settled),
        cmocka_unit_test(test_failed_emit_keeps_the_rest_pending),
        cmocka_unit_test(test_ring_grows_when_settled_tags_pile_up_above_a_slow_one),
        cmocka_unit_test(test_random_sequences_never_lose_or_double_settle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
