/*
 * Read-back verification: proof that what Kafka confirmed is really on the
 * topic. The router pushes a sample of the message ids Kafka confirmed (a
 * 64-bit hash each) into a lock-free ring per flow; the read-back thread
 * drains the rings, reads the flows' topics with its own consumer, and
 * matches the `message_id` header of each record against the samples. A
 * sampled id that is not read within the flow's settle time counts as
 * missing; the reconciler turns those counts into the read-back loss rate.
 *
 * Sampling is deterministic by id: an id is sampled when
 * (cut_readback_hash(id) >> 16) % sample_every == 0, on both sides, so the
 * consumer only looks up the ids the router could have pushed, and a given
 * message is always sampled or never, whichever side sees it first and
 * however often it is redelivered. sample_every = 1 checks every id.
 *
 * An id counts as missing only when the consumer has been seen at the end
 * of every partition of the flow's topics (the brokers' end offsets, asked
 * every 2 s) at a time after the id was confirmed: a consumer that lags, or
 * cannot reach Kafka, proves nothing, and its ids wait.
 *
 * What is not checked: ids confirmed before the read-back consumer had its
 * positions (it starts reading one minute before it started, so a bridge
 * that starts both together checks from the first message); samples the
 * ring had no room for (counted as dropped, never as missing); records
 * whose message_id header is absent.
 *
 * Thread safety: cut_readback_push() from the flow thread of that flow (one
 * producer per flow ring), without locks, allocation or system calls;
 * cut_readback_counts() from any thread; create/start/destroy on one thread
 * (the runner's); cut_readback_drain/_record/_expire from one thread at a
 * time and not while the read-back thread runs (tests).
 */
#ifndef CUTOVER_READBACK_H
#define CUTOVER_READBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cutover/config.h"
#include "cutover/connector.h"
#include "cutover/status.h"

struct cut_readback;

/** One flow to read back. Strings borrowed until cut_readback_destroy(). */
struct cut_readback_flow {
    const char *name;
    /** The topics its records go to (the configured topic, and any a mapping
     *  routes to); n_topics = 0 turns read-back off for the flow (its pushes
     *  are then ignored). */
    const char *const *topics;
    size_t n_topics;
    int64_t settle_ms; /**< an id not read this long after its confirm is missing (0: 30 s) */
};

struct cut_readback_options {
    /** librdkafka properties of the consumer's cluster (the top-level `kafka:`
     *  map: bootstrap.servers, security.*); borrowed until destroy. NULL: no
     *  consumer (cut_readback_start refuses; the matching still works, for
     *  tests, and judges every id as if the consumer were caught up). */
    const struct cut_kv_list *kafka;
    const char *group_id;  /**< consumer group.id (never committed); NULL: "cutover-readback" */
    uint32_t sample_every; /**< 1-in-N sampling by id hash (0: 8) */
    size_t ring_size;      /**< per flow, rounded up to a power of two (0: 8192) */
    size_t max_tracked;    /**< ids waiting per flow, confirmed or read (0: 65536) */
    /** Unix time in ms (NULL: CLOCK_REALTIME). For tests. */
    int64_t (*clock_ms)(void *opaque);
    void *clock_opaque;
};

/** Cumulative counts of one flow. */
struct cut_readback_counts {
    uint64_t pushed;  /**< sampled confirms the router pushed */
    uint64_t dropped; /**< ... for which the ring or the table had no room: not checked */
    uint64_t found;   /**< sampled ids confirmed and read */
    uint64_t missing; /**< sampled ids confirmed and not read within settle_ms */
    uint64_t records; /**< records read from the flow's topics */
};

/**
 * Create the checker for @p n flows (copied descriptions, borrowed strings).
 * Flow i here is flow i of the tracker and the reconciler.
 */
int cut_readback_create(struct cut_readback **rb, const struct cut_readback_flow *flows, size_t n,
                        const struct cut_readback_options *opts, struct cut_err *err);

/** Start the consumer thread (needs opts->kafka). */
int cut_readback_start(struct cut_readback *rb, struct cut_err *err);

/** Stop the thread if running, close the consumer, free. Accepts NULL. */
void cut_readback_destroy(struct cut_readback *rb);

/**
 * The id hash: 64-bit FNV-1a over the id's bytes with the lowest bit set
 * (0 marks an empty slot). The same as the router's id_hash (router.c), so
 * that the router can push the hash its in-flight slot already holds.
 */
uint64_t cut_readback_hash(const void *id, size_t len);

/** Whether the id with hash @p h is in the sample. */
bool cut_readback_sampled(const struct cut_readback *rb, uint64_t h);

/**
 * The router hook: Kafka confirmed the message of flow @p flow whose id
 * hashes to @p h. Keeps it when sampled; never blocks (a full ring drops the
 * sample and counts it). Accepts rb == NULL.
 */
void cut_readback_push(struct cut_readback *rb, size_t flow, uint64_t h);

/** The counts of flow @p flow so far. */
void cut_readback_counts(const struct cut_readback *rb, size_t flow,
                         struct cut_readback_counts *out);

/**
 * The topic a flow's Kafka sink writes to, found through the sink's key
 * table (the "topic" key of @p kafka->sink_keys read from @p kafka_settings),
 * so that the bridge needs no connector header; NULL when there is none.
 * *other_cluster (may be NULL) becomes true when the flow's own properties
 * set bootstrap.servers: the read-back consumer, built from the top-level
 * `kafka:` map, cannot read that flow. Strings borrowed from the settings.
 */
const char *cut_readback_flow_topic(const struct cut_connector *kafka, const void *kafka_settings,
                                    bool *other_cluster);

/* ---- a bounded scan (cutover repair) ---------------------------------------- */

/** Receives the message id of one record; everything borrowed for the call. */
typedef void (*cut_readback_id_cb)(void *opaque, const char *topic, const void *id, size_t len);

/**
 * Read @p topics (@p n_topics) from the first record stamped at or after
 * @p since_ms (<= 0: from the first record kept) to their end offsets as of
 * the call, and call @p cb with the
 * `message_id` header of each record that has one. The consumer takes
 * @p global then @p props (either may be NULL) and never commits.
 * *records (may be NULL) receives how many records were read.
 * Returns CUT_OK when every partition was read to its end (a topic that
 * does not exist has nothing in it); CUT_ERETRY when the cluster could not
 * say which partitions and offsets there are, or @p timeout_ms passed first
 * (the scan is then incomplete: what was not found may still be there);
 * CUT_EINVAL for a bad property.
 */
int cut_readback_scan(const struct cut_kv_list *global, const struct cut_kv_list *props,
                      const char *const *topics, size_t n_topics, int64_t since_ms,
                      int64_t timeout_ms, cut_readback_id_cb cb, void *opaque, uint64_t *records,
                      struct cut_err *err);

/* ---- the matching, driven by hand (tests) ---------------------------------- */

/** Move the pushed samples of every flow into the tables, stamped @p now_ms. */
void cut_readback_drain(struct cut_readback *rb, int64_t now_ms);
/** A record with message id @p id was read from @p topic at @p now_ms. */
void cut_readback_record(struct cut_readback *rb, const char *topic, const void *id, size_t len,
                         int64_t now_ms);
/**
 * Count as missing the confirmed ids older than their flow's settle time,
 * among those confirmed before the consumer was last seen caught up on the
 * flow's topics (cut_readback_caught_up; without a consumer: always).
 */
void cut_readback_expire(struct cut_readback *rb, int64_t now_ms);
/** The consumer was at the end of every partition of flow @p flow's topics at @p at_ms. */
void cut_readback_caught_up(struct cut_readback *rb, size_t flow, int64_t at_ms);

#endif
