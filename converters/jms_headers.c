#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cutover/converter.h"
#include "jms_headers.h"

/* Room for one number or short word in the text arena. */
#define NUM_MAX 48

void cut_jms_headers_init(struct cut_jms_headers *hdrs)
{
    memset(hdrs, 0, sizeof(*hdrs));
}

void cut_jms_headers_fini(struct cut_jms_headers *hdrs)
{
    free(hdrs->names);
    free(hdrs->values);
    free(hdrs->lens);
    free(hdrs->text);
    memset(hdrs, 0, sizeof(*hdrs));
}

const char *cut_dest_type_name(enum cut_dest_type type)
{
    switch (type) {
    case CUT_DEST_QUEUE:
        return "queue";
    case CUT_DEST_TOPIC:
        return "topic";
    case CUT_DEST_TEMP_QUEUE:
        return "temp-queue";
    case CUT_DEST_TEMP_TOPIC:
        return "temp-topic";
    default:
        return NULL;
    }
}

const char *cut_body_kind_name(enum cut_body_kind kind)
{
    static const char *const names[] = {"message", "object", "map", "bytes", "stream", "text"};
    return (unsigned)kind < 6 ? names[kind] : "bytes";
}

static const char *id_type_name(enum cut_id_type type)
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

/* The arena is sized before anything is written into it (reserve), so the
 * pointers handed out while building never move. */
static int reserve(struct cut_jms_headers *hdrs, size_t n_hdrs, size_t text)
{
    if (n_hdrs > hdrs->cap) {
        size_t cap = n_hdrs * 2;
        const char **names = realloc(hdrs->names, cap * sizeof(*names));
        if (names != NULL) {
            hdrs->names = names;
        }
        const void **values = realloc(hdrs->values, cap * sizeof(*values));
        if (values != NULL) {
            hdrs->values = values;
        }
        size_t *lens = realloc(hdrs->lens, cap * sizeof(*lens));
        if (lens != NULL) {
            hdrs->lens = lens;
        }
        if (names == NULL || values == NULL || lens == NULL) {
            return CUT_ENOMEM;
        }
        hdrs->cap = cap;
    }
    if (text > hdrs->text_cap) {
        char *buf = realloc(hdrs->text, text * 2);
        if (buf == NULL) {
            return CUT_ENOMEM;
        }
        hdrs->text = buf;
        hdrs->text_cap = text * 2;
    }
    hdrs->n = 0;
    hdrs->text_len = 0;
    return CUT_OK;
}

static void add(struct cut_jms_headers *hdrs, const char *name, const void *value, size_t len)
{
    hdrs->names[hdrs->n] = name;
    hdrs->values[hdrs->n] = value;
    hdrs->lens[hdrs->n] = len;
    hdrs->n++;
}

static void add_str(struct cut_jms_headers *hdrs, const char *name, const char *value)
{
    if (value != NULL) {
        add(hdrs, name, value, strlen(value));
    }
}

/* printf into the arena; returns the start of what was written. */
__attribute__((format(printf, 2, 3))) static char *text(struct cut_jms_headers *hdrs,
                                                        const char *fmt, ...)
{
    char *at = hdrs->text + hdrs->text_len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(at, hdrs->text_cap - hdrs->text_len, fmt, ap);
    va_end(ap);
    hdrs->text_len += (size_t)n + 1;
    return at;
}

static void add_num(struct cut_jms_headers *hdrs, const char *name, int64_t value)
{
    char *at = text(hdrs, "%" PRId64, value);
    add(hdrs, name, at, strlen(at));
}

/* The shortest %g text that reads back to the same value. Reading back is
 * monotonic in the precision (if p digits do, p + 1 do), so a binary search
 * over 1..9 (float) or 1..17 (double) finds the shortest in a few tries. */
static bool reads_back(char *at, size_t room, int prec, double value, int is_float)
{
    snprintf(at, room, "%.*g", prec, value);
    double back = strtod(at, NULL);
    return is_float ? (float)back == (float)value : back == value;
}

static char *text_real(struct cut_jms_headers *hdrs, double value, int is_float)
{
    char *at = hdrs->text + hdrs->text_len;
    size_t room = hdrs->text_cap - hdrs->text_len;
    int lo = 1, hi = is_float ? 9 : 17;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (reads_back(at, room, mid, value, is_float)) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    reads_back(at, room, lo, value, is_float);
    hdrs->text_len += strlen(at) + 1;
    return at;
}

/* The text of one property value; *len gets its length. NULL for a null. */
static const void *prop_text(struct cut_jms_headers *hdrs, const struct cut_prop *prop, size_t *len)
{
    const char *at = NULL;
    switch (prop->type) {
    case CUT_PROP_NULL:
        *len = 0;
        return NULL;
    case CUT_PROP_BOOL:
        at = prop->v.b ? "true" : "false";
        break;
    case CUT_PROP_BYTE:
    case CUT_PROP_SHORT:
    case CUT_PROP_INT:
    case CUT_PROP_LONG:
    case CUT_PROP_TIMESTAMP:
        at = text(hdrs, "%" PRId64, prop->v.i);
        break;
    case CUT_PROP_FLOAT:
    case CUT_PROP_DOUBLE:
        at = text_real(hdrs, prop->v.d, prop->type == CUT_PROP_FLOAT);
        break;
    case CUT_PROP_UUID: {
        const unsigned char *u = (const unsigned char *)prop->v.s.ptr;
        if (prop->v.s.len != 16) {
            *len = prop->v.s.len;
            return prop->v.s.ptr;
        }
        at = text(hdrs, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                  u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
                  u[13], u[14], u[15]);
        break;
    }
    default: /* strings, symbols, bytes: as they are */
        *len = prop->v.s.len;
        return prop->v.s.ptr;
    }
    *len = strlen(at);
    return at;
}

static void add_props(struct cut_jms_headers *hdrs, const struct cut_prop *props, size_t n,
                      const char *prefix, int skip_jms)
{
    for (size_t i = 0; i < n; i++) {
        const struct cut_prop *prop = &props[i];
        /* x-opt-jms-* are carried by the jms.* headers already; the
         * AMQP 0-9-1 header-table layout is the connector's bookkeeping for
         * an exact legacy round trip, meaningless to a Kafka consumer. */
        if (skip_jms && (strncmp(prop->name, "x-opt-jms-", 10) == 0 ||
                         strcmp(prop->name, "x-basic-headers") == 0)) {
            continue;
        }
        size_t len;
        const void *value = prop_text(hdrs, prop, &len);
        add(hdrs, text(hdrs, "%s%s", prefix, prop->name), value, len);
    }
}

/* "name=type;..." for the properties that are not strings. */
static void add_prop_types(struct cut_jms_headers *hdrs, const struct cut_msg *msg)
{
    char *start = hdrs->text + hdrs->text_len, *at = start;
    for (size_t i = 0; i < msg->n_props; i++) {
        const struct cut_prop *prop = &msg->props[i];
        if (prop->type == CUT_PROP_STRING || strpbrk(prop->name, "=;") != NULL) {
            continue;
        }
        at += sprintf(at, "%s%s=%s", at == start ? "" : ";", prop->name,
                      cut_prop_type_name(prop->type));
    }
    if (at != start) {
        hdrs->text_len += (size_t)(at - start) + 1;
        add(hdrs, "jms.prop_types", start, (size_t)(at - start));
    }
}

int cut_jms_headers_build(struct cut_jms_headers *hdrs, const struct cut_msg *msg,
                          struct cut_record *rec)
{
    /* Upper bounds: fixed headers, then per property its composed name, its
     * number text and its entry in jms.prop_types. */
    size_t n_hdrs = 32 + msg->n_props + msg->n_annotations;
    size_t text_need = 32 * NUM_MAX;
    for (size_t i = 0; i < msg->n_props; i++) {
        text_need += 2 * strlen(msg->props[i].name) + 2 * NUM_MAX;
    }
    for (size_t i = 0; i < msg->n_annotations; i++) {
        text_need += strlen(msg->annotations[i].name) + 2 * NUM_MAX;
    }
    if (reserve(hdrs, n_hdrs, text_need) != CUT_OK) {
        return CUT_ENOMEM;
    }

    add_str(hdrs, CUT_HDR_MESSAGE_ID, msg->message_id);
    add_str(hdrs, "jms.message_id_type", id_type_name(msg->message_id_type));
    add_str(hdrs, "jms.correlation_id", msg->correlation_id);
    if (msg->correlation_id != NULL) {
        add_str(hdrs, "jms.correlation_id_type", id_type_name(msg->correlation_id_type));
    }
    add_str(hdrs, "jms.type", msg->type);
    if (msg->priority >= 0) {
        add_num(hdrs, "jms.priority", msg->priority);
    }
    add_str(hdrs, "jms.delivery_mode", msg->durable ? "PERSISTENT" : "NON_PERSISTENT");
    if (msg->timestamp_ms > 0) {
        add_num(hdrs, "jms.timestamp", msg->timestamp_ms);
    }
    if (msg->expiry_ms > 0) {
        add_num(hdrs, "jms.expiration", msg->expiry_ms);
    }
    if (msg->ttl_ms > 0) {
        add_num(hdrs, "jms.ttl", msg->ttl_ms);
    }
    add_str(hdrs, "jms.destination", msg->destination);
    if (msg->destination != NULL) {
        add_str(hdrs, "jms.destination_type", cut_dest_type_name(msg->destination_type));
    }
    add_str(hdrs, "jms.reply_to", msg->reply_to);
    if (msg->reply_to != NULL) {
        add_str(hdrs, "jms.reply_to_type", cut_dest_type_name(msg->reply_to_type));
    }
    add_num(hdrs, "jms.delivery_count", msg->delivery_count);
    add_str(hdrs, "jms.group_id", msg->group_id);
    if (msg->group_seq >= 0) {
        add_num(hdrs, "jms.group_seq", msg->group_seq);
    }
    add_str(hdrs, "jms.user_id", msg->user_id);
    add_str(hdrs, "jms.content_type", msg->content_type);
    add_str(hdrs, "jms.content_encoding", msg->content_encoding);
    add_str(hdrs, "jms.body_kind", cut_body_kind_name(msg->body_kind));
    add_props(hdrs, msg->props, msg->n_props, "jms.prop.", 0);
    add_prop_types(hdrs, msg);
    add_props(hdrs, msg->annotations, msg->n_annotations, "amqp.annotation.", 1);

    rec->hdr_names = hdrs->names;
    rec->hdr_values = hdrs->values;
    rec->hdr_lens = hdrs->lens;
    rec->n_hdrs = hdrs->n;
    return CUT_OK;
}
