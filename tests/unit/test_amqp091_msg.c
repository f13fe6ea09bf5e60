/*
 * The AMQP 0-9-1 envelope (connectors/amqp091/amqp091_msg.c): how a delivery's
 * properties and headers become a struct cut_msg, from hand-built deliveries,
 * without a broker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "amqp091.h"

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

static const struct cut_prop *find_prop(const struct cut_msg *msg, const char *name)
{
    for (size_t i = 0; i < msg->n_props; i++) {
        if (strcmp(msg->props[i].name, name) == 0) {
            return &msg->props[i];
        }
    }
    return NULL;
}

static void test_properties_map_to_the_envelope(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_basic_properties_t p = {0};

    p._flags = AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG |
               AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_PRIORITY_FLAG |
               AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
               AMQP_BASIC_EXPIRATION_FLAG;
    p.message_id = bytes("id-1");
    p.correlation_id = bytes("corr-1");
    p.content_type = bytes("application/xml");
    p.type = bytes("OrderCreated");
    p.priority = 4;
    p.delivery_mode = 2;
    p.timestamp = 1700000000; /* seconds in 0-9-1 */
    p.expiration = bytes("60000");
    struct cut_amqp091_delivery d = delivery(&p, "<order/>", "orders");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 42, WALL_MS, &msg), CUT_OK);
    assert_string_equal(msg.message_id, "id-1");
    assert_string_equal(msg.correlation_id, "corr-1");
    assert_string_equal(msg.content_type, "application/xml");
    assert_string_equal(msg.type, "OrderCreated");
    assert_int_equal(msg.priority, 4);
    assert_true(msg.durable);
    assert_int_equal(msg.timestamp_ms, INT64_C(1700000000000));
    assert_int_equal(msg.expiry_ms, WALL_MS + 60000);
    assert_int_equal(msg.delivery_count, 0);
    assert_int_equal(msg.body_len, 8);
    assert_memory_equal(msg.body, "<order/>", 8);
    assert_int_equal(msg.token, 42);
    assert_int_equal(msg.n_props, 0);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_absent_properties_are_null_or_defaults(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_basic_properties_t p = {0};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_non_null(msg.message_id);
    assert_null(msg.correlation_id);
    assert_null(msg.content_type);
    assert_null(msg.type);
    assert_int_equal(msg.priority, -1);
    assert_false(msg.durable);
    assert_int_equal(msg.timestamp_ms, 0);
    assert_int_equal(msg.expiry_ms, 0);
    assert_null(msg.props);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_priority_is_clamped_to_nine(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_basic_properties_t p = {._flags = AMQP_BASIC_PRIORITY_FLAG, .priority = 200};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_int_equal(msg.priority, 9);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_malformed_expiration_is_ignored(void **state)
{
    (void)state;
    const char *bad[] = {"", "abc", "-5", "12x", "1.5", "99999999999999999999"};
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        amqp_basic_properties_t p = {._flags = AMQP_BASIC_EXPIRATION_FLAG,
                                     .expiration = bytes(bad[i])};
        struct cut_amqp091_delivery d = delivery(&p, "x", "rk");
        assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
        assert_int_equal(msg.expiry_ms, 0);
    }
    amqp_basic_properties_t p = {._flags = AMQP_BASIC_EXPIRATION_FLAG, .expiration = bytes("0")};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");
    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_int_equal(msg.expiry_ms, WALL_MS);
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

    /* An empty message_id is no id. */
    amqp_basic_properties_t empty = {._flags = AMQP_BASIC_MESSAGE_ID_FLAG, .message_id = bytes("")};
    d = delivery(&empty, "hello", "orders");
    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    assert_memory_equal(msg.message_id, "fnv1a64:", 8);
    cut_amqp091_msgbuf_fini(&buf);
}

static void test_headers_become_typed_properties(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_table_entry_t inner = {.key = bytes("x"),
                                .value = {.kind = AMQP_FIELD_KIND_I32, .value = {.i32 = 1}}};
    amqp_field_value_t items[1] = {{.kind = AMQP_FIELD_KIND_I32, .value = {.i32 = 1}}};
    amqp_table_entry_t h[] = {
        {.key = bytes("b"), .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value = {.boolean = 1}}},
        {.key = bytes("u8"), .value = {.kind = AMQP_FIELD_KIND_U8, .value = {.u8 = 250}}},
        {.key = bytes("i16"), .value = {.kind = AMQP_FIELD_KIND_I16, .value = {.i16 = -300}}},
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
    assert_int_equal(msg.n_props, 13); /* the table and the array are skipped */
    assert_null(find_prop(&msg, "table"));
    assert_null(find_prop(&msg, "array"));
    prop = find_prop(&msg, "b");
    assert_int_equal(prop->type, CUT_PROP_BOOL);
    assert_true(prop->v.b);
    assert_int_equal(find_prop(&msg, "u8")->v.i, 250);
    assert_int_equal(find_prop(&msg, "i16")->v.i, -300);
    assert_int_equal(find_prop(&msg, "u32")->v.i, 4000000000);
    assert_int_equal(find_prop(&msg, "i64")->v.i, INT64_MIN);
    assert_int_equal(find_prop(&msg, "u64")->type, CUT_PROP_INT);
    assert_int_equal(find_prop(&msg, "u64")->v.i, 12);
    prop = find_prop(&msg, "big");
    assert_int_equal(prop->type, CUT_PROP_STRING);
    assert_string_equal(prop->v.s.ptr, "18446744073709551615");
    assert_true(find_prop(&msg, "f")->type == CUT_PROP_DOUBLE && find_prop(&msg, "f")->v.d == 0.25);
    assert_true(find_prop(&msg, "d")->v.d == -1.5);
    assert_true(find_prop(&msg, "dec")->v.d > 123.44 && find_prop(&msg, "dec")->v.d < 123.46);
    prop = find_prop(&msg, "s");
    assert_int_equal(prop->type, CUT_PROP_STRING);
    assert_string_equal(prop->v.s.ptr, "abc");
    assert_int_equal(prop->v.s.len, 3);
    prop = find_prop(&msg, "raw");
    assert_int_equal(prop->type, CUT_PROP_BYTES);
    assert_int_equal(prop->v.s.len, 3);
    assert_memory_equal(prop->v.s.ptr, "a\0b", 3);
    assert_int_equal(find_prop(&msg, "nil")->type, CUT_PROP_NULL);
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

static void test_buffers_are_reused_in_the_steady_state(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_msg msg;
    amqp_table_entry_t h[] = {
        {.key = bytes("k"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = bytes("v")}}},
    };
    amqp_basic_properties_t p = {._flags = AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_HEADERS_FLAG,
                                 .message_id = bytes("a-fairly-long-message-id-0001"),
                                 .headers = {.num_entries = 1, .entries = h}};
    struct cut_amqp091_delivery d = delivery(&p, "x", "rk");

    assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
    char *scratch = buf.scratch;
    struct cut_prop *props = buf.props;
    for (int i = 0; i < 100; i++) {
        p.message_id = bytes(i % 2 ? "short" : "a-fairly-long-message-id-0002");
        assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
        assert_ptr_equal(buf.scratch, scratch);
        assert_ptr_equal(buf.props, props);
    }
    assert_int_equal(cut_amqp091_msgbuf_reserve_body(&buf, 1000), CUT_OK);
    char *body = buf.body;
    assert_int_equal(cut_amqp091_msgbuf_reserve_body(&buf, 500), CUT_OK);
    assert_ptr_equal(buf.body, body);
    cut_amqp091_msgbuf_fini(&buf);
    cut_amqp091_msgbuf_fini(&buf); /* twice is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_properties_map_to_the_envelope),
        cmocka_unit_test(test_absent_properties_are_null_or_defaults),
        cmocka_unit_test(test_priority_is_clamped_to_nine),
        cmocka_unit_test(test_malformed_expiration_is_ignored),
        cmocka_unit_test(test_fallback_id_is_stable_and_covers_body_key_and_timestamp),
        cmocka_unit_test(test_headers_become_typed_properties),
        cmocka_unit_test(test_delivery_count_prefers_the_x_delivery_count_header),
        cmocka_unit_test(test_buffers_are_reused_in_the_steady_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
