/*
 * The publisher-confirm window of the AMQP 0-9-1 sink
 * (connectors/amqp091/confwin.c): what basic.ack, basic.nack and
 * basic.return mean for the unconfirmed publishes, including the orders
 * RabbitMQ really produces (coalesced multiple acks, a routed message
 * confirmed after a later unroutable one). Pure bookkeeping, no broker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "confwin.h"
#include "cutover/status.h"

#define MAX_EVENTS 8192

struct recorder {
    cut_token_t token[MAX_EVENTS];
    enum cut_confwin_outcome outcome[MAX_EVENTS];
    size_t n;
    struct cut_confwin *win; /* for callbacks that publish */
    int add_per_event;
    cut_token_t next_token;
};

static void record(void *opaque, cut_token_t token, enum cut_confwin_outcome outcome)
{
    struct recorder *r = opaque;
    assert_true(r->n < MAX_EVENTS);
    r->token[r->n] = token;
    r->outcome[r->n] = outcome;
    r->n++;
    for (int i = 0; i < r->add_per_event; i++) {
        uint64_t seq;
        assert_int_equal(cut_confwin_add(r->win, r->next_token++, 0, &seq), CUT_OK);
    }
}

/* Publish tokens 1..n with the given hashes (NULL: hash = token). */
static void publish(struct cut_confwin *win, size_t n, const uint64_t *hashes)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        uint64_t before = win->next;
        assert_int_equal(cut_confwin_add(win, before * 10, hashes ? hashes[i] : before, &seq),
                         CUT_OK);
        assert_int_equal(seq, before);
    }
}

static void expect(const struct recorder *r, size_t i, cut_token_t token,
                   enum cut_confwin_outcome outcome)
{
    assert_true(i < r->n);
    assert_int_equal(r->token[i], token);
    assert_int_equal(r->outcome[i], outcome);
}

static void test_sequence_numbers_start_at_one_and_a_multiple_ack_covers_up_to_its_tag(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);

    publish(&win, 5, NULL);
    assert_int_equal(cut_confwin_pending(&win), 5);
    assert_int_equal(cut_confwin_ack(&win, 3, true, false, record, &r), CUT_OK);
    assert_int_equal(r.n, 3);
    expect(&r, 0, 10, CUT_CONFWIN_CONFIRMED);
    expect(&r, 2, 30, CUT_CONFWIN_CONFIRMED);
    assert_int_equal(cut_confwin_pending(&win), 2);
    /* A multiple ack over what is already confirmed reports only the rest. */
    assert_int_equal(cut_confwin_ack(&win, 5, true, false, record, &r), CUT_OK);
    assert_int_equal(r.n, 5);
    expect(&r, 3, 40, CUT_CONFWIN_CONFIRMED);
    expect(&r, 4, 50, CUT_CONFWIN_CONFIRMED);
    assert_int_equal(cut_confwin_pending(&win), 0);
    cut_confwin_fini(&win);
}

static void test_single_acks_out_of_order_are_each_reported_once(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);

    publish(&win, 4, NULL);
    assert_int_equal(cut_confwin_ack(&win, 3, false, false, record, &r), CUT_OK);
    assert_int_equal(cut_confwin_ack(&win, 3, false, false, record, &r), CUT_OK); /* repeated */
    assert_int_equal(cut_confwin_ack(&win, 4, true, false, record, &r), CUT_OK);
    assert_int_equal(r.n, 4);
    expect(&r, 0, 30, CUT_CONFWIN_CONFIRMED);
    expect(&r, 1, 10, CUT_CONFWIN_CONFIRMED);
    expect(&r, 2, 20, CUT_CONFWIN_CONFIRMED);
    expect(&r, 3, 40, CUT_CONFWIN_CONFIRMED);
    cut_confwin_fini(&win);
}

static void test_a_nack_reports_every_covered_publish_as_nacked(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);

    publish(&win, 3, NULL);
    assert_int_equal(cut_confwin_ack(&win, 2, true, true, record, &r), CUT_OK);
    assert_int_equal(cut_confwin_ack(&win, 3, false, false, record, &r), CUT_OK);
    expect(&r, 0, 10, CUT_CONFWIN_NACKED);
    expect(&r, 1, 20, CUT_CONFWIN_NACKED);
    expect(&r, 2, 30, CUT_CONFWIN_CONFIRMED);
    cut_confwin_fini(&win);
}

static void test_a_return_marks_the_matching_publish_not_the_lowest_unconfirmed(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);

    /* 1 is routed to a durable queue and waits for the disk; 2 is unroutable:
     * RabbitMQ sends return(2), ack(2), and only later ack(1). */
    publish(&win, 2, NULL);
    assert_int_equal(cut_confwin_return(&win, 2), 1);
    assert_int_equal(cut_confwin_ack(&win, 2, false, false, record, &r), CUT_OK);
    assert_int_equal(cut_confwin_ack(&win, 1, false, false, record, &r), CUT_OK);
    expect(&r, 0, 20, CUT_CONFWIN_RETURNED);
    expect(&r, 1, 10, CUT_CONFWIN_CONFIRMED);
    cut_confwin_fini(&win);
}

static void test_returns_before_a_coalesced_multiple_ack_mark_only_their_publishes(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);

    publish(&win, 5, NULL);
    assert_int_equal(cut_confwin_return(&win, 3), 1);
    assert_int_equal(cut_confwin_return(&win, 5), 1);
    assert_int_equal(cut_confwin_ack(&win, 5, true, false, record, &r), CUT_OK);
    assert_int_equal(r.n, 5);
    expect(&r, 0, 10, CUT_CONFWIN_CONFIRMED);
    expect(&r, 1, 20, CUT_CONFWIN_CONFIRMED);
    expect(&r, 2, 30, CUT_CONFWIN_RETURNED);
    expect(&r, 3, 40, CUT_CONFWIN_CONFIRMED);
    expect(&r, 4, 50, CUT_CONFWIN_RETURNED);
    cut_confwin_fini(&win);
}

static void test_a_return_never_matches_below_what_acks_already_covered(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    static const uint64_t same[] = {7, 8, 7};
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);

    /* 1 and 3 are identical; ack(2) arrived before the return, so the
     * return is for a publish after 2: publish 3, not 1. */
    publish(&win, 3, same);
    assert_int_equal(cut_confwin_ack(&win, 2, false, false, record, &r), CUT_OK);
    assert_int_equal(cut_confwin_return(&win, 7), 1);
    assert_int_equal(cut_confwin_ack(&win, 3, false, false, record, &r), CUT_OK);
    assert_int_equal(cut_confwin_ack(&win, 1, false, false, record, &r), CUT_OK);
    expect(&r, 0, 20, CUT_CONFWIN_CONFIRMED);
    expect(&r, 1, 30, CUT_CONFWIN_RETURNED);
    expect(&r, 2, 10, CUT_CONFWIN_CONFIRMED);
    cut_confwin_fini(&win);
}

static void test_identical_pending_publishes_are_all_marked_rather_than_guessed(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    static const uint64_t same[] = {7, 7, 9};
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);

    publish(&win, 3, same);
    /* Cannot tell 1 from 2: both are retried (a duplicate, never a loss). */
    assert_int_equal(cut_confwin_return(&win, 7), 2);
    assert_int_equal(cut_confwin_ack(&win, 3, true, false, record, &r), CUT_OK);
    expect(&r, 0, 10, CUT_CONFWIN_RETURNED);
    expect(&r, 1, 20, CUT_CONFWIN_RETURNED);
    expect(&r, 2, 30, CUT_CONFWIN_CONFIRMED);
    cut_confwin_fini(&win);
}

static void test_successive_returns_only_look_after_the_previous_one(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    static const uint64_t hashes[] = {7, 9, 7};
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);

    publish(&win, 3, hashes);
    assert_int_equal(cut_confwin_return(&win, 9), 1); /* publish 2 */
    /* The next return comes from a publish after 2: so 3, not 1. */
    assert_int_equal(cut_confwin_return(&win, 7), 1);
    assert_int_equal(cut_confwin_ack(&win, 3, true, false, record, &r), CUT_OK);
    expect(&r, 0, 10, CUT_CONFWIN_CONFIRMED);
    expect(&r, 1, 20, CUT_CONFWIN_RETURNED);
    expect(&r, 2, 30, CUT_CONFWIN_RETURNED);
    cut_confwin_fini(&win);
}

static void test_an_unmatched_return_fails_safe_on_every_candidate(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);

    publish(&win, 4, NULL);
    assert_int_equal(cut_confwin_ack(&win, 1, false, false, record, &r), CUT_OK);
    assert_int_equal(cut_confwin_return(&win, 12345), 0);
    assert_int_equal(cut_confwin_ack(&win, 4, true, false, record, &r), CUT_OK);
    expect(&r, 0, 10, CUT_CONFWIN_CONFIRMED);
    expect(&r, 1, 20, CUT_CONFWIN_RETURNED);
    expect(&r, 2, 30, CUT_CONFWIN_RETURNED);
    expect(&r, 3, 40, CUT_CONFWIN_RETURNED);
    cut_confwin_fini(&win);
}

static void test_an_ack_for_a_tag_never_published_is_a_protocol_error(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);

    publish(&win, 2, NULL);
    assert_int_equal(cut_confwin_ack(&win, 0, true, false, record, &r), CUT_EINVAL);
    assert_int_equal(cut_confwin_ack(&win, 3, false, false, record, &r), CUT_EINVAL);
    assert_int_equal(r.n, 0);
    assert_int_equal(cut_confwin_pending(&win), 2);
    cut_confwin_fini(&win);
}

static void test_a_lost_channel_reports_every_pending_publish_once(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);

    publish(&win, 5, NULL);
    assert_int_equal(cut_confwin_return(&win, 4), 1);
    assert_int_equal(cut_confwin_ack(&win, 2, false, false, record, &r), CUT_OK);
    cut_confwin_fail_all(&win, record, &r);
    assert_int_equal(r.n, 5);
    expect(&r, 0, 20, CUT_CONFWIN_CONFIRMED);
    expect(&r, 1, 10, CUT_CONFWIN_LOST);
    expect(&r, 2, 30, CUT_CONFWIN_LOST);
    expect(&r, 3, 40, CUT_CONFWIN_LOST);
    expect(&r, 4, 50, CUT_CONFWIN_LOST);
    assert_int_equal(cut_confwin_pending(&win), 0);
    cut_confwin_fail_all(&win, record, &r); /* nothing twice */
    assert_int_equal(r.n, 5);

    /* The new channel numbers from 1 again; stale state is gone. */
    cut_confwin_reset(&win);
    uint64_t seq;
    assert_int_equal(cut_confwin_add(&win, 99, 4, &seq), CUT_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(cut_confwin_ack(&win, 1, false, false, record, &r), CUT_OK);
    expect(&r, 5, 99, CUT_CONFWIN_CONFIRMED);
    cut_confwin_fini(&win);
}

static void test_callbacks_may_publish_and_grow_the_ring_while_acks_are_served(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);
    r.win = &win;
    r.add_per_event = 2;
    r.next_token = 1000;

    publish(&win, 16, NULL); /* the ring (16) is full */
    assert_int_equal(cut_confwin_ack(&win, 16, true, false, record, &r), CUT_OK);
    assert_int_equal(r.n, 16);
    for (size_t i = 0; i < 16; i++) {
        expect(&r, i, (i + 1) * 10, CUT_CONFWIN_CONFIRMED);
    }
    assert_int_equal(cut_confwin_pending(&win), 32);
    r.add_per_event = 0;
    assert_int_equal(cut_confwin_ack(&win, 48, true, false, record, &r), CUT_OK);
    assert_int_equal(r.n, 48);
    for (size_t i = 16; i < 48; i++) {
        expect(&r, i, 1000 + (i - 16), CUT_CONFWIN_CONFIRMED);
    }
    cut_confwin_fini(&win);
}

static void test_one_slow_publish_does_not_stop_the_others(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    assert_int_equal(cut_confwin_init(&win, 16), CUT_OK);

    publish(&win, 1, NULL);
    for (uint64_t seq = 2; seq < 5000; seq++) {
        publish(&win, 1, NULL);
        assert_int_equal(cut_confwin_ack(&win, seq, false, false, record, &r), CUT_OK);
    }
    assert_int_equal(cut_confwin_pending(&win), 1);
    assert_int_equal(cut_confwin_ack(&win, 1, false, false, record, &r), CUT_OK);
    assert_int_equal(r.n, 4999);
    expect(&r, 4998, 10, CUT_CONFWIN_CONFIRMED);
    assert_int_equal(win.low, win.next);
    cut_confwin_fini(&win);
}

static void test_a_publish_that_could_not_be_sent_is_taken_back_unreported(void **state)
{
    (void)state;
    struct cut_confwin win;
    struct recorder r = {0};
    uint64_t seq;
    assert_int_equal(cut_confwin_init(&win, 4), CUT_OK);

    publish(&win, 1, NULL);
    assert_int_equal(cut_confwin_add(&win, 77, 0, &seq), CUT_OK);
    cut_confwin_unadd(&win, seq);
    assert_int_equal(cut_confwin_pending(&win), 1);
    cut_confwin_fail_all(&win, record, &r);
    assert_int_equal(r.n, 1);
    expect(&r, 0, 10, CUT_CONFWIN_LOST);
    cut_confwin_fini(&win);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_sequence_numbers_start_at_one_and_a_multiple_ack_covers_up_to_its_tag),
        cmocka_unit_test(test_single_acks_out_of_order_are_each_reported_once),
        cmocka_unit_test(test_a_nack_reports_every_covered_publish_as_nacked),
        cmocka_unit_test(test_a_return_marks_the_matching_publish_not_the_lowest_unconfirmed),
        cmocka_unit_test(test_returns_before_a_coalesced_multiple_ack_mark_only_their_publishes),
        cmocka_unit_test(test_a_return_never_matches_below_what_acks_already_covered),
        cmocka_unit_test(test_identical_pending_publishes_are_all_marked_rather_than_guessed),
        cmocka_unit_test(test_successive_returns_only_look_after_the_previous_one),
        cmocka_unit_test(test_an_unmatched_return_fails_safe_on_every_candidate),
        cmocka_unit_test(test_an_ack_for_a_tag_never_published_is_a_protocol_error),
        cmocka_unit_test(test_a_lost_channel_reports_every_pending_publish_once),
        cmocka_unit_test(test_callbacks_may_publish_and_grow_the_ring_while_acks_are_served),
        cmocka_unit_test(test_one_slow_publish_does_not_stop_the_others),
        cmocka_unit_test(test_a_publish_that_could_not_be_sent_is_taken_back_unreported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
