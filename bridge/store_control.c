/*
 * Control data: flows and their status, modes, the global default and the
 * audit log. Every change is one BEGIN IMMEDIATE transaction holding the
 * change, its audit records and the status change it implies, so that a
 * crash or a refused write never leaves a change without its audit record
 * (or the reverse).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

#define NAME_MAX_LEN 200

static const char *or_empty(const char *s)
{
    return s != NULL ? s : "";
}

static int check_name(const char *what, const char *name, bool may_be_empty, struct cut_err *err)
{
    if (name == NULL || (!may_be_empty && name[0] == '\0') || strlen(name) > NAME_MAX_LEN) {
        return cut_err_set(err, CUT_EINVAL, "%s must be 1 to %d characters", what, NAME_MAX_LEN);
    }
    return CUT_OK;
}

/* Step a statement that returns no rows, then finalize it. */
static int run(struct cut_store *st, sqlite3_stmt *stmt, const char *what, struct cut_err *err)
{
    int src = sqlite3_step(stmt);
    int rc = src == SQLITE_DONE ? CUT_OK : store_fail(st, src, err, what);
    sqlite3_finalize(stmt);
    return rc;
}

static int audit_add(struct cut_store *st, const char *now, const char *actor, const char *flow,
                     const char *msg_type, const char *what, const char *from, const char *to,
                     const char *reason, struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = store_prepare(st,
                           "INSERT INTO audit (at, actor, flow, msg_type, what, from_value, "
                           "to_value, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           &stmt, err);
    if (rc != CUT_OK) {
        return rc;
    }
    store_bind_text(stmt, 1, now);
    store_bind_text(stmt, 2, actor != NULL && actor[0] != '\0' ? actor : "unknown");
    store_bind_text(stmt, 3, flow);
    store_bind_text(stmt, 4, msg_type);
    store_bind_text(stmt, 5, what);
    store_bind_text(stmt, 6, from);
    store_bind_text(stmt, 7, to);
    store_bind_text(stmt, 8, or_empty(reason));
    return run(st, stmt, "audit", err);
}

static int flow_ensure(struct cut_store *st, const char *flow, const char *now, bool *added,
                       struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = store_prepare(st,
                           "INSERT OR IGNORE INTO flows (name, status, status_changed_at, "
                           "created_at) VALUES (?, 'PENDING', ?, ?)",
                           &stmt, err);
    if (rc != CUT_OK) {
        return rc;
    }
    store_bind_text(stmt, 1, flow);
    store_bind_text(stmt, 2, now);
    store_bind_text(stmt, 3, now);
    rc = run(st, stmt, "flows", err);
    if (added != NULL) {
        *added = rc == CUT_OK && sqlite3_changes(st->db) > 0;
    }
    return rc;
}

static int status_get(struct cut_store *st, const char *flow, enum cut_flow_status *status,
                      bool *found, struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = store_prepare(st, "SELECT status FROM flows WHERE name = ?", &stmt, err);
    *found = false;
    if (rc != CUT_OK) {
        return rc;
    }
    store_bind_text(stmt, 1, flow);
    int src = sqlite3_step(stmt);
    if (src == SQLITE_ROW) {
        *found = true;
        if (cut_flow_status_parse(store_col_text(stmt, 0), status) != 0) {
            rc = cut_err_set(err, CUT_EFATAL, "flow %s has an unknown status in the store", flow);
        }
    } else if (src != SQLITE_DONE) {
        rc = store_fail(st, src, err, "flows");
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int status_write(struct cut_store *st, const char *flow, enum cut_flow_status from,
                        enum cut_flow_status to, const char *now, const char *actor,
                        const char *reason, struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = store_prepare(st,
                           "UPDATE flows SET status = ?, status_changed_at = ?, status_reason = ? "
                           "WHERE name = ?",
                           &stmt, err);
    if (rc != CUT_OK) {
        return rc;
    }
    store_bind_text(stmt, 1, cut_flow_status_name(to));
    store_bind_text(stmt, 2, now);
    store_bind_text(stmt, 3, or_empty(reason));
    store_bind_text(stmt, 4, flow);
    rc = run(st, stmt, "flows", err);
    if (rc == CUT_OK) {
        rc = audit_add(st, now, actor, flow, NULL, "status", cut_flow_status_name(from),
                       cut_flow_status_name(to), reason, err);
    }
    return rc;
}

static int mode_write(struct cut_store *st, const char *flow, const char *msg_type,
                      enum cut_mode mode, const char *now, struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc =
        store_prepare(st,
                      "INSERT INTO modes (flow, msg_type, mode, changed_at) VALUES (?, ?, ?, ?) "
                      "ON CONFLICT (flow, msg_type) DO UPDATE SET mode = excluded.mode, "
                      "changed_at = excluded.changed_at",
                      &stmt, err);
    if (rc != CUT_OK) {
        return rc;
    }
    store_bind_text(stmt, 1, flow);
    store_bind_text(stmt, 2, msg_type);
    store_bind_text(stmt, 3, cut_mode_name(mode));
    store_bind_text(stmt, 4, now);
    return run(st, stmt, "modes", err);
}

/* What the modes of @p flow in @p t amount to: does any of its traffic go to
 * Kafka, does all of it go to Kafka only. */
static void flow_modes(const struct cut_mode_table *t, const char *flow, bool *any_moved,
                       bool *all_kafka)
{
    enum cut_mode m = cut_mode_resolve(t, flow, NULL);
    *any_moved = m != CUT_MODE_JMS_ONLY;
    *all_kafka = m == CUT_MODE_KAFKA_ONLY;
    for (size_t i = 0; i < t->n; i++) {
        const struct cut_mode_entry *e = &t->entries[i];
        if (e->msg_type[0] != '\0' && strcmp(e->flow, flow) == 0) {
            *any_moved = *any_moved || e->mode != CUT_MODE_JMS_ONLY;
            *all_kafka = *all_kafka && e->mode == CUT_MODE_KAFKA_ONLY;
        }
    }
}

/* The status changes a mode change implies (store.h, cut_store_mode_set). */
static int refresh_status(struct cut_store *st, const struct cut_mode_table *t, const char *flow,
                          const char *now, const char *actor, const char *reason,
                          struct cut_err *err)
{
    enum cut_flow_status status, next;
    bool found, any_moved, all_kafka;
    int rc = status_get(st, flow, &status, &found, err);
    if (rc != CUT_OK || !found) {
        return rc;
    }
    flow_modes(t, flow, &any_moved, &all_kafka);
    next = status;
    if ((status == CUT_FLOW_PENDING || status == CUT_FLOW_ROLLED_BACK) && any_moved) {
        next = CUT_FLOW_IN_PROGRESS;
    } else if (status == CUT_FLOW_COMPLETED && !all_kafka) {
        next = CUT_FLOW_IN_PROGRESS;
    }
    return next == status ? CUT_OK : status_write(st, flow, status, next, now, actor, reason, err);
}

int cut_store_modes_load(struct cut_store *st, struct cut_mode_table *out, struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int src = SQLITE_DONE, rc;

    cut_mode_table_init(out);
    rc = cut_store_default_get(st, &out->def, &out->has_default, err);
    if (rc == CUT_OK) {
        rc = store_prepare(st, "SELECT flow, msg_type, mode FROM modes", &stmt, err);
    }
    while (rc == CUT_OK && (src = sqlite3_step(stmt)) == SQLITE_ROW) {
        enum cut_mode mode;
        const char *flow = store_col_text(stmt, 0);
        if (cut_mode_parse(store_col_text(stmt, 2), &mode) != 0) {
            rc = cut_err_set(err, CUT_EFATAL, "flow %s has an unknown mode in the store", flow);
        } else {
            rc = cut_mode_table_set(out, flow, store_col_text(stmt, 1), mode);
            if (rc != CUT_OK) {
                cut_err_set(err, rc, "out of memory");
            }
        }
    }
    if (rc == CUT_OK && src != SQLITE_DONE) {
        rc = store_fail(st, src, err, "modes");
    }
    sqlite3_finalize(stmt);
    return rc;
}

int cut_store_default_get(struct cut_store *st, enum cut_mode *mode, bool *set, struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = store_prepare(st, "SELECT value FROM settings WHERE key = 'default_mode'", &stmt, err);
    *set = false;
    *mode = CUT_MODE_JMS_ONLY;
    if (rc != CUT_OK) {
        return rc;
    }
    int src = sqlite3_step(stmt);
    if (src == SQLITE_ROW) {
        if (cut_mode_parse(store_col_text(stmt, 0), mode) != 0) {
            rc = cut_err_set(err, CUT_EFATAL, "the stored default mode is unknown");
        }
        *set = rc == CUT_OK;
    } else if (src != SQLITE_DONE) {
        rc = store_fail(st, src, err, "settings");
    }
    sqlite3_finalize(stmt);
    return rc;
}

int cut_store_mode_set(struct cut_store *st, const char *flow, const char *msg_type,
                       enum cut_mode mode, const enum cut_mode *expect, const char *actor,
                       const char *reason, struct cut_err *err)
{
    char now[STORE_TIME_LEN];
    struct cut_mode_table t;
    int rc;

    cut_mode_table_init(&t);
    msg_type = or_empty(msg_type);
    if ((rc = check_name("flow name", flow, false, err)) != CUT_OK ||
        (rc = check_name("message type", msg_type, true, err)) != CUT_OK) {
        return rc;
    }
    if ((unsigned)mode >= CUT_MODE_COUNT) {
        return cut_err_set(err, CUT_EINVAL, "unknown mode %d", (int)mode);
    }
    store_now(now);
    if ((rc = store_begin(st, err)) != CUT_OK) {
        return rc;
    }
    rc = flow_ensure(st, flow, now, NULL, err);
    if (rc == CUT_OK) {
        rc = cut_store_modes_load(st, &t, err);
    }
    if (rc != CUT_OK) {
        goto out;
    }
    enum cut_mode in_effect = cut_mode_resolve(&t, flow, msg_type);
    if (expect != NULL && *expect != in_effect) {
        rc = cut_err_set(err, CUT_ERETRY, "%s%s%s changed meanwhile: it is now %s", flow,
                         msg_type[0] ? " type " : "", msg_type, cut_mode_name(in_effect));
        goto out;
    }
    const struct cut_mode_entry *row = cut_mode_table_find(&t, flow, msg_type);
    if (row != NULL && row->mode == mode) {
        goto out; /* nothing changes, nothing to audit */
    }
    rc = mode_write(st, flow, msg_type, mode, now, err);
    if (rc == CUT_OK) {
        rc = audit_add(st, now, actor, flow, msg_type[0] ? msg_type : NULL, "mode",
                       row ? cut_mode_name(row->mode) : NULL, cut_mode_name(mode), reason, err);
    }
    if (rc == CUT_OK && (rc = cut_mode_table_set(&t, flow, msg_type, mode)) != CUT_OK) {
        cut_err_set(err, rc, "out of memory");
    }
    if (rc == CUT_OK) {
        rc = refresh_status(st, &t, flow, now, actor, reason, err);
    }
out:
    cut_mode_table_fini(&t);
    return store_end(st, rc, err);
}

int cut_store_mode_clear(struct cut_store *st, const char *flow, const char *msg_type,
                         const char *actor, const char *reason, struct cut_err *err)
{
    char now[STORE_TIME_LEN];
    struct cut_mode_table t;
    sqlite3_stmt *stmt = NULL;
    int rc;

    cut_mode_table_init(&t);
    msg_type = or_empty(msg_type);
    if ((rc = check_name("flow name", flow, false, err)) != CUT_OK) {
        return rc;
    }
    store_now(now);
    if ((rc = store_begin(st, err)) != CUT_OK) {
        return rc;
    }
    rc = cut_store_modes_load(st, &t, err);
    const struct cut_mode_entry *row =
        rc == CUT_OK ? cut_mode_table_find(&t, flow, msg_type) : NULL;
    if (row == NULL) {
        goto out;
    }
    enum cut_mode old = row->mode;
    rc = store_prepare(st, "DELETE FROM modes WHERE flow = ? AND msg_type = ?", &stmt, err);
    if (rc == CUT_OK) {
        store_bind_text(stmt, 1, flow);
        store_bind_text(stmt, 2, msg_type);
        rc = run(st, stmt, "modes", err);
    }
    if (rc == CUT_OK) {
        rc = audit_add(st, now, actor, flow, msg_type[0] ? msg_type : NULL, "mode",
                       cut_mode_name(old), NULL, reason, err);
    }
    if (rc == CUT_OK) {
        /* Rebuild without the row: the table has no delete. */
        cut_mode_table_fini(&t);
        rc = cut_store_modes_load(st, &t, err);
    }
    if (rc == CUT_OK) {
        rc = refresh_status(st, &t, flow, now, actor, reason, err);
    }
out:
    cut_mode_table_fini(&t);
    return store_end(st, rc, err);
}

/* Names of every stored flow; free with free_names(). */
static int flow_names(struct cut_store *st, char ***names, size_t *n, struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    size_t cap = 0;
    int src = SQLITE_DONE;
    int rc = store_prepare(st, "SELECT name FROM flows ORDER BY name", &stmt, err);

    *names = NULL;
    *n = 0;
    while (rc == CUT_OK && (src = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(*names, cap * sizeof(*grown));
            if (grown == NULL) {
                rc = cut_err_set(err, CUT_ENOMEM, "out of memory");
                break;
            }
            *names = grown;
        }
        if (((*names)[*n] = strdup(store_col_text(stmt, 0))) == NULL) {
            rc = cut_err_set(err, CUT_ENOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    if (rc == CUT_OK && src != SQLITE_DONE) {
        rc = store_fail(st, src, err, "flows");
    }
    sqlite3_finalize(stmt);
    return rc;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

int cut_store_default_set(struct cut_store *st, enum cut_mode mode, const enum cut_mode *expect,
                          const char *actor, const char *reason, struct cut_err *err)
{
    char now[STORE_TIME_LEN];
    struct cut_mode_table t;
    sqlite3_stmt *stmt = NULL;
    char **names = NULL;
    size_t n = 0;
    int rc;

    if ((unsigned)mode >= CUT_MODE_COUNT) {
        return cut_err_set(err, CUT_EINVAL, "unknown mode %d", (int)mode);
    }
    cut_mode_table_init(&t);
    store_now(now);
    if ((rc = store_begin(st, err)) != CUT_OK) {
        return rc;
    }
    rc = cut_store_modes_load(st, &t, err);
    if (rc != CUT_OK) {
        goto out;
    }
    enum cut_mode in_effect = t.has_default ? t.def : CUT_MODE_JMS_ONLY;
    if (expect != NULL && *expect != in_effect) {
        rc = cut_err_set(err, CUT_ERETRY, "the default changed meanwhile: it is now %s",
                         cut_mode_name(in_effect));
        goto out;
    }
    if (t.has_default && t.def == mode) {
        goto out;
    }
    rc = store_prepare(st,
                       "INSERT INTO settings (key, value) VALUES ('default_mode', ?) "
                       "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                       &stmt, err);
    if (rc == CUT_OK) {
        store_bind_text(stmt, 1, cut_mode_name(mode));
        rc = run(st, stmt, "settings", err);
    }
    if (rc == CUT_OK) {
        rc = audit_add(st, now, actor, NULL, NULL, "default",
                       t.has_default ? cut_mode_name(t.def) : NULL, cut_mode_name(mode), reason,
                       err);
    }
    t.has_default = true;
    t.def = mode;
    if (rc == CUT_OK) {
        rc = flow_names(st, &names, &n, err);
    }
    for (size_t i = 0; rc == CUT_OK && i < n; i++) {
        rc = refresh_status(st, &t, names[i], now, actor, reason, err);
    }
out:
    free_names(names, n);
    cut_mode_table_fini(&t);
    return store_end(st, rc, err);
}

int cut_store_flows_register(struct cut_store *st, const char *const *names, size_t n,
                             struct cut_err *err)
{
    char now[STORE_TIME_LEN], reason[80];
    struct cut_mode_table t;
    int rc = CUT_OK;

    cut_mode_table_init(&t);

    for (size_t i = 0; rc == CUT_OK && i < n; i++) {
        rc = check_name("flow name", names[i], false, err);
    }
    if (rc != CUT_OK || n == 0) {
        return rc;
    }
    store_now(now);
    if ((rc = store_begin(st, err)) != CUT_OK) {
        return rc;
    }
    rc = cut_store_modes_load(st, &t, err);
    for (size_t i = 0; rc == CUT_OK && i < n; i++) {
        bool added = false;
        rc = flow_ensure(st, names[i], now, &added, err);
        /* A new flow under a default other than JMS_ONLY has left JMS_ONLY
         * the moment it runs: say so now rather than show it PENDING. */
        if (rc == CUT_OK && added && t.has_default && t.def != CUT_MODE_JMS_ONLY) {
            snprintf(reason, sizeof(reason), "new flow under the default %s", cut_mode_name(t.def));
            rc = refresh_status(st, &t, names[i], now, "cutover", reason, err);
        }
    }
    cut_mode_table_fini(&t);
    return store_end(st, rc, err);
}

int cut_store_flows_list(struct cut_store *st, const char *name, cut_store_flow_cb cb, void *opaque,
                         struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int src, rc = store_prepare(st,
                                "SELECT name, status, status_changed_at, status_reason, created_at "
                                "FROM flows WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
                                &stmt, err);
    if (rc != CUT_OK) {
        return rc;
    }
    store_bind_text(stmt, 1, name);
    while ((src = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct cut_flow_info info = {
            .name = store_col_text(stmt, 0),
            .status_changed_at = store_col_text(stmt, 2),
            .status_reason = or_empty(store_col_text(stmt, 3)),
            .created_at = store_col_text(stmt, 4),
        };
        if (cut_flow_status_parse(store_col_text(stmt, 1), &info.status) != 0) {
            rc = cut_err_set(err, CUT_EFATAL, "flow %s has an unknown status in the store",
                             info.name);
            break;
        }
        if (cb(opaque, &info) != 0) {
            break;
        }
    }
    if (rc == CUT_OK && src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = store_fail(st, src, err, "flows");
    }
    sqlite3_finalize(stmt);
    return rc;
}

int cut_store_flow_complete(struct cut_store *st, const char *flow, const char *actor,
                            const char *reason, struct cut_err *err)
{
    char now[STORE_TIME_LEN];
    struct cut_mode_table t;
    enum cut_flow_status status;
    bool found, any_moved, all_kafka;
    int rc;

    cut_mode_table_init(&t);
    store_now(now);
    if ((rc = store_begin(st, err)) != CUT_OK) {
        return rc;
    }
    rc = status_get(st, flow, &status, &found, err);
    if (rc != CUT_OK || (found && status == CUT_FLOW_COMPLETED)) {
        goto out;
    }
    if (!found) {
        rc = cut_err_set(err, CUT_EINVAL, "unknown flow %s", flow);
        goto out;
    }
    if (status != CUT_FLOW_IN_PROGRESS) {
        rc = cut_err_set(err, CUT_EINVAL,
                         "flow %s is %s: only an IN_PROGRESS flow in KAFKA_ONLY can be completed",
                         flow, cut_flow_status_name(status));
        goto out;
    }
    if ((rc = cut_store_modes_load(st, &t, err)) != CUT_OK) {
        goto out;
    }
    flow_modes(&t, flow, &any_moved, &all_kafka);
    if (!all_kafka) {
        enum cut_mode m = cut_mode_resolve(&t, flow, NULL);
        rc = cut_err_set(err, CUT_EINVAL,
                         "flow %s is not entirely in KAFKA_ONLY (flow level: %s%s): move it, "
                         "and every message-type override, to KAFKA_ONLY first",
                         flow, cut_mode_name(m),
                         m == CUT_MODE_KAFKA_ONLY ? "; an override is not" : "");
        goto out;
    }
    rc = status_write(st, flow, status, CUT_FLOW_COMPLETED, now, actor, reason, err);
out:
    cut_mode_table_fini(&t);
    return store_end(st, rc, err);
}

int cut_store_flow_rollback(struct cut_store *st, const char *flow, const char *actor,
                            const char *reason, struct cut_err *err)
{
    char now[STORE_TIME_LEN];
    struct cut_mode_table t;
    enum cut_flow_status status;
    bool found;
    int rc;

    cut_mode_table_init(&t);
    store_now(now);
    if ((rc = store_begin(st, err)) != CUT_OK) {
        return rc;
    }
    rc = status_get(st, flow, &status, &found, err);
    if (rc == CUT_OK && !found) {
        rc = cut_err_set(err, CUT_EINVAL, "unknown flow %s", flow);
    } else if (rc == CUT_OK && status == CUT_FLOW_PENDING) {
        rc = cut_err_set(err, CUT_EINVAL,
                         "flow %s is PENDING (it never left JMS_ONLY): nothing to roll back", flow);
    }
    if (rc == CUT_OK) {
        rc = cut_store_modes_load(st, &t, err);
    }
    /* The flow level is pinned to JMS_ONLY even when it inherited: a later
     * change of the default must not move a rolled-back flow. */
    const struct cut_mode_entry *row = rc == CUT_OK ? cut_mode_table_find(&t, flow, NULL) : NULL;
    if (rc == CUT_OK && (row == NULL || row->mode != CUT_MODE_JMS_ONLY)) {
        rc = mode_write(st, flow, "", CUT_MODE_JMS_ONLY, now, err);
        if (rc == CUT_OK) {
            rc = audit_add(st, now, actor, flow, NULL, "rollback",
                           row ? cut_mode_name(row->mode) : NULL, "JMS_ONLY", reason, err);
        }
    }
    for (size_t i = 0; rc == CUT_OK && i < t.n; i++) {
        const struct cut_mode_entry *e = &t.entries[i];
        if (e->msg_type[0] == '\0' || strcmp(e->flow, flow) != 0 || e->mode == CUT_MODE_JMS_ONLY) {
            continue;
        }
        rc = mode_write(st, flow, e->msg_type, CUT_MODE_JMS_ONLY, now, err);
        if (rc == CUT_OK) {
            rc = audit_add(st, now, actor, flow, e->msg_type, "rollback", cut_mode_name(e->mode),
                           "JMS_ONLY", reason, err);
        }
    }
    if (rc == CUT_OK && status != CUT_FLOW_ROLLED_BACK) {
        rc = status_write(st, flow, status, CUT_FLOW_ROLLED_BACK, now, actor, reason, err);
    }
    cut_mode_table_fini(&t);
    return store_end(st, rc, err);
}

int cut_store_audit_list(struct cut_store *st, const char *flow, cut_audit_cb cb, void *opaque,
                         struct cut_err *err)
{
    sqlite3_stmt *stmt = NULL;
    int src, rc = store_prepare(st,
                                "SELECT id, at, actor, flow, msg_type, what, from_value, to_value, "
                                "reason FROM audit WHERE ?1 IS NULL OR flow = ?1 ORDER BY id",
                                &stmt, err);
    if (rc != CUT_OK) {
        return rc;
    }
    store_bind_text(stmt, 1, flow);
    while ((src = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct cut_audit_record rec = {
            .id = sqlite3_column_int64(stmt, 0),
            .at = store_col_text(stmt, 1),
            .actor = store_col_text(stmt, 2),
            .flow = store_col_text(stmt, 3),
            .msg_type = store_col_text(stmt, 4),
            .what = store_col_text(stmt, 5),
            .from = store_col_text(stmt, 6),
            .to = store_col_text(stmt, 7),
            .reason = or_empty(store_col_text(stmt, 8)),
        };
        if (cb(opaque, &rec) != 0) {
            break;
        }
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = store_fail(st, src, err, "audit");
    }
    sqlite3_finalize(stmt);
    return rc;
}
