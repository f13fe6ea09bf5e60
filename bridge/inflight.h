/*
 * The in-flight table of a flow: one entry per source delivery that has been
 * routed and not yet settled, holding what the router needs to decide its
 * ack when the sinks answer: the mode it started under (a mode change never
 * affects a message already in flight), each side's result, when it was sent
 * and, under a dual-write mode, a copy of the envelope for the repair ledger.
 *
 * An open-addressing hash keyed by the source token, grown (never shrunk) to
 * stay at most half full: no allocation per message in the steady state.
 *
 * Thread safety: owned by the flow thread.
 */
#ifndef CUTOVER_INFLIGHT_H
#define CUTOVER_INFLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "cutover/connector.h"
#include "cutover/msgcodec.h"

struct cut_inflight_slot {
    cut_token_t token;
    uint8_t used;
    uint8_t mode;         /**< enum cut_mode it was routed under */
    uint8_t res[2];       /**< enum cut_side_result, indexed by enum cut_side */
    uint8_t queued;       /**< its secondary failure waits for the repair ledger */
    uint8_t dlq;          /**< on its way to the dead-letter destinations, not the targets */
    uint8_t sec_dl;       /**< its Kafka secondary write is a dead letter (cannot be converted) */
    uint64_t id_hash;     /**< hash of the message id, for counting attempts */
    int64_t sent_us;      /**< monotonic admission time, for latencies */
    int64_t sec_sent_us;  /**< when the secondary was really sent; 0: not yet */
    struct cut_buf *copy; /**< dual-write only: cut_msg_encode() of the envelope; owned */
};

struct cut_inflight {
    struct cut_inflight_slot *slots;
    size_t cap; /**< power of two */
    size_t n;
};

void cut_inflight_init(struct cut_inflight *tab);
/** Frees the table and every copy still in it. */
void cut_inflight_fini(struct cut_inflight *tab);

/**
 * A new, zeroed entry for @p token (token set, used = 1), or NULL when out of
 * memory. The pointer is valid until the next add or remove.
 */
struct cut_inflight_slot *cut_inflight_add(struct cut_inflight *tab, cut_token_t token);

/** The entry of @p token, or NULL. Valid until the next add or remove. */
struct cut_inflight_slot *cut_inflight_find(const struct cut_inflight *tab, cut_token_t token);

/** Remove @p slot (its copy, if any, is freed). */
void cut_inflight_remove(struct cut_inflight *tab, struct cut_inflight_slot *slot);

#endif
