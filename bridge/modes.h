/*
 * Migration modes, flow status and the rules around them, as pure functions:
 * which mode applies to a message (resolution), whether an operator may move
 * a flow from one mode to another (guarded promotion), and when the source
 * message may be acked (the ack rule). No I/O, no allocation on the message
 * path; the state store (store.h) keeps the values, this module decides.
 *
 * The same rules are written out for operators in docs/operations.md; the
 * unit test test_modes pins every cell of those tables.
 *
 * Thread safety: every function is reentrant. A struct cut_mode_table is
 * immutable once built, so any number of threads may resolve against it;
 * building (cut_mode_table_set) belongs to one thread. A running bridge
 * swaps tables through a struct cut_mode_board (below).
 */
#ifndef CUTOVER_MODES_H
#define CUTOVER_MODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- modes and status ----------------------------------------------------- */

/** Where a flow's messages go; the order is the order of promotion. */
enum cut_mode {
    CUT_MODE_JMS_ONLY,           /**< "JMS_ONLY": legacy target only */
    CUT_MODE_DUAL_JMS_PRIMARY,   /**< "DUAL_WRITE_JMS_PRIMARY": both, legacy decides */
    CUT_MODE_DUAL_KAFKA_PRIMARY, /**< "DUAL_WRITE_KAFKA_PRIMARY": both, Kafka decides */
    CUT_MODE_KAFKA_ONLY,         /**< "KAFKA_ONLY": Kafka only */
};
#define CUT_MODE_COUNT 4

/** Where a flow is in its migration. */
enum cut_flow_status {
    CUT_FLOW_PENDING,     /**< "PENDING": has never left JMS_ONLY */
    CUT_FLOW_IN_PROGRESS, /**< "IN_PROGRESS": some of its traffic goes to Kafka */
    CUT_FLOW_COMPLETED,   /**< "COMPLETED": marked done by an operator, from KAFKA_ONLY */
    CUT_FLOW_ROLLED_BACK, /**< "ROLLED_BACK": sent back to JMS_ONLY by a rollback */
};
#define CUT_FLOW_STATUS_COUNT 4

/** The two destinations of a flow. */
enum cut_side {
    CUT_SIDE_LEGACY, /**< the legacy (JMS/AMQP) target queue; "legacy" */
    CUT_SIDE_KAFKA,  /**< the Kafka topic; "kafka" */
};

/** Static name of @p mode ("JMS_ONLY", ...), or "?" when out of range. */
const char *cut_mode_name(enum cut_mode mode);

/**
 * Parse a mode name (case-insensitive; the canonical spelling is the one
 * cut_mode_name() prints). Returns 0 and sets *mode, or -1 when unknown.
 */
int cut_mode_parse(const char *name, enum cut_mode *mode);

/** Static name of @p status ("PENDING", ...), or "?" when out of range. */
const char *cut_flow_status_name(enum cut_flow_status status);
/** Parse a status name (case-insensitive). Returns 0 or -1 when unknown. */
int cut_flow_status_parse(const char *name, enum cut_flow_status *status);

/** "legacy" or "kafka". */
const char *cut_side_name(enum cut_side side);
/** Parse "legacy" or "kafka". Returns 0 or -1. */
int cut_side_parse(const char *name, enum cut_side *side);

/** Whether @p mode writes to @p side at all. */
bool cut_mode_writes(enum cut_mode mode, enum cut_side side);

/** The side whose result decides the ack under @p mode (the only side in a single-write mode). */
enum cut_side cut_mode_primary(enum cut_mode mode);

/* ---- resolution ----------------------------------------------------------- */

/** One stored setting: a flow's mode (msg_type "") or a flow + message-type override. */
struct cut_mode_entry {
    char *flow;     /**< owned by the table */
    char *msg_type; /**< owned by the table; "" for the flow level */
    enum cut_mode mode;
};

/**
 * Every mode setting at one moment: the global default and the entries,
 * kept sorted by (flow, msg_type) so that resolution is a binary search.
 * Embedded: cut_mode_table_init() / cut_mode_table_fini().
 */
struct cut_mode_table {
    bool has_default;  /**< false: no global default is set */
    enum cut_mode def; /**< the global default when has_default */
    struct cut_mode_entry *entries;
    size_t n, cap;
};

void cut_mode_table_init(struct cut_mode_table *t);
/** Free the entries. Accepts NULL. */
void cut_mode_table_fini(struct cut_mode_table *t);

/**
 * Set the mode of @p flow (msg_type NULL or "": the flow level) in @p t,
 * replacing an existing entry. Strings are copied. Returns 0 or CUT_ENOMEM.
 */
int cut_mode_table_set(struct cut_mode_table *t, const char *flow, const char *msg_type,
                       enum cut_mode mode);

/** The entry of exactly (@p flow, @p msg_type) or NULL; no fallback. Borrowed from @p t. */
const struct cut_mode_entry *cut_mode_table_find(const struct cut_mode_table *t, const char *flow,
                                                 const char *msg_type);

/** Whether the two tables hold the same default and entries. */
bool cut_mode_table_equal(const struct cut_mode_table *a, const struct cut_mode_table *b);

/**
 * The mode for a message of @p flow with type @p msg_type (NULL or "" when it
 * has none): the flow + type override, else the flow's mode, else the global
 * default, else JMS_ONLY. @p t may be NULL (JMS_ONLY). No allocation, no lock:
 * safe on the message path.
 */
enum cut_mode cut_mode_resolve(const struct cut_mode_table *t, const char *flow,
                               const char *msg_type);

/* ---- guarded promotion ---------------------------------------------------- */

/** Consistency (confirmed on both sides / seen in dual-write) needed to enter KAFKA_ONLY. */
#define CUT_MODE_MIN_CONSISTENCY 0.99
/** The window, in minutes, over which that consistency is measured. */
#define CUT_MODE_CONSISTENCY_WINDOW_MIN 5

/**
 * May an operator move a flow from @p from to @p to? Promotion goes one step
 * at a time, JMS_ONLY -> DUAL_WRITE_JMS_PRIMARY -> DUAL_WRITE_KAFKA_PRIMARY ->
 * KAFKA_ONLY; entering KAFKA_ONLY also needs the consistency of the last
 * window (@p consistency, meaningful when @p have_consistency) to reach
 * @p threshold. Moving back, or staying, is always allowed.
 *
 * Returns 0 when allowed and CUT_EINVAL when refused; @p why (may be NULL)
 * receives a one-line reason: why it is refused, or, when @p force let a
 * refused change through, what was overridden (empty when nothing was).
 */
int cut_mode_check_change(enum cut_mode from, enum cut_mode to, double consistency,
                          bool have_consistency, double threshold, bool force, char *why,
                          size_t len);

/* ---- the ack rule --------------------------------------------------------- */

/** What a side has answered for one message, as the router sees it. */
enum cut_side_result {
    CUT_RES_PENDING,          /**< sent, no answer yet */
    CUT_RES_CONFIRMED,        /**< confirmed (Kafka delivery report OK, broker accepted) */
    CUT_RES_FAILED_TRANSIENT, /**< failed, may succeed later (timeout, broker down) */
    CUT_RES_FAILED_PERMANENT, /**< refused for good (poison, too large, unroutable) */
    CUT_RES_RECORDED,         /**< failed, and the failure is durably in the repair ledger */
    CUT_RES_NOT_REQUIRED,     /**< not sent there by design (mode, filter) */
};
#define CUT_RES_COUNT 6

/** What to do with the source message. */
enum cut_ack {
    CUT_ACK_ACCEPT,      /**< ack/settle accepted: everything the mode requires is done */
    CUT_ACK_RETRY,       /**< release for redelivery (the router dead-letters after N attempts) */
    CUT_ACK_DEAD_LETTER, /**< the primary refused it for good: to the dead-letter destination */
    CUT_ACK_WAIT,        /**< not yet: a side owes an answer, or a secondary failure must be
                              retried or recorded in the ledger first */
};

/** "ACCEPT", "RETRY", "DEAD_LETTER", "WAIT". */
const char *cut_ack_name(enum cut_ack ack);
/** "pending", "confirmed", "failed-transient", "failed-permanent", "recorded", "not-required". */
const char *cut_side_result_name(enum cut_side_result res);

/**
 * The ack rule (docs/operations.md, "When the source is acked"):
 *  1. a side still PENDING: WAIT (a delivery is settled once, after every answer);
 *  2. the primary (cut_mode_primary) decides failures: FAILED_PERMANENT gives
 *     DEAD_LETTER; FAILED_TRANSIENT gives RETRY; RECORDED and NOT_REQUIRED are
 *     not valid for a primary and give RETRY, never ACCEPT;
 *  3. primary CONFIRMED: in a single-write mode, ACCEPT (the other side is
 *     ignored); in a dual-write mode the secondary must be CONFIRMED, RECORDED
 *     or NOT_REQUIRED for ACCEPT; a FAILED secondary gives WAIT: retry it or
 *     record it in the ledger (cut_store_ledger_add_batch), then ask again
 *     with CUT_RES_RECORDED.
 * Pure; safe on the message path.
 */
enum cut_ack cut_mode_ack(enum cut_mode mode, enum cut_side_result legacy,
                          enum cut_side_result kafka);

/* ---- publishing a table to running flows ----------------------------------- */

/**
 * A board holds the current mode table of a running bridge. One thread (the
 * store watcher) publishes new tables; flow threads check the generation on
 * every loop turn (one relaxed atomic load) and take the new table only when
 * it changed. Tables are reference-counted: an old table lives until the last
 * flow releases it, so resolution never takes a lock.
 *
 * Thread safety: every function may be called from any thread.
 */
struct cut_mode_board;

/** Create a board holding an empty table (everything resolves to JMS_ONLY). */
int cut_mode_board_create(struct cut_mode_board **board);
/** Accepts NULL. Every acquired table must have been released. */
void cut_mode_board_destroy(struct cut_mode_board *board);

/** Publish @p t (taken: the board owns its contents; *t is reset to empty). */
int cut_mode_board_publish(struct cut_mode_board *board, struct cut_mode_table *t);

/** Generation of the current table: cheap, for the per-turn check. */
uint64_t cut_mode_board_generation(const struct cut_mode_board *board);

/**
 * The current table, valid until cut_mode_board_release(); @p gen (may be
 * NULL) receives its generation. Never NULL.
 */
const struct cut_mode_table *cut_mode_board_acquire(struct cut_mode_board *board, uint64_t *gen);
/** Release a table from cut_mode_board_acquire(). Accepts NULL. */
void cut_mode_board_release(struct cut_mode_board *board, const struct cut_mode_table *t);

#endif
