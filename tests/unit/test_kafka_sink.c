/*
 * The Kafka sink against librdkafka's mock cluster: confirmations carry the
 * right tokens and statuses, nothing is ever confirmed CUT_OK that Kafka did
 * not acknowledge, back-pressure never drops, and configuration errors name
 * the property without showing secrets.
 *
 * Each test gets its own mock cluster (one broker, topics "orders" and
 * "audit" with one partition), so injected errors do not leak between tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cutover/connector.h"
#include "cutover/log.h"
#include "kafka.h"

#define TOPIC        "orders"
#define OTHER_TOPIC  "audit"
#define MAX_CONFIRMS 1024
#define MAX_KV       16
#define WAIT_MS      10000
#define PRODUCE_API  0 /* Kafka protocol ApiKey of ProduceRequest */

struct confirms {
    size_t n;
    cut_token_t token[MAX_CONFIRMS];
    int status[MAX_CONFIRMS];
    size_t n_ok, n_retry, n_inval;
    char last_msg[CUT_ERR_MSG_MAX];
};

struct fixture {
    rd_kafka_t *mrk; /* hosts the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    struct cut_kv global_items[MAX_KV];
    struct cut_kv prop_items[MAX_KV];
    struct cut_kv_list global;
    struct cut_kafka_sink_settings settings;
    struct cut_sink_params params;
    struct cut_sink *sink;
    struct confirms c;
};

static const struct cut_sink_ops *ops(void)
{
    return cut_kafka_connector.sink;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_confirm(void *opaque, cut_token_t token, int status, const struct cut_err *err)
{
    struct confirms *c = opaque;
    assert_true(c->n < MAX_CONFIRMS);
    assert_non_null(err);
    c->token[c->n] = token;
    c->status[c->n] = status;
    c->n++;
    if (status == CUT_OK) {
        c->n_ok++;
    } else if (status == CUT_ERETRY) {
        c->n_retry++;
    } else if (status == CUT_EINVAL) {
        c->n_inval++;
    } else {
        fail_msg("unexpected confirm status %s", cut_status_name(status));
    }
    snprintf(c->last_msg, sizeof(c->last_msg), "%s", err->msg);
}

static void quiet_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf;
}

static void kv_add(struct cut_kv_list *list, struct cut_kv *items, const char *key,
                   const char *value, int line)
{
    assert_true(list->n < MAX_KV);
    list->items = items;
    items[list->n++] = (struct cut_kv){.key = (char *)key, .value = (char *)value, .line = line};
}

static void global_add(struct fixture *f, const char *key, const char *value)
{
    kv_add(&f->global, f->global_items, key, value, 0);
}

static void prop_add(struct fixture *f, const char *key, const char *value, int line)
{
    kv_add(&f->settings.properties, f->prop_items, key, value, line);
}

static int setup(void **state)
{
    char errstr[256];
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    f->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(f->mrk);
    f->mcluster = rd_kafka_mock_cluster_new(f->mrk, 1);
    assert_non_null(f->mcluster);
    assert_int_equal(rd_kafka_mock_topic_create(f->mcluster, TOPIC, 1, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->mcluster, OTHER_TOPIC, 1, 1), 0);

    global_add(f, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(f->mcluster));
    f->settings.topic = TOPIC;
    f->settings.max_in_flight = CUT_KAFKA_WINDOW_DEFAULT;
    f->params = (struct cut_sink_params){
        .flow = "test",
        .conn_settings = &f->global,
        .settings = &f->settings,
        .confirm = on_confirm,
        .opaque = &f->c,
    };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    ops()->destroy(f->sink);
    rd_kafka_mock_cluster_destroy(f->mcluster);
    rd_kafka_destroy(f->mrk);
    free(f);
    return 0;
}

static void open_sink(struct fixture *f)
{
    struct cut_err err = {0};
    int rc = ops()->create(&f->sink, &f->params, &err);
    if (rc != CUT_OK) {
        fail_msg("create: %s: %s", cut_status_name(rc), err.msg);
    }
    assert_non_null(f->sink);
}

/* Send one record with a key, a value and two headers (one of them null). */
static int send_one(struct fixture *f, cut_token_t token, const char *dest, struct cut_err *err)
{
    char key[32], value[64], id[32];
    snprintf(key, sizeof(key), "k%llu", (unsigned long long)token);
    snprintf(value, sizeof(value), "<order id=\"%llu\"/>", (unsigned long long)token);
    snprintf(id, sizeof(id), "id-%llu", (unsigned long long)token);
    const char *names[] = {"cutover-id", "x-empty"};
    const void *values[] = {id, NULL};
    size_t lens[] = {strlen(id), 0};
    struct cut_record rec = {
        .dest = dest,
        .key = key,
        .key_len = strlen(key),
        .value = value,
        .value_len = strlen(value),
        .hdr_names = names,
        .hdr_values = values,
        .hdr_lens = lens,
        .n_hdrs = 2,
    };
    return ops()->send(f->sink, NULL, &rec, token, err);
}

static void send_ok(struct fixture *f, cut_token_t token)
{
    struct cut_err err = {0};
    int rc = send_one(f, token, NULL, &err);
    if (rc != CUT_OK) {
        fail_msg("send %llu: %s: %s", (unsigned long long)token, cut_status_name(rc), err.msg);
    }
}

/* Serve the sink until @p n confirmations in all have arrived. */
static void wait_confirms(struct fixture *f, size_t n)
{
    int64_t deadline = now_ms() + WAIT_MS;
    while (f->c.n < n && now_ms() < deadline) {
        ops()->poll(f->sink, 50);
    }
    if (f->c.n < n) {
        fail_msg("only %zu of %zu confirmations within %d ms", f->c.n, n, WAIT_MS);
    }
}

/* A first message through, so the producer has its id and the metadata. */
static void warm_up(struct fixture *f)
{
    send_ok(f, 1);
    wait_confirms(f, 1);
    assert_int_equal(f->c.status[0], CUT_OK);
    memset(&f->c, 0, sizeof(f->c));
}

/* ---- the happy path ------------------------------------------------------- */

static void test_every_send_is_confirmed_ok_with_its_token(void **state)
{
    struct fixture *f = *state;
    enum { N = 300 };
    bool seen[N] = {false};

    open_sink(f);
    assert_int_equal(ops()->state(f->sink), CUT_CONN_CONNECTING);
    for (int i = 0; i < N; i++) {
        send_ok(f, 1000 + (cut_token_t)i);
    }
    assert_int_equal(ops()->in_flight(f->sink), N);
    wait_confirms(f, N);

    assert_int_equal(f->c.n, N);
    assert_int_equal(f->c.n_ok, N);
    for (size_t i = 0; i < f->c.n; i++) {
        cut_token_t t = f->c.token[i];
        assert_true(t >= 1000 && t < 1000 + N);
        assert_false(seen[t - 1000]);
        seen[t - 1000] = true;
    }
    assert_int_equal(ops()->in_flight(f->sink), 0);
    assert_int_equal(ops()->state(f->sink), CUT_CONN_UP);
    struct cut_err err = {0};
    assert_int_equal(ops()->flush(f->sink, 1000, &err), CUT_OK);
}

static void assert_record(rd_kafka_message_t *m, cut_token_t token)
{
    char want[64];
    rd_kafka_headers_t *hdrs = NULL;
    const void *val;
    size_t size;

    snprintf(want, sizeof(want), "k%llu", (unsigned long long)token);
    assert_int_equal(m->key_len, strlen(want));
    assert_memory_equal(m->key, want, m->key_len);
    snprintf(want, sizeof(want), "<order id=\"%llu\"/>", (unsigned long long)token);
    assert_int_equal(m->len, strlen(want));
    assert_memory_equal(m->payload, want, m->len);

    assert_int_equal(rd_kafka_message_headers(m, &hdrs), 0);
    assert_int_equal(rd_kafka_header_cnt(hdrs), 2);
    assert_int_equal(rd_kafka_header_get_last(hdrs, "cutover-id", &val, &size), 0);
    snprintf(want, sizeof(want), "id-%llu", (unsigned long long)token);
    assert_int_equal(size, strlen(want));
    assert_memory_equal(val, want, size);
    assert_int_equal(rd_kafka_header_get_last(hdrs, "x-empty", &val, &size), 0);
    assert_null(val);
}

/* Read @p n messages of @p topic partition 0 back with a plain consumer and
 * check that they are the records of tokens @p first, @p first + 1, ... */
static void consume(struct fixture *f, const char *topic, cut_token_t first, int n)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers",
                                       rd_kafka_mock_cluster_bootstraps(f->mcluster), errstr,
                                       sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", "verify", errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    rd_kafka_conf_set_log_cb(conf, quiet_log);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(rk, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);

    int got = 0;
    int64_t deadline = now_ms() + WAIT_MS;
    while (got < n && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) {
            continue;
        }
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        /* Checked at once: a consumer is not destroyed while it has messages out. */
        assert_record(m, first + (cut_token_t)got++);
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    assert_int_equal(got, n);
}

static void test_key_value_and_headers_reach_the_topic(void **state)
{
    struct fixture *f = *state;
    struct cut_err err = {0};

    open_sink(f);
    for (cut_token_t t = 1; t <= 3; t++) {
        send_ok(f, t);
    }
    /* A record may name its own topic. */
    assert_int_equal(send_one(f, 4, OTHER_TOPIC, &err), CUT_OK);
    wait_confirms(f, 4);
    assert_int_equal(f->c.n_ok, 4);

    consume(f, TOPIC, 1, 3);
    consume(f, OTHER_TOPIC, 4, 1);
}

static void test_fd_is_readable_when_reports_wait(void **state)
{
    struct fixture *f = *state;

    open_sink(f);
    warm_up(f);
    int fd = ops()->fd(f->sink);
    assert_true(fd >= 0);
    ops()->poll(f->sink, 0);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 0);

    send_ok(f, 7);
    assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
    assert_true(pfd.revents & POLLIN);
    /* Readable, but nothing is confirmed until the owner polls. */
    assert_int_equal(f->c.n, 0);
    int64_t deadline = now_ms() + WAIT_MS;
    while (f->c.n == 0 && now_ms() < deadline) {
        ops()->poll(f->sink, 0);
        poll(&pfd, 1, 100);
    }
    assert_int_equal(f->c.n, 1);
    assert_int_equal(f->c.token[0], 7);
    assert_int_equal(f->c.status[0], CUT_OK);
}

static void test_state_is_up_once_the_cluster_answers_without_traffic(void **state)
{
    struct fixture *f = *state;

    open_sink(f);
    int64_t deadline = now_ms() + WAIT_MS;
    while (ops()->state(f->sink) != CUT_CONN_UP && now_ms() < deadline) {
        ops()->poll(f->sink, 50);
    }
    assert_int_equal(ops()->state(f->sink), CUT_CONN_UP);
    assert_int_equal(f->c.n, 0);
}

/* ---- failures never become CUT_OK ----------------------------------------- */

static void test_retriable_errors_past_message_timeout_confirm_retry(void **state)
{
    struct fixture *f = *state;
    rd_kafka_resp_err_t errs[200];

    prop_add(f, "message.timeout.ms", "1500", 1);
    prop_add(f, "retry.backoff.ms", "20", 2);
    open_sink(f);
    warm_up(f);
    for (size_t i = 0; i < 200; i++) {
        errs[i] = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS;
    }
    rd_kafka_mock_push_request_errors_array(f->mcluster, PRODUCE_API, 200, errs);
    for (cut_token_t t = 10; t < 15; t++) {
        send_ok(f, t);
    }
    wait_confirms(f, 5);
    assert_int_equal(f->c.n_ok, 0);
    assert_int_equal(f->c.n_retry, 5);
    assert_int_equal(ops()->in_flight(f->sink), 0);
}

static void test_broker_down_past_message_timeout_confirms_retry(void **state)
{
    struct fixture *f = *state;

    prop_add(f, "message.timeout.ms", "1000", 1);
    rd_kafka_mock_broker_set_down(f->mcluster, 1);
    open_sink(f);
    for (cut_token_t t = 1; t <= 3; t++) {
        send_ok(f, t);
    }
    wait_confirms(f, 3);
    assert_int_equal(f->c.n_ok, 0);
    assert_int_equal(f->c.n_retry, 3);
    assert_int_not_equal(ops()->state(f->sink), CUT_CONN_UP);
}

static void test_message_refused_alone_is_einval(void **state)
{
    struct fixture *f = *state;

    open_sink(f);
    warm_up(f);
    rd_kafka_mock_push_request_errors(f->mcluster, PRODUCE_API, 1,
                                      RD_KAFKA_RESP_ERR_INVALID_RECORD);
    send_ok(f, 20);
    wait_confirms(f, 1);
    assert_int_equal(f->c.token[0], 20);
    assert_int_equal(f->c.status[0], CUT_EINVAL);
    assert_non_null(strstr(f->c.last_msg, "refused the message"));

    /* The producer goes on. */
    send_ok(f, 21);
    wait_confirms(f, 2);
    assert_int_equal(f->c.token[1], 21);
    assert_int_equal(f->c.status[1], CUT_OK);
}

static void test_batch_refused_by_broker_is_retried_not_rejected(void **state)
{
    struct fixture *f = *state;

    /* A long linger puts the five sends into one produce request. */
    prop_add(f, "linger.ms", "300", 1);
    open_sink(f);
    warm_up(f);
    rd_kafka_mock_push_request_errors(f->mcluster, PRODUCE_API, 1,
                                      RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    for (cut_token_t t = 30; t < 35; t++) {
        send_ok(f, t);
    }
    wait_confirms(f, 5);
    assert_int_equal(f->c.n_ok, 0);
    assert_int_equal(f->c.n_inval, 0);
    assert_int_equal(f->c.n_retry, 5);
    assert_non_null(strstr(f->c.last_msg, "batch of 5"));

    send_ok(f, 35);
    wait_confirms(f, 6);
    assert_int_equal(f->c.status[5], CUT_OK);
}

static void test_oversized_message_is_refused_at_send(void **state)
{
    struct fixture *f = *state;
    struct cut_err err = {0};
    static char big[4096];

    prop_add(f, "message.max.bytes", "1000", 1);
    open_sink(f);
    struct cut_record rec = {.value = big, .value_len = sizeof(big)};
    assert_int_equal(ops()->send(f->sink, NULL, &rec, 1, &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "message.max.bytes"));
    assert_int_equal(ops()->in_flight(f->sink), 0);
}

static void test_missing_record_topic_is_einval_missing_flow_topic_is_retry(void **state)
{
    struct fixture *f = *state;
    struct cut_err err = {0};

    rd_kafka_mock_topic_set_error(f->mcluster, "nope", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    rd_kafka_mock_topic_set_error(f->mcluster, "gone", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    f->settings.topic = "gone";
    prop_add(f, "topic.metadata.propagation.max.ms", "10", 1);
    prop_add(f, "allow.auto.create.topics", "false", 2);
    open_sink(f);

    /* First sends wait for metadata, then fail in the delivery report. */
    assert_int_equal(send_one(f, 1, "nope", &err), CUT_OK);
    assert_int_equal(send_one(f, 2, NULL, &err), CUT_OK);
    wait_confirms(f, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(f->c.status[i], f->c.token[i] == 1 ? CUT_EINVAL : CUT_ERETRY);
    }
    /* Now librdkafka knows: refused at once, with the same classification. */
    assert_int_equal(send_one(f, 3, "nope", &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "nope"));
    assert_int_equal(send_one(f, 4, NULL, &err), CUT_ERETRY);
    assert_non_null(strstr(err.msg, "\"gone\" (the flow's topic)"));
    assert_int_equal(ops()->in_flight(f->sink), 0);
}

/* ---- back-pressure and shutdown ------------------------------------------- */

static void test_window_full_returns_efull(void **state)
{
    struct fixture *f = *state;
    struct cut_err err = {0};

    rd_kafka_mock_broker_set_down(f->mcluster, 1);
    f->settings.max_in_flight = 3;
    open_sink(f);
    for (cut_token_t t = 1; t <= 3; t++) {
        send_ok(f, t);
    }
    assert_int_equal(send_one(f, 4, NULL, &err), CUT_EFULL);
    assert_non_null(strstr(err.msg, "window"));
    assert_int_equal(ops()->in_flight(f->sink), 3);
}

static void test_librdkafka_queue_full_returns_efull(void **state)
{
    struct fixture *f = *state;
    struct cut_err err = {0};

    rd_kafka_mock_broker_set_down(f->mcluster, 1);
    prop_add(f, "queue.buffering.max.messages", "2", 1);
    open_sink(f);
    send_ok(f, 1);
    send_ok(f, 2);
    assert_int_equal(send_one(f, 3, NULL, &err), CUT_EFULL);
    assert_non_null(strstr(err.msg, "queue full"));
    assert_int_equal(ops()->in_flight(f->sink), 2);
}

static void test_destroy_reports_queued_messages_as_retry(void **state)
{
    struct fixture *f = *state;

    rd_kafka_mock_broker_set_down(f->mcluster, 1);
    open_sink(f);
    for (cut_token_t t = 1; t <= 5; t++) {
        send_ok(f, t);
    }
    ops()->destroy(f->sink);
    f->sink = NULL;
    assert_int_equal(f->c.n, 5);
    assert_int_equal(f->c.n_retry, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_true(f->c.token[i] >= 1 && f->c.token[i] <= 5);
    }
}

static void test_destroy_reports_in_flight_messages_as_retry(void **state)
{
    struct fixture *f = *state;

    open_sink(f);
    warm_up(f);
    /* Responses held back far longer than destroy's flush bound. */
    rd_kafka_mock_broker_set_rtt(f->mcluster, 1, 8000);
    for (cut_token_t t = 1; t <= 4; t++) {
        send_ok(f, t);
    }
    ops()->poll(f->sink, 200);
    ops()->destroy(f->sink);
    f->sink = NULL;
    assert_int_equal(f->c.n, 4);
    assert_int_equal(f->c.n_ok, 0);
    assert_int_equal(f->c.n_retry, 4);
}

static void test_flush_reports_unconfirmed_as_eretry(void **state)
{
    struct fixture *f = *state;
    struct cut_err err = {0};

    rd_kafka_mock_broker_set_down(f->mcluster, 1);
    open_sink(f);
    send_ok(f, 1);
    assert_int_equal(ops()->flush(f->sink, 200, &err), CUT_ERETRY);
    assert_non_null(strstr(err.msg, "1 messages still unconfirmed"));
    assert_int_equal(f->c.n, 0);
}

static void test_fatal_error_goes_down_then_rebuilds(void **state)
{
    struct fixture *f = *state;
    struct cut_err err = {0};

    open_sink(f);
    warm_up(f);
    rd_kafka_mock_broker_set_rtt(f->mcluster, 1, 3000);
    for (cut_token_t t = 1; t <= 3; t++) {
        send_ok(f, t);
    }
    assert_int_equal(rd_kafka_test_fatal_error(cut_kafka_sink_handle(f->sink),
                                               RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                                               "fenced in a test"),
                     0);
    wait_confirms(f, 3);
    assert_int_equal(f->c.n_retry, 3);
    assert_int_equal(ops()->state(f->sink), CUT_CONN_DOWN);
    assert_int_equal(send_one(f, 9, NULL, &err), CUT_EFATAL);

    /* After the backoff the sink builds a new producer by itself. */
    rd_kafka_mock_broker_set_rtt(f->mcluster, 1, 0);
    int rc = CUT_EFATAL;
    int64_t deadline = now_ms() + WAIT_MS;
    while (rc == CUT_EFATAL && now_ms() < deadline) {
        ops()->poll(f->sink, 50);
        rc = send_one(f, 10, NULL, &err);
    }
    assert_int_equal(rc, CUT_OK);
    wait_confirms(f, 4);
    assert_int_equal(f->c.token[3], 10);
    assert_int_equal(f->c.status[3], CUT_OK);
    assert_int_equal(ops()->state(f->sink), CUT_CONN_UP);
}

/* ---- configuration -------------------------------------------------------- */

static void assert_create_fails(struct fixture *f, const char *needle)
{
    struct cut_err err = {0};
    assert_int_equal(ops()->create(&f->sink, &f->params, &err), CUT_EINVAL);
    assert_null(f->sink);
    if (strstr(err.msg, needle) == NULL) {
        fail_msg("\"%s\" not in \"%s\"", needle, err.msg);
    }
}

static void test_unknown_property_is_einval_naming_it_and_its_line(void **state)
{
    struct fixture *f = *state;
    prop_add(f, "no.such.property", "1", 7);
    assert_create_fails(f, "\"no.such.property\" (line 7)");
    assert_create_fails(f, "flows.test.kafka.properties");
}

static void test_bad_global_value_names_the_property(void **state)
{
    struct fixture *f = *state;
    global_add(f, "acks", "bogus");
    assert_create_fails(f, "\"acks\"");
}

static void test_flow_properties_override_global_ones_and_defaults(void **state)
{
    struct fixture *f = *state;
    global_add(f, "linger.ms", "50");
    global_add(f, "compression.type", "lz4");
    prop_add(f, "linger.ms", "7", 1);
    rd_kafka_conf_t *conf = NULL;
    struct cut_err err = {0};
    assert_int_equal(
        cut_kafka_conf_build(&conf, &f->global, &f->settings.properties, 10, "t", &err), CUT_OK);
    char buf[32];
    size_t size = sizeof(buf);
    assert_int_equal(rd_kafka_conf_get(conf, "linger.ms", buf, &size), RD_KAFKA_CONF_OK);
    assert_string_equal(buf, "7");
    size = sizeof(buf);
    assert_int_equal(rd_kafka_conf_get(conf, "queue.buffering.max.messages", buf, &size), 0);
    assert_string_equal(buf, "10");
    size = sizeof(buf);
    assert_int_equal(rd_kafka_conf_get(conf, "enable.idempotence", buf, &size), 0);
    assert_string_equal(buf, "true");
    size = sizeof(buf);
    assert_int_equal(rd_kafka_conf_get(conf, "compression.type", buf, &size), 0);
    assert_string_equal(buf, "lz4");
    rd_kafka_conf_destroy(conf);
}

static void test_contract_breaking_properties_are_refused(void **state)
{
    struct fixture *f = *state;
    size_t base = f->settings.properties.n;

    prop_add(f, "acks", "0", 1);
    assert_create_fails(f, "acks");
    f->settings.properties.n = base;
    prop_add(f, "delivery.report.only.error", "true", 1);
    assert_create_fails(f, "delivery.report.only.error");
    f->settings.properties.n = base;
    prop_add(f, "transactional.id", "tx", 1);
    assert_create_fails(f, "transactional.id");
    f->settings.properties.n = base;
    f->global.n = 0;
    assert_create_fails(f, "bootstrap.servers");
}

struct dump {
    char text[65536];
    size_t len;
};

static void dump_emit(void *opaque, const char *name, const char *value)
{
    struct dump *d = opaque;
    int n = snprintf(d->text + d->len, sizeof(d->text) - d->len, "%s=%s\n", name, value);
    if (n > 0 && d->len + (size_t)n < sizeof(d->text)) {
        d->len += (size_t)n;
    }
}

static void test_secrets_never_appear_in_errors_or_dumps(void **state)
{
    struct fixture *f = *state;
    struct cut_err err = {0};

    global_add(f, "sasl.password", "hunter2");
    global_add(f, "ssl.key.password", "hunter3");
    global_add(f, "security.protocol", "bogus");
    assert_int_equal(ops()->create(&f->sink, &f->params, &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "security.protocol"));
    assert_null(strstr(err.msg, "hunter"));

    f->global.n--;
    rd_kafka_conf_t *conf = NULL;
    assert_int_equal(cut_kafka_conf_build(&conf, &f->global, NULL, 10, "t", &err), CUT_OK);
    struct dump *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    cut_kafka_conf_dump(conf, dump_emit, d);
    assert_null(strstr(d->text, "hunter"));
    assert_non_null(strstr(d->text, "sasl.password=***\n"));
    assert_non_null(strstr(d->text, "ssl.key.password=***\n"));
    assert_non_null(strstr(d->text, "enable.idempotence=true\n"));
    /* Topic-level properties are part of the dump too. */
    assert_non_null(strstr(d->text, "request.required.acks=-1\n"));
    free(d);
    rd_kafka_conf_destroy(conf);

    assert_true(cut_kafka_prop_is_secret("sasl.oauthbearer.client.secret"));
    assert_true(cut_kafka_prop_is_secret("ssl.key.pem"));
    assert_false(cut_kafka_prop_is_secret("sasl.username"));
}

static void test_max_in_flight_out_of_range_is_refused(void **state)
{
    struct fixture *f = *state;
    f->settings.max_in_flight = 0;
    assert_create_fails(f, "max_in_flight");
    f->settings.max_in_flight = CUT_KAFKA_WINDOW_MAX + 1;
    assert_create_fails(f, "max_in_flight");
}

/* ---- classification ------------------------------------------------------- */

static void test_classification_table(void **state)
{
    (void)state;
    const rd_kafka_msg_status_t np = RD_KAFKA_MSG_STATUS_NOT_PERSISTED;
    const rd_kafka_msg_status_t pp = RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED;

    assert_int_equal(cut_kafka_classify(0, RD_KAFKA_MSG_STATUS_PERSISTED, true, true), CUT_OK);
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, np, true, true),
                     CUT_ERETRY);
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, pp, true, true),
                     CUT_ERETRY);
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR__PURGE_INFLIGHT, pp, true, true),
                     CUT_ERETRY);
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR__FATAL, np, true, true), CUT_ERETRY);
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, np, true, true),
                     CUT_ERETRY);
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, np, true, true),
                     CUT_EINVAL);
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, np, true, false),
                     CUT_ERETRY);
    /* Possibly written beats "permanent": resend rather than dead-letter. */
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR_INVALID_RECORD, pp, true, true),
                     CUT_ERETRY);
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP, np, true, true),
                     CUT_ERETRY);
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, np, true, true),
                     CUT_ERETRY);
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, np, false, true),
                     CUT_EINVAL);
    assert_int_equal(
        cut_kafka_classify(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, np, true, true),
        CUT_ERETRY);
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, np, false, true),
                     CUT_ERETRY);
    assert_int_equal(cut_kafka_classify(RD_KAFKA_RESP_ERR_UNKNOWN, np, true, true), CUT_ERETRY);
}

static void test_connector_entry(void **state)
{
    (void)state;
    assert_string_equal(cut_kafka_connector.protocol, "kafka");
    assert_null(cut_kafka_connector.conn_keys);
    assert_null(cut_kafka_connector.source);
    assert_non_null(cut_kafka_connector.sink);
    assert_int_equal(cut_kafka_connector.sink_size, sizeof(struct cut_kafka_sink_settings));
    const struct cut_cfg_key *k = cut_kafka_connector.sink_keys;
    assert_string_equal(k[0].name, "topic");
    assert_true(k[0].required);
    assert_string_equal(k[1].name, "properties");
    assert_int_equal(k[1].type, CUT_CFG_PROPS);
    assert_string_equal(k[2].name, "max_in_flight");
    assert_string_equal(k[2].def, "10000");
    assert_null(k[3].name);
}

int main(void)
{
    cut_log_set_level(CUT_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classification_table),
        cmocka_unit_test(test_connector_entry),
        cmocka_unit_test_setup_teardown(test_every_send_is_confirmed_ok_with_its_token, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_key_value_and_headers_reach_the_topic, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fd_is_readable_when_reports_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_is_up_once_the_cluster_answers_without_traffic,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_retriable_errors_past_message_timeout_confirm_retry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_down_past_message_timeout_confirms_retry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_message_refused_alone_is_einval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_refused_by_broker_is_retried_not_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_oversized_message_is_refused_at_send, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_missing_record_topic_is_einval_missing_flow_topic_is_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_full_returns_efull, setup, teardown),
        cmocka_unit_test_setup_teardown(test_librdkafka_queue_full_returns_efull, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_reports_queued_messages_as_retry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_destroy_reports_in_flight_messages_as_retry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_flush_reports_unconfirmed_as_eretry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fatal_error_goes_down_then_rebuilds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_property_is_einval_naming_it_and_its_line,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_global_value_names_the_property, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flow_properties_override_global_ones_and_defaults,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_contract_breaking_properties_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_secrets_never_appear_in_errors_or_dumps, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_max_in_flight_out_of_range_is_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
