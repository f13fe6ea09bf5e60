/*
 * Converting one source value to its field's Avro type and writing it.
 *
 * Rules (docs/mappings.md, "Types and conversions"): white space around the
 * text is ignored for every type but string and bytes; an empty text counts
 * as absent for those types; absent means the mapping's default, then the
 * schema's, then null for a nullable field, else the message is dead-lettered.
 * Nothing is rounded silently: "12.5" is not an int, "1.005" is not a
 * decimal(10,2), 3000000000 is not an int.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mapping_int.h"

static size_t path_format(const struct path *p, char *out, size_t size)
{
    size_t at = 0;
    if (p == NULL || size == 0) {
        return 0;
    }
    at = path_format(p->up, out, size);
    if (at >= size) {
        return at;
    }
    int n = p->name != NULL ? snprintf(out + at, size - at, "%s%s", at > 0 ? "." : "", p->name)
                            : snprintf(out + at, size - at, "[%ld]", p->index);
    return at + (n > 0 ? (size_t)n : 0);
}

int map_fail(struct map_eval *ev, const struct path *p, const char *fmt, ...)
{
    char where[256], msg[CUT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    where[0] = '\0';
    path_format(p, where, sizeof(where));
    if (where[0] != '\0') {
        return cut_err_set(ev->err, CUT_EINVAL, "field %s: %s", where, msg);
    }
    return cut_err_set(ev->err, CUT_EINVAL, "%s", msg);
}

/* A quoted, shortened, printable copy of a value for reasons. */
static const char *quote(const char *s, size_t len, char *out, size_t size)
{
    size_t at = 0, max = 60;
    out[at++] = '"';
    for (size_t i = 0; i < len && at + 6 < size; i++) {
        if (i == max) {
            at += (size_t)snprintf(out + at, size - at, "...");
            break;
        }
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) {
            at += (size_t)snprintf(out + at, size - at, "\\x%02x", c);
        } else {
            out[at++] = (char)c;
        }
    }
    out[at++] = '"';
    out[at] = '\0';
    return out;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += n + 1;
    }
    return true;
}

/* The shortest %g text that reads back as the same double. */
static void real_text(double d, char *out, size_t size)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, d);
        if (strtod(out, NULL) == d) {
            return;
        }
    }
}

/* A non-text raw value as text, in ev->num. */
void map_raw_to_text(struct map_eval *ev, struct raw *r)
{
    switch (r->kind) {
    case RAW_INT:
        snprintf(ev->num, sizeof(ev->num), "%" PRId64, r->i);
        break;
    case RAW_REAL:
        real_text(r->d, ev->num, sizeof(ev->num));
        break;
    case RAW_BOOL:
        snprintf(ev->num, sizeof(ev->num), "%s", r->b ? "true" : "false");
        break;
    default:
        return;
    }
    r->kind = RAW_TEXT;
    r->s = ev->num;
    r->len = strlen(ev->num);
    r->utf8_known = true;
}

/* ---- reading sources ------------------------------------------------------------ */

void map_raw_set_text(struct raw *r, const char *s, bool utf8)
{
    r->kind = RAW_TEXT;
    r->s = s != NULL ? s : "";
    r->len = strlen(r->s);
    r->utf8_known = utf8;
}

static bool keeps_space(const struct map_value *val)
{
    return val->value->type == CUT_AVRO_STRING || val->value->type == CUT_AVRO_BYTES ||
           (val->value->type == CUT_AVRO_FIXED && val->logical != CUT_LOGICAL_DECIMAL);
}

/* Trim, empty-is-absent, translations, then the default. */
void map_prepare(struct map_eval *ev, const struct map_value *val, struct raw *r)
{
    const struct map_source *src = &val->src;

    if (r->kind == RAW_TEXT && (src->trim || !keeps_space(val))) {
        while (r->len > 0 && is_space(r->s[0])) {
            r->s++;
            r->len--;
        }
        while (r->len > 0 && is_space(r->s[r->len - 1])) {
            r->len--;
        }
    }
    if (r->kind == RAW_TEXT && r->len == 0 && !keeps_space(val)) {
        r->kind = RAW_ABSENT;
    }
    if (src->n_pairs > 0 && r->kind != RAW_ABSENT && r->kind != RAW_NULL) {
        map_raw_to_text(ev, r);
        for (size_t i = 0; i < src->n_pairs; i++) {
            if (strlen(src->pairs[i].from) == r->len &&
                memcmp(src->pairs[i].from, r->s, r->len) == 0) {
                map_raw_set_text(r, src->pairs[i].to, true);
                break;
            }
        }
    }
    if (r->kind == RAW_ABSENT && src->def != NULL) {
        map_raw_set_text(r, src->def, true);
        if (!keeps_space(val)) {
            map_prepare(ev, &(struct map_value){.value = val->value, .logical = val->logical}, r);
        }
    }
}

static int parse_long_text(const char *s, size_t len, int64_t *out)
{
    char buf[32];
    char *end = NULL;
    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    size_t i = (buf[0] == '-' || buf[0] == '+') ? 1 : 0;
    if (buf[i] < '0' || buf[i] > '9') {
        return -1;
    }
    for (size_t k = i; k < len; k++) {
        if (buf[k] < '0' || buf[k] > '9') {
            return -1;
        }
    }
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_real_text(const char *s, size_t len, double *out)
{
    char buf[64];
    char *end = NULL;
    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* strtod would take "inf", "nan" and hex floats: XML numbers are decimal. */
    for (size_t i = 0; i < len; i++) {
        if (!((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '.' || buf[i] == '-' || buf[i] == '+' ||
              buf[i] == 'e' || buf[i] == 'E')) {
            return -1;
        }
    }
    errno = 0;
    double d = strtod(buf, &end);
    if (end == buf || *end != '\0' || !isfinite(d)) {
        return -1;
    }
    *out = d;
    return 0;
}

static const char *type_desc(const struct map_value *val, char *buf, size_t size)
{
    if (val->logical != CUT_LOGICAL_NONE && val->logical != CUT_LOGICAL_DECIMAL) {
        snprintf(buf, size, "%s", cut_avro_logical_name(val->logical));
        return buf;
    }
    return cut_avro_describe(val->value, buf, size);
}

static int cannot(struct map_eval *ev, const struct map_value *val, struct raw *r,
                  const struct path *p, const char *hint)
{
    char q[96], desc[128];
    map_raw_to_text(ev, r);
    return map_fail(ev, p, "cannot convert %s to %s%s%s%s", quote(r->s, r->len, q, sizeof(q)),
                    type_desc(val, desc, sizeof(desc)), hint ? " (" : "", hint ? hint : "",
                    hint ? ")" : "");
}

/* An integral number from text, an integer or a real with no fraction. */
static int to_long(struct map_eval *ev, const struct map_value *val, struct raw *r, int64_t *out,
                   const struct path *p)
{
    switch (r->kind) {
    case RAW_INT:
        *out = r->i;
        return CUT_OK;
    case RAW_REAL:
        if (r->d == floor(r->d) && r->d >= -9223372036854775808.0 && r->d < 9223372036854775808.0) {
            *out = (int64_t)r->d;
            return CUT_OK;
        }
        return cannot(ev, val, r, p, "not a whole number");
    case RAW_TEXT:
        if (parse_long_text(r->s, r->len, out) == 0) {
            return CUT_OK;
        }
        return cannot(ev, val, r, p, NULL);
    default:
        return cannot(ev, val, r, p, NULL);
    }
}

static int write_timeish(struct map_eval *ev, const struct map_value *val, struct raw *r,
                         const struct path *p)
{
    int64_t v = 0, micros = 0;
    int32_t days = 0;
    enum cut_avro_logical lt = val->logical;

    if (r->kind != RAW_TEXT || parse_long_text(r->s, r->len, &v) == 0) {
        /* A number is the value itself: ms, µs or days, as the type says. */
        if (to_long(ev, val, r, &v, p) != CUT_OK) {
            return CUT_EINVAL;
        }
    } else if (lt == CUT_LOGICAL_DATE) {
        if (cut_date_parse(r->s, r->len, &days) < 0) {
            return cannot(ev, val, r, p, "expected YYYY-MM-DD");
        }
        v = days;
    } else if (lt == CUT_LOGICAL_TIME_MILLIS || lt == CUT_LOGICAL_TIME_MICROS) {
        if (cut_time_parse(r->s, r->len, &micros) < 0) {
            return cannot(ev, val, r, p, "expected HH:MM:SS[.fff]");
        }
        v = lt == CUT_LOGICAL_TIME_MILLIS ? micros / 1000 : micros;
    } else {
        if (cut_timestamp_parse(r->s, r->len, &micros) < 0) {
            return cannot(ev, val, r, p,
                          "expected ISO 8601 like 2024-03-01T10:15:00Z, or a number since the "
                          "epoch");
        }
        v = lt == CUT_LOGICAL_TIMESTAMP_MILLIS ? micros / 1000 - (micros % 1000 < 0 ? 1 : 0)
                                               : micros;
    }
    if (val->value->type == CUT_AVRO_INT && (v < INT32_MIN || v > INT32_MAX)) {
        return cannot(ev, val, r, p, "out of range");
    }
    cut_avro_put_long(ev->out, v);
    return CUT_OK;
}

static int write_decimal(struct map_eval *ev, const struct map_value *val, struct raw *r,
                         const struct path *p)
{
    const struct cut_avro_node *t = val->value;
    char why[160], text[64];
    uint8_t bytes[CUT_DECIMAL_MAX_PRECISION];
    cut_i128 unscaled;

    if (r->kind == RAW_REAL) {
        /* A double property: round to the scale, as any JDBC driver would. */
        snprintf(text, sizeof(text), "%.*f", t->scale, r->d);
        map_raw_set_text(r, text, true);
    } else {
        map_raw_to_text(ev, r);
    }
    if (r->kind != RAW_TEXT ||
        cut_decimal_parse(r->s, r->len, t->precision, t->scale, &unscaled, why, sizeof(why)) < 0) {
        return cannot(ev, val, r, p, r->kind == RAW_TEXT ? why : NULL);
    }
    size_t n = cut_decimal_to_bytes(unscaled, t->type == CUT_AVRO_FIXED ? t->size : 0, bytes);
    if (n == 0) {
        return cannot(ev, val, r, p, "does not fit the fixed size");
    }
    if (t->type == CUT_AVRO_FIXED) {
        cut_avro_buf_put(ev->out, bytes, n);
    } else {
        cut_avro_put_bytes(ev->out, bytes, n);
    }
    return CUT_OK;
}

static bool uuid_ok(const char *s, size_t len)
{
    if (len != 36) {
        return false;
    }
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

static int write_scalar(struct map_eval *ev, const struct map_value *val, struct raw *r,
                        const struct path *p)
{
    const struct cut_avro_node *t = val->value;
    int64_t v;
    double d;

    if (val->logical != CUT_LOGICAL_NONE && val->logical != CUT_LOGICAL_DECIMAL &&
        val->logical != CUT_LOGICAL_UUID) {
        return write_timeish(ev, val, r, p);
    }
    switch (t->type) {
    case CUT_AVRO_BOOLEAN:
        if (r->kind == RAW_BOOL) {
            cut_avro_put_boolean(ev->out, r->b);
            return CUT_OK;
        }
        if (r->kind == RAW_INT && (r->i == 0 || r->i == 1)) {
            cut_avro_put_boolean(ev->out, r->i == 1);
            return CUT_OK;
        }
        if (r->kind == RAW_TEXT) {
            if ((r->len == 4 && strncasecmp(r->s, "true", 4) == 0) ||
                (r->len == 1 && r->s[0] == '1')) {
                cut_avro_put_boolean(ev->out, true);
                return CUT_OK;
            }
            if ((r->len == 5 && strncasecmp(r->s, "false", 5) == 0) ||
                (r->len == 1 && r->s[0] == '0')) {
                cut_avro_put_boolean(ev->out, false);
                return CUT_OK;
            }
        }
        return cannot(ev, val, r, p, "expected true, false, 1 or 0");
    case CUT_AVRO_INT:
    case CUT_AVRO_LONG:
        if (r->kind == RAW_BOOL) {
            return cannot(ev, val, r, p, NULL);
        }
        if (to_long(ev, val, r, &v, p) != CUT_OK) {
            return CUT_EINVAL;
        }
        if (t->type == CUT_AVRO_INT && (v < INT32_MIN || v > INT32_MAX)) {
            return cannot(ev, val, r, p, "out of range");
        }
        cut_avro_put_long(ev->out, v);
        return CUT_OK;
    case CUT_AVRO_FLOAT:
    case CUT_AVRO_DOUBLE:
        if (r->kind == RAW_INT) {
            d = (double)r->i;
        } else if (r->kind == RAW_REAL) {
            d = r->d;
        } else if (r->kind != RAW_TEXT || parse_real_text(r->s, r->len, &d) < 0) {
            return cannot(ev, val, r, p, NULL);
        }
        if (t->type == CUT_AVRO_FLOAT) {
            if (fabs(d) > 3.4028234663852886e38) {
                return cannot(ev, val, r, p, "out of range");
            }
            cut_avro_put_float(ev->out, (float)d);
        } else {
            cut_avro_put_double(ev->out, d);
        }
        return CUT_OK;
    case CUT_AVRO_STRING:
        map_raw_to_text(ev, r);
        if (!r->utf8_known && !utf8_valid((const unsigned char *)r->s, r->len)) {
            return map_fail(ev, p, "value is not valid UTF-8");
        }
        if (val->logical == CUT_LOGICAL_UUID && !uuid_ok(r->s, r->len)) {
            return cannot(ev, val, r, p, "expected 8-4-4-4-12 hex digits");
        }
        cut_avro_put_bytes(ev->out, r->s, r->len);
        return CUT_OK;
    case CUT_AVRO_BYTES:
    case CUT_AVRO_FIXED:
        if (val->logical == CUT_LOGICAL_DECIMAL) {
            return write_decimal(ev, val, r, p);
        }
        map_raw_to_text(ev, r);
        if (t->type == CUT_AVRO_BYTES) {
            cut_avro_put_bytes(ev->out, r->s, r->len);
            return CUT_OK;
        }
        if (r->len != t->size) {
            char hint[64];
            snprintf(hint, sizeof(hint), "%zu bytes, the type has %zu", r->len, t->size);
            return cannot(ev, val, r, p, hint);
        }
        cut_avro_buf_put(ev->out, r->s, r->len);
        return CUT_OK;
    case CUT_AVRO_ENUM:
        map_raw_to_text(ev, r);
        for (size_t i = 0; i < t->n_symbols; i++) {
            if (strlen(t->symbols[i]) == r->len && memcmp(t->symbols[i], r->s, r->len) == 0) {
                cut_avro_put_long(ev->out, (int64_t)i);
                return CUT_OK;
            }
        }
        if (t->enum_default >= 0) {
            cut_avro_put_long(ev->out, t->enum_default);
            return CUT_OK;
        } else {
            char symbols[256];
            size_t at = 0;
            symbols[0] = '\0';
            for (size_t i = 0; i < t->n_symbols && at < sizeof(symbols); i++) {
                at += (size_t)snprintf(symbols + at, sizeof(symbols) - at, "%s%s", i ? ", " : "",
                                       t->symbols[i]);
            }
            return cannot(ev, val, r, p, symbols);
        }
    default:
        return map_fail(ev, p, "type %s cannot be written from a value",
                        cut_avro_type_name(t->type));
    }
}

const char *map_source_desc(const struct map_value *val, char *buf, size_t size)
{
    switch (val->src.kind) {
    case MAP_SRC_XPATH:
        snprintf(buf, size, "no value at XPath \"%s\"", val->src.text);
        break;
    case MAP_SRC_HEADER:
        snprintf(buf, size, "no header %s", val->src.text);
        break;
    case MAP_SRC_PROPERTY:
        snprintf(buf, size, "no property %s", val->src.text);
        break;
    default:
        snprintf(buf, size, "not mapped");
        break;
    }
    return buf;
}

/* Absent, null, or a value, for a field that may be a nullable union. */
int map_write_value(struct map_eval *ev, const struct map_value *val, struct raw *r,
                    const struct path *p)
{
    char desc[160];
    if (r->kind == RAW_ABSENT) {
        if (val->has_def_bytes) {
            cut_avro_buf_put(ev->out, val->def_bytes.data, val->def_bytes.len);
            return CUT_OK;
        }
        if (val->null_branch >= 0) {
            cut_avro_put_long(ev->out, val->null_branch);
            return CUT_OK;
        }
        return map_fail(ev, p, "required value missing (%s, and no default)",
                        map_source_desc(val, desc, sizeof(desc)));
    }
    if (r->kind == RAW_NULL) {
        if (val->null_branch >= 0) {
            cut_avro_put_long(ev->out, val->null_branch);
            return CUT_OK;
        }
        return map_fail(ev, p, "null, but the type %s is not nullable",
                        cut_avro_describe(val->type, desc, sizeof(desc)));
    }
    if (val->value_branch >= 0) {
        cut_avro_put_long(ev->out, val->value_branch);
    }
    return write_scalar(ev, val, r, p);
}

/* ---- records and arrays ------------------------------------------------------------ */

int map_check_text(const struct map_value *val, const char *text, struct cut_avro_buf *scratch,
                   char *why, size_t why_size)
{
    struct cut_err err = {0};
    struct cut_msg msg;
    struct map_eval ev = {.out = scratch, .err = &err, .msg = &msg};
    struct raw r = {0};
    /* Checked as the converter would see it: trimmed unless it is a string. */
    struct map_value plain = *val;

    cut_msg_init(&msg);
    plain.src = (struct map_source){0};
    plain.src.trim = val->src.trim;
    map_raw_set_text(&r, text, false);
    map_prepare(&ev, &plain, &r);
    if (r.kind == RAW_ABSENT) {
        snprintf(why, why_size, "an empty value is not a %s", cut_avro_type_name(val->value->type));
        return -1;
    }
    if (write_scalar(&ev, &plain, &r, NULL) != CUT_OK) {
        snprintf(why, why_size, "%s", err.msg);
        return -1;
    }
    return 0;
}
