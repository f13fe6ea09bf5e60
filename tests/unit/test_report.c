/*
 * The progress report (bridge/report.c) on a real store: the migration's
 * summary, each flow's modes, dates, window and total counts, figures and
 * checks, last rollback, ledger and readiness; the JSON document's fields
 * (docs/operations.md documents them: a rename breaks this test on purpose);
 * --flow narrowing; the reconciler's alert body.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "report.h"
#include "store_int.h"
#include "tracking.h"

struct fx {
    char dir[64];
    char path[96];
    struct cut_store *st;
    int64_t now_ms; /* the report's now: ten minutes after the real one */
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct cut_err err;
    struct timespec ts;
    strcpy(fx->dir, "/tmp/cutover_report_XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/state.db", fx->dir);
    if (cut_store_open(&fx->st, fx->path, 0, &err) != CUT_OK) {
        return -1;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    fx->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 10 * 60000 + 500;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char p[128];
    cut_store_close(fx->st);
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", fx->path, suffixes[i]);
        unlink(p);
    }
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void track(struct fx *fx, const char *flow, int minutes_ago, uint64_t seen, uint64_t dual,
                  uint64_t cl, uint64_t ck, uint64_t both, uint64_t fk)
{
    struct cut_err err;
    struct cut_tracking_row r = {.flow = flow,
                                 .minute = fx->now_ms / 60000 * 60 - 60 * minutes_ago};
    r.counts[CUT_TRACK_SEEN] = seen;
    r.counts[CUT_TRACK_DUAL] = dual;
    r.counts[CUT_TRACK_CONFIRMED_LEGACY] = cl;
    r.counts[CUT_TRACK_CONFIRMED_KAFKA] = ck;
    r.counts[CUT_TRACK_CONFIRMED_BOTH] = both;
    r.counts[CUT_TRACK_FAILED_KAFKA] = fk;
    r.lat[CUT_SIDE_LEGACY][cut_lat_bucket(1000)] = cl;
    r.lat[CUT_SIDE_KAFKA][cut_lat_bucket(3000)] = ck;
    assert_int_equal(cut_store_tracking_add(fx->st, &r, 1, &err), CUT_OK);
}

static void ledger(struct fx *fx, const char *flow, enum cut_side side, int n)
{
    struct cut_err err;
    for (int i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "%s-%d", flow, i);
        struct cut_ledger_entry e = {.flow = flow, .side = side, .message_id = id, .reason = "x"};
        assert_int_equal(cut_store_ledger_add_batch(fx->st, &e, 1, &err), CUT_OK);
    }
}

/* a PENDING, b dual-writing, c rolled back by the reconciler, d completed;
 * e only in the config, whose mode says KAFKA_ONLY. */
static void migration(struct fx *fx)
{
    struct cut_err err;
    const char *names[] = {"a"};
    cut_store_flows_register(fx->st, names, 1, &err);
    cut_store_mode_set(fx->st, "b", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "go", &err);
    cut_store_mode_set(fx->st, "b", "invoice", CUT_MODE_JMS_ONLY, NULL, "op", "", &err);
    track(fx, "b", 30, 500, 500, 500, 500, 500, 0); /* before the window */
    track(fx, "b", 3, 600, 600, 600, 596, 596, 4);
    track(fx, "b", 2, 400, 400, 400, 394, 394, 6);
    ledger(fx, "b", CUT_SIDE_KAFKA, 10);
    cut_store_mode_set(fx->st, "c", NULL, CUT_MODE_DUAL_KAFKA_PRIMARY, NULL, "op", "", &err);
    cut_store_flow_rollback(fx->st, "c", "reconciler", "kafka_error_rate 0.2 > 0.05", &err);
    cut_store_mode_set(fx->st, "d", NULL, CUT_MODE_KAFKA_ONLY, NULL, "op", "", &err);
    cut_store_flow_complete(fx->st, "d", "op", "soaked", &err);
}

static const struct cut_recon_flow *config(void)
{
    static struct cut_recon_flow flows[2];
    flows[0] = (struct cut_recon_flow){
        .name = "e", .th = cut_recon_thresholds_default(), .config_mode = CUT_MODE_KAFKA_ONLY};
    flows[1] = (struct cut_recon_flow){
        .name = "b", .th = cut_recon_thresholds_default(), .config_mode = -1};
    return flows;
}

static const struct cut_report_flow *flow_of(const struct cut_report *rep, const char *name)
{
    for (size_t i = 0; i < rep->n_flows; i++) {
        if (strcmp(rep->flows[i].name, name) == 0) {
            return &rep->flows[i];
        }
    }
    fail_msg("no flow %s in the report", name);
    return NULL;
}

static void test_the_summary_counts_every_flow_of_the_migration(void **state)
{
    struct fx *fx = *state;
    struct cut_report rep;
    struct cut_err err;
    migration(fx);
    struct cut_report_options o = {.now_ms = fx->now_ms, .flows = config(), .n_flows = 2};
    assert_int_equal(cut_report_build(fx->st, &o, &rep, &err), CUT_OK);
    assert_int_equal(rep.total, 5);
    assert_int_equal(rep.by_status[CUT_FLOW_PENDING], 2);
    assert_int_equal(rep.by_status[CUT_FLOW_IN_PROGRESS], 1);
    assert_int_equal(rep.by_status[CUT_FLOW_COMPLETED], 1);
    assert_int_equal(rep.by_status[CUT_FLOW_ROLLED_BACK], 1);
    assert_float_equal(rep.completion_pct, 20.0, 1e-12);
    const struct cut_report_flow *e = flow_of(&rep, "e");
    assert_false(e->in_store);
    assert_true(e->in_config);
    assert_int_equal(e->mode, CUT_MODE_KAFKA_ONLY);
    assert_string_equal(e->mode_source, "config");
    assert_string_equal(flow_of(&rep, "a")->mode_source, "built-in");
    cut_report_fini(&rep);
}

static void test_a_flow_shows_its_window_total_figures_and_ledger(void **state)
{
    struct fx *fx = *state;
    struct cut_report rep;
    struct cut_err err;
    migration(fx);
    struct cut_report_options o = {.now_ms = fx->now_ms, .flows = config(), .n_flows = 2};
    assert_int_equal(cut_report_build(fx->st, &o, &rep, &err), CUT_OK);
    const struct cut_report_flow *b = flow_of(&rep, "b");
    assert_int_equal(b->status, CUT_FLOW_IN_PROGRESS);
    assert_int_equal(b->mode, CUT_MODE_DUAL_JMS_PRIMARY);
    assert_string_equal(b->mode_source, "flow");
    assert_int_equal(b->n_overrides, 1);
    assert_string_equal(b->overrides[0].msg_type, "invoice");
    /* The window: minutes -3 and -2; the total adds minute -30. */
    assert_int_equal(b->window.counts[CUT_TRACK_SEEN], 1000);
    assert_int_equal(b->window.counts[CUT_TRACK_CONFIRMED_KAFKA], 990);
    assert_int_equal(b->total.counts[CUT_TRACK_SEEN], 1500);
    assert_int_equal(b->total.counts[CUT_TRACK_CONFIRMED_BOTH], 1490);
    /* 990 of 1000 both: 0.99; 10 of 1000 Kafka writes failed: 1 %. */
    assert_float_equal(b->fig.consistency.value, 0.99, 1e-12);
    assert_float_equal(b->fig.error[CUT_SIDE_KAFKA].value, 0.01, 1e-12);
    assert_true(b->fig.loss.known);
    assert_int_equal(b->fig.lost, 0);
    assert_int_equal(b->verdict.state[CUT_RECON_CONSISTENCY], CUT_RECON_OK);
    assert_int_equal(b->verdict.state[CUT_RECON_KAFKA_ERRORS], CUT_RECON_OK);
    assert_float_equal(b->fig.p99_us[CUT_SIDE_KAFKA], 2048 + 1024 * 0.99, 1e-9);
    assert_int_equal(b->ledger_open[CUT_SIDE_KAFKA], 10);
    assert_int_equal(b->ledger_open[CUT_SIDE_LEGACY], 0);
    assert_false(b->have_rollback);
    assert_false(b->ready);
    assert_string_equal(b->ready_why, "mode is DUAL_WRITE_JMS_PRIMARY, not KAFKA_ONLY");

    const struct cut_report_flow *c = flow_of(&rep, "c");
    assert_int_equal(c->status, CUT_FLOW_ROLLED_BACK);
    assert_true(c->have_rollback);
    assert_string_equal(c->rollback_actor, "reconciler");
    assert_string_equal(c->rollback_reason, "kafka_error_rate 0.2 > 0.05");
    assert_string_equal(flow_of(&rep, "d")->ready_why, "already COMPLETED");
    cut_report_fini(&rep);

    /* A one-minute window sees minute -1 and now only: nothing. */
    o.window_ms = 60000;
    assert_int_equal(cut_report_build(fx->st, &o, &rep, &err), CUT_OK);
    b = flow_of(&rep, "b");
    assert_int_equal(b->window.counts[CUT_TRACK_SEEN], 0);
    assert_false(b->fig.consistency.known);
    assert_int_equal(b->total.counts[CUT_TRACK_SEEN], 1500);
    cut_report_fini(&rep);
}

static void test_a_flow_is_ready_after_its_soak_in_kafka_only_with_nothing_failing(void **state)
{
    struct fx *fx = *state;
    struct cut_report rep;
    struct cut_err err;
    struct cut_recon_flow flows[1] = {
        {.name = "k", .th = cut_recon_thresholds_default(), .config_mode = -1},
    };
    struct cut_report_options o = {.now_ms = fx->now_ms, .flows = flows, .n_flows = 1};
    cut_store_mode_set(fx->st, "k", NULL, CUT_MODE_KAFKA_ONLY, NULL, "op", "", &err);
    track(fx, "k", 2, 100, 0, 0, 100, 0, 0);

    /* A 1 h soak: ten minutes are not enough. */
    assert_int_equal(cut_report_build(fx->st, &o, &rep, &err), CUT_OK);
    assert_false(rep.flows[0].ready);
    assert_string_equal(rep.flows[0].ready_why, "in KAFKA_ONLY for 10 min of the 1 h 00 min soak");
    cut_report_fini(&rep);

    /* A 5 min soak: ready. */
    flows[0].th.soak_ms = 5 * 60000;
    assert_int_equal(cut_report_build(fx->st, &o, &rep, &err), CUT_OK);
    assert_true(rep.flows[0].ready);
    assert_string_equal(rep.flows[0].ready_why, "in KAFKA_ONLY for 10 min with nothing failing");
    cut_report_fini(&rep);

    /* A failed Kafka write during the soak: not ready. */
    track(fx, "k", 1, 10, 0, 0, 9, 0, 1);
    assert_int_equal(cut_report_build(fx->st, &o, &rep, &err), CUT_OK);
    assert_false(rep.flows[0].ready);
    assert_string_equal(rep.flows[0].ready_why, "1 Kafka writes failed during the soak");
    cut_report_fini(&rep);

    /* An override not in KAFKA_ONLY: not ready whatever the soak. */
    cut_store_mode_set(fx->st, "k", "invoice", CUT_MODE_DUAL_KAFKA_PRIMARY, NULL, "op", "", &err);
    assert_int_equal(cut_report_build(fx->st, &o, &rep, &err), CUT_OK);
    assert_string_equal(rep.flows[0].ready_why,
                        "type invoice is in DUAL_WRITE_KAFKA_PRIMARY, not KAFKA_ONLY");
    cut_report_fini(&rep);
}

static void test_the_json_document_has_the_documented_fields(void **state)
{
    struct fx *fx = *state;
    struct cut_report rep;
    struct cut_err err;
    json_error_t jerr;
    migration(fx);
    struct cut_report_options o = {.now_ms = fx->now_ms, .flows = config(), .n_flows = 2};
    assert_int_equal(cut_report_build(fx->st, &o, &rep, &err), CUT_OK);
    char *text = cut_report_json(&rep);
    assert_non_null(text);
    json_t *doc = json_loads(text, 0, &jerr);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "version")), 1);
    assert_true(json_is_string(json_object_get(doc, "generated_at")));
    json_t *win = json_object_get(doc, "window");
    assert_int_equal(json_integer_value(json_object_get(win, "seconds")), 300);
    assert_true(json_is_string(json_object_get(win, "from")));
    assert_true(json_is_string(json_object_get(win, "to")));
    json_t *sum = json_object_get(doc, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "flows")), 5);
    assert_int_equal(json_integer_value(json_object_get(sum, "pending")), 2);
    assert_int_equal(json_integer_value(json_object_get(sum, "in_progress")), 1);
    assert_int_equal(json_integer_value(json_object_get(sum, "completed")), 1);
    assert_int_equal(json_integer_value(json_object_get(sum, "rolled_back")), 1);
    assert_float_equal(json_real_value(json_object_get(sum, "completion_pct")), 20.0, 1e-9);

    json_t *flows = json_object_get(doc, "flows");
    assert_int_equal(json_array_size(flows), 5);
    json_t *b = NULL, *c = NULL;
    for (size_t i = 0; i < json_array_size(flows); i++) {
        const char *name = json_string_value(json_object_get(json_array_get(flows, i), "name"));
        b = strcmp(name, "b") == 0 ? json_array_get(flows, i) : b;
        c = strcmp(name, "c") == 0 ? json_array_get(flows, i) : c;
    }
    assert_non_null(b);
    static const char *const keys[] = {
        "name",
        "status",
        "mode",
        "mode_source",
        "overrides",
        "in_store",
        "in_config",
        "created_at",
        "status_since",
        "status_reason",
        "modes_since",
        "window",
        "total",
        "consistency",
        "loss_rate",
        "lost",
        "readback_loss_rate",
        "error_rate",
        "latency_ms",
        "latency_ratio",
        "checks",
        "last_rollback",
        "ledger_open",
        "ready_to_complete",
        "ready_reason",
        NULL,
    };
    for (int i = 0; keys[i] != NULL; i++) {
        if (json_object_get(b, keys[i]) == NULL) {
            fail_msg("flow field %s missing", keys[i]);
        }
    }
    assert_int_equal(json_object_size(b), 25);
    assert_string_equal(json_string_value(json_object_get(b, "mode")), "DUAL_WRITE_JMS_PRIMARY");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(b, "overrides"), "invoice")), "JMS_ONLY");
    json_t *w = json_object_get(b, "window");
    assert_int_equal(json_integer_value(json_object_get(w, "seen")), 1000);
    assert_int_equal(json_integer_value(json_object_get(w, "confirmed_both")), 990);
    assert_int_equal(json_integer_value(json_object_get(w, "failed_kafka")), 10);
    assert_int_equal(json_object_size(w), CUT_TRACK_COUNT);
    assert_float_equal(json_real_value(json_object_get(b, "consistency")), 0.99, 1e-12);
    assert_true(json_is_null(json_object_get(b, "readback_loss_rate")));
    assert_float_equal(json_real_value(json_object_get(json_object_get(b, "error_rate"), "kafka")),
                       0.01, 1e-12);
    json_t *lat = json_object_get(json_object_get(b, "latency_ms"), "kafka");
    assert_int_equal(json_integer_value(json_object_get(lat, "samples")), 990);
    assert_true(json_is_real(json_object_get(lat, "p50")));
    assert_true(json_is_real(json_object_get(lat, "p99")));
    json_t *checks = json_object_get(b, "checks");
    assert_int_equal(json_array_size(checks), CUT_RECON_CHECKS);
    json_t *k0 = json_array_get(checks, 0);
    assert_string_equal(json_string_value(json_object_get(k0, "check")), "kafka_error_rate");
    assert_string_equal(json_string_value(json_object_get(k0, "state")), "ok");
    assert_int_equal(json_integer_value(json_object_get(k0, "sample")), 1000);
    assert_int_equal(json_integer_value(json_object_get(k0, "min_sample")), 100);
    assert_true(json_is_true(json_object_get(k0, "rolls_back")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(b, "ledger_open"), "kafka")), 10);
    assert_true(json_is_null(json_object_get(b, "last_rollback")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(c, "last_rollback"), "actor")),
        "reconciler");
    json_decref(doc);
    free(text);
    cut_report_fini(&rep);
}

static void test_flow_narrows_the_flows_but_not_the_summary(void **state)
{
    struct fx *fx = *state;
    struct cut_report rep;
    struct cut_err err;
    migration(fx);
    struct cut_report_options o = {.now_ms = fx->now_ms, .flow = "c"};
    assert_int_equal(cut_report_build(fx->st, &o, &rep, &err), CUT_OK);
    assert_int_equal(rep.n_flows, 1);
    assert_string_equal(rep.flows[0].name, "c");
    assert_int_equal(rep.total, 4); /* without the config, e is unknown */
    cut_report_fini(&rep);
    o.flow = "nosuch";
    assert_int_equal(cut_report_build(fx->st, &o, &rep, &err), CUT_EINVAL);
    assert_string_equal(err.msg, "unknown flow nosuch");
    cut_report_fini(&rep);
}

static void test_the_text_report_says_it_for_people(void **state)
{
    struct fx *fx = *state;
    struct cut_report rep;
    struct cut_err err;
    char *buf = NULL;
    size_t len = 0;
    migration(fx);
    struct cut_report_options o = {.now_ms = fx->now_ms, .flows = config(), .n_flows = 2};
    assert_int_equal(cut_report_build(fx->st, &o, &rep, &err), CUT_OK);
    FILE *out = open_memstream(&buf, &len);
    cut_report_print(&rep, out);
    fclose(out);
    assert_non_null(strstr(buf, "flows 5: pending 2, in progress 1, completed 1, rolled back 1; "
                                "20.0 % complete\n"));
    assert_non_null(strstr(buf, "\nb  IN_PROGRESS  DUAL_WRITE_JMS_PRIMARY (flow)\n"));
    assert_non_null(strstr(buf, "  messages, window  seen 1000  legacy 1000  kafka 990  both 990  "
                                "failed legacy 0 kafka 10\n"));
    assert_non_null(strstr(buf, "  consistency       0.9900  loss 0.00 %  errors legacy 0.00 % "
                                "kafka 1.00 %\n"));
    assert_non_null(strstr(buf, "by reconciler: kafka_error_rate 0.2 > 0.05\n"));
    assert_non_null(strstr(buf, "  repair ledger     10 open (kafka 10, legacy 0)\n"));
    assert_non_null(strstr(buf, "\ne  PENDING  KAFKA_ONLY (config)  [not in the store yet]\n"));
    free(buf);
    cut_report_fini(&rep);
}

static void test_an_empty_store_reports_no_flow(void **state)
{
    struct fx *fx = *state;
    struct cut_report rep;
    struct cut_err err;
    assert_int_equal(cut_report_build(fx->st, NULL, &rep, &err), CUT_OK);
    assert_int_equal(rep.total, 0);
    assert_float_equal(rep.completion_pct, 0.0, 0);
    char *text = cut_report_json(&rep);
    assert_non_null(strstr(text, "\"flows\": []"));
    free(text);
    cut_report_fini(&rep);
}

static void test_the_alert_body_carries_event_reason_and_figures(void **state)
{
    (void)state;
    struct cut_tracking_row w = {.flow = "orders"};
    struct cut_recon_input in = {.window = &w};
    struct cut_recon_thresholds th = cut_recon_thresholds_default();
    struct cut_recon_figures fig;
    struct cut_recon_verdict v;
    json_error_t jerr;
    w.counts[CUT_TRACK_SEEN] = w.counts[CUT_TRACK_DUAL] = 200;
    w.counts[CUT_TRACK_CONFIRMED_LEGACY] = 200;
    w.counts[CUT_TRACK_FAILED_KAFKA] = 200;
    cut_recon_compute(&in, &fig);
    cut_recon_judge(&fig, &th, &v);
    char *text =
        cut_report_alert_json("br", "orders", "rollback", "rolled back to JMS_ONLY",
                              "kafka_error_rate 1.0000 > 0.0500", 1700000000123, 300000, &fig, &v);
    json_t *doc = json_loads(text, 0, &jerr);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "event")), "rollback");
    assert_string_equal(json_string_value(json_object_get(doc, "bridge")), "br");
    assert_string_equal(json_string_value(json_object_get(doc, "flow")), "orders");
    assert_string_equal(json_string_value(json_object_get(doc, "at")), "2023-11-14T22:13:20.123Z");
    assert_string_equal(json_string_value(json_object_get(doc, "actor")), "reconciler");
    assert_int_equal(json_integer_value(json_object_get(doc, "window_seconds")), 300);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(doc, "window"), "failed_kafka")), 200);
    assert_float_equal(
        json_real_value(json_object_get(json_object_get(doc, "error_rate"), "kafka")), 1.0, 0);
    json_t *k0 = json_array_get(json_object_get(doc, "checks"), 0);
    assert_string_equal(json_string_value(json_object_get(k0, "state")), "breach");
    json_decref(doc);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_the_summary_counts_every_flow_of_the_migration, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_flow_shows_its_window_total_figures_and_ledger,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_flow_is_ready_after_its_soak_in_kafka_only_with_nothing_failing, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_the_json_document_has_the_documented_fields, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_flow_narrows_the_flows_but_not_the_summary, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_the_text_report_says_it_for_people, setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_empty_store_reports_no_flow, setup, teardown),
        cmocka_unit_test(test_the_alert_body_carries_event_reason_and_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
