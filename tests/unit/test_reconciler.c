/*
 * The reconciler (bridge/reconciler.c) and the read-back matching
 * (bridge/readback.c): every ratio and threshold on hand-computed windows,
 * empty and tiny ones included; window spans; then whole passes on a real
 * store with an injected clock: a failing Kafka side rolled back in one pass
 * with its figures in the audit and the webhook, a quiet flow left alone,
 * consistency that only alerts, a completed flow never rolled back, and a
 * rollback that survives a crash in the middle of its transaction.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "readback.h"
#include "reconciler.h"
#include "store_int.h"
#include "tracking.h"

/* ---- windows by hand ------------------------------------------------------- */

static struct cut_tracking_row row(uint64_t seen, uint64_t dual, uint64_t cl, uint64_t ck,
                                   uint64_t both, uint64_t fl, uint64_t fk)
{
    struct cut_tracking_row r = {.flow = "orders"};
    r.counts[CUT_TRACK_SEEN] = seen;
    r.counts[CUT_TRACK_DUAL] = dual;
    r.counts[CUT_TRACK_CONFIRMED_LEGACY] = cl;
    r.counts[CUT_TRACK_CONFIRMED_KAFKA] = ck;
    r.counts[CUT_TRACK_CONFIRMED_BOTH] = both;
    r.counts[CUT_TRACK_FAILED_LEGACY] = fl;
    r.counts[CUT_TRACK_FAILED_KAFKA] = fk;
    return r;
}

static void figures_of(const struct cut_tracking_row *w, struct cut_recon_figures *fig,
                       struct cut_recon_verdict *v, const struct cut_recon_thresholds *th)
{
    /* Every minute of these windows has settled. */
    struct cut_recon_input in = {.window = w, .settled = w, .settled_prev = w};
    struct cut_recon_thresholds def = cut_recon_thresholds_default();
    cut_recon_compute(&in, fig);
    cut_recon_judge(fig, th != NULL ? th : &def, v);
}

static void test_defaults_are_the_documented_ones(void **state)
{
    (void)state;
    struct cut_recon_thresholds th = cut_recon_thresholds_default();
    assert_int_equal(th.settle_ms, 30000);
    assert_int_equal(th.min_messages, 100);
    assert_true(th.kafka_error_rate == 0.05);
    assert_true(th.loss_rate == 0.001);
    assert_true(th.latency_ratio == 2.0);
    assert_true(th.consistency_alert == 0.99);
    assert_int_equal(th.latency_floor_us, 100000);
    assert_int_equal(th.soak_ms, 3600000);
}

static void test_an_empty_window_knows_no_ratio_and_fires_nothing(void **state)
{
    (void)state;
    struct cut_tracking_row w = row(0, 0, 0, 0, 0, 0, 0);
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;
    figures_of(&w, &fig, &v, NULL);
    assert_false(fig.consistency.known);
    assert_false(fig.loss.known);
    assert_false(fig.readback.known);
    assert_false(fig.error[CUT_SIDE_LEGACY].known);
    assert_false(fig.error[CUT_SIDE_KAFKA].known);
    assert_false(fig.have_lat[0] || fig.have_lat[1] || fig.latency_ratio.known);
    for (int c = 0; c < CUT_RECON_CHECKS; c++) {
        assert_int_equal(v.state[c], CUT_RECON_UNKNOWN);
    }
    assert_false(v.rollback);
    assert_false(v.alert);
}

static void test_consistency_is_both_over_dual_and_alerts_strictly_below(void **state)
{
    (void)state;
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;
    /* 985 of 1000 dual-write messages confirmed by both: 0.985 < 0.99. */
    struct cut_tracking_row w = row(1000, 1000, 1000, 985, 985, 0, 15);
    figures_of(&w, &fig, &v, NULL);
    assert_true(fig.consistency.known);
    assert_float_equal(fig.consistency.value, 0.985, 1e-12);
    assert_int_equal(fig.consistency.sample, 1000);
    assert_int_equal(v.state[CUT_RECON_CONSISTENCY], CUT_RECON_BREACH);
    assert_true(v.alert);
    /* 15 of 1000 Kafka writes failed: 1.5 %, under 5 %: no rollback. */
    assert_float_equal(fig.error[CUT_SIDE_KAFKA].value, 0.015, 1e-12);
    assert_false(v.rollback);

    /* Exactly 0.99 is not below 0.99. */
    w = row(1000, 1000, 1000, 990, 990, 0, 10);
    figures_of(&w, &fig, &v, NULL);
    assert_float_equal(fig.consistency.value, 0.99, 1e-12);
    assert_int_equal(v.state[CUT_RECON_CONSISTENCY], CUT_RECON_OK);
    assert_false(v.alert);

    /* Single-write traffic says nothing about consistency. */
    w = row(1000, 0, 0, 1000, 0, 0, 0);
    figures_of(&w, &fig, &v, NULL);
    assert_false(fig.consistency.known);
    assert_int_equal(v.state[CUT_RECON_CONSISTENCY], CUT_RECON_UNKNOWN);
}

static void test_consistency_is_judged_on_settled_minutes_only(void **state)
{
    (void)state;
    /* The last minute's Kafka confirmations are still on their way. */
    struct cut_tracking_row w = row(1300, 1300, 1300, 1000, 1000, 0, 0);
    struct cut_tracking_row settled = row(1000, 1000, 1000, 1000, 1000, 0, 0);
    struct cut_recon_input in = {.window = &w, .settled = &settled};
    struct cut_recon_thresholds th = cut_recon_thresholds_default();
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;
    cut_recon_compute(&in, &fig);
    cut_recon_judge(&fig, &th, &v);
    assert_float_equal(fig.consistency.value, 1000.0 / 1300, 1e-12);
    assert_float_equal(fig.consistency_settled.value, 1.0, 1e-12);
    assert_int_equal(v.state[CUT_RECON_CONSISTENCY], CUT_RECON_OK);
    assert_false(v.alert);
    /* Nothing settled yet: nothing to judge. */
    in.settled = NULL;
    cut_recon_compute(&in, &fig);
    cut_recon_judge(&fig, &th, &v);
    assert_true(fig.consistency.known);
    assert_int_equal(v.state[CUT_RECON_CONSISTENCY], CUT_RECON_UNKNOWN);
}

static void test_kafka_error_rate_is_failed_over_attempts_and_fires_strictly_above(void **state)
{
    (void)state;
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;
    /* 50 failed, 950 confirmed: 50 / 1000 = 5 %, not above 5 %. */
    struct cut_tracking_row w = row(1000, 1000, 1000, 950, 950, 0, 50);
    figures_of(&w, &fig, &v, NULL);
    assert_float_equal(fig.error[CUT_SIDE_KAFKA].value, 0.05, 1e-12);
    assert_int_equal(fig.error[CUT_SIDE_KAFKA].sample, 1000);
    assert_int_equal(v.state[CUT_RECON_KAFKA_ERRORS], CUT_RECON_OK);
    assert_false(v.rollback);
    /* 51 failed, 949 confirmed: 5.1 %. */
    w = row(1000, 1000, 1000, 949, 949, 0, 51);
    figures_of(&w, &fig, &v, NULL);
    assert_float_equal(fig.error[CUT_SIDE_KAFKA].value, 0.051, 1e-12);
    assert_int_equal(v.state[CUT_RECON_KAFKA_ERRORS], CUT_RECON_BREACH);
    assert_true(v.rollback);
    /* Legacy errors are reported, never a reason to leave Kafka. */
    w = row(1000, 1000, 500, 1000, 500, 500, 0);
    figures_of(&w, &fig, &v, NULL);
    assert_float_equal(fig.error[CUT_SIDE_LEGACY].value, 0.5, 1e-12);
    assert_int_equal(v.state[CUT_RECON_KAFKA_ERRORS], CUT_RECON_OK);
}

static void test_a_tiny_window_cannot_fire_until_the_minimum_sample(void **state)
{
    (void)state;
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;
    /* 9 of 10 Kafka writes failed: 90 %, but 10 < 100 messages. */
    struct cut_tracking_row w = row(10, 10, 10, 1, 1, 0, 9);
    figures_of(&w, &fig, &v, NULL);
    assert_float_equal(fig.error[CUT_SIDE_KAFKA].value, 0.9, 1e-12);
    assert_int_equal(v.state[CUT_RECON_KAFKA_ERRORS], CUT_RECON_TOO_FEW);
    assert_int_equal(v.state[CUT_RECON_CONSISTENCY], CUT_RECON_TOO_FEW);
    assert_false(v.rollback);
    assert_false(v.alert);
    /* 99 attempts: still too few; 100: it fires. */
    w = row(99, 99, 99, 0, 0, 0, 99);
    figures_of(&w, &fig, &v, NULL);
    assert_int_equal(v.state[CUT_RECON_KAFKA_ERRORS], CUT_RECON_TOO_FEW);
    w = row(100, 100, 100, 0, 0, 0, 100);
    figures_of(&w, &fig, &v, NULL);
    assert_int_equal(v.state[CUT_RECON_KAFKA_ERRORS], CUT_RECON_BREACH);
    assert_true(v.rollback);
    /* One message of one message. */
    w = row(1, 1, 1, 0, 0, 0, 1);
    figures_of(&w, &fig, &v, NULL);
    assert_float_equal(fig.error[CUT_SIDE_KAFKA].value, 1.0, 1e-12);
    assert_false(v.rollback);
    /* A per-flow minimum of 5 lets the tiny window fire. */
    struct cut_recon_thresholds th = cut_recon_thresholds_default();
    th.min_messages = 5;
    w = row(10, 10, 10, 1, 1, 0, 9);
    figures_of(&w, &fig, &v, &th);
    assert_true(v.rollback);
}

static void test_unaccounted_counts_every_outcome_and_estimated_retries(void **state)
{
    (void)state;
    struct cut_tracking_row r;
    /* JMS primary, Kafka failing for all: every message confirmed on legacy. */
    r = row(100, 100, 100, 0, 0, 0, 100);
    assert_int_equal(cut_recon_unaccounted(&r), 0);
    /* ... and 5 more seen that no side confirmed nor failed: 5 lost. */
    r = row(105, 105, 100, 0, 0, 0, 100);
    assert_int_equal(cut_recon_unaccounted(&r), 5);
    /* KAFKA_ONLY, one failure released and delivered again: seen twice. */
    r = row(2, 0, 0, 1, 0, 0, 1);
    assert_int_equal(cut_recon_unaccounted(&r), 0);
    /* Dual-write, both sides failed once (a retry), then both confirmed. */
    r = row(2, 2, 1, 1, 1, 1, 1);
    assert_int_equal(cut_recon_unaccounted(&r), 0);
    /* Dead-lettered, expired and filtered messages are outcomes. */
    r = row(10, 0, 7, 0, 0, 0, 0);
    r.counts[CUT_TRACK_DEAD_LETTERED] = 1;
    r.counts[CUT_TRACK_EXPIRED] = 1;
    r.counts[CUT_TRACK_FILTERED] = 1;
    assert_int_equal(cut_recon_unaccounted(&r), 0);
    /* A window edge: confirmations of messages seen before the window. */
    r = row(10, 10, 12, 12, 12, 0, 0);
    assert_int_equal(cut_recon_unaccounted(&r), -2);
}

static void test_loss_takes_the_smaller_gap_of_two_settled_edges(void **state)
{
    (void)state;
    struct cut_tracking_row w = row(2000, 2000, 1990, 1990, 1990, 0, 0);
    struct cut_tracking_row settled = row(1000, 1000, 990, 990, 990, 0, 0); /* 10 open */
    struct cut_tracking_row prev = row(800, 800, 800, 800, 800, 0, 0);      /* 0 open */
    struct cut_recon_input in = {.window = &w, .settled = &settled, .settled_prev = &prev};
    struct cut_recon_thresholds th = cut_recon_thresholds_default();
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;

    /* The last settled minute ends in a burst still confirming: no loss. */
    cut_recon_compute(&in, &fig);
    cut_recon_judge(&fig, &th, &v);
    assert_true(fig.loss.known);
    assert_int_equal(fig.lost, 0);
    assert_int_equal(fig.loss.sample, 1000);
    assert_int_equal(v.state[CUT_RECON_LOSS], CUT_RECON_OK);

    /* 5 missing already in the earlier edge: 5 of 1000 = 0.5 % > 0.1 %. */
    prev = row(800, 800, 795, 795, 795, 0, 0);
    cut_recon_compute(&in, &fig);
    cut_recon_judge(&fig, &th, &v);
    assert_int_equal(fig.lost, 5);
    assert_float_equal(fig.loss.value, 0.005, 1e-12);
    assert_int_equal(v.state[CUT_RECON_LOSS], CUT_RECON_BREACH);
    assert_true(v.rollback);

    /* 1 of 1000 is 0.1 %: not above. */
    settled = row(1000, 1000, 999, 999, 999, 0, 0);
    prev = row(800, 800, 799, 799, 799, 0, 0);
    cut_recon_compute(&in, &fig);
    cut_recon_judge(&fig, &th, &v);
    assert_int_equal(fig.lost, 1);
    assert_int_equal(v.state[CUT_RECON_LOSS], CUT_RECON_OK);

    /* One settled edge only: loss is not known yet. */
    in.settled_prev = NULL;
    cut_recon_compute(&in, &fig);
    assert_false(fig.loss.known);
    /* Settled, but nothing seen: unknown, not zero. */
    struct cut_tracking_row none = row(0, 0, 0, 0, 0, 0, 0);
    in.settled = &none;
    in.settled_prev = &none;
    cut_recon_compute(&in, &fig);
    assert_false(fig.loss.known);
}

static void add_latency(struct cut_tracking_row *r, int side, uint32_t micros, uint64_t n)
{
    r->lat[side][cut_lat_bucket(micros)] += n;
}

static void test_latency_quantiles_ratio_and_floor(void **state)
{
    (void)state;
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;
    struct cut_recon_thresholds th = cut_recon_thresholds_default();
    struct cut_tracking_row w = row(100, 100, 100, 100, 100, 0, 0);
    /* 1000 us falls in bucket [768, 1024), 3000 us in [2048, 3072): p99 is
     * interpolated 99 % into the bucket. */
    add_latency(&w, CUT_SIDE_LEGACY, 1000, 100);
    add_latency(&w, CUT_SIDE_KAFKA, 3000, 100);
    figures_of(&w, &fig, &v, &th);
    assert_true(fig.have_lat[0] && fig.have_lat[1]);
    assert_int_equal(fig.lat_n[CUT_SIDE_KAFKA], 100);
    assert_float_equal(fig.p99_us[CUT_SIDE_LEGACY], 768 + 256 * 0.99, 1e-9);
    assert_float_equal(fig.p99_us[CUT_SIDE_KAFKA], 2048 + 1024 * 0.99, 1e-9);
    assert_float_equal(fig.p50_us[CUT_SIDE_KAFKA], 2048 + 1024 * 0.5, 1e-9);
    assert_float_equal(fig.latency_ratio.value, (2048 + 1024 * 0.99) / (768 + 256 * 0.99), 1e-9);
    /* About 3x, but 3 ms is under the 100 ms floor: no reason to roll back. */
    assert_int_equal(v.state[CUT_RECON_LATENCY], CUT_RECON_OK);
    th.latency_floor_us = 0;
    cut_recon_judge(&fig, &th, &v);
    assert_int_equal(v.state[CUT_RECON_LATENCY], CUT_RECON_BREACH);
    assert_true(v.rollback);

    /* 300 ms against 100 ms: above the floor, 3x: rollback by default. */
    w = row(200, 200, 200, 200, 200, 0, 0);
    add_latency(&w, CUT_SIDE_LEGACY, 100000, 200);
    add_latency(&w, CUT_SIDE_KAFKA, 300000, 200);
    figures_of(&w, &fig, &v, NULL);
    assert_true(fig.latency_ratio.value > 2.0);
    assert_int_equal(v.state[CUT_RECON_LATENCY], CUT_RECON_BREACH);
    /* 2x exactly is not above 2x. */
    w = row(200, 200, 200, 200, 200, 0, 0);
    add_latency(&w, CUT_SIDE_LEGACY, 131072, 200); /* bucket [131072, 196608) */
    add_latency(&w, CUT_SIDE_KAFKA, 262144, 200);  /* bucket [262144, 393216) */
    figures_of(&w, &fig, &v, NULL);
    assert_float_equal(fig.latency_ratio.value, 2.0, 1e-12);
    assert_int_equal(v.state[CUT_RECON_LATENCY], CUT_RECON_OK);
    /* Too few samples on the legacy side. */
    w = row(200, 200, 200, 200, 200, 0, 0);
    add_latency(&w, CUT_SIDE_LEGACY, 100000, 99);
    add_latency(&w, CUT_SIDE_KAFKA, 900000, 200);
    figures_of(&w, &fig, &v, NULL);
    assert_int_equal(fig.latency_ratio.sample, 99);
    assert_int_equal(v.state[CUT_RECON_LATENCY], CUT_RECON_TOO_FEW);
    /* Kafka alone (KAFKA_ONLY): no ratio. */
    w = row(200, 0, 0, 200, 0, 0, 0);
    add_latency(&w, CUT_SIDE_KAFKA, 900000, 200);
    figures_of(&w, &fig, &v, NULL);
    assert_false(fig.latency_ratio.known);
    assert_int_equal(v.state[CUT_RECON_LATENCY], CUT_RECON_UNKNOWN);
}

static void test_readback_loss_is_missing_over_checked(void **state)
{
    (void)state;
    struct cut_tracking_row w = row(0, 0, 0, 0, 0, 0, 0);
    struct cut_recon_input in = {
        .window = &w, .have_readback = true, .rb_checked = 200, .rb_missing = 1};
    struct cut_recon_thresholds th = cut_recon_thresholds_default();
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;
    cut_recon_compute(&in, &fig);
    cut_recon_judge(&fig, &th, &v);
    assert_float_equal(fig.readback.value, 0.005, 1e-12);
    assert_int_equal(v.state[CUT_RECON_READBACK], CUT_RECON_BREACH);
    assert_true(v.rollback);
    in.rb_checked = 99;
    cut_recon_compute(&in, &fig);
    cut_recon_judge(&fig, &th, &v);
    assert_int_equal(v.state[CUT_RECON_READBACK], CUT_RECON_TOO_FEW);
    in.rb_checked = 0;
    in.rb_missing = 0;
    cut_recon_compute(&in, &fig);
    cut_recon_judge(&fig, &th, &v);
    assert_int_equal(v.state[CUT_RECON_READBACK], CUT_RECON_UNKNOWN);
}

static void test_the_reason_carries_the_figures_that_fired(void **state)
{
    (void)state;
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;
    char buf[512];
    struct cut_tracking_row w = row(1200, 1200, 1200, 200, 200, 0, 1000);
    figures_of(&w, &fig, &v, NULL);
    cut_recon_reason(&fig, &v, buf, sizeof(buf));
    assert_string_equal(buf, "kafka_error_rate 0.8333 > 0.0500 (1000 of 1200 Kafka writes "
                             "failed; min 100); consistency 0.1667 < 0.9900 (200 of 1200 "
                             "dual-write messages confirmed by both; min 100)");
    w = row(1000, 1000, 1000, 1000, 1000, 0, 0);
    figures_of(&w, &fig, &v, NULL);
    cut_recon_reason(&fig, &v, buf, sizeof(buf));
    assert_string_equal(buf, "");
}

static void test_span_leaves_out_unsettled_minutes_and_data_before_a_status_change(void **s)
{
    (void)s;
    struct cut_recon_span span;
    const int64_t t0 = 1700000040000; /* a minute start, in ms */
    /* 12:03:30 with a 5 min window and 30 s settle. */
    cut_recon_span(t0 + 210000, 300000, 30000, 0, &span);
    assert_int_equal(span.to, t0 / 1000 + 180);
    assert_int_equal(span.from, t0 / 1000 - 120);
    assert_true(span.have_settled);
    /* Minute +120 s ends at +180 s = now - 30 s: settled. */
    assert_int_equal(span.settled_to, t0 / 1000 + 120);
    assert_true(span.have_prev);
    /* A status change at +70 s: its minute (+60) is left out. */
    cut_recon_span(t0 + 210000, 300000, 30000, t0 + 70000, &span);
    assert_int_equal(span.from, t0 / 1000 + 120);
    assert_true(span.have_settled);
    assert_false(span.have_prev);
    /* A change within the current minute: nothing to judge yet. */
    cut_recon_span(t0 + 210000, 300000, 30000, t0 + 185000, &span);
    assert_true(span.from > span.to);
    assert_false(span.have_settled);
}

static void test_times_parse_with_or_without_milliseconds(void **state)
{
    (void)state;
    assert_int_equal(cut_recon_parse_time("1970-01-01T00:00:00.000Z"), 0);
    assert_int_equal(cut_recon_parse_time("2023-11-14T22:13:20.123Z"), 1700000000123);
    assert_int_equal(cut_recon_parse_time("2023-11-14T22:13:20Z"), 1700000000000);
    assert_int_equal(cut_recon_parse_time("2023-11-14T22:13:20.5"), 1700000000500);
    assert_int_equal(cut_recon_parse_time("yesterday"), -1);
    assert_int_equal(cut_recon_parse_time("2023-11-14T22:13:20Zjunk"), -1);
    assert_int_equal(cut_recon_parse_time(NULL), -1);
}

/* ---- read-back ------------------------------------------------------------- */

static const char *const topics_a[] = {"t-orders"};

static struct cut_readback *readback(uint32_t every, size_t ring)
{
    struct cut_readback *rb;
    struct cut_err err;
    struct cut_readback_flow flows[2] = {
        {.name = "orders", .topics = topics_a, .n_topics = 1, .settle_ms = 30000},
        {.name = "off", .topics = NULL, .n_topics = 0},
    };
    struct cut_readback_options opts = {
        .sample_every = every, .ring_size = ring, .max_tracked = 64};
    assert_int_equal(cut_readback_create(&rb, flows, 2, &opts, &err), CUT_OK);
    return rb;
}

static uint64_t h(const char *id)
{
    return cut_readback_hash(id, strlen(id));
}

static void test_readback_hash_is_the_routers_fnv1a(void **state)
{
    (void)state;
    /* FNV-1a 64 test vectors, with the low bit set as router.c does. */
    assert_true(cut_readback_hash("", 0) == (0xcbf29ce484222325ull | 1));
    assert_true(cut_readback_hash("a", 1) == (0xaf63dc4c8601ec8cull | 1));
    assert_true(cut_readback_hash("foobar", 6) == (0x85944171f73967e8ull | 1));
}

static void test_readback_matches_confirms_and_reads_in_either_order(void **state)
{
    (void)state;
    struct cut_readback *rb = readback(1, 16);
    struct cut_readback_counts c;
    const int64_t t = 1000000;

    /* Confirmed, then read. */
    cut_readback_push(rb, 0, h("m-1"));
    cut_readback_drain(rb, t);
    cut_readback_record(rb, "t-orders", "m-1", 3, t + 10);
    /* Read (the consumer was quick), then the confirm is pushed. */
    cut_readback_record(rb, "t-orders", "m-2", 3, t + 20);
    cut_readback_push(rb, 0, h("m-2"));
    cut_readback_drain(rb, t + 30);
    /* Confirmed, never read: missing once the settle time has passed. */
    cut_readback_push(rb, 0, h("m-3"));
    cut_readback_drain(rb, t + 40);
    cut_readback_expire(rb, t + 40 + 29999);
    cut_readback_counts(rb, 0, &c);
    assert_int_equal(c.found, 2);
    assert_int_equal(c.missing, 0);
    cut_readback_expire(rb, t + 40 + 30000);
    cut_readback_counts(rb, 0, &c);
    assert_int_equal(c.pushed, 3);
    assert_int_equal(c.found, 2);
    assert_int_equal(c.missing, 1);
    assert_int_equal(c.records, 2);
    /* A record of another topic is not this flow's. */
    cut_readback_push(rb, 0, h("m-4"));
    cut_readback_drain(rb, t + 50000);
    cut_readback_record(rb, "elsewhere", "m-4", 3, t + 50001);
    cut_readback_expire(rb, t + 90000);
    cut_readback_counts(rb, 0, &c);
    assert_int_equal(c.missing, 2);
    /* A flow without topics ignores pushes. */
    cut_readback_push(rb, 1, h("m-5"));
    cut_readback_counts(rb, 1, &c);
    assert_int_equal(c.pushed, 0);
    cut_readback_destroy(rb);
}

static void test_readback_judges_only_what_a_caught_up_consumer_could_have_read(void **state)
{
    (void)state;
    struct cut_readback *rb;
    struct cut_readback_counts c;
    struct cut_err err;
    struct cut_kv_list kafka = {0}; /* a consumer is configured (never started here) */
    struct cut_readback_flow flow = {
        .name = "orders", .topics = topics_a, .n_topics = 1, .settle_ms = 30000};
    struct cut_readback_options opts = {.kafka = &kafka, .sample_every = 1};
    assert_int_equal(cut_readback_create(&rb, &flow, 1, &opts, &err), CUT_OK);
    cut_readback_push(rb, 0, h("m-1"));
    cut_readback_drain(rb, 1000);
    /* Long past the settle time, but the consumer never caught up (Kafka
     * unreachable, or the consumer behind): nothing is judged. */
    cut_readback_expire(rb, 1000000);
    cut_readback_counts(rb, 0, &c);
    assert_int_equal(c.missing, 0);
    /* Caught up before the confirm: still nothing to say about it. */
    cut_readback_caught_up(rb, 0, 999);
    cut_readback_expire(rb, 1000000);
    cut_readback_counts(rb, 0, &c);
    assert_int_equal(c.missing, 0);
    /* Caught up after it, and still not read: missing. */
    cut_readback_caught_up(rb, 0, 1001);
    cut_readback_expire(rb, 1000000);
    cut_readback_counts(rb, 0, &c);
    assert_int_equal(c.missing, 1);
    cut_readback_destroy(rb);
}

static void test_readback_samples_by_id_and_drops_when_the_ring_is_full(void **state)
{
    (void)state;
    struct cut_readback *rb = readback(4, 8);
    struct cut_readback_counts c;
    char id[32];
    uint64_t sampled = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(id, sizeof(id), "m-%d", i);
        sampled += cut_readback_sampled(rb, h(id));
    }
    /* About one in four, decided by the id alone. */
    assert_in_range(sampled, 200, 300);
    for (int i = 0, pushed = 0; pushed < 10; i++) {
        snprintf(id, sizeof(id), "m-%d", i);
        if (cut_readback_sampled(rb, h(id))) {
            cut_readback_push(rb, 0, h(id));
            pushed++;
        } else {
            cut_readback_push(rb, 0, h(id)); /* not sampled: ignored */
        }
    }
    cut_readback_counts(rb, 0, &c);
    assert_int_equal(c.pushed, 8);  /* the ring holds 8 ... */
    assert_int_equal(c.dropped, 2); /* ... the rest is not checked, never missing */
    cut_readback_drain(rb, 1);
    cut_readback_expire(rb, 1000000);
    cut_readback_counts(rb, 0, &c);
    assert_int_equal(c.missing, 8);
    cut_readback_destroy(rb);
}

/* ---- passes on a real store ------------------------------------------------ */

struct fx {
    char dir[64];
    char path[96];
    struct cut_store *st;
    int64_t now_ms;
    /* the webhook */
    int lsock;
    int port;
    pthread_t thread;
    char body[16384];
    int requests;
};

static int64_t fx_clock(void *opaque)
{
    return ((struct fx *)opaque)->now_ms;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct cut_err err;
    strcpy(fx->dir, "/tmp/cutover_recon_XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/state.db", fx->dir);
    if (cut_store_open(&fx->st, fx->path, 0, &err) != CUT_OK) {
        return -1;
    }
    /* Ten minutes and a half from now: the status changes made now are in
     * the past of the reconciler's clock. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fx->now_ms = ((int64_t)ts.tv_sec / 60 + 10) * 60000 + 30000;
    fx->lsock = -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char p[128];
    cut_store_close(fx->st);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", fx->path, suffixes[i]);
        unlink(p);
    }
    rmdir(fx->dir);
    if (fx->lsock >= 0) {
        close(fx->lsock);
    }
    free(fx);
    return 0;
}

/* A one-request HTTP server on an ephemeral loopback port. */
static void *http_main(void *arg)
{
    struct fx *fx = arg;
    char buf[32768];
    size_t len = 0;
    int c = accept(fx->lsock, NULL, NULL);
    if (c < 0) {
        return NULL;
    }
    for (;;) {
        ssize_t n = read(c, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        const char *cl = strcasestr(buf, "Content-Length:");
        if (end != NULL && cl != NULL && len - (size_t)(end + 4 - buf) >= (size_t)atol(cl + 15)) {
            snprintf(fx->body, sizeof(fx->body), "%s", end + 4);
            break;
        }
    }
    fx->requests++;
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!write(c, ok, strlen(ok));
    close(c);
    return NULL;
}

static void http_start(struct fx *fx)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    fx->lsock = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fx->lsock >= 0);
    assert_int_equal(bind(fx->lsock, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fx->lsock, 4), 0);
    assert_int_equal(getsockname(fx->lsock, (struct sockaddr *)&a, &alen), 0);
    fx->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&fx->thread, NULL, http_main, fx), 0);
}

/* Add @p r to the minute @p minutes_ago before the reconciler's now. */
static void track(struct fx *fx, const char *flow, int minutes_ago, struct cut_tracking_row r)
{
    struct cut_err err;
    r.flow = flow;
    r.minute = fx->now_ms / 60000 * 60 - 60 * minutes_ago;
    assert_int_equal(cut_store_tracking_add(fx->st, &r, 1, &err), CUT_OK);
}

static int status_cb(void *opaque, const struct cut_flow_info *info)
{
    *(enum cut_flow_status *)opaque = info->status;
    return 0;
}

static enum cut_flow_status status_of(struct fx *fx, const char *flow)
{
    enum cut_flow_status s = CUT_FLOW_PENDING;
    struct cut_err err;
    assert_int_equal(cut_store_flows_list(fx->st, flow, status_cb, &s, &err), CUT_OK);
    return s;
}

static enum cut_mode mode_of(struct fx *fx, const char *flow)
{
    struct cut_mode_table t;
    struct cut_err err;
    cut_mode_table_init(&t);
    assert_int_equal(cut_store_modes_load(fx->st, &t, &err), CUT_OK);
    enum cut_mode m = cut_mode_resolve(&t, flow, NULL);
    cut_mode_table_fini(&t);
    return m;
}

struct audit_tail {
    int n;
    char last[2][1024];
};

static int audit_cb(void *opaque, const struct cut_audit_record *rec)
{
    struct audit_tail *a = opaque;
    snprintf(a->last[0], sizeof(a->last[0]), "%s", a->last[1]);
    snprintf(a->last[1], sizeof(a->last[1]), "%s %s %s->%s by %s: %s", rec->what, rec->flow,
             rec->from ? rec->from : "-", rec->to ? rec->to : "-", rec->actor, rec->reason);
    a->n++;
    return 0;
}

static struct audit_tail audit_of(struct fx *fx, const char *flow)
{
    struct audit_tail a = {0};
    struct cut_err err;
    assert_int_equal(cut_store_audit_list(fx->st, flow, audit_cb, &a, &err), CUT_OK);
    return a;
}

static struct cut_recon *recon(struct fx *fx, const struct cut_recon_flow *flows, size_t n,
                               const char *webhook)
{
    struct cut_recon *r;
    struct cut_err err;
    static struct cut_recon_options opts;
    opts = (struct cut_recon_options){
        .state_path = fx->path,
        .bridge_name = "it",
        .flows = flows,
        .n_flows = n,
        .webhook_url = webhook,
        .clock_ms = fx_clock,
        .clock_opaque = fx,
    };
    assert_int_equal(cut_recon_create(&r, &opts, &err), CUT_OK);
    return r;
}

static void test_a_failing_kafka_side_is_rolled_back_in_one_pass_with_its_figures(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    char url[64];
    struct cut_recon_flow flows[] = {
        {.name = "orders", .th = cut_recon_thresholds_default(), .config_mode = -1},
    };
    assert_int_equal(
        cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err),
        CUT_OK);
    /* Two minutes of DUAL_WRITE_JMS_PRIMARY with Kafka failing 4 in 5:
     * legacy confirmed everything. */
    for (int m = 2; m >= 1; m--) {
        struct cut_tracking_row r = row(250, 250, 250, 50, 50, 0, 200);
        r.counts[CUT_TRACK_LEDGERED] = 200;
        track(fx, "orders", m, r);
    }
    http_start(fx);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", fx->port);
    struct cut_recon *r = recon(fx, flows, 1, url);
    assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
    pthread_join(fx->thread, NULL);

    assert_int_equal(status_of(fx, "orders"), CUT_FLOW_ROLLED_BACK);
    assert_int_equal(mode_of(fx, "orders"), CUT_MODE_JMS_ONLY);
    struct audit_tail a = audit_of(fx, "orders");
    const char *why = "kafka_error_rate 0.8000 > 0.0500 (400 of 500 Kafka writes failed; min "
                      "100); consistency 0.2000 < 0.9900 (100 of 500 dual-write messages "
                      "confirmed by both; min 100) (window 300 s)";
    char want[1024];
    snprintf(want, sizeof(want),
             "rollback orders DUAL_WRITE_JMS_PRIMARY->JMS_ONLY by "
             "reconciler: %s",
             why);
    assert_string_equal(a.last[0], want);
    snprintf(want, sizeof(want), "status orders IN_PROGRESS->ROLLED_BACK by reconciler: %s", why);
    assert_string_equal(a.last[1], want);

    struct cut_recon_stats st;
    cut_recon_stats(r, &st);
    assert_int_equal(st.rollbacks, 1);
    assert_int_equal(st.alerts, 1);
    assert_int_equal(st.webhook_failures, 0);
    assert_int_equal(fx->requests, 1);
    assert_non_null(strstr(fx->body, "\"event\":\"rollback\""));
    assert_non_null(strstr(fx->body, "\"flow\":\"orders\""));
    assert_non_null(strstr(fx->body, "\"actor\":\"reconciler\""));
    assert_non_null(strstr(fx->body, "\"failed_kafka\":400"));
    assert_non_null(strstr(fx->body, "\"kafka\":0.8"));
    assert_non_null(strstr(fx->body, "kafka_error_rate 0.8000 > 0.0500"));

    /* The next pass: nothing more (no second rollback, audit or alert). */
    fx->now_ms += 10000;
    assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
    assert_int_equal(audit_of(fx, "orders").n, a.n);
    cut_recon_stats(r, &st);
    assert_int_equal(st.rollbacks, 1);
    assert_int_equal(st.alerts, 1);
    assert_int_equal(st.passes, 2);
    cut_recon_stop(r);
}

static void test_a_quiet_flow_does_not_flap(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    struct cut_recon_flow flows[] = {
        {.name = "quiet", .th = cut_recon_thresholds_default(), .config_mode = -1},
    };
    cut_store_mode_set(fx->st, "quiet", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err);
    /* 60 messages, every Kafka write failed: 100 % but 60 < 100. */
    track(fx, "quiet", 1, row(60, 60, 60, 0, 0, 0, 60));
    struct cut_recon *r = recon(fx, flows, 1, NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
        fx->now_ms += 10000;
    }
    assert_int_equal(status_of(fx, "quiet"), CUT_FLOW_IN_PROGRESS);
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;
    assert_true(cut_recon_last(r, 0, &fig, &v));
    assert_int_equal(v.state[CUT_RECON_KAFKA_ERRORS], CUT_RECON_TOO_FEW);
    struct cut_recon_stats st;
    cut_recon_stats(r, &st);
    assert_int_equal(st.rollbacks + st.alerts, 0);
    /* 40 more make 100: the next pass rolls it back. */
    track(fx, "quiet", 0, row(40, 40, 40, 0, 0, 0, 40));
    assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
    assert_int_equal(status_of(fx, "quiet"), CUT_FLOW_ROLLED_BACK);
    cut_recon_stop(r);
}

static void test_consistency_alerts_once_and_never_rolls_back(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    struct cut_recon_flow flows[] = {
        {.name = "orders", .th = cut_recon_thresholds_default(), .config_mode = -1},
    };
    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_KAFKA_PRIMARY, NULL, "op", "", &err);
    /* Kafka fine; the legacy secondary missed 30 of 1000. */
    track(fx, "orders", 1, row(1000, 1000, 970, 1000, 970, 30, 0));
    struct cut_recon *r = recon(fx, flows, 1, NULL);
    assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
    fx->now_ms += 10000;
    assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
    struct cut_recon_stats st;
    cut_recon_stats(r, &st);
    assert_int_equal(st.alerts, 1);
    assert_int_equal(st.rollbacks, 0);
    assert_int_equal(status_of(fx, "orders"), CUT_FLOW_IN_PROGRESS);
    assert_int_equal(mode_of(fx, "orders"), CUT_MODE_DUAL_KAFKA_PRIMARY);
    cut_recon_stop(r);
}

static void test_a_completed_flow_alerts_and_is_not_rolled_back(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    struct cut_recon_flow flows[] = {
        {.name = "done", .th = cut_recon_thresholds_default(), .config_mode = -1},
    };
    cut_store_mode_set(fx->st, "done", NULL, CUT_MODE_KAFKA_ONLY, NULL, "op", "", &err);
    assert_int_equal(cut_store_flow_complete(fx->st, "done", "op", "", &err), CUT_OK);
    track(fx, "done", 1, row(500, 0, 0, 300, 0, 0, 200));
    struct cut_recon *r = recon(fx, flows, 1, NULL);
    assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
    struct cut_recon_stats st;
    cut_recon_stats(r, &st);
    assert_int_equal(st.rollbacks, 0);
    assert_int_equal(st.alerts, 1);
    assert_int_equal(status_of(fx, "done"), CUT_FLOW_COMPLETED);
    assert_int_equal(mode_of(fx, "done"), CUT_MODE_KAFKA_ONLY);
    cut_recon_stop(r);
}

static void test_a_flow_promoted_again_is_judged_on_what_it_did_since(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    struct cut_recon_flow flows[] = {
        {.name = "orders", .th = cut_recon_thresholds_default(), .config_mode = -1},
    };
    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err);
    track(fx, "orders", 1, row(500, 500, 500, 0, 0, 0, 500));
    struct cut_recon *r = recon(fx, flows, 1, NULL);
    assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
    assert_int_equal(status_of(fx, "orders"), CUT_FLOW_ROLLED_BACK);
    /* The operator promotes it again; the bad minute is still in the window
     * but from before the status change: no second rollback. */
    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err);
    assert_int_equal(status_of(fx, "orders"), CUT_FLOW_IN_PROGRESS);
    fx->now_ms += 10000;
    assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
    assert_int_equal(status_of(fx, "orders"), CUT_FLOW_IN_PROGRESS);
    cut_recon_stop(r);
}

static void test_a_flow_failing_in_the_minute_it_was_promoted_is_rolled_back_at_once(void **s)
{
    struct fx *fx = *s;
    struct cut_err err;
    struct cut_recon_flow flows[] = {
        {.name = "orders", .th = cut_recon_thresholds_default(), .config_mode = -1},
    };
    /* The reconciler's clock is the real one here: the flow is promoted
     * now and fails within the same minute. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fx->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err);
    track(fx, "orders", 0, row(200, 200, 200, 0, 0, 0, 200));
    struct cut_recon *r = recon(fx, flows, 1, NULL);
    assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
    assert_int_equal(status_of(fx, "orders"), CUT_FLOW_ROLLED_BACK);
    cut_recon_stop(r);
}

static void test_latency_is_not_judged_in_the_warm_up_minute(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    struct cut_recon_flow flows[] = {
        {.name = "orders", .th = cut_recon_thresholds_default(), .config_mode = -1},
    };
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fx->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err);
    /* The topic is created by the first writes: Kafka takes 2 s. */
    struct cut_tracking_row slow = row(200, 200, 200, 200, 200, 0, 0);
    add_latency(&slow, CUT_SIDE_LEGACY, 20000, 200);
    add_latency(&slow, CUT_SIDE_KAFKA, 2000000, 200);
    track(fx, "orders", 0, slow);
    struct cut_recon *r = recon(fx, flows, 1, NULL);
    assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;
    assert_true(cut_recon_last(r, 0, &fig, &v));
    assert_int_equal(v.state[CUT_RECON_LATENCY], CUT_RECON_UNKNOWN);
    assert_int_equal(status_of(fx, "orders"), CUT_FLOW_IN_PROGRESS);
    /* Two minutes on, Kafka is still that slow: now it counts. */
    fx->now_ms += 120000;
    track(fx, "orders", 0, slow);
    assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
    assert_true(cut_recon_last(r, 0, &fig, &v));
    assert_int_equal(v.state[CUT_RECON_LATENCY], CUT_RECON_BREACH);
    assert_int_equal(fig.lat_n[CUT_SIDE_KAFKA], 200); /* the warm-up minute left out */
    assert_int_equal(status_of(fx, "orders"), CUT_FLOW_ROLLED_BACK);
    cut_recon_stop(r);
}

static void test_a_config_mode_flow_still_pending_is_rolled_back_too(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    const char *names[] = {"cfg"};
    struct cut_recon_flow flows[] = {
        {.name = "cfg",
         .th = cut_recon_thresholds_default(),
         .config_mode = CUT_MODE_DUAL_JMS_PRIMARY},
    };
    /* The config's `mode:` sends it to Kafka; the store knows it as PENDING. */
    cut_store_flows_register(fx->st, names, 1, &err);
    track(fx, "cfg", 1, row(500, 500, 500, 0, 0, 0, 500));
    struct cut_recon *r = recon(fx, flows, 1, NULL);
    assert_int_equal(cut_recon_pass(r, &err), CUT_OK);
    assert_int_equal(status_of(fx, "cfg"), CUT_FLOW_ROLLED_BACK);
    struct cut_mode_table t;
    cut_mode_table_init(&t);
    assert_int_equal(cut_store_modes_load(fx->st, &t, &err), CUT_OK);
    const struct cut_mode_entry *e = cut_mode_table_find(&t, "cfg", NULL);
    assert_non_null(e);
    assert_int_equal(e->mode, CUT_MODE_JMS_ONLY); /* overrides the config's mode */
    cut_mode_table_fini(&t);
    struct audit_tail a = audit_of(fx, "cfg");
    assert_int_equal(a.n, 4); /* mode + status recorded, then rollback + status */
    assert_non_null(
        strstr(a.last[0], "rollback cfg DUAL_WRITE_JMS_PRIMARY->JMS_ONLY by reconciler"));
    assert_non_null(strstr(a.last[1], "status cfg IN_PROGRESS->ROLLED_BACK by reconciler"));
    struct cut_recon_stats st;
    cut_recon_stats(r, &st);
    assert_int_equal(st.rollbacks, 1);
    cut_recon_stop(r);
}

/* The SQL function the crash trigger calls: the process dies on the spot,
 * in the middle of the rollback's transaction. */
static void crash_now(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    _exit(9);
}

static void test_a_crash_in_the_middle_never_leaves_a_flow_half_rolled_back(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_KAFKA_PRIMARY, NULL, "op", "", &err);
    cut_store_mode_set(fx->st, "orders", "invoice", CUT_MODE_KAFKA_ONLY, NULL, "op", "", &err);
    int before = audit_of(fx, "orders").n;

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct cut_store *st;
        if (cut_store_open(&st, fx->path, 0, &err) != CUT_OK ||
            sqlite3_create_function(st->db, "crash_now", 0, SQLITE_UTF8, NULL, crash_now, NULL,
                                    NULL) != SQLITE_OK ||
            sqlite3_exec(st->db,
                         "CREATE TEMP TRIGGER die AFTER INSERT ON main.audit "
                         "WHEN NEW.what = 'status' BEGIN SELECT crash_now(); END",
                         NULL, NULL, NULL) != SQLITE_OK) {
            _exit(1);
        }
        /* Both modes are written and audited before the status: then it dies. */
        cut_store_flow_rollback(st, "orders", "reconciler", "crash test", &err);
        _exit(0);
    }
    int ws = 0;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 9);

    /* Nothing of it happened. */
    assert_int_equal(status_of(fx, "orders"), CUT_FLOW_IN_PROGRESS);
    assert_int_equal(mode_of(fx, "orders"), CUT_MODE_DUAL_KAFKA_PRIMARY);
    struct cut_mode_table t;
    cut_mode_table_init(&t);
    assert_int_equal(cut_store_modes_load(fx->st, &t, &err), CUT_OK);
    assert_int_equal(cut_mode_resolve(&t, "orders", "invoice"), CUT_MODE_KAFKA_ONLY);
    cut_mode_table_fini(&t);
    assert_int_equal(audit_of(fx, "orders").n, before);

    /* And the next attempt does all of it. */
    assert_int_equal(cut_store_flow_rollback(fx->st, "orders", "reconciler", "again", &err),
                     CUT_OK);
    assert_int_equal(status_of(fx, "orders"), CUT_FLOW_ROLLED_BACK);
    assert_int_equal(audit_of(fx, "orders").n, before + 3);
}

static void test_the_thread_passes_on_its_interval_and_stops_promptly(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    struct cut_recon *r;
    struct cut_recon_flow flows[] = {
        {.name = "orders", .th = cut_recon_thresholds_default(), .config_mode = -1},
    };
    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err);
    track(fx, "orders", 1, row(500, 500, 500, 0, 0, 0, 500));
    struct cut_recon_options opts = {
        .state_path = fx->path,
        .interval_ms = 50,
        .flows = flows,
        .n_flows = 1,
        .clock_ms = fx_clock,
        .clock_opaque = fx,
    };
    assert_int_equal(cut_recon_start(&r, &opts, &err), CUT_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct cut_recon_stats st = {0};
    for (int i = 0; i < 200 && st.passes < 3; i++) {
        usleep(10000);
        cut_recon_stats(r, &st);
    }
    assert_true(st.passes >= 3);
    assert_int_equal(st.rollbacks, 1);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cut_recon_stop(r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
    assert_int_equal(status_of(fx, "orders"), CUT_FLOW_ROLLED_BACK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_the_documented_ones),
        cmocka_unit_test(test_an_empty_window_knows_no_ratio_and_fires_nothing),
        cmocka_unit_test(test_consistency_is_both_over_dual_and_alerts_strictly_below),
        cmocka_unit_test(test_consistency_is_judged_on_settled_minutes_only),
        cmocka_unit_test(test_kafka_error_rate_is_failed_over_attempts_and_fires_strictly_above),
        cmocka_unit_test(test_a_tiny_window_cannot_fire_until_the_minimum_sample),
        cmocka_unit_test(test_unaccounted_counts_every_outcome_and_estimated_retries),
        cmocka_unit_test(test_loss_takes_the_smaller_gap_of_two_settled_edges),
        cmocka_unit_test(test_latency_quantiles_ratio_and_floor),
        cmocka_unit_test(test_readback_loss_is_missing_over_checked),
        cmocka_unit_test(test_the_reason_carries_the_figures_that_fired),
        cmocka_unit_test(test_span_leaves_out_unsettled_minutes_and_data_before_a_status_change),
        cmocka_unit_test(test_times_parse_with_or_without_milliseconds),
        cmocka_unit_test(test_readback_hash_is_the_routers_fnv1a),
        cmocka_unit_test(test_readback_matches_confirms_and_reads_in_either_order),
        cmocka_unit_test(test_readback_judges_only_what_a_caught_up_consumer_could_have_read),
        cmocka_unit_test(test_readback_samples_by_id_and_drops_when_the_ring_is_full),
        cmocka_unit_test_setup_teardown(
            test_a_failing_kafka_side_is_rolled_back_in_one_pass_with_its_figures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_quiet_flow_does_not_flap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consistency_alerts_once_and_never_rolls_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_completed_flow_alerts_and_is_not_rolled_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_flow_promoted_again_is_judged_on_what_it_did_since,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_flow_failing_in_the_minute_it_was_promoted_is_rolled_back_at_once, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_latency_is_not_judged_in_the_warm_up_minute, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_config_mode_flow_still_pending_is_rolled_back_too,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_crash_in_the_middle_never_leaves_a_flow_half_rolled_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_thread_passes_on_its_interval_and_stops_promptly,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
