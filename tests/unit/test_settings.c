/*
 * Unit tests of cutover.yaml loading (bridge/settings.c). The connector
 * registry is faked below so that these tests pin down the config code only,
 * whatever the real connectors declare.
 */
#include "config_test_util.h"

#include "cutover/connector.h"
#include "settings.h"

/* ---- fake registry ---------------------------------------------------------- */

struct fake_conn {
    char *url;
    int64_t heartbeat_ms;
    char *password;
};
struct fake_source {
    char *queue;
    int64_t prefetch;
    int64_t ack_batch;
    int64_t ack_interval_ms;
    bool declare;
};
struct fake_sink {
    char *topic;
    struct cut_kv_list properties;
};

static const struct cut_cfg_key fake_conn_keys[] = {
    {.name = "url",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct fake_conn, url),
     .required = true,
     .secret = true},
    {.name = "heartbeat",
     .type = CUT_CFG_MS,
     .offset = offsetof(struct fake_conn, heartbeat_ms),
     .def = "60s",
     .min = 0,
     .max = 3600000},
    {.name = "password",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct fake_conn, password),
     .secret = true},
    {.name = NULL},
};
static const struct cut_cfg_key fake_source_keys[] = {
    {.name = "queue",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct fake_source, queue),
     .required = true},
    {.name = "prefetch",
     .type = CUT_CFG_INT,
     .offset = offsetof(struct fake_source, prefetch),
     .def = "100",
     .min = 1,
     .max = 65535},
    {.name = "ack_batch",
     .type = CUT_CFG_INT,
     .offset = offsetof(struct fake_source, ack_batch),
     .def = "50",
     .min = 1,
     .max = 100000},
    {.name = "ack_interval",
     .type = CUT_CFG_MS,
     .offset = offsetof(struct fake_source, ack_interval_ms),
     .def = "100ms",
     .min = 1,
     .max = 60000},
    {.name = "declare",
     .type = CUT_CFG_BOOL,
     .offset = offsetof(struct fake_source, declare),
     .def = "false"},
    {.name = NULL},
};
static const struct cut_cfg_key fake_sink_keys[] = {
    {.name = "topic",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct fake_sink, topic),
     .required = true},
    {.name = "properties", .type = CUT_CFG_PROPS, .offset = offsetof(struct fake_sink, properties)},
    {.name = NULL},
};
static const struct cut_cfg_key fake_empty_keys[] = {{.name = NULL}};

/* Only whether the ops exist matters to the config code. */
static const struct cut_source_ops fake_source_ops;
static const struct cut_sink_ops fake_sink_ops;

static const struct cut_connector fake_amqp091 = {
    .protocol = "amqp091",
    .conn_keys = fake_conn_keys,
    .conn_size = sizeof(struct fake_conn),
    .source_keys = fake_source_keys,
    .source_size = sizeof(struct fake_source),
    .source = &fake_source_ops,
};
static const struct cut_connector fake_kafka = {
    .protocol = "kafka",
    .conn_keys = fake_empty_keys,
    .sink_keys = fake_sink_keys,
    .sink_size = sizeof(struct fake_sink),
    .sink = &fake_sink_ops,
};

const struct cut_connector *const cut_connectors[] = {&fake_amqp091, &fake_kafka, NULL};

const struct cut_connector *cut_connector_find(const char *protocol)
{
    for (size_t i = 0; cut_connectors[i] != NULL; i++) {
        if (strcmp(cut_connectors[i]->protocol, protocol) == 0) {
            return cut_connectors[i];
        }
    }
    return NULL;
}
/* ---- settings --------------------------------------------------------------- */

static const char good_yaml[] = "bridge:\n"
                                "  name: test\n"
                                "  log_level: debug\n"
                                "kafka:\n"
                                "  bootstrap.servers: 127.0.0.1:9092\n"
                                "  linger.ms: 5\n"
                                "connections:\n"
                                "  rabbit:\n"
                                "    protocol: amqp091\n"
                                "    url: amqp://guest:guest@127.0.0.1:5672/\n"
                                "    heartbeat: 30s\n"
                                "flows:\n"
                                "  orders:\n"
                                "    source:\n"
                                "      connection: rabbit\n"
                                "      queue: orders.in\n"
                                "      prefetch: 1000\n"
                                "    kafka:\n"
                                "      topic: orders\n"
                                "      properties:\n"
                                "        acks: all\n"
                                "  invoices.v2:\n"
                                "    source: {connection: rabbit, queue: invoices}\n"
                                "    kafka: {topic: invoices}\n";

static void test_settings_good_file_loads(void **state)
{
    (void)state;
    struct cut_settings s = {0};
    struct cut_cfg_errors errs = {0};
    assert_int_equal(cut_settings_load(write_yaml(good_yaml), &s, &errs), 0);
    assert_int_equal(errs.n, 0);
    assert_string_equal(s.name, "test");
    assert_int_equal(s.log_level, 0);
    assert_int_equal(s.shutdown_timeout_ms, 30000);
    assert_string_equal(cut_kv_get(&s.kafka, "bootstrap.servers"), "127.0.0.1:9092");
    assert_int_equal(s.n_conns, 1);
    assert_string_equal(s.conns[0].name, "rabbit");
    assert_int_equal(s.conns[0].line, 8);
    assert_ptr_equal(s.conns[0].connector, &fake_amqp091);
    const struct fake_conn *conn = s.conns[0].settings;
    assert_string_equal(conn->url, "amqp://guest:guest@127.0.0.1:5672/");
    assert_int_equal(conn->heartbeat_ms, 30000);
    assert_int_equal(s.n_flows, 2);
    assert_string_equal(s.flows[0].name, "orders");
    assert_ptr_equal(s.flows[0].source_conn, &s.conns[0]);
    const struct fake_source *src = s.flows[0].source_settings;
    assert_string_equal(src->queue, "orders.in");
    assert_int_equal(src->prefetch, 1000);
    assert_int_equal(src->ack_batch, 50);
    assert_ptr_equal(s.flows[0].kafka, &fake_kafka);
    const struct fake_sink *sink = s.flows[0].kafka_settings;
    assert_string_equal(sink->topic, "orders");
    assert_string_equal(cut_kv_get(&sink->properties, "acks"), "all");
    sink = s.flows[1].kafka_settings;
    assert_string_equal(sink->topic, "invoices");
    cut_settings_fini(&s);
    cut_settings_fini(NULL);
}

static void test_settings_defaults_when_sections_absent(void **state)
{
    (void)state;
    struct cut_settings s = {0};
    struct cut_cfg_errors errs = {0};
    assert_int_equal(cut_settings_load(write_yaml("{}\n"), &s, &errs), 0);
    assert_string_equal(s.name, "cutover");
    assert_int_equal(s.log_level, 1);
    assert_int_equal(s.shutdown_timeout_ms, 30000);
    assert_int_equal(s.n_flows, 0);
    cut_settings_fini(&s);
}

/* Load @p text as settings; assert one error at @p line containing @p part. */
static void assert_settings_error(const char *text, int line, const char *part)
{
    struct cut_settings s = {0};
    struct cut_cfg_errors errs = {0};
    int nerr = cut_settings_load(write_yaml(text), &s, &errs);
    assert_int_equal((size_t)nerr, errs.n);
    assert_true(nerr >= 1);
    assert_has_error(&errs, line, part);
    cut_settings_fini(&s);
    cut_cfg_errors_fini(&errs);
}

static void test_settings_unknown_top_level_key_is_error(void **state)
{
    (void)state;
    assert_settings_error("bridge: {}\nflow:\n  x: {}\n", 2,
                          "flow: unknown key (did you mean \"flows\"? known: kafka, bridge, "
                          "state, schema_registry, connections, flows, reconciler)");
}

static void test_settings_unknown_protocol_lists_registered(void **state)
{
    (void)state;
    assert_settings_error("connections:\n  mq:\n    protocol: ibmmq\n", 3,
                          "connections.mq.protocol: unknown protocol \"ibmmq\" (registered: "
                          "amqp091, kafka)");
}

static void test_settings_unknown_connection_is_error(void **state)
{
    (void)state;
    assert_settings_error("kafka: {bootstrap.servers: x}\n"
                          "connections:\n  rabbit: {protocol: amqp091, url: u}\n"
                          "flows:\n  f:\n    source:\n      connection: rabit\n      queue: q\n"
                          "    kafka: {topic: t}\n",
                          7,
                          "flows.f.source.connection: unknown connection \"rabit\" "
                          "(defined: rabbit)");
}

static void test_settings_connection_without_source_is_error(void **state)
{
    (void)state;
    assert_settings_error("kafka: {bootstrap.servers: x}\n"
                          "connections:\n  k: {protocol: kafka}\n"
                          "flows:\n  f:\n    source: {connection: k}\n    kafka: {topic: t}\n",
                          6, "uses protocol \"kafka\", which cannot be a flow source");
}

static void test_settings_flows_need_kafka_section(void **state)
{
    (void)state;
    assert_settings_error("connections:\n  r: {protocol: amqp091, url: u}\n"
                          "flows:\n  f:\n    source: {connection: r, queue: q}\n"
                          "    kafka: {topic: t}\n",
                          3, "missing required key \"kafka\"");
}

static void test_settings_flow_missing_sections_are_errors(void **state)
{
    (void)state;
    assert_settings_error("kafka: {a: b}\nflows:\n  f:\n    sorce: {}\n", 4,
                          "flows.f.sorce: unknown key (did you mean \"source\"?");
    assert_settings_error("kafka: {a: b}\nflows:\n  f:\n    sorce: {}\n", 3,
                          "flows.f: missing required key \"source\"");
    assert_settings_error("kafka: {a: b}\nflows:\n  f:\n    sorce: {}\n", 3,
                          "flows.f: a flow needs a target: \"kafka\", \"legacy\" or both");
}

static void test_settings_bad_flow_name_is_error(void **state)
{
    (void)state;
    assert_settings_error("kafka: {a: b}\nconnections:\n  r: {protocol: amqp091, url: u}\n"
                          "flows:\n  bad name:\n    source: {connection: r, queue: q}\n"
                          "    kafka: {topic: t}\n",
                          5, "flows.bad name: invalid flow name");
}

static void test_settings_errors_accumulate_across_sections(void **state)
{
    (void)state;
    struct cut_settings s = {0};
    struct cut_cfg_errors errs = {0};
    const char *text = "bridge:\n  log_level: loud\n"
                       "kafka: {bootstrap.servers: x}\n"
                       "connections:\n  r: {protocol: amqp091, url: u, hartbeat: 5s}\n"
                       "flows:\n  f:\n    source: {connection: r, queue: q, prefetch: 0}\n"
                       "    kafka: {topic: t}\n";
    assert_int_equal(cut_settings_load(write_yaml(text), &s, &errs), 3);
    assert_int_equal(errs.n, 3);
    assert_has_error(&errs, 2, "bridge.log_level: expected one of debug, info, warn, error");
    assert_has_error(&errs, 5, "connections.r.hartbeat: unknown key (did you mean \"heartbeat\"?");
    assert_has_error(&errs, 8, "flows.f.source.prefetch: expected an integer between 1 and 65535");
    cut_settings_fini(&s);
    cut_cfg_errors_fini(&errs);
}

static void test_settings_yaml_error_counts(void **state)
{
    (void)state;
    assert_settings_error("bridge: [\n", 2, "YAML syntax error");
}

#define T(fn) cmocka_unit_test_teardown(fn, teardown_file)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_settings_good_file_loads),
        T(test_settings_defaults_when_sections_absent),
        T(test_settings_unknown_top_level_key_is_error),
        T(test_settings_unknown_protocol_lists_registered),
        T(test_settings_unknown_connection_is_error),
        T(test_settings_connection_without_source_is_error),
        T(test_settings_flows_need_kafka_section),
        T(test_settings_flow_missing_sections_are_errors),
        T(test_settings_bad_flow_name_is_error),
        T(test_settings_errors_accumulate_across_sections),
        T(test_settings_yaml_error_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
