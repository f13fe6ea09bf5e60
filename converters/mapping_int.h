/*
 * Internals shared by the mapping files:
 *   mapping_load.c     the YAML file: sections, key tables, schema, checks
 *   mapping_fields.c   the fields: section, built against the schema
 *   mapping_eval.c     one message's values: sources, coercion, Avro bytes
 *   mapping_conv.c     the converter: expiry, filter, XML, value, key, topic
 *   mapping_headers.c  Kafka headers, JMS header table, dead letters
 */
#ifndef CUTOVER_MAPPING_INT_H
#define CUTOVER_MAPPING_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "avro_logical.h"
#include "avro_schema.h"
#include "avro_write.h"
#include "mapping.h"
#include "registry.h"
#include "selector.h"
#include "xml_safe.h"

/* ---- JMS headers as value sources ---------------------------------------------- */

enum map_jms {
    MAP_JMS_MESSAGE_ID,
    MAP_JMS_CORRELATION_ID,
    MAP_JMS_TYPE,
    MAP_JMS_PRIORITY,
    MAP_JMS_TIMESTAMP,
    MAP_JMS_EXPIRATION,
    MAP_JMS_DELIVERY_MODE,
    MAP_JMS_DESTINATION,
    MAP_JMS_REPLY_TO,
    MAP_JMS_REDELIVERED,
    MAP_JMS_DELIVERY_COUNT,
    MAP_JMS_GROUP_ID,
    MAP_JMS_GROUP_SEQ,
    MAP_JMS_USER_ID,
    MAP_JMS_COUNT
};

struct map_jms_info {
    const char *name;  /* JMS name: "JMSCorrelationID" */
    const char *kafka; /* its header in docs/connectors.md: "jms.correlation_id" */
};

extern const struct map_jms_info map_jms_table[MAP_JMS_COUNT];

/** The header named @p name (case-sensitive JMS name), or -1. */
int map_jms_find(const char *name);

/** "JMSMessageID, JMSCorrelationID, ..." for error messages. */
void map_jms_list(char *out, size_t size);

/* ---- values --------------------------------------------------------------- */

enum map_src {
    MAP_SRC_NONE,  /* not mapped: the default, or null */
    MAP_SRC_CONST, /* only `default:`: a constant */
    MAP_SRC_XPATH,
    MAP_SRC_HEADER,
    MAP_SRC_PROPERTY,
};

struct map_pair {
    char *from, *to;
};

/** Where a value comes from, and what is done to its text first. */
struct map_source {
    enum map_src kind;
    char *text; /* XPath text, property name or header name, for reasons */
    xmlXPathCompExprPtr xpath;
    int header;             /* enum map_jms */
    char *def;              /* `default:` text, or NULL */
    struct map_pair *pairs; /* `map:` translations */
    size_t n_pairs;
    bool trim; /* strip surrounding white space from strings too */
};

struct map_record;

/** One datum to write: a record field, or the items of an array. */
struct map_value {
    const char *name;                  /* field name, for reasons */
    const struct cut_avro_node *type;  /* as declared (maybe a union) */
    const struct cut_avro_node *value; /* the non-null type */
    int null_branch, value_branch;     /* union indexes; -1 when not nullable */
    enum cut_avro_logical logical;     /* the schema's, or the mapping's `type:` */
    struct map_source src;
    struct cut_avro_buf def_bytes; /* schema default, encoded (union index included) */
    bool has_def_bytes;
    struct map_record *sub; /* record value, or record items */
    struct map_value *item; /* array: how each item is written */
};

struct map_record {
    const struct cut_avro_node *schema;
    struct map_value *fields; /* one per schema field, in schema order */
    size_t n;
};

/* ---- the mapping ------------------------------------------------------------------ */

struct map_lane {
    int lo, hi;
    char *topic;
};

struct cut_mapping {
    char *path;
    int format;   /* enum cut_mapping_format */
    int strategy; /* enum cut_subject_strategy */
    char *schema_file;
    char *root_xpath;
    char *topic;
    char *filter;
    struct cut_kv_list namespaces;
    int64_t max_bytes, max_depth, max_attributes;

    struct cut_avsc *avsc;
    struct map_record root;
    struct map_value context; /* `root:`: the node top-level XPaths start at */
    bool has_context;
    bool needs_xml;

    bool has_key;
    struct map_value key; /* a string value */

    bool headers_all;
    char **include; /* Kafka header names to copy (headers_all false) */
    size_t n_include;
    struct map_pair *rename; /* Kafka header name -> new name */
    size_t n_rename;

    char *priority_header;
    int64_t priority_default;
    struct map_lane *lanes;
    size_t n_lanes;

    int expiry_action; /* 0 drop, 1 dead_letter */
    char *expiry_header;

    struct cut_selector *selector;
    struct cut_mapping_dead_letter dl;
    char *dl_topic, *dl_queue;
};

/* mapping_fields.c */
struct map_ctx {
    const char *file;
    struct cut_cfg_errors *errs;
    const struct cut_mapping *map;
    xmlXPathContextPtr probe; /* evaluates each XPath once at load, on an empty document */
    int nerr;
};

int map_fields_build(struct map_ctx *ctx, struct map_record *rec,
                     const struct cut_avro_node *schema, const struct cut_node *fields,
                     const char *path, int line);
/** Compile the `root:` XPath of the mapping into @p ctx_val. */
int map_context_build(struct map_ctx *ctx, struct map_value *ctx_val, const char *xpath, int line);
/** Parse a key/field source spec that must give a string (the key). */
int map_key_build(struct map_ctx *ctx, struct map_value *key, const struct cut_node *node,
                  const char *path);
void map_record_fini(struct map_record *rec);
void map_value_fini(struct map_value *val);
/** Write the field key table as Markdown to @p out (FILE *). */
void map_fields_doc(void *out);
/** Whether any value of @p rec (or the key) reads the XML body. */
bool map_record_uses_xml(const struct map_record *rec);

/* mapping_eval.c, mapping_coerce.c */
enum raw_kind { RAW_ABSENT, RAW_NULL, RAW_TEXT, RAW_INT, RAW_REAL, RAW_BOOL };

/* One source value before conversion. Text is borrowed (from the document,
 * the message, the mapping or ev->num) or held by owned/obj until it is
 * written (mapping_eval.c frees them). */
struct raw {
    enum raw_kind kind;
    const char *s;
    size_t len;
    int64_t i;
    double d;
    bool b;
    bool utf8_known; /* text from libxml2, which is UTF-8 by construction */
    xmlChar *owned;
    xmlXPathObjectPtr obj;
};

/* Where in the record a value is, for reasons: "lines[2].qty". */
struct path {
    const struct path *up;
    const char *name; /* NULL for an array item */
    long index;
};

struct map_eval {
    const struct cut_mapping *map;
    xmlXPathContextPtr xp;
    const struct cut_msg *msg;
    struct cut_avro_buf *out;
    struct cut_err *err;
    char num[64]; /* number text of the value being written */
};

/** The text of an XPath error recorded in a context's lastError. */
const char *map_xpath_error(const xmlError *e);

/* mapping_coerce.c: shared with mapping_eval.c */

/** Record "field PATH: message" in ev->err; returns CUT_EINVAL. */
int map_fail(struct map_eval *ev, const struct path *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void map_raw_set_text(struct raw *r, const char *s, bool utf8);
/** A number or boolean as text (in ev->num). */
void map_raw_to_text(struct map_eval *ev, struct raw *r);
/** Trim, empty-is-absent, translations, then the default. */
void map_prepare(struct map_eval *ev, const struct map_value *val, struct raw *r);
/** Write absent (default or null), null, or the value of @p val's type. */
int map_write_value(struct map_eval *ev, const struct map_value *val, struct raw *r,
                    const struct path *p);
/** "no value at XPath ...", "no header ...", for reasons. */
const char *map_source_desc(const struct map_value *val, char *buf, size_t size);

/** A new XPath context with the mapping's namespaces and object cache. */
xmlXPathContextPtr map_xpath_context(const struct cut_mapping *map);

/**
 * Write the Avro encoding of @p rec, read from @p node (the document's root
 * element when NULL), to ev->out. @return CUT_OK, CUT_EINVAL (err says which
 * field and why), CUT_ENOMEM.
 */
int map_eval_record(struct map_eval *ev, const struct map_record *rec, xmlNodePtr node);

/**
 * The node `root:` selects in @p doc (into *node), or the root element when
 * the mapping has no `root:`. @return CUT_OK, CUT_EINVAL (no such node).
 */
int map_eval_context(struct map_eval *ev, xmlDocPtr doc, xmlNodePtr *node);

/** The key's text into @p out (replaced). @return CUT_OK, CUT_EINVAL, CUT_ENOMEM. */
int map_eval_key(struct map_eval *ev, const struct map_value *key, xmlNodePtr node,
                 struct cut_avro_buf *out);

/**
 * Check at load that @p text converts to @p val's type: writes it into
 * @p scratch. @return 0, or -1 with the reason in @p why.
 */
int map_check_text(const struct map_value *val, const char *text, struct cut_avro_buf *scratch,
                   char *why, size_t why_size);

/* mapping_headers.c */
struct map_headers {
    struct cut_jms_headers jms;
    const char **names;
    const void **values;
    size_t *lens;
    size_t cap;
};

void map_headers_init(struct map_headers *hb);
void map_headers_fini(struct map_headers *hb);
int map_headers_build(struct map_headers *hb, const struct cut_mapping *map,
                      const struct cut_msg *msg, struct cut_record *rec);

/** Silence libxml2's generic error printing for XPath compiles on this thread. */
void map_xml_quiet(void);

#endif
