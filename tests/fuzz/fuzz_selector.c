/*
 * libFuzzer target for JMS selectors (converters/selector.h), built and run
 * by tests/fuzz/run with clang -fsanitize=fuzzer,address,undefined.
 *
 * Input: the selector text, optionally followed by a NUL, a LIKE pattern, a
 * NUL and a subject. Checks, beyond "no crash, no leak, no undefined
 * behaviour":
 *   - a failed compile is CUT_EINVAL (or CUT_ENOMEM) with a "selector: "
 *     message and leaves the output pointer alone;
 *   - evaluation gives one of the three truth values, match() agrees with it,
 *     and NOT (text) gives its SQL negation;
 *   - the LIKE matcher agrees with a dynamic-programming reference.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selector_int.h"

#define STR(s)                                                                                     \
    {                                                                                              \
        .ptr = (s), .len = sizeof(s) - 1                                                           \
    }

/* Short names, so that mutations hit them; one of every property type. */
static const struct cut_prop props[] = {
    {.name = "a", .type = CUT_PROP_INT, .v.i = 42},
    {.name = "b", .type = CUT_PROP_BOOL, .v.b = true},
    {.name = "c", .type = CUT_PROP_BOOL, .v.b = false},
    {.name = "d", .type = CUT_PROP_DOUBLE, .v.d = 2.5},
    {.name = "f", .type = CUT_PROP_FLOAT, .v.d = 1.5},
    {.name = "l", .type = CUT_PROP_LONG, .v.i = INT64_MIN},
    {.name = "m", .type = CUT_PROP_LONG, .v.i = -1},
    {.name = "z", .type = CUT_PROP_INT, .v.i = 0},
    {.name = "s", .type = CUT_PROP_STRING, .v.s = STR("hello")},
    {.name = "t", .type = CUT_PROP_STRING, .v.s = STR("Zo\xc3\xab_%\xe2\x82\xac")},
    {.name = "u", .type = CUT_PROP_STRING, .v.s = STR("\xc3\x28\x80\xff")}, /* not UTF-8 */
    {.name = "e", .type = CUT_PROP_STRING, .v.s = STR("")},
    {.name = "x", .type = CUT_PROP_BYTES, .v.s = STR("\x00\x01")},
    {.name = "n", .type = CUT_PROP_NULL},
    {.name = "y", .type = CUT_PROP_SHORT, .v.i = -7},
    {.name = "w", .type = CUT_PROP_BYTE, .v.i = 127},
};

static struct cut_msg fixed_message(void)
{
    struct cut_msg msg;
    cut_msg_init(&msg);
    msg.message_id = "ID:1";
    msg.type = "car";
    msg.priority = 7;
    msg.durable = true;
    msg.timestamp_ms = 1700000000123;
    msg.group_id = "g";
    msg.group_seq = 1;
    msg.delivery_count = 3;
    msg.props = props;
    msg.n_props = sizeof(props) / sizeof(props[0]);
    return msg;
}

static enum cut_tri tri_not(enum cut_tri t)
{
    return t == CUT_TRI_UNKNOWN ? t : t == CUT_TRI_TRUE ? CUT_TRI_FALSE : CUT_TRI_TRUE;
}

static void check_selector(const char *text, size_t len)
{
    static const struct cut_msg empty = {.priority = -1, .group_seq = -1};
    struct cut_msg msg = fixed_message();
    struct cut_selector *sel = (struct cut_selector *)&sel;
    struct cut_err err = {0};
    int rc = cut_selector_compile(text, &sel, &err);
    if (rc != CUT_OK) {
        if ((rc != CUT_EINVAL && rc != CUT_ENOMEM) || err.code != rc ||
            strncmp(err.msg, "selector: ", 10) != 0 || sel != (struct cut_selector *)&sel) {
            fprintf(stderr, "bad failure %d \"%s\"\n", rc, err.msg);
            abort();
        }
        return;
    }
    enum cut_tri t = cut_selector_eval(sel, &msg);
    if ((unsigned)t > CUT_TRI_UNKNOWN || cut_selector_match(sel, &msg) != (t == CUT_TRI_TRUE)) {
        abort();
    }
    (void)cut_selector_eval(sel, &empty);
    cut_selector_destroy(sel);

    /* a valid selector stays one expression inside NOT ( ... ) */
    char *negated = malloc(len + 8);
    if (negated == NULL) {
        return;
    }
    snprintf(negated, len + 8, "NOT (%s)", text);
    if (cut_selector_compile(negated, &sel, NULL) == CUT_OK) {
        if (cut_selector_eval(sel, &msg) != tri_not(t)) {
            fprintf(stderr, "NOT (%s) is not the negation\n", text);
            abort();
        }
        cut_selector_destroy(sel);
    }
    free(negated);
}

/* Reference LIKE without escape: dp over (pattern position, subject byte). */
static bool like_reference(const unsigned char *p, size_t m, const unsigned char *s, size_t n)
{
    /* ok[j]: the pattern suffix from the current position matches s[j..] */
    bool *ok = calloc(n + 1, sizeof(*ok)), *next = calloc(n + 1, sizeof(*next));
    if (ok == NULL || next == NULL) {
        free(ok);
        free(next);
        return false;
    }
    ok[n] = true; /* the empty pattern matches the empty rest */
    /* walk the pattern backwards, one token (byte, '_' or '%') at a time */
    for (size_t i = m; i-- > 0;) {
        for (size_t j = n + 1; j-- > 0;) {
            size_t step = j < n ? sel_utf8_len(s + j, n - j) : 0;
            if (p[i] == '%') {
                next[j] = ok[j] || (j < n && next[j + step]);
            } else if (p[i] == '_') {
                next[j] = j < n && ok[j + step];
            } else {
                next[j] = j < n && s[j] == p[i] && ok[j + 1];
            }
        }
        bool *swap = ok;
        ok = next;
        next = swap;
    }
    /* only character boundaries reached from 0 count; 0 is one */
    bool match = ok[0];
    free(ok);
    free(next);
    return match;
}

static void check_like(const unsigned char *pat, size_t m, const unsigned char *s, size_t n)
{
    if (m > 64 || n > 256 || sel_utf8_check((const char *)pat, m) != m) {
        return; /* patterns come from valid selector text; keep the reference cheap */
    }
    struct sel_arena arena = {0};
    const struct sel_like *like = NULL;
    struct sel_str str = {.ptr = (const char *)pat, .len = m};
    if (sel_like_compile(&arena, str, NULL, &like) == CUT_OK) {
        bool got = sel_like_match(like, (const char *)s, n);
        if (got != like_reference(pat, m, s, n)) {
            fprintf(stderr, "LIKE '%.*s' on '%.*s': %d\n", (int)m, pat, (int)n, s, got);
            abort();
        }
    }
    sel_arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text);
    check_selector(text, len);
    if (len < size) {
        const unsigned char *pat = data + len + 1;
        size_t rest = size - len - 1;
        const unsigned char *nul = memchr(pat, 0, rest);
        size_t m = nul ? (size_t)(nul - pat) : rest;
        const unsigned char *s = nul ? nul + 1 : pat + rest;
        check_like(pat, m, s, (size_t)(data + size - s));
    }
    free(text);
    return 0;
}
