/*
 * A flow: one source queue forwarded to a legacy target, a Kafka topic or
 * both, under the flow's migration mode (bridge/router.c), run by one thread
 * that owns the source connection, the converter and both sinks.
 *
 * The thread multiplexes with poll(2) over the source socket and the sink's
 * delivery-report descriptor: fetch -> convert -> send without waiting, and
 * settle each source delivery only when its confirmation arrives. The
 * source's prefetch window and the sink's max_in_flight bound the pipeline;
 * acks go out in batches (see the source's ack_batch / ack_interval).
 *
 * Thread safety: cut_flow_create/destroy/start/join on the main thread;
 * cut_flow_request_stop() from any thread (it only sets an atomic flag).
 */
#ifndef CUTOVER_FLOW_H
#define CUTOVER_FLOW_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "settings.h"

struct cut_flow;

/** Counters, readable from any thread. */
struct cut_flow_stats {
    uint64_t received;  /**< deliveries fetched from the source */
    uint64_t confirmed; /**< confirmed by Kafka and settled ACCEPT */
    uint64_t retried;   /**< given back to the source for redelivery */
    uint64_t rejected;  /**< refused for good (poison) */
};

struct cut_mode_board;
struct cut_tracker;
struct cut_readback;
struct cut_converter_ops;

/** What the runner shares with every flow; all borrowed for the flow's life. */
struct cut_flow_env {
    const char *state_path;                   /**< the state store, for the repair ledger */
    struct cut_mode_board *board;             /**< current modes, published by the store watcher */
    struct cut_tracker *tracker;              /**< per-minute counters */
    struct cut_readback *readback;            /**< read-back sampling (readback.h), or NULL */
    size_t index;                             /**< this flow's index in the tracker */
    const struct cut_converter_ops *conv_ops; /**< the flow's converter; NULL: passthrough */
    const void *conv_settings;                /**< its settings (a loaded mapping, say) */
};

/** Create the flow's source, sinks and converter (no connection yet). @p cfg is borrowed. */
int cut_flow_create(struct cut_flow **flow, const struct cut_settings *settings,
                    const struct cut_flow_cfg *cfg, const struct cut_flow_env *env,
                    struct cut_err *err);
int cut_flow_start(struct cut_flow *flow, struct cut_err *err);
void cut_flow_request_stop(struct cut_flow *flow);
/** Wait for the thread; returns CUT_OK when it drained cleanly. */
int cut_flow_join(struct cut_flow *flow);
void cut_flow_stats(const struct cut_flow *flow, struct cut_flow_stats *stats);
const char *cut_flow_name(const struct cut_flow *flow);
void cut_flow_destroy(struct cut_flow *flow); /**< accepts NULL; join first */

#endif
