#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_write.h"

void cut_avro_buf_init(struct cut_avro_buf *buf)
{
    memset(buf, 0, sizeof(*buf));
}

void cut_avro_buf_fini(struct cut_avro_buf *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof(*buf));
}

void cut_avro_buf_reset(struct cut_avro_buf *buf)
{
    buf->len = 0;
    buf->failed = false;
}

int cut_avro_buf_reserve(struct cut_avro_buf *buf, size_t n)
{
    if (buf->failed) {
        return -1;
    }
    if (buf->cap - buf->len >= n) {
        return 0;
    }
    size_t cap = buf->cap ? buf->cap : 256;
    while (cap - buf->len < n) {
        if (cap > SIZE_MAX / 2) {
            buf->failed = true;
            return -1;
        }
        cap *= 2;
    }
    uint8_t *data = realloc(buf->data, cap);
    if (data == NULL) {
        buf->failed = true;
        return -1;
    }
    buf->data = data;
    buf->cap = cap;
    return 0;
}

void cut_avro_buf_put(struct cut_avro_buf *buf, const void *data, size_t len)
{
    if (len > 0 && cut_avro_buf_reserve(buf, len) == 0) {
        memcpy(buf->data + buf->len, data, len);
        buf->len += len;
    }
}

void cut_avro_put_long(struct cut_avro_buf *buf, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    if (cut_avro_buf_reserve(buf, 10) < 0) {
        return;
    }
    uint8_t *p = buf->data + buf->len;
    while (z >= 0x80) {
        *p++ = (uint8_t)(z | 0x80);
        z >>= 7;
    }
    *p++ = (uint8_t)z;
    buf->len = (size_t)(p - buf->data);
}

void cut_avro_put_boolean(struct cut_avro_buf *buf, bool v)
{
    uint8_t b = v ? 1 : 0;
    cut_avro_buf_put(buf, &b, 1);
}

void cut_avro_put_float(struct cut_avro_buf *buf, float v)
{
    uint32_t u;
    uint8_t b[4];
    memcpy(&u, &v, 4);
    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(u >> (8 * i));
    }
    cut_avro_buf_put(buf, b, 4);
}

void cut_avro_put_double(struct cut_avro_buf *buf, double v)
{
    uint64_t u;
    uint8_t b[8];
    memcpy(&u, &v, 8);
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(u >> (8 * i));
    }
    cut_avro_buf_put(buf, b, 8);
}

void cut_avro_put_bytes(struct cut_avro_buf *buf, const void *data, size_t len)
{
    cut_avro_put_long(buf, (int64_t)len);
    cut_avro_buf_put(buf, data, len);
}

/* A JSON string of code points 0-255 as the bytes they stand for. */
static int put_latin1(struct cut_avro_buf *buf, const json_t *value, size_t want, char *why,
                      size_t why_size)
{
    const unsigned char *s = (const unsigned char *)json_string_value(value);
    size_t len = json_string_length(value), n = 0;
    uint8_t *out = malloc(len ? len : 1);
    if (out == NULL) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x80) {
            out[n++] = s[i];
        } else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < len) {
            out[n++] = (uint8_t)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3f));
            i++;
        } else {
            free(out);
            snprintf(why, why_size, "a bytes default holds only code points 0-255");
            return -1;
        }
    }
    if (want != SIZE_MAX && n != want) {
        free(out);
        snprintf(why, why_size, "fixed default has %zu bytes, the type has %zu", n, want);
        return -1;
    }
    if (want == SIZE_MAX) {
        cut_avro_put_long(buf, (int64_t)n);
    }
    cut_avro_buf_put(buf, out, n);
    free(out);
    return 0;
}

int cut_avro_put_json(struct cut_avro_buf *buf, const struct cut_avro_node *type,
                      const json_t *value, char *why, size_t why_size)
{
    switch (type->type) {
    case CUT_AVRO_NULL:
        if (!json_is_null(value)) {
            break;
        }
        return 0;
    case CUT_AVRO_BOOLEAN:
        if (!json_is_boolean(value)) {
            break;
        }
        cut_avro_put_boolean(buf, json_is_true(value));
        return 0;
    case CUT_AVRO_INT:
    case CUT_AVRO_LONG:
        if (!json_is_integer(value)) {
            break;
        }
        if (type->type == CUT_AVRO_INT &&
            (json_integer_value(value) < INT32_MIN || json_integer_value(value) > INT32_MAX)) {
            snprintf(why, why_size, "default %lld is out of range for int",
                     (long long)json_integer_value(value));
            return -1;
        }
        cut_avro_put_long(buf, json_integer_value(value));
        return 0;
    case CUT_AVRO_FLOAT:
    case CUT_AVRO_DOUBLE:
        if (!json_is_number(value)) {
            break;
        }
        if (type->type == CUT_AVRO_FLOAT) {
            cut_avro_put_float(buf, (float)json_number_value(value));
        } else {
            cut_avro_put_double(buf, json_number_value(value));
        }
        return 0;
    case CUT_AVRO_STRING:
        if (!json_is_string(value)) {
            break;
        }
        cut_avro_put_bytes(buf, json_string_value(value), json_string_length(value));
        return 0;
    case CUT_AVRO_BYTES:
    case CUT_AVRO_FIXED:
        if (!json_is_string(value)) {
            break;
        }
        return put_latin1(buf, value, type->type == CUT_AVRO_FIXED ? type->size : SIZE_MAX, why,
                          why_size);
    case CUT_AVRO_ENUM:
        if (!json_is_string(value)) {
            break;
        }
        for (size_t i = 0; i < type->n_symbols; i++) {
            if (strcmp(type->symbols[i], json_string_value(value)) == 0) {
                cut_avro_put_long(buf, (int64_t)i);
                return 0;
            }
        }
        snprintf(why, why_size, "default \"%s\" is not a symbol of enum %s",
                 json_string_value(value), type->name);
        return -1;
    case CUT_AVRO_ARRAY:
    case CUT_AVRO_MAP: {
        bool array = type->type == CUT_AVRO_ARRAY;
        if (array ? !json_is_array(value) : !json_is_object(value)) {
            break;
        }
        size_t n = array ? json_array_size(value) : json_object_size(value);
        if (n > 0) {
            cut_avro_put_long(buf, (int64_t)n);
        }
        if (array) {
            for (size_t i = 0; i < n; i++) {
                if (cut_avro_put_json(buf, type->items, json_array_get(value, i), why, why_size) <
                    0) {
                    return -1;
                }
            }
        } else {
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)value, k, v)
            {
                cut_avro_put_bytes(buf, k, strlen(k));
                if (cut_avro_put_json(buf, type->values, v, why, why_size) < 0) {
                    return -1;
                }
            }
        }
        cut_avro_put_long(buf, 0);
        return 0;
    }
    case CUT_AVRO_UNION:
        cut_avro_put_long(buf, 0); /* a union's default is of its first branch */
        return cut_avro_put_json(buf, type->branches[0], value, why, why_size);
    case CUT_AVRO_RECORD:
        if (!json_is_object(value)) {
            break;
        }
        for (size_t i = 0; i < type->n_fields; i++) {
            const struct cut_avro_field *f = &type->fields[i];
            const json_t *v = json_object_get(value, f->name);
            if (v == NULL) {
                v = f->def;
            }
            if (v == NULL) {
                snprintf(why, why_size, "default of record %s has no value for field %s",
                         type->name, f->name);
                return -1;
            }
            if (cut_avro_put_json(buf, f->type, v, why, why_size) < 0) {
                return -1;
            }
        }
        return 0;
    }
    char desc[128];
    snprintf(why, why_size, "default is not a valid %s%s",
             cut_avro_describe(type, desc, sizeof(desc)),
             type->type == CUT_AVRO_UNION ? "" : " value");
    return -1;
}
