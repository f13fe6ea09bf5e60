/*
 * Loading mapping files (converters/mapping.h): every file of
 * tests/data/mappings/bad/ announces its errors in header lines
 *
 *   # expect: LINE: SUBSTRING
 *
 * and must produce exactly those, each as "FILE:LINE: ...SUBSTRING...". The
 * shipped examples (the YAML files of mappings/) must load and convert their samples, and
 * docs/mappings.md must hold the key reference generated from the loader's
 * tables, so the two cannot drift.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mapping.h"
#include "mapping_msg.h"

#ifndef MAPPING_DATA_DIR
#error "MAPPING_DATA_DIR, MAPPINGS_DIR and DOCS_DIR must be defined"
#endif

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    buf[size] = '\0';
    fclose(fp);
    if (len != NULL) {
        *len = (size_t)size;
    }
    return buf;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t list(const char *dir, const char *suffix, char **names, size_t max)
{
    size_t n = 0, sl = strlen(suffix);
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL && n < max;) {
        size_t len = strlen(e->d_name);
        if (len > sl && strcmp(e->d_name + len - sl, suffix) == 0) {
            names[n++] = strdup(e->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), by_name);
    return n;
}

static void check_bad_file(const char *dir, const char *name)
{
    char path[1024], prefix[1200];
    struct cut_cfg_errors errs = {0};
    struct cut_mapping *map = NULL;
    size_t n_expect = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *text = slurp(path, NULL);
    assert_non_null(text);
    int rc = cut_mapping_load(path, &map, &errs);
    if (rc != CUT_EINVAL || map != NULL) {
        fail_msg("%s: loaded (rc %d), expected errors", name, rc);
    }
    for (char *line = strtok(text, "\n"); line != NULL && strncmp(line, "# expect: ", 10) == 0;
         line = strtok(NULL, "\n")) {
        int at = atoi(line + 10);
        const char *part = strchr(line + 10, ':');
        assert_non_null(part);
        part += 2;
        snprintf(prefix, sizeof(prefix), "%s:%d: ", path, at);
        bool found = false;
        for (size_t i = 0; i < errs.n && !found; i++) {
            found = strncmp(errs.lines[i], prefix, strlen(prefix)) == 0 &&
                    strstr(errs.lines[i] + strlen(prefix) - 1, part) != NULL;
        }
        if (!found) {
            for (size_t i = 0; i < errs.n; i++) {
                print_error("  got: %s\n", errs.lines[i]);
            }
            fail_msg("%s: no error \"%s%s\"", name, prefix, part);
        }
        n_expect++;
    }
    if (n_expect == 0) {
        fail_msg("%s: no \"# expect: LINE: SUBSTRING\" header", name);
    }
    /* Two headers may match the same line (file then details): at most as many errors. */
    if (errs.n > n_expect || errs.n == 0) {
        for (size_t i = 0; i < errs.n; i++) {
            print_error("  got: %s\n", errs.lines[i]);
        }
        fail_msg("%s: %zu errors for %zu expected", name, errs.n, n_expect);
    }
    free(text);
    cut_cfg_errors_fini(&errs);
}

static void test_every_bad_mapping_reports_file_line_and_key(void **state)
{
    (void)state;
    char *names[128];
    size_t n = list(MAPPING_DATA_DIR "/bad", ".yaml", names, 128);
    assert_true(n >= 25);
    for (size_t i = 0; i < n; i++) {
        print_message("  bad/%s\n", names[i]);
        check_bad_file(MAPPING_DATA_DIR "/bad", names[i]);
        free(names[i]);
    }
}

/* Each shipped example loads, and its samples (mappings/samples/FLOW*.xml, with the
 * headers of FLOW*.headers) are sent. */
static void test_shipped_examples_load_and_convert_their_samples(void **state)
{
    (void)state;
    char *names[64], *samples[64];
    size_t n = list(MAPPINGS_DIR, ".yaml", names, 64);
    size_t n_samples = list(MAPPINGS_DIR "/samples", ".xml", samples, 64);
    size_t converted = 0;
    assert_true(n >= 2);
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        struct cut_cfg_errors errs = {0};
        struct cut_mapping *map = NULL;
        struct cut_converter *conv = NULL;
        struct cut_err err = {0};
        snprintf(path, sizeof(path), "%s/%s", MAPPINGS_DIR, names[i]);
        if (cut_mapping_load(path, &map, &errs) != CUT_OK) {
            for (size_t k = 0; k < errs.n; k++) {
                print_error("%s\n", errs.lines[k]);
            }
            fail_msg("%s does not load", path);
        }
        struct cut_mapping_settings settings = {.map = map, .topic = "t", .schema_id = 7};
        assert_int_equal(cut_mapping_converter.create(&conv, &settings, &err), CUT_OK);
        size_t stem = strlen(names[i]) - 5;
        for (size_t k = 0; k < n_samples; k++) {
            if (strncmp(samples[k], names[i], stem) != 0) {
                continue;
            }
            struct cut_mapping_msg m;
            struct cut_record rec;
            enum cut_verdict verdict;
            size_t len;
            json_t *json = NULL;
            int32_t id;
            cut_mapping_msg_init(&m);
            char *body = NULL;
            /* samples/NAME.headers: one NAME=VALUE a line, as for --header. */
            snprintf(path, sizeof(path), "%s/samples/%.*s.headers", MAPPINGS_DIR,
                     (int)(strlen(samples[k]) - 4), samples[k]);
            char *headers = slurp(path, NULL);
            for (char *line = headers ? strtok(headers, "\n") : NULL; line != NULL;
                 line = strtok(NULL, "\n")) {
                if (cut_mapping_msg_set_arg(&m, line, &err) != CUT_OK) {
                    fail_msg("%s: %s", path, err.msg);
                }
            }
            free(headers);
            snprintf(path, sizeof(path), "%s/samples/%s", MAPPINGS_DIR, samples[k]);
            body = slurp(path, &len);
            assert_non_null(body);
            m.msg.body = body;
            m.msg.body_len = len;
            assert_int_equal(cut_mapping_converter.convert(conv, &m.msg, &rec, &verdict, &err),
                             CUT_OK);
            if (verdict != CUT_VERDICT_SEND) {
                fail_msg("%s: verdict %d: %s", path, (int)verdict, err.msg);
            }
            if (cut_mapping_format(map) != CUT_MAPPING_PASSTHROUGH) {
                assert_int_equal(
                    cut_mapping_value_json(map, rec.value, rec.value_len, &json, &id, &err),
                    CUT_OK);
                json_decref(json);
            }
            converted++;
            free(body);
            cut_mapping_msg_fini(&m);
        }
        cut_mapping_converter.destroy(conv);
        cut_mapping_destroy(map);
        free(names[i]);
    }
    for (size_t k = 0; k < n_samples; k++) {
        free(samples[k]);
    }
    assert_true(converted >= 2);
}

static void test_docs_hold_the_generated_key_reference(void **state)
{
    (void)state;
    char *generated = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&generated, &size);
    assert_non_null(fp);
    cut_mapping_doc(fp);
    fclose(fp);
    char *docs = slurp(DOCS_DIR "/mappings.md", NULL);
    assert_non_null(docs);
    if (strstr(docs, generated) == NULL) {
        fail_msg("docs/mappings.md lacks the key reference; paste the output of "
                 "cut_mapping_doc() (test_mapping_load --doc):\n%s",
                 generated);
    }
    free(docs);
    free(generated);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--doc") == 0) {
        cut_mapping_doc(stdout);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_bad_mapping_reports_file_line_and_key),
        cmocka_unit_test(test_shipped_examples_load_and_convert_their_samples),
        cmocka_unit_test(test_docs_hold_the_generated_key_reference),
    };
    return cmocka_run_group_tests_name("mapping_load", tests, NULL, NULL);
}
