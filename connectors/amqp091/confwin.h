/*
 * The publisher-confirm window of an AMQP 0-9-1 sink: which publishes are
 * unconfirmed, what each basic.ack / basic.nack / basic.return means for
 * them. Pure bookkeeping (no socket, no clock) so that it is tested without a
 * broker; amqp091_sink.c feeds it the frames.
 *
 * Sequence numbers: after confirm.select every publish on the channel gets
 * the next number, starting at 1; a new channel starts again at 1
 * (cut_confwin_reset()). basic.ack(T, multiple) confirms every publish up to
 * T; basic.nack the same, negatively.
 *
 * Returns (mandatory publishes that no queue took). RabbitMQ confirms an
 * unroutable message too (basic.ack: "the exchange has handled it"), so the
 * ack alone would count it as delivered: the return is what says otherwise.
 * A basic.return carries no sequence number. What RabbitMQ guarantees
 * (rabbit_channel: "the order here is important since basic.returns must be
 * sent before confirms"; documented in "Consumer Acknowledgements and
 * Publisher Confirms"):
 *   (1) the return of publish S is written while the channel processes S,
 *       before the ack (or nack) that covers S, on the same connection;
 *   (2) so returns arrive in publish order, and every ack/nack that arrived
 *       before the return of S was written before S was processed: it covers
 *       only sequence numbers below S.
 * But confirms are coalesced and routed messages wait for their queues
 * (fsync, quorum), so the ack right after a return may cover other
 * messages, and the lowest unconfirmed publish is NOT necessarily the
 * returned one (1 routed and waiting for disk, 2 unroutable: return(2),
 * ack(2), then ack(1)).
 *
 * The rule, then: a return is matched by content against the unconfirmed
 * publishes whose sequence number is above both the highest number any
 * ack/nack has covered so far and the lowest candidate of the previous
 * return. The content is a hash of exchange, routing key, message_id and
 * body, taken at publish time. Every candidate with the same hash is marked
 * returned (identical messages in flight cannot be told apart: all of them
 * are retried, which may duplicate, never lose). If nothing matches (which
 * would be a bug), every unconfirmed publish in the range is marked
 * returned. A publish marked returned is reported CUT_ERETRY when its
 * ack arrives: an unroutable message is not delivered, and the bridge's
 * retry with backoff is safer than dropping it.
 *
 * Thread safety: none; a window belongs to its sink's thread. The callback
 * may add publishes (the ring may grow) but must not call anything else on
 * the window.
 */
#ifndef CUTOVER_AMQP091_CONFWIN_H
#define CUTOVER_AMQP091_CONFWIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cutover/msg.h"

/** How one publish ended. */
enum cut_confwin_outcome {
    CUT_CONFWIN_CONFIRMED, /**< acked and not returned: delivered */
    CUT_CONFWIN_RETURNED,  /**< acked (or nacked) after a basic.return: unroutable */
    CUT_CONFWIN_NACKED,    /**< nacked: the broker could not take it */
    CUT_CONFWIN_LOST,      /**< the channel died before the confirm */
};

/** Receives each ended publish, in sequence order. */
typedef void (*cut_confwin_cb)(void *opaque, cut_token_t token, enum cut_confwin_outcome outcome);

struct cut_confwin_slot {
    cut_token_t token;
    uint64_t hash;
    uint8_t state;
};

/** Embedded in the sink; the fields are private to confwin.c. */
struct cut_confwin {
    struct cut_confwin_slot *slots; /**< ring indexed by seq & mask */
    size_t mask;
    uint64_t low;       /**< lowest seq not ended, or next */
    uint64_t next;      /**< seq of the next publish */
    size_t pending;     /**< published, not ended */
    uint64_t acked_max; /**< highest seq any ack/nack covered */
    uint64_t ret_floor; /**< lowest candidate of the last return */
};

/** An empty window; @p capacity is a hint (the ring grows). CUT_OK or CUT_ENOMEM. */
int cut_confwin_init(struct cut_confwin *win, size_t capacity);
void cut_confwin_fini(struct cut_confwin *win);

/** Start a new channel: sequence numbers from 1. Only when nothing is pending. */
void cut_confwin_reset(struct cut_confwin *win);

/**
 * Record a publish about to go out with @p token and content hash @p hash;
 * its sequence number in @p seq. CUT_OK or CUT_ENOMEM.
 */
int cut_confwin_add(struct cut_confwin *win, cut_token_t token, uint64_t hash, uint64_t *seq);

/**
 * Take back the publish @p seq just added, which could not be sent (it must
 * be the last one added). It is not reported.
 */
void cut_confwin_unadd(struct cut_confwin *win, uint64_t seq);

/**
 * A basic.ack (@p nack false) or basic.nack for @p tag: end the covered
 * pending publishes through @p cb. CUT_EINVAL when @p tag was never
 * published on this channel (a protocol error: drop the connection).
 */
int cut_confwin_ack(struct cut_confwin *win, uint64_t tag, bool multiple, bool nack,
                    cut_confwin_cb cb, void *opaque);

/**
 * A basic.return whose content hashes to @p hash. Returns how many pending
 * publishes it matched (marked returned), or 0 when none did (then every
 * candidate in range was marked: see above).
 */
size_t cut_confwin_return(struct cut_confwin *win, uint64_t hash);

/** The channel is gone: end every pending publish as LOST through @p cb. */
void cut_confwin_fail_all(struct cut_confwin *win, cut_confwin_cb cb, void *opaque);

/** Publishes not ended yet. */
size_t cut_confwin_pending(const struct cut_confwin *win);

#endif
