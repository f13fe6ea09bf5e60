/*
 * The state store (bridge/store*.c) on a real SQLite file in a temporary
 * directory: durability settings per handle, a change and its audit record
 * in one transaction (proved by making the second write fail), flow status
 * transitions, change detection across handles, the watcher, the repair
 * ledger and the tracking upsert.
 */
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

#include "store_int.h"

/* ---- fixture: a fresh database file per test ------------------------------- */

struct fx {
    char dir[64];
    char path[96];
    struct cut_store *st;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    struct cut_err err;
    strcpy(fx->dir, "/tmp/cutover_store_XXXXXX");
    if (fx == NULL || mkdtemp(fx->dir) == NULL) {
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/state.db", fx->dir);
    if (cut_store_open(&fx->st, fx->path, 0, &err) != CUT_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        return -1;
    }
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

/* Run SQL on a connection of its own, as another process would. */
static void raw_exec(const struct fx *fx, const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fail_msg("%s: %s", sql, msg);
    }
    sqlite3_close(db);
}

static int64_t raw_int(struct cut_store *st, const char *sql)
{
    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    return v;
}

static enum cut_flow_status status_of(struct cut_store *st, const char *flow);

/* ---- durability ------------------------------------------------------------ */

static void test_open_creates_a_wal_database_at_the_latest_version(void **state)
{
    struct fx *fx = *state;
    struct cut_store *tr;
    struct cut_err err;
    size_t n;
    int version;
    const struct cut_store_migration *m = cut_store_migrations(&n);

    assert_true(n >= 2);
    assert_int_equal(cut_store_schema_version(fx->st, &version, &err), CUT_OK);
    assert_int_equal(version, m[n - 1].version);

    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(fx->st->db, "PRAGMA journal_mode", -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
    sqlite3_finalize(stmt);
    /* Control data: FULL (2); the tracking handle: NORMAL (1). */
    assert_int_equal(raw_int(fx->st, "PRAGMA synchronous"), 2);
    assert_int_equal(cut_store_open(&tr, fx->path, CUT_STORE_TRACKING, &err), CUT_OK);
    assert_int_equal(raw_int(tr, "PRAGMA synchronous"), 1);
    assert_int_equal(raw_int(fx->st, "PRAGMA synchronous"), 2);
    cut_store_close(tr);
}

static void test_open_of_an_unreachable_path_fails_with_the_path(void **state)
{
    (void)state;
    struct cut_store *st = (struct cut_store *)1;
    struct cut_err err;
    assert_int_equal(cut_store_open(&st, "/nonexistent-dir/x/state.db", 0, &err), CUT_EFATAL);
    assert_null(st);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x/state.db"));
}

/* ---- modes, audit, status ------------------------------------------------- */

struct audit_log {
    size_t n;
    char lines[32][160];
};

static int collect_audit(void *opaque, const struct cut_audit_record *rec)
{
    struct audit_log *log = opaque;
    if (log->n < 32) {
        snprintf(log->lines[log->n++], sizeof(log->lines[0]), "%s %s%s%s %s->%s by %s: %s",
                 rec->what, rec->flow ? rec->flow : "*", rec->msg_type ? "/" : "",
                 rec->msg_type ? rec->msg_type : "", rec->from ? rec->from : "-",
                 rec->to ? rec->to : "-", rec->actor, rec->reason);
    }
    return 0;
}

static struct audit_log audit_of(struct cut_store *st, const char *flow)
{
    struct audit_log log = {0};
    struct cut_err err;
    assert_int_equal(cut_store_audit_list(st, flow, collect_audit, &log, &err), CUT_OK);
    return log;
}

static int get_status(void *opaque, const struct cut_flow_info *flow)
{
    *(enum cut_flow_status *)opaque = flow->status;
    return 0;
}

static enum cut_flow_status status_of(struct cut_store *st, const char *flow)
{
    enum cut_flow_status status = (enum cut_flow_status) - 1;
    struct cut_err err;
    assert_int_equal(cut_store_flows_list(st, flow, get_status, &status, &err), CUT_OK);
    return status;
}

static enum cut_mode mode_of(struct cut_store *st, const char *flow, const char *type)
{
    struct cut_mode_table t;
    struct cut_err err;
    assert_int_equal(cut_store_modes_load(st, &t, &err), CUT_OK);
    enum cut_mode m = cut_mode_resolve(&t, flow, type);
    cut_mode_table_fini(&t);
    return m;
}

static void test_mode_change_writes_mode_audit_and_status_together(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;

    assert_int_equal(cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL,
                                        "alice", "start dual write", &err),
                     CUT_OK);
    assert_int_equal(mode_of(fx->st, "orders", NULL), CUT_MODE_DUAL_JMS_PRIMARY);
    assert_int_equal(status_of(fx->st, "orders"), CUT_FLOW_IN_PROGRESS);
    struct audit_log log = audit_of(fx->st, "orders");
    assert_int_equal(log.n, 2);
    assert_string_equal(log.lines[0], "mode orders -"
                                      "->DUAL_WRITE_JMS_PRIMARY by alice: start dual write");
    assert_string_equal(log.lines[1],
                        "status orders PENDING->IN_PROGRESS by alice: start dual write");
}

static void test_a_failed_audit_write_leaves_the_mode_unchanged(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    const char *names[] = {"orders"};

    assert_int_equal(cut_store_flows_register(fx->st, names, 1, &err), CUT_OK);
    raw_exec(fx, "CREATE TRIGGER no_audit BEFORE INSERT ON audit "
                 "BEGIN SELECT RAISE(ABORT, 'audit is full'); END");
    assert_int_not_equal(cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL,
                                            "alice", "", &err),
                         CUT_OK);
    assert_non_null(strstr(err.msg, "audit is full"));
    assert_int_equal(mode_of(fx->st, "orders", NULL), CUT_MODE_JMS_ONLY);
    assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM modes"), 0);
    assert_int_equal(status_of(fx->st, "orders"), CUT_FLOW_PENDING);

    /* And the other way round: a failed mode write leaves no audit record. */
    raw_exec(fx, "DROP TRIGGER no_audit; CREATE TRIGGER no_status BEFORE UPDATE ON flows "
                 "BEGIN SELECT RAISE(ABORT, 'status refused'); END");
    assert_int_not_equal(cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL,
                                            "alice", "", &err),
                         CUT_OK);
    assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM audit"), 0);
    assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM modes"), 0);
}

static void test_setting_the_same_mode_again_writes_nothing(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    assert_int_equal(cut_store_mode_set(fx->st, "orders", "invoice", CUT_MODE_DUAL_JMS_PRIMARY,
                                        NULL, "bob", "", &err),
                     CUT_OK);
    int64_t before = raw_int(fx->st, "SELECT count(*) FROM audit");
    assert_int_equal(cut_store_mode_set(fx->st, "orders", "invoice", CUT_MODE_DUAL_JMS_PRIMARY,
                                        NULL, "bob", "", &err),
                     CUT_OK);
    assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM audit"), before);
}

static void test_a_stale_expected_mode_is_refused_as_retry(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    enum cut_mode expect = CUT_MODE_JMS_ONLY;
    assert_int_equal(cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, &expect,
                                        "a", "", &err),
                     CUT_OK);
    /* b decided on JMS_ONLY too, but a was faster. */
    assert_int_equal(cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_KAFKA_PRIMARY,
                                        &expect, "b", "", &err),
                     CUT_ERETRY);
    assert_non_null(strstr(err.msg, "DUAL_WRITE_JMS_PRIMARY"));
    assert_int_equal(mode_of(fx->st, "orders", NULL), CUT_MODE_DUAL_JMS_PRIMARY);
}

static void test_status_follows_the_migration_and_completion_needs_kafka_only(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    const char *names[] = {"orders", "payments"};

    assert_int_equal(cut_store_flows_register(fx->st, names, 2, &err), CUT_OK);
    assert_int_equal(status_of(fx->st, "orders"), CUT_FLOW_PENDING);
    /* Staying in JMS_ONLY is no progress. */
    assert_int_equal(
        cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_JMS_ONLY, NULL, "op", "", &err),
        CUT_OK);
    assert_int_equal(status_of(fx->st, "orders"), CUT_FLOW_PENDING);
    assert_int_equal(cut_store_flow_complete(fx->st, "orders", "op", "", &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "PENDING"));
    /* A message-type override leaving JMS_ONLY is progress. */
    assert_int_equal(cut_store_mode_set(fx->st, "orders", "invoice", CUT_MODE_DUAL_JMS_PRIMARY,
                                        NULL, "op", "", &err),
                     CUT_OK);
    assert_int_equal(status_of(fx->st, "orders"), CUT_FLOW_IN_PROGRESS);
    assert_int_equal(
        cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_KAFKA_ONLY, NULL, "op", "", &err),
        CUT_OK);
    /* The invoice override still writes to JMS: not complete. */
    assert_int_equal(cut_store_flow_complete(fx->st, "orders", "op", "", &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "override"));
    assert_int_equal(
        cut_store_mode_set(fx->st, "orders", "invoice", CUT_MODE_KAFKA_ONLY, NULL, "op", "", &err),
        CUT_OK);
    assert_int_equal(cut_store_flow_complete(fx->st, "orders", "op", "soaked a week", &err),
                     CUT_OK);
    assert_int_equal(status_of(fx->st, "orders"), CUT_FLOW_COMPLETED);
    assert_int_equal(cut_store_flow_complete(fx->st, "orders", "op", "", &err), CUT_OK);
    /* Moving back reopens it. */
    assert_int_equal(cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_KAFKA_PRIMARY, NULL,
                                        "op", "", &err),
                     CUT_OK);
    assert_int_equal(status_of(fx->st, "orders"), CUT_FLOW_IN_PROGRESS);
    assert_int_equal(status_of(fx->st, "payments"), CUT_FLOW_PENDING);
    assert_int_equal(cut_store_flow_complete(fx->st, "nosuch", "op", "", &err), CUT_EINVAL);
}

static void test_rollback_pins_every_mode_to_jms_only_in_one_transaction(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;

    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_KAFKA_PRIMARY, NULL, "op", "", &err);
    cut_store_mode_set(fx->st, "orders", "invoice", CUT_MODE_KAFKA_ONLY, NULL, "op", "", &err);
    cut_store_mode_set(fx->st, "payments", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err);
    /* "fresh" keeps its own JMS_ONLY: it never leaves, whatever the default. */
    cut_store_mode_set(fx->st, "fresh", NULL, CUT_MODE_JMS_ONLY, NULL, "op", "", &err);
    int64_t before = raw_int(fx->st, "SELECT max(id) FROM audit");

    assert_int_equal(
        cut_store_flow_rollback(fx->st, "orders", "reconciler", "kafka error rate 7% > 5%", &err),
        CUT_OK);
    assert_int_equal(mode_of(fx->st, "orders", NULL), CUT_MODE_JMS_ONLY);
    assert_int_equal(mode_of(fx->st, "orders", "invoice"), CUT_MODE_JMS_ONLY);
    assert_int_equal(mode_of(fx->st, "payments", NULL), CUT_MODE_DUAL_JMS_PRIMARY);
    assert_int_equal(status_of(fx->st, "orders"), CUT_FLOW_ROLLED_BACK);
    struct audit_log log = audit_of(fx->st, "orders");
    assert_int_equal(raw_int(fx->st, "SELECT max(id) FROM audit") - before, 3);
    assert_string_equal(log.lines[log.n - 3], "rollback orders DUAL_WRITE_KAFKA_PRIMARY->JMS_ONLY "
                                              "by reconciler: kafka error rate 7% > 5%");
    assert_string_equal(log.lines[log.n - 2], "rollback orders/invoice KAFKA_ONLY->JMS_ONLY by "
                                              "reconciler: kafka error rate 7% > 5%");
    assert_string_equal(log.lines[log.n - 1], "status orders IN_PROGRESS->ROLLED_BACK by "
                                              "reconciler: kafka error rate 7% > 5%");

    /* A rolled-back flow is pinned: a new default does not move it ... */
    assert_int_equal(cut_store_default_set(fx->st, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err),
                     CUT_OK);
    assert_int_equal(mode_of(fx->st, "orders", NULL), CUT_MODE_JMS_ONLY);
    assert_int_equal(status_of(fx->st, "orders"), CUT_FLOW_ROLLED_BACK);
    /* ... and moving it forward again puts it back in progress. */
    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err);
    assert_int_equal(status_of(fx->st, "orders"), CUT_FLOW_IN_PROGRESS);

    assert_int_equal(cut_store_flow_rollback(fx->st, "fresh", "op", "", &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "PENDING"));
    assert_int_equal(cut_store_flow_rollback(fx->st, "nosuch", "op", "", &err), CUT_EINVAL);
}

static void test_default_moves_inheriting_flows_and_is_audited(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    enum cut_mode def;
    bool set;
    const char *names[] = {"a", "b"};

    cut_store_flows_register(fx->st, names, 2, &err);
    cut_store_mode_set(fx->st, "b", NULL, CUT_MODE_JMS_ONLY, NULL, "op", "", &err);
    assert_int_equal(cut_store_default_get(fx->st, &def, &set, &err), CUT_OK);
    assert_false(set);
    assert_int_equal(cut_store_default_set(fx->st, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op",
                                           "all flows to dual", &err),
                     CUT_OK);
    assert_int_equal(cut_store_default_get(fx->st, &def, &set, &err), CUT_OK);
    assert_true(set);
    assert_int_equal(def, CUT_MODE_DUAL_JMS_PRIMARY);
    assert_int_equal(status_of(fx->st, "a"), CUT_FLOW_IN_PROGRESS);
    assert_int_equal(status_of(fx->st, "b"), CUT_FLOW_PENDING); /* has its own JMS_ONLY */
    struct audit_log log = audit_of(fx->st, NULL);
    assert_string_equal(log.lines[1], "default * -"
                                      "->DUAL_WRITE_JMS_PRIMARY by op: all flows to dual");
    /* A flow that appears under that default is in progress from the start. */
    const char *late[] = {"c"};
    assert_int_equal(cut_store_flows_register(fx->st, late, 1, &err), CUT_OK);
    assert_int_equal(status_of(fx->st, "c"), CUT_FLOW_IN_PROGRESS);
    log = audit_of(fx->st, "c");
    assert_int_equal(log.n, 1);
    assert_string_equal(log.lines[0], "status c PENDING->IN_PROGRESS by cutover: new flow under "
                                      "the default DUAL_WRITE_JMS_PRIMARY");
    enum cut_mode stale = CUT_MODE_JMS_ONLY;
    assert_int_equal(cut_store_default_set(fx->st, CUT_MODE_KAFKA_ONLY, &stale, "op", "", &err),
                     CUT_ERETRY);
}

static void test_clearing_an_override_makes_the_type_inherit(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err);
    cut_store_mode_set(fx->st, "orders", "invoice", CUT_MODE_DUAL_KAFKA_PRIMARY, NULL, "op", "",
                       &err);
    assert_int_equal(cut_store_mode_clear(fx->st, "orders", "invoice", "op", "done", &err), CUT_OK);
    assert_int_equal(mode_of(fx->st, "orders", "invoice"), CUT_MODE_DUAL_JMS_PRIMARY);
    struct audit_log log = audit_of(fx->st, "orders");
    assert_string_equal(log.lines[log.n - 1],
                        "mode orders/invoice DUAL_WRITE_KAFKA_PRIMARY->- by op: done");
    int64_t n = raw_int(fx->st, "SELECT count(*) FROM audit");
    assert_int_equal(cut_store_mode_clear(fx->st, "orders", "invoice", "op", "", &err), CUT_OK);
    assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM audit"), n);
}

static void test_bad_names_are_refused(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    char long_name[300];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(
        cut_store_mode_set(fx->st, "", NULL, CUT_MODE_KAFKA_ONLY, NULL, "op", "", &err),
        CUT_EINVAL);
    assert_int_equal(
        cut_store_mode_set(fx->st, long_name, NULL, CUT_MODE_KAFKA_ONLY, NULL, "op", "", &err),
        CUT_EINVAL);
    assert_int_equal(cut_store_mode_set(fx->st, "f", NULL, (enum cut_mode)7, NULL, "op", "", &err),
                     CUT_EINVAL);
}

/* ---- change detection and the watcher -------------------------------------- */

static void test_changed_sees_commits_of_other_handles_only(void **state)
{
    struct fx *fx = *state;
    struct cut_store *other;
    struct cut_err err;
    bool changed = true;

    assert_int_equal(cut_store_open(&other, fx->path, 0, &err), CUT_OK);
    assert_int_equal(cut_store_changed(fx->st, &changed, &err), CUT_OK);
    assert_false(changed);
    cut_store_mode_set(other, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err);
    assert_int_equal(cut_store_changed(fx->st, &changed, &err), CUT_OK);
    assert_true(changed);
    assert_int_equal(cut_store_changed(fx->st, &changed, &err), CUT_OK);
    assert_false(changed);
    /* Its own commits are not news to a handle. */
    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_JMS_ONLY, NULL, "op", "", &err);
    assert_int_equal(cut_store_changed(fx->st, &changed, &err), CUT_OK);
    assert_false(changed);
    cut_store_close(other);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_watcher_brings_a_mode_change_to_the_board_within_a_second(void **state)
{
    struct fx *fx = *state;
    struct cut_mode_board *board;
    struct cut_store_watch *w;
    struct cut_err err;
    uint64_t gen;

    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_JMS_PRIMARY, NULL, "op", "", &err);
    assert_int_equal(cut_mode_board_create(&board), CUT_OK);
    assert_int_equal(cut_store_watch_start(&w, fx->path, board, 50, &err), CUT_OK);
    /* Published before start returns. */
    const struct cut_mode_table *t = cut_mode_board_acquire(board, &gen);
    assert_int_equal(cut_mode_resolve(t, "orders", NULL), CUT_MODE_DUAL_JMS_PRIMARY);
    cut_mode_board_release(board, t);

    int64_t start = mono_ms();
    cut_store_mode_set(fx->st, "orders", NULL, CUT_MODE_DUAL_KAFKA_PRIMARY, NULL, "op", "", &err);
    while (cut_mode_board_generation(board) == gen && mono_ms() - start < 1000) {
        struct timespec pause = {0, 5000000};
        nanosleep(&pause, NULL);
    }
    assert_true(cut_mode_board_generation(board) != gen);
    t = cut_mode_board_acquire(board, NULL);
    assert_int_equal(cut_mode_resolve(t, "orders", NULL), CUT_MODE_DUAL_KAFKA_PRIMARY);
    cut_mode_board_release(board, t);
    cut_store_watch_stop(w);
    cut_store_watch_stop(NULL);
    cut_mode_board_destroy(board);
}

/* ---- the repair ledger ----------------------------------------------------- */

struct ledger_seen {
    size_t n;
    int64_t ids[16];
    char payload[16][16];
    size_t payload_len[16];
    int64_t attempts[16];
    bool repaired[16];
};

static int collect_ledger(void *opaque, const struct cut_ledger_entry *e)
{
    struct ledger_seen *seen = opaque;
    seen->ids[seen->n] = e->id;
    seen->payload_len[seen->n] = e->payload_len;
    memcpy(seen->payload[seen->n], e->payload, e->payload_len < 16 ? e->payload_len : 16);
    seen->attempts[seen->n] = e->attempts;
    seen->repaired[seen->n] = e->repaired_at != NULL;
    seen->n++;
    return 0;
}

static void test_ledger_add_list_attempt_and_repair(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    static const char body[] = {'a', 0, 'b', (char)0xff};
    static const char hdrs[] = "{\"topic\":\"orders\",\"key\":\"MTI=\",\"headers\":{}}";
    struct cut_ledger_entry entries[3] = {
        {.flow = "orders",
         .side = CUT_SIDE_KAFKA,
         .message_id = "ID:1",
         .reason = "timed out",
         .payload = body,
         .payload_len = sizeof(body),
         .headers = hdrs,
         .headers_len = sizeof(hdrs) - 1},
        {.flow = "orders", .side = CUT_SIDE_KAFKA, .message_id = "ID:2", .reason = "timed out"},
        {.flow = "payments", .side = CUT_SIDE_LEGACY, .message_id = "ID:3", .reason = "406"},
    };
    uint64_t open;
    enum cut_side kafka = CUT_SIDE_KAFKA;

    assert_int_equal(cut_store_ledger_add_batch(fx->st, entries, 3, &err), CUT_OK);
    assert_int_equal(cut_store_ledger_count(fx->st, NULL, NULL, &open, &err), CUT_OK);
    assert_int_equal(open, 3);
    assert_int_equal(cut_store_ledger_count(fx->st, "orders", &kafka, &open, &err), CUT_OK);
    assert_int_equal(open, 2);

    struct ledger_seen seen = {0};
    struct cut_ledger_query q = {.flow = "orders", .side = &kafka};
    assert_int_equal(cut_store_ledger_list(fx->st, &q, collect_ledger, &seen, &err), CUT_OK);
    assert_int_equal(seen.n, 2);
    assert_int_equal(seen.payload_len[0], sizeof(body));
    assert_memory_equal(seen.payload[0], body, sizeof(body));
    assert_int_equal(seen.payload_len[1], 0);

    assert_int_equal(cut_store_ledger_attempt(fx->st, seen.ids[0], &err), CUT_OK);
    assert_int_equal(cut_store_ledger_mark_repaired(fx->st, seen.ids[0], &err), CUT_OK);
    assert_int_equal(cut_store_ledger_mark_repaired(fx->st, seen.ids[0], &err), CUT_EINVAL);
    assert_int_equal(cut_store_ledger_attempt(fx->st, 999, &err), CUT_EINVAL);
    assert_int_equal(cut_store_ledger_count(fx->st, "orders", NULL, &open, &err), CUT_OK);
    assert_int_equal(open, 1);

    struct ledger_seen all = {0};
    q = (struct cut_ledger_query){.include_repaired = true, .limit = 2};
    assert_int_equal(cut_store_ledger_list(fx->st, &q, collect_ledger, &all, &err), CUT_OK);
    assert_int_equal(all.n, 2);
    assert_true(all.repaired[0]);
    assert_int_equal(all.attempts[0], 1);
    struct ledger_seen rest = {0};
    q = (struct cut_ledger_query){.after_id = all.ids[1]};
    assert_int_equal(cut_store_ledger_list(fx->st, &q, collect_ledger, &rest, &err), CUT_OK);
    assert_int_equal(rest.n, 1);
    struct ledger_seen open_only = {0};
    assert_int_equal(cut_store_ledger_list(fx->st, NULL, collect_ledger, &open_only, &err), CUT_OK);
    assert_int_equal(open_only.n, 2);
}

static void test_ledger_batch_is_all_or_nothing_and_needs_a_control_handle(void **state)
{
    struct fx *fx = *state;
    struct cut_store *tr;
    struct cut_err err;
    uint64_t open;
    struct cut_ledger_entry ok = {.flow = "f", .side = CUT_SIDE_KAFKA, .message_id = "1"};
    struct cut_ledger_entry batch[2] = {ok, {.flow = "f", .side = CUT_SIDE_KAFKA}};

    assert_int_equal(cut_store_ledger_add_batch(fx->st, batch, 2, &err), CUT_EINVAL);
    raw_exec(fx, "CREATE TRIGGER second_fails BEFORE INSERT ON ledger WHEN new.message_id = '2' "
                 "BEGIN SELECT RAISE(ABORT, 'disk said no'); END");
    batch[1].message_id = "2";
    assert_int_not_equal(cut_store_ledger_add_batch(fx->st, batch, 2, &err), CUT_OK);
    assert_int_equal(cut_store_ledger_count(fx->st, NULL, NULL, &open, &err), CUT_OK);
    assert_int_equal(open, 0);

    assert_int_equal(cut_store_open(&tr, fx->path, CUT_STORE_TRACKING, &err), CUT_OK);
    assert_int_equal(cut_store_ledger_add_batch(tr, &ok, 1, &err), CUT_EINVAL);
    cut_store_close(tr);
}

/* ---- tracking rows --------------------------------------------------------- */

static void test_tracking_rows_add_up_per_flow_and_minute(void **state)
{
    struct fx *fx = *state;
    struct cut_err err;
    struct cut_tracking_row row = {.flow = "orders", .minute = 1700000040};
    struct cut_tracking_row sum;
    size_t minutes;

    row.counts[CUT_TRACK_SEEN] = 10;
    row.counts[CUT_TRACK_CONFIRMED_KAFKA] = 9;
    row.lat[CUT_SIDE_KAFKA][5] = 7;
    row.lat[CUT_SIDE_LEGACY][63] = 1;
    assert_int_equal(cut_store_tracking_add(fx->st, &row, 1, &err), CUT_OK);
    assert_int_equal(cut_store_tracking_add(fx->st, &row, 1, &err), CUT_OK);
    struct cut_tracking_row next = row;
    next.minute += 60;
    struct cut_tracking_row other = row;
    other.flow = "payments";
    struct cut_tracking_row two[2] = {next, other};
    assert_int_equal(cut_store_tracking_add(fx->st, two, 2, &err), CUT_OK);
    assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM tracking"), 3);

    assert_int_equal(
        cut_store_tracking_window(fx->st, "orders", 1700000040, 1700000040, &sum, &minutes, &err),
        CUT_OK);
    assert_int_equal(minutes, 1);
    assert_int_equal(sum.counts[CUT_TRACK_SEEN], 20);
    assert_int_equal(sum.counts[CUT_TRACK_CONFIRMED_KAFKA], 18);
    assert_int_equal(sum.counts[CUT_TRACK_FAILED_KAFKA], 0);
    assert_int_equal(sum.lat[CUT_SIDE_KAFKA][5], 14);
    assert_int_equal(sum.lat[CUT_SIDE_LEGACY][63], 2);
    assert_int_equal(
        cut_store_tracking_window(fx->st, "orders", 0, INT64_MAX, &sum, &minutes, &err), CUT_OK);
    assert_int_equal(minutes, 2);
    assert_int_equal(sum.counts[CUT_TRACK_SEEN], 30);
    assert_int_equal(sum.lat[CUT_SIDE_KAFKA][5], 21);

    uint64_t deleted;
    assert_int_equal(cut_store_tracking_prune(fx->st, 1700000100, &deleted, &err), CUT_OK);
    assert_int_equal(deleted, 2);
    assert_int_equal(raw_int(fx->st, "SELECT count(*) FROM tracking"), 1);
    assert_string_equal(cut_track_event_name(CUT_TRACK_DEAD_LETTERED), "dead_lettered");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_creates_a_wal_database_at_the_latest_version),
        T(test_open_of_an_unreachable_path_fails_with_the_path),
        T(test_mode_change_writes_mode_audit_and_status_together),
        T(test_a_failed_audit_write_leaves_the_mode_unchanged),
        T(test_setting_the_same_mode_again_writes_nothing),
        T(test_a_stale_expected_mode_is_refused_as_retry),
        T(test_status_follows_the_migration_and_completion_needs_kafka_only),
        T(test_rollback_pins_every_mode_to_jms_only_in_one_transaction),
        T(test_default_moves_inheriting_flows_and_is_audited),
        T(test_clearing_an_override_makes_the_type_inherit),
        T(test_bad_names_are_refused),
        T(test_changed_sees_commits_of_other_handles_only),
        T(test_watcher_brings_a_mode_change_to_the_board_within_a_second),
        T(test_ledger_add_list_attempt_and_repair),
        T(test_ledger_batch_is_all_or_nothing_and_needs_a_control_handle),
        T(test_tracking_rows_add_up_per_flow_and_minute),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
