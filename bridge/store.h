/*
 * The state store: flow status, modes, the global default, the audit log,
 * the repair ledger and the per-minute tracking counters. Today a SQLite
 * database (WAL mode) with numbered migrations; the interface is kept narrow
 * and free of SQL so that a shared backend (PostgreSQL, or Kafka compacted
 * topics as Kafka Connect does) can replace it when several bridges share
 * control state: such a backend would turn these functions into an ops
 * struct, like the connectors. Nothing outside store*.c knows it is SQLite.
 *
 * Durability: control data (modes, status, audit, ledger) is written with
 * synchronous=FULL: when a call returns CUT_OK the change is on disk. A
 * change and its audit record are one transaction. The tracking writer's
 * handle (CUT_STORE_TRACKING) uses synchronous=NORMAL: a power cut may lose
 * the last second of counters, never control data, and never corrupts.
 *
 * Errors: CUT_OK, or CUT_ERETRY (the database is busy or locked: try again),
 * CUT_EINVAL (refused: unknown flow, a rule says no, schema newer than this
 * program), CUT_ENOMEM, CUT_EFATAL (I/O error, corrupt or unreadable file).
 * err->msg says what and why.
 *
 * Thread safety: a struct cut_store (one connection) is used by one thread
 * at a time; every thread that needs the store opens its own handle (cheap).
 * Handles on the same file in several threads or processes are safe: SQLite
 * serialises writers (busy timeout 5 s) and readers never block writers.
 *
 * Strings passed in are borrowed for the call. Strings handed to callbacks
 * are valid during the callback only.
 */
#ifndef CUTOVER_STORE_H
#define CUTOVER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cutover/status.h"
#include "modes.h"

struct cut_store;

/* ---- open, close, schema -------------------------------------------------- */

enum cut_store_flag {
    /** Do not apply pending migrations at open (`cutover db status`, tests). */
    CUT_STORE_NO_MIGRATE = 1u << 0,
    /** The tracking writer's handle: synchronous=NORMAL instead of FULL. */
    CUT_STORE_TRACKING = 1u << 1,
};

/**
 * Open (creating it if needed) the store at @p path, switch it to WAL mode
 * and, unless CUT_STORE_NO_MIGRATE, apply every pending migration in order.
 * An older database is upgraded in place; a database whose schema is newer
 * than this program is refused (CUT_EINVAL). On success *st is a new handle,
 * closed with cut_store_close(); on failure *st is NULL.
 */
int cut_store_open(struct cut_store **st, const char *path, unsigned flags, struct cut_err *err);

/** Close the handle. Accepts NULL. */
void cut_store_close(struct cut_store *st);

/** One migration, compiled into the program from migrations/NNNN_name.sql. */
struct cut_store_migration {
    int version;      /**< NNNN: 1, 2, ... without gaps */
    const char *name; /**< file name without ".sql", e.g. "0001_control" */
    const char *sql;
};

/** The migrations of this program, in order; *n receives their count. Static. */
const struct cut_store_migration *cut_store_migrations(size_t *n);

/** The schema version of the database (0 when nothing was applied yet). */
int cut_store_schema_version(struct cut_store *st, int *version, struct cut_err *err);

/**
 * Apply the pending migrations up to @p target (0: the latest), each in its
 * own transaction together with its schema_version row; safe against another
 * process migrating at the same time. *applied (may be NULL) receives how
 * many were applied by this call.
 */
int cut_store_migrate(struct cut_store *st, int target, int *applied, struct cut_err *err);

/**
 * Whether another handle (this process or another) committed anything since
 * the previous call (or since open). Cheap: one PRAGMA data_version, no I/O
 * when nothing changed; a running bridge polls it every <= 250 ms (see
 * cut_store_watch_start) so that a mode change reaches it within a second.
 */
int cut_store_changed(struct cut_store *st, bool *changed, struct cut_err *err);

/* ---- flows and status ----------------------------------------------------- */

/** One flow as stored. Strings valid during the callback only. */
struct cut_flow_info {
    const char *name;
    enum cut_flow_status status;
    const char *status_changed_at; /**< UTC, "2024-05-01T12:00:00.000Z" */
    const char *status_reason;     /**< reason of the last status change, "" if none */
    const char *created_at;
};

/** Return non-zero to stop the iteration (the list call then returns CUT_OK). */
typedef int (*cut_store_flow_cb)(void *opaque, const struct cut_flow_info *flow);

/**
 * Make sure each of @p names (@p n of them) is a known flow (status PENDING
 * when new); existing flows are untouched. One transaction. The bridge calls
 * this at start with the flows of its config; so does the CLI with -c.
 */
int cut_store_flows_register(struct cut_store *st, const char *const *names, size_t n,
                             struct cut_err *err);

/** Call @p cb for @p name only (NULL: every flow, by name). No flow found is not an error. */
int cut_store_flows_list(struct cut_store *st, const char *name, cut_store_flow_cb cb, void *opaque,
                         struct cut_err *err);

/**
 * Mark @p flow COMPLETED. Refused (CUT_EINVAL, err says why) unless it is
 * IN_PROGRESS and every mode that applies to it (flow level and every
 * message-type override) is KAFKA_ONLY. Already COMPLETED: CUT_OK, no change.
 */
int cut_store_flow_complete(struct cut_store *st, const char *flow, const char *actor,
                            const char *reason, struct cut_err *err);

/**
 * Roll @p flow back: its flow-level mode and every override become
 * JMS_ONLY (audited as 'rollback'), its status ROLLED_BACK with @p reason
 * (audited as 'status'); one transaction. Used by the operator and by the
 * reconciler. The flow must be known.
 */
int cut_store_flow_rollback(struct cut_store *st, const char *flow, const char *actor,
                            const char *reason, struct cut_err *err);

/* ---- modes ---------------------------------------------------------------- */

/**
 * Load every mode setting into @p out (initialised here; release with
 * cut_mode_table_fini(), also after a failure).
 */
int cut_store_modes_load(struct cut_store *st, struct cut_mode_table *out, struct cut_err *err);

/**
 * Set the mode of @p flow (@p msg_type NULL or "": the flow level; else an
 * override for that message type). The change, its audit record and the
 * status change it implies (PENDING or ROLLED_BACK -> IN_PROGRESS when
 * anything leaves JMS_ONLY; COMPLETED -> IN_PROGRESS when something leaves
 * KAFKA_ONLY) are one transaction. The flow is registered if new. Setting
 * the mode it already has writes nothing. The rules of guarded promotion are
 * the caller's (cut_mode_check_change): the store records, it does not judge.
 *
 * @param expect NULL, or the mode the caller based its decision on: the
 *        change is refused with CUT_ERETRY when the mode now in effect for
 *        (@p flow, @p msg_type) differs (another operator was faster).
 * @param actor who: a user name, "reconciler", ...
 * @param reason why, may be NULL or "".
 */
int cut_store_mode_set(struct cut_store *st, const char *flow, const char *msg_type,
                       enum cut_mode mode, const enum cut_mode *expect, const char *actor,
                       const char *reason, struct cut_err *err);

/**
 * Remove the own setting of (@p flow, @p msg_type), which then inherits
 * (type -> flow -> default -> JMS_ONLY). Audited with to = NULL. Nothing to
 * remove: CUT_OK, nothing written.
 */
int cut_store_mode_clear(struct cut_store *st, const char *flow, const char *msg_type,
                         const char *actor, const char *reason, struct cut_err *err);

/** The global default; *set is false when none is stored (JMS_ONLY applies). */
int cut_store_default_get(struct cut_store *st, enum cut_mode *mode, bool *set,
                          struct cut_err *err);

/**
 * Set the global default (audited as 'default'; status changes of the flows
 * it moves, as for cut_store_mode_set, in the same transaction). @p expect
 * as for cut_store_mode_set, compared with the default in effect.
 */
int cut_store_default_set(struct cut_store *st, enum cut_mode mode, const enum cut_mode *expect,
                          const char *actor, const char *reason, struct cut_err *err);

/* ---- audit ---------------------------------------------------------------- */

/** One audit record. Strings valid during the callback only; NULL when not set. */
struct cut_audit_record {
    int64_t id;
    const char *at; /**< UTC, ISO 8601 with milliseconds */
    const char *actor;
    const char *flow;     /**< NULL for 'default' */
    const char *msg_type; /**< NULL or "" for the flow level */
    const char *what;     /**< "mode", "status", "rollback" or "default" */
    const char *from;     /**< previous value; NULL: none (inherited) */
    const char *to;       /**< new value; NULL: none (now inherits) */
    const char *reason;
};

typedef int (*cut_audit_cb)(void *opaque, const struct cut_audit_record *rec);

/** Call @p cb for every record of @p flow (NULL: all), oldest first. */
int cut_store_audit_list(struct cut_store *st, const char *flow, cut_audit_cb cb, void *opaque,
                         struct cut_err *err);

/* ---- the repair ledger ---------------------------------------------------- */

/**
 * A secondary write that failed after the primary was confirmed. For
 * cut_store_ledger_add_batch the inputs are flow, side, message_id, reason,
 * payload and headers (borrowed); the other fields are filled by listing.
 */
struct cut_ledger_entry {
    int64_t id;
    const char *flow;
    enum cut_side side; /**< the side that failed and must be replayed */
    const char *message_id;
    const char *reason;
    const void *payload; /**< the body as it was to be sent; may be NULL */
    size_t payload_len;
    /** Everything else needed to replay, as the router encodes it: for Kafka
     *  the topic, key and record headers; for legacy the envelope (JMS
     *  headers and properties, e.g. cut_msg_encode() of cutover/msgcodec.h).
     *  Opaque to the store. May be NULL. */
    const void *headers;
    size_t headers_len;
    int64_t attempts;        /**< replay attempts so far */
    const char *created_at;  /**< listing only */
    const char *repaired_at; /**< listing only; NULL while open */
};

/**
 * Record @p n entries in one transaction with synchronous=FULL: when this
 * returns CUT_OK they are on disk, and the router may ack the source
 * messages whose secondary failed (cut_mode_ack with CUT_RES_RECORDED).
 * Must be called on a handle opened without CUT_STORE_TRACKING.
 */
int cut_store_ledger_add_batch(struct cut_store *st, const struct cut_ledger_entry *entries,
                               size_t n, struct cut_err *err);

/** Which ledger entries to list; zero-initialised means "every open entry". */
struct cut_ledger_query {
    const char *flow;          /**< NULL: every flow */
    const enum cut_side *side; /**< NULL: both sides */
    bool include_repaired;
    int64_t after_id; /**< only entries with a larger id (paging) */
    size_t limit;     /**< 0: no limit */
};

typedef int (*cut_ledger_cb)(void *opaque, const struct cut_ledger_entry *entry);

/** Call @p cb for the matching entries, oldest first. @p q may be NULL. */
int cut_store_ledger_list(struct cut_store *st, const struct cut_ledger_query *q, cut_ledger_cb cb,
                          void *opaque, struct cut_err *err);

/** Count the open entries of @p flow (NULL: all) on @p side (NULL: both). */
int cut_store_ledger_count(struct cut_store *st, const char *flow, const enum cut_side *side,
                           uint64_t *open, struct cut_err *err);

/** One more replay attempt of entry @p id. CUT_EINVAL when there is no such entry. */
int cut_store_ledger_attempt(struct cut_store *st, int64_t id, struct cut_err *err);

/** Entry @p id was replayed and confirmed. CUT_EINVAL when unknown or already repaired. */
int cut_store_ledger_mark_repaired(struct cut_store *st, int64_t id, struct cut_err *err);

/* ---- tracking ------------------------------------------------------------- */

/** What the router counts, per flow and minute (columns of the tracking table). */
enum cut_track_event {
    CUT_TRACK_SEEN,             /**< a message taken from the source */
    CUT_TRACK_DUAL,             /**< ... routed under a dual-write mode */
    CUT_TRACK_CONFIRMED_LEGACY, /**< the legacy target confirmed it */
    CUT_TRACK_CONFIRMED_KAFKA,  /**< Kafka confirmed it */
    CUT_TRACK_CONFIRMED_BOTH,   /**< a dual-write message confirmed by both sides */
    CUT_TRACK_FAILED_LEGACY,    /**< a legacy write failed (each failure) */
    CUT_TRACK_FAILED_KAFKA,     /**< a Kafka write failed (each failure) */
    CUT_TRACK_LEDGERED,         /**< a secondary failure recorded in the ledger */
    CUT_TRACK_DEAD_LETTERED,    /**< sent to the dead-letter destination */
    CUT_TRACK_EXPIRED,          /**< dropped or dead-lettered because it expired */
    CUT_TRACK_FILTERED,         /**< filtered out by the flow's filter */
};
#define CUT_TRACK_COUNT 11

/** Latency buckets per side: fixed half-octave buckets over uint32 microseconds. */
#define CUT_LAT_BUCKETS 64

/** Counters of one flow for one minute (a row to add, or a window's sum). */
struct cut_tracking_row {
    const char *flow;                 /**< borrowed */
    int64_t minute;                   /**< Unix time of the minute's start, seconds */
    uint64_t counts[CUT_TRACK_COUNT]; /**< indexed by enum cut_track_event */
    uint64_t lat[2][CUT_LAT_BUCKETS]; /**< [enum cut_side][bucket], see cut_lat_bucket */
};

/** Name of an event's column ("seen", "confirmed_kafka", ...). */
const char *cut_track_event_name(enum cut_track_event ev);

/**
 * Add @p n rows to the table in one transaction: counters and histogram
 * buckets of an existing (flow, minute) row are added to, never replaced.
 */
int cut_store_tracking_add(struct cut_store *st, const struct cut_tracking_row *rows, size_t n,
                           struct cut_err *err);

/**
 * Sum the rows of @p flow with @p from_minute <= minute <= @p to_minute into
 * @p sum (zeroed here; sum->flow = flow, sum->minute = from_minute).
 * *minutes (may be NULL) receives how many rows there were.
 */
int cut_store_tracking_window(struct cut_store *st, const char *flow, int64_t from_minute,
                              int64_t to_minute, struct cut_tracking_row *sum, size_t *minutes,
                              struct cut_err *err);

/** Delete the rows older than @p before_minute (retention); *deleted may be NULL. */
int cut_store_tracking_prune(struct cut_store *st, int64_t before_minute, uint64_t *deleted,
                             struct cut_err *err);

/* ---- the watcher: mode changes to a running bridge ------------------------- */

struct cut_store_watch;

/**
 * Open a handle on @p path, load the modes and publish them to @p board
 * (before returning, so that flows start in the right modes), then start a
 * thread that polls for changes every @p interval_ms (<= 250 keeps the
 * one-second promise; 0 means 250) and publishes the new table when the modes
 * changed. A failing poll is logged once and retried; flows keep their
 * current modes meanwhile. @p board is borrowed until cut_store_watch_stop().
 */
int cut_store_watch_start(struct cut_store_watch **w, const char *path,
                          struct cut_mode_board *board, int interval_ms, struct cut_err *err);

/** Stop and join the thread, close its handle. Accepts NULL. */
void cut_store_watch_stop(struct cut_store_watch *w);

#endif
