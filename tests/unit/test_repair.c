/*
 * Repair (bridge/repair.c) on a real store: Kafka entries replayed through
 * the real Kafka sink into librdkafka's mock cluster, with the ids already
 * on the topic found by the presence scan and never sent twice; the legacy
 * side through a scripted sink (refusals, silence); dry runs that change
 * nothing; undecodable envelopes; the tracking counts that bring the
 * consistency back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cutover/msgcodec.h"
#include "kafka.h"
#include "readback.h"
#include "repair.h"

#define TOPIC "orders"

/* ---- a scripted legacy sink ----------------------------------------------- */

#define MAX_SENT 64
struct cut_sink {
    struct cut_sink_params params;
    cut_token_t queue[MAX_SENT];
    int status[MAX_SENT];
    size_t n;
};

static char sent_ids[MAX_SENT][64];
static size_t n_sent;
static const char *refuse_id; /* refused for good at send() */
static const char *silent_id; /* never confirmed */

static int fake_create(struct cut_sink **sink, const struct cut_sink_params *params,
                       struct cut_err *err)
{
    (void)err;
    *sink = calloc(1, sizeof(**sink));
    (*sink)->params = *params;
    return CUT_OK;
}

static int fake_send(struct cut_sink *sink, const struct cut_msg *msg, const struct cut_record *rec,
                     cut_token_t token, struct cut_err *err)
{
    assert_null(rec); /* the legacy side gets the envelope itself */
    if (refuse_id != NULL && strcmp(msg->message_id, refuse_id) == 0) {
        return cut_err_set(err, CUT_EINVAL, "refused by the test");
    }
    snprintf(sent_ids[n_sent++], sizeof(sent_ids[0]), "%s", msg->message_id);
    if (silent_id == NULL || strcmp(msg->message_id, silent_id) != 0) {
        sink->queue[sink->n++] = token;
    }
    return CUT_OK;
}

static int fake_poll(struct cut_sink *sink, int timeout_ms)
{
    int n = (int)sink->n;
    (void)timeout_ms;
    for (size_t i = 0; i < sink->n; i++) {
        sink->params.confirm(sink->params.opaque, sink->queue[i], CUT_OK, NULL);
    }
    sink->n = 0;
    return n;
}

static int fake_fd(struct cut_sink *sink)
{
    (void)sink;
    return -1;
}

static size_t fake_in_flight(struct cut_sink *sink)
{
    return sink->n;
}

static int fake_flush(struct cut_sink *sink, int timeout_ms, struct cut_err *err)
{
    (void)err;
    fake_poll(sink, timeout_ms);
    return CUT_OK;
}

static enum cut_conn_state fake_state(struct cut_sink *sink)
{
    (void)sink;
    return CUT_CONN_UP;
}

static void fake_destroy(struct cut_sink *sink)
{
    free(sink);
}

static const struct cut_sink_ops fake_legacy = {
    .create = fake_create,
    .send = fake_send,
    .poll = fake_poll,
    .fd = fake_fd,
    .in_flight = fake_in_flight,
    .flush = fake_flush,
    .state = fake_state,
    .destroy = fake_destroy,
};

/* ---- fixture ---------------------------------------------------------------- */

struct fx {
    char dir[64];
    char path[96];
    struct cut_store *st;
    rd_kafka_t *mrk;
    rd_kafka_mock_cluster_t *mcluster;
    struct cut_kv global_items[1];
    struct cut_kv_list global;
    struct cut_kafka_sink_settings ks;
    const char *topics[1];
    struct cut_repair_options o;
};

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;
    (void)fac;
    (void)buf;
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct cut_err err;
    char errstr[256];
    strcpy(fx->dir, "/tmp/cutover_repair_XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/state.db", fx->dir);
    if (cut_store_open(&fx->st, fx->path, 0, &err) != CUT_OK) {
        return -1;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    fx->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    fx->mcluster = rd_kafka_mock_cluster_new(fx->mrk, 1);
    rd_kafka_mock_topic_create(fx->mcluster, TOPIC, 2, 1);
    fx->global_items[0] =
        (struct cut_kv){.key = "bootstrap.servers",
                        .value = (char *)rd_kafka_mock_cluster_bootstraps(fx->mcluster)};
    fx->global = (struct cut_kv_list){.items = fx->global_items, .n = 1};
    fx->ks = (struct cut_kafka_sink_settings){.topic = TOPIC, .max_in_flight = 1000};
    fx->topics[0] = TOPIC;
    fx->o = (struct cut_repair_options){
        .flow = "orders",
        .legacy_ops = &fake_legacy,
        .kafka_ops = cut_kafka_connector.sink,
        .kafka_conn_settings = &fx->global,
        .kafka_settings = &fx->ks,
        .kafka_global = &fx->global,
        .topics = fx->topics,
        .n_topics = 1,
        /* The mock cluster does not look offsets up by time: scan it all. */
        .scan_margin_ms = INT64_MAX / 2,
        .scan_timeout_ms = 20000,
        .confirm_timeout_ms = 20000,
    };
    n_sent = 0;
    refuse_id = silent_id = NULL;
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
    rd_kafka_mock_cluster_destroy(fx->mcluster);
    rd_kafka_destroy(fx->mrk);
    free(fx);
    return 0;
}

/* A ledger entry as the router writes it: the whole envelope in headers. */
static void ledger(struct fx *fx, enum cut_side side, const char *id)
{
    struct cut_msg msg;
    struct cut_buf buf = {0};
    struct cut_err err;
    char body[64];
    cut_msg_init(&msg);
    snprintf(body, sizeof(body), "body of %s", id);
    msg.message_id = id;
    msg.body = body;
    msg.body_len = strlen(body);
    msg.body_kind = CUT_BODY_TEXT;
    assert_int_equal(cut_msg_encode(&msg, &buf), CUT_OK);
    struct cut_ledger_entry e = {.flow = "orders",
                                 .side = side,
                                 .message_id = id,
                                 .reason = "kafka write failed or timed out",
                                 .headers = buf.data,
                                 .headers_len = buf.len};
    assert_int_equal(cut_store_ledger_add_batch(fx->st, &e, 1, &err), CUT_OK);
    cut_buf_fini(&buf);
}

/* Put @p id on the topic, as a write that "failed" but landed would. */
static void produce(struct fx *fx, const char *id)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    rd_kafka_conf_set(conf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(fx->mcluster),
                      errstr, sizeof(errstr));
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_VALUE("x", 1),
                                       RD_KAFKA_V_HEADER("message_id", id, (ssize_t)strlen(id)),
                                       RD_KAFKA_V_END),
                     0);
    assert_int_equal(rd_kafka_flush(p, 10000), 0);
    rd_kafka_destroy(p);
}

struct seen {
    char ids[64][32];
    int n;
};

static void seen_cb(void *opaque, const char *topic, const void *id, size_t len)
{
    struct seen *s = opaque;
    (void)topic;
    snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%.*s", (int)len, (const char *)id);
}

static int times_on_topic(const struct seen *s, const char *id)
{
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        n += strcmp(s->ids[i], id) == 0;
    }
    return n;
}

static uint64_t open_entries(struct fx *fx)
{
    uint64_t n = 0;
    struct cut_err err;
    assert_int_equal(cut_store_ledger_count(fx->st, "orders", NULL, &n, &err), CUT_OK);
    return n;
}

static void test_kafka_entries_are_replayed_once_and_present_ones_not_resent(void **state)
{
    struct fx *fx = *state;
    struct cut_repair_result res;
    struct cut_err err;
    produce(fx, "m-1");
    produce(fx, "m-2");
    for (int i = 1; i <= 5; i++) {
        char id[16];
        snprintf(id, sizeof(id), "m-%d", i);
        ledger(fx, CUT_SIDE_KAFKA, id);
    }
    ledger(fx, CUT_SIDE_KAFKA, "m-5"); /* failed twice: one send stands for both */

    assert_int_equal(cut_repair_run(fx->st, &fx->o, &res, &err), CUT_OK);
    assert_int_equal(res.open[CUT_SIDE_KAFKA], 6);
    assert_int_equal(res.replayed[CUT_SIDE_KAFKA], 3);
    assert_int_equal(res.present[CUT_SIDE_KAFKA], 3);
    assert_int_equal(res.failed[CUT_SIDE_KAFKA], 0);
    assert_int_equal(res.scanned, 2);
    assert_int_equal(open_entries(fx), 0);

    struct seen s = {0};
    uint64_t records = 0;
    assert_int_equal(
        cut_readback_scan(&fx->global, NULL, fx->topics, 1, 0, 20000, seen_cb, &s, &records, &err),
        CUT_OK);
    assert_int_equal(records, 5);
    for (int i = 1; i <= 5; i++) {
        char id[16];
        snprintf(id, sizeof(id), "m-%d", i);
        assert_int_equal(times_on_topic(&s, id), 1);
    }
    /* Every repaired entry is confirmed by Kafka and by both, in the minute
     * it was recorded: the window's consistency shows the repair. */
    struct cut_tracking_row sum;
    assert_int_equal(
        cut_store_tracking_window(fx->st, "orders", 0, INT64_MAX / 2, &sum, NULL, &err), CUT_OK);
    assert_int_equal(sum.counts[CUT_TRACK_CONFIRMED_KAFKA], 6);
    assert_int_equal(sum.counts[CUT_TRACK_CONFIRMED_BOTH], 6);

    /* Again: nothing open, nothing sent. */
    assert_int_equal(cut_repair_run(fx->st, &fx->o, &res, &err), CUT_OK);
    assert_int_equal(res.open[CUT_SIDE_KAFKA] + res.replayed[CUT_SIDE_KAFKA], 0);
}

static void test_a_dry_run_says_what_it_would_do_and_changes_nothing(void **state)
{
    struct fx *fx = *state;
    struct cut_repair_result res;
    struct cut_err err;
    char *buf = NULL;
    size_t len = 0;
    produce(fx, "m-1");
    ledger(fx, CUT_SIDE_KAFKA, "m-1");
    ledger(fx, CUT_SIDE_KAFKA, "m-2");
    ledger(fx, CUT_SIDE_LEGACY, "m-3");
    fx->o.dry_run = true;
    fx->o.out = open_memstream(&buf, &len);
    assert_int_equal(cut_repair_run(fx->st, &fx->o, &res, &err), CUT_OK);
    fclose(fx->o.out);
    assert_int_equal(res.present[CUT_SIDE_KAFKA], 1);
    assert_int_equal(res.replayed[CUT_SIDE_KAFKA], 1);
    assert_int_equal(res.replayed[CUT_SIDE_LEGACY], 1);
    assert_int_equal(open_entries(fx), 3);
    assert_int_equal(n_sent, 0);
    assert_non_null(strstr(buf, "kafka m-1 (recorded "));
    assert_non_null(strstr(buf, "): already present: already on the topic\n"));
    assert_non_null(strstr(buf, "kafka m-2 (recorded "));
    assert_non_null(strstr(buf, "legacy m-3 (recorded "));
    assert_non_null(strstr(buf, "): would replay\n"));
    free(buf);
    struct seen s = {0};
    assert_int_equal(
        cut_readback_scan(&fx->global, NULL, fx->topics, 1, 0, 20000, seen_cb, &s, NULL, &err),
        CUT_OK);
    assert_int_equal(s.n, 1);
}

static int attempts_cb(void *opaque, const struct cut_ledger_entry *e)
{
    *(int64_t *)opaque = e->attempts;
    return 0;
}

static void test_legacy_entries_are_sent_as_they_were_and_failures_stay_open(void **state)
{
    struct fx *fx = *state;
    struct cut_repair_result res;
    struct cut_err err;
    ledger(fx, CUT_SIDE_LEGACY, "l-1");
    ledger(fx, CUT_SIDE_LEGACY, "l-bad");
    ledger(fx, CUT_SIDE_LEGACY, "l-2");
    ledger(fx, CUT_SIDE_LEGACY, "l-1");
    refuse_id = "l-bad";
    fx->o.batch = 2; /* the duplicate of l-1 comes in a later batch */
    assert_int_equal(cut_repair_run(fx->st, &fx->o, &res, &err), CUT_OK);
    assert_int_equal(res.replayed[CUT_SIDE_LEGACY], 2);
    assert_int_equal(res.present[CUT_SIDE_LEGACY], 1);
    assert_int_equal(res.failed[CUT_SIDE_LEGACY], 1);
    assert_int_equal(n_sent, 2);
    assert_string_equal(sent_ids[0], "l-1");
    assert_string_equal(sent_ids[1], "l-2");
    assert_int_equal(open_entries(fx), 1);
    struct cut_ledger_query q = {.flow = "orders"};
    int64_t attempts = -1;
    assert_int_equal(cut_store_ledger_list(fx->st, &q, attempts_cb, &attempts, &err), CUT_OK);
    assert_int_equal(attempts, 1);
}

static void test_a_silent_sink_leaves_the_entry_open_after_the_timeout(void **state)
{
    struct fx *fx = *state;
    struct cut_repair_result res;
    struct cut_err err;
    ledger(fx, CUT_SIDE_LEGACY, "l-1");
    ledger(fx, CUT_SIDE_LEGACY, "l-quiet");
    silent_id = "l-quiet";
    fx->o.confirm_timeout_ms = 300;
    assert_int_equal(cut_repair_run(fx->st, &fx->o, &res, &err), CUT_OK);
    assert_int_equal(res.replayed[CUT_SIDE_LEGACY], 1);
    assert_int_equal(res.failed[CUT_SIDE_LEGACY], 1);
    assert_int_equal(open_entries(fx), 1);
}

static void test_an_undecodable_envelope_is_counted_and_left_open(void **state)
{
    struct fx *fx = *state;
    struct cut_repair_result res;
    struct cut_err err;
    struct cut_ledger_entry e = {.flow = "orders",
                                 .side = CUT_SIDE_LEGACY,
                                 .message_id = "junk",
                                 .headers = "not an envelope",
                                 .headers_len = 15};
    assert_int_equal(cut_store_ledger_add_batch(fx->st, &e, 1, &err), CUT_OK);
    assert_int_equal(cut_repair_run(fx->st, &fx->o, &res, &err), CUT_OK);
    assert_int_equal(res.undecodable, 1);
    assert_int_equal(n_sent, 0);
    assert_int_equal(open_entries(fx), 1);
}

static void test_kafka_unreachable_means_nothing_is_sent_to_it(void **state)
{
    struct fx *fx = *state;
    struct cut_repair_result res;
    struct cut_err err;
    ledger(fx, CUT_SIDE_KAFKA, "m-1");
    rd_kafka_mock_broker_set_down(fx->mcluster, 1);
    fx->o.scan_timeout_ms = 2000;
    assert_int_equal(cut_repair_run(fx->st, &fx->o, &res, &err), CUT_ERETRY);
    assert_int_equal(res.replayed[CUT_SIDE_KAFKA], 0);
    assert_int_equal(open_entries(fx), 1);
}

static void test_a_side_without_a_sink_is_skipped(void **state)
{
    struct fx *fx = *state;
    struct cut_repair_result res;
    struct cut_err err;
    ledger(fx, CUT_SIDE_LEGACY, "l-1");
    fx->o.legacy_ops = NULL;
    assert_int_equal(cut_repair_run(fx->st, &fx->o, &res, &err), CUT_OK);
    assert_int_equal(res.skipped[CUT_SIDE_LEGACY], 1);
    assert_int_equal(open_entries(fx), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_kafka_entries_are_replayed_once_and_present_ones_not_resent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_dry_run_says_what_it_would_do_and_changes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_legacy_entries_are_sent_as_they_were_and_failures_stay_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_silent_sink_leaves_the_entry_open_after_the_timeout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_undecodable_envelope_is_counted_and_left_open,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kafka_unreachable_means_nothing_is_sent_to_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_side_without_a_sink_is_skipped, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
