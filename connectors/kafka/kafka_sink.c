/*
 * The Kafka sink: one idempotent librdkafka producer per flow, delivery
 * reports translated into confirmations on the flow's thread. See kafka.h for
 * the error classification and RELIABILITY.md for why it is so strict.
 *
 * Every function here runs on the owning (flow) thread, except on_log(),
 * which librdkafka calls from its own threads and which only formats a line.
 * Delivery reports and error events are queued by librdkafka on its main
 * queue and served by rd_kafka_poll()/rd_kafka_flush(), i.e. by us: no lock
 * is needed for the counters below.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cutover/log.h"
#include "kafka.h"

/* The token rides in librdkafka's per-message opaque pointer, which saves
 * an allocation per message; that needs a pointer at least as wide. */
_Static_assert(sizeof(void *) >= sizeof(cut_token_t), "cut_token_t must fit in a pointer");

/* destroy(): the runner has normally flushed already; this is the last
 * chance for stragglers, then everything left is purged and reported. */
#define DESTROY_FLUSH_MS      1000
#define DESTROY_DRAIN_MS      2000
#define REVIVE_BACKOFF_MIN_MS 1000
#define REVIVE_BACKOFF_MAX_MS 30000
/* One line per error code per interval; librdkafka repeats them at every
 * reconnect attempt. */
#define ERROR_LOG_INTERVAL_MS 30000
/* Kafka caps topic names at 249 characters. */
#define TOPIC_MAX 250

/* A delivery that failed with a batch-level broker error, held until the end
 * of the poll that served it so we can tell whether it failed alone. */
struct held_report {
    cut_token_t token;
    rd_kafka_resp_err_t rkerr;
    int32_t partition;
    uint64_t seq; /* position among the reports of this sink */
    bool own_topic;
    char topic[TOPIC_MAX];
};

struct cut_sink {
    char *flow;  /* owned; also read by on_log() on librdkafka threads */
    char *topic; /* owned copy of the configured topic */
    size_t window;
    cut_confirm_cb confirm;
    void *opaque;

    rd_kafka_conf_t *conf; /* owned template; each producer gets a duplicate */
    rd_kafka_t *rk;        /* NULL only while a rebuild failed */
    rd_kafka_queue_t *mainq;
    int efd; /* eventfd librdkafka writes when its main queue fills */

    size_t in_flight;
    enum cut_conn_state state;
    bool closing;
    int served;   /* confirmations given in the current op */
    uint64_t seq; /* delivery reports seen */

    bool fatal; /* the producer is dead; rebuild once drained */
    bool purged;
    int64_t revive_at_ms;
    int backoff_ms;

    struct held_report *held;
    size_t n_held, cap_held;

    rd_kafka_resp_err_t last_logged;
    int64_t last_logged_ms;
    unsigned suppressed;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- classification ------------------------------------------------------- */

int cut_kafka_classify(rd_kafka_resp_err_t rkerr, rd_kafka_msg_status_t status, bool own_topic,
                       bool alone)
{
    if (rkerr == RD_KAFKA_RESP_ERR_NO_ERROR) {
        return CUT_OK;
    }
    /* Maybe written: only a resend (same id header) makes sure, and a
     * duplicate is the accepted price. */
    if (status == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED) {
        return CUT_ERETRY;
    }
    switch (rkerr) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
        /* The broker refuses a whole batch; only a message that failed alone
         * is known to be the culprit. */
        return alone ? CUT_EINVAL : CUT_ERETRY;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
        /* The flow's own topic missing or forbidden is an operator's fix;
         * a topic the record chose is this message's fault. */
        return own_topic ? CUT_ERETRY : CUT_EINVAL;
    default:
        return CUT_ERETRY;
    }
}

static bool is_batch_error(rd_kafka_resp_err_t rkerr)
{
    return rkerr == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
           rkerr == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
           rkerr == RD_KAFKA_RESP_ERR_INVALID_RECORD;
}

static const char *persisted_name(rd_kafka_msg_status_t status)
{
    switch (status) {
    case RD_KAFKA_MSG_STATUS_NOT_PERSISTED:
        return "not persisted";
    case RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED:
        return "possibly persisted";
    default:
        return "persisted";
    }
}

/* ---- confirmations -------------------------------------------------------- */

static void sink_confirm(struct cut_sink *sink, cut_token_t token, int status,
                         const struct cut_err *err)
{
    if (sink->in_flight > 0) {
        sink->in_flight--;
    }
    sink->served++;
    sink->confirm(sink->opaque, token, status, err);
}

static bool hold(struct cut_sink *sink, const rd_kafka_message_t *rkmessage, bool own_topic)
{
    if (sink->n_held == sink->cap_held) {
        size_t cap = sink->cap_held ? sink->cap_held * 2 : 16;
        struct held_report *held = realloc(sink->held, cap * sizeof(*held));
        if (held == NULL) {
            return false;
        }
        sink->held = held;
        sink->cap_held = cap;
    }
    struct held_report *h = &sink->held[sink->n_held++];
    h->token = (cut_token_t)(uintptr_t)rkmessage->_private;
    h->rkerr = rkmessage->err;
    h->partition = rkmessage->partition;
    h->seq = sink->seq;
    h->own_topic = own_topic;
    snprintf(h->topic, sizeof(h->topic), "%s", rd_kafka_topic_name(rkmessage->rkt));
    return true;
}

static bool same_batch(const struct held_report *a, const struct held_report *b)
{
    return b->seq == a->seq + 1 && a->rkerr == b->rkerr && a->partition == b->partition &&
           strcmp(a->topic, b->topic) == 0;
}

/* Confirm the held reports. librdkafka hands back a failed batch as one run
 * of consecutive reports, so a run of one is a message that failed alone.
 * Two adjacent batches of one partition merge into one run, which only errs
 * on the side of CUT_ERETRY. */
static void release_held(struct cut_sink *sink)
{
    struct cut_err err;
    size_t i = 0;

    while (i < sink->n_held) {
        size_t end = i + 1;
        while (end < sink->n_held && same_batch(&sink->held[end - 1], &sink->held[end])) {
            end++;
        }
        size_t run = end - i;
        for (; i < end; i++) {
            const struct held_report *h = &sink->held[i];
            int status = cut_kafka_classify(h->rkerr, RD_KAFKA_MSG_STATUS_NOT_PERSISTED,
                                            h->own_topic, run == 1);
            if (run == 1) {
                cut_err_set(&err, status, "kafka: topic %s [%d] refused the message: %s", h->topic,
                            (int)h->partition, rd_kafka_err2str(h->rkerr));
            } else {
                cut_err_set(&err, status,
                            "kafka: topic %s [%d] refused a batch of %zu messages: %s; "
                            "which one is at fault is unknown, so each is retried",
                            h->topic, (int)h->partition, run, rd_kafka_err2str(h->rkerr));
            }
            sink_confirm(sink, h->token, status, &err);
        }
    }
    sink->n_held = 0;
}

/* ---- librdkafka callbacks ------------------------------------------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *rkmessage, void *opaque)
{
    static const struct cut_err no_err = {.code = CUT_OK};
    struct cut_sink *sink = opaque;
    struct cut_err err;
    cut_token_t token = (cut_token_t)(uintptr_t)rkmessage->_private;
    (void)rk;

    sink->seq++;
    if (rkmessage->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        sink->state = CUT_CONN_UP;
        sink->backoff_ms = REVIVE_BACKOFF_MIN_MS;
        sink_confirm(sink, token, CUT_OK, &no_err);
        return;
    }

    const char *topic = rd_kafka_topic_name(rkmessage->rkt);
    bool own_topic = strcmp(topic, sink->topic) == 0;
    rd_kafka_msg_status_t persisted = rd_kafka_message_status(rkmessage);
    rd_kafka_resp_err_t rkerr = rkmessage->err;
    if (rkerr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART &&
        rkmessage->partition == RD_KAFKA_PARTITION_UA) {
        /* Never got a partition: librdkafka failed it from the cluster's
         * metadata (the topic does not exist), not from a produce response
         * during a leader change. Same meaning as _UNKNOWN_TOPIC. */
        rkerr = RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
    }
    if (is_batch_error(rkerr) && persisted != RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED &&
        hold(sink, rkmessage, own_topic)) {
        return;
    }
    /* Not held (or no memory to hold it): a batch error then counts as not
     * alone, which is the safe answer. */
    int status = cut_kafka_classify(rkerr, persisted, own_topic, !is_batch_error(rkerr));
    cut_err_set(&err, status, "kafka: topic %s [%d]: %s (%s)", topic, (int)rkmessage->partition,
                rd_kafka_err2str(rkmessage->err), persisted_name(persisted));
    sink_confirm(sink, token, status, &err);
}

static void enter_fatal(struct cut_sink *sink)
{
    if (sink->fatal) {
        return;
    }
    sink->fatal = true;
    sink->purged = false;
    sink->state = CUT_CONN_DOWN;
    sink->revive_at_ms = now_ms() + sink->backoff_ms;
    sink->backoff_ms =
        sink->backoff_ms * 2 > REVIVE_BACKOFF_MAX_MS ? REVIVE_BACKOFF_MAX_MS : sink->backoff_ms * 2;
}

/* Errors raised by a broker connection failing, which librdkafka also logs. */
static bool broker_failure(rd_kafka_resp_err_t rkerr)
{
    return rkerr == RD_KAFKA_RESP_ERR__TRANSPORT || rkerr == RD_KAFKA_RESP_ERR__RESOLVE ||
           rkerr == RD_KAFKA_RESP_ERR__AUTHENTICATION || rkerr == RD_KAFKA_RESP_ERR__SSL ||
           rkerr == RD_KAFKA_RESP_ERR__TIMED_OUT;
}

/* Error events: librdkafka retries by itself; we only track the state and
 * say what happened. The reason strings carry no credentials. */
static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    struct cut_sink *sink = opaque;
    rd_kafka_resp_err_t rkerr = (rd_kafka_resp_err_t)code;

    if (rkerr == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
        bool first = !sink->fatal;
        enter_fatal(sink);
        if (first) {
            cut_log_error(sink->flow,
                          "kafka: producer failed fatally (%s: %s); unconfirmed messages will "
                          "be retried and the producer rebuilt",
                          rd_kafka_err2name(orig), why);
        }
        return;
    }
    if (rkerr == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        if (sink->state != CUT_CONN_DOWN) {
            cut_log_warn(sink->flow, "kafka: all brokers are down: %s", reason);
        }
        sink->state = CUT_CONN_DOWN;
        return;
    }
    if (broker_failure(rkerr)) {
        /* librdkafka logs these itself (FAIL, through on_log) at the level
         * it judges right, debug for an idle disconnect: do not say it twice. */
        cut_log_debug(sink->flow, "kafka: %s", reason);
        return;
    }
    int64_t now = now_ms();
    if (rkerr == sink->last_logged && now - sink->last_logged_ms < ERROR_LOG_INTERVAL_MS) {
        sink->suppressed++;
        return;
    }
    if (sink->suppressed > 0 && rkerr == sink->last_logged) {
        cut_log_warn(sink->flow, "kafka: %s (%u more like it in the last %d s)", reason,
                     sink->suppressed, ERROR_LOG_INTERVAL_MS / 1000);
    } else {
        cut_log_warn(sink->flow, "kafka: %s", reason);
    }
    sink->last_logged = rkerr;
    sink->last_logged_ms = now;
    sink->suppressed = 0;
}

/* Called on librdkafka's threads: touches only the immutable flow name. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const struct cut_sink *sink = rd_kafka_opaque(rk);
    enum cut_log_level lvl = level <= 4 ? CUT_LOG_WARN : level <= 6 ? CUT_LOG_INFO : CUT_LOG_DEBUG;
    cut_log(lvl, sink->flow, "librdkafka %s: %s", fac, buf);
}

/* ---- producer life -------------------------------------------------------- */

static int producer_start(struct cut_sink *sink, struct cut_err *err)
{
    static const uint64_t one = 1; /* an eventfd takes 8-byte writes */
    char errstr[512];

    rd_kafka_conf_t *conf = rd_kafka_conf_dup(sink->conf);
    if (conf == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    /* rd_kafka_new() takes conf only when it succeeds. */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return cut_err_set(err, CUT_EINVAL, "kafka: cannot create the producer: %s", errstr);
    }
    /* With log.queue=true, logs would pile up until a queue is set: send them
     * to the main queue we serve. Without it this is a harmless no-op. */
    rd_kafka_set_log_queue(rk, NULL);
    sink->rk = rk;
    sink->mainq = rd_kafka_queue_get_main(rk);
    rd_kafka_queue_io_event_enable(sink->mainq, sink->efd, &one, sizeof(one));
    sink->state = CUT_CONN_CONNECTING;
    return CUT_OK;
}

static void producer_stop(struct cut_sink *sink)
{
    if (sink->rk == NULL) {
        return;
    }
    rd_kafka_queue_io_event_enable(sink->mainq, -1, NULL, 0);
    rd_kafka_queue_destroy(sink->mainq);
    rd_kafka_destroy(sink->rk);
    sink->mainq = NULL;
    sink->rk = NULL;
}

/* After a fatal error: purge the dead producer (its messages come back from
 * the next rd_kafka_poll() as CUT_ERETRY) and, once none is left and the
 * backoff has passed, start a fresh one. Rebuilding earlier would lose the
 * tokens of the reports still to come. */
static int sink_revive(struct cut_sink *sink, struct cut_err *err)
{
    if (!sink->fatal) {
        return CUT_OK;
    }
    if (sink->rk != NULL && !sink->purged) {
        rd_kafka_purge(sink->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        sink->purged = true;
    }
    int64_t now = now_ms();
    if (sink->in_flight > 0 || now < sink->revive_at_ms) {
        return cut_err_set(err, CUT_EFATAL,
                           "kafka: producer failed fatally; %zu messages still to be reported, "
                           "rebuilding in %lld ms",
                           sink->in_flight,
                           (long long)(sink->revive_at_ms > now ? sink->revive_at_ms - now : 0));
    }
    producer_stop(sink);
    int rc = producer_start(sink, err);
    if (rc != CUT_OK) {
        sink->revive_at_ms = now + sink->backoff_ms;
        cut_log_error(sink->flow, "kafka: rebuilding the producer failed: %s", err->msg);
        return cut_err_set(err, CUT_EFATAL, "kafka: producer is down, rebuilding failed");
    }
    sink->fatal = false;
    cut_log_info(sink->flow, "kafka: producer rebuilt");
    return CUT_OK;
}

/* Empty the eventfd before serving the queue: librdkafka writes it only when
 * the queue goes from empty to non-empty, so a report that arrives after the
 * drain makes it readable again. */
static void drain_fd(struct cut_sink *sink)
{
    uint64_t v;
    while (read(sink->efd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
    }
}

/* ---- ops ------------------------------------------------------------------ */

static void kafka_destroy(struct cut_sink *sink);

static int kafka_create(struct cut_sink **out, const struct cut_sink_params *params,
                        struct cut_err *err)
{
    const struct cut_kafka_sink_settings *settings = params->settings;
    int rc;

    *out = NULL;
    if (settings == NULL || settings->topic == NULL || settings->topic[0] == '\0') {
        return cut_err_set(err, CUT_EINVAL, "kafka: topic is not set");
    }
    if (settings->max_in_flight < 1 || settings->max_in_flight > CUT_KAFKA_WINDOW_MAX) {
        return cut_err_set(err, CUT_EINVAL, "kafka: max_in_flight %lld is outside 1..%d",
                           (long long)settings->max_in_flight, CUT_KAFKA_WINDOW_MAX);
    }
    if (params->confirm == NULL) {
        return cut_err_set(err, CUT_EINVAL, "kafka: no confirm callback");
    }

    struct cut_sink *sink = calloc(1, sizeof(*sink));
    if (sink == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    sink->efd = -1;
    sink->window = (size_t)settings->max_in_flight;
    sink->confirm = params->confirm;
    sink->opaque = params->opaque;
    sink->state = CUT_CONN_CONNECTING;
    sink->backoff_ms = REVIVE_BACKOFF_MIN_MS;
    sink->flow = strdup(params->flow != NULL ? params->flow : "-");
    sink->topic = strdup(settings->topic);
    if (sink->flow == NULL || sink->topic == NULL) {
        rc = cut_err_set(err, CUT_ENOMEM, "out of memory");
        goto out;
    }

    rc = cut_kafka_conf_build(&sink->conf, params->conn_settings, &settings->properties,
                              settings->max_in_flight, sink->flow, err);
    if (rc != CUT_OK) {
        goto out;
    }
    cut_kafka_conf_log(sink->conf, sink->flow);
    rd_kafka_conf_set_opaque(sink->conf, sink);
    rd_kafka_conf_set_dr_msg_cb(sink->conf, on_delivery);
    rd_kafka_conf_set_error_cb(sink->conf, on_error);
    rd_kafka_conf_set_log_cb(sink->conf, on_log);

    sink->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (sink->efd < 0) {
        rc = cut_err_set(err, CUT_EFATAL, "kafka: eventfd: %s", strerror(errno));
        goto out;
    }
    rc = producer_start(sink, err);

out:
    if (rc != CUT_OK) {
        kafka_destroy(sink);
        return rc;
    }
    cut_log_info(sink->flow, "kafka: producer created for topic %s (window %zu)", sink->topic,
                 sink->window);
    *out = sink;
    return CUT_OK;
}

static bool topic_error(rd_kafka_resp_err_t rkerr)
{
    return rkerr == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
           rkerr == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
           rkerr == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
           rkerr == RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION;
}

static int kafka_send(struct cut_sink *sink, const struct cut_msg *msg,
                      const struct cut_record *rec, cut_token_t token, struct cut_err *err)
{
    rd_kafka_headers_t *hdrs = NULL;

    (void)msg; /* Kafka sends what the converter made of it */
    if (rec == NULL) {
        return cut_err_set(err, CUT_EINVAL, "kafka: no record to send (converter missing)");
    }

    if (sink->closing) {
        return cut_err_set(err, CUT_EFATAL, "kafka: the sink is closing");
    }
    if (sink->fatal && sink_revive(sink, err) != CUT_OK) {
        return CUT_EFATAL;
    }
    if (sink->in_flight >= sink->window) {
        return cut_err_set(err, CUT_EFULL, "kafka: window full (%zu in flight, max_in_flight %zu)",
                           sink->in_flight, sink->window);
    }
    const char *topic = rec->dest != NULL ? rec->dest : sink->topic;
    if (rec->n_hdrs > 0) {
        hdrs = rd_kafka_headers_new(rec->n_hdrs);
        for (size_t i = 0; i < rec->n_hdrs; i++) {
            /* Copies name and value; fails only on a read-only list. */
            rd_kafka_header_add(hdrs, rec->hdr_names[i], -1, rec->hdr_values[i],
                                rec->hdr_values[i] != NULL ? (ssize_t)rec->hdr_lens[i] : 0);
        }
    }

    /* F_COPY: rec is borrowed only for this call. On success librdkafka owns
     * hdrs; on failure they are still ours. */
    rd_kafka_resp_err_t rkerr = rd_kafka_producev(
        sink->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE((void *)rec->value, rec->value_len),
        RD_KAFKA_V_KEY(rec->key, rec->key_len), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)token), RD_KAFKA_V_END);
    if (rkerr == RD_KAFKA_RESP_ERR_NO_ERROR) {
        sink->in_flight++;
        return CUT_OK;
    }
    if (hdrs != NULL) {
        rd_kafka_headers_destroy(hdrs);
    }

    bool own_topic = rec->dest == NULL || strcmp(rec->dest, sink->topic) == 0;
    switch (rkerr) {
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        return cut_err_set(err, CUT_EFULL,
                           "kafka: producer queue full (%zu in flight; "
                           "queue.buffering.max.messages/kbytes)",
                           sink->in_flight);
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        return cut_err_set(err, CUT_EINVAL,
                           "kafka: message too large for message.max.bytes (key %zu bytes, value "
                           "%zu bytes, %zu headers)",
                           rec->key_len, rec->value_len, rec->n_hdrs);
    case RD_KAFKA_RESP_ERR__FATAL:
        enter_fatal(sink);
        return cut_err_set(err, CUT_EFATAL, "kafka: producer failed fatally: %s",
                           rd_kafka_err2str(rkerr));
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return cut_err_set(err, CUT_EINVAL, "kafka: topic \"%s\": %s", topic,
                           rd_kafka_err2str(rkerr));
    default:
        if (topic_error(rkerr)) {
            return cut_err_set(
                err, cut_kafka_classify(rkerr, RD_KAFKA_MSG_STATUS_NOT_PERSISTED, own_topic, true),
                "kafka: topic \"%s\"%s: %s", topic, own_topic ? " (the flow's topic)" : "",
                rd_kafka_err2str(rkerr));
        }
        return cut_err_set(err, CUT_ERETRY, "kafka: produce to topic \"%s\" failed: %s", topic,
                           rd_kafka_err2str(rkerr));
    }
}

static int kafka_poll(struct cut_sink *sink, int timeout_ms)
{
    struct cut_err err;

    drain_fd(sink);
    sink->served = 0;
    if (sink->fatal) {
        sink_revive(sink, &err); /* purges, so the reports come out below */
    }
    if (sink->rk == NULL) {
        return 0;
    }
    rd_kafka_poll(sink->rk, timeout_ms);
    release_held(sink);
    if (sink->fatal) {
        sink_revive(sink, &err); /* rebuilds once the last report is out */
    } else if (sink->state == CUT_CONN_CONNECTING && rd_kafka_controllerid(sink->rk, 0) >= 0) {
        /* Cluster metadata arrived: the bootstrap connection works. */
        sink->state = CUT_CONN_UP;
    }
    return sink->served;
}

static int kafka_fd(struct cut_sink *sink)
{
    return sink->efd;
}

static size_t kafka_in_flight(struct cut_sink *sink)
{
    return sink->in_flight;
}

static int kafka_flush(struct cut_sink *sink, int timeout_ms, struct cut_err *err)
{
    drain_fd(sink);
    if (sink->fatal) {
        sink_revive(sink, err);
    }
    if (sink->rk != NULL) {
        /* rd_kafka_flush() serves delivery reports itself (it polls). */
        rd_kafka_flush(sink->rk, timeout_ms);
        rd_kafka_poll(sink->rk, 0);
        release_held(sink);
    }
    if (sink->in_flight > 0) {
        return cut_err_set(err, CUT_ERETRY, "kafka: %zu messages still unconfirmed after %d ms",
                           sink->in_flight, timeout_ms);
    }
    return CUT_OK;
}

static enum cut_conn_state kafka_state(struct cut_sink *sink)
{
    return sink->state;
}

static void kafka_destroy(struct cut_sink *sink)
{
    if (sink == NULL) {
        return;
    }
    sink->closing = true;
    if (sink->rk != NULL) {
        rd_kafka_flush(sink->rk, DESTROY_FLUSH_MS);
        release_held(sink);
        /* What is left will never be confirmed by this producer: purge it so
         * that each message gets its report (CUT_ERETRY) before we go. */
        rd_kafka_purge(sink->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        int64_t deadline = now_ms() + DESTROY_DRAIN_MS;
        do {
            rd_kafka_poll(sink->rk, sink->in_flight > 0 ? 10 : 0);
            release_held(sink);
        } while (sink->in_flight > 0 && now_ms() < deadline);
        if (sink->in_flight > 0) {
            cut_log_error(sink->flow,
                          "kafka: %zu messages got no delivery report before the producer "
                          "closed; they were never acked and the source will redeliver them",
                          sink->in_flight);
        }
        producer_stop(sink);
    }
    if (sink->efd >= 0) {
        close(sink->efd);
    }
    if (sink->conf != NULL) {
        rd_kafka_conf_destroy(sink->conf);
    }
    free(sink->held);
    free(sink->topic);
    free(sink->flow);
    free(sink);
}

rd_kafka_t *cut_kafka_sink_handle(struct cut_sink *sink)
{
    return sink->rk;
}

/* ---- registration --------------------------------------------------------- */

static const struct cut_sink_ops kafka_sink_ops = {
    .create = kafka_create,
    .send = kafka_send,
    .poll = kafka_poll,
    .fd = kafka_fd,
    .in_flight = kafka_in_flight,
    .flush = kafka_flush,
    .state = kafka_state,
    .destroy = kafka_destroy,
};

static const struct cut_cfg_key kafka_sink_keys[] = {
    {.name = "topic",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_kafka_sink_settings, topic),
     .required = true,
     .desc = "Kafka topic the flow writes to (a converter may route a message elsewhere)"},
    {.name = "properties",
     .type = CUT_CFG_PROPS,
     .offset = offsetof(struct cut_kafka_sink_settings, properties),
     .desc = "librdkafka properties for this flow's producer; they override the top-level "
             "kafka: section"},
    {.name = "max_in_flight",
     .type = CUT_CFG_INT,
     .offset = offsetof(struct cut_kafka_sink_settings, max_in_flight),
     .def = "10000",
     .min = 1,
     .max = CUT_KAFKA_WINDOW_MAX,
     .desc = "messages sent and not yet confirmed before the flow stops reading its source; "
             "bounds the duplicates a crash can cause"},
    {.name = NULL},
};

const struct cut_connector cut_kafka_connector = {
    .protocol = "kafka",
    .conn_keys = NULL,
    .conn_size = 0,
    .source_keys = NULL,
    .source_size = 0,
    .sink_keys = kafka_sink_keys,
    .sink_size = sizeof(struct cut_kafka_sink_settings),
    .source = NULL,
    .sink = &kafka_sink_ops,
};
