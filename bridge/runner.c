#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/log.h"
#include "flow.h"
#include "runner.h"

int cut_runner_run(const struct cut_settings *settings)
{
    int status = 0;
    struct cut_err err;
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

    for (size_t i = 0; i < settings->n_flows; i++) {
        if (cut_flow_create(&flows[i], settings, &settings->flows[i], &err) != CUT_OK ||
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
    free(flows);
    return status;
}
