/*
 * cutover.yaml: the top-level sections, the named connections and the flows.
 * Each section is checked with a key table; the connectors' own tables check
 * their sections, found through the registry by protocol name, so a new
 * protocol needs no change here.
 *
 * Loading goes on after every problem (a bad connection still lets its flows'
 * other keys be checked) so that `cutover validate` lists everything at once.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/log.h"
#include "settings.h"

/* log_level is stored as the index of its name: keep the two in step. */
static const char *const log_level_names[] = {"debug", "info", "warn", "error", NULL};
_Static_assert(CUT_LOG_DEBUG == 0 && CUT_LOG_INFO == 1 && CUT_LOG_WARN == 2 && CUT_LOG_ERROR == 3,
               "log_level_names must follow enum cut_log_level");

static const struct cut_cfg_key bridge_keys[] = {
    {.name = "name",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_settings, name),
     .def = "cutover",
     .desc = "name of this bridge instance, in logs, metrics and reports"},
    {.name = "log_level",
     .type = CUT_CFG_ENUM,
     .offset = offsetof(struct cut_settings, log_level),
     .def = "info",
     .choices = log_level_names,
     .desc = "lowest level of the log lines written to stderr"},
    {.name = "shutdown_timeout",
     .type = CUT_CFG_MS,
     .offset = offsetof(struct cut_settings, shutdown_timeout_ms),
     .def = "30s",
     .min = 1000,
     .max = 600000,
     .desc = "how long shutdown waits for in-flight confirmations before it gives up"},
    {.name = NULL},
};

static const struct cut_cfg_key state_keys[] = {
    {.name = "path",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_settings, state_path),
     .def = "cutover.db",
     .desc = "the state store (sqlite): modes, flow status, audit, repair ledger, tracking"},
    {.name = "poll_interval",
     .type = CUT_CFG_MS,
     .offset = offsetof(struct cut_settings, state_poll_ms),
     .def = "250ms",
     .min = 50,
     .max = 1000,
     .desc = "how often a running bridge looks for mode changes (a change applies within "
             "a second)"},
    {.name = "tracking_flush",
     .type = CUT_CFG_MS,
     .offset = offsetof(struct cut_settings, tracking_flush_ms),
     .def = "1s",
     .min = 100,
     .max = 60000,
     .desc = "how often the per-minute tracking counters are written to the store"},
    {.name = NULL},
};

static const struct cut_cfg_key registry_keys[] = {
    {.name = "url",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_settings, registry_url),
     .desc = "base URL of a Confluent-compatible Schema Registry (Apicurio: .../apis/ccompat/v7)"},
    {.name = "username",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_settings, registry_username),
     .desc = "HTTP basic authentication user"},
    {.name = "password",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_settings, registry_password),
     .secret = true,
     .desc = "HTTP basic authentication password"},
    {.name = NULL},
};

/* The reconciler. The thresholds also make the per-flow table, whose keys
 * have no default of their own: a flow starts from the top-level values. */
#define RECON_THRESHOLD_KEYS(base, with_defaults)                                                  \
    {.name = "settle_time",                                                                        \
     .type = CUT_CFG_MS,                                                                           \
     .offset = offsetof(base, recon.settle_ms),                                                    \
     .def = with_defaults ? "30s" : NULL,                                                          \
     .min = 1000,                                                                                  \
     .max = 3600000,                                                                               \
     .desc = "how long a message may take to be confirmed (and read back) before it counts as "    \
             "lost"},                                                                              \
        {.name = "min_messages",                                                                   \
         .type = CUT_CFG_INT,                                                                      \
         .offset = offsetof(base, recon.min_messages),                                             \
         .def = with_defaults ? "100" : NULL,                                                      \
         .min = 1,                                                                                 \
         .max = 1000000000,                                                                        \
         .desc = "messages a check needs in the window before it can fire"},                       \
        {.name = "kafka_error_rate",                                                               \
         .type = CUT_CFG_FLOAT,                                                                    \
         .offset = offsetof(base, recon.kafka_error_rate),                                         \
         .def = with_defaults ? "5%" : NULL,                                                       \
         .fmin = 0,                                                                                \
         .fmax = 1,                                                                                \
         .desc = "roll back when more Kafka writes fail than this"},                               \
        {.name = "loss_rate",                                                                      \
         .type = CUT_CFG_FLOAT,                                                                    \
         .offset = offsetof(base, recon.loss_rate),                                                \
         .def = with_defaults ? "0.1%" : NULL,                                                     \
         .fmin = 0,                                                                                \
         .fmax = 1,                                                                                \
         .desc = "roll back when more messages are lost than this (counters or read-back)"},       \
        {.name = "latency_ratio",                                                                  \
         .type = CUT_CFG_FLOAT,                                                                    \
         .offset = offsetof(base, recon.latency_ratio),                                            \
         .def = with_defaults ? "2.0" : NULL,                                                      \
         .fmin = 1,                                                                                \
         .fmax = 1000,                                                                             \
         .desc = "roll back when Kafka's p99 latency is more than this times legacy's"},           \
        {.name = "latency_floor",                                                                  \
         .type = CUT_CFG_MS,                                                                       \
         .offset = offsetof(base, recon.latency_floor_ms),                                         \
         .def = with_defaults ? "100ms" : NULL,                                                    \
         .min = 0,                                                                                 \
         .max = 600000,                                                                            \
         .desc = "... and Kafka's p99 is at least this"},                                          \
        {.name = "consistency_alert",                                                              \
         .type = CUT_CFG_FLOAT,                                                                    \
         .offset = offsetof(base, recon.consistency_alert),                                        \
         .def = with_defaults ? "0.99" : NULL,                                                     \
         .fmin = 0,                                                                                \
         .fmax = 1,                                                                                \
         .desc = "alert when the consistency is below this"},                                      \
    {                                                                                              \
        .name = "soak_time", .type = CUT_CFG_MS, .offset = offsetof(base, recon.soak_ms),          \
        .def = with_defaults ? "1h" : NULL, .min = 0, .max = 31536000000,                          \
        .desc = "time in KAFKA_ONLY with nothing failing before the report calls a flow ready "    \
                "to complete"                                                                      \
    }

static const struct cut_cfg_key recon_keys[] = {
    {.name = "interval",
     .type = CUT_CFG_MS,
     .offset = offsetof(struct cut_settings, recon.interval_ms),
     .def = "10s",
     .min = 100,
     .max = 3600000,
     .desc = "how often the reconciler judges every flow"},
    {.name = "window",
     .type = CUT_CFG_MS,
     .offset = offsetof(struct cut_settings, recon.window_ms),
     .def = "5m",
     .min = 60000,
     .max = 86400000,
     .desc = "the sliding window it judges (whole minutes of the tracking table)"},
    {.name = "webhook_url",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_settings, recon.webhook_url),
     .secret = true,
     .desc = "alerts are POSTed here as JSON (optional)"},
    {.name = "webhook_timeout",
     .type = CUT_CFG_MS,
     .offset = offsetof(struct cut_settings, recon.webhook_timeout_ms),
     .def = "5s",
     .min = 100,
     .max = 60000,
     .desc = "bound on one webhook POST, connection included"},
    {.name = "readback_sample",
     .type = CUT_CFG_INT,
     .offset = offsetof(struct cut_settings, recon.readback_sample),
     .def = "8",
     .min = 0,
     .max = 1000000,
     .desc = "read back one in N of the ids Kafka confirmed (by id hash; 1: all; 0: off)"},
    RECON_THRESHOLD_KEYS(struct cut_settings, 1),
    {.name = NULL},
};

static const struct cut_cfg_key flow_recon_keys[] = {
    RECON_THRESHOLD_KEYS(struct cut_flow_cfg, 0),
    {.name = NULL},
};

/* "default" leaves the mode to the operator's flags and the global default. */
static const char *const mode_choices[] = {
    "default",    "JMS_ONLY", "DUAL_WRITE_JMS_PRIMARY", "DUAL_WRITE_KAFKA_PRIMARY",
    "KAFKA_ONLY", NULL};

static const struct cut_cfg_key flow_keys[] = {
    {.name = "mode",
     .type = CUT_CFG_ENUM,
     .offset = offsetof(struct cut_flow_cfg, mode_choice),
     .def = "default",
     .choices = mode_choices,
     .desc = "the flow's mode until an operator sets one with `cutover flag set` (then the "
             "global default, then JMS_ONLY)"},
    {.name = "max_attempts",
     .type = CUT_CFG_INT,
     .offset = offsetof(struct cut_flow_cfg, max_attempts),
     .def = "5",
     .min = 1,
     .max = 1000,
     .desc = "failed primary writes of one message before it is dead-lettered"},
    {.name = "message_type_property",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_flow_cfg, type_property),
     .desc = "property that names the message type for per-type mode overrides "
             "(default: JMSType)"},
    {.name = "mapping",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_flow_cfg, mapping),
     .desc = "mapping file (docs/mappings.md), relative to this config file; without one the "
             "body goes to Kafka unchanged"},
    {.name = "secondary_timeout",
     .type = CUT_CFG_MS,
     .offset = offsetof(struct cut_flow_cfg, secondary_timeout_ms),
     .def = "5s",
     .min = 100,
     .max = 600000,
     .desc = "in dual-write, how long the secondary may stay silent before its write counts "
             "as failed and goes to the repair ledger"},
    {.name = NULL},
};

/* The top level itself; the other sections are walked by hand below. */
static const struct cut_cfg_key top_keys[] = {
    {.name = "kafka",
     .type = CUT_CFG_PROPS,
     .offset = offsetof(struct cut_settings, kafka),
     .desc = "librdkafka properties (bootstrap.servers, security.protocol, ...), "
             "passed to librdkafka as they are; needed when there is a flow"},
    {.name = NULL},
};
static const char *const top_skip[] = {
    "bridge", "state", "schema_registry", "connections", "flows", "reconciler", NULL};

/* A flow has no keys of its own yet, only sections: this table reports typos there. */
static const struct cut_cfg_key no_keys[] = {{.name = NULL}};
static const char *const flow_sections[] = {"source", "legacy", "kafka", "reconciler", NULL};
static const char *const conn_skip[] = {"protocol", NULL};
static const char *const source_skip[] = {"connection", NULL};

/* Names end up in logs, metric labels and URLs: keep them to a safe alphabet. */
static int name_ok(const char *name)
{
    if (name[0] == '\0') {
        return 0;
    }
    for (const char *p = name; *p != '\0'; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-')) {
            return 0;
        }
    }
    return 1;
}

static const char *kind_desc(const struct cut_node *node)
{
    return node->kind == CUT_NODE_MAP   ? "a map"
           : node->kind == CUT_NODE_SEQ ? "a list"
                                        : "a scalar";
}

/* The line of @p key in @p map, or @p fallback when it is not there. */
static int key_line(const struct cut_node *map, const char *key, int fallback)
{
    for (size_t i = 0; map != NULL && map->kind == CUT_NODE_MAP && i < map->n; i++) {
        if (strcmp(map->pairs[i].key, key) == 0) {
            return map->pairs[i].key_line;
        }
    }
    return fallback;
}

static char *join(const char *a, const char *b)
{
    char *path = NULL;
    return asprintf(&path, "%s.%s", a, b) < 0 ? NULL : path;
}

/* "amqp091, kafka": for the message about an unknown protocol. */
static void protocol_list(char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; cut_connectors[i] != NULL && len < size; i++) {
        int n = snprintf(out + len, size - len, "%s%s", i ? ", " : "", cut_connectors[i]->protocol);
        len += n > 0 ? (size_t)n : 0;
    }
}

static void conn_list(const struct cut_settings *s, char *out, size_t size)
{
    size_t len = 0;
    snprintf(out, size, "no connections are defined");
    for (size_t i = 0; i < s->n_conns && len < size; i++) {
        int n = snprintf(out + len, size - len, "%s%s", i ? ", " : "defined: ", s->conns[i].name);
        len += n > 0 ? (size_t)n : 0;
    }
}

/* Check a section that must be a map; a missing one is reported at @p line. */
static const struct cut_node *section(const struct cut_node *parent, const char *name,
                                      const char *path, int line, const struct cut_cfg_ctx *ctx,
                                      int *nerr)
{
    const struct cut_node *node = cut_node_get(parent, name);
    if (node == NULL || cut_node_is_null(node)) {
        cut_cfg_error(ctx->errs, ctx->file, line, path, "missing required key \"%s\"", name);
        (*nerr)++;
        return NULL;
    }
    if (node->kind != CUT_NODE_MAP) {
        char *sub = join(path, name);
        cut_cfg_error(ctx->errs, ctx->file, node->line, sub ? sub : path, "expected a map, got %s",
                      kind_desc(node));
        free(sub);
        (*nerr)++;
        return NULL;
    }
    return node;
}

static int load_conn(struct cut_conn_cfg *conn, const struct cut_node *value, const char *path,
                     const struct cut_cfg_ctx *ctx)
{
    char list[256];
    int nerr = 0;

    if (!name_ok(conn->name)) {
        cut_cfg_error(ctx->errs, ctx->file, conn->line, path,
                      "invalid connection name (use letters, digits, '.', '_' and '-')");
        nerr++;
    }
    if (value == NULL || value->kind != CUT_NODE_MAP) {
        cut_cfg_error(ctx->errs, ctx->file, value ? value->line : conn->line, path,
                      "expected a map with \"protocol\" and its settings, got %s",
                      cut_node_is_null(value) ? "nothing" : kind_desc(value));
        return nerr + 1;
    }
    const struct cut_node *proto = cut_node_get(value, "protocol");
    if (proto == NULL || cut_node_is_null(proto)) {
        protocol_list(list, sizeof(list));
        cut_cfg_error(ctx->errs, ctx->file, conn->line, path,
                      "missing required key \"protocol\" (registered: %s)", list);
        return nerr + 1;
    }
    char *sub = join(path, "protocol");
    if (proto->kind != CUT_NODE_SCALAR) {
        cut_cfg_error(ctx->errs, ctx->file, proto->line, sub ? sub : path,
                      "expected a protocol name, got %s", kind_desc(proto));
        nerr++;
        goto out;
    }
    const struct cut_connector *connector = cut_connector_find(proto->scalar);
    if (connector == NULL) {
        protocol_list(list, sizeof(list));
        cut_cfg_error(ctx->errs, ctx->file, proto->line, sub ? sub : path,
                      "unknown protocol \"%s\" (registered: %s)", proto->scalar, list);
        nerr++;
        goto out;
    }
    conn->settings = calloc(1, connector->conn_size ? connector->conn_size : 1);
    if (conn->settings == NULL) {
        cut_cfg_error(ctx->errs, ctx->file, conn->line, path, "out of memory");
        nerr++;
        goto out;
    }
    conn->connector = connector;
    nerr += cut_cfg_apply(connector->conn_keys ? connector->conn_keys : no_keys, value,
                          conn->settings, path, conn_skip, ctx);
out:
    free(sub);
    return nerr;
}

static int load_conns(struct cut_settings *s, const struct cut_node *node,
                      const struct cut_cfg_ctx *ctx)
{
    int nerr = 0;

    if (node == NULL || cut_node_is_null(node)) {
        return 0;
    }
    if (node->kind != CUT_NODE_MAP) {
        cut_cfg_error(ctx->errs, ctx->file, node->line, "connections",
                      "expected a map of NAME: {protocol: ..., ...}, got %s", kind_desc(node));
        return 1;
    }
    s->conns = calloc(node->n ? node->n : 1, sizeof(*s->conns));
    if (s->conns == NULL) {
        cut_cfg_error(ctx->errs, ctx->file, node->line, "connections", "out of memory");
        return 1;
    }
    for (size_t i = 0; i < node->n; i++) {
        struct cut_conn_cfg *conn = &s->conns[s->n_conns];
        char *path = join("connections", node->pairs[i].key);
        conn->name = strdup(node->pairs[i].key);
        conn->line = node->pairs[i].key_line;
        if (path == NULL || conn->name == NULL) {
            cut_cfg_error(ctx->errs, ctx->file, conn->line, "connections", "out of memory");
            free(conn->name);
            free(path);
            conn->name = NULL;
            nerr++;
            continue;
        }
        s->n_conns++;
        nerr += load_conn(conn, node->pairs[i].value, path, ctx);
        free(path);
    }
    return nerr;
}

static const struct cut_conn_cfg *conn_find(const struct cut_settings *s, const char *name)
{
    for (size_t i = 0; i < s->n_conns; i++) {
        if (strcmp(s->conns[i].name, name) == 0) {
            return &s->conns[i];
        }
    }
    return NULL;
}

/* A flow's source: or legacy: section: "connection" names an entry of
 * connections:, the rest is applied with that connector's source or sink
 * keys. @p sink selects the role. */
static int load_endpoint(const struct cut_settings *s, const struct cut_node *node,
                         const char *path, bool sink, const struct cut_conn_cfg **conn_out,
                         void **settings_out, const struct cut_cfg_ctx *ctx)
{
    char list[256];
    int nerr = 0;
    int line = key_line(node, "connection", node->line);
    const struct cut_node *cname = cut_node_get(node, "connection");
    char *sub = join(path, "connection");

    if (cname == NULL || cut_node_is_null(cname)) {
        cut_cfg_error(ctx->errs, ctx->file, line, path, "missing required key \"connection\"");
        nerr++;
        goto out;
    }
    if (cname->kind != CUT_NODE_SCALAR) {
        cut_cfg_error(ctx->errs, ctx->file, cname->line, sub ? sub : path,
                      "expected the name of a connection, got %s", kind_desc(cname));
        nerr++;
        goto out;
    }
    const struct cut_conn_cfg *conn = conn_find(s, cname->scalar);
    if (conn == NULL) {
        conn_list(s, list, sizeof(list));
        cut_cfg_error(ctx->errs, ctx->file, cname->line, sub ? sub : path,
                      "unknown connection \"%s\" (%s)", cname->scalar, list);
        nerr++;
        goto out;
    }
    if (conn->connector == NULL) {
        goto out; /* its protocol is wrong, and that has been reported already */
    }
    const struct cut_connector *c = conn->connector;
    const struct cut_cfg_key *keys = sink ? c->sink_keys : c->source_keys;
    size_t size = sink ? c->sink_size : c->source_size;
    if ((sink ? (const void *)c->sink : (const void *)c->source) == NULL || keys == NULL) {
        cut_cfg_error(ctx->errs, ctx->file, cname->line, sub ? sub : path,
                      "connection \"%s\" uses protocol \"%s\", which cannot be a flow %s",
                      conn->name, c->protocol, sink ? "legacy target" : "source");
        nerr++;
        goto out;
    }
    *settings_out = calloc(1, size ? size : 1);
    if (*settings_out == NULL) {
        cut_cfg_error(ctx->errs, ctx->file, node->line, path, "out of memory");
        nerr++;
        goto out;
    }
    *conn_out = conn;
    nerr += cut_cfg_apply(keys, node, *settings_out, path, source_skip, ctx);
out:
    free(sub);
    return nerr;
}

static int load_flow(const struct cut_settings *s, struct cut_flow_cfg *flow,
                     const struct cut_node *value, const char *path, const struct cut_cfg_ctx *ctx)
{
    const struct cut_connector *kafka = cut_connector_find("kafka");
    const struct cut_node *node;
    int nerr = 0;

    if (!name_ok(flow->name)) {
        cut_cfg_error(ctx->errs, ctx->file, flow->line, path,
                      "invalid flow name (use letters, digits, '.', '_' and '-')");
        nerr++;
    }
    if (value == NULL || value->kind != CUT_NODE_MAP) {
        cut_cfg_error(ctx->errs, ctx->file, value ? value->line : flow->line, path,
                      "expected a map with \"source\" and \"kafka\" and/or \"legacy\", got %s",
                      cut_node_is_null(value) ? "nothing" : kind_desc(value));
        return nerr + 1;
    }
    nerr += cut_cfg_apply(flow_keys, value, flow, path, flow_sections, ctx);
    flow->mode_set = flow->mode_choice > 0;
    if (flow->mapping != NULL && flow->mapping[0] != '/') {
        /* Relative to the config file, wherever the bridge is started from. */
        char *dir = strdup(ctx->file), *slash = dir ? strrchr(dir, '/') : NULL, *full = NULL;
        if (slash != NULL) {
            *slash = '\0';
            if (asprintf(&full, "%s/%s", dir, flow->mapping) >= 0) {
                free(flow->mapping);
                flow->mapping = full;
            }
        }
        free(dir);
    }
    flow->mode = flow->mode_set ? flow->mode_choice - 1 : 0;

    /* The reconciler's thresholds: the top level's, then the flow's own. */
    flow->recon = s->recon;
    flow->recon.webhook_url = NULL; /* owned by the top level */
    const struct cut_node *rnode = cut_node_get(value, "reconciler");
    if (rnode != NULL && !cut_node_is_null(rnode)) {
        char *sub = join(path, "reconciler");
        nerr += cut_cfg_apply(flow_recon_keys, rnode, flow, sub ? sub : path, NULL, ctx);
        free(sub);
    }

    node = section(value, "source", path, flow->line, ctx, &nerr);
    if (node != NULL) {
        char *sub = join(path, "source");
        nerr += load_endpoint(s, node, sub ? sub : path, false, &flow->source_conn,
                              &flow->source_settings, ctx);
        free(sub);
    }

    /* A flow writes to a legacy target, to Kafka, or to both. */
    const struct cut_node *legacy = cut_node_get(value, "legacy");
    const struct cut_node *kafka_node = cut_node_get(value, "kafka");
    bool has_legacy = legacy != NULL && !cut_node_is_null(legacy);
    bool has_kafka = kafka_node != NULL && !cut_node_is_null(kafka_node);
    if (!has_legacy && !has_kafka) {
        cut_cfg_error(ctx->errs, ctx->file, flow->line, path,
                      "a flow needs a target: \"kafka\", \"legacy\" or both");
        return nerr + 1;
    }
    if (has_legacy) {
        node = section(value, "legacy", path, flow->line, ctx, &nerr);
        if (node != NULL) {
            char *sub = join(path, "legacy");
            nerr += load_endpoint(s, node, sub ? sub : path, true, &flow->legacy_conn,
                                  &flow->legacy_settings, ctx);
            free(sub);
        }
    }
    node = has_kafka ? section(value, "kafka", path, flow->line, ctx, &nerr) : NULL;
    if (node != NULL && (kafka == NULL || kafka->sink_keys == NULL)) {
        /* A build without the Kafka connector cannot run any flow. */
        cut_cfg_error(ctx->errs, ctx->file, node->line, path,
                      "this build has no kafka connector to send to");
        nerr++;
    } else if (node != NULL) {
        char *sub = join(path, "kafka");
        flow->kafka_settings = calloc(1, kafka->sink_size ? kafka->sink_size : 1);
        if (flow->kafka_settings == NULL || sub == NULL) {
            cut_cfg_error(ctx->errs, ctx->file, node->line, path, "out of memory");
            nerr++;
        } else {
            flow->kafka = kafka;
            nerr += cut_cfg_apply(kafka->sink_keys, node, flow->kafka_settings, sub, NULL, ctx);
        }
        free(sub);
    }
    return nerr;
}

static int load_flows(struct cut_settings *s, const struct cut_node *node,
                      const struct cut_cfg_ctx *ctx)
{
    int nerr = 0;

    if (node == NULL || cut_node_is_null(node)) {
        return 0;
    }
    if (node->kind != CUT_NODE_MAP) {
        cut_cfg_error(ctx->errs, ctx->file, node->line, "flows",
                      "expected a map of NAME: {source: ..., kafka: ...}, got %s", kind_desc(node));
        return 1;
    }
    s->flows = calloc(node->n ? node->n : 1, sizeof(*s->flows));
    if (s->flows == NULL) {
        cut_cfg_error(ctx->errs, ctx->file, node->line, "flows", "out of memory");
        return 1;
    }
    for (size_t i = 0; i < node->n; i++) {
        struct cut_flow_cfg *flow = &s->flows[s->n_flows];
        char *path = join("flows", node->pairs[i].key);
        flow->name = strdup(node->pairs[i].key);
        flow->line = node->pairs[i].key_line;
        if (path == NULL || flow->name == NULL) {
            cut_cfg_error(ctx->errs, ctx->file, flow->line, "flows", "out of memory");
            free(flow->name);
            free(path);
            flow->name = NULL;
            nerr++;
            continue;
        }
        s->n_flows++;
        nerr += load_flow(s, flow, node->pairs[i].value, path, ctx);
        free(path);
    }
    return nerr;
}

int cut_settings_load(const char *path, struct cut_settings *s, struct cut_cfg_errors *errs)
{
    struct cut_cfg_ctx ctx = {.file = path, .errs = errs};
    size_t before = errs->n;
    struct cut_node *root = NULL;
    int nerr = 0;

    s->file = strdup(path);
    if (s->file == NULL) {
        cut_cfg_error(errs, path, 0, NULL, "out of memory");
        nerr++;
        goto out;
    }
    root = cut_yaml_load(path, errs);
    if (root == NULL) {
        nerr++;
        goto out;
    }
    if (root->kind != CUT_NODE_MAP) {
        cut_cfg_error(errs, path, root->line, NULL,
                      "expected a map of sections (bridge, kafka, connections, flows), got %s",
                      kind_desc(root));
        nerr++;
        goto out;
    }
    nerr += cut_cfg_apply(top_keys, root, s, "", top_skip, &ctx);
    nerr += cut_cfg_apply(bridge_keys, cut_node_get(root, "bridge"), s, "bridge", NULL, &ctx);
    nerr += cut_cfg_apply(state_keys, cut_node_get(root, "state"), s, "state", NULL, &ctx);
    nerr += cut_cfg_apply(registry_keys, cut_node_get(root, "schema_registry"), s,
                          "schema_registry", NULL, &ctx);
    nerr +=
        cut_cfg_apply(recon_keys, cut_node_get(root, "reconciler"), s, "reconciler", NULL, &ctx);
    /* Connections first, whatever the order in the file: flows refer to them. */
    nerr += load_conns(s, cut_node_get(root, "connections"), &ctx);
    nerr += load_flows(s, cut_node_get(root, "flows"), &ctx);

    const struct cut_node *kafka = cut_node_get(root, "kafka");
    bool kafka_used = false;
    for (size_t i = 0; i < s->n_flows; i++) {
        kafka_used = kafka_used || s->flows[i].kafka != NULL;
    }
    if (kafka_used && (kafka == NULL || cut_node_is_null(kafka))) {
        cut_cfg_error(errs, path, key_line(root, "flows", 0), NULL,
                      "missing required key \"kafka\" (the librdkafka properties of the "
                      "flows' Kafka producer, bootstrap.servers at least)");
        nerr++;
    }
out:
    cut_node_destroy(root);
    /* Count what was reported, but never claim success after a failure we saw. */
    if ((size_t)nerr < errs->n - before) {
        nerr = (int)(errs->n - before);
    }
    return nerr;
}

void cut_settings_fini(struct cut_settings *s)
{
    if (s == NULL) {
        return;
    }
    /* Flows first: they borrow the connections. */
    for (size_t i = 0; i < s->n_flows; i++) {
        struct cut_flow_cfg *flow = &s->flows[i];
        cut_cfg_release(flow_keys, flow);
        if (flow->source_conn != NULL && flow->source_settings != NULL) {
            cut_cfg_release(flow->source_conn->connector->source_keys, flow->source_settings);
        }
        if (flow->legacy_conn != NULL && flow->legacy_settings != NULL) {
            cut_cfg_release(flow->legacy_conn->connector->sink_keys, flow->legacy_settings);
        }
        free(flow->legacy_settings);
        if (flow->kafka != NULL && flow->kafka_settings != NULL) {
            cut_cfg_release(flow->kafka->sink_keys, flow->kafka_settings);
        }
        free(flow->source_settings);
        free(flow->kafka_settings);
        free(flow->name);
    }
    free(s->flows);
    for (size_t i = 0; i < s->n_conns; i++) {
        struct cut_conn_cfg *conn = &s->conns[i];
        if (conn->connector != NULL && conn->settings != NULL) {
            cut_cfg_release(conn->connector->conn_keys, conn->settings);
        }
        free(conn->settings);
        free(conn->name);
    }
    free(s->conns);
    cut_cfg_release(bridge_keys, s);
    cut_cfg_release(state_keys, s);
    cut_cfg_release(registry_keys, s);
    cut_cfg_release(recon_keys, s);
    cut_cfg_release(top_keys, s);
    free(s->file);
    memset(s, 0, sizeof(*s));
}

void cut_settings_doc(void *out)
{
    FILE *fp = out;

    fputs("## cutover.yaml\n\n", fp);
    cut_cfg_doc(bridge_keys, "bridge", fp);
    cut_cfg_doc(state_keys, "state", fp);
    cut_cfg_doc(registry_keys, "schema_registry", fp);
    cut_cfg_doc(recon_keys, "reconciler", fp);
    cut_cfg_doc(flow_keys, "flows.NAME", fp);
    cut_cfg_doc(flow_recon_keys, "flows.NAME.reconciler (overrides; default: the top level's)", fp);
    cut_cfg_doc(top_keys, "(top level)", fp);
    for (size_t i = 0; cut_connectors[i] != NULL; i++) {
        const struct cut_connector *c = cut_connectors[i];
        char title[128];
        if (c->conn_keys != NULL && c->conn_keys[0].name != NULL) {
            snprintf(title, sizeof(title), "connections.NAME (protocol: %s)", c->protocol);
            fprintf(fp, "### `%s`\n\n`protocol` (required): `%s`\n\n", title, c->protocol);
            cut_cfg_doc(c->conn_keys, NULL, fp);
        }
        if (c->source != NULL && c->source_keys != NULL) {
            snprintf(title, sizeof(title), "flows.NAME.source (protocol: %s)", c->protocol);
            fprintf(fp, "### `%s`\n\n`connection` (required): the name of a connection\n\n", title);
            cut_cfg_doc(c->source_keys, NULL, fp);
        }
        if (strcmp(c->protocol, "kafka") == 0 && c->sink_keys != NULL) {
            cut_cfg_doc(c->sink_keys, "flows.NAME.kafka", fp);
        } else if (c->sink != NULL && c->sink_keys != NULL) {
            snprintf(title, sizeof(title), "flows.NAME.legacy (protocol: %s)", c->protocol);
            fprintf(fp, "### `%s`\n\n`connection` (required): the name of a connection\n\n", title);
            cut_cfg_doc(c->sink_keys, NULL, fp);
        }
    }
}
