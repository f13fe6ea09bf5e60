#include "cutover/backoff.h"

static uint64_t backoff_random(struct cut_backoff *b)
{
    /* xorshift64*: enough to spread reconnects of many bridges apart. */
    uint64_t x = b->rng ? b->rng : UINT64_C(0x9e3779b97f4a7c15);
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    b->rng = x;
    return x * UINT64_C(0x2545f4914f6cdd1d);
}

int64_t cut_backoff_next(struct cut_backoff *b)
{
    int64_t lo = b->min_ms;
    int64_t hi = b->max_ms < lo ? lo : b->max_ms;
    int64_t ceiling = lo;
    for (unsigned i = 0; i < b->attempts && ceiling < hi; i++) {
        ceiling *= 2;
    }
    if (ceiling > hi) {
        ceiling = hi;
    }
    b->attempts++;
    return lo + (int64_t)(backoff_random(b) % (uint64_t)(ceiling - lo + 1));
}
