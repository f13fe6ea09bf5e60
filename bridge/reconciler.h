/*
 * The reconciler: per flow, over a sliding window of the tracking data,
 * the figures an operator judges a migration by (messages seen, confirmed
 * and failed per side, consistency, loss rate, error rates, latency p50/p99
 * per side and their ratio), thresholds with a minimum sample, and what a
 * breach does: a rollback to JMS_ONLY (status ROLLED_BACK, audit record by
 * actor "reconciler" with the figures that fired it) and an alert (log
 * line, counter, optional webhook POST with a JSON body). It never rolls a
 * flow forward: only an operator does.
 *
 * Two halves:
 *   - pure functions (cut_recon_compute, cut_recon_judge, cut_recon_reason):
 *     figures from window sums, verdicts from figures and thresholds. No
 *     I/O, no allocation; the report (report.h) uses the same ones, so that
 *     `cutover report` and the reconciler never disagree;
 *   - the thread (cut_recon_start / cut_recon_stop), started by the runner
 *     with its own store handle, one pass every interval.
 *
 * Definitions (docs/operations.md, "The reconciler", is the operator's
 * version; test_reconciler pins each with hand-computed windows):
 *   consistency  = confirmed_both / dual                (dual > 0); shown over
 *                  the window, judged over its settled minutes
 *   error rate   = failed_side / (confirmed_side + failed_side)
 *   loss         = messages seen in the settled minutes that no side
 *                  confirmed and that were neither retried, dead-lettered,
 *                  expired nor filtered (see cut_recon_unaccounted), over
 *                  the messages seen in those minutes; the settled minutes
 *                  are the whole minutes of the window that ended at least
 *                  settle_time ago;
 *   read-back    = sampled ids Kafka confirmed that the read-back consumer
 *                  did not find on the topic within settle_time (readback.h)
 *                  over the sampled ids checked;
 *   latency      = quantiles of the confirmation-latency histograms; the
 *                  ratio is Kafka p99 / legacy p99. The reconciler judges it
 *                  without the minute the bridge started in and the minute
 *                  of the flow's last status change (warm-up: a new
 *                  producer, a topic created by its first write).
 *
 * Thread safety: the pure functions are reentrant. cut_recon_start/stop on
 * one thread (the runner's); cut_recon_stats from any thread.
 */
#ifndef CUTOVER_RECONCILER_H
#define CUTOVER_RECONCILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cutover/status.h"
#include "modes.h"
#include "store.h"

/* ---- thresholds ----------------------------------------------------------- */

/** One flow's thresholds (the global defaults, or a flow's overrides of them). */
struct cut_recon_thresholds {
    int64_t settle_ms;        /**< how long a message may take before it counts as lost (30 s) */
    uint64_t min_messages;    /**< sample a check needs in the window before it can fire (100) */
    double kafka_error_rate;  /**< rollback when the Kafka error rate is above (0.05) */
    double loss_rate;         /**< rollback when the loss rate is above (0.001) */
    double latency_ratio;     /**< rollback when Kafka p99 / legacy p99 is above (2.0) */
    int64_t latency_floor_us; /**< ... and Kafka's p99 is at least this (100 ms); 0: ratio alone */
    double consistency_alert; /**< alert when consistency is below (0.99) */
    int64_t soak_ms;          /**< time in KAFKA_ONLY before a flow is ready to complete (1 h) */
};

/** The defaults listed above. */
struct cut_recon_thresholds cut_recon_thresholds_default(void);

/* ---- figures -------------------------------------------------------------- */

/** What cut_recon_compute reads; every pointer borrowed for the call. */
struct cut_recon_input {
    /** Sum over the window (cut_store_tracking_window); required. */
    const struct cut_tracking_row *window;
    /** Sum over the settled minutes [from, b]; NULL when none has settled yet. */
    const struct cut_tracking_row *settled;
    /** Sum over [from, b - 1 minute]; NULL when there is no such minute. The
     *  loss counted is the smaller of the two sums' (see cut_recon_unaccounted). */
    const struct cut_tracking_row *settled_prev;
    /** The part of the window the latency figures come from (NULL: the
     *  window): the reconciler leaves out the warm-up of a producer. */
    const struct cut_tracking_row *latency;
    /** Read-back in the window: sampled ids checked (found or timed out), and missing. */
    bool have_readback;
    uint64_t rb_checked, rb_missing;
};

/** A ratio and whether it is known (false: nothing to divide by). */
struct cut_recon_ratio {
    bool known;
    double value;
    uint64_t sample; /**< its denominator: the messages it is measured over */
};

/** The figures of one flow over one window. */
struct cut_recon_figures {
    uint64_t counts[CUT_TRACK_COUNT];   /**< the window's counters (enum cut_track_event) */
    struct cut_recon_ratio consistency; /**< confirmed_both / dual, over the window */
    /** The same over the settled minutes: what the consistency check judges,
     *  so that messages still on their way to the secondary never alert. */
    struct cut_recon_ratio consistency_settled;
    struct cut_recon_ratio loss;     /**< lost / seen, over the settled minutes */
    uint64_t lost;                   /**< the numerator of loss */
    struct cut_recon_ratio readback; /**< missing / checked, sampled read-back */
    uint64_t rb_missing;
    struct cut_recon_ratio error[2]; /**< [enum cut_side] failed / (confirmed + failed) */
    uint64_t lat_n[2];               /**< latency samples per side */
    bool have_lat[2];
    double p50_us[2], p99_us[2];
    struct cut_recon_ratio latency_ratio; /**< Kafka p99 / legacy p99; sample: min(lat_n) */
};

/**
 * Messages of @p row that no outcome accounts for: seen - confirmed on at
 * least one side - dead-lettered - expired - filtered - retried, where
 * "confirmed on at least one side" is confirmed_legacy + confirmed_kafka -
 * confirmed_both, and "retried" (not counted by the tracking table) is
 * estimated as the failures that cannot belong to a message some side
 * confirmed: failed_legacy + failed_kafka - (dual - confirmed_both), at
 * least 0. Signed: a window edge can make it negative. Pure.
 */
int64_t cut_recon_unaccounted(const struct cut_tracking_row *row);

/** Compute the figures of @p in into @p out. Pure. */
void cut_recon_compute(const struct cut_recon_input *in, struct cut_recon_figures *out);

/* ---- verdicts ------------------------------------------------------------- */

/** The checks, in the order they are reported. */
enum cut_recon_check {
    CUT_RECON_KAFKA_ERRORS, /**< "kafka_error_rate": rollback */
    CUT_RECON_LOSS,         /**< "loss_rate": rollback */
    CUT_RECON_READBACK,     /**< "readback_loss_rate": rollback */
    CUT_RECON_LATENCY,      /**< "latency_ratio": rollback */
    CUT_RECON_CONSISTENCY,  /**< "consistency": alert only */
};
#define CUT_RECON_CHECKS 5

enum cut_recon_state {
    CUT_RECON_OK,      /**< measured, within the threshold */
    CUT_RECON_BREACH,  /**< measured over the minimum sample, beyond the threshold */
    CUT_RECON_TOO_FEW, /**< beyond or not, the sample is below min_messages: cannot fire */
    CUT_RECON_UNKNOWN, /**< nothing to measure (no traffic on that side) */
};

struct cut_recon_verdict {
    enum cut_recon_state state[CUT_RECON_CHECKS];
    double value[CUT_RECON_CHECKS];
    double threshold[CUT_RECON_CHECKS];
    uint64_t sample[CUT_RECON_CHECKS];
    uint64_t min_sample;
    bool rollback; /**< a rollback check is in BREACH */
    bool alert;    /**< the consistency check is in BREACH */
};

/** "kafka_error_rate", "loss_rate", "readback_loss_rate", "latency_ratio", "consistency". */
const char *cut_recon_check_name(enum cut_recon_check check);
/** "ok", "breach", "too_few", "unknown". */
const char *cut_recon_state_name(enum cut_recon_state state);
/** Whether a breach of @p check rolls the flow back (else it only alerts). */
bool cut_recon_check_rolls_back(enum cut_recon_check check);

/**
 * Judge @p fig against @p th: each check is BREACH when its sample reaches
 * th->min_messages and its value is beyond the threshold (error, loss and
 * read-back rates and the latency ratio strictly above; consistency
 * strictly below); the latency ratio also needs Kafka's p99 to be at least
 * th->latency_floor_us, and both sides th->min_messages latency samples.
 * Consistency is judged over the settled minutes (consistency_settled).
 * Pure.
 */
void cut_recon_judge(const struct cut_recon_figures *fig, const struct cut_recon_thresholds *th,
                     struct cut_recon_verdict *out);

/**
 * One line naming the checks in BREACH with the figures that fired them,
 * e.g. "kafka_error_rate 0.8333 > 0.0500 (1000 of 1200 Kafka writes
 * failed; min 100)"; checks joined with "; ". Empty when none. Pure.
 */
void cut_recon_reason(const struct cut_recon_figures *fig, const struct cut_recon_verdict *v,
                      char *buf, size_t len);

/* ---- window arithmetic ---------------------------------------------------- */

/** Minutes of a window as cut_store_tracking_window takes them. */
struct cut_recon_span {
    int64_t from, to;   /**< the window: [from, to], minute starts in Unix seconds */
    bool have_settled;  /**< whether any whole minute of it has settled */
    int64_t settled_to; /**< last settled minute (valid when have_settled) */
    bool have_prev;     /**< whether settled_to - 60 is still in the window */
};

/**
 * The window ending at @p now_ms of length @p window_ms, starting no earlier
 * than @p not_before_ms (0: no bound; the minute containing it is left out:
 * the reconciler passes the flow's last rollback, so that what made a flow
 * roll back is never judged again once it is promoted anew), with the
 * minutes that ended at least @p settle_ms before @p now_ms settled. Pure.
 */
void cut_recon_span(int64_t now_ms, int64_t window_ms, int64_t settle_ms, int64_t not_before_ms,
                    struct cut_recon_span *out);

/** Parse "2024-05-01T12:00:00.000Z" (milliseconds and Z optional) into Unix ms; -1 if bad. */
int64_t cut_recon_parse_time(const char *iso);

/* ---- the thread ----------------------------------------------------------- */

struct cut_readback;
struct cut_recon;

/** One flow the reconciler watches. Strings borrowed until cut_recon_stop(). */
struct cut_recon_flow {
    const char *name;
    struct cut_recon_thresholds th;
    /** The config's `mode` for the flow (the router uses it when the store has
     *  no mode of its own for the flow), or -1 when the config sets none. */
    int config_mode;
};

struct cut_recon_options {
    const char *state_path;  /**< the state store; the thread opens its own handle */
    const char *bridge_name; /**< in alerts */
    int64_t interval_ms;     /**< one pass every ... (0: 10 s) */
    int64_t window_ms;       /**< window length (0: 5 min) */
    const struct cut_recon_flow *flows;
    size_t n_flows;
    const char *webhook_url;    /**< NULL or "": no webhook; a secret (never logged) */
    int64_t webhook_timeout_ms; /**< whole POST, connection included (0: 5 s) */
    /** The read-back checker whose counts feed the readback check (NULL: none);
     *  flow i of the reconciler is flow i of the read-back. Borrowed. */
    struct cut_readback *readback;
    /** Unix time in ms (NULL: CLOCK_REALTIME). For tests. */
    int64_t (*clock_ms)(void *opaque);
    void *clock_opaque;
};

/** Counters for metrics, readable from any thread. */
struct cut_recon_stats {
    uint64_t passes;    /**< passes completed */
    uint64_t rollbacks; /**< flows rolled back by the reconciler */
    uint64_t alerts;    /**< alerts raised (rollbacks included) */
    uint64_t webhook_failures;
    uint64_t errors; /**< passes or flows that could not be judged (store errors) */
};

/**
 * Start the reconciler thread. @p opts (and what it points to) is borrowed
 * until cut_recon_stop(). The first pass runs one interval after start.
 * Returns CUT_OK, CUT_EINVAL (bad options) or CUT_EFATAL (thread).
 */
int cut_recon_start(struct cut_recon **r, const struct cut_recon_options *opts,
                    struct cut_err *err);

/** Run one pass now, on the calling thread (tests; the thread must not be running). */
int cut_recon_pass(struct cut_recon *r, struct cut_err *err);

/** Create without starting the thread (tests and cut_recon_pass). */
int cut_recon_create(struct cut_recon **r, const struct cut_recon_options *opts,
                     struct cut_err *err);

/** Stop and join the thread (within a second), close its store handle, free. Accepts NULL. */
void cut_recon_stop(struct cut_recon *r);

void cut_recon_stats(const struct cut_recon *r, struct cut_recon_stats *out);

/**
 * The figures and verdict of flow @p i at the last pass (for metrics and the
 * admin API). Returns false before the first pass.
 */
bool cut_recon_last(struct cut_recon *r, size_t i, struct cut_recon_figures *fig,
                    struct cut_recon_verdict *v);

#endif
