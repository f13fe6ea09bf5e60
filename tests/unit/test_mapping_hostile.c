/*
 * The hostile and malformed XML corpus (RELIABILITY.md, "Untrusted input"):
 * every document of tests/data/mappings/hostile/ and the large ones made
 * here (deep nesting, a huge text node, huge names, many attributes, a wide
 * document) goes through the mapping converter. Each one must be
 * dead-lettered with its reason, none may crash, and none may take more
 * than a second (a generous bound: the times are printed, and are
 * microseconds to milliseconds).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mapping.h"
#include "mapping_msg.h"

#ifndef MAPPING_DATA_DIR
#error "MAPPING_DATA_DIR must name tests/data/mappings"
#endif

#define HOSTILE_DIR MAPPING_DATA_DIR "/hostile"
#define MAX_SECONDS 1.0
#define DEFAULT_MAX (1024 * 1024)

struct fixture {
    struct cut_mapping *map;
    struct cut_converter *conv;
    double worst;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup(void **state)
{
    static struct fixture fx;
    struct cut_cfg_errors errs = {0};
    struct cut_err err = {0};
    if (cut_mapping_load(HOSTILE_DIR "/mapping.yaml", &fx.map, &errs) != CUT_OK) {
        for (size_t i = 0; i < errs.n; i++) {
            fprintf(stderr, "%s\n", errs.lines[i]);
        }
        return -1;
    }
    struct cut_mapping_settings settings = {.map = fx.map, .flow = "hostile", .schema_id = 1};
    if (cut_mapping_converter.create(&fx.conv, &settings, &err) != CUT_OK) {
        return -1;
    }
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    print_message("worst case: %.3f ms\n", fx->worst * 1e3);
    cut_mapping_converter.destroy(fx->conv);
    cut_mapping_destroy(fx->map);
    return 0;
}

/* Convert @p body; it must be dead-lettered with @p want in the reason, in time. */
static void refuse(struct fixture *fx, const char *name, const void *body, size_t len,
                   const char *want)
{
    struct cut_mapping_msg m;
    struct cut_err err = {0};
    struct cut_record rec;
    enum cut_verdict verdict;

    cut_mapping_msg_init(&m);
    m.msg.body = body;
    m.msg.body_len = len;
    double t0 = now_s();
    assert_int_equal(cut_mapping_converter.convert(fx->conv, &m.msg, &rec, &verdict, &err), CUT_OK);
    double dt = now_s() - t0;
    if (dt > fx->worst) {
        fx->worst = dt;
    }
    print_message("%-26s %10zu bytes %9.3f ms  %s\n", name, len, dt * 1e3, err.msg);
    if (verdict != CUT_VERDICT_DEAD_LETTER) {
        fail_msg("%s: not dead-lettered (verdict %d)", name, (int)verdict);
    }
    if (strstr(err.msg, want) == NULL) {
        fail_msg("%s: reason \"%s\" lacks \"%s\"", name, err.msg, want);
    }
    if (dt > MAX_SECONDS) {
        fail_msg("%s: took %.3f s, more than %.1f s", name, dt, MAX_SECONDS);
    }
    cut_mapping_msg_fini(&m);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    buf[size] = '\0';
    fclose(fp);
    *len = (size_t)size;
    return buf;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_every_stored_hostile_document_is_dead_lettered(void **state)
{
    struct fixture *fx = *state;
    char *names[128];
    size_t n = 0;
    DIR *d = opendir(HOSTILE_DIR);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL && n < 128;) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".xml") == 0) {
            names[n++] = strndup(e->d_name, len - 4);
        }
    }
    closedir(d);
    assert_true(n >= 20);
    qsort(names, n, sizeof(names[0]), by_name);
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        size_t len, rlen;
        snprintf(path, sizeof(path), "%s/%s.xml", HOSTILE_DIR, names[i]);
        char *body = slurp(path, &len);
        snprintf(path, sizeof(path), "%s/%s.reason", HOSTILE_DIR, names[i]);
        char *want = slurp(path, &rlen);
        want[strcspn(want, "\n")] = '\0';
        refuse(fx, names[i], body, len, want);
        free(want);
        free(body);
        free(names[i]);
    }
}

/* A buffer of @p n bytes made of @p head, @p fill repeated, @p tail. */
static char *make(const char *head, const char *fill, const char *tail, size_t n, size_t *len)
{
    size_t h = strlen(head), f = strlen(fill), t = strlen(tail);
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    memcpy(buf, head, h);
    size_t at = h;
    while (at + f + t <= n) {
        memcpy(buf + at, fill, f);
        at += f;
    }
    memcpy(buf + at, tail, t);
    at += t;
    buf[at] = '\0';
    *len = at;
    return buf;
}

static void test_ten_thousand_levels_are_refused_by_depth(void **state)
{
    struct fixture *fx = *state;
    size_t n = 10000, len = 0;
    char *buf = malloc(n * 7 + 64);
    assert_non_null(buf);
    len += (size_t)sprintf(buf, "<order id=\"1\">");
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + len, "<a>", 3);
        len += 3;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + len, "</a>", 4);
        len += 4;
    }
    len += (size_t)sprintf(buf + len, "</order>");
    refuse(fx, "deep_10000", buf, len, "XML refused: elements nested too deep (the limit is 64");
    /* Unclosed: the parser must stop at the limit, not at the end. */
    refuse(fx, "deep_unclosed_100000", buf, 3 * 10000, "nested too deep");
    free(buf);
}

static void test_fifty_megabyte_text_is_refused_before_parsing(void **state)
{
    struct fixture *fx = *state;
    size_t len;
    char *buf = make("<order id=\"1\"><note>", "xxxxxxxxxxxxxxxx", "</note></order>",
                     50 * 1024 * 1024, &len);
    refuse(fx, "text_50MB", buf, len, "is larger than the limit of 1048576");
    free(buf);
}

static void test_large_documents_within_the_limit_stay_fast(void **state)
{
    struct fixture *fx = *state;
    size_t len;
    /* A name of almost a megabyte: beyond libxml2's own limit on names. */
    char *buf =
        make("<order id=\"1\"><n", "nnnnnnnnnnnnnnnn", "/></order>", DEFAULT_MAX - 16, &len);
    refuse(fx, "name_1MB", buf, len, "XML not well-formed");
    free(buf);
    /* Tens of thousands of attributes on one element: libxml2 2.9 checks them
     * for duplicates pairwise (17 s for this one), so the scan before parsing
     * refuses it. */
    buf = malloc(DEFAULT_MAX);
    assert_non_null(buf);
    len = (size_t)sprintf(buf, "<order id=\"1\"><line");
    for (int i = 0; len + 32 < DEFAULT_MAX - 32; i++) {
        len += (size_t)sprintf(buf + len, " a%d=\"\"", i);
    }
    len += (size_t)sprintf(buf + len, "/></order>");
    refuse(fx, "attributes_1MB", buf, len, "XML refused: an element has more than 256 attributes");
    free(buf);
    /* A wide document: 100 000 sibling elements, all matched by //line. */
    buf = make("<order id=\"1\">", "<line/>", "</order>", DEFAULT_MAX - 16, &len);
    refuse(fx, "wide_1MB", buf, len, "field lines[0].sku");
    free(buf);
    /* Character references by the hundred thousand. */
    buf = make("<order id=\"1\"><note>", "&#x1F600;", "</note><line/></order>", DEFAULT_MAX - 16,
               &len);
    refuse(fx, "char_refs_1MB", buf, len, "field lines[0].sku");
    free(buf);
    /* Many distinct names: grows the parser's dictionary, which is then rebuilt. */
    buf = malloc(DEFAULT_MAX);
    assert_non_null(buf);
    len = (size_t)sprintf(buf, "<order id=\"1\">");
    for (int i = 0; len + 64 < DEFAULT_MAX - 32; i++) {
        len += (size_t)sprintf(buf + len, "<e%d/>", i);
    }
    len += (size_t)sprintf(buf + len, "<line/></order>");
    refuse(fx, "distinct_names_1MB", buf, len, "field lines[0].sku");
    refuse(fx, "distinct_names_again", buf, len, "field lines[0].sku");
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_stored_hostile_document_is_dead_lettered),
        cmocka_unit_test(test_ten_thousand_levels_are_refused_by_depth),
        cmocka_unit_test(test_fifty_megabyte_text_is_refused_before_parsing),
        cmocka_unit_test(test_large_documents_within_the_limit_stay_fast),
    };
    return cmocka_run_group_tests_name("mapping_hostile", tests, setup, teardown);
}
