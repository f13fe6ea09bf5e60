/*
 * The runner: starts one thread per flow, waits for SIGTERM or SIGINT on the
 * main thread, then stops every flow and waits for each to drain.
 *
 * Thread safety: main thread only.
 */
#ifndef CUTOVER_RUNNER_H
#define CUTOVER_RUNNER_H

#include "settings.h"

struct cut_converter_ops;

/** The converter of one flow, chosen by the program (bridge/cli) that composes the parts. */
struct cut_flow_plugin {
    const struct cut_converter_ops *conv_ops; /**< NULL: passthrough */
    const void *conv_settings;                /**< borrowed for the run */
};

/**
 * Run every flow of @p settings until a stop signal. @p plugins has one entry
 * per flow, or is NULL (every flow passthrough). Returns 0 when every flow
 * drained cleanly, 1 when a flow could not start or left messages unconfirmed
 * (they are not acked, so the broker redelivers them).
 */
int cut_runner_run(const struct cut_settings *settings, const struct cut_flow_plugin *plugins);

#endif
