/*
 * The acknowledgement window of an AMQP 0-9-1 consumer: given the deliveries
 * handed out and the outcomes the flow settles them with, decide which
 * basic.ack / basic.nack frames to send, and when. It is pure bookkeeping
 * (no socket, no clock of its own) so that it can be tested without a broker;
 * amqp091_source.c turns its output into frames.
 *
 * Delivery tags are sequential per channel, starting at 1; a new channel (a
 * reconnect) starts again at 1. Each channel is one epoch of the window, and
 * the token handed to the flow carries the epoch in its top 16 bits:
 *
 *     token = epoch << 48 | delivery_tag        (epoch 1..65535, never 0)
 *
 * so a token settled after a reconnect is recognised as stale and ignored:
 * acking an old tag on the new channel would ack the wrong message or fail
 * with 406 PRECONDITION_FAILED "unknown delivery tag".
 *
 * What goes on the wire (the reasoning is in ackwin.c):
 *   - accepted deliveries are acked with basic.ack(T, multiple=1) where T ends
 *     a run of accepted tags that starts right after the last tag already
 *     resolved on the wire, and every tag of the run is accepted. The lowest
 *     unsettled delivery bounds T: messages complete out of order.
 *   - RETRY and REJECT go out one by one as basic.nack(t, multiple=0,
 *     requeue=1|0) as soon as the window is collected (the next fetch, settle or
 *     flush), even above an unsettled one; a later run never spans them.
 *   - when many accepted deliveries wait behind one slow delivery (at least
 *     `relief` of them), or on a CUT_ACKWIN_ALL collect (before closing),
 *     they are acked one by one (multiple=0) so that they stop holding the
 *     broker's prefetch window and are not redelivered after a shutdown.
 *
 * Thread safety: none; a window belongs to its source's thread.
 */
#ifndef CUTOVER_AMQP091_ACKWIN_H
#define CUTOVER_AMQP091_ACKWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cutover/connector.h"
#include "cutover/msg.h"

/** Delivery tags above this do not fit in a token; the source reconnects. */
#define CUT_ACKWIN_TAG_MAX ((UINT64_C(1) << 48) - 1)

/** One frame to send on the consumer's channel. */
struct cut_ackwin_op {
    uint64_t tag;
    bool ack;      /**< true: basic.ack; false: basic.nack */
    bool multiple; /**< every unresolved tag up to and including tag */
    bool requeue;  /**< basic.nack only: give it back (RETRY) or dead-letter it (REJECT) */
};

/**
 * Send @p op. Returns 0 when it went out, a negative status otherwise; the
 * window then keeps @p op and everything after it pending.
 */
typedef int (*cut_ackwin_emit_cb)(void *opaque, const struct cut_ackwin_op *op);

/** How much cut_ackwin_collect() sends. */
enum cut_ackwin_mode {
    CUT_ACKWIN_DUE,   /**< only when cut_ackwin_due(): the batch and interval thresholds */
    CUT_ACKWIN_FLUSH, /**< everything that can go as runs and nacks, thresholds ignored */
    CUT_ACKWIN_ALL,   /**< FLUSH, plus single acks for accepted tags above an unsettled one */
};

/** What cut_ackwin_settle() did with a token. */
enum cut_ackwin_result {
    CUT_ACKWIN_SETTLED, /**< recorded; goes out with a later collect */
    CUT_ACKWIN_STALE,   /**< token of an earlier channel: ignored, the broker redelivers */
    CUT_ACKWIN_UNKNOWN, /**< not an outstanding delivery of this channel (settled twice?) */
};

/** Embedded in the source; the fields are private to ackwin.c. */
struct cut_ackwin {
    uint8_t *slots;        /**< ring of per-tag states, indexed by tag & mask */
    size_t mask;           /**< capacity - 1 (capacity is a power of two) */
    uint64_t base;         /**< lowest tag not resolved on the wire; all below are */
    uint64_t ready_end;    /**< lowest tag >= base still unsettled, or next */
    uint64_t next;         /**< tag the next delivery must carry */
    size_t n_out;          /**< delivered, not yet settled by the flow */
    size_t n_unsent;       /**< settled, frame not sent yet */
    size_t n_contig;       /**< of those, how many lie in [base, ready_end) */
    size_t n_beyond;       /**< of those, how many lie above ready_end */
    size_t n_nack;         /**< of those, how many are RETRY or REJECT */
    int64_t pending_since; /**< ms when n_unsent last became non-zero (see collect) */
    uint16_t epoch;
    size_t batch;
    int64_t interval_ms;
    size_t relief;
};

/**
 * Set up an empty window (epoch 1). @p capacity is a hint (the prefetch
 * count); the ring grows when more tags are open at once. A run of @p batch
 * contiguous settlements is sent at once; anything settled is sent at most
 * @p interval_ms after it was settled; @p relief (0 = never) is how many
 * accepted deliveries may wait behind an unsettled one before they are acked
 * one by one. Returns CUT_OK or CUT_ENOMEM.
 */
int cut_ackwin_init(struct cut_ackwin *win, size_t capacity, size_t batch, int64_t interval_ms,
                    size_t relief);
void cut_ackwin_fini(struct cut_ackwin *win);

/**
 * Forget every delivery and start a new epoch: call when the channel is gone
 * and when a new one opens. Tokens handed out before become stale.
 */
void cut_ackwin_reset(struct cut_ackwin *win);

/**
 * Record the delivery @p tag and return its token in @p token. Tags must come
 * in sequence (1, 2, 3... per epoch): anything else is a protocol error and
 * returns CUT_EINVAL (the source drops the connection). CUT_ENOMEM when the
 * ring cannot grow.
 */
int cut_ackwin_deliver(struct cut_ackwin *win, uint64_t tag, cut_token_t *token);

/** Record how the delivery @p token ended, at monotonic time @p now_ms. */
enum cut_ackwin_result cut_ackwin_settle(struct cut_ackwin *win, cut_token_t token,
                                         enum cut_outcome outcome, int64_t now_ms);

/** True when a collect at @p now_ms would send something it should not hold back. */
bool cut_ackwin_due(const struct cut_ackwin *win, int64_t now_ms);

/**
 * Emit the frames that @p mode asks for through @p emit, in tag order.
 * Returns CUT_OK, or the first negative status of @p emit (what was emitted
 * before it stays done; the rest stays pending).
 */
int cut_ackwin_collect(struct cut_ackwin *win, int64_t now_ms, enum cut_ackwin_mode mode,
                       cut_ackwin_emit_cb emit, void *opaque);

/** Deliveries handed out and not yet settled. */
size_t cut_ackwin_in_flight(const struct cut_ackwin *win);

/** Settlements recorded and not yet sent. */
size_t cut_ackwin_unsent(const struct cut_ackwin *win);

#endif
