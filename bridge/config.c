/*
 * Key tables: fill a settings struct from a map node, check every value, and
 * write the reference documentation from the same table (so the docs cannot
 * drift from the code).
 *
 * Every problem is reported with the file, the line and the dotted key, and
 * applying goes on after a problem so that one run reports them all. Values
 * of keys marked secret are never echoed in a message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cutover/config.h"

#define FIELD(obj, key, type) ((type *)(void *)((char *)(obj) + (key)->offset))

/* ---- property lists --------------------------------------------------------- */

void cut_kv_list_fini(struct cut_kv_list *list)
{
    if (list == NULL) {
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        free(list->items[i].key);
        free(list->items[i].value);
    }
    free(list->items);
    list->items = NULL;
    list->n = 0;
}

const char *cut_kv_get(const struct cut_kv_list *list, const char *key)
{
    if (list == NULL || key == NULL) {
        return NULL;
    }
    /* From the end: the last value set wins, as with librdkafka's own conf. */
    for (size_t i = list->n; i > 0; i--) {
        if (strcmp(list->items[i - 1].key, key) == 0) {
            return list->items[i - 1].value;
        }
    }
    return NULL;
}

static int kv_add(struct cut_kv_list *list, const char *key, const char *value, int line)
{
    struct cut_kv *items = realloc(list->items, (list->n + 1) * sizeof(*items));
    if (items == NULL) {
        return -1;
    }
    list->items = items;
    char *k = strdup(key);
    char *v = strdup(value);
    if (k == NULL || v == NULL) {
        free(k);
        free(v);
        return -1;
    }
    list->items[list->n++] = (struct cut_kv){.key = k, .value = v, .line = line};
    return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

static char *join(const char *parent, const char *key)
{
    char *path = NULL;
    if (parent == NULL || parent[0] == '\0') {
        return strdup(key);
    }
    return asprintf(&path, "%s.%s", parent, key) < 0 ? NULL : path;
}

static const char *kind_desc(const struct cut_node *node)
{
    switch (node->kind) {
    case CUT_NODE_MAP:
        return "a map";
    case CUT_NODE_SEQ:
        return "a list";
    default:
        return "a scalar";
    }
}

/* The effective bounds: "both 0" means none, and max < min means "no upper bound". */
static void bounds(const struct cut_cfg_key *key, int64_t *min, int64_t *max)
{
    *min = INT64_MIN;
    *max = INT64_MAX;
    if (key->min == 0 && key->max == 0) {
        if (key->type == CUT_CFG_MS) {
            *min = 0;
        }
        return;
    }
    *min = key->min;
    *max = key->max >= key->min ? key->max : INT64_MAX;
}

/* 90000 -> "90s", 120000 -> "2m": bounds read as the user would write them. */
static void fmt_ms(int64_t ms, char *out, size_t size)
{
    if (ms == 0) {
        snprintf(out, size, "0");
    } else if (ms % 3600000 == 0) {
        snprintf(out, size, "%" PRId64 "h", ms / 3600000);
    } else if (ms % 60000 == 0) {
        snprintf(out, size, "%" PRId64 "m", ms / 60000);
    } else if (ms % 1000 == 0) {
        snprintf(out, size, "%" PRId64 "s", ms / 1000);
    } else {
        snprintf(out, size, "%" PRId64 "ms", ms);
    }
}

static void fmt_num(const struct cut_cfg_key *key, int64_t v, char *out, size_t size)
{
    if (key->type == CUT_CFG_MS) {
        fmt_ms(v, out, size);
    } else {
        snprintf(out, size, "%" PRId64, v);
    }
}

/* " between 1 and 65535", " of at least 1" or "" for the messages and the docs. */
static void range_desc(const struct cut_cfg_key *key, char *out, size_t size)
{
    int64_t min, max;
    char a[32], b[32];

    bounds(key, &min, &max);
    fmt_num(key, min, a, sizeof(a));
    fmt_num(key, max, b, sizeof(b));
    if (min != INT64_MIN && max != INT64_MAX) {
        snprintf(out, size, " between %s and %s", a, b);
    } else if (min != INT64_MIN && !(key->type == CUT_CFG_MS && min == 0)) {
        snprintf(out, size, " of at least %s", a);
    } else if (max != INT64_MAX) {
        snprintf(out, size, " of at most %s", b);
    } else {
        out[0] = '\0';
    }
}

static int parse_int(const char *s, int64_t *out)
{
    char *end = NULL;
    if (!((s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '+')) {
        return -1;
    }
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_ms(const char *s, int64_t *out)
{
    static const struct {
        const char *unit;
        int64_t mult;
    } units[] = {{"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    const char *p = s;
    int64_t v = 0;

    if (*p < '0' || *p > '9') {
        return -1;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (INT64_MAX - (*p - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) == 0) {
            if (v > INT64_MAX / units[i].mult) {
                return -1;
            }
            *out = v * units[i].mult;
            return 0;
        }
    }
    return -1;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static void choices_desc(const struct cut_cfg_key *key, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; key->choices != NULL && key->choices[i] != NULL && len < size; i++) {
        int n = snprintf(out + len, size - len, "%s%s", i ? ", " : "", key->choices[i]);
        len += n > 0 ? (size_t)n : 0;
    }
}

/*
 * Parse the text of a scalar-typed key into its field. On failure writes the
 * reason into @p why (without the value) and returns -1. Used for the values
 * in the file and for the defaults in the table alike.
 */
static int set_scalar(const struct cut_cfg_key *key, const char *text, void *obj, char *why,
                      size_t why_size)
{
    char desc[256];
    int64_t v, min, max;
    bool b;

    switch (key->type) {
    case CUT_CFG_STRING: {
        char *copy = strdup(text);
        if (copy == NULL) {
            snprintf(why, why_size, "out of memory");
            return -1;
        }
        free(*FIELD(obj, key, char *));
        *FIELD(obj, key, char *) = copy;
        return 0;
    }
    case CUT_CFG_INT:
    case CUT_CFG_MS:
        bounds(key, &min, &max);
        range_desc(key, desc, sizeof(desc));
        if ((key->type == CUT_CFG_INT ? parse_int(text, &v) : parse_ms(text, &v)) < 0 || v < min ||
            v > max) {
            if (key->type == CUT_CFG_INT) {
                snprintf(why, why_size, "expected an integer%s", desc);
            } else {
                snprintf(why, why_size,
                         "expected a duration (like 250ms, 5s, 2m, 1h, or a number of ms)%s", desc);
            }
            return -1;
        }
        *FIELD(obj, key, int64_t) = v;
        return 0;
    case CUT_CFG_BOOL:
        if (parse_bool(text, &b) < 0) {
            snprintf(why, why_size, "expected true or false (or yes/no, on/off)");
            return -1;
        }
        *FIELD(obj, key, bool) = b;
        return 0;
    case CUT_CFG_ENUM:
        for (int i = 0; key->choices != NULL && key->choices[i] != NULL; i++) {
            if (strcasecmp(text, key->choices[i]) == 0) {
                *FIELD(obj, key, int) = i;
                return 0;
            }
        }
        choices_desc(key, desc, sizeof(desc));
        snprintf(why, why_size, "expected one of %s", desc);
        return -1;
    case CUT_CFG_FLOAT: {
        char *end = NULL;
        errno = 0;
        double d = strtod(text, &end);
        if (end != text && end[0] == '%' && end[1] == '\0') {
            d /= 100.0;
            end++;
        }
        bool bounded = key->fmin != 0 || key->fmax != 0;
        if (errno != 0 || end == text || *end != '\0' || d != d ||
            (bounded && (d < key->fmin || d > key->fmax))) {
            if (bounded) {
                snprintf(why, why_size, "expected a number (0.05 or 5%%) between %g and %g",
                         key->fmin, key->fmax);
            } else {
                snprintf(why, why_size, "expected a number (0.05 or 5%%)");
            }
            return -1;
        }
        *FIELD(obj, key, double) = d;
        return 0;
    }
    case CUT_CFG_PROPS:
        break;
    }
    snprintf(why, why_size, "internal error: key type %d has no scalar form", (int)key->type);
    return -1;
}

/* Fill a property list from @p map; nested maps and lists are errors. */
static int set_props(const struct cut_node *map, struct cut_kv_list *list, const char *path,
                     const struct cut_cfg_ctx *ctx)
{
    int nerr = 0;

    if (cut_node_is_null(map)) {
        return 0;
    }
    if (map->kind != CUT_NODE_MAP) {
        cut_cfg_error(ctx->errs, ctx->file, map->line, path, "expected a map of properties, got %s",
                      kind_desc(map));
        return 1;
    }
    for (size_t i = 0; i < map->n; i++) {
        const struct cut_node_pair *pair = &map->pairs[i];
        char *sub = join(path, pair->key);
        if (pair->value->kind != CUT_NODE_SCALAR || cut_node_is_null(pair->value)) {
            cut_cfg_error(ctx->errs, ctx->file, pair->key_line, sub ? sub : path,
                          "expected a scalar value, got %s",
                          cut_node_is_null(pair->value) ? "nothing" : kind_desc(pair->value));
            nerr++;
        } else if (kv_add(list, pair->key, pair->value->scalar, pair->key_line) < 0) {
            cut_cfg_error(ctx->errs, ctx->file, pair->key_line, sub ? sub : path, "out of memory");
            nerr++;
        }
        free(sub);
    }
    return nerr;
}

/* Edit distance, for "did you mean": keys are short, so a small fixed table is enough. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65];

    if (la > 64 || lb > 64) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        row[j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) {
                best = row[j] + 1;
            }
            if (row[j - 1] + 1 < best) {
                best = row[j - 1] + 1;
            }
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static int in_list(const char *const *list, const char *name)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        if (strcmp(list[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

static void unknown_key(const struct cut_cfg_key *keys, const char *const *skip, const char *name,
                        int line, const char *path, const struct cut_cfg_ctx *ctx)
{
    char known[512], hint[128] = "";
    size_t len = 0, best = 3;
    const char *guess = NULL;

    known[0] = '\0';
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t i = 0;; i++) {
            const char *k = pass == 0 ? keys[i].name : (skip ? skip[i] : NULL);
            if (k == NULL) {
                break;
            }
            if (len < sizeof(known)) {
                int n = snprintf(known + len, sizeof(known) - len, "%s%s", len ? ", " : "", k);
                len += n > 0 ? (size_t)n : 0;
            }
            size_t d = edit_distance(name, k);
            if (d < best && d < strlen(k)) {
                best = d;
                guess = k;
            }
        }
    }
    if (guess != NULL) {
        snprintf(hint, sizeof(hint), "did you mean \"%s\"? ", guess);
    }
    cut_cfg_error(ctx->errs, ctx->file, line, path, "unknown key (%sknown: %s)", hint, known);
}

/* ---- apply / release -------------------------------------------------------- */

int cut_cfg_apply(const struct cut_cfg_key *keys, const struct cut_node *map, void *obj,
                  const char *path, const char *const *skip, const struct cut_cfg_ctx *ctx)
{
    char why[512];
    size_t nkeys = 0;
    int nerr = 0;
    bool *seen = NULL;

    while (keys[nkeys].name != NULL) {
        nkeys++;
    }
    seen = calloc(nkeys + 1, sizeof(*seen));
    if (seen == NULL) {
        cut_cfg_error(ctx->errs, ctx->file, map ? map->line : 0, path, "out of memory");
        return 1;
    }
    for (size_t i = 0; i < nkeys; i++) {
        if (keys[i].def == NULL || keys[i].type == CUT_CFG_PROPS) {
            continue;
        }
        if (set_scalar(&keys[i], keys[i].def, obj, why, sizeof(why)) < 0) {
            /* A bad default is a bug in the table, not in the file: say whose. */
            char *sub = join(path, keys[i].name);
            cut_cfg_error(ctx->errs, ctx->file, 0, sub ? sub : path,
                          "internal error: bad built-in default \"%s\": %s", keys[i].def, why);
            free(sub);
            nerr++;
        }
    }
    /* A missing or empty section: the defaults stand, required keys are missing. */
    if (map != NULL && !cut_node_is_null(map) && map->kind != CUT_NODE_MAP) {
        cut_cfg_error(ctx->errs, ctx->file, map->line, path, "expected a map, got %s",
                      kind_desc(map));
        nerr++;
        goto out;
    }
    for (size_t p = 0; map != NULL && map->kind == CUT_NODE_MAP && p < map->n; p++) {
        const struct cut_node_pair *pair = &map->pairs[p];
        const struct cut_node *val = pair->value;
        const struct cut_cfg_key *key = NULL;
        size_t k;

        if (in_list(skip, pair->key)) {
            continue;
        }
        for (k = 0; k < nkeys; k++) {
            if (strcmp(keys[k].name, pair->key) == 0) {
                key = &keys[k];
                break;
            }
        }
        char *sub = join(path, pair->key);
        const char *where = sub ? sub : pair->key;
        if (key == NULL) {
            unknown_key(keys, skip, pair->key, pair->key_line, where, ctx);
            nerr++;
        } else if (key->type == CUT_CFG_PROPS) {
            seen[k] = true;
            nerr += set_props(val, FIELD(obj, key, struct cut_kv_list), where, ctx);
        } else if (cut_node_is_null(val)) {
            /* `key:` with nothing keeps the default; a required key still needs a value. */
            seen[k] = true;
            if (key->required) {
                cut_cfg_error(ctx->errs, ctx->file, pair->key_line, where, "a value is required");
                nerr++;
            }
        } else if (val->kind != CUT_NODE_SCALAR) {
            seen[k] = true;
            cut_cfg_error(ctx->errs, ctx->file, val->line, where, "expected a single value, got %s",
                          kind_desc(val));
            nerr++;
        } else {
            seen[k] = true;
            if (set_scalar(key, val->scalar, obj, why, sizeof(why)) < 0) {
                if (key->secret) {
                    cut_cfg_error(ctx->errs, ctx->file, val->line, where, "%s (value not shown)",
                                  why);
                } else {
                    cut_cfg_error(ctx->errs, ctx->file, val->line, where, "%s, got \"%s\"", why,
                                  val->scalar);
                }
                nerr++;
            }
        }
        free(sub);
    }
    for (size_t i = 0; i < nkeys; i++) {
        if (keys[i].required && !seen[i]) {
            cut_cfg_error(ctx->errs, ctx->file, map ? map->line : 0, path,
                          "missing required key \"%s\"", keys[i].name);
            nerr++;
        }
    }
out:
    free(seen);
    return nerr;
}

void cut_cfg_release(const struct cut_cfg_key *keys, void *obj)
{
    if (keys == NULL || obj == NULL) {
        return;
    }
    for (const struct cut_cfg_key *key = keys; key->name != NULL; key++) {
        if (key->type == CUT_CFG_STRING) {
            free(*FIELD(obj, key, char *));
            *FIELD(obj, key, char *) = NULL;
        } else if (key->type == CUT_CFG_PROPS) {
            cut_kv_list_fini(FIELD(obj, key, struct cut_kv_list));
        }
    }
}

/* ---- reference documentation ---------------------------------------------- */

/* Markdown table cells cannot hold a bare '|'. */
static void put_cell(FILE *fp, const char *text)
{
    for (const char *p = text ? text : ""; *p != '\0'; p++) {
        if (*p == '|') {
            fputs("\\|", fp);
        } else if (*p == '\n') {
            fputc(' ', fp);
        } else {
            fputc(*p, fp);
        }
    }
}

static void put_type(FILE *fp, const struct cut_cfg_key *key)
{
    char desc[256];

    switch (key->type) {
    case CUT_CFG_STRING:
        fputs("string", fp);
        break;
    case CUT_CFG_INT:
    case CUT_CFG_MS:
        range_desc(key, desc, sizeof(desc));
        fputs(key->type == CUT_CFG_INT ? "integer" : "duration", fp);
        put_cell(fp, desc);
        break;
    case CUT_CFG_BOOL:
        fputs("boolean", fp);
        break;
    case CUT_CFG_ENUM:
        choices_desc(key, desc, sizeof(desc));
        fputs("one of: ", fp);
        put_cell(fp, desc);
        break;
    case CUT_CFG_PROPS:
        fputs("map of strings, passed as they are", fp);
        break;
    case CUT_CFG_FLOAT:
        if (key->fmin != 0 || key->fmax != 0) {
            snprintf(desc, sizeof(desc), "number between %g and %g (0.05 or 5%%)", key->fmin,
                     key->fmax);
            put_cell(fp, desc);
        } else {
            fputs("number (0.05 or 5%)", fp);
        }
        break;
    }
    if (key->secret) {
        fputs(" (secret)", fp);
    }
}

void cut_cfg_doc(const struct cut_cfg_key *keys, const char *section, void *out)
{
    FILE *fp = out;

    if (section != NULL) {
        fprintf(fp, "### `%s`\n\n", section);
    }
    fputs("| key | type | default | description |\n", fp);
    fputs("|---|---|---|---|\n", fp);
    for (const struct cut_cfg_key *key = keys; key->name != NULL; key++) {
        fprintf(fp, "| `%s` | ", key->name);
        put_type(fp, key);
        fputs(" | ", fp);
        if (key->required) {
            fputs("*required*", fp);
        } else if (key->def != NULL) {
            fputc('`', fp);
            put_cell(fp, key->def);
            fputc('`', fp);
        } else {
            fputs("-", fp);
        }
        fputs(" | ", fp);
        put_cell(fp, key->desc);
        fputs(" |\n", fp);
    }
    fputc('\n', fp);
}
