/*
 * The in-flight table of a flow: for each source delivery sent to one or
 * more sinks, which sinks still owe a confirmation and the worst outcome so
 * far. The delivery is settled on the source only when the last owed
 * confirmation arrives, with that worst outcome (REJECT > RETRY > ACCEPT).
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

struct cut_inflight_slot {
    cut_token_t token;
    uint8_t used;
    uint8_t pending; /**< bit i set: sink i still owes a confirmation */
    uint8_t outcome; /**< worst enum cut_outcome so far */
};

struct cut_inflight {
    struct cut_inflight_slot *slots;
    size_t cap; /**< power of two */
    size_t n;
};

void cut_inflight_init(struct cut_inflight *tab);
void cut_inflight_fini(struct cut_inflight *tab);

/** Start tracking @p token, owed by the sinks in @p mask. CUT_ENOMEM on failure. */
int cut_inflight_add(struct cut_inflight *tab, cut_token_t token, uint8_t mask);

/**
 * Record that sink @p bit answered @p outcome for @p token. Returns 1 and
 * sets *final when no sink owes anything any more (the entry is removed),
 * 0 while others still owe, -1 when the token is unknown.
 */
int cut_inflight_answer(struct cut_inflight *tab, cut_token_t token, uint8_t bit,
                        enum cut_outcome outcome, enum cut_outcome *final);

#endif
