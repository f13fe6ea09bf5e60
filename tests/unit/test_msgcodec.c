/* The envelope's byte encoding (repair ledger): a full round trip, and bad
 * blobs refused without a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cutover/msgcodec.h"

static struct cut_prop props[] = {
    {.name = "b", .type = CUT_PROP_BYTE, .v.i = -7},
    {.name = "l", .type = CUT_PROP_LONG, .v.i = INT64_MIN},
    {.name = "d", .type = CUT_PROP_DOUBLE, .v.d = -0.125},
    {.name = "f", .type = CUT_PROP_FLOAT, .v.d = 1.5},
    {.name = "ok", .type = CUT_PROP_BOOL, .v.b = true},
    {.name = "s", .type = CUT_PROP_STRING, .v.s = {"caf\xc3\xa9", 5}},
    {.name = "raw", .type = CUT_PROP_BYTES, .v.s = {"\0\1\2", 3}},
    {.name = "nil", .type = CUT_PROP_NULL},
};
static struct cut_prop anns[] = {
    {.name = "x-opt-jms-msg-type", .type = CUT_PROP_BYTE, .v.i = 5},
};

static void fill(struct cut_msg *msg)
{
    cut_msg_init(msg);
    msg->body = "<order id=\"1\"/>";
    msg->body_len = 15;
    msg->body_kind = CUT_BODY_TEXT;
    msg->message_id = "ID:1";
    msg->message_id_type = CUT_ID_STRING;
    msg->correlation_id = "c-9";
    msg->type = "order";
    msg->reply_to = "replies";
    msg->reply_to_type = CUT_DEST_TOPIC;
    msg->group_id = "g";
    msg->group_seq = 4;
    msg->priority = 9;
    msg->durable = true;
    msg->ttl_ms = 1000;
    msg->expiry_ms = 1700000001000;
    msg->timestamp_ms = 1700000000000;
    msg->delivery_count = 3;
    msg->props = props;
    msg->n_props = sizeof(props) / sizeof(props[0]);
    msg->annotations = anns;
    msg->n_annotations = 1;
}

static void test_every_field_survives_the_round_trip(void **state)
{
    (void)state;
    struct cut_msg in;
    struct cut_buf buf = {0};
    struct cut_msg_decoded dec;
    struct cut_err err;
    fill(&in);
    assert_int_equal(cut_msg_encode(&in, &buf), CUT_OK);
    assert_int_equal(cut_msg_decode(buf.data, buf.len, &dec, &err), CUT_OK);
    const struct cut_msg *out = &dec.msg;
    assert_int_equal(out->body_len, in.body_len);
    assert_memory_equal(out->body, in.body, in.body_len);
    assert_int_equal(out->body_kind, CUT_BODY_TEXT);
    assert_string_equal(out->message_id, "ID:1");
    assert_string_equal(out->correlation_id, "c-9");
    assert_string_equal(out->type, "order");
    assert_string_equal(out->reply_to, "replies");
    assert_int_equal(out->reply_to_type, CUT_DEST_TOPIC);
    assert_null(out->destination);
    assert_int_equal(out->destination_type, CUT_DEST_NONE);
    assert_string_equal(out->group_id, "g");
    assert_int_equal(out->group_seq, 4);
    assert_int_equal(out->priority, 9);
    assert_true(out->durable);
    assert_int_equal(out->ttl_ms, 1000);
    assert_int_equal(out->expiry_ms, 1700000001000);
    assert_int_equal(out->timestamp_ms, 1700000000000);
    assert_int_equal(out->delivery_count, 3);
    assert_int_equal(out->n_props, in.n_props);
    for (size_t i = 0; i < in.n_props; i++) {
        assert_string_equal(out->props[i].name, in.props[i].name);
        assert_int_equal(out->props[i].type, in.props[i].type);
    }
    assert_int_equal(out->props[0].v.i, -7);
    assert_true(out->props[1].v.i == INT64_MIN);
    assert_true(out->props[2].v.d == -0.125);
    assert_true(out->props[4].v.b);
    assert_int_equal(out->props[6].v.s.len, 3);
    assert_memory_equal(out->props[6].v.s.ptr, "\0\1\2", 3);
    assert_int_equal(out->n_annotations, 1);
    assert_int_equal(out->annotations[0].v.i, 5);
    cut_msg_decoded_fini(&dec);
    cut_buf_fini(&buf);
}

static void test_every_truncation_is_refused_cleanly(void **state)
{
    (void)state;
    struct cut_msg in;
    struct cut_buf buf = {0};
    struct cut_msg_decoded dec;
    struct cut_err err;
    fill(&in);
    cut_msg_encode(&in, &buf);
    /* Cutting the blob short anywhere must give an error, never a read past it. */
    for (size_t len = 0; len < buf.len; len++) {
        int rc = cut_msg_decode(buf.data, len, &dec, &err);
        if (rc == CUT_OK) {
            /* A cut exactly between fields can still hold a message id. */
            cut_msg_decoded_fini(&dec);
        } else {
            assert_int_equal(rc, CUT_EINVAL);
        }
    }
    cut_buf_fini(&buf);
}

static void test_garbage_is_not_an_envelope(void **state)
{
    (void)state;
    struct cut_msg_decoded dec;
    struct cut_err err;
    assert_int_equal(cut_msg_decode("hello world", 11, &dec, &err), CUT_EINVAL);
    const uint8_t huge[] = {'C', 'U', 'T', 'M', 1, 3, 0xff, 0xff, 0xff, 0xff, 'x'};
    assert_int_equal(cut_msg_decode(huge, sizeof(huge), &dec, &err), CUT_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_survives_the_round_trip),
        cmocka_unit_test(test_every_truncation_is_refused_cleanly),
        cmocka_unit_test(test_garbage_is_not_an_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
