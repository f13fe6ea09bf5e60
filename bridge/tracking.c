/*
 * Per-flow counters on the message path, drained into per-minute rows by one
 * writer thread. See tracking.h for the contract; the point of the design is
 * that cut_tracking_count() costs one relaxed atomic add on a cache line
 * only its own flow thread writes, and the database never sees a message.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cutover/log.h"
#include "tracking.h"

/* Minute slots per flow; see "Minutes" in tracking.h. */
#define SLOTS            4
#define DEFAULT_FLUSH_MS 1000
#define DEFAULT_MAX_PEND 100000
#define CACHE_LINE       64

struct track_slot {
    _Atomic uint64_t counts[CUT_TRACK_COUNT];
    _Atomic uint64_t lat[2][CUT_LAT_BUCKETS];
};

/* One flow's counters, on cache lines of their own: flows run on different
 * threads and must not share lines. */
struct track_flow {
    _Alignas(CACHE_LINE) struct track_slot slots[SLOTS];
    char *name;
};

struct cut_tracker {
    struct track_flow *flows; /* n of them, aligned */
    size_t n;
    _Atomic unsigned cur_slot;  /* read by the message path */
    int64_t slot_minute[SLOTS]; /* writer only; -1: not in use yet */
    int64_t cur_minute;         /* writer only */
    struct cut_tracker_options opts;

    /* Drained rows not written yet; row.flow points at flows[i].name. */
    struct cut_tracking_row *pending;
    size_t n_pending, cap_pending;
    _Atomic uint64_t dropped;
    bool warned_drop;

    /* The writer thread. */
    struct cut_store *st;
    pthread_t thread;
    bool running;
    pthread_mutex_t lock; /* guards stop */
    pthread_cond_t wake;
    bool stop;
    int last_rc;
    struct cut_err last_err;
};

static int64_t real_clock(void *opaque)
{
    (void)opaque;
    return (int64_t)time(NULL);
}

/* ---- the message path: atomics only ------------------------------------- */

void cut_tracking_add(struct cut_tracker *t, size_t flow, enum cut_track_event ev, uint64_t n)
{
    if (flow >= t->n || (unsigned)ev >= CUT_TRACK_COUNT) {
        return;
    }
    unsigned s = atomic_load_explicit(&t->cur_slot, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->flows[flow].slots[s].counts[ev], n, memory_order_relaxed);
}

void cut_tracking_count(struct cut_tracker *t, size_t flow, enum cut_track_event ev)
{
    cut_tracking_add(t, flow, ev, 1);
}

void cut_tracking_latency(struct cut_tracker *t, size_t flow, enum cut_side side, uint32_t micros)
{
    if (flow >= t->n || (side != CUT_SIDE_LEGACY && side != CUT_SIDE_KAFKA)) {
        return;
    }
    unsigned s = atomic_load_explicit(&t->cur_slot, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->flows[flow].slots[s].lat[side][cut_lat_bucket(micros)], 1,
                              memory_order_relaxed);
}

/* ---- the writer side --------------------------------------------------------- */

/* Add @p row into the pending row of the same flow and minute, or append it. */
static void pending_merge(struct cut_tracker *t, const struct cut_tracking_row *row)
{
    for (size_t i = 0; i < t->n_pending; i++) {
        struct cut_tracking_row *p = &t->pending[i];
        if (p->flow == row->flow && p->minute == row->minute) {
            for (int c = 0; c < CUT_TRACK_COUNT; c++) {
                p->counts[c] += row->counts[c];
            }
            for (int side = 0; side < 2; side++) {
                for (int b = 0; b < CUT_LAT_BUCKETS; b++) {
                    p->lat[side][b] += row->lat[side][b];
                }
            }
            return;
        }
    }
    if (t->n_pending == t->cap_pending) {
        size_t cap = t->cap_pending ? t->cap_pending * 2 : 64;
        struct cut_tracking_row *grown = NULL;
        if (t->n_pending < t->opts.max_pending) {
            cap = cap < t->opts.max_pending ? cap : t->opts.max_pending;
            grown = realloc(t->pending, cap * sizeof(*grown));
        }
        if (grown == NULL) {
            /* Counters are statistics, not messages: past the bound (a store
             * down for a long time) they are dropped, and counted. */
            atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
            if (!t->warned_drop) {
                cut_log_warn("tracking", "store unavailable for too long: dropping tracking rows");
                t->warned_drop = true;
            }
            return;
        }
        t->pending = grown;
        t->cap_pending = cap;
    }
    t->pending[t->n_pending++] = *row;
}

/* Move what slot @p s of every flow holds into pending rows. */
static void drain_slot(struct cut_tracker *t, unsigned s)
{
    if (t->slot_minute[s] < 0) {
        return;
    }
    for (size_t f = 0; f < t->n; f++) {
        struct track_slot *slot = &t->flows[f].slots[s];
        struct cut_tracking_row row = {.flow = t->flows[f].name, .minute = t->slot_minute[s]};
        bool any = false;
        /* Load first: most counters are zero, and an exchange would dirty
         * the flow thread's cache line for nothing. */
        for (int c = 0; c < CUT_TRACK_COUNT; c++) {
            if (atomic_load_explicit(&slot->counts[c], memory_order_relaxed) != 0) {
                row.counts[c] = atomic_exchange_explicit(&slot->counts[c], 0, memory_order_relaxed);
                any = any || row.counts[c] != 0;
            }
        }
        for (int side = 0; side < 2; side++) {
            for (int b = 0; b < CUT_LAT_BUCKETS; b++) {
                if (atomic_load_explicit(&slot->lat[side][b], memory_order_relaxed) != 0) {
                    row.lat[side][b] =
                        atomic_exchange_explicit(&slot->lat[side][b], 0, memory_order_relaxed);
                    any = any || row.lat[side][b] != 0;
                }
            }
        }
        if (any) {
            pending_merge(t, &row);
        }
    }
}

/* Publish the current minute: a new minute takes the next slot, emptied
 * first of whatever a late message thread added to it. */
static void advance(struct cut_tracker *t)
{
    int64_t now = t->opts.clock(t->opts.clock_opaque);
    int64_t minute = now - ((now % 60) + 60) % 60;
    if (minute <= t->cur_minute) {
        return; /* same minute, or the clock stepped back: stay */
    }
    unsigned s = (atomic_load_explicit(&t->cur_slot, memory_order_relaxed) + 1) % SLOTS;
    drain_slot(t, s);
    t->slot_minute[s] = minute;
    t->cur_minute = minute;
    atomic_store_explicit(&t->cur_slot, s, memory_order_release);
}

int cut_tracking_flush(struct cut_tracker *t, struct cut_store *st, struct cut_err *err)
{
    advance(t);
    for (unsigned s = 0; s < SLOTS; s++) {
        drain_slot(t, s);
    }
    if (t->n_pending == 0) {
        return CUT_OK;
    }
    int rc = cut_store_tracking_add(st, t->pending, t->n_pending, err);
    if (rc == CUT_OK) {
        t->n_pending = 0;
        t->warned_drop = false;
    }
    return rc;
}

uint64_t cut_tracking_dropped(const struct cut_tracker *t)
{
    return atomic_load_explicit(&((struct cut_tracker *)t)->dropped, memory_order_relaxed);
}

static void *writer_main(void *arg)
{
    struct cut_tracker *t = arg;
    bool failing = false;

    pthread_mutex_lock(&t->lock);
    for (;;) {
        bool last = t->stop;
        if (!last) {
            struct timespec until;
            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += (long)t->opts.flush_ms * 1000000L;
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            while (!t->stop && pthread_cond_timedwait(&t->wake, &t->lock, &until) != ETIMEDOUT) {
            }
            last = t->stop;
        }
        pthread_mutex_unlock(&t->lock);
        struct cut_err err;
        cut_err_clear(&err);
        int rc = cut_tracking_flush(t, t->st, &err);
        if (rc != CUT_OK && !failing) {
            cut_log_warn("tracking", "cannot write tracking rows (kept for the next try): %s",
                         err.msg);
        }
        failing = rc != CUT_OK;
        pthread_mutex_lock(&t->lock);
        t->last_rc = rc;
        t->last_err = err;
        if (last) {
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int cut_tracking_create(struct cut_tracker **out, const char *const *flows, size_t n_flows,
                        const struct cut_tracker_options *opts, struct cut_err *err)
{
    struct cut_tracker *t = calloc(1, sizeof(*t));
    *out = NULL;
    if (t == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    if (opts != NULL) {
        t->opts = *opts;
    }
    t->opts.flush_ms = t->opts.flush_ms > 0 ? t->opts.flush_ms : DEFAULT_FLUSH_MS;
    t->opts.clock = t->opts.clock != NULL ? t->opts.clock : real_clock;
    t->opts.max_pending = t->opts.max_pending > 0 ? t->opts.max_pending : DEFAULT_MAX_PEND;
    size_t size = (n_flows ? n_flows : 1) * sizeof(struct track_flow);
    t->flows = aligned_alloc(CACHE_LINE, size); /* sizeof is a multiple of the alignment */
    if (t->flows == NULL) {
        free(t);
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    memset(t->flows, 0, size);
    for (size_t i = 0; i < n_flows; i++) {
        if ((t->flows[i].name = strdup(flows[i])) == NULL) {
            t->n = i;
            cut_tracking_destroy(t);
            return cut_err_set(err, CUT_ENOMEM, "out of memory");
        }
    }
    t->n = n_flows;
    for (int s = 0; s < SLOTS; s++) {
        t->slot_minute[s] = -1;
    }
    /* Slot 0 holds the minute of creation; later minutes rotate. */
    int64_t now = t->opts.clock(t->opts.clock_opaque);
    t->cur_minute = now - ((now % 60) + 60) % 60;
    t->slot_minute[0] = t->cur_minute;
    atomic_init(&t->cur_slot, 0);
    atomic_init(&t->dropped, 0);
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &attr);
    pthread_condattr_destroy(&attr);
    *out = t;
    return CUT_OK;
}

int cut_tracking_start(struct cut_tracker *t, const char *path, struct cut_err *err)
{
    if (t->running) {
        return cut_err_set(err, CUT_EINVAL, "the tracking writer runs already");
    }
    int rc = cut_store_open(&t->st, path, CUT_STORE_TRACKING, err);
    if (rc != CUT_OK) {
        return rc;
    }
    t->stop = false;
    int e = pthread_create(&t->thread, NULL, writer_main, t);
    if (e != 0) {
        cut_store_close(t->st);
        t->st = NULL;
        return cut_err_set(err, CUT_EFATAL, "cannot start the tracking writer: %s", strerror(e));
    }
    t->running = true;
    return CUT_OK;
}

int cut_tracking_stop(struct cut_tracker *t, struct cut_err *err)
{
    if (!t->running) {
        return CUT_OK;
    }
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    t->running = false;
    cut_store_close(t->st);
    t->st = NULL;
    if (t->last_rc != CUT_OK && err != NULL) {
        *err = t->last_err;
    }
    return t->last_rc;
}

void cut_tracking_destroy(struct cut_tracker *t)
{
    if (t == NULL) {
        return;
    }
    cut_tracking_stop(t, NULL);
    for (size_t i = 0; i < t->n; i++) {
        free(t->flows[i].name);
    }
    free(t->flows);
    free(t->pending);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* ---- reading the numbers ---------------------------------------------------- */

unsigned cut_lat_bucket(uint32_t micros)
{
    if (micros < 2) {
        return micros;
    }
    unsigned k = 31u - (unsigned)__builtin_clz(micros); /* floor(log2) */
    return 2 * k + ((micros >> (k - 1)) & 1u);
}

uint64_t cut_lat_bucket_low(unsigned b)
{
    if (b < 2) {
        return b;
    }
    unsigned k = b / 2;
    return ((uint64_t)1 << k) + (b & 1u ? (uint64_t)1 << (k - 1) : 0);
}

bool cut_lat_quantile(const uint64_t *buckets, double q, double *micros)
{
    uint64_t total = 0;
    for (int b = 0; b < CUT_LAT_BUCKETS; b++) {
        total += buckets[b];
    }
    if (total == 0) {
        return false;
    }
    q = q < 0 ? 0 : q > 1 ? 1 : q;
    double rank = q * (double)total, seen = 0;
    for (unsigned b = 0; b < CUT_LAT_BUCKETS; b++) {
        if (buckets[b] == 0) {
            continue;
        }
        if (seen + (double)buckets[b] >= rank) {
            double lo = (double)cut_lat_bucket_low(b);
            double hi = b + 1 < CUT_LAT_BUCKETS ? (double)cut_lat_bucket_low(b + 1) : 4294967296.0;
            *micros = lo + (hi - lo) * ((rank - seen) / (double)buckets[b]);
            return true;
        }
        seen += (double)buckets[b];
    }
    *micros = (double)cut_lat_bucket_low(CUT_LAT_BUCKETS - 1);
    return true;
}

bool cut_tracking_consistency(const struct cut_tracking_row *sum, double *ratio)
{
    uint64_t dual = sum->counts[CUT_TRACK_DUAL];
    if (dual == 0) {
        return false;
    }
    *ratio = (double)sum->counts[CUT_TRACK_CONFIRMED_BOTH] / (double)dual;
    return true;
}
