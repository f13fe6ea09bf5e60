/*
 * The envelope of an AMQP 0-9-1 delivery: basic.deliver + content header +
 * body turned into a struct cut_msg (field by field mapping in amqp091.h).
 * Kept apart from the frame reading so that it can be tested without a
 * broker, from hand-built properties.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "amqp091.h"

/* "fnv1a64:" + 16 hex + "-" + up to 20 digits + NUL */
#define FALLBACK_ID_MAX 48
/* An unsigned 64-bit header value above INT64_MAX, as decimal text, + NUL */
#define U64_TEXT_MAX 21

static int grow_bytes(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return CUT_OK;
    }
    size_t n = *cap > 0 ? *cap : 256;
    while (n < need) {
        if (n > SIZE_MAX / 2) {
            return CUT_ENOMEM;
        }
        n *= 2;
    }
    char *p = realloc(*buf, n);
    if (p == NULL) {
        return CUT_ENOMEM;
    }
    *buf = p;
    *cap = n;
    return CUT_OK;
}

static int grow_props(struct cut_amqp091_msgbuf *buf, size_t need)
{
    if (need <= buf->props_cap) {
        return CUT_OK;
    }
    size_t n = buf->props_cap > 0 ? buf->props_cap : 16;
    while (n < need) {
        n *= 2;
    }
    struct cut_prop *p = realloc(buf->props, n * sizeof(*p));
    if (p == NULL) {
        return CUT_ENOMEM;
    }
    buf->props = p;
    buf->props_cap = n;
    return CUT_OK;
}

static bool bytes_eq(amqp_bytes_t b, const char *s)
{
    size_t len = strlen(s);
    return b.len == len && memcmp(b.bytes, s, len) == 0;
}

/* Copy @p b NUL-terminated at *cursor (room was reserved) and advance it. */
static const char *put_str(char **cursor, amqp_bytes_t b)
{
    char *s = *cursor;
    if (b.len > 0) {
        memcpy(s, b.bytes, b.len);
    }
    s[b.len] = '\0';
    *cursor += b.len + 1;
    return s;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* The fallback message id: see amqp091.h for what it covers and why. */
static const char *put_fallback_id(char **cursor, const struct cut_amqp091_delivery *d,
                                   uint64_t timestamp)
{
    unsigned char zero = 0;
    unsigned char ts[8];
    for (int i = 0; i < 8; i++) {
        ts[i] = (unsigned char)(timestamp >> (8 * i));
    }
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    h = fnv1a(h, d->body, (size_t)d->body_size);
    h = fnv1a(h, &zero, 1);
    h = fnv1a(h, d->routing_key.bytes, d->routing_key.len);
    h = fnv1a(h, &zero, 1);
    h = fnv1a(h, ts, sizeof(ts));
    char *s = *cursor;
    int n = snprintf(s, FALLBACK_ID_MAX, "fnv1a64:%016" PRIx64 "-%" PRIu64, h, d->body_size);
    *cursor += n + 1;
    return s;
}

/* A TTL in ms as RabbitMQ accepts it (digits only), or -1. */
static int64_t parse_ttl(amqp_bytes_t s)
{
    const char *p = s.bytes;
    int64_t ttl = 0;
    if (s.len == 0 || s.len > 18) {
        return -1;
    }
    for (size_t i = 0; i < s.len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        ttl = ttl * 10 + (p[i] - '0');
    }
    return ttl;
}

static bool field_wanted(uint8_t kind)
{
    switch (kind) {
    case AMQP_FIELD_KIND_BOOLEAN:
    case AMQP_FIELD_KIND_I8:
    case AMQP_FIELD_KIND_U8:
    case AMQP_FIELD_KIND_I16:
    case AMQP_FIELD_KIND_U16:
    case AMQP_FIELD_KIND_I32:
    case AMQP_FIELD_KIND_U32:
    case AMQP_FIELD_KIND_I64:
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
    case AMQP_FIELD_KIND_F32:
    case AMQP_FIELD_KIND_F64:
    case AMQP_FIELD_KIND_DECIMAL:
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
    case AMQP_FIELD_KIND_VOID:
        return true;
    default:
        return false; /* nested tables and arrays have no flat equivalent */
    }
}

static bool field_is_big_u64(const amqp_field_value_t *v)
{
    return (v->kind == AMQP_FIELD_KIND_U64 || v->kind == AMQP_FIELD_KIND_TIMESTAMP) &&
           v->value.u64 > (uint64_t)INT64_MAX;
}

/* The integer value of @p v, if it is an integer that fits in int64_t. */
static bool field_int(const amqp_field_value_t *v, int64_t *out)
{
    switch (v->kind) {
    case AMQP_FIELD_KIND_I8:
        *out = v->value.i8;
        return true;
    case AMQP_FIELD_KIND_U8:
        *out = v->value.u8;
        return true;
    case AMQP_FIELD_KIND_I16:
        *out = v->value.i16;
        return true;
    case AMQP_FIELD_KIND_U16:
        *out = v->value.u16;
        return true;
    case AMQP_FIELD_KIND_I32:
        *out = v->value.i32;
        return true;
    case AMQP_FIELD_KIND_U32:
        *out = v->value.u32;
        return true;
    case AMQP_FIELD_KIND_I64:
        *out = v->value.i64;
        return true;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
        if (field_is_big_u64(v)) {
            return false;
        }
        *out = (int64_t)v->value.u64;
        return true;
    default:
        return false;
    }
}

static void put_prop(char **cursor, struct cut_prop *prop, const amqp_table_entry_t *e)
{
    const amqp_field_value_t *v = &e->value;
    int64_t i;

    prop->name = put_str(cursor, e->key);
    if (field_int(v, &i)) {
        prop->type = CUT_PROP_INT;
        prop->v.i = i;
        return;
    }
    switch (v->kind) {
    case AMQP_FIELD_KIND_BOOLEAN:
        prop->type = CUT_PROP_BOOL;
        prop->v.b = v->value.boolean != 0;
        break;
    case AMQP_FIELD_KIND_F32:
        prop->type = CUT_PROP_DOUBLE;
        prop->v.d = v->value.f32;
        break;
    case AMQP_FIELD_KIND_F64:
        prop->type = CUT_PROP_DOUBLE;
        prop->v.d = v->value.f64;
        break;
    case AMQP_FIELD_KIND_DECIMAL: {
        double d = v->value.decimal.value;
        for (uint8_t k = 0; k < v->value.decimal.decimals; k++) {
            d /= 10.0;
        }
        prop->type = CUT_PROP_DOUBLE;
        prop->v.d = d;
        break;
    }
    case AMQP_FIELD_KIND_UTF8:
        prop->type = CUT_PROP_STRING;
        prop->v.s.len = v->value.bytes.len;
        prop->v.s.ptr = put_str(cursor, v->value.bytes);
        break;
    case AMQP_FIELD_KIND_BYTES:
        /* Borrowed from the frame pool like the body: valid until the next fetch. */
        prop->type = CUT_PROP_BYTES;
        prop->v.s.ptr = v->value.bytes.bytes;
        prop->v.s.len = v->value.bytes.len;
        break;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP: {
        /* Above INT64_MAX: keep it exact as text rather than wrap it. */
        char *s = *cursor;
        int n = snprintf(s, U64_TEXT_MAX, "%" PRIu64, v->value.u64);
        *cursor += n + 1;
        prop->type = CUT_PROP_STRING;
        prop->v.s.ptr = s;
        prop->v.s.len = (size_t)n;
        break;
    }
    default:
        prop->type = CUT_PROP_NULL;
        break;
    }
}

static size_t str_room(amqp_flags_t flags, amqp_flags_t flag, amqp_bytes_t b)
{
    return (flags & flag) ? b.len + 1 : 0;
}

static const char *opt_str(char **cursor, amqp_flags_t flags, amqp_flags_t flag, amqp_bytes_t b)
{
    return (flags & flag) ? put_str(cursor, b) : NULL;
}

/*
 * Fill @p msg from the delivery just assembled. Two passes over the strings:
 * first their total size (so the scratch buffer grows at most once and the
 * pointers handed out stay valid), then the copies.
 */
int cut_amqp091_msg_fill(struct cut_amqp091_msgbuf *buf, const struct cut_amqp091_delivery *d,
                         cut_token_t token, int64_t wall_ms, struct cut_msg *msg)
{
    const amqp_basic_properties_t *p = d->props;
    amqp_flags_t f = p->_flags;
    const amqp_table_t *headers = (f & AMQP_BASIC_HEADERS_FLAG) ? &p->headers : NULL;
    size_t n_headers =
        headers != NULL && headers->num_entries > 0 ? (size_t)headers->num_entries : 0;
    bool has_id = (f & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len > 0;
    uint64_t timestamp = (f & AMQP_BASIC_TIMESTAMP_FLAG) ? p->timestamp : 0;

    size_t need = has_id ? p->message_id.len + 1 : FALLBACK_ID_MAX;
    need += str_room(f, AMQP_BASIC_CORRELATION_ID_FLAG, p->correlation_id);
    need += str_room(f, AMQP_BASIC_CONTENT_TYPE_FLAG, p->content_type);
    need += str_room(f, AMQP_BASIC_TYPE_FLAG, p->type);
    for (size_t i = 0; i < n_headers; i++) {
        const amqp_table_entry_t *e = &headers->entries[i];
        if (!field_wanted(e->value.kind)) {
            continue;
        }
        need += e->key.len + 1;
        if (e->value.kind == AMQP_FIELD_KIND_UTF8) {
            need += e->value.value.bytes.len + 1;
        } else if (field_is_big_u64(&e->value)) {
            need += U64_TEXT_MAX;
        }
    }
    if (grow_bytes(&buf->scratch, &buf->scratch_cap, need) != CUT_OK ||
        grow_props(buf, n_headers) != CUT_OK) {
        return CUT_ENOMEM;
    }

    char *cursor = buf->scratch;
    memset(msg, 0, sizeof(*msg));
    msg->body = d->body;
    msg->body_len = (size_t)d->body_size;
    msg->message_id =
        has_id ? put_str(&cursor, p->message_id) : put_fallback_id(&cursor, d, timestamp);
    msg->correlation_id = opt_str(&cursor, f, AMQP_BASIC_CORRELATION_ID_FLAG, p->correlation_id);
    msg->content_type = opt_str(&cursor, f, AMQP_BASIC_CONTENT_TYPE_FLAG, p->content_type);
    msg->type = opt_str(&cursor, f, AMQP_BASIC_TYPE_FLAG, p->type);
    msg->priority = -1;
    if (f & AMQP_BASIC_PRIORITY_FLAG) {
        msg->priority = p->priority > 9 ? 9 : p->priority;
    }
    msg->durable = (f & AMQP_BASIC_DELIVERY_MODE_FLAG) && p->delivery_mode == 2;
    /* 0-9-1 timestamps are seconds. */
    if (timestamp > 0 && timestamp <= (uint64_t)(INT64_MAX / 1000)) {
        msg->timestamp_ms = (int64_t)timestamp * 1000;
    }
    /* expiration is a TTL relative to the moment the message reached us. */
    int64_t ttl = (f & AMQP_BASIC_EXPIRATION_FLAG) ? parse_ttl(p->expiration) : -1;
    if (ttl >= 0) {
        msg->expiry_ms = wall_ms + ttl;
    }
    msg->delivery_count = d->redelivered ? 1 : 0;

    size_t n_props = 0;
    for (size_t i = 0; i < n_headers; i++) {
        const amqp_table_entry_t *e = &headers->entries[i];
        int64_t count;
        if (!field_wanted(e->value.kind)) {
            continue;
        }
        put_prop(&cursor, &buf->props[n_props++], e);
        /* Quorum queues count deliveries; classic ones only say "redelivered". */
        if (bytes_eq(e->key, "x-delivery-count") && field_int(&e->value, &count)) {
            msg->delivery_count = count < 0 ? 0 : count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
        }
    }
    msg->props = n_props > 0 ? buf->props : NULL;
    msg->n_props = n_props;
    msg->token = token;
    return CUT_OK;
}

int cut_amqp091_msgbuf_reserve_body(struct cut_amqp091_msgbuf *buf, size_t size)
{
    return grow_bytes(&buf->body, &buf->body_cap, size);
}

void cut_amqp091_msgbuf_fini(struct cut_amqp091_msgbuf *buf)
{
    free(buf->body);
    free(buf->scratch);
    free(buf->props);
    memset(buf, 0, sizeof(*buf));
}
