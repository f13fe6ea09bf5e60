/*
 * Internals of the JMS selector (selector.h), shared by its four files:
 * selector_lex.c (tokens), selector_parse.c (grammar, type checks, the
 * compiled tree), selector_like.c (LIKE patterns), selector_eval.c (values).
 *
 * Everything a compiled selector holds lives in one arena freed at once by
 * cut_selector_destroy(), so the tree can use plain pointers.
 */
#ifndef CUTOVER_SELECTOR_INT_H
#define CUTOVER_SELECTOR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "selector.h"

/* ---- arena ---- */

struct sel_block;

struct sel_arena {
    struct sel_block *head;
};

/** Zeroed, aligned memory that lives until sel_arena_free(); NULL when out of memory. */
void *sel_arena_alloc(struct sel_arena *arena, size_t size);
void sel_arena_free(struct sel_arena *arena);

/* ---- values ---- */

enum sel_vtype {
    SEL_V_NULL,
    SEL_V_BOOL,
    SEL_V_LONG,   /* exact numeric */
    SEL_V_DOUBLE, /* approximate numeric */
    SEL_V_STRING,
};

struct sel_str {
    const char *ptr; /* not NUL-terminated in general */
    size_t len;
};

struct sel_value {
    enum sel_vtype type;
    union {
        bool b;
        int64_t i;
        double d;
        struct sel_str s;
    } v;
};

/* ---- tokens ---- */

enum sel_tok {
    SEL_T_END,
    SEL_T_IDENT,
    SEL_T_STRING,
    SEL_T_EXACT,
    SEL_T_APPROX,
    SEL_T_LPAREN,
    SEL_T_RPAREN,
    SEL_T_COMMA,
    SEL_T_PLUS,
    SEL_T_MINUS,
    SEL_T_STAR,
    SEL_T_SLASH,
    SEL_T_EQ,
    SEL_T_NE,
    SEL_T_LT,
    SEL_T_LE,
    SEL_T_GT,
    SEL_T_GE,
    /* keywords, case-insensitive and reserved */
    SEL_T_NULL,
    SEL_T_TRUE,
    SEL_T_FALSE,
    SEL_T_NOT,
    SEL_T_AND,
    SEL_T_OR,
    SEL_T_BETWEEN,
    SEL_T_LIKE,
    SEL_T_IN,
    SEL_T_IS,
    SEL_T_ESCAPE,
};

struct sel_token {
    enum sel_tok kind;
    size_t pos; /* byte offset of the first character in the text */
    size_t len; /* bytes of source text */
    int radix;  /* SEL_T_EXACT: 10, or 16, 8, 2 (whose 64 bits are two's complement) */
    union {
        struct sel_str s; /* SEL_T_STRING: unescaped, in the arena; SEL_T_IDENT: the source */
        uint64_t u;       /* SEL_T_EXACT: decimal up to 2^63 (for -9223372036854775808) */
        double d;         /* SEL_T_APPROX */
    } v;
};

struct sel_lexer {
    const char *text;
    size_t len;
    size_t pos;
    struct sel_arena *arena;
    /* on failure: */
    size_t err_pos;
    const char *err_what; /* static, or err_buf */
    char err_buf[48];
};

/**
 * The next token, or -1 with err_pos/err_what set (a lexical error), or
 * CUT_ENOMEM.
 */
int sel_lex_next(struct sel_lexer *lex, struct sel_token *tok);

/** Canonical text of a token kind for messages ("AND", "(", "<>"). */
const char *sel_tok_name(enum sel_tok kind);

/** 1-based column, in characters (UTF-8 code points), of byte offset @p pos. */
size_t sel_column(const char *text, size_t pos);

/** Byte offset of the first invalid UTF-8 sequence in @p text, or @p len. */
size_t sel_utf8_check(const char *text, size_t len);

/*
 * Bytes of the UTF-8 character that starts at @p s, at most @p n (n >= 1).
 * A stray or truncated sequence counts byte by byte, so that property values
 * that are not valid UTF-8 still match deterministically and never overrun.
 */
static inline size_t sel_utf8_len(const unsigned char *s, size_t n)
{
    size_t want = s[0] < 0xC0 ? 1 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3 : s[0] < 0xF8 ? 4 : 1;
    size_t i = 1;
    while (i < want && i < n && (s[i] & 0xC0) == 0x80) {
        i++;
    }
    return i;
}

/* ---- LIKE ---- */

struct sel_like_seg {
    const unsigned char *bytes; /* literal bytes; position i is '_' when one[i] */
    const unsigned char *one;   /* NULL when the segment has no '_' */
    size_t len;
    size_t n_cp; /* characters the segment consumes */
};

struct sel_like {
    const struct sel_like_seg *segs; /* the pattern split at '%', empty segments dropped */
    size_t n_segs;
    bool any; /* the pattern has a '%' */
    bool lead_any, trail_any;
};

/**
 * Compile a LIKE pattern. @p esc (NULL for none) is the escape character's
 * UTF-8 bytes. Returns 0, CUT_ENOMEM, or CUT_EINVAL when the pattern ends with
 * the escape character.
 */
int sel_like_compile(struct sel_arena *arena, struct sel_str pat, const struct sel_str *esc,
                     const struct sel_like **out);

bool sel_like_match(const struct sel_like *like, const char *s, size_t n);

/* ---- the tree ---- */

enum sel_field {
    SEL_F_PROP,
    SEL_F_DELIVERY_MODE,
    SEL_F_PRIORITY,
    SEL_F_MESSAGE_ID,
    SEL_F_TIMESTAMP,
    SEL_F_CORRELATION_ID,
    SEL_F_TYPE,
    SEL_F_GROUP_ID,
    SEL_F_GROUP_SEQ,
    SEL_F_DELIVERY_COUNT,
    SEL_F_USER_ID,
};

enum sel_op {
    SEL_LIT,
    SEL_IDENT,
    SEL_NEG,
    SEL_POS,
    SEL_MUL,
    SEL_DIV,
    SEL_ADD,
    SEL_SUB,
    SEL_EQ,
    SEL_NE,
    SEL_LT,
    SEL_LE,
    SEL_GT,
    SEL_GE,
    SEL_BETWEEN,
    SEL_NOT_BETWEEN,
    SEL_IN,
    SEL_NOT_IN,
    SEL_LIKE,
    SEL_NOT_LIKE,
    SEL_IS_NULL,
    SEL_IS_NOT_NULL,
    SEL_NOT,
    SEL_AND, /* n-ary: a AND b AND c is one node, so long chains stay shallow */
    SEL_OR,
};

/* What the parser knows of a node's type before any message is seen. */
enum sel_stype {
    SEL_S_ANY, /* an identifier: whatever the message holds */
    SEL_S_BOOL,
    SEL_S_NUM,
    SEL_S_STRING,
};

struct sel_node {
    enum sel_op op;
    enum sel_stype stype;
    size_t pos;    /* byte offset in the text, for messages */
    size_t height; /* of the subtree, bounded by CUT_SELECTOR_MAX_DEPTH */
    union {
        struct sel_value lit;
        struct {
            enum sel_field field;
            const char *name; /* NUL-terminated, in the arena */
        } ident;
        struct sel_node *kid[3];
        struct {
            struct sel_node **kids;
            size_t n;
        } list;
        struct {
            struct sel_node *left;
            const struct sel_str *strs;
            size_t n;
        } in;
        struct {
            struct sel_node *left;
            const struct sel_like *pat;
        } like;
    } u;
};

struct cut_selector {
    struct sel_arena arena;
    const struct sel_node *root;
};

#endif
