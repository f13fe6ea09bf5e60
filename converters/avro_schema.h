/*
 * Avro schemas (.avsc) as cutover reads them. avro-c 1.11 drops logicalType,
 * default and doc when it parses a schema, so the schema text is parsed twice:
 * with jansson into the tree below, which keeps them and drives our own
 * encoder and decoder, and with avro-c (avro_schema_from_json_length), which
 * checks it the way the Avro library does and reads values back in tests and
 * in `cutover convert`. The original text is kept byte for byte: it is what
 * gets registered with the Schema Registry.
 *
 * Supported: every primitive type, record, enum (with its default), array,
 * map, fixed, unions, named types used several times, and the logical types
 * decimal (bytes or fixed, precision up to 38), date, time-millis,
 * time-micros, timestamp-millis, timestamp-micros and uuid. A logicalType we
 * do not know, or one on the wrong base type, is ignored as the Avro
 * specification says. Recursive schemas (a record that contains itself) are
 * refused: no XML mapping could fill them.
 *
 * Ownership: the tree belongs to its struct cut_avsc; names point into the
 * parsed JSON, which lives as long as the schema. Read-only after load: a
 * schema may be read by any thread.
 */
#ifndef CUTOVER_AVRO_SCHEMA_H
#define CUTOVER_AVRO_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include <avro.h>
#include <jansson.h>

#include "cutover/status.h"

enum cut_avro_type {
    CUT_AVRO_NULL,
    CUT_AVRO_BOOLEAN,
    CUT_AVRO_INT,
    CUT_AVRO_LONG,
    CUT_AVRO_FLOAT,
    CUT_AVRO_DOUBLE,
    CUT_AVRO_BYTES,
    CUT_AVRO_STRING,
    CUT_AVRO_RECORD,
    CUT_AVRO_ENUM,
    CUT_AVRO_ARRAY,
    CUT_AVRO_MAP,
    CUT_AVRO_UNION,
    CUT_AVRO_FIXED,
};

enum cut_avro_logical {
    CUT_LOGICAL_NONE,
    CUT_LOGICAL_DECIMAL,          /**< bytes or fixed; precision, scale */
    CUT_LOGICAL_DATE,             /**< int: days since 1970-01-01 */
    CUT_LOGICAL_TIME_MILLIS,      /**< int: ms after midnight */
    CUT_LOGICAL_TIME_MICROS,      /**< long: µs after midnight */
    CUT_LOGICAL_TIMESTAMP_MILLIS, /**< long: ms since the epoch, UTC */
    CUT_LOGICAL_TIMESTAMP_MICROS, /**< long: µs since the epoch, UTC */
    CUT_LOGICAL_UUID,             /**< string */
};

/** Longest decimal precision handled (the unscaled value is a 128-bit integer). */
#define CUT_DECIMAL_MAX_PRECISION 38

struct cut_avro_node;

struct cut_avro_field {
    const char *name;
    struct cut_avro_node *type;
    const json_t *def; /**< the schema's "default", or NULL when it has none */
};

struct cut_avro_node {
    enum cut_avro_type type;
    enum cut_avro_logical logical;
    int precision, scale; /**< decimal */
    const char *name;     /**< named types (record, enum, fixed): the short name */
    char *fullname;       /**< named types: namespace.name */
    char *space;          /**< named types: the namespace, NULL for none */

    struct cut_avro_field *fields; /**< record */
    size_t n_fields;
    const char **symbols; /**< enum */
    size_t n_symbols;
    int enum_default;                /**< index of the enum's default symbol, -1 when none */
    struct cut_avro_node *items;     /**< array */
    struct cut_avro_node *values;    /**< map */
    struct cut_avro_node **branches; /**< union */
    size_t n_branches;
    size_t size; /**< fixed */

    bool busy; /* being parsed: a reference to it is a recursion */
};

struct cut_avsc {
    char *text; /**< the original schema text, NUL-terminated; register this */
    size_t len;
    json_t *json;       /**< the parsed text */
    avro_schema_t avro; /**< the same schema as avro-c reads it */
    struct cut_avro_node *root;
    struct cut_avro_node **nodes; /* every node, for destroy */
    size_t n_nodes, cap;
};

/**
 * Parse the schema text @p text (@p len bytes; copied).
 * @return CUT_OK with *avsc owned by the caller (cut_avsc_destroy), CUT_EINVAL
 *         with the reason in @p err, CUT_ENOMEM.
 */
int cut_avsc_parse(const char *text, size_t len, struct cut_avsc **avsc, struct cut_err *err);

/** Read and parse the file @p path (at most 1 MiB). */
int cut_avsc_load(const char *path, struct cut_avsc **avsc, struct cut_err *err);

/** Accepts NULL. */
void cut_avsc_destroy(struct cut_avsc *avsc);

/**
 * For a union of null and one other type: the branch indexes and the other
 * type. @return true when @p node is such a union.
 */
bool cut_avro_nullable(const struct cut_avro_node *node, int *null_branch,
                       const struct cut_avro_node **value, int *value_branch);

/** Static name of a type ("int", "record", ...). */
const char *cut_avro_type_name(enum cut_avro_type type);

/** Static name of a logical type ("timestamp-millis", ...), NULL for none. */
const char *cut_avro_logical_name(enum cut_avro_logical logical);

/**
 * A short description of @p node for messages: "int", "long (timestamp-millis)",
 * "enum Status", "record Line", "decimal(10,2)", "union [null, string]".
 */
const char *cut_avro_describe(const struct cut_avro_node *node, char *buf, size_t len);

#endif
