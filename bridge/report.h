/*
 * The migration progress report (`cutover report`): for the whole
 * migration, how many flows are pending, in progress, completed and rolled
 * back; then per flow its mode, status and dates, the messages of each side
 * in the window and in total, the reconciler's figures and checks over the
 * window (the same functions as the reconciler: reconciler.h), the last
 * rollback and its reason, the repair ledger, and whether the flow is ready
 * to be completed. Built from the state store alone; printed as text or as
 * the JSON document described in docs/operations.md ("The progress report").
 *
 * Also the JSON body of the reconciler's alerts (webhook), which carries the
 * same figures as the report.
 *
 * Thread safety: cut_report_build on the thread that owns the store handle;
 * the rest is reentrant.
 */
#ifndef CUTOVER_REPORT_H
#define CUTOVER_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "reconciler.h"
#include "store.h"

struct cut_report_options {
    int64_t now_ms;    /**< the report's time (0: now) */
    int64_t window_ms; /**< window length (0: 5 min) */
    const char *flow;  /**< NULL: every flow; else only this one in the per-flow part */
    /** Thresholds of flows not in @p flows (NULL: cut_recon_thresholds_default()). */
    const struct cut_recon_thresholds *defaults;
    /** Flows of the config (thresholds, config mode); they are listed even when
     *  the store has not seen them yet. May be NULL. Borrowed for the call. */
    const struct cut_recon_flow *flows;
    size_t n_flows;
};

struct cut_report_override {
    char *msg_type;
    enum cut_mode mode;
};

struct cut_report_flow {
    char *name;
    bool in_store, in_config;
    enum cut_flow_status status;
    char *created_at, *status_since, *status_reason; /**< "" when unknown */
    enum cut_mode mode;                              /**< the flow level in effect */
    const char *mode_source; /**< "flow", "config", "default" or "built-in" */
    struct cut_report_override *overrides;
    size_t n_overrides;
    int64_t mode_since_ms; /**< when its modes last changed; -1 unknown */
    struct cut_tracking_row window, total;
    struct cut_recon_thresholds th;
    struct cut_recon_figures fig;     /**< over the window */
    struct cut_recon_verdict verdict; /**< over the window */
    bool have_rollback;
    char *rollback_at, *rollback_actor, *rollback_reason;
    uint64_t ledger_open[2]; /**< open repair-ledger entries per side */
    bool ready;
    char ready_why[160]; /**< why (not) */
};

struct cut_report {
    int64_t now_ms, window_ms;
    int64_t from_minute, to_minute; /**< the window's minutes (Unix seconds) */
    size_t total;                   /**< every flow of the migration */
    size_t by_status[CUT_FLOW_STATUS_COUNT];
    double completion_pct;         /**< completed / total x 100 (0 with no flow) */
    struct cut_report_flow *flows; /**< the flows asked for (all, or --flow) */
    size_t n_flows;
};

/** Build the report from @p st. Release @p out with cut_report_fini() in every case. */
int cut_report_build(struct cut_store *st, const struct cut_report_options *opts,
                     struct cut_report *out, struct cut_err *err);
void cut_report_fini(struct cut_report *rep);

/** The report as text, for people. */
void cut_report_print(const struct cut_report *rep, FILE *out);

/** The report as a JSON document (malloc'd, free()), or NULL when out of memory. */
char *cut_report_json(const struct cut_report *rep);

/**
 * The JSON body of a reconciler alert (malloc'd, free()): event ("rollback",
 * "breach", "consistency"), bridge, flow, at, actor, action, reason, window
 * and the figures and checks, as in the report. NULL when out of memory.
 */
char *cut_report_alert_json(const char *bridge, const char *flow, const char *event,
                            const char *action, const char *reason, int64_t at_ms,
                            int64_t window_ms, const struct cut_recon_figures *fig,
                            const struct cut_recon_verdict *v);

/** "2024-05-01T12:00:00.000Z" for Unix ms @p ms into @p buf (at least 32 bytes). */
void cut_report_time(int64_t ms, char *buf, size_t len);

#endif
