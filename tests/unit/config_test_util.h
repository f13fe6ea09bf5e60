/*
 * Helpers shared by the config unit tests (test_config.c, test_settings.c):
 * YAML text written to a temporary file, and assertions on error lines.
 * One file at a time: write_yaml() reuses tmp_path, teardown_file() removes it.
 */
#ifndef CUTOVER_TEST_CONFIG_UTIL_H
#define CUTOVER_TEST_CONFIG_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cutover/config.h"

static char tmp_path[64];

static inline const char *write_yaml(const char *text)
{
    if (tmp_path[0] != '\0') {
        unlink(tmp_path); /* the previous file of the same test */
    }
    strcpy(tmp_path, "/tmp/cutover_test_XXXXXX.yaml");
    int fd = mkstemps(tmp_path, 5);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    return tmp_path;
}

static inline int teardown_file(void **state)
{
    (void)state;
    if (tmp_path[0] != '\0') {
        unlink(tmp_path);
        tmp_path[0] = '\0';
    }
    return 0;
}

/* Assert that one error line is exactly "FILE:LINE: rest". */
static inline void assert_error_line(const struct cut_cfg_errors *errs, size_t i, int line,
                                     const char *rest)
{
    char want[512];
    assert_true(i < errs->n);
    if (line > 0) {
        snprintf(want, sizeof(want), "%s:%d: %s", tmp_path, line, rest);
    } else {
        snprintf(want, sizeof(want), "%s: %s", tmp_path, rest);
    }
    assert_string_equal(errs->lines[i], want);
}

/* Assert that some error line starts with "FILE:LINE: " and contains @p part. */
static inline void assert_has_error(const struct cut_cfg_errors *errs, int line, const char *part)
{
    char prefix[128];
    snprintf(prefix, sizeof(prefix), "%s:%d: ", tmp_path, line);
    for (size_t i = 0; i < errs->n; i++) {
        if (strncmp(errs->lines[i], prefix, strlen(prefix)) == 0 &&
            strstr(errs->lines[i], part) != NULL) {
            return;
        }
    }
    for (size_t i = 0; i < errs->n; i++) {
        print_error("  have: %s\n", errs->lines[i]);
    }
    fail_msg("no error \"%s...%s\"", prefix, part);
}

#endif
