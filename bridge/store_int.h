/*
 * Internals shared by the store's files (store.c: open, schema and
 * helpers; store_control.c: flows, modes, audit; store_ledger.c;
 * store_tracking.c; store_watch.c). Nothing outside store*.c includes this.
 */
#ifndef CUTOVER_STORE_INT_H
#define CUTOVER_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

struct cut_store {
    sqlite3 *db;
    unsigned flags;
    sqlite3_stmt *data_version; /* PRAGMA data_version, prepared once */
    int64_t last_version;
};

/* Filled by the build from migrations/ *.sql (store_embed.c). */
extern const struct cut_store_migration cut_store_embedded_migrations[];
extern const size_t cut_store_embedded_migrations_n;

/* "2024-05-01T12:00:00.000Z" for now, UTC; @p buf holds STORE_TIME_LEN bytes. */
#define STORE_TIME_LEN 32
void store_now(char *buf);

/* Translate a SQLite result into our status, with "@p what: sqlite's message". */
int store_fail(struct cut_store *st, int rc, struct cut_err *err, const char *what);

/* Run @p sql (no parameters, no rows wanted). */
int store_exec(struct cut_store *st, const char *sql, struct cut_err *err);

/* BEGIN IMMEDIATE: take the write lock at once, so that a reader never has
 * to upgrade (an upgrade cannot wait on the busy handler in WAL mode). */
int store_begin(struct cut_store *st, struct cut_err *err);
/* COMMIT when @p rc is CUT_OK, else ROLLBACK; returns the final status. */
int store_end(struct cut_store *st, int rc, struct cut_err *err);

int store_prepare(struct cut_store *st, const char *sql, sqlite3_stmt **stmt, struct cut_err *err);

/* Bind a C string or NULL as text. */
int store_bind_text(sqlite3_stmt *stmt, int idx, const char *text);

/* The column as a C string, NULL for SQL NULL. */
const char *store_col_text(sqlite3_stmt *stmt, int col);

#endif
