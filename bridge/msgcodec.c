#include <stdlib.h>
#include <string.h>

#include "cutover/msgcodec.h"

enum {
    T_BODY = 1,
    T_BODY_KIND,
    T_MESSAGE_ID,
    T_MESSAGE_ID_TYPE,
    T_CORRELATION_ID,
    T_CORRELATION_ID_TYPE,
    T_CONTENT_TYPE,
    T_CONTENT_ENCODING,
    T_TYPE,
    T_USER_ID,
    T_DESTINATION,
    T_DESTINATION_TYPE,
    T_REPLY_TO,
    T_REPLY_TO_TYPE,
    T_GROUP_ID,
    T_GROUP_SEQ,
    T_PRIORITY,
    T_DURABLE,
    T_TTL,
    T_EXPIRY,
    T_TIMESTAMP,
    T_DELIVERY_COUNT,
    T_PROP,       /* name NUL, type u8, value */
    T_ANNOTATION, /* same layout as T_PROP */
};

static const uint8_t MAGIC[5] = {'C', 'U', 'T', 'M', 1};

void cut_buf_fini(struct cut_buf *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof(*buf));
}

static int reserve(struct cut_buf *buf, size_t more)
{
    if (buf->len + more <= buf->cap) {
        return CUT_OK;
    }
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap < buf->len + more) {
        cap *= 2;
    }
    uint8_t *data = realloc(buf->data, cap);
    if (data == NULL) {
        return CUT_ENOMEM;
    }
    buf->data = data;
    buf->cap = cap;
    return CUT_OK;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int put_field(struct cut_buf *buf, uint8_t tag, const void *a, size_t alen, const void *b,
                     size_t blen)
{
    if (reserve(buf, 5 + alen + blen) != CUT_OK) {
        return CUT_ENOMEM;
    }
    buf->data[buf->len] = tag;
    put_u32(buf->data + buf->len + 1, (uint32_t)(alen + blen));
    if (alen) {
        memcpy(buf->data + buf->len + 5, a, alen);
    }
    if (blen) {
        memcpy(buf->data + buf->len + 5 + alen, b, blen);
    }
    buf->len += 5 + alen + blen;
    return CUT_OK;
}

static int put_str(struct cut_buf *buf, uint8_t tag, const char *s)
{
    return s == NULL ? CUT_OK : put_field(buf, tag, s, strlen(s), NULL, 0);
}

static int put_i64(struct cut_buf *buf, uint8_t tag, int64_t v)
{
    uint8_t b[8];
    put_u32(b, (uint32_t)((uint64_t)v >> 32));
    put_u32(b + 4, (uint32_t)v);
    return put_field(buf, tag, b, 8, NULL, 0);
}

static int put_prop(struct cut_buf *buf, uint8_t tag, const struct cut_prop *prop)
{
    uint8_t head[1 + 8];
    size_t nlen = strlen(prop->name) + 1;
    const void *val = head + 1;
    size_t vlen = 0;
    head[0] = (uint8_t)prop->type;
    switch (prop->type) {
    case CUT_PROP_NULL:
        break;
    case CUT_PROP_BOOL:
        head[1] = prop->v.b;
        vlen = 1;
        break;
    case CUT_PROP_FLOAT:
    case CUT_PROP_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &prop->v.d, 8);
        put_u32(head + 1, (uint32_t)(bits >> 32));
        put_u32(head + 5, (uint32_t)bits);
        vlen = 8;
        break;
    }
    case CUT_PROP_BYTE:
    case CUT_PROP_SHORT:
    case CUT_PROP_INT:
    case CUT_PROP_LONG:
    case CUT_PROP_TIMESTAMP:
        put_u32(head + 1, (uint32_t)((uint64_t)prop->v.i >> 32));
        put_u32(head + 5, (uint32_t)prop->v.i);
        vlen = 8;
        break;
    default:
        val = prop->v.s.ptr;
        vlen = prop->v.s.len;
        break;
    }
    /* name NUL type value: assembled in two appends into one field */
    if (reserve(buf, 5 + nlen + 1 + vlen) != CUT_OK) {
        return CUT_ENOMEM;
    }
    buf->data[buf->len] = tag;
    put_u32(buf->data + buf->len + 1, (uint32_t)(nlen + 1 + vlen));
    memcpy(buf->data + buf->len + 5, prop->name, nlen);
    buf->data[buf->len + 5 + nlen] = head[0];
    if (vlen) {
        memcpy(buf->data + buf->len + 5 + nlen + 1, val, vlen);
    }
    buf->len += 5 + nlen + 1 + vlen;
    return CUT_OK;
}

int cut_msg_encode(const struct cut_msg *msg, struct cut_buf *out)
{
    int rc = CUT_OK;
    out->len = 0;
    if (reserve(out, sizeof(MAGIC) + msg->body_len + 256) != CUT_OK) {
        return CUT_ENOMEM;
    }
    memcpy(out->data, MAGIC, sizeof(MAGIC));
    out->len = sizeof(MAGIC);
    rc |= put_field(out, T_BODY, msg->body, msg->body_len, NULL, 0);
    rc |= put_i64(out, T_BODY_KIND, msg->body_kind);
    rc |= put_str(out, T_MESSAGE_ID, msg->message_id);
    rc |= put_i64(out, T_MESSAGE_ID_TYPE, msg->message_id_type);
    rc |= put_str(out, T_CORRELATION_ID, msg->correlation_id);
    rc |= put_i64(out, T_CORRELATION_ID_TYPE, msg->correlation_id_type);
    rc |= put_str(out, T_CONTENT_TYPE, msg->content_type);
    rc |= put_str(out, T_CONTENT_ENCODING, msg->content_encoding);
    rc |= put_str(out, T_TYPE, msg->type);
    rc |= put_str(out, T_USER_ID, msg->user_id);
    rc |= put_str(out, T_DESTINATION, msg->destination);
    rc |= put_i64(out, T_DESTINATION_TYPE, msg->destination_type);
    rc |= put_str(out, T_REPLY_TO, msg->reply_to);
    rc |= put_i64(out, T_REPLY_TO_TYPE, msg->reply_to_type);
    rc |= put_str(out, T_GROUP_ID, msg->group_id);
    rc |= put_i64(out, T_GROUP_SEQ, msg->group_seq);
    rc |= put_i64(out, T_PRIORITY, msg->priority);
    rc |= put_i64(out, T_DURABLE, msg->durable);
    rc |= put_i64(out, T_TTL, msg->ttl_ms);
    rc |= put_i64(out, T_EXPIRY, msg->expiry_ms);
    rc |= put_i64(out, T_TIMESTAMP, msg->timestamp_ms);
    rc |= put_i64(out, T_DELIVERY_COUNT, msg->delivery_count);
    for (size_t i = 0; i < msg->n_props; i++) {
        rc |= put_prop(out, T_PROP, &msg->props[i]);
    }
    for (size_t i = 0; i < msg->n_annotations; i++) {
        rc |= put_prop(out, T_ANNOTATION, &msg->annotations[i]);
    }
    return rc == CUT_OK ? CUT_OK : CUT_ENOMEM;
}

static int64_t get_i64(const uint8_t *p)
{
    return (int64_t)((uint64_t)get_u32(p) << 32 | get_u32(p + 4));
}

/* Copy a string field into the strings arena; returns it NUL-terminated. */
static const char *keep(struct cut_msg_decoded *dec, size_t *used, const uint8_t *p, size_t len)
{
    char *at = dec->strings + *used;
    memcpy(at, p, len);
    at[len] = '\0';
    *used += len + 1;
    return at;
}

static int decode_prop(const uint8_t *p, uint32_t len, struct cut_prop *prop, struct cut_err *err)
{
    const uint8_t *nul = memchr(p, '\0', len);
    if (nul == NULL || (size_t)(nul - p) + 2 > len) {
        return cut_err_set(err, CUT_EINVAL, "message blob: bad property entry");
    }
    size_t off = (size_t)(nul - p) + 1;
    prop->name = (const char *)p;
    prop->type = (enum cut_prop_type)p[off];
    const uint8_t *v = p + off + 1;
    size_t vlen = len - off - 1;
    switch (prop->type) {
    case CUT_PROP_NULL:
        return CUT_OK;
    case CUT_PROP_BOOL:
        if (vlen != 1) {
            break;
        }
        prop->v.b = v[0] != 0;
        return CUT_OK;
    case CUT_PROP_FLOAT:
    case CUT_PROP_DOUBLE: {
        if (vlen != 8) {
            break;
        }
        uint64_t bits = (uint64_t)get_i64(v);
        memcpy(&prop->v.d, &bits, 8);
        return CUT_OK;
    }
    case CUT_PROP_BYTE:
    case CUT_PROP_SHORT:
    case CUT_PROP_INT:
    case CUT_PROP_LONG:
    case CUT_PROP_TIMESTAMP:
        if (vlen != 8) {
            break;
        }
        prop->v.i = get_i64(v);
        return CUT_OK;
    case CUT_PROP_STRING:
    case CUT_PROP_BYTES:
    case CUT_PROP_UUID:
    case CUT_PROP_SYMBOL:
        prop->v.s.ptr = (const char *)v;
        prop->v.s.len = vlen;
        return CUT_OK;
    }
    return cut_err_set(err, CUT_EINVAL, "message blob: bad value of property \"%s\"", prop->name);
}

int cut_msg_decode(const void *blob, size_t len, struct cut_msg_decoded *dec, struct cut_err *err)
{
    const uint8_t *p = blob, *end = p + len;
    size_t n_props = 0, n_ann = 0, used = 0;

    memset(dec, 0, sizeof(*dec));
    cut_msg_init(&dec->msg);
    if (len < sizeof(MAGIC) || memcmp(p, MAGIC, sizeof(MAGIC)) != 0) {
        return cut_err_set(err, CUT_EINVAL, "message blob: not a version 1 envelope");
    }
    /* First pass: check every length and count what to allocate. */
    for (const uint8_t *q = p + sizeof(MAGIC); q < end;) {
        if (end - q < 5 || get_u32(q + 1) > (size_t)(end - q - 5)) {
            return cut_err_set(err, CUT_EINVAL, "message blob: truncated at byte %zu",
                               (size_t)(q - p));
        }
        n_props += q[0] == T_PROP;
        n_ann += q[0] == T_ANNOTATION;
        q += 5 + get_u32(q + 1);
    }
    /* Properties point into the blob; their names are NUL-terminated there.
     * String fields are copied so that they are NUL-terminated. */
    dec->props = calloc(n_props ? n_props : 1, sizeof(*dec->props));
    dec->annotations = calloc(n_ann ? n_ann : 1, sizeof(*dec->annotations));
    dec->strings = malloc(len + 16);
    if (dec->props == NULL || dec->annotations == NULL || dec->strings == NULL) {
        cut_msg_decoded_fini(dec);
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    struct cut_msg *msg = &dec->msg;
    for (const uint8_t *q = p + sizeof(MAGIC); q < end;) {
        uint8_t tag = q[0];
        uint32_t flen = get_u32(q + 1);
        const uint8_t *v = q + 5;
        q += 5 + flen;
        int64_t num = flen == 8 ? get_i64(v) : 0;
        switch (tag) {
        case T_BODY:
            msg->body = v;
            msg->body_len = flen;
            break;
        case T_PROP:
        case T_ANNOTATION: {
            struct cut_prop *prop = tag == T_PROP ? &dec->props[msg->n_props++]
                                                  : &dec->annotations[msg->n_annotations++];
            if (decode_prop(v, flen, prop, err) != CUT_OK) {
                cut_msg_decoded_fini(dec);
                return CUT_EINVAL;
            }
            break;
        }
        case T_MESSAGE_ID:
            msg->message_id = keep(dec, &used, v, flen);
            break;
        case T_CORRELATION_ID:
            msg->correlation_id = keep(dec, &used, v, flen);
            break;
        case T_CONTENT_TYPE:
            msg->content_type = keep(dec, &used, v, flen);
            break;
        case T_CONTENT_ENCODING:
            msg->content_encoding = keep(dec, &used, v, flen);
            break;
        case T_TYPE:
            msg->type = keep(dec, &used, v, flen);
            break;
        case T_USER_ID:
            msg->user_id = keep(dec, &used, v, flen);
            break;
        case T_DESTINATION:
            msg->destination = keep(dec, &used, v, flen);
            break;
        case T_REPLY_TO:
            msg->reply_to = keep(dec, &used, v, flen);
            break;
        case T_GROUP_ID:
            msg->group_id = keep(dec, &used, v, flen);
            break;
        case T_BODY_KIND:
            msg->body_kind = (enum cut_body_kind)num;
            break;
        case T_MESSAGE_ID_TYPE:
            msg->message_id_type = (enum cut_id_type)num;
            break;
        case T_CORRELATION_ID_TYPE:
            msg->correlation_id_type = (enum cut_id_type)num;
            break;
        case T_DESTINATION_TYPE:
            msg->destination_type = (enum cut_dest_type)num;
            break;
        case T_REPLY_TO_TYPE:
            msg->reply_to_type = (enum cut_dest_type)num;
            break;
        case T_GROUP_SEQ:
            msg->group_seq = num;
            break;
        case T_PRIORITY:
            msg->priority = (int)num;
            break;
        case T_DURABLE:
            msg->durable = num != 0;
            break;
        case T_TTL:
            msg->ttl_ms = num;
            break;
        case T_EXPIRY:
            msg->expiry_ms = num;
            break;
        case T_TIMESTAMP:
            msg->timestamp_ms = num;
            break;
        case T_DELIVERY_COUNT:
            msg->delivery_count = (uint32_t)num;
            break;
        default:
            break; /* a field of a later version */
        }
    }
    if (msg->message_id == NULL) {
        cut_msg_decoded_fini(dec);
        return cut_err_set(err, CUT_EINVAL, "message blob: no message id");
    }
    msg->props = dec->props;
    msg->annotations = dec->annotations;
    return CUT_OK;
}

void cut_msg_decoded_fini(struct cut_msg_decoded *dec)
{
    free(dec->props);
    free(dec->annotations);
    free(dec->strings);
    memset(dec, 0, sizeof(*dec));
}
