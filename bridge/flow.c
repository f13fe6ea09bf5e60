#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cutover/converter.h"
#include "cutover/log.h"
#include "flow.h"

/* How long one poll(2) may sleep: short enough that batched acks and the stop
 * flag are served promptly, long enough to cost nothing when idle. */
#define FLOW_POLL_MS 20
/* Messages moved per loop turn before confirmations are served again. */
#define FLOW_BURST          512
#define FLOW_STATS_EVERY_MS 10000

struct cut_flow {
    const struct cut_settings *settings;
    const struct cut_flow_cfg *cfg;
    const struct cut_source_ops *src_ops;
    struct cut_source *src;
    const struct cut_sink_ops *sink_ops;
    struct cut_sink *sink;
    const struct cut_converter_ops *conv_ops;
    struct cut_converter *conv;

    struct cut_source_params src_params;
    struct cut_sink_params sink_params;

    pthread_t thread;
    bool started;
    atomic_bool stop;
    int result;

    /* A message fetched but refused by a full sink: kept (its borrowed data
     * stays valid because we do not fetch again) and sent first next turn. */
    bool held;
    struct cut_msg held_msg;

    atomic_uint_fast64_t received, confirmed, retried, rejected;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Called by the sink from inside its poll(), on the flow thread: the only
 * place where a source delivery is settled ACCEPT. */
static void flow_on_confirm(void *opaque, cut_token_t token, int status, const struct cut_err *err)
{
    struct cut_flow *flow = opaque;
    struct cut_err serr;
    enum cut_outcome outcome;

    if (status == CUT_OK) {
        outcome = CUT_OUTCOME_ACCEPT;
        atomic_fetch_add_explicit(&flow->confirmed, 1, memory_order_relaxed);
    } else if (status == CUT_EINVAL) {
        outcome = CUT_OUTCOME_REJECT;
        atomic_fetch_add_explicit(&flow->rejected, 1, memory_order_relaxed);
        cut_log_warn(flow->cfg->name, "Kafka refused a message for good, rejecting it: %s",
                     err ? err->msg : "");
    } else {
        outcome = CUT_OUTCOME_RETRY;
        atomic_fetch_add_explicit(&flow->retried, 1, memory_order_relaxed);
        cut_log_debug(flow->cfg->name, "Kafka delivery failed, releasing for redelivery: %s",
                      err ? err->msg : "");
    }
    if (flow->src_ops->settle(flow->src, token, outcome, &serr) != CUT_OK) {
        cut_log_warn(flow->cfg->name, "settle failed: %s", serr.msg);
    }
}

/* Forward one message; returns CUT_EFULL when the sink is full (keep it). */
static int flow_forward(struct cut_flow *flow, const struct cut_msg *msg)
{
    struct cut_record rec;
    struct cut_err err;
    int rc = flow->conv_ops->convert(flow->conv, msg, &rec, &err);
    if (rc == CUT_OK) {
        rc = flow->sink_ops->send(flow->sink, &rec, msg->token, &err);
    }
    switch (rc) {
    case CUT_OK:
    case CUT_EFULL:
        return rc;
    case CUT_EFATAL:
        /* The producer is being rebuilt: hold the message and wait on the
         * sink, rather than spinning redeliveries through the source. */
        return CUT_EFULL;
    case CUT_EINVAL:
        /* Dead-letter destinations arrive with the converters; until then the
         * source's own refusal (broker DLQ) is the safe place for poison. */
        cut_log_warn(flow->cfg->name, "message %s cannot be forwarded, rejecting it: %s",
                     msg->message_id, err.msg);
        atomic_fetch_add_explicit(&flow->rejected, 1, memory_order_relaxed);
        flow->src_ops->settle(flow->src, msg->token, CUT_OUTCOME_REJECT, &err);
        return CUT_OK;
    default:
        atomic_fetch_add_explicit(&flow->retried, 1, memory_order_relaxed);
        flow->src_ops->settle(flow->src, msg->token, CUT_OUTCOME_RETRY, &err);
        return CUT_OK;
    }
}

/* Move up to FLOW_BURST messages from source to sink. Returns true when the
 * source may have more right now (so the caller must not sleep). */
static bool flow_pump(struct cut_flow *flow)
{
    struct cut_err err;
    for (int i = 0; i < FLOW_BURST; i++) {
        if (!flow->held) {
            int rc = flow->src_ops->fetch(flow->src, &flow->held_msg, &err);
            if (rc == CUT_EAGAIN) {
                return false;
            }
            if (rc != CUT_OK) {
                /* The source logs its own connection changes and reconnects
                 * on a later fetch; nothing of the dead connection is acked. */
                return false;
            }
            flow->held = true;
            atomic_fetch_add_explicit(&flow->received, 1, memory_order_relaxed);
        }
        if (flow_forward(flow, &flow->held_msg) == CUT_EFULL) {
            return false;
        }
        flow->held = false;
    }
    return true;
}

static void flow_wait(struct cut_flow *flow, bool want_source)
{
    struct pollfd fds[2];
    nfds_t n = 0;
    int sfd = flow->sink_ops->fd(flow->sink);
    if (sfd >= 0) {
        fds[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    }
    int qfd = want_source ? flow->src_ops->fd(flow->src) : -1;
    if (qfd >= 0) {
        fds[n++] = (struct pollfd){.fd = qfd, .events = POLLIN};
    }
    if (poll(fds, n, FLOW_POLL_MS) < 0 && errno != EINTR) {
        cut_log_warn(flow->cfg->name, "poll: %s", strerror(errno));
    }
}

static void flow_log_stats(struct cut_flow *flow)
{
    struct cut_flow_stats st;
    cut_flow_stats(flow, &st);
    cut_log_info(flow->cfg->name,
                 "received=%llu confirmed=%llu retried=%llu rejected=%llu in_flight=%zu",
                 (unsigned long long)st.received, (unsigned long long)st.confirmed,
                 (unsigned long long)st.retried, (unsigned long long)st.rejected,
                 flow->sink_ops->in_flight(flow->sink));
}

/* Stop consuming, wait (bounded) for the confirmations of what is in flight,
 * ack what was confirmed. Whatever is left unconfirmed is never acked: the
 * broker redelivers it after we close the channel. */
static int flow_drain(struct cut_flow *flow)
{
    struct cut_err err;
    int rc = CUT_OK;
    const char *name = flow->cfg->name;

    if (flow->src_ops->pause(flow->src, 1, &err) != CUT_OK) {
        cut_log_debug(name, "pause on shutdown: %s", err.msg);
    }
    if (flow->held) {
        flow->src_ops->settle(flow->src, flow->held_msg.token, CUT_OUTCOME_RETRY, &err);
        flow->held = false;
    }
    int64_t deadline = now_ms() + flow->settings->shutdown_timeout_ms;
    while (flow->sink_ops->in_flight(flow->sink) > 0 && now_ms() < deadline) {
        flow->sink_ops->poll(flow->sink, FLOW_POLL_MS);
    }
    size_t left = flow->sink_ops->in_flight(flow->sink);
    if (left > 0) {
        cut_log_warn(name,
                     "%zu messages still unconfirmed after %lld ms; they stay unacked and "
                     "will be redelivered",
                     left, (long long)flow->settings->shutdown_timeout_ms);
        rc = CUT_ERETRY;
    }
    if (flow->src_ops->flush(flow->src, &err) != CUT_OK) {
        cut_log_warn(name, "final ack flush failed (messages will be redelivered): %s", err.msg);
        rc = CUT_ERETRY;
    }
    return rc;
}

static void *flow_main(void *arg)
{
    struct cut_flow *flow = arg;
    int64_t next_stats = now_ms() + FLOW_STATS_EVERY_MS;

    cut_log_info(flow->cfg->name, "started");
    while (!atomic_load_explicit(&flow->stop, memory_order_relaxed)) {
        flow->sink_ops->poll(flow->sink, 0);
        bool more = flow_pump(flow);
        if (flow->held) {
            /* While the sink is full no fetch runs, and fetch is what sends
             * heartbeats and due acks: flush keeps the source connection
             * alive until room comes back. Rare, so its unbatched acks
             * cost nothing in the steady state. */
            struct cut_err err;
            flow->src_ops->flush(flow->src, &err);
        }
        if (!more) {
            /* Sleep on the sink alone while a message waits for room. */
            flow_wait(flow, !flow->held);
        }
        if (now_ms() >= next_stats) {
            flow_log_stats(flow);
            next_stats = now_ms() + FLOW_STATS_EVERY_MS;
        }
    }
    flow->result = flow_drain(flow);
    flow_log_stats(flow);
    cut_log_info(flow->cfg->name, "stopped%s", flow->result == CUT_OK ? " cleanly" : "");
    return NULL;
}

int cut_flow_create(struct cut_flow **out, const struct cut_settings *settings,
                    const struct cut_flow_cfg *cfg, struct cut_err *err)
{
    int rc;
    struct cut_flow *flow = calloc(1, sizeof(*flow));
    if (flow == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    flow->settings = settings;
    flow->cfg = cfg;
    flow->src_ops = cfg->source_conn->connector->source;
    flow->sink_ops = cfg->kafka->sink;
    flow->conv_ops = &cut_passthrough_converter;

    flow->src_params = (struct cut_source_params){
        .flow = cfg->name,
        .conn_settings = cfg->source_conn->settings,
        .settings = cfg->source_settings,
    };
    flow->sink_params = (struct cut_sink_params){
        .flow = cfg->name,
        .conn_settings = &settings->kafka,
        .settings = cfg->kafka_settings,
        .confirm = flow_on_confirm,
        .opaque = flow,
    };
    rc = flow->src_ops->create(&flow->src, &flow->src_params, err);
    if (rc != CUT_OK) {
        goto out;
    }
    rc = flow->sink_ops->create(&flow->sink, &flow->sink_params, err);
    if (rc != CUT_OK) {
        goto out;
    }
    rc = flow->conv_ops->create(&flow->conv, NULL, err);
out:
    if (rc != CUT_OK) {
        cut_flow_destroy(flow);
        flow = NULL;
    }
    *out = flow;
    return rc;
}

int cut_flow_start(struct cut_flow *flow, struct cut_err *err)
{
    int e = pthread_create(&flow->thread, NULL, flow_main, flow);
    if (e != 0) {
        return cut_err_set(err, CUT_EFATAL, "cannot start thread: %s", strerror(e));
    }
    flow->started = true;
    return CUT_OK;
}

void cut_flow_request_stop(struct cut_flow *flow)
{
    atomic_store(&flow->stop, true);
}

int cut_flow_join(struct cut_flow *flow)
{
    if (!flow->started) {
        return CUT_OK;
    }
    pthread_join(flow->thread, NULL);
    flow->started = false;
    return flow->result;
}

void cut_flow_stats(const struct cut_flow *flow, struct cut_flow_stats *st)
{
    st->received = atomic_load_explicit(&flow->received, memory_order_relaxed);
    st->confirmed = atomic_load_explicit(&flow->confirmed, memory_order_relaxed);
    st->retried = atomic_load_explicit(&flow->retried, memory_order_relaxed);
    st->rejected = atomic_load_explicit(&flow->rejected, memory_order_relaxed);
}

const char *cut_flow_name(const struct cut_flow *flow)
{
    return flow->cfg->name;
}

void cut_flow_destroy(struct cut_flow *flow)
{
    if (flow == NULL) {
        return;
    }
    /* The sink first: destroying it reports what is still unconfirmed, and
     * those reports settle RETRY on the source, which must still exist. */
    if (flow->sink) {
        flow->sink_ops->destroy(flow->sink);
    }
    if (flow->src) {
        struct cut_err err;
        flow->src_ops->flush(flow->src, &err);
        flow->src_ops->destroy(flow->src);
    }
    if (flow->conv) {
        flow->conv_ops->destroy(flow->conv);
    }
    free(flow);
}
