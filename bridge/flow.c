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
#include "inflight.h"

/* How long one poll(2) may sleep: short enough that batched acks and the stop
 * flag are served promptly, long enough to cost nothing when idle. */
#define FLOW_POLL_MS 20
/* Messages moved per loop turn before confirmations are served again. */
#define FLOW_BURST          512
#define FLOW_STATS_EVERY_MS 10000

#define FLOW_MAX_TARGETS 2

struct cut_flow;

/* One destination of the flow: the legacy target or Kafka. */
struct flow_target {
    struct cut_flow *flow;
    const char *what; /* "legacy" or "kafka", for logs */
    const struct cut_sink_ops *ops;
    struct cut_sink *sink;
    struct cut_sink_params params;
    uint8_t bit;    /* its bit in the in-flight masks */
    bool converted; /* sends the converter's record (Kafka) */
};

struct cut_flow {
    const struct cut_settings *settings;
    const struct cut_flow_cfg *cfg;
    const struct cut_source_ops *src_ops;
    struct cut_source *src;
    const struct cut_converter_ops *conv_ops;
    struct cut_converter *conv;
    struct cut_source_params src_params;

    struct flow_target targets[FLOW_MAX_TARGETS];
    size_t n_targets;
    uint8_t all_mask;
    struct cut_inflight inflight;

    pthread_t thread;
    bool started;
    atomic_bool stop;
    int result;

    /* A message fetched but refused by a full sink: kept (its borrowed data
     * stays valid because we do not fetch again) and sent first next turn to
     * the targets in held_mask, those that have not taken it yet. */
    bool held;
    uint8_t held_mask;
    struct cut_msg held_msg;

    atomic_uint_fast64_t received, confirmed, retried, rejected;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void flow_settle(struct cut_flow *flow, cut_token_t token, enum cut_outcome outcome)
{
    struct cut_err err;
    atomic_uint_fast64_t *counter = outcome == CUT_OUTCOME_ACCEPT  ? &flow->confirmed
                                    : outcome == CUT_OUTCOME_RETRY ? &flow->retried
                                                                   : &flow->rejected;
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    if (flow->src_ops->settle(flow->src, token, outcome, &err) != CUT_OK) {
        cut_log_warn(flow->cfg->name, "settle failed: %s", err.msg);
    }
}

/* One target's answer for @p token; the source delivery is settled when the
 * last target owing an answer has given it. */
static void flow_answer(struct cut_flow *flow, const struct flow_target *target, cut_token_t token,
                        enum cut_outcome outcome)
{
    enum cut_outcome final;
    if (cut_inflight_answer(&flow->inflight, token, target->bit, outcome, &final) == 1) {
        flow_settle(flow, token, final);
    }
}

/* Called by a sink from inside its poll(), flush() or destroy(), on the flow
 * thread: the only place where a source delivery can become ACCEPT. */
static void flow_on_confirm(void *opaque, cut_token_t token, int status, const struct cut_err *err)
{
    struct flow_target *target = opaque;
    struct cut_flow *flow = target->flow;
    enum cut_outcome outcome = CUT_OUTCOME_ACCEPT;

    if (status == CUT_EINVAL) {
        outcome = CUT_OUTCOME_REJECT;
        cut_log_warn(flow->cfg->name, "%s refused a message for good, rejecting it: %s",
                     target->what, err ? err->msg : "");
    } else if (status != CUT_OK) {
        outcome = CUT_OUTCOME_RETRY;
        cut_log_debug(flow->cfg->name, "%s delivery failed, releasing for redelivery: %s",
                      target->what, err ? err->msg : "");
    }
    flow_answer(flow, target, token, outcome);
}

/* Send the held message to every target still in held_mask. Returns
 * CUT_EFULL when a target is full (the message stays held for it). */
static int flow_forward(struct cut_flow *flow)
{
    const struct cut_msg *msg = &flow->held_msg;
    struct cut_record rec;
    const struct cut_record *recp = NULL;
    struct cut_err err;

    for (size_t i = 0; i < flow->n_targets; i++) {
        struct flow_target *target = &flow->targets[i];
        if (!(flow->held_mask & target->bit)) {
            continue;
        }
        int rc = CUT_OK;
        if (target->converted && recp == NULL) {
            enum cut_verdict verdict = CUT_VERDICT_SEND;
            rc = flow->conv_ops->convert(flow->conv, msg, &rec, &verdict, &err);
            if (rc == CUT_OK && verdict != CUT_VERDICT_SEND) {
                /* Filtered and expired messages are done for this target;
                 * dead letters are refused until dead-letter destinations
                 * are wired (the broker's DLQ takes them). */
                flow->held_mask &= (uint8_t)~target->bit;
                flow_answer(flow, target, msg->token,
                            verdict == CUT_VERDICT_DEAD_LETTER ? CUT_OUTCOME_REJECT
                                                               : CUT_OUTCOME_ACCEPT);
                continue;
            }
            recp = rc == CUT_OK ? &rec : NULL;
        }
        if (rc == CUT_OK) {
            rc = target->ops->send(target->sink, msg, target->converted ? recp : NULL, msg->token,
                                   &err);
        }
        if (rc == CUT_EFULL || rc == CUT_EFATAL) {
            /* Full, or the connection is being rebuilt: hold the message and
             * wait on the sink rather than spin redeliveries through the
             * source. */
            return CUT_EFULL;
        }
        flow->held_mask &= (uint8_t)~target->bit;
        if (rc == CUT_EINVAL) {
            /* Dead-letter destinations arrive with the converters; until then
             * the source's own refusal (broker DLQ) is the place for poison. */
            cut_log_warn(flow->cfg->name, "message %s cannot go to %s, rejecting it: %s",
                         msg->message_id, target->what, err.msg);
            flow_answer(flow, target, msg->token, CUT_OUTCOME_REJECT);
        } else if (rc != CUT_OK) {
            flow_answer(flow, target, msg->token, CUT_OUTCOME_RETRY);
        }
    }
    return CUT_OK;
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
            if (cut_inflight_add(&flow->inflight, flow->held_msg.token, flow->all_mask) != CUT_OK) {
                flow->src_ops->settle(flow->src, flow->held_msg.token, CUT_OUTCOME_RETRY, &err);
                return false;
            }
            flow->held = true;
            flow->held_mask = flow->all_mask;
            atomic_fetch_add_explicit(&flow->received, 1, memory_order_relaxed);
        }
        if (flow_forward(flow) == CUT_EFULL) {
            return false;
        }
        flow->held = false;
    }
    return true;
}

static void flow_wait(struct cut_flow *flow, bool want_source)
{
    struct pollfd fds[FLOW_MAX_TARGETS + 1];
    nfds_t n = 0;
    for (size_t i = 0; i < flow->n_targets; i++) {
        int sfd = flow->targets[i].ops->fd(flow->targets[i].sink);
        if (sfd >= 0) {
            fds[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
        }
    }
    int qfd = want_source ? flow->src_ops->fd(flow->src) : -1;
    if (qfd >= 0) {
        fds[n++] = (struct pollfd){.fd = qfd, .events = POLLIN};
    }
    if (poll(fds, n, FLOW_POLL_MS) < 0 && errno != EINTR) {
        cut_log_warn(flow->cfg->name, "poll: %s", strerror(errno));
    }
}

static size_t flow_sink_in_flight(struct cut_flow *flow)
{
    size_t n = 0;
    for (size_t i = 0; i < flow->n_targets; i++) {
        n += flow->targets[i].ops->in_flight(flow->targets[i].sink);
    }
    return n;
}

static void flow_poll_sinks(struct cut_flow *flow, int timeout_ms)
{
    for (size_t i = 0; i < flow->n_targets; i++) {
        flow->targets[i].ops->poll(flow->targets[i].sink, i == 0 ? timeout_ms : 0);
    }
}

static void flow_log_stats(struct cut_flow *flow)
{
    struct cut_flow_stats st;
    cut_flow_stats(flow, &st);
    cut_log_info(flow->cfg->name,
                 "received=%llu confirmed=%llu retried=%llu rejected=%llu in_flight=%zu",
                 (unsigned long long)st.received, (unsigned long long)st.confirmed,
                 (unsigned long long)st.retried, (unsigned long long)st.rejected, flow->inflight.n);
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
        /* The targets that never got it answer RETRY now; the others still
         * confirm, and the delivery is released once they have. */
        for (size_t i = 0; i < flow->n_targets; i++) {
            if (flow->held_mask & flow->targets[i].bit) {
                flow_answer(flow, &flow->targets[i], flow->held_msg.token, CUT_OUTCOME_RETRY);
            }
        }
        flow->held = false;
    }
    int64_t deadline = now_ms() + flow->settings->shutdown_timeout_ms;
    while (flow_sink_in_flight(flow) > 0 && now_ms() < deadline) {
        flow_poll_sinks(flow, FLOW_POLL_MS);
    }
    size_t left = flow_sink_in_flight(flow);
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
        flow_poll_sinks(flow, 0);
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

static int flow_add_target(struct cut_flow *flow, const char *what, const struct cut_sink_ops *ops,
                           const void *conn_settings, const void *settings, bool converted,
                           struct cut_err *err)
{
    struct flow_target *target = &flow->targets[flow->n_targets];
    *target = (struct flow_target){
        .flow = flow,
        .what = what,
        .ops = ops,
        .bit = (uint8_t)(1u << flow->n_targets),
        .converted = converted,
    };
    target->params = (struct cut_sink_params){
        .flow = flow->cfg->name,
        .conn_settings = conn_settings,
        .settings = settings,
        .confirm = flow_on_confirm,
        .opaque = target,
    };
    int rc = ops->create(&target->sink, &target->params, err);
    if (rc == CUT_OK) {
        flow->all_mask |= target->bit;
        flow->n_targets++;
    }
    return rc;
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
    flow->conv_ops = &cut_passthrough_converter;
    cut_inflight_init(&flow->inflight);

    flow->src_params = (struct cut_source_params){
        .flow = cfg->name,
        .conn_settings = cfg->source_conn->settings,
        .settings = cfg->source_settings,
    };
    rc = flow->src_ops->create(&flow->src, &flow->src_params, err);
    if (rc != CUT_OK) {
        goto out;
    }
    if (cfg->legacy_conn != NULL) {
        rc = flow_add_target(flow, "legacy", cfg->legacy_conn->connector->sink,
                             cfg->legacy_conn->settings, cfg->legacy_settings, false, err);
        if (rc != CUT_OK) {
            goto out;
        }
    }
    if (cfg->kafka != NULL) {
        rc = flow_add_target(flow, "kafka", cfg->kafka->sink, &settings->kafka, cfg->kafka_settings,
                             true, err);
        if (rc != CUT_OK) {
            goto out;
        }
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
    for (size_t i = 0; i < flow->n_targets; i++) {
        flow->targets[i].ops->destroy(flow->targets[i].sink);
    }
    if (flow->src) {
        struct cut_err err;
        flow->src_ops->flush(flow->src, &err);
        flow->src_ops->destroy(flow->src);
    }
    if (flow->conv) {
        flow->conv_ops->destroy(flow->conv);
    }
    cut_inflight_fini(&flow->inflight);
    free(flow);
}
