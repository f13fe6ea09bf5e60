/*
 * Read-back verification (see readback.h): per flow, a single-producer
 * single-consumer ring of sampled id hashes from the router, a table of ids
 * waiting for their other half (confirmed and not yet read, or read and not
 * yet confirmed), and two FIFOs in time order that expire them. One
 * librdkafka consumer, assigned by hand (no group membership, no commits),
 * reads every flow's topics from one minute before it started.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "cutover/converter.h"
#include "cutover/log.h"
#include "readback.h"

#define COMPONENT "readback"
/* Positions are looked for this long before the consumer started. */
#define LOOKBACK_MS     60000
#define POLL_MS         100
#define META_MS         10000
#define BURST           10000
#define CATCHUP_MS      2000
#define CATCHUP_WAIT_MS 1000

enum { ST_EMPTY, ST_CONFIRMED, ST_READ };

struct rb_entry {
    uint64_t h; /* 0: empty */
    int64_t t;  /* when it entered the table */
    uint8_t state;
};

/* A FIFO of (hash, time) in time order; stale items are skipped on expiry. */
struct rb_fifo {
    struct rb_entry *items;
    size_t head, n, cap;
};

struct rb_flow {
    const char *name;
    const char *const *topics;
    size_t n_topics;
    int64_t settle_ms;
    /* The last time the consumer was seen caught up on every partition of
     * the flow's topics: only ids confirmed before it can be missing. */
    int64_t caught_up_ms;

    uint64_t *ring;
    size_t ring_mask;
    _Atomic uint64_t head, tail; /* head: the router's; tail: the read-back thread's */

    struct rb_entry *tab;
    size_t tab_mask, tab_n, max_tracked;
    unsigned tab_shift;
    struct rb_fifo confirmed, read;

    _Atomic uint64_t pushed, dropped, found, missing, records;
};

/* One assigned partition. */
struct rb_part {
    char *topic;
    int32_t partition;
    int64_t start; /* the offset it was assigned at */
};

struct cut_readback {
    struct rb_flow *flows;
    size_t n;
    uint32_t sample_every;
    struct cut_readback_options opts;
    int64_t (*clock_ms)(void *opaque);
    void *clock_opaque;

    rd_kafka_t *rk;
    int64_t since_ms;
    struct rb_part *parts;
    size_t n_parts, cap_parts;
    pthread_t thread;
    bool started;
    atomic_bool stop;
};

static int64_t realtime_ms(void *opaque)
{
    struct timespec ts;
    (void)opaque;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t pow2(size_t n)
{
    size_t p = 1;
    while (p < n) {
        p <<= 1;
    }
    return p;
}

uint64_t cut_readback_hash(const void *id, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, as router.c's id_hash */
    const unsigned char *p = id;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h | 1;
}

bool cut_readback_sampled(const struct cut_readback *rb, uint64_t h)
{
    return (h >> 16) % rb->sample_every == 0;
}

/* ---- the table ------------------------------------------------------------ */

static size_t slot_of(const struct rb_flow *f, uint64_t h)
{
    /* The low bit is always set and the sampled bits are constant: mix. */
    return (size_t)((h * 0x9e3779b97f4a7c15ull) >> f->tab_shift) & f->tab_mask;
}

static struct rb_entry *tab_find(struct rb_flow *f, uint64_t h)
{
    for (size_t i = slot_of(f, h);; i = (i + 1) & f->tab_mask) {
        if (f->tab[i].h == h) {
            return &f->tab[i];
        }
        if (f->tab[i].h == 0) {
            return NULL;
        }
    }
}

static struct rb_entry *tab_insert(struct rb_flow *f, uint64_t h, int64_t t, uint8_t state)
{
    if (f->tab_n >= f->max_tracked) {
        return NULL;
    }
    size_t i = slot_of(f, h);
    while (f->tab[i].h != 0) {
        i = (i + 1) & f->tab_mask;
    }
    f->tab[i] = (struct rb_entry){.h = h, .t = t, .state = state};
    f->tab_n++;
    return &f->tab[i];
}

/* Linear probing: remove by shifting the followers back, no tombstones. */
static void tab_remove(struct rb_flow *f, struct rb_entry *e)
{
    size_t i = (size_t)(e - f->tab), j = i;
    for (;;) {
        j = (j + 1) & f->tab_mask;
        if (f->tab[j].h == 0) {
            break;
        }
        size_t k = slot_of(f, f->tab[j].h);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            f->tab[i] = f->tab[j];
            i = j;
        }
    }
    f->tab[i] = (struct rb_entry){0};
    f->tab_n--;
}

static bool fifo_push(struct rb_fifo *q, uint64_t h, int64_t t)
{
    if (q->n == q->cap) {
        return false;
    }
    q->items[(q->head + q->n) % q->cap] = (struct rb_entry){.h = h, .t = t};
    q->n++;
    return true;
}

/* Add an entry to the table and its FIFO; false when either is full. */
static bool track(struct rb_flow *f, struct rb_fifo *q, uint64_t h, int64_t t, uint8_t state)
{
    if (q->n == q->cap) {
        return false;
    }
    if (tab_insert(f, h, t, state) == NULL) {
        return false;
    }
    return fifo_push(q, h, t);
}

static void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void on_confirmed(struct rb_flow *f, uint64_t h, int64_t now)
{
    struct rb_entry *e = tab_find(f, h);
    if (e != NULL && e->state == ST_READ) {
        add(&f->found, 1);
        tab_remove(f, e);
    } else if (e == NULL && !track(f, &f->confirmed, h, now, ST_CONFIRMED)) {
        add(&f->dropped, 1);
    }
    /* Confirmed again while waiting (a redelivery sent twice): one check. */
}

static void on_read(struct rb_flow *f, uint64_t h, int64_t now)
{
    struct rb_entry *e = tab_find(f, h);
    if (e != NULL && e->state == ST_CONFIRMED) {
        add(&f->found, 1);
        tab_remove(f, e);
    } else if (e == NULL) {
        /* Read before the router pushed its confirm: keep it for a while. */
        track(f, &f->read, h, now, ST_READ);
    }
}

void cut_readback_push(struct cut_readback *rb, size_t flow, uint64_t h)
{
    if (rb == NULL || flow >= rb->n || !cut_readback_sampled(rb, h)) {
        return;
    }
    struct rb_flow *f = &rb->flows[flow];
    if (f->n_topics == 0) {
        return;
    }
    uint64_t head = atomic_load_explicit(&f->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&f->tail, memory_order_acquire);
    if (head - tail > f->ring_mask) {
        add(&f->dropped, 1);
        return;
    }
    f->ring[head & f->ring_mask] = h;
    atomic_store_explicit(&f->head, head + 1, memory_order_release);
    add(&f->pushed, 1);
}

void cut_readback_drain(struct cut_readback *rb, int64_t now_ms)
{
    for (size_t i = 0; i < rb->n; i++) {
        struct rb_flow *f = &rb->flows[i];
        uint64_t tail = atomic_load_explicit(&f->tail, memory_order_relaxed);
        uint64_t head = atomic_load_explicit(&f->head, memory_order_acquire);
        for (; tail != head; tail++) {
            on_confirmed(f, f->ring[tail & f->ring_mask], now_ms);
        }
        atomic_store_explicit(&f->tail, tail, memory_order_release);
    }
}

void cut_readback_record(struct cut_readback *rb, const char *topic, const void *id, size_t len,
                         int64_t now_ms)
{
    uint64_t h = cut_readback_hash(id, len);
    bool sampled = cut_readback_sampled(rb, h);
    for (size_t i = 0; i < rb->n; i++) {
        struct rb_flow *f = &rb->flows[i];
        for (size_t t = 0; t < f->n_topics; t++) {
            if (strcmp(f->topics[t], topic) == 0) {
                add(&f->records, 1);
                if (sampled) {
                    on_read(f, h, now_ms);
                }
                break;
            }
        }
    }
}

static void expire_fifo(struct rb_flow *f, struct rb_fifo *q, int64_t limit, uint8_t state)
{
    while (q->n > 0 && q->items[q->head].t <= limit) {
        struct rb_entry item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->n--;
        struct rb_entry *e = tab_find(f, item.h);
        if (e == NULL || e->state != state || e->t != item.t) {
            continue; /* matched meanwhile */
        }
        if (state == ST_CONFIRMED) {
            add(&f->missing, 1);
        }
        tab_remove(f, e);
    }
}

void cut_readback_expire(struct cut_readback *rb, int64_t now_ms)
{
    for (size_t i = 0; i < rb->n; i++) {
        struct rb_flow *f = &rb->flows[i];
        int64_t limit = now_ms - f->settle_ms;
        /* A consumer behind (or cut off from Kafka) proves nothing: wait. */
        expire_fifo(f, &f->confirmed, limit < f->caught_up_ms ? limit : f->caught_up_ms,
                    ST_CONFIRMED);
        expire_fifo(f, &f->read, limit, ST_READ);
    }
}

void cut_readback_caught_up(struct cut_readback *rb, size_t flow, int64_t at_ms)
{
    if (flow < rb->n && at_ms > rb->flows[flow].caught_up_ms) {
        rb->flows[flow].caught_up_ms = at_ms;
    }
}

void cut_readback_counts(const struct cut_readback *rb, size_t flow,
                         struct cut_readback_counts *out)
{
    memset(out, 0, sizeof(*out));
    if (rb == NULL || flow >= rb->n) {
        return;
    }
    struct rb_flow *f = &rb->flows[flow];
    out->pushed = atomic_load_explicit(&f->pushed, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&f->dropped, memory_order_relaxed);
    out->found = atomic_load_explicit(&f->found, memory_order_relaxed);
    out->missing = atomic_load_explicit(&f->missing, memory_order_relaxed);
    out->records = atomic_load_explicit(&f->records, memory_order_relaxed);
}

/* ---- create, destroy ------------------------------------------------------ */

int cut_readback_create(struct cut_readback **out, const struct cut_readback_flow *flows, size_t n,
                        const struct cut_readback_options *opts, struct cut_err *err)
{
    static const struct cut_readback_options none = {0};
    struct cut_readback *rb = calloc(1, sizeof(*rb));
    *out = NULL;
    if (rb == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    rb->opts = opts != NULL ? *opts : none;
    rb->sample_every = rb->opts.sample_every ? rb->opts.sample_every : 8;
    rb->clock_ms = rb->opts.clock_ms ? rb->opts.clock_ms : realtime_ms;
    rb->clock_opaque = rb->opts.clock_opaque;
    size_t ring = pow2(rb->opts.ring_size ? rb->opts.ring_size : 8192);
    size_t max = rb->opts.max_tracked ? rb->opts.max_tracked : 65536;
    size_t tab = pow2(2 * max);
    unsigned bits = 0;
    while (((size_t)1 << bits) < tab) {
        bits++;
    }
    rb->flows = calloc(n ? n : 1, sizeof(*rb->flows));
    if (rb->flows == NULL) {
        goto nomem;
    }
    rb->n = n;
    for (size_t i = 0; i < n; i++) {
        struct rb_flow *f = &rb->flows[i];
        f->name = flows[i].name;
        f->topics = flows[i].topics;
        f->n_topics = flows[i].n_topics;
        f->settle_ms = flows[i].settle_ms > 0 ? flows[i].settle_ms : 30000;
        /* Without a consumer (the matching driven by hand) every id can be judged. */
        f->caught_up_ms = rb->opts.kafka == NULL ? INT64_MAX : 0;
        if (f->n_topics == 0) {
            continue; /* read-back off: nothing to allocate */
        }
        f->ring = calloc(ring, sizeof(*f->ring));
        f->ring_mask = ring - 1;
        f->tab = calloc(tab, sizeof(*f->tab));
        f->tab_mask = tab - 1;
        f->tab_shift = 64 - bits;
        f->max_tracked = max;
        f->confirmed.items = calloc(max, sizeof(struct rb_entry));
        f->confirmed.cap = max;
        f->read.items = calloc(max, sizeof(struct rb_entry));
        f->read.cap = max;
        if (f->ring == NULL || f->tab == NULL || f->confirmed.items == NULL ||
            f->read.items == NULL) {
            goto nomem;
        }
    }
    *out = rb;
    return CUT_OK;
nomem:
    cut_readback_destroy(rb);
    return cut_err_set(err, CUT_ENOMEM, "out of memory");
}

void cut_readback_destroy(struct cut_readback *rb)
{
    if (rb == NULL) {
        return;
    }
    if (rb->started) {
        atomic_store(&rb->stop, true);
        pthread_join(rb->thread, NULL);
    }
    if (rb->rk != NULL) {
        rd_kafka_consumer_close(rb->rk);
        rd_kafka_destroy(rb->rk);
    }
    for (size_t i = 0; i < rb->n; i++) {
        free(rb->flows[i].ring);
        free(rb->flows[i].tab);
        free(rb->flows[i].confirmed.items);
        free(rb->flows[i].read.items);
    }
    for (size_t i = 0; i < rb->n_parts; i++) {
        free(rb->parts[i].topic);
    }
    free(rb->parts);
    free(rb->flows);
    free(rb);
}

/* ---- the consumer --------------------------------------------------------- */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* Producer properties in the shared `kafka:` map make librdkafka warn
     * that a consumer ignores them: not worth an operator's attention. */
    bool noise = strcmp(fac, "CONFWARN") == 0;
    cut_log(level <= 3 && !noise   ? CUT_LOG_ERROR
            : level <= 4 && !noise ? CUT_LOG_WARN
                                   : CUT_LOG_DEBUG,
            COMPONENT, "librdkafka %s: %s", fac, buf);
}

static int conf_list(rd_kafka_conf_t *conf, const struct cut_kv_list *list, struct cut_err *err)
{
    char errstr[256];
    for (size_t i = 0; list != NULL && i < list->n; i++) {
        const struct cut_kv *kv = &list->items[i];
        if (rd_kafka_conf_set(conf, kv->key, kv->value ? kv->value : "", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
            /* librdkafka quotes the value, which may be a secret: name only. */
            return cut_err_set(err, CUT_EINVAL, "kafka property \"%s\": refused by librdkafka",
                               kv->key);
        }
    }
    return CUT_OK;
}

/* A consumer that never joins a group nor commits: positions are assigned. */
static int consumer_create(rd_kafka_t **rk, const struct cut_kv_list *global,
                           const struct cut_kv_list *props, const char *group, struct cut_err *err)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    static const char *const fixed[][2] = {
        {"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "false"}, {"auto.offset.reset", "earliest"},
        {"client.id", "cutover-readback"},
    };
    int rc = conf_list(conf, global, err);
    if (rc == CUT_OK) {
        rc = conf_list(conf, props, err);
    }
    for (size_t i = 0; rc == CUT_OK && i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        if (rd_kafka_conf_set(conf, fixed[i][0], fixed[i][1], errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
            rc = cut_err_set(err, CUT_EINVAL, "kafka property %s: %s", fixed[i][0], errstr);
        }
    }
    if (rc == CUT_OK &&
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        rc = cut_err_set(err, CUT_EINVAL, "kafka property group.id: %s", errstr);
    }
    if (rc != CUT_OK) {
        rd_kafka_conf_destroy(conf);
        return rc;
    }
    rd_kafka_conf_set_log_cb(conf, log_cb);
    *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (*rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return cut_err_set(err, CUT_EINVAL, "kafka consumer: %s", errstr);
    }
    rd_kafka_poll_set_consumer(*rk); /* errors and logs arrive with the messages */
    return CUT_OK;
}

/*
 * Add to @p list every partition of @p topic not in @p known, at the first
 * offset stamped at or after @p since_ms (since_ms <= 0: the first one).
 * Where no record is that recent, the end offset read BEFORE the time
 * lookup is used: a record produced between the two lookups then has an
 * offset past it, so none is skipped. @p ends (may be NULL) receives each
 * added partition's end offset. Returns how many were added (0 when the
 * topic does not exist), or -1 when the cluster could not tell.
 */
static int positions(rd_kafka_t *rk, const char *topic, int64_t since_ms,
                     bool (*known)(void *, const char *, int32_t), void *kopaque,
                     rd_kafka_topic_partition_list_t *list, int64_t *ends, size_t ends_cap,
                     int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    int added = -1;
    if (rkt == NULL || rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) != 0) {
        goto out;
    }
    added = 0;
    for (int t = 0; t < md->topic_cnt && added >= 0; t++) {
        const struct rd_kafka_metadata_topic *mt = &md->topics[t];
        if (strcmp(mt->topic, topic) != 0 || mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            continue;
        }
        if (mt->err != 0) {
            added = -1;
            break;
        }
        for (int p = 0; p < mt->partition_cnt; p++) {
            int32_t part = mt->partitions[p].id;
            int64_t lo = 0, hi = 0;
            if (known != NULL && known(kopaque, topic, part)) {
                continue;
            }
            if (rd_kafka_query_watermark_offsets(rk, topic, part, &lo, &hi, timeout_ms) != 0) {
                added = -1;
                break;
            }
            int64_t at = since_ms <= 0 ? lo : hi;
            if (since_ms > 0) {
                rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(q, topic, part)->offset = since_ms;
                if (rd_kafka_offsets_for_times(rk, q, timeout_ms) == 0 && q->elems[0].err == 0 &&
                    q->elems[0].offset >= 0) {
                    at = q->elems[0].offset;
                }
                rd_kafka_topic_partition_list_destroy(q);
            }
            if (ends != NULL && (size_t)list->cnt < ends_cap) {
                ends[list->cnt] = hi;
            }
            rd_kafka_topic_partition_list_add(list, topic, part)->offset = at;
            added++;
        }
    }
out:
    if (md != NULL) {
        rd_kafka_metadata_destroy(md);
    }
    if (rkt != NULL) {
        rd_kafka_topic_destroy(rkt);
    }
    return added;
}

static bool part_known(void *opaque, const char *topic, int32_t partition)
{
    struct cut_readback *rb = opaque;
    for (size_t i = 0; i < rb->n_parts; i++) {
        if (rb->parts[i].partition == partition && strcmp(rb->parts[i].topic, topic) == 0) {
            return true;
        }
    }
    return false;
}

/* Where partition @p partition of @p topic was assigned (before any fetch). */
static int64_t part_start(const struct cut_readback *rb, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < rb->n_parts; i++) {
        if (rb->parts[i].partition == partition && strcmp(rb->parts[i].topic, topic) == 0) {
            return rb->parts[i].start;
        }
    }
    return -1;
}

/* Assign the partitions that appeared since the last look (new topics too). */
static void assign_new(struct cut_readback *rb)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < rb->n; i++) {
        for (size_t t = 0; t < rb->flows[i].n_topics; t++) {
            positions(rb->rk, rb->flows[i].topics[t], rb->since_ms, part_known, rb, list, NULL, 0,
                      5000);
        }
    }
    if (list->cnt > 0) {
        rd_kafka_error_t *e = rd_kafka_incremental_assign(rb->rk, list);
        if (e != NULL) {
            cut_log_warn(COMPONENT, "assign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        } else {
            for (int i = 0; i < list->cnt; i++) {
                if (rb->n_parts == rb->cap_parts) {
                    size_t cap = rb->cap_parts ? 2 * rb->cap_parts : 16;
                    struct rb_part *p = realloc(rb->parts, cap * sizeof(*p));
                    if (p == NULL) {
                        break;
                    }
                    rb->parts = p;
                    rb->cap_parts = cap;
                }
                rb->parts[rb->n_parts].topic = strdup(list->elems[i].topic);
                rb->parts[rb->n_parts].partition = list->elems[i].partition;
                rb->parts[rb->n_parts].start = list->elems[i].offset;
                rb->n_parts += rb->parts[rb->n_parts].topic != NULL;
            }
            cut_log_debug(COMPONENT, "reading %d more partition(s)", list->cnt);
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
}

static bool message_id(rd_kafka_message_t *m, const void **id, size_t *len)
{
    rd_kafka_headers_t *hdrs = NULL;
    return rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
           rd_kafka_header_get_last(hdrs, CUT_HDR_MESSAGE_ID, id, len) ==
               RD_KAFKA_RESP_ERR_NO_ERROR &&
           *id != NULL;
}

/* For each flow: is the consumer at the end of every partition of its
 * topics, as the brokers say now? Then every record appended before this
 * check has been read, and the flow's confirmations until then can be
 * judged. Asked every CATCHUP_MS; a broker that does not answer leaves the
 * flow as it was (nothing judged meanwhile). */
static void check_caught_up(struct cut_readback *rb, int64_t now)
{
    for (size_t i = 0; i < rb->n; i++) {
        struct rb_flow *f = &rb->flows[i];
        bool all = f->n_topics > 0;
        for (size_t t = 0; all && t < f->n_topics; t++) {
            rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_new(4);
            for (size_t p = 0; p < rb->n_parts; p++) {
                if (strcmp(rb->parts[p].topic, f->topics[t]) == 0) {
                    rd_kafka_topic_partition_list_add(pos, rb->parts[p].topic,
                                                      rb->parts[p].partition);
                }
            }
            all = pos->cnt > 0 && rd_kafka_position(rb->rk, pos) == RD_KAFKA_RESP_ERR_NO_ERROR;
            for (int k = 0; all && k < pos->cnt; k++) {
                int64_t lo = 0, hi = 0;
                rd_kafka_topic_partition_t *e = &pos->elems[k];
                int64_t at = e->offset >= 0 ? e->offset : part_start(rb, e->topic, e->partition);
                all = rd_kafka_query_watermark_offsets(rb->rk, e->topic, e->partition, &lo, &hi,
                                                       CATCHUP_WAIT_MS) == 0 &&
                      at >= hi;
            }
            rd_kafka_topic_partition_list_destroy(pos);
        }
        if (all) {
            f->caught_up_ms = now;
        }
    }
}

static void *rb_main(void *arg)
{
    struct cut_readback *rb = arg;
    int64_t next_meta = 0, next_catchup = 0;
    while (!atomic_load_explicit(&rb->stop, memory_order_relaxed)) {
        int64_t now = rb->clock_ms(rb->clock_opaque);
        if (now >= next_meta) {
            assign_new(rb);
            next_meta = rb->clock_ms(rb->clock_opaque) + META_MS;
        }
        cut_readback_drain(rb, now);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rb->rk, POLL_MS);
        for (int i = 0; m != NULL && i < BURST; i++) {
            const void *id = NULL;
            size_t len = 0;
            if (m->err == 0 && message_id(m, &id, &len)) {
                cut_readback_record(rb, rd_kafka_topic_name(m->rkt), id, len,
                                    rb->clock_ms(rb->clock_opaque));
            } else if (m->err != 0) {
                cut_log_debug(COMPONENT, "%s", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            m = i + 1 < BURST ? rd_kafka_consumer_poll(rb->rk, 0) : NULL;
        }
        if (m != NULL) {
            rd_kafka_message_destroy(m);
        }
        /* Drain again before expiring: a confirm pushed while we read must
         * not be judged missing for want of being looked at. */
        now = rb->clock_ms(rb->clock_opaque);
        if (now >= next_catchup) {
            check_caught_up(rb, now); /* @p now: taken before the brokers are asked */
            next_catchup = now + CATCHUP_MS;
        }
        cut_readback_drain(rb, now);
        cut_readback_expire(rb, now);
    }
    return NULL;
}

int cut_readback_start(struct cut_readback *rb, struct cut_err *err)
{
    if (rb->opts.kafka == NULL) {
        return cut_err_set(err, CUT_EINVAL, "read-back needs the kafka properties");
    }
    int rc = consumer_create(&rb->rk, rb->opts.kafka, NULL,
                             rb->opts.group_id ? rb->opts.group_id : "cutover-readback", err);
    if (rc != CUT_OK) {
        return rc;
    }
    rb->since_ms = rb->clock_ms(rb->clock_opaque) - LOOKBACK_MS;
    int e = pthread_create(&rb->thread, NULL, rb_main, rb);
    if (e != 0) {
        return cut_err_set(err, CUT_EFATAL, "cannot start the read-back thread: %s", strerror(e));
    }
    rb->started = true;
    return CUT_OK;
}

const char *cut_readback_flow_topic(const struct cut_connector *kafka, const void *kafka_settings,
                                    bool *other_cluster)
{
    const char *topic = NULL;
    if (other_cluster != NULL) {
        *other_cluster = false;
    }
    if (kafka == NULL || kafka->sink_keys == NULL || kafka_settings == NULL) {
        return NULL;
    }
    for (const struct cut_cfg_key *k = kafka->sink_keys; k->name != NULL; k++) {
        const char *field = (const char *)kafka_settings + k->offset;
        if (k->type == CUT_CFG_STRING && strcmp(k->name, "topic") == 0) {
            topic = *(char *const *)(const void *)field;
        } else if (k->type == CUT_CFG_PROPS && other_cluster != NULL) {
            const struct cut_kv_list *props = (const void *)field;
            *other_cluster |= cut_kv_get(props, "bootstrap.servers") != NULL;
        }
    }
    return topic;
}

/* ---- the bounded scan ----------------------------------------------------- */

/* Partitions of @p list whose consumer position has not reached ends[i]. */
static int scan_positions(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *list,
                          const int64_t *ends)
{
    rd_kafka_topic_partition_list_t *pos = rd_kafka_topic_partition_list_copy(list);
    int left = 0;
    if (rd_kafka_position(rk, pos) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < pos->cnt; i++) {
            if (pos->elems[i].offset > list->elems[i].offset) {
                list->elems[i].offset = pos->elems[i].offset;
            }
        }
    }
    for (int i = 0; i < list->cnt; i++) {
        left += list->elems[i].offset < ends[i];
    }
    rd_kafka_topic_partition_list_destroy(pos);
    return left;
}

int cut_readback_scan(const struct cut_kv_list *global, const struct cut_kv_list *props,
                      const char *const *topics, size_t n_topics, int64_t since_ms,
                      int64_t timeout_ms, cut_readback_id_cb cb, void *opaque, uint64_t *records,
                      struct cut_err *err)
{
    enum { MAX_PARTS = 4096 };
    rd_kafka_t *rk = NULL;
    int64_t *ends = calloc(MAX_PARTS, sizeof(*ends));
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(8);
    uint64_t n = 0;
    int rc = ends == NULL ? cut_err_set(err, CUT_ENOMEM, "out of memory") : CUT_OK;
    int64_t deadline = realtime_ms(NULL) + timeout_ms;
    char group[64];

    snprintf(group, sizeof(group), "cutover-repair-%lld", (long long)realtime_ms(NULL));
    if (rc == CUT_OK) {
        rc = consumer_create(&rk, global, props, group, err);
    }
    for (size_t t = 0; rc == CUT_OK && t < n_topics; t++) {
        int wait = timeout_ms < 10000 ? (int)timeout_ms : 10000;
        if (positions(rk, topics[t], since_ms, NULL, NULL, list, ends, MAX_PARTS, wait) < 0) {
            rc = cut_err_set(err, CUT_ERETRY,
                             "cannot read the partitions and offsets of topic %s: is Kafka up?",
                             topics[t]);
        }
    }
    if (rc != CUT_OK || list->cnt == 0) {
        goto out; /* no partition: the topics do not exist, nothing is there */
    }
    if (list->cnt > MAX_PARTS) {
        rc = cut_err_set(err, CUT_EINVAL, "more than %d partitions to scan", MAX_PARTS);
        goto out;
    }
    int left = 0;
    for (int i = 0; i < list->cnt; i++) {
        left += list->elems[i].offset < ends[i];
    }
    rd_kafka_error_t *e = left > 0 ? rd_kafka_incremental_assign(rk, list) : NULL;
    if (e != NULL) {
        rc = cut_err_set(err, CUT_ERETRY, "assign: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        goto out;
    }
    while (left > 0) {
        if (realtime_ms(NULL) >= deadline) {
            rc = cut_err_set(err, CUT_ERETRY,
                             "the scan of the topic did not finish in %lld ms (%d partition(s) "
                             "left)",
                             (long long)timeout_ms, left);
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, POLL_MS);
        if (m == NULL) {
            /* Control records (transaction markers) are never delivered:
             * the position moves past them, the last message does not. */
            left = scan_positions(rk, list, ends);
            continue;
        }
        if (m->err == 0) {
            const char *topic = rd_kafka_topic_name(m->rkt);
            const void *id = NULL;
            size_t len = 0;
            n++;
            if (message_id(m, &id, &len)) {
                cb(opaque, topic, id, len);
            }
            for (int i = 0; i < list->cnt; i++) {
                rd_kafka_topic_partition_t *p = &list->elems[i];
                if (p->partition == m->partition && strcmp(p->topic, topic) == 0) {
                    /* offset tracks the next one to read; done at the end */
                    bool was_open = p->offset < ends[i];
                    p->offset = m->offset + 1;
                    left -= was_open && p->offset >= ends[i];
                    break;
                }
            }
        } else {
            cut_log_debug(COMPONENT, "scan: %s", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
    }
out:
    if (records != NULL) {
        *records = n;
    }
    if (rk != NULL) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    rd_kafka_topic_partition_list_destroy(list);
    free(ends);
    return rc;
}
