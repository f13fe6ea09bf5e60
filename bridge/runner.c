#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/log.h"
#include "flow.h"
#include "modes.h"
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
};

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
        (rc = cut_tracking_start(rs->tracker, settings->state_path, err)) != CUT_OK) {
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
