/*
 * Migrations of the state store: the migrations compiled into the program
 * are exactly migrations/ *.sql; a database made by 0001 alone, with data in
 * it, is upgraded in place by opening it with this program and keeps every
 * row; a database newer than the program is refused; migrating twice does
 * nothing the second time.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store_int.h"

#ifndef MIGRATIONS_DIR
#error "MIGRATIONS_DIR must name the source tree's migrations/ folder"
#endif

struct fx {
    char dir[64];
    char path[96];
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    if (fx == NULL) {
        return -1;
    }
    strcpy(fx->dir, "/tmp/cutover_migrate_XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/state.db", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    char p[128];
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", fx->path, suffixes[i]);
        unlink(p);
    }
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fail_msg("%s: %s", sql, msg);
    }
    sqlite3_close(db);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_embedded_migrations_are_the_files_of_migrations_dir(void **state)
{
    (void)state;
    char *names[64];
    size_t n_files = 0, n;
    DIR *dir = opendir(MIGRATIONS_DIR);
    struct dirent *de;

    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL && n_files < 64) {
        size_t len = strlen(de->d_name);
        if (len > 4 && strcmp(de->d_name + len - 4, ".sql") == 0) {
            names[n_files++] = strndup(de->d_name, len - 4);
        }
    }
    closedir(dir);
    qsort(names, n_files, sizeof(names[0]), by_name);

    const struct cut_store_migration *m = cut_store_migrations(&n);
    if (n != n_files) {
        fail_msg("%zu migration files in %s but %zu compiled in: list every file in "
                 "bridge/meson.build (store_migrations)",
                 n_files, MIGRATIONS_DIR, n);
    }
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(m[i].name, names[i]);
        assert_int_equal(m[i].version, (int)i + 1);
        assert_true(strlen(m[i].sql) > 0);
        free(names[i]);
    }
}

static void test_a_version_1_database_is_upgraded_in_place_with_its_data(void **state)
{
    struct fx *fx = *state;
    struct cut_store *st;
    struct cut_err err;
    int version, applied;

    /* A database as the first release left it. */
    assert_int_equal(cut_store_open(&st, fx->path, CUT_STORE_NO_MIGRATE, &err), CUT_OK);
    assert_int_equal(cut_store_schema_version(st, &version, &err), CUT_OK);
    assert_int_equal(version, 0);
    assert_int_equal(cut_store_migrate(st, 1, &applied, &err), CUT_OK);
    assert_int_equal(applied, 1);
    assert_int_equal(cut_store_schema_version(st, &version, &err), CUT_OK);
    assert_int_equal(version, 1);
    cut_store_close(st);
    raw_exec(fx->path,
             "INSERT INTO flows (name, status, status_changed_at, created_at) VALUES "
             " ('orders', 'IN_PROGRESS', '2024-01-02T00:00:00.000Z', '2024-01-01T00:00:00.000Z');"
             "INSERT INTO modes VALUES ('orders', '', 'DUAL_WRITE_KAFKA_PRIMARY', 'x'),"
             " ('orders', 'invoice', 'KAFKA_ONLY', 'x');"
             "INSERT INTO settings VALUES ('default_mode', 'DUAL_WRITE_JMS_PRIMARY');"
             "INSERT INTO audit (at, actor, flow, what, from_value, to_value, reason) VALUES"
             " ('2024-01-02T00:00:00.000Z', 'alice', 'orders', 'mode', NULL,"
             "  'DUAL_WRITE_KAFKA_PRIMARY', 'go');"
             "INSERT INTO ledger (flow, side, message_id, created_at, payload, headers) VALUES"
             " ('orders', 'legacy', 'ID:7', 'x', x'00ff', '{\"destination\":\"q\"}');");
    struct stat before, after;
    assert_int_equal(stat(fx->path, &before), 0);

    /* Open with this program: the pending migrations run, the data stays. */
    assert_int_equal(cut_store_open(&st, fx->path, 0, &err), CUT_OK);
    assert_int_equal(stat(fx->path, &after), 0);
    assert_true(before.st_ino == after.st_ino); /* the same file, not a new one */
    size_t n;
    const struct cut_store_migration *m = cut_store_migrations(&n);
    assert_int_equal(cut_store_schema_version(st, &version, &err), CUT_OK);
    assert_int_equal(version, m[n - 1].version);

    struct cut_mode_table t;
    assert_int_equal(cut_store_modes_load(st, &t, &err), CUT_OK);
    assert_int_equal(cut_mode_resolve(&t, "orders", NULL), CUT_MODE_DUAL_KAFKA_PRIMARY);
    assert_int_equal(cut_mode_resolve(&t, "orders", "invoice"), CUT_MODE_KAFKA_ONLY);
    assert_int_equal(cut_mode_resolve(&t, "other", NULL), CUT_MODE_DUAL_JMS_PRIMARY);
    cut_mode_table_fini(&t);

    uint64_t open;
    assert_int_equal(cut_store_ledger_count(st, "orders", NULL, &open, &err), CUT_OK);
    assert_int_equal(open, 1);

    sqlite3_stmt *stmt;
    assert_int_equal(sqlite3_prepare_v2(st->db,
                                        "SELECT status, created_at, status_reason FROM flows "
                                        "WHERE name = 'orders'",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "IN_PROGRESS");
    assert_string_equal((const char *)sqlite3_column_text(stmt, 1), "2024-01-01T00:00:00.000Z");
    assert_string_equal((const char *)sqlite3_column_text(stmt, 2), ""); /* new in 0002 */
    sqlite3_finalize(stmt);
    assert_int_equal(sqlite3_prepare_v2(st->db,
                                        "SELECT count(*), min(version), max(version) "
                                        "FROM schema_version",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(stmt, 0), (int)n);
    assert_int_equal(sqlite3_column_int(stmt, 1), 1);
    sqlite3_finalize(stmt);

    /* The old audit record is still there, and the new tables work. */
    assert_int_equal(sqlite3_prepare_v2(st->db, "SELECT actor, reason FROM audit", -1, &stmt, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "alice");
    sqlite3_finalize(stmt);
    struct cut_tracking_row row = {.flow = "orders", .minute = 60};
    row.counts[CUT_TRACK_SEEN] = 1;
    assert_int_equal(cut_store_tracking_add(st, &row, 1, &err), CUT_OK);

    /* Nothing left to do. */
    assert_int_equal(cut_store_migrate(st, 0, &applied, &err), CUT_OK);
    assert_int_equal(applied, 0);
    cut_store_close(st);
}

static void test_a_database_newer_than_the_program_is_refused(void **state)
{
    struct fx *fx = *state;
    struct cut_store *st;
    struct cut_err err;

    assert_int_equal(cut_store_open(&st, fx->path, 0, &err), CUT_OK);
    cut_store_close(st);
    raw_exec(fx->path,
             "INSERT INTO schema_version VALUES (999, '0999_future', '2099-01-01T00:00:00Z')");
    assert_int_equal(cut_store_open(&st, fx->path, 0, &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "newer"));
    /* db status can still look at it. */
    int version;
    assert_int_equal(cut_store_open(&st, fx->path, CUT_STORE_NO_MIGRATE, &err), CUT_OK);
    assert_int_equal(cut_store_schema_version(st, &version, &err), CUT_OK);
    assert_int_equal(version, 999);
    cut_store_close(st);
}

static void test_a_failing_migration_leaves_the_database_at_the_previous_version(void **state)
{
    struct fx *fx = *state;
    struct cut_store *st;
    struct cut_err err;
    int version;

    assert_int_equal(cut_store_open(&st, fx->path, CUT_STORE_NO_MIGRATE, &err), CUT_OK);
    assert_int_equal(cut_store_migrate(st, 1, NULL, &err), CUT_OK);
    cut_store_close(st);
    /* Something in the way of 0002 (a table it creates): it must fail whole. */
    raw_exec(fx->path, "CREATE TABLE tracking (x INTEGER)");
    assert_int_equal(cut_store_open(&st, fx->path, 0, &err), CUT_EFATAL);
    assert_non_null(strstr(err.msg, "0002"));
    assert_int_equal(cut_store_open(&st, fx->path, CUT_STORE_NO_MIGRATE, &err), CUT_OK);
    assert_int_equal(cut_store_schema_version(st, &version, &err), CUT_OK);
    assert_int_equal(version, 1);
    sqlite3_stmt *stmt;
    /* 0002's ALTER TABLE was rolled back with the rest. */
    assert_int_not_equal(
        sqlite3_prepare_v2(st->db, "SELECT status_reason FROM flows", -1, &stmt, NULL), SQLITE_OK);
    cut_store_close(st);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_migrations_are_the_files_of_migrations_dir),
        T(test_a_version_1_database_is_upgraded_in_place_with_its_data),
        T(test_a_database_newer_than_the_program_is_refused),
        T(test_a_failing_migration_leaves_the_database_at_the_previous_version),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
