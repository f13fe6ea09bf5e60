/*
 * The runner: starts one thread per flow, waits for SIGTERM or SIGINT on the
 * main thread, then stops every flow and waits for each to drain.
 *
 * Thread safety: main thread only.
 */
#ifndef CUTOVER_RUNNER_H
#define CUTOVER_RUNNER_H

#include "settings.h"

/**
 * Run every flow of @p settings until a stop signal. Returns 0 when every flow
 * drained cleanly, 1 when a flow could not start or left messages unconfirmed
 * (they are not acked, so the broker redelivers them).
 */
int cut_runner_run(const struct cut_settings *settings);

#endif
