/*
 * The .avsc parser: jansson first (keeps logicalType and default), then
 * avro-c on the same text (its own checks, and the schema its decoder
 * needs). Names resolve as the Avro specification says: a dotted name is a
 * full name; a simple name is looked up in the enclosing namespace first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_schema.h"

#define SCHEMA_MAX_BYTES (1024 * 1024)
#define SCHEMA_MAX_DEPTH 64

struct parser {
    struct cut_avsc *avsc;
    struct cut_err *err;
};

static const char *const type_names[] = {
    "null",   "boolean", "int",  "long",  "float", "double", "bytes",
    "string", "record",  "enum", "array", "map",   "union",  "fixed",
};

const char *cut_avro_type_name(enum cut_avro_type type)
{
    return (unsigned)type < sizeof(type_names) / sizeof(type_names[0]) ? type_names[type] : "?";
}

const char *cut_avro_logical_name(enum cut_avro_logical logical)
{
    switch (logical) {
    case CUT_LOGICAL_DECIMAL:
        return "decimal";
    case CUT_LOGICAL_DATE:
        return "date";
    case CUT_LOGICAL_TIME_MILLIS:
        return "time-millis";
    case CUT_LOGICAL_TIME_MICROS:
        return "time-micros";
    case CUT_LOGICAL_TIMESTAMP_MILLIS:
        return "timestamp-millis";
    case CUT_LOGICAL_TIMESTAMP_MICROS:
        return "timestamp-micros";
    case CUT_LOGICAL_UUID:
        return "uuid";
    default:
        return NULL;
    }
}

const char *cut_avro_describe(const struct cut_avro_node *node, char *buf, size_t len)
{
    if (node->logical == CUT_LOGICAL_DECIMAL) {
        snprintf(buf, len, "decimal(%d,%d)", node->precision, node->scale);
    } else if (node->logical != CUT_LOGICAL_NONE) {
        snprintf(buf, len, "%s (%s)", cut_avro_type_name(node->type),
                 cut_avro_logical_name(node->logical));
    } else if (node->name != NULL) {
        snprintf(buf, len, "%s %s", cut_avro_type_name(node->type), node->name);
    } else if (node->type == CUT_AVRO_UNION) {
        size_t at = (size_t)snprintf(buf, len, "union [");
        for (size_t i = 0; i < node->n_branches && at < len; i++) {
            const struct cut_avro_node *b = node->branches[i];
            at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "",
                                   b->name ? b->name : cut_avro_type_name(b->type));
        }
        if (at < len) {
            snprintf(buf + at, len - at, "]");
        }
    } else {
        snprintf(buf, len, "%s", cut_avro_type_name(node->type));
    }
    return buf;
}

bool cut_avro_nullable(const struct cut_avro_node *node, int *null_branch,
                       const struct cut_avro_node **value, int *value_branch)
{
    if (node->type != CUT_AVRO_UNION || node->n_branches != 2) {
        return false;
    }
    int n = node->branches[0]->type == CUT_AVRO_NULL   ? 0
            : node->branches[1]->type == CUT_AVRO_NULL ? 1
                                                       : -1;
    if (n < 0 || node->branches[1 - n]->type == CUT_AVRO_NULL) {
        return false;
    }
    if (null_branch != NULL) {
        *null_branch = n;
    }
    if (value != NULL) {
        *value = node->branches[1 - n];
    }
    if (value_branch != NULL) {
        *value_branch = 1 - n;
    }
    return true;
}

/* ---- tree building ---------------------------------------------------------- */

static struct cut_avro_node *node_new(struct parser *ps, enum cut_avro_type type)
{
    struct cut_avsc *avsc = ps->avsc;
    if (avsc->n_nodes == avsc->cap) {
        size_t cap = avsc->cap ? avsc->cap * 2 : 16;
        struct cut_avro_node **nodes = realloc(avsc->nodes, cap * sizeof(*nodes));
        if (nodes == NULL) {
            return NULL;
        }
        avsc->nodes = nodes;
        avsc->cap = cap;
    }
    struct cut_avro_node *node = calloc(1, sizeof(*node));
    if (node == NULL) {
        return NULL;
    }
    node->type = type;
    node->enum_default = -1;
    avsc->nodes[avsc->n_nodes++] = node;
    return node;
}

static int primitive(const char *name, enum cut_avro_type *type)
{
    for (int t = CUT_AVRO_NULL; t <= CUT_AVRO_STRING; t++) {
        if (strcmp(name, type_names[t]) == 0) {
            *type = (enum cut_avro_type)t;
            return 0;
        }
    }
    return -1;
}

static const struct cut_avro_node *find_named(const struct cut_avsc *avsc, const char *fullname)
{
    for (size_t i = 0; i < avsc->n_nodes; i++) {
        const struct cut_avro_node *n = avsc->nodes[i];
        if (n->fullname != NULL && strcmp(n->fullname, fullname) == 0) {
            return n;
        }
    }
    return NULL;
}

static struct cut_avro_node *resolve(struct parser *ps, const char *name, const char *ns,
                                     const char *where)
{
    struct cut_avro_node *node = NULL;
    char *full = NULL;

    if (strchr(name, '.') == NULL && ns != NULL && ns[0] != '\0') {
        if (asprintf(&full, "%s.%s", ns, name) < 0) {
            cut_err_set(ps->err, CUT_ENOMEM, "out of memory");
            return NULL;
        }
        node = (struct cut_avro_node *)find_named(ps->avsc, full);
        free(full);
    }
    if (node == NULL) {
        node = (struct cut_avro_node *)find_named(ps->avsc, name);
    }
    if (node == NULL) {
        cut_err_set(ps->err, CUT_EINVAL, "%s: unknown type \"%s\"", where, name);
        return NULL;
    }
    if (node->busy) {
        cut_err_set(ps->err, CUT_EINVAL,
                    "%s: type \"%s\" contains itself; recursive schemas are not supported", where,
                    name);
        return NULL;
    }
    return node;
}

static struct cut_avro_node *parse_type(struct parser *ps, const json_t *js, const char *ns,
                                        const char *where, int depth);

static const char *str_attr(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Set the names of a named type; "name" may carry its namespace. On return
 * *ns is the namespace its nested types inherit. */
static int set_name(struct parser *ps, struct cut_avro_node *node, const json_t *obj,
                    const char **ns, const char *where)
{
    const char *name = str_attr(obj, "name");
    const char *own_ns = str_attr(obj, "namespace");
    int rc;

    if (name == NULL || name[0] == '\0') {
        return cut_err_set(ps->err, CUT_EINVAL, "%s: a %s needs a \"name\"", where,
                           cut_avro_type_name(node->type));
    }
    const char *space = own_ns != NULL ? own_ns : *ns;
    if (strchr(name, '.') != NULL || space == NULL || space[0] == '\0') {
        node->fullname = strdup(name);
        rc = node->fullname ? 0 : -1;
    } else {
        rc = asprintf(&node->fullname, "%s.%s", space, name);
        if (rc < 0) {
            node->fullname = NULL;
        }
    }
    if (rc < 0) {
        return cut_err_set(ps->err, CUT_ENOMEM, "out of memory");
    }
    const char *dot = strrchr(node->fullname, '.');
    node->name = dot ? dot + 1 : node->fullname;
    if (dot != NULL) {
        node->space = strndup(node->fullname, (size_t)(dot - node->fullname));
        if (node->space == NULL) {
            return cut_err_set(ps->err, CUT_ENOMEM, "out of memory");
        }
    }
    *ns = node->space;
    for (size_t i = 0; i < ps->avsc->n_nodes; i++) {
        const struct cut_avro_node *other = ps->avsc->nodes[i];
        if (other != node && other->fullname != NULL &&
            strcmp(other->fullname, node->fullname) == 0) {
            return cut_err_set(ps->err, CUT_EINVAL, "%s: type \"%s\" is defined twice", where,
                               node->fullname);
        }
    }
    return CUT_OK;
}

static int parse_record(struct parser *ps, struct cut_avro_node *node, const json_t *obj,
                        const char *ns, const char *where, int depth)
{
    char sub[512];
    const json_t *fields = json_object_get(obj, "fields");

    if (set_name(ps, node, obj, &ns, where) != CUT_OK) {
        return ps->err->code;
    }
    if (!json_is_array(fields)) {
        return cut_err_set(ps->err, CUT_EINVAL, "%s: record %s needs a \"fields\" list", where,
                           node->name);
    }
    node->n_fields = json_array_size(fields);
    node->fields = calloc(node->n_fields ? node->n_fields : 1, sizeof(*node->fields));
    if (node->fields == NULL) {
        return cut_err_set(ps->err, CUT_ENOMEM, "out of memory");
    }
    node->busy = true;
    for (size_t i = 0; i < node->n_fields; i++) {
        const json_t *f = json_array_get(fields, i);
        const char *fname = json_is_object(f) ? str_attr(f, "name") : NULL;
        if (fname == NULL) {
            return cut_err_set(ps->err, CUT_EINVAL, "%s: field %zu of record %s has no \"name\"",
                               where, i, node->name);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(node->fields[j].name, fname) == 0) {
                return cut_err_set(ps->err, CUT_EINVAL, "%s: record %s has two fields \"%s\"",
                                   where, node->name, fname);
            }
        }
        snprintf(sub, sizeof(sub), "%s.%s", where, fname);
        node->fields[i].name = fname;
        node->fields[i].def = json_object_get(f, "default");
        node->fields[i].type = parse_type(ps, json_object_get(f, "type"), ns, sub, depth + 1);
        if (node->fields[i].type == NULL) {
            return ps->err->code;
        }
    }
    node->busy = false;
    return CUT_OK;
}

static int parse_enum(struct parser *ps, struct cut_avro_node *node, const json_t *obj,
                      const char *ns, const char *where)
{
    const json_t *symbols = json_object_get(obj, "symbols");
    const char *def = str_attr(obj, "default");

    if (set_name(ps, node, obj, &ns, where) != CUT_OK) {
        return ps->err->code;
    }
    if (!json_is_array(symbols) || json_array_size(symbols) == 0) {
        return cut_err_set(ps->err, CUT_EINVAL, "%s: enum %s needs a \"symbols\" list", where,
                           node->name);
    }
    node->n_symbols = json_array_size(symbols);
    node->symbols = calloc(node->n_symbols, sizeof(*node->symbols));
    if (node->symbols == NULL) {
        return cut_err_set(ps->err, CUT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < node->n_symbols; i++) {
        node->symbols[i] = json_string_value(json_array_get(symbols, i));
        if (node->symbols[i] == NULL) {
            return cut_err_set(ps->err, CUT_EINVAL, "%s: enum %s: symbol %zu is not a string",
                               where, node->name, i);
        }
        if (def != NULL && strcmp(def, node->symbols[i]) == 0) {
            node->enum_default = (int)i;
        }
    }
    if (def != NULL && node->enum_default < 0) {
        return cut_err_set(ps->err, CUT_EINVAL, "%s: enum %s: default \"%s\" is not a symbol",
                           where, node->name, def);
    }
    return CUT_OK;
}

/* logicalType: set when it fits its base type, ignored otherwise (Avro spec). */
static int set_logical(struct parser *ps, struct cut_avro_node *node, const json_t *obj,
                       const char *where)
{
    const char *lt = str_attr(obj, "logicalType");
    enum cut_avro_type t = node->type;

    if (lt == NULL) {
        return CUT_OK;
    }
    if (strcmp(lt, "decimal") == 0 && (t == CUT_AVRO_BYTES || t == CUT_AVRO_FIXED)) {
        const json_t *p = json_object_get(obj, "precision");
        const json_t *s = json_object_get(obj, "scale");
        json_int_t precision = json_is_integer(p) ? json_integer_value(p) : 0;
        json_int_t scale = s == NULL ? 0 : json_is_integer(s) ? json_integer_value(s) : -1;
        if (precision < 1 || scale < 0 || scale > precision) {
            return CUT_OK; /* an invalid decimal is plain bytes, says the spec */
        }
        if (precision > CUT_DECIMAL_MAX_PRECISION) {
            return cut_err_set(ps->err, CUT_EINVAL,
                               "%s: decimal precision %lld is above the %d supported", where,
                               (long long)precision, CUT_DECIMAL_MAX_PRECISION);
        }
        node->logical = CUT_LOGICAL_DECIMAL;
        node->precision = (int)precision;
        node->scale = (int)scale;
    } else if (strcmp(lt, "date") == 0 && t == CUT_AVRO_INT) {
        node->logical = CUT_LOGICAL_DATE;
    } else if (strcmp(lt, "time-millis") == 0 && t == CUT_AVRO_INT) {
        node->logical = CUT_LOGICAL_TIME_MILLIS;
    } else if (strcmp(lt, "time-micros") == 0 && t == CUT_AVRO_LONG) {
        node->logical = CUT_LOGICAL_TIME_MICROS;
    } else if (strcmp(lt, "timestamp-millis") == 0 && t == CUT_AVRO_LONG) {
        node->logical = CUT_LOGICAL_TIMESTAMP_MILLIS;
    } else if (strcmp(lt, "timestamp-micros") == 0 && t == CUT_AVRO_LONG) {
        node->logical = CUT_LOGICAL_TIMESTAMP_MICROS;
    } else if (strcmp(lt, "uuid") == 0 && t == CUT_AVRO_STRING) {
        node->logical = CUT_LOGICAL_UUID;
    }
    return CUT_OK;
}

static struct cut_avro_node *parse_union(struct parser *ps, const json_t *js, const char *ns,
                                         const char *where, int depth)
{
    struct cut_avro_node *node = node_new(ps, CUT_AVRO_UNION);
    if (node == NULL) {
        cut_err_set(ps->err, CUT_ENOMEM, "out of memory");
        return NULL;
    }
    node->n_branches = json_array_size(js);
    if (node->n_branches == 0) {
        cut_err_set(ps->err, CUT_EINVAL, "%s: empty union", where);
        return NULL;
    }
    node->branches = calloc(node->n_branches, sizeof(*node->branches));
    if (node->branches == NULL) {
        cut_err_set(ps->err, CUT_ENOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < node->n_branches; i++) {
        struct cut_avro_node *b = parse_type(ps, json_array_get(js, i), ns, where, depth + 1);
        if (b == NULL) {
            return NULL;
        }
        if (b->type == CUT_AVRO_UNION) {
            cut_err_set(ps->err, CUT_EINVAL, "%s: a union cannot contain a union", where);
            return NULL;
        }
        for (size_t j = 0; j < i; j++) {
            const struct cut_avro_node *o = node->branches[j];
            if (o->type == b->type && (o->fullname == NULL || b->fullname == NULL ||
                                       strcmp(o->fullname, b->fullname) == 0)) {
                cut_err_set(ps->err, CUT_EINVAL, "%s: union has two branches of type %s", where,
                            cut_avro_type_name(b->type));
                return NULL;
            }
        }
        node->branches[i] = b;
    }
    return node;
}

static struct cut_avro_node *parse_type(struct parser *ps, const json_t *js, const char *ns,
                                        const char *where, int depth)
{
    enum cut_avro_type type;
    struct cut_avro_node *node = NULL;

    if (depth > SCHEMA_MAX_DEPTH) {
        cut_err_set(ps->err, CUT_EINVAL, "%s: schema nested deeper than %d", where,
                    SCHEMA_MAX_DEPTH);
        return NULL;
    }
    if (json_is_string(js)) {
        const char *name = json_string_value(js);
        if (primitive(name, &type) == 0) {
            node = node_new(ps, type);
            if (node == NULL) {
                cut_err_set(ps->err, CUT_ENOMEM, "out of memory");
            }
            return node;
        }
        return resolve(ps, name, ns, where);
    }
    if (json_is_array(js)) {
        return parse_union(ps, js, ns, where, depth);
    }
    if (!json_is_object(js)) {
        cut_err_set(ps->err, CUT_EINVAL, "%s: expected a type (a name, an object or a list)",
                    where);
        return NULL;
    }
    const json_t *tj = json_object_get(js, "type");
    if (json_is_object(tj) || json_is_array(tj)) {
        return parse_type(ps, tj, ns, where, depth + 1); /* {"type": {...}}: lenient */
    }
    const char *tname = json_string_value(tj);
    if (tname == NULL) {
        cut_err_set(ps->err, CUT_EINVAL, "%s: object without a \"type\"", where);
        return NULL;
    }
    if (primitive(tname, &type) == 0) {
        node = node_new(ps, type);
        if (node == NULL) {
            cut_err_set(ps->err, CUT_ENOMEM, "out of memory");
            return NULL;
        }
        return set_logical(ps, node, js, where) == CUT_OK ? node : NULL;
    }
    int rc = CUT_OK;
    if (strcmp(tname, "record") == 0 || strcmp(tname, "error") == 0) {
        node = node_new(ps, CUT_AVRO_RECORD);
        rc = node ? parse_record(ps, node, js, ns, where, depth) : CUT_ENOMEM;
    } else if (strcmp(tname, "enum") == 0) {
        node = node_new(ps, CUT_AVRO_ENUM);
        rc = node ? parse_enum(ps, node, js, ns, where) : CUT_ENOMEM;
    } else if (strcmp(tname, "array") == 0 || strcmp(tname, "map") == 0) {
        bool array = tname[0] == 'a';
        node = node_new(ps, array ? CUT_AVRO_ARRAY : CUT_AVRO_MAP);
        if (node == NULL) {
            rc = CUT_ENOMEM;
        } else {
            struct cut_avro_node *inner = parse_type(
                ps, json_object_get(js, array ? "items" : "values"), ns, where, depth + 1);
            if (inner == NULL) {
                return NULL;
            }
            *(array ? &node->items : &node->values) = inner;
        }
    } else if (strcmp(tname, "fixed") == 0) {
        node = node_new(ps, CUT_AVRO_FIXED);
        const json_t *size = json_object_get(js, "size");
        if (node == NULL) {
            rc = CUT_ENOMEM;
        } else if (set_name(ps, node, js, &ns, where) != CUT_OK) {
            return NULL;
        } else if (!json_is_integer(size) || json_integer_value(size) < 0 ||
                   json_integer_value(size) > 1024 * 1024) {
            rc = cut_err_set(ps->err, CUT_EINVAL, "%s: fixed %s needs a \"size\"", where,
                             node->name);
        } else {
            node->size = (size_t)json_integer_value(size);
            rc = set_logical(ps, node, js, where);
        }
    } else {
        return resolve(ps, tname, ns, where);
    }
    if (rc == CUT_ENOMEM && node == NULL) {
        cut_err_set(ps->err, CUT_ENOMEM, "out of memory");
    }
    return rc == CUT_OK ? node : NULL;
}

/* ---- load ---------------------------------------------------------------- */

int cut_avsc_parse(const char *text, size_t len, struct cut_avsc **out, struct cut_err *err)
{
    json_error_t jerr;
    struct cut_avsc *avsc = calloc(1, sizeof(*avsc));
    struct parser ps = {.avsc = avsc, .err = err};
    struct cut_err local;
    int rc = CUT_OK;

    *out = NULL;
    if (err == NULL) {
        ps.err = &local;
    }
    if (avsc == NULL || (avsc->text = malloc(len + 1)) == NULL) {
        rc = cut_err_set(err, CUT_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(avsc->text, text, len);
    avsc->text[len] = '\0';
    avsc->len = len;
    avsc->json = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (avsc->json == NULL) {
        rc = cut_err_set(err, CUT_EINVAL, "line %d: not valid JSON: %s", jerr.line, jerr.text);
        goto out;
    }
    avsc->root = parse_type(&ps, avsc->json, NULL, "schema", 0);
    if (avsc->root == NULL) {
        rc = ps.err->code ? ps.err->code : CUT_EINVAL;
        goto out;
    }
    if (avro_schema_from_json_length(avsc->text, len, &avsc->avro) != 0) {
        /* avro_strerror() is one global buffer: copy it at once. */
        rc = cut_err_set(err, CUT_EINVAL, "avro-c refuses the schema: %s", avro_strerror());
        avsc->avro = NULL;
        goto out;
    }
out:
    if (rc != CUT_OK) {
        cut_avsc_destroy(avsc);
        return rc;
    }
    *out = avsc;
    return CUT_OK;
}

int cut_avsc_load(const char *path, struct cut_avsc **avsc, struct cut_err *err)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    int rc;

    if (fp == NULL) {
        return cut_err_set(err, CUT_EINVAL, "cannot open: %s", strerror(errno));
    }
    buf = malloc(SCHEMA_MAX_BYTES + 1);
    if (buf == NULL) {
        fclose(fp);
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    size_t len = fread(buf, 1, SCHEMA_MAX_BYTES + 1, fp);
    if (ferror(fp)) {
        rc = cut_err_set(err, CUT_EINVAL, "cannot read: %s", strerror(errno));
    } else if (len > SCHEMA_MAX_BYTES) {
        rc = cut_err_set(err, CUT_EINVAL, "larger than %d bytes", SCHEMA_MAX_BYTES);
    } else {
        rc = cut_avsc_parse(buf, len, avsc, err);
    }
    free(buf);
    fclose(fp);
    return rc;
}

void cut_avsc_destroy(struct cut_avsc *avsc)
{
    if (avsc == NULL) {
        return;
    }
    for (size_t i = 0; i < avsc->n_nodes; i++) {
        struct cut_avro_node *n = avsc->nodes[i];
        free(n->fullname);
        free(n->space);
        free(n->fields);
        free(n->symbols);
        free(n->branches);
        free(n);
    }
    free(avsc->nodes);
    if (avsc->avro != NULL) {
        avro_schema_decref(avsc->avro);
    }
    json_decref(avsc->json);
    free(avsc->text);
    free(avsc);
}
