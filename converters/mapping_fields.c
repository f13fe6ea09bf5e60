/*
 * The fields: section of a mapping, built against the Avro schema: one
 * struct map_value per schema field, in schema order, so that writing a
 * message is one walk of the schema with nothing to look up.
 *
 * A field is a bare string (an XPath expression) or a map:
 *   xpath | header | property   where the value comes from (at most one)
 *   default                     text used when the source gives nothing;
 *                               alone, a constant
 *   type                        read the text as this logical type
 *   trim                        strip white space around strings too
 *   map                         translate values (FROM: TO) before conversion
 *   fields                      records, and arrays of records: the sub-fields,
 *                               evaluated relative to each node of xpath
 * Every text given at load (defaults, translations) is converted once here,
 * so a mistake there is a load error, not a dead letter at run time.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xpathInternals.h>

#include "mapping_int.h"

struct field_spec {
    char *xpath, *header, *property, *def, *type;
    bool trim;
    struct cut_kv_list map;
};

static const struct cut_cfg_key field_keys[] = {
    {.name = "xpath",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct field_spec, xpath),
     .desc = "XPath 1.0 expression; relative ones start at the enclosing node"},
    {.name = "header",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct field_spec, header),
     .desc = "a JMS header: JMSMessageID, JMSCorrelationID, JMSType, JMSPriority, ..."},
    {.name = "property",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct field_spec, property),
     .desc = "the name of a JMS message property"},
    {.name = "default",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct field_spec, def),
     .desc = "text used when the source gives no value; alone, a constant"},
    {.name = "type",
     .type = CUT_CFG_STRING,
     .offset = offsetof(struct field_spec, type),
     .desc = "read the text as this logical type (timestamp-millis, date, ...)"},
    {.name = "trim",
     .type = CUT_CFG_BOOL,
     .offset = offsetof(struct field_spec, trim),
     .def = "false",
     .desc = "strip surrounding white space from strings (other types always are)"},
    {.name = "map",
     .type = CUT_CFG_PROPS,
     .offset = offsetof(struct field_spec, map),
     .desc = "translate source values before conversion, FROM: TO"},
    {.name = NULL},
};
static const char *const field_skip[] = {"fields", NULL};

static void err_at(struct map_ctx *ctx, int line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void err_at(struct map_ctx *ctx, int line, const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cut_cfg_error(ctx->errs, ctx->file, line, path, "%s", msg);
    ctx->nerr++;
}

static char *join(const char *a, const char *b)
{
    char *s = NULL;
    return asprintf(&s, "%s.%s", a, b) < 0 ? NULL : s;
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

void map_value_fini(struct map_value *val)
{
    if (val == NULL) {
        return;
    }
    free(val->src.text);
    if (val->src.xpath != NULL) {
        xmlXPathFreeCompExpr(val->src.xpath);
    }
    free(val->src.def);
    for (size_t i = 0; i < val->src.n_pairs; i++) {
        free(val->src.pairs[i].from);
        free(val->src.pairs[i].to);
    }
    free(val->src.pairs);
    cut_avro_buf_fini(&val->def_bytes);
    if (val->sub != NULL) {
        map_record_fini(val->sub);
        free(val->sub);
    }
    if (val->item != NULL) {
        map_value_fini(val->item);
        free(val->item);
    }
    memset(val, 0, sizeof(*val));
}

void map_record_fini(struct map_record *rec)
{
    for (size_t i = 0; rec->fields != NULL && i < rec->n; i++) {
        map_value_fini(&rec->fields[i]);
    }
    free(rec->fields);
    memset(rec, 0, sizeof(*rec));
}

static bool value_uses_xml(const struct map_value *val)
{
    return val->src.kind == MAP_SRC_XPATH || (val->sub && map_record_uses_xml(val->sub)) ||
           (val->item && value_uses_xml(val->item));
}

bool map_record_uses_xml(const struct map_record *rec)
{
    for (size_t i = 0; i < rec->n; i++) {
        if (value_uses_xml(&rec->fields[i])) {
            return true;
        }
    }
    return false;
}

static void quiet(void *data, xmlErrorPtr error)
{
    (void)data;
    (void)error;
}

/* Compile once, then run once on an empty document: that catches unknown
 * namespace prefixes and functions at load rather than on every message. */
static xmlXPathCompExprPtr compile_xpath(struct map_ctx *ctx, const char *text, int line,
                                         const char *path)
{
    xmlXPathContextPtr probe = ctx->probe;
    char *wrapped = NULL;

    /* libxml2 compiles a plain path ("/order/total") for streaming, which
     * walks the whole document on every evaluation. The same expression in
     * parentheses means the same thing and is evaluated on the tree, through
     * the parent/child links, in a fraction of the time. */
    if (asprintf(&wrapped, "(%s)", text) < 0) {
        err_at(ctx, line, path, "out of memory");
        return NULL;
    }
    probe->error = quiet;
    xmlResetError(&probe->lastError);
    xmlXPathCompExprPtr comp = xmlXPathCtxtCompile(probe, (const xmlChar *)wrapped);
    free(wrapped);
    if (comp == NULL) {
        const char *why = map_xpath_error(&probe->lastError);
        err_at(ctx, line, path, "invalid XPath \"%s\": %.*s", text, (int)strcspn(why, "\n"), why);
        return NULL;
    }
    probe->node = xmlDocGetRootElement(probe->doc);
    xmlResetError(&probe->lastError);
    xmlXPathObjectPtr obj = xmlXPathCompiledEval(comp, probe);
    if (obj == NULL && probe->lastError.code != XML_ERR_OK) {
        const char *why = map_xpath_error(&probe->lastError);
        err_at(ctx, line, path, "XPath \"%s\" cannot be evaluated: %.*s", text,
               (int)strcspn(why, "\n"), why);
        xmlXPathFreeCompExpr(comp);
        return NULL;
    }
    xmlXPathFreeObject(obj);
    return comp;
}

/* `type:` may add a logical type that fits the schema's base type, or
 * restate the schema's type. */
static int apply_type(struct map_ctx *ctx, struct map_value *val, const char *type, int line,
                      const char *path)
{
    static const struct {
        const char *name;
        enum cut_avro_logical logical;
        enum cut_avro_type base;
    } logicals[] = {
        {"timestamp-millis", CUT_LOGICAL_TIMESTAMP_MILLIS, CUT_AVRO_LONG},
        {"timestamp-micros", CUT_LOGICAL_TIMESTAMP_MICROS, CUT_AVRO_LONG},
        {"time-micros", CUT_LOGICAL_TIME_MICROS, CUT_AVRO_LONG},
        {"date", CUT_LOGICAL_DATE, CUT_AVRO_INT},
        {"time-millis", CUT_LOGICAL_TIME_MILLIS, CUT_AVRO_INT},
        {"uuid", CUT_LOGICAL_UUID, CUT_AVRO_STRING},
    };
    char desc[128];
    const struct cut_avro_node *v = val->value;

    cut_avro_describe(v, desc, sizeof(desc));
    if (strcmp(type, cut_avro_type_name(v->type)) == 0 ||
        (v->logical != CUT_LOGICAL_NONE && strcmp(type, cut_avro_logical_name(v->logical)) == 0)) {
        return 0;
    }
    for (size_t i = 0; i < sizeof(logicals) / sizeof(logicals[0]); i++) {
        if (strcmp(type, logicals[i].name) != 0) {
            continue;
        }
        if (v->type != logicals[i].base ||
            (v->logical != CUT_LOGICAL_NONE && v->logical != logicals[i].logical)) {
            err_at(ctx, line, path, "type %s does not fit the schema's %s (it needs a %s)", type,
                   desc, cut_avro_type_name(logicals[i].base));
            return -1;
        }
        val->logical = logicals[i].logical;
        return 0;
    }
    err_at(ctx, line, path,
           "type %s does not match the schema's %s (the schema decides the type; type: may only "
           "add timestamp-millis, timestamp-micros, date, time-millis, time-micros or uuid)",
           type, desc);
    return -1;
}

static int take_pairs(struct map_ctx *ctx, struct map_source *src, struct cut_kv_list *list,
                      const char *path)
{
    if (list->n == 0) {
        return 0;
    }
    src->pairs = calloc(list->n, sizeof(*src->pairs));
    if (src->pairs == NULL) {
        err_at(ctx, 0, path, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < list->n; i++) {
        src->pairs[i].from = list->items[i].key;
        src->pairs[i].to = list->items[i].value;
        list->items[i].key = list->items[i].value = NULL;
    }
    src->n_pairs = list->n;
    return 0;
}

/* Check the texts given at load: the default and the translations. */
static void check_texts(struct map_ctx *ctx, const struct map_value *val,
                        const struct cut_node *spec, const char *path)
{
    struct cut_avro_buf scratch;
    char why[512];
    char *sub;

    if (val->value->type == CUT_AVRO_RECORD || val->value->type == CUT_AVRO_ARRAY) {
        return;
    }
    cut_avro_buf_init(&scratch);
    if (val->src.def != NULL && map_check_text(val, val->src.def, &scratch, why, sizeof(why)) < 0) {
        sub = join(path, "default");
        err_at(ctx, key_line(spec, "default", spec->line), sub ? sub : path, "%s", why);
        free(sub);
    }
    const struct cut_node *map = cut_node_get(spec, "map");
    for (size_t i = 0; i < val->src.n_pairs; i++) {
        cut_avro_buf_reset(&scratch);
        if (map_check_text(val, val->src.pairs[i].to, &scratch, why, sizeof(why)) < 0) {
            sub = join(path, "map");
            char *k = sub ? join(sub, val->src.pairs[i].from) : NULL;
            err_at(ctx, key_line(map, val->src.pairs[i].from, spec->line), k ? k : path, "%s", why);
            free(k);
            free(sub);
        }
    }
    cut_avro_buf_fini(&scratch);
}

static int build_value(struct map_ctx *ctx, struct map_value *val, const char *name,
                       const struct cut_avro_field *field, const struct cut_avro_node *type,
                       const struct cut_node *spec, const char *path, int line);

/* The source keys of @p fs into @p val->src. */
static int set_source(struct map_ctx *ctx, struct map_value *val, struct field_spec *fs,
                      const struct cut_node *spec, const char *path)
{
    char list[512];
    int n = (fs->xpath != NULL) + (fs->header != NULL) + (fs->property != NULL);
    int line = spec->line;

    if (n > 1) {
        err_at(ctx, line, path, "give one source: xpath, header or property");
        return -1;
    }
    val->src.trim = fs->trim;
    val->src.def = fs->def;
    fs->def = NULL;
    if (take_pairs(ctx, &val->src, &fs->map, path) < 0) {
        return -1;
    }
    if (fs->xpath != NULL) {
        char *sub = join(path, "xpath");
        val->src.kind = MAP_SRC_XPATH;
        val->src.text = fs->xpath;
        fs->xpath = NULL;
        val->src.xpath =
            compile_xpath(ctx, val->src.text, key_line(spec, "xpath", line), sub ? sub : path);
        free(sub);
        return val->src.xpath ? 0 : -1;
    }
    if (fs->header != NULL) {
        val->src.kind = MAP_SRC_HEADER;
        val->src.header = map_jms_find(fs->header);
        val->src.text = fs->header;
        fs->header = NULL;
        if (val->src.header < 0) {
            char *sub = join(path, "header");
            map_jms_list(list, sizeof(list));
            err_at(ctx, key_line(spec, "header", line), sub ? sub : path,
                   "unknown JMS header \"%s\" (known: %s; use property: for application "
                   "properties)",
                   val->src.text, list);
            free(sub);
            return -1;
        }
        return 0;
    }
    if (fs->property != NULL) {
        val->src.kind = MAP_SRC_PROPERTY;
        val->src.text = fs->property;
        fs->property = NULL;
        return 0;
    }
    val->src.kind = val->src.def != NULL ? MAP_SRC_CONST : MAP_SRC_NONE;
    return 0;
}

/* Arrays: the field's xpath selects the items; its other options apply to each item. */
static int build_array(struct map_ctx *ctx, struct map_value *val, const struct cut_node *spec,
                       const struct cut_node *fields, const char *type, const char *path, int line)
{
    const struct cut_avro_node *items = val->value->items;
    const struct cut_avro_node *item_value = items;
    char desc[160];

    if (items->type == CUT_AVRO_UNION && !cut_avro_nullable(items, NULL, &item_value, NULL)) {
        err_at(ctx, line, path,
               "array items of type %s: only unions of null and one other type "
               "can be mapped",
               cut_avro_describe(items, desc, sizeof(desc)));
        return -1;
    }
    if (val->src.kind != MAP_SRC_XPATH) {
        err_at(ctx, line, path, "an array is read from an xpath that selects its items");
        return -1;
    }
    if (item_value->type == CUT_AVRO_ARRAY || item_value->type == CUT_AVRO_MAP) {
        err_at(ctx, line, path, "arrays of %ss are not supported",
               cut_avro_type_name(item_value->type));
        return -1;
    }
    val->item = calloc(1, sizeof(*val->item));
    if (val->item == NULL) {
        err_at(ctx, line, path, "out of memory");
        return -1;
    }
    /* The item is built from no spec (its source is the node itself) ... */
    if (build_value(ctx, val->item, val->name, NULL, items, NULL, path, line) < 0) {
        return -1;
    }
    /* ... and takes the array's text options. */
    val->item->src.kind = MAP_SRC_NONE;
    val->item->src.def = val->src.def;
    val->item->src.pairs = val->src.pairs;
    val->item->src.n_pairs = val->src.n_pairs;
    val->item->src.trim = val->src.trim;
    val->src.def = NULL;
    val->src.pairs = NULL;
    val->src.n_pairs = 0;
    if (type != NULL) {
        char *sub = join(path, "type");
        int bad = apply_type(ctx, val->item, type, key_line(spec, "type", line), sub ? sub : path);
        free(sub);
        if (bad < 0) {
            return -1;
        }
    }
    if (item_value->type == CUT_AVRO_RECORD) {
        if (fields == NULL) {
            err_at(ctx, line, path, "an array of records needs fields: for its items");
            return -1;
        }
        char *sub = join(path, "fields");
        val->item->sub = calloc(1, sizeof(*val->item->sub));
        int rc = val->item->sub == NULL
                     ? -1
                     : map_fields_build(ctx, val->item->sub, item_value, fields, sub ? sub : path,
                                        key_line(spec, "fields", line));
        free(sub);
        return rc;
    }
    if (fields != NULL) {
        err_at(ctx, fields->line, path, "fields: is only for records and arrays of records");
        return -1;
    }
    check_texts(ctx, val->item, spec, path);
    return 0;
}

static int build_value(struct map_ctx *ctx, struct map_value *val, const char *name,
                       const struct cut_avro_field *field, const struct cut_avro_node *type,
                       const struct cut_node *spec, const char *path, int line)
{
    struct field_spec fs = {0};
    struct cut_cfg_ctx cfg = {.file = ctx->file, .errs = ctx->errs};
    const struct cut_node *fields = NULL;
    char desc[160], why[512];
    int rc = -1;

    val->name = name;
    val->type = type;
    val->null_branch = val->value_branch = -1;
    if (!cut_avro_nullable(type, &val->null_branch, &val->value, &val->value_branch)) {
        val->value = type;
    }
    val->logical = val->value->logical;
    if (field != NULL && field->def != NULL) {
        cut_avro_buf_init(&val->def_bytes);
        if (cut_avro_put_json(&val->def_bytes, type, field->def, why, sizeof(why)) < 0) {
            err_at(ctx, line, path, "the schema's default of field %s: %s", name, why);
            return -1;
        }
        val->has_def_bytes = true;
    }
    if (spec == NULL) {
        return 0; /* not mapped: default or null (checked by the caller) */
    }
    cut_avro_describe(type, desc, sizeof(desc));
    if (type->type == CUT_AVRO_UNION && val->null_branch < 0) {
        err_at(ctx, spec->line, path,
               "field type %s: only unions of null and one other type can be mapped", desc);
        return -1;
    }
    if (spec->kind == CUT_NODE_SCALAR && !cut_node_is_null(spec)) {
        fs.xpath = strdup(spec->scalar); /* a bare string is an XPath expression */
        if (fs.xpath == NULL) {
            err_at(ctx, spec->line, path, "out of memory");
            return -1;
        }
    } else if (spec->kind == CUT_NODE_MAP) {
        int n = cut_cfg_apply(field_keys, spec, &fs, path, field_skip, &cfg);
        ctx->nerr += n;
        if (n > 0) {
            goto out;
        }
        fields = cut_node_get(spec, "fields");
    } else {
        err_at(ctx, spec->line, path,
               "expected an XPath expression or a map (xpath, header, property, default, ...)");
        goto out;
    }
    if (set_source(ctx, val, &fs, spec, path) < 0) {
        goto out;
    }
    if (fs.type != NULL && val->value->type != CUT_AVRO_ARRAY) {
        char *sub = join(path, "type");
        int bad =
            apply_type(ctx, val, fs.type, key_line(spec, "type", spec->line), sub ? sub : path);
        free(sub);
        if (bad < 0) {
            goto out;
        }
    }
    switch (val->value->type) {
    case CUT_AVRO_RECORD:
        if (fields == NULL || fields->kind != CUT_NODE_MAP) {
            err_at(ctx, spec->line, path, "a record field needs fields: (a map of its fields)");
            goto out;
        }
        if (val->src.kind != MAP_SRC_XPATH && val->src.kind != MAP_SRC_NONE) {
            err_at(ctx, spec->line, path,
                   "a record is read from an xpath (its node) or from the enclosing node");
            goto out;
        }
        val->sub = calloc(1, sizeof(*val->sub));
        if (val->sub == NULL) {
            err_at(ctx, spec->line, path, "out of memory");
            goto out;
        }
        {
            char *sub = join(path, "fields");
            rc = map_fields_build(ctx, val->sub, val->value, fields, sub ? sub : path,
                                  key_line(spec, "fields", spec->line));
            free(sub);
        }
        goto out;
    case CUT_AVRO_ARRAY:
        rc = build_array(ctx, val, spec, fields, fs.type, path, spec->line);
        goto out;
    case CUT_AVRO_MAP:
        err_at(ctx, spec->line, path, "fields of type map are not supported");
        goto out;
    default:
        break;
    }
    if (fields != NULL) {
        err_at(ctx, fields->line, path, "fields: is only for records and arrays of records");
        goto out;
    }
    if (val->value->type == CUT_AVRO_NULL) {
        err_at(ctx, spec->line, path, "a field of type null cannot be mapped");
        goto out;
    }
    check_texts(ctx, val, spec, path);
    rc = 0;
out:
    cut_cfg_release(field_keys, &fs);
    return rc;
}

int map_fields_build(struct map_ctx *ctx, struct map_record *rec,
                     const struct cut_avro_node *schema, const struct cut_node *fields,
                     const char *path, int line)
{
    char desc[160];
    int rc = 0;

    rec->schema = schema;
    rec->n = schema->n_fields;
    rec->fields = calloc(rec->n ? rec->n : 1, sizeof(*rec->fields));
    if (rec->fields == NULL) {
        err_at(ctx, line, path, "out of memory");
        return -1;
    }
    if (fields != NULL && !cut_node_is_null(fields) && fields->kind != CUT_NODE_MAP) {
        err_at(ctx, fields->line, path, "expected a map of FIELD: source");
        return -1;
    }
    /* Names the schema does not have. */
    for (size_t p = 0; fields != NULL && fields->kind == CUT_NODE_MAP && p < fields->n; p++) {
        const char *name = fields->pairs[p].key;
        size_t i;
        for (i = 0; i < schema->n_fields && strcmp(schema->fields[i].name, name) != 0; i++) {
        }
        if (i == schema->n_fields) {
            char known[512];
            size_t at = 0;
            known[0] = '\0';
            for (size_t k = 0; k < schema->n_fields && at < sizeof(known); k++) {
                at += (size_t)snprintf(known + at, sizeof(known) - at, "%s%s", k ? ", " : "",
                                       schema->fields[k].name);
            }
            char *sub = join(path, name);
            err_at(ctx, fields->pairs[p].key_line, sub ? sub : path,
                   "record %s has no field \"%s\" (fields: %s)", schema->name, name, known);
            free(sub);
            rc = -1;
        }
    }
    for (size_t i = 0; i < schema->n_fields; i++) {
        const struct cut_avro_field *f = &schema->fields[i];
        const struct cut_node *spec = fields ? cut_node_get(fields, f->name) : NULL;
        char *sub = join(path, f->name);
        int fline = key_line(fields, f->name, line);
        if (build_value(ctx, &rec->fields[i], f->name, f, f->type, spec, sub ? sub : path, fline) <
            0) {
            rc = -1;
        } else if (spec == NULL && !rec->fields[i].has_def_bytes &&
                   rec->fields[i].null_branch < 0) {
            err_at(ctx, line, path,
                   "field \"%s\" (%s) of record %s is required: map it, or give it a default "
                   "in the schema",
                   f->name, cut_avro_describe(f->type, desc, sizeof(desc)), schema->name);
            rc = -1;
        }
        free(sub);
    }
    return rc;
}

int map_key_build(struct map_ctx *ctx, struct map_value *key, const struct cut_node *node,
                  const char *path)
{
    static const struct cut_avro_node string_type = {.type = CUT_AVRO_STRING, .enum_default = -1};
    if (build_value(ctx, key, "key", NULL, &string_type, node, path, node->line) < 0) {
        return -1;
    }
    if (key->src.kind == MAP_SRC_NONE) {
        err_at(ctx, node->line, path,
               "the key needs a source (xpath, header, property or default), or `key: none`");
        return -1;
    }
    return 0;
}

void map_fields_doc(void *out)
{
    cut_cfg_doc(field_keys, "fields.NAME", out);
}

int map_context_build(struct map_ctx *ctx, struct map_value *ctx_val, const char *xpath, int line)
{
    ctx_val->name = "root";
    ctx_val->src.kind = MAP_SRC_XPATH;
    ctx_val->src.text = strdup(xpath);
    if (ctx_val->src.text == NULL) {
        err_at(ctx, line, "root", "out of memory");
        return -1;
    }
    ctx_val->src.xpath = compile_xpath(ctx, xpath, line, "root");
    return ctx_val->src.xpath != NULL ? 0 : -1;
}
