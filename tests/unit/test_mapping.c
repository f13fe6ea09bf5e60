/*
 * Golden tests of the mapping converter (converters/mapping.h): every
 * directory of tests/data/mappings/ (but bad/ and hostile/) holds a mapping,
 * its schema and cases; each case is converted and checked:
 *
 *   NAME.xml            the body
 *   NAME.msg.json       optional: JMS headers and properties, as for
 *                       `cutover convert --header` ({"JMSPriority": 7, "qty:int": 5})
 *   NAME.expected.json  the value, decoded back to JSON (avro: the wire header
 *                       is checked, then the Avro bytes are checked for lengths
 *                       and decoded by avro-c), compared with jansson's json_equal
 *   NAME.reason         instead: the message is dead-lettered; every line is a
 *                       substring of the reason
 *   NAME.verdict        instead: FILTERED or EXPIRED
 *   NAME.record.json    optional: {"topic": T|null, "key": K|null,
 *                       "headers": {NAME: VALUE}, "absent_headers": [NAME]}
 *
 * The clock is pinned at 2024-03-01T10:46:40Z and the schema id is 1.
 * Unit tests of the pieces (logical types, wire format, the Avro checker,
 * dead-letter headers, the message builder) follow the golden runner.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "avro_json.h"
#include "avro_logical.h"
#include "avro_schema.h"
#include "avro_write.h"
#include "mapping.h"
#include "mapping_msg.h"
#include "wire.h"

#ifndef MAPPING_DATA_DIR
#error "MAPPING_DATA_DIR must name tests/data/mappings"
#endif

#define NOW_MS  INT64_C(1709290000000) /* 2024-03-01T10:46:40Z */
#define TEST_ID 1

static int64_t pinned_now(void)
{
    return NOW_MS;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    buf[size] = '\0';
    fclose(fp);
    if (len != NULL) {
        *len = (size_t)size;
    }
    return buf;
}

static json_t *load_json(const char *path)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, JSON_DECODE_ANY, &jerr);
    if (j == NULL) {
        fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
    }
    return j;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* NAME.msg.json -> message headers and properties. */
static void load_msg(const char *path, struct cut_mapping_msg *m)
{
    struct cut_err err = {0};
    const char *name;
    json_t *value;
    json_t *obj = load_json(path);
    char text[64];

    assert_true(json_is_object(obj));
    json_object_foreach (obj, name, value) {
        const char *v = text;
        if (json_is_string(value)) {
            v = json_string_value(value);
        } else if (json_is_integer(value)) {
            snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(value));
        } else if (json_is_real(value)) {
            snprintf(text, sizeof(text), "%.17g", json_real_value(value));
        } else if (json_is_boolean(value)) {
            snprintf(text, sizeof(text), "%s", json_is_true(value) ? "true" : "false");
        } else {
            snprintf(text, sizeof(text), "null");
        }
        if (cut_mapping_msg_set(m, name, v, &err) != CUT_OK) {
            fail_msg("%s: %s", path, err.msg);
        }
    }
    json_decref(obj);
}

static const char *header(const struct cut_record *rec, const char *name, size_t *len)
{
    for (size_t i = 0; i < rec->n_hdrs; i++) {
        if (strcmp(rec->hdr_names[i], name) == 0) {
            *len = rec->hdr_lens[i];
            return rec->hdr_values[i] ? rec->hdr_values[i] : "";
        }
    }
    return NULL;
}

static void assert_header(const struct cut_record *rec, const char *name, const char *want)
{
    size_t len = 0;
    const char *got = header(rec, name, &len);
    if (got == NULL) {
        fail_msg("header %s missing", name);
    }
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
}

static void check_record(const char *path, const struct cut_record *rec)
{
    json_t *want = load_json(path);
    json_t *topic = json_object_get(want, "topic");
    json_t *key = json_object_get(want, "key");
    json_t *headers = json_object_get(want, "headers");
    json_t *absent = json_object_get(want, "absent_headers");
    const char *name;
    json_t *value;
    size_t i;

    if (topic != NULL) {
        if (json_is_null(topic)) {
            assert_null(rec->dest);
        } else {
            assert_non_null(rec->dest);
            assert_string_equal(rec->dest, json_string_value(topic));
        }
    }
    if (key != NULL) {
        if (json_is_null(key)) {
            assert_null(rec->key);
        } else {
            assert_non_null(rec->key);
            assert_int_equal(rec->key_len, json_string_length(key));
            assert_memory_equal(rec->key, json_string_value(key), rec->key_len);
        }
    }
    json_object_foreach (headers, name, value) {
        size_t len = 0;
        const char *got = header(rec, name, &len);
        if (got == NULL) {
            fail_msg("%s: header %s missing", path, name);
        }
        if (len != json_string_length(value) || memcmp(got, json_string_value(value), len) != 0) {
            fail_msg("%s: header %s is \"%.*s\", expected \"%s\"", path, name, (int)len, got,
                     json_string_value(value));
        }
    }
    json_array_foreach (absent, i, value) {
        size_t len;
        if (header(rec, json_string_value(value), &len) != NULL) {
            fail_msg("%s: header %s should be absent", path, json_string_value(value));
        }
    }
    json_decref(want);
}

/* The value, decoded by an independent path: wire header, checker, avro-c. */
static json_t *decode_value(const struct cut_mapping *map, const struct cut_record *rec)
{
    struct cut_err err = {0};
    json_t *got = NULL;
    json_error_t jerr;
    const uint8_t *payload;
    int32_t id;

    switch (cut_mapping_format(map)) {
    case CUT_MAPPING_AVRO:
        assert_int_equal(cut_wire_header_get(rec->value, rec->value_len, &id, &payload, &err),
                         CUT_OK);
        assert_int_equal(id, TEST_ID);
        assert_int_equal(((const uint8_t *)rec->value)[0], 0);
        if (cut_avro_to_json(cut_mapping_schema(map), payload,
                             rec->value_len - CUT_WIRE_HEADER_SIZE, &got, &err) != CUT_OK) {
            fail_msg("avro-c cannot decode the value: %s", err.msg);
        }
        return got;
    case CUT_MAPPING_JSON:
        got = json_loadb(rec->value, rec->value_len, 0, &jerr);
        assert_non_null(got);
        return got;
    default:
        return json_stringn(rec->value, rec->value_len);
    }
}

static void run_case(const char *dir, const struct cut_mapping *map, struct cut_converter *conv,
                     const char *name)
{
    char path[1024];
    struct cut_mapping_msg m;
    struct cut_err err = {0};
    struct cut_record rec;
    enum cut_verdict verdict;
    size_t len;

    print_message("  %s/%s\n", strrchr(dir, '/') + 1, name);
    cut_mapping_msg_init(&m);
    snprintf(path, sizeof(path), "%s/%s.msg.json", dir, name);
    if (exists(path)) {
        load_msg(path, &m);
    }
    snprintf(path, sizeof(path), "%s/%s.xml", dir, name);
    char *body = slurp(path, &len);
    assert_non_null(body);
    m.msg.body = body;
    m.msg.body_len = len;

    assert_int_equal(cut_mapping_converter.convert(conv, &m.msg, &rec, &verdict, &err), CUT_OK);

    snprintf(path, sizeof(path), "%s/%s.reason", dir, name);
    char *reason = slurp(path, NULL);
    snprintf(path, sizeof(path), "%s/%s.verdict", dir, name);
    char *want_verdict = slurp(path, NULL);
    if (reason != NULL) {
        if (verdict != CUT_VERDICT_DEAD_LETTER) {
            fail_msg("%s/%s: expected a dead letter, got verdict %d", dir, name, (int)verdict);
        }
        for (char *line = strtok(reason, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            if (strstr(err.msg, line) == NULL) {
                fail_msg("%s/%s: reason \"%s\" lacks \"%s\"", dir, name, err.msg, line);
            }
        }
        assert_null(rec.value);
    } else if (want_verdict != NULL) {
        want_verdict[strcspn(want_verdict, "\n")] = '\0';
        enum cut_verdict want = strcmp(want_verdict, "FILTERED") == 0  ? CUT_VERDICT_FILTERED
                                : strcmp(want_verdict, "EXPIRED") == 0 ? CUT_VERDICT_EXPIRED
                                                                       : CUT_VERDICT_SEND;
        if (verdict != want) {
            fail_msg("%s/%s: expected %s, got verdict %d (%s)", dir, name, want_verdict,
                     (int)verdict, err.msg);
        }
    } else {
        if (verdict != CUT_VERDICT_SEND) {
            fail_msg("%s/%s: expected SEND, got verdict %d: %s", dir, name, (int)verdict,
                     err.msg);
        }
        snprintf(path, sizeof(path), "%s/%s.expected.json", dir, name);
        json_t *want = load_json(path);
        json_t *got = decode_value(map, &rec);
        if (!json_equal(want, got)) {
            char *g = json_dumps(got, JSON_INDENT(2));
            char *w = json_dumps(want, JSON_INDENT(2));
            fail_msg("%s/%s: value differs\n--- got\n%s\n--- expected\n%s", dir, name, g, w);
        }
        json_decref(want);
        json_decref(got);
        /* The message id travels, always. */
        size_t hlen;
        const char *id = header(&rec, CUT_HDR_MESSAGE_ID, &hlen);
        assert_non_null(id);
        assert_memory_equal(id, m.msg.message_id, hlen);
        snprintf(path, sizeof(path), "%s/%s.record.json", dir, name);
        if (exists(path)) {
            check_record(path, &rec);
        }
    }
    free(reason);
    free(want_verdict);
    free(body);
    cut_mapping_msg_fini(&m);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One golden directory: load its mapping, run each NAME.xml in name order. */
static void test_golden(void **state)
{
    const char *dir = *state;
    char path[1024];
    struct cut_cfg_errors errs = {0};
    struct cut_mapping *map = NULL;
    struct cut_converter *conv = NULL;
    struct cut_err err = {0};
    char *names[256];
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/mapping.yaml", dir);
    if (cut_mapping_load(path, &map, &errs) != CUT_OK) {
        for (size_t i = 0; i < errs.n; i++) {
            print_error("%s\n", errs.lines[i]);
        }
        fail_msg("%s does not load", path);
    }
    struct cut_mapping_settings settings = {
        .map = map, .flow = "golden", .topic = "flow.topic", .schema_id = TEST_ID,
        .now_ms = pinned_now};
    assert_int_equal(cut_mapping_converter.create(&conv, &settings, &err), CUT_OK);

    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL && n < 256;) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".xml") == 0) {
            names[n++] = strndup(e->d_name, len - 4);
        }
    }
    closedir(d);
    assert_true(n > 0);
    qsort(names, n, sizeof(names[0]), by_name);
    for (size_t i = 0; i < n; i++) {
        run_case(dir, map, conv, names[i]);
        free(names[i]);
    }
    cut_mapping_converter.destroy(conv);
    cut_mapping_destroy(map);
    cut_cfg_errors_fini(&errs);
}

/* ---- unit tests of the pieces ------------------------------------------------------ */

static void test_timestamps_parse_with_zones_and_fractions(void **state)
{
    (void)state;
    int64_t us = 0;
    const char *t;
    t = "2024-03-01T10:15:00Z";
    assert_int_equal(cut_timestamp_parse(t, strlen(t), &us), 0);
    assert_int_equal(us, INT64_C(1709288100000000));
    t = "2024-03-01T11:15:00.250+01:00";
    assert_int_equal(cut_timestamp_parse(t, strlen(t), &us), 0);
    assert_int_equal(us, INT64_C(1709288100250000));
    t = "2024-03-01 10:15:00.1234567";
    assert_int_equal(cut_timestamp_parse(t, strlen(t), &us), 0);
    assert_int_equal(us, INT64_C(1709288100123456));
    t = "1969-12-31T23:59:59.999Z";
    assert_int_equal(cut_timestamp_parse(t, strlen(t), &us), 0);
    assert_int_equal(us, -1000);
    const char *bad[] = {"2024-02-30T00:00:00Z", "2024-03-01", "2024-03-01T25:00:00Z",
                         "2024-03-01T10:15:00+1", "2024-03-01T10:15:00Zjunk", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cut_timestamp_parse(bad[i], strlen(bad[i]), &us), -1);
    }
}

static void test_timestamps_format_before_and_after_the_epoch(void **state)
{
    (void)state;
    char out[CUT_LOGICAL_TEXT_MAX];
    cut_timestamp_format(-1, 0, out, sizeof(out));
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    cut_timestamp_format(INT64_C(1709288100250), 0, out, sizeof(out));
    assert_string_equal(out, "2024-03-01T10:15:00.250Z");
    cut_timestamp_format(INT64_C(1709288100000001), 1, out, sizeof(out));
    assert_string_equal(out, "2024-03-01T10:15:00.000001Z");
    cut_date_format(-1, out, sizeof(out));
    assert_string_equal(out, "1969-12-31");
    cut_date_format(19783, out, sizeof(out));
    assert_string_equal(out, "2024-03-01");
    cut_time_format(37230500, 0, out, sizeof(out));
    assert_string_equal(out, "10:20:30.500");
}

static void test_decimals_are_exact_or_refused(void **state)
{
    (void)state;
    cut_i128 v;
    char why[128], out[64];
    uint8_t bytes[40];
    assert_int_equal(cut_decimal_parse("-1234.5", 7, 10, 2, &v, why, sizeof(why)), 0);
    assert_true(v == -123450);
    cut_decimal_format(v, 2, out, sizeof(out));
    assert_string_equal(out, "-1234.50");
    assert_int_equal(cut_decimal_parse("1.005", 5, 10, 2, &v, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "more than 2 decimal places"));
    assert_int_equal(cut_decimal_parse("1.2500", 6, 10, 2, &v, why, sizeof(why)), 0);
    assert_int_equal(cut_decimal_parse("123456789", 9, 10, 2, &v, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "more than 8 digits before the decimal point"));
    assert_int_equal(cut_decimal_parse("1e5", 3, 10, 2, &v, why, sizeof(why)), -1);
    assert_int_equal(cut_decimal_parse(".", 1, 10, 2, &v, why, sizeof(why)), -1);
    /* 38 digits, the most a decimal can have. */
    const char *big = "-99999999999999999999999999999999999999";
    assert_int_equal(cut_decimal_parse(big, strlen(big), 38, 0, &v, why, sizeof(why)), 0);
    size_t n = cut_decimal_to_bytes(v, 0, bytes);
    assert_int_equal(n, 16);
    cut_i128 back;
    assert_int_equal(cut_decimal_from_bytes(bytes, n, &back), 0);
    assert_true(back == v);
    cut_decimal_format(back, 0, out, sizeof(out));
    assert_string_equal(out, big);
    /* Two's complement in the fewest bytes, or sign-extended to a fixed size. */
    assert_int_equal(cut_decimal_to_bytes(-1, 0, bytes), 1);
    assert_int_equal(bytes[0], 0xff);
    assert_int_equal(cut_decimal_to_bytes(128, 0, bytes), 2);
    assert_int_equal(bytes[0], 0x00);
    assert_int_equal(bytes[1], 0x80);
    assert_int_equal(cut_decimal_to_bytes(-129, 4, bytes), 4);
    assert_int_equal(bytes[0], 0xff);
    assert_int_equal(bytes[2], 0xff);
    assert_int_equal(bytes[3], 0x7f);
    assert_int_equal(cut_decimal_to_bytes(70000, 2, bytes), 0);
}

static void test_wire_header_round_trips_and_refuses_bad_magic(void **state)
{
    (void)state;
    uint8_t buf[8];
    const uint8_t *payload;
    int32_t id;
    struct cut_err err = {0};
    cut_wire_header_put(buf, 0x01020304);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[1], 1);
    assert_int_equal(buf[4], 4);
    assert_int_equal(cut_wire_header_get(buf, 8, &id, &payload, &err), CUT_OK);
    assert_int_equal(id, 0x01020304);
    assert_ptr_equal(payload, buf + 5);
    assert_int_equal(cut_wire_header_get(buf, 4, &id, &payload, &err), CUT_EINVAL);
    buf[0] = 1;
    assert_int_equal(cut_wire_header_get(buf, 8, &id, &payload, &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "magic"));
}

static const char checker_schema[] =
    "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"null\"}},"
    "{\"name\":\"u\",\"type\":[\"null\",\"int\"]}]}";

/* avro-c allocates whatever a length says: the checker must refuse first. */
static void test_avro_checker_refuses_lengths_beyond_the_data(void **state)
{
    (void)state;
    struct cut_avsc *avsc = NULL;
    struct cut_err err = {0};
    json_t *out = NULL;
    assert_int_equal(cut_avsc_parse(checker_schema, strlen(checker_schema), &avsc, &err), CUT_OK);

    /* A string claiming 2^62 bytes. */
    uint8_t huge[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x00};
    assert_int_equal(cut_avro_to_json(avsc, huge, sizeof(huge), &out, &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "beyond the end"));
    /* An array of 2^40 nulls (zero bytes each). */
    uint8_t nulls[] = {0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0x00, 0x00};
    assert_int_equal(cut_avro_to_json(avsc, nulls, sizeof(nulls), &out, &err), CUT_EINVAL);
    /* A union index out of range, a truncated varint, bytes left over. */
    uint8_t branch[] = {0x00, 0x00, 0x06};
    assert_int_equal(cut_avro_to_json(avsc, branch, sizeof(branch), &out, &err), CUT_EINVAL);
    uint8_t trunc[] = {0x00, 0x00, 0x02, 0x80};
    assert_int_equal(cut_avro_to_json(avsc, trunc, sizeof(trunc), &out, &err), CUT_EINVAL);
    uint8_t extra[] = {0x02, 'x', 0x00, 0x00, 0x00};
    assert_int_equal(cut_avro_to_json(avsc, extra, sizeof(extra), &out, &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "left over"));
    /* And a good one reads. */
    uint8_t good[] = {0x02, 'x', 0x04, 0x00, 0x02, 0x0a};
    assert_int_equal(cut_avro_to_json(avsc, good, sizeof(good), &out, &err), CUT_OK);
    json_t *want = json_pack("{s:s,s:[n,n],s:i}", "s", "x", "a", "u", 5);
    assert_true(json_equal(out, want));
    json_decref(want);
    json_decref(out);
    cut_avsc_destroy(avsc);
}

static void test_schema_defaults_are_encoded_as_the_spec_reads_them(void **state)
{
    (void)state;
    const char *text = "{\"type\":\"record\",\"name\":\"R\",\"fields\":["
                       "{\"name\":\"u\",\"type\":[\"null\",\"string\"],\"default\":null},"
                       "{\"name\":\"b\",\"type\":\"bytes\",\"default\":\"\\u00ff\"},"
                       "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int\"},"
                       "\"default\":[1,2]}]}";
    struct cut_avsc *avsc = NULL;
    struct cut_err err = {0};
    struct cut_buf buf;
    char why[256];
    assert_int_equal(cut_avsc_parse(text, strlen(text), &avsc, &err), CUT_OK);
    cut_buf_init(&buf);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(cut_avro_put_json(&buf, avsc->root->fields[i].type,
                                           avsc->root->fields[i].def, why, sizeof(why)),
                         0);
    }
    const uint8_t want[] = {0x00, 0x02, 0xff, 0x04, 0x02, 0x04, 0x00};
    assert_int_equal(buf.len, sizeof(want));
    assert_memory_equal(buf.data, want, sizeof(want));
    cut_buf_reset(&buf);
    json_t *bad = json_string("x");
    assert_int_equal(cut_avro_put_json(&buf, avsc->root->fields[2].type, bad, why, sizeof(why)),
                     -1);
    json_decref(bad);
    cut_buf_fini(&buf);
    cut_avsc_destroy(avsc);
}

static void test_schema_refuses_recursion_and_keeps_logical_types(void **state)
{
    (void)state;
    struct cut_avsc *avsc = NULL;
    struct cut_err err = {0};
    const char *rec = "{\"type\":\"record\",\"name\":\"N\",\"fields\":["
                      "{\"name\":\"next\",\"type\":[\"null\",\"N\"]}]}";
    assert_int_equal(cut_avsc_parse(rec, strlen(rec), &avsc, &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "recursive"));
    const char *lt = "{\"type\":\"record\",\"name\":\"T\",\"namespace\":\"a.b\",\"fields\":["
                     "{\"name\":\"t\",\"type\":{\"type\":\"long\",\"logicalType\":"
                     "\"timestamp-millis\"}},"
                     "{\"name\":\"d\",\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\","
                     "\"precision\":5,\"scale\":2}},"
                     "{\"name\":\"x\",\"type\":{\"type\":\"string\",\"logicalType\":\"date\"}}]}";
    assert_int_equal(cut_avsc_parse(lt, strlen(lt), &avsc, &err), CUT_OK);
    assert_string_equal(avsc->root->fullname, "a.b.T");
    assert_int_equal(avsc->root->fields[0].type->logical, CUT_LOGICAL_TIMESTAMP_MILLIS);
    assert_int_equal(avsc->root->fields[1].type->logical, CUT_LOGICAL_DECIMAL);
    assert_int_equal(avsc->root->fields[1].type->scale, 2);
    /* A logical type on the wrong base type is ignored, as the spec says. */
    assert_int_equal(avsc->root->fields[2].type->logical, CUT_LOGICAL_NONE);
    assert_string_equal(avsc->text, lt); /* the original text, for the registry */
    cut_avsc_destroy(avsc);
    const char *bad = "{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"x\"}]}";
    assert_int_equal(cut_avsc_parse(bad, strlen(bad), &avsc, &err), CUT_EINVAL);
}

static void test_message_builder_sets_headers_and_typed_properties(void **state)
{
    (void)state;
    struct cut_mapping_msg m;
    struct cut_err err = {0};
    cut_mapping_msg_init(&m);
    assert_int_equal(cut_mapping_msg_set_arg(&m, "JMSPriority=7", &err), CUT_OK);
    assert_int_equal(cut_mapping_msg_set_arg(&m, "JMSExpiration=2024-03-01T10:00:00Z", &err),
                     CUT_OK);
    assert_int_equal(cut_mapping_msg_set_arg(&m, "qty:int=5", &err), CUT_OK);
    assert_int_equal(cut_mapping_msg_set_arg(&m, "region=EU=1", &err), CUT_OK);
    assert_int_equal(cut_mapping_msg_set_arg(&m, "JMSXDeliveryCount=3", &err), CUT_OK);
    assert_int_equal(m.msg.priority, 7);
    assert_int_equal(m.msg.expiry_ms, INT64_C(1709287200000));
    assert_int_equal(m.msg.delivery_count, 2);
    const struct cut_prop *qty = cut_msg_prop(&m.msg, "qty");
    assert_non_null(qty);
    assert_int_equal(qty->type, CUT_PROP_INT);
    assert_int_equal(qty->v.i, 5);
    assert_string_equal(cut_msg_prop(&m.msg, "region")->v.s.ptr, "EU=1");
    assert_int_equal(cut_mapping_msg_set_arg(&m, "JMSPriority=12", &err), CUT_EINVAL);
    assert_int_equal(cut_mapping_msg_set_arg(&m, "x:int=abc", &err), CUT_EINVAL);
    assert_int_equal(cut_mapping_msg_set_arg(&m, "b:byte=300", &err), CUT_EINVAL);
    assert_int_equal(cut_mapping_msg_set_arg(&m, "y:decimal=1", &err), CUT_EINVAL);
    assert_int_equal(cut_mapping_msg_set_arg(&m, "novalue", &err), CUT_EINVAL);
    cut_mapping_msg_fini(&m);
}

static void test_dead_letter_keeps_the_body_and_says_why_where_and_when(void **state)
{
    (void)state;
    struct cut_dead_letter dl;
    struct cut_mapping_msg m;
    struct cut_record rec;
    struct cut_msg out;
    cut_dead_letter_init(&dl);
    cut_mapping_msg_init(&m);
    assert_int_equal(cut_mapping_msg_set_arg(&m, "JMSMessageID=ID:dl-1", NULL), CUT_OK);
    assert_int_equal(cut_mapping_msg_set_arg(&m, "region=EU", NULL), CUT_OK);
    const char body[] = "<order><bad></order>\0tail";
    m.msg.body = body;
    m.msg.body_len = sizeof(body);
    for (int round = 0; round < 2; round++) { /* reused storage */
        assert_int_equal(cut_mapping_dead_letter_headers(&dl, NULL, "orders", "orders.in", &m.msg,
                                                         "XML not well-formed", NOW_MS, &rec),
                         CUT_OK);
        assert_ptr_equal(rec.value, body);
        assert_int_equal(rec.value_len, sizeof(body));
        assert_null(rec.key);
        assert_null(rec.dest);
        assert_header(&rec, CUT_HDR_DL_REASON, "XML not well-formed");
        assert_header(&rec, CUT_HDR_DL_FLOW, "orders");
        assert_header(&rec, CUT_HDR_DL_TIME, "1709290000000");
        assert_header(&rec, CUT_HDR_DL_SOURCE, "orders.in");
        assert_header(&rec, CUT_HDR_MESSAGE_ID, "ID:dl-1");
        assert_header(&rec, "jms.prop.region", "EU");
    }
    assert_int_equal(cut_mapping_dead_letter_props(&dl, "orders", "orders.in", &m.msg,
                                                   "XML not well-formed", NOW_MS, &out),
                     CUT_OK);
    assert_ptr_equal(out.body, body);
    assert_string_equal(out.message_id, "ID:dl-1");
    assert_int_equal(out.n_props, 5);
    assert_string_equal(cut_msg_prop(&out, "region")->v.s.ptr, "EU");
    assert_string_equal(cut_msg_prop(&out, CUT_PROP_DL_REASON)->v.s.ptr, "XML not well-formed");
    assert_string_equal(cut_msg_prop(&out, CUT_PROP_DL_SOURCE)->v.s.ptr, "orders.in");
    cut_mapping_msg_fini(&m);
    cut_dead_letter_fini(&dl);
}

/* A map message cannot be read as XML: dead-lettered, not parsed. */
static void test_non_text_body_is_dead_lettered(void **state)
{
    (void)state;
    char path[1024];
    struct cut_cfg_errors errs = {0};
    struct cut_mapping *map = NULL;
    struct cut_converter *conv = NULL;
    struct cut_err err = {0};
    struct cut_mapping_msg m;
    struct cut_record rec;
    enum cut_verdict verdict;
    snprintf(path, sizeof(path), "%s/primitives/mapping.yaml", MAPPING_DATA_DIR);
    assert_int_equal(cut_mapping_load(path, &map, &errs), CUT_OK);
    struct cut_mapping_settings settings = {.map = map, .schema_id = 1, .now_ms = pinned_now};
    assert_int_equal(cut_mapping_converter.create(&conv, &settings, &err), CUT_OK);
    cut_mapping_msg_init(&m);
    m.msg.body = "\x00\x01";
    m.msg.body_len = 2;
    m.msg.body_kind = CUT_BODY_MAP;
    assert_int_equal(cut_mapping_converter.convert(conv, &m.msg, &rec, &verdict, &err), CUT_OK);
    assert_int_equal(verdict, CUT_VERDICT_DEAD_LETTER);
    assert_non_null(strstr(err.msg, "map message"));
    cut_mapping_msg_fini(&m);
    cut_mapping_converter.destroy(conv);
    cut_mapping_destroy(map);
}

static void test_subjects_follow_the_strategy(void **state)
{
    (void)state;
    char path[1024], buf[256];
    struct cut_cfg_errors errs = {0};
    struct cut_mapping *map = NULL;
    const char *topics[8];
    snprintf(path, sizeof(path), "%s/priority_lanes/mapping.yaml", MAPPING_DATA_DIR);
    assert_int_equal(cut_mapping_load(path, &map, &errs), CUT_OK);
    assert_string_equal(cut_mapping_subject(map, "orders", buf, sizeof(buf)), "orders-value");
    size_t n = cut_mapping_topics(map, "flow.topic", topics, 8);
    assert_int_equal(n, 3);
    assert_string_equal(topics[0], "orders");
    assert_string_equal(topics[1], "orders.rush");
    cut_mapping_destroy(map);
}

int main(void)
{
    static char dirs[64][512];
    struct CMUnitTest tests[64 + 16];
    static char test_names[64][128];
    size_t n = 0;
    DIR *d = opendir(MAPPING_DATA_DIR);
    char *names[64];
    size_t n_names = 0;

    if (d == NULL) {
        fprintf(stderr, "cannot open %s\n", MAPPING_DATA_DIR);
        return 1;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL && n_names < 64;) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s/mapping.yaml", MAPPING_DATA_DIR, e->d_name);
        if (e->d_name[0] != '.' && strcmp(e->d_name, "bad") != 0 &&
            strcmp(e->d_name, "hostile") != 0 && exists(path)) {
            names[n_names++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n_names, sizeof(names[0]), by_name);
    for (size_t i = 0; i < n_names; i++) {
        snprintf(dirs[n], sizeof(dirs[n]), "%s/%s", MAPPING_DATA_DIR, names[i]);
        snprintf(test_names[n], sizeof(test_names[n]), "golden_%s", names[i]);
        tests[n] = (struct CMUnitTest){.name = test_names[n], .test_func = test_golden,
                                       .initial_state = dirs[n]};
        n++;
        free(names[i]);
    }
    const struct CMUnitTest units[] = {
        cmocka_unit_test(test_timestamps_parse_with_zones_and_fractions),
        cmocka_unit_test(test_timestamps_format_before_and_after_the_epoch),
        cmocka_unit_test(test_decimals_are_exact_or_refused),
        cmocka_unit_test(test_wire_header_round_trips_and_refuses_bad_magic),
        cmocka_unit_test(test_avro_checker_refuses_lengths_beyond_the_data),
        cmocka_unit_test(test_schema_defaults_are_encoded_as_the_spec_reads_them),
        cmocka_unit_test(test_schema_refuses_recursion_and_keeps_logical_types),
        cmocka_unit_test(test_message_builder_sets_headers_and_typed_properties),
        cmocka_unit_test(test_dead_letter_keeps_the_body_and_says_why_where_and_when),
        cmocka_unit_test(test_non_text_body_is_dead_lettered),
        cmocka_unit_test(test_subjects_follow_the_strategy),
    };
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        tests[n++] = units[i];
    }
    return _cmocka_run_group_tests("mapping", tests, n, NULL, NULL);
}
