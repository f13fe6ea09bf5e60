/*
 * The message envelope: the one in-memory message type that every source
 * produces and every sink and converter consumes.
 *
 * Ownership: a source fills a struct cut_msg whose pointers are BORROWED from
 * the source's own buffers; they stay valid until the next call to fetch() on
 * the same source, or until the source is closed. A sink or converter that
 * needs the data later copies it (the Kafka sink hands librdkafka a copy).
 * This keeps the message path free of per-message allocations.
 *
 * Units are normalised at the boundary: times are milliseconds since the Unix
 * epoch, 0 meaning "absent"; strings are NUL-terminated, NULL meaning
 * "absent".
 */
#ifndef CUTOVER_MSG_H
#define CUTOVER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Source-defined handle that names a delivery for settle(); opaque to the rest. */
typedef uint64_t cut_token_t;

enum cut_prop_type {
    CUT_PROP_NULL,
    CUT_PROP_BOOL,
    CUT_PROP_INT, /**< any signed integer up to 64 bits */
    CUT_PROP_DOUBLE,
    CUT_PROP_STRING,
    CUT_PROP_BYTES,
};

/** One application property (JMS property, AMQP 0-9-1 header). Borrowed. */
struct cut_prop {
    const char *name;
    enum cut_prop_type type;
    union {
        bool b;
        int64_t i;
        double d;
        struct {
            const char *ptr; /**< NUL-terminated for CUT_PROP_STRING */
            size_t len;
        } s;
    } v;
};

struct cut_msg {
    const void *body; /**< body bytes, borrowed */
    size_t body_len;

    const char *message_id; /**< stable id; never NULL once fetched */
    const char *correlation_id;
    const char *content_type;
    const char *type; /**< JMSType / AMQP 0-9-1 type */
    int priority;     /**< 0..9, -1 when absent */
    bool durable;
    int64_t timestamp_ms;    /**< creation time */
    int64_t expiry_ms;       /**< absolute expiry */
    uint32_t delivery_count; /**< 0 on first delivery; 1 when only "redelivered" is known */

    const struct cut_prop *props; /**< application properties, borrowed */
    size_t n_props;

    cut_token_t token; /**< pass back to the source's settle() */
};

#endif
