/*
 * Small pieces of the AMQP 1.0 type system that proton's message API does
 * not offer: the size of an encoded value and the layout of a message's
 * sections (found without decoding it), body forms and the content-type
 * rules of the JMS mapping, the canonical text of typed message ids (msg.h)
 * in both directions, and the per-message arena. See amqp10_codec.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp10_codec.h"

/* Described values nest their descriptor; real messages use one level. */
#define MAX_DESCRIBED_DEPTH 4

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t value_size(const uint8_t *p, size_t len, int depth)
{
    size_t total;

    if (len == 0) {
        return 0;
    }
    if (p[0] == 0x00) {
        if (depth >= MAX_DESCRIBED_DEPTH) {
            return 0;
        }
        size_t d = value_size(p + 1, len - 1, depth + 1);
        if (d == 0) {
            return 0;
        }
        size_t v = value_size(p + 1 + d, len - 1 - d, depth + 1);
        return v == 0 ? 0 : 1 + d + v;
    }
    /* The high nibble of a constructor says how its width is written. */
    switch (p[0] >> 4) {
    case 0x4:
        total = 1;
        break;
    case 0x5:
        total = 2;
        break;
    case 0x6:
        total = 3;
        break;
    case 0x7:
        total = 5;
        break;
    case 0x8:
        total = 9;
        break;
    case 0x9:
        total = 17;
        break;
    case 0xa:
    case 0xc:
    case 0xe:
        if (len < 2) {
            return 0;
        }
        total = 2 + (size_t)p[1];
        break;
    case 0xb:
    case 0xd:
    case 0xf:
        if (len < 5) {
            return 0;
        }
        total = 5 + (size_t)be32(p + 1);
        if (total < 5) {
            return 0;
        }
        break;
    default:
        return 0;
    }
    return total <= len ? total : 0;
}

size_t cut_amqp10_value_size(const uint8_t *p, size_t len)
{
    return value_size(p, len, 0);
}

static const char hexdig[] = "0123456789abcdef";

void cut_amqp10_id_text(pn_atom_t id, char *out, size_t out_len, enum cut_id_type *type)
{
    const uint8_t *u;
    size_t o = 0;

    switch (id.type) {
    case PN_STRING:
    case PN_SYMBOL:
        *type = CUT_ID_STRING;
        snprintf(out, out_len, "%.*s", (int)id.u.as_bytes.size, id.u.as_bytes.start);
        return;
    case PN_UUID:
        *type = CUT_ID_UUID;
        u = (const uint8_t *)id.u.as_uuid.bytes;
        for (int i = 0; i < 16 && o + 3 < out_len; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) {
                out[o++] = '-';
            }
            out[o++] = hexdig[u[i] >> 4];
            out[o++] = hexdig[u[i] & 15];
        }
        out[o] = '\0';
        return;
    case PN_ULONG:
        *type = CUT_ID_ULONG;
        snprintf(out, out_len, "%" PRIu64, id.u.as_ulong);
        return;
    case PN_BINARY:
        *type = CUT_ID_BINARY;
        u = (const uint8_t *)id.u.as_bytes.start;
        for (size_t i = 0; i < id.u.as_bytes.size && o + 2 < out_len; i++) {
            out[o++] = hexdig[u[i] >> 4];
            out[o++] = hexdig[u[i] & 15];
        }
        out[o] = '\0';
        return;
    case PN_LONG:
    case PN_INT:
        /* Not allowed by the spec, seen from lax peers: keep the number. */
        *type = CUT_ID_ULONG;
        snprintf(out, out_len, "%" PRId64, id.type == PN_LONG ? id.u.as_long : id.u.as_int);
        return;
    default:
        *type = CUT_ID_NONE;
        if (out_len > 0) {
            out[0] = '\0';
        }
        return;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int cut_amqp10_id_parse(const char *text, enum cut_id_type type, pn_atom_t *id, char *scratch,
                        size_t scratch_len)
{
    size_t len = strlen(text);

    memset(id, 0, sizeof(*id));
    switch (type) {
    case CUT_ID_STRING:
        id->type = PN_STRING;
        id->u.as_bytes = pn_bytes(len, text);
        return CUT_OK;
    case CUT_ID_UUID: {
        size_t o = 0;
        if (len != 36) {
            return CUT_EINVAL;
        }
        for (size_t i = 0; i < len;) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (text[i] != '-') {
                    return CUT_EINVAL;
                }
                i++;
                continue;
            }
            int hi = hexval(text[i]), lo = hexval(text[i + 1]);
            if (hi < 0 || lo < 0 || o >= 16) {
                return CUT_EINVAL;
            }
            id->u.as_uuid.bytes[o++] = (char)(hi << 4 | lo);
            i += 2;
        }
        id->type = PN_UUID;
        return o == 16 ? CUT_OK : CUT_EINVAL;
    }
    case CUT_ID_ULONG: {
        char *end = NULL;
        if (len == 0 || len > 20 || strspn(text, "0123456789") != len) {
            return CUT_EINVAL;
        }
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (errno != 0 || *end != '\0') {
            return CUT_EINVAL;
        }
        id->type = PN_ULONG;
        id->u.as_ulong = (uint64_t)v;
        return CUT_OK;
    }
    case CUT_ID_BINARY:
        if (len % 2 != 0 || len / 2 > scratch_len) {
            return CUT_EINVAL;
        }
        for (size_t i = 0; i < len; i += 2) {
            int hi = hexval(text[i]), lo = hexval(text[i + 1]);
            if (hi < 0 || lo < 0) {
                return CUT_EINVAL;
            }
            scratch[i / 2] = (char)(hi << 4 | lo);
        }
        id->type = PN_BINARY;
        id->u.as_bytes = pn_bytes(len / 2, scratch);
        return CUT_OK;
    default:
        return CUT_EINVAL;
    }
}

/* ---- the arena ------------------------------------------------------------- */

struct cut_amqp10_arena_block {
    struct cut_amqp10_arena_block *next;
    size_t cap, used;
    char data[];
};

void cut_amqp10_arena_reset(struct cut_amqp10_msgbuf *buf)
{
    for (struct cut_amqp10_arena_block *b = buf->arena; b != NULL; b = b->next) {
        b->used = 0;
    }
}

/* Memory that stays put until the next reset: pointers already handed out
 * in this message remain valid when it grows. */
char *cut_amqp10_arena_alloc(struct cut_amqp10_msgbuf *buf, size_t n)
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

const char *cut_amqp10_arena_str(struct cut_amqp10_msgbuf *buf, const char *s, size_t n)
{
    char *p = cut_amqp10_arena_alloc(buf, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

int cut_amqp10_grow(void **p, size_t *cap, size_t need, size_t elem)
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
int cut_amqp10_section_at(const uint8_t *p, size_t len, struct cut_amqp10_section *s)
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

bool cut_amqp10_is_body(uint64_t code)
{
    return code == A10_SEC_DATA || code == A10_SEC_SEQUENCE || code == A10_SEC_VALUE;
}

int cut_amqp10_walk(const uint8_t *p, size_t len, struct cut_amqp10_layout *lay,
                    struct cut_err *err)
{
    size_t off = 0;
    uint64_t last = 0;

    memset(lay, 0, sizeof(*lay));
    lay->bare_start = SIZE_MAX;
    lay->prefix_end = SIZE_MAX;
    lay->bare_end = len;
    while (off < len) {
        struct cut_amqp10_section s;
        if (cut_amqp10_section_at(p + off, len - off, &s) != CUT_OK) {
            return cut_err_set(err, CUT_EINVAL, "malformed message: no valid section at byte %zu",
                               off);
        }
        if (s.code < A10_SEC_HEADER || s.code > A10_SEC_FOOTER || s.code < last ||
            (s.code == last && !cut_amqp10_is_body(s.code))) {
            return cut_err_set(err, CUT_EINVAL,
                               "malformed message: section 0x%llx out of place at byte %zu",
                               (unsigned long long)s.code, off);
        }
        last = s.code;
        if (s.code == A10_SEC_HEADER) {
            lay->header = s;
            lay->have_header = true;
        } else if (s.code == A10_SEC_PROPERTIES) {
            lay->properties = s;
            lay->have_properties = true;
        }
        if (s.code >= A10_SEC_PROPERTIES && lay->bare_start == SIZE_MAX) {
            lay->bare_start = off;
        }
        if (cut_amqp10_is_body(s.code)) {
            if (lay->n_body == 0) {
                lay->body_start = off;
            }
            lay->n_body++;
            lay->body_end = off + s.size;
        }
        if ((cut_amqp10_is_body(s.code) || s.code == A10_SEC_FOOTER) &&
            lay->prefix_end == SIZE_MAX) {
            lay->prefix_end = off;
        }
        if (s.code == A10_SEC_FOOTER) {
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
int cut_amqp10_vbin(const uint8_t *v, size_t len, const uint8_t **payload, size_t *plen)
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
int cut_amqp10_body_classify(const uint8_t *p, size_t len, struct cut_amqp10_body *bv)
{
    size_t off = 0;
    uint64_t first = 0;
    unsigned n = 0;

    memset(bv, 0, sizeof(*bv));
    while (off < len) {
        struct cut_amqp10_section s;
        if (cut_amqp10_section_at(p + off, len - off, &s) != CUT_OK ||
            !cut_amqp10_is_body(s.code)) {
            return CUT_EINVAL;
        }
        if (n == 0) {
            first = s.code;
        } else if (s.code != first || first == A10_SEC_VALUE) {
            first = 0; /* mixed, or several amqp-values: keep them as they are */
        }
        if (s.code == A10_SEC_DATA) {
            if (s.value[0] != 0xa0 && s.value[0] != 0xb0) {
                return CUT_EINVAL;
            }
            if (bv->n_data++ == 0) {
                cut_amqp10_vbin(s.value, s.value_size, &bv->payload, &bv->payload_len);
            }
        }
        n++;
        if (n == 1 && s.code == A10_SEC_VALUE) {
            uint8_t c = s.value[0];
            if (c == 0x40) {
                bv->form = A10_BODY_VALUE_NULL;
            } else if (c == 0xa1 || c == 0xb1) {
                bv->form = A10_BODY_VALUE_STRING;
                cut_amqp10_vbin(s.value, s.value_size, &bv->payload, &bv->payload_len);
            } else if (c == 0xa0 || c == 0xb0) {
                bv->form = A10_BODY_VALUE_BINARY;
                cut_amqp10_vbin(s.value, s.value_size, &bv->payload, &bv->payload_len);
            } else if (c == 0xc1 || c == 0xd1) {
                bv->form = A10_BODY_VALUE_MAP;
            } else if (c == 0x45 || c == 0xc0 || c == 0xd0) {
                bv->form = A10_BODY_VALUE_LIST;
            } else {
                bv->form = A10_BODY_VALUE_OTHER;
            }
        }
        off += s.size;
    }
    if (n == 0) {
        bv->form = A10_BODY_NONE;
    } else if (first == 0) {
        bv->form = A10_BODY_MIXED;
        bv->payload = NULL;
    } else if (first == A10_SEC_DATA) {
        bv->form = A10_BODY_DATA;
    } else if (first == A10_SEC_SEQUENCE) {
        bv->form = A10_BODY_SEQUENCE;
    }
    return CUT_OK;
}

/* Qpid JMS's reading of a content type as text (ContentTypeSupport). */
bool cut_amqp10_ct_textual(const char *ct)
{
    if (ct == NULL) {
        return false;
    }
    if (strncmp(ct, "text/", 5) == 0 || strstr(ct, "charset=") != NULL) {
        return true;
    }
    static const char *const textual[] = {"application/json",       "application/xml",
                                          "application/xml-dtd",    "application/ecmascript",
                                          "application/javascript", NULL};
    size_t len = strcspn(ct, ";");
    for (size_t i = 0; textual[i] != NULL; i++) {
        if (strlen(textual[i]) == len && strncmp(ct, textual[i], len) == 0) {
            return true;
        }
    }
    return (len > 4 &&
            (strncmp(ct + len - 4, "+xml", 4) == 0 || strncmp(ct + len - 5, "+json", 5) == 0));
}

bool cut_amqp10_ct_is(const char *ct, const char *what)
{
    size_t len = strlen(what);
    return ct != NULL && strncmp(ct, what, len) == 0 && (ct[len] == '\0' || ct[len] == ';');
}

enum cut_body_kind cut_amqp10_infer_kind(enum cut_amqp10_form form, const char *ct)
{
    switch (form) {
    case A10_BODY_NONE:
    case A10_BODY_DATA:
        if (cut_amqp10_ct_is(ct, SERIALIZED_JAVA)) {
            return CUT_BODY_OBJECT;
        }
        if (ct == NULL || cut_amqp10_ct_is(ct, "application/octet-stream")) {
            return CUT_BODY_BYTES;
        }
        if (cut_amqp10_ct_textual(ct)) {
            return CUT_BODY_TEXT;
        }
        return form == A10_BODY_NONE ? CUT_BODY_MESSAGE : CUT_BODY_BYTES;
    case A10_BODY_VALUE_NULL:
    case A10_BODY_VALUE_STRING:
        return CUT_BODY_TEXT;
    case A10_BODY_VALUE_BINARY:
        return CUT_BODY_BYTES;
    case A10_BODY_VALUE_MAP:
        return CUT_BODY_MAP;
    case A10_BODY_VALUE_LIST:
    case A10_BODY_SEQUENCE:
        return CUT_BODY_STREAM;
    default:
        return CUT_BODY_OBJECT;
    }
}

/* Whether field @p index of the list @p v (a section's value) is there and not null. */
bool cut_amqp10_list_field_present(const uint8_t *v, size_t len, unsigned index)
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
