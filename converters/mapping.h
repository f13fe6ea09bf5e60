/*
 * Mappings: how one flow turns a legacy JMS message (an XML body plus JMS
 * headers and properties) into a Kafka record. One YAML file per flow, next
 * to its Avro schema; docs/mappings.md is the reference of the format.
 *
 *   cut_mapping_load()       reads and checks the file and its schema (every
 *                            error "FILE:LINE: KEY: message"), compiles the
 *                            XPath expressions and the filter once
 *   cut_mapping_converter    the converter (bridge/include/cutover/converter.h)
 *                            whose settings are a struct cut_mapping_settings
 *   cut_mapping_dead_letter_*  what the flow needs to dead-letter a message
 *
 * What convert() does with one message, in this order:
 *   1. expiry: JMSExpiration in the past -> CUT_VERDICT_EXPIRED (action drop)
 *      or CUT_VERDICT_DEAD_LETTER (action dead_letter); never sent on
 *   2. filter: the JMS selector does not select it -> CUT_VERDICT_FILTERED
 *   3. the XML body is parsed with the limits of converters/xml_safe.h
 *   4. value: avro (Confluent wire format: magic 0, schema id, Avro binary),
 *      json (one JSON object, same fields and rendering as avro_json.h), or
 *      passthrough (the body's bytes unchanged)
 *   5. key, headers (the message id always), topic (lane by priority)
 * Any failure of 3-5 caused by the message is CUT_VERDICT_DEAD_LETTER with
 * a precise reason in err ("field lines[2].qty: cannot convert \"x\" to int").
 * For CUT_VERDICT_EXPIRED and CUT_VERDICT_FILTERED, err->msg says why too
 * (with err->code CUT_OK), for logs and `cutover convert`.
 *
 * Ownership and threads: a loaded mapping is read-only, but its compiled
 * XPath expressions are evaluated by the converter: give each mapping to one
 * converter (one flow thread) at a time. Load it on the main thread (it
 * initialises libxml2 and installs the refusing external entity loader,
 * which is process-wide). The record filled by convert() points into the
 * converter's buffers and the message; valid until the next convert().
 */
#ifndef CUTOVER_MAPPING_H
#define CUTOVER_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cutover/config.h"
#include "cutover/converter.h"
#include "cutover/msg.h"
#include "cutover/status.h"
#include "jms_headers.h"

struct cut_mapping;
struct cut_registry;
struct cut_avsc;

enum cut_mapping_format {
    CUT_MAPPING_AVRO,        /**< Confluent wire format + Avro binary */
    CUT_MAPPING_JSON,        /**< one JSON object */
    CUT_MAPPING_PASSTHROUGH, /**< the body unchanged */
};

/** Where a flow's unconvertible messages go. Both NULL when the mapping names none. */
struct cut_mapping_dead_letter {
    const char *topic; /**< Kafka topic, or NULL */
    const char *queue; /**< legacy queue, or NULL */
};

/**
 * Load the mapping file @p path and the schema it names (relative to the
 * file). Every problem is appended to @p errs as "FILE:LINE: KEY: message"
 * (schema problems name the mapping line of `schema:` and the schema file).
 * Checks that every field the schema requires is mapped or has a default.
 *
 * @param map  receives the mapping (caller owns it: cut_mapping_destroy)
 * @return CUT_OK; CUT_EINVAL when there were errors (*map is NULL);
 *         CUT_ENOMEM.
 */
int cut_mapping_load(const char *path, struct cut_mapping **map, struct cut_cfg_errors *errs);

/** Accepts NULL. */
void cut_mapping_destroy(struct cut_mapping *map);

/** The file it was loaded from; borrowed from the mapping. */
const char *cut_mapping_path(const struct cut_mapping *map);
enum cut_mapping_format cut_mapping_format(const struct cut_mapping *map);
const char *cut_mapping_format_name(enum cut_mapping_format format);
/** The mapping's `topic:`, or NULL (then the flow's Kafka topic). Borrowed. */
const char *cut_mapping_topic(const struct cut_mapping *map);
/** The schema, or NULL when the mapping has none (passthrough). Borrowed. */
const struct cut_avsc *cut_mapping_schema(const struct cut_mapping *map);
/** The schema's original text (what gets registered), or NULL. Borrowed. */
const char *cut_mapping_schema_text(const struct cut_mapping *map);
/** The dead-letter destinations; borrowed from the mapping. */
const struct cut_mapping_dead_letter *cut_mapping_dead_letter(const struct cut_mapping *map);

/**
 * The Schema Registry subject of the value schema for @p topic under the
 * mapping's subject_strategy, written to @p buf. @return @p buf, or NULL
 * when it cannot be named (no topic for a topic strategy, no schema).
 */
const char *cut_mapping_subject(const struct cut_mapping *map, const char *topic, char *buf,
                                size_t len);

/**
 * Every topic the mapping can send to: @p flow_topic (or the mapping's own
 * topic) first, then each priority lane's. Returns how many were written to
 * @p topics (at most @p max); pointers are borrowed.
 */
size_t cut_mapping_topics(const struct cut_mapping *map, const char *flow_topic,
                          const char **topics, size_t max);

/**
 * A record value made by this mapping, decoded for people: avro values are
 * checked (wire header, then the Avro bytes against the schema) and decoded
 * (avro_json.h); json values are parsed. @p schema_id receives the id of the
 * wire header (-1 for json). @p out receives a new reference.
 * @return CUT_OK, CUT_EINVAL (the bytes are not what the mapping makes).
 */
int cut_mapping_value_json(const struct cut_mapping *map, const void *value, size_t len,
                           json_t **out, int32_t *schema_id, struct cut_err *err);

/**
 * Write the reference of every key of a mapping file as Markdown to @p out
 * (FILE *), from the key tables the loader uses; docs/mappings.md holds it.
 */
void cut_mapping_doc(void *out);

/* ---- the converter ---------------------------------------------------------- */

/** Settings of cut_mapping_converter; all borrowed for the converter's life. */
struct cut_mapping_settings {
    const struct cut_mapping *map; /**< the loaded mapping (required) */
    const char *flow;              /**< flow name, for reasons; may be NULL */
    const char *topic;             /**< the flow's Kafka topic, used when the mapping has none */
    /**
     * Schema id written in the wire header when @p registry is NULL (tests,
     * `cutover convert` without a registry). Ignored for json and passthrough.
     */
    int32_t schema_id;
    /**
     * When set, create() registers the schema's original text under the
     * subject of every topic the flow sends to and uses the ids returned. An
     * unreachable registry makes create() return CUT_ERETRY.
     */
    struct cut_registry *registry;
    /** Clock for expiry, ms since the epoch; NULL = the system clock. */
    int64_t (*now_ms)(void);
};

extern const struct cut_converter_ops cut_mapping_converter;

/* ---- dead letters ----------------------------------------------------------- */

/** Kafka header names of a dead-lettered record (the envelope headers come too). */
#define CUT_HDR_DL_REASON "dead_letter.reason"
#define CUT_HDR_DL_FLOW   "dead_letter.flow"
#define CUT_HDR_DL_TIME   "dead_letter.time"
#define CUT_HDR_DL_SOURCE "dead_letter.source"
/** JMS property names of a message dead-lettered to a legacy queue (Java identifiers). */
#define CUT_PROP_DL_REASON "cutover_dl_reason"
#define CUT_PROP_DL_FLOW   "cutover_dl_flow"
#define CUT_PROP_DL_TIME   "cutover_dl_time"
#define CUT_PROP_DL_SOURCE "cutover_dl_source"

/** Reusable storage for dead-letter headers and properties; one per flow thread. */
struct cut_dead_letter {
    struct cut_jms_headers jms;
    const char **names;
    const void **values;
    size_t *lens;
    size_t n, cap;
    struct cut_prop *props;
    size_t n_props, props_cap;
    char time[24];
};

void cut_dead_letter_init(struct cut_dead_letter *dl);
void cut_dead_letter_fini(struct cut_dead_letter *dl);

/**
 * The Kafka record that dead-letters @p msg: the original body, byte for
 * byte, as the value; no key; every envelope header of docs/connectors.md
 * (message_id, the original id, always) plus dead_letter.reason, .flow,
 * .time (ms since the epoch, decimal) and .source (@p source, the queue the
 * message was read from, else its JMSDestination). rec->dest is the
 * mapping's dead-letter topic (NULL when it has none).
 *
 * @param map     may be NULL (then rec->dest is NULL)
 * @param reason  the converter's err.msg; borrowed like everything else:
 *                @p rec points into @p dl, @p msg and these strings until
 *                the next call on @p dl
 */
int cut_mapping_dead_letter_headers(struct cut_dead_letter *dl, const struct cut_mapping *map,
                                    const char *flow, const char *source, const struct cut_msg *msg,
                                    const char *reason, int64_t now_ms, struct cut_record *rec);

/**
 * The message to send to the legacy dead-letter queue: a copy of @p msg
 * (same body, same headers) whose properties are the original ones followed
 * by cutover_dl_reason, _flow, _time and _source (strings). @p out points into
 * @p msg and @p dl; valid until the next call on @p dl.
 */
int cut_mapping_dead_letter_props(struct cut_dead_letter *dl, const char *flow, const char *source,
                                  const struct cut_msg *msg, const char *reason, int64_t now_ms,
                                  struct cut_msg *out);

#endif
