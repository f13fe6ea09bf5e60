/*
 * cut-amqp091-check check-kafka: reads a topic from the beginning and checks
 * every record against the 0-9-1 message it came from: the value is the
 * body, byte for byte, and the headers are exactly those of
 * docs/connectors.md ("Kafka headers") for an AMQP 0-9-1 source, no more, no
 * fewer:
 *
 *   message_id, jms.correlation_id, jms.type, jms.priority, jms.user_id,
 *   jms.content_type, jms.content_encoding, jms.reply_to   as published
 *   jms.delivery_mode   PERSISTENT (delivery_mode 2) or NON_PERSISTENT
 *   jms.timestamp       timestamp (seconds) x 1000
 *   jms.ttl             the expiration property ("time to live as sent")
 *   jms.expiration      timestamp x 1000 + TTL when there is a timestamp (JMS
 *                       semantics, as connectors/amqp091/amqp091_msg.c and
 *                       RabbitMQ's JMS client compute it), else arrival + TTL:
 *                       checked to be TTL + a time within the last hour
 *   jms.destination     the routing key, i.e. the source queue
 *   jms.destination_type, jms.reply_to_type   absent or "queue" (0-9-1 does
 *                       not say; both readings accepted)
 *   jms.delivery_count  absent or a decimal (> 0 is counted as a note)
 *   jms.body_kind       bytes
 *   jms.prop.<header>   for every flat header: booleans true/false, integers
 *                       in decimal, floats and doubles the shortest text that
 *                       reads back to the same value, longstr as is, bytes
 *                       raw, timestamp in decimal milliseconds, void a header
 *                       with a null value; nested tables and arrays: none
 *   jms.prop_types      name=type for every non-longstr flat header: i8 byte,
 *                       i16 short, i32 int, i64 long, f32 float, f64 double,
 *                       bool boolean, bytes bytes, timestamp timestamp, void null
 *
 * What the 0-9-1 envelope cannot hold travels as "x-basic-*" annotations
 * (amqp091_msg.c), hence as amqp.annotation.x-basic-* headers (the docs'
 * "other message annotations"): amqp.annotation.x-basic-app-id must equal
 * app_id (and be absent without one); the others are counted as notes.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "amqp091_check.h"
#include "amqp091_report.h"
#include "amqp091_spec.h"

#define MAX_EXP (SPEC_MAX_HEADERS + 24)

enum exp_kind {
    EXP_EXACT,     /* value bytes equal */
    EXP_NULL,      /* present with a null value */
    EXP_FLOAT,     /* shortest text of a float */
    EXP_DOUBLE,    /* shortest text of a double */
    EXP_OPT_QUEUE, /* absent or "queue" */
    EXP_EXPIRY,    /* TTL + a recent arrival time */
    EXP_TYPES,     /* jms.prop_types, compared as a set */
};

struct exp {
    char name[96];
    enum exp_kind kind;
    const void *val;
    size_t len;
    char buf[64];
    double num;
    bool seen;
};

struct exps {
    struct exp e[MAX_EXP];
    int n;
    char types[4096];
};

static struct exp *put(struct exps *x, const char *name, enum exp_kind kind)
{
    struct exp *e = &x->e[x->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->kind = kind;
    return e;
}

static void put_bytes(struct exps *x, const char *name, amqp_bytes_t b)
{
    struct exp *e = put(x, name, EXP_EXACT);
    e->val = b.bytes;
    e->len = b.len;
}

static void put_text(struct exps *x, const char *name, const char *fmt, long long v)
{
    struct exp *e = put(x, name, EXP_EXACT);
    snprintf(e->buf, sizeof(e->buf), fmt, v);
    e->val = e->buf;
    e->len = strlen(e->buf);
}

static void put_type(struct exps *x, amqp_bytes_t key, const char *type)
{
    size_t n = strlen(x->types);
    snprintf(x->types + n, sizeof(x->types) - n, "%s%.*s=%s", n ? ";" : "", (int)key.len,
             (const char *)key.bytes, type);
}

static void expect_prop(struct exps *x, const amqp_table_entry_t *h)
{
    char name[96];
    const amqp_field_value_t *v = &h->value;
    snprintf(name, sizeof(name), "jms.prop.%.*s", (int)h->key.len, (const char *)h->key.bytes);
    switch (v->kind) {
    case AMQP_FIELD_KIND_BOOLEAN: {
        struct exp *e = put(x, name, EXP_EXACT);
        e->val = v->value.boolean ? "true" : "false";
        e->len = strlen(e->val);
        put_type(x, h->key, "boolean");
        break;
    }
    case AMQP_FIELD_KIND_I8:
        put_text(x, name, "%lld", v->value.i8);
        put_type(x, h->key, "byte");
        break;
    case AMQP_FIELD_KIND_I16:
        put_text(x, name, "%lld", v->value.i16);
        put_type(x, h->key, "short");
        break;
    case AMQP_FIELD_KIND_I32:
        put_text(x, name, "%lld", v->value.i32);
        put_type(x, h->key, "int");
        break;
    case AMQP_FIELD_KIND_I64:
        put_text(x, name, "%lld", (long long)v->value.i64);
        put_type(x, h->key, "long");
        break;
    case AMQP_FIELD_KIND_F32:
        put(x, name, EXP_FLOAT)->num = v->value.f32;
        put_type(x, h->key, "float");
        break;
    case AMQP_FIELD_KIND_F64:
        put(x, name, EXP_DOUBLE)->num = v->value.f64;
        put_type(x, h->key, "double");
        break;
    case AMQP_FIELD_KIND_UTF8:
        put_bytes(x, name, v->value.bytes);
        break;
    case AMQP_FIELD_KIND_BYTES:
        put_bytes(x, name, v->value.bytes);
        put_type(x, h->key, "bytes");
        break;
    case AMQP_FIELD_KIND_TIMESTAMP:
        put_text(x, name, "%lld", (long long)v->value.u64 * 1000);
        put_type(x, h->key, "timestamp");
        break;
    case AMQP_FIELD_KIND_VOID:
        put(x, name, EXP_NULL);
        put_type(x, h->key, "null");
        break;
    default:
        break; /* nested: no header */
    }
}

static void expected(struct exps *x, const struct spec *s, const char *source_queue)
{
    const amqp_basic_properties_t *p = &s->props;
    amqp_flags_t f = p->_flags;
    x->n = 0;
    x->types[0] = '\0';
    put_bytes(x, "message_id", p->message_id);
    if (f & AMQP_BASIC_CORRELATION_ID_FLAG) {
        put_bytes(x, "jms.correlation_id", p->correlation_id);
    }
    if (f & AMQP_BASIC_TYPE_FLAG) {
        put_bytes(x, "jms.type", p->type);
    }
    if (f & AMQP_BASIC_PRIORITY_FLAG) {
        put_text(x, "jms.priority", "%lld", p->priority);
    }
    struct exp *dm = put(x, "jms.delivery_mode", EXP_EXACT);
    dm->val = p->delivery_mode == AMQP_DELIVERY_PERSISTENT ? "PERSISTENT" : "NON_PERSISTENT";
    dm->len = strlen(dm->val);
    if (f & AMQP_BASIC_TIMESTAMP_FLAG) {
        put_text(x, "jms.timestamp", "%lld", (long long)p->timestamp * 1000);
    }
    if ((f & AMQP_BASIC_EXPIRATION_FLAG) && (f & AMQP_BASIC_TIMESTAMP_FLAG)) {
        put_bytes(x, "jms.ttl", p->expiration);
        put_text(x, "jms.expiration", "%lld",
                 (long long)p->timestamp * 1000 + atoll(s->expiration));
    } else if (f & AMQP_BASIC_EXPIRATION_FLAG) {
        put_bytes(x, "jms.ttl", p->expiration);
        put(x, "jms.expiration", EXP_EXPIRY)->num = atof(s->expiration);
    }
    if (f & AMQP_BASIC_APP_ID_FLAG) {
        put_bytes(x, "amqp.annotation.x-basic-app-id", p->app_id);
    }
    struct exp *d = put(x, "jms.destination", EXP_EXACT);
    d->val = source_queue;
    d->len = strlen(source_queue);
    put(x, "jms.destination_type", EXP_OPT_QUEUE);
    if (f & AMQP_BASIC_REPLY_TO_FLAG) {
        put_bytes(x, "jms.reply_to", p->reply_to);
        put(x, "jms.reply_to_type", EXP_OPT_QUEUE);
    }
    if (f & AMQP_BASIC_USER_ID_FLAG) {
        put_bytes(x, "jms.user_id", p->user_id);
    }
    if (f & AMQP_BASIC_CONTENT_TYPE_FLAG) {
        put_bytes(x, "jms.content_type", p->content_type);
    }
    if (f & AMQP_BASIC_CONTENT_ENCODING_FLAG) {
        put_bytes(x, "jms.content_encoding", p->content_encoding);
    }
    struct exp *k = put(x, "jms.body_kind", EXP_EXACT);
    k->val = "bytes";
    k->len = 5;
    for (int i = 0; i < p->headers.num_entries; i++) {
        expect_prop(x, &p->headers.entries[i]);
    }
    if (x->types[0] != '\0') {
        put(x, "jms.prop_types", EXP_TYPES);
    }
}

static int sig_digits(const char *t)
{
    int n = 0, first = -1, last = -1;
    for (const char *c = t; *c && *c != 'e' && *c != 'E'; c++) {
        if (*c >= '0' && *c <= '9') {
            if (*c != '0') {
                if (first < 0) {
                    first = n;
                }
                last = n;
            }
            n++;
        }
    }
    return first < 0 ? 1 : last - first + 1;
}

/* Why @p text is not the shortest round-trip text of @p want, or NULL. */
static const char *float_text(const char *text, double want, bool is_float, char *why, size_t sz)
{
    char *end;
    double got = is_float ? (double)strtof(text, &end) : strtod(text, &end);
    bool same = is_float ? memcmp(&(float){(float)got}, &(float){(float)want}, 4) == 0
                         : memcmp(&got, &want, 8) == 0;
    if (isnan(want) && isnan(got)) {
        same = true;
    }
    if (*text == '\0' || *end != '\0' || !same) {
        snprintf(why, sz, "\"%s\" does not read back to %.17g", text, want);
        return why;
    }
    if (!isfinite(want) || want == 0) {
        return NULL;
    }
    int shortest = 17;
    for (int n = 1; n <= 17; n++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.*g", n, want);
        double back = is_float ? (double)strtof(buf, NULL) : strtod(buf, NULL);
        if (is_float ? (float)back == (float)want : back == want) {
            shortest = n;
            break;
        }
    }
    if (sig_digits(text) > shortest) {
        snprintf(why, sz, "\"%s\" has %d significant digits, the shortest form has %d", text,
                 sig_digits(text), shortest);
        return why;
    }
    return NULL;
}

/* Set compare of "a=t;b=t" lists. */
static bool same_set(const char *want, const char *got, size_t got_len)
{
    int nw = 1, ng = 1;
    for (const char *c = want; *c; c++) {
        nw += *c == ';';
    }
    for (size_t i = 0; i < got_len; i++) {
        ng += got[i] == ';';
    }
    if (nw != ng) {
        return false;
    }
    const char *w = want;
    while (*w) {
        size_t l = strcspn(w, ";");
        bool found = false;
        for (size_t i = 0; i < got_len && !found;) {
            size_t j = i;
            while (j < got_len && got[j] != ';') {
                j++;
            }
            found = j - i == l && memcmp(got + i, w, l) == 0;
            i = j + 1;
        }
        if (!found) {
            return false;
        }
        w += l + (w[l] == ';');
    }
    return true;
}

static void check_header(struct report *r, struct exps *x, struct exp *e, const char *val,
                         size_t len)
{
    char text[512], why[768];
    snprintf(text, sizeof(text), "%.*s", (int)(len > 400 ? 400 : len), val ? val : "");
    e->seen = true;
    switch (e->kind) {
    case EXP_EXACT:
        if (val == NULL || len != e->len || memcmp(val, e->val, len) != 0) {
            report_bad(r, e->name, "want \"%.*s\", got %s\"%s\"",
                       (int)(e->len > 200 ? 200 : e->len), (const char *)e->val, val ? "" : "null ",
                       text);
        }
        break;
    case EXP_NULL:
        if (val != NULL) {
            report_bad(r, e->name, "want a null value, got \"%s\"", text);
        }
        break;
    case EXP_FLOAT:
    case EXP_DOUBLE:
        if (val == NULL) {
            report_bad(r, e->name, "null value");
        } else if (float_text(text, e->num, e->kind == EXP_FLOAT, why, sizeof(why))) {
            report_bad(r, e->name, "%s", why);
        }
        break;
    case EXP_OPT_QUEUE:
        if (val == NULL || len != 5 || memcmp(val, "queue", 5) != 0) {
            report_bad(r, e->name, "want absent or \"queue\", got \"%s\"", text);
        }
        break;
    case EXP_EXPIRY: {
        double now = (double)time(NULL) * 1000, arrival = atof(text) - e->num;
        if (val == NULL || arrival < now - 3600e3 || arrival > now + 60e3) {
            report_bad(r, e->name, "\"%s\" is not TTL %.0f + a time in the last hour", text,
                       e->num);
        }
        break;
    }
    case EXP_TYPES:
        if (val == NULL || !same_set(x->types, val, len)) {
            report_bad(r, "jms.prop_types", "want {%s}, got {%s}", x->types, text);
        }
        break;
    }
}

static void check_record(struct report *r, const rd_kafka_message_t *m, const struct spec *s,
                         const char *source_queue)
{
    static struct exps x;
    expected(&x, s, source_queue);
    if (m->len != s->body_len || (s->body_len > 0 && memcmp(m->payload, s->body, m->len) != 0)) {
        report_bad(r, "value", "want the %zu body bytes, got %zu bytes (different)", s->body_len,
                   m->len);
    }
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        hdrs = NULL;
    }
    const char *name;
    const void *val;
    size_t len;
    for (size_t i = 0; hdrs && rd_kafka_header_get_all(hdrs, i, &name, &val, &len) == 0; i++) {
        struct exp *e = NULL;
        for (int j = 0; j < x.n && e == NULL; j++) {
            if (strcmp(x.e[j].name, name) == 0) {
                e = &x.e[j];
            }
        }
        if (e != NULL && e->seen) {
            report_bad(r, name, "present twice");
        } else if (e != NULL) {
            check_header(r, &x, e, val, len);
        } else if (strcmp(name, "jms.delivery_count") == 0) {
            char t[32];
            snprintf(t, sizeof(t), "%.*s", (int)(len < 31 ? len : 31),
                     val ? (const char *)val : "");
            if (val == NULL || len == 0 || strspn(t, "0123456789") != len) {
                report_bad(r, "jms.delivery_count", "not a decimal: \"%s\"", t);
            } else if (strcmp(t, "0") != 0) {
                report_note(r, "jms.delivery_count > 0 (redelivered)");
            }
        } else if (strncmp(name, "amqp.annotation.x-basic-", 24) == 0) {
            char note[160];
            snprintf(note, sizeof(note), "residue header %s (accepted, not in the docs' table)",
                     name);
            report_note(r, note);
        } else {
            report_bad(r, "unexpected header", "%s = \"%.*s\"", name, (int)(len > 80 ? 80 : len),
                       val ? (const char *)val : "(null)");
        }
    }
    for (int j = 0; j < x.n; j++) {
        if (!x.e[j].seen && x.e[j].kind != EXP_OPT_QUEUE) {
            report_bad(r, x.e[j].name, "missing");
        }
    }
}

int kafka_check(const struct tool_opts *o)
{
    char errstr[512], group[96];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(group, sizeof(group), "cut-amqp091-check-%ld-%d", (long)time(NULL), (int)getpid());
    if (rd_kafka_conf_set(conf, "bootstrap.servers", o->bootstrap, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "fetch.message.max.bytes", "4194304", errstr, sizeof(errstr))) {
        fprintf(stderr, "cut-amqp091-check: %s\n", errstr);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "cut-amqp091-check: %s\n", errstr);
        return 2;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, o->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, subs);
    rd_kafka_topic_partition_list_destroy(subs);

    char what[300];
    snprintf(what, sizeof(what), "topic=%s", o->topic);
    struct report r;
    report_init(&r, what, o->start, o->count);
    struct spec_opts so = {
        .prefix = o->prefix, .no_large = o->no_large, .persistent = o->persistent};
    time_t deadline = time(NULL) + o->timeout, quiet_until = 0;
    while (time(NULL) < deadline) {
        if (quiet_until == 0 && report_distinct(&r) == o->count) {
            quiet_until = time(NULL) + 3;
        }
        if (quiet_until != 0 && time(NULL) >= quiet_until) {
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m == NULL) {
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
                m->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                fprintf(stderr, "cut-amqp091-check: %s\n", rd_kafka_message_errstr(m));
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        r.read++;
        rd_kafka_headers_t *hdrs = NULL;
        const void *id = NULL;
        size_t idlen = 0;
        long seq = -1;
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(hdrs, "message_id", &id, &idlen) == 0 && id != NULL) {
            seq = spec_parse_id(id, idlen, o->prefix, o->start, o->count);
        }
        if (seq < 0) {
            r.foreign++;
        } else {
            struct spec s;
            spec_make(&s, &so, seq);
            report_begin(&r, seq);
            check_record(&r, m, &s, o->source_queue);
            report_end(&r);
            spec_free(&s);
            if (quiet_until != 0) {
                quiet_until = time(NULL) + 3;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return report_finish(&r, o->allow_duplicates);
}
