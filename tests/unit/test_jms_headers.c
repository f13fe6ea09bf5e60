/* The Kafka headers of the envelope, as docs/connectors.md lists them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jms_headers.h"

static const char *header(const struct cut_record *rec, const char *name, size_t *len)
{
    for (size_t i = 0; i < rec->n_hdrs; i++) {
        if (strcmp(rec->hdr_names[i], name) == 0) {
            *len = rec->hdr_lens[i];
            return rec->hdr_values[i] ? rec->hdr_values[i] : "(null)";
        }
    }
    return NULL;
}

static void assert_header(const struct cut_record *rec, const char *name, const char *want)
{
    size_t len = 0;
    const char *got = header(rec, name, &len);
    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    if (strcmp(want, "(null)") == 0) {
        assert_string_equal(got, want);
        return;
    }
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got, want, len);
}

static void test_every_jms_header_has_its_name_and_text(void **state)
{
    (void)state;
    struct cut_msg msg;
    struct cut_record rec = {0};
    struct cut_jms_headers hdrs;
    cut_msg_init(&msg);
    msg.message_id = "ID:abc-1";
    msg.correlation_id = "42";
    msg.correlation_id_type = CUT_ID_ULONG;
    msg.type = "order";
    msg.priority = 7;
    msg.durable = true;
    msg.timestamp_ms = 1700000000123;
    msg.expiry_ms = 1700003600123;
    msg.ttl_ms = 3600000;
    msg.reply_to = "replies";
    msg.reply_to_type = CUT_DEST_TOPIC;
    msg.group_id = "g1";
    msg.group_seq = 3;
    msg.delivery_count = 2;
    msg.body_kind = CUT_BODY_TEXT;
    msg.content_type = "text/plain";

    cut_jms_headers_init(&hdrs);
    assert_int_equal(cut_jms_headers_build(&hdrs, &msg, &rec), CUT_OK);
    assert_header(&rec, "message_id", "ID:abc-1");
    assert_header(&rec, "jms.message_id_type", NULL);
    assert_header(&rec, "jms.correlation_id", "42");
    assert_header(&rec, "jms.correlation_id_type", "ulong");
    assert_header(&rec, "jms.type", "order");
    assert_header(&rec, "jms.priority", "7");
    assert_header(&rec, "jms.delivery_mode", "PERSISTENT");
    assert_header(&rec, "jms.timestamp", "1700000000123");
    assert_header(&rec, "jms.expiration", "1700003600123");
    assert_header(&rec, "jms.ttl", "3600000");
    assert_header(&rec, "jms.reply_to", "replies");
    assert_header(&rec, "jms.reply_to_type", "topic");
    assert_header(&rec, "jms.group_id", "g1");
    assert_header(&rec, "jms.group_seq", "3");
    assert_header(&rec, "jms.delivery_count", "2");
    assert_header(&rec, "jms.body_kind", "text");
    assert_header(&rec, "jms.content_type", "text/plain");
    assert_header(&rec, "jms.destination", NULL);
    assert_header(&rec, "jms.prop_types", NULL);
    cut_jms_headers_fini(&hdrs);
}

static void test_properties_become_text_with_their_types_listed(void **state)
{
    (void)state;
    struct cut_prop props[] = {
        {.name = "flag", .type = CUT_PROP_BOOL, .v.b = true},
        {.name = "b", .type = CUT_PROP_BYTE, .v.i = -128},
        {.name = "l", .type = CUT_PROP_LONG, .v.i = INT64_MIN},
        {.name = "f", .type = CUT_PROP_FLOAT, .v.d = 0.1f},
        {.name = "d", .type = CUT_PROP_DOUBLE, .v.d = 0.1},
        {.name = "fmin", .type = CUT_PROP_FLOAT, .v.d = 1.40129846e-45f},
        {.name = "dmin", .type = CUT_PROP_DOUBLE, .v.d = 4.9406564584124654e-324},
        {.name = "third", .type = CUT_PROP_DOUBLE, .v.d = 1.0 / 3.0},
        {.name = "s", .type = CUT_PROP_STRING, .v.s = {"h\xc3\xa9", 3}},
        {.name = "nil", .type = CUT_PROP_NULL},
    };
    struct cut_msg msg;
    struct cut_record rec = {0};
    struct cut_jms_headers hdrs;
    cut_msg_init(&msg);
    msg.message_id = "m-1";
    msg.props = props;
    msg.n_props = sizeof(props) / sizeof(props[0]);

    cut_jms_headers_init(&hdrs);
    assert_int_equal(cut_jms_headers_build(&hdrs, &msg, &rec), CUT_OK);
    assert_header(&rec, "jms.prop.flag", "true");
    assert_header(&rec, "jms.prop.b", "-128");
    assert_header(&rec, "jms.prop.l", "-9223372036854775808");
    assert_header(&rec, "jms.prop.f", "0.1");
    assert_header(&rec, "jms.prop.d", "0.1");
    assert_header(&rec, "jms.prop.fmin", "1e-45");
    assert_header(&rec, "jms.prop.dmin", "5e-324");
    assert_header(&rec, "jms.prop.third", "0.3333333333333333");
    assert_header(&rec, "jms.prop.s", "h\xc3\xa9");
    assert_header(&rec, "jms.prop.nil", "(null)");
    assert_header(&rec, "jms.prop_types",
                  "flag=boolean;b=byte;l=long;f=float;d=double;fmin=float;dmin=double;"
                  "third=double;nil=null");
    cut_jms_headers_fini(&hdrs);
}

/* The arena is reused: a second, larger message must not leave pointers of
 * the first dangling (built under valgrind in CI's memcheck runs). */
static void test_rebuild_with_more_properties_keeps_values_right(void **state)
{
    (void)state;
    struct cut_prop many[200];
    char names[200][16];
    struct cut_msg msg;
    struct cut_record rec = {0};
    struct cut_jms_headers hdrs;
    cut_jms_headers_init(&hdrs);
    cut_msg_init(&msg);
    msg.message_id = "small";
    assert_int_equal(cut_jms_headers_build(&hdrs, &msg, &rec), CUT_OK);
    for (int i = 0; i < 200; i++) {
        snprintf(names[i], sizeof(names[i]), "p%d", i);
        many[i] = (struct cut_prop){.name = names[i], .type = CUT_PROP_INT, .v.i = i * 1000};
    }
    msg.message_id = "big";
    msg.props = many;
    msg.n_props = 200;
    assert_int_equal(cut_jms_headers_build(&hdrs, &msg, &rec), CUT_OK);
    assert_header(&rec, "jms.prop.p0", "0");
    assert_header(&rec, "jms.prop.p199", "199000");
    assert_header(&rec, "message_id", "big");
    cut_jms_headers_fini(&hdrs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_jms_header_has_its_name_and_text),
        cmocka_unit_test(test_properties_become_text_with_their_types_listed),
        cmocka_unit_test(test_rebuild_with_more_properties_keeps_values_right),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
