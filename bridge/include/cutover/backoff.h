/*
 * Reconnect backoff shared by every connector: exponential with full jitter,
 * a wait drawn uniformly from [min, min(max, min * 2^attempts)], so that many
 * bridges that lost the same broker do not come back in step.
 *
 * Thread safety: a struct cut_backoff belongs to the connection that uses it.
 */
#ifndef CUTOVER_BACKOFF_H
#define CUTOVER_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

/**
 * The two config keys every connection has for it, for a connector's
 * conn_keys table: reconnect_backoff_min and reconnect_backoff_max, filling
 * the int64_t ms fields at @p min_off and @p max_off (offsetof values).
 */
#define CUT_BACKOFF_CFG_KEYS(min_off, max_off)                                                     \
    {.name = "reconnect_backoff_min",                                                              \
     .type = CUT_CFG_MS,                                                                           \
     .offset = (min_off),                                                                          \
     .def = "100ms",                                                                               \
     .min = 1,                                                                                     \
     .max = 3600000,                                                                               \
     .desc = "first wait before reconnecting after a failure"},                                    \
    {                                                                                              \
        .name = "reconnect_backoff_max", .type = CUT_CFG_MS, .offset = (max_off), .def = "10s",    \
        .min = 1, .max = 3600000,                                                                  \
        .desc = "longest wait between reconnect attempts (exponential, full jitter)"               \
    }

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
