/* The checkers' report (see amqp091_report.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp091_report.h"

void report_init(struct report *r, const char *what, long start, long count)
{
    memset(r, 0, sizeof(*r));
    r->what = what;
    r->start = start;
    r->count = count;
    r->seen = calloc((size_t)count, sizeof(*r->seen));
    if (r->seen == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
}

void report_begin(struct report *r, long seq)
{
    r->seen[seq - r->start]++;
    r->cur_seq = seq;
    r->cur_bad = false;
}

/* Count one more @p name; returns its new count. */
static long bump(const char **names, long *counts, const char *name)
{
    for (int i = 0; i < REPORT_FIELDS; i++) {
        if (names[i] == NULL) {
            names[i] = strdup(name); /* kept until exit: few distinct names */
            return names[i] != NULL ? ++counts[i] : 0;
        }
        if (strcmp(names[i], name) == 0) {
            return ++counts[i];
        }
    }
    return 0;
}

void report_bad(struct report *r, const char *field, const char *fmt, ...)
{
    if (!r->cur_bad) {
        r->cur_bad = true;
        r->mismatched++;
    }
    if (bump(r->field_name, r->field_count, field) > REPORT_SHOW_FIELD || r->shown >= REPORT_SHOW) {
        return;
    }
    r->shown++;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "mismatch: seq %ld: %s: %s\n", r->cur_seq, field, line);
}

void report_note(struct report *r, const char *what)
{
    bump(r->note_name, r->note_count, what);
}

void report_end(struct report *r)
{
    (void)r;
}

long report_distinct(const struct report *r)
{
    long d = 0;
    for (long i = 0; i < r->count; i++) {
        d += r->seen[i] > 0;
    }
    return d;
}

int report_finish(struct report *r, bool allow_duplicates)
{
    long distinct = report_distinct(r), dups = 0, shown = 0;
    for (long i = 0; i < r->count; i++) {
        dups += r->seen[i] > 1 ? r->seen[i] - 1 : 0;
    }
    if (r->mismatched > r->shown) {
        fprintf(stderr, "mismatch: ... (at most %d shown per field, %d in all)\n",
                REPORT_SHOW_FIELD, REPORT_SHOW);
    }
    for (int i = 0; i < REPORT_FIELDS && r->field_name[i]; i++) {
        fprintf(stderr, "mismatched field %s: %ld messages\n", r->field_name[i], r->field_count[i]);
    }
    for (int i = 0; i < REPORT_FIELDS && r->note_name[i]; i++) {
        fprintf(stderr, "note: %s: %ld\n", r->note_name[i], r->note_count[i]);
    }
    if (distinct < r->count) {
        fprintf(stderr, "missing seqs:");
        for (long i = 0; i < r->count && shown < REPORT_SHOW; i++) {
            if (r->seen[i] == 0) {
                fprintf(stderr, " %ld", r->start + i);
                shown++;
            }
        }
        fprintf(stderr, "%s\n", r->count - distinct > shown ? " ..." : "");
    }
    if (dups > 0) {
        shown = 0;
        fprintf(stderr, "duplicate seqs:");
        for (long i = 0; i < r->count && shown < REPORT_SHOW; i++) {
            if (r->seen[i] > 1) {
                fprintf(stderr, " %ld(x%u)", r->start + i, r->seen[i]);
                shown++;
            }
        }
        fprintf(stderr, "\n");
    }
    printf("%s expected=%ld read=%ld distinct=%ld missing=%ld duplicates=%ld foreign=%ld "
           "mismatched=%ld\n",
           r->what, r->count, r->read, distinct, r->count - distinct, dups, r->foreign,
           r->mismatched);
    int rc = distinct == r->count && (allow_duplicates || dups == 0) && r->mismatched == 0 ? 0 : 1;
    free(r->seen);
    r->seen = NULL;
    return rc;
}
