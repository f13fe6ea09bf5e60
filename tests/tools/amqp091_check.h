/* cut-amqp091-check's options, shared by its modes (cut_amqp091_check.c, amqp091_kafka.c). */
#ifndef CUT_AMQP091_CHECK_H
#define CUT_AMQP091_CHECK_H

#include <stdbool.h>

struct tool_opts {
    const char *url, *queue, *prefix, *dlx, *dlq;
    const char *bootstrap, *topic, *source_queue;
    long count, start, size, timeout;
    bool no_large, persistent, allow_duplicates, expiration_remaining;
};

/** check-kafka: the exit status (0 all there and as documented, 1 otherwise, 2 errors). */
int kafka_check(const struct tool_opts *o);

#endif
