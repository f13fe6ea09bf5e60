/*
 * Loading a mapping file: the sections are checked with key tables (so
 * unknown keys, bad values and their lines are reported the same way as in
 * cutover.yaml), the schema is read next to the file, the fields are built
 * against it (mapping_fields.c), and the filter and XPath expressions are
 * compiled once. Loading goes on after an error so that every problem of the
 * file is reported in one run.
 */
#include <libgen.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xpathInternals.h>

#include "mapping_int.h"

static const char *const format_names[] = {"avro", "json", "passthrough", NULL};
static const char *const strategy_names[] = {"topic", "record", "topic_record", NULL};
static const char *const expiry_names[] = {"drop", "dead_letter", NULL};

_Static_assert(CUT_MAPPING_AVRO == 0 && CUT_MAPPING_JSON == 1 && CUT_MAPPING_PASSTHROUGH == 2,
               "format_names follows enum cut_mapping_format");
_Static_assert(CUT_SUBJECT_TOPIC == 0 && CUT_SUBJECT_RECORD == 1 && CUT_SUBJECT_TOPIC_RECORD == 2,
               "strategy_names follows enum cut_subject_strategy");

static const struct cut_cfg_key top_keys[] = {
    {.name = "schema",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_mapping, schema_file),
     .desc = "the Avro schema (.avsc), relative to this file; required unless "
             "value.format is passthrough"},
    {.name = "root",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_mapping, root_xpath),
     .desc = "XPath of the node the top-level XPath expressions start at (a SOAP body, "
             "say); default: the document's root element"},
    {.name = "topic",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_mapping, topic),
     .desc = "Kafka topic of the records; default: the flow's kafka.topic"},
    {.name = "filter",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_mapping, filter),
     .desc = "JMS message selector: only the messages it selects are sent to Kafka"},
    {.name = "namespaces",
     .type = CUT_CFG_PROPS,
     .offset = offsetof(struct cut_mapping, namespaces),
     .desc = "XML namespace prefixes for the XPath expressions, PREFIX: URI"},
    {.name = NULL},
};
static const char *const top_skip[] = {"value",    "limits", "key",         "fields", "headers",
                                       "priority", "expiry", "dead_letter", NULL};

static const struct cut_cfg_key value_keys[] = {
    {.name = "format",
     .type = CUT_CFG_ENUM,
     .offset = offsetof(struct cut_mapping, format),
     .def = "avro",
     .choices = format_names,
     .desc = "avro: Confluent wire format (magic byte 0, 4-byte schema id, Avro binary); "
             "json: one JSON object; passthrough: the body's bytes unchanged"},
    {.name = "subject_strategy",
     .type = CUT_CFG_ENUM,
     .offset = offsetof(struct cut_mapping, strategy),
     .def = "topic",
     .choices = strategy_names,
     .desc = "Schema Registry subject: topic (TOPIC-value), record (the record's full "
             "name) or topic_record (TOPIC-fullname)"},
    {.name = NULL},
};

static const struct cut_cfg_key limits_keys[] = {
    {.name = "max_bytes",
     .type = CUT_CFG_INT,
     .offset = offsetof(struct cut_mapping, max_bytes),
     .def = "1048576",
     .min = 1,
     .max = 16 * 1024 * 1024,
     .desc = "largest XML body parsed; larger ones are dead-lettered before parsing"},
    {.name = "max_depth",
     .type = CUT_CFG_INT,
     .offset = offsetof(struct cut_mapping, max_depth),
     .def = "64",
     .min = 1,
     .max = CUT_XML_MAX_DEPTH_LIMIT,
     .desc = "deepest element nesting accepted (the root element is 1)"},
    {.name = "max_attributes",
     .type = CUT_CFG_INT,
     .offset = offsetof(struct cut_mapping, max_attributes),
     .def = "256",
     .min = 1,
     .max = 65536,
     .desc = "most attributes on one element (namespace declarations included)"},
    {.name = NULL},
};

static const struct cut_cfg_key priority_keys[] = {
    {.name = "header",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_mapping, priority_header),
     .def = "jms.priority",
     .desc = "name of the Kafka header that carries JMSPriority (always sent when known)"},
    {.name = "default",
     .type = CUT_CFG_INT,
     .offset = offsetof(struct cut_mapping, priority_default),
     .def = "4",
     .min = 0,
     .max = 9,
     .desc = "priority of a message without one, for choosing a lane (JMS's default is 4)"},
    {.name = NULL},
};
static const char *const priority_skip[] = {"lanes", NULL};

struct lane_spec {
    char *range, *topic;
};
static const struct cut_cfg_key lane_keys[] = {
    {.name = "range",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct lane_spec, range),
     .required = true,
     .desc = "priorities of the lane: \"7-9\", or one priority \"0\""},
    {.name = "topic",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct lane_spec, topic),
     .required = true,
     .desc = "Kafka topic of the messages with those priorities"},
    {.name = NULL},
};

static const struct cut_cfg_key expiry_keys[] = {
    {.name = "action",
     .type = CUT_CFG_ENUM,
     .offset = offsetof(struct cut_mapping, expiry_action),
     .def = "drop",
     .choices = expiry_names,
     .desc = "what happens to a message whose JMSExpiration has passed: drop (counted) or "
             "dead_letter; it is never sent to Kafka"},
    {.name = "header",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_mapping, expiry_header),
     .def = "jms.expiration",
     .desc = "name of the Kafka header that carries the absolute expiry, ms since the epoch "
             "(always sent when the message has one)"},
    {.name = NULL},
};

static const struct cut_cfg_key dead_letter_keys[] = {
    {.name = "topic",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_mapping, dl_topic),
     .desc = "Kafka topic for the messages that cannot be converted"},
    {.name = "queue",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct cut_mapping, dl_queue),
     .desc = "legacy queue for the messages that cannot be converted"},
    {.name = NULL},
};

struct headers_spec {
    struct cut_kv_list rename;
};
static const struct cut_cfg_key headers_keys[] = {
    {.name = "rename",
     .type = CUT_CFG_PROPS,
     .offset = offsetof(struct headers_spec, rename),
     .desc = "new names of headers, NAME: NEW (JMS names, property names or header names)"},
    {.name = NULL},
};
static const char *const headers_skip[] = {"include", NULL};

/* ---- helpers -------------------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static void err_at(struct map_ctx *ctx, int line,
                                                         const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cut_cfg_error(ctx->errs, ctx->file, line, path, "%s", msg);
    ctx->nerr++;
}

static int key_line(const struct cut_node *map, const char *key, int fallback)
{
    for (size_t i = 0; map != NULL && map->kind == CUT_NODE_MAP && i < map->n; i++) {
        if (strcmp(map->pairs[i].key, key) == 0) {
            return map->pairs[i].key_line;
        }
    }
    return fallback;
}

static void apply(struct map_ctx *ctx, const struct cut_cfg_key *keys, const struct cut_node *node,
                  void *obj, const char *path, const char *const *skip)
{
    struct cut_cfg_ctx cfg = {.file = ctx->file, .errs = ctx->errs};
    ctx->nerr += cut_cfg_apply(keys, node, obj, path, skip, &cfg);
}

/* Kafka header name of a name given in headers: (JMS name, header name or property). */
static char *header_name(const char *name)
{
    int jms = map_jms_find(name);
    char *out = NULL;
    if (jms >= 0) {
        return strdup(map_jms_table[jms].kafka);
    }
    if (strncmp(name, "jms.", 4) == 0 || strncmp(name, "amqp.", 5) == 0 ||
        strcmp(name, CUT_HDR_MESSAGE_ID) == 0) {
        return strdup(name);
    }
    return asprintf(&out, "jms.prop.%s", name) < 0 ? NULL : out;
}

static int include_add(struct cut_mapping *map, const char *kafka)
{
    for (size_t i = 0; i < map->n_include; i++) {
        if (strcmp(map->include[i], kafka) == 0) {
            return 0;
        }
    }
    char **inc = realloc(map->include, (map->n_include + 1) * sizeof(*inc));
    if (inc == NULL) {
        return -1;
    }
    map->include = inc;
    if ((map->include[map->n_include] = strdup(kafka)) == NULL) {
        return -1;
    }
    map->n_include++;
    return 0;
}

static int rename_add(struct cut_mapping *map, const char *from, const char *to)
{
    struct map_pair *r = realloc(map->rename, (map->n_rename + 1) * sizeof(*r));
    if (r == NULL) {
        return -1;
    }
    map->rename = r;
    r[map->n_rename].from = strdup(from);
    r[map->n_rename].to = strdup(to);
    if (r[map->n_rename].from == NULL || r[map->n_rename].to == NULL) {
        free(r[map->n_rename].from);
        free(r[map->n_rename].to);
        return -1;
    }
    map->n_rename++;
    return 0;
}

/* ---- sections --------------------------------------------------------------------- */

static void load_schema(struct map_ctx *ctx, struct cut_mapping *map, const struct cut_node *root)
{
    struct cut_err err = {0};
    int line = key_line(root, "schema", root->line);
    char *path = NULL;

    if (map->schema_file == NULL) {
        if (map->format != CUT_MAPPING_PASSTHROUGH) {
            err_at(ctx, root->line, NULL,
                   "missing required key \"schema\" (the .avsc file; value.format %s needs it)",
                   format_names[map->format]);
        }
        return;
    }
    if (map->schema_file[0] == '/') {
        path = strdup(map->schema_file);
    } else {
        char *copy = strdup(map->path);
        if (copy != NULL && asprintf(&path, "%s/%s", dirname(copy), map->schema_file) < 0) {
            path = NULL;
        }
        free(copy);
    }
    if (path == NULL) {
        err_at(ctx, line, "schema", "out of memory");
        return;
    }
    if (cut_avsc_load(path, &map->avsc, &err) != CUT_OK) {
        err_at(ctx, line, "schema", "%s: %s", path, err.msg);
    } else if (map->avsc->root->type != CUT_AVRO_RECORD) {
        err_at(ctx, line, "schema", "%s: the schema must be a record, not %s", path,
               cut_avro_type_name(map->avsc->root->type));
        cut_avsc_destroy(map->avsc);
        map->avsc = NULL;
    }
    free(path);
}

static void load_key(struct map_ctx *ctx, struct cut_mapping *map, const struct cut_node *node)
{
    if (node == NULL || cut_node_is_null(node)) {
        return;
    }
    if (node->kind == CUT_NODE_SCALAR && strcmp(node->scalar, "none") == 0) {
        return;
    }
    if (map_key_build(ctx, &map->key, node, "key") == 0) {
        map->has_key = true;
    }
}

static void load_headers(struct map_ctx *ctx, struct cut_mapping *map, const struct cut_node *node)
{
    struct headers_spec hs = {0};
    const struct cut_node *inc = cut_node_get(node, "include");

    map->headers_all = true;
    apply(ctx, headers_keys, node, &hs, "headers", headers_skip);
    if (inc != NULL && !cut_node_is_null(inc) &&
        !(inc->kind == CUT_NODE_SCALAR && strcmp(inc->scalar, "all") == 0)) {
        if (inc->kind != CUT_NODE_SEQ) {
            err_at(ctx, inc->line, "headers.include",
                   "expected a list of JMS headers and properties, or all");
            goto out;
        }
        map->headers_all = false;
        /* Always: the id consumers deduplicate with, the priority, the expiry. */
        if (include_add(map, CUT_HDR_MESSAGE_ID) < 0 || include_add(map, "jms.priority") < 0 ||
            include_add(map, "jms.expiration") < 0) {
            err_at(ctx, inc->line, "headers.include", "out of memory");
            goto out;
        }
        for (size_t i = 0; i < inc->n; i++) {
            const struct cut_node *item = inc->items[i];
            char *kafka = item->kind == CUT_NODE_SCALAR ? header_name(item->scalar) : NULL;
            if (item->kind != CUT_NODE_SCALAR || cut_node_is_null(item)) {
                err_at(ctx, item->line, "headers.include", "expected a header or property name");
            } else if (kafka == NULL || include_add(map, kafka) < 0) {
                err_at(ctx, item->line, "headers.include", "out of memory");
            }
            free(kafka);
        }
    }
    for (size_t i = 0; i < hs.rename.n; i++) {
        char *kafka = header_name(hs.rename.items[i].key);
        if (kafka == NULL || hs.rename.items[i].value[0] == '\0' ||
            rename_add(map, kafka, hs.rename.items[i].value) < 0) {
            err_at(ctx, hs.rename.items[i].line, "headers.rename",
                   kafka == NULL ? "out of memory" : "a header needs a non-empty name");
        }
        free(kafka);
    }
out:
    cut_cfg_release(headers_keys, &hs);
}

/* "7-9" or "7" (or a YAML number). */
static int parse_range(const char *text, int *lo, int *hi)
{
    int a, b, n = 0;
    if (sscanf(text, "%d-%d%n", &a, &b, &n) == 2 && text[n] == '\0') {
        *lo = a;
        *hi = b;
    } else if (sscanf(text, "%d%n", &a, &n) == 1 && text[n] == '\0') {
        *lo = *hi = a;
    } else {
        return -1;
    }
    return *lo >= 0 && *hi <= 9 && *lo <= *hi ? 0 : -1;
}

static void load_priority(struct map_ctx *ctx, struct cut_mapping *map, const struct cut_node *node)
{
    apply(ctx, priority_keys, node, map, "priority", priority_skip);
    if (map->priority_header != NULL && strcmp(map->priority_header, "jms.priority") != 0 &&
        rename_add(map, "jms.priority", map->priority_header) < 0) {
        err_at(ctx, node ? node->line : 0, "priority.header", "out of memory");
    }
    const struct cut_node *lanes = cut_node_get(node, "lanes");
    if (lanes == NULL || cut_node_is_null(lanes)) {
        return;
    }
    if (lanes->kind != CUT_NODE_SEQ) {
        err_at(ctx, lanes->line, "priority.lanes",
               "expected a list of { range: \"7-9\", topic: NAME }");
        return;
    }
    map->lanes = calloc(lanes->n ? lanes->n : 1, sizeof(*map->lanes));
    if (map->lanes == NULL) {
        err_at(ctx, lanes->line, "priority.lanes", "out of memory");
        return;
    }
    for (size_t i = 0; i < lanes->n; i++) {
        struct lane_spec ls = {0};
        char path[64];
        int before = ctx->nerr;
        const struct cut_node *item = lanes->items[i];
        snprintf(path, sizeof(path), "priority.lanes[%zu]", i);
        apply(ctx, lane_keys, item, &ls, path, NULL);
        if (ctx->nerr == before) {
            struct map_lane *lane = &map->lanes[map->n_lanes];
            int line = key_line(item, "range", item->line);
            if (parse_range(ls.range, &lane->lo, &lane->hi) < 0) {
                err_at(ctx, line, path, "range \"%s\": expected LOW-HIGH within 0-9, like 7-9",
                       ls.range);
            } else {
                for (size_t k = 0; k < map->n_lanes; k++) {
                    if (lane->lo <= map->lanes[k].hi && map->lanes[k].lo <= lane->hi) {
                        err_at(ctx, line, path, "range %d-%d overlaps lane %zu (%d-%d)", lane->lo,
                               lane->hi, k, map->lanes[k].lo, map->lanes[k].hi);
                        break;
                    }
                }
                lane->topic = ls.topic;
                ls.topic = NULL;
                map->n_lanes++;
            }
        }
        cut_cfg_release(lane_keys, &ls);
    }
}

static void load_expiry(struct map_ctx *ctx, struct cut_mapping *map, const struct cut_node *node)
{
    apply(ctx, expiry_keys, node, map, "expiry", NULL);
    if (map->expiry_header != NULL && strcmp(map->expiry_header, "jms.expiration") != 0 &&
        rename_add(map, "jms.expiration", map->expiry_header) < 0) {
        err_at(ctx, node ? node->line : 0, "expiry.header", "out of memory");
    }
}

static void load_filter(struct map_ctx *ctx, struct cut_mapping *map, const struct cut_node *root)
{
    struct cut_err err = {0};
    if (map->filter == NULL) {
        return;
    }
    if (cut_selector_compile(map->filter, &map->selector, &err) != CUT_OK) {
        err_at(ctx, key_line(root, "filter", root->line), "filter", "%s", err.msg);
    }
}

static void load_dead_letter(struct map_ctx *ctx, struct cut_mapping *map,
                             const struct cut_node *node)
{
    apply(ctx, dead_letter_keys, node, map, "dead_letter", NULL);
    if (node != NULL && !cut_node_is_null(node) && map->dl_topic == NULL && map->dl_queue == NULL) {
        err_at(ctx, node->line, "dead_letter", "give a topic, a queue, or both");
    }
    map->dl.topic = map->dl_topic;
    map->dl.queue = map->dl_queue;
}

/* An empty document for compile_xpath()'s trial evaluation. */
static xmlXPathContextPtr probe_new(const struct cut_mapping *map)
{
    xmlXPathContextPtr probe = map_xpath_context(map);
    xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr root = doc ? xmlNewDocNode(doc, NULL, (const xmlChar *)"probe", NULL) : NULL;
    if (probe == NULL || root == NULL) {
        xmlXPathFreeContext(probe);
        xmlFreeDoc(doc);
        return NULL;
    }
    xmlDocSetRootElement(doc, root);
    probe->doc = doc;
    return probe;
}

int cut_mapping_load(const char *path, struct cut_mapping **out, struct cut_cfg_errors *errs)
{
    struct cut_mapping *map = calloc(1, sizeof(*map));
    struct map_ctx ctx = {.file = path, .errs = errs, .map = map};
    struct cut_node *root = NULL;
    int rc = CUT_OK;

    *out = NULL;
    cut_xml_init();
    if (map == NULL || (map->path = strdup(path)) == NULL) {
        cut_cfg_error(errs, path, 0, NULL, "out of memory");
        free(map);
        return CUT_ENOMEM;
    }
    root = cut_yaml_load(path, errs);
    if (root == NULL) {
        rc = CUT_EINVAL;
        goto out;
    }
    if (root->kind != CUT_NODE_MAP) {
        err_at(&ctx, root->line, NULL, "expected a map (schema, value, fields, key, ...)");
        goto out;
    }
    apply(&ctx, top_keys, root, map, "", top_skip);
    apply(&ctx, value_keys, cut_node_get(root, "value"), map, "value", NULL);
    apply(&ctx, limits_keys, cut_node_get(root, "limits"), map, "limits", NULL);
    ctx.probe = probe_new(map);
    if (ctx.probe == NULL) {
        err_at(&ctx, root->line, "namespaces", "cannot set up XPath (bad namespace, or memory)");
        goto out;
    }
    load_schema(&ctx, map, root);
    if (map->root_xpath != NULL && map_context_build(&ctx, &map->context, map->root_xpath,
                                                     key_line(root, "root", root->line)) == 0) {
        map->has_context = true;
    }

    const struct cut_node *fields = cut_node_get(root, "fields");
    if (map->format == CUT_MAPPING_PASSTHROUGH && fields != NULL) {
        err_at(&ctx, key_line(root, "fields", root->line), "fields",
               "value.format passthrough sends the body unchanged: fields are not used");
    } else if (map->avsc != NULL && map->format != CUT_MAPPING_PASSTHROUGH) {
        map_fields_build(&ctx, &map->root, map->avsc->root, fields, "fields",
                         key_line(root, "fields", root->line));
    }
    load_key(&ctx, map, cut_node_get(root, "key"));
    load_headers(&ctx, map, cut_node_get(root, "headers"));
    load_priority(&ctx, map, cut_node_get(root, "priority"));
    load_expiry(&ctx, map, cut_node_get(root, "expiry"));
    load_filter(&ctx, map, root);
    load_dead_letter(&ctx, map, cut_node_get(root, "dead_letter"));
    map->needs_xml = (map->root.fields != NULL && map_record_uses_xml(&map->root)) ||
                     (map->has_key && map->key.src.kind == MAP_SRC_XPATH) || map->has_context;
out:
    if (ctx.probe != NULL) {
        xmlFreeDoc(ctx.probe->doc);
        xmlXPathFreeContext(ctx.probe);
    }
    cut_node_destroy(root);
    if (rc == CUT_OK && ctx.nerr > 0) {
        rc = CUT_EINVAL;
    }
    if (rc != CUT_OK) {
        cut_mapping_destroy(map);
        return rc;
    }
    *out = map;
    return CUT_OK;
}

void cut_mapping_destroy(struct cut_mapping *map)
{
    if (map == NULL) {
        return;
    }
    map_record_fini(&map->root);
    map_value_fini(&map->key);
    map_value_fini(&map->context);
    for (size_t i = 0; i < map->n_include; i++) {
        free(map->include[i]);
    }
    free(map->include);
    for (size_t i = 0; i < map->n_rename; i++) {
        free(map->rename[i].from);
        free(map->rename[i].to);
    }
    free(map->rename);
    for (size_t i = 0; i < map->n_lanes; i++) {
        free(map->lanes[i].topic);
    }
    free(map->lanes);
    cut_selector_destroy(map->selector);
    cut_avsc_destroy(map->avsc);
    cut_cfg_release(top_keys, map);
    cut_cfg_release(value_keys, map);
    cut_cfg_release(priority_keys, map);
    cut_cfg_release(expiry_keys, map);
    cut_cfg_release(dead_letter_keys, map);
    free(map->path);
    free(map);
}

/* ---- getters ---------------------------------------------------------------------- */

const char *cut_mapping_path(const struct cut_mapping *map)
{
    return map->path;
}

enum cut_mapping_format cut_mapping_format(const struct cut_mapping *map)
{
    return (enum cut_mapping_format)map->format;
}

const char *cut_mapping_format_name(enum cut_mapping_format format)
{
    return (unsigned)format < 3 ? format_names[format] : "?";
}

const char *cut_mapping_topic(const struct cut_mapping *map)
{
    return map->topic;
}

const struct cut_avsc *cut_mapping_schema(const struct cut_mapping *map)
{
    return map->avsc;
}

const char *cut_mapping_schema_text(const struct cut_mapping *map)
{
    return map->avsc != NULL ? map->avsc->text : NULL;
}

const struct cut_mapping_dead_letter *cut_mapping_dead_letter(const struct cut_mapping *map)
{
    return &map->dl;
}

const char *cut_mapping_subject(const struct cut_mapping *map, const char *topic, char *buf,
                                size_t len)
{
    if (map->avsc == NULL) {
        return NULL;
    }
    return cut_registry_subject((enum cut_subject_strategy)map->strategy, topic,
                                map->avsc->root->fullname, false, buf, len);
}

size_t cut_mapping_topics(const struct cut_mapping *map, const char *flow_topic,
                          const char **topics, size_t max)
{
    size_t n = 0;
    const char *main = map->topic != NULL ? map->topic : flow_topic;
    if (n < max) {
        topics[n++] = main;
    }
    for (size_t i = 0; i < map->n_lanes && n < max; i++) {
        topics[n++] = map->lanes[i].topic;
    }
    return n;
}

void cut_mapping_doc(void *out)
{
    FILE *fp = out;
    cut_cfg_doc(top_keys, "(top level)", fp);
    cut_cfg_doc(value_keys, "value", fp);
    cut_cfg_doc(limits_keys, "limits", fp);
    cut_cfg_doc(priority_keys, "priority", fp);
    cut_cfg_doc(lane_keys, "priority.lanes[]", fp);
    cut_cfg_doc(expiry_keys, "expiry", fp);
    cut_cfg_doc(dead_letter_keys, "dead_letter", fp);
    cut_cfg_doc(headers_keys, "headers", fp);
    map_fields_doc(fp);
}
