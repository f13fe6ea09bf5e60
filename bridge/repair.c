/*
 * Repair: the open ledger entries of one flow, replayed batch by batch to
 * the side that missed them (see repair.h for the rules). One pass lists
 * the entries to learn their ids and age, the presence check reads the
 * Kafka topics once for all of them, then batches of entries are sent, their
 * confirmations awaited (driving each sink's poll()), and the outcome
 * written to the ledger and the tracking table.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cutover/log.h"
#include "cutover/msgcodec.h"
#include "readback.h"
#include "reconciler.h"
#include "repair.h"

#define POLL_MS 50

/* ---- a set of message ids ------------------------------------------------- */

enum { ID_PRESENT = 1u };

struct idset {
    char **keys;
    uint8_t *flags;
    size_t cap, n;
};

static size_t idset_slot(const struct idset *s, const void *id, size_t len)
{
    uint64_t h = cut_readback_hash(id, len);
    size_t i = (size_t)(h * 0x9e3779b97f4a7c15ull >> 20) & (s->cap - 1);
    while (s->keys[i] != NULL && !(strlen(s->keys[i]) == len && memcmp(s->keys[i], id, len) == 0)) {
        i = (i + 1) & (s->cap - 1);
    }
    return i;
}

static int idset_add(struct idset *s, const char *id)
{
    if (2 * (s->n + 1) > s->cap) {
        struct idset bigger = {.cap = s->cap ? 2 * s->cap : 1024};
        bigger.keys = calloc(bigger.cap, sizeof(*bigger.keys));
        bigger.flags = calloc(bigger.cap, 1);
        if (bigger.keys == NULL || bigger.flags == NULL) {
            free(bigger.keys);
            free(bigger.flags);
            return CUT_ENOMEM;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (s->keys[i] != NULL) {
                size_t j = idset_slot(&bigger, s->keys[i], strlen(s->keys[i]));
                bigger.keys[j] = s->keys[i];
                bigger.flags[j] = s->flags[i];
            }
        }
        bigger.n = s->n;
        free(s->keys);
        free(s->flags);
        *s = bigger;
    }
    size_t i = idset_slot(s, id, strlen(id));
    if (s->keys[i] == NULL) {
        if ((s->keys[i] = strdup(id)) == NULL) {
            return CUT_ENOMEM;
        }
        s->n++;
    }
    return CUT_OK;
}

static uint8_t *idset_flags(struct idset *s, const void *id, size_t len)
{
    if (s->cap == 0) {
        return NULL;
    }
    size_t i = idset_slot(s, id, len);
    return s->keys[i] != NULL ? &s->flags[i] : NULL;
}

static void idset_fini(struct idset *s)
{
    for (size_t i = 0; i < s->cap; i++) {
        free(s->keys[i]);
    }
    free(s->keys);
    free(s->flags);
}

/* ---- the run -------------------------------------------------------------- */

enum outcome { OUT_NONE, OUT_SENDING, OUT_OK, OUT_PRESENT, OUT_FAILED, OUT_SKIPPED, OUT_BAD };

struct entry {
    int64_t id;
    enum cut_side side;
    char *message_id;
    char *created_at;
    void *blob;
    size_t blob_len;
    enum outcome outcome;
    size_t leader; /* the entry whose send stands for this one (itself when it sends) */
    char why[CUT_ERR_MSG_MAX + 64];
};

struct run {
    struct cut_store *st;
    const struct cut_repair_options *o;
    struct cut_repair_result *res;
    struct idset kafka_ids;  /* every open Kafka-side id; PRESENT once found */
    int64_t oldest_kafka_ms; /* created_at of the oldest Kafka-side entry */
    struct entry *batch;
    size_t n, cap;
    int64_t last_id;
    bool oom;
    struct cut_sink *sinks[2];
    const struct cut_sink_ops *ops[2];
    struct cut_sink_params params[2];
    struct cut_converter *conv;
    const struct cut_converter_ops *conv_ops;
    size_t outstanding;
};

static int count_cb(void *opaque, const struct cut_ledger_entry *e)
{
    struct run *r = opaque;
    r->res->open[e->side]++;
    if (e->side == CUT_SIDE_KAFKA) {
        int64_t at = cut_recon_parse_time(e->created_at);
        if (at >= 0 && (r->oldest_kafka_ms < 0 || at < r->oldest_kafka_ms)) {
            r->oldest_kafka_ms = at;
        }
        r->oom |= idset_add(&r->kafka_ids, e->message_id) != CUT_OK;
    }
    return r->oom;
}

static void found_cb(void *opaque, const char *topic, const void *id, size_t len)
{
    struct run *r = opaque;
    uint8_t *flags = idset_flags(&r->kafka_ids, id, len);
    (void)topic;
    if (flags != NULL) {
        *flags |= ID_PRESENT;
    }
}

static int batch_cb(void *opaque, const struct cut_ledger_entry *e)
{
    struct run *r = opaque;
    struct entry *x = &r->batch[r->n];
    memset(x, 0, sizeof(*x));
    x->id = e->id;
    x->side = e->side;
    x->message_id = strdup(e->message_id);
    x->created_at = strdup(e->created_at ? e->created_at : "");
    x->leader = r->n;
    if (e->headers != NULL && e->headers_len > 0) {
        x->blob = malloc(e->headers_len);
        x->blob_len = e->headers_len;
        if (x->blob != NULL) {
            memcpy(x->blob, e->headers, e->headers_len);
        }
    }
    r->last_id = e->id;
    r->n++;
    r->oom |=
        x->message_id == NULL || x->created_at == NULL || (e->headers_len > 0 && x->blob == NULL);
    return r->oom;
}

static void batch_clear(struct run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->batch[i].message_id);
        free(r->batch[i].created_at);
        free(r->batch[i].blob);
    }
    r->n = 0;
}

static void on_confirm(void *opaque, cut_token_t token, int status, const struct cut_err *err)
{
    struct run *r = opaque;
    if (token >= r->n || r->batch[token].outcome != OUT_SENDING) {
        return;
    }
    struct entry *x = &r->batch[token];
    x->outcome = status == CUT_OK ? OUT_OK : OUT_FAILED;
    if (status != CUT_OK) {
        snprintf(x->why, sizeof(x->why), "%s", err != NULL ? err->msg : "not confirmed");
    }
    r->outstanding--;
}

static int sink_for(struct run *r, enum cut_side side, struct cut_err *err)
{
    const struct cut_repair_options *o = r->o;
    int rc = CUT_OK;
    if (r->sinks[side] == NULL) {
        r->ops[side] = side == CUT_SIDE_KAFKA ? o->kafka_ops : o->legacy_ops;
        r->params[side] = (struct cut_sink_params){
            .flow = o->flow,
            .conn_settings =
                side == CUT_SIDE_KAFKA ? o->kafka_conn_settings : o->legacy_conn_settings,
            .settings = side == CUT_SIDE_KAFKA ? o->kafka_settings : o->legacy_settings,
            .confirm = on_confirm,
            .opaque = r,
        };
        rc = r->ops[side]->create(&r->sinks[side], &r->params[side], err);
    }
    if (rc == CUT_OK && side == CUT_SIDE_KAFKA && r->conv == NULL) {
        r->conv_ops = o->conv_ops != NULL ? o->conv_ops : &cut_passthrough_converter;
        rc = r->conv_ops->create(&r->conv, o->conv_settings, err);
    }
    return rc;
}

static void poll_sinks(struct run *r, int timeout_ms)
{
    for (int side = 0; side < 2; side++) {
        if (r->sinks[side] != NULL) {
            r->ops[side]->poll(r->sinks[side], timeout_ms);
            timeout_ms = 0;
        }
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send entry @p i (decoded as @p msg); a full or reconnecting sink is
 * waited for until @p deadline. */
static void send_one(struct run *r, size_t i, const struct cut_msg *msg, int64_t deadline)
{
    struct entry *x = &r->batch[i];
    struct cut_record rec, *recp = NULL;
    struct cut_err err = {0};
    int rc = sink_for(r, x->side, &err);
    if (rc != CUT_OK) {
        x->outcome = OUT_FAILED;
        snprintf(x->why, sizeof(x->why), "cannot create the %s sink: %s", cut_side_name(x->side),
                 err.msg);
        return;
    }
    if (x->side == CUT_SIDE_KAFKA) {
        enum cut_verdict verdict = CUT_VERDICT_SEND;
        rc = r->conv_ops->convert(r->conv, msg, &rec, &verdict, &err);
        if (rc == CUT_OK && verdict != CUT_VERDICT_SEND) {
            /* Filtered or expired now: nothing owed to Kafka any more. */
            x->outcome = OUT_PRESENT;
            snprintf(x->why, sizeof(x->why), "%s by the flow's converter: not for Kafka",
                     verdict == CUT_VERDICT_FILTERED  ? "filtered"
                     : verdict == CUT_VERDICT_EXPIRED ? "expired"
                                                      : "refused");
            if (verdict == CUT_VERDICT_DEAD_LETTER) {
                x->outcome = OUT_FAILED;
                snprintf(x->why, sizeof(x->why), "cannot be converted: %s", err.msg);
            }
            return;
        }
        recp = &rec;
    }
    x->outcome = OUT_SENDING;
    r->outstanding++;
    while (rc == CUT_OK || rc == CUT_EFULL || rc == CUT_EFATAL) {
        rc = r->ops[x->side]->send(r->sinks[x->side], msg, recp, (cut_token_t)i, &err);
        if (rc == CUT_OK) {
            return;
        }
        if ((rc != CUT_EFULL && rc != CUT_EFATAL) || mono_ms() >= deadline) {
            break;
        }
        poll_sinks(r, POLL_MS);
    }
    r->outstanding--;
    x->outcome = OUT_FAILED;
    snprintf(x->why, sizeof(x->why), "%s", err.msg[0] ? err.msg : cut_status_name(rc));
}

/* Decide and send every entry of the batch. */
static void dispatch(struct run *r, struct idset *legacy_ids, int64_t deadline)
{
    const struct cut_repair_options *o = r->o;
    for (size_t i = 0; i < r->n; i++) {
        struct entry *x = &r->batch[i];
        struct cut_msg_decoded dec = {0};
        struct cut_err err;
        const struct cut_sink_ops *ops = x->side == CUT_SIDE_KAFKA ? o->kafka_ops : o->legacy_ops;
        if (ops == NULL) {
            x->outcome = OUT_SKIPPED;
            snprintf(x->why, sizeof(x->why), "the flow has no %s target in the config",
                     cut_side_name(x->side));
            continue;
        }
        if (x->side == CUT_SIDE_KAFKA) {
            uint8_t *fl = idset_flags(&r->kafka_ids, x->message_id, strlen(x->message_id));
            if (fl != NULL && (*fl & ID_PRESENT)) {
                x->outcome = OUT_PRESENT;
                snprintf(x->why, sizeof(x->why), "already on the topic");
                continue;
            }
        }
        /* The same id twice in the ledger (a redelivered message failed
         * twice): one send stands for both. */
        for (size_t k = 0; k < i; k++) {
            if (r->batch[k].side == x->side && r->batch[k].leader == k &&
                strcmp(r->batch[k].message_id, x->message_id) == 0) {
                x->leader = k;
                break;
            }
        }
        if (x->leader != i) {
            continue;
        }
        if (x->side == CUT_SIDE_LEGACY &&
            idset_flags(legacy_ids, x->message_id, strlen(x->message_id)) != NULL) {
            x->outcome = OUT_PRESENT; /* sent by an earlier batch of this run */
            snprintf(x->why, sizeof(x->why), "sent earlier in this run");
            continue;
        }
        if (x->blob == NULL || cut_msg_decode(x->blob, x->blob_len, &dec, &err) != CUT_OK) {
            x->outcome = OUT_BAD;
            snprintf(x->why, sizeof(x->why), "stored envelope unreadable: %s",
                     x->blob == NULL ? "none stored" : err.msg);
            cut_msg_decoded_fini(&dec);
            continue;
        }
        if (o->dry_run) {
            x->outcome = OUT_OK;
        } else {
            send_one(r, i, &dec.msg, deadline);
        }
        cut_msg_decoded_fini(&dec);
    }
}

static const char *outcome_name(const struct run *r, enum outcome out)
{
    switch (out) {
    case OUT_OK:
        return r->o->dry_run ? "would replay" : "replayed";
    case OUT_PRESENT:
        return "already present";
    case OUT_SKIPPED:
        return "skipped";
    case OUT_BAD:
        return "undecodable";
    default:
        return "FAILED";
    }
}

/* Record the batch's outcomes: ledger, tracking, counts, lines. */
static int settle_batch(struct run *r, struct idset *legacy_ids, struct cut_err *err)
{
    const struct cut_repair_options *o = r->o;
    struct cut_tracking_row *rows = calloc(r->n ? r->n : 1, sizeof(*rows));
    size_t n_rows = 0;
    int rc = rows == NULL ? cut_err_set(err, CUT_ENOMEM, "out of memory") : CUT_OK;
    for (size_t i = 0; rc == CUT_OK && i < r->n; i++) {
        struct entry *x = &r->batch[i];
        enum outcome out =
            x->leader != i && x->outcome == OUT_NONE
                ? (r->batch[x->leader].outcome == OUT_OK ? OUT_PRESENT
                                                         : r->batch[x->leader].outcome)
                : x->outcome;
        if (out == OUT_SENDING || out == OUT_NONE) {
            out = OUT_FAILED;
            snprintf(x->why, sizeof(x->why), "no confirmation within %lld ms",
                     (long long)(o->confirm_timeout_ms ? o->confirm_timeout_ms : 60000));
        }
        if (x->leader != i && out == OUT_PRESENT) {
            snprintf(x->why, sizeof(x->why), "same id as ledger entry %lld",
                     (long long)r->batch[x->leader].id);
        }
        if (o->out != NULL) {
            fprintf(o->out, "%s #%lld %s %s (recorded %s): %s%s%s\n", o->flow, (long long)x->id,
                    cut_side_name(x->side), x->message_id, x->created_at, outcome_name(r, out),
                    x->why[0] ? ": " : "", x->why);
        }
        switch (out) {
        case OUT_OK:
            r->res->replayed[x->side]++;
            break;
        case OUT_PRESENT:
            r->res->present[x->side]++;
            break;
        case OUT_SKIPPED:
            r->res->skipped[x->side]++;
            continue;
        case OUT_BAD:
            r->res->undecodable++;
            break;
        default:
            r->res->failed[x->side]++;
            break;
        }
        if (o->dry_run) {
            continue;
        }
        if (out != OUT_OK && out != OUT_PRESENT) {
            rc = cut_store_ledger_attempt(r->st, x->id, err);
            continue;
        }
        if (x->side == CUT_SIDE_LEGACY && idset_add(legacy_ids, x->message_id) != CUT_OK) {
            rc = cut_err_set(err, CUT_ENOMEM, "out of memory");
            break;
        }
        if (x->side == CUT_SIDE_KAFKA) {
            /* A later batch with the same id finds it there. */
            uint8_t *fl = idset_flags(&r->kafka_ids, x->message_id, strlen(x->message_id));
            if (fl != NULL) {
                *fl |= ID_PRESENT;
            }
        }
        rc = cut_store_ledger_mark_repaired(r->st, x->id, err);
        int64_t at = cut_recon_parse_time(x->created_at);
        int64_t minute = at >= 0 ? at / 60000 * 60 : 0;
        size_t k = 0;
        while (k < n_rows && rows[k].minute != minute) {
            k++;
        }
        if (k == n_rows) {
            rows[n_rows++] = (struct cut_tracking_row){.flow = o->flow, .minute = minute};
        }
        rows[k].counts[x->side == CUT_SIDE_KAFKA ? CUT_TRACK_CONFIRMED_KAFKA
                                                 : CUT_TRACK_CONFIRMED_LEGACY]++;
        rows[k].counts[CUT_TRACK_CONFIRMED_BOTH]++;
    }
    /* After the marks: a crash between the two loses counts (the
     * consistency then reads low), never marks. */
    if (rc == CUT_OK && n_rows > 0) {
        rc = cut_store_tracking_add(r->st, rows, n_rows, err);
    }
    free(rows);
    return rc;
}

int cut_repair_run(struct cut_store *st, const struct cut_repair_options *o,
                   struct cut_repair_result *res, struct cut_err *err)
{
    struct run r = {.st = st, .o = o, .res = res, .oldest_kafka_ms = -1};
    struct idset legacy_ids = {0};
    struct cut_ledger_query all = {.flow = o->flow};
    size_t batch = o->batch ? o->batch : 500;
    int rc;

    memset(res, 0, sizeof(*res));
    r.batch = calloc(batch, sizeof(*r.batch));
    if (r.batch == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    rc = cut_store_ledger_list(st, &all, count_cb, &r, err);
    if (rc == CUT_OK && r.oom) {
        rc = cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    if (rc == CUT_OK && res->open[CUT_SIDE_KAFKA] > 0 && o->kafka_ops != NULL) {
        int64_t margin = o->scan_margin_ms ? o->scan_margin_ms : 15 * 60000;
        rc = cut_readback_scan(
            o->kafka_global, o->kafka_props, o->topics, o->n_topics, r.oldest_kafka_ms - margin,
            o->scan_timeout_ms ? o->scan_timeout_ms : 120000, found_cb, &r, &res->scanned, err);
    }
    for (bool more = rc == CUT_OK; more && rc == CUT_OK;) {
        struct cut_ledger_query q = {.flow = o->flow, .after_id = r.last_id, .limit = batch};
        batch_clear(&r);
        rc = cut_store_ledger_list(st, &q, batch_cb, &r, err);
        if (rc == CUT_OK && r.oom) {
            rc = cut_err_set(err, CUT_ENOMEM, "out of memory");
        }
        if (rc != CUT_OK || r.n == 0) {
            break;
        }
        more = r.n == batch;
        int64_t deadline = mono_ms() + (o->confirm_timeout_ms ? o->confirm_timeout_ms : 60000);
        dispatch(&r, &legacy_ids, deadline);
        while (r.outstanding > 0 && mono_ms() < deadline) {
            poll_sinks(&r, POLL_MS);
        }
        rc = settle_batch(&r, &legacy_ids, err);
    }
    batch_clear(&r);
    for (int side = 0; side < 2; side++) {
        if (r.sinks[side] != NULL) {
            struct cut_err ferr;
            r.ops[side]->flush(r.sinks[side], 5000, &ferr);
            r.n = 0; /* late confirmations find no entry */
            r.ops[side]->destroy(r.sinks[side]);
        }
    }
    if (r.conv != NULL) {
        r.conv_ops->destroy(r.conv);
    }
    idset_fini(&r.kafka_ids);
    idset_fini(&legacy_ids);
    free(r.batch);
    return rc;
}
