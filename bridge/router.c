/*
 * The dual-write router: per message, the mode (resolved when the message is
 * fetched and kept with it while in flight), the sides it is written to, and
 * the ack decided by the mode's rule (cut_mode_ack, bridge/modes.h) as the
 * sides answer:
 *
 *   - the source is acked only when the primary confirmed and the secondary
 *     confirmed or its failure is durably in the repair ledger;
 *   - a failed primary releases the message for redelivery; after
 *     max_attempts it is dead-lettered (refused at the source, whose
 *     dead-letter queue takes it);
 *   - a failing secondary never blocks the primary: a refusal, a full or
 *     broken sink, or silence past secondary_timeout is recorded in the
 *     ledger (one transaction per loop turn) and the message goes on.
 *
 * Both sides of a dual-write message are sent back to back, without waiting
 * for either: the confirmations arrive later through cut_router_on_confirm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/log.h"
#include "flow_int.h"
#include "readback.h"

#define SIDE_BIT(side) ((uint8_t)(1u << (side)))
/* How often the in-flight table is scanned for silent secondaries. */
#define SCAN_EVERY_US 250000
/* Back-off after a failed ledger write (the store is busy or failing). */
#define LEDGER_RETRY_US 500000

static void count(struct cut_flow *flow, enum cut_track_event ev)
{
    if (flow->env.tracker != NULL) {
        cut_tracking_count(flow->env.tracker, flow->env.index, ev);
    }
}

static uint64_t id_hash(const char *id)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h = (h ^ *p) * 0x100000001b3ull;
    }
    return h | 1; /* 0 marks an empty slot */
}

static struct flow_attempt *attempt_slot(struct cut_flow *flow, uint64_t h)
{
    struct flow_attempt *a = &flow->attempts[h % FLOW_ATTEMPT_SLOTS];
    if (a->id_hash != h) {
        *a = (struct flow_attempt){.id_hash = h};
    }
    return a;
}

/* The mode of a message: the operator's flow + type override, the
 * operator's flow mode, the config's `mode`, the global default, JMS_ONLY.
 * A flow with a single target has no choice. */
static enum cut_mode resolve_mode(struct cut_flow *flow, const struct cut_msg *msg)
{
    const struct cut_flow_cfg *cfg = flow->cfg;
    if (flow->targets[CUT_SIDE_LEGACY].ops == NULL) {
        return CUT_MODE_KAFKA_ONLY;
    }
    if (flow->targets[CUT_SIDE_KAFKA].ops == NULL) {
        return CUT_MODE_JMS_ONLY;
    }
    const char *type = msg->type;
    if (cfg->type_property != NULL) {
        const struct cut_prop *prop = cut_msg_prop(msg, cfg->type_property);
        type = prop != NULL && prop->type == CUT_PROP_STRING ? prop->v.s.ptr : NULL;
    }
    const struct cut_mode_entry *e = NULL;
    if (flow->modes != NULL && type != NULL && type[0] != '\0') {
        e = cut_mode_table_find(flow->modes, cfg->name, type);
    }
    if (e == NULL && flow->modes != NULL) {
        e = cut_mode_table_find(flow->modes, cfg->name, "");
    }
    if (e != NULL) {
        return e->mode;
    }
    if (cfg->mode_set) {
        return (enum cut_mode)cfg->mode;
    }
    return flow->modes != NULL && flow->modes->has_default ? flow->modes->def : CUT_MODE_JMS_ONLY;
}

static void settle(struct cut_flow *flow, cut_token_t token, enum cut_outcome outcome)
{
    struct cut_err err;
    atomic_uint_fast64_t *counter = outcome == CUT_OUTCOME_ACCEPT  ? &flow->confirmed
                                    : outcome == CUT_OUTCOME_RETRY ? &flow->retried
                                                                   : &flow->rejected;
    atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
    if (flow->src_ops->settle(flow->src, token, outcome, &err) != CUT_OK) {
        cut_log_warn(flow->cfg->name, "settle failed: %s", err.msg);
    }
}

static bool failed(uint8_t res)
{
    return res == CUT_RES_FAILED_TRANSIENT || res == CUT_RES_FAILED_PERMANENT;
}

static void queue_ledger(struct cut_flow *flow, cut_token_t token)
{
    if (flow->n_ledger == flow->cap_ledger) {
        size_t cap = flow->cap_ledger ? flow->cap_ledger * 2 : 256;
        cut_token_t *q = realloc(flow->ledger_queue, cap * sizeof(*q));
        if (q == NULL) {
            return; /* stays WAIT; the silent-secondary scan queues it again */
        }
        flow->ledger_queue = q;
        flow->cap_ledger = cap;
    }
    flow->ledger_queue[flow->n_ledger++] = token;
}

/* A dead letter is done when every destination confirmed; a failure
 * releases it to try again (it stays marked as poison). */
static void decide_dead_letter(struct cut_flow *flow, struct cut_inflight_slot *slot)
{
    cut_token_t token = slot->token;
    if (slot->res[0] == CUT_RES_PENDING || slot->res[1] == CUT_RES_PENDING) {
        return;
    }
    if (failed(slot->res[0]) || failed(slot->res[1])) {
        settle(flow, token, CUT_OUTCOME_RETRY);
    } else {
        count(flow, CUT_TRACK_DEAD_LETTERED);
        settle(flow, token, CUT_OUTCOME_ACCEPT);
    }
    cut_inflight_remove(&flow->inflight, slot);
}

/* Apply the mode's ack rule to @p token's entry and act on it. */
static void decide(struct cut_flow *flow, cut_token_t token)
{
    struct cut_inflight_slot *slot = cut_inflight_find(&flow->inflight, token);
    if (slot == NULL) {
        return;
    }
    if (slot->dlq) {
        decide_dead_letter(flow, slot);
        return;
    }
    enum cut_mode mode = (enum cut_mode)slot->mode;
    enum cut_side primary = cut_mode_primary(mode);
    enum cut_side secondary = primary == CUT_SIDE_LEGACY ? CUT_SIDE_KAFKA : CUT_SIDE_LEGACY;
    uint8_t res[2] = {slot->res[0], slot->res[1]};
    /* A primary that had nothing to write (filtered or expired for Kafka)
     * is done, as far as the ack is concerned. */
    if (res[primary] == CUT_RES_NOT_REQUIRED) {
        res[primary] = CUT_RES_CONFIRMED;
    }
    enum cut_ack ack = cut_mode_ack(mode, res[CUT_SIDE_LEGACY], res[CUT_SIDE_KAFKA]);
    switch (ack) {
    case CUT_ACK_WAIT:
        if (cut_mode_writes(mode, secondary) && failed(res[secondary]) && !slot->queued) {
            slot->queued = 1;
            queue_ledger(flow, token);
        }
        return;
    case CUT_ACK_ACCEPT:
        /* Consistent: each side has what the mode asks of it (a record
         * filtered or expired for Kafka is not asked for). */
        if (slot->copy != NULL && (res[0] == CUT_RES_CONFIRMED || res[0] == CUT_RES_NOT_REQUIRED) &&
            (res[1] == CUT_RES_CONFIRMED || res[1] == CUT_RES_NOT_REQUIRED)) {
            count(flow, CUT_TRACK_CONFIRMED_BOTH);
        }
        settle(flow, token, CUT_OUTCOME_ACCEPT);
        break;
    case CUT_ACK_RETRY:
        attempt_slot(flow, slot->id_hash)->count++;
        settle(flow, token, CUT_OUTCOME_RETRY);
        break;
    case CUT_ACK_DEAD_LETTER:
        if (flow->conv_ops->dead_letter != NULL) {
            /* The message is no longer in hand: release it marked as poison,
             * and its redelivery goes straight to the dead-letter
             * destinations (admit). */
            struct flow_attempt *a = attempt_slot(flow, slot->id_hash);
            a->count = (uint32_t)flow->cfg->max_attempts;
            settle(flow, token, CUT_OUTCOME_RETRY);
        } else {
            count(flow, CUT_TRACK_DEAD_LETTERED);
            settle(flow, token, CUT_OUTCOME_REJECT);
        }
        break;
    }
    cut_inflight_remove(&flow->inflight, slot);
}

static void set_result(struct cut_flow *flow, cut_token_t token, enum cut_side side, uint8_t res)
{
    struct cut_inflight_slot *slot = cut_inflight_find(&flow->inflight, token);
    if (slot == NULL || slot->res[side] != CUT_RES_PENDING) {
        return; /* a late answer after a timeout or a ledger record */
    }
    if (slot->dlq) {
        slot->res[side] = res;
        decide(flow, token);
        return;
    }
    if (slot->sec_dl && side == CUT_SIDE_KAFKA) {
        /* A dead letter in place of the record: counted as such, and done as
         * far as the ack goes (the message can never be converted). */
        count(flow, res == CUT_RES_CONFIRMED ? CUT_TRACK_DEAD_LETTERED : CUT_TRACK_FAILED_KAFKA);
        slot->res[side] = res == CUT_RES_CONFIRMED ? CUT_RES_NOT_REQUIRED : res;
        decide(flow, token);
        return;
    }
    if (res == CUT_RES_CONFIRMED && flow->env.tracker != NULL) {
        int64_t us = cut_flow_now_us() - slot->sent_us;
        cut_tracking_latency(flow->env.tracker, flow->env.index, side,
                             us < 0            ? 0
                             : us > UINT32_MAX ? UINT32_MAX
                                               : (uint32_t)us);
    }
    if (res == CUT_RES_CONFIRMED && side == CUT_SIDE_KAFKA) {
        /* Read-back: a sample of what Kafka confirmed (no lock, no allocation). */
        cut_readback_push(flow->env.readback, flow->env.index, slot->id_hash);
    }
    count(flow,
          res == CUT_RES_CONFIRMED
              ? (side == CUT_SIDE_KAFKA ? CUT_TRACK_CONFIRMED_KAFKA : CUT_TRACK_CONFIRMED_LEGACY)
              : (side == CUT_SIDE_KAFKA ? CUT_TRACK_FAILED_KAFKA : CUT_TRACK_FAILED_LEGACY));
    slot->res[side] = res;
    decide(flow, token);
}

void cut_router_on_confirm(void *opaque, cut_token_t token, int status, const struct cut_err *err)
{
    struct flow_target *target = opaque;
    struct cut_flow *flow = target->flow;
    uint8_t res = CUT_RES_CONFIRMED;
    if (status == CUT_EINVAL) {
        res = CUT_RES_FAILED_PERMANENT;
        cut_log_warn(flow->cfg->name, "%s refused a message for good: %s",
                     cut_side_name(target->side), err ? err->msg : "");
    } else if (status != CUT_OK) {
        res = CUT_RES_FAILED_TRANSIENT;
        cut_log_debug(flow->cfg->name, "%s write failed: %s", cut_side_name(target->side),
                      err ? err->msg : "");
    }
    struct cut_inflight_slot *slot = cut_inflight_find(&flow->inflight, token);
    if (res != CUT_RES_CONFIRMED && slot != NULL && err != NULL) {
        /* Kept with the message's attempt count: a dead letter says why. */
        struct flow_attempt *a = attempt_slot(flow, slot->id_hash);
        snprintf(a->reason, sizeof(a->reason), "%s: %.100s", cut_side_name(target->side), err->msg);
    }
    set_result(flow, token, target->side, res);
}

/* Send the held message to the flow's dead-letter destinations (the
 * converter says which: a Kafka topic, a legacy queue, both), or refuse it
 * at the source when there are none, so that the broker's DLQ takes it. */
static void dead_letter_now(struct cut_flow *flow, const char *reason)
{
    const struct cut_msg *msg = &flow->held_msg;
    struct cut_record rec = {0}, lrec = {0};
    struct cut_msg legacy;
    const char *queue = NULL;
    unsigned dests = 0;
    struct cut_err err;

    if (flow->conv_ops->dead_letter != NULL) {
        dests = flow->conv_ops->dead_letter(flow->conv, msg, NULL, reason, &rec, &legacy, &queue);
    }
    if (flow->targets[CUT_SIDE_KAFKA].ops == NULL) {
        dests &= ~CUT_DL_KAFKA;
    }
    if (flow->targets[CUT_SIDE_LEGACY].ops == NULL) {
        dests &= ~CUT_DL_LEGACY;
    }
    struct cut_inflight_slot *slot =
        dests != 0 ? cut_inflight_add(&flow->inflight, msg->token) : NULL;
    if (slot == NULL) {
        cut_log_warn(flow->cfg->name, "message %s refused at the source (dead letter): %s",
                     msg->message_id, reason);
        count(flow, CUT_TRACK_DEAD_LETTERED);
        settle(flow, msg->token, CUT_OUTCOME_REJECT);
        return;
    }
    cut_log_warn(flow->cfg->name, "message %s dead-lettered: %s", msg->message_id, reason);
    slot->dlq = 1;
    slot->id_hash = id_hash(msg->message_id);
    slot->res[CUT_SIDE_KAFKA] = dests & CUT_DL_KAFKA ? CUT_RES_PENDING : CUT_RES_NOT_REQUIRED;
    slot->res[CUT_SIDE_LEGACY] = dests & CUT_DL_LEGACY ? CUT_RES_PENDING : CUT_RES_NOT_REQUIRED;
    cut_token_t token = msg->token;
    if (dests & CUT_DL_KAFKA) {
        struct flow_target *t = &flow->targets[CUT_SIDE_KAFKA];
        if (t->ops->send(t->sink, msg, &rec, token, &err) != CUT_OK) {
            cut_inflight_find(&flow->inflight, token)->res[CUT_SIDE_KAFKA] =
                CUT_RES_FAILED_TRANSIENT;
        }
    }
    if (dests & CUT_DL_LEGACY) {
        struct flow_target *t = &flow->targets[CUT_SIDE_LEGACY];
        lrec.dest = queue;
        if (t->ops->send(t->sink, &legacy, &lrec, token, &err) != CUT_OK) {
            cut_inflight_find(&flow->inflight, token)->res[CUT_SIDE_LEGACY] =
                CUT_RES_FAILED_TRANSIENT;
        }
    }
    decide(flow, token);
}

/* First sight of the held message: its mode, its entry in flight, its copy. */
static int admit(struct cut_flow *flow)
{
    const struct cut_msg *msg = &flow->held_msg;
    enum cut_mode mode = resolve_mode(flow, msg);
    uint64_t hash = id_hash(msg->message_id);
    struct flow_attempt *tries = attempt_slot(flow, hash);
    uint32_t attempts = tries->count > msg->delivery_count ? tries->count : msg->delivery_count;

    count(flow, CUT_TRACK_SEEN);
    if (attempts >= (uint32_t)flow->cfg->max_attempts) {
        char reason[160];
        snprintf(reason, sizeof(reason), "failed %u times; last: %s", attempts,
                 tries->reason[0] ? tries->reason : "delivery failed");
        flow->held_mask = 0;
        dead_letter_now(flow, reason);
        return CUT_EAGAIN; /* handled here: not for the targets */
    }
    struct cut_inflight_slot *slot = cut_inflight_add(&flow->inflight, msg->token);
    if (slot == NULL) {
        settle(flow, msg->token, CUT_OUTCOME_RETRY);
        flow->held_mask = 0;
        return CUT_ENOMEM;
    }
    slot->mode = (uint8_t)mode;
    slot->id_hash = hash;
    slot->sent_us = cut_flow_now_us();
    flow->held_mask = 0;
    for (int side = 0; side < 2; side++) {
        bool writes = cut_mode_writes(mode, (enum cut_side)side);
        slot->res[side] = writes ? CUT_RES_PENDING : CUT_RES_NOT_REQUIRED;
        flow->held_mask |= writes ? SIDE_BIT(side) : 0;
    }
    if (cut_mode_writes(mode, CUT_SIDE_LEGACY) && cut_mode_writes(mode, CUT_SIDE_KAFKA)) {
        /* Dual-write: keep the envelope until both sides answered, so that a
         * failed secondary can be put in the repair ledger whole. */
        count(flow, CUT_TRACK_DUAL);
        slot->copy = calloc(1, sizeof(*slot->copy));
        if (slot->copy == NULL || cut_msg_encode(msg, slot->copy) != CUT_OK) {
            cut_inflight_remove(&flow->inflight, slot);
            settle(flow, msg->token, CUT_OUTCOME_RETRY);
            flow->held_mask = 0;
            return CUT_ENOMEM;
        }
    }
    return CUT_OK;
}

/* Send the held message to one side. Returns CUT_EFULL to keep it held. */
static int send_side(struct cut_flow *flow, enum cut_side side, enum cut_mode mode)
{
    const struct cut_msg *msg = &flow->held_msg;
    struct flow_target *target = &flow->targets[side];
    struct cut_record rec;
    struct cut_err err;
    int rc = CUT_OK;
    bool primary = cut_mode_primary(mode) == side;

    if (side == CUT_SIDE_KAFKA) {
        enum cut_verdict verdict = CUT_VERDICT_SEND;
        rc = flow->conv_ops->convert(flow->conv, msg, &rec, &verdict, &err);
        if (rc == CUT_OK && verdict != CUT_VERDICT_SEND) {
            if (verdict == CUT_VERDICT_DEAD_LETTER && primary) {
                /* Nothing was sent yet (the primary goes first): the message,
                 * still in hand, goes to the dead-letter destinations. */
                struct cut_inflight_slot *slot = cut_inflight_find(&flow->inflight, msg->token);
                if (slot != NULL) {
                    cut_inflight_remove(&flow->inflight, slot);
                }
                flow->held_mask = 0;
                dead_letter_now(flow, err.msg);
                return CUT_OK;
            }
            if (verdict == CUT_VERDICT_DEAD_LETTER) {
                /* The legacy primary has it; Kafka gets the dead letter in
                 * its place when the mapping names a topic, else the ledger
                 * records the gap. */
                struct cut_msg unused;
                const char *queue = NULL;
                unsigned dests = flow->conv_ops->dead_letter != NULL
                                     ? flow->conv_ops->dead_letter(flow->conv, msg, NULL, err.msg,
                                                                   &rec, &unused, &queue)
                                     : 0;
                cut_log_warn(flow->cfg->name, "message %s cannot be converted for Kafka: %s",
                             msg->message_id, err.msg);
                struct cut_inflight_slot *slot = cut_inflight_find(&flow->inflight, msg->token);
                if ((dests & CUT_DL_KAFKA) && slot != NULL &&
                    target->ops->send(target->sink, msg, &rec, msg->token, &err) == CUT_OK) {
                    slot = cut_inflight_find(&flow->inflight, msg->token);
                    slot->sec_dl = 1;
                    slot->sec_sent_us = cut_flow_now_us();
                    return CUT_OK;
                }
                set_result(flow, msg->token, side, CUT_RES_FAILED_PERMANENT);
                return CUT_OK;
            }
            count(flow, verdict == CUT_VERDICT_FILTERED ? CUT_TRACK_FILTERED : CUT_TRACK_EXPIRED);
            struct cut_inflight_slot *slot = cut_inflight_find(&flow->inflight, msg->token);
            if (slot != NULL) {
                slot->res[side] = CUT_RES_NOT_REQUIRED;
                decide(flow, msg->token);
            }
            return CUT_OK;
        }
    }
    if (rc == CUT_OK) {
        rc = target->ops->send(target->sink, msg, side == CUT_SIDE_KAFKA ? &rec : NULL, msg->token,
                               &err);
    }
    if (rc == CUT_OK) {
        if (!primary) {
            /* Its silence is measured from here (scan_silent), never from
             * admission: a message held for a full primary has not reached
             * the secondary yet. */
            struct cut_inflight_slot *slot = cut_inflight_find(&flow->inflight, msg->token);
            if (slot != NULL) {
                slot->sec_sent_us = cut_flow_now_us();
            }
        }
        return CUT_OK;
    }
    if ((rc == CUT_EFULL || rc == CUT_EFATAL) && primary) {
        /* The primary is full or reconnecting: hold the message and wait on
         * it rather than spin redeliveries through the source. */
        return CUT_EFULL;
    }
    /* A secondary that cannot take the message now must not hold up the
     * primary: it fails, and the ledger records it. */
    set_result(flow, msg->token, side,
               rc == CUT_EINVAL ? CUT_RES_FAILED_PERMANENT : CUT_RES_FAILED_TRANSIENT);
    return CUT_OK;
}

int cut_router_route(struct cut_flow *flow, bool first)
{
    if (first && admit(flow) != CUT_OK) {
        return CUT_OK;
    }
    struct cut_inflight_slot *slot = cut_inflight_find(&flow->inflight, flow->held_msg.token);
    if (slot == NULL) {
        flow->held_mask = 0; /* settled already (dead-lettered on admission) */
        return CUT_OK;
    }
    enum cut_mode mode = (enum cut_mode)slot->mode;
    /* Primary first, so that a full primary holds the message before the
     * secondary has it twice. */
    enum cut_side order[2] = {cut_mode_primary(mode), 1 - cut_mode_primary(mode)};
    for (int i = 0; i < 2; i++) {
        enum cut_side side = order[i];
        if (!(flow->held_mask & SIDE_BIT(side))) {
            continue;
        }
        if (send_side(flow, side, mode) == CUT_EFULL) {
            return CUT_EFULL;
        }
        flow->held_mask &= (uint8_t)~SIDE_BIT(side);
    }
    return CUT_OK;
}

void cut_router_release_held(struct cut_flow *flow)
{
    for (int side = 0; side < 2; side++) {
        if (flow->held_mask & SIDE_BIT(side)) {
            set_result(flow, flow->held_msg.token, (enum cut_side)side, CUT_RES_FAILED_TRANSIENT);
        }
    }
    flow->held_mask = 0;
}

/* Record the queued secondary failures in the ledger, in one transaction. */
static void flush_ledger(struct cut_flow *flow, int64_t now)
{
    if (flow->n_ledger == 0 || now < flow->next_ledger_try_us) {
        return;
    }
    struct cut_ledger_entry *entries = calloc(flow->n_ledger, sizeof(*entries));
    struct cut_msg_decoded *decs = calloc(flow->n_ledger, sizeof(*decs));
    size_t n = 0;
    struct cut_err err;
    if (entries == NULL || decs == NULL) {
        goto out;
    }
    for (size_t i = 0; i < flow->n_ledger; i++) {
        struct cut_inflight_slot *slot = cut_inflight_find(&flow->inflight, flow->ledger_queue[i]);
        if (slot == NULL || slot->copy == NULL ||
            cut_msg_decode(slot->copy->data, slot->copy->len, &decs[n], &err) != CUT_OK) {
            continue;
        }
        enum cut_side secondary = 1 - cut_mode_primary((enum cut_mode)slot->mode);
        entries[n] = (struct cut_ledger_entry){
            .flow = flow->cfg->name,
            .side = secondary,
            .message_id = decs[n].msg.message_id,
            .reason = secondary == CUT_SIDE_KAFKA ? "kafka write failed or timed out"
                                                  : "legacy write failed or timed out",
            /* The envelope holds the body too: one copy of it is enough. */
            .headers = slot->copy->data,
            .headers_len = slot->copy->len,
        };
        n++;
    }
    if (n > 0 && cut_store_ledger_add_batch(flow->store, entries, n, &err) != CUT_OK) {
        cut_log_warn(flow->cfg->name, "repair ledger write failed, will retry: %s", err.msg);
        flow->next_ledger_try_us = now + LEDGER_RETRY_US;
        goto out; /* the queue stays; those messages stay unacked meanwhile */
    }
    /* Recorded: each secondary is now RECORDED and the ack can go. */
    size_t queued = flow->n_ledger;
    flow->n_ledger = 0;
    for (size_t i = 0; i < queued; i++) {
        cut_token_t token = flow->ledger_queue[i];
        struct cut_inflight_slot *slot = cut_inflight_find(&flow->inflight, token);
        if (slot == NULL) {
            continue;
        }
        enum cut_side secondary = 1 - cut_mode_primary((enum cut_mode)slot->mode);
        slot->res[secondary] = CUT_RES_RECORDED;
        count(flow, CUT_TRACK_LEDGERED);
        decide(flow, token);
    }
out:
    for (size_t i = 0; decs != NULL && i < n; i++) {
        cut_msg_decoded_fini(&decs[i]);
    }
    free(decs);
    free(entries);
}

/* A secondary still silent long after it was sent counts as failed, so
 * that a dead Kafka (whose reports come only after message.timeout.ms) or a
 * hung legacy broker never holds the source window. */
static void scan_silent(struct cut_flow *flow, int64_t now)
{
    if (now < flow->next_scan_us) {
        return;
    }
    flow->next_scan_us = now + SCAN_EVERY_US;
    int64_t limit = now - flow->cfg->secondary_timeout_ms * 1000;
    for (size_t i = 0; i < flow->inflight.cap; i++) {
        struct cut_inflight_slot *slot = &flow->inflight.slots[i];
        if (!slot->used || slot->copy == NULL || slot->queued || slot->sec_sent_us == 0 ||
            slot->sec_sent_us > limit) {
            continue;
        }
        enum cut_side secondary = 1 - cut_mode_primary((enum cut_mode)slot->mode);
        if (slot->res[secondary] == CUT_RES_PENDING) {
            cut_log_debug(flow->cfg->name, "%s silent for %lld ms, recording it in the ledger",
                          cut_side_name(secondary), (long long)flow->cfg->secondary_timeout_ms);
            slot->res[secondary] = CUT_RES_FAILED_TRANSIENT;
            /* A silent write is a failed write, for the error rates too. */
            count(flow,
                  secondary == CUT_SIDE_KAFKA ? CUT_TRACK_FAILED_KAFKA : CUT_TRACK_FAILED_LEGACY);
            slot->queued = 1;
            queue_ledger(flow, slot->token);
        }
    }
}

void cut_router_tick(struct cut_flow *flow)
{
    if (flow->env.board != NULL && cut_mode_board_generation(flow->env.board) != flow->modes_gen) {
        cut_mode_board_release(flow->env.board, flow->modes);
        flow->modes = cut_mode_board_acquire(flow->env.board, &flow->modes_gen);
    }
    int64_t now = cut_flow_now_us();
    scan_silent(flow, now);
    flush_ledger(flow, now);
}
