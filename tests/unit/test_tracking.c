/*
 * Tracking (bridge/tracking.c): 100k events become one row per flow and
 * minute with the right counts and histogram; minutes roll over; rows the
 * store refuses wait for the next flush; the writer thread writes on stop;
 * and the message-path calls never reach SQLite. That last one is checked
 * by counting, per thread, every call into SQLite's entry points (this test
 * links with -Wl,--wrap for them), not by timing anything.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_int.h"
#include "tracking.h"

/* ---- SQLite calls, counted per thread ------------------------------------ */

static pthread_t test_thread;
static atomic_ulong calls_here, calls_elsewhere;

static void count_call(void)
{
    if (pthread_equal(pthread_self(), test_thread)) {
        atomic_fetch_add(&calls_here, 1);
    } else {
        atomic_fetch_add(&calls_elsewhere, 1);
    }
}

int __real_sqlite3_step(sqlite3_stmt *stmt);
int __real_sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **stmt,
                              const char **tail);
int __real_sqlite3_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **),
                        void *arg, char **errmsg);
int __wrap_sqlite3_step(sqlite3_stmt *stmt);
int __wrap_sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **stmt,
                              const char **tail);
int __wrap_sqlite3_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **),
                        void *arg, char **errmsg);

int __wrap_sqlite3_step(sqlite3_stmt *stmt)
{
    count_call();
    return __real_sqlite3_step(stmt);
}

int __wrap_sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **stmt,
                              const char **tail)
{
    count_call();
    return __real_sqlite3_prepare_v2(db, sql, n, stmt, tail);
}

int __wrap_sqlite3_exec(sqlite3 *db, const char *sql, int (*cb)(void *, int, char **, char **),
                        void *arg, char **errmsg)
{
    count_call();
    return __real_sqlite3_exec(db, sql, cb, arg, errmsg);
}

/* ---- fixture ------------------------------------------------------------- */

#define MINUTE 1700000040 /* a minute boundary */

struct fx {
    char dir[64];
    char path[96];
    struct cut_store *st;
    int64_t now; /* the tracker's clock */
};

static int64_t fake_clock(void *opaque)
{
    return ((struct fx *)opaque)->now;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct cut_err err;
    if (fx == NULL) {
        return -1;
    }
    strcpy(fx->dir, "/tmp/cutover_tracking_XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/state.db", fx->dir);
    if (cut_store_open(&fx->st, fx->path, CUT_STORE_TRACKING, &err) != CUT_OK) {
        return -1;
    }
    fx->now = MINUTE + 5;
    test_thread = pthread_self();
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char p[128];
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    cut_store_close(fx->st);
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", fx->path, suffixes[i]);
        unlink(p);
    }
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static struct cut_tracker *tracker(struct fx *fx)
{
    static const char *const flows[] = {"orders", "payments"};
    struct cut_tracker_options opts = {.clock = fake_clock, .clock_opaque = fx, .flush_ms = 10};
    struct cut_tracker *t;
    struct cut_err err;
    assert_int_equal(cut_tracking_create(&t, flows, 2, &opts, &err), CUT_OK);
    return t;
}

static int64_t rows_in(struct fx *fx)
{
    sqlite3_stmt *stmt;
    assert_int_equal(
        sqlite3_prepare_v2(fx->st->db, "SELECT count(*) FROM tracking", -1, &stmt, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return n;
}

static struct cut_tracking_row window(struct fx *fx, const char *flow, int64_t from, int64_t to,
                                      size_t *minutes)
{
    struct cut_tracking_row sum;
    struct cut_err err;
    assert_int_equal(cut_store_tracking_window(fx->st, flow, from, to, &sum, minutes, &err),
                     CUT_OK);
    return sum;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_100k_events_make_one_row_per_flow_and_minute(void **state)
{
    struct fx *fx = *state;
    struct cut_tracker *t = tracker(fx);
    struct cut_err err;
    uint64_t want_buckets[CUT_LAT_BUCKETS] = {0};
    size_t minutes;

    for (uint32_t i = 0; i < 100000; i++) {
        cut_tracking_count(t, 0, CUT_TRACK_SEEN);
        cut_tracking_count(t, 0, CUT_TRACK_DUAL);
        cut_tracking_count(t, 0, CUT_TRACK_CONFIRMED_LEGACY);
        if (i % 100 != 0) {
            cut_tracking_count(t, 0, CUT_TRACK_CONFIRMED_KAFKA);
            cut_tracking_count(t, 0, CUT_TRACK_CONFIRMED_BOTH);
        } else {
            cut_tracking_count(t, 0, CUT_TRACK_FAILED_KAFKA);
            cut_tracking_count(t, 0, CUT_TRACK_LEDGERED);
        }
        uint32_t micros = (i * 7919u) % 2000000u;
        cut_tracking_latency(t, 0, CUT_SIDE_KAFKA, micros);
        want_buckets[cut_lat_bucket(micros)]++;
        if (i % 1000 == 0) {
            cut_tracking_count(t, 1, CUT_TRACK_FILTERED);
        }
    }
    assert_int_equal(rows_in(fx), 0); /* nothing reaches the store before a flush */
    assert_int_equal(cut_tracking_flush(t, fx->st, &err), CUT_OK);
    assert_int_equal(rows_in(fx), 2);

    struct cut_tracking_row row = window(fx, "orders", MINUTE, MINUTE, &minutes);
    assert_int_equal(minutes, 1);
    assert_int_equal(row.counts[CUT_TRACK_SEEN], 100000);
    assert_int_equal(row.counts[CUT_TRACK_DUAL], 100000);
    assert_int_equal(row.counts[CUT_TRACK_CONFIRMED_LEGACY], 100000);
    assert_int_equal(row.counts[CUT_TRACK_CONFIRMED_KAFKA], 99000);
    assert_int_equal(row.counts[CUT_TRACK_CONFIRMED_BOTH], 99000);
    assert_int_equal(row.counts[CUT_TRACK_FAILED_KAFKA], 1000);
    assert_int_equal(row.counts[CUT_TRACK_LEDGERED], 1000);
    assert_int_equal(row.counts[CUT_TRACK_FILTERED], 0);
    assert_memory_equal(row.lat[CUT_SIDE_KAFKA], want_buckets, sizeof(want_buckets));
    uint64_t none[CUT_LAT_BUCKETS] = {0};
    assert_memory_equal(row.lat[CUT_SIDE_LEGACY], none, sizeof(none));
    double ratio;
    assert_true(cut_tracking_consistency(&row, &ratio));
    assert_true(ratio > 0.98999 && ratio < 0.99001);

    row = window(fx, "payments", MINUTE, MINUTE, &minutes);
    assert_int_equal(row.counts[CUT_TRACK_FILTERED], 100);
    assert_int_equal(row.counts[CUT_TRACK_SEEN], 0);

    /* A second flush in the same minute adds to the same row. */
    cut_tracking_add(t, 0, CUT_TRACK_SEEN, 5);
    assert_int_equal(cut_tracking_flush(t, fx->st, &err), CUT_OK);
    assert_int_equal(rows_in(fx), 2);
    row = window(fx, "orders", MINUTE, MINUTE, NULL);
    assert_int_equal(row.counts[CUT_TRACK_SEEN], 100005);
    cut_tracking_destroy(t);
}

static void test_events_after_a_new_minute_go_to_a_new_row(void **state)
{
    struct fx *fx = *state;
    struct cut_tracker *t = tracker(fx);
    struct cut_err err;
    size_t minutes;

    cut_tracking_add(t, 0, CUT_TRACK_SEEN, 3);
    fx->now = MINUTE + 65; /* the writer's next flush notices the new minute */
    assert_int_equal(cut_tracking_flush(t, fx->st, &err), CUT_OK);
    cut_tracking_add(t, 0, CUT_TRACK_SEEN, 4);
    fx->now = MINUTE + 185; /* a quiet minute in between is simply absent */
    assert_int_equal(cut_tracking_flush(t, fx->st, &err), CUT_OK);
    cut_tracking_add(t, 0, CUT_TRACK_SEEN, 5);
    assert_int_equal(cut_tracking_flush(t, fx->st, &err), CUT_OK);

    assert_int_equal(window(fx, "orders", MINUTE, MINUTE, NULL).counts[CUT_TRACK_SEEN], 3);
    assert_int_equal(window(fx, "orders", MINUTE + 60, MINUTE + 60, NULL).counts[CUT_TRACK_SEEN],
                     4);
    assert_int_equal(window(fx, "orders", MINUTE + 180, MINUTE + 180, NULL).counts[CUT_TRACK_SEEN],
                     5);
    struct cut_tracking_row all = window(fx, "orders", MINUTE, MINUTE + 300, &minutes);
    assert_int_equal(minutes, 3);
    assert_int_equal(all.counts[CUT_TRACK_SEEN], 12);
    double ratio;
    assert_false(cut_tracking_consistency(&all, &ratio)); /* no dual-write traffic: unknown */
    cut_tracking_destroy(t);
}

static void test_rows_the_store_refuses_wait_for_the_next_flush(void **state)
{
    struct fx *fx = *state;
    struct cut_tracker *t = tracker(fx);
    struct cut_err err;
    char *msg = NULL;

    assert_int_equal(sqlite3_exec(fx->st->db,
                                  "CREATE TRIGGER full BEFORE INSERT ON tracking "
                                  "BEGIN SELECT RAISE(ABORT, 'disk full'); END",
                                  NULL, NULL, &msg),
                     SQLITE_OK);
    cut_tracking_add(t, 0, CUT_TRACK_SEEN, 7);
    assert_int_not_equal(cut_tracking_flush(t, fx->st, &err), CUT_OK);
    cut_tracking_add(t, 0, CUT_TRACK_SEEN, 1);
    assert_int_not_equal(cut_tracking_flush(t, fx->st, &err), CUT_OK);
    assert_int_equal(sqlite3_exec(fx->st->db, "DROP TRIGGER full", NULL, NULL, &msg), SQLITE_OK);
    assert_int_equal(cut_tracking_flush(t, fx->st, &err), CUT_OK);
    assert_int_equal(rows_in(fx), 1);
    assert_int_equal(window(fx, "orders", MINUTE, MINUTE, NULL).counts[CUT_TRACK_SEEN], 8);
    assert_int_equal(cut_tracking_dropped(t), 0);
    cut_tracking_destroy(t);
}

static void test_message_path_never_calls_sqlite_while_the_writer_runs(void **state)
{
    struct fx *fx = *state;
    struct cut_tracker *t = tracker(fx);
    struct cut_err err;

    assert_int_equal(cut_tracking_start(t, fx->path, &err), CUT_OK);
    unsigned long before = atomic_load(&calls_here);
    for (uint32_t i = 0; i < 100000; i++) {
        cut_tracking_count(t, i % 2, CUT_TRACK_SEEN);
        cut_tracking_add(t, i % 2, CUT_TRACK_CONFIRMED_KAFKA, 1);
        cut_tracking_latency(t, i % 2, CUT_SIDE_LEGACY, i);
    }
    /* Out-of-range input is ignored, not a crash. */
    cut_tracking_count(t, 99, CUT_TRACK_SEEN);
    cut_tracking_count(t, 0, (enum cut_track_event)99);
    cut_tracking_latency(t, 0, (enum cut_side)5, 1);
    assert_int_equal(atomic_load(&calls_here), before);

    /* The check has teeth: the writer did reach SQLite, on its own thread. */
    assert_int_equal(cut_tracking_stop(t, &err), CUT_OK);
    assert_true(atomic_load(&calls_elsewhere) > 0);
    assert_int_equal(atomic_load(&calls_here), before);
    struct cut_tracking_row row = window(fx, "orders", MINUTE, MINUTE, NULL);
    assert_int_equal(row.counts[CUT_TRACK_SEEN], 50000);
    assert_int_equal(row.counts[CUT_TRACK_CONFIRMED_KAFKA], 50000);
    assert_int_equal(window(fx, "payments", MINUTE, MINUTE, NULL).counts[CUT_TRACK_SEEN], 50000);
    cut_tracking_destroy(t);
}

static void test_latency_buckets_cover_uint32_at_half_octaves(void **state)
{
    (void)state;
    assert_int_equal(cut_lat_bucket(0), 0);
    assert_int_equal(cut_lat_bucket(1), 1);
    assert_int_equal(cut_lat_bucket(2), 2);
    assert_int_equal(cut_lat_bucket(3), 3);
    assert_int_equal(cut_lat_bucket(4), 4);
    assert_int_equal(cut_lat_bucket(5), 4);
    assert_int_equal(cut_lat_bucket(6), 5);
    assert_int_equal(cut_lat_bucket(1000), 19); /* [768, 1024) */
    assert_int_equal(cut_lat_bucket(UINT32_MAX), CUT_LAT_BUCKETS - 1);
    for (unsigned b = 0; b < CUT_LAT_BUCKETS; b++) {
        uint64_t low = cut_lat_bucket_low(b);
        assert_int_equal(cut_lat_bucket((uint32_t)low), b);
        if (b > 0) {
            assert_int_equal(cut_lat_bucket((uint32_t)(low - 1)), b - 1);
        }
    }

    uint64_t h[CUT_LAT_BUCKETS] = {0};
    double q;
    assert_false(cut_lat_quantile(h, 0.5, &q));
    h[cut_lat_bucket(1000)] = 99;  /* 99 around 1 ms */
    h[cut_lat_bucket(100000)] = 1; /* one around 100 ms */
    assert_true(cut_lat_quantile(h, 0.5, &q));
    assert_true(q >= 768 && q < 1024);
    assert_true(cut_lat_quantile(h, 0.999, &q));
    assert_true(q >= 98304 && q < 131072);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_100k_events_make_one_row_per_flow_and_minute),
        T(test_events_after_a_new_minute_go_to_a_new_row),
        T(test_rows_the_store_refuses_wait_for_the_next_flush),
        T(test_message_path_never_calls_sqlite_while_the_writer_runs),
        cmocka_unit_test(test_latency_buckets_cover_uint32_at_half_octaves),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
