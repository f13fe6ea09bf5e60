/*
 * The envelope back to AMQP 0-9-1: basic properties and headers table of a
 * publish, from a struct cut_msg. The mapping (and why it is exact for
 * 0-9-1 -> 0-9-1) is the table at the top of amqp091_msg.c.
 *
 * Everything the properties point to is borrowed from the message or kept in
 * the caller's grow-only struct cut_amqp091_pubbuf: no allocation per message
 * in the steady state. The properties are valid until the next call with the
 * same buffer, or until the message goes away.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "amqp091.h"
#include "amqp091_map.h"

#define SHORTSTR_MAX 255
/* Room in scratch for the texts the reserved headers need. */
#define TEXT_MAX 32

/* One header to write: a prop or annotation (converted on emit) or a ready value. */
struct item {
    const struct cut_prop *prop; /* NULL for reserved headers */
    amqp_field_value_t value;    /* reserved headers: the value */
    const char *name;
    bool used;
};

/* What the residue annotations hold, when present. */
struct residue {
    const struct cut_prop *app_id, *cluster_id, *delivery_mode, *priority, *expiration, *timestamp,
        *message_id, *headers;
};

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return CUT_OK;
    }
    size_t n = *cap > 0 ? *cap : 32;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size) {
            return CUT_ENOMEM;
        }
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

static bool prop_is_int(const struct cut_prop *prop)
{
    return prop->type == CUT_PROP_BYTE || prop->type == CUT_PROP_SHORT ||
           prop->type == CUT_PROP_INT || prop->type == CUT_PROP_LONG;
}

static bool prop_is_text(const struct cut_prop *prop)
{
    return prop->type == CUT_PROP_STRING || prop->type == CUT_PROP_SYMBOL;
}

static amqp_bytes_t prop_bytes(const struct cut_prop *prop)
{
    return (amqp_bytes_t){.len = prop->v.s.len, .bytes = (void *)prop->v.s.ptr};
}

/* The canonical header value of a prop (the table in amqp091_msg.c). */
static void canonical_value(const struct cut_prop *prop, amqp_field_value_t *v)
{
    v->kind = cut_amqp091_kind_of(prop->type);
    switch (prop->type) {
    case CUT_PROP_NULL:
        break;
    case CUT_PROP_BOOL:
        v->value.boolean = prop->v.b;
        break;
    case CUT_PROP_BYTE:
        v->value.i8 = (int8_t)prop->v.i;
        break;
    case CUT_PROP_SHORT:
        v->value.i16 = (int16_t)prop->v.i;
        break;
    case CUT_PROP_INT:
        v->value.i32 = (int32_t)prop->v.i;
        break;
    case CUT_PROP_LONG:
        v->value.i64 = prop->v.i;
        break;
    case CUT_PROP_FLOAT:
        v->value.f32 = (float)prop->v.d;
        break;
    case CUT_PROP_DOUBLE:
        v->value.f64 = prop->v.d;
        break;
    case CUT_PROP_TIMESTAMP:
        if (prop->v.i >= 0) {
            v->value.u64 = (uint64_t)(prop->v.i / 1000);
        } else {
            /* Before 1970: 0-9-1 timestamps are unsigned; keep the ms. */
            v->kind = AMQP_FIELD_KIND_I64;
            v->value.i64 = prop->v.i;
        }
        break;
    default:
        v->value.bytes = prop_bytes(prop);
        break;
    }
}

/*
 * The value with the kind @p kind a layout asks for, when the prop's value
 * fits it (those are the kinds amqp091_msg.c records); else the canonical one.
 */
static void emit_value(const struct cut_prop *prop, uint8_t kind, amqp_field_value_t *v)
{
    int64_t i = prop->v.i;
    uint64_t u;

    switch (kind) {
    case AMQP_FIELD_KIND_U8:
        if (prop_is_int(prop) && i >= 0 && i <= UINT8_MAX) {
            v->kind = kind;
            v->value.u8 = (uint8_t)i;
            return;
        }
        break;
    case AMQP_FIELD_KIND_U16:
        if (prop_is_int(prop) && i >= 0 && i <= UINT16_MAX) {
            v->kind = kind;
            v->value.u16 = (uint16_t)i;
            return;
        }
        break;
    case AMQP_FIELD_KIND_U32:
        if (prop_is_int(prop) && i >= 0 && i <= UINT32_MAX) {
            v->kind = kind;
            v->value.u32 = (uint32_t)i;
            return;
        }
        break;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
        if (kind == AMQP_FIELD_KIND_U64 && prop_is_int(prop) && i >= 0) {
            v->kind = kind;
            v->value.u64 = (uint64_t)i;
            return;
        }
        if (prop_is_text(prop) && cut_amqp091_u64_parse(prop->v.s.ptr, prop->v.s.len, &u)) {
            v->kind = kind;
            v->value.u64 = u;
            return;
        }
        break;
    case AMQP_FIELD_KIND_DECIMAL:
        if (prop_is_text(prop) &&
            cut_amqp091_decimal_parse(prop->v.s.ptr, prop->v.s.len, &v->value.decimal)) {
            v->kind = kind;
            return;
        }
        break;
    default:
        break;
    }
    canonical_value(prop, v);
}

static void collect_residue(const struct cut_msg *msg, struct residue *res)
{
    const struct {
        const char *name;
        const struct cut_prop **slot;
    } slots[] = {
        {CUT_AMQP091_A_APP_ID, &res->app_id},
        {CUT_AMQP091_A_CLUSTER_ID, &res->cluster_id},
        {CUT_AMQP091_A_DELIVERY_MODE, &res->delivery_mode},
        {CUT_AMQP091_A_PRIORITY, &res->priority},
        {CUT_AMQP091_A_EXPIRATION, &res->expiration},
        {CUT_AMQP091_A_TIMESTAMP, &res->timestamp},
        {CUT_AMQP091_A_MESSAGE_ID, &res->message_id},
        {CUT_AMQP091_A_HEADERS, &res->headers},
    };

    memset(res, 0, sizeof(*res));
    for (size_t i = 0; i < msg->n_annotations; i++) {
        const struct cut_prop *a = &msg->annotations[i];
        if (strncmp(a->name, CUT_AMQP091_A_PREFIX, strlen(CUT_AMQP091_A_PREFIX)) != 0) {
            continue;
        }
        for (size_t k = 0; k < sizeof(slots) / sizeof(slots[0]); k++) {
            if (*slots[k].slot == NULL && strcmp(a->name, slots[k].name) == 0) {
                *slots[k].slot = a; /* the first one counts */
                break;
            }
        }
    }
}

/* Everything needed while building one publish. */
struct pub_state {
    struct cut_amqp091_pubbuf *buf;
    const struct cut_msg *msg;
    const struct cut_amqp091_pubopts *opts;
    amqp_basic_properties_t *props;
    struct cut_err *err;
    struct residue res;
    char *cursor; /* into buf->scratch, room reserved */
    struct item reserved[CUT_AMQP091_R_COUNT];
    bool has_reserved[CUT_AMQP091_R_COUNT];
    size_t n_entries;
    bool layout_followed; /* the headers table was there, maybe empty */
};

static void set_reserved_str(struct pub_state *st, int r, const char *s, size_t len)
{
    st->has_reserved[r] = true;
    st->reserved[r].name = cut_amqp091_reserved_names[r];
    st->reserved[r].prop = NULL;
    st->reserved[r].used = false;
    st->reserved[r].value.kind = AMQP_FIELD_KIND_UTF8;
    st->reserved[r].value.value.bytes = (amqp_bytes_t){.len = len, .bytes = (void *)s};
}

static void set_reserved_int(struct pub_state *st, int r, uint8_t kind, int64_t v)
{
    st->has_reserved[r] = true;
    st->reserved[r].name = cut_amqp091_reserved_names[r];
    st->reserved[r].prop = NULL;
    st->reserved[r].used = false;
    st->reserved[r].value.kind = kind;
    if (kind == AMQP_FIELD_KIND_I32) {
        st->reserved[r].value.value.i32 = (int32_t)v;
    } else {
        st->reserved[r].value.value.i64 = v;
    }
}

static int set_shortstr(struct pub_state *st, amqp_flags_t flag, amqp_bytes_t *field,
                        const char *what, const char *s)
{
    size_t len = strlen(s);
    if (len > SHORTSTR_MAX) {
        return cut_err_set(st->err, CUT_EINVAL,
                           "amqp091: %s of %zu bytes does not fit AMQP 0-9-1 (255 at most)", what,
                           len);
    }
    st->props->_flags |= flag;
    *field = (amqp_bytes_t){.len = len, .bytes = (void *)s};
    return CUT_OK;
}

/*
 * An id on the wire: the property (or the x-...-id header when too long) and
 * the type header. Binary ids go back to base64, as RabbitMQ writes them.
 */
static void put_id(struct pub_state *st, const char *text, enum cut_id_type type, amqp_flags_t flag,
                   amqp_bytes_t *field, int r_long, int r_type)
{
    size_t len = strlen(text);
    const char *wire = text;
    const char *type_name = NULL;

    if (type == CUT_ID_UUID && cut_amqp091_uuid_canonical(text, len)) {
        type_name = "uuid";
    } else if (type == CUT_ID_ULONG && cut_amqp091_ulong_canonical(text, len)) {
        type_name = "ulong";
    } else if (type == CUT_ID_BINARY && cut_amqp091_hex_canonical(text, len)) {
        char *out = st->cursor;
        len = cut_amqp091_hex_to_b64(text, len, out);
        st->cursor += len + 1;
        wire = out;
        type_name = "binary";
    }
    if (len <= SHORTSTR_MAX) {
        st->props->_flags |= flag;
        *field = (amqp_bytes_t){.len = len, .bytes = (void *)wire};
    } else {
        set_reserved_str(st, r_long, wire, len);
    }
    if (type_name != NULL) {
        set_reserved_str(st, r_type, type_name, strlen(type_name));
    }
}

static bool residue_int(const struct cut_prop *prop, int64_t *v)
{
    if (prop == NULL || !prop_is_int(prop)) {
        return false;
    }
    *v = prop->v.i;
    return true;
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

/* The basic properties, and the reserved headers that carry what they cannot. */
static int put_fields(struct pub_state *st)
{
    const struct cut_msg *msg = st->msg;
    amqp_basic_properties_t *p = st->props;
    const struct residue *res = &st->res;
    int64_t raw;
    int rc;

    if (msg->message_id != NULL && msg->message_id_type != CUT_ID_NONE) {
        put_id(st, msg->message_id, msg->message_id_type, AMQP_BASIC_MESSAGE_ID_FLAG,
               &p->message_id, CUT_AMQP091_R_MESSAGE_ID, CUT_AMQP091_R_MESSAGE_ID_TYPE);
    } else if (res->message_id != NULL && prop_is_text(res->message_id) &&
               res->message_id->v.s.len == 0) {
        /* Present but empty on the wire; the envelope had to make one up. */
        p->_flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        p->message_id = amqp_empty_bytes;
    }
    if (msg->correlation_id != NULL) {
        put_id(st, msg->correlation_id, msg->correlation_id_type, AMQP_BASIC_CORRELATION_ID_FLAG,
               &p->correlation_id, CUT_AMQP091_R_CORR_ID, CUT_AMQP091_R_CORR_ID_TYPE);
    }
    if ((msg->content_type != NULL &&
         (rc = set_shortstr(st, AMQP_BASIC_CONTENT_TYPE_FLAG, &p->content_type, "content_type",
                            msg->content_type)) != CUT_OK) ||
        (msg->content_encoding != NULL &&
         (rc = set_shortstr(st, AMQP_BASIC_CONTENT_ENCODING_FLAG, &p->content_encoding,
                            "content_encoding", msg->content_encoding)) != CUT_OK) ||
        (msg->type != NULL &&
         (rc = set_shortstr(st, AMQP_BASIC_TYPE_FLAG, &p->type, "type", msg->type)) != CUT_OK)) {
        return rc;
    }

    if (msg->user_id != NULL) {
        /* RabbitMQ closes the channel (406) when user_id is not the
         * connection's user, unless that user is an impersonator. */
        size_t len = strlen(msg->user_id);
        bool own = st->opts->login_user != NULL && strcmp(msg->user_id, st->opts->login_user) == 0;
        if (len <= SHORTSTR_MAX && (own || st->opts->impersonate)) {
            p->_flags |= AMQP_BASIC_USER_ID_FLAG;
            p->user_id = (amqp_bytes_t){.len = len, .bytes = (void *)msg->user_id};
        } else {
            set_reserved_str(st, CUT_AMQP091_R_USER_ID, msg->user_id, len);
        }
    }

    if (msg->reply_to != NULL) {
        size_t len = strlen(msg->reply_to);
        if (len <= SHORTSTR_MAX) {
            p->_flags |= AMQP_BASIC_REPLY_TO_FLAG;
            p->reply_to = (amqp_bytes_t){.len = len, .bytes = (void *)msg->reply_to};
        } else {
            set_reserved_str(st, CUT_AMQP091_R_REPLY_TO, msg->reply_to, len);
        }
        const char *type = cut_amqp091_dest_type_name(msg->reply_to_type);
        if (type != NULL && msg->reply_to_type != CUT_DEST_QUEUE) {
            set_reserved_str(st, CUT_AMQP091_R_REPLY_TO_TYPE, type, strlen(type));
        }
    }
    const char *dest_type = cut_amqp091_dest_type_name(msg->destination_type);
    if (msg->destination != NULL && dest_type != NULL) {
        set_reserved_str(st, CUT_AMQP091_R_DEST, msg->destination, strlen(msg->destination));
        set_reserved_str(st, CUT_AMQP091_R_DEST_TYPE, dest_type, strlen(dest_type));
    }
    const char *kind = cut_amqp091_body_kind_name(msg->body_kind);
    if (kind != NULL && msg->body_kind != CUT_BODY_BYTES) {
        set_reserved_str(st, CUT_AMQP091_R_BODY_KIND, kind, strlen(kind));
    }
    if (msg->group_id != NULL) {
        set_reserved_str(st, CUT_AMQP091_R_GROUP_ID, msg->group_id, strlen(msg->group_id));
    }
    if (msg->group_seq != -1) {
        bool fits = msg->group_seq >= INT32_MIN && msg->group_seq <= INT32_MAX;
        set_reserved_int(st, CUT_AMQP091_R_GROUP_SEQ,
                         fits ? AMQP_FIELD_KIND_I32 : AMQP_FIELD_KIND_I64, msg->group_seq);
    }

    if (msg->priority >= 0) {
        p->_flags |= AMQP_BASIC_PRIORITY_FLAG;
        p->priority = (uint8_t)(msg->priority > 255 ? 255 : msg->priority);
        if (residue_int(res->priority, &raw) && raw > 9 && raw <= 255 && msg->priority == 9) {
            p->priority = (uint8_t)raw;
        }
    }
    /* RabbitMQ refuses any other value (406 "delivery_mode_unknown"), which
     * would close the channel: a residue from elsewhere must not do that. */
    if (residue_int(res->delivery_mode, &raw) && (raw == 1 || raw == 2) &&
        (raw == 2) == msg->durable) {
        p->_flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
        p->delivery_mode = (uint8_t)raw;
    } else if (msg->durable) {
        p->_flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
        p->delivery_mode = 2;
    }

    int64_t ts = msg->timestamp_ms;
    if (ts > 0) {
        p->_flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        p->timestamp = (uint64_t)(ts / 1000);
        if (ts % 1000 != 0) {
            set_reserved_int(st, CUT_AMQP091_R_TIMESTAMP_MS, AMQP_FIELD_KIND_I64, ts);
        }
    } else if (ts < 0) {
        set_reserved_int(st, CUT_AMQP091_R_TIMESTAMP_MS, AMQP_FIELD_KIND_I64, ts);
    } else if (residue_int(res->timestamp, &raw) && raw >= 0) {
        p->_flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        p->timestamp = (uint64_t)raw;
    }

    int64_t ttl = msg->ttl_ms > 0 ? msg->ttl_ms : 0;
    if (res->expiration != NULL && prop_is_text(res->expiration)) {
        int64_t parsed = cut_amqp091_ttl_parse(prop_bytes(res->expiration));
        if ((parsed > 0 ? parsed : 0) == ttl) {
            p->_flags |= AMQP_BASIC_EXPIRATION_FLAG;
            p->expiration = prop_bytes(res->expiration);
        }
    }
    if (!(p->_flags & AMQP_BASIC_EXPIRATION_FLAG) && ttl > 0) {
        char *s = st->cursor;
        int n = snprintf(s, TEXT_MAX, "%" PRId64, ttl);
        st->cursor += n + 1;
        p->_flags |= AMQP_BASIC_EXPIRATION_FLAG;
        p->expiration = (amqp_bytes_t){.len = (size_t)n, .bytes = s};
    }
    int64_t derived = ttl > 0 ? add_sat(ts, ttl) : 0;
    if (msg->expiry_ms != 0 && !(ttl > 0 && ts == 0) && msg->expiry_ms != derived) {
        set_reserved_int(st, CUT_AMQP091_R_EXPIRATION, AMQP_FIELD_KIND_I64, msg->expiry_ms);
    }

    if (res->app_id != NULL && prop_is_text(res->app_id) && res->app_id->v.s.len <= SHORTSTR_MAX) {
        p->_flags |= AMQP_BASIC_APP_ID_FLAG;
        p->app_id = prop_bytes(res->app_id);
    }
    if (res->cluster_id != NULL && prop_is_text(res->cluster_id) &&
        res->cluster_id->v.s.len <= SHORTSTR_MAX) {
        p->_flags |= AMQP_BASIC_CLUSTER_ID_FLAG;
        p->cluster_id = prop_bytes(res->cluster_id);
    }
    return CUT_OK;
}

/* Append one header entry. Room for every item was reserved. */
static int emit(struct pub_state *st, const char *name, const amqp_field_value_t *value)
{
    size_t len = strlen(name);
    if (len > SHORTSTR_MAX) {
        return cut_err_set(
            st->err, CUT_EINVAL,
            "amqp091: header name of %zu bytes does not fit AMQP 0-9-1 (255 at most)", len);
    }
    amqp_table_entry_t *e = &st->buf->entries[st->n_entries++];
    e->key = (amqp_bytes_t){.len = len, .bytes = (void *)name};
    e->value = *value;
    return CUT_OK;
}

static int emit_item(struct pub_state *st, struct item *it, uint8_t kind)
{
    amqp_field_value_t v;
    it->used = true;
    if (it->prop == NULL) {
        return emit(st, it->name, &it->value);
    }
    emit_value(it->prop, kind, &v);
    return emit(st, it->name, &v);
}

static struct item *find_item(struct item *items, size_t n, amqp_bytes_t name)
{
    for (size_t i = 0; i < n; i++) {
        if (!items[i].used && cut_amqp091_bytes_eq(name, items[i].name)) {
            return &items[i];
        }
    }
    return NULL;
}

/*
 * Follow the layout the source recorded: original order, original kinds,
 * nested values. Entries that are gone from the envelope are skipped; what
 * the envelope has beyond the layout follows in canonical order.
 */
static int follow_layout(struct pub_state *st, struct item *items, size_t n_items)
{
    struct cut_amqp091_pubbuf *buf = st->buf;
    amqp_table_t layout;
    size_t offset = 0;
    amqp_bytes_t encoded = prop_bytes(st->res.headers);

    if (st->res.headers->type != CUT_PROP_BYTES ||
        amqp_decode_table(encoded, &buf->pool, &layout, &offset) != AMQP_STATUS_OK) {
        return CUT_OK; /* not ours, or damaged: canonical order */
    }
    st->layout_followed = true;
    if (grow((void **)&buf->entries, &buf->entries_cap,
             n_items + CUT_AMQP091_R_COUNT + (size_t)layout.num_entries,
             sizeof(*buf->entries)) != CUT_OK) {
        return cut_err_set(st->err, CUT_ENOMEM, "out of memory");
    }
    for (int i = 0; i < layout.num_entries; i++) {
        const amqp_table_entry_t *l = &layout.entries[i];
        struct item *it = NULL;
        int rc = CUT_OK;
        switch (l->value.kind) {
        case AMQP_FIELD_KIND_BOOLEAN: {
            int r = cut_amqp091_reserved_find(l->key);
            if (r >= 0 && st->has_reserved[r] && !st->reserved[r].used) {
                rc = emit_item(st, &st->reserved[r], 0);
            }
            break;
        }
        case AMQP_FIELD_KIND_VOID:
        case AMQP_FIELD_KIND_I8:
            it = find_item(items, n_items, l->key);
            if (it != NULL) {
                uint8_t kind = l->value.kind == AMQP_FIELD_KIND_I8 ? (uint8_t)l->value.value.i8 : 0;
                rc = emit_item(st, it, kind);
            }
            break;
        default:
            /* A nested value the envelope cannot hold: as it was. The key
             * points into the annotation, which outlives the publish. */
            buf->entries[st->n_entries].key = l->key;
            buf->entries[st->n_entries].value = l->value;
            st->n_entries++;
            break;
        }
        if (rc != CUT_OK) {
            return rc;
        }
    }
    return CUT_OK;
}

static bool annotation_is_header(const struct cut_prop *a)
{
    return strncmp(a->name, CUT_AMQP091_A_PREFIX, strlen(CUT_AMQP091_A_PREFIX)) != 0 &&
           !cut_amqp091_annotation_mirrored(a->name);
}

static int put_headers(struct pub_state *st)
{
    struct cut_amqp091_pubbuf *buf = st->buf;
    const struct cut_msg *msg = st->msg;
    size_t n_items = 0;
    int rc;

    if (grow((void **)&buf->items, &buf->items_cap, msg->n_props + msg->n_annotations + 1,
             sizeof(struct item)) != CUT_OK ||
        grow((void **)&buf->entries, &buf->entries_cap,
             msg->n_props + msg->n_annotations + CUT_AMQP091_R_COUNT + 1,
             sizeof(*buf->entries)) != CUT_OK) {
        return cut_err_set(st->err, CUT_ENOMEM, "out of memory");
    }
    struct item *items = buf->items;
    for (size_t i = 0; i < msg->n_props; i++) {
        items[n_items++] = (struct item){.prop = &msg->props[i], .name = msg->props[i].name};
    }
    for (size_t i = 0; i < msg->n_annotations; i++) {
        if (annotation_is_header(&msg->annotations[i])) {
            items[n_items++] =
                (struct item){.prop = &msg->annotations[i], .name = msg->annotations[i].name};
        }
    }
    st->n_entries = 0;
    if (st->res.headers != NULL) {
        recycle_amqp_pool(&buf->pool);
        rc = follow_layout(st, items, n_items);
        if (rc != CUT_OK) {
            return rc;
        }
        items = buf->items; /* follow_layout may not move it, but be plain */
    }
    for (size_t i = 0; i < n_items; i++) {
        if (!items[i].used && (rc = emit_item(st, &items[i], 0)) != CUT_OK) {
            return rc;
        }
    }
    for (int r = 0; r < CUT_AMQP091_R_COUNT; r++) {
        if (st->has_reserved[r] && !st->reserved[r].used &&
            (rc = emit_item(st, &st->reserved[r], 0)) != CUT_OK) {
            return rc;
        }
    }
    if (st->n_entries > 0 || st->layout_followed) {
        st->props->_flags |= AMQP_BASIC_HEADERS_FLAG;
        st->props->headers.num_entries = (int)st->n_entries;
        st->props->headers.entries = buf->entries;
    }
    return CUT_OK;
}

/* The encoded size of the content header must fit in one frame. */
static int check_size(struct pub_state *st)
{
    struct cut_amqp091_pubbuf *buf = st->buf;
    const amqp_basic_properties_t *p = st->props;
    size_t size = 14; /* class, weight, body size, flags */

    if (st->opts->frame_max == 0) {
        return CUT_OK;
    }
    const amqp_bytes_t *strs[] = {&p->content_type, &p->content_encoding, &p->correlation_id,
                                  &p->reply_to,     &p->expiration,       &p->message_id,
                                  &p->type,         &p->user_id,          &p->app_id,
                                  &p->cluster_id};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        size += 1 + strs[i]->len;
    }
    size += 1 + 1 + 8; /* delivery mode, priority, timestamp */
    if (p->_flags & AMQP_BASIC_HEADERS_FLAG) {
        amqp_table_t table = p->headers;
        for (;;) {
            size_t offset = 0;
            amqp_bytes_t room = {.len = buf->check_cap, .bytes = buf->check};
            int status = buf->check_cap > 0 ? amqp_encode_table(room, &table, &offset)
                                            : AMQP_STATUS_TABLE_TOO_BIG;
            if (status == AMQP_STATUS_OK) {
                size += offset;
                break;
            }
            if (!cut_amqp091_encode_short(status)) {
                return cut_err_set(st->err, CUT_EINVAL, "amqp091: headers cannot be encoded: %s",
                                   amqp_error_string2(status));
            }
            if (buf->check_cap >= st->opts->frame_max ||
                grow((void **)&buf->check, &buf->check_cap, buf->check_cap * 2 + 1024, 1) !=
                    CUT_OK) {
                return cut_err_set(st->err, CUT_EINVAL,
                                   "amqp091: headers larger than the frame size (%zu bytes)",
                                   st->opts->frame_max);
            }
        }
    }
    if (size + 8 > st->opts->frame_max) {
        return cut_err_set(st->err, CUT_EINVAL,
                           "amqp091: properties and headers take %zu bytes, more than the "
                           "negotiated frame size (%zu)",
                           size, st->opts->frame_max);
    }
    return CUT_OK;
}

int cut_amqp091_pub_props(struct cut_amqp091_pubbuf *buf, const struct cut_msg *msg,
                          const struct cut_amqp091_pubopts *opts, amqp_basic_properties_t *props,
                          struct cut_err *err)
{
    struct pub_state st = {.buf = buf, .msg = msg, .opts = opts, .props = props, .err = err};
    int rc;

    if (!buf->pool_ready) {
        init_amqp_pool(&buf->pool, 4096);
        buf->pool_ready = true;
    }
    /* Ids may become base64 (shorter than their hex) and a TTL decimal text. */
    size_t need = TEXT_MAX + 2;
    need += msg->message_id != NULL ? strlen(msg->message_id) + 4 : 0;
    need += msg->correlation_id != NULL ? strlen(msg->correlation_id) + 4 : 0;
    if (grow((void **)&buf->scratch, &buf->scratch_cap, need, 1) != CUT_OK) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    st.cursor = buf->scratch;
    memset(props, 0, sizeof(*props));
    collect_residue(msg, &st.res);
    if ((rc = put_fields(&st)) != CUT_OK || (rc = put_headers(&st)) != CUT_OK ||
        (rc = check_size(&st)) != CUT_OK) {
        return rc;
    }
    return CUT_OK;
}

void cut_amqp091_pubbuf_fini(struct cut_amqp091_pubbuf *buf)
{
    if (buf->pool_ready) {
        empty_amqp_pool(&buf->pool);
    }
    free(buf->entries);
    free(buf->items);
    free(buf->scratch);
    free(buf->check);
    memset(buf, 0, sizeof(*buf));
}
