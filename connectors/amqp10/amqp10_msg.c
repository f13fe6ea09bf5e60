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

#include "amqp10.h"

#define SERIALIZED_JAVA "application/x-java-serialized-object"

#define ANN_MSG_TYPE "x-opt-jms-msg-type"
#define ANN_DEST     "x-opt-jms-dest"
#define ANN_REPLY_TO "x-opt-jms-reply-to"

/* Section descriptors (AMQP 1.0 part 3.2). */
enum {
    SEC_HEADER = 0x70,
    SEC_DELIVERY_ANN = 0x71,
    SEC_MESSAGE_ANN = 0x72,
    SEC_PROPERTIES = 0x73,
    SEC_APP_PROPS = 0x74,
    SEC_DATA = 0x75,
    SEC_SEQUENCE = 0x76,
    SEC_VALUE = 0x77,
    SEC_FOOTER = 0x78,
};

/* How a body is laid out on the wire. */
enum body_form {
    BODY_NONE,
    BODY_DATA,
    BODY_VALUE_NULL,
    BODY_VALUE_STRING,
    BODY_VALUE_BINARY,
    BODY_VALUE_MAP,
    BODY_VALUE_LIST,
    BODY_VALUE_OTHER,
    BODY_SEQUENCE,
    BODY_MIXED,
};

/* One section found in the bytes: where its value starts. */
struct section {
    const uint8_t *start; /* the section, descriptor included */
    size_t size;
    const uint8_t *value; /* the described value */
    size_t value_size;
    uint64_t code;
};

/* What the walk over a message found. */
struct layout {
    struct section header, properties;
    bool have_header, have_properties;
    size_t prefix_end; /* end of the sections before the body */
    size_t bare_start, bare_end;
    size_t body_start, body_end;
    unsigned n_body;
};

/* The body as seen from its sections. */
struct body_view {
    enum body_form form;
    const uint8_t *payload; /* data, string or binary payload; NULL for none or null */
    size_t payload_len;
    unsigned n_data;
};

/* ---- the arena ------------------------------------------------------------- */

struct cut_amqp10_arena_block {
    struct cut_amqp10_arena_block *next;
    size_t cap, used;
    char data[];
};

static void arena_reset(struct cut_amqp10_msgbuf *buf)
{
    for (struct cut_amqp10_arena_block *b = buf->arena; b != NULL; b = b->next) {
        b->used = 0;
    }
}

/* Memory that stays put until the next reset: pointers already handed out
 * in this message remain valid when it grows. */
static char *arena_alloc(struct cut_amqp10_msgbuf *buf, size_t n)
{
    struct cut_amqp10_arena_block **link = &buf->arena;
    size_t last = 0;
    for (struct cut_amqp10_arena_block *b = buf->arena; b != NULL; b = b->next) {
        if (b->cap - b->used >= n) {
            char *p = b->data + b->used;
            b->used += n;
            return p;
        }
        last = b->cap;
        link = &b->next;
    }
    size_t cap = last > 0 ? last * 2 : 4096;
    if (cap < n) {
        cap = n;
    }
    struct cut_amqp10_arena_block *b = malloc(sizeof(*b) + cap);
    if (b == NULL) {
        return NULL;
    }
    b->next = NULL;
    b->cap = cap;
    b->used = n;
    *link = b;
    return b->data;
}

static const char *arena_str(struct cut_amqp10_msgbuf *buf, const char *s, size_t n)
{
    char *p = arena_alloc(buf, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return CUT_OK;
    }
    size_t n = *cap > 0 ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem) {
            return CUT_ENOMEM;
        }
        n *= 2;
    }
    void *q = realloc(*p, n * elem);
    if (q == NULL) {
        return CUT_ENOMEM;
    }
    *p = q;
    *cap = n;
    return CUT_OK;
}

int cut_amqp10_msgbuf_init(struct cut_amqp10_msgbuf *buf)
{
    memset(buf, 0, sizeof(*buf));
    buf->pn = pn_message();
    return buf->pn != NULL ? CUT_OK : CUT_ENOMEM;
}

void cut_amqp10_msgbuf_fini(struct cut_amqp10_msgbuf *buf)
{
    if (buf->pn != NULL) {
        pn_message_free(buf->pn);
    }
    struct cut_amqp10_arena_block *b = buf->arena;
    while (b != NULL) {
        struct cut_amqp10_arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(buf->props);
    free(buf->annotations);
    free(buf->body);
    free(buf->out);
    memset(buf, 0, sizeof(*buf));
}

/* ---- sections ------------------------------------------------------------- */

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/* The section at @p p: CUT_OK with @p s filled, or CUT_EINVAL. */
static int section_at(const uint8_t *p, size_t len, struct section *s)
{
    size_t dlen;

    if (len < 3 || p[0] != 0x00) {
        return CUT_EINVAL;
    }
    if (p[1] == 0x53) {
        s->code = p[2];
        dlen = 2;
    } else if (p[1] == 0x80 && len >= 10) {
        s->code = be64(p + 2);
        dlen = 9;
    } else if (p[1] == 0x44) {
        s->code = 0;
        dlen = 1;
    } else {
        return CUT_EINVAL; /* symbolic descriptors: not used by any known peer */
    }
    s->size = cut_amqp10_value_size(p, len);
    if (s->size == 0 || s->size < 1 + dlen + 1) {
        return CUT_EINVAL;
    }
    s->start = p;
    s->value = p + 1 + dlen;
    s->value_size = s->size - 1 - dlen;
    return CUT_OK;
}

static bool is_body(uint64_t code)
{
    return code == SEC_DATA || code == SEC_SEQUENCE || code == SEC_VALUE;
}

static int walk(const uint8_t *p, size_t len, struct layout *lay, struct cut_err *err)
{
    size_t off = 0;
    uint64_t last = 0;

    memset(lay, 0, sizeof(*lay));
    lay->bare_start = SIZE_MAX;
    lay->prefix_end = SIZE_MAX;
    lay->bare_end = len;
    while (off < len) {
        struct section s;
        if (section_at(p + off, len - off, &s) != CUT_OK) {
            return cut_err_set(err, CUT_EINVAL, "malformed message: no valid section at byte %zu",
                               off);
        }
        if (s.code < SEC_HEADER || s.code > SEC_FOOTER || s.code < last ||
            (s.code == last && !is_body(s.code))) {
            return cut_err_set(err, CUT_EINVAL,
                               "malformed message: section 0x%llx out of place at byte %zu",
                               (unsigned long long)s.code, off);
        }
        last = s.code;
        if (s.code == SEC_HEADER) {
            lay->header = s;
            lay->have_header = true;
        } else if (s.code == SEC_PROPERTIES) {
            lay->properties = s;
            lay->have_properties = true;
        }
        if (s.code >= SEC_PROPERTIES && lay->bare_start == SIZE_MAX) {
            lay->bare_start = off;
        }
        if (is_body(s.code)) {
            if (lay->n_body == 0) {
                lay->body_start = off;
            }
            lay->n_body++;
            lay->body_end = off + s.size;
        }
        if ((is_body(s.code) || s.code == SEC_FOOTER) && lay->prefix_end == SIZE_MAX) {
            lay->prefix_end = off;
        }
        if (s.code == SEC_FOOTER) {
            lay->bare_end = off;
        }
        off += s.size;
    }
    if (lay->prefix_end == SIZE_MAX) {
        lay->prefix_end = len;
    }
    if (lay->bare_start == SIZE_MAX) {
        lay->bare_start = lay->bare_end;
    }
    return CUT_OK;
}

/* Payload of a string or binary value: CUT_OK, or CUT_EINVAL if it is neither. */
static int vbin(const uint8_t *v, size_t len, const uint8_t **payload, size_t *plen)
{
    if ((v[0] == 0xa0 || v[0] == 0xa1 || v[0] == 0xa3) && len >= 2) {
        *payload = v + 2;
        *plen = v[1];
        return CUT_OK;
    }
    if ((v[0] == 0xb0 || v[0] == 0xb1 || v[0] == 0xb3) && len >= 5) {
        *payload = v + 5;
        *plen = (size_t)v[1] << 24 | (size_t)v[2] << 16 | (size_t)v[3] << 8 | v[4];
        return CUT_OK;
    }
    return CUT_EINVAL;
}

/*
 * Classify the body sections in [p, p+len) (all of them body sections, or
 * CUT_EINVAL). Fills @p bv; the payload of one data section, string or
 * binary points into @p p.
 */
static int body_classify(const uint8_t *p, size_t len, struct body_view *bv)
{
    size_t off = 0;
    uint64_t first = 0;
    unsigned n = 0;

    memset(bv, 0, sizeof(*bv));
    while (off < len) {
        struct section s;
        if (section_at(p + off, len - off, &s) != CUT_OK || !is_body(s.code)) {
            return CUT_EINVAL;
        }
        if (n == 0) {
            first = s.code;
        } else if (s.code != first || first == SEC_VALUE) {
            first = 0; /* mixed, or several amqp-values: keep them as they are */
        }
        if (s.code == SEC_DATA) {
            if (s.value[0] != 0xa0 && s.value[0] != 0xb0) {
                return CUT_EINVAL;
            }
            if (bv->n_data++ == 0) {
                vbin(s.value, s.value_size, &bv->payload, &bv->payload_len);
            }
        }
        n++;
        if (n == 1 && s.code == SEC_VALUE) {
            uint8_t c = s.value[0];
            if (c == 0x40) {
                bv->form = BODY_VALUE_NULL;
            } else if (c == 0xa1 || c == 0xb1) {
                bv->form = BODY_VALUE_STRING;
                vbin(s.value, s.value_size, &bv->payload, &bv->payload_len);
            } else if (c == 0xa0 || c == 0xb0) {
                bv->form = BODY_VALUE_BINARY;
                vbin(s.value, s.value_size, &bv->payload, &bv->payload_len);
            } else if (c == 0xc1 || c == 0xd1) {
                bv->form = BODY_VALUE_MAP;
            } else if (c == 0x45 || c == 0xc0 || c == 0xd0) {
                bv->form = BODY_VALUE_LIST;
            } else {
                bv->form = BODY_VALUE_OTHER;
            }
        }
        off += s.size;
    }
    if (n == 0) {
        bv->form = BODY_NONE;
    } else if (first == 0) {
        bv->form = BODY_MIXED;
        bv->payload = NULL;
    } else if (first == SEC_DATA) {
        bv->form = BODY_DATA;
    } else if (first == SEC_SEQUENCE) {
        bv->form = BODY_SEQUENCE;
    }
    return CUT_OK;
}

/* Qpid JMS's reading of a content type as text (ContentTypeSupport). */
static bool content_type_textual(const char *ct)
{
    if (ct == NULL) {
        return false;
    }
    if (strncmp(ct, "text/", 5) == 0 || strstr(ct, "charset=") != NULL) {
        return true;
    }
    static const char *const textual[] = {"application/json", "application/xml",
                                          "application/xml-dtd", "application/ecmascript",
                                          "application/javascript", NULL};
    size_t len = strcspn(ct, ";");
    for (size_t i = 0; textual[i] != NULL; i++) {
        if (strlen(textual[i]) == len && strncmp(ct, textual[i], len) == 0) {
            return true;
        }
    }
    return (len > 4 && (strncmp(ct + len - 4, "+xml", 4) == 0 ||
                        strncmp(ct + len - 5, "+json", 5) == 0));
}

static bool content_type_is(const char *ct, const char *what)
{
    size_t len = strlen(what);
    return ct != NULL && strncmp(ct, what, len) == 0 && (ct[len] == '\0' || ct[len] == ';');
}

static enum cut_body_kind infer_kind(enum body_form form, const char *ct)
{
    switch (form) {
    case BODY_NONE:
    case BODY_DATA:
        if (content_type_is(ct, SERIALIZED_JAVA)) {
            return CUT_BODY_OBJECT;
        }
        if (ct == NULL || content_type_is(ct, "application/octet-stream")) {
            return CUT_BODY_BYTES;
        }
        if (content_type_textual(ct)) {
            return CUT_BODY_TEXT;
        }
        return form == BODY_NONE ? CUT_BODY_MESSAGE : CUT_BODY_BYTES;
    case BODY_VALUE_NULL:
    case BODY_VALUE_STRING:
        return CUT_BODY_TEXT;
    case BODY_VALUE_BINARY:
        return CUT_BODY_BYTES;
    case BODY_VALUE_MAP:
        return CUT_BODY_MAP;
    case BODY_VALUE_LIST:
    case BODY_SEQUENCE:
        return CUT_BODY_STREAM;
    default:
        return CUT_BODY_OBJECT;
    }
}

/* Whether field @p index of the list @p v (a section's value) is there and not null. */
static bool list_field_present(const uint8_t *v, size_t len, unsigned index)
{
    size_t off;
    uint32_t count;

    if (len >= 3 && v[0] == 0xc0) {
        count = v[2];
        off = 3;
    } else if (len >= 9 && v[0] == 0xd0) {
        count = (uint32_t)v[5] << 24 | (uint32_t)v[6] << 16 | (uint32_t)v[7] << 8 | v[8];
        off = 9;
    } else {
        return false; /* list0, or not a list */
    }
    if (index >= count) {
        return false;
    }
    for (unsigned i = 0; i < index; i++) {
        size_t n = cut_amqp10_value_size(v + off, len - off);
        if (n == 0) {
            return false;
        }
        off += n;
    }
    return off < len && v[off] != 0x40;
}

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
        prop->v.s.ptr = arena_str(buf, text, (size_t)n);
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
        prop->v.s.ptr = arena_str(buf, text, n);
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
        prop->v.s.ptr = arena_str(buf, u.bytes, 16);
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
        prop->v.s.ptr = arena_str(buf, b.start != NULL ? b.start : "", b.size);
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
    if (grow((void **)arr, cap, pairs, sizeof(**arr)) != CUT_OK) {
        return CUT_ENOMEM;
    }
    pn_data_enter(data);
    for (size_t i = 0; i < pairs; i++) {
        if (!pn_data_next(data)) {
            break;
        }
        pn_type_t kt = pn_data_type(data);
        pn_bytes_t key = kt == PN_STRING || kt == PN_SYMBOL ? pn_data_get_bytes(data)
                                                            : pn_bytes(0, NULL);
        if (!pn_data_next(data)) {
            break;
        }
        struct cut_prop *prop = &(*arr)[n];
        memset(prop, 0, sizeof(*prop));
        if (key.start == NULL || !prop_from_data(buf, data, prop)) {
            buf->dropped++;
            continue;
        }
        prop->name = arena_str(buf, key.start, key.size);
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
    char *s = arena_alloc(buf, need);
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
                       const struct layout *lay, struct cut_msg *msg, enum body_form *form)
{
    struct body_view bv;
    const uint8_t *p = bytes + lay->body_start;
    size_t len = lay->body_end - lay->body_start;

    if (body_classify(p, len, &bv) != CUT_OK) {
        return CUT_EINVAL;
    }
    *form = bv.form;
    switch (bv.form) {
    case BODY_NONE:
    case BODY_VALUE_NULL:
        msg->body = NULL;
        msg->body_len = 0;
        return CUT_OK;
    case BODY_DATA:
        if (bv.n_data == 1) {
            msg->body = bv.payload;
            msg->body_len = bv.payload_len;
            return CUT_OK;
        }
        /* Several data sections: one byte string, as JMS sees it. */
        size_t total = 0;
        for (size_t off = 0; off < len;) {
            struct section s;
            const uint8_t *pl;
            size_t pl_len;
            section_at(p + off, len - off, &s);
            vbin(s.value, s.value_size, &pl, &pl_len);
            if (grow((void **)&buf->body, &buf->body_cap, total + pl_len + 1, 1) != CUT_OK) {
                return CUT_ENOMEM;
            }
            memcpy(buf->body + total, pl, pl_len);
            total += pl_len;
            off += s.size;
        }
        msg->body = buf->body;
        msg->body_len = total;
        return CUT_OK;
    case BODY_VALUE_STRING:
    case BODY_VALUE_BINARY:
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
    struct layout lay;
    enum body_form form = BODY_NONE;
    int rc;

    rc = walk(u, len, &lay, err);
    if (rc != CUT_OK) {
        return rc;
    }
    arena_reset(buf);
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
    if (lay.have_header && list_field_present(lay.header.value, lay.header.value_size, 1)) {
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
        msg->message_id = arena_str(buf, fallback, (size_t)n);
        msg->message_id_type = CUT_ID_NONE;
    }
    pn_msgid_t cid = pn_message_get_correlation_id(pn);
    if (cid.type != PN_NULL) {
        msg->correlation_id = id_text(buf, cid, &msg->correlation_id_type);
    }
    pn_bytes_t user = pn_message_get_user_id(pn);
    if (user.size > 0) {
        msg->user_id = arena_str(buf, user.start, user.size);
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
         list_field_present(lay.properties.value, lay.properties.value_size, 11))) {
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
    msg->body_kind = kind >= 0 ? (enum cut_body_kind)kind : infer_kind(form, msg->content_type);
    return CUT_OK;
}

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
static int body_plan(const struct cut_msg *msg, struct body_view *bv, bool *raw,
                     struct cut_err *err)
{
    const uint8_t *b = msg->body;
    size_t len = msg->body_len;
    bool sections;

    memset(bv, 0, sizeof(*bv));
    sections = len > 0 && body_classify(b, len, bv) == CUT_OK;
    *raw = false;
    switch (msg->body_kind) {
    case CUT_BODY_TEXT:
        if (b == NULL) {
            bv->form = BODY_VALUE_NULL;
        } else {
            bv->form = content_type_textual(msg->content_type) ? BODY_DATA : BODY_VALUE_STRING;
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
        bv->form = map ? BODY_VALUE_MAP : BODY_VALUE_LIST; /* wrapped in an amqp-value */
        return CUT_OK;
    }
    case CUT_BODY_OBJECT:
        if (sections && !content_type_is(msg->content_type, SERIALIZED_JAVA)) {
            *raw = true;
            return CUT_OK;
        }
        bv->form = b != NULL ? BODY_DATA : BODY_NONE;
        return CUT_OK;
    case CUT_BODY_MESSAGE:
        if (sections) {
            *raw = true;
            return CUT_OK;
        }
        bv->form = len > 0 ? BODY_DATA : BODY_NONE;
        return CUT_OK;
    default:
        bv->form = b != NULL ? BODY_DATA : BODY_NONE;
        return CUT_OK;
    }
}

/* Append the body section(s) for @p bv at buf->out + *n. */
static int body_write(struct cut_amqp10_msgbuf *buf, size_t *n, const struct cut_msg *msg,
                      const struct body_view *bv, bool raw)
{
    size_t len = msg->body_len;
    if (grow((void **)&buf->out, &buf->out_cap, *n + len + 16, 1) != CUT_OK) {
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
    case BODY_NONE:
        *n += 0;
        return CUT_OK;
    case BODY_VALUE_NULL:
        o[k++] = SEC_VALUE;
        o[k++] = 0x40;
        *n += k;
        return CUT_OK;
    case BODY_VALUE_MAP:
    case BODY_VALUE_LIST:
        o[k++] = SEC_VALUE;
        memcpy(o + k, msg->body, len);
        *n += k + len;
        return CUT_OK;
    default: /* data or string */
        o[k++] = bv->form == BODY_VALUE_STRING ? SEC_VALUE : SEC_DATA;
        uint8_t small = bv->form == BODY_VALUE_STRING ? 0xa1 : 0xa0;
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
    char *scratch = arena_alloc(buf, id_len / 2 + cid_len / 2 + 2);
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
    struct body_view bv;
    bool raw;
    int rc;

    arena_reset(buf);
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
    bool want_type = had_type || infer_kind(bv.form, msg->content_type) != msg->body_kind;
    if (encode_annotations(pn_message_annotations(pn), msg, want_type) != CUT_OK) {
        return cut_err_set(err, CUT_EINVAL, "a message annotation cannot be encoded");
    }
    if (grow((void **)&buf->out, &buf->out_cap, 1024, 1) != CUT_OK) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    size_t n;
    for (;;) {
        n = buf->out_cap;
        rc = pn_message_encode(pn, buf->out, &n);
        if (rc != PN_OVERFLOW) {
            break;
        }
        if (grow((void **)&buf->out, &buf->out_cap, buf->out_cap * 2, 1) != CUT_OK) {
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
