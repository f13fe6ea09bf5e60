/*
 * The table of in-flight deliveries behind AMQP 1.0 tokens (see amqp10.h).
 * Deliveries settle in any order, so a ring indexed by sequence number would
 * collide behind one slow delivery; a free list does not.
 */
#include <stdlib.h>
#include <string.h>

#include "amqp10.h"

static int slots_grow(struct cut_amqp10_slots *slots)
{
    if (slots->cap >= CUT_AMQP10_SLOT_MAX) {
        return CUT_EFULL;
    }
    uint32_t cap = slots->cap > 0 ? slots->cap * 2 : 256;
    if (cap > CUT_AMQP10_SLOT_MAX) {
        cap = CUT_AMQP10_SLOT_MAX;
    }
    struct cut_amqp10_slot *v = realloc(slots->v, cap * sizeof(*v));
    if (v == NULL) {
        return CUT_ENOMEM;
    }
    slots->v = v;
    uint32_t *free_idx = realloc(slots->free, cap * sizeof(*free_idx));
    if (free_idx == NULL) {
        return CUT_ENOMEM;
    }
    slots->free = free_idx;
    memset(&slots->v[slots->cap], 0, (cap - slots->cap) * sizeof(*v));
    /* Push the new ones so that the lowest index comes out first. */
    for (uint32_t i = cap; i > slots->cap; i--) {
        slots->free[slots->n_free++] = i - 1;
    }
    slots->cap = cap;
    return CUT_OK;
}

int cut_amqp10_slots_take(struct cut_amqp10_slots *slots, pn_delivery_t *dlv, uint32_t *idx)
{
    if (slots->n_free == 0) {
        int rc = slots_grow(slots);
        if (rc != CUT_OK) {
            return rc;
        }
    }
    *idx = slots->free[--slots->n_free];
    slots->v[*idx].dlv = dlv;
    slots->v[*idx].token = 0;
    slots->used++;
    return CUT_OK;
}

void cut_amqp10_slots_release(struct cut_amqp10_slots *slots, uint32_t idx)
{
    if (idx >= slots->cap || slots->v[idx].dlv == NULL) {
        return;
    }
    slots->v[idx].dlv = NULL;
    slots->v[idx].gen = (slots->v[idx].gen + 1) & ((1u << 24) - 1);
    slots->free[slots->n_free++] = idx;
    slots->used--;
}

void cut_amqp10_slots_reset(struct cut_amqp10_slots *slots)
{
    for (uint32_t i = 0; i < slots->cap; i++) {
        cut_amqp10_slots_release(slots, i);
    }
}

void cut_amqp10_slots_fini(struct cut_amqp10_slots *slots)
{
    free(slots->v);
    free(slots->free);
    memset(slots, 0, sizeof(*slots));
}
