/*
 * The repair ledger: secondary writes that failed after their primary was
 * confirmed. The router adds them in batches before it acks the source
 * messages, so a batch is one transaction on a synchronous=FULL handle:
 * once the call returns, the failure survives a crash and the reconciler and
 * `cutover repair` will see it.
 */
#include <string.h>

#include "store_int.h"

int cut_store_ledger_add_batch(struct cut_store *st, const struct cut_ledger_entry *entries,
                               size_t n, struct cut_err *err)
{
    char now[STORE_TIME_LEN];
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (st->flags & CUT_STORE_TRACKING) {
        /* That handle commits without fsync: an ack could outrun the disk. */
        return cut_err_set(err, CUT_EINVAL, "the ledger needs a handle opened for control data");
    }
    for (size_t i = 0; i < n; i++) {
        const struct cut_ledger_entry *e = &entries[i];
        if (e->flow == NULL || e->flow[0] == '\0' || e->message_id == NULL ||
            (e->side != CUT_SIDE_LEGACY && e->side != CUT_SIDE_KAFKA)) {
            return cut_err_set(err, CUT_EINVAL,
                               "ledger entry %zu: flow, side and message_id are required", i);
        }
    }
    if (n == 0) {
        return CUT_OK;
    }
    store_now(now);
    if ((rc = store_begin(st, err)) != CUT_OK) {
        return rc;
    }
    rc = store_prepare(st,
                       "INSERT INTO ledger (flow, side, message_id, created_at, reason, payload, "
                       "headers) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       &stmt, err);
    for (size_t i = 0; rc == CUT_OK && i < n; i++) {
        const struct cut_ledger_entry *e = &entries[i];
        sqlite3_reset(stmt);
        store_bind_text(stmt, 1, e->flow);
        store_bind_text(stmt, 2, cut_side_name(e->side));
        store_bind_text(stmt, 3, e->message_id);
        store_bind_text(stmt, 4, now);
        store_bind_text(stmt, 5, e->reason != NULL ? e->reason : "");
        if (e->payload != NULL) {
            sqlite3_bind_blob64(stmt, 6, e->payload, e->payload_len, SQLITE_STATIC);
        } else {
            sqlite3_bind_null(stmt, 6);
        }
        if (e->headers != NULL) {
            sqlite3_bind_blob64(stmt, 7, e->headers, e->headers_len, SQLITE_STATIC);
        } else {
            sqlite3_bind_null(stmt, 7);
        }
        int src = sqlite3_step(stmt);
        if (src != SQLITE_DONE) {
            rc = store_fail(st, src, err, "ledger");
        }
    }
    sqlite3_finalize(stmt);
    return store_end(st, rc, err);
}

int cut_store_ledger_list(struct cut_store *st, const struct cut_ledger_query *q, cut_ledger_cb cb,
                          void *opaque, struct cut_err *err)
{
    static const struct cut_ledger_query all = {0};
    sqlite3_stmt *stmt = NULL;
    int src = SQLITE_DONE;

    q = q != NULL ? q : &all;
    int rc = store_prepare(st,
                           "SELECT id, flow, side, message_id, created_at, reason, payload, "
                           "headers, attempts, repaired_at FROM ledger "
                           "WHERE (?1 IS NULL OR flow = ?1) AND (?2 IS NULL OR side = ?2) "
                           "AND (?3 OR repaired_at IS NULL) AND id > ?4 "
                           "ORDER BY id LIMIT ?5",
                           &stmt, err);
    if (rc != CUT_OK) {
        return rc;
    }
    store_bind_text(stmt, 1, q->flow);
    store_bind_text(stmt, 2, q->side != NULL ? cut_side_name(*q->side) : NULL);
    sqlite3_bind_int(stmt, 3, q->include_repaired);
    sqlite3_bind_int64(stmt, 4, q->after_id);
    sqlite3_bind_int64(stmt, 5, q->limit > 0 ? (sqlite3_int64)q->limit : -1);
    while ((src = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct cut_ledger_entry e = {
            .id = sqlite3_column_int64(stmt, 0),
            .flow = store_col_text(stmt, 1),
            .message_id = store_col_text(stmt, 3),
            .created_at = store_col_text(stmt, 4),
            .reason = store_col_text(stmt, 5),
            .attempts = sqlite3_column_int64(stmt, 8),
            .repaired_at = store_col_text(stmt, 9),
        };
        cut_side_parse(store_col_text(stmt, 2), &e.side);
        /* Blob pointers first, then their sizes: the order SQLite documents. */
        e.payload = sqlite3_column_blob(stmt, 6);
        e.payload_len = (size_t)sqlite3_column_bytes(stmt, 6);
        e.headers = sqlite3_column_blob(stmt, 7);
        e.headers_len = (size_t)sqlite3_column_bytes(stmt, 7);
        if (cb(opaque, &e) != 0) {
            break;
        }
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = store_fail(st, src, err, "ledger");
    }
    sqlite3_finalize(stmt);
    return rc;
}

int cut_store_ledger_count(struct cut_store *st, const char *flow, const enum cut_side *side,
                           uint64_t *open, struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = store_prepare(st,
                           "SELECT count(*) FROM ledger WHERE repaired_at IS NULL "
                           "AND (?1 IS NULL OR flow = ?1) AND (?2 IS NULL OR side = ?2)",
                           &stmt, err);
    *open = 0;
    if (rc != CUT_OK) {
        return rc;
    }
    store_bind_text(stmt, 1, flow);
    store_bind_text(stmt, 2, side != NULL ? cut_side_name(*side) : NULL);
    int src = sqlite3_step(stmt);
    if (src == SQLITE_ROW) {
        *open = (uint64_t)sqlite3_column_int64(stmt, 0);
    } else {
        rc = store_fail(st, src, err, "ledger");
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* Run an UPDATE of one ledger row; CUT_EINVAL when it touched none. */
static int update_one(struct cut_store *st, const char *sql, int64_t id, const char *now,
                      const char *none, struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = store_prepare(st, sql, &stmt, err);
    if (rc != CUT_OK) {
        return rc;
    }
    sqlite3_bind_int64(stmt, 1, id);
    if (now != NULL) {
        store_bind_text(stmt, 2, now);
    }
    int src = sqlite3_step(stmt);
    if (src != SQLITE_DONE) {
        rc = store_fail(st, src, err, "ledger");
    } else if (sqlite3_changes(st->db) == 0) {
        rc = cut_err_set(err, CUT_EINVAL, "ledger entry %lld %s", (long long)id, none);
    }
    sqlite3_finalize(stmt);
    return rc;
}

int cut_store_ledger_attempt(struct cut_store *st, int64_t id, struct cut_err *err)
{
    return update_one(st, "UPDATE ledger SET attempts = attempts + 1 WHERE id = ?1", id, NULL,
                      "does not exist", err);
}

int cut_store_ledger_mark_repaired(struct cut_store *st, int64_t id, struct cut_err *err)
{
    char now[STORE_TIME_LEN];
    store_now(now);
    return update_one(st,
                      "UPDATE ledger SET repaired_at = ?2 WHERE id = ?1 AND repaired_at IS NULL",
                      id, now, "does not exist or is repaired already", err);
}
