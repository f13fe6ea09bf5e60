/*
 * Tracking rows: one per flow per minute, written by the tracking writer in
 * batches (tracking.c) and added to, never replaced, so that partial
 * batches of the same minute add up. Latency histograms are BLOBs of
 * little-endian uint32 bucket counts with the trailing empty buckets left
 * out; the SQL function cut_hist_add() adds two of them inside the upsert.
 */
#include <stdio.h>
#include <string.h>

#include "store_int.h"

/* Column of each enum cut_track_event, in the enum's order. */
static const char *const event_columns[CUT_TRACK_COUNT] = {
    "seen",           "dual",          "confirmed_legacy", "confirmed_kafka",
    "confirmed_both", "failed_legacy", "failed_kafka",     "ledgered",
    "dead_lettered",  "expired",       "filtered",
};
_Static_assert(CUT_TRACK_FILTERED + 1 == CUT_TRACK_COUNT, "event_columns follows the enum");

#define HIST_BYTES (CUT_LAT_BUCKETS * 4)

const char *cut_track_event_name(enum cut_track_event ev)
{
    return (unsigned)ev < CUT_TRACK_COUNT ? event_columns[ev] : "?";
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* Add the encoded histogram @p blob (@p len bytes, may be NULL) into @p b. */
static void hist_decode_add(uint64_t *b, const void *blob, int len)
{
    const unsigned char *p = blob;
    int n = blob != NULL && len > 0 ? len / 4 : 0;
    for (int i = 0; i < n && i < CUT_LAT_BUCKETS; i++) {
        b[i] += get_u32(p + 4 * i);
    }
}

/* Encode @p b into @p out (HIST_BYTES); returns the length without the
 * trailing zero buckets. Counts saturate: a minute of one flow never comes
 * near 2^32 messages. */
static int hist_encode(const uint64_t *b, unsigned char *out)
{
    int len = 0;
    for (int i = 0; i < CUT_LAT_BUCKETS; i++) {
        put_u32(out + 4 * i, b[i] > UINT32_MAX ? UINT32_MAX : (uint32_t)b[i]);
        if (b[i] != 0) {
            len = 4 * (i + 1);
        }
    }
    return len;
}

static void sql_hist_add(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    uint64_t b[CUT_LAT_BUCKETS] = {0};
    unsigned char out[HIST_BYTES];
    (void)argc;
    for (int i = 0; i < 2; i++) {
        const void *blob = sqlite3_value_blob(argv[i]);
        hist_decode_add(b, blob, sqlite3_value_bytes(argv[i]));
    }
    int len = hist_encode(b, out);
    if (len == 0) {
        sqlite3_result_null(ctx);
    } else {
        sqlite3_result_blob(ctx, out, len, SQLITE_TRANSIENT);
    }
}

int store_tracking_register(struct cut_store *st, struct cut_err *err)
{
    int rc = sqlite3_create_function(st->db, "cut_hist_add", 2,
                                     SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
                                     sql_hist_add, NULL, NULL);
    return rc == SQLITE_OK ? CUT_OK : store_fail(st, rc, err, "cut_hist_add");
}

/* INSERT ... ON CONFLICT DO UPDATE adding every counter, built from the
 * column table so that the enum and the SQL cannot drift apart. */
static int upsert_sql(char *sql, size_t size)
{
    size_t len = 0;
    int n;
#define APPEND(...)                                                                                \
    do {                                                                                           \
        n = snprintf(sql + len, size - len, __VA_ARGS__);                                          \
        if (n < 0 || (size_t)n >= size - len) {                                                    \
            return -1;                                                                             \
        }                                                                                          \
        len += (size_t)n;                                                                          \
    } while (0)
    APPEND("INSERT INTO tracking (flow, minute");
    for (int i = 0; i < CUT_TRACK_COUNT; i++) {
        APPEND(", %s", event_columns[i]);
    }
    APPEND(", latency_legacy, latency_kafka) VALUES (?, ?");
    for (int i = 0; i < CUT_TRACK_COUNT + 2; i++) {
        APPEND(", ?");
    }
    APPEND(") ON CONFLICT (flow, minute) DO UPDATE SET ");
    for (int i = 0; i < CUT_TRACK_COUNT; i++) {
        APPEND("%s = %s + excluded.%s, ", event_columns[i], event_columns[i], event_columns[i]);
    }
    APPEND("latency_legacy = cut_hist_add(latency_legacy, excluded.latency_legacy), "
           "latency_kafka = cut_hist_add(latency_kafka, excluded.latency_kafka)");
#undef APPEND
    return 0;
}

int cut_store_tracking_add(struct cut_store *st, const struct cut_tracking_row *rows, size_t n,
                           struct cut_err *err)
{
    char sql[2048];
    unsigned char hist[2][HIST_BYTES];
    sqlite3_stmt *stmt = NULL;
    int rc;

    if (n == 0) {
        return CUT_OK;
    }
    if (upsert_sql(sql, sizeof(sql)) != 0) {
        return cut_err_set(err, CUT_EFATAL, "tracking: statement too long");
    }
    if ((rc = store_begin(st, err)) != CUT_OK) {
        return rc;
    }
    rc = store_prepare(st, sql, &stmt, err);
    for (size_t r = 0; rc == CUT_OK && r < n; r++) {
        const struct cut_tracking_row *row = &rows[r];
        int col = 1;
        sqlite3_reset(stmt);
        store_bind_text(stmt, col++, row->flow);
        sqlite3_bind_int64(stmt, col++, row->minute);
        for (int i = 0; i < CUT_TRACK_COUNT; i++) {
            sqlite3_bind_int64(stmt, col++, (sqlite3_int64)row->counts[i]);
        }
        for (int side = 0; side < 2; side++) {
            int len = hist_encode(row->lat[side], hist[side]);
            if (len > 0) {
                sqlite3_bind_blob(stmt, col++, hist[side], len, SQLITE_STATIC);
            } else {
                sqlite3_bind_null(stmt, col++);
            }
        }
        int src = sqlite3_step(stmt);
        if (src != SQLITE_DONE) {
            rc = store_fail(st, src, err, "tracking");
        }
    }
    sqlite3_finalize(stmt);
    return store_end(st, rc, err);
}

int cut_store_tracking_window(struct cut_store *st, const char *flow, int64_t from_minute,
                              int64_t to_minute, struct cut_tracking_row *sum, size_t *minutes,
                              struct cut_err *err)
{
    char sql[512];
    size_t len = 0, rows = 0;
    sqlite3_stmt *stmt = NULL;
    int src = SQLITE_DONE;

    memset(sum, 0, sizeof(*sum));
    sum->flow = flow;
    sum->minute = from_minute;
    len += (size_t)snprintf(sql + len, sizeof(sql) - len, "SELECT latency_legacy, latency_kafka");
    for (int i = 0; i < CUT_TRACK_COUNT; i++) {
        len += (size_t)snprintf(sql + len, sizeof(sql) - len, ", %s", event_columns[i]);
    }
    snprintf(sql + len, sizeof(sql) - len,
             " FROM tracking WHERE flow = ? AND minute BETWEEN ? AND ?");
    int rc = store_prepare(st, sql, &stmt, err);
    if (rc != CUT_OK) {
        return rc;
    }
    store_bind_text(stmt, 1, flow);
    sqlite3_bind_int64(stmt, 2, from_minute);
    sqlite3_bind_int64(stmt, 3, to_minute);
    while ((src = sqlite3_step(stmt)) == SQLITE_ROW) {
        for (int side = 0; side < 2; side++) {
            const void *blob = sqlite3_column_blob(stmt, side);
            hist_decode_add(sum->lat[side], blob, sqlite3_column_bytes(stmt, side));
        }
        for (int i = 0; i < CUT_TRACK_COUNT; i++) {
            sum->counts[i] += (uint64_t)sqlite3_column_int64(stmt, 2 + i);
        }
        rows++;
    }
    if (src != SQLITE_DONE) {
        rc = store_fail(st, src, err, "tracking");
    }
    sqlite3_finalize(stmt);
    if (minutes != NULL) {
        *minutes = rows;
    }
    return rc;
}

int cut_store_tracking_prune(struct cut_store *st, int64_t before_minute, uint64_t *deleted,
                             struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = store_prepare(st, "DELETE FROM tracking WHERE minute < ?", &stmt, err);
    if (deleted != NULL) {
        *deleted = 0;
    }
    if (rc != CUT_OK) {
        return rc;
    }
    sqlite3_bind_int64(stmt, 1, before_minute);
    int src = sqlite3_step(stmt);
    if (src != SQLITE_DONE) {
        rc = store_fail(st, src, err, "tracking");
    } else if (deleted != NULL) {
        *deleted = (uint64_t)sqlite3_changes(st->db);
    }
    sqlite3_finalize(stmt);
    return rc;
}
