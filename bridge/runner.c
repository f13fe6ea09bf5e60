#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/log.h"
#include "flow.h"
#include "modes.h"
#include "readback.h"
#include "reconciler.h"
#include "runner.h"
#include "store.h"
#include "tracking.h"

/* What the flows share and the runner owns: the migrated store, the board
 * the store watcher publishes modes on, and the tracking writer. */
struct runner_state {
    struct cut_store *store;
    struct cut_mode_board *board;
    struct cut_store_watch *watch;
    struct cut_tracker *tracker;
    /* The reconciler, and the read-back checker it reads (flow i everywhere
     * is settings->flows[i]). */
    struct cut_recon *recon;
    struct cut_readback *readback;
    struct cut_recon_flow *rflows;
    struct cut_readback_flow *rbflows;
    const char **topics;
};

static struct cut_recon_thresholds thresholds_of(const struct cut_recon_settings *r)
{
    return (struct cut_recon_thresholds){
        .settle_ms = r->settle_ms,
        .min_messages = (uint64_t)r->min_messages,
        .kafka_error_rate = r->kafka_error_rate,
        .loss_rate = r->loss_rate,
        .latency_ratio = r->latency_ratio,
        .latency_floor_us = r->latency_floor_ms * 1000,
        .consistency_alert = r->consistency_alert,
        .soak_ms = r->soak_ms,
    };
}

/* The reconciler thread, and the read-back consumer when sampling is on. */
static int recon_start(struct runner_state *rs, const struct cut_settings *s, struct cut_err *err)
{
    size_t n = s->n_flows ? s->n_flows : 1;
    rs->rflows = calloc(n, sizeof(*rs->rflows));
    rs->rbflows = calloc(n, sizeof(*rs->rbflows));
    rs->topics = calloc(n, sizeof(*rs->topics));
    if (rs->rflows == NULL || rs->rbflows == NULL || rs->topics == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < s->n_flows; i++) {
        const struct cut_flow_cfg *cfg = &s->flows[i];
        bool other = false;
        rs->rflows[i] = (struct cut_recon_flow){
            .name = cfg->name,
            .th = thresholds_of(&cfg->recon),
            .config_mode = cfg->mode_set ? cfg->mode : -1,
        };
        rs->topics[i] = cut_readback_flow_topic(cfg->kafka, cfg->kafka_settings, &other);
        rs->rbflows[i] = (struct cut_readback_flow){
            .name = cfg->name,
            .topics = &rs->topics[i],
            .n_topics = rs->topics[i] != NULL && !other ? 1 : 0,
            .settle_ms = cfg->recon.settle_ms,
        };
    }
    int rc = CUT_OK;
    if (s->recon.readback_sample > 0) {
        struct cut_readback_options ro = {
            .kafka = &s->kafka,
            .sample_every = (uint32_t)s->recon.readback_sample,
        };
        if ((rc = cut_readback_create(&rs->readback, rs->rbflows, s->n_flows, &ro, err)) !=
                CUT_OK ||
            (rc = cut_readback_start(rs->readback, err)) != CUT_OK) {
            return rc;
        }
    }
    struct cut_recon_options opts = {
        .state_path = s->state_path,
        .bridge_name = s->name,
        .interval_ms = s->recon.interval_ms,
        .window_ms = s->recon.window_ms,
        .flows = rs->rflows,
        .n_flows = s->n_flows,
        .webhook_url = s->recon.webhook_url,
        .webhook_timeout_ms = s->recon.webhook_timeout_ms,
        .readback = rs->readback,
    };
    return cut_recon_start(&rs->recon, &opts, err);
}

static int runner_state_start(struct runner_state *rs, const struct cut_settings *settings,
                              struct cut_err *err)
{
    const char **names = calloc(settings->n_flows ? settings->n_flows : 1, sizeof(*names));
    int rc = CUT_ENOMEM;
    if (names == NULL) {
        return cut_err_set(err, rc, "out of memory");
    }
    for (size_t i = 0; i < settings->n_flows; i++) {
        names[i] = settings->flows[i].name;
    }
    struct cut_tracker_options topts = {.flush_ms = (int)settings->tracking_flush_ms};
    /* Opening the store applies pending migrations before anything runs. */
    if ((rc = cut_store_open(&rs->store, settings->state_path, 0, err)) != CUT_OK ||
        (rc = cut_store_flows_register(rs->store, names, settings->n_flows, err)) != CUT_OK ||
        (rc = cut_mode_board_create(&rs->board)) != CUT_OK ||
        (rc = cut_store_watch_start(&rs->watch, settings->state_path, rs->board,
                                    (int)settings->state_poll_ms, err)) != CUT_OK ||
        (rc = cut_tracking_create(&rs->tracker, names, settings->n_flows, &topts, err)) != CUT_OK ||
        (rc = cut_tracking_start(rs->tracker, settings->state_path, err)) != CUT_OK ||
        (rc = recon_start(rs, settings, err)) != CUT_OK) {
        if (rc == CUT_ENOMEM && err->msg[0] == '\0') {
            cut_err_set(err, rc, "out of memory");
        }
    }
    free(names);
    return rc;
}

static void runner_state_stop(struct runner_state *rs)
{
    struct cut_err err;
    cut_recon_stop(rs->recon);
    cut_readback_destroy(rs->readback);
    free(rs->rflows);
    free(rs->rbflows);
    free(rs->topics);
    if (rs->tracker != NULL && cut_tracking_stop(rs->tracker, &err) != CUT_OK) {
        cut_log_warn("runner", "last tracking flush failed: %s", err.msg);
    }
    cut_tracking_destroy(rs->tracker);
    cut_store_watch_stop(rs->watch);
    cut_mode_board_destroy(rs->board);
    cut_store_close(rs->store);
}

int cut_runner_run(const struct cut_settings *settings, const struct cut_flow_plugin *plugins)
{
    int status = 0;
    struct cut_err err = {0};
    struct runner_state rs = {0};
    sigset_t stop_signals;
    struct cut_flow **flows = calloc(settings->n_flows ? settings->n_flows : 1, sizeof(*flows));
    if (flows == NULL) {
        cut_log_error("runner", "out of memory");
        return 1;
    }

    /* Block the stop signals before any thread exists, so that every thread
     * inherits the mask and only sigwait() below ever sees them. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (runner_state_start(&rs, settings, &err) != CUT_OK) {
        cut_log_error("runner", "state store %s: %s", settings->state_path, err.msg);
        status = 1;
        goto stop;
    }
    for (size_t i = 0; i < settings->n_flows; i++) {
        struct cut_flow_env env = {
            .state_path = settings->state_path,
            .board = rs.board,
            .tracker = rs.tracker,
            .readback = rs.readback,
            .index = i,
            .conv_ops = plugins != NULL ? plugins[i].conv_ops : NULL,
            .conv_settings = plugins != NULL ? plugins[i].conv_settings : NULL,
        };
        if (cut_flow_create(&flows[i], settings, &settings->flows[i], &env, &err) != CUT_OK ||
            cut_flow_start(flows[i], &err) != CUT_OK) {
            cut_log_error(settings->flows[i].name, "cannot start: %s", err.msg);
            status = 1;
            goto stop;
        }
    }
    cut_log_info("runner", "%s: %zu flow(s) running; SIGTERM or SIGINT stops", settings->name,
                 settings->n_flows);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    cut_log_info("runner", "%s received: draining in-flight messages (at most %lld ms)",
                 strsignal(sig), (long long)settings->shutdown_timeout_ms);

stop:
    /* No judgement on a draining bridge. */
    cut_recon_stop(rs.recon);
    rs.recon = NULL;
    for (size_t i = 0; i < settings->n_flows; i++) {
        if (flows[i]) {
            cut_flow_request_stop(flows[i]);
        }
    }
    for (size_t i = 0; i < settings->n_flows; i++) {
        if (flows[i] && cut_flow_join(flows[i]) != CUT_OK) {
            status = 1;
        }
        cut_flow_destroy(flows[i]);
    }
    runner_state_stop(&rs);
    free(flows);
    return status;
}
