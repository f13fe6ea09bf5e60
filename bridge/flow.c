/*
 * The flow thread: one poll(2) loop over the source socket and the sinks'
 * confirmation descriptors. Each turn serves confirmations, moves a burst of
 * messages from the source through the router (bridge/router.c) to the
 * sinks, and lets the router record secondary failures and take mode
 * changes. Nothing on this path waits for a peer.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cutover/log.h"
#include "flow_int.h"

/* How long one poll(2) may sleep: short enough that batched acks, mode
 * changes and the stop flag are served promptly, long enough to cost
 * nothing when idle. */
#define FLOW_POLL_MS 20
/* Messages moved per loop turn before confirmations are served again. */
#define FLOW_BURST          512
#define FLOW_STATS_EVERY_MS 10000

int64_t cut_flow_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Move up to FLOW_BURST messages from source to sinks. Returns true when the
 * source may have more right now (so the caller must not sleep). */
static bool flow_pump(struct cut_flow *flow)
{
    struct cut_err err;
    for (int i = 0; i < FLOW_BURST; i++) {
        bool first = false;
        if (!flow->held) {
            int rc = flow->src_ops->fetch(flow->src, &flow->held_msg, &err);
            if (rc != CUT_OK) {
                /* CUT_EAGAIN: nothing now. Otherwise the source has logged its
                 * connection change and reconnects on a later fetch; nothing
                 * of the dead connection is acked. */
                return false;
            }
            flow->held = true;
            first = true;
            atomic_fetch_add_explicit(&flow->received, 1, memory_order_relaxed);
        }
        if (cut_router_route(flow, first) == CUT_EFULL) {
            return false;
        }
        flow->held = false;
    }
    return true;
}

static void flow_wait(struct cut_flow *flow, bool want_source)
{
    struct pollfd fds[3];
    nfds_t n = 0;
    for (int side = 0; side < 2; side++) {
        struct flow_target *target = &flow->targets[side];
        int fd = target->ops != NULL ? target->ops->fd(target->sink) : -1;
        if (fd >= 0) {
            fds[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
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

static void flow_poll_sinks(struct cut_flow *flow, int timeout_ms)
{
    for (int side = 0; side < 2; side++) {
        struct flow_target *target = &flow->targets[side];
        if (target->ops != NULL) {
            target->ops->poll(target->sink, timeout_ms);
            timeout_ms = 0; /* sleep on one sink at most */
        }
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
        cut_router_release_held(flow);
        flow->held = false;
    }
    int64_t deadline = cut_flow_now_us() + flow->settings->shutdown_timeout_ms * 1000;
    while (flow->inflight.n > 0 && cut_flow_now_us() < deadline) {
        flow_poll_sinks(flow, FLOW_POLL_MS);
        cut_router_tick(flow);
    }
    if (flow->inflight.n > 0) {
        cut_log_warn(name,
                     "%zu messages still unconfirmed after %lld ms; they stay unacked and "
                     "will be redelivered",
                     flow->inflight.n, (long long)flow->settings->shutdown_timeout_ms);
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
    struct cut_err err;
    int64_t next_stats = cut_flow_now_us() + FLOW_STATS_EVERY_MS * 1000;

    cut_log_info(flow->cfg->name, "started");
    while (!atomic_load_explicit(&flow->stop, memory_order_relaxed)) {
        flow_poll_sinks(flow, 0);
        bool more = flow_pump(flow);
        if (flow->held) {
            /* While a sink is full no fetch runs, and fetch is what sends
             * heartbeats and due acks: flush keeps the source connection
             * alive until room comes back. */
            flow->src_ops->flush(flow->src, &err);
        }
        cut_router_tick(flow);
        if (!more) {
            /* Sleep on the sinks alone while a message waits for room. */
            flow_wait(flow, !flow->held);
        }
        if (cut_flow_now_us() >= next_stats) {
            flow_log_stats(flow);
            next_stats = cut_flow_now_us() + FLOW_STATS_EVERY_MS * 1000;
        }
    }
    flow->result = flow_drain(flow);
    flow_log_stats(flow);
    cut_log_info(flow->cfg->name, "stopped%s", flow->result == CUT_OK ? " cleanly" : "");
    return NULL;
}

static int flow_add_target(struct cut_flow *flow, enum cut_side side,
                           const struct cut_sink_ops *ops, const void *conn_settings,
                           const void *settings, struct cut_err *err)
{
    struct flow_target *target = &flow->targets[side];
    target->flow = flow;
    target->side = side;
    target->params = (struct cut_sink_params){
        .flow = flow->cfg->name,
        .conn_settings = conn_settings,
        .settings = settings,
        .confirm = cut_router_on_confirm,
        .opaque = target,
    };
    int rc = ops->create(&target->sink, &target->params, err);
    if (rc == CUT_OK) {
        target->ops = ops;
    }
    return rc;
}

int cut_flow_create(struct cut_flow **out, const struct cut_settings *settings,
                    const struct cut_flow_cfg *cfg, const struct cut_flow_env *env,
                    struct cut_err *err)
{
    int rc;
    struct cut_flow *flow = calloc(1, sizeof(*flow));
    if (flow == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    flow->settings = settings;
    flow->cfg = cfg;
    flow->env = *env;
    flow->src_ops = cfg->source_conn->connector->source;
    flow->conv_ops = env->conv_ops != NULL ? env->conv_ops : &cut_passthrough_converter;
    cut_inflight_init(&flow->inflight);

    rc = cut_store_open(&flow->store, env->state_path, 0, err);
    if (rc != CUT_OK) {
        goto out;
    }
    if (env->board != NULL) {
        flow->modes = cut_mode_board_acquire(env->board, &flow->modes_gen);
    }
    flow->src_params = (struct cut_source_params){
        .flow = cfg->name,
        .conn_settings = cfg->source_conn->settings,
        .settings = cfg->source_settings,
    };
    rc = flow->src_ops->create(&flow->src, &flow->src_params, err);
    if (rc == CUT_OK && cfg->legacy_conn != NULL) {
        rc = flow_add_target(flow, CUT_SIDE_LEGACY, cfg->legacy_conn->connector->sink,
                             cfg->legacy_conn->settings, cfg->legacy_settings, err);
    }
    if (rc == CUT_OK && cfg->kafka != NULL) {
        rc = flow_add_target(flow, CUT_SIDE_KAFKA, cfg->kafka->sink, &settings->kafka,
                             cfg->kafka_settings, err);
    }
    if (rc == CUT_OK) {
        rc = flow->conv_ops->create(&flow->conv, env->conv_settings, err);
    }
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
    /* The sinks first: destroying one reports what is still unconfirmed, and
     * those reports settle RETRY on the source, which must still exist. */
    for (int side = 0; side < 2; side++) {
        if (flow->targets[side].ops != NULL) {
            flow->targets[side].ops->destroy(flow->targets[side].sink);
            flow->targets[side].ops = NULL;
        }
    }
    if (flow->src) {
        struct cut_err err;
        flow->src_ops->flush(flow->src, &err);
        flow->src_ops->destroy(flow->src);
    }
    if (flow->conv) {
        flow->conv_ops->destroy(flow->conv);
    }
    if (flow->env.board != NULL && flow->modes != NULL) {
        cut_mode_board_release(flow->env.board, flow->modes);
    }
    cut_store_close(flow->store);
    cut_inflight_fini(&flow->inflight);
    free(flow->ledger_queue);
    free(flow);
}
