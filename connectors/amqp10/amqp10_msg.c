/*
 * The envelope of an AMQP 1.0 message, both ways, following the AMQP JMS
 * Mapping (the x-opt-jms-* annotations as Qpid JMS and Artemis write them).
 *
 *   JMS                 AMQP 1.0                            struct cut_msg
 *   ------------------  ----------------------------------  -------------------------------
 *   JMSDeliveryMode     header.durable                      durable
 *   JMSPriority         header.priority (absent = 4)        priority, -1 when absent
 *   (time to live)      header.ttl                          ttl_ms, 0 when absent
 *   JMSXDeliveryCount   header.delivery-count (+1)          delivery_count
 *   JMSMessageID        properties.message-id (typed)       message_id + message_id_type
 *   (user)              properties.user-id (binary)         user_id
 *   JMSDestination      properties.to + x-opt-jms-dest      destination + destination_type
 *   JMSType             properties.subject                  type
 *   JMSReplyTo          properties.reply-to                 reply_to + reply_to_type
 *                       + x-opt-jms-reply-to
 *   JMSCorrelationID    properties.correlation-id (typed)   correlation_id + _type
 *   (content type)      properties.content-type             content_type
 *   (content encoding)  properties.content-encoding         content_encoding
 *   JMSExpiration       properties.absolute-expiry-time     expiry_ms
 *   JMSTimestamp        properties.creation-time            timestamp_ms
 *   JMSXGroupID         properties.group-id                 group_id
 *   JMSXGroupSeq        properties.group-sequence           group_seq, -1 when absent
 *   (message class)     x-opt-jms-msg-type + body section   body_kind + body
 *   properties          application-properties (typed)      props
 *   -                   message-annotations (symbol keys)   annotations (every one, the
 *                                                           x-opt-jms-* ones included)
 *
 * Not carried (no envelope field): header.first-acquirer (sent false),
 * properties.reply-to-group-id, delivery annotations (hop-by-hop by the
 * spec), the footer. Annotations with ulong keys and values of types the
 * envelope has no type for (decimal, list, map, array, described) are
 * dropped; buf->dropped counts them per message. Unsigned integers widen to
 * the next signed type (ubyte -> short, ushort -> int, uint -> long, ulong
 * -> long, or decimal string above INT64_MAX), char becomes a one-character
 * string: sent back, they are signed.
 *
 * Message id: when the message has none, a stable fallback is made so that a
 * redelivery has the same id: "fnv1a64:<16 hex>-<length>" over the bare
 * message (properties to the end of the body), with message_id_type
 * CUT_ID_NONE so that a sink does not invent an id on the wire.
 *
 * Body (body kind from x-opt-jms-msg-type when present and valid, else
 * inferred as Qpid JMS does, except that an amqp-value map is MAP and a list
 * or amqp-sequence is STREAM rather than OBJECT):
 *
 *   body section(s)                 body bytes                     inferred kind
 *   ------------------------------  -----------------------------  ------------------------
 *   none                            NULL, 0                        OBJECT if content-type is
 *                                                                  serialized Java, TEXT if
 *                                                                  textual, BYTES if none or
 *                                                                  octet-stream, else MESSAGE
 *   one or more data                the payload (concatenated)     OBJECT / TEXT / BYTES by
 *                                                                  content-type as above
 *   amqp-value null                 NULL, 0                        TEXT
 *   amqp-value string               the UTF-8 bytes                TEXT
 *   amqp-value binary               the bytes                      BYTES
 *   amqp-value anything else,       the body sections as they      MAP (map), STREAM (list,
 *   amqp-sequence(s)                came on the wire, descriptor   sequence), OBJECT (other)
 *                                   included ("section bytes")
 *
 * Section bytes are the exact wire encoding (00 53 77 <value> for an
 * amqp-value, 00 53 76 <list> per amqp-sequence), so a sink writes them back
 * byte for byte and the section type survives. A MAP or STREAM body from
 * elsewhere may also be a bare AMQP-encoded map or list: it is sent as an
 * amqp-value.
 *
 * Sending, by body kind: MESSAGE: no body (or the section bytes / a data
 * section if it has bytes); TEXT: amqp-value string (null when body is
 * NULL), or a data section when a textual content-type is set (the bytes
 * may be in that charset); BYTES: a data section (none when body is NULL);
 * OBJECT: a data section when content-type is serialized Java or the bytes
 * are no AMQP body sections, else the sections; MAP / STREAM: the sections
 * (CUT_EINVAL when the bytes are neither sections nor a bare map/list).
 * x-opt-jms-msg-type is written when the source had it or when the body
 * written would be inferred as another kind; x-opt-jms-dest and
 * x-opt-jms-reply-to when the address and its type are known. Every other
 * annotation is written back as it came, in its place.
 *
 * Proton's encoder leaves out the defaults: priority 4, ttl 0, durable
 * false, delivery-count 0 are written as absent, which the spec defines as
 * the same; so a priority of 4 comes back as -1. A group-id without
 * group_seq is written with group-sequence 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/codec.h>
#include <proton/error.h>

#include "amqp10_codec.h"

/* ---- decode --------------------------------------------------------------- */

/* One typed value at the current node of @p data; false when the envelope has no type for it. */
static bool prop_from_data(struct cut_amqp10_msgbuf *buf, pn_data_t *data, struct cut_prop *prop)
{
    pn_bytes_t b;
    char text[24];

    switch (pn_data_type(data)) {
    case PN_NULL:
        prop->type = CUT_PROP_NULL;
        return true;
    case PN_BOOL:
        prop->type = CUT_PROP_BOOL;
        prop->v.b = pn_data_get_bool(data);
        return true;
    case PN_BYTE:
        prop->type = CUT_PROP_BYTE;
        prop->v.i = pn_data_get_byte(data);
        return true;
    case PN_UBYTE:
        prop->type = CUT_PROP_SHORT;
        prop->v.i = pn_data_get_ubyte(data);
        return true;
    case PN_SHORT:
        prop->type = CUT_PROP_SHORT;
        prop->v.i = pn_data_get_short(data);
        return true;
    case PN_USHORT:
        prop->type = CUT_PROP_INT;
        prop->v.i = pn_data_get_ushort(data);
        return true;
    case PN_INT:
        prop->type = CUT_PROP_INT;
        prop->v.i = pn_data_get_int(data);
        return true;
    case PN_UINT:
        prop->type = CUT_PROP_LONG;
        prop->v.i = pn_data_get_uint(data);
        return true;
    case PN_LONG:
        prop->type = CUT_PROP_LONG;
        prop->v.i = pn_data_get_long(data);
        return true;
    case PN_ULONG: {
        uint64_t u = pn_data_get_ulong(data);
        if (u <= (uint64_t)INT64_MAX) {
            prop->type = CUT_PROP_LONG;
            prop->v.i = (int64_t)u;
            return true;
        }
        int n = snprintf(text, sizeof(text), "%llu", (unsigned long long)u);
        prop->type = CUT_PROP_STRING;
        prop->v.s.ptr = cut_amqp10_arena_str(buf, text, (size_t)n);
        prop->v.s.len = (size_t)n;
        return prop->v.s.ptr != NULL;
    }
    case PN_CHAR: {
        /* A UTF-32 code point: one character of UTF-8. */
        uint32_t c = pn_data_get_char(data);
        size_t n = 0;
        if (c < 0x80) {
            text[n++] = (char)c;
        } else if (c < 0x800) {
            text[n++] = (char)(0xc0 | c >> 6);
            text[n++] = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            text[n++] = (char)(0xe0 | c >> 12);
            text[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
            text[n++] = (char)(0x80 | (c & 0x3f));
        } else {
            text[n++] = (char)(0xf0 | (c >> 18 & 0x07));
            text[n++] = (char)(0x80 | ((c >> 12) & 0x3f));
            text[n++] = (char)(0x80 | ((c >> 6) & 0x3f));
            text[n++] = (char)(0x80 | (c & 0x3f));
        }
        prop->type = CUT_PROP_STRING;
        prop->v.s.ptr = cut_amqp10_arena_str(buf, text, n);
        prop->v.s.len = n;
        return prop->v.s.ptr != NULL;
    }
    case PN_TIMESTAMP:
        prop->type = CUT_PROP_TIMESTAMP;
        prop->v.i = pn_data_get_timestamp(data);
        return true;
    case PN_FLOAT:
        prop->type = CUT_PROP_FLOAT;
        prop->v.d = pn_data_get_float(data);
        return true;
    case PN_DOUBLE:
        prop->type = CUT_PROP_DOUBLE;
        prop->v.d = pn_data_get_double(data);
        return true;
    case PN_UUID: {
        pn_uuid_t u = pn_data_get_uuid(data);
        prop->type = CUT_PROP_UUID;
        prop->v.s.ptr = cut_amqp10_arena_str(buf, u.bytes, 16);
        prop->v.s.len = 16;
        return prop->v.s.ptr != NULL;
    }
    case PN_BINARY:
        /* Borrowed from the message's own data, valid until the next decode. */
        b = pn_data_get_binary(data);
        prop->type = CUT_PROP_BYTES;
        prop->v.s.ptr = b.start != NULL ? b.start : "";
        prop->v.s.len = b.size;
        return true;
    case PN_STRING:
    case PN_SYMBOL:
        b = pn_data_get_bytes(data);
        prop->type = pn_data_type(data) == PN_STRING ? CUT_PROP_STRING : CUT_PROP_SYMBOL;
        prop->v.s.ptr = cut_amqp10_arena_str(buf, b.start != NULL ? b.start : "", b.size);
        prop->v.s.len = b.size;
        return prop->v.s.ptr != NULL;
    default:
        return false; /* decimal, list, map, array, described */
    }
}

/* The map in @p data as props: string or symbol keys. CUT_OK or CUT_ENOMEM. */
static int map_fill(struct cut_amqp10_msgbuf *buf, pn_data_t *data, struct cut_prop **arr,
                    size_t *cap, size_t *n_out)
{
    size_t n = 0;

    *n_out = 0;
    pn_data_rewind(data);
    if (!pn_data_next(data) || pn_data_type(data) != PN_MAP) {
        return CUT_OK;
    }
    size_t pairs = pn_data_get_map(data) / 2;
    if (cut_amqp10_grow((void **)arr, cap, pairs, sizeof(**arr)) != CUT_OK) {
        return CUT_ENOMEM;
    }
    pn_data_enter(data);
    for (size_t i = 0; i < pairs; i++) {
        if (!pn_data_next(data)) {
            break;
        }
        pn_type_t kt = pn_data_type(data);
        pn_bytes_t key =
            kt == PN_STRING || kt == PN_SYMBOL ? pn_data_get_bytes(data) : pn_bytes(0, NULL);
        if (!pn_data_next(data)) {
            break;
        }
        struct cut_prop *prop = &(*arr)[n];
        memset(prop, 0, sizeof(*prop));
        if (key.start == NULL || !prop_from_data(buf, data, prop)) {
            buf->dropped++;
            continue;
        }
        prop->name = cut_amqp10_arena_str(buf, key.start, key.size);
        if (prop->name == NULL) {
            return CUT_ENOMEM;
        }
        n++;
    }
    pn_data_exit(data);
    *n_out = n;
    return CUT_OK;
}

static const char *id_text(struct cut_amqp10_msgbuf *buf, pn_atom_t id, enum cut_id_type *type)
{
    size_t need = 48;
    if (id.type == PN_STRING || id.type == PN_SYMBOL || id.type == PN_BINARY) {
        need = 2 * id.u.as_bytes.size + 1;
    }
    char *s = cut_amqp10_arena_alloc(buf, need);
    if (s != NULL) {
        cut_amqp10_id_text(id, s, need, type);
    }
    return s;
}

static uint64_t fnv1a(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static int dest_type(const struct cut_prop *p)
{
    bool is_int = p->type >= CUT_PROP_BYTE && p->type <= CUT_PROP_LONG;
    return is_int && p->v.i >= CUT_DEST_QUEUE && p->v.i <= CUT_DEST_TEMP_TOPIC ? (int)p->v.i
                                                                               : CUT_DEST_NONE;
}

static int decode_body(struct cut_amqp10_msgbuf *buf, const uint8_t *bytes,
                       const struct cut_amqp10_layout *lay, struct cut_msg *msg,
                       enum cut_amqp10_form *form)
{
    struct cut_amqp10_body bv;
    const uint8_t *p = bytes + lay->body_start;
    size_t len = lay->body_end - lay->body_start;

    if (cut_amqp10_body_classify(p, len, &bv) != CUT_OK) {
        return CUT_EINVAL;
    }
    *form = bv.form;
    switch (bv.form) {
    case A10_BODY_NONE:
    case A10_BODY_VALUE_NULL:
        msg->body = NULL;
        msg->body_len = 0;
        return CUT_OK;
    case A10_BODY_DATA:
        if (bv.n_data == 1) {
            msg->body = bv.payload;
            msg->body_len = bv.payload_len;
            return CUT_OK;
        }
        /* Several data sections: one byte string, as JMS sees it. */
        size_t total = 0;
        for (size_t off = 0; off < len;) {
            struct cut_amqp10_section s;
            const uint8_t *pl;
            size_t pl_len;
            cut_amqp10_section_at(p + off, len - off, &s);
            cut_amqp10_vbin(s.value, s.value_size, &pl, &pl_len);
            if (cut_amqp10_grow((void **)&buf->body, &buf->body_cap, total + pl_len + 1, 1) !=
                CUT_OK) {
                return CUT_ENOMEM;
            }
            memcpy(buf->body + total, pl, pl_len);
            total += pl_len;
            off += s.size;
        }
        msg->body = buf->body;
        msg->body_len = total;
        return CUT_OK;
    case A10_BODY_VALUE_STRING:
    case A10_BODY_VALUE_BINARY:
        msg->body = bv.payload;
        msg->body_len = bv.payload_len;
        return CUT_OK;
    default:
        msg->body = p;
        msg->body_len = len;
        return CUT_OK;
    }
}

int cut_amqp10_msg_decode(struct cut_amqp10_msgbuf *buf, const char *bytes, size_t len,
                          cut_token_t token, struct cut_msg *msg, struct cut_err *err)
{
    const uint8_t *u = (const uint8_t *)bytes;
    pn_message_t *pn = buf->pn;
    struct cut_amqp10_layout lay;
    enum cut_amqp10_form form = A10_BODY_NONE;
    int rc;

    rc = cut_amqp10_walk(u, len, &lay, err);
    if (rc != CUT_OK) {
        return rc;
    }
    cut_amqp10_arena_reset(buf);
    buf->dropped = 0;
    pn_message_clear(pn);
    /* The body is read from the bytes directly (no copy); proton decodes
     * the sections before it. */
    if (lay.prefix_end > 0 && pn_message_decode(pn, bytes, lay.prefix_end) != 0) {
        return cut_err_set(err, CUT_EINVAL, "malformed message: %s",
                           pn_error_text(pn_message_error(pn)));
    }
    cut_msg_init(msg);
    msg->token = token;
    msg->durable = pn_message_is_durable(pn);
    if (lay.have_header &&
        cut_amqp10_list_field_present(lay.header.value, lay.header.value_size, 1)) {
        msg->priority = pn_message_get_priority(pn);
    }
    msg->ttl_ms = pn_message_get_ttl(pn);
    msg->delivery_count = pn_message_get_delivery_count(pn);

    pn_msgid_t id = pn_message_get_id(pn);
    if (id.type != PN_NULL) {
        msg->message_id = id_text(buf, id, &msg->message_id_type);
    } else {
        char fallback[48];
        size_t bare = lay.bare_end - lay.bare_start;
        int n = snprintf(fallback, sizeof(fallback), "fnv1a64:%016llx-%zu",
                         (unsigned long long)fnv1a(u + lay.bare_start, bare), bare);
        msg->message_id = cut_amqp10_arena_str(buf, fallback, (size_t)n);
        msg->message_id_type = CUT_ID_NONE;
    }
    pn_msgid_t cid = pn_message_get_correlation_id(pn);
    if (cid.type != PN_NULL) {
        msg->correlation_id = id_text(buf, cid, &msg->correlation_id_type);
    }
    pn_bytes_t user = pn_message_get_user_id(pn);
    if (user.size > 0) {
        msg->user_id = cut_amqp10_arena_str(buf, user.start, user.size);
    }
    msg->destination = pn_message_get_address(pn);
    msg->type = pn_message_get_subject(pn);
    msg->reply_to = pn_message_get_reply_to(pn);
    msg->content_type = pn_message_get_content_type(pn);
    msg->content_encoding = pn_message_get_content_encoding(pn);
    msg->expiry_ms = (int64_t)pn_message_get_expiry_time(pn);
    msg->timestamp_ms = (int64_t)pn_message_get_creation_time(pn);
    msg->group_id = pn_message_get_group_id(pn);
    if (msg->group_id != NULL ||
        (lay.have_properties &&
         cut_amqp10_list_field_present(lay.properties.value, lay.properties.value_size, 11))) {
        msg->group_seq = (int64_t)(uint32_t)pn_message_get_group_sequence(pn);
    }
    if (msg->message_id == NULL || (cid.type != PN_NULL && msg->correlation_id == NULL) ||
        (user.size > 0 && msg->user_id == NULL)) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }

    size_t n;
    if (map_fill(buf, pn_message_annotations(pn), &buf->annotations, &buf->annotations_cap, &n) !=
        CUT_OK) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    msg->annotations = n > 0 ? buf->annotations : NULL;
    msg->n_annotations = n;
    int kind = -1;
    for (size_t i = 0; i < n; i++) {
        const struct cut_prop *a = &buf->annotations[i];
        if (strcmp(a->name, ANN_DEST) == 0) {
            msg->destination_type = dest_type(a);
        } else if (strcmp(a->name, ANN_REPLY_TO) == 0) {
            msg->reply_to_type = dest_type(a);
        } else if (strcmp(a->name, ANN_MSG_TYPE) == 0 && a->type >= CUT_PROP_BYTE &&
                   a->type <= CUT_PROP_LONG && a->v.i >= CUT_BODY_MESSAGE &&
                   a->v.i <= CUT_BODY_TEXT) {
            kind = (int)a->v.i;
        }
    }
    if (map_fill(buf, pn_message_properties(pn), &buf->props, &buf->props_cap, &n) != CUT_OK) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    msg->props = n > 0 ? buf->props : NULL;
    msg->n_props = n;

    rc = lay.n_body > 0 ? decode_body(buf, u, &lay, msg, &form) : CUT_OK;
    if (rc == CUT_ENOMEM) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    if (rc != CUT_OK) {
        return cut_err_set(err, CUT_EINVAL, "malformed message: bad body section");
    }
    msg->body_kind =
        kind >= 0 ? (enum cut_body_kind)kind : cut_amqp10_infer_kind(form, msg->content_type);
    return CUT_OK;
}
