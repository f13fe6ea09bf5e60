/*
 * Reconnect backoff shared by every connector: exponential with full jitter,
 * a wait drawn uniformly from [min, min(max, min * 2^attempts)], so that many
 * bridges that lost the same broker do not come back in step.
 *
 * Thread safety: a struct cut_backoff belongs to the connection that uses it.
 */
#ifndef CUTOVER_BACKOFF_H
#define CUTOVER_BACKOFF_H

#include <stdint.h>

struct cut_backoff {
    int64_t min_ms;
    int64_t max_ms;
    unsigned attempts; /**< failures since the last success */
    uint64_t rng;      /**< xorshift64* state; seed it non-zero */
};

/** The wait before the next attempt, in ms; counts one more attempt. */
int64_t cut_backoff_next(struct cut_backoff *b);

/** A connection succeeded: the next failure waits the minimum again. */
static inline void cut_backoff_reset(struct cut_backoff *b)
{
    b->attempts = 0;
}

#endif
