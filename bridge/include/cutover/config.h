/*
 * Configuration: YAML files (libyaml) read into a node tree that remembers
 * the line of every key, `${VAR}` / `${VAR:-default}` interpolation of scalar
 * values, and key tables that components declare to have their settings
 * filled, checked and documented (nginx's command tables, in YAML).
 *
 * Errors never stop at the first: every problem is appended to a
 * struct cut_cfg_errors as "FILE:LINE: KEY: message", so `cutover validate`
 * can print them all.
 *
 * Thread safety: loading happens on the main thread before any flow starts;
 * the loaded config is read-only afterwards and may be read by any thread.
 */
#ifndef CUTOVER_CONFIG_H
#define CUTOVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cutover/status.h"

/* ---- node tree ------------------------------------------------------------ */

enum cut_node_kind { CUT_NODE_SCALAR, CUT_NODE_MAP, CUT_NODE_SEQ };

struct cut_node;

struct cut_node_pair {
    char *key;
    int key_line;
    struct cut_node *value;
};

struct cut_node {
    enum cut_node_kind kind;
    int line;                    /**< 1-based line of the node's start */
    char *scalar;                /**< CUT_NODE_SCALAR: the value after interpolation */
    bool plain;                  /**< scalar was unquoted (so "null"/"~" mean null) */
    struct cut_node_pair *pairs; /**< CUT_NODE_MAP */
    struct cut_node **items;     /**< CUT_NODE_SEQ */
    size_t n;                    /**< number of pairs or items */
};

/** Accumulated errors. Each line is "FILE:LINE: KEY: message". */
struct cut_cfg_errors {
    char **lines;
    size_t n;
};

/** Append one error. @p key is a dotted path like "flows.orders.source.queue". */
void cut_cfg_error(struct cut_cfg_errors *errs, const char *file, int line, const char *key,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void cut_cfg_errors_fini(struct cut_cfg_errors *errs);

/**
 * Parse @p path into a node tree, interpolating `${VAR}` and `${VAR:-default}`
 * in scalars (`$${` is a literal `${`). An unset variable without default is
 * an error naming the variable. Returns NULL when the file cannot be parsed
 * (errors appended); the caller owns the tree and frees it with
 * cut_node_destroy().
 */
struct cut_node *cut_yaml_load(const char *path, struct cut_cfg_errors *errs);
void cut_node_destroy(struct cut_node *node);

/** The value of @p key in map @p map, or NULL. Borrowed from the tree. */
const struct cut_node *cut_node_get(const struct cut_node *map, const char *key);

/**
 * Whether @p node is YAML's "no value": a plain (unquoted) empty scalar, `~`
 * or `null`. A key with such a value counts as not set (its default stands).
 * Accepts NULL (returns false).
 */
bool cut_node_is_null(const struct cut_node *node);

/* ---- key tables ----------------------------------------------------------- */

enum cut_cfg_type {
    CUT_CFG_STRING, /**< char * (heap, owned by the struct) */
    CUT_CFG_INT,    /**< int64_t, within [min, max] */
    CUT_CFG_BOOL,   /**< bool: true/false/yes/no/on/off */
    CUT_CFG_MS,     /**< int64_t milliseconds: "250ms", "5s", "2m", "1h" or a bare number of ms */
    CUT_CFG_ENUM,   /**< int: index into choices */
    CUT_CFG_PROPS,  /**< struct cut_kv_list: a free-form map of scalars */
    CUT_CFG_FLOAT,  /**< double: a decimal ("0.05", "2.5") or a percentage ("5%", "0.1%"),
                         within [fmin, fmax] */
};

/** A free-form list of string properties (librdkafka settings, say). */
struct cut_kv {
    char *key;
    char *value;
    int line;
};
struct cut_kv_list {
    struct cut_kv *items;
    size_t n;
};
void cut_kv_list_fini(struct cut_kv_list *list);
/** Last value of @p key in @p list, or NULL. */
const char *cut_kv_get(const struct cut_kv_list *list, const char *key);

struct cut_cfg_key {
    const char *name;
    enum cut_cfg_type type;
    size_t offset;   /**< offsetof the field in the settings struct */
    const char *def; /**< default as YAML text, NULL for none */
    bool required;
    bool secret;                /**< never printed, logged or returned */
    int64_t min, max;           /**< CUT_CFG_INT / CUT_CFG_MS bounds (ignored when both 0) */
    double fmin, fmax;          /**< CUT_CFG_FLOAT bounds (ignored when both 0) */
    const char *const *choices; /**< CUT_CFG_ENUM: NULL-terminated */
    const char *desc;           /**< one line for the generated reference */
};

/** Context of one apply: which file, for error messages. */
struct cut_cfg_ctx {
    const char *file;
    struct cut_cfg_errors *errs;
};

/**
 * Fill @p obj from the map @p map using @p keys (terminated by a key with a
 * NULL name): defaults first, then the values present. Unknown keys, missing
 * required keys and bad values are errors under @p path. Keys named in
 * @p skip (NULL-terminated, may be NULL) are left for the caller.
 * Returns the number of errors added.
 */
int cut_cfg_apply(const struct cut_cfg_key *keys, const struct cut_node *map, void *obj,
                  const char *path, const char *const *skip, const struct cut_cfg_ctx *ctx);

/** Free what cut_cfg_apply() allocated in @p obj (strings, property lists). */
void cut_cfg_release(const struct cut_cfg_key *keys, void *obj);

/** Write the reference of @p keys as a Markdown table to @p out (FILE *). */
void cut_cfg_doc(const struct cut_cfg_key *keys, const char *section, void *out);

#endif
