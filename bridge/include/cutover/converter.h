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

/** What the flow does with a message after conversion. */
enum cut_verdict {
    CUT_VERDICT_SEND,        /**< send the record */
    CUT_VERDICT_FILTERED,    /**< the flow's filter does not select it: not for Kafka (counted) */
    CUT_VERDICT_EXPIRED,     /**< expired and the flow drops expired messages (counted) */
    CUT_VERDICT_DEAD_LETTER, /**< cannot be converted, or expired and dead-lettered; err says why */
};

struct cut_converter_ops {
    const char *name;
    /** @p settings is the converter's own (a loaded mapping, say); borrowed for its life. */
    int (*create)(struct cut_converter **conv, const void *settings, struct cut_err *err);
    /**
     * Decide and convert. Returns CUT_OK with *verdict set (rec is filled only
     * for CUT_VERDICT_SEND; err holds the reason for DEAD_LETTER), or a
     * negative status for a failure of the converter itself (CUT_ENOMEM,
     * CUT_ERETRY when the schema registry cannot be reached).
     */
    int (*convert)(struct cut_converter *conv, const struct cut_msg *msg, struct cut_record *rec,
                   enum cut_verdict *verdict, struct cut_err *err);
    void (*destroy)(struct cut_converter *conv); /**< accepts NULL */
};

/** Body unchanged; the message id (and the JMS headers present) as Kafka headers. */
extern const struct cut_converter_ops cut_passthrough_converter;

/** Names of the Kafka headers the converters write. */
#define CUT_HDR_MESSAGE_ID "message_id"

#endif
