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
    /**
     * Optional (NULL: the flow has no dead-letter destination of its own, and
     * the source's refusal sends the message to the broker's dead-letter
     * queue). Build what dead-letters @p msg, read from @p source, for
     * @p reason: *rec, the Kafka record (original body, envelope headers and
     * the reason; rec->dest is the dead-letter topic), and *legacy, the
     * message for the legacy dead-letter queue (*legacy_queue). Returns which
     * of them the flow has: CUT_DL_KAFKA | CUT_DL_LEGACY. Everything stays
     * valid until the next call on @p conv.
     */
    unsigned (*dead_letter)(struct cut_converter *conv, const struct cut_msg *msg,
                            const char *source, const char *reason, struct cut_record *rec,
                            struct cut_msg *legacy, const char **legacy_queue);
    void (*destroy)(struct cut_converter *conv); /**< accepts NULL */
};

#define CUT_DL_KAFKA  1u
#define CUT_DL_LEGACY 2u

/** Body unchanged; the message id (and the JMS headers present) as Kafka headers. */
extern const struct cut_converter_ops cut_passthrough_converter;

/** Names of the Kafka headers the converters write. */
#define CUT_HDR_MESSAGE_ID "message_id"

#endif
