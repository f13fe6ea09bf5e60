/*
 * The AMQP 0-9-1 envelope (connectors/amqp091/amqp091_msg.c and
 * amqp091_pub.c): how a delivery's properties and headers become a struct
 * cut_msg and back, from hand-built and generated messages, without a
 * broker, one rule at a time. The generated round trips are in
 * test_amqp091_roundtrip.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "amqp091.h"
#include "amqp091_map.h"

#define WALL_MS INT64_C(1800000000000)

static amqp_bytes_t bytes(const char *s)
{
    return (amqp_bytes_t){.len = strlen(s), .bytes = (void *)s};
}

static struct cut_amqp091_delivery delivery(const amqp_basic_properties_t *props, const char *body,
                                            const char *routing_key)
{
    return (struct cut_amqp091_delivery){
        .active = true,
        .have_header = true,
        .complete = true,
        .tag = 1,
        .routing_key = bytes(routing_key),
        .props = props,
        .body_size = strlen(body),
        .received = strlen(body),
        .body = body,
    };
}

static const struct cut_prop *find_in(const struct cut_prop *props, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(props[i].name, name) == 0) {
            return &props[i];
        }
    }
    return NULL;
}

static const struct cut_prop *find_prop(const struct cut_msg *msg, const char *name)
{
    return find_in(msg->props, msg->n_props, name);
}

static const struct cut_prop *find_ann(const struct cut_msg *msg, const char *name)
{
    return find_in(msg->annotations, msg->n_annotations, name);
}

static const amqp_field_value_t *find_header(const amqp_basic_properties_t *p, const char *name)
{
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG)) {
        return NULL;
    }
    for (int i = 0; i < p->headers.num_entries; i++) {
        if (cut_amqp091_bytes_eq(p->headers.entries[i].key, name)) {
            return &p->headers.entries[i].value;
        }
    }
    return NULL;
}

static void assert_bytes(amqp_bytes_t b, const char *s)
{
    if (!cut_amqp091_bytes_eq(b, s)) {
        fail_msg("expected \"%s\", got \"%.*s\"", s, (int)b.len, (const char *)b.bytes);
    }
}

/* Encode basic properties exactly as they would go on the wire. */
static size_t encode(amqp_basic_properties_t *p, char *out, size_t size)
{
    int n = amqp_encode_properties(AMQP_BASIC_CLASS, p, (amqp_bytes_t){.len = size, .bytes = out});
    assert_true(n >= 0);
    return (size_t)n;
}

static const struct cut_amqp091_pubopts exact_opts = {.impersonate = true, .frame_max = 131072};

/* ---- delivery -> envelope ------------------------------------------------- */

static void test_properties_map_to_the_envelope(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_basic_properties_t p = {0};

    p._flags = AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG |
               AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG |
               AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
               AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_USER_ID_FLAG |
               AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_APP_ID_FLAG;
    p.message_id = bytes("id-1");
    p.correlation_id = bytes("corr-1");
    p.content_type = bytes("application/xml");
    p.content_encoding = bytes("gzip");
    p.type = bytes("OrderCreated");
    p.priority = 4;
    p.delivery_mode = 2;
    p.timestamp = 1700000000; /* seconds in 0-9-1 */
    p.expiration = bytes("60000");
    p.user_id = bytes("alice");
    p.reply_to = bytes("replies");
    p.app_id = bytes("shop");
    struct cut_amqp091_delivery d = delivery(&p, "<order/>", "orders");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 42, WALL_MS, &msg), CUT_OK);
    assert_string_equal(msg.message_id, "id-1");
    assert_int_equal(msg.message_id_type, CUT_ID_STRING);
    assert_string_equal(msg.correlation_id, "corr-1");
    assert_int_equal(msg.correlation_id_type, CUT_ID_STRING);
    assert_string_equal(msg.content_type, "application/xml");
    assert_string_equal(msg.content_encoding, "gzip");
    assert_string_equal(msg.type, "OrderCreated");
    assert_string_equal(msg.user_id, "alice");
    assert_string_equal(msg.reply_to, "replies");
    assert_int_equal(msg.reply_to_type, CUT_DEST_QUEUE);
    assert_string_equal(msg.destination, "orders");
    assert_int_equal(msg.destination_type, CUT_DEST_NONE);
    assert_int_equal(msg.priority, 4);
    assert_true(msg.durable);
    assert_int_equal(msg.timestamp_ms, INT64_C(1700000000000));
    assert_int_equal(msg.ttl_ms, 60000);
    /* JMS: JMSExpiration = JMSTimestamp + time to live. */
    assert_int_equal(msg.expiry_ms, INT64_C(1700000000000) + 60000);
    assert_int_equal(msg.body_kind, CUT_BODY_BYTES);
    assert_null(msg.group_id);
    assert_int_equal(msg.group_seq, -1);
    assert_int_equal(msg.delivery_count, 0);
    assert_int_equal(msg.body_len, 8);
    assert_memory_equal(msg.body, "<order/>", 8);
    assert_int_equal(msg.token, 42);
    assert_int_equal(msg.n_props, 0);
    /* app_id has no envelope field: it travels as a residue annotation. */
    assert_int_equal(msg.n_annotations, 1);
    assert_string_equal(find_ann(&msg, "x-basic-app-id")->v.s.ptr, "shop");
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_absent_properties_are_null_or_defaults(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_basic_properties_t p;
    /* Regression: librabbitmq leaves absent properties uninitialised, and
     * sizing the scratch buffer from their lengths failed every delivery
     * with "out of memory". */
    memset(&p, 0xa5, sizeof(p));
    p._flags = 0;
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_non_null(msg.message_id);
    assert_int_equal(msg.message_id_type, CUT_ID_NONE); /* made up: not on the wire */
    assert_null(msg.correlation_id);
    assert_int_equal(msg.correlation_id_type, CUT_ID_NONE);
    assert_null(msg.content_type);
    assert_null(msg.content_encoding);
    assert_null(msg.type);
    assert_null(msg.user_id);
    assert_null(msg.reply_to);
    assert_int_equal(msg.reply_to_type, CUT_DEST_NONE);
    assert_int_equal(msg.priority, -1);
    assert_false(msg.durable);
    assert_int_equal(msg.timestamp_ms, 0);
    assert_int_equal(msg.ttl_ms, 0);
    assert_int_equal(msg.expiry_ms, 0);
    assert_null(msg.props);
    assert_null(msg.annotations);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_expiry_counts_from_arrival_without_a_timestamp(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_basic_properties_t p = {._flags = AMQP_BASIC_EXPIRATION_FLAG, .expiration = bytes("500")};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_int_equal(msg.ttl_ms, 500);
    assert_int_equal(msg.expiry_ms, WALL_MS + 500);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_priority_above_nine_is_clamped_and_kept_as_residue(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_basic_properties_t p = {._flags = AMQP_BASIC_PRIORITY_FLAG, .priority = 200};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_int_equal(msg.priority, 9);
    assert_int_equal(find_ann(&msg, "x-basic-priority")->v.i, 200);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_delivery_mode_one_comes_back_and_values_rabbitmq_refuses_never_do(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_amqp091_pubbuf pub = {0};
    struct cut_msg msg;
    struct cut_err err;
    amqp_basic_properties_t out;
    amqp_basic_properties_t p = {._flags = AMQP_BASIC_DELIVERY_MODE_FLAG, .delivery_mode = 1};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_false(msg.durable);
    assert_int_equal(find_ann(&msg, "x-basic-delivery-mode")->v.i, 1);
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_OK);
    assert_true(out._flags & AMQP_BASIC_DELIVERY_MODE_FLAG);
    assert_int_equal(out.delivery_mode, 1);

    /* 0 or 3 would make RabbitMQ close the channel (406): not written. */
    struct cut_prop bad = {.name = "x-basic-delivery-mode", .type = CUT_PROP_SHORT, .v.i = 3};
    cut_msg_init(&msg);
    msg.annotations = &bad;
    msg.n_annotations = 1;
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_OK);
    assert_false(out._flags & AMQP_BASIC_DELIVERY_MODE_FLAG);
    /* A stale residue that contradicts `durable` loses to it. */
    bad.v.i = 1;
    msg.durable = true;
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_OK);
    assert_int_equal(out.delivery_mode, 2);
    cut_amqp091_pubbuf_fini(&pub);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_odd_expirations_give_a_ttl_only_when_valid_and_are_kept_raw(void **state)
{
    (void)state;
    static const struct {
        const char *raw;
        int64_t ttl;
        bool residue;
    } cases[] = {
        {"60000", 60000, false}, {"0", 0, true},   {"007", 7, true},
        {"+5", 5, true},         {"", 0, true},    {"abc", 0, true},
        {"-5", 0, true},         {"1.5", 0, true}, {"99999999999999999999", 0, true},
    };
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        amqp_basic_properties_t p = {._flags = AMQP_BASIC_EXPIRATION_FLAG,
                                     .expiration = bytes(cases[i].raw)};
        struct cut_amqp091_delivery d = delivery(&p, "x", "rk");
        assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
        assert_int_equal(msg.ttl_ms, cases[i].ttl);
        assert_int_equal(msg.expiry_ms, cases[i].ttl > 0 ? WALL_MS + cases[i].ttl : 0);
        const struct cut_prop *raw = find_ann(&msg, "x-basic-expiration");
        assert_int_equal(raw != NULL, cases[i].residue);
        if (raw != NULL) {
            assert_string_equal(raw->v.s.ptr, cases[i].raw);
        }
    }
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_fallback_id_is_stable_and_covers_body_key_and_timestamp(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    char first[64];
    amqp_basic_properties_t p = {._flags = AMQP_BASIC_TIMESTAMP_FLAG, .timestamp = 1700000000};
    struct cut_amqp091_delivery d = delivery(&p, "hello", "orders");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_int_equal(strlen(msg.message_id), strlen("fnv1a64:0123456789abcdef-5"));
    assert_memory_equal(msg.message_id, "fnv1a64:", 8);
    assert_string_equal(msg.message_id + 24, "-5");
    strcpy(first, msg.message_id);

    /* A redelivery: same content, another tag, redelivered flag, later arrival. */
    d.tag = 7;
    d.redelivered = true;
    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 2, WALL_MS + 5000, &msg), CUT_OK);
    assert_string_equal(msg.message_id, first);

    d = delivery(&p, "hellO", "orders");
    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_string_not_equal(msg.message_id, first);
    d = delivery(&p, "hello", "orders2");
    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_string_not_equal(msg.message_id, first);
    p.timestamp++;
    d = delivery(&p, "hello", "orders");
    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_string_not_equal(msg.message_id, first);

    /* An empty message_id is no id; the empty property is kept as residue. */
    amqp_basic_properties_t empty = {._flags = AMQP_BASIC_MESSAGE_ID_FLAG, .message_id = bytes("")};
    d = delivery(&empty, "hello", "orders");
    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_memory_equal(msg.message_id, "fnv1a64:", 8);
    assert_int_equal(msg.message_id_type, CUT_ID_NONE);
    assert_string_equal(find_ann(&msg, "x-basic-message-id")->v.s.ptr, "");
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_header_kinds_map_to_exact_prop_types(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_table_entry_t inner = {.key = bytes("x"),
                                .value = {.kind = AMQP_FIELD_KIND_I32, .value = {.i32 = 1}}};
    amqp_field_value_t items[1] = {{.kind = AMQP_FIELD_KIND_I32, .value = {.i32 = 1}}};
    amqp_table_entry_t h[] = {
        {.key = bytes("b"), .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value = {.boolean = 1}}},
        {.key = bytes("i8"), .value = {.kind = AMQP_FIELD_KIND_I8, .value = {.i8 = -7}}},
        {.key = bytes("u8"), .value = {.kind = AMQP_FIELD_KIND_U8, .value = {.u8 = 250}}},
        {.key = bytes("i16"), .value = {.kind = AMQP_FIELD_KIND_I16, .value = {.i16 = -300}}},
        {.key = bytes("u16"), .value = {.kind = AMQP_FIELD_KIND_U16, .value = {.u16 = 65000}}},
        {.key = bytes("i32"), .value = {.kind = AMQP_FIELD_KIND_I32, .value = {.i32 = -70000}}},
        {.key = bytes("u32"),
         .value = {.kind = AMQP_FIELD_KIND_U32, .value = {.u32 = 4000000000u}}},
        {.key = bytes("i64"), .value = {.kind = AMQP_FIELD_KIND_I64, .value = {.i64 = INT64_MIN}}},
        {.key = bytes("u64"), .value = {.kind = AMQP_FIELD_KIND_U64, .value = {.u64 = 12}}},
        {.key = bytes("big"), .value = {.kind = AMQP_FIELD_KIND_U64, .value = {.u64 = UINT64_MAX}}},
        {.key = bytes("f"), .value = {.kind = AMQP_FIELD_KIND_F32, .value = {.f32 = 0.25f}}},
        {.key = bytes("d"), .value = {.kind = AMQP_FIELD_KIND_F64, .value = {.f64 = -1.5}}},
        {.key = bytes("dec"),
         .value = {.kind = AMQP_FIELD_KIND_DECIMAL,
                   .value = {.decimal = {.decimals = 2, .value = 12345}}}},
        {.key = bytes("s"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("abc")}}},
        {.key = bytes("raw"),
         .value = {.kind = AMQP_FIELD_KIND_BYTES,
                   .value = {.bytes = {.len = 3, .bytes = (void *)"a\0b"}}}},
        {.key = bytes("ts"),
         .value = {.kind = AMQP_FIELD_KIND_TIMESTAMP, .value = {.u64 = 1700000000}}},
        {.key = bytes("nil"), .value = {.kind = AMQP_FIELD_KIND_VOID}},
        {.key = bytes("table"),
         .value = {.kind = AMQP_FIELD_KIND_TABLE,
                   .value = {.table = {.num_entries = 1, .entries = &inner}}}},
        {.key = bytes("array"),
         .value = {.kind = AMQP_FIELD_KIND_ARRAY,
                   .value = {.array = {.num_entries = 1, .entries = items}}}},
    };
    amqp_basic_properties_t p = {
        ._flags = AMQP_BASIC_HEADERS_FLAG,
        .headers = {.num_entries = sizeof(h) / sizeof(h[0]), .entries = h}};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");
    const struct cut_prop *prop;

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_int_equal(msg.n_props, 17); /* the table and the array are no props */
    assert_null(find_prop(&msg, "table"));
    assert_null(find_prop(&msg, "array"));
    static const struct {
        const char *name;
        enum cut_prop_type type;
        int64_t i;
    } ints[] = {
        {"i8", CUT_PROP_BYTE, -7},
        {"u8", CUT_PROP_SHORT, 250},
        {"i16", CUT_PROP_SHORT, -300},
        {"u16", CUT_PROP_INT, 65000},
        {"i32", CUT_PROP_INT, -70000},
        {"u32", CUT_PROP_LONG, 4000000000},
        {"i64", CUT_PROP_LONG, INT64_MIN},
        {"u64", CUT_PROP_LONG, 12},
        {"ts", CUT_PROP_TIMESTAMP, INT64_C(1700000000000)},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        prop = find_prop(&msg, ints[i].name);
        assert_non_null(prop);
        assert_int_equal(prop->type, ints[i].type);
        assert_int_equal(prop->v.i, ints[i].i);
    }
    prop = find_prop(&msg, "b");
    assert_int_equal(prop->type, CUT_PROP_BOOL);
    assert_true(prop->v.b);
    prop = find_prop(&msg, "big");
    assert_int_equal(prop->type, CUT_PROP_STRING);
    assert_string_equal(prop->v.s.ptr, "18446744073709551615");
    prop = find_prop(&msg, "f");
    assert_true(prop->type == CUT_PROP_FLOAT && prop->v.d == 0.25);
    prop = find_prop(&msg, "d");
    assert_true(prop->type == CUT_PROP_DOUBLE && prop->v.d == -1.5);
    prop = find_prop(&msg, "dec");
    assert_int_equal(prop->type, CUT_PROP_STRING);
    assert_string_equal(prop->v.s.ptr, "123.45");
    prop = find_prop(&msg, "s");
    assert_int_equal(prop->type, CUT_PROP_STRING);
    assert_string_equal(prop->v.s.ptr, "abc");
    assert_int_equal(prop->v.s.len, 3);
    prop = find_prop(&msg, "raw");
    assert_int_equal(prop->type, CUT_PROP_BYTES);
    assert_int_equal(prop->v.s.len, 3);
    assert_memory_equal(prop->v.s.ptr, "a\0b", 3);
    assert_int_equal(find_prop(&msg, "nil")->type, CUT_PROP_NULL);
    /* Kinds the envelope widened, and the nested values, are in the layout. */
    prop = find_ann(&msg, "x-basic-headers");
    assert_non_null(prop);
    assert_int_equal(prop->type, CUT_PROP_BYTES);

    /* ... and come back as they were, in the same order. */
    struct cut_amqp091_pubbuf pub = {0};
    amqp_basic_properties_t out;
    struct cut_err err;
    char a[4096], b[4096];
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_OK);
    size_t na = encode(&p, a, sizeof(a));
    size_t nb = encode(&out, b, sizeof(b));
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    cut_amqp091_pubbuf_fini(&pub);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_delivery_count_prefers_the_x_delivery_count_header(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_table_entry_t h[] = {
        {.key = bytes("x-delivery-count"),
         .value = {.kind = AMQP_FIELD_KIND_I64, .value = {.i64 = 3}}},
    };
    amqp_basic_properties_t p = {._flags = AMQP_BASIC_HEADERS_FLAG,
                                 .headers = {.num_entries = 1, .entries = h}};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");

    d.redelivered = true;
    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_int_equal(msg.delivery_count, 3);

    h[0].value.value.i64 = -1;
    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_int_equal(msg.delivery_count, 0);

    amqp_basic_properties_t none = {0};
    d = delivery(&none, "x", "rk");
    d.redelivered = true;
    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_int_equal(msg.delivery_count, 1);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_reserved_headers_are_consumed_into_the_envelope(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    char long_corr[301];
    memset(long_corr, 'c', 300);
    long_corr[300] = '\0';
    amqp_table_entry_t h[] = {
        {.key = bytes("app"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("v")}}},
        {.key = bytes("x-message-id-type"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("binary")}}},
        {.key = bytes("x-correlation-id"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes(long_corr)}}},
        {.key = bytes("x-jms-reply-to-type"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("topic")}}},
        {.key = bytes("x-jms-destination"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("orders.eu")}}},
        {.key = bytes("x-jms-destination-type"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("temporary-queue")}}},
        {.key = bytes("x-jms-body-kind"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("text")}}},
        {.key = bytes("x-jms-timestamp-ms"),
         .value = {.kind = AMQP_FIELD_KIND_I64, .value = {.i64 = INT64_C(1700000000123)}}},
        {.key = bytes("x-jms-expiration"),
         .value = {.kind = AMQP_FIELD_KIND_I64, .value = {.i64 = INT64_C(1700000099999)}}},
        {.key = bytes("x-jms-user-id"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("bob")}}},
        {.key = bytes("JMSXGroupID"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("g-1")}}},
        {.key = bytes("JMSXGroupSeq"), .value = {.kind = AMQP_FIELD_KIND_I32, .value = {.i32 = 7}}},
    };
    amqp_basic_properties_t p = {
        ._flags = AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG |
                  AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_EXPIRATION_FLAG,
        .message_id = bytes("3q2+7w=="), /* base64 of de ad be ef */
        .reply_to = bytes("prices"),
        .timestamp = 1700000000,
        .expiration = bytes("1000"),
        .headers = {.num_entries = sizeof(h) / sizeof(h[0]), .entries = h}};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_string_equal(msg.message_id, "deadbeef");
    assert_int_equal(msg.message_id_type, CUT_ID_BINARY);
    assert_string_equal(msg.correlation_id, long_corr);
    assert_int_equal(msg.correlation_id_type, CUT_ID_STRING);
    assert_string_equal(msg.reply_to, "prices");
    assert_int_equal(msg.reply_to_type, CUT_DEST_TOPIC);
    assert_string_equal(msg.destination, "orders.eu");
    assert_int_equal(msg.destination_type, CUT_DEST_TEMP_QUEUE);
    assert_int_equal(msg.body_kind, CUT_BODY_TEXT);
    assert_int_equal(msg.timestamp_ms, INT64_C(1700000000123));
    assert_int_equal(msg.ttl_ms, 1000);
    assert_int_equal(msg.expiry_ms, INT64_C(1700000099999));
    assert_string_equal(msg.user_id, "bob");
    assert_string_equal(msg.group_id, "g-1");
    assert_int_equal(msg.group_seq, 7);
    /* Consumed, not left as props. */
    assert_int_equal(msg.n_props, 1);
    assert_string_equal(msg.props[0].name, "app");
    assert_null(find_ann(&msg, "x-basic-headers")); /* canonical order already */

    /* Back to 0-9-1: the same bytes (x-jms-user-id stays a header for a
     * sink that logs in as someone else). */
    struct cut_amqp091_pubbuf pub = {0};
    struct cut_amqp091_pubopts opts = {.login_user = "cutover", .frame_max = 131072};
    amqp_basic_properties_t out;
    struct cut_err err;
    char a[4096], b[4096];
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &opts, &out, &err), CUT_OK);
    size_t na = encode(&p, a, sizeof(a));
    size_t nb = encode(&out, b, sizeof(b));
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    cut_amqp091_pubbuf_fini(&pub);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_lookalike_reserved_headers_stay_props(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_table_entry_t h[] = {
        /* a type the id text does not match */
        {.key = bytes("x-message-id-type"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("uuid")}}},
        /* the sink writes "queue" as no header at all */
        {.key = bytes("x-jms-reply-to-type"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("queue")}}},
        /* a destination without its type */
        {.key = bytes("x-jms-destination"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("d")}}},
        /* a whole second: the sink would not write it */
        {.key = bytes("x-jms-timestamp-ms"),
         .value = {.kind = AMQP_FIELD_KIND_I64, .value = {.i64 = INT64_C(1700000000000)}}},
        /* timestamp + TTL: derived, the sink would not write it */
        {.key = bytes("x-jms-expiration"),
         .value = {.kind = AMQP_FIELD_KIND_I64, .value = {.i64 = INT64_C(1700000001000)}}},
        /* the wrong kinds */
        {.key = bytes("JMSXGroupID"), .value = {.kind = AMQP_FIELD_KIND_I32, .value = {.i32 = 5}}},
        {.key = bytes("JMSXGroupSeq"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("5")}}},
        {.key = bytes("x-jms-body-kind"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("bytes")}}},
        /* short enough for the property, so not from a sink */
        {.key = bytes("x-message-id"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("short")}}},
    };
    amqp_basic_properties_t p = {
        ._flags = AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG |
                  AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_EXPIRATION_FLAG,
        .message_id = bytes("NOT-A-UUID"),
        .reply_to = bytes("r"),
        .timestamp = 1700000000,
        .expiration = bytes("1000"),
        .headers = {.num_entries = sizeof(h) / sizeof(h[0]), .entries = h}};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_int_equal(msg.n_props, sizeof(h) / sizeof(h[0]));
    assert_string_equal(msg.message_id, "NOT-A-UUID");
    assert_int_equal(msg.message_id_type, CUT_ID_STRING);
    assert_int_equal(msg.reply_to_type, CUT_DEST_QUEUE);
    assert_string_equal(msg.destination, "rk");
    assert_int_equal(msg.timestamp_ms, INT64_C(1700000000000));
    assert_int_equal(msg.expiry_ms, INT64_C(1700000001000));
    assert_null(msg.group_id);
    assert_int_equal(msg.group_seq, -1);
    assert_int_equal(msg.body_kind, CUT_BODY_BYTES);

    struct cut_amqp091_pubbuf pub = {0};
    amqp_basic_properties_t out;
    struct cut_err err;
    char a[4096], b[4096];
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_OK);
    size_t na = encode(&p, a, sizeof(a));
    size_t nb = encode(&out, b, sizeof(b));
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    cut_amqp091_pubbuf_fini(&pub);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_x_opt_headers_become_annotations_and_come_back(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_table_entry_t h[] = {
        {.key = bytes("a"), .value = {.kind = AMQP_FIELD_KIND_I32, .value = {.i32 = 1}}},
        {.key = bytes("x-opt-partition-key"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("k1")}}},
        {.key = bytes("x-opt-jms-dest"), /* mirrors an envelope field: stays a prop */
         .value = {.kind = AMQP_FIELD_KIND_I8, .value = {.i8 = 0}}},
    };
    amqp_basic_properties_t p = {._flags = AMQP_BASIC_HEADERS_FLAG,
                                 .headers = {.num_entries = 3, .entries = h}};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_int_equal(msg.n_props, 2);
    assert_non_null(find_prop(&msg, "x-opt-jms-dest"));
    assert_string_equal(find_ann(&msg, "x-opt-partition-key")->v.s.ptr, "k1");
    /* Props come back before annotations: the order differs, so a layout. */
    assert_non_null(find_ann(&msg, "x-basic-headers"));

    struct cut_amqp091_pubbuf pub = {0};
    amqp_basic_properties_t out;
    struct cut_err err;
    char a[1024], b[1024];
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_OK);
    size_t na = encode(&p, a, sizeof(a));
    size_t nb = encode(&out, b, sizeof(b));
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    cut_amqp091_pubbuf_fini(&pub);
    cut_amqp091_msgbuf_fini(&buf);
}

/* ---- envelope -> properties ------------------------------------------------ */

static void test_jms_fields_go_to_properties_and_reserved_headers(void **state)
{
    (void)state;
    struct cut_amqp091_pubbuf pub = {0};
    struct cut_amqp091_pubopts opts = {.login_user = "cutover", .frame_max = 131072};
    amqp_basic_properties_t out;
    struct cut_err err;
    struct cut_prop props[] = {
        {.name = "s", .type = CUT_PROP_STRING, .v.s = {.ptr = "v", .len = 1}},
        {.name = "sym", .type = CUT_PROP_SYMBOL, .v.s = {.ptr = "y", .len = 1}},
        {.name = "b", .type = CUT_PROP_BYTE, .v.i = -1},
        {.name = "f", .type = CUT_PROP_FLOAT, .v.d = 1.5},
    };
    struct cut_prop ann[] = {
        {.name = "x-opt-jms-msg-type", .type = CUT_PROP_BYTE, .v.i = 5}, /* mirrored: dropped */
        {.name = "x-opt-custom", .type = CUT_PROP_LONG, .v.i = 9},
    };
    struct cut_msg msg;
    cut_msg_init(&msg);
    msg.body = "hello";
    msg.body_len = 5;
    msg.body_kind = CUT_BODY_TEXT;
    msg.message_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    msg.message_id_type = CUT_ID_UUID;
    msg.correlation_id = "42";
    msg.correlation_id_type = CUT_ID_ULONG;
    msg.user_id = "alice";
    msg.reply_to = "prices";
    msg.reply_to_type = CUT_DEST_TOPIC;
    msg.destination = "orders";
    msg.destination_type = CUT_DEST_QUEUE;
    msg.group_id = "g";
    msg.group_seq = INT64_C(5000000000);
    msg.priority = 7;
    msg.durable = true;
    msg.timestamp_ms = INT64_C(1700000000250);
    msg.ttl_ms = 30000;
    msg.expiry_ms = msg.timestamp_ms + 30000;
    msg.props = props;
    msg.n_props = 4;
    msg.annotations = ann;
    msg.n_annotations = 2;

    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &opts, &out, &err), CUT_OK);
    assert_bytes(out.message_id, "0f8fad5b-d9cb-469f-a165-70867728950e");
    assert_bytes(out.correlation_id, "42");
    assert_false(out._flags & AMQP_BASIC_USER_ID_FLAG); /* RabbitMQ would refuse it */
    assert_bytes(out.reply_to, "prices");
    assert_int_equal(out.priority, 7);
    assert_int_equal(out.delivery_mode, 2);
    assert_int_equal(out.timestamp, 1700000000);
    assert_bytes(out.expiration, "30000");
    assert_int_equal(out.headers.num_entries, 4 + 1 + 10);
    /* props first, in order, then annotations, then reserved headers */
    assert_bytes(out.headers.entries[0].key, "s");
    assert_int_equal(out.headers.entries[1].value.kind, AMQP_FIELD_KIND_UTF8);
    assert_int_equal(out.headers.entries[2].value.kind, AMQP_FIELD_KIND_I8);
    assert_int_equal(out.headers.entries[3].value.kind, AMQP_FIELD_KIND_F32);
    assert_bytes(out.headers.entries[4].key, "x-opt-custom");
    assert_bytes(find_header(&out, "x-message-id-type")->value.bytes, "uuid");
    assert_bytes(find_header(&out, "x-correlation-id-type")->value.bytes, "ulong");
    assert_bytes(find_header(&out, "x-jms-user-id")->value.bytes, "alice");
    assert_bytes(find_header(&out, "x-jms-reply-to-type")->value.bytes, "topic");
    assert_bytes(find_header(&out, "x-jms-destination")->value.bytes, "orders");
    assert_bytes(find_header(&out, "x-jms-destination-type")->value.bytes, "queue");
    assert_bytes(find_header(&out, "x-jms-body-kind")->value.bytes, "text");
    assert_int_equal(find_header(&out, "x-jms-timestamp-ms")->value.i64, msg.timestamp_ms);
    assert_null(find_header(&out, "x-jms-expiration")); /* timestamp + TTL */
    assert_bytes(find_header(&out, "JMSXGroupID")->value.bytes, "g");
    assert_int_equal(find_header(&out, "JMSXGroupSeq")->kind, AMQP_FIELD_KIND_I64);
    assert_null(find_header(&out, "x-opt-jms-msg-type"));

    /* The login user, or an impersonator, keeps the property. */
    opts.login_user = "alice";
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &opts, &out, &err), CUT_OK);
    assert_bytes(out.user_id, "alice");
    assert_null(find_header(&out, "x-jms-user-id"));
    opts.login_user = "cutover";
    opts.impersonate = true;
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &opts, &out, &err), CUT_OK);
    assert_bytes(out.user_id, "alice");

    /* An absolute expiry that is not timestamp + TTL is carried. */
    msg.expiry_ms = msg.timestamp_ms + 5;
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &opts, &out, &err), CUT_OK);
    assert_int_equal(find_header(&out, "x-jms-expiration")->value.i64, msg.timestamp_ms + 5);
    cut_amqp091_pubbuf_fini(&pub);
}

static void test_long_and_binary_ids_travel_as_rabbitmq_writes_them(void **state)
{
    (void)state;
    struct cut_amqp091_pubbuf pub = {0};
    amqp_basic_properties_t out;
    struct cut_err err;
    char long_id[400];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    struct cut_msg msg;
    cut_msg_init(&msg);
    msg.message_id = long_id; /* hex, 399 chars: not canonical (odd length) */
    msg.message_id_type = CUT_ID_BINARY;
    msg.correlation_id = "00ff10";
    msg.correlation_id_type = CUT_ID_BINARY;

    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_OK);
    assert_false(out._flags & AMQP_BASIC_MESSAGE_ID_FLAG);
    assert_int_equal(find_header(&out, "x-message-id")->value.bytes.len, 399);
    assert_null(find_header(&out, "x-message-id-type")); /* not valid hex: a string */
    assert_bytes(out.correlation_id, "AP8Q");
    assert_bytes(find_header(&out, "x-correlation-id-type")->value.bytes, "binary");
    cut_amqp091_pubbuf_fini(&pub);
}

static void test_what_0_9_1_cannot_carry_is_refused(void **state)
{
    (void)state;
    struct cut_amqp091_pubbuf pub = {0};
    amqp_basic_properties_t out;
    struct cut_err err;
    char big[300];
    memset(big, 't', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct cut_msg msg;

    cut_msg_init(&msg);
    msg.content_type = big;
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "content_type"));

    cut_msg_init(&msg);
    struct cut_prop prop = {.name = big, .type = CUT_PROP_INT, .v.i = 1};
    msg.props = &prop;
    msg.n_props = 1;
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "header name"));

    static char huge[200000];
    memset(huge, 'v', sizeof(huge));
    prop = (struct cut_prop){
        .name = "h", .type = CUT_PROP_STRING, .v.s = {.ptr = huge, .len = sizeof(huge)}};
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "frame"));
    cut_amqp091_pubbuf_fini(&pub);
}

/*
 * Regression: librabbitmq's amqp_encode_table() answers BAD_AMQP_DATA, not
 * TABLE_TOO_BIG, when the buffer ends exactly at a value's kind byte; that
 * was taken for a real error (the source dropped its connection with "out
 * of memory"; the sink would have refused the message).
 */
static void test_a_buffer_ending_at_a_kind_byte_is_grown_not_refused(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_amqp091_pubbuf pub = {0};
    struct cut_msg msg;
    struct cut_err err;
    amqp_basic_properties_t out;
    static char k1[201], k2[49], k3[214], v3[601];
    memset(k1, 'a', 200);
    memset(k2, 'b', 48);
    memset(k3, 'c', 213);
    memset(v3, 'v', 600);
    /* The layout (first growth: 256 bytes): 4 + (1 + 200 + 1 + 1) + 1 + 48
     * puts the second entry's kind byte at offset 256. */
    amqp_table_entry_t h[] = {
        {.key = bytes(k1), .value = {.kind = AMQP_FIELD_KIND_U8, .value = {.u8 = 5}}},
        {.key = bytes(k2), .value = {.kind = AMQP_FIELD_KIND_I32, .value = {.i32 = 1}}},
    };
    amqp_basic_properties_t p = {._flags = AMQP_BASIC_HEADERS_FLAG,
                                 .headers = {.num_entries = 2, .entries = h}};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");
    char a[4096], b[4096];

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_non_null(find_ann(&msg, "x-basic-headers"));
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_OK);
    size_t na = encode(&p, a, sizeof(a));
    size_t nb = encode(&out, b, sizeof(b));
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);

    /* The sink's size check (first growth: 1024 bytes): 4 + (1 + 213 + 1 +
     * 4 + 600) + 1 + 200 puts the second header's kind byte at 1024. */
    struct cut_prop props[] = {
        {.name = k3, .type = CUT_PROP_STRING, .v.s = {.ptr = v3, .len = 600}},
        {.name = k1, .type = CUT_PROP_INT, .v.i = 7},
    };
    cut_msg_init(&msg);
    msg.props = props;
    msg.n_props = 2;
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_OK);
    assert_int_equal(out.headers.num_entries, 2);
    cut_amqp091_pubbuf_fini(&pub);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_buffers_are_reused_in_the_steady_state(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_amqp091_pubbuf pub = {0};
    struct cut_msg msg;
    struct cut_err err;
    amqp_basic_properties_t out;
    amqp_table_entry_t h[] = {
        {.key = bytes("k"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("v")}}},
        {.key = bytes("u"), .value = {.kind = AMQP_FIELD_KIND_U8, .value = {.u8 = 1}}},
    };
    amqp_basic_properties_t p = {._flags = AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_HEADERS_FLAG,
                                 .message_id = bytes("a-fairly-long-message-id-0001"),
                                 .headers = {.num_entries = 2, .entries = h}};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_OK);
    struct cut_amqp091_msgbuf before = buf;
    struct cut_amqp091_pubbuf pub_before = pub;
    for (int i = 0; i < 100; i++) {
        p.message_id = bytes(i % 2 ? "short" : "a-fairly-long-message-id-0002");
        assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
        assert_int_equal(cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err), CUT_OK);
        assert_ptr_equal(buf.scratch, before.scratch);
        assert_ptr_equal(buf.props, before.props);
        assert_ptr_equal(buf.annotations, before.annotations);
        assert_ptr_equal(buf.layout, before.layout);
        assert_ptr_equal(pub.entries, pub_before.entries);
        assert_ptr_equal(pub.scratch, pub_before.scratch);
        assert_ptr_equal(pub.check, pub_before.check);
    }
    assert_int_equal(cut_amqp091_msgbuf_reserve_body(&buf, 1000), CUT_OK);
    char *body = buf.body;
    assert_int_equal(cut_amqp091_msgbuf_reserve_body(&buf, 500), CUT_OK);
    assert_ptr_equal(buf.body, body);
    cut_amqp091_msgbuf_fini(&buf);
    cut_amqp091_msgbuf_fini(&buf); /* twice is fine */
    cut_amqp091_pubbuf_fini(&pub);
    cut_amqp091_pubbuf_fini(&pub);
}

static void test_id_codecs_accept_only_canonical_text(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(cut_amqp091_b64_to_hex("3q2+7w==", 8, out), 8);
    assert_string_equal(out, "deadbeef");
    assert_int_equal(cut_amqp091_b64_to_hex("3q2+7x==", 8, out), 0); /* stray low bits */
    assert_int_equal(cut_amqp091_b64_to_hex("3q2+7w", 6, out), 0);   /* no padding */
    assert_int_equal(cut_amqp091_b64_to_hex("3q=+7w==", 8, out), 0);
    assert_int_equal(cut_amqp091_hex_to_b64("deadbeef", 8, out), 8);
    assert_string_equal(out, "3q2+7w==");
    assert_int_equal(cut_amqp091_hex_to_b64("DEADBEEF", 8, out), 0);
    assert_true(cut_amqp091_uuid_canonical("0f8fad5b-d9cb-469f-a165-70867728950e", 36));
    assert_false(cut_amqp091_uuid_canonical("0F8FAD5B-D9CB-469F-A165-70867728950E", 36));
    assert_true(cut_amqp091_ulong_canonical("18446744073709551615", 20));
    assert_false(cut_amqp091_ulong_canonical("18446744073709551616", 20));
    assert_false(cut_amqp091_ulong_canonical("042", 3));
    amqp_decimal_t dec;
    assert_true(cut_amqp091_decimal_parse("0.005", 5, &dec));
    assert_int_equal(dec.decimals, 3);
    assert_int_equal(dec.value, 5);
    assert_false(cut_amqp091_decimal_parse("0.50", 4, &dec) && dec.value != 50);
    assert_false(cut_amqp091_decimal_parse(".5", 2, &dec));
    assert_false(cut_amqp091_decimal_parse("5.", 2, &dec));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_properties_map_to_the_envelope),
        cmocka_unit_test(test_absent_properties_are_null_or_defaults),
        cmocka_unit_test(test_expiry_counts_from_arrival_without_a_timestamp),
        cmocka_unit_test(test_priority_above_nine_is_clamped_and_kept_as_residue),
        cmocka_unit_test(test_delivery_mode_one_comes_back_and_values_rabbitmq_refuses_never_do),
        cmocka_unit_test(test_odd_expirations_give_a_ttl_only_when_valid_and_are_kept_raw),
        cmocka_unit_test(test_fallback_id_is_stable_and_covers_body_key_and_timestamp),
        cmocka_unit_test(test_header_kinds_map_to_exact_prop_types),
        cmocka_unit_test(test_delivery_count_prefers_the_x_delivery_count_header),
        cmocka_unit_test(test_reserved_headers_are_consumed_into_the_envelope),
        cmocka_unit_test(test_lookalike_reserved_headers_stay_props),
        cmocka_unit_test(test_x_opt_headers_become_annotations_and_come_back),
        cmocka_unit_test(test_jms_fields_go_to_properties_and_reserved_headers),
        cmocka_unit_test(test_long_and_binary_ids_travel_as_rabbitmq_writes_them),
        cmocka_unit_test(test_what_0_9_1_cannot_carry_is_refused),
        cmocka_unit_test(test_a_buffer_ending_at_a_kind_byte_is_grown_not_refused),
        cmocka_unit_test(test_buffers_are_reused_in_the_steady_state),
        cmocka_unit_test(test_id_codecs_accept_only_canonical_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
