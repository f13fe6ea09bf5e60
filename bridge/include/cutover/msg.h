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

/**
 * Property and annotation value types. The widths are kept so that a JMS
 * property written with setByteProperty() comes back as a byte on the other
 * side (JMS 1.1 section 3.5.4; AMQP 1.0 and AMQP 0-9-1 both carry them).
 */
enum cut_prop_type {
    CUT_PROP_NULL,
    CUT_PROP_BOOL,
    CUT_PROP_BYTE,      /**< int8, in v.i */
    CUT_PROP_SHORT,     /**< int16, in v.i */
    CUT_PROP_INT,       /**< int32, in v.i */
    CUT_PROP_LONG,      /**< int64, in v.i */
    CUT_PROP_FLOAT,     /**< in v.d */
    CUT_PROP_DOUBLE,    /**< in v.d */
    CUT_PROP_STRING,    /**< UTF-8, in v.s, NUL-terminated */
    CUT_PROP_BYTES,     /**< in v.s */
    CUT_PROP_UUID,      /**< 16 bytes in v.s (AMQP 1.0 only) */
    CUT_PROP_SYMBOL,    /**< ASCII, in v.s (AMQP 1.0 annotations) */
    CUT_PROP_TIMESTAMP, /**< ms since the epoch, in v.i (AMQP 1.0 / 0-9-1 timestamp) */
};

/** One typed property (JMS property, AMQP 0-9-1 header, AMQP 1.0 annotation). Borrowed. */
struct cut_prop {
    const char *name;
    enum cut_prop_type type;
    union {
        bool b;
        int64_t i;
        double d;
        struct {
            const char *ptr;
            size_t len;
        } s;
    } v;
};

/**
 * Body kinds, numbered as the AMQP JMS mapping's x-opt-jms-msg-type
 * annotation so that they cross AMQP 1.0 unchanged.
 */
enum cut_body_kind {
    CUT_BODY_MESSAGE = 0, /**< a plain Message: no body */
    CUT_BODY_OBJECT = 1,  /**< serialized Java object, opaque bytes */
    CUT_BODY_MAP = 2,     /**< MapMessage: body holds an AMQP 1.0 encoded map (amqp-value) */
    CUT_BODY_BYTES = 3,   /**< BytesMessage, or any AMQP 0-9-1 body */
    CUT_BODY_STREAM = 4,  /**< StreamMessage: body holds an AMQP 1.0 encoded list */
    CUT_BODY_TEXT = 5,    /**< TextMessage: UTF-8 text */
};

/**
 * How an id (message id, correlation id) was typed on the wire. The text in
 * the envelope is canonical: strings as they are (JMS "ID:" prefix
 * included when the sender put it there), uuid as 8-4-4-4-12 lower-case hex,
 * ulong in decimal, binary in lower-case hex. The type lets an AMQP 1.0 sink
 * restore the original.
 */
/* CUT_ID_NONE with a non-NULL message_id means "synthesized by the source (the
 * message carried no id), not on the wire": sinks do not write it. */
enum cut_id_type { CUT_ID_NONE, CUT_ID_STRING, CUT_ID_UUID, CUT_ID_ULONG, CUT_ID_BINARY };

/** JMS destination kinds, numbered as the x-opt-jms-dest / x-opt-jms-reply-to annotations. */
enum cut_dest_type {
    CUT_DEST_NONE = -1,
    CUT_DEST_QUEUE = 0,
    CUT_DEST_TOPIC = 1,
    CUT_DEST_TEMP_QUEUE = 2,
    CUT_DEST_TEMP_TOPIC = 3,
};

struct cut_msg {
    const void *body; /**< body bytes, borrowed; see body_kind */
    size_t body_len;
    enum cut_body_kind body_kind;

    const char *message_id; /**< stable id; never NULL once fetched */
    enum cut_id_type message_id_type;
    const char *correlation_id;
    enum cut_id_type correlation_id_type;
    const char *content_type;
    const char *content_encoding;
    const char *type; /**< JMSType: AMQP 1.0 subject, AMQP 0-9-1 type */
    const char *user_id;
    const char *destination; /**< JMSDestination: AMQP 1.0 to, AMQP 0-9-1 routing key */
    enum cut_dest_type destination_type;
    const char *reply_to; /**< JMSReplyTo address */
    enum cut_dest_type reply_to_type;
    const char *group_id;    /**< JMSXGroupID */
    int64_t group_seq;       /**< JMSXGroupSeq, -1 when absent */
    int priority;            /**< 0..9, -1 when absent */
    bool durable;            /**< JMSDeliveryMode PERSISTENT */
    int64_t ttl_ms;          /**< time to live as sent, 0 when absent */
    int64_t expiry_ms;       /**< JMSExpiration: absolute, 0 when absent */
    int64_t timestamp_ms;    /**< JMSTimestamp: creation time, 0 when absent */
    uint32_t delivery_count; /**< 0 on first delivery; JMSRedelivered is delivery_count > 0 */

    const struct cut_prop *props; /**< application properties, borrowed */
    size_t n_props;
    const struct cut_prop *annotations; /**< AMQP 1.0 message annotations (x-opt-*), borrowed */
    size_t n_annotations;

    cut_token_t token; /**< pass back to the source's settle() */
};

/** Reset @p msg to "nothing present" (ids NULL, priority and group_seq -1, ...). */
void cut_msg_init(struct cut_msg *msg);

/** The property named @p name, or NULL. */
const struct cut_prop *cut_msg_prop(const struct cut_msg *msg, const char *name);

/** Static lower-case name of a property type ("int", "string", ...). */
const char *cut_prop_type_name(enum cut_prop_type type);

#endif
