/*
 * The deterministic AMQP 0-9-1 test message of one sequence number, for
 * cut-amqp091-check: every basic property and a headers table with every
 * field kind, computed from (prefix, seq, options) so that the publisher and
 * the checkers cannot disagree. What is varied and how it is checked:
 * amqp091_spec.c.
 */
#ifndef CUT_AMQP091_SPEC_H
#define CUT_AMQP091_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>

/** The publishing user: RabbitMQ refuses a user_id that is not the login's. */
#define SPEC_USER "guest"
/** Headers at most: the fixed ones plus the x_<n> series. */
#define SPEC_MAX_HEADERS 64

struct spec_opts {
    const char *prefix;
    bool no_large;   /* no 300 KB bodies (flows with a small message.max.bytes) */
    bool persistent; /* delivery_mode 2 for all (broker restart tests) */
};

struct spec {
    long seq;
    char id[160];
    amqp_basic_properties_t props; /* points into the buffers below */
    amqp_table_entry_t hdrs[SPEC_MAX_HEADERS];
    amqp_table_entry_t nested[2]; /* the h_table value */
    amqp_field_value_t array[2];  /* the h_array value */
    unsigned char bytes[8];       /* the h_bytes value */
    char content_type[64], content_encoding[32], correlation_id[200], reply_to[200];
    char expiration[32], type[64], app_id[200], cut_id[160], str[1200];
    char names[40][8]; /* x_<n> header names */
    unsigned char *body;
    size_t body_len;
};

/** Fill @p s for @p seq; spec_free() releases the body. */
void spec_make(struct spec *s, const struct spec_opts *o, long seq);
void spec_free(struct spec *s);

/** The seq of message id "<prefix>-<seq>" if it is in [start, start + count), else -1. */
long spec_parse_id(const void *id, size_t len, const char *prefix, long start, long count);

/** Whether a header of this kind is a nested table or array. */
bool spec_nested(uint8_t kind);

/** Two field values identical: same kind, same value (floats bit for bit), recursively. */
bool spec_field_equal(const amqp_field_value_t *a, const amqp_field_value_t *b);

/** Short text of a field value with its kind, for reports, in @p buf. */
const char *spec_field_text(const amqp_field_value_t *v, char *buf, size_t size);

#endif
