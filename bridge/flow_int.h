/*
 * Inside a flow: what bridge/flow.c (the thread, its loop and its sinks) and
 * bridge/router.c (per-message routing under the flow's mode, the ack rule,
 * the repair ledger) share. Everything here belongs to the flow's thread.
 */
#ifndef CUTOVER_FLOW_INT_H
#define CUTOVER_FLOW_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cutover/converter.h"
#include "cutover/msgcodec.h"
#include "flow.h"
#include "inflight.h"
#include "modes.h"
#include "store.h"
#include "tracking.h"

/* One destination of the flow, indexed by enum cut_side. */
struct flow_target {
    struct cut_flow *flow;
    enum cut_side side;
    const struct cut_sink_ops *ops; /* NULL: the flow has no such target */
    struct cut_sink *sink;
    struct cut_sink_params params;
};

/* Remembered primary failures per message id, to dead-letter a message that
 * keeps failing even where the broker cannot count redeliveries (AMQP 0-9-1
 * classic queues only say "redelivered"). Direct-mapped by a 64-bit hash of
 * the id: a collision only forgets a count, so it errs towards more tries. */
#define FLOW_ATTEMPT_SLOTS 4096
struct flow_attempt {
    uint64_t id_hash;
    uint32_t count;
    char reason[120]; /* why it failed last: the dead letter carries it */
};

struct cut_flow {
    const struct cut_settings *settings;
    const struct cut_flow_cfg *cfg;
    struct cut_flow_env env;
    const struct cut_source_ops *src_ops;
    struct cut_source *src;
    struct cut_source_params src_params;
    const struct cut_converter_ops *conv_ops;
    struct cut_converter *conv;
    struct flow_target targets[2]; /* [CUT_SIDE_LEGACY], [CUT_SIDE_KAFKA] */

    struct cut_inflight inflight;
    struct cut_store *store; /* this thread's handle, for the repair ledger */
    const struct cut_mode_table *modes;
    uint64_t modes_gen;

    /* The message being routed: fetched, and still owed a send to the sides
     * in held_mask (bit 1 << side) because a primary sink was full. Its
     * borrowed data stays valid because nothing is fetched meanwhile. */
    bool held;
    uint8_t held_mask;
    struct cut_msg held_msg;

    /* Tokens whose secondary failed, to record in the ledger at the end of
     * the loop turn, in one transaction. */
    cut_token_t *ledger_queue;
    size_t n_ledger, cap_ledger;
    int64_t next_ledger_try_us;
    int64_t next_scan_us;

    struct flow_attempt attempts[FLOW_ATTEMPT_SLOTS];

    pthread_t thread;
    bool started;
    atomic_bool stop;
    int result;
    atomic_uint_fast64_t received, confirmed, retried, rejected;
};

int64_t cut_flow_now_us(void);

/* ---- router.c ------------------------------------------------------------ */

/**
 * Route the held message: on first sight resolve its mode and register it in
 * flight, then send it to every side still owed. Returns CUT_EFULL when the
 * primary's sink is full (the message stays held), CUT_OK otherwise.
 */
int cut_router_route(struct cut_flow *flow, bool first);

/** A sink's confirm callback (opaque is the struct flow_target). */
void cut_router_on_confirm(void *opaque, cut_token_t token, int status, const struct cut_err *err);

/** Once per loop turn: take a new mode table, record queued secondary
 * failures in the ledger, give up on secondaries that stay silent. */
void cut_router_tick(struct cut_flow *flow);

/** Shutdown: the held message's unsent sides answer "failed", so that it is released. */
void cut_router_release_held(struct cut_flow *flow);

#endif
