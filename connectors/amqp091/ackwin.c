/*
 * The acknowledgement window (see ackwin.h for what it promises).
 *
 * Why runs, and why they stop at individually settled tags
 * ---------------------------------------------------------
 * basic.ack(T, multiple=1) settles every delivery of the channel that is
 * still unacknowledged and has a tag <= T. Two ways to lose or break things:
 *
 *  1. The range below T still holds a delivery the flow has not finished, or
 *     one it wants requeued or dead-lettered: the multiple-ack would remove it
 *     from the broker as if it had been delivered. That is message loss. So T
 *     never passes the lowest unsettled delivery (ready_end), and a RETRY or
 *     REJECT tag inside the range is nacked *before* any ack that reaches
 *     past it.
 *
 *  2. A tag that has already been settled on its own (nack, or a single ack)
 *     lies below T. RabbitMQ skips it (it is no longer in the channel's
 *     unacked list), but the specification's "up to and including" reads as
 *     if it were acknowledged again, and a strict broker answers 406
 *     PRECONDITION_FAILED "unknown delivery tag" and closes the channel. We
 *     do not rely on the lenient reading: a run of accepted tags ends at every
 *     tag that was settled on its own, and the next run starts after it. Each
 *     multiple-ack therefore covers exactly [first tag after the last frame's
 *     range, T], all accepted, all still unacknowledged. T itself is always
 *     unacknowledged, which RabbitMQ does require.
 *
 * The prefix [base, ready_end) is walked in tag order, so frames go out in
 * tag order: runs as basic.ack(multiple), RETRY/REJECT as single nacks.
 * Above ready_end nothing can be multiple-acked; nacks there go out at once
 * (a requeued message should not wait for a slow neighbour), and accepted
 * tags are acked singly only under pressure (relief) or before closing; each
 * becomes SENT, a boundary for the runs that later pass over it.
 *
 * Costs: settle is O(1) amortised (ready_end only moves forward); collect is
 * O(open tags) only when something above ready_end must go out, else O(prefix).
 */
#include <stdlib.h>
#include <string.h>

#include "ackwin.h"
#include "cutover/status.h"

enum slot_state {
    SLOT_FREE = 0, /* not delivered (or already retired below base) */
    SLOT_OUT,      /* delivered, the flow has not settled it */
    SLOT_ACCEPT,   /* settled ACCEPT, not acked yet */
    SLOT_RETRY,    /* settled RETRY, nack(requeue=1) not sent yet */
    SLOT_REJECT,   /* settled REJECT, nack(requeue=0) not sent yet */
    SLOT_SENT,     /* resolved on the wire by a frame of its own */
};

#define EPOCH_SHIFT 48

static uint8_t *slot(const struct cut_ackwin *win, uint64_t tag)
{
    return &win->slots[tag & win->mask];
}

static size_t capacity_for(size_t hint)
{
    size_t cap = 16;
    while (cap < hint) {
        cap <<= 1;
    }
    return cap;
}

int cut_ackwin_init(struct cut_ackwin *win, size_t capacity, size_t batch, int64_t interval_ms,
                    size_t relief)
{
    memset(win, 0, sizeof(*win));
    size_t cap = capacity_for(capacity);
    win->slots = calloc(cap, 1);
    if (win->slots == NULL) {
        return CUT_ENOMEM;
    }
    win->mask = cap - 1;
    win->batch = batch > 0 ? batch : 1;
    win->interval_ms = interval_ms > 0 ? interval_ms : 0;
    win->relief = relief;
    win->epoch = 0;
    cut_ackwin_reset(win);
    return CUT_OK;
}

void cut_ackwin_fini(struct cut_ackwin *win)
{
    free(win->slots);
    win->slots = NULL;
}

void cut_ackwin_reset(struct cut_ackwin *win)
{
    memset(win->slots, 0, win->mask + 1);
    /* Epoch 0 is skipped so that a zeroed token can never look valid. */
    win->epoch = (uint16_t)(win->epoch + 1);
    if (win->epoch == 0) {
        win->epoch = 1;
    }
    win->base = 1;
    win->ready_end = 1;
    win->next = 1;
    win->n_out = 0;
    win->n_unsent = 0;
    win->n_contig = 0;
    win->n_beyond = 0;
    win->n_nack = 0;
    win->pending_since = 0;
}

/* Double the ring, keeping every open tag at its new index. */
static int grow(struct cut_ackwin *win)
{
    size_t cap = (win->mask + 1) * 2;
    uint8_t *slots = calloc(cap, 1);
    if (slots == NULL) {
        return CUT_ENOMEM;
    }
    for (uint64_t tag = win->base; tag < win->next; tag++) {
        slots[tag & (cap - 1)] = *slot(win, tag);
    }
    free(win->slots);
    win->slots = slots;
    win->mask = cap - 1;
    return CUT_OK;
}

int cut_ackwin_deliver(struct cut_ackwin *win, uint64_t tag, cut_token_t *token)
{
    if (tag != win->next || tag > CUT_ACKWIN_TAG_MAX) {
        return CUT_EINVAL;
    }
    /* Usually next - base stays below the prefetch count, but tags settled on
     * their own above a slow one no longer count for the broker while they
     * still sit in the ring. */
    if (win->next - win->base > win->mask) {
        int rc = grow(win);
        if (rc != CUT_OK) {
            return rc;
        }
    }
    *slot(win, tag) = SLOT_OUT;
    win->next++;
    win->n_out++;
    *token = (cut_token_t)win->epoch << EPOCH_SHIFT | tag;
    return CUT_OK;
}

static bool is_unsent(uint8_t state)
{
    return state == SLOT_ACCEPT || state == SLOT_RETRY || state == SLOT_REJECT;
}

enum cut_ackwin_result cut_ackwin_settle(struct cut_ackwin *win, cut_token_t token,
                                         enum cut_outcome outcome, int64_t now_ms)
{
    uint16_t epoch = (uint16_t)(token >> EPOCH_SHIFT);
    uint64_t tag = token & CUT_ACKWIN_TAG_MAX;

    if (epoch != win->epoch) {
        return CUT_ACKWIN_STALE;
    }
    if (tag < win->base || tag >= win->next || *slot(win, tag) != SLOT_OUT) {
        return CUT_ACKWIN_UNKNOWN;
    }
    switch (outcome) {
    case CUT_OUTCOME_ACCEPT:
        *slot(win, tag) = SLOT_ACCEPT;
        break;
    case CUT_OUTCOME_RETRY:
        *slot(win, tag) = SLOT_RETRY;
        win->n_nack++;
        break;
    case CUT_OUTCOME_REJECT:
    default:
        /* An outcome we do not know must not ack: dead-letter it instead. */
        *slot(win, tag) = SLOT_REJECT;
        win->n_nack++;
        break;
    }
    win->n_out--;
    if (win->n_unsent++ == 0) {
        win->pending_since = now_ms;
    }
    if (tag != win->ready_end) {
        win->n_beyond++;
        return CUT_ACKWIN_SETTLED;
    }
    /* The lowest unsettled delivery just settled: the prefix grows over it
     * and over everything settled above it, up to the next unsettled one. */
    win->n_contig++;
    win->ready_end++;
    while (win->ready_end < win->next && *slot(win, win->ready_end) != SLOT_OUT) {
        if (is_unsent(*slot(win, win->ready_end))) {
            win->n_beyond--;
            win->n_contig++;
        }
        win->ready_end++;
    }
    return CUT_ACKWIN_SETTLED;
}

bool cut_ackwin_due(const struct cut_ackwin *win, int64_t now_ms)
{
    if (win->n_nack > 0) {
        return true;
    }
    if (win->n_contig >= win->batch) {
        return true;
    }
    if (win->n_contig > 0 && now_ms - win->pending_since >= win->interval_ms) {
        return true;
    }
    return win->relief > 0 && win->n_beyond >= win->relief;
}

/* Send a frame for a tag of the prefix or above it, and account for it. */
static int emit_one(struct cut_ackwin *win, uint64_t tag, bool multiple, cut_ackwin_emit_cb emit,
                    void *opaque)
{
    uint8_t state = *slot(win, tag);
    struct cut_ackwin_op op = {
        .tag = tag,
        .ack = state == SLOT_ACCEPT,
        .multiple = multiple,
        .requeue = state == SLOT_RETRY,
    };
    int rc = emit(opaque, &op);
    if (rc != CUT_OK) {
        return rc;
    }
    if (state != SLOT_ACCEPT) {
        win->n_nack--;
    }
    return CUT_OK;
}

/* Retire [base, last] after a frame resolved them: each was unsent, in the prefix. */
static void retire_prefix(struct cut_ackwin *win, uint64_t last, size_t unsent)
{
    for (uint64_t tag = win->base; tag <= last; tag++) {
        *slot(win, tag) = SLOT_FREE;
    }
    win->base = last + 1;
    win->n_unsent -= unsent;
    win->n_contig -= unsent;
}

static int collect_prefix(struct cut_ackwin *win, cut_ackwin_emit_cb emit, void *opaque)
{
    uint64_t run_end = 0; /* last tag of the current run of accepts, 0 = no run */
    int rc;

    for (uint64_t tag = win->base; tag < win->ready_end; tag++) {
        uint8_t state = *slot(win, tag);
        if (state == SLOT_ACCEPT) {
            run_end = tag;
            continue;
        }
        /* A nack or an already-resolved tag ends the run: the multiple-ack
         * must neither swallow a nack nor re-cover a tag that is gone. */
        if (run_end != 0) {
            rc = emit_one(win, run_end, true, emit, opaque);
            if (rc != CUT_OK) {
                return rc;
            }
            retire_prefix(win, run_end, (size_t)(run_end - win->base + 1));
            run_end = 0;
        }
        if (state == SLOT_SENT) {
            retire_prefix(win, tag, 0);
            continue;
        }
        rc = emit_one(win, tag, false, emit, opaque);
        if (rc != CUT_OK) {
            return rc;
        }
        retire_prefix(win, tag, 1);
    }
    if (run_end != 0) {
        rc = emit_one(win, run_end, true, emit, opaque);
        if (rc != CUT_OK) {
            return rc;
        }
        retire_prefix(win, run_end, (size_t)(run_end - win->base + 1));
    }
    return CUT_OK;
}

/* Above the lowest unsettled delivery: single frames only (see the top). */
static int collect_beyond(struct cut_ackwin *win, bool acks, cut_ackwin_emit_cb emit, void *opaque)
{
    for (uint64_t tag = win->ready_end + 1; tag < win->next && win->n_beyond > 0; tag++) {
        uint8_t state = *slot(win, tag);
        if (!is_unsent(state) || (state == SLOT_ACCEPT && !acks)) {
            continue;
        }
        int rc = emit_one(win, tag, false, emit, opaque);
        if (rc != CUT_OK) {
            return rc;
        }
        *slot(win, tag) = SLOT_SENT;
        win->n_beyond--;
        win->n_unsent--;
    }
    return CUT_OK;
}

int cut_ackwin_collect(struct cut_ackwin *win, int64_t now_ms, enum cut_ackwin_mode mode,
                       cut_ackwin_emit_cb emit, void *opaque)
{
    int rc = CUT_OK;

    if (mode == CUT_ACKWIN_DUE && !cut_ackwin_due(win, now_ms)) {
        return CUT_OK;
    }
    rc = collect_prefix(win, emit, opaque);
    if (rc != CUT_OK) {
        goto out;
    }
    bool relief = mode == CUT_ACKWIN_ALL || (win->relief > 0 && win->n_beyond >= win->relief);
    if (win->n_beyond > 0 && (relief || win->n_nack > 0)) {
        rc = collect_beyond(win, relief, emit, opaque);
    }
out:
    /* Whatever stays unsent was settled at some time before now; restarting
     * its clock here delays it by at most one more interval and spares a
     * timestamp per tag. */
    win->pending_since = win->n_unsent > 0 ? now_ms : 0;
    return rc;
}

size_t cut_ackwin_in_flight(const struct cut_ackwin *win)
{
    return win->n_out;
}

size_t cut_ackwin_unsent(const struct cut_ackwin *win)
{
    return win->n_unsent;
}
