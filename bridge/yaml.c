/*
 * YAML loading: libyaml's event parser turned into the cut_node tree of
 * config.h, with `${VAR}` interpolation of scalar values.
 *
 * Deliberately a subset of YAML, because a config file is not a place for
 * cleverness: one document, no aliases (an alias can make a small file expand
 * into a huge tree, and merge keys hide where a value came from), scalar map
 * keys only, no duplicate keys. Tags are ignored. Keys are never interpolated,
 * only values, so a key's name is always what the file says.
 *
 * Semantic problems (duplicate keys, unset variables) are reported and the
 * tree is still returned, so the key tables can report their own problems in
 * the same run. Only problems that leave no usable tree (the file cannot be
 * read, a syntax error, an alias) make cut_yaml_load() return NULL.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "cutover/config.h"

/* Deep enough for any real config; stops a hostile file from exhausting the stack. */
#define YAML_MAX_DEPTH 64

struct loader {
    yaml_parser_t parser;
    FILE *fp;
    const char *file;
    struct cut_cfg_errors *errs;
    int failed; /* the tree cannot be trusted: return NULL */
};

/* ---- errors --------------------------------------------------------------- */

void cut_cfg_error(struct cut_cfg_errors *errs, const char *file, int line, const char *key,
                   const char *fmt, ...)
{
    char *msg = NULL;
    char *text = NULL;
    va_list ap;

    if (errs == NULL) {
        return;
    }
    if (file == NULL) {
        file = "(config)";
    }
    va_start(ap, fmt);
    int rc = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        msg = NULL;
        goto out;
    }
    /* Leave out the parts we do not have, rather than printing "0" or an empty key. */
    const char *sep = (key != NULL && key[0] != '\0') ? ": " : "";
    if (key == NULL) {
        key = "";
    }
    if (line > 0) {
        rc = asprintf(&text, "%s:%d: %s%s%s", file, line, key, sep, msg);
    } else {
        rc = asprintf(&text, "%s: %s%s%s", file, key, sep, msg);
    }
    if (rc < 0) {
        text = NULL;
        goto out;
    }
    char **lines = realloc(errs->lines, (errs->n + 1) * sizeof(*lines));
    if (lines == NULL) {
        goto out;
    }
    errs->lines = lines;
    errs->lines[errs->n++] = text;
    text = NULL;
out:
    free(text);
    free(msg);
}

void cut_cfg_errors_fini(struct cut_cfg_errors *errs)
{
    if (errs == NULL) {
        return;
    }
    for (size_t i = 0; i < errs->n; i++) {
        free(errs->lines[i]);
    }
    free(errs->lines);
    errs->lines = NULL;
    errs->n = 0;
}

/* ---- tree ------------------------------------------------------------------- */

void cut_node_destroy(struct cut_node *node)
{
    if (node == NULL) {
        return;
    }
    free(node->scalar);
    for (size_t i = 0; node->kind == CUT_NODE_MAP && i < node->n; i++) {
        free(node->pairs[i].key);
        cut_node_destroy(node->pairs[i].value);
    }
    for (size_t i = 0; node->kind == CUT_NODE_SEQ && i < node->n; i++) {
        cut_node_destroy(node->items[i]);
    }
    free(node->pairs);
    free(node->items);
    free(node);
}

const struct cut_node *cut_node_get(const struct cut_node *map, const char *key)
{
    if (map == NULL || map->kind != CUT_NODE_MAP || key == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->pairs[i].key, key) == 0) {
            return map->pairs[i].value;
        }
    }
    return NULL;
}

bool cut_node_is_null(const struct cut_node *node)
{
    if (node == NULL || node->kind != CUT_NODE_SCALAR || !node->plain) {
        return false;
    }
    const char *s = node->scalar;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static struct cut_node *node_new(enum cut_node_kind kind, int line)
{
    struct cut_node *node = calloc(1, sizeof(*node));
    if (node != NULL) {
        node->kind = kind;
        node->line = line;
    }
    return node;
}

/* "a.b" + "c" -> "a.b.c"; a NULL or empty parent gives "c". Caller frees. */
static char *path_join(const char *parent, const char *key)
{
    char *path = NULL;
    if (parent == NULL || parent[0] == '\0') {
        return strdup(key);
    }
    if (asprintf(&path, "%s.%s", parent, key) < 0) {
        return NULL;
    }
    return path;
}

/* ---- interpolation ---------------------------------------------------------- */

struct buf {
    char *data;
    size_t len, cap;
};

static int buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        char *data = realloc(b->data, cap);
        if (data == NULL) {
            return -1;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int is_name_char(char c, int first)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/*
 * Expand `${VAR}`, `${VAR:-default}` and `$${` in @p text. Like the shell, a
 * default applies when VAR is unset or empty. The default is taken literally
 * up to the first `}` (no nesting), which is enough for ports and hosts and
 * keeps the rule easy to state. On an error the raw text is kept as the value,
 * so that a later "expected an integer, got "${PORT}"" points at the cause.
 * Returns the number of errors reported, or -1 when out of memory; *out is
 * the new heap string.
 */
static int interpolate(struct loader *ld, const char *text, int line, const char *path, char **out)
{
    struct buf b = {0};
    int nerr = 0;
    const char *p = text;

    *out = NULL;
    if (buf_add(&b, "", 0) < 0) {
        return -1;
    }
    while (*p != '\0') {
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') {
            if (buf_add(&b, "${", 2) < 0) {
                goto oom;
            }
            p += 3;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            if (buf_add(&b, p, 1) < 0) {
                goto oom;
            }
            p++;
            continue;
        }
        const char *name = p + 2;
        const char *end = name;
        while (is_name_char(*end, end == name)) {
            end++;
        }
        size_t name_len = (size_t)(end - name);
        const char *def = NULL;
        size_t def_len = 0;
        if (name_len > 0 && end[0] == ':' && end[1] == '-') {
            def = end + 2;
            end = strchr(def, '}');
            if (end != NULL) {
                def_len = (size_t)(end - def);
            }
        }
        if (name_len == 0 || end == NULL || *end != '}') {
            cut_cfg_error(ld->errs, ld->file, line, path,
                          "bad variable reference (use ${NAME} or ${NAME:-default}, "
                          "and $${ for a literal ${)");
            nerr++;
            break;
        }
        char *var = strndup(name, name_len);
        if (var == NULL) {
            goto oom;
        }
        const char *val = getenv(var);
        int rc = 0;
        if (val != NULL && val[0] != '\0') {
            rc = buf_add(&b, val, strlen(val));
        } else if (def != NULL) {
            rc = buf_add(&b, def, def_len);
        } else if (val == NULL) {
            cut_cfg_error(ld->errs, ld->file, line, path, "environment variable %s is not set",
                          var);
            nerr++;
        }
        free(var);
        if (rc < 0) {
            goto oom;
        }
        p = end + 1;
    }
    if (nerr > 0) {
        free(b.data);
        *out = strdup(text);
        return *out == NULL ? -1 : nerr;
    }
    *out = b.data;
    return 0;
oom:
    free(b.data);
    return -1;
}

/* ---- parsing ---------------------------------------------------------------- */

/* The 1-based line of byte @p offset of @p fp, or 0 when the file cannot be re-read. */
static int line_at(FILE *fp, size_t offset)
{
    int line = 1;
    if (fseek(fp, 0, SEEK_SET) != 0) {
        return 0;
    }
    for (size_t i = 0; i < offset; i++) {
        int c = getc(fp);
        if (c == EOF) {
            break;
        }
        line += c == '\n';
    }
    return line;
}

static void parser_error(struct loader *ld)
{
    const yaml_parser_t *p = &ld->parser;
    const char *problem = p->problem ? p->problem : "unknown problem";

    ld->failed = 1;
    if (p->error == YAML_MEMORY_ERROR) {
        cut_cfg_error(ld->errs, ld->file, 0, NULL, "out of memory while parsing");
    } else if (p->error == YAML_READER_ERROR) {
        /* The reader knows only a byte offset (bad UTF-8, say): count the lines up to it. */
        cut_cfg_error(ld->errs, ld->file, line_at(ld->fp, p->problem_offset), NULL,
                      "cannot read YAML: %s (byte %zu)", problem, p->problem_offset);
    } else if (p->context != NULL) {
        cut_cfg_error(ld->errs, ld->file, (int)p->problem_mark.line + 1, NULL,
                      "YAML syntax error: %s (%s, line %d)", problem, p->context,
                      (int)p->context_mark.line + 1);
    } else {
        cut_cfg_error(ld->errs, ld->file, (int)p->problem_mark.line + 1, NULL,
                      "YAML syntax error: %s", problem);
    }
}

static int next_event(struct loader *ld, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&ld->parser, ev)) {
        parser_error(ld);
        return -1;
    }
    return 0;
}

static int event_line(const yaml_event_t *ev)
{
    return (int)ev->start_mark.line + 1;
}

static struct cut_node *parse_node(struct loader *ld, yaml_event_t *ev, const char *path,
                                   int depth);

static struct cut_node *parse_scalar(struct loader *ld, yaml_event_t *ev, const char *path)
{
    struct cut_node *node = node_new(CUT_NODE_SCALAR, event_line(ev));
    if (node == NULL) {
        goto oom;
    }
    node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (interpolate(ld, (const char *)ev->data.scalar.value, node->line, path, &node->scalar) < 0) {
        goto oom;
    }
    return node;
oom:
    cut_node_destroy(node);
    cut_cfg_error(ld->errs, ld->file, event_line(ev), path, "out of memory");
    ld->failed = 1;
    return NULL;
}

static const char *kind_name(yaml_event_type_t type)
{
    return type == YAML_MAPPING_START_EVENT ? "a map" : "a list";
}

/* Called with the MAPPING-START event in @p ev; consumes up to MAPPING-END. */
static struct cut_node *parse_map(struct loader *ld, yaml_event_t *ev, const char *path, int depth)
{
    struct cut_node *node = node_new(CUT_NODE_MAP, event_line(ev));
    yaml_event_t kev, vev;
    size_t cap = 0;

    if (node == NULL) {
        goto fail;
    }
    for (;;) {
        if (next_event(ld, &kev) < 0) {
            goto fail;
        }
        if (kev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&kev);
            return node;
        }
        int key_line = event_line(&kev);
        char *key = NULL;
        if (kev.type == YAML_SCALAR_EVENT) {
            key = strdup((const char *)kev.data.scalar.value);
            yaml_event_delete(&kev);
            if (key == NULL) {
                goto fail;
            }
        } else if (kev.type == YAML_ALIAS_EVENT) {
            cut_cfg_error(ld->errs, ld->file, key_line, path, "aliases (*%s) are not supported",
                          (const char *)kev.data.alias.anchor);
            yaml_event_delete(&kev);
            ld->failed = 1;
            goto fail;
        } else {
            /* A complex key: report it, then parse and drop the pair to stay in step. */
            cut_cfg_error(ld->errs, ld->file, key_line, path, "a map key must be a scalar, not %s",
                          kind_name(kev.type));
            cut_node_destroy(parse_node(ld, &kev, path, depth + 1));
            if (ld->failed || next_event(ld, &vev) < 0) {
                goto fail;
            }
            cut_node_destroy(parse_node(ld, &vev, path, depth + 1));
            if (ld->failed) {
                goto fail;
            }
            continue;
        }

        char *sub = path_join(path, key);
        if (sub == NULL || next_event(ld, &vev) < 0) {
            free(sub);
            free(key);
            goto fail;
        }
        struct cut_node *value = parse_node(ld, &vev, sub, depth + 1);
        if (value == NULL) {
            free(sub);
            free(key);
            goto fail;
        }
        /* A duplicate is an error whose fix is ambiguous: keep the first, drop the rest. */
        const struct cut_node *first = NULL;
        int first_line = 0;
        for (size_t i = 0; i < node->n; i++) {
            if (strcmp(node->pairs[i].key, key) == 0) {
                first = node->pairs[i].value;
                first_line = node->pairs[i].key_line;
                break;
            }
        }
        if (first != NULL) {
            cut_cfg_error(ld->errs, ld->file, key_line, sub,
                          "duplicate key (first defined at line %d)", first_line);
            free(sub);
            free(key);
            cut_node_destroy(value);
            continue;
        }
        free(sub);
        if (node->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct cut_node_pair *pairs = realloc(node->pairs, ncap * sizeof(*pairs));
            if (pairs == NULL) {
                free(key);
                cut_node_destroy(value);
                goto fail;
            }
            node->pairs = pairs;
            cap = ncap;
        }
        node->pairs[node->n].key = key;
        node->pairs[node->n].key_line = key_line;
        node->pairs[node->n].value = value;
        node->n++;
    }
fail:
    if (!ld->failed) {
        cut_cfg_error(ld->errs, ld->file, node ? node->line : 0, path, "out of memory");
        ld->failed = 1;
    }
    cut_node_destroy(node);
    return NULL;
}

/* Called with the SEQUENCE-START event in @p ev; consumes up to SEQUENCE-END. */
static struct cut_node *parse_seq(struct loader *ld, yaml_event_t *ev, const char *path, int depth)
{
    struct cut_node *node = node_new(CUT_NODE_SEQ, event_line(ev));
    yaml_event_t iev;
    size_t cap = 0;

    if (node == NULL) {
        goto fail;
    }
    for (;;) {
        if (next_event(ld, &iev) < 0) {
            goto fail;
        }
        if (iev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&iev);
            return node;
        }
        char *sub = NULL;
        if (asprintf(&sub, "%s[%zu]", path ? path : "", node->n) < 0) {
            yaml_event_delete(&iev);
            goto fail;
        }
        struct cut_node *item = parse_node(ld, &iev, sub, depth + 1);
        free(sub);
        if (item == NULL) {
            goto fail;
        }
        if (node->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct cut_node **items = realloc(node->items, ncap * sizeof(*items));
            if (items == NULL) {
                cut_node_destroy(item);
                goto fail;
            }
            node->items = items;
            cap = ncap;
        }
        node->items[node->n++] = item;
    }
fail:
    if (!ld->failed) {
        cut_cfg_error(ld->errs, ld->file, node ? node->line : 0, path, "out of memory");
        ld->failed = 1;
    }
    cut_node_destroy(node);
    return NULL;
}

/* Build the node that starts with @p ev; takes ownership of the event. */
static struct cut_node *parse_node(struct loader *ld, yaml_event_t *ev, const char *path, int depth)
{
    struct cut_node *node = NULL;

    if (depth > YAML_MAX_DEPTH) {
        cut_cfg_error(ld->errs, ld->file, event_line(ev), path, "nested more than %d levels deep",
                      YAML_MAX_DEPTH);
        ld->failed = 1;
        goto out;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        node = parse_scalar(ld, ev, path);
        break;
    case YAML_MAPPING_START_EVENT:
        node = parse_map(ld, ev, path, depth);
        break;
    case YAML_SEQUENCE_START_EVENT:
        node = parse_seq(ld, ev, path, depth);
        break;
    case YAML_ALIAS_EVENT:
        cut_cfg_error(ld->errs, ld->file, event_line(ev), path, "aliases (*%s) are not supported",
                      (const char *)ev->data.alias.anchor);
        ld->failed = 1;
        break;
    default:
        cut_cfg_error(ld->errs, ld->file, event_line(ev), path, "unexpected YAML event %d",
                      (int)ev->type);
        ld->failed = 1;
        break;
    }
out:
    yaml_event_delete(ev);
    return node;
}

/* Parse the stream: zero or one document. An empty file is an empty map. */
static struct cut_node *parse_stream(struct loader *ld)
{
    struct cut_node *root = NULL;
    yaml_event_t ev;

    if (next_event(ld, &ev) < 0) {
        return NULL;
    }
    yaml_event_delete(&ev); /* STREAM-START */
    if (next_event(ld, &ev) < 0) {
        return NULL;
    }
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        root = node_new(CUT_NODE_MAP, 1);
        if (root == NULL) {
            cut_cfg_error(ld->errs, ld->file, 0, NULL, "out of memory");
            ld->failed = 1;
        }
        return root;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    if (next_event(ld, &ev) < 0) {
        return NULL;
    }
    root = parse_node(ld, &ev, "", 0);
    if (root == NULL) {
        return NULL;
    }
    if (next_event(ld, &ev) < 0) { /* DOCUMENT-END */
        goto fail;
    }
    yaml_event_delete(&ev);
    if (next_event(ld, &ev) < 0) {
        goto fail;
    }
    if (ev.type != YAML_STREAM_END_EVENT) {
        cut_cfg_error(ld->errs, ld->file, event_line(&ev), NULL,
                      "only one YAML document is allowed (found another one here)");
        yaml_event_delete(&ev);
        goto fail;
    }
    yaml_event_delete(&ev);
    return root;
fail:
    ld->failed = 1;
    cut_node_destroy(root);
    return NULL;
}

struct cut_node *cut_yaml_load(const char *path, struct cut_cfg_errors *errs)
{
    struct loader ld = {.file = path, .errs = errs};
    struct cut_node *root = NULL;
    FILE *fp = fopen(path, "rb");

    if (fp == NULL) {
        cut_cfg_error(errs, path, 0, NULL, "cannot open: %s", strerror(errno));
        return NULL;
    }
    /* fopen() accepts a directory; say so plainly instead of a reader error later. */
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        cut_cfg_error(errs, path, 0, NULL, "cannot open: %s", strerror(EISDIR));
        goto out;
    }
    if (!yaml_parser_initialize(&ld.parser)) {
        cut_cfg_error(errs, path, 0, NULL, "out of memory");
        goto out;
    }
    ld.fp = fp;
    yaml_parser_set_input_file(&ld.parser, fp);
    root = parse_stream(&ld);
    if (ld.failed) {
        cut_node_destroy(root);
        root = NULL;
    }
    yaml_parser_delete(&ld.parser);
out:
    fclose(fp);
    return root;
}
