/*
 * Names and text codecs of the AMQP 0-9-1 envelope mapping (amqp091_map.h).
 * The codecs are strict on purpose: the source consumes a reserved header
 * only when the text it holds is exactly what the sink would write back, so
 * "canonical" checks are the point, not a nicety.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "amqp091_map.h"

const char *const cut_amqp091_reserved_names[CUT_AMQP091_R_COUNT] = {
    [CUT_AMQP091_R_MESSAGE_ID] = "x-message-id",
    [CUT_AMQP091_R_MESSAGE_ID_TYPE] = "x-message-id-type",
    [CUT_AMQP091_R_CORR_ID] = "x-correlation-id",
    [CUT_AMQP091_R_CORR_ID_TYPE] = "x-correlation-id-type",
    [CUT_AMQP091_R_REPLY_TO] = "x-jms-reply-to",
    [CUT_AMQP091_R_REPLY_TO_TYPE] = "x-jms-reply-to-type",
    [CUT_AMQP091_R_DEST] = "x-jms-destination",
    [CUT_AMQP091_R_DEST_TYPE] = "x-jms-destination-type",
    [CUT_AMQP091_R_BODY_KIND] = "x-jms-body-kind",
    [CUT_AMQP091_R_TIMESTAMP_MS] = "x-jms-timestamp-ms",
    [CUT_AMQP091_R_EXPIRATION] = "x-jms-expiration",
    [CUT_AMQP091_R_USER_ID] = "x-jms-user-id",
    [CUT_AMQP091_R_GROUP_ID] = "JMSXGroupID",
    [CUT_AMQP091_R_GROUP_SEQ] = "JMSXGroupSeq",
};

bool cut_amqp091_bytes_eq(amqp_bytes_t b, const char *s)
{
    size_t len = strlen(s);
    return b.len == len && (len == 0 || memcmp(b.bytes, s, len) == 0);
}

int cut_amqp091_reserved_find(amqp_bytes_t name)
{
    /* Every reserved name starts with "x-" or "JMSX": skip the rest cheaply. */
    const char *p = name.bytes;
    if (name.len < 4 || !((p[0] == 'x' && p[1] == '-') || (p[0] == 'J' && p[1] == 'M'))) {
        return -1;
    }
    for (int i = 0; i < CUT_AMQP091_R_COUNT; i++) {
        if (cut_amqp091_bytes_eq(name, cut_amqp091_reserved_names[i])) {
            return i;
        }
    }
    return -1;
}

bool cut_amqp091_annotation_mirrored(const char *name)
{
    /* The AMQP JMS mapping's annotations for fields the envelope has. */
    return strcmp(name, "x-opt-jms-msg-type") == 0 || strcmp(name, "x-opt-jms-dest") == 0 ||
           strcmp(name, "x-opt-jms-reply-to") == 0;
}

/* ---- enumerations --------------------------------------------------------- */

static const char *const dest_names[] = {
    [CUT_DEST_QUEUE] = "queue",
    [CUT_DEST_TOPIC] = "topic",
    [CUT_DEST_TEMP_QUEUE] = "temporary-queue",
    [CUT_DEST_TEMP_TOPIC] = "temporary-topic",
};

const char *cut_amqp091_dest_type_name(enum cut_dest_type type)
{
    if ((int)type < 0 || (size_t)type >= sizeof(dest_names) / sizeof(dest_names[0])) {
        return NULL;
    }
    return dest_names[type];
}

bool cut_amqp091_dest_type_parse(amqp_bytes_t s, enum cut_dest_type *type)
{
    for (size_t i = 0; i < sizeof(dest_names) / sizeof(dest_names[0]); i++) {
        if (cut_amqp091_bytes_eq(s, dest_names[i])) {
            *type = (enum cut_dest_type)i;
            return true;
        }
    }
    return false;
}

static const char *const body_names[] = {
    [CUT_BODY_MESSAGE] = "message", [CUT_BODY_OBJECT] = "object", [CUT_BODY_MAP] = "map",
    [CUT_BODY_BYTES] = "bytes",     [CUT_BODY_STREAM] = "stream", [CUT_BODY_TEXT] = "text",
};

const char *cut_amqp091_body_kind_name(enum cut_body_kind kind)
{
    if ((int)kind < 0 || (size_t)kind >= sizeof(body_names) / sizeof(body_names[0])) {
        return NULL;
    }
    return body_names[kind];
}

bool cut_amqp091_body_kind_parse(amqp_bytes_t s, enum cut_body_kind *kind)
{
    for (size_t i = 0; i < sizeof(body_names) / sizeof(body_names[0]); i++) {
        if (cut_amqp091_bytes_eq(s, body_names[i])) {
            *kind = (enum cut_body_kind)i;
            return true;
        }
    }
    return false;
}

const char *cut_amqp091_id_type_name(enum cut_id_type type)
{
    switch (type) {
    case CUT_ID_UUID:
        return "uuid";
    case CUT_ID_ULONG:
        return "ulong";
    case CUT_ID_BINARY:
        return "binary";
    default:
        return NULL;
    }
}

bool cut_amqp091_id_type_parse(amqp_bytes_t s, enum cut_id_type *type)
{
    static const enum cut_id_type types[] = {CUT_ID_UUID, CUT_ID_ULONG, CUT_ID_BINARY};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (cut_amqp091_bytes_eq(s, cut_amqp091_id_type_name(types[i]))) {
            *type = types[i];
            return true;
        }
    }
    return false;
}

/* ---- ids ------------------------------------------------------------------ */

static bool is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int hex_value(char c)
{
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

bool cut_amqp091_uuid_canonical(const char *s, size_t len)
{
    if (len != 36) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_lower_hex(s[i])) {
            return false;
        }
    }
    return true;
}

bool cut_amqp091_u64_parse(const char *s, size_t len, uint64_t *v)
{
    uint64_t n = 0;
    if (len == 0 || len > 20 || (len > 1 && s[0] == '0')) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        uint64_t d = (uint64_t)(s[i] - '0');
        if (n > (UINT64_MAX - d) / 10) {
            return false;
        }
        n = n * 10 + d;
    }
    *v = n;
    return true;
}

bool cut_amqp091_ulong_canonical(const char *s, size_t len)
{
    uint64_t v;
    return cut_amqp091_u64_parse(s, len, &v);
}

bool cut_amqp091_hex_canonical(const char *s, size_t len)
{
    if (len == 0 || len % 2 != 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_lower_hex(s[i])) {
            return false;
        }
    }
    return true;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t cut_amqp091_b64_encode(const void *in, size_t n, char *out)
{
    const unsigned char *p = in;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) {
            v |= (uint32_t)p[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= p[i + 2];
        }
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char c)
{
    const char *p = c != '\0' ? strchr(b64_alphabet, c) : NULL;
    return p != NULL ? (int)(p - b64_alphabet) : -1;
}

size_t cut_amqp091_b64_to_hex(const char *s, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    if (len == 0 || len % 4 != 0) {
        return 0;
    }
    for (size_t i = 0; i < len; i += 4) {
        int pad = (s[i + 3] == '=') + (s[i + 2] == '=');
        bool last = i + 4 == len;
        if ((pad > 0 && !last) || (pad == 1 && s[i + 2] == '=')) {
            return 0;
        }
        int v[4];
        for (int k = 0; k < 4 - pad; k++) {
            v[k] = b64_value(s[i + k]);
            if (v[k] < 0) {
                return 0;
            }
        }
        uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12;
        if (pad < 2) {
            bits |= (uint32_t)v[2] << 6;
        }
        if (pad < 1) {
            bits |= (uint32_t)v[3];
        }
        /* Canonical: the unused low bits of the last group are zero. */
        if ((pad == 1 && (bits & 0xff) != 0) || (pad == 2 && (bits & 0xffff) != 0)) {
            return 0;
        }
        int nbytes = 3 - pad;
        for (int k = 0; k < nbytes; k++) {
            unsigned byte = (bits >> (16 - 8 * k)) & 0xff;
            out[o++] = hex[byte >> 4];
            out[o++] = hex[byte & 15];
        }
    }
    out[o] = '\0';
    return o;
}

size_t cut_amqp091_hex_to_b64(const char *s, size_t len, char *out)
{
    if (!cut_amqp091_hex_canonical(s, len)) {
        return 0;
    }
    /* Three bytes at a time, so no intermediate buffer is needed. */
    size_t o = 0;
    size_t n = len / 2;
    for (size_t i = 0; i < n; i += 3) {
        unsigned char chunk[3];
        size_t k = 0;
        for (; k < 3 && i + k < n; k++) {
            chunk[k] =
                (unsigned char)(hex_value(s[2 * (i + k)]) << 4 | hex_value(s[2 * (i + k) + 1]));
        }
        o += cut_amqp091_b64_encode(chunk, k, out + o);
    }
    out[o] = '\0';
    return o;
}

/* ---- values --------------------------------------------------------------- */

int64_t cut_amqp091_ttl_parse(amqp_bytes_t s)
{
    const char *p = s.bytes;
    size_t i = 0;
    int64_t ttl = 0;

    if (s.len > 0 && p[0] == '+') {
        i = 1;
    }
    if (s.len == i || s.len - i > 18) {
        return -1;
    }
    for (; i < s.len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        ttl = ttl * 10 + (p[i] - '0');
    }
    return ttl;
}

bool cut_amqp091_ttl_canonical(amqp_bytes_t s, int64_t ttl)
{
    char text[24];
    if (ttl <= 0) {
        return false;
    }
    int n = snprintf(text, sizeof(text), "%" PRId64, ttl);
    return s.len == (size_t)n && memcmp(s.bytes, text, (size_t)n) == 0;
}

size_t cut_amqp091_decimal_text(amqp_decimal_t d, char *out)
{
    char digits[16];
    int n = snprintf(digits, sizeof(digits), "%" PRIu32, d.value);
    size_t o = 0;
    if (d.decimals == 0) {
        memcpy(out, digits, (size_t)n + 1);
        return (size_t)n;
    }
    if ((int)d.decimals >= n) {
        /* 0.00ddd */
        out[o++] = '0';
        out[o++] = '.';
        for (int k = 0; k < (int)d.decimals - n; k++) {
            out[o++] = '0';
        }
        memcpy(out + o, digits, (size_t)n);
        o += (size_t)n;
    } else {
        size_t whole = (size_t)(n - d.decimals);
        memcpy(out, digits, whole);
        o = whole;
        out[o++] = '.';
        memcpy(out + o, digits + whole, d.decimals);
        o += d.decimals;
    }
    out[o] = '\0';
    return o;
}

bool cut_amqp091_decimal_parse(const char *s, size_t len, amqp_decimal_t *d)
{
    char text[CUT_AMQP091_DECIMAL_MAX];
    const char *dot = memchr(s, '.', len);
    uint64_t value = 0;
    size_t decimals = dot != NULL ? len - (size_t)(dot - s) - 1 : 0;

    if (len == 0 || len >= sizeof(text) || decimals > 255 || (dot != NULL && decimals == 0)) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s + i == dot) {
            continue;
        }
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        value = value * 10 + (uint64_t)(s[i] - '0');
        if (value > UINT32_MAX) {
            return false;
        }
    }
    amqp_decimal_t out = {.decimals = (uint8_t)decimals, .value = (uint32_t)value};
    /* Only the text the other direction writes: exact both ways. */
    size_t n = cut_amqp091_decimal_text(out, text);
    if (n != len || memcmp(text, s, len) != 0) {
        return false;
    }
    *d = out;
    return true;
}

uint8_t cut_amqp091_kind_of(enum cut_prop_type type)
{
    switch (type) {
    case CUT_PROP_NULL:
        return AMQP_FIELD_KIND_VOID;
    case CUT_PROP_BOOL:
        return AMQP_FIELD_KIND_BOOLEAN;
    case CUT_PROP_BYTE:
        return AMQP_FIELD_KIND_I8;
    case CUT_PROP_SHORT:
        return AMQP_FIELD_KIND_I16;
    case CUT_PROP_INT:
        return AMQP_FIELD_KIND_I32;
    case CUT_PROP_LONG:
        return AMQP_FIELD_KIND_I64;
    case CUT_PROP_FLOAT:
        return AMQP_FIELD_KIND_F32;
    case CUT_PROP_DOUBLE:
        return AMQP_FIELD_KIND_F64;
    case CUT_PROP_TIMESTAMP:
        return AMQP_FIELD_KIND_TIMESTAMP;
    case CUT_PROP_BYTES:
    case CUT_PROP_UUID:
        return AMQP_FIELD_KIND_BYTES;
    case CUT_PROP_STRING:
    case CUT_PROP_SYMBOL:
    default:
        return AMQP_FIELD_KIND_UTF8;
    }
}

uint64_t cut_amqp091_fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}
