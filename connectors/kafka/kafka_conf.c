/*
 * Building the producer configuration: our safe defaults, then the top-level
 * `kafka:` properties, then the flow's overrides, then the checks that keep
 * the delivery contract. See kafka.h for the policy.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cutover/log.h"
#include "kafka.h"

#define MASK "***"

/* Substrings that mark a librdkafka property whose value is a credential.
 * Matching by substring rather than a closed list also covers properties
 * that later librdkafka versions add (sasl.oauthbearer.client.secret came
 * late). sasl.oauthbearer.config can carry a token; ssl.key.pem is a key. */
static const char *const secret_markers[] = {
    "password", "secret", "key.pem", "oauthbearer.config", "ssl_key", NULL,
};

bool cut_kafka_prop_is_secret(const char *name)
{
    for (size_t i = 0; secret_markers[i] != NULL; i++) {
        if (strstr(name, secret_markers[i]) != NULL) {
            return true;
        }
    }
    return false;
}

/* One property into @p conf. @p origin says where it came from ("kafka" or
 * "flows.F.kafka.properties") and @p line where, so that the message points
 * into the file; librdkafka's reason is kept except for secrets, because
 * librdkafka quotes the refused value in it. */
static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, const char *origin,
                    int line, struct cut_err *err)
{
    char errstr[512];
    char where[32] = "";

    rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr));
    if (res == RD_KAFKA_CONF_OK) {
        return CUT_OK;
    }
    if (line > 0) {
        snprintf(where, sizeof(where), " (line %d)", line);
    }
    if (cut_kafka_prop_is_secret(name)) {
        return cut_err_set(err, CUT_EINVAL, "%s: property \"%s\"%s: invalid value (not shown)",
                           origin, name, where);
    }
    return cut_err_set(err, CUT_EINVAL, "%s: property \"%s\"%s: %s", origin, name, where, errstr);
}

static int conf_set_list(rd_kafka_conf_t *conf, const struct cut_kv_list *list, const char *origin,
                         struct cut_err *err)
{
    if (list == NULL) {
        return CUT_OK;
    }
    for (size_t i = 0; i < list->n; i++) {
        const struct cut_kv *kv = &list->items[i];
        int rc = conf_set(conf, kv->key, kv->value != NULL ? kv->value : "", origin, kv->line, err);
        if (rc != CUT_OK) {
            return rc;
        }
    }
    return CUT_OK;
}

/* The effective value of @p name into @p buf ("" when unset or unknown). */
static const char *conf_get(const rd_kafka_conf_t *conf, const char *name, char *buf, size_t size)
{
    size_t len = size;
    if (rd_kafka_conf_get(conf, name, buf, &len) != RD_KAFKA_CONF_OK) {
        buf[0] = '\0';
    }
    return buf;
}

/* True when @p name has a non-empty value; asks for the length only, so a
 * long bootstrap list is not mistaken for an empty one. */
static bool conf_is_set(const rd_kafka_conf_t *conf, const char *name)
{
    size_t len = 0;
    if (rd_kafka_conf_get(conf, name, NULL, &len) != RD_KAFKA_CONF_OK) {
        return false;
    }
    return len > 1; /* the length counts the terminating NUL */
}

/* Refuse what would break at-least-once; warn about what weakens it. Run
 * after every layer so that it judges the effective values. */
static int conf_check(const rd_kafka_conf_t *conf, const char *flow, struct cut_err *err)
{
    char buf[512];

    if (strcmp(conf_get(conf, "acks", buf, sizeof(buf)), "0") == 0) {
        return cut_err_set(err, CUT_EINVAL,
                           "kafka: property \"acks\": 0 is refused: librdkafka would report "
                           "delivery without any broker acknowledgement; use all (-1)");
    }
    if (strcmp(conf_get(conf, "delivery.report.only.error", buf, sizeof(buf)), "true") == 0) {
        return cut_err_set(err, CUT_EINVAL,
                           "kafka: property \"delivery.report.only.error\": true is refused: "
                           "cutover acks a source message only on a successful delivery report");
    }
    if (conf_is_set(conf, "transactional.id")) {
        return cut_err_set(err, CUT_EINVAL,
                           "kafka: property \"transactional.id\" is refused: the Kafka sink "
                           "does not run transactions (it relies on the idempotent producer)");
    }
    if (!conf_is_set(conf, "bootstrap.servers") &&
        strcmp(conf_get(conf, "test.mock.num.brokers", buf, sizeof(buf)), "0") == 0) {
        return cut_err_set(err, CUT_EINVAL, "kafka: property \"bootstrap.servers\" is not set");
    }
    if (strcmp(conf_get(conf, "acks", buf, sizeof(buf)), "-1") != 0) {
        cut_log_warn(flow,
                     "kafka: acks=%s: a broker failure can lose messages Kafka has already "
                     "confirmed; acks=all is the safe setting",
                     buf);
    }
    if (strcmp(conf_get(conf, "enable.idempotence", buf, sizeof(buf)), "false") == 0) {
        cut_log_warn(flow, "kafka: enable.idempotence=false: producer retries can write "
                           "duplicates and reorder messages");
    }
    return CUT_OK;
}

int cut_kafka_conf_build(rd_kafka_conf_t **conf, const struct cut_kv_list *global,
                         const struct cut_kv_list *props, int64_t window, const char *flow,
                         struct cut_err *err)
{
    char window_str[24];
    char client_id[256];
    char origin[256];
    int rc = CUT_OK;

    *conf = NULL;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (c == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }

    /* The producer window and librdkafka's queue limit agree, so that the
     * sink's own count and librdkafka's _QUEUE_FULL both mean "slow down". */
    snprintf(window_str, sizeof(window_str), "%" PRId64, window);
    snprintf(client_id, sizeof(client_id), "cutover-%s", flow);
    const char *const defaults[][2] = {
        {"enable.idempotence", "true"},
        {"acks", "all"},
        {"linger.ms", "5"},
        {"compression.type", "none"},
        {"queue.buffering.max.messages", window_str},
        {"client.id", client_id},
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        rc = conf_set(c, defaults[i][0], defaults[i][1], "kafka (built-in default)", 0, err);
        if (rc != CUT_OK) {
            goto out;
        }
    }

    rc = conf_set_list(c, global, "kafka", err);
    if (rc != CUT_OK) {
        goto out;
    }
    snprintf(origin, sizeof(origin), "flows.%s.kafka.properties", flow);
    rc = conf_set_list(c, props, origin, err);
    if (rc != CUT_OK) {
        goto out;
    }
    rc = conf_check(c, flow, err);

out:
    if (rc != CUT_OK) {
        rd_kafka_conf_destroy(c);
        return rc;
    }
    *conf = c;
    return CUT_OK;
}

static void dump_pairs(const char **arr, size_t cnt, cut_kafka_conf_emit_cb emit, void *opaque)
{
    for (size_t i = 0; i + 1 < cnt; i += 2) {
        const char *value = arr[i + 1] != NULL ? arr[i + 1] : "";
        if (value[0] != '\0' && cut_kafka_prop_is_secret(arr[i])) {
            value = MASK;
        }
        emit(opaque, arr[i], value);
    }
}

void cut_kafka_conf_dump(const rd_kafka_conf_t *conf, cut_kafka_conf_emit_cb emit, void *opaque)
{
    size_t cnt = 0;
    /* The dump functions only read, but their prototypes are not const. */
    rd_kafka_conf_t *c = (rd_kafka_conf_t *)conf;
    const char **arr = rd_kafka_conf_dump(c, &cnt);
    if (arr != NULL) {
        dump_pairs(arr, cnt, emit, opaque);
        rd_kafka_conf_dump_free(arr, cnt);
    }
    /* acks, message.timeout.ms, compression... live in the default topic
     * configuration, which rd_kafka_conf_dump() leaves out. */
    rd_kafka_topic_conf_t *tconf = rd_kafka_conf_get_default_topic_conf(c);
    if (tconf != NULL) {
        arr = rd_kafka_topic_conf_dump(tconf, &cnt);
        if (arr != NULL) {
            dump_pairs(arr, cnt, emit, opaque);
            rd_kafka_conf_dump_free(arr, cnt);
        }
    }
}

struct log_ctx {
    const char *flow;
    rd_kafka_conf_t *defaults;        /* set for global properties */
    rd_kafka_topic_conf_t *tdefaults; /* set for default-topic ones */
};

static void log_if_changed(void *opaque, const char *name, const char *value)
{
    const struct log_ctx *ctx = opaque;
    char def[512];
    size_t len = sizeof(def);
    rd_kafka_conf_res_t res = ctx->defaults != NULL
                                  ? rd_kafka_conf_get(ctx->defaults, name, def, &len)
                                  : rd_kafka_topic_conf_get(ctx->tdefaults, name, def, &len);

    /* Pointers (default_topic_conf, opaque) say nothing useful. */
    if (strncmp(value, "0x", 2) == 0) {
        return;
    }
    if (res != RD_KAFKA_CONF_OK || strcmp(def, value) != 0) {
        cut_log_debug(ctx->flow, "kafka: %s=%s", name, value);
    }
}

void cut_kafka_conf_log(const rd_kafka_conf_t *conf, const char *flow)
{
    rd_kafka_conf_t *c = (rd_kafka_conf_t *)conf; /* only read, see above */
    rd_kafka_conf_t *defaults = rd_kafka_conf_new();
    rd_kafka_topic_conf_t *tdefaults = rd_kafka_topic_conf_new();
    size_t cnt = 0;

    /* The global and the topic tables share some names (compression.codec,
     * auto.commit.interval.ms) with different defaults: compare each with
     * its own. */
    struct log_ctx ctx = {.flow = flow, .defaults = defaults};
    const char **arr = rd_kafka_conf_dump(c, &cnt);
    if (arr != NULL) {
        dump_pairs(arr, cnt, log_if_changed, &ctx);
        rd_kafka_conf_dump_free(arr, cnt);
    }
    rd_kafka_topic_conf_t *tconf = rd_kafka_conf_get_default_topic_conf(c);
    if (tconf != NULL) {
        ctx = (struct log_ctx){.flow = flow, .tdefaults = tdefaults};
        arr = rd_kafka_topic_conf_dump(tconf, &cnt);
        if (arr != NULL) {
            dump_pairs(arr, cnt, log_if_changed, &ctx);
            rd_kafka_conf_dump_free(arr, cnt);
        }
    }
    rd_kafka_topic_conf_destroy(tdefaults);
    rd_kafka_conf_destroy(defaults);
}
