/*
 * What a cut-amqp091-check checker found: how often each seq was seen, the
 * mismatches of each message (the first 20 printed in full, all counted per
 * field), notes (counted, not failures), and the closing summary line.
 */
#ifndef CUT_AMQP091_REPORT_H
#define CUT_AMQP091_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#define REPORT_SHOW       20 /* mismatch lines shown at most... */
#define REPORT_SHOW_FIELD 4  /* ...and at most this many per field */
#define REPORT_FIELDS     64

struct report {
    const char *what; /* "queue=Q" or "topic=T" */
    long start, count;
    unsigned *seen; /* per seq - start */
    long read, foreign, mismatched;
    long shown;
    bool cur_bad; /* the message being checked has a mismatch */
    long cur_seq;
    const char *field_name[REPORT_FIELDS];
    long field_count[REPORT_FIELDS];
    const char *note_name[REPORT_FIELDS];
    long note_count[REPORT_FIELDS];
};

void report_init(struct report *r, const char *what, long start, long count);
/** Start checking the message of @p seq (counts it seen). */
void report_begin(struct report *r, long seq);
/** One mismatch of the current message; @p field names it (copied). */
void report_bad(struct report *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Count a noteworthy fact (@p what is copied). */
void report_note(struct report *r, const char *what);
void report_end(struct report *r);
long report_distinct(const struct report *r);
/** Print the findings and the summary line; return the exit status (0 or 1). */
int report_finish(struct report *r, bool allow_duplicates);

#endif
