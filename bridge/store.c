/*
 * The state store's connection: open in WAL mode, durability per handle,
 * the migrations and the change check, and the small helpers the other
 * store files share (store_int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

/* Long enough to ride out another writer's transaction (they are all short),
 * short enough that a stuck lock shows up as an error, not a hang. */
#define STORE_BUSY_TIMEOUT_MS 5000

/* Defined in store_tracking.c: the SQL function that adds histograms. */
int store_tracking_register(struct cut_store *st, struct cut_err *err);

void store_now(char *buf)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t len = strftime(buf, STORE_TIME_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + len, STORE_TIME_LEN - len, ".%03ldZ", ts.tv_nsec / 1000000);
}

int store_fail(struct cut_store *st, int rc, struct cut_err *err, const char *what)
{
    int code;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = CUT_ERETRY;
        break;
    case SQLITE_NOMEM:
        code = CUT_ENOMEM;
        break;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
        code = CUT_EINVAL;
        break;
    default: /* I/O errors, a corrupt or read-only file, a full disk, our own bugs */
        code = CUT_EFATAL;
        break;
    }
    const char *msg = st != NULL && st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    return cut_err_set(err, code, "%s: %s", what, msg);
}

int store_exec(struct cut_store *st, const char *sql, struct cut_err *err)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? CUT_OK : store_fail(st, rc, err, "state store");
}

int store_begin(struct cut_store *st, struct cut_err *err)
{
    return store_exec(st, "BEGIN IMMEDIATE", err);
}

int store_end(struct cut_store *st, int rc, struct cut_err *err)
{
    if (rc == CUT_OK) {
        int src = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
        if (src == SQLITE_OK) {
            return CUT_OK;
        }
        rc = store_fail(st, src, err, "commit");
    }
    /* Keep the first error in err; a failed rollback leaves nothing to add. */
    if (!sqlite3_get_autocommit(st->db)) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
    return rc;
}

int store_prepare(struct cut_store *st, const char *sql, sqlite3_stmt **stmt, struct cut_err *err)
{
    int rc = sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL);
    return rc == SQLITE_OK ? CUT_OK : store_fail(st, rc, err, "state store");
}

int store_bind_text(sqlite3_stmt *stmt, int idx, const char *text)
{
    return text != NULL ? sqlite3_bind_text(stmt, idx, text, -1, SQLITE_STATIC)
                        : sqlite3_bind_null(stmt, idx);
}

const char *store_col_text(sqlite3_stmt *stmt, int col)
{
    return (const char *)sqlite3_column_text(stmt, col);
}

/* One integer from a single-row query. */
static int query_int(struct cut_store *st, const char *sql, int64_t *value, struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = store_prepare(st, sql, &stmt, err);
    if (rc == CUT_OK) {
        int src = sqlite3_step(stmt);
        if (src == SQLITE_ROW) {
            *value = sqlite3_column_int64(stmt, 0);
        } else {
            rc = store_fail(st, src, err, "state store");
        }
    }
    sqlite3_finalize(stmt);
    return rc;
}

const struct cut_store_migration *cut_store_migrations(size_t *n)
{
    *n = cut_store_embedded_migrations_n;
    return cut_store_embedded_migrations;
}

int cut_store_schema_version(struct cut_store *st, int *version, struct cut_err *err)
{
    int64_t v = 0;
    int rc = query_int(st,
                       "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
                       "AND name = 'schema_version'",
                       &v, err);
    if (rc == CUT_OK && v > 0) {
        rc = query_int(st, "SELECT coalesce(max(version), 0) FROM schema_version", &v, err);
    }
    *version = rc == CUT_OK ? (int)v : 0;
    return rc;
}

static int apply_one(struct cut_store *st, const struct cut_store_migration *m, bool *applied,
                     struct cut_err *err)
{
    char now[STORE_TIME_LEN];
    sqlite3_stmt *stmt = NULL;
    int version = 0;

    *applied = false;
    int rc = store_begin(st, err);
    if (rc != CUT_OK) {
        return rc;
    }
    rc = store_exec(st,
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    " version INTEGER PRIMARY KEY NOT NULL,"
                    " name TEXT NOT NULL,"
                    " applied_at TEXT NOT NULL)",
                    err);
    /* Read again under the write lock: another process may have been first. */
    if (rc == CUT_OK) {
        rc = cut_store_schema_version(st, &version, err);
    }
    if (rc != CUT_OK || version >= m->version) {
        return store_end(st, rc, err);
    }
    if (version != m->version - 1) {
        rc = cut_err_set(err, CUT_EFATAL, "migration %s: database is at version %d, expected %d",
                         m->name, version, m->version - 1);
        return store_end(st, rc, err);
    }
    int src = sqlite3_exec(st->db, m->sql, NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        char what[96];
        snprintf(what, sizeof(what), "migration %s", m->name);
        rc = store_fail(st, src, err, what);
        return store_end(st, rc, err);
    }
    store_now(now);
    rc = store_prepare(
        st, "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)", &stmt, err);
    if (rc == CUT_OK) {
        sqlite3_bind_int(stmt, 1, m->version);
        store_bind_text(stmt, 2, m->name);
        store_bind_text(stmt, 3, now);
        src = sqlite3_step(stmt);
        rc = src == SQLITE_DONE ? CUT_OK : store_fail(st, src, err, "schema_version");
    }
    sqlite3_finalize(stmt);
    rc = store_end(st, rc, err);
    *applied = rc == CUT_OK;
    return rc;
}

int cut_store_migrate(struct cut_store *st, int target, int *applied, struct cut_err *err)
{
    size_t n;
    const struct cut_store_migration *m = cut_store_migrations(&n);
    int latest = n > 0 ? m[n - 1].version : 0;
    int version = 0, count = 0;

    if (applied != NULL) {
        *applied = 0;
    }
    if (target <= 0 || target > latest) {
        target = latest;
    }
    int rc = cut_store_schema_version(st, &version, err);
    if (rc != CUT_OK) {
        return rc;
    }
    if (version > latest) {
        return cut_err_set(err, CUT_EINVAL,
                           "the state store's schema (version %d) is newer than this cutover "
                           "knows (version %d): run a newer cutover",
                           version, latest);
    }
    for (size_t i = 0; i < n && m[i].version <= target; i++) {
        bool done = false;
        if (m[i].version <= version) {
            continue;
        }
        rc = apply_one(st, &m[i], &done, err);
        if (rc != CUT_OK) {
            break;
        }
        count += done;
    }
    if (applied != NULL) {
        *applied = count;
    }
    return rc;
}

int cut_store_changed(struct cut_store *st, bool *changed, struct cut_err *err)
{
    *changed = false;
    sqlite3_reset(st->data_version);
    int src = sqlite3_step(st->data_version);
    if (src != SQLITE_ROW) {
        int rc = store_fail(st, src, err, "data_version");
        sqlite3_reset(st->data_version);
        return rc;
    }
    int64_t v = sqlite3_column_int64(st->data_version, 0);
    sqlite3_reset(st->data_version);
    *changed = v != st->last_version;
    st->last_version = v;
    return CUT_OK;
}

static int set_wal(struct cut_store *st, struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = store_prepare(st, "PRAGMA journal_mode = WAL", &stmt, err);
    if (rc == CUT_OK) {
        int src = sqlite3_step(stmt);
        const char *mode = src == SQLITE_ROW ? store_col_text(stmt, 0) : NULL;
        if (src != SQLITE_ROW) {
            rc = store_fail(st, src, err, "journal_mode");
        } else if (mode == NULL || strcmp(mode, "wal") != 0) {
            rc = cut_err_set(err, CUT_EFATAL,
                             "cannot put the state store in WAL mode (journal_mode is %s); "
                             "is it on a network file system?",
                             mode ? mode : "unknown");
        }
    }
    sqlite3_finalize(stmt);
    return rc;
}

int cut_store_open(struct cut_store **out, const char *path, unsigned flags, struct cut_err *err)
{
    bool changed;
    int rc;
    struct cut_store *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    st->flags = flags;
    /* NOMUTEX: a handle belongs to one thread at a time (store.h). */
    int src = sqlite3_open_v2(
        path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        char what[320];
        snprintf(what, sizeof(what), "cannot open the state store %s", path);
        rc = store_fail(st, src, err, what);
        goto out;
    }
    sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
    rc = set_wal(st, err);
    if (rc == CUT_OK) {
        /* FULL: a commit is on disk when it returns (control data, the
         * ledger that lets the router ack). NORMAL for the tracking writer:
         * durable at the next checkpoint, never corrupt. Per connection. */
        rc = store_exec(st,
                        flags & CUT_STORE_TRACKING ? "PRAGMA synchronous = NORMAL"
                                                   : "PRAGMA synchronous = FULL",
                        err);
    }
    if (rc == CUT_OK) {
        rc = store_exec(st, "PRAGMA foreign_keys = ON", err);
    }
    if (rc == CUT_OK) {
        rc = store_tracking_register(st, err);
    }
    if (rc == CUT_OK) {
        rc = store_prepare(st, "PRAGMA data_version", &st->data_version, err);
    }
    if (rc == CUT_OK && !(flags & CUT_STORE_NO_MIGRATE)) {
        rc = cut_store_migrate(st, 0, NULL, err);
    }
    if (rc == CUT_OK) {
        rc = cut_store_changed(st, &changed, err); /* the baseline for the next call */
    }
out:
    if (rc != CUT_OK) {
        cut_store_close(st);
        return rc;
    }
    *out = st;
    return CUT_OK;
}

void cut_store_close(struct cut_store *st)
{
    if (st == NULL) {
        return;
    }
    sqlite3_finalize(st->data_version);
    /* close_v2: never fails for unfinalized statements; there are none. */
    sqlite3_close_v2(st->db);
    free(st);
}
