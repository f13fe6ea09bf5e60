/*
 * Repair (`cutover repair FLOW`): replay the repair ledger's messages to the
 * side that missed them, and mark them repaired.
 *
 * For each open ledger entry of the flow, oldest first: decode the envelope
 * the router stored (cut_msg_decode), and
 *   - Kafka side: unless the message id is already on the flow's topics,
 *     convert it with the flow's converter and send it with the Kafka sink.
 *     Presence is checked by reading the topics (a bounded scan from shortly
 *     before the oldest open entry to the end offsets as of the start) for
 *     the `message_id` header. A message already there is marked repaired
 *     without being sent again. When the scan cannot finish, nothing is sent
 *     to Kafka (CUT_ERETRY): better a second run than a duplicate.
 *   - legacy side: send the envelope with the legacy sink. A queue cannot be
 *     searched without consuming it, so presence is not checked there; the
 *     message keeps its id, by which the legacy consumers detect a duplicate
 *     (possible only when the failed write had in fact arrived).
 * Within one run, entries with the same message id and side are sent once.
 * Each confirmed send, and each message found present, is marked repaired
 * and counted in the tracking table as confirmed by that side and by both
 * (in the minute the entry was recorded), so that the consistency of the
 * window shows the repair. A failed send counts one more attempt; the entry
 * stays open for the next run.
 *
 * Crash safety: an entry is marked repaired only after its confirmation. A
 * crash in between leaves it open; the next run finds it on Kafka (no
 * second copy) or, on the legacy side, sends it again (same id).
 *
 * Thread safety: one thread; it owns the store handle and the sinks.
 */
#ifndef CUTOVER_REPAIR_H
#define CUTOVER_REPAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cutover/config.h"
#include "cutover/connector.h"
#include "cutover/converter.h"
#include "store.h"

/** What a repair needs; everything borrowed for the call. */
struct cut_repair_options {
    const char *flow;
    bool dry_run; /**< decide and print, send and change nothing */

    /** The legacy sink (NULL ops: the legacy side is not repaired). */
    const struct cut_sink_ops *legacy_ops;
    const void *legacy_conn_settings, *legacy_settings;
    /** The Kafka sink and the flow's converter (NULL conv_ops: passthrough). */
    const struct cut_sink_ops *kafka_ops;
    const void *kafka_conn_settings, *kafka_settings;
    const struct cut_converter_ops *conv_ops;
    const void *conv_settings;

    /** For the presence check on Kafka: the consumer's properties (the
     *  top-level `kafka:` map, then the flow's overrides) and the topics. */
    const struct cut_kv_list *kafka_global, *kafka_props;
    const char *const *topics;
    size_t n_topics;

    int64_t scan_margin_ms;     /**< scan from this long before the oldest entry (0: 15 min) */
    int64_t scan_timeout_ms;    /**< bound on the scan (0: 120 s) */
    int64_t confirm_timeout_ms; /**< bound on waiting for one batch's confirms (0: 60 s) */
    size_t batch;               /**< entries per batch (0: 500) */
    FILE *out;                  /**< one line per entry (what is done with it), or NULL */
};

/** Counts per side (enum cut_side). */
struct cut_repair_result {
    uint64_t open[2];     /**< open entries at the start */
    uint64_t replayed[2]; /**< sent and confirmed (dry run: would be sent) */
    uint64_t present[2];  /**< already on the side: marked repaired, not sent */
    uint64_t failed[2];   /**< sent and not confirmed, or refused: still open */
    uint64_t skipped[2];  /**< the side has no sink in the config: left open */
    uint64_t undecodable; /**< entries whose stored envelope cannot be decoded */
    uint64_t scanned;     /**< records read by the presence check */
};

/**
 * Repair flow o->flow. Returns CUT_OK when the run went through (some sends
 * may still have failed: see the result), CUT_ERETRY when the presence
 * check could not finish (nothing was sent to Kafka), or the store's error.
 */
int cut_repair_run(struct cut_store *st, const struct cut_repair_options *o,
                   struct cut_repair_result *res, struct cut_err *err);

#endif
