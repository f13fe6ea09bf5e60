/*
 * The loaded cutover.yaml: bridge settings, the free-form `kafka:` properties,
 * named legacy connections and flows. Built once on the main thread by
 * cut_settings_load(), read-only afterwards.
 *
 *   bridge:       name, log_level, shutdown_timeout      (bridge_keys)
 *   state:        path, poll_interval, tracking_flush     (state_keys)
 *   schema_registry: url, username, password              (registry_keys)
 *   kafka:        free-form librdkafka properties, passed as they are
 *   connections:  NAME: { protocol: amqp091, ...the connector's conn_keys }
 *   flows:        NAME: { mode, max_attempts, message_type_property, secondary_timeout, mapping,
 *                         source: { connection: NAME, ...the connector's source_keys },
 *                         legacy: { connection: NAME, ...the connector's sink_keys },
 *                         kafka:  { ...the kafka connector's sink_keys } }
 *                 (legacy and kafka are each optional; a flow has at least one)
 */
#ifndef CUTOVER_SETTINGS_H
#define CUTOVER_SETTINGS_H

#include <stdbool.h>
#include <stdint.h>

#include "cutover/config.h"
#include "cutover/connector.h"

struct cut_conn_cfg {
    char *name;
    int line;
    const struct cut_connector *connector;
    void *settings; /**< connector->conn_size bytes, filled by conn_keys */
};

/** The reconciler's settings: the top-level `reconciler:` section, and a
 *  flow's `reconciler:` overrides of the thresholds (which start as copies
 *  of the top-level ones). */
struct cut_recon_settings {
    int64_t interval_ms;        /**< top level only */
    int64_t window_ms;          /**< top level only */
    char *webhook_url;          /**< top level only; secret */
    int64_t webhook_timeout_ms; /**< top level only */
    int64_t readback_sample;    /**< top level only: 1-in-N, 0 = read-back off */
    int64_t settle_ms;
    int64_t min_messages;
    double kafka_error_rate;
    double loss_rate;
    double latency_ratio;
    int64_t latency_floor_ms;
    double consistency_alert;
    int64_t soak_ms;
};

struct cut_flow_cfg {
    char *name;
    int line;
    const struct cut_conn_cfg *source_conn; /**< borrowed from cut_settings.conns */
    void *source_settings;                  /**< source_conn->connector->source_size bytes */
    const struct cut_conn_cfg *legacy_conn; /**< legacy target's connection, or NULL */
    void *legacy_settings;                  /**< legacy_conn->connector->sink_size bytes */
    const struct cut_connector *kafka;      /**< the kafka connector, or NULL: no Kafka target */
    int mode_choice;              /**< flow_keys "mode": 0 = not set, else 1 + enum cut_mode */
    bool mode_set;                /**< derived: the config gives the flow's mode */
    int mode;                     /**< derived: enum cut_mode when mode_set */
    int64_t max_attempts;         /**< primary failures before a message is dead-lettered */
    char *type_property;          /**< property naming the message type; NULL: JMSType */
    int64_t secondary_timeout_ms; /**< silence after which a secondary counts as failed */
    char *mapping; /**< mapping file, resolved against the config's folder; NULL: passthrough */
    void *kafka_settings;            /**< kafka->sink_size bytes, filled by its sink_keys */
    struct cut_recon_settings recon; /**< thresholds: the top level's, then the flow's */
};

struct cut_settings {
    char *file;
    char *name;
    int log_level;               /**< enum cut_log_level */
    int64_t shutdown_timeout_ms; /**< bound on waiting for in-flight confirmations */
    struct cut_kv_list kafka;    /**< free-form librdkafka properties */
    char *registry_url;          /**< Confluent-compatible Schema Registry base URL, or NULL */
    char *registry_username;
    char *registry_password;         /**< secret */
    char *state_path;                /**< the state store (sqlite file) */
    int64_t state_poll_ms;           /**< how often a running bridge looks for mode changes */
    int64_t tracking_flush_ms;       /**< how often tracking counters are written */
    struct cut_recon_settings recon; /**< the `reconciler:` section */
    struct cut_conn_cfg *conns;
    size_t n_conns;
    struct cut_flow_cfg *flows;
    size_t n_flows;
};

/**
 * Load and check @p path. Every problem is appended to @p errs; returns the
 * number of errors (0 = usable). @p s must be zeroed by the caller and is
 * released with cut_settings_fini() in every case.
 */
int cut_settings_load(const char *path, struct cut_settings *s, struct cut_cfg_errors *errs);
void cut_settings_fini(struct cut_settings *s);

/**
 * Write the reference of every key of cutover.yaml as Markdown to @p out
 * (FILE *): the bridge's own tables and those of every registered connector.
 */
void cut_settings_doc(void *out);

#endif
