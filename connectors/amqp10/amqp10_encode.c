/*
 * Encoding the envelope as an AMQP 1.0 message for the sink: the mapping
 * and the body rules are at the top of amqp10_msg.c. The header, properties,
 * annotations and application properties go through a reused pn_message_t;
 * the body section is appended as bytes, so that section bytes from the
 * source are written back exactly and big bodies are not copied into a
 * pn_data_t first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/codec.h>
#include <proton/error.h>

#include "amqp10_codec.h"

/* ---- encode --------------------------------------------------------------- */

static int put_prop(pn_data_t *d, const struct cut_prop *p)
{
    switch (p->type) {
    case CUT_PROP_NULL:
        return pn_data_put_null(d);
    case CUT_PROP_BOOL:
        return pn_data_put_bool(d, p->v.b);
    case CUT_PROP_BYTE:
        if (p->v.i >= INT8_MIN && p->v.i <= INT8_MAX) {
            return pn_data_put_byte(d, (int8_t)p->v.i);
        }
        return pn_data_put_long(d, p->v.i); /* never truncate: widen */
    case CUT_PROP_SHORT:
        if (p->v.i >= INT16_MIN && p->v.i <= INT16_MAX) {
            return pn_data_put_short(d, (int16_t)p->v.i);
        }
        return pn_data_put_long(d, p->v.i);
    case CUT_PROP_INT:
        if (p->v.i >= INT32_MIN && p->v.i <= INT32_MAX) {
            return pn_data_put_int(d, (int32_t)p->v.i);
        }
        return pn_data_put_long(d, p->v.i);
    case CUT_PROP_LONG:
        return pn_data_put_long(d, p->v.i);
    case CUT_PROP_FLOAT:
        return pn_data_put_float(d, (float)p->v.d);
    case CUT_PROP_DOUBLE:
        return pn_data_put_double(d, p->v.d);
    case CUT_PROP_STRING:
        return pn_data_put_string(d, pn_bytes(p->v.s.len, p->v.s.ptr));
    case CUT_PROP_BYTES:
        return pn_data_put_binary(d, pn_bytes(p->v.s.len, p->v.s.ptr));
    case CUT_PROP_SYMBOL:
        return pn_data_put_symbol(d, pn_bytes(p->v.s.len, p->v.s.ptr));
    case CUT_PROP_TIMESTAMP:
        return pn_data_put_timestamp(d, p->v.i);
    case CUT_PROP_UUID: {
        pn_uuid_t u;
        if (p->v.s.len != 16) {
            return CUT_EINVAL;
        }
        memcpy(u.bytes, p->v.s.ptr, 16);
        return pn_data_put_uuid(d, u);
    }
    default:
        return CUT_EINVAL;
    }
}

static int put_byte_ann(pn_data_t *d, const char *name, int value)
{
    pn_data_put_symbol(d, pn_bytes(strlen(name), name));
    return pn_data_put_byte(d, (int8_t)value);
}

/*
 * Message annotations: every one of the envelope's, in order, with the
 * three x-opt-jms-* ones rebuilt from the envelope fields where they stand.
 */
static int encode_annotations(pn_data_t *d, const struct cut_msg *msg, bool want_type)
{
    bool want_dest = msg->destination != NULL && msg->destination_type != CUT_DEST_NONE;
    bool want_reply = msg->reply_to != NULL && msg->reply_to_type != CUT_DEST_NONE;
    int rc = 0;

    if (msg->n_annotations == 0 && !want_type && !want_dest && !want_reply) {
        return CUT_OK;
    }
    pn_data_put_map(d);
    pn_data_enter(d);
    for (size_t i = 0; i < msg->n_annotations && rc == 0; i++) {
        const struct cut_prop *a = &msg->annotations[i];
        if (a->name == NULL) {
            continue;
        }
        if (strcmp(a->name, ANN_MSG_TYPE) == 0) {
            if (want_type) {
                rc = put_byte_ann(d, ANN_MSG_TYPE, msg->body_kind);
                want_type = false;
            }
        } else if (strcmp(a->name, ANN_DEST) == 0) {
            if (want_dest) {
                rc = put_byte_ann(d, ANN_DEST, msg->destination_type);
                want_dest = false;
            }
        } else if (strcmp(a->name, ANN_REPLY_TO) == 0) {
            if (want_reply) {
                rc = put_byte_ann(d, ANN_REPLY_TO, msg->reply_to_type);
                want_reply = false;
            }
        } else {
            pn_data_put_symbol(d, pn_bytes(strlen(a->name), a->name));
            rc = put_prop(d, a);
        }
    }
    if (rc == 0 && want_dest) {
        rc = put_byte_ann(d, ANN_DEST, msg->destination_type);
    }
    if (rc == 0 && want_reply) {
        rc = put_byte_ann(d, ANN_REPLY_TO, msg->reply_to_type);
    }
    if (rc == 0 && want_type) {
        rc = put_byte_ann(d, ANN_MSG_TYPE, msg->body_kind);
    }
    pn_data_exit(d);
    return rc == 0 ? CUT_OK : CUT_EINVAL;
}

static int encode_props(pn_data_t *d, const struct cut_msg *msg)
{
    int rc = 0;
    if (msg->n_props == 0) {
        return CUT_OK;
    }
    pn_data_put_map(d);
    pn_data_enter(d);
    for (size_t i = 0; i < msg->n_props && rc == 0; i++) {
        const struct cut_prop *p = &msg->props[i];
        if (p->name != NULL) {
            pn_data_put_string(d, pn_bytes(strlen(p->name), p->name));
            rc = put_prop(d, p);
        }
    }
    pn_data_exit(d);
    return rc == 0 ? CUT_OK : CUT_EINVAL;
}

/* How the body goes on the wire: the form, and whether msg->body is sections already. */
static int body_plan(const struct cut_msg *msg, struct cut_amqp10_body *bv, bool *raw,
                     struct cut_err *err)
{
    const uint8_t *b = msg->body;
    size_t len = msg->body_len;
    bool sections;

    memset(bv, 0, sizeof(*bv));
    sections = len > 0 && cut_amqp10_body_classify(b, len, bv) == CUT_OK;
    *raw = false;
    switch (msg->body_kind) {
    case CUT_BODY_TEXT:
        if (b == NULL) {
            bv->form = A10_BODY_VALUE_NULL;
        } else {
            bv->form =
                cut_amqp10_ct_textual(msg->content_type) ? A10_BODY_DATA : A10_BODY_VALUE_STRING;
        }
        return CUT_OK;
    case CUT_BODY_MAP:
    case CUT_BODY_STREAM: {
        if (sections) {
            *raw = true;
            return CUT_OK;
        }
        size_t n = len > 0 ? cut_amqp10_value_size(b, len) : 0;
        bool map = n == len && len > 0 && (b[0] == 0xc1 || b[0] == 0xd1);
        bool list = n == len && len > 0 && (b[0] == 0x45 || b[0] == 0xc0 || b[0] == 0xd0);
        if (!map && !list) {
            return cut_err_set(err, CUT_EINVAL,
                               "%s body is neither AMQP body sections nor an AMQP-encoded %s",
                               msg->body_kind == CUT_BODY_MAP ? "MAP" : "STREAM",
                               msg->body_kind == CUT_BODY_MAP ? "map" : "list");
        }
        bv->form = map ? A10_BODY_VALUE_MAP : A10_BODY_VALUE_LIST; /* wrapped in an amqp-value */
        return CUT_OK;
    }
    case CUT_BODY_OBJECT:
        if (sections && !cut_amqp10_ct_is(msg->content_type, SERIALIZED_JAVA)) {
            *raw = true;
            return CUT_OK;
        }
        bv->form = b != NULL ? A10_BODY_DATA : A10_BODY_NONE;
        return CUT_OK;
    case CUT_BODY_MESSAGE:
        if (sections) {
            *raw = true;
            return CUT_OK;
        }
        bv->form = len > 0 ? A10_BODY_DATA : A10_BODY_NONE;
        return CUT_OK;
    default:
        bv->form = b != NULL ? A10_BODY_DATA : A10_BODY_NONE;
        return CUT_OK;
    }
}

/* Append the body section(s) for @p bv at buf->out + *n. */
static int body_write(struct cut_amqp10_msgbuf *buf, size_t *n, const struct cut_msg *msg,
                      const struct cut_amqp10_body *bv, bool raw)
{
    size_t len = msg->body_len;
    if (cut_amqp10_grow((void **)&buf->out, &buf->out_cap, *n + len + 16, 1) != CUT_OK) {
        return CUT_ENOMEM;
    }
    uint8_t *o = (uint8_t *)buf->out + *n;
    size_t k = 0;
    if (raw) {
        memcpy(o, msg->body, len);
        *n += len;
        return CUT_OK;
    }
    o[k++] = 0x00;
    o[k++] = 0x53;
    switch (bv->form) {
    case A10_BODY_NONE:
        *n += 0;
        return CUT_OK;
    case A10_BODY_VALUE_NULL:
        o[k++] = A10_SEC_VALUE;
        o[k++] = 0x40;
        *n += k;
        return CUT_OK;
    case A10_BODY_VALUE_MAP:
    case A10_BODY_VALUE_LIST:
        o[k++] = A10_SEC_VALUE;
        memcpy(o + k, msg->body, len);
        *n += k + len;
        return CUT_OK;
    default: /* data or string */
        o[k++] = bv->form == A10_BODY_VALUE_STRING ? A10_SEC_VALUE : A10_SEC_DATA;
        uint8_t small = bv->form == A10_BODY_VALUE_STRING ? 0xa1 : 0xa0;
        if (len < 256) {
            o[k++] = small;
            o[k++] = (uint8_t)len;
        } else {
            if (len > UINT32_MAX) {
                return CUT_EINVAL;
            }
            o[k++] = small | 0x10;
            o[k++] = (uint8_t)(len >> 24);
            o[k++] = (uint8_t)(len >> 16);
            o[k++] = (uint8_t)(len >> 8);
            o[k++] = (uint8_t)len;
        }
        if (len > 0) {
            memcpy(o + k, msg->body, len);
        }
        *n += k + len;
        return CUT_OK;
    }
}

static int set_id(pn_message_t *pn, bool correlation, const char *text, enum cut_id_type type,
                  char *scratch, size_t scratch_len, struct cut_err *err)
{
    pn_atom_t id;
    if (text == NULL || type == CUT_ID_NONE) {
        return CUT_OK;
    }
    if (cut_amqp10_id_parse(text, type, &id, scratch, scratch_len) != CUT_OK) {
        return cut_err_set(err, CUT_EINVAL, "%s \"%.64s\" is not a valid %s id",
                           correlation ? "correlation_id" : "message_id", text,
                           type == CUT_ID_UUID    ? "uuid"
                           : type == CUT_ID_ULONG ? "ulong"
                                                  : "binary");
    }
    int rc = correlation ? pn_message_set_correlation_id(pn, id) : pn_message_set_id(pn, id);
    return rc == 0 ? CUT_OK : cut_err_set(err, CUT_ENOMEM, "out of memory");
}

static int encode_fields(struct cut_amqp10_msgbuf *buf, const struct cut_msg *msg,
                         struct cut_err *err)
{
    pn_message_t *pn = buf->pn;
    size_t id_len = msg->message_id != NULL ? strlen(msg->message_id) : 0;
    size_t cid_len = msg->correlation_id != NULL ? strlen(msg->correlation_id) : 0;
    char *scratch = cut_amqp10_arena_alloc(buf, id_len / 2 + cid_len / 2 + 2);
    int rc;

    if (scratch == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    pn_message_set_durable(pn, msg->durable);
    if (msg->priority >= 0) {
        pn_message_set_priority(pn, (uint8_t)(msg->priority > 255 ? 255 : msg->priority));
    }
    if (msg->ttl_ms > 0) {
        pn_message_set_ttl(pn, (pn_millis_t)(msg->ttl_ms > UINT32_MAX ? UINT32_MAX : msg->ttl_ms));
    }
    pn_message_set_delivery_count(pn, msg->delivery_count);
    rc = set_id(pn, false, msg->message_id, msg->message_id_type, scratch, id_len / 2 + 1, err);
    if (rc == CUT_OK) {
        rc = set_id(pn, true, msg->correlation_id, msg->correlation_id_type,
                    scratch + id_len / 2 + 1, cid_len / 2 + 1, err);
    }
    if (rc != CUT_OK) {
        return rc;
    }
    if (msg->user_id != NULL) {
        pn_message_set_user_id(pn, pn_bytes(strlen(msg->user_id), msg->user_id));
    }
    pn_message_set_address(pn, msg->destination);
    pn_message_set_subject(pn, msg->type);
    pn_message_set_reply_to(pn, msg->reply_to);
    pn_message_set_content_type(pn, msg->content_type);
    pn_message_set_content_encoding(pn, msg->content_encoding);
    pn_message_set_expiry_time(pn, msg->expiry_ms > 0 ? msg->expiry_ms : 0);
    pn_message_set_creation_time(pn, msg->timestamp_ms > 0 ? msg->timestamp_ms : 0);
    pn_message_set_group_id(pn, msg->group_id);
    if (msg->group_seq >= 0) {
        pn_message_set_group_sequence(pn, (pn_sequence_t)(uint32_t)msg->group_seq);
    }
    if (encode_props(pn_message_properties(pn), msg) != CUT_OK) {
        return cut_err_set(err, CUT_EINVAL, "an application property cannot be encoded");
    }
    return CUT_OK;
}

int cut_amqp10_msg_encode(struct cut_amqp10_msgbuf *buf, const struct cut_msg *msg,
                          const char **out, size_t *out_len, struct cut_err *err)
{
    pn_message_t *pn = buf->pn;
    struct cut_amqp10_body bv;
    bool raw;
    int rc;

    cut_amqp10_arena_reset(buf);
    pn_message_clear(pn);
    rc = body_plan(msg, &bv, &raw, err);
    if (rc == CUT_OK) {
        rc = encode_fields(buf, msg, err);
    }
    if (rc != CUT_OK) {
        return rc;
    }
    bool had_type = false;
    for (size_t i = 0; i < msg->n_annotations; i++) {
        had_type = had_type || (msg->annotations[i].name != NULL &&
                                strcmp(msg->annotations[i].name, ANN_MSG_TYPE) == 0);
    }
    bool want_type =
        had_type || cut_amqp10_infer_kind(bv.form, msg->content_type) != msg->body_kind;
    if (encode_annotations(pn_message_annotations(pn), msg, want_type) != CUT_OK) {
        return cut_err_set(err, CUT_EINVAL, "a message annotation cannot be encoded");
    }
    if (cut_amqp10_grow((void **)&buf->out, &buf->out_cap, 1024, 1) != CUT_OK) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    size_t n;
    for (;;) {
        n = buf->out_cap;
        rc = pn_message_encode(pn, buf->out, &n);
        if (rc != PN_OVERFLOW) {
            break;
        }
        if (cut_amqp10_grow((void **)&buf->out, &buf->out_cap, buf->out_cap * 2, 1) != CUT_OK) {
            return cut_err_set(err, CUT_ENOMEM, "out of memory");
        }
    }
    if (rc != 0) {
        return cut_err_set(err, CUT_EINVAL, "cannot encode the message: %s",
                           pn_error_text(pn_message_error(pn)));
    }
    rc = body_write(buf, &n, msg, &bv, raw);
    if (rc != CUT_OK) {
        return cut_err_set(err, rc, "%s", rc == CUT_ENOMEM ? "out of memory" : "body too large");
    }
    *out = buf->out;
    *out_len = n;
    return CUT_OK;
}
