/*
 * Generated round trips through the AMQP 0-9-1 envelope mapping
 * (connectors/amqp091/amqp091_msg.c and amqp091_pub.c), without a broker:
 *   - 20,000 generated deliveries (every basic property, every header kind,
 *     nested tables and arrays, headers that look reserved with right and
 *     wrong kinds, odd expirations, priorities above 9...) go to the envelope
 *     and back and must encode to the same bytes;
 *   - 20,000 generated JMS-style envelopes (typed ids, destinations, groups,
 *     body kinds, ms timestamps, expiries, typed props, annotations) go to
 *     0-9-1 and back and must keep every field.
 * The rules one by one are pinned in test_amqp091_msg.c.
 */
#include <math.h>
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

static const struct cut_amqp091_pubopts exact_opts = {.impersonate = true, .frame_max = 131072};

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

static const struct cut_prop *find_ann(const struct cut_msg *msg, const char *name)
{
    for (size_t i = 0; i < msg->n_annotations; i++) {
        if (strcmp(msg->annotations[i].name, name) == 0) {
            return &msg->annotations[i];
        }
    }
    return NULL;
}

/* Encode basic properties exactly as they would go on the wire. */
static size_t encode(amqp_basic_properties_t *p, char *out, size_t size)
{
    int n = amqp_encode_properties(AMQP_BASIC_CLASS, p, (amqp_bytes_t){.len = size, .bytes = out});
    assert_true(n >= 0);
    return (size_t)n;
}

static uint64_t rng = 0x9e3779b97f4a7c15;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * UINT64_C(0x2545f4914f6cdd1d);
}

static unsigned pick(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* An arena for generated strings and entries; reset per message. */
static char arena[1 << 20];
static size_t arena_used;

static void *arena_alloc(size_t n)
{
    n = (n + 7) & ~(size_t)7;
    assert_true(arena_used + n <= sizeof(arena));
    void *p = arena + arena_used;
    arena_used += n;
    return p;
}

static amqp_bytes_t gen_str(size_t max, bool allow_nul)
{
    static const char chars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/ ";
    size_t len = pick((unsigned)max + 1);
    char *s = arena_alloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        s[i] = allow_nul && pick(40) == 0 ? '\0' : chars[pick(sizeof(chars) - 1)];
    }
    s[len] = '\0';
    return (amqp_bytes_t){.len = len, .bytes = s};
}

static amqp_bytes_t lit(const char *s)
{
    return bytes(s);
}

static void gen_value(amqp_field_value_t *v, int depth)
{
    static const uint8_t kinds[] = {
        AMQP_FIELD_KIND_BOOLEAN, AMQP_FIELD_KIND_I8,    AMQP_FIELD_KIND_U8,
        AMQP_FIELD_KIND_I16,     AMQP_FIELD_KIND_U16,   AMQP_FIELD_KIND_I32,
        AMQP_FIELD_KIND_U32,     AMQP_FIELD_KIND_I64,   AMQP_FIELD_KIND_U64,
        AMQP_FIELD_KIND_F32,     AMQP_FIELD_KIND_F64,   AMQP_FIELD_KIND_DECIMAL,
        AMQP_FIELD_KIND_UTF8,    AMQP_FIELD_KIND_BYTES, AMQP_FIELD_KIND_TIMESTAMP,
        AMQP_FIELD_KIND_VOID,    AMQP_FIELD_KIND_TABLE, AMQP_FIELD_KIND_ARRAY,
    };
    size_t nk = sizeof(kinds) / sizeof(kinds[0]) - (depth > 1 ? 2 : 0);
    v->kind = kinds[pick((unsigned)nk)];
    uint64_t r = rnd();
    switch (v->kind) {
    case AMQP_FIELD_KIND_BOOLEAN:
        v->value.boolean = (int)(r & 1);
        break;
    case AMQP_FIELD_KIND_I8:
    case AMQP_FIELD_KIND_U8:
    case AMQP_FIELD_KIND_I16:
    case AMQP_FIELD_KIND_U16:
    case AMQP_FIELD_KIND_I32:
    case AMQP_FIELD_KIND_U32:
    case AMQP_FIELD_KIND_I64:
        v->value.u64 = 0;
        v->value.i64 = (int64_t)r;
        break;
    case AMQP_FIELD_KIND_U64:
    case AMQP_FIELD_KIND_TIMESTAMP:
        v->value.u64 = pick(3) == 0 ? r : r % UINT64_C(4000000000);
        break;
    case AMQP_FIELD_KIND_F32:
        v->value.f32 = pick(10) == 0 ? NAN : (float)((int64_t)r % 100000) / 7.0f;
        break;
    case AMQP_FIELD_KIND_F64:
        v->value.f64 = pick(10) == 0 ? -0.0 : (double)(int64_t)r / 3.0;
        break;
    case AMQP_FIELD_KIND_DECIMAL:
        v->value.decimal.decimals = (uint8_t)pick(pick(5) == 0 ? 30 : 5);
        v->value.decimal.value = (uint32_t)r;
        break;
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
        v->value.bytes = gen_str(20, true);
        break;
    case AMQP_FIELD_KIND_TABLE: {
        int n = (int)pick(3);
        amqp_table_entry_t *e = arena_alloc((size_t)n * sizeof(*e) + 1);
        for (int i = 0; i < n; i++) {
            e[i].key = gen_str(8, false);
            gen_value(&e[i].value, depth + 1);
        }
        v->value.table = (amqp_table_t){.num_entries = n, .entries = e};
        break;
    }
    case AMQP_FIELD_KIND_ARRAY: {
        int n = (int)pick(3);
        amqp_field_value_t *e = arena_alloc((size_t)n * sizeof(*e) + 1);
        for (int i = 0; i < n; i++) {
            gen_value(&e[i], depth + 1);
        }
        v->value.array = (amqp_array_t){.num_entries = n, .entries = e};
        break;
    }
    default:
        break;
    }
}

/* A header that may or may not be what a sink would have written. */
static void gen_header(amqp_table_entry_t *e, const amqp_basic_properties_t *p)
{
    static const char *const names[] = {
        "x-message-id",    "x-message-id-type",   "x-correlation-id",  "x-correlation-id-type",
        "x-jms-reply-to",  "x-jms-reply-to-type", "x-jms-destination", "x-jms-destination-type",
        "x-jms-body-kind", "x-jms-timestamp-ms",  "x-jms-expiration",  "x-jms-user-id",
        "JMSXGroupID",     "JMSXGroupSeq",        "x-opt-thing",       "x-opt-jms-dest",
        "x-basic-app-id",  "x-delivery-count",
    };
    static const char *const words[] = {"uuid",  "ulong",           "binary", "topic",
                                        "queue", "temporary-queue", "text",   "map",
                                        "bytes", "message"};
    unsigned k = pick(3);
    if (k == 0) {
        e->key = gen_str(12, false);
        gen_value(&e->value, 0);
        return;
    }
    e->key = lit(names[pick(sizeof(names) / sizeof(names[0]))]);
    if (cut_amqp091_bytes_eq(e->key, "x-jms-user-id") && !(p->_flags & AMQP_BASIC_USER_ID_FLAG)) {
        /* The documented exception: a sink that may write user_id writes
         * that header back as the property. */
        e->key = lit("x-jms-user-idx");
    }
    switch (pick(5)) {
    case 0:
        e->value.kind = AMQP_FIELD_KIND_UTF8;
        e->value.value.bytes = lit(words[pick(sizeof(words) / sizeof(words[0]))]);
        break;
    case 1: {
        /* often the ms of the timestamp property, to hit x-jms-timestamp-ms */
        uint64_t ts = (p->_flags & AMQP_BASIC_TIMESTAMP_FLAG) ? p->timestamp : 0;
        e->value.kind = AMQP_FIELD_KIND_I64;
        e->value.value.i64 = pick(2) ? (int64_t)ts * 1000 + pick(1000)
                                     : (int64_t)(rnd() % UINT64_C(4000000000000)) - 1000;
        break;
    }
    case 2:
        e->value.kind = AMQP_FIELD_KIND_I32;
        e->value.value.i32 = (int32_t)pick(5) - 1;
        break;
    case 3: {
        /* long text: a long id or reply-to */
        amqp_bytes_t s = gen_str(400, false);
        if (s.len < 256) {
            s.len = 256 + s.len % 100;
            char *t = arena_alloc(s.len + 1);
            memset(t, 'q', s.len);
            t[s.len] = '\0';
            s.bytes = t;
        }
        e->value.kind = AMQP_FIELD_KIND_UTF8;
        e->value.value.bytes = s;
        break;
    }
    default:
        gen_value(&e->value, 0);
        break;
    }
}

static const char *const ids[] = {
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    "0F8FAD5B-D9CB-469F-A165-70867728950E",
    "42",
    "042",
    "3q2+7w==",
    "3q2+7x==",
    "AP8Q",
    "plain-id",
    "ID:abc",
    "18446744073709551616",
};

static void gen_props(amqp_basic_properties_t *p)
{
    /* librabbitmq leaves the fields of absent properties uninitialised. */
    memset(p, 0xa5, sizeof(*p));
    p->_flags = 0;
    arena_used = 0;
    if (pick(4)) {
        p->_flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        p->message_id = pick(6) == 0 ? lit("") : lit(ids[pick(sizeof(ids) / sizeof(ids[0]))]);
    }
    if (pick(2)) {
        p->_flags |= AMQP_BASIC_CORRELATION_ID_FLAG;
        p->correlation_id = pick(6) == 0 ? lit("") : lit(ids[pick(sizeof(ids) / sizeof(ids[0]))]);
    }
    amqp_bytes_t *strs[] = {&p->content_type, &p->content_encoding, &p->type,      &p->user_id,
                            &p->reply_to,     &p->app_id,           &p->cluster_id};
    amqp_flags_t flags[] = {AMQP_BASIC_CONTENT_TYPE_FLAG, AMQP_BASIC_CONTENT_ENCODING_FLAG,
                            AMQP_BASIC_TYPE_FLAG,         AMQP_BASIC_USER_ID_FLAG,
                            AMQP_BASIC_REPLY_TO_FLAG,     AMQP_BASIC_APP_ID_FLAG,
                            AMQP_BASIC_CLUSTER_ID_FLAG};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (pick(2)) {
            p->_flags |= flags[i];
            *strs[i] = gen_str(30, false);
        }
    }
    if (pick(2)) {
        p->_flags |= AMQP_BASIC_PRIORITY_FLAG;
        p->priority = (uint8_t)(pick(4) == 0 ? pick(256) : pick(10));
    }
    if (pick(2)) {
        p->_flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
        p->delivery_mode = (uint8_t)(1 + pick(2)); /* RabbitMQ delivers nothing else */
    }
    if (pick(2)) {
        p->_flags |= AMQP_BASIC_TIMESTAMP_FLAG;
        p->timestamp = pick(10) == 0 ? 0 : 1600000000 + pick(100000000);
    }
    if (pick(2)) {
        static const char *const exps[] = {"60000", "1", "0", "007", "+5", "86400000", "25"};
        p->_flags |= AMQP_BASIC_EXPIRATION_FLAG;
        p->expiration = lit(exps[pick(sizeof(exps) / sizeof(exps[0]))]);
    }
    if (pick(4)) {
        int n = (int)pick(12);
        amqp_table_entry_t *e = arena_alloc((size_t)n * sizeof(*e) + 1);
        for (int i = 0; i < n; i++) {
            gen_header(&e[i], p);
        }
        p->_flags |= AMQP_BASIC_HEADERS_FLAG;
        p->headers = (amqp_table_t){.num_entries = n, .entries = e};
    }
}

static void test_generated_deliveries_come_back_byte_for_byte(void **state)
{
    (void)state;
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_amqp091_pubbuf pub = {0};
    static char a[1 << 16], b[1 << 16];
    unsigned with_layout = 0, with_reserved = 0;

    for (int n = 0; n < 20000; n++) {
        amqp_basic_properties_t p, out;
        struct cut_msg msg;
        struct cut_err err;
        gen_props(&p);
        struct cut_amqp091_delivery d = delivery(&p, n % 3 ? "body" : "", n % 2 ? "q.a" : "");
        assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &msg), CUT_OK);
        with_layout += find_ann(&msg, "x-basic-headers") != NULL;
        with_reserved += msg.group_id != NULL || msg.destination_type != CUT_DEST_NONE ||
                         msg.message_id_type > CUT_ID_STRING || msg.body_kind != CUT_BODY_BYTES;
        if (cut_amqp091_pub_props(&pub, &msg, &exact_opts, &out, &err) != CUT_OK) {
            fail_msg("message %d: %s", n, err.msg);
        }
        size_t na = encode(&p, a, sizeof(a));
        size_t nb = encode(&out, b, sizeof(b));
        if (na != nb || memcmp(a, b, na) != 0) {
            fail_msg("message %d (seed state %llx) differs after the round trip", n,
                     (unsigned long long)rng);
        }
    }
    /* The generator really exercised the interesting paths. */
    assert_true(with_layout > 1000);
    assert_true(with_reserved > 1000);
    cut_amqp091_pubbuf_fini(&pub);
    cut_amqp091_msgbuf_fini(&buf);
}

static bool prop_equal(const struct cut_prop *x, const struct cut_prop *y)
{
    if (strcmp(x->name, y->name) != 0 || x->type != y->type) {
        return false;
    }
    switch (x->type) {
    case CUT_PROP_NULL:
        return true;
    case CUT_PROP_BOOL:
        return x->v.b == y->v.b;
    case CUT_PROP_FLOAT:
    case CUT_PROP_DOUBLE:
        return memcmp(&x->v.d, &y->v.d, sizeof(double)) == 0;
    case CUT_PROP_STRING:
    case CUT_PROP_BYTES:
        return x->v.s.len == y->v.s.len && memcmp(x->v.s.ptr, y->v.s.ptr, x->v.s.len) == 0;
    default:
        return x->v.i == y->v.i;
    }
}

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void test_generated_jms_envelopes_survive_a_0_9_1_hop(void **state)
{
    (void)state;
    static const char *const uuids[] = {"0f8fad5b-d9cb-469f-a165-70867728950e",
                                        "00000000-0000-0000-0000-000000000000"};
    static const char *const hexes[] = {"deadbeef", "00", "0102030405060708090a0b0c"};
    static const char *const ulongs[] = {"0", "42", "18446744073709551615"};
    struct cut_amqp091_msgbuf buf = {0};
    struct cut_amqp091_pubbuf pub = {0};
    struct cut_amqp091_pubopts opts = {.login_user = "u", .frame_max = 131072};
    char long_text[600];
    memset(long_text, 'L', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';

    for (int n = 0; n < 20000; n++) {
        struct cut_msg in, back;
        struct cut_prop props[6], ann[2];
        amqp_basic_properties_t out;
        struct cut_err err;
        cut_msg_init(&in);
        in.body = "payload";
        in.body_len = 7;
        in.body_kind = (enum cut_body_kind)pick(6);
        enum cut_id_type t = (enum cut_id_type)(1 + pick(4));
        in.message_id_type = t;
        in.message_id = t == CUT_ID_UUID     ? uuids[pick(2)]
                        : t == CUT_ID_BINARY ? hexes[pick(3)]
                        : t == CUT_ID_ULONG  ? ulongs[pick(3)]
                        : pick(5) == 0       ? long_text
                                             : "ID:some-jms-id";
        if (pick(2)) {
            in.correlation_id = pick(2) ? hexes[pick(3)] : "corr";
            in.correlation_id_type = in.correlation_id[0] == 'c' ? CUT_ID_STRING : CUT_ID_BINARY;
        }
        in.content_type = pick(2) ? "text/plain" : NULL;
        in.content_encoding = pick(3) == 0 ? "utf-8" : NULL;
        in.type = pick(2) ? "OrderCreated" : NULL;
        in.user_id = pick(2) ? (pick(2) ? "u" : "someone-else") : NULL;
        if (pick(2)) {
            in.reply_to = pick(6) == 0 ? long_text : "replies";
            in.reply_to_type = (enum cut_dest_type)pick(4);
        }
        if (pick(2)) {
            in.destination = "orders";
            in.destination_type = (enum cut_dest_type)pick(4);
        }
        if (pick(2)) {
            in.group_id = "grp";
            in.group_seq = pick(3) == 0 ? INT64_C(4294967295) : (int64_t)pick(100);
        }
        in.priority = (int)pick(11) - 1;
        in.durable = pick(2);
        in.timestamp_ms = pick(4) == 0 ? 0 : INT64_C(1700000000000) + (int64_t)pick(100000);
        if (pick(2)) {
            in.ttl_ms = 1 + pick(100000);
        }
        if (in.ttl_ms > 0 && in.timestamp_ms != 0) {
            in.expiry_ms = pick(2) ? in.timestamp_ms + in.ttl_ms : in.timestamp_ms + 7;
        } else if (in.ttl_ms == 0 && pick(2)) {
            in.expiry_ms = INT64_C(1800000000000) + pick(1000);
        }
        size_t np = pick(7);
        for (size_t i = 0; i < np; i++) {
            static char names[6][24];
            snprintf(names[i], sizeof(names[i]), "p%zu", i);
            props[i].name = names[i];
            static const enum cut_prop_type types[] = {
                CUT_PROP_NULL, CUT_PROP_BOOL,  CUT_PROP_BYTE,   CUT_PROP_SHORT,  CUT_PROP_INT,
                CUT_PROP_LONG, CUT_PROP_FLOAT, CUT_PROP_DOUBLE, CUT_PROP_STRING, CUT_PROP_BYTES};
            props[i].type = types[pick(sizeof(types) / sizeof(types[0]))];
            int64_t r = (int64_t)rnd();
            switch (props[i].type) {
            case CUT_PROP_BOOL:
                props[i].v.b = r & 1;
                break;
            case CUT_PROP_BYTE:
                props[i].v.i = (int8_t)r;
                break;
            case CUT_PROP_SHORT:
                props[i].v.i = (int16_t)r;
                break;
            case CUT_PROP_INT:
                props[i].v.i = (int32_t)r;
                break;
            case CUT_PROP_LONG:
                props[i].v.i = r;
                break;
            case CUT_PROP_FLOAT:
                props[i].v.d = (float)(r % 1000) / 8.0f;
                break;
            case CUT_PROP_DOUBLE:
                props[i].v.d = (double)r / 3.0;
                break;
            case CUT_PROP_STRING:
                props[i].v.s.ptr = "text";
                props[i].v.s.len = 4;
                break;
            case CUT_PROP_BYTES:
                props[i].v.s.ptr = "\x01\x00\x02";
                props[i].v.s.len = 3;
                break;
            default:
                break;
            }
        }
        in.props = np > 0 ? props : NULL;
        in.n_props = np;
        size_t na = pick(2);
        if (na > 0) {
            ann[0] = (struct cut_prop){
                .name = "x-opt-k", .type = CUT_PROP_STRING, .v.s = {.ptr = "v", .len = 1}};
            in.annotations = ann;
            in.n_annotations = 1;
        }

        assert_int_equal(cut_amqp091_pub_props(&pub, &in, &opts, &out, &err), CUT_OK);
        struct cut_amqp091_delivery d = delivery(&out, "payload", "q");
        assert_int_equal(cut_amqp091_msg_fill(&buf, &d, 1, WALL_MS, &back), CUT_OK);

        assert_int_equal(back.body_kind, in.body_kind);
        assert_string_equal(back.message_id, in.message_id);
        assert_int_equal(back.message_id_type, in.message_id_type);
        assert_true(str_eq(back.correlation_id, in.correlation_id));
        assert_int_equal(back.correlation_id_type, in.correlation_id_type);
        assert_true(str_eq(back.content_type, in.content_type));
        assert_true(str_eq(back.content_encoding, in.content_encoding));
        assert_true(str_eq(back.type, in.type));
        assert_true(str_eq(back.user_id, in.user_id));
        assert_true(str_eq(back.reply_to, in.reply_to));
        if (in.reply_to != NULL) {
            /* NONE has no 0-9-1 form: reply_to is a queue there. */
            assert_int_equal(back.reply_to_type,
                             in.reply_to_type == CUT_DEST_NONE ? CUT_DEST_QUEUE : in.reply_to_type);
        }
        if (in.destination != NULL && in.destination_type != CUT_DEST_NONE) {
            assert_string_equal(back.destination, in.destination);
            assert_int_equal(back.destination_type, in.destination_type);
        } else {
            assert_string_equal(back.destination, "q");
            assert_int_equal(back.destination_type, CUT_DEST_NONE);
        }
        assert_true(str_eq(back.group_id, in.group_id));
        assert_int_equal(back.group_seq, in.group_seq);
        assert_int_equal(back.priority, in.priority);
        assert_int_equal(back.durable, in.durable);
        assert_int_equal(back.timestamp_ms, in.timestamp_ms);
        assert_int_equal(back.ttl_ms, in.ttl_ms);
        if (!(in.ttl_ms > 0 && in.timestamp_ms == 0)) {
            assert_int_equal(back.expiry_ms, in.expiry_ms);
        }
        assert_int_equal(back.n_props, in.n_props);
        for (size_t i = 0; i < in.n_props; i++) {
            assert_true(prop_equal(&back.props[i], &in.props[i]));
        }
        assert_int_equal(back.n_annotations, in.n_annotations);
        for (size_t i = 0; i < in.n_annotations; i++) {
            assert_true(prop_equal(&back.annotations[i], &in.annotations[i]));
        }
    }
    cut_amqp091_pubbuf_fini(&pub);
    cut_amqp091_msgbuf_fini(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generated_deliveries_come_back_byte_for_byte),
        cmocka_unit_test(test_generated_jms_envelopes_survive_a_0_9_1_hop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
