/*
 * The converter interface: turns a source message into the record a sink
 * sends (destination, key, value, headers). converters/ provides instances;
 * the passthrough converter keeps the body as it is.
 *
 * Ownership: the record filled by convert() points into the message (body)
 * and into the converter's own buffers; it stays valid until the next
 * convert() on the same converter. A converter belongs to one flow thread.
 */
#ifndef CUTOVER_CONVERTER_H
#define CUTOVER_CONVERTER_H

#include "cutover/connector.h"
#include "cutover/msg.h"
#include "cutover/status.h"

struct cut_converter;

struct cut_converter_ops {
    const char *name;
    int (*create)(struct cut_converter **conv, const void *settings, struct cut_err *err);
    /** CUT_EINVAL means this message cannot be converted: dead-letter it. */
    int (*convert)(struct cut_converter *conv, const struct cut_msg *msg, struct cut_record *rec,
                   struct cut_err *err);
    void (*destroy)(struct cut_converter *conv); /**< accepts NULL */
};

/** Body unchanged; the message id (and the JMS headers present) as Kafka headers. */
extern const struct cut_converter_ops cut_passthrough_converter;

/** Names of the Kafka headers the converters write. */
#define CUT_HDR_MESSAGE_ID "message_id"

#endif
