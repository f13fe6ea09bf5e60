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
 * The pieces (logical types, wire format, the Avro checker, dead letters,
 * the registry) have their own tests in test_mapping_parts.c.
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
    json_object_foreach(obj, name, value)
    {
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
    json_object_foreach(headers, name, value)
    {
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
    json_array_foreach(absent, i, value)
    {
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
            fail_msg("%s/%s: expected SEND, got verdict %d: %s", dir, name, (int)verdict, err.msg);
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
    struct cut_mapping_settings settings = {.map = map,
                                            .flow = "golden",
                                            .topic = "flow.topic",
                                            .schema_id = TEST_ID,
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

int main(void)
{
    static char dirs[64][512];
    struct CMUnitTest tests[64];
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
        tests[n] = (struct CMUnitTest){
            .name = test_names[n], .test_func = test_golden, .initial_state = dirs[n]};
        n++;
        free(names[i]);
    }
    return _cmocka_run_group_tests("mapping", tests, n, NULL, NULL);
}
