/*
 * The AMQP 0-9-1 sink (connectors/amqp091/amqp091_sink.c) without a broker:
 * its key table and defaults, the refusals at create() that name the
 * problem, and what it does while the broker cannot be reached (send()
 * fails fast with CUT_EFATAL, nothing is in flight, nothing is confirmed).
 * The publishing itself (confirms, returns, connection loss) is exercised
 * against the lab's RabbitMQ; its bookkeeping is in test_amqp091_confirms.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "amqp091.h"
#include "cutover/log.h"

static int confirms;

static void on_confirm(void *opaque, cut_token_t token, int status, const struct cut_err *err)
{
    (void)opaque;
    (void)token;
    (void)status;
    (void)err;
    confirms++;
}

static struct cut_amqp091_conn_settings conn = {
    .url = "amqp://guest:guest@127.0.0.1:1/%2F", /* nothing listens on port 1 */
    .heartbeat_ms = 30000,
    .connect_timeout_ms = 500,
    .reconnect_backoff_min_ms = 200,
    .reconnect_backoff_max_ms = 400,
};

static int create(const struct cut_amqp091_sink_settings *cfg, struct cut_sink **sink,
                  struct cut_err *err)
{
    struct cut_sink_params params = {.flow = "t",
                                     .conn_settings = &conn,
                                     .settings = cfg,
                                     .confirm = on_confirm,
                                     .opaque = NULL};
    return cut_amqp091_sink_ops.create(sink, &params, err);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_the_connector_offers_a_sink_with_its_keys(void **state)
{
    (void)state;
    assert_ptr_equal(cut_amqp091_connector.sink, &cut_amqp091_sink_ops);
    assert_ptr_equal(cut_amqp091_connector.sink_keys, cut_amqp091_sink_keys);
    assert_int_equal(cut_amqp091_connector.sink_size, sizeof(struct cut_amqp091_sink_settings));
}

static void test_keys_default_to_the_default_exchange_mandatory_and_a_1000_window(void **state)
{
    (void)state;
    struct cut_amqp091_sink_settings cfg;
    struct cut_cfg_errors errs = {0};
    struct cut_cfg_ctx ctx = {.file = "t.yaml", .errs = &errs};

    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(cut_cfg_apply(cut_amqp091_sink_keys, NULL, &cfg, "flows.f.legacy", NULL, &ctx),
                     0);
    assert_string_equal(cfg.exchange, "");
    assert_null(cfg.routing_key);
    assert_null(cfg.queue);
    assert_false(cfg.declare);
    assert_true(cfg.mandatory);
    assert_false(cfg.impersonate);
    assert_int_equal(cfg.max_in_flight, 1000);
    cut_cfg_release(cut_amqp091_sink_keys, &cfg);

    /* max_in_flight is bounded: 1..65535 */
    struct cut_node zero = {.kind = CUT_NODE_SCALAR, .line = 4, .scalar = "0", .plain = true};
    struct cut_node_pair pair = {.key = "max_in_flight", .key_line = 4, .value = &zero};
    struct cut_node map = {.kind = CUT_NODE_MAP, .line = 3, .pairs = &pair, .n = 1};
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(cut_cfg_apply(cut_amqp091_sink_keys, &map, &cfg, "flows.f.legacy", NULL, &ctx),
                     1);
    assert_non_null(strstr(errs.lines[0], "t.yaml:4: flows.f.legacy.max_in_flight"));
    cut_cfg_release(cut_amqp091_sink_keys, &cfg);
    cut_cfg_errors_fini(&errs);
}

static void test_create_names_what_is_wrong_with_the_target(void **state)
{
    (void)state;
    static char long_name[300];
    memset(long_name, 'q', sizeof(long_name) - 1);
    static const struct {
        struct cut_amqp091_sink_settings cfg;
        const char *says;
    } cases[] = {
        {{.exchange = "", .max_in_flight = 10}, "one of queue or routing_key is required"},
        {{.exchange = "x", .max_in_flight = 10}, "routing_key is required with exchange \"x\""},
        {{.exchange = "x", .queue = "q", .max_in_flight = 10}, "set either queue"},
        {{.exchange = "", .queue = "q", .routing_key = "r", .max_in_flight = 10},
         "set either queue"},
        {{.exchange = "x", .routing_key = "r", .declare = true, .max_in_flight = 10},
         "declare needs the default exchange"},
        {{.exchange = "", .queue = "q", .max_in_flight = 0}, "max_in_flight 0"},
        {{.exchange = "", .queue = long_name, .max_in_flight = 10}, "longer than 255"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cut_sink *sink = (struct cut_sink *)&sink; /* must be reset to NULL */
        struct cut_err err;
        assert_int_equal(create(&cases[i].cfg, &sink, &err), CUT_EINVAL);
        assert_null(sink);
        if (strstr(err.msg, cases[i].says) == NULL) {
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err.msg, cases[i].says);
        }
    }

    /* A URL error never shows the URL (it holds the password). */
    struct cut_amqp091_conn_settings saved = conn;
    struct cut_amqp091_sink_settings ok = {.exchange = "", .queue = "q", .max_in_flight = 10};
    struct cut_sink *sink;
    struct cut_err err;
    conn.url = "amqps://user:s3cret@host/";
    assert_int_equal(create(&ok, &sink, &err), CUT_EINVAL);
    assert_null(strstr(err.msg, "s3cret"));
    conn = saved;
}

static void test_an_unreachable_broker_fails_sends_fast_and_confirms_nothing(void **state)
{
    (void)state;
    struct cut_amqp091_sink_settings cfg = {.exchange = "", .queue = "q", .max_in_flight = 10};
    struct cut_sink *sink;
    struct cut_err err;
    struct cut_msg msg;

    cut_msg_init(&msg);
    msg.body = "x";
    msg.body_len = 1;
    msg.message_id = "id";
    msg.message_id_type = CUT_ID_STRING;
    confirms = 0;
    assert_int_equal(create(&cfg, &sink, &err), CUT_OK);
    assert_int_equal(cut_amqp091_sink_ops.state(sink), CUT_CONN_DOWN);
    assert_int_equal(cut_amqp091_sink_ops.fd(sink), -1);

    /* No message: refused before any connection attempt. */
    assert_int_equal(cut_amqp091_sink_ops.send(sink, NULL, NULL, 1, &err), CUT_EINVAL);

    assert_int_equal(cut_amqp091_sink_ops.send(sink, &msg, NULL, 1, &err), CUT_EFATAL);
    assert_non_null(strstr(err.msg, "TCP connect"));
    /* Backing off: the next attempt does not even try. */
    int64_t t0 = now_ms();
    assert_int_equal(cut_amqp091_sink_ops.send(sink, &msg, NULL, 1, &err), CUT_EFATAL);
    assert_true(now_ms() - t0 < 100);
    assert_non_null(strstr(err.msg, "reconnecting"));

    assert_int_equal(cut_amqp091_sink_ops.in_flight(sink), 0);
    assert_int_equal(cut_amqp091_sink_ops.poll(sink, 0), 0);
    assert_int_equal(cut_amqp091_sink_ops.flush(sink, 100, &err), CUT_OK);
    cut_amqp091_sink_ops.destroy(sink);
    cut_amqp091_sink_ops.destroy(NULL);
    assert_int_equal(confirms, 0);
}

int main(void)
{
    cut_log_set_level(CUT_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_connector_offers_a_sink_with_its_keys),
        cmocka_unit_test(test_keys_default_to_the_default_exchange_mandatory_and_a_1000_window),
        cmocka_unit_test(test_create_names_what_is_wrong_with_the_target),
        cmocka_unit_test(test_an_unreachable_broker_fails_sends_fast_and_confirms_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
