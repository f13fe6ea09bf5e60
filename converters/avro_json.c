#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_json.h"
#include "avro_logical.h"

/* Items of zero bytes (null, empty records) cost nothing to declare: bound them. */
#define CHECK_ZERO_ITEMS_MAX 65536

struct checker {
    const uint8_t *p, *end;
    size_t zero_items;
    struct cut_err *err;
};

static int bad(struct checker *ck, const char *what)
{
    return cut_err_set(ck->err, CUT_EINVAL, "bad Avro data at byte %zu: %s",
                       (size_t)(ck->end - ck->p), what);
}

static int get_long(struct checker *ck, int64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (ck->p >= ck->end) {
            return bad(ck, "truncated varint");
        }
        uint8_t b = *ck->p++;
        if (shift == 63 && (b & 0x7e) != 0) {
            return bad(ck, "varint overflows 64 bits");
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return CUT_OK;
        }
    }
    return bad(ck, "varint longer than 10 bytes");
}

static int skip(struct checker *ck, uint64_t n)
{
    if (n > (uint64_t)(ck->end - ck->p)) {
        return bad(ck, "length beyond the end of the data");
    }
    ck->p += n;
    return CUT_OK;
}

static int check(struct checker *ck, const struct cut_avro_node *type);

/* Array and map blocks: count, [byte size when count < 0], items; 0 ends. */
static int check_blocks(struct checker *ck, const struct cut_avro_node *type)
{
    for (;;) {
        int64_t count;
        if (get_long(ck, &count) != CUT_OK) {
            return CUT_EINVAL;
        }
        if (count == 0) {
            return CUT_OK;
        }
        if (count < 0) {
            int64_t size;
            if (count == INT64_MIN || get_long(ck, &size) != CUT_OK) {
                return bad(ck, "bad block count");
            }
            if (size < 0 || (uint64_t)size > (uint64_t)(ck->end - ck->p)) {
                return bad(ck, "block size beyond the end of the data");
            }
            count = -count;
        }
        for (int64_t i = 0; i < count; i++) {
            const uint8_t *before = ck->p;
            if (type->type == CUT_AVRO_MAP) {
                int64_t klen;
                if (get_long(ck, &klen) != CUT_OK || klen < 0 || skip(ck, (uint64_t)klen)) {
                    return bad(ck, "bad map key");
                }
            }
            if (check(ck, type->type == CUT_AVRO_MAP ? type->values : type->items) != CUT_OK) {
                return CUT_EINVAL;
            }
            if (ck->p == before && ++ck->zero_items > CHECK_ZERO_ITEMS_MAX) {
                return bad(ck, "too many empty items");
            }
        }
    }
}

static int check(struct checker *ck, const struct cut_avro_node *type)
{
    int64_t v;
    switch (type->type) {
    case CUT_AVRO_NULL:
        return CUT_OK;
    case CUT_AVRO_BOOLEAN:
        if (ck->p >= ck->end || *ck->p > 1) {
            return bad(ck, "bad boolean");
        }
        ck->p++;
        return CUT_OK;
    case CUT_AVRO_INT:
        if (get_long(ck, &v) != CUT_OK) {
            return CUT_EINVAL;
        }
        return v < INT32_MIN || v > INT32_MAX ? bad(ck, "int out of range") : CUT_OK;
    case CUT_AVRO_LONG:
        return get_long(ck, &v);
    case CUT_AVRO_FLOAT:
        return skip(ck, 4);
    case CUT_AVRO_DOUBLE:
        return skip(ck, 8);
    case CUT_AVRO_BYTES:
    case CUT_AVRO_STRING:
        if (get_long(ck, &v) != CUT_OK) {
            return CUT_EINVAL;
        }
        return v < 0 ? bad(ck, "negative length") : skip(ck, (uint64_t)v);
    case CUT_AVRO_FIXED:
        return skip(ck, type->size);
    case CUT_AVRO_ENUM:
        if (get_long(ck, &v) != CUT_OK) {
            return CUT_EINVAL;
        }
        return v < 0 || (uint64_t)v >= type->n_symbols ? bad(ck, "enum index out of range")
                                                       : CUT_OK;
    case CUT_AVRO_UNION:
        if (get_long(ck, &v) != CUT_OK) {
            return CUT_EINVAL;
        }
        if (v < 0 || (uint64_t)v >= type->n_branches) {
            return bad(ck, "union index out of range");
        }
        return check(ck, type->branches[v]);
    case CUT_AVRO_RECORD:
        for (size_t i = 0; i < type->n_fields; i++) {
            if (check(ck, type->fields[i].type) != CUT_OK) {
                return CUT_EINVAL;
            }
        }
        return CUT_OK;
    case CUT_AVRO_ARRAY:
    case CUT_AVRO_MAP:
        return check_blocks(ck, type);
    }
    return bad(ck, "unknown type");
}

int cut_avro_check(const struct cut_avro_node *type, const void *buf, size_t len,
                   struct cut_err *err)
{
    struct checker ck = {.p = buf, .end = (const uint8_t *)buf + len, .err = err};
    if (check(&ck, type) != CUT_OK) {
        return CUT_EINVAL;
    }
    if (ck.p != ck.end) {
        return cut_err_set(err, CUT_EINVAL, "%zu bytes left over after the Avro datum",
                           (size_t)(ck.end - ck.p));
    }
    return CUT_OK;
}

/* ---- avro-c value -> JSON ----------------------------------------------------- */

struct cut_avro_reader {
    const struct cut_avsc *avsc;
    avro_value_iface_t *iface;
    avro_value_t value;
    avro_reader_t reader;
};

static json_t *latin1(const uint8_t *p, size_t len)
{
    char *s = malloc(len * 2 + 1);
    size_t n = 0;
    if (s == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x80) {
            s[n++] = (char)p[i];
        } else {
            s[n++] = (char)(0xc0 | (p[i] >> 6));
            s[n++] = (char)(0x80 | (p[i] & 0x3f));
        }
    }
    json_t *j = json_stringn(s, n);
    free(s);
    return j;
}

static json_t *real(double d)
{
    if (isfinite(d)) {
        return json_real(d);
    }
    return json_string(isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
}

static json_t *to_json(avro_value_t *val, const struct cut_avro_node *type, struct cut_err *err);

static json_t *decimal_json(const struct cut_avro_node *type, const void *p, size_t len,
                            struct cut_err *err)
{
    char text[CUT_LOGICAL_TEXT_MAX * 2];
    cut_i128 unscaled;
    if (cut_decimal_from_bytes(p, len, &unscaled) < 0) {
        cut_err_set(err, CUT_EINVAL, "decimal of %zu bytes exceeds 128 bits", len);
        return NULL;
    }
    cut_decimal_format(unscaled, type->scale, text, sizeof(text));
    return json_string(text);
}

static json_t *container_json(avro_value_t *val, const struct cut_avro_node *type,
                              struct cut_err *err)
{
    size_t n = 0;
    bool record = type->type == CUT_AVRO_RECORD, array = type->type == CUT_AVRO_ARRAY;
    json_t *out = array ? json_array() : json_object();

    if (out == NULL) {
        return NULL;
    }
    if (record) {
        n = type->n_fields;
    } else if (avro_value_get_size(val, &n) != 0) {
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        avro_value_t child;
        const char *key = NULL;
        if (avro_value_get_by_index(val, i, &child, &key) != 0) {
            goto fail;
        }
        const struct cut_avro_node *ct = record  ? type->fields[i].type
                                         : array ? type->items
                                                 : type->values;
        json_t *cj = to_json(&child, ct, err);
        if (cj == NULL) {
            json_decref(out);
            return NULL;
        }
        int rc = array ? json_array_append_new(out, cj)
                       : json_object_set_new(out, record ? type->fields[i].name : key, cj);
        if (rc != 0) {
            goto fail;
        }
    }
    return out;
fail:
    json_decref(out);
    cut_err_set(err, CUT_EINVAL, "cannot read %s: %s", cut_avro_type_name(type->type),
                avro_strerror());
    return NULL;
}

static json_t *to_json(avro_value_t *val, const struct cut_avro_node *type, struct cut_err *err)
{
    char text[CUT_LOGICAL_TEXT_MAX];
    const void *p = NULL;
    size_t len = 0;
    int32_t i32 = 0;
    int64_t i64 = 0;
    int b = 0;
    float f = 0;
    double d = 0;
    int rc = 0;

    switch (type->type) {
    case CUT_AVRO_NULL:
        return json_null();
    case CUT_AVRO_BOOLEAN:
        if (avro_value_get_boolean(val, &b) != 0) {
            break;
        }
        return json_boolean(b);
    case CUT_AVRO_INT:
        if (avro_value_get_int(val, &i32) != 0) {
            break;
        }
        if (type->logical == CUT_LOGICAL_DATE) {
            cut_date_format(i32, text, sizeof(text));
            return json_string(text);
        }
        if (type->logical == CUT_LOGICAL_TIME_MILLIS) {
            cut_time_format(i32, 0, text, sizeof(text));
            return json_string(text);
        }
        return json_integer(i32);
    case CUT_AVRO_LONG:
        if (avro_value_get_long(val, &i64) != 0) {
            break;
        }
        if (type->logical == CUT_LOGICAL_TIMESTAMP_MILLIS ||
            type->logical == CUT_LOGICAL_TIMESTAMP_MICROS) {
            cut_timestamp_format(i64, type->logical == CUT_LOGICAL_TIMESTAMP_MICROS, text,
                                 sizeof(text));
            return json_string(text);
        }
        if (type->logical == CUT_LOGICAL_TIME_MICROS) {
            cut_time_format(i64, 1, text, sizeof(text));
            return json_string(text);
        }
        return json_integer(i64);
    case CUT_AVRO_FLOAT:
        if (avro_value_get_float(val, &f) != 0) {
            break;
        }
        return real(f);
    case CUT_AVRO_DOUBLE:
        if (avro_value_get_double(val, &d) != 0) {
            break;
        }
        return real(d);
    case CUT_AVRO_STRING: {
        const char *s = NULL;
        if (avro_value_get_string(val, &s, &len) != 0) {
            break;
        }
        json_t *j = json_stringn(s, len > 0 ? len - 1 : 0); /* avro-c counts the NUL */
        if (j == NULL) {
            cut_err_set(err, CUT_EINVAL, "string is not valid UTF-8");
        }
        return j;
    }
    case CUT_AVRO_BYTES:
    case CUT_AVRO_FIXED:
        rc = type->type == CUT_AVRO_BYTES ? avro_value_get_bytes(val, &p, &len)
                                          : avro_value_get_fixed(val, &p, &len);
        if (rc != 0) {
            break;
        }
        if (type->logical == CUT_LOGICAL_DECIMAL) {
            return decimal_json(type, p, len, err);
        }
        return latin1(p, len);
    case CUT_AVRO_ENUM:
        if (avro_value_get_enum(val, &b) != 0 || b < 0 || (size_t)b >= type->n_symbols) {
            break;
        }
        return json_string(type->symbols[b]);
    case CUT_AVRO_UNION: {
        avro_value_t branch;
        if (avro_value_get_discriminant(val, &b) != 0 || b < 0 || (size_t)b >= type->n_branches ||
            avro_value_get_current_branch(val, &branch) != 0) {
            break;
        }
        return to_json(&branch, type->branches[b], err);
    }
    case CUT_AVRO_RECORD:
    case CUT_AVRO_ARRAY:
    case CUT_AVRO_MAP:
        return container_json(val, type, err);
    }
    cut_err_set(err, CUT_EINVAL, "cannot read %s: %s", cut_avro_type_name(type->type),
                avro_strerror());
    return NULL;
}

int cut_avro_reader_create(struct cut_avro_reader **out, const struct cut_avsc *avsc,
                           struct cut_err *err)
{
    struct cut_avro_reader *rd = calloc(1, sizeof(*rd));
    *out = NULL;
    if (rd == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    rd->avsc = avsc;
    rd->iface = avro_generic_class_from_schema(avsc->avro);
    if (rd->iface == NULL || avro_generic_value_new(rd->iface, &rd->value) != 0) {
        int rc = cut_err_set(err, CUT_ENOMEM, "avro-c: %s", avro_strerror());
        if (rd->iface != NULL) {
            avro_value_iface_decref(rd->iface);
        }
        free(rd);
        return rc;
    }
    rd->reader = avro_reader_memory("", 0);
    if (rd->reader == NULL) {
        avro_value_decref(&rd->value);
        avro_value_iface_decref(rd->iface);
        free(rd);
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    *out = rd;
    return CUT_OK;
}

int cut_avro_reader_read(struct cut_avro_reader *rd, const void *buf, size_t len, json_t **out,
                         struct cut_err *err)
{
    struct cut_err local;
    char extra;

    if (err == NULL) {
        err = &local;
    }
    cut_err_clear(err);
    *out = NULL;
    if (cut_avro_check(rd->avsc->root, buf, len, err) != CUT_OK) {
        return CUT_EINVAL;
    }
    avro_value_reset(&rd->value);
    avro_reader_memory_set_source(rd->reader, buf, (int64_t)len);
    if (avro_value_read(rd->reader, &rd->value) != 0) {
        return cut_err_set(err, CUT_EINVAL, "avro-c cannot read the datum: %s", avro_strerror());
    }
    /* avro-c must have read exactly what the checker walked. */
    if (avro_read(rd->reader, &extra, 1) == 0) {
        return cut_err_set(err, CUT_EINVAL, "avro-c left bytes over after the datum");
    }
    *out = to_json(&rd->value, rd->avsc->root, err);
    if (*out == NULL) {
        return err->code != CUT_OK ? err->code : cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    return CUT_OK;
}

void cut_avro_reader_destroy(struct cut_avro_reader *rd)
{
    if (rd == NULL) {
        return;
    }
    avro_reader_free(rd->reader);
    avro_value_decref(&rd->value);
    avro_value_iface_decref(rd->iface);
    free(rd);
}

int cut_avro_to_json(const struct cut_avsc *avsc, const void *buf, size_t len, json_t **out,
                     struct cut_err *err)
{
    struct cut_avro_reader *rd = NULL;
    int rc = cut_avro_reader_create(&rd, avsc, err);
    if (rc == CUT_OK) {
        rc = cut_avro_reader_read(rd, buf, len, out, err);
    }
    cut_avro_reader_destroy(rd);
    return rc;
}
