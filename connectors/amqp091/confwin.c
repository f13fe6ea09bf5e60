/*
 * The publisher-confirm window (see confwin.h for the rules and why).
 *
 * The ring holds every sequence number from `low` to `next`: a publish ends
 * out of order (single acks above a slow one), so ended slots stay until
 * `low` passes them. The ring grows when that span reaches its size, which
 * only happens when one publish waits long behind many quick ones.
 */
#include <stdlib.h>
#include <string.h>

#include "confwin.h"
#include "cutover/status.h"

enum slot_state {
    SLOT_FREE = 0, /* ended, or never used */
    SLOT_PENDING,  /* published, no confirm yet */
    SLOT_RETURNED, /* published, basic.return seen, no confirm yet */
};

static struct cut_confwin_slot *slot(const struct cut_confwin *win, uint64_t seq)
{
    return &win->slots[seq & win->mask];
}

int cut_confwin_init(struct cut_confwin *win, size_t capacity)
{
    size_t cap = 16;
    memset(win, 0, sizeof(*win));
    while (cap < capacity) {
        cap <<= 1;
    }
    win->slots = calloc(cap, sizeof(*win->slots));
    if (win->slots == NULL) {
        return CUT_ENOMEM;
    }
    win->mask = cap - 1;
    win->low = win->next = 1;
    return CUT_OK;
}

void cut_confwin_fini(struct cut_confwin *win)
{
    free(win->slots);
    memset(win, 0, sizeof(*win));
}

void cut_confwin_reset(struct cut_confwin *win)
{
    memset(win->slots, 0, (win->mask + 1) * sizeof(*win->slots));
    win->low = win->next = 1;
    win->pending = 0;
    win->acked_max = 0;
    win->ret_floor = 0;
}

static int grow(struct cut_confwin *win)
{
    size_t cap = (win->mask + 1) * 2;
    struct cut_confwin_slot *slots = calloc(cap, sizeof(*slots));
    if (slots == NULL) {
        return CUT_ENOMEM;
    }
    for (uint64_t seq = win->low; seq < win->next; seq++) {
        slots[seq & (cap - 1)] = *slot(win, seq);
    }
    free(win->slots);
    win->slots = slots;
    win->mask = cap - 1;
    return CUT_OK;
}

int cut_confwin_add(struct cut_confwin *win, cut_token_t token, uint64_t hash, uint64_t *seq)
{
    if (win->next - win->low > win->mask && grow(win) != CUT_OK) {
        return CUT_ENOMEM;
    }
    struct cut_confwin_slot *s = slot(win, win->next);
    s->token = token;
    s->hash = hash;
    s->state = SLOT_PENDING;
    win->pending++;
    *seq = win->next++;
    return CUT_OK;
}

void cut_confwin_unadd(struct cut_confwin *win, uint64_t seq)
{
    if (seq + 1 != win->next || slot(win, seq)->state == SLOT_FREE) {
        return;
    }
    slot(win, seq)->state = SLOT_FREE;
    win->pending--;
    win->next--;
}

static void advance_low(struct cut_confwin *win)
{
    while (win->low < win->next && slot(win, win->low)->state == SLOT_FREE) {
        win->low++;
    }
}

/* End @p seq if pending. The slot is freed before the callback, which may add. */
static void end(struct cut_confwin *win, uint64_t seq, bool nack, cut_confwin_cb cb, void *opaque)
{
    struct cut_confwin_slot *s = slot(win, seq);
    if (s->state == SLOT_FREE) {
        return;
    }
    enum cut_confwin_outcome outcome = s->state == SLOT_RETURNED ? CUT_CONFWIN_RETURNED
                                       : nack                    ? CUT_CONFWIN_NACKED
                                                                 : CUT_CONFWIN_CONFIRMED;
    cut_token_t token = s->token;
    s->state = SLOT_FREE;
    win->pending--;
    cb(opaque, token, outcome);
}

int cut_confwin_ack(struct cut_confwin *win, uint64_t tag, bool multiple, bool nack,
                    cut_confwin_cb cb, void *opaque)
{
    if (tag == 0 || tag >= win->next) {
        return CUT_EINVAL;
    }
    if (tag > win->acked_max) {
        win->acked_max = tag;
    }
    if (multiple) {
        /* Re-read low and the ring each turn: the callback may add. */
        for (uint64_t seq = win->low; seq <= tag; seq++) {
            end(win, seq, nack, cb, opaque);
        }
    } else if (tag >= win->low) {
        end(win, tag, nack, cb, opaque);
    }
    advance_low(win);
    return CUT_OK;
}

size_t cut_confwin_return(struct cut_confwin *win, uint64_t hash)
{
    uint64_t floor = win->acked_max > win->ret_floor ? win->acked_max : win->ret_floor;
    uint64_t first = floor + 1 > win->low ? floor + 1 : win->low;
    uint64_t lowest = 0;
    size_t matched = 0;

    for (uint64_t seq = first; seq < win->next; seq++) {
        struct cut_confwin_slot *s = slot(win, seq);
        if (s->state != SLOT_FREE && s->hash == hash) {
            s->state = SLOT_RETURNED;
            if (matched++ == 0) {
                lowest = seq;
            }
        }
    }
    if (matched > 0) {
        win->ret_floor = lowest;
        return matched;
    }
    /* Nothing matched: fail safe, every candidate is suspect. */
    for (uint64_t seq = first; seq < win->next; seq++) {
        struct cut_confwin_slot *s = slot(win, seq);
        if (s->state != SLOT_FREE) {
            s->state = SLOT_RETURNED;
        }
    }
    return 0;
}

void cut_confwin_fail_all(struct cut_confwin *win, cut_confwin_cb cb, void *opaque)
{
    uint64_t end_seq = win->next;
    for (uint64_t seq = win->low; seq < end_seq; seq++) {
        struct cut_confwin_slot *s = slot(win, seq);
        if (s->state == SLOT_FREE) {
            continue;
        }
        cut_token_t token = s->token;
        s->state = SLOT_FREE;
        win->pending--;
        cb(opaque, token, CUT_CONFWIN_LOST);
    }
    advance_low(win);
}

size_t cut_confwin_pending(const struct cut_confwin *win)
{
    return win->pending;
}
