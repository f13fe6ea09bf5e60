/*
 * Unit tests of the pieces of the mapping converter: logical types, decimals,
 * the Confluent wire header, the Avro length checker (before avro-c sees
 * any bytes), schema parsing and defaults, the message builder of `cutover
 * convert`, dead-letter headers and properties, and the Schema Registry ids
 * (against an unreachable registry, and a stand-in one).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <libxml/parser.h>

#include "avro_json.h"
#include "avro_logical.h"
#include "avro_schema.h"
#include "avro_write.h"
#include "mapping.h"
#include "mapping_msg.h"
#include "registry.h"
#include "wire.h"
#include "xml_safe.h"

#ifndef MAPPING_DATA_DIR
#error "MAPPING_DATA_DIR must name tests/data/mappings"
#endif

#define NOW_MS INT64_C(1709290000000) /* 2024-03-01T10:46:40Z */

static int64_t pinned_now(void)
{
    return NOW_MS;
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
    const char *bad[] = {"2024-02-30T00:00:00Z",     "2024-03-01",
                         "2024-03-01T25:00:00Z",     "2024-03-01T10:15:00+1",
                         "2024-03-01T10:15:00Zjunk", ""};
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
    struct cut_avro_buf buf;
    char why[256];
    assert_int_equal(cut_avsc_parse(text, strlen(text), &avsc, &err), CUT_OK);
    cut_avro_buf_init(&buf);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(cut_avro_put_json(&buf, avsc->root->fields[i].type,
                                           avsc->root->fields[i].def, why, sizeof(why)),
                         0);
    }
    const uint8_t want[] = {0x00, 0x02, 0xff, 0x04, 0x02, 0x04, 0x00};
    assert_int_equal(buf.len, sizeof(want));
    assert_memory_equal(buf.data, want, sizeof(want));
    cut_avro_buf_reset(&buf);
    json_t *bad = json_string("x");
    assert_int_equal(cut_avro_put_json(&buf, avsc->root->fields[2].type, bad, why, sizeof(why)),
                     -1);
    json_decref(bad);
    cut_avro_buf_fini(&buf);
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

/* The schema id comes from the registry at create(); unreachable is CUT_ERETRY. */
static void test_unreachable_registry_makes_create_retry(void **state)
{
    (void)state;
    char path[1024];
    struct cut_cfg_errors errs = {0};
    struct cut_mapping *map = NULL;
    struct cut_converter *conv = NULL;
    struct cut_registry *reg = NULL;
    struct cut_err err = {0};
    struct cut_registry_opts opts = {
        .url = "http://127.0.0.1:1", .timeout_ms = 2000, .retry_budget_ms = -1};
    snprintf(path, sizeof(path), "%s/priority_lanes/mapping.yaml", MAPPING_DATA_DIR);
    assert_int_equal(cut_mapping_load(path, &map, &errs), CUT_OK);
    assert_int_equal(cut_registry_create_opts(&reg, &opts, &err), CUT_OK);
    struct cut_mapping_settings settings = {.map = map, .registry = reg};
    assert_int_equal(cut_mapping_converter.create(&conv, &settings, &err), CUT_ERETRY);
    assert_null(conv);
    cut_registry_destroy(reg);
    cut_mapping_destroy(map);
}

/*
 * A stand-in for the Schema Registry's POST /subjects/S/versions: one
 * thread, keep-alive, answers {"id": 40 + n} to the n-th request and records
 * the request lines. Enough to see which subjects the converter registers
 * and which id lands in each record's wire header.
 */
struct fake_registry {
    int listen_fd;
    int port;
    int requests;
    char lines[8][256];
    pthread_t thread;
};

static void *fake_registry_run(void *arg)
{
    struct fake_registry *fr = arg;
    int fd = accept(fr->listen_fd, NULL, NULL);
    char buf[16384];
    size_t have = 0;
    while (fd >= 0) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (n <= 0) {
            break;
        }
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end == NULL) {
            continue;
        }
        const char *cl = strcasestr(buf, "Content-Length:");
        size_t body = cl != NULL ? (size_t)atoi(cl + 15) : 0;
        size_t total = (size_t)(end + 4 - buf) + body;
        if (have < total) {
            continue;
        }
        if (fr->requests < 8) {
            snprintf(fr->lines[fr->requests], sizeof(fr->lines[0]), "%.*s", (int)strcspn(buf, "\r"),
                     buf);
        }
        char reply[256], json[32];
        int jn = snprintf(json, sizeof(json), "{\"id\":%d}", 40 + fr->requests++);
        int rn = snprintf(reply, sizeof(reply),
                          "HTTP/1.1 200 OK\r\nContent-Type: "
                          "application/vnd.schemaregistry.v1+json\r\nContent-Length: %d\r\n\r\n%s",
                          jn, json);
        if (write(fd, reply, (size_t)rn) != rn) {
            break;
        }
        memmove(buf, buf + total, have - total);
        have -= total;
    }
    if (fd >= 0) {
        close(fd);
    }
    return NULL;
}

static void fake_registry_start(struct fake_registry *fr)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    memset(fr, 0, sizeof(*fr));
    fr->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fr->listen_fd >= 0);
    assert_int_equal(bind(fr->listen_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fr->listen_fd, 4), 0);
    assert_int_equal(getsockname(fr->listen_fd, (struct sockaddr *)&addr, &len), 0);
    fr->port = ntohs(addr.sin_port);
    assert_int_equal(pthread_create(&fr->thread, NULL, fake_registry_run, fr), 0);
}

static void test_registered_ids_land_in_each_topics_wire_header(void **state)
{
    (void)state;
    char path[1024], url[64];
    struct cut_cfg_errors errs = {0};
    struct cut_mapping *map = NULL;
    struct cut_converter *conv = NULL;
    struct cut_registry *reg = NULL;
    struct cut_err err = {0};
    struct fake_registry fr;
    struct cut_mapping_msg m;
    struct cut_record rec;
    enum cut_verdict verdict;
    const uint8_t *payload;
    int32_t id;

    fake_registry_start(&fr);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", fr.port);
    snprintf(path, sizeof(path), "%s/priority_lanes/mapping.yaml", MAPPING_DATA_DIR);
    assert_int_equal(cut_mapping_load(path, &map, &errs), CUT_OK);
    assert_int_equal(cut_registry_create(&reg, url, &err), CUT_OK);
    struct cut_mapping_settings settings = {.map = map, .registry = reg, .schema_id = 999};
    if (cut_mapping_converter.create(&conv, &settings, &err) != CUT_OK) {
        fail_msg("create: %s", err.msg);
    }
    cut_registry_destroy(reg); /* closes the connection: the fake's thread ends */
    pthread_join(fr.thread, NULL);
    close(fr.listen_fd);
    assert_int_equal(fr.requests, 3);
    assert_string_equal(fr.lines[0], "POST /subjects/orders-value/versions HTTP/1.1");
    assert_string_equal(fr.lines[1], "POST /subjects/orders.rush-value/versions HTTP/1.1");
    assert_string_equal(fr.lines[2], "POST /subjects/orders.bulk-value/versions HTTP/1.1");

    const char *prios[] = {"5", "9", "0"};
    for (int i = 0; i < 3; i++) {
        cut_mapping_msg_init(&m);
        assert_int_equal(cut_mapping_msg_set(&m, "JMSPriority", prios[i], &err), CUT_OK);
        m.msg.body = "<order id=\"x\"/>";
        m.msg.body_len = strlen(m.msg.body);
        assert_int_equal(cut_mapping_converter.convert(conv, &m.msg, &rec, &verdict, &err), CUT_OK);
        assert_int_equal(verdict, CUT_VERDICT_SEND);
        assert_int_equal(cut_wire_header_get(rec.value, rec.value_len, &id, &payload, &err),
                         CUT_OK);
        assert_int_equal(id, 40 + i);
        cut_mapping_msg_fini(&m);
    }
    cut_mapping_converter.destroy(conv);
    cut_mapping_destroy(map);
}

/* Belt and braces: even a caller that reached the loader gets nothing. */
static void test_external_entity_loader_refuses_everything(void **state)
{
    (void)state;
    cut_xml_init();
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    assert_non_null(ctxt);
    xmlExternalEntityLoader loader = xmlGetExternalEntityLoader();
    assert_null(loader("file:///etc/passwd", NULL, ctxt));
    assert_null(loader("http://127.0.0.1:9/x.dtd", "-//X//EN", ctxt));
    xmlFreeParserCtxt(ctxt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_external_entity_loader_refuses_everything),
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
        cmocka_unit_test(test_unreachable_registry_makes_create_retry),
        cmocka_unit_test(test_registered_ids_land_in_each_topics_wire_header),
    };
    return cmocka_run_group_tests_name("mapping_parts", tests, NULL, NULL);
}
