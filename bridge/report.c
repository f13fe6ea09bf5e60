/*
 * The progress report: gathered from the store (flows, modes, audit, ledger,
 * tracking), judged with the reconciler's own functions, printed as text or
 * JSON (jansson). The JSON field names are documented in docs/operations.md
 * and pinned by test_report: renaming one is a breaking change.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"
#include "tracking.h"

#define MINUTE_MS 60000

void cut_report_time(int64_t ms, char *buf, size_t len)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char base[24];
    gmtime_r(&s, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000));
}

static char *dup_or_empty(const char *s)
{
    return strdup(s != NULL ? s : "");
}

static int64_t floor_minute(int64_t ms)
{
    return ms / MINUTE_MS * 60;
}

/* ---- gathering ------------------------------------------------------------ */

static void flow_free(struct cut_report_flow *f)
{
    free(f->name);
    free(f->created_at);
    free(f->status_since);
    free(f->status_reason);
    free(f->rollback_at);
    free(f->rollback_actor);
    free(f->rollback_reason);
    for (size_t k = 0; k < f->n_overrides; k++) {
        free(f->overrides[k].msg_type);
    }
    free(f->overrides);
    memset(f, 0, sizeof(*f));
}

struct gather {
    struct cut_report *rep;
    const struct cut_report_options *opts;
    bool failed;
};

static struct cut_report_flow *add_flow(struct cut_report *rep, const char *name)
{
    struct cut_report_flow *flows = realloc(rep->flows, (rep->n_flows + 1) * sizeof(*rep->flows));
    if (flows == NULL) {
        return NULL;
    }
    rep->flows = flows;
    struct cut_report_flow *f = &flows[rep->n_flows];
    memset(f, 0, sizeof(*f));
    f->name = strdup(name);
    if (f->name == NULL) {
        return NULL;
    }
    rep->n_flows++;
    f->mode_since_ms = -1;
    return f;
}

static int stored_cb(void *opaque, const struct cut_flow_info *info)
{
    struct gather *g = opaque;
    struct cut_report_flow *f = add_flow(g->rep, info->name);
    if (f == NULL) {
        g->failed = true;
        return 1;
    }
    f->in_store = true;
    f->status = info->status;
    f->created_at = dup_or_empty(info->created_at);
    f->status_since = dup_or_empty(info->status_changed_at);
    f->status_reason = dup_or_empty(info->status_reason);
    g->failed |= f->created_at == NULL || f->status_since == NULL || f->status_reason == NULL;
    return 0;
}

static struct cut_report_flow *find_flow(struct cut_report *rep, const char *name)
{
    for (size_t i = 0; i < rep->n_flows; i++) {
        if (strcmp(rep->flows[i].name, name) == 0) {
            return &rep->flows[i];
        }
    }
    return NULL;
}

/* What the audit log says about one flow: its last rollback, and when its
 * modes last changed. */
static int audit_cb(void *opaque, const struct cut_audit_record *rec)
{
    struct cut_report_flow *f = opaque;
    int64_t at = cut_recon_parse_time(rec->at);
    if (strcmp(rec->what, "mode") == 0 || strcmp(rec->what, "rollback") == 0) {
        f->mode_since_ms = at > f->mode_since_ms ? at : f->mode_since_ms;
    }
    if (strcmp(rec->what, "status") == 0 && rec->to != NULL &&
        strcmp(rec->to, "ROLLED_BACK") == 0) {
        free(f->rollback_at);
        free(f->rollback_actor);
        free(f->rollback_reason);
        f->rollback_at = dup_or_empty(rec->at);
        f->rollback_actor = dup_or_empty(rec->actor);
        f->rollback_reason = dup_or_empty(rec->reason);
        f->have_rollback = f->rollback_at && f->rollback_actor && f->rollback_reason;
    }
    return 0;
}

static int default_cb(void *opaque, const struct cut_audit_record *rec)
{
    int64_t *last = opaque;
    if (strcmp(rec->what, "default") == 0) {
        int64_t at = cut_recon_parse_time(rec->at);
        *last = at > *last ? at : *last;
    }
    return 0;
}

static const struct cut_recon_flow *config_flow(const struct cut_report_options *o,
                                                const char *name)
{
    for (size_t i = 0; i < o->n_flows; i++) {
        if (strcmp(o->flows[i].name, name) == 0) {
            return &o->flows[i];
        }
    }
    return NULL;
}

static void modes_of(struct cut_report_flow *f, const struct cut_mode_table *t,
                     const struct cut_recon_flow *cfg)
{
    const struct cut_mode_entry *own = cut_mode_table_find(t, f->name, NULL);
    if (own != NULL) {
        f->mode = own->mode;
        f->mode_source = "flow";
    } else if (cfg != NULL && cfg->config_mode >= 0) {
        f->mode = (enum cut_mode)cfg->config_mode;
        f->mode_source = "config";
    } else if (t->has_default) {
        f->mode = t->def;
        f->mode_source = "default";
    } else {
        f->mode = CUT_MODE_JMS_ONLY;
        f->mode_source = "built-in";
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct cut_mode_entry *e = &t->entries[i];
        if (e->msg_type[0] == '\0' || strcmp(e->flow, f->name) != 0) {
            continue;
        }
        struct cut_report_override *o =
            realloc(f->overrides, (f->n_overrides + 1) * sizeof(*f->overrides));
        if (o == NULL) {
            return;
        }
        f->overrides = o;
        o[f->n_overrides].msg_type = strdup(e->msg_type);
        o[f->n_overrides].mode = e->mode;
        f->n_overrides += o[f->n_overrides].msg_type != NULL;
    }
}

static void fmt_duration(int64_t ms, char *buf, size_t len)
{
    int64_t min = ms / MINUTE_MS;
    if (min >= 60) {
        snprintf(buf, len, "%lld h %02lld min", (long long)(min / 60), (long long)(min % 60));
    } else {
        snprintf(buf, len, "%lld min", (long long)min);
    }
}

/* In KAFKA_ONLY everywhere for the soak time, with nothing failing. */
static int readiness(struct cut_store *st, struct cut_report_flow *f, int64_t now,
                     struct cut_err *err)
{
    char a[32], b[32];
    if (f->status == CUT_FLOW_COMPLETED) {
        snprintf(f->ready_why, sizeof(f->ready_why), "already COMPLETED");
        return CUT_OK;
    }
    if (f->status != CUT_FLOW_IN_PROGRESS) {
        snprintf(f->ready_why, sizeof(f->ready_why), "status is %s, not IN_PROGRESS",
                 cut_flow_status_name(f->status));
        return CUT_OK;
    }
    if (f->mode != CUT_MODE_KAFKA_ONLY) {
        snprintf(f->ready_why, sizeof(f->ready_why), "mode is %s, not KAFKA_ONLY",
                 cut_mode_name(f->mode));
        return CUT_OK;
    }
    for (size_t i = 0; i < f->n_overrides; i++) {
        if (f->overrides[i].mode != CUT_MODE_KAFKA_ONLY) {
            snprintf(f->ready_why, sizeof(f->ready_why), "type %s is in %s, not KAFKA_ONLY",
                     f->overrides[i].msg_type, cut_mode_name(f->overrides[i].mode));
            return CUT_OK;
        }
    }
    int64_t since =
        f->mode_since_ms >= 0 ? f->mode_since_ms : cut_recon_parse_time(f->status_since);
    if (since < 0 || now - since < f->th.soak_ms) {
        fmt_duration(since < 0 ? 0 : now - since, a, sizeof(a));
        fmt_duration(f->th.soak_ms, b, sizeof(b));
        snprintf(f->ready_why, sizeof(f->ready_why), "in KAFKA_ONLY for %s of the %s soak", a, b);
        return CUT_OK;
    }
    /* The minute of the switch is left out: it mixes both modes. */
    struct cut_tracking_row soak;
    int rc = cut_store_tracking_window(st, f->name, floor_minute(since) + 60, floor_minute(now),
                                       &soak, NULL, err);
    if (rc != CUT_OK) {
        return rc;
    }
    uint64_t failed = soak.counts[CUT_TRACK_FAILED_KAFKA];
    uint64_t open = f->ledger_open[0] + f->ledger_open[1];
    fmt_duration(now - since, a, sizeof(a));
    if (soak.counts[CUT_TRACK_SEEN] == 0) {
        snprintf(f->ready_why, sizeof(f->ready_why), "no traffic during the %s in KAFKA_ONLY", a);
    } else if (failed > 0) {
        snprintf(f->ready_why, sizeof(f->ready_why), "%llu Kafka writes failed during the soak",
                 (unsigned long long)failed);
    } else if (open > 0) {
        snprintf(f->ready_why, sizeof(f->ready_why), "%llu repair-ledger entries still open",
                 (unsigned long long)open);
    } else {
        f->ready = true;
        snprintf(f->ready_why, sizeof(f->ready_why), "in KAFKA_ONLY for %s with nothing failing",
                 a);
    }
    return CUT_OK;
}

static int detail(struct cut_store *st, const struct cut_report_options *o, struct cut_report *rep,
                  struct cut_report_flow *f, const struct cut_mode_table *t, int64_t last_default,
                  struct cut_err *err)
{
    const struct cut_recon_flow *cfg = config_flow(o, f->name);
    int rc;
    f->th = cfg != NULL           ? cfg->th
            : o->defaults != NULL ? *o->defaults
                                  : cut_recon_thresholds_default();
    modes_of(f, t, cfg);
    if ((rc = cut_store_audit_list(st, f->name, audit_cb, f, err)) != CUT_OK) {
        return rc;
    }
    if (strcmp(f->mode_source, "default") == 0 && last_default > f->mode_since_ms) {
        f->mode_since_ms = last_default;
    }
    for (int side = 0; side < 2; side++) {
        enum cut_side s = (enum cut_side)side;
        if ((rc = cut_store_ledger_count(st, f->name, &s, &f->ledger_open[side], err)) != CUT_OK) {
            return rc;
        }
    }
    struct cut_recon_span span;
    struct cut_tracking_row settled, prev;
    cut_recon_span(rep->now_ms, rep->window_ms, f->th.settle_ms, 0, &span);
    struct cut_recon_input in = {.window = &f->window};
    if ((rc = cut_store_tracking_window(st, f->name, span.from, span.to, &f->window, NULL, err)) !=
            CUT_OK ||
        (rc = cut_store_tracking_window(st, f->name, 0, span.to, &f->total, NULL, err)) != CUT_OK) {
        return rc;
    }
    if (span.have_settled) {
        rc =
            cut_store_tracking_window(st, f->name, span.from, span.settled_to, &settled, NULL, err);
        in.settled = &settled;
    }
    if (rc == CUT_OK && span.have_prev) {
        rc = cut_store_tracking_window(st, f->name, span.from, span.settled_to - 60, &prev, NULL,
                                       err);
        in.settled_prev = &prev;
    }
    /* Latency as the reconciler judges it: without the warm-up minute of
     * the flow's last status change (a new producer, a new topic). */
    struct cut_recon_span warm;
    struct cut_tracking_row latency;
    cut_recon_span(rep->now_ms, rep->window_ms, 0, cut_recon_parse_time(f->status_since), &warm);
    if (rc == CUT_OK && warm.from != span.from) {
        rc = cut_store_tracking_window(st, f->name, warm.from, warm.to, &latency, NULL, err);
        in.latency = &latency;
    }
    if (rc != CUT_OK) {
        return rc;
    }
    f->window.flow = f->total.flow = NULL; /* borrowed names: not kept */
    cut_recon_compute(&in, &f->fig);
    cut_recon_judge(&f->fig, &f->th, &f->verdict);
    return readiness(st, f, rep->now_ms, err);
}

int cut_report_build(struct cut_store *st, const struct cut_report_options *opts,
                     struct cut_report *out, struct cut_err *err)
{
    static const struct cut_report_options none = {0};
    const struct cut_report_options *o = opts != NULL ? opts : &none;
    struct cut_mode_table t;
    struct gather g = {.rep = out, .opts = o};
    struct timespec ts;
    int64_t last_default = -1;
    int rc;

    memset(out, 0, sizeof(*out));
    clock_gettime(CLOCK_REALTIME, &ts);
    out->now_ms = o->now_ms > 0 ? o->now_ms : (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    out->window_ms = o->window_ms > 0 ? o->window_ms : 5 * MINUTE_MS;
    out->from_minute = floor_minute(out->now_ms - out->window_ms);
    out->to_minute = floor_minute(out->now_ms);
    cut_mode_table_init(&t);
    if ((rc = cut_store_modes_load(st, &t, err)) != CUT_OK ||
        (rc = cut_store_flows_list(st, NULL, stored_cb, &g, err)) != CUT_OK) {
        goto out;
    }
    for (size_t i = 0; !g.failed && i < o->n_flows; i++) {
        struct cut_report_flow *f = find_flow(out, o->flows[i].name);
        if (f == NULL && (f = add_flow(out, o->flows[i].name)) != NULL) {
            /* Not seen by the store yet: PENDING by definition. */
            f->status = CUT_FLOW_PENDING;
            f->created_at = strdup("");
            f->status_since = strdup("");
            f->status_reason = strdup("");
            g.failed |=
                f->created_at == NULL || f->status_since == NULL || f->status_reason == NULL;
        }
        if (f == NULL) {
            g.failed = true;
        } else {
            f->in_config = true;
        }
    }
    if (g.failed) {
        rc = cut_err_set(err, CUT_ENOMEM, "out of memory");
        goto out;
    }
    out->total = out->n_flows;
    for (size_t i = 0; i < out->n_flows; i++) {
        out->by_status[out->flows[i].status]++;
    }
    out->completion_pct =
        out->total ? 100.0 * (double)out->by_status[CUT_FLOW_COMPLETED] / (double)out->total : 0;
    if (o->flow != NULL) {
        /* Narrow the per-flow part; the summary stays the whole migration's. */
        struct cut_report_flow *f = find_flow(out, o->flow);
        if (f == NULL) {
            rc = cut_err_set(err, CUT_EINVAL, "unknown flow %s", o->flow);
            goto out;
        }
        size_t keep = (size_t)(f - out->flows);
        for (size_t i = 0; i < out->n_flows; i++) {
            if (i != keep) {
                flow_free(&out->flows[i]);
            }
        }
        out->flows[0] = out->flows[keep];
        out->n_flows = 1;
    }
    if (t.has_default &&
        (rc = cut_store_audit_list(st, NULL, default_cb, &last_default, err)) != CUT_OK) {
        goto out;
    }
    for (size_t i = 0; rc == CUT_OK && i < out->n_flows; i++) {
        rc = detail(st, o, out, &out->flows[i], &t, last_default, err);
    }
out:
    cut_mode_table_fini(&t);
    return rc;
}

void cut_report_fini(struct cut_report *rep)
{
    for (size_t i = 0; rep->flows != NULL && i < rep->n_flows; i++) {
        flow_free(&rep->flows[i]);
    }
    free(rep->flows);
    memset(rep, 0, sizeof(*rep));
}

/* ---- text ----------------------------------------------------------------- */

static void pct(char *buf, size_t len, const struct cut_recon_ratio *r)
{
    if (r->known) {
        snprintf(buf, len, "%.2f %%", 100.0 * r->value);
    } else {
        snprintf(buf, len, "-");
    }
}

static void latency(char *buf, size_t len, const struct cut_recon_figures *fig, int side)
{
    if (fig->have_lat[side]) {
        snprintf(buf, len, "%.1f/%.1f ms", fig->p50_us[side] / 1000.0, fig->p99_us[side] / 1000.0);
    } else {
        snprintf(buf, len, "-");
    }
}

static void print_counts(FILE *out, const char *label, const struct cut_tracking_row *row)
{
    const uint64_t *c = row->counts;
    fprintf(out,
            "  %-17s seen %llu  legacy %llu  kafka %llu  both %llu  failed legacy %llu "
            "kafka %llu\n",
            label, (unsigned long long)c[CUT_TRACK_SEEN],
            (unsigned long long)c[CUT_TRACK_CONFIRMED_LEGACY],
            (unsigned long long)c[CUT_TRACK_CONFIRMED_KAFKA],
            (unsigned long long)c[CUT_TRACK_CONFIRMED_BOTH],
            (unsigned long long)c[CUT_TRACK_FAILED_LEGACY],
            (unsigned long long)c[CUT_TRACK_FAILED_KAFKA]);
}

static void print_flow(const struct cut_report *rep, const struct cut_report_flow *f, FILE *out)
{
    char a[32], b[32], since[40];
    const struct cut_recon_figures *fig = &f->fig;
    (void)rep;
    if (f->mode_since_ms >= 0) {
        cut_report_time(f->mode_since_ms, since, sizeof(since));
    } else {
        snprintf(since, sizeof(since), "-");
    }
    fprintf(out, "\n%s  %s  %s (%s)%s\n", f->name, cut_flow_status_name(f->status),
            cut_mode_name(f->mode), f->mode_source, f->in_store ? "" : "  [not in the store yet]");
    for (size_t i = 0; i < f->n_overrides; i++) {
        fprintf(out, "  type %s: %s\n", f->overrides[i].msg_type,
                cut_mode_name(f->overrides[i].mode));
    }
    fprintf(out, "  %-17s created %s  status since %s  modes since %s\n", "dates",
            f->created_at[0] ? f->created_at : "-", f->status_since[0] ? f->status_since : "-",
            since);
    print_counts(out, "messages, window", &f->window);
    print_counts(out, "messages, total", &f->total);
    if (fig->consistency.known) {
        snprintf(a, sizeof(a), "%.4f", fig->consistency.value);
    } else {
        snprintf(a, sizeof(a), "-");
    }
    fprintf(out, "  %-17s %s", "consistency", a);
    pct(a, sizeof(a), &fig->loss);
    fprintf(out, "  loss %s", a);
    pct(a, sizeof(a), &fig->error[CUT_SIDE_LEGACY]);
    pct(b, sizeof(b), &fig->error[CUT_SIDE_KAFKA]);
    fprintf(out, "  errors legacy %s kafka %s\n", a, b);
    latency(a, sizeof(a), fig, CUT_SIDE_LEGACY);
    latency(b, sizeof(b), fig, CUT_SIDE_KAFKA);
    fprintf(out, "  %-17s legacy %s  kafka %s", "latency p50/p99", a, b);
    if (fig->latency_ratio.known) {
        fprintf(out, "  kafka/legacy p99 %.2f", fig->latency_ratio.value);
    }
    fprintf(out, "\n  %-17s", "checks");
    for (int c = 0; c < CUT_RECON_CHECKS; c++) {
        if (c != CUT_RECON_READBACK) { /* lives in the running bridge, not the store */
            fprintf(out, " %s %s", cut_recon_check_name((enum cut_recon_check)c),
                    cut_recon_state_name(f->verdict.state[c]));
        }
    }
    fprintf(out, "\n");
    if (f->have_rollback) {
        fprintf(out, "  %-17s %s by %s: %s\n", "last rollback", f->rollback_at, f->rollback_actor,
                f->rollback_reason);
    } else {
        fprintf(out, "  %-17s none\n", "last rollback");
    }
    fprintf(out, "  %-17s %llu open (kafka %llu, legacy %llu)\n", "repair ledger",
            (unsigned long long)(f->ledger_open[0] + f->ledger_open[1]),
            (unsigned long long)f->ledger_open[CUT_SIDE_KAFKA],
            (unsigned long long)f->ledger_open[CUT_SIDE_LEGACY]);
    fprintf(out, "  %-17s %s: %s\n", "ready to complete", f->ready ? "yes" : "no", f->ready_why);
}

void cut_report_print(const struct cut_report *rep, FILE *out)
{
    char now[40], from[40];
    cut_report_time(rep->now_ms, now, sizeof(now));
    cut_report_time(rep->from_minute * 1000, from, sizeof(from));
    fprintf(out, "cutover migration report, %s\n", now);
    fprintf(out, "window: %lld min (whole minutes from %s)\n\n",
            (long long)(rep->window_ms / MINUTE_MS), from);
    fprintf(out,
            "flows %zu: pending %zu, in progress %zu, completed %zu, rolled back %zu; "
            "%.1f %% complete\n",
            rep->total, rep->by_status[CUT_FLOW_PENDING], rep->by_status[CUT_FLOW_IN_PROGRESS],
            rep->by_status[CUT_FLOW_COMPLETED], rep->by_status[CUT_FLOW_ROLLED_BACK],
            rep->completion_pct);
    for (size_t i = 0; i < rep->n_flows; i++) {
        print_flow(rep, &rep->flows[i], out);
    }
}

/* ---- JSON ----------------------------------------------------------------- */

static json_t *num_or_null(bool known, double v)
{
    return known && isfinite(v) ? json_real(v) : json_null();
}

static json_t *counts_json(const struct cut_tracking_row *row)
{
    json_t *o = json_object();
    for (int e = 0; e < CUT_TRACK_COUNT; e++) {
        json_object_set_new(o, cut_track_event_name((enum cut_track_event)e),
                            json_integer((json_int_t)row->counts[e]));
    }
    return o;
}

static json_t *latency_json(const struct cut_recon_figures *fig, int side)
{
    if (!fig->have_lat[side]) {
        return json_null();
    }
    return json_pack("{s:f, s:f, s:I}", "p50", fig->p50_us[side] / 1000.0, "p99",
                     fig->p99_us[side] / 1000.0, "samples", (json_int_t)fig->lat_n[side]);
}

/* The figures and checks, as one object's members (added to @p o). */
static void figures_json(json_t *o, const struct cut_recon_figures *fig,
                         const struct cut_recon_verdict *v)
{
    json_object_set_new(o, "consistency",
                        num_or_null(fig->consistency.known, fig->consistency.value));
    json_object_set_new(o, "loss_rate", num_or_null(fig->loss.known, fig->loss.value));
    json_object_set_new(o, "lost", json_integer((json_int_t)fig->lost));
    json_object_set_new(o, "readback_loss_rate",
                        num_or_null(fig->readback.known, fig->readback.value));
    json_object_set_new(o, "error_rate",
                        json_pack("{s:o, s:o}", "legacy",
                                  num_or_null(fig->error[0].known, fig->error[0].value), "kafka",
                                  num_or_null(fig->error[1].known, fig->error[1].value)));
    json_object_set_new(
        o, "latency_ms",
        json_pack("{s:o, s:o}", "legacy", latency_json(fig, 0), "kafka", latency_json(fig, 1)));
    json_object_set_new(o, "latency_ratio",
                        num_or_null(fig->latency_ratio.known, fig->latency_ratio.value));
    json_t *checks = json_array();
    for (int c = 0; c < CUT_RECON_CHECKS; c++) {
        bool measured = v->state[c] != CUT_RECON_UNKNOWN;
        json_array_append_new(checks,
                              json_pack("{s:s, s:s, s:o, s:f, s:I, s:I, s:b}", "check",
                                        cut_recon_check_name((enum cut_recon_check)c), "state",
                                        cut_recon_state_name(v->state[c]), "value",
                                        num_or_null(measured, v->value[c]), "threshold",
                                        v->threshold[c], "sample", (json_int_t)v->sample[c],
                                        "min_sample", (json_int_t)v->min_sample, "rolls_back",
                                        cut_recon_check_rolls_back((enum cut_recon_check)c)));
    }
    json_object_set_new(o, "checks", checks);
}

static json_t *str_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *flow_json(const struct cut_report_flow *f)
{
    char since[40];
    json_t *o = json_object();
    json_t *ov = json_object();
    for (size_t i = 0; i < f->n_overrides; i++) {
        json_object_set_new(ov, f->overrides[i].msg_type,
                            json_string(cut_mode_name(f->overrides[i].mode)));
    }
    if (f->mode_since_ms >= 0) {
        cut_report_time(f->mode_since_ms, since, sizeof(since));
    }
    json_object_set_new(o, "name", json_string(f->name));
    json_object_set_new(o, "status", json_string(cut_flow_status_name(f->status)));
    json_object_set_new(o, "mode", json_string(cut_mode_name(f->mode)));
    json_object_set_new(o, "mode_source", json_string(f->mode_source));
    json_object_set_new(o, "overrides", ov);
    json_object_set_new(o, "in_store", json_boolean(f->in_store));
    json_object_set_new(o, "in_config", json_boolean(f->in_config));
    json_object_set_new(o, "created_at", str_or_null(f->created_at));
    json_object_set_new(o, "status_since", str_or_null(f->status_since));
    json_object_set_new(o, "status_reason", str_or_null(f->status_reason));
    json_object_set_new(o, "modes_since", f->mode_since_ms >= 0 ? json_string(since) : json_null());
    json_object_set_new(o, "window", counts_json(&f->window));
    json_object_set_new(o, "total", counts_json(&f->total));
    figures_json(o, &f->fig, &f->verdict);
    json_object_set_new(o, "last_rollback",
                        f->have_rollback
                            ? json_pack("{s:s, s:s, s:s}", "at", f->rollback_at, "actor",
                                        f->rollback_actor, "reason", f->rollback_reason)
                            : json_null());
    json_object_set_new(o, "ledger_open",
                        json_pack("{s:I, s:I, s:I}", "total",
                                  (json_int_t)(f->ledger_open[0] + f->ledger_open[1]), "legacy",
                                  (json_int_t)f->ledger_open[CUT_SIDE_LEGACY], "kafka",
                                  (json_int_t)f->ledger_open[CUT_SIDE_KAFKA]));
    json_object_set_new(o, "ready_to_complete", json_boolean(f->ready));
    json_object_set_new(o, "ready_reason", json_string(f->ready_why));
    return o;
}

char *cut_report_json(const struct cut_report *rep)
{
    char now[40], from[40];
    cut_report_time(rep->now_ms, now, sizeof(now));
    cut_report_time(rep->from_minute * 1000, from, sizeof(from));
    json_t *flows = json_array();
    for (size_t i = 0; i < rep->n_flows; i++) {
        json_array_append_new(flows, flow_json(&rep->flows[i]));
    }
    json_t *doc =
        json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:f}, s:o}", "version",
                  1, "generated_at", now, "window", "from", from, "to", now, "seconds",
                  (json_int_t)(rep->window_ms / 1000), "summary", "flows", (json_int_t)rep->total,
                  "pending", (json_int_t)rep->by_status[CUT_FLOW_PENDING], "in_progress",
                  (json_int_t)rep->by_status[CUT_FLOW_IN_PROGRESS], "completed",
                  (json_int_t)rep->by_status[CUT_FLOW_COMPLETED], "rolled_back",
                  (json_int_t)rep->by_status[CUT_FLOW_ROLLED_BACK], "completion_pct",
                  rep->completion_pct, "flows", flows);
    char *text =
        doc != NULL
            ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))
            : NULL;
    json_decref(doc);
    return text;
}

char *cut_report_alert_json(const char *bridge, const char *flow, const char *event,
                            const char *action, const char *reason, int64_t at_ms,
                            int64_t window_ms, const struct cut_recon_figures *fig,
                            const struct cut_recon_verdict *v)
{
    char at[40];
    struct cut_tracking_row row = {0};
    cut_report_time(at_ms, at, sizeof(at));
    memcpy(row.counts, fig->counts, sizeof(row.counts));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "event", event, "bridge",
                          bridge ? bridge : "cutover", "flow", flow, "at", at, "actor",
                          "reconciler", "action", action, "reason", reason, "window_seconds",
                          (json_int_t)(window_ms / 1000));
    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "window", counts_json(&row));
    figures_json(o, fig, v);
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    json_decref(o);
    return text;
}
