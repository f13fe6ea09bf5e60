/*
 * The envelope of an AMQP 0-9-1 message, both ways. This file turns a
 * delivery (basic.deliver + content header + body) into a struct cut_msg;
 * amqp091_pub.c turns a struct cut_msg into basic properties for a publish.
 * Both are pure functions of their arguments, tested without a broker.
 *
 * Promise: 0-9-1 -> cut_msg -> 0-9-1 gives back the same body, the same basic
 * properties and the same headers (names, kinds, values and order), message
 * id included. Crossing to AMQP 1.0 and back keeps the JMS fields through the
 * reserved headers below. Exceptions are listed at the end.
 *
 * Basic properties
 * ----------------
 *   0-9-1 property     envelope field                 sink writes
 *   message_id         message_id, type STRING        message_id (or x-message-id)
 *     absent/empty     synthesized "fnv1a64:..." id,  nothing (type NONE means
 *                      type NONE (see amqp091.h)      "not on the wire")
 *   correlation_id     correlation_id, type STRING    correlation_id
 *   content_type       content_type                   content_type
 *   content_encoding   content_encoding               content_encoding
 *   type               type (JMSType)                 type
 *   user_id            user_id (JMSXUserID)           user_id when it is the sink's
 *                                                     login user or `impersonate` is
 *                                                     set (RabbitMQ refuses others,
 *                                                     406), else x-jms-user-id
 *   reply_to           reply_to, reply_to_type QUEUE  reply_to
 *   priority 0..255    priority 0..9 (clamped)        priority
 *   delivery_mode 2    durable = true                 2 when durable, else absent
 *   timestamp (s)      timestamp_ms = s * 1000        floor(ms / 1000)
 *   expiration "TTL"   ttl_ms = TTL; expiry_ms =      expiration = ttl_ms (when > 0)
 *                      timestamp_ms + TTL, or arrival
 *                      + TTL when no timestamp (JMS
 *                      semantics, as RabbitMQ's JMS
 *                      client computes JMSExpiration)
 *   app_id, cluster_id annotations x-basic-app-id,    app_id, cluster_id
 *                      x-basic-cluster-id
 *   routing key        destination, type NONE (a      the sink's own exchange and
 *                      routing key is not a JMS       routing key, never the message's
 *                      destination type)
 *   body               body, body_kind BYTES          body
 *   redelivered /      delivery_count                 -
 *   x-delivery-count
 *
 * Header kinds (the headers table -> props, in order)
 * -----------------------------------------------------
 *   t bool -> BOOL       b I8  -> BYTE     B U8  -> SHORT*   s I16 -> SHORT
 *   u U16  -> INT*       I I32 -> INT      i U32 -> LONG*    l I64 -> LONG
 *   L U64  -> LONG*, or STRING* (decimal text) above INT64_MAX
 *   f F32  -> FLOAT      d F64 -> DOUBLE   D decimal -> STRING* ("123.45")
 *   S longstr -> STRING  x bytes -> BYTES  V void -> NULL
 *   T timestamp -> TIMESTAMP (ms), or STRING* (decimal seconds) when huge
 *   F table, A array -> not a prop: kept verbatim in x-basic-headers
 * and back: BOOL t, BYTE b, SHORT s, INT I, LONG l, FLOAT f, DOUBLE d,
 * STRING/SYMBOL S, BYTES/UUID x, TIMESTAMP T (ms / 1000), NULL V. The sink
 * never writes U8/U16/U32/U64 (RabbitMQ's own clients do not), except to
 * restore a kind marked * above, whose original is recorded in the layout.
 * Headers named x-opt-* (AMQP 1.0 message annotations, as RabbitMQ maps
 * them) go to msg->annotations instead of props, and annotations are written
 * back as headers, except x-basic-* (below) and the x-opt-jms-msg-type,
 * x-opt-jms-dest and x-opt-jms-reply-to annotations, which mirror envelope
 * fields.
 *
 * Reserved headers (JMS fields that 0-9-1 lacks)
 * ----------------------------------------------
 * The sink writes one only when the envelope needs it, after the application
 * headers, in this order; the source consumes it into the envelope (it is not
 * left as a prop) only when the sink would write exactly that entry back, so
 * a header that merely looks reserved stays an ordinary prop.
 *   x-message-id          S  message id over 255 bytes (no property then)
 *   x-message-id-type     S  "uuid" | "ulong" | "binary": message_id_type;
 *                            binary ids are base64 on the wire, hex in the
 *                            envelope (RabbitMQ's 1.0 -> 0-9-1 conversion)
 *   x-correlation-id, x-correlation-id-type: the same for correlation_id
 *   x-jms-reply-to        S  reply_to over 255 bytes
 *   x-jms-reply-to-type   S  "topic" | "temporary-queue" | "temporary-topic"
 *                            (absent = queue)
 *   x-jms-destination     S  destination, when its type is known, with
 *   x-jms-destination-type S "queue" | "topic" | "temporary-queue" | ...
 *   x-jms-body-kind       S  "message" | "object" | "map" | "stream" | "text"
 *                            (absent = bytes)
 *   x-jms-timestamp-ms    l  timestamp_ms when not a whole second (the
 *                            timestamp property keeps the seconds), or < 0
 *   x-jms-expiration      l  expiry_ms when it is not timestamp + TTL (and
 *                            not derived from the arrival time)
 *   x-jms-user-id         S  user_id the broker would refuse as the property
 *   JMSXGroupID           S  group_id   (the names RabbitMQ's JMS client uses)
 *   JMSXGroupSeq          I  group_seq (l when outside 32 bits)
 *
 * Residue annotations (what the envelope cannot hold; only when needed)
 * ---------------------------------------------------------------------
 *   x-basic-delivery-mode SHORT  raw delivery_mode when present and not 2
 *                                (written back only as 1: RabbitMQ refuses
 *                                anything but 1 and 2)
 *   x-basic-priority      SHORT  raw priority above 9
 *   x-basic-expiration    STRING raw expiration that is not the plain
 *                                decimal of a positive TTL ("0", "007", "+5")
 *   x-basic-timestamp     LONG   raw timestamp 0 (0 means "absent" in ms)
 *   x-basic-message-id    STRING "" when message_id is present but empty
 *   x-basic-app-id, x-basic-cluster-id   STRING
 *   x-basic-headers       BYTES  the layout of the headers table, when the
 *       sink's canonical order (props, annotations, reserved) or kinds would
 *       differ from the original: an AMQP 0-9-1 field table with the original
 *       names in the original order, each value saying where the entry comes
 *       from: V = the prop/annotation of that name, b (a kind letter) = the
 *       same but written with that kind, t = the reserved header of that
 *       name, F/A = the original nested value itself. (An empty layout
 *       keeps an empty headers table, which is not the same as none.)
 * The sink uses a residue only when it agrees with the envelope next to it
 * (x-basic-priority only if clamping it gives `priority`, and so on), so a
 * converter that changes a field wins over a stale residue.
 *
 * Not exact (documented limits)
 * -----------------------------
 *   - shortstr properties holding a NUL byte are cut at the NUL (the
 *     envelope's strings are C strings; RabbitMQ's own conversions refuse
 *     them too);
 *   - a header named x-jms-user-id whose value is the sink's login user
 *     comes back as the user_id property (the point of that header);
 *   - from AMQP 1.0: SYMBOL and UUID props come back as STRING and BYTES,
 *     TIMESTAMP props lose their milliseconds, a reply_to of type NONE comes
 *     back as QUEUE, and an absolute expiry without a creation time is kept
 *     only as the TTL.
 *
 * Memory: strings are copied into a grow-only scratch buffer (NUL-terminated);
 * BYTES values point into the delivery's frames, like the body. No allocation
 * per message in the steady state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "amqp091.h"
#include "amqp091_map.h"

/* "fnv1a64:" + 16 hex + "-" + up to 20 digits + NUL */
#define FALLBACK_ID_MAX 48
/* An unsigned 64-bit value as decimal text, + NUL */
#define U64_TEXT_MAX 21
/* Bound on the layout's encoded size (a frame is at most 128 KiB by default). */
#define LAYOUT_MAX (64u << 20)
/* Residue annotations a message can carry at most. */
#define RESIDUE_MAX 9

/* Where a header entry goes. */
enum entry_class {
    ENTRY_PROP,
    ENTRY_ANNOTATION,
    ENTRY_RESERVED,
    ENTRY_VERBATIM, /* nested table or array: only in the layout */
};

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

static int grow_array(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return CUT_OK;
    }
    size_t n = *cap > 0 ? *cap : 16;
    while (n < need) {
        n *= 2;
    }
    void *p = realloc(*arr, n * size);
    if (p == NULL) {
        return CUT_ENOMEM;
    }
    *arr = p;
    *cap = n;
    return CUT_OK;
}

/* Copy @p len bytes NUL-terminated at *cursor (room was reserved) and advance it. */
static const char *put_mem(char **cursor, const void *data, size_t len)
{
    char *s = *cursor;
    if (len > 0) {
        memcpy(s, data, len);
    }
    s[len] = '\0';
    *cursor += len + 1;
    return s;
}

static const char *put_str(char **cursor, amqp_bytes_t b)
{
    return put_mem(cursor, b.bytes, b.len);
}

static bool has_nul(amqp_bytes_t b)
{
    return b.len > 0 && memchr(b.bytes, '\0', b.len) != NULL;
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
    uint64_t h = CUT_AMQP091_FNV_INIT;
    h = cut_amqp091_fnv1a(h, d->body, (size_t)d->body_size);
    h = cut_amqp091_fnv1a(h, &zero, 1);
    h = cut_amqp091_fnv1a(h, d->routing_key.bytes, d->routing_key.len);
    h = cut_amqp091_fnv1a(h, &zero, 1);
    h = cut_amqp091_fnv1a(h, ts, sizeof(ts));
    char *s = *cursor;
    int n = snprintf(s, FALLBACK_ID_MAX, "fnv1a64:%016" PRIx64 "-%" PRIu64, h, d->body_size);
    *cursor += n + 1;
    return s;
}

static bool is_int_kind(uint8_t kind)
{
    return kind == AMQP_FIELD_KIND_I8 || kind == AMQP_FIELD_KIND_U8 ||
           kind == AMQP_FIELD_KIND_I16 || kind == AMQP_FIELD_KIND_U16 ||
           kind == AMQP_FIELD_KIND_I32 || kind == AMQP_FIELD_KIND_U32 ||
           kind == AMQP_FIELD_KIND_I64 || kind == AMQP_FIELD_KIND_U64 ||
           kind == AMQP_FIELD_KIND_TIMESTAMP;
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
        if (v->value.u64 > (uint64_t)INT64_MAX) {
            return false;
        }
        *out = (int64_t)v->value.u64;
        return true;
    default:
        return false;
    }
}

static bool is_str(const amqp_field_value_t *v)
{
    return v->kind == AMQP_FIELD_KIND_UTF8;
}

/* A longstr that can become an envelope string (C string) and back. */
static bool is_clean_str(const amqp_field_value_t *v)
{
    return is_str(v) && !has_nul(v->value.bytes);
}

/*
 * Fill @p prop from header value @p v; *override gets the kind the sink must
 * restore when the envelope type's own kind is not the original. Returns
 * false for values that are no prop (tables, arrays).
 */
static bool put_value(char **cursor, struct cut_prop *prop, const amqp_field_value_t *v,
                      uint8_t *override)
{
    *override = 0;
    switch (v->kind) {
    case AMQP_FIELD_KIND_BOOLEAN:
        prop->type = CUT_PROP_BOOL;
        prop->v.b = v->value.boolean != 0;
        return true;
    case AMQP_FIELD_KIND_I8:
        prop->type = CUT_PROP_BYTE;
        prop->v.i = v->value.i8;
        return true;
    case AMQP_FIELD_KIND_U8:
        prop->type = CUT_PROP_SHORT;
        prop->v.i = v->value.u8;
        *override = v->kind;
        return true;
    case AMQP_FIELD_KIND_I16:
        prop->type = CUT_PROP_SHORT;
        prop->v.i = v->value.i16;
        return true;
    case AMQP_FIELD_KIND_U16:
        prop->type = CUT_PROP_INT;
        prop->v.i = v->value.u16;
        *override = v->kind;
        return true;
    case AMQP_FIELD_KIND_I32:
        prop->type = CUT_PROP_INT;
        prop->v.i = v->value.i32;
        return true;
    case AMQP_FIELD_KIND_U32:
        prop->type = CUT_PROP_LONG;
        prop->v.i = v->value.u32;
        *override = v->kind;
        return true;
    case AMQP_FIELD_KIND_I64:
        prop->type = CUT_PROP_LONG;
        prop->v.i = v->value.i64;
        return true;
    case AMQP_FIELD_KIND_U64:
        *override = v->kind;
        if (v->value.u64 <= (uint64_t)INT64_MAX) {
            prop->type = CUT_PROP_LONG;
            prop->v.i = (int64_t)v->value.u64;
            return true;
        }
        break; /* decimal text below */
    case AMQP_FIELD_KIND_TIMESTAMP:
        if (v->value.u64 <= (uint64_t)(INT64_MAX / 1000)) {
            prop->type = CUT_PROP_TIMESTAMP;
            prop->v.i = (int64_t)v->value.u64 * 1000;
            return true;
        }
        *override = v->kind;
        break; /* decimal text below */
    case AMQP_FIELD_KIND_F32:
        prop->type = CUT_PROP_FLOAT;
        prop->v.d = v->value.f32;
        return true;
    case AMQP_FIELD_KIND_F64:
        prop->type = CUT_PROP_DOUBLE;
        prop->v.d = v->value.f64;
        return true;
    case AMQP_FIELD_KIND_DECIMAL: {
        /* Exact as text; there is no decimal in JMS or in the envelope. */
        char *s = *cursor;
        size_t n = cut_amqp091_decimal_text(v->value.decimal, s);
        *cursor += n + 1;
        prop->type = CUT_PROP_STRING;
        prop->v.s.ptr = s;
        prop->v.s.len = n;
        *override = v->kind;
        return true;
    }
    case AMQP_FIELD_KIND_UTF8:
        prop->type = CUT_PROP_STRING;
        prop->v.s.len = v->value.bytes.len;
        prop->v.s.ptr = put_str(cursor, v->value.bytes);
        return true;
    case AMQP_FIELD_KIND_BYTES:
        /* Borrowed from the frame pool like the body: valid until the next fetch. */
        prop->type = CUT_PROP_BYTES;
        prop->v.s.ptr = v->value.bytes.bytes;
        prop->v.s.len = v->value.bytes.len;
        return true;
    case AMQP_FIELD_KIND_VOID:
        prop->type = CUT_PROP_NULL;
        return true;
    default:
        return false; /* nested tables and arrays have no flat equivalent */
    }
    /* An unsigned 64-bit value too big for the envelope's integers: exact as text. */
    char *s = *cursor;
    int n = snprintf(s, U64_TEXT_MAX, "%" PRIu64, v->value.u64);
    *cursor += n + 1;
    prop->type = CUT_PROP_STRING;
    prop->v.s.ptr = s;
    prop->v.s.len = (size_t)n;
    return true;
}

/*
 * An upper bound of the scratch bytes one delivery needs (strings, texts,
 * hex). Only flagged properties count: librabbitmq leaves the others
 * uninitialised.
 */
static size_t scratch_bound(const amqp_basic_properties_t *p, const amqp_table_t *headers,
                            size_t n_headers)
{
    const struct {
        amqp_flags_t flag;
        const amqp_bytes_t *s;
    } strs[] = {
        {AMQP_BASIC_MESSAGE_ID_FLAG, &p->message_id},
        {AMQP_BASIC_CORRELATION_ID_FLAG, &p->correlation_id},
        {AMQP_BASIC_CONTENT_TYPE_FLAG, &p->content_type},
        {AMQP_BASIC_CONTENT_ENCODING_FLAG, &p->content_encoding},
        {AMQP_BASIC_TYPE_FLAG, &p->type},
        {AMQP_BASIC_USER_ID_FLAG, &p->user_id},
        {AMQP_BASIC_REPLY_TO_FLAG, &p->reply_to},
        {AMQP_BASIC_APP_ID_FLAG, &p->app_id},
        {AMQP_BASIC_CLUSTER_ID_FLAG, &p->cluster_id},
        {AMQP_BASIC_EXPIRATION_FLAG, &p->expiration},
    };
    size_t need = FALLBACK_ID_MAX + 64;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (p->_flags & strs[i].flag) {
            need += 2 * strs[i].s->len + 2; /* ids may become hex: at most 1.5x */
        }
    }
    for (size_t i = 0; i < n_headers; i++) {
        const amqp_table_entry_t *e = &headers->entries[i];
        need += e->key.len + 1 + U64_TEXT_MAX;
        if (e->value.kind == AMQP_FIELD_KIND_UTF8) {
            need += 2 * e->value.value.bytes.len + 2;
        } else if (e->value.kind == AMQP_FIELD_KIND_DECIMAL) {
            need += CUT_AMQP091_DECIMAL_MAX;
        }
    }
    return need;
}

/* What the mapping learns about the delivery before it decides on the headers. */
struct fill_state {
    const amqp_basic_properties_t *p;
    amqp_flags_t f;
    const amqp_table_t *headers;
    size_t n_headers;
    int first[CUT_AMQP091_R_COUNT]; /* index of the first entry with each reserved name */
    bool consumed[CUT_AMQP091_R_COUNT];
    char *cursor;
    struct cut_prop residue[RESIDUE_MAX];
    size_t n_residue;
};

static const amqp_field_value_t *reserved_value(const struct fill_state *st, int r)
{
    return st->first[r] >= 0 ? &st->headers->entries[st->first[r]].value : NULL;
}

static void add_residue_str(struct fill_state *st, const char *name, amqp_bytes_t b)
{
    struct cut_prop *prop = &st->residue[st->n_residue++];
    prop->name = name;
    prop->type = CUT_PROP_STRING;
    prop->v.s.len = b.len;
    prop->v.s.ptr = put_str(&st->cursor, b);
}

static void add_residue_int(struct fill_state *st, const char *name, enum cut_prop_type type,
                            int64_t v)
{
    struct cut_prop *prop = &st->residue[st->n_residue++];
    prop->name = name;
    prop->type = type;
    prop->v.i = v;
}

static bool flag(const struct fill_state *st, amqp_flags_t which)
{
    return (st->f & which) != 0;
}

static const char *opt_str(struct fill_state *st, amqp_flags_t which, amqp_bytes_t b)
{
    return flag(st, which) ? put_str(&st->cursor, b) : NULL;
}

/*
 * An id (message or correlation) with its type: the property, or the
 * x-...-id header when the id was too long for it; the type header is
 * consumed only when the text is canonical for that type, so that the sink
 * writes the same text and header back.
 */
static const char *fill_id(struct fill_state *st, amqp_flags_t which, amqp_bytes_t prop, int r_long,
                           int r_type, enum cut_id_type *type)
{
    const amqp_field_value_t *hv = reserved_value(st, r_long);
    amqp_bytes_t text;

    *type = CUT_ID_NONE;
    if (flag(st, which) && prop.len > 0) {
        text = prop;
    } else if (!flag(st, which) && hv != NULL && is_clean_str(hv) && hv->value.bytes.len > 255) {
        text = hv->value.bytes;
        st->consumed[r_long] = true;
    } else {
        return NULL;
    }
    *type = CUT_ID_STRING;
    const amqp_field_value_t *tv = reserved_value(st, r_type);
    enum cut_id_type t;
    if (tv != NULL && is_str(tv) && cut_amqp091_id_type_parse(tv->value.bytes, &t)) {
        const char *s = text.bytes;
        if (t == CUT_ID_BINARY) {
            char *out = st->cursor;
            size_t n = cut_amqp091_b64_to_hex(s, text.len, out);
            if (n > 0) {
                st->cursor += n + 1;
                st->consumed[r_type] = true;
                *type = t;
                return out;
            }
        } else if ((t == CUT_ID_UUID && cut_amqp091_uuid_canonical(s, text.len)) ||
                   (t == CUT_ID_ULONG && cut_amqp091_ulong_canonical(s, text.len))) {
            st->consumed[r_type] = true;
            *type = t;
        }
    }
    return put_str(&st->cursor, text);
}

static int64_t add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b) {
        return INT64_MAX;
    }
    if (b < 0 && a < INT64_MIN - b) {
        return INT64_MIN;
    }
    return a + b;
}

/* The basic properties and the reserved headers that complete them. */
static void fill_fields(struct fill_state *st, const struct cut_amqp091_delivery *d,
                        int64_t wall_ms, struct cut_msg *msg)
{
    const amqp_basic_properties_t *p = st->p;
    const amqp_field_value_t *v;
    int64_t i;

    msg->message_id =
        fill_id(st, AMQP_BASIC_MESSAGE_ID_FLAG, p->message_id, CUT_AMQP091_R_MESSAGE_ID,
                CUT_AMQP091_R_MESSAGE_ID_TYPE, &msg->message_id_type);
    msg->correlation_id =
        fill_id(st, AMQP_BASIC_CORRELATION_ID_FLAG, p->correlation_id, CUT_AMQP091_R_CORR_ID,
                CUT_AMQP091_R_CORR_ID_TYPE, &msg->correlation_id_type);
    if (flag(st, AMQP_BASIC_CORRELATION_ID_FLAG) && p->correlation_id.len == 0) {
        msg->correlation_id = put_str(&st->cursor, p->correlation_id);
        msg->correlation_id_type = CUT_ID_STRING;
    }
    msg->content_type = opt_str(st, AMQP_BASIC_CONTENT_TYPE_FLAG, p->content_type);
    msg->content_encoding = opt_str(st, AMQP_BASIC_CONTENT_ENCODING_FLAG, p->content_encoding);
    msg->type = opt_str(st, AMQP_BASIC_TYPE_FLAG, p->type);

    /* user_id: the property, or the header a sink used when the broker would
     * have refused the property. */
    msg->user_id = opt_str(st, AMQP_BASIC_USER_ID_FLAG, p->user_id);
    v = reserved_value(st, CUT_AMQP091_R_USER_ID);
    if (msg->user_id == NULL && v != NULL && is_clean_str(v)) {
        msg->user_id = put_str(&st->cursor, v->value.bytes);
        st->consumed[CUT_AMQP091_R_USER_ID] = true;
    }

    msg->reply_to = opt_str(st, AMQP_BASIC_REPLY_TO_FLAG, p->reply_to);
    v = reserved_value(st, CUT_AMQP091_R_REPLY_TO);
    if (msg->reply_to == NULL && v != NULL && is_clean_str(v) && v->value.bytes.len > 255) {
        msg->reply_to = put_str(&st->cursor, v->value.bytes);
        st->consumed[CUT_AMQP091_R_REPLY_TO] = true;
    }
    if (msg->reply_to != NULL) {
        enum cut_dest_type t;
        v = reserved_value(st, CUT_AMQP091_R_REPLY_TO_TYPE);
        msg->reply_to_type = CUT_DEST_QUEUE;
        if (v != NULL && is_str(v) && cut_amqp091_dest_type_parse(v->value.bytes, &t) &&
            t != CUT_DEST_QUEUE) {
            msg->reply_to_type = t;
            st->consumed[CUT_AMQP091_R_REPLY_TO_TYPE] = true;
        }
    }

    /* destination: the JMS one when a sink recorded it, else the routing key. */
    const amqp_field_value_t *dv = reserved_value(st, CUT_AMQP091_R_DEST);
    const amqp_field_value_t *tv = reserved_value(st, CUT_AMQP091_R_DEST_TYPE);
    enum cut_dest_type dt;
    if (dv != NULL && tv != NULL && is_clean_str(dv) && is_str(tv) &&
        cut_amqp091_dest_type_parse(tv->value.bytes, &dt)) {
        msg->destination = put_str(&st->cursor, dv->value.bytes);
        msg->destination_type = dt;
        st->consumed[CUT_AMQP091_R_DEST] = true;
        st->consumed[CUT_AMQP091_R_DEST_TYPE] = true;
    } else {
        msg->destination = put_str(&st->cursor, d->routing_key);
        msg->destination_type = CUT_DEST_NONE;
    }

    v = reserved_value(st, CUT_AMQP091_R_BODY_KIND);
    enum cut_body_kind kind;
    if (v != NULL && is_str(v) && cut_amqp091_body_kind_parse(v->value.bytes, &kind) &&
        kind != CUT_BODY_BYTES) {
        msg->body_kind = kind;
        st->consumed[CUT_AMQP091_R_BODY_KIND] = true;
    }

    v = reserved_value(st, CUT_AMQP091_R_GROUP_ID);
    if (v != NULL && is_clean_str(v)) {
        msg->group_id = put_str(&st->cursor, v->value.bytes);
        st->consumed[CUT_AMQP091_R_GROUP_ID] = true;
    }
    v = reserved_value(st, CUT_AMQP091_R_GROUP_SEQ);
    if (v != NULL && field_int(v, &i) &&
        ((v->kind == AMQP_FIELD_KIND_I32 && i != -1) ||
         (v->kind == AMQP_FIELD_KIND_I64 && (i < INT32_MIN || i > INT32_MAX)))) {
        msg->group_seq = i;
        st->consumed[CUT_AMQP091_R_GROUP_SEQ] = true;
    }

    if (flag(st, AMQP_BASIC_PRIORITY_FLAG)) {
        msg->priority = p->priority > 9 ? 9 : p->priority;
        if (p->priority > 9) {
            add_residue_int(st, CUT_AMQP091_A_PRIORITY, CUT_PROP_SHORT, p->priority);
        }
    }
    msg->durable = flag(st, AMQP_BASIC_DELIVERY_MODE_FLAG) && p->delivery_mode == 2;
    if (flag(st, AMQP_BASIC_DELIVERY_MODE_FLAG) && p->delivery_mode != 2) {
        add_residue_int(st, CUT_AMQP091_A_DELIVERY_MODE, CUT_PROP_SHORT, p->delivery_mode);
    }

    /* timestamp: seconds on the wire; x-jms-timestamp-ms keeps the ms. */
    bool has_ts = flag(st, AMQP_BASIC_TIMESTAMP_FLAG);
    uint64_t ts = has_ts ? p->timestamp : 0;
    if (ts > 0 && ts <= (uint64_t)(INT64_MAX / 1000)) {
        msg->timestamp_ms = (int64_t)ts * 1000;
    } else if (has_ts && ts <= (uint64_t)INT64_MAX) {
        /* 0 (the envelope's "absent") or beyond the ms range: keep it raw. */
        add_residue_int(st, CUT_AMQP091_A_TIMESTAMP, CUT_PROP_LONG, (int64_t)ts);
    }
    v = reserved_value(st, CUT_AMQP091_R_TIMESTAMP_MS);
    if (v != NULL && v->kind == AMQP_FIELD_KIND_I64) {
        int64_t ms = v->value.i64;
        if ((ms > 0 && ms % 1000 != 0 && has_ts && ts == (uint64_t)(ms / 1000)) ||
            (ms < 0 && !has_ts)) {
            msg->timestamp_ms = ms;
            st->consumed[CUT_AMQP091_R_TIMESTAMP_MS] = true;
        }
    }

    /* expiration: a TTL in ms; the absolute expiry follows JMS (creation
     * time + TTL) unless a sink recorded another one. */
    if (flag(st, AMQP_BASIC_EXPIRATION_FLAG)) {
        int64_t ttl = cut_amqp091_ttl_parse(p->expiration);
        msg->ttl_ms = ttl > 0 ? ttl : 0;
        if (!cut_amqp091_ttl_canonical(p->expiration, msg->ttl_ms)) {
            add_residue_str(st, CUT_AMQP091_A_EXPIRATION, p->expiration);
        }
    }
    int64_t derived = 0;
    if (msg->ttl_ms > 0) {
        derived = add_sat(msg->timestamp_ms != 0 ? msg->timestamp_ms : wall_ms, msg->ttl_ms);
    }
    msg->expiry_ms = derived;
    v = reserved_value(st, CUT_AMQP091_R_EXPIRATION);
    if (v != NULL && v->kind == AMQP_FIELD_KIND_I64 && v->value.i64 != 0 &&
        !(msg->ttl_ms > 0 && msg->timestamp_ms == 0) && v->value.i64 != derived) {
        msg->expiry_ms = v->value.i64;
        st->consumed[CUT_AMQP091_R_EXPIRATION] = true;
    }

    if (flag(st, AMQP_BASIC_APP_ID_FLAG)) {
        add_residue_str(st, CUT_AMQP091_A_APP_ID, p->app_id);
    }
    if (flag(st, AMQP_BASIC_CLUSTER_ID_FLAG)) {
        add_residue_str(st, CUT_AMQP091_A_CLUSTER_ID, p->cluster_id);
    }
    if (flag(st, AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len == 0) {
        add_residue_str(st, CUT_AMQP091_A_MESSAGE_ID, p->message_id);
    }
    if (msg->message_id == NULL) {
        /* Stable across redeliveries; type NONE: the sink does not write it. */
        msg->message_id = put_fallback_id(&st->cursor, d, ts);
        msg->message_id_type = CUT_ID_NONE;
    }
}

/* The layout annotation: see the table at the top. Encoded into buf->layout. */
static int encode_layout(struct cut_amqp091_msgbuf *buf, const amqp_table_t *headers,
                         size_t n_headers, const uint8_t *classes, const uint8_t *overrides,
                         amqp_bytes_t *out)
{
    if (grow_array((void **)&buf->layout_entries, &buf->layout_entries_cap, n_headers,
                   sizeof(*buf->layout_entries)) != CUT_OK) {
        return CUT_ENOMEM;
    }
    for (size_t i = 0; i < n_headers; i++) {
        const amqp_table_entry_t *e = &headers->entries[i];
        amqp_table_entry_t *l = &buf->layout_entries[i];
        l->key = e->key;
        switch (classes[i]) {
        case ENTRY_VERBATIM:
            l->value = e->value;
            break;
        case ENTRY_RESERVED:
            l->value.kind = AMQP_FIELD_KIND_BOOLEAN;
            l->value.value.boolean = 1;
            break;
        default:
            if (overrides[i] != 0) {
                l->value.kind = AMQP_FIELD_KIND_I8;
                l->value.value.i8 = (int8_t)overrides[i];
            } else {
                l->value.kind = AMQP_FIELD_KIND_VOID;
            }
            break;
        }
    }
    amqp_table_t table = {.num_entries = (int)n_headers, .entries = buf->layout_entries};
    for (;;) {
        size_t offset = 0;
        amqp_bytes_t room = {.len = buf->layout_cap, .bytes = buf->layout};
        int status = buf->layout_cap > 0 ? amqp_encode_table(room, &table, &offset)
                                         : AMQP_STATUS_TABLE_TOO_BIG;
        if (status == AMQP_STATUS_OK) {
            out->bytes = buf->layout;
            out->len = offset;
            return CUT_OK;
        }
        /* The layout is smaller than the headers it describes, which fit in
         * one frame; anything bigger than that is not a question of room. */
        if (!cut_amqp091_encode_short(status) || buf->layout_cap > LAYOUT_MAX ||
            grow_bytes(&buf->layout, &buf->layout_cap, buf->layout_cap * 2 + 256) != CUT_OK) {
            return CUT_ENOMEM;
        }
    }
}

/*
 * The headers that stay: props (application headers), annotations
 * (x-opt-*), and the layout when the canonical write-back would differ.
 */
static int fill_headers(struct fill_state *st, struct cut_amqp091_msgbuf *buf, struct cut_msg *msg)
{
    size_t n_props = 0, n_ann = 0;
    int phase = ENTRY_PROP, last_reserved = -1;
    /* An empty table is not the same as none: only the layout can say so. */
    bool need_layout = st->headers != NULL && st->n_headers == 0;

    for (size_t i = 0; i < st->n_headers; i++) {
        const amqp_table_entry_t *e = &st->headers->entries[i];
        int r = cut_amqp091_reserved_find(e->key);
        uint8_t override = 0;
        int cls;

        if (r >= 0 && st->consumed[r] && st->first[r] == (int)i) {
            cls = ENTRY_RESERVED;
            need_layout |= r < last_reserved;
            last_reserved = r;
        } else {
            bool ann = e->key.len > strlen(CUT_AMQP091_ANNOTATION_PREFIX) &&
                       memcmp(e->key.bytes, CUT_AMQP091_ANNOTATION_PREFIX,
                              strlen(CUT_AMQP091_ANNOTATION_PREFIX)) == 0;
            struct cut_prop *prop = ann ? &buf->annotations[n_ann] : &buf->props[n_props];
            char *name_at = st->cursor;
            const char *name = put_str(&st->cursor, e->key);
            if (ann && cut_amqp091_annotation_mirrored(name)) {
                ann = false;
                prop = &buf->props[n_props];
            }
            if (put_value(&st->cursor, prop, &e->value, &override)) {
                prop->name = name;
                cls = ann ? ENTRY_ANNOTATION : ENTRY_PROP;
                n_ann += ann;
                n_props += !ann;
            } else {
                st->cursor = name_at; /* the name is not needed after all */
                cls = ENTRY_VERBATIM;
            }
        }
        buf->classes[i] = (uint8_t)cls;
        buf->overrides[i] = override;
        need_layout |= override != 0 || cls == ENTRY_VERBATIM || cls < phase;
        if (cls != ENTRY_VERBATIM && cls > phase) {
            phase = cls;
        }
    }
    for (size_t k = 0; k < st->n_residue; k++) {
        buf->annotations[n_ann++] = st->residue[k];
    }
    if (need_layout) {
        struct cut_prop *prop = &buf->annotations[n_ann++];
        prop->name = CUT_AMQP091_A_HEADERS;
        prop->type = CUT_PROP_BYTES;
        amqp_bytes_t layout;
        if (encode_layout(buf, st->headers, st->n_headers, buf->classes, buf->overrides, &layout) !=
            CUT_OK) {
            return CUT_ENOMEM;
        }
        prop->v.s.ptr = layout.bytes;
        prop->v.s.len = layout.len;
    }
    msg->props = n_props > 0 ? buf->props : NULL;
    msg->n_props = n_props;
    msg->annotations = n_ann > 0 ? buf->annotations : NULL;
    msg->n_annotations = n_ann;
    return CUT_OK;
}

int cut_amqp091_msg_fill(struct cut_amqp091_msgbuf *buf, const struct cut_amqp091_delivery *d,
                         cut_token_t token, int64_t wall_ms, struct cut_msg *msg)
{
    struct fill_state st = {.p = d->props, .f = d->props->_flags};
    const amqp_table_t *headers = (st.f & AMQP_BASIC_HEADERS_FLAG) ? &st.p->headers : NULL;

    st.headers = headers;
    st.n_headers = headers != NULL && headers->num_entries > 0 ? (size_t)headers->num_entries : 0;
    /* Reserve everything up front: the pointers handed out must not move. */
    if (grow_bytes(&buf->scratch, &buf->scratch_cap, scratch_bound(st.p, headers, st.n_headers)) !=
            CUT_OK ||
        grow_array((void **)&buf->props, &buf->props_cap, st.n_headers, sizeof(*buf->props)) !=
            CUT_OK ||
        grow_array((void **)&buf->annotations, &buf->annotations_cap,
                   st.n_headers + RESIDUE_MAX + 1, sizeof(*buf->annotations)) != CUT_OK ||
        grow_bytes((char **)&buf->classes, &buf->classes_cap, st.n_headers + 1) != CUT_OK ||
        grow_bytes((char **)&buf->overrides, &buf->overrides_cap, st.n_headers + 1) != CUT_OK) {
        return CUT_ENOMEM;
    }
    st.cursor = buf->scratch;
    for (int r = 0; r < CUT_AMQP091_R_COUNT; r++) {
        st.first[r] = -1;
    }
    for (size_t i = 0; i < st.n_headers; i++) {
        int r = cut_amqp091_reserved_find(headers->entries[i].key);
        if (r >= 0 && st.first[r] < 0) {
            st.first[r] = (int)i;
        }
    }

    cut_msg_init(msg);
    msg->body = d->body;
    msg->body_len = (size_t)d->body_size;
    msg->token = token;
    fill_fields(&st, d, wall_ms, msg);

    msg->delivery_count = d->redelivered ? 1 : 0;
    for (size_t i = 0; i < st.n_headers; i++) {
        /* Quorum queues count deliveries; classic ones only say "redelivered". */
        const amqp_table_entry_t *e = &headers->entries[i];
        int64_t count;
        if (cut_amqp091_bytes_eq(e->key, "x-delivery-count") && is_int_kind(e->value.kind) &&
            field_int(&e->value, &count)) {
            msg->delivery_count = count < 0 ? 0 : count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
        }
    }
    return fill_headers(&st, buf, msg);
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
    free(buf->annotations);
    free(buf->classes);
    free(buf->overrides);
    free(buf->layout);
    free(buf->layout_entries);
    memset(buf, 0, sizeof(*buf));
}
