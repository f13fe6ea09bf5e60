/*
 * The reconciler's arithmetic (figures from window sums, verdicts from
 * figures and thresholds, the reason line, window spans), all pure, and
 * the thread that acts on it once per interval: judge every flow, roll back
 * the ones in breach (one store transaction each), then alert. Alerts go
 * out after every rollback of the pass is committed, so a slow webhook
 * never delays a rollback; they never touch a flow thread.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cutover/log.h"
#include "readback.h"
#include "reconciler.h"
#include "report.h"
#include "tracking.h"

#define MINUTE_MS 60000

/* ---- thresholds ----------------------------------------------------------- */

struct cut_recon_thresholds cut_recon_thresholds_default(void)
{
    return (struct cut_recon_thresholds){
        .settle_ms = 30000,
        .min_messages = 100,
        .kafka_error_rate = 0.05,
        .loss_rate = 0.001,
        .latency_ratio = 2.0,
        .latency_floor_us = 100000,
        .consistency_alert = 0.99,
        .soak_ms = 3600000,
    };
}

/* ---- figures -------------------------------------------------------------- */

static uint64_t sub0(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static struct cut_recon_ratio ratio(uint64_t num, uint64_t den)
{
    struct cut_recon_ratio r = {.known = den > 0, .sample = den};
    r.value = den > 0 ? (double)num / (double)den : 0;
    return r;
}

int64_t cut_recon_unaccounted(const struct cut_tracking_row *row)
{
    const uint64_t *c = row->counts;
    uint64_t both = c[CUT_TRACK_CONFIRMED_BOTH];
    uint64_t any = sub0(c[CUT_TRACK_CONFIRMED_LEGACY] + c[CUT_TRACK_CONFIRMED_KAFKA], both);
    /* A message confirmed by one side only (in dual-write) owes its missing
     * confirmation to a failure of the other side: those failures are not
     * retries. Every other failure released a message that was confirmed
     * nowhere, and the source delivers it again: seen twice, one outcome. */
    uint64_t one_sided = sub0(c[CUT_TRACK_DUAL], both);
    uint64_t retried = sub0(c[CUT_TRACK_FAILED_LEGACY] + c[CUT_TRACK_FAILED_KAFKA], one_sided);
    uint64_t outcomes =
        any + c[CUT_TRACK_DEAD_LETTERED] + c[CUT_TRACK_EXPIRED] + c[CUT_TRACK_FILTERED] + retried;
    return (int64_t)c[CUT_TRACK_SEEN] - (int64_t)outcomes;
}

void cut_recon_compute(const struct cut_recon_input *in, struct cut_recon_figures *out)
{
    const struct cut_tracking_row *w = in->window;
    const struct cut_tracking_row *lat = in->latency != NULL ? in->latency : in->window;
    memset(out, 0, sizeof(*out));
    memcpy(out->counts, w->counts, sizeof(out->counts));

    out->consistency = ratio(w->counts[CUT_TRACK_CONFIRMED_BOTH], w->counts[CUT_TRACK_DUAL]);
    static const enum cut_track_event confirmed[2] = {CUT_TRACK_CONFIRMED_LEGACY,
                                                      CUT_TRACK_CONFIRMED_KAFKA};
    static const enum cut_track_event failed[2] = {CUT_TRACK_FAILED_LEGACY, CUT_TRACK_FAILED_KAFKA};
    for (int side = 0; side < 2; side++) {
        uint64_t f = w->counts[failed[side]];
        out->error[side] = ratio(f, w->counts[confirmed[side]] + f);
        for (int b = 0; b < CUT_LAT_BUCKETS; b++) {
            out->lat_n[side] += lat->lat[side][b];
        }
        out->have_lat[side] = cut_lat_quantile(lat->lat[side], 0.5, &out->p50_us[side]) &&
                              cut_lat_quantile(lat->lat[side], 0.99, &out->p99_us[side]);
    }
    if (out->have_lat[CUT_SIDE_LEGACY] && out->have_lat[CUT_SIDE_KAFKA] &&
        out->p99_us[CUT_SIDE_LEGACY] > 0) {
        out->latency_ratio.known = true;
        out->latency_ratio.value = out->p99_us[CUT_SIDE_KAFKA] / out->p99_us[CUT_SIDE_LEGACY];
        out->latency_ratio.sample = out->lat_n[0] < out->lat_n[1] ? out->lat_n[0] : out->lat_n[1];
    }

    /* Loss needs two settled edges: a burst just before the last settled
     * minute ends can still be confirming in the next one, but then the
     * minute before it shows no such gap. A real loss shows in both. */
    if (in->settled != NULL) {
        out->consistency_settled = ratio(in->settled->counts[CUT_TRACK_CONFIRMED_BOTH],
                                         in->settled->counts[CUT_TRACK_DUAL]);
    }
    if (in->settled != NULL && in->settled_prev != NULL) {
        int64_t u = cut_recon_unaccounted(in->settled);
        int64_t p = cut_recon_unaccounted(in->settled_prev);
        int64_t lost = u < p ? u : p;
        out->lost = lost > 0 ? (uint64_t)lost : 0;
        out->loss = ratio(out->lost, in->settled->counts[CUT_TRACK_SEEN]);
    }
    if (in->have_readback) {
        out->rb_missing = in->rb_missing;
        out->readback = ratio(in->rb_missing, in->rb_checked);
    }
}

/* ---- verdicts ------------------------------------------------------------- */

static const char *const check_names[CUT_RECON_CHECKS] = {
    "kafka_error_rate", "loss_rate", "readback_loss_rate", "latency_ratio", "consistency",
};
static const char *const state_names[] = {"ok", "breach", "too_few", "unknown"};

const char *cut_recon_check_name(enum cut_recon_check check)
{
    return (unsigned)check < CUT_RECON_CHECKS ? check_names[check] : "?";
}

const char *cut_recon_state_name(enum cut_recon_state state)
{
    return (unsigned)state <= CUT_RECON_UNKNOWN ? state_names[state] : "?";
}

bool cut_recon_check_rolls_back(enum cut_recon_check check)
{
    return check != CUT_RECON_CONSISTENCY;
}

static void judge_one(struct cut_recon_verdict *v, enum cut_recon_check check,
                      const struct cut_recon_ratio *r, double threshold, bool below)
{
    v->value[check] = r->value;
    v->threshold[check] = threshold;
    v->sample[check] = r->sample;
    if (!r->known) {
        v->state[check] = CUT_RECON_UNKNOWN;
    } else if (r->sample < v->min_sample) {
        v->state[check] = CUT_RECON_TOO_FEW;
    } else if (below ? r->value < threshold : r->value > threshold) {
        v->state[check] = CUT_RECON_BREACH;
    } else {
        v->state[check] = CUT_RECON_OK;
    }
}

void cut_recon_judge(const struct cut_recon_figures *fig, const struct cut_recon_thresholds *th,
                     struct cut_recon_verdict *out)
{
    memset(out, 0, sizeof(*out));
    out->min_sample = th->min_messages;
    judge_one(out, CUT_RECON_KAFKA_ERRORS, &fig->error[CUT_SIDE_KAFKA], th->kafka_error_rate,
              false);
    judge_one(out, CUT_RECON_LOSS, &fig->loss, th->loss_rate, false);
    judge_one(out, CUT_RECON_READBACK, &fig->readback, th->loss_rate, false);
    judge_one(out, CUT_RECON_LATENCY, &fig->latency_ratio, th->latency_ratio, false);
    /* A ratio of two tiny latencies says nothing: 3 ms against 1 ms is no
     * reason to leave Kafka. */
    if (out->state[CUT_RECON_LATENCY] == CUT_RECON_BREACH &&
        fig->p99_us[CUT_SIDE_KAFKA] < (double)th->latency_floor_us) {
        out->state[CUT_RECON_LATENCY] = CUT_RECON_OK;
    }
    judge_one(out, CUT_RECON_CONSISTENCY, &fig->consistency_settled, th->consistency_alert, true);
    for (int c = 0; c < CUT_RECON_CHECKS; c++) {
        if (out->state[c] == CUT_RECON_BREACH) {
            if (cut_recon_check_rolls_back((enum cut_recon_check)c)) {
                out->rollback = true;
            } else {
                out->alert = true;
            }
        }
    }
}

void cut_recon_reason(const struct cut_recon_figures *fig, const struct cut_recon_verdict *v,
                      char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0) {
        return;
    }
    buf[0] = '\0';
    for (int c = 0; c < CUT_RECON_CHECKS && used < len; c++) {
        if (v->state[c] != CUT_RECON_BREACH) {
            continue;
        }
        char detail[200];
        const uint64_t *n = fig->counts;
        switch ((enum cut_recon_check)c) {
        case CUT_RECON_KAFKA_ERRORS:
            snprintf(detail, sizeof(detail), "%llu of %llu Kafka writes failed",
                     (unsigned long long)n[CUT_TRACK_FAILED_KAFKA],
                     (unsigned long long)v->sample[c]);
            break;
        case CUT_RECON_LOSS:
            snprintf(detail, sizeof(detail),
                     "%llu of %llu settled messages confirmed nowhere and not retried",
                     (unsigned long long)fig->lost, (unsigned long long)v->sample[c]);
            break;
        case CUT_RECON_READBACK:
            snprintf(detail, sizeof(detail),
                     "%llu of %llu sampled Kafka-confirmed ids not found on the topic",
                     (unsigned long long)fig->rb_missing, (unsigned long long)v->sample[c]);
            break;
        case CUT_RECON_LATENCY:
            snprintf(detail, sizeof(detail), "Kafka p99 %.1f ms, legacy p99 %.1f ms",
                     fig->p99_us[CUT_SIDE_KAFKA] / 1000.0, fig->p99_us[CUT_SIDE_LEGACY] / 1000.0);
            break;
        case CUT_RECON_CONSISTENCY:
            snprintf(detail, sizeof(detail), "%llu of %llu dual-write messages confirmed by both",
                     (unsigned long long)n[CUT_TRACK_CONFIRMED_BOTH],
                     (unsigned long long)v->sample[c]);
            break;
        }
        int k = snprintf(buf + used, len - used, "%s%s %.4f %s %.4f (%s; min %llu)",
                         used > 0 ? "; " : "", check_names[c], v->value[c],
                         c == CUT_RECON_CONSISTENCY ? "<" : ">", v->threshold[c], detail,
                         (unsigned long long)v->min_sample);
        used += k > 0 ? (size_t)k : 0;
    }
}

/* ---- window arithmetic ---------------------------------------------------- */

static int64_t floor_minute_s(int64_t ms)
{
    int64_t m = ms >= 0 ? ms / MINUTE_MS : -((-ms + MINUTE_MS - 1) / MINUTE_MS);
    return m * 60;
}

void cut_recon_span(int64_t now_ms, int64_t window_ms, int64_t settle_ms, int64_t not_before_ms,
                    struct cut_recon_span *out)
{
    memset(out, 0, sizeof(*out));
    out->to = floor_minute_s(now_ms);
    out->from = floor_minute_s(now_ms - window_ms);
    if (not_before_ms > 0) {
        int64_t nb = floor_minute_s(not_before_ms) + 60;
        out->from = nb > out->from ? nb : out->from;
    }
    /* Minute m (seconds) has settled when m + 60 s + settle <= now. */
    out->settled_to = floor_minute_s(now_ms - settle_ms - MINUTE_MS);
    out->have_settled = out->settled_to >= out->from && out->from <= out->to;
    out->have_prev = out->have_settled && out->settled_to - 60 >= out->from;
}

int64_t cut_recon_parse_time(const char *iso)
{
    struct tm tm = {0};
    int ms = 0;
    if (iso == NULL) {
        return -1;
    }
    const char *rest = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
    if (rest == NULL) {
        return -1;
    }
    if (rest[0] == '.') {
        int digits = 0;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++) {
            if (digits < 3) {
                ms = ms * 10 + (*rest - '0');
            }
        }
        for (; digits < 3; digits++) {
            ms *= 10;
        }
    }
    if (rest[0] == 'Z') {
        rest++;
    }
    if (rest[0] != '\0') {
        return -1;
    }
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* ---- the thread ----------------------------------------------------------- */

/* Read-back deltas per pass, so that a window can sum the recent ones. */
struct rb_delta {
    int64_t at_ms;
    uint64_t checked, missing;
};

struct recon_flow {
    bool known; /* in the store */
    enum cut_flow_status status;
    char status_at[40];  /* status_changed_at as last read: a change means a new look at */
    bool audit_stale;    /* ... the audit log, for the last rollback */
    int64_t rollback_ms; /* the flow's last rollback (0: none) */
    int64_t status_ms;   /* when its status last changed */
    bool alerting[CUT_RECON_CHECKS]; /* alerts fire on the way into a breach */
    struct rb_delta *rb;
    size_t rb_head, rb_n, rb_cap;
    uint64_t rb_checked, rb_missing; /* cumulative, at the last pass */
    int64_t rb_logged_ms;            /* last read-back summary in the log */
    uint64_t rb_logged_checked;
    bool have_last;
    struct cut_recon_figures fig;
    struct cut_recon_verdict verdict;
};

/* An alert waiting for the end of the pass. */
struct recon_alert {
    size_t flow;
    const char *event; /* "rollback", "breach", "consistency" */
    const char *action;
    char reason[1024];
    struct cut_recon_figures fig;
    struct cut_recon_verdict verdict;
};

struct cut_recon {
    struct cut_recon_options opts;
    int64_t start_ms; /* producers warm up in the minute the bridge starts */
    struct recon_flow *flows;
    struct cut_store *st;
    struct recon_alert *alerts;
    size_t n_alerts;

    pthread_t thread;
    bool started;
    pthread_mutex_t lock; /* guards stop, and the flows' last figures */
    pthread_cond_t wake;
    bool stop;
    _Atomic uint64_t passes, rollbacks, n_alerts_total, webhook_failures, errors;
};

/* libcurl's global state, once per process and never torn down: other
 * modules (the schema registry client) share it. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t clock_now_ms(void *opaque)
{
    struct timespec ts;
    (void)opaque;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ms(const struct cut_recon *r)
{
    return r->opts.clock_ms ? r->opts.clock_ms(r->opts.clock_opaque) : clock_now_ms(NULL);
}

int cut_recon_create(struct cut_recon **out, const struct cut_recon_options *opts,
                     struct cut_err *err)
{
    *out = NULL;
    if (opts == NULL || opts->state_path == NULL) {
        return cut_err_set(err, CUT_EINVAL, "reconciler: no state store");
    }
    struct cut_recon *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    r->opts = *opts;
    r->start_ms = now_ms(r);
    r->opts.interval_ms = opts->interval_ms > 0 ? opts->interval_ms : 10000;
    r->opts.window_ms = opts->window_ms > 0 ? opts->window_ms : 5 * MINUTE_MS;
    r->opts.webhook_timeout_ms = opts->webhook_timeout_ms > 0 ? opts->webhook_timeout_ms : 5000;
    r->flows = calloc(opts->n_flows ? opts->n_flows : 1, sizeof(*r->flows));
    r->alerts = calloc(opts->n_flows ? opts->n_flows : 1, sizeof(*r->alerts));
    size_t cap = (size_t)(r->opts.window_ms / r->opts.interval_ms) + 4;
    for (size_t i = 0; r->flows != NULL && i < opts->n_flows; i++) {
        r->flows[i].rb_cap = cap;
        r->flows[i].rb = calloc(cap, sizeof(struct rb_delta));
        if (r->flows[i].rb == NULL) {
            goto nomem;
        }
    }
    if (r->flows == NULL || r->alerts == NULL) {
        goto nomem;
    }
    if (r->opts.webhook_url != NULL && r->opts.webhook_url[0] != '\0') {
        pthread_once(&curl_once, curl_init);
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_condattr_destroy(&ca);
    *out = r;
    return CUT_OK;
nomem:
    for (size_t i = 0; r->flows != NULL && i < opts->n_flows; i++) {
        free(r->flows[i].rb);
    }
    free(r->flows);
    free(r->alerts);
    free(r);
    return cut_err_set(err, CUT_ENOMEM, "out of memory");
}

/* Whether anything of the flow (flow level, config mode, default, an
 * override) still writes to Kafka: only then is there something to roll back. */
static bool writes_kafka(const struct cut_mode_table *t, const struct cut_recon_flow *f)
{
    const struct cut_mode_entry *own = cut_mode_table_find(t, f->name, NULL);
    enum cut_mode mode = own != NULL           ? own->mode
                         : f->config_mode >= 0 ? (enum cut_mode)f->config_mode
                         : t->has_default      ? t->def
                                               : CUT_MODE_JMS_ONLY;
    if (mode != CUT_MODE_JMS_ONLY) {
        return true;
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct cut_mode_entry *e = &t->entries[i];
        if (e->msg_type[0] != '\0' && strcmp(e->flow, f->name) == 0 &&
            e->mode != CUT_MODE_JMS_ONLY) {
            return true;
        }
    }
    return false;
}

struct status_ctx {
    struct cut_recon *r;
};

static int status_cb(void *opaque, const struct cut_flow_info *info)
{
    struct cut_recon *r = ((struct status_ctx *)opaque)->r;
    for (size_t i = 0; i < r->opts.n_flows; i++) {
        struct recon_flow *f = &r->flows[i];
        if (strcmp(r->opts.flows[i].name, info->name) == 0) {
            f->known = true;
            f->status = info->status;
            if (strcmp(f->status_at, info->status_changed_at) != 0) {
                snprintf(f->status_at, sizeof(f->status_at), "%s", info->status_changed_at);
                f->status_ms = cut_recon_parse_time(info->status_changed_at);
                f->audit_stale = true;
            }
        }
    }
    return 0;
}

static int rollback_cb(void *opaque, const struct cut_audit_record *rec)
{
    struct recon_flow *f = opaque;
    if (strcmp(rec->what, "status") == 0 && rec->to != NULL &&
        strcmp(rec->to, "ROLLED_BACK") == 0) {
        int64_t at = cut_recon_parse_time(rec->at);
        f->rollback_ms = at > f->rollback_ms ? at : f->rollback_ms;
    }
    return 0;
}

/* The last rollback of each flow whose status changed since we looked: the
 * audit log is read only then, not every pass. */
static int refresh_rollbacks(struct cut_recon *r, struct cut_err *err)
{
    for (size_t i = 0; i < r->opts.n_flows; i++) {
        struct recon_flow *f = &r->flows[i];
        if (f->audit_stale) {
            int rc = cut_store_audit_list(r->st, r->opts.flows[i].name, rollback_cb, f, err);
            if (rc != CUT_OK) {
                return rc;
            }
            f->audit_stale = false;
        }
    }
    return CUT_OK;
}

/* The read-back counts of the window: this pass's delta joins the ring. */
static void readback_window(struct cut_recon *r, size_t i, int64_t now, int64_t from_ms,
                            struct cut_recon_input *in)
{
    struct recon_flow *f = &r->flows[i];
    struct cut_readback_counts c;
    if (r->opts.readback == NULL) {
        return;
    }
    cut_readback_counts(r->opts.readback, i, &c);
    uint64_t checked = c.found + c.missing;
    struct rb_delta d = {
        .at_ms = now, .checked = checked - f->rb_checked, .missing = c.missing - f->rb_missing};
    f->rb_checked = checked;
    f->rb_missing = c.missing;
    /* A line a minute while ids are checked: the proof read-back works. */
    if (checked != f->rb_logged_checked && now - f->rb_logged_ms >= MINUTE_MS) {
        cut_log_info("reconciler",
                     "%s: read back %llu of the sampled ids Kafka confirmed, %llu missing, "
                     "%llu not checked (no room), %llu records read",
                     r->opts.flows[i].name, (unsigned long long)c.found,
                     (unsigned long long)c.missing, (unsigned long long)c.dropped,
                     (unsigned long long)c.records);
        f->rb_logged_ms = now;
        f->rb_logged_checked = checked;
    }
    if (f->rb_n == f->rb_cap) {
        f->rb_head = (f->rb_head + 1) % f->rb_cap;
        f->rb_n--;
    }
    f->rb[(f->rb_head + f->rb_n) % f->rb_cap] = d;
    f->rb_n++;
    in->have_readback = true;
    for (size_t k = 0; k < f->rb_n; k++) {
        const struct rb_delta *e = &f->rb[(f->rb_head + k) % f->rb_cap];
        if (e->at_ms >= from_ms) {
            in->rb_checked += e->checked;
            in->rb_missing += e->missing;
        }
    }
}

static int judge_flow(struct cut_recon *r, size_t i, int64_t now, struct cut_err *err)
{
    const struct cut_recon_flow *cfg = &r->opts.flows[i];
    struct recon_flow *f = &r->flows[i];
    struct cut_tracking_row win, settled, prev, latency;
    struct cut_recon_span span;
    struct cut_recon_input in = {.window = &win};
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;
    int rc;

    /* Data up to the flow's last rollback (its whole minute) is not judged
     * again: a flow promoted after a rollback starts with a clean window. */
    cut_recon_span(now, r->opts.window_ms, cfg->th.settle_ms, f->rollback_ms, &span);
    rc = cut_store_tracking_window(r->st, cfg->name, span.from, span.to, &win, NULL, err);
    if (rc == CUT_OK && span.have_settled) {
        rc = cut_store_tracking_window(r->st, cfg->name, span.from, span.settled_to, &settled, NULL,
                                       err);
        in.settled = &settled;
    }
    if (rc == CUT_OK && span.have_prev) {
        rc = cut_store_tracking_window(r->st, cfg->name, span.from, span.settled_to - 60, &prev,
                                       NULL, err);
        in.settled_prev = &prev;
    }
    /* Latency without the warm-up minutes (bridge start, promotion). */
    struct cut_recon_span warm;
    int64_t nb = f->rollback_ms > f->status_ms ? f->rollback_ms : f->status_ms;
    cut_recon_span(now, r->opts.window_ms, 0, nb > r->start_ms ? nb : r->start_ms, &warm);
    if (rc == CUT_OK && warm.from != span.from) {
        rc = cut_store_tracking_window(r->st, cfg->name, warm.from, warm.to, &latency, NULL, err);
        in.latency = &latency;
    }
    if (rc != CUT_OK) {
        return rc;
    }
    readback_window(r, i, now, span.from * 1000, &in);
    cut_recon_compute(&in, &fig);
    cut_recon_judge(&fig, &cfg->th, &v);
    pthread_mutex_lock(&r->lock);
    f->fig = fig;
    f->verdict = v;
    f->have_last = true;
    pthread_mutex_unlock(&r->lock);
    return CUT_OK;
}

static void queue_alert(struct cut_recon *r, size_t i, const char *event, const char *action,
                        const char *reason)
{
    struct recon_alert *a = &r->alerts[r->n_alerts++];
    a->flow = i;
    a->event = event;
    a->action = action;
    snprintf(a->reason, sizeof(a->reason), "%s", reason);
    a->fig = r->flows[i].fig;
    a->verdict = r->flows[i].verdict;
}

/* Act on flow @p i's verdict: roll back, or note what to alert about. */
static void act(struct cut_recon *r, size_t i, const struct cut_mode_table *modes, int64_t now)
{
    const struct cut_recon_flow *cfg = &r->opts.flows[i];
    struct recon_flow *f = &r->flows[i];
    const struct cut_recon_verdict *v = &f->verdict;
    char why[900], reason[1024];
    struct cut_err err;
    bool rollback_breach = false;

    cut_recon_reason(&f->fig, v, why, sizeof(why));
    snprintf(reason, sizeof(reason), "%s (window %lld s)", why,
             (long long)(r->opts.window_ms / 1000));
    for (int c = 0; c < CUT_RECON_CHECKS; c++) {
        bool breach = v->state[c] == CUT_RECON_BREACH;
        rollback_breach |= breach && cut_recon_check_rolls_back((enum cut_recon_check)c);
        if (v->state[c] == CUT_RECON_OK) {
            f->alerting[c] = false;
        }
    }
    bool eligible = f->known && writes_kafka(modes, cfg) &&
                    (f->status == CUT_FLOW_IN_PROGRESS ||
                     (f->status == CUT_FLOW_PENDING && cfg->config_mode > 0));
    if (rollback_breach && eligible) {
        int rc = CUT_OK;
        if (f->status == CUT_FLOW_PENDING) {
            /* Its mode comes from the config and the store has never seen it
             * leave JMS_ONLY: record that mode first (what the flow runs
             * anyway), so that the rollback below is the usual one. A crash
             * in between leaves the flow as it already ran. */
            rc = cut_store_mode_set(r->st, cfg->name, NULL, (enum cut_mode)cfg->config_mode, NULL,
                                    "reconciler",
                                    "the config's mode, recorded to roll the flow back", &err);
        }
        if (rc == CUT_OK) {
            rc = cut_store_flow_rollback(r->st, cfg->name, "reconciler", reason, &err);
        }
        if (rc != CUT_OK) {
            atomic_fetch_add(&r->errors, 1);
            cut_log_error("reconciler", "%s: rollback FAILED (%s), will retry next pass: %s",
                          cfg->name, err.msg, reason);
            return;
        }
        atomic_fetch_add(&r->rollbacks, 1);
        f->status = CUT_FLOW_ROLLED_BACK;
        f->rollback_ms = now > f->rollback_ms ? now : f->rollback_ms;
        cut_log_error("reconciler", "%s: ROLLED BACK to JMS_ONLY: %s", cfg->name, reason);
        queue_alert(r, i, "rollback", "rolled back to JMS_ONLY", reason);
        for (int c = 0; c < CUT_RECON_CHECKS; c++) {
            f->alerting[c] |= v->state[c] == CUT_RECON_BREACH;
        }
        return;
    }
    /* No rollback: alert on the way into each breach, once. */
    bool fresh = false;
    for (int c = 0; c < CUT_RECON_CHECKS; c++) {
        if (v->state[c] == CUT_RECON_BREACH && !f->alerting[c]) {
            fresh = true;
            f->alerting[c] = true;
        }
    }
    if (!fresh || (rollback_breach && !eligible && !writes_kafka(modes, cfg))) {
        return; /* nothing new, or nothing left on Kafka to worry about */
    }
    const char *action = rollback_breach && f->status == CUT_FLOW_COMPLETED
                             ? "none: a COMPLETED flow is not rolled back automatically"
                         : rollback_breach ? "none: the flow is not IN_PROGRESS"
                                           : "none: consistency only alerts";
    cut_log_warn("reconciler", "%s: ALERT %s; action: %s", cfg->name, reason, action);
    queue_alert(r, i, rollback_breach ? "breach" : "consistency", action, reason);
}

static size_t discard(char *ptr, size_t size, size_t n, void *opaque)
{
    (void)ptr;
    (void)opaque;
    return size * n;
}

/* POST the alert to the webhook, bounded by webhook_timeout_ms. The URL may
 * hold a token: it is never logged. */
static void webhook_post(struct cut_recon *r, const char *flow, const char *body)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    long code = 0;
    CURLcode res = CURLE_OUT_OF_MEMORY;
    if (curl != NULL && hdrs != NULL) {
        curl_easy_setopt(curl, CURLOPT_URL, r->opts.webhook_url);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)r->opts.webhook_timeout_ms);
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)r->opts.webhook_timeout_ms);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        res = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    }
    if (res != CURLE_OK || code < 200 || code >= 300) {
        atomic_fetch_add(&r->webhook_failures, 1);
        cut_log_warn("reconciler", "%s: alert webhook failed: %s", flow,
                     res != CURLE_OK ? curl_easy_strerror(res) : "HTTP status not 2xx");
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
}

static void alert_send(struct cut_recon *r, const struct recon_alert *a, int64_t now)
{
    const char *flow = r->opts.flows[a->flow].name;
    atomic_fetch_add(&r->n_alerts_total, 1);
    if (r->opts.webhook_url == NULL || r->opts.webhook_url[0] == '\0') {
        return;
    }
    char *body = cut_report_alert_json(r->opts.bridge_name, flow, a->event, a->action, a->reason,
                                       now, r->opts.window_ms, &a->fig, &a->verdict);
    if (body == NULL) {
        atomic_fetch_add(&r->webhook_failures, 1);
        return;
    }
    webhook_post(r, flow, body);
    free(body);
}

int cut_recon_pass(struct cut_recon *r, struct cut_err *err)
{
    struct cut_mode_table modes;
    struct status_ctx sctx = {.r = r};
    int rc = CUT_OK;
    int64_t now = now_ms(r);

    cut_mode_table_init(&modes);
    r->n_alerts = 0;
    if (r->st == NULL) {
        rc = cut_store_open(&r->st, r->opts.state_path, 0, err);
    }
    if (rc == CUT_OK) {
        rc = cut_store_modes_load(r->st, &modes, err);
    }
    if (rc == CUT_OK) {
        rc = cut_store_flows_list(r->st, NULL, status_cb, &sctx, err);
    }
    if (rc == CUT_OK) {
        rc = refresh_rollbacks(r, err);
    }
    for (size_t i = 0; rc == CUT_OK && i < r->opts.n_flows; i++) {
        struct cut_err ferr;
        if (judge_flow(r, i, now, &ferr) != CUT_OK) {
            atomic_fetch_add(&r->errors, 1);
            cut_log_warn("reconciler", "%s: cannot read its tracking: %s", r->opts.flows[i].name,
                         ferr.msg);
            continue;
        }
        act(r, i, &modes, now);
    }
    cut_mode_table_fini(&modes);
    if (rc != CUT_OK) {
        atomic_fetch_add(&r->errors, 1);
        /* A broken handle is reopened next pass. */
        cut_store_close(r->st);
        r->st = NULL;
        return rc;
    }
    /* Every rollback of this pass is committed: now the alerts, which may wait
     * on a webhook. */
    for (size_t k = 0; k < r->n_alerts; k++) {
        alert_send(r, &r->alerts[k], now);
    }
    atomic_fetch_add(&r->passes, 1);
    return CUT_OK;
}

static void *recon_main(void *arg)
{
    struct cut_recon *r = arg;
    struct timespec until;
    bool failing = false;
    clock_gettime(CLOCK_MONOTONIC, &until);
    for (;;) {
        until.tv_sec += r->opts.interval_ms / 1000;
        until.tv_nsec += (long)(r->opts.interval_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&r->lock);
        while (!r->stop && pthread_cond_timedwait(&r->wake, &r->lock, &until) == 0) {
        }
        bool stop = r->stop;
        pthread_mutex_unlock(&r->lock);
        if (stop) {
            break;
        }
        struct cut_err err;
        if (cut_recon_pass(r, &err) != CUT_OK) {
            if (!failing) {
                cut_log_error("reconciler", "pass failed, retrying every %lld ms: %s",
                              (long long)r->opts.interval_ms, err.msg);
            }
            failing = true;
        } else {
            if (failing) {
                cut_log_info("reconciler", "passes work again");
            }
            failing = false;
        }
        /* A pass longer than the interval: the next one starts right away. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > until.tv_sec) {
            until = now;
        }
    }
    return NULL;
}

int cut_recon_start(struct cut_recon **out, const struct cut_recon_options *opts,
                    struct cut_err *err)
{
    struct cut_recon *r;
    int rc = cut_recon_create(&r, opts, err);
    if (rc != CUT_OK) {
        *out = NULL;
        return rc;
    }
    int e = pthread_create(&r->thread, NULL, recon_main, r);
    if (e != 0) {
        cut_recon_stop(r);
        *out = NULL;
        return cut_err_set(err, CUT_EFATAL, "cannot start the reconciler: %s", strerror(e));
    }
    r->started = true;
    cut_log_info("reconciler", "watching %zu flow(s): a pass every %lld ms over %lld s",
                 opts->n_flows, (long long)r->opts.interval_ms,
                 (long long)(r->opts.window_ms / 1000));
    *out = r;
    return CUT_OK;
}

void cut_recon_stop(struct cut_recon *r)
{
    if (r == NULL) {
        return;
    }
    if (r->started) {
        pthread_mutex_lock(&r->lock);
        r->stop = true;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
    }
    cut_store_close(r->st);
    for (size_t i = 0; i < r->opts.n_flows; i++) {
        free(r->flows[i].rb);
    }
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r->flows);
    free(r->alerts);
    free(r);
}

void cut_recon_stats(const struct cut_recon *r, struct cut_recon_stats *out)
{
    struct cut_recon *m = (struct cut_recon *)r; /* atomics are read only */
    out->passes = atomic_load(&m->passes);
    out->rollbacks = atomic_load(&m->rollbacks);
    out->alerts = atomic_load(&m->n_alerts_total);
    out->webhook_failures = atomic_load(&m->webhook_failures);
    out->errors = atomic_load(&m->errors);
}

bool cut_recon_last(struct cut_recon *r, size_t i, struct cut_recon_figures *fig,
                    struct cut_recon_verdict *v)
{
    bool have = false;
    if (i >= r->opts.n_flows) {
        return false;
    }
    pthread_mutex_lock(&r->lock);
    if (r->flows[i].have_last) {
        *fig = r->flows[i].fig;
        *v = r->flows[i].verdict;
        have = true;
    }
    pthread_mutex_unlock(&r->lock);
    return have;
}
