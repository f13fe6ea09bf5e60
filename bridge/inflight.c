#include <stdlib.h>
#include <string.h>

#include "inflight.h"

#define INFLIGHT_MIN_CAP 1024

/* Tokens are dense-ish integers (tag | epoch << 48): a multiplicative hash
 * spreads them over the table. */
static size_t slot_of(const struct cut_inflight *tab, cut_token_t token)
{
    return (size_t)((token * 0x9E3779B97F4A7C15ull) >> 20) & (tab->cap - 1);
}

struct cut_inflight_slot *cut_inflight_find(const struct cut_inflight *tab, cut_token_t token)
{
    if (tab->cap == 0) {
        return NULL;
    }
    for (size_t i = slot_of(tab, token);; i = (i + 1) & (tab->cap - 1)) {
        struct cut_inflight_slot *slot = &tab->slots[i];
        if (!slot->used) {
            return NULL;
        }
        if (slot->token == token) {
            return slot;
        }
    }
}

static void put(struct cut_inflight *tab, const struct cut_inflight_slot *src)
{
    size_t i = slot_of(tab, src->token);
    while (tab->slots[i].used) {
        i = (i + 1) & (tab->cap - 1);
    }
    tab->slots[i] = *src;
    tab->n++;
}

static int grow(struct cut_inflight *tab)
{
    size_t cap = tab->cap ? tab->cap * 2 : INFLIGHT_MIN_CAP;
    struct cut_inflight_slot *old = tab->slots;
    size_t old_cap = tab->cap;
    tab->slots = calloc(cap, sizeof(*tab->slots));
    if (tab->slots == NULL) {
        tab->slots = old;
        return CUT_ENOMEM;
    }
    tab->cap = cap;
    tab->n = 0;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i].used) {
            put(tab, &old[i]);
        }
    }
    free(old);
    return CUT_OK;
}

void cut_inflight_init(struct cut_inflight *tab)
{
    memset(tab, 0, sizeof(*tab));
}

void cut_inflight_fini(struct cut_inflight *tab)
{
    for (size_t i = 0; i < tab->cap; i++) {
        if (tab->slots[i].used && tab->slots[i].copy != NULL) {
            cut_buf_fini(tab->slots[i].copy);
            free(tab->slots[i].copy);
        }
    }
    free(tab->slots);
    memset(tab, 0, sizeof(*tab));
}

struct cut_inflight_slot *cut_inflight_add(struct cut_inflight *tab, cut_token_t token)
{
    if ((tab->n + 1) * 2 > tab->cap && grow(tab) != CUT_OK) {
        return NULL;
    }
    size_t i = slot_of(tab, token);
    while (tab->slots[i].used) {
        i = (i + 1) & (tab->cap - 1);
    }
    tab->slots[i] = (struct cut_inflight_slot){.token = token, .used = 1};
    tab->n++;
    return &tab->slots[i];
}

/* Backward-shift deletion keeps linear probing correct without tombstones. */
static void erase(struct cut_inflight *tab, struct cut_inflight_slot *slot)
{
    size_t i = (size_t)(slot - tab->slots);
    size_t j = i;
    for (;;) {
        j = (j + 1) & (tab->cap - 1);
        if (!tab->slots[j].used) {
            break;
        }
        size_t home = slot_of(tab, tab->slots[j].token);
        /* Move j back to i unless its home lies cyclically in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            tab->slots[i] = tab->slots[j];
            i = j;
        }
    }
    tab->slots[i].used = 0;
    tab->n--;
}

void cut_inflight_remove(struct cut_inflight *tab, struct cut_inflight_slot *slot)
{
    if (slot->copy != NULL) {
        cut_buf_fini(slot->copy);
        free(slot->copy);
        slot->copy = NULL;
    }
    erase(tab, slot);
}
