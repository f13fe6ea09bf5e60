/*
 * JMS message selectors (converters/selector.h) against JMS 2.0 section
 * 3.8.1.1: grammar, precedence, SQL's NULL logic, the type rules, the
 * envelope's headers, error columns, and hostile input.
 *
 * `test_selector --bench` prints the cost of one evaluation instead (a
 * measurement, never an assertion); meson runs it with `meson test --benchmark`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

#include <cmocka.h>

#include "selector.h"

/*
 * The test links with -Wl,--wrap=malloc,calloc,realloc (tests/unit/meson.build):
 * every allocation made by the selector code goes through these counters.
 */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *ptr, size_t size);
static size_t allocations;

void *__wrap_malloc(size_t size)
{
    allocations++;
    return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    allocations++;
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    allocations++;
    return __real_realloc(ptr, size);
}

#define STR(s)                                                                                     \
    {                                                                                              \
        .ptr = (s), .len = sizeof(s) - 1                                                           \
    }

static const struct cut_prop fixture_props[] = {
    {.name = "s_str", .type = CUT_PROP_STRING, .v.s = STR("hello")},
    {.name = "s_other", .type = CUT_PROP_STRING, .v.s = STR("world")},
    {.name = "s_num", .type = CUT_PROP_STRING, .v.s = STR("42")},
    {.name = "s_q", .type = CUT_PROP_STRING, .v.s = STR("it's")},
    {.name = "s_empty", .type = CUT_PROP_STRING, .v.s = STR("")},
    {.name = "n_int", .type = CUT_PROP_INT, .v.i = 42},
    {.name = "n_long", .type = CUT_PROP_LONG, .v.i = 10000000000},
    {.name = "n_byte", .type = CUT_PROP_BYTE, .v.i = -3},
    {.name = "n_short", .type = CUT_PROP_SHORT, .v.i = 300},
    {.name = "zero", .type = CUT_PROP_INT, .v.i = 0},
    {.name = "d_dbl", .type = CUT_PROP_DOUBLE, .v.d = 2.5},
    {.name = "f_flt", .type = CUT_PROP_FLOAT, .v.d = 1.5},
    {.name = "f_11", .type = CUT_PROP_FLOAT, .v.d = (double)1.1f},
    {.name = "nan_d", .type = CUT_PROP_DOUBLE, .v.d = NAN},
    {.name = "b_true", .type = CUT_PROP_BOOL, .v.b = true},
    {.name = "b_false", .type = CUT_PROP_BOOL, .v.b = false},
    {.name = "raw", .type = CUT_PROP_BYTES, .v.s = STR("\x01\x02")},
    {.name = "uuid", .type = CUT_PROP_UUID, .v.s = STR("0123456789abcdef")},
    {.name = "sym", .type = CUT_PROP_SYMBOL, .v.s = STR("abc")},
    {.name = "ts", .type = CUT_PROP_TIMESTAMP, .v.i = 1700000000000},
    {.name = "nul", .type = CUT_PROP_NULL},
    {.name = "JMSType", .type = CUT_PROP_STRING, .v.s = STR("shadow")},
    {.name = "JMS_IBM_Format", .type = CUT_PROP_STRING, .v.s = STR("MQSTR")},
    {.name = "dup", .type = CUT_PROP_INT, .v.i = 1},
    {.name = "dup", .type = CUT_PROP_INT, .v.i = 2},
    {.name = "pr\xc3\xa9nom", .type = CUT_PROP_STRING, .v.s = STR("Zo\xc3\xab")},
    {.name = "$x", .type = CUT_PROP_INT, .v.i = 1},
    {.name = "_y2", .type = CUT_PROP_INT, .v.i = 2},
};

static struct cut_msg fixture(void)
{
    struct cut_msg msg;
    cut_msg_init(&msg);
    msg.message_id = "ID:abc-1";
    msg.correlation_id = "corr-7";
    msg.type = "car";
    msg.user_id = "alice";
    msg.priority = 7;
    msg.durable = true;
    msg.timestamp_ms = 1700000000123;
    msg.group_id = "g1";
    msg.group_seq = 3;
    msg.delivery_count = 2;
    msg.props = fixture_props;
    msg.n_props = sizeof(fixture_props) / sizeof(fixture_props[0]);
    return msg;
}

static const char *tri_name(enum cut_tri t)
{
    return t == CUT_TRI_TRUE ? "TRUE" : t == CUT_TRI_FALSE ? "FALSE" : "UNKNOWN";
}

static void check_on(const struct cut_msg *msg, const char *text, enum cut_tri want,
                     const char *file, int line)
{
    struct cut_selector *sel = NULL;
    struct cut_err err = {0};
    int rc = cut_selector_compile(text, &sel, &err);
    if (rc != CUT_OK) {
        print_error("%s:%d: [%.200s] does not compile: %s\n", file, line, text, err.msg);
        _fail(file, line);
    }
    enum cut_tri got = cut_selector_eval(sel, msg);
    if (got != want) {
        print_error("%s:%d: [%.200s] is %s, expected %s\n", file, line, text, tri_name(got),
                    tri_name(want));
    }
    _assert_int_equal(got, want, file, line);
    _assert_int_equal(cut_selector_match(sel, msg), want == CUT_TRI_TRUE, file, line);
    cut_selector_destroy(sel);
}

static void check(const char *text, enum cut_tri want, const char *file, int line)
{
    struct cut_msg msg = fixture();
    check_on(&msg, text, want, file, line);
}

/* The selector over a message whose only property is v = @p value. */
static void check_v(const char *value, const char *text, enum cut_tri want, const char *file,
                    int line)
{
    struct cut_prop prop = {.name = "v", .type = CUT_PROP_STRING};
    prop.v.s.ptr = value;
    prop.v.s.len = strlen(value);
    struct cut_msg msg;
    cut_msg_init(&msg);
    msg.props = &prop;
    msg.n_props = 1;
    check_on(&msg, text, want, file, line);
}

static void check_error(const char *text, const char *want, const char *file, int line)
{
    struct cut_selector *sel = (struct cut_selector *)&sel; /* must stay untouched */
    struct cut_err err = {0};
    int rc = cut_selector_compile(text, &sel, &err);
    if (rc != CUT_EINVAL || strcmp(err.msg, want) != 0) {
        print_error("%s:%d: [%.60s] gave %d \"%s\", expected \"%s\"\n", file, line, text, rc,
                    err.msg, want);
        _fail(file, line);
    }
    _assert_int_equal(err.code, CUT_EINVAL, file, line);
    _assert_int_equal((uintptr_t)sel, (uintptr_t)&sel, file, line);
}

#define T(text)            check((text), CUT_TRI_TRUE, __FILE__, __LINE__)
#define F(text)            check((text), CUT_TRI_FALSE, __FILE__, __LINE__)
#define U(text)            check((text), CUT_TRI_UNKNOWN, __FILE__, __LINE__)
#define V(value, text, t)  check_v((value), (text), CUT_TRI_##t, __FILE__, __LINE__)
#define ERR(text, message) check_error((text), (message), __FILE__, __LINE__)

/* ---- literals and identifiers ---- */

static void test_string_literal_doubles_the_quote(void **state)
{
    (void)state;
    T("s_q = 'it''s'");
    F("s_q = 'its'");
    T("s_empty = ''");
    T("'''' = ''''");
}

static void test_exact_literals_use_java_syntax(void **state)
{
    (void)state;
    T("n_int = 42");
    T("n_int = 42L");
    T("n_int = 0x2A");
    T("n_int = 0X2al");
    T("n_int = 052");
    T("n_int = 0b101010");
    T("n_int = +42");
    T("n_byte = -3");
}

static void test_exact_literals_cover_the_range_of_a_long(void **state)
{
    (void)state;
    T("n_long = 10000000000");
    T("9223372036854775807 > 0");
    T("-9223372036854775808 < 0");
    T("-9223372036854775808 = 0x8000000000000000");
    T("0xFFFFFFFFFFFFFFFF = -1");
}

static void test_approximate_literals_use_java_syntax(void **state)
{
    (void)state;
    T("d_dbl = 2.5");
    T("d_dbl = 25E-1");
    T("d_dbl = .25e1");
    T("d_dbl = 2.5d");
    T("d_dbl = 2.5D");
    T("f_flt = 1.5f");
    T("7. = 7");
    T("7E3 = 7000");
    T("-57.9E2 = -5790");
    T("2d = 2");
}

static void test_float_suffix_rounds_to_float_precision(void **state)
{
    (void)state;
    /* as in Java: 1.1f is the float nearest 1.1, which is not the double 1.1 */
    F("1.1f = 1.1");
    T("f_11 = 1.1f");
    F("f_11 = 1.1");
}

static void test_boolean_literals_are_case_insensitive(void **state)
{
    (void)state;
    T("b_true = TRUE");
    T("b_true = true");
    T("b_true = TrUe");
    T("b_false = false");
    T("TRUE");
    F("FALSE");
}

static void test_keywords_are_case_insensitive(void **state)
{
    (void)state;
    T("n_int between 1 and 100 and s_str like 'h%' and s_str in ('hello') and s_str is not null");
    T("Not n_int = 1 Or FALSE");
    T("s_str LIKE 'h!%' escape '!' or s_str Like 'h%'");
}

static void test_identifiers_are_case_sensitive(void **state)
{
    (void)state;
    T("s_str = 'hello'");
    U("S_STR = 'hello'");
    U("jmstype = 'car'");
}

static void test_identifiers_follow_java_rules(void **state)
{
    (void)state;
    T("$x = 1");
    T("_y2 = 2");
    T("pr\xc3\xa9nom = 'Zo\xc3\xab'");
}

static void test_empty_selector_selects_everything(void **state)
{
    (void)state;
    T("");
    T("  \t\r\n\f ");
    struct cut_selector *sel = NULL;
    struct cut_msg msg = fixture();
    assert_int_equal(cut_selector_compile(NULL, &sel, NULL), CUT_OK);
    assert_int_equal(cut_selector_match(sel, &msg), 1);
    cut_selector_destroy(sel);
    assert_int_equal(cut_selector_eval(NULL, &msg), CUT_TRI_TRUE);
    assert_int_equal(cut_selector_match(NULL, &msg), 1);
    cut_selector_destroy(NULL);
}

static void test_whitespace_is_java_whitespace(void **state)
{
    (void)state;
    T("n_int\t=\n42\rAND\fb_true");
    T("(n_int=42)AND(b_true)");
}

/* ---- operators ---- */

static void test_equality_on_each_type(void **state)
{
    (void)state;
    T("n_int = 42");
    F("n_int = 43");
    T("n_int <> 43");
    F("n_int <> 42");
    T("s_str = 'hello'");
    F("s_str = 'Hello'");
    T("s_str <> 'Hello'");
    T("b_true = TRUE");
    T("b_true <> b_false");
    F("b_true = b_false");
    T("s_str = s_str");
}

static void test_ordering_comparisons(void **state)
{
    (void)state;
    T("n_int > 41");
    F("n_int > 42");
    T("n_int >= 42");
    F("n_int >= 43");
    T("n_int < 43");
    F("n_int < 42");
    T("n_int <= 42");
    F("n_int <= 41");
}

static void test_arithmetic_operators(void **state)
{
    (void)state;
    T("n_int + 1 = 43");
    T("n_int - 2 = 40");
    T("n_int * 2 = 84");
    T("n_int / 5 = 8");
    T("d_dbl / 2 = 1.25");
    T("-n_int = -42");
    T("+n_int = 42");
    T("- -n_int = 42");
}

static void test_exact_division_truncates_toward_zero(void **state)
{
    (void)state;
    T("-7 / 2 = -3");
    T("7 / -2 = -3");
    T("-7.0 / 2 = -3.5");
}

static void test_long_arithmetic_wraps_like_java(void **state)
{
    (void)state;
    T("9223372036854775807 + 1 = -9223372036854775808");
    T("-9223372036854775808 - 1 = 9223372036854775807");
    T("-9223372036854775808 / -1 = -9223372036854775808");
    T("-(-9223372036854775808) = -9223372036854775808");
    T("4294967296 * 4294967296 = 0");
}

static void test_division_by_zero_is_unknown(void **state)
{
    (void)state;
    U("n_int / 0 = 1");
    U("NOT (n_int / 0 = 1)");
    U("n_int / zero > 0");
    U("d_dbl / 0.0 > 1");
    U("d_dbl / -0.0 < 1");
    U("d_dbl / zero <> 1");
    T("n_int / 0 = 1 OR TRUE");
}

/* ---- precedence ---- */

static void test_and_binds_tighter_than_or(void **state)
{
    (void)state;
    /* TRUE OR (FALSE AND FALSE); (TRUE OR FALSE) AND FALSE would be FALSE */
    T("b_true OR b_false AND b_false");
    T("b_false AND b_false OR b_true");
    F("(b_true OR b_false) AND b_false");
}

static void test_not_applies_to_the_whole_comparison(void **state)
{
    (void)state;
    /* NOT (n_int = 41); (NOT n_int) = 41 would be UNKNOWN */
    T("NOT n_int = 41");
    F("NOT n_int = 42");
    T("NOT n_int BETWEEN 1 AND 10");
    T("NOT NOT b_true");
    F("NOT b_true AND b_true");
}

static void test_unary_minus_then_multiplication_then_addition(void **state)
{
    (void)state;
    T("-n_int * 2 + 1 = -83");
    T("1 + 2 * 3 = 7");
    T("(1 + 2) * 3 = 9");
    T("1 - -2 * -3 = -5");
    T("2 * 3 + 4 * 5 = 26");
}

static void test_operators_of_one_level_group_left_to_right(void **state)
{
    (void)state;
    T("10 - 4 - 3 = 3");
    T("64 / 4 / 2 = 8");
    T("7 / 2 * 2 = 6");
}

static void test_arithmetic_binds_tighter_than_comparison(void **state)
{
    (void)state;
    T("n_int + 1 > n_int");
    T("n_int BETWEEN 40 + 1 AND 40 + 2");
}

/* ---- SQL's NULL logic ---- */

struct truth {
    const char *a, *b;
    enum cut_tri want;
};

static const char *tri_expr(const char *name)
{
    /* a condition that is TRUE, FALSE or UNKNOWN */
    return strcmp(name, "T") == 0 ? "b_true" : strcmp(name, "F") == 0 ? "b_false" : "nothing = 1";
}

static void check_table(const char *op, const struct truth *rows, size_t n)
{
    char text[128];
    for (size_t i = 0; i < n; i++) {
        snprintf(text, sizeof(text), "(%s) %s (%s)", tri_expr(rows[i].a), op, tri_expr(rows[i].b));
        check(text, rows[i].want, __FILE__, __LINE__);
    }
}

static void test_and_truth_table(void **state)
{
    (void)state;
    static const struct truth rows[] = {
        {"T", "T", CUT_TRI_TRUE},    {"T", "F", CUT_TRI_FALSE}, {"T", "U", CUT_TRI_UNKNOWN},
        {"F", "T", CUT_TRI_FALSE},   {"F", "F", CUT_TRI_FALSE}, {"F", "U", CUT_TRI_FALSE},
        {"U", "T", CUT_TRI_UNKNOWN}, {"U", "F", CUT_TRI_FALSE}, {"U", "U", CUT_TRI_UNKNOWN},
    };
    check_table("AND", rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_or_truth_table(void **state)
{
    (void)state;
    static const struct truth rows[] = {
        {"T", "T", CUT_TRI_TRUE}, {"T", "F", CUT_TRI_TRUE},    {"T", "U", CUT_TRI_TRUE},
        {"F", "T", CUT_TRI_TRUE}, {"F", "F", CUT_TRI_FALSE},   {"F", "U", CUT_TRI_UNKNOWN},
        {"U", "T", CUT_TRI_TRUE}, {"U", "F", CUT_TRI_UNKNOWN}, {"U", "U", CUT_TRI_UNKNOWN},
    };
    check_table("OR", rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_not_truth_table(void **state)
{
    (void)state;
    F("NOT b_true");
    T("NOT b_false");
    U("NOT (nothing = 1)");
}

static void test_comparison_with_null_is_unknown(void **state)
{
    (void)state;
    U("nothing = 1");
    U("nothing <> 1");
    U("nothing > 1");
    U("nothing = 'a'");
    U("nothing <> 'a'");
    U("1 = nothing");
    U("nothing = nothing");
    U("nul = 1");
    U("s_str = nothing"); /* NULL before the type rule: unknown, not false */
}

static void test_arithmetic_with_null_is_null(void **state)
{
    (void)state;
    U("nothing + 1 = 1");
    U("-nothing = 1");
    U("n_int * nothing = 0");
    U("nothing / 0 = 0");
}

static void test_is_null_and_is_not_null(void **state)
{
    (void)state;
    T("nothing IS NULL");
    F("nothing IS NOT NULL");
    F("s_str IS NULL");
    T("s_str IS NOT NULL");
    T("nul IS NULL");
    T("b_false IS NOT NULL");
}

static void test_match_is_true_only_for_true(void **state)
{
    (void)state;
    struct cut_msg msg = fixture();
    const char *texts[] = {"b_true", "b_false", "nothing = 1", "NOT (nothing = 1)"};
    const int want[] = {1, 0, 0, 0};
    for (size_t i = 0; i < 4; i++) {
        struct cut_selector *sel = NULL;
        assert_int_equal(cut_selector_compile(texts[i], &sel, NULL), CUT_OK);
        assert_int_equal(cut_selector_match(sel, &msg), want[i]);
        cut_selector_destroy(sel);
    }
}

/* ---- LIKE ---- */

static void test_like_underscore_is_one_character(void **state)
{
    (void)state;
    V("lose", "v LIKE 'l_se'", TRUE);
    V("loose", "v LIKE 'l_se'", FALSE);
    V("lse", "v LIKE 'l_se'", FALSE);
    V("Zo\xc3\xab", "v LIKE 'Zo_'", TRUE); /* a two-byte character */
    V("Zo\xc3\xab", "v LIKE '___'", TRUE);
    V("Zo\xc3\xab", "v LIKE '____'", FALSE);
    V("\xe2\x82\xac", "v LIKE '_'", TRUE);
}

static void test_like_percent_is_any_sequence_including_none(void **state)
{
    (void)state;
    V("123", "v LIKE '12%3'", TRUE);
    V("12993", "v LIKE '12%3'", TRUE);
    V("1234", "v LIKE '12%3'", FALSE);
    V("", "v LIKE '%'", TRUE);
    V("abc", "v LIKE '%'", TRUE);
    V("abc", "v LIKE 'abc%'", TRUE);
    V("abc", "v LIKE '%abc'", TRUE);
    V("abc", "v LIKE '%b%'", TRUE);
    V("abc", "v LIKE '%%%'", TRUE);
}

static void test_not_like_is_the_negation(void **state)
{
    (void)state;
    V("123", "v NOT LIKE '12%3'", FALSE);
    V("12993", "v NOT LIKE '12%3'", FALSE);
    V("1234", "v NOT LIKE '12%3'", TRUE);
}

static void test_like_escape_makes_wildcards_literal(void **state)
{
    (void)state;
    V("_foo", "v LIKE '\\_%' ESCAPE '\\'", TRUE);
    V("bar", "v LIKE '\\_%' ESCAPE '\\'", FALSE);
    V("xfoo", "v LIKE '\\_%' ESCAPE '\\'", FALSE);
    V("100%", "v LIKE '100!%' ESCAPE '!'", TRUE);
    V("1000", "v LIKE '100!%' ESCAPE '!'", FALSE);
    V("a!b", "v LIKE 'a!!b' ESCAPE '!'", TRUE);
    V("a%b", "v LIKE 'a%%%b' ESCAPE '%'", TRUE); /* '%' as its own escape */
    V("axb", "v LIKE 'a%%%b' ESCAPE '%'", FALSE);
    V("a\xc3\xa9_", "v LIKE 'a_\xc3\xa9_' ESCAPE '\xc3\xa9'", TRUE); /* non-ASCII escape */
    V("a_", "v LIKE 'a_'", TRUE);
    V("ab", "v LIKE 'a\\_' ESCAPE '\\'", FALSE);
}

static void test_like_edge_cases(void **state)
{
    (void)state;
    V("", "v LIKE ''", TRUE);
    V("a", "v LIKE ''", FALSE);
    V("", "v LIKE '_'", FALSE);
    V("", "v LIKE '%_%'", FALSE);
    V("x", "v LIKE '%_%'", TRUE);
    V("a", "v LIKE 'a%a'", FALSE); /* prefix and suffix must not overlap */
    V("aa", "v LIKE 'a%a'", TRUE);
    V("aXbYc", "v LIKE 'a%b%c'", TRUE);
    V("acb", "v LIKE 'a%b%c'", FALSE);
    V("abcabd", "v LIKE '%ab_'", TRUE);
    V("ab.*[x", "v LIKE 'ab.*[_'", TRUE); /* no regular-expression characters */
    V("abc", "v LIKE 'ABC'", FALSE);      /* case-sensitive */
    V("mississippi", "v LIKE '%iss%ipp_'", TRUE);
    V("mississippi", "v LIKE '%iss_ss%pi'", TRUE);
    V("mississippi", "v LIKE 'm%s_s%x'", FALSE);
}

static void test_like_with_null_identifier_is_unknown(void **state)
{
    (void)state;
    U("nothing LIKE 'a%'");
    U("nothing NOT LIKE 'a%'");
}

static void test_like_on_a_non_string_is_false(void **state)
{
    (void)state;
    F("n_int LIKE '4%'");
    F("n_int NOT LIKE '4%'");
    F("b_true LIKE '%'");
}

/* ---- IN ---- */

static void test_in_is_true_for_a_listed_string(void **state)
{
    (void)state;
    T("s_str IN ('x', 'hello')");
    T("s_str IN ('hello')");
    F("s_str IN ('x', 'y')");
    F("s_str IN ('Hello', 'hello ')");
}

static void test_not_in_is_the_negation(void **state)
{
    (void)state;
    F("s_str NOT IN ('x', 'hello')");
    T("s_str NOT IN ('x', 'y')");
}

static void test_in_with_null_identifier_is_unknown(void **state)
{
    (void)state;
    U("nothing IN ('a', 'b')");
    U("nothing NOT IN ('a', 'b')");
}

static void test_in_on_a_non_string_is_false(void **state)
{
    (void)state;
    F("n_int IN ('42')");
    F("n_int NOT IN ('42')");
    F("b_true NOT IN ('true')");
}

/* ---- BETWEEN ---- */

static void test_between_includes_both_ends(void **state)
{
    (void)state;
    T("n_int BETWEEN 42 AND 50");
    T("n_int BETWEEN 40 AND 42");
    F("n_int BETWEEN 43 AND 50");
    F("n_int BETWEEN 50 AND 40");
}

static void test_not_between_is_outside_the_range(void **state)
{
    (void)state;
    F("n_int NOT BETWEEN 42 AND 50");
    T("n_int NOT BETWEEN 43 AND 50");
    T("n_int NOT BETWEEN 1 AND 41");
}

static void test_between_with_null_follows_its_two_comparisons(void **state)
{
    (void)state;
    U("nothing BETWEEN 1 AND 2");
    U("nothing NOT BETWEEN 1 AND 2");
    U("n_int BETWEEN nothing AND 50"); /* UNKNOWN AND TRUE */
    F("n_int BETWEEN nothing AND 10"); /* UNKNOWN AND FALSE */
    T("n_int NOT BETWEEN nothing AND 10");
}

static void test_between_on_a_string_is_false(void **state)
{
    (void)state;
    F("s_str BETWEEN 1 AND 2");
    F("s_str NOT BETWEEN 1 AND 2");
    F("s_num BETWEEN 1 AND 100");
}

static void test_between_mixes_exact_and_approximate(void **state)
{
    (void)state;
    T("d_dbl BETWEEN 2 AND 3");
    T("n_int BETWEEN 41.5 AND 42.5");
}

/* ---- headers ---- */

static void test_header_identifiers_read_the_envelope(void **state)
{
    (void)state;
    T("JMSDeliveryMode = 'PERSISTENT'");
    T("JMSPriority = 7");
    T("JMSMessageID = 'ID:abc-1'");
    T("JMSTimestamp = 1700000000123");
    T("JMSCorrelationID = 'corr-7'");
    T("JMSType = 'car'"); /* the header, not the property of that name */
    T("JMSXGroupID = 'g1'");
    T("JMSXGroupSeq = 3");
    T("JMSXDeliveryCount = 3");
    T("JMSXUserID = 'alice'");
    T("JMSPriority > 4 AND JMSMessageID LIKE 'ID:%'");
}

static void test_delivery_mode_non_persistent(void **state)
{
    (void)state;
    struct cut_msg msg = fixture();
    msg.durable = false;
    check_on(&msg, "JMSDeliveryMode = 'NON_PERSISTENT'", CUT_TRI_TRUE, __FILE__, __LINE__);
    check_on(&msg, "JMSDeliveryMode = 'PERSISTENT'", CUT_TRI_FALSE, __FILE__, __LINE__);
}

static void test_absent_headers(void **state)
{
    (void)state;
    struct cut_msg msg;
    cut_msg_init(&msg);
    const char *nulls[] = {"JMSMessageID IS NULL", "JMSCorrelationID IS NULL",
                           "JMSType IS NULL",      "JMSXGroupID IS NULL",
                           "JMSXGroupSeq IS NULL", "JMSXUserID IS NULL"};
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++) {
        check_on(&msg, nulls[i], CUT_TRI_TRUE, __FILE__, __LINE__);
    }
    /* what a JMS consumer reads: the default priority, timestamp 0, first delivery */
    check_on(&msg, "JMSPriority = 4", CUT_TRI_TRUE, __FILE__, __LINE__);
    check_on(&msg, "JMSTimestamp = 0", CUT_TRI_TRUE, __FILE__, __LINE__);
    check_on(&msg, "JMSXDeliveryCount = 1", CUT_TRI_TRUE, __FILE__, __LINE__);
    check_on(&msg, "JMSDeliveryMode = 'NON_PERSISTENT'", CUT_TRI_TRUE, __FILE__, __LINE__);
    check_on(&msg, "JMSType = 'car'", CUT_TRI_UNKNOWN, __FILE__, __LINE__);
}

static void test_other_jms_names_are_properties(void **state)
{
    (void)state;
    T("JMSExpiration IS NULL");
    T("JMSRedelivered IS NULL");
    T("JMS_IBM_Format = 'MQSTR'");
}

/* ---- types ---- */

static void test_comparing_unlike_types_is_false(void **state)
{
    (void)state;
    F("s_str = 1");
    F("s_str <> 1"); /* false, not true: the spec's "the value of the operation is false" */
    T("NOT (s_str = 1)");
    F("s_num = 42");
    F("b_true = 1");
    F("b_true <> 1");
    F("b_true = 'true'");
    F("'1' = 1");
    F("(n_int = 42) = 1");
}

static void test_ordering_strings_or_booleans_at_run_time_is_false(void **state)
{
    (void)state;
    F("s_str > s_other");
    F("s_str < s_other");
    F("s_str >= s_str");
    F("b_true > b_false");
    F("s_str > 1");
}

static void test_numeric_promotion_between_exact_and_approximate(void **state)
{
    (void)state;
    T("n_int = 42.0");
    T("n_int < 42.5");
    T("d_dbl > 2");
    T("f_flt = 1.5");
    T("f_flt < d_dbl");
    T("n_int + 0.5 = 42.5");
    T("n_int / 5.0 = 8.4");
    T("n_long * 1.0 = 1e10");
}

static void test_every_integer_width_is_exact(void **state)
{
    (void)state;
    T("n_byte * n_short = -900");
    T("n_long / 3 = 3333333333");
    T("n_int * n_long = 420000000000");
}

static void test_unsupported_property_types_are_null(void **state)
{
    (void)state;
    T("raw IS NULL");
    U("raw = 'x'");
    T("uuid IS NULL");
    T("sym IS NULL");
    T("ts IS NULL");
    U("ts > 0");
}

static void test_boolean_identifier_is_a_condition(void **state)
{
    (void)state;
    T("b_true");
    F("b_false");
    T("NOT b_false");
    F("b_true AND b_false");
    T("b_true = (n_int = 42)");
}

static void test_non_boolean_identifier_as_condition_is_unknown(void **state)
{
    (void)state;
    U("n_int");
    U("NOT n_int");
    U("s_str AND b_true");
    T("s_str OR b_true");
    U("nothing");
}

static void test_arithmetic_on_a_non_number_is_null(void **state)
{
    (void)state;
    U("s_str + 1 = 1");
    U("-s_num = -42");
    U("b_true * 1 = 1");
}

static void test_nan_compares_like_java(void **state)
{
    (void)state;
    F("nan_d = nan_d");
    T("nan_d <> nan_d");
    F("nan_d > 0");
    F("nan_d <= 0");
}

static void test_first_property_of_a_name_wins(void **state)
{
    (void)state;
    T("dup = 1");
}

/* ---- errors ---- */

static void test_error_expression_missing_after_operator(void **state)
{
    (void)state;
    ERR("color = 'red' AND", "selector: column 18: expected an expression after \"AND\"");
    ERR("color = 'red' AND ", "selector: column 19: expected an expression after \"AND\"");
    ERR("a = ", "selector: column 5: expected an expression after \"=\"");
    ERR("a = 1 AND ()", "selector: column 12: expected an expression after \"(\"");
    ERR("a * / 2 = 1", "selector: column 5: expected an expression after \"*\"");
    ERR("NOT", "selector: column 4: expected an expression after \"NOT\"");
    ERR(")", "selector: column 1: expected an expression");
}

static void test_error_reserved_word_as_identifier(void **state)
{
    (void)state;
    ERR("in = 1", "selector: column 1: expected an expression (\"IN\" is a reserved word)");
    ERR("x = 1 AND and = 2",
        "selector: column 11: expected an expression after \"AND\" (\"AND\" is a reserved word)");
    ERR("a = Escape", "selector: column 5: expected an expression after \"=\" (\"ESCAPE\" is a "
                      "reserved word)");
}

static void test_error_unclosed_parenthesis(void **state)
{
    (void)state;
    ERR("(a = 1", "selector: column 7: expected \")\" to close the \"(\" at column 1");
    ERR("a = 1 AND (b = 2 OR (c = 3)",
        "selector: column 28: expected \")\" to close the \"(\" at column 11");
}

static void test_error_lexical(void **state)
{
    (void)state;
    ERR("a = 'abc", "selector: column 5: unterminated string literal");
    ERR("a # 1", "selector: column 3: unexpected character \"#\"");
    ERR("a != 1", "selector: column 3: unexpected \"!=\" (not equal is written \"<>\")");
    ERR("a = \"x\"",
        "selector: column 5: unexpected character '\"' (string literals take single quotes)");
    ERR("a = \x01", "selector: column 5: unexpected character \\x01");
    ERR("a = '\xff'", "selector: column 6: invalid UTF-8");
    ERR("a = '\xc0\xaf'", "selector: column 6: invalid UTF-8"); /* overlong '/' */
}

static void test_error_malformed_numbers(void **state)
{
    (void)state;
    ERR("9223372036854775808 > 1",
        "selector: column 1: integer literal out of the range of a long");
    ERR("a = 0x10000000000000000",
        "selector: column 5: integer literal out of the range of a long");
    ERR("a > 1e999", "selector: column 5: floating-point literal out of the range of a double");
    ERR("a > 1e-999", "selector: column 5: floating-point literal out of the range of a double");
    ERR("a > 1e40f", "selector: column 5: floating-point literal out of the range of a double");
    ERR("a = 09", "selector: column 5: malformed number");
    ERR("a = 1e", "selector: column 5: malformed number");
    ERR("a = 0x", "selector: column 5: malformed number");
    ERR("a = 12abc", "selector: column 5: malformed number");
    ERR("a = 1.5L", "selector: column 5: malformed number");
}

static void test_error_predicates(void **state)
{
    (void)state;
    ERR("a NOT = 1", "selector: column 7: expected \"BETWEEN\", \"IN\" or \"LIKE\" after \"NOT\"");
    ERR("a BETWEEN 1 OR 2",
        "selector: column 13: expected \"AND\" after the lower bound of \"BETWEEN\"");
    ERR("a IN 'x'", "selector: column 6: expected \"(\" after \"IN\"");
    ERR("a IN ('x', 2)", "selector: column 12: expected a string literal in the \"IN\" list");
    ERR("a IN ()", "selector: column 7: expected a string literal in the \"IN\" list");
    ERR("a IN ('x' 'y')", "selector: column 11: expected \",\" or \")\" in the \"IN\" list");
    ERR("a LIKE 5", "selector: column 8: expected a string literal after \"LIKE\"");
    ERR("a LIKE 'x' ESCAPE 1", "selector: column 19: expected a string literal after \"ESCAPE\"");
    ERR("a LIKE 'x' ESCAPE 'ab'",
        "selector: column 19: the \"ESCAPE\" string must be one character");
    ERR("a LIKE 'x' ESCAPE ''", "selector: column 19: the \"ESCAPE\" string must be one character");
    ERR("a LIKE 'x!' ESCAPE '!'",
        "selector: column 8: the \"LIKE\" pattern ends with the escape character");
    ERR("a IS 1", "selector: column 6: expected \"NULL\" after \"IS\"");
    ERR("a IS NOT x", "selector: column 10: expected \"NULL\" after \"IS NOT\"");
    ERR("a = NULL",
        "selector: column 5: \"NULL\" can only be tested with \"IS NULL\" or \"IS NOT NULL\"");
}

static void test_error_trailing_tokens(void **state)
{
    (void)state;
    ERR("a b", "selector: column 3: expected an operator or the end of the selector");
    ERR("a = 1 = 2", "selector: column 7: expected an operator or the end of the selector");
    ERR("a = 1)", "selector: column 6: expected an operator or the end of the selector");
    ERR("a = 1 b_true", "selector: column 7: expected an operator or the end of the selector");
}

static void test_error_types_the_text_shows(void **state)
{
    (void)state;
    ERR("'abc' < 'abd'", "selector: column 1: \"<\" compares numbers, found a string (strings "
                         "and booleans compare with \"=\" and \"<>\" only)");
    ERR("a >= TRUE", "selector: column 6: \">=\" compares numbers, found a boolean (strings and "
                     "booleans compare with \"=\" and \"<>\" only)");
    ERR("a + 'x' = 1", "selector: column 5: \"+\" needs numbers, found a string");
    ERR("-'x' = 1", "selector: column 2: \"-\" needs numbers, found a string");
    ERR("'x' BETWEEN 1 AND 2", "selector: column 1: \"BETWEEN\" needs numbers, found a string");
    ERR("a + 1", "selector: column 1: expected a condition, found a number");
    ERR("'a'", "selector: column 1: expected a condition, found a string");
    ERR("1 AND a", "selector: column 1: \"AND\" needs conditions, found a number");
    ERR("a OR 'x'", "selector: column 6: \"OR\" needs conditions, found a string");
    ERR("NOT 1", "selector: column 5: \"NOT\" needs conditions, found a number");
    ERR("1 LIKE 'x'",
        "selector: column 1: \"LIKE\" needs an identifier on its left, found a number");
    ERR("'a' IN ('a')",
        "selector: column 1: \"IN\" needs an identifier on its left, found a string");
    ERR("(a + 1) IS NULL",
        "selector: column 2: \"IS\" needs an identifier on its left, found a number");
}

static void test_error_columns_count_characters(void **state)
{
    (void)state;
    /* 18 characters in 20 bytes */
    ERR("pr\xc3\xa9nom = 'Zo\xc3\xab' AND",
        "selector: column 19: expected an expression after \"AND\"");
}

/* ---- hostile input ---- */

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    assert_non_null(s);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++) {
        memcpy(s + hl + i * ul, unit, ul);
    }
    memcpy(s + hl + ul * n, tail, tl + 1);
    return s;
}

/* (((...(b_true)...))) with @p n levels */
static char *nested(size_t n)
{
    char *open = repeat("", "(", n, "b_true");
    char *all = repeat(open, ")", n, "");
    free(open);
    return all;
}

static void test_deep_nesting_is_refused(void **state)
{
    (void)state;
    char *ok = nested(CUT_SELECTOR_MAX_DEPTH);
    T(ok);
    free(ok);
    char *deep = nested(10000);
    ERR(deep, "selector: column 257: nested deeper than 256 levels");
    free(deep);
}

static void test_long_prefix_operator_chains_are_refused(void **state)
{
    (void)state;
    char *minus = repeat("", "-", 1000, "1 = 1");
    ERR(minus, "selector: column 257: nested deeper than 256 levels");
    free(minus);
    char *nots = repeat("", "NOT ", 1000, "b_true");
    ERR(nots, "selector: column 1025: nested deeper than 256 levels");
    free(nots);
    char *even = repeat("", "NOT ", 200, "b_true");
    T(even);
    free(even);
}

static void test_long_arithmetic_chain_is_refused(void **state)
{
    (void)state;
    /* the tree of 1+1+...+1 is as tall as the chain is long */
    char *sum = repeat("1", "+1", 100, " = 101");
    T(sum);
    free(sum);
    char *tall = repeat("1", "+1", 1000, " = 1001");
    ERR(tall, "selector: column 1: nested deeper than 256 levels");
    free(tall);
}

static void test_long_or_chain_is_accepted(void **state)
{
    (void)state;
    /* AND and OR lists are one node, however long */
    size_t n = 3000; /* 55 KB of text */
    char *text = malloc(n * 24 + 16);
    assert_non_null(text);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        len += (size_t)sprintf(text + len, "%sv = 'x%zu'", i ? " OR " : "", i);
    }
    V("x2999", text, TRUE);
    V("y", text, FALSE);
    free(text);
    char *in = repeat("v IN ('a'", ", 'a'", 10000, ", 'z')");
    V("z", in, TRUE);
    free(in);
}

static void test_text_longer_than_the_limit_is_refused(void **state)
{
    (void)state;
    /* s_str = 'aaa...a' of exactly the limit, then one byte more */
    char *fits = repeat("s_str = '", "a", CUT_SELECTOR_MAX_LEN - 10, "'");
    assert_int_equal(strlen(fits), CUT_SELECTOR_MAX_LEN);
    F(fits);
    free(fits);
    char *big = repeat("s_str = '", "a", CUT_SELECTOR_MAX_LEN - 9, "'");
    ERR(big, "selector: longer than 65536 bytes");
    free(big);
}

static void test_pathological_like_patterns_are_fast(void **state)
{
    (void)state;
    /* exponential for a backtracking matcher; linear or n*m here */
    char *value = repeat("", "a", 200000, "");
    V(value, "v LIKE '%a%a%a%a%a%a%a%a%a%a%a%b'", FALSE);
    V(value, "v LIKE '%a_a_a_a_a_a_a_a_a_a_%b'", FALSE);
    V(value, "v LIKE 'a%a%a%a%a%a%a%a%a%a%a%a'", TRUE);
    char *long_pat = repeat("v LIKE '%", "a", 30000, "b'");
    V(value, long_pat, FALSE);
    free(long_pat);
    char *under_pat = repeat("v LIKE '%", "a_", 500, "b'");
    V(value, under_pat, FALSE);
    free(under_pat);
    char *percents = repeat("v LIKE '", "%", 30000, "b'");
    V(value, percents, FALSE);
    free(percents);
    free(value);
}

static void test_evaluation_does_not_allocate(void **state)
{
    (void)state;
    struct cut_msg msg = fixture();
    struct cut_selector *sel = NULL;
    assert_int_equal(
        cut_selector_compile("JMSType = 'car' AND s_str LIKE 'h%o' AND n_int BETWEEN 1 AND 100 "
                             "AND s_str IN ('a', 'hello') AND -n_int * 2.5 < d_dbl / 3",
                             &sel, NULL),
        CUT_OK);
    size_t before = allocations;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(cut_selector_eval(sel, &msg), CUT_TRI_TRUE);
    }
    assert_int_equal(allocations, before);
    cut_selector_destroy(sel);
}

static void test_failed_compile_leaves_the_error_and_no_selector(void **state)
{
    (void)state;
    struct cut_selector *sel = NULL;
    struct cut_err err = {0};
    assert_int_equal(cut_selector_compile("a =", &sel, &err), CUT_EINVAL);
    assert_null(sel);
    assert_int_equal(err.code, CUT_EINVAL);
    assert_int_equal(cut_selector_compile("a = 1", &sel, &err), CUT_OK);
    assert_non_null(sel);
    assert_int_equal(err.code, CUT_OK);
    cut_selector_destroy(sel);
    assert_int_equal(cut_selector_compile("a =", &sel, NULL), CUT_EINVAL);
}

/* ---- benchmark ---- */

static int bench(void)
{
    static const struct cut_prop props[] = {
        {.name = "region", .type = CUT_PROP_STRING, .v.s = STR("EU")},
        {.name = "color", .type = CUT_PROP_STRING, .v.s = STR("blue")},
        {.name = "weight", .type = CUT_PROP_INT, .v.i = 3000},
        {.name = "amount", .type = CUT_PROP_DOUBLE, .v.d = 512.25},
        {.name = "name", .type = CUT_PROP_STRING, .v.s = STR("order-000123")},
        {.name = "customer", .type = CUT_PROP_STRING, .v.s = STR("c-991")},
        {.name = "flag", .type = CUT_PROP_BOOL, .v.b = false},
        {.name = "retries", .type = CUT_PROP_SHORT, .v.i = 1},
        {.name = "source", .type = CUT_PROP_STRING, .v.s = STR("legacy-app")},
        {.name = "version", .type = CUT_PROP_LONG, .v.i = 7},
    };
    static const char *const selectors[] = {
        "JMSType = 'car' AND color = 'blue' AND weight > 2500",
        "region IN ('US', 'APAC', 'EU') AND JMSPriority >= 4",
        "name LIKE 'order-%3' AND amount BETWEEN 100 AND 1000",
        "NOT (flag = TRUE) OR missing IS NULL",
        "version * 2 + retries > 10 AND source <> 'test' AND customer LIKE 'c-%'",
    };
    struct cut_msg msg;
    cut_msg_init(&msg);
    msg.message_id = "ID:abc-1";
    msg.type = "car";
    msg.priority = 5;
    msg.props = props;
    msg.n_props = sizeof(props) / sizeof(props[0]);
    const long iterations = 2000000;
    for (size_t s = 0; s < sizeof(selectors) / sizeof(selectors[0]); s++) {
        struct cut_selector *sel = NULL;
        struct cut_err err = {0};
        if (cut_selector_compile(selectors[s], &sel, &err) != CUT_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        struct timespec t0, t1;
        volatile int selected = 0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < iterations; i++) {
            selected += cut_selector_match(sel, &msg);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                    (double)iterations;
        printf("%6.1f ns/eval  %s  [%s]\n", ns, selected ? "TRUE " : "FALSE", selectors[s]);
        cut_selector_destroy(sel);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        return bench();
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_literal_doubles_the_quote),
        cmocka_unit_test(test_exact_literals_use_java_syntax),
        cmocka_unit_test(test_exact_literals_cover_the_range_of_a_long),
        cmocka_unit_test(test_approximate_literals_use_java_syntax),
        cmocka_unit_test(test_float_suffix_rounds_to_float_precision),
        cmocka_unit_test(test_boolean_literals_are_case_insensitive),
        cmocka_unit_test(test_keywords_are_case_insensitive),
        cmocka_unit_test(test_identifiers_are_case_sensitive),
        cmocka_unit_test(test_identifiers_follow_java_rules),
        cmocka_unit_test(test_empty_selector_selects_everything),
        cmocka_unit_test(test_whitespace_is_java_whitespace),
        cmocka_unit_test(test_equality_on_each_type),
        cmocka_unit_test(test_ordering_comparisons),
        cmocka_unit_test(test_arithmetic_operators),
        cmocka_unit_test(test_exact_division_truncates_toward_zero),
        cmocka_unit_test(test_long_arithmetic_wraps_like_java),
        cmocka_unit_test(test_division_by_zero_is_unknown),
        cmocka_unit_test(test_and_binds_tighter_than_or),
        cmocka_unit_test(test_not_applies_to_the_whole_comparison),
        cmocka_unit_test(test_unary_minus_then_multiplication_then_addition),
        cmocka_unit_test(test_operators_of_one_level_group_left_to_right),
        cmocka_unit_test(test_arithmetic_binds_tighter_than_comparison),
        cmocka_unit_test(test_and_truth_table),
        cmocka_unit_test(test_or_truth_table),
        cmocka_unit_test(test_not_truth_table),
        cmocka_unit_test(test_comparison_with_null_is_unknown),
        cmocka_unit_test(test_arithmetic_with_null_is_null),
        cmocka_unit_test(test_is_null_and_is_not_null),
        cmocka_unit_test(test_match_is_true_only_for_true),
        cmocka_unit_test(test_like_underscore_is_one_character),
        cmocka_unit_test(test_like_percent_is_any_sequence_including_none),
        cmocka_unit_test(test_not_like_is_the_negation),
        cmocka_unit_test(test_like_escape_makes_wildcards_literal),
        cmocka_unit_test(test_like_edge_cases),
        cmocka_unit_test(test_like_with_null_identifier_is_unknown),
        cmocka_unit_test(test_like_on_a_non_string_is_false),
        cmocka_unit_test(test_in_is_true_for_a_listed_string),
        cmocka_unit_test(test_not_in_is_the_negation),
        cmocka_unit_test(test_in_with_null_identifier_is_unknown),
        cmocka_unit_test(test_in_on_a_non_string_is_false),
        cmocka_unit_test(test_between_includes_both_ends),
        cmocka_unit_test(test_not_between_is_outside_the_range),
        cmocka_unit_test(test_between_with_null_follows_its_two_comparisons),
        cmocka_unit_test(test_between_on_a_string_is_false),
        cmocka_unit_test(test_between_mixes_exact_and_approximate),
        cmocka_unit_test(test_header_identifiers_read_the_envelope),
        cmocka_unit_test(test_delivery_mode_non_persistent),
        cmocka_unit_test(test_absent_headers),
        cmocka_unit_test(test_other_jms_names_are_properties),
        cmocka_unit_test(test_comparing_unlike_types_is_false),
        cmocka_unit_test(test_ordering_strings_or_booleans_at_run_time_is_false),
        cmocka_unit_test(test_numeric_promotion_between_exact_and_approximate),
        cmocka_unit_test(test_every_integer_width_is_exact),
        cmocka_unit_test(test_unsupported_property_types_are_null),
        cmocka_unit_test(test_boolean_identifier_is_a_condition),
        cmocka_unit_test(test_non_boolean_identifier_as_condition_is_unknown),
        cmocka_unit_test(test_arithmetic_on_a_non_number_is_null),
        cmocka_unit_test(test_nan_compares_like_java),
        cmocka_unit_test(test_first_property_of_a_name_wins),
        cmocka_unit_test(test_error_expression_missing_after_operator),
        cmocka_unit_test(test_error_reserved_word_as_identifier),
        cmocka_unit_test(test_error_unclosed_parenthesis),
        cmocka_unit_test(test_error_lexical),
        cmocka_unit_test(test_error_malformed_numbers),
        cmocka_unit_test(test_error_predicates),
        cmocka_unit_test(test_error_trailing_tokens),
        cmocka_unit_test(test_error_types_the_text_shows),
        cmocka_unit_test(test_error_columns_count_characters),
        cmocka_unit_test(test_deep_nesting_is_refused),
        cmocka_unit_test(test_long_prefix_operator_chains_are_refused),
        cmocka_unit_test(test_long_arithmetic_chain_is_refused),
        cmocka_unit_test(test_long_or_chain_is_accepted),
        cmocka_unit_test(test_text_longer_than_the_limit_is_refused),
        cmocka_unit_test(test_pathological_like_patterns_are_fast),
        cmocka_unit_test(test_evaluation_does_not_allocate),
        cmocka_unit_test(test_failed_compile_leaves_the_error_and_no_selector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
