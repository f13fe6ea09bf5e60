/*
 * The deterministic 0-9-1 test message (see amqp091_spec.h).
 *
 * Basic properties, each present for some seqs and absent for others:
 * content_type (one non-ASCII), content_encoding, correlation_id, reply_to,
 * expiration (a TTL long enough not to expire during a test), message_id
 * (always "<prefix>-<seq>": that is how checkers find the seq), timestamp
 * (fixed seconds, not the clock), type, user_id ("guest", the login user),
 * app_id, priority 0..9, delivery_mode 1 or 2 (always 2 with the persistent
 * option: transient messages do not survive a broker restart). Not varied: absent
 * delivery_mode (the envelope cannot tell it from 1) and cluster_id
 * (deprecated, RabbitMQ drops it).
 *
 * Headers: cut_id (longstr), h_bool, h_i8, h_i16, h_i32, h_i64 (with the
 * extremes), h_f32, h_f64 (extremes, -0, denormals; no NaN or infinity:
 * RabbitMQ's Erlang decoder cannot hold them), h_str (empty, non-ASCII,
 * 1000 characters, ';' and '='), h_bytes, h_ts (timestamp), h_void, and the
 * nested h_table and h_array, plus 40 x_<n> headers now and then.
 *
 * Bodies: JSON-like text or binary, 0..1500 bytes, some empty, and every
 * 500th 300 KB (more than one frame at frame_max 131072) unless no_large.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp091_spec.h"

#define TS_BASE 1700000000 /* seconds: fixed, so that a check can recompute it */

static amqp_table_entry_t *add(struct spec *s, const char *name, uint8_t kind)
{
    amqp_table_entry_t *e = &s->hdrs[s->props.headers.num_entries++];
    e->key = amqp_cstring_bytes(name);
    e->value.kind = kind;
    return e;
}

static void make_headers(struct spec *s, long seq)
{
    int e = (int)(seq % 50);
    s->props._flags |= AMQP_BASIC_HEADERS_FLAG;
    s->props.headers.entries = s->hdrs;
    s->props.headers.num_entries = 0;

    add(s, "cut_id", AMQP_FIELD_KIND_UTF8)->value.value.bytes = amqp_cstring_bytes(s->cut_id);
    add(s, "h_bool", AMQP_FIELD_KIND_BOOLEAN)->value.value.boolean = seq % 2 == 0;
    add(s, "h_i8", AMQP_FIELD_KIND_I8)->value.value.i8 = e == 0   ? INT8_MIN
                                                         : e == 1 ? INT8_MAX
                                                                  : (int8_t)(seq * 7);
    add(s, "h_i16", AMQP_FIELD_KIND_I16)->value.value.i16 = e == 0   ? INT16_MIN
                                                            : e == 1 ? INT16_MAX
                                                                     : (int16_t)(seq * -301);
    add(s, "h_i32", AMQP_FIELD_KIND_I32)->value.value.i32 = e == 0   ? INT32_MIN
                                                            : e == 1 ? INT32_MAX
                                                                     : (int32_t)(seq * -65537);
    add(s, "h_i64", AMQP_FIELD_KIND_I64)->value.value.i64 = e == 0   ? INT64_MIN
                                                            : e == 1 ? INT64_MAX
                                                                     : (int64_t)seq * -4294967311LL;
    float f;
    double d;
    switch (e) {
    case 0:
        f = -3.40282347e+38f, d = -1.7976931348623157e308;
        break;
    case 1:
        f = 3.40282347e+38f, d = 1.7976931348623157e308;
        break;
    case 2:
        f = -0.0f, d = -0.0;
        break;
    case 4:
        f = 1.40129846e-45f, d = 4.9406564584124654e-324;
        break;
    case 6:
        f = 0.1f, d = 0.1;
        break;
    case 7:
        f = 1e10f, d = 1e21;
        break;
    default:
        f = (float)seq * 1.1f - 1000.25f, d = (double)seq / 7.0 - 1e6;
        break;
    }
    add(s, "h_f32", AMQP_FIELD_KIND_F32)->value.value.f32 = f;
    add(s, "h_f64", AMQP_FIELD_KIND_F64)->value.value.f64 = d;
    switch (seq % 13) {
    case 0:
        s->str[0] = '\0';
        break;
    case 1:
        snprintf(s->str, sizeof(s->str), "héllo wörld ✓ 日本語 🎉 %ld", seq);
        break;
    case 2:
        memset(s->str, 'L', 1000);
        snprintf(s->str + 1000, sizeof(s->str) - 1000, "%ld", seq);
        break;
    case 3:
        snprintf(s->str, sizeof(s->str), "a=b;c=d\n\t\"quoted\" %ld", seq);
        break;
    default:
        snprintf(s->str, sizeof(s->str), "s-%ld", seq);
        break;
    }
    add(s, "h_str", AMQP_FIELD_KIND_UTF8)->value.value.bytes = amqp_cstring_bytes(s->str);
    if (seq % 3 == 0) {
        s->bytes[0] = 0;
        s->bytes[1] = (unsigned char)seq;
        s->bytes[2] = 0xff;
        s->bytes[3] = 0;
        add(s, "h_bytes", AMQP_FIELD_KIND_BYTES)->value.value.bytes =
            (amqp_bytes_t){.len = 4, .bytes = s->bytes};
    }
    if (seq % 2 == 1) {
        add(s, "h_ts", AMQP_FIELD_KIND_TIMESTAMP)->value.value.u64 = TS_BASE + (uint64_t)seq;
    }
    if (seq % 10 == 3) {
        add(s, "h_void", AMQP_FIELD_KIND_VOID);
    }
    if (seq % 8 == 5) {
        s->nested[0] =
            (amqp_table_entry_t){.key = amqp_cstring_bytes("a"),
                                 .value = {.kind = AMQP_FIELD_KIND_I32, .value.i32 = (int32_t)seq}};
        s->nested[1] = (amqp_table_entry_t){
            .key = amqp_cstring_bytes("b"),
            .value = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes("x")}};
        add(s, "h_table", AMQP_FIELD_KIND_TABLE)->value.value.table =
            (amqp_table_t){.num_entries = 2, .entries = s->nested};
    }
    if (seq % 8 == 6) {
        s->array[0] = (amqp_field_value_t){.kind = AMQP_FIELD_KIND_I64, .value.i64 = seq};
        s->array[1] = (amqp_field_value_t){.kind = AMQP_FIELD_KIND_UTF8,
                                           .value.bytes = amqp_cstring_bytes("y")};
        add(s, "h_array", AMQP_FIELD_KIND_ARRAY)->value.value.array =
            (amqp_array_t){.num_entries = 2, .entries = s->array};
    }
    if (seq % 100 == 42) {
        for (int i = 0; i < 40; i++) {
            snprintf(s->names[i], sizeof(s->names[i]), "x_%d", i);
            add(s, s->names[i], AMQP_FIELD_KIND_I32)->value.value.i32 = (int32_t)(seq + i);
        }
    }
}

static void make_body(struct spec *s, const struct spec_opts *o, long seq)
{
    size_t len = seq % 100 == 19                      ? 0
                 : (!o->no_large && seq % 500 == 250) ? 300000
                                                      : (size_t)((seq * 37) % 1500);
    s->body = malloc(len > 0 ? len : 1);
    s->body_len = len;
    if (seq % 2 == 0) {
        int n =
            snprintf((char *)s->body, len, "{\"id\":\"%s\",\"seq\":%ld,\"ü\":\"✓\"}", s->id, seq);
        size_t i = n < 0 ? 0 : (size_t)n >= len ? len : (size_t)n;
        for (; i < len; i++) {
            s->body[i] = (unsigned char)(' ' + i % 64);
        }
    } else {
        for (size_t i = 0; i < len; i++) {
            s->body[i] = (unsigned char)(i * 31 + (size_t)seq * 7);
        }
    }
}

void spec_make(struct spec *s, const struct spec_opts *o, long seq)
{
    memset(s, 0, sizeof(*s));
    s->seq = seq;
    snprintf(s->id, sizeof(s->id), "%s-%ld", o->prefix, seq);
    snprintf(s->cut_id, sizeof(s->cut_id), "%s", s->id);
    amqp_basic_properties_t *p = &s->props;

    p->_flags = AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    p->message_id = amqp_cstring_bytes(s->id);
    p->delivery_mode =
        seq % 10 == 7 && !o->persistent ? AMQP_DELIVERY_NONPERSISTENT : AMQP_DELIVERY_PERSISTENT;
    static const char *const ctypes[] = {NULL, "application/json", "text/plain; charset=utf-8",
                                         "application/octet-stream", "application/x-ünicode"};
    if (ctypes[seq % 5] != NULL) {
        snprintf(s->content_type, sizeof(s->content_type), "%s", ctypes[seq % 5]);
        p->_flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
        p->content_type = amqp_cstring_bytes(s->content_type);
    }
    if (seq % 4 == 1 || seq % 4 == 2) {
        snprintf(s->content_encoding, sizeof(s->content_encoding), "%s",
                 seq % 4 == 1 ? "gzip" : "utf-8");
        p->_flags |= AMQP_BASIC_CONTENT_ENCODING_FLAG;
        p->content_encoding = amqp_cstring_bytes(s->content_encoding);
    }
    if (seq % 3 != 0) {
        snprintf(s->correlation_id, sizeof(s->correlation_id), "corr-%s", s->id);
        p->_flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
        p->correlation_id = amqp_cstring_bytes(s->correlation_id);
    }
    if (seq % 4 != 0) {
        snprintf(s->reply_to, sizeof(s->reply_to), "reply-%s-%ld", o->prefix, seq % 3);
        p->_flags |= AMQP_BASIC_REPLY_TO_FLAG;
        p->reply_to = amqp_cstring_bytes(s->reply_to);
    }
    if (seq % 3 == 0 || seq % 9 == 4) {
        snprintf(s->expiration, sizeof(s->expiration), "%s", seq % 3 == 0 ? "3600000" : "86400000");
        p->_flags |= AMQP_BASIC_EXPIRATION_FLAG;
        p->expiration = amqp_cstring_bytes(s->expiration);
    }
    if (seq % 2 == 0) {
        p->_flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        p->timestamp = TS_BASE + (uint64_t)seq;
    }
    if (seq % 5 != 0) {
        snprintf(s->type, sizeof(s->type), "type-%ld", seq % 7);
        p->_flags |= AMQP_BASIC_TYPE_FLAG;
        p->type = amqp_cstring_bytes(s->type);
    }
    if (seq % 6 == 0) {
        p->_flags |= AMQP_BASIC_USER_ID_FLAG;
        p->user_id = amqp_cstring_bytes(SPEC_USER);
    }
    if (seq % 4 == 3) {
        snprintf(s->app_id, sizeof(s->app_id), "app-%s", o->prefix);
        p->_flags |= AMQP_BASIC_APP_ID_FLAG;
        p->app_id = amqp_cstring_bytes(s->app_id);
    }
    if (seq % 11 < 10) {
        p->_flags |= AMQP_BASIC_PRIORITY_FLAG;
        p->priority = (uint8_t)(seq % 11);
    }
    make_headers(s, seq);
    make_body(s, o, seq);
}

void spec_free(struct spec *s)
{
    free(s->body);
    s->body = NULL;
}

long spec_parse_id(const void *id, size_t len, const char *prefix, long start, long count)
{
    const char *p = id;
    size_t plen = strlen(prefix);
    if (len <= plen + 1 || len > plen + 19 || memcmp(p, prefix, plen) != 0 || p[plen] != '-') {
        return -1;
    }
    long seq = 0;
    for (size_t i = plen + 1; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        seq = seq * 10 + (p[i] - '0');
    }
    return seq >= start && seq < start + count ? seq : -1;
}

bool spec_nested(uint8_t kind)
{
    return kind == AMQP_FIELD_KIND_TABLE || kind == AMQP_FIELD_KIND_ARRAY;
}

static bool bytes_equal(amqp_bytes_t a, amqp_bytes_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.bytes, b.bytes, a.len) == 0);
}

static bool table_equal(const amqp_table_t *a, const amqp_table_t *b)
{
    if (a->num_entries != b->num_entries) {
        return false;
    }
    for (int i = 0; i < a->num_entries; i++) {
        if (!bytes_equal(a->entries[i].key, b->entries[i].key) ||
            !spec_field_equal(&a->entries[i].value, &b->entries[i].value)) {
            return false;
        }
    }
    return true;
}

bool spec_field_equal(const amqp_field_value_t *a, const amqp_field_value_t *b)
{
    if (a->kind != b->kind) {
        return false;
    }
    switch (a->kind) {
    case AMQP_FIELD_KIND_BOOLEAN:
        return (a->value.boolean != 0) == (b->value.boolean != 0);
    case AMQP_FIELD_KIND_I8:
    case AMQP_FIELD_KIND_U8:
        return a->value.u8 == b->value.u8;
    case AMQP_FIELD_KIND_I16:
    case AMQP_FIELD_KIND_U16:
        return a->value.u16 == b->value.u16;
    case AMQP_FIELD_KIND_I32:
    case AMQP_FIELD_KIND_U32:
    case AMQP_FIELD_KIND_F32:
        return a->value.u32 == b->value.u32; /* floats bit for bit */
    case AMQP_FIELD_KIND_I64:
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_F64:
    case AMQP_FIELD_KIND_TIMESTAMP:
        return a->value.u64 == b->value.u64;
    case AMQP_FIELD_KIND_DECIMAL:
        return a->value.decimal.decimals == b->value.decimal.decimals &&
               a->value.decimal.value == b->value.decimal.value;
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
        return bytes_equal(a->value.bytes, b->value.bytes);
    case AMQP_FIELD_KIND_VOID:
        return true;
    case AMQP_FIELD_KIND_TABLE:
        return table_equal(&a->value.table, &b->value.table);
    case AMQP_FIELD_KIND_ARRAY:
        if (a->value.array.num_entries != b->value.array.num_entries) {
            return false;
        }
        for (int i = 0; i < a->value.array.num_entries; i++) {
            if (!spec_field_equal(&a->value.array.entries[i], &b->value.array.entries[i])) {
                return false;
            }
        }
        return true;
    default:
        return false;
    }
}

const char *spec_field_text(const amqp_field_value_t *v, char *buf, size_t size)
{
    switch (v->kind) {
    case AMQP_FIELD_KIND_BOOLEAN:
        snprintf(buf, size, "bool %s", v->value.boolean ? "true" : "false");
        break;
    case AMQP_FIELD_KIND_I8:
        snprintf(buf, size, "i8 %d", v->value.i8);
        break;
    case AMQP_FIELD_KIND_U8:
        snprintf(buf, size, "u8 %u", v->value.u8);
        break;
    case AMQP_FIELD_KIND_I16:
        snprintf(buf, size, "i16 %d", v->value.i16);
        break;
    case AMQP_FIELD_KIND_U16:
        snprintf(buf, size, "u16 %u", v->value.u16);
        break;
    case AMQP_FIELD_KIND_I32:
        snprintf(buf, size, "i32 %" PRId32, v->value.i32);
        break;
    case AMQP_FIELD_KIND_U32:
        snprintf(buf, size, "u32 %" PRIu32, v->value.u32);
        break;
    case AMQP_FIELD_KIND_I64:
        snprintf(buf, size, "i64 %" PRId64, v->value.i64);
        break;
    case AMQP_FIELD_KIND_U64:
        snprintf(buf, size, "u64 %" PRIu64, v->value.u64);
        break;
    case AMQP_FIELD_KIND_TIMESTAMP:
        snprintf(buf, size, "timestamp %" PRIu64, v->value.u64);
        break;
    case AMQP_FIELD_KIND_F32:
        snprintf(buf, size, "f32 %.9g", (double)v->value.f32);
        break;
    case AMQP_FIELD_KIND_F64:
        snprintf(buf, size, "f64 %.17g", v->value.f64);
        break;
    case AMQP_FIELD_KIND_DECIMAL:
        snprintf(buf, size, "decimal %u/%u", v->value.decimal.value, v->value.decimal.decimals);
        break;
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: {
        size_t n = v->value.bytes.len > 40 ? 40 : v->value.bytes.len;
        snprintf(buf, size, "%s[%zu] \"%.*s%s\"",
                 v->kind == AMQP_FIELD_KIND_UTF8 ? "longstr" : "bytes", v->value.bytes.len, (int)n,
                 (const char *)v->value.bytes.bytes, n < v->value.bytes.len ? "..." : "");
        break;
    }
    case AMQP_FIELD_KIND_VOID:
        snprintf(buf, size, "void");
        break;
    case AMQP_FIELD_KIND_TABLE:
        snprintf(buf, size, "table of %d", v->value.table.num_entries);
        break;
    case AMQP_FIELD_KIND_ARRAY:
        snprintf(buf, size, "array of %d", v->value.array.num_entries);
        break;
    default:
        snprintf(buf, size, "kind '%c'", v->kind);
        break;
    }
    return buf;
}
