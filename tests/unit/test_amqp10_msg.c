/*
 * The AMQP 1.0 envelope mapping (connectors/amqp10/amqp10_msg.c): every
 * field both ways, typed ids, every property type, every body kind,
 * annotations, absent fields, and messages built with proton's own API as
 * another client would send them. No broker.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <proton/codec.h>
#include <proton/message.h>

#include "amqp10.h"

struct fixture {
    struct cut_amqp10_msgbuf enc, dec, dec2;
    char wire[65536];
    size_t wire_len;
};

static int setup(void **state)
{
    struct fixture *f = test_calloc(1, sizeof(*f));
    assert_int_equal(cut_amqp10_msgbuf_init(&f->enc), CUT_OK);
    assert_int_equal(cut_amqp10_msgbuf_init(&f->dec), CUT_OK);
    assert_int_equal(cut_amqp10_msgbuf_init(&f->dec2), CUT_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    cut_amqp10_msgbuf_fini(&f->enc);
    cut_amqp10_msgbuf_fini(&f->dec);
    cut_amqp10_msgbuf_fini(&f->dec2);
    test_free(f);
    return 0;
}

/* Encode @p in, keep a copy of the bytes (the source's receive buffer), decode into @p out. */
static void round_trip(struct fixture *f, const struct cut_msg *in, struct cut_msg *out)
{
    const char *bytes;
    size_t len;
    struct cut_err err;
    int rc = cut_amqp10_msg_encode(&f->enc, in, &bytes, &len, &err);
    if (rc != CUT_OK) {
        fail_msg("encode: %s", err.msg);
    }
    assert_true(len <= sizeof(f->wire));
    memcpy(f->wire, bytes, len);
    f->wire_len = len;
    rc = cut_amqp10_msg_decode(&f->dec, f->wire, len, 77, out, &err);
    if (rc != CUT_OK) {
        fail_msg("decode: %s", err.msg);
    }
    assert_int_equal(out->token, 77);
}

/* Decode what proton's API built, as another AMQP client would have sent it. */
static void decode_pn(struct fixture *f, pn_message_t *pn, struct cut_msg *out)
{
    struct cut_err err;
    size_t len = sizeof(f->wire);
    assert_int_equal(pn_message_encode(pn, f->wire, &len), 0);
    f->wire_len = len;
    int rc = cut_amqp10_msg_decode(&f->dec, f->wire, len, 1, out, &err);
    if (rc != CUT_OK) {
        fail_msg("decode: %s", err.msg);
    }
}

static void assert_str_eq_or_null(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        assert_ptr_equal(a, b);
    } else {
        assert_string_equal(a, b);
    }
}

static void assert_props_equal(const struct cut_prop *a, size_t na, const struct cut_prop *b,
                               size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i].name, b[i].name);
        assert_int_equal(a[i].type, b[i].type);
        switch (a[i].type) {
        case CUT_PROP_NULL:
            break;
        case CUT_PROP_BOOL:
            assert_int_equal(a[i].v.b, b[i].v.b);
            break;
        case CUT_PROP_FLOAT:
        case CUT_PROP_DOUBLE:
            assert_true(a[i].v.d == b[i].v.d);
            break;
        case CUT_PROP_STRING:
        case CUT_PROP_BYTES:
        case CUT_PROP_UUID:
        case CUT_PROP_SYMBOL:
            assert_int_equal(a[i].v.s.len, b[i].v.s.len);
            assert_memory_equal(a[i].v.s.ptr, b[i].v.s.ptr, a[i].v.s.len);
            break;
        default:
            assert_int_equal(a[i].v.i, b[i].v.i);
        }
    }
}

/* Every envelope field; annotations only when @p with_annotations. */
static void assert_msg_equal(const struct cut_msg *a, const struct cut_msg *b)
{
    assert_int_equal(a->body_kind, b->body_kind);
    assert_int_equal(a->body_len, b->body_len);
    assert_true((a->body == NULL) == (b->body == NULL));
    if (a->body_len > 0) {
        assert_memory_equal(a->body, b->body, a->body_len);
    }
    assert_str_eq_or_null(a->message_id, b->message_id);
    assert_int_equal(a->message_id_type, b->message_id_type);
    assert_str_eq_or_null(a->correlation_id, b->correlation_id);
    assert_int_equal(a->correlation_id_type, b->correlation_id_type);
    assert_str_eq_or_null(a->content_type, b->content_type);
    assert_str_eq_or_null(a->content_encoding, b->content_encoding);
    assert_str_eq_or_null(a->type, b->type);
    assert_str_eq_or_null(a->user_id, b->user_id);
    assert_str_eq_or_null(a->destination, b->destination);
    assert_int_equal(a->destination_type, b->destination_type);
    assert_str_eq_or_null(a->reply_to, b->reply_to);
    assert_int_equal(a->reply_to_type, b->reply_to_type);
    assert_str_eq_or_null(a->group_id, b->group_id);
    assert_int_equal(a->group_seq, b->group_seq);
    assert_int_equal(a->priority, b->priority);
    assert_int_equal(a->durable, b->durable);
    assert_int_equal(a->ttl_ms, b->ttl_ms);
    assert_int_equal(a->expiry_ms, b->expiry_ms);
    assert_int_equal(a->timestamp_ms, b->timestamp_ms);
    assert_int_equal(a->delivery_count, b->delivery_count);
    assert_props_equal(a->props, a->n_props, b->props, b->n_props);
}

static const char uuid_bytes[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

static const struct cut_prop all_props[] = {
    {.name = "p_null", .type = CUT_PROP_NULL},
    {.name = "p_bool", .type = CUT_PROP_BOOL, .v.b = true},
    {.name = "p_byte", .type = CUT_PROP_BYTE, .v.i = -7},
    {.name = "p_short", .type = CUT_PROP_SHORT, .v.i = -30000},
    {.name = "p_int", .type = CUT_PROP_INT, .v.i = 2000000000},
    {.name = "p_long", .type = CUT_PROP_LONG, .v.i = -9000000000000LL},
    {.name = "p_float", .type = CUT_PROP_FLOAT, .v.d = 1.5},
    {.name = "p_double", .type = CUT_PROP_DOUBLE, .v.d = -2.25e100},
    {.name = "p_string", .type = CUT_PROP_STRING, .v.s = {"h\xc3\xa9llo", 6}},
    {.name = "p_bytes", .type = CUT_PROP_BYTES, .v.s = {"\x00\x01\xff", 3}},
    {.name = "p_uuid", .type = CUT_PROP_UUID, .v.s = {uuid_bytes, 16}},
    {.name = "p_symbol", .type = CUT_PROP_SYMBOL, .v.s = {"sym", 3}},
    {.name = "p_ts", .type = CUT_PROP_TIMESTAMP, .v.i = 1700000000123LL},
};

static const struct cut_prop custom_annotations[] = {
    {.name = "x-opt-jms-msg-type", .type = CUT_PROP_BYTE, .v.i = 5},
    {.name = "x-opt-delivery-delay", .type = CUT_PROP_LONG, .v.i = 1500},
    {.name = "x-opt-jms-dest", .type = CUT_PROP_BYTE, .v.i = 0},
    {.name = "x-opt-trace", .type = CUT_PROP_STRING, .v.s = {"abc", 3}},
    {.name = "x-opt-jms-reply-to", .type = CUT_PROP_BYTE, .v.i = 1},
    {.name = "x-opt-when", .type = CUT_PROP_TIMESTAMP, .v.i = 1700000000999LL},
};

static void full_msg(struct cut_msg *m)
{
    cut_msg_init(m);
    m->body = "hello";
    m->body_len = 5;
    m->body_kind = CUT_BODY_TEXT;
    m->message_id = "ID:abc-1";
    m->message_id_type = CUT_ID_STRING;
    m->correlation_id = "12345678-9abc-def0-0123-456789abcdef";
    m->correlation_id_type = CUT_ID_UUID;
    m->content_encoding = "gzip";
    m->type = "OrderCreated";
    m->user_id = "alice";
    m->destination = "orders.in";
    m->destination_type = CUT_DEST_QUEUE;
    m->reply_to = "replies";
    m->reply_to_type = CUT_DEST_TOPIC;
    m->group_id = "g1";
    m->group_seq = 42;
    m->priority = 7;
    m->durable = true;
    m->ttl_ms = 60000;
    m->expiry_ms = 1700000060000LL;
    m->timestamp_ms = 1700000000000LL;
    m->delivery_count = 3;
    m->props = all_props;
    m->n_props = sizeof(all_props) / sizeof(all_props[0]);
    m->annotations = custom_annotations;
    m->n_annotations = sizeof(custom_annotations) / sizeof(custom_annotations[0]);
}

/* ---- tests ---------------------------------------------------------------- */

static void every_field_survives_a_round_trip(void **state)
{
    struct fixture *f = *state;
    struct cut_msg in, out;

    full_msg(&in);
    round_trip(f, &in, &out);
    assert_msg_equal(&in, &out);
    /* Annotations come back in order, the x-opt-jms-* ones rebuilt. */
    assert_props_equal(in.annotations, in.n_annotations, out.annotations, out.n_annotations);
}

static void round_trip_is_byte_exact(void **state)
{
    struct fixture *f = *state;
    struct cut_msg in, out;
    const char *again;
    size_t again_len;
    struct cut_err err;

    full_msg(&in);
    round_trip(f, &in, &out);
    assert_int_equal(cut_amqp10_msg_encode(&f->dec2, &out, &again, &again_len, &err), CUT_OK);
    assert_int_equal(again_len, f->wire_len);
    assert_memory_equal(again, f->wire, again_len);
}

static void typed_ids_keep_their_type(void **state)
{
    struct fixture *f = *state;
    static const struct {
        const char *text;
        enum cut_id_type type;
    } ids[] = {
        {"ID:some-string", CUT_ID_STRING},
        {"", CUT_ID_STRING},
        {"12345678-9abc-def0-0123-456789abcdef", CUT_ID_UUID},
        {"18446744073709551615", CUT_ID_ULONG},
        {"0", CUT_ID_ULONG},
        {"00ff10ab", CUT_ID_BINARY},
    };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        struct cut_msg in, out;
        cut_msg_init(&in);
        in.message_id = ids[i].text;
        in.message_id_type = ids[i].type;
        in.correlation_id = ids[i].text;
        in.correlation_id_type = ids[i].type;
        round_trip(f, &in, &out);
        assert_string_equal(out.message_id, ids[i].text);
        assert_int_equal(out.message_id_type, ids[i].type);
        assert_string_equal(out.correlation_id, ids[i].text);
        assert_int_equal(out.correlation_id_type, ids[i].type);

        /* And on the wire it is the AMQP type, not a string. */
        pn_message_t *pn = pn_message();
        assert_int_equal(pn_message_decode(pn, f->wire, f->wire_len), 0);
        pn_type_t want[] = {[CUT_ID_STRING] = PN_STRING,
                            [CUT_ID_UUID] = PN_UUID,
                            [CUT_ID_ULONG] = PN_ULONG,
                            [CUT_ID_BINARY] = PN_BINARY};
        assert_int_equal(pn_message_get_id(pn).type, want[ids[i].type]);
        assert_int_equal(pn_message_get_correlation_id(pn).type, want[ids[i].type]);
        pn_message_free(pn);
    }
}

static void ids_from_proton_have_canonical_text(void **state)
{
    struct fixture *f = *state;
    struct cut_msg out;
    pn_message_t *pn = pn_message();
    pn_atom_t id = {.type = PN_UUID};
    memcpy(id.u.as_uuid.bytes, uuid_bytes, 16);
    pn_message_set_id(pn, id);
    pn_atom_t cid = {.type = PN_BINARY, .u.as_bytes = {3, "\x01\xab\xff"}};
    pn_message_set_correlation_id(pn, cid);
    decode_pn(f, pn, &out);
    assert_string_equal(out.message_id, "12345678-9abc-def0-0123-456789abcdef");
    assert_int_equal(out.message_id_type, CUT_ID_UUID);
    assert_string_equal(out.correlation_id, "01abff");
    assert_int_equal(out.correlation_id_type, CUT_ID_BINARY);
    pn_message_free(pn);
}

static void bad_id_text_is_refused(void **state)
{
    struct fixture *f = *state;
    struct cut_msg in;
    const char *bytes;
    size_t len;
    struct cut_err err;
    static const struct {
        const char *text;
        enum cut_id_type type;
    } bad[] = {{"not-a-uuid", CUT_ID_UUID},
               {"-1", CUT_ID_ULONG},
               {"18446744073709551616", CUT_ID_ULONG},
               {"abc", CUT_ID_BINARY},
               {"zz", CUT_ID_BINARY}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cut_msg_init(&in);
        in.message_id = bad[i].text;
        in.message_id_type = bad[i].type;
        assert_int_equal(cut_amqp10_msg_encode(&f->enc, &in, &bytes, &len, &err), CUT_EINVAL);
        assert_non_null(strstr(err.msg, "message_id"));
    }
}

static void every_property_type_keeps_its_type(void **state)
{
    struct fixture *f = *state;
    struct cut_msg in, out;
    cut_msg_init(&in);
    in.message_id = "m";
    in.message_id_type = CUT_ID_STRING;
    in.props = all_props;
    in.n_props = sizeof(all_props) / sizeof(all_props[0]);
    round_trip(f, &in, &out);
    assert_props_equal(in.props, in.n_props, out.props, out.n_props);
    /* Strings come back NUL-terminated. */
    assert_string_equal(cut_msg_prop(&out, "p_string")->v.s.ptr, "h\xc3\xa9llo");
}

static void unsigned_and_char_properties_widen(void **state)
{
    struct fixture *f = *state;
    struct cut_msg out;
    pn_message_t *pn = pn_message();
    pn_data_t *p = pn_message_properties(pn);
    pn_data_put_map(p);
    pn_data_enter(p);
    pn_data_put_string(p, pn_bytes(2, "ub"));
    pn_data_put_ubyte(p, 200);
    pn_data_put_string(p, pn_bytes(2, "us"));
    pn_data_put_ushort(p, 60000);
    pn_data_put_string(p, pn_bytes(2, "ui"));
    pn_data_put_uint(p, 4000000000u);
    pn_data_put_string(p, pn_bytes(2, "ul"));
    pn_data_put_ulong(p, UINT64_MAX);
    pn_data_put_string(p, pn_bytes(2, "ch"));
    pn_data_put_char(p, 0x20ac); /* euro sign */
    pn_data_put_string(p, pn_bytes(4, "list"));
    pn_data_put_list(p);
    pn_data_exit(p);
    decode_pn(f, pn, &out);
    assert_int_equal(out.n_props, 5);
    assert_int_equal(cut_msg_prop(&out, "ub")->type, CUT_PROP_SHORT);
    assert_int_equal(cut_msg_prop(&out, "ub")->v.i, 200);
    assert_int_equal(cut_msg_prop(&out, "us")->type, CUT_PROP_INT);
    assert_int_equal(cut_msg_prop(&out, "ui")->type, CUT_PROP_LONG);
    assert_int_equal(cut_msg_prop(&out, "ui")->v.i, 4000000000LL);
    assert_int_equal(cut_msg_prop(&out, "ul")->type, CUT_PROP_STRING);
    assert_string_equal(cut_msg_prop(&out, "ul")->v.s.ptr, "18446744073709551615");
    assert_string_equal(cut_msg_prop(&out, "ch")->v.s.ptr, "\xe2\x82\xac");
    assert_null(cut_msg_prop(&out, "list"));
    assert_int_equal(f->dec.dropped, 1);
    pn_message_free(pn);
}

static void absent_fields_stay_absent(void **state)
{
    struct fixture *f = *state;
    struct cut_msg in, out;

    cut_msg_init(&in);
    in.message_id = "only-id";
    in.message_id_type = CUT_ID_STRING;
    in.body_kind = CUT_BODY_BYTES;
    in.body = NULL;
    round_trip(f, &in, &out);
    assert_msg_equal(&in, &out);
    assert_int_equal(out.n_annotations, 0);
    assert_int_equal(out.priority, -1);
    assert_int_equal(out.group_seq, -1);
    assert_int_equal(out.destination_type, CUT_DEST_NONE);
    assert_int_equal(out.reply_to_type, CUT_DEST_NONE);

    /* And on the wire: no annotations, no application properties, no body. */
    pn_message_t *pn = pn_message();
    assert_int_equal(pn_message_decode(pn, f->wire, f->wire_len), 0);
    assert_int_equal(pn_data_size(pn_message_annotations(pn)), 0);
    assert_int_equal(pn_data_size(pn_message_properties(pn)), 0);
    assert_int_equal(pn_data_size(pn_message_body(pn)), 0);
    assert_null(pn_message_get_subject(pn));
    assert_null(pn_message_get_address(pn));
    pn_message_free(pn);
}

static void priority_zero_is_not_absent(void **state)
{
    struct fixture *f = *state;
    struct cut_msg in, out;
    int values[] = {0, 1, 9, -1};
    for (size_t i = 0; i < 4; i++) {
        cut_msg_init(&in);
        in.message_id = "p";
        in.message_id_type = CUT_ID_STRING;
        in.priority = values[i];
        round_trip(f, &in, &out);
        assert_int_equal(out.priority, values[i]);
    }
    /* 4 is the AMQP default: proton writes it as absent. */
    in.priority = 4;
    round_trip(f, &in, &out);
    assert_int_equal(out.priority, -1);
}

static void group_sequence_without_group_id(void **state)
{
    struct fixture *f = *state;
    struct cut_msg in, out;
    cut_msg_init(&in);
    in.message_id = "g";
    in.message_id_type = CUT_ID_STRING;
    in.group_seq = 5;
    round_trip(f, &in, &out);
    assert_int_equal(out.group_seq, 5);
    assert_null(out.group_id);
}

static void missing_message_id_gets_a_stable_fallback(void **state)
{
    struct fixture *f = *state;
    struct cut_msg out;
    char first[64];
    pn_message_t *pn = pn_message();
    pn_message_set_address(pn, "q");
    pn_data_put_string(pn_message_body(pn), pn_bytes(4, "body"));
    decode_pn(f, pn, &out);
    assert_int_equal(out.message_id_type, CUT_ID_NONE);
    assert_true(strncmp(out.message_id, "fnv1a64:", 8) == 0);
    snprintf(first, sizeof(first), "%s", out.message_id);

    /* A redelivery (header changes) has the same id. */
    pn_message_set_delivery_count(pn, 3);
    pn_message_set_durable(pn, true);
    decode_pn(f, pn, &out);
    assert_string_equal(out.message_id, first);

    /* The sink does not put the fallback on the wire. */
    const char *bytes;
    size_t len;
    struct cut_err err;
    assert_int_equal(cut_amqp10_msg_encode(&f->enc, &out, &bytes, &len, &err), CUT_OK);
    pn_message_t *back = pn_message();
    assert_int_equal(pn_message_decode(back, bytes, len), 0);
    assert_int_equal(pn_message_get_id(back).type, PN_NULL);
    pn_message_free(back);
    pn_message_free(pn);
}

/* A body of each kind as the envelope holds it, round trip and wire form. */
static void check_body(struct fixture *f, enum cut_body_kind kind, const void *body, size_t len,
                       const char *ct, uint8_t want_section, bool want_annotation)
{
    struct cut_msg in, out;
    cut_msg_init(&in);
    in.message_id = "b";
    in.message_id_type = CUT_ID_STRING;
    in.body_kind = kind;
    in.body = body;
    in.body_len = len;
    in.content_type = ct;
    round_trip(f, &in, &out);
    assert_msg_equal(&in, &out);
    /* The section written, found from the end of the properties. */
    bool found = want_section == 0;
    for (size_t i = 0; i + 2 < f->wire_len && !found; i++) {
        found = memcmp(f->wire + i, "\x00\x53", 2) == 0 && (uint8_t)f->wire[i + 2] == want_section;
    }
    assert_true(found);
    bool has_type = false;
    for (size_t i = 0; i < out.n_annotations; i++) {
        has_type = has_type || strcmp(out.annotations[i].name, "x-opt-jms-msg-type") == 0;
    }
    assert_int_equal(has_type, want_annotation);
}

static void every_body_kind_round_trips(void **state)
{
    struct fixture *f = *state;
    static const uint8_t map_value[] = {0x00, 0x53, 0x77, 0xc1, 0x06, 0x02,
                                        0xa1, 0x01, 'k',  0x55, 0x07};
    static const uint8_t seq_value[] = {0x00, 0x53, 0x76, 0xc0, 0x04, 0x02, 0x41, 0x55, 0x03};
    static const uint8_t obj_value[] = {0x00, 0x53, 0x77, 0x71, 0x00, 0x00, 0x00, 0x2a};

    check_body(f, CUT_BODY_TEXT, "text", 4, NULL, 0x77, false);
    check_body(f, CUT_BODY_TEXT, NULL, 0, NULL, 0x77, false);
    check_body(f, CUT_BODY_TEXT, "t\xe9xt", 4, "text/plain; charset=iso-8859-1", 0x75, false);
    check_body(f, CUT_BODY_BYTES, "\x00\x01\x02", 3, NULL, 0x75, false);
    check_body(f, CUT_BODY_BYTES, "", 0, NULL, 0x75, false);
    check_body(f, CUT_BODY_BYTES, NULL, 0, NULL, 0, false);
    check_body(f, CUT_BODY_OBJECT, "\xac\xed\x00\x05", 4, "application/x-java-serialized-object",
               0x75, false);
    check_body(f, CUT_BODY_OBJECT, "\xac\xed\x00\x05", 4, NULL, 0x75, true);
    check_body(f, CUT_BODY_OBJECT, obj_value, sizeof(obj_value), NULL, 0x77, false);
    check_body(f, CUT_BODY_MAP, map_value, sizeof(map_value), NULL, 0x77, false);
    check_body(f, CUT_BODY_STREAM, seq_value, sizeof(seq_value), NULL, 0x76, false);
    check_body(f, CUT_BODY_MESSAGE, NULL, 0, NULL, 0, true);
}

static void large_bodies_use_32_bit_widths(void **state)
{
    struct fixture *f = *state;
    static char big[40000];
    memset(big, 'x', sizeof(big));
    check_body(f, CUT_BODY_TEXT, big, sizeof(big), NULL, 0x77, false);
    check_body(f, CUT_BODY_BYTES, big, sizeof(big), NULL, 0x75, false);
}

static void bare_map_body_is_sent_as_amqp_value(void **state)
{
    struct fixture *f = *state;
    static const uint8_t bare_map[] = {0xc1, 0x06, 0x02, 0xa1, 0x01, 'k', 0x55, 0x07};
    struct cut_msg in, out;
    cut_msg_init(&in);
    in.message_id = "m";
    in.message_id_type = CUT_ID_STRING;
    in.body_kind = CUT_BODY_MAP;
    in.body = bare_map;
    in.body_len = sizeof(bare_map);
    round_trip(f, &in, &out);
    assert_int_equal(out.body_kind, CUT_BODY_MAP);
    assert_int_equal(out.body_len, sizeof(bare_map) + 3);
    assert_memory_equal(out.body, "\x00\x53\x77", 3);
    assert_memory_equal((const char *)out.body + 3, bare_map, sizeof(bare_map));

    /* Bytes that are no map are refused. */
    const char *bytes;
    size_t len;
    struct cut_err err;
    in.body = "not a map";
    in.body_len = 9;
    assert_int_equal(cut_amqp10_msg_encode(&f->enc, &in, &bytes, &len, &err), CUT_EINVAL);
}

static void body_kinds_are_inferred_without_annotation(void **state)
{
    struct fixture *f = *state;
    struct cut_msg out;
    pn_message_t *pn = pn_message();

    pn_message_set_inferred(pn, true);
    pn_data_put_binary(pn_message_body(pn), pn_bytes(2, "hi"));
    pn_message_set_content_type(pn, "text/plain");
    decode_pn(f, pn, &out);
    assert_int_equal(out.body_kind, CUT_BODY_TEXT);
    assert_int_equal(out.body_len, 2);

    pn_message_set_content_type(pn, NULL);
    decode_pn(f, pn, &out);
    assert_int_equal(out.body_kind, CUT_BODY_BYTES);

    pn_message_set_content_type(pn, "application/x-java-serialized-object");
    decode_pn(f, pn, &out);
    assert_int_equal(out.body_kind, CUT_BODY_OBJECT);

    pn_message_set_content_type(pn, NULL);
    pn_message_set_inferred(pn, false);
    decode_pn(f, pn, &out);
    assert_int_equal(out.body_kind, CUT_BODY_BYTES); /* amqp-value binary */
    assert_memory_equal(out.body, "hi", 2);

    pn_data_clear(pn_message_body(pn));
    pn_data_put_map(pn_message_body(pn));
    decode_pn(f, pn, &out);
    assert_int_equal(out.body_kind, CUT_BODY_MAP);

    pn_data_clear(pn_message_body(pn));
    pn_data_put_list(pn_message_body(pn));
    pn_message_set_inferred(pn, true);
    decode_pn(f, pn, &out);
    assert_int_equal(out.body_kind, CUT_BODY_STREAM);
    assert_memory_equal(out.body, "\x00\x53\x76", 3);

    pn_data_clear(pn_message_body(pn));
    pn_data_put_int(pn_message_body(pn), 7);
    pn_message_set_inferred(pn, false);
    decode_pn(f, pn, &out);
    assert_int_equal(out.body_kind, CUT_BODY_OBJECT);

    pn_data_clear(pn_message_body(pn));
    decode_pn(f, pn, &out);
    assert_int_equal(out.body_kind, CUT_BODY_BYTES); /* no body, no content type (Qpid JMS) */
    assert_null(out.body);
    pn_message_free(pn);
}

static void annotation_overrides_inference(void **state)
{
    struct fixture *f = *state;
    struct cut_msg out;
    pn_message_t *pn = pn_message();
    pn_data_t *a = pn_message_annotations(pn);
    pn_data_put_map(a);
    pn_data_enter(a);
    pn_data_put_symbol(a, pn_bytes(18, "x-opt-jms-msg-type"));
    pn_data_put_byte(a, CUT_BODY_OBJECT);
    pn_data_put_symbol(a, pn_bytes(14, "x-opt-jms-dest"));
    pn_data_put_byte(a, CUT_DEST_TEMP_QUEUE);
    pn_data_exit(a);
    pn_message_set_address(pn, "tmp.q");
    pn_data_put_string(pn_message_body(pn), pn_bytes(1, "x"));
    decode_pn(f, pn, &out);
    assert_int_equal(out.body_kind, CUT_BODY_OBJECT);
    assert_int_equal(out.destination_type, CUT_DEST_TEMP_QUEUE);
    assert_int_equal(out.n_annotations, 2);
    pn_message_free(pn);
}

static void jms_annotations_follow_the_envelope(void **state)
{
    struct fixture *f = *state;
    struct cut_msg in, out;
    full_msg(&in);
    in.destination_type = CUT_DEST_TEMP_TOPIC; /* the annotation says 0 */
    in.reply_to = NULL;                        /* the annotation says 1 */
    round_trip(f, &in, &out);
    assert_int_equal(out.destination_type, CUT_DEST_TEMP_TOPIC);
    assert_int_equal(out.reply_to_type, CUT_DEST_NONE);
    assert_int_equal(out.n_annotations, in.n_annotations - 1);
    assert_string_equal(out.annotations[1].name, "x-opt-delivery-delay");
    assert_int_equal(out.annotations[2].v.i, CUT_DEST_TEMP_TOPIC);
}

static void header_and_properties_from_proton(void **state)
{
    struct fixture *f = *state;
    struct cut_msg out;
    pn_message_t *pn = pn_message();
    pn_atom_t id = {.type = PN_ULONG, .u.as_ulong = 99};
    pn_message_set_id(pn, id);
    pn_message_set_durable(pn, true);
    pn_message_set_priority(pn, 9);
    pn_message_set_ttl(pn, 1234);
    pn_message_set_delivery_count(pn, 2);
    pn_message_set_user_id(pn, pn_bytes(3, "bob"));
    pn_message_set_address(pn, "to.q");
    pn_message_set_subject(pn, "subj");
    pn_message_set_reply_to(pn, "rep.q");
    pn_message_set_content_type(pn, "application/octet-stream");
    pn_message_set_content_encoding(pn, "identity");
    pn_message_set_expiry_time(pn, 1700000001000LL);
    pn_message_set_creation_time(pn, 1700000000500LL);
    pn_message_set_group_id(pn, "grp");
    pn_message_set_group_sequence(pn, 8);
    decode_pn(f, pn, &out);
    assert_string_equal(out.message_id, "99");
    assert_int_equal(out.message_id_type, CUT_ID_ULONG);
    assert_true(out.durable);
    assert_int_equal(out.priority, 9);
    assert_int_equal(out.ttl_ms, 1234);
    assert_int_equal(out.delivery_count, 2);
    assert_string_equal(out.user_id, "bob");
    assert_string_equal(out.destination, "to.q");
    assert_string_equal(out.type, "subj");
    assert_string_equal(out.reply_to, "rep.q");
    assert_string_equal(out.content_type, "application/octet-stream");
    assert_string_equal(out.content_encoding, "identity");
    assert_int_equal(out.expiry_ms, 1700000001000LL);
    assert_int_equal(out.timestamp_ms, 1700000000500LL);
    assert_string_equal(out.group_id, "grp");
    assert_int_equal(out.group_seq, 8);
    assert_int_equal(out.body_kind, CUT_BODY_BYTES);
    pn_message_free(pn);
}

static void several_data_sections_are_concatenated(void **state)
{
    struct fixture *f = *state;
    struct cut_msg out;
    struct cut_err err;
    static const char wire[] = "\x00\x53\x73\x45" /* properties: empty list */
                               "\x00\x53\x75\xa0\x03"
                               "abc" /* data */
                               "\x00\x53\x75\xa0\x02"
                               "de"; /* data */
    assert_int_equal(cut_amqp10_msg_decode(&f->dec, wire, sizeof(wire) - 1, 1, &out, &err), CUT_OK);
    assert_int_equal(out.body_len, 5);
    assert_memory_equal(out.body, "abcde", 5);
    assert_int_equal(out.body_kind, CUT_BODY_BYTES);
}

static void malformed_messages_are_refused(void **state)
{
    struct fixture *f = *state;
    struct cut_msg out;
    struct cut_err err;
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"\x01\x02\x03", 3}, /* not a section */
        {"\x00\x53\x75\xa0\x09"
         "abc",
         8},                                     /* truncated data */
        {"\x00\x53\x75\x45\x00\x53\x73\x45", 8}, /* properties after the body */
        {"\x00\x53\x99\x45", 4},                 /* unknown section */
        {"\x00\x53\x73\xc0\x10\x01", 6},         /* list longer than the bytes */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cut_amqp10_msg_decode(&f->dec, bad[i].bytes, bad[i].len, 1, &out, &err),
                         CUT_EINVAL);
        assert_non_null(strstr(err.msg, "malformed"));
    }
}

static void value_sizes(void **state)
{
    (void)state;
    assert_int_equal(cut_amqp10_value_size((const uint8_t *)"\x40", 1), 1);
    assert_int_equal(cut_amqp10_value_size((const uint8_t *)"\x55\x07", 2), 2);
    assert_int_equal(cut_amqp10_value_size((const uint8_t *)"\xa1\x02xy", 4), 4);
    assert_int_equal(cut_amqp10_value_size((const uint8_t *)"\xa1\x03xy", 4), 0);
    assert_int_equal(cut_amqp10_value_size((const uint8_t *)"\xb0\x00\x00\x00\x01z", 6), 6);
    assert_int_equal(cut_amqp10_value_size((const uint8_t *)"\x00\x53\x70\x45", 4), 4);
    assert_int_equal(cut_amqp10_value_size((const uint8_t *)"\x98", 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_field_survives_a_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(round_trip_is_byte_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(typed_ids_keep_their_type, setup, teardown),
        cmocka_unit_test_setup_teardown(ids_from_proton_have_canonical_text, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_id_text_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(every_property_type_keeps_its_type, setup, teardown),
        cmocka_unit_test_setup_teardown(unsigned_and_char_properties_widen, setup, teardown),
        cmocka_unit_test_setup_teardown(absent_fields_stay_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(priority_zero_is_not_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(group_sequence_without_group_id, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_message_id_gets_a_stable_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(every_body_kind_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(large_bodies_use_32_bit_widths, setup, teardown),
        cmocka_unit_test_setup_teardown(bare_map_body_is_sent_as_amqp_value, setup, teardown),
        cmocka_unit_test_setup_teardown(body_kinds_are_inferred_without_annotation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(annotation_overrides_inference, setup, teardown),
        cmocka_unit_test_setup_teardown(jms_annotations_follow_the_envelope, setup, teardown),
        cmocka_unit_test_setup_teardown(header_and_properties_from_proton, setup, teardown),
        cmocka_unit_test_setup_teardown(several_data_sections_are_concatenated, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_messages_are_refused, setup, teardown),
        cmocka_unit_test(value_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
