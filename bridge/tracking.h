/*
 * Tracking: what happened to each flow's messages, per minute, for the
 * reconciler, progress reports and guarded promotion.
 *
 * The message path never waits on the database. cut_tracking_count() and
 * cut_tracking_latency() are a few relaxed atomic additions into per-flow
 * counters (no lock, no allocation, no system call, no clock read); ONE
 * writer thread drains them every second or so and adds them to the store
 * in one transaction (cut_store_tracking_add), one row per flow per minute
 * whatever the message rate. If the store is busy or failing, the drained
 * counters wait in memory and go with the next batch.
 *
 * Minutes: the writer publishes the current minute each time it wakes; an
 * event counts in the minute the writer last published (at most one flush
 * interval late at a minute boundary). Four minute slots per flow rotate, so
 * a message thread that read the minute just before it changed still adds
 * to a slot that is drained, never lost.
 *
 * Thread safety: cut_tracking_count/latency from any thread (normally the
 * flow thread of that flow); create/start/stop/destroy on one thread (the
 * runner's); cut_tracking_flush from one thread at a time, and not while the
 * writer thread runs.
 */
#ifndef CUTOVER_TRACKING_H
#define CUTOVER_TRACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cutover/status.h"
#include "store.h"

struct cut_tracker;

struct cut_tracker_options {
    /** How often the writer drains and writes, in ms (0: 1000). */
    int flush_ms;
    /** Unix time in seconds (NULL: CLOCK_REALTIME). For tests. */
    int64_t (*clock)(void *opaque);
    void *clock_opaque;
    /** Drained rows kept while the store fails before they are dropped (0: 100000). */
    size_t max_pending;
};

/**
 * Create a tracker for @p n_flows flows named @p flows (copied); the router
 * refers to a flow by its index in that array. @p opts may be NULL.
 */
int cut_tracking_create(struct cut_tracker **t, const char *const *flows, size_t n_flows,
                        const struct cut_tracker_options *opts, struct cut_err *err);

/**
 * Open a tracking handle on the store at @p path (CUT_STORE_TRACKING:
 * synchronous=NORMAL) and start the writer thread, which owns it.
 */
int cut_tracking_start(struct cut_tracker *t, const char *path, struct cut_err *err);

/** Count one @p ev for flow @p flow (an index given at create). Never blocks. */
void cut_tracking_count(struct cut_tracker *t, size_t flow, enum cut_track_event ev);

/** Count @p n events at once. Never blocks. */
void cut_tracking_add(struct cut_tracker *t, size_t flow, enum cut_track_event ev, uint64_t n);

/** Record a confirmation latency (send to confirm) of @p side. Never blocks. */
void cut_tracking_latency(struct cut_tracker *t, size_t flow, enum cut_side side, uint32_t micros);

/**
 * Drain the counters and write them to @p st now (what the writer does each
 * interval). Rows that cannot be written stay pending for the next call.
 */
int cut_tracking_flush(struct cut_tracker *t, struct cut_store *st, struct cut_err *err);

/** Stop the writer thread after a last flush. Returns that flush's status. */
int cut_tracking_stop(struct cut_tracker *t, struct cut_err *err);

/** Stop if needed and free. Accepts NULL. */
void cut_tracking_destroy(struct cut_tracker *t);

/** Rows dropped because the store failed for too long (for a metric). */
uint64_t cut_tracking_dropped(const struct cut_tracker *t);

/* ---- reading the numbers ---------------------------------------------------- */

/**
 * The histogram bucket of a latency: 0 and 1 us have their own buckets; above,
 * each power of two is split in two halves (bucket 2k: [2^k, 1.5 * 2^k),
 * bucket 2k+1: [1.5 * 2^k, 2^(k+1))), so a bucket is at most 50 % wide and
 * 64 buckets cover every uint32.
 */
unsigned cut_lat_bucket(uint32_t micros);

/** The smallest latency in bucket @p b (micros). */
uint64_t cut_lat_bucket_low(unsigned b);

/**
 * The @p q quantile (0..1) of histogram @p buckets (CUT_LAT_BUCKETS counts),
 * interpolated within its bucket; returns false when the histogram is empty.
 */
bool cut_lat_quantile(const uint64_t *buckets, double q, double *micros);

/**
 * Consistency of a window (cut_store_tracking_window): messages confirmed by
 * both sides over messages seen in dual-write. False when no dual-write
 * message was seen (unknown).
 */
bool cut_tracking_consistency(const struct cut_tracking_row *sum, double *ratio);

#endif
