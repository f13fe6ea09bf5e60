/*
 * Modes: names, resolution, guarded promotion, the ack rule and the board
 * that hands tables to running flows. See modes.h; the operator's version of
 * the rules is docs/operations.md.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cutover/status.h"
#include "modes.h"

static const char *const mode_names[CUT_MODE_COUNT] = {
    "JMS_ONLY",
    "DUAL_WRITE_JMS_PRIMARY",
    "DUAL_WRITE_KAFKA_PRIMARY",
    "KAFKA_ONLY",
};

static const char *const status_names[CUT_FLOW_STATUS_COUNT] = {
    "PENDING",
    "IN_PROGRESS",
    "COMPLETED",
    "ROLLED_BACK",
};

const char *cut_mode_name(enum cut_mode mode)
{
    return (unsigned)mode < CUT_MODE_COUNT ? mode_names[mode] : "?";
}

int cut_mode_parse(const char *name, enum cut_mode *mode)
{
    for (int i = 0; name != NULL && i < CUT_MODE_COUNT; i++) {
        if (strcasecmp(name, mode_names[i]) == 0) {
            *mode = (enum cut_mode)i;
            return 0;
        }
    }
    return -1;
}

const char *cut_flow_status_name(enum cut_flow_status status)
{
    return (unsigned)status < CUT_FLOW_STATUS_COUNT ? status_names[status] : "?";
}

int cut_flow_status_parse(const char *name, enum cut_flow_status *status)
{
    for (int i = 0; name != NULL && i < CUT_FLOW_STATUS_COUNT; i++) {
        if (strcasecmp(name, status_names[i]) == 0) {
            *status = (enum cut_flow_status)i;
            return 0;
        }
    }
    return -1;
}

const char *cut_side_name(enum cut_side side)
{
    return side == CUT_SIDE_KAFKA ? "kafka" : "legacy";
}

int cut_side_parse(const char *name, enum cut_side *side)
{
    if (name != NULL && strcmp(name, "kafka") == 0) {
        *side = CUT_SIDE_KAFKA;
        return 0;
    }
    if (name != NULL && strcmp(name, "legacy") == 0) {
        *side = CUT_SIDE_LEGACY;
        return 0;
    }
    return -1;
}

bool cut_mode_writes(enum cut_mode mode, enum cut_side side)
{
    return side == CUT_SIDE_LEGACY ? mode != CUT_MODE_KAFKA_ONLY : mode != CUT_MODE_JMS_ONLY;
}

enum cut_side cut_mode_primary(enum cut_mode mode)
{
    return mode == CUT_MODE_JMS_ONLY || mode == CUT_MODE_DUAL_JMS_PRIMARY ? CUT_SIDE_LEGACY
                                                                          : CUT_SIDE_KAFKA;
}

/* ---- the table ------------------------------------------------------------ */

void cut_mode_table_init(struct cut_mode_table *t)
{
    memset(t, 0, sizeof(*t));
}

void cut_mode_table_fini(struct cut_mode_table *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; i < t->n; i++) {
        free(t->entries[i].flow);
        free(t->entries[i].msg_type);
    }
    free(t->entries);
    memset(t, 0, sizeof(*t));
}

static int entry_cmp(const char *flow, const char *msg_type, const struct cut_mode_entry *e)
{
    int c = strcmp(flow, e->flow);
    return c != 0 ? c : strcmp(msg_type, e->msg_type);
}

/* Index of (flow, msg_type) when found, else where it would go, as -(pos + 1). */
static ptrdiff_t table_search(const struct cut_mode_table *t, const char *flow,
                              const char *msg_type)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = entry_cmp(flow, msg_type, &t->entries[mid]);
        if (c == 0) {
            return (ptrdiff_t)mid;
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return -(ptrdiff_t)lo - 1;
}

int cut_mode_table_set(struct cut_mode_table *t, const char *flow, const char *msg_type,
                       enum cut_mode mode)
{
    msg_type = msg_type != NULL ? msg_type : "";
    ptrdiff_t at = table_search(t, flow, msg_type);
    if (at >= 0) {
        t->entries[at].mode = mode;
        return CUT_OK;
    }
    size_t pos = (size_t)(-at - 1);
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct cut_mode_entry *grown = realloc(t->entries, cap * sizeof(*grown));
        if (grown == NULL) {
            return CUT_ENOMEM;
        }
        t->entries = grown;
        t->cap = cap;
    }
    struct cut_mode_entry e = {.flow = strdup(flow), .msg_type = strdup(msg_type), .mode = mode};
    if (e.flow == NULL || e.msg_type == NULL) {
        free(e.flow);
        free(e.msg_type);
        return CUT_ENOMEM;
    }
    memmove(&t->entries[pos + 1], &t->entries[pos], (t->n - pos) * sizeof(*t->entries));
    t->entries[pos] = e;
    t->n++;
    return CUT_OK;
}

const struct cut_mode_entry *cut_mode_table_find(const struct cut_mode_table *t, const char *flow,
                                                 const char *msg_type)
{
    if (t == NULL || flow == NULL) {
        return NULL;
    }
    ptrdiff_t at = table_search(t, flow, msg_type != NULL ? msg_type : "");
    return at >= 0 ? &t->entries[at] : NULL;
}

bool cut_mode_table_equal(const struct cut_mode_table *a, const struct cut_mode_table *b)
{
    if (a->has_default != b->has_default || (a->has_default && a->def != b->def) || a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (a->entries[i].mode != b->entries[i].mode ||
            entry_cmp(a->entries[i].flow, a->entries[i].msg_type, &b->entries[i]) != 0) {
            return false;
        }
    }
    return true;
}

enum cut_mode cut_mode_resolve(const struct cut_mode_table *t, const char *flow,
                               const char *msg_type)
{
    const struct cut_mode_entry *e;
    if (t == NULL) {
        return CUT_MODE_JMS_ONLY;
    }
    if (msg_type != NULL && msg_type[0] != '\0' &&
        (e = cut_mode_table_find(t, flow, msg_type)) != NULL) {
        return e->mode;
    }
    if ((e = cut_mode_table_find(t, flow, "")) != NULL) {
        return e->mode;
    }
    return t->has_default ? t->def : CUT_MODE_JMS_ONLY;
}

/* ---- guarded promotion ---------------------------------------------------- */

int cut_mode_check_change(enum cut_mode from, enum cut_mode to, double consistency,
                          bool have_consistency, double threshold, bool force, char *why,
                          size_t len)
{
    char skip[160] = "", gate[160] = "";
    char dummy[1];

    if (why == NULL || len == 0) {
        why = dummy;
        len = sizeof(dummy);
    }
    why[0] = '\0';
    if ((unsigned)from >= CUT_MODE_COUNT || (unsigned)to >= CUT_MODE_COUNT) {
        snprintf(why, len, "unknown mode");
        return CUT_EINVAL;
    }
    if (to <= from) {
        return CUT_OK; /* staying, or moving back: always allowed */
    }
    if (to > from + 1) {
        snprintf(skip, sizeof(skip), "%s -> %s skips %s (promote one step at a time)",
                 mode_names[from], mode_names[to], mode_names[from + 1]);
    }
    if (to == CUT_MODE_KAFKA_ONLY) {
        if (!have_consistency || isnan(consistency)) {
            snprintf(gate, sizeof(gate),
                     "consistency over the last window is unknown (no dual-write traffic "
                     "recorded), %.4g needed for KAFKA_ONLY",
                     threshold);
        } else if (consistency < threshold) {
            snprintf(gate, sizeof(gate),
                     "consistency over the last window is %.4f, below the %.4g needed for "
                     "KAFKA_ONLY",
                     consistency, threshold);
        }
    }
    if (skip[0] == '\0' && gate[0] == '\0') {
        return CUT_OK;
    }
    snprintf(why, len, "%s%s%s%s", force ? "forced: " : "", skip,
             skip[0] != '\0' && gate[0] != '\0' ? "; " : "", gate);
    return force ? CUT_OK : CUT_EINVAL;
}

/* ---- the ack rule --------------------------------------------------------- */

const char *cut_ack_name(enum cut_ack ack)
{
    static const char *const names[] = {"ACCEPT", "RETRY", "DEAD_LETTER", "WAIT"};
    return (unsigned)ack < sizeof(names) / sizeof(names[0]) ? names[ack] : "?";
}

const char *cut_side_result_name(enum cut_side_result res)
{
    static const char *const names[CUT_RES_COUNT] = {
        "pending", "confirmed", "failed-transient", "failed-permanent", "recorded", "not-required",
    };
    return (unsigned)res < CUT_RES_COUNT ? names[res] : "?";
}

enum cut_ack cut_mode_ack(enum cut_mode mode, enum cut_side_result legacy,
                          enum cut_side_result kafka)
{
    bool dual = mode == CUT_MODE_DUAL_JMS_PRIMARY || mode == CUT_MODE_DUAL_KAFKA_PRIMARY;
    enum cut_side_result primary = cut_mode_primary(mode) == CUT_SIDE_LEGACY ? legacy : kafka;
    enum cut_side_result secondary = cut_mode_primary(mode) == CUT_SIDE_LEGACY ? kafka : legacy;

    /* Settle once, after every answer: a sink may still hold the token. */
    if (legacy == CUT_RES_PENDING || kafka == CUT_RES_PENDING) {
        return CUT_ACK_WAIT;
    }
    switch (primary) {
    case CUT_RES_CONFIRMED:
        break;
    case CUT_RES_FAILED_PERMANENT:
        return CUT_ACK_DEAD_LETTER;
    default:
        /* Transient failure; or RECORDED / NOT_REQUIRED, which a primary can
         * never be: whatever the cause, an unconfirmed primary is not acked. */
        return CUT_ACK_RETRY;
    }
    if (!dual) {
        return CUT_ACK_ACCEPT;
    }
    switch (secondary) {
    case CUT_RES_CONFIRMED:
    case CUT_RES_RECORDED:
    case CUT_RES_NOT_REQUIRED:
        return CUT_ACK_ACCEPT;
    default:
        /* A failed secondary never blocks the primary for long, but the ack
         * waits until the failure is retried away or durably recorded. */
        return CUT_ACK_WAIT;
    }
}

/* ---- the board ------------------------------------------------------------ */

struct board_node {
    struct cut_mode_table table; /* first: a table pointer is a node pointer */
    unsigned refs;               /* the board's own reference + one per acquire */
};

struct cut_mode_board {
    pthread_mutex_t lock;       /* guards current and the refs of every node */
    struct board_node *current; /* never NULL */
    _Atomic uint64_t generation;
};

static void node_unref(struct board_node *node)
{
    if (node != NULL && --node->refs == 0) {
        cut_mode_table_fini(&node->table);
        free(node);
    }
}

int cut_mode_board_create(struct cut_mode_board **board)
{
    struct cut_mode_board *b = calloc(1, sizeof(*b));
    if (b == NULL || (b->current = calloc(1, sizeof(*b->current))) == NULL) {
        free(b);
        *board = NULL;
        return CUT_ENOMEM;
    }
    cut_mode_table_init(&b->current->table);
    b->current->refs = 1;
    pthread_mutex_init(&b->lock, NULL);
    atomic_init(&b->generation, 1);
    *board = b;
    return CUT_OK;
}

void cut_mode_board_destroy(struct cut_mode_board *board)
{
    if (board == NULL) {
        return;
    }
    node_unref(board->current);
    pthread_mutex_destroy(&board->lock);
    free(board);
}

int cut_mode_board_publish(struct cut_mode_board *board, struct cut_mode_table *t)
{
    struct board_node *node = calloc(1, sizeof(*node));
    if (node == NULL) {
        return CUT_ENOMEM;
    }
    node->table = *t;
    node->refs = 1;
    cut_mode_table_init(t);
    pthread_mutex_lock(&board->lock);
    struct board_node *old = board->current;
    board->current = node;
    atomic_fetch_add_explicit(&board->generation, 1, memory_order_release);
    node_unref(old);
    pthread_mutex_unlock(&board->lock);
    return CUT_OK;
}

uint64_t cut_mode_board_generation(const struct cut_mode_board *board)
{
    return atomic_load_explicit(&((struct cut_mode_board *)board)->generation,
                                memory_order_acquire);
}

const struct cut_mode_table *cut_mode_board_acquire(struct cut_mode_board *board, uint64_t *gen)
{
    pthread_mutex_lock(&board->lock);
    struct board_node *node = board->current;
    node->refs++;
    if (gen != NULL) {
        *gen = atomic_load_explicit(&board->generation, memory_order_relaxed);
    }
    pthread_mutex_unlock(&board->lock);
    return &node->table;
}

void cut_mode_board_release(struct cut_mode_board *board, const struct cut_mode_table *t)
{
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&board->lock);
    node_unref((struct board_node *)(void *)t);
    pthread_mutex_unlock(&board->lock);
}
