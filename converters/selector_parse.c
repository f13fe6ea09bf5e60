/*
 * The selector grammar (JMS 2.0 section 3.8.1.1), by recursive descent, from
 * the loosest operator to the tightest:
 *
 *   or      := and {OR and}
 *   and     := not {AND not}
 *   not     := NOT not | compare
 *   compare := sum [ (= | <> | < | <= | > | >=) sum
 *                  | [NOT] BETWEEN sum AND sum
 *                  | ident [NOT] IN '(' string {, string} ')'
 *                  | ident [NOT] LIKE string [ESCAPE string]
 *                  | ident IS [NOT] NULL ]
 *   sum     := product {(+ | -) product}
 *   product := unary {(* | /) unary}
 *   unary   := (+ | -) unary | primary
 *   primary := literal | ident | '(' or ')'
 *
 * Comparisons do not chain (SQL-92 has no `a = b = c`). Type errors that the
 * text alone shows (a string operand of '<' or '+', a number as a condition)
 * are refused here, as the spec lets a provider do; the rest is decided per
 * message by selector_eval.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selector_int.h"

struct parser {
    struct sel_lexer lex;
    struct sel_token tok; /* the current token */
    enum sel_tok prev;    /* the token before it, for "after X" */
    bool has_prev;
    struct sel_arena *arena;
    struct cut_err *err;
    size_t depth; /* parentheses and prefix operators open around tok */
    int rc;       /* CUT_OK until the first error */
};

/* Record the first error; every parse function then returns NULL. */
__attribute__((format(printf, 3, 4))) static struct sel_node *syntax(struct parser *p, size_t pos,
                                                                     const char *fmt, ...)
{
    if (p->rc == CUT_OK) {
        char what[CUT_ERR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        p->rc = cut_err_set(p->err, CUT_EINVAL, "selector: column %zu: %s",
                            sel_column(p->lex.text, pos), what);
    }
    return NULL;
}

static struct sel_node *no_memory(struct parser *p)
{
    if (p->rc == CUT_OK) {
        p->rc = cut_err_set(p->err, CUT_ENOMEM, "selector: out of memory");
    }
    return NULL;
}

static bool advance(struct parser *p)
{
    p->prev = p->tok.kind;
    p->has_prev = true;
    int rc = sel_lex_next(&p->lex, &p->tok);
    if (rc == CUT_ENOMEM) {
        no_memory(p);
        return false;
    }
    if (rc != CUT_OK) {
        syntax(p, p->lex.err_pos, "%s", p->lex.err_what);
        return false;
    }
    return true;
}

static bool enter(struct parser *p)
{
    if (++p->depth > CUT_SELECTOR_MAX_DEPTH) {
        syntax(p, p->tok.pos, "nested deeper than %d levels", CUT_SELECTOR_MAX_DEPTH);
        return false;
    }
    return true;
}

static struct sel_node *new_node(struct parser *p, enum sel_op op, enum sel_stype stype, size_t pos)
{
    struct sel_node *node = sel_arena_alloc(p->arena, sizeof(*node));
    if (node == NULL) {
        return no_memory(p);
    }
    node->op = op;
    node->stype = stype;
    node->pos = pos;
    node->height = 1;
    return node;
}

/* Account for a child; false (with the error set) when the tree grows too tall. */
static bool adopt(struct parser *p, struct sel_node *node, const struct sel_node *kid)
{
    if (kid->height + 1 > node->height) {
        node->height = kid->height + 1;
    }
    if (node->height > CUT_SELECTOR_MAX_DEPTH) {
        syntax(p, node->pos, "nested deeper than %d levels", CUT_SELECTOR_MAX_DEPTH);
        return false;
    }
    return true;
}

static const char *describe(const struct sel_node *node)
{
    switch (node->stype) {
    case SEL_S_NUM:
        return "a number";
    case SEL_S_STRING:
        return "a string";
    case SEL_S_BOOL:
        return node->op == SEL_LIT ? "a boolean" : "a condition";
    default:
        return "an identifier";
    }
}

/* Operands of arithmetic, ordering comparisons and BETWEEN. */
static bool want_number(struct parser *p, const struct sel_node *node, const char *op)
{
    if (node->stype == SEL_S_NUM || node->stype == SEL_S_ANY) {
        return true;
    }
    if (strcmp(op, "<") == 0 || strcmp(op, "<=") == 0 || strcmp(op, ">") == 0 ||
        strcmp(op, ">=") == 0) {
        syntax(p, node->pos,
               "\"%s\" compares numbers, found %s (strings and booleans compare with \"=\" and "
               "\"<>\" only)",
               op, describe(node));
    } else {
        syntax(p, node->pos, "\"%s\" needs numbers, found %s", op, describe(node));
    }
    return false;
}

/* Operands of NOT, AND, OR, and the selector itself. */
static bool want_condition(struct parser *p, const struct sel_node *node, const char *op)
{
    if (node->stype == SEL_S_BOOL || node->stype == SEL_S_ANY) {
        return true;
    }
    if (op == NULL) {
        syntax(p, node->pos, "expected a condition, found %s", describe(node));
    } else {
        syntax(p, node->pos, "\"%s\" needs conditions, found %s", op, describe(node));
    }
    return false;
}

static bool want_ident(struct parser *p, const struct sel_node *node, const char *op)
{
    if (node->op == SEL_IDENT) {
        return true;
    }
    syntax(p, node->pos, "\"%s\" needs an identifier on its left, found %s", op, describe(node));
    return false;
}

/* A growable array of pointers in the arena (the old copies stay until destroy). */
static bool push(struct parser *p, void ***items, size_t *n, size_t *cap, void *item)
{
    if (*n == *cap) {
        size_t new_cap = *cap ? *cap * 2 : 4;
        void **grown = sel_arena_alloc(p->arena, new_cap * sizeof(*grown));
        if (grown == NULL) {
            no_memory(p);
            return false;
        }
        if (*n) {
            memcpy(grown, *items, *n * sizeof(*grown));
        }
        *items = grown;
        *cap = new_cap;
    }
    (*items)[(*n)++] = item;
    return true;
}

static enum sel_field header_field(const char *name, size_t len)
{
    static const struct {
        const char *name;
        enum sel_field field;
    } fields[] = {
        {"JMSDeliveryMode", SEL_F_DELIVERY_MODE},
        {"JMSPriority", SEL_F_PRIORITY},
        {"JMSMessageID", SEL_F_MESSAGE_ID},
        {"JMSTimestamp", SEL_F_TIMESTAMP},
        {"JMSCorrelationID", SEL_F_CORRELATION_ID},
        {"JMSType", SEL_F_TYPE},
        {"JMSXGroupID", SEL_F_GROUP_ID},
        {"JMSXGroupSeq", SEL_F_GROUP_SEQ},
        {"JMSXDeliveryCount", SEL_F_DELIVERY_COUNT},
        {"JMSXUserID", SEL_F_USER_ID},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strlen(fields[i].name) == len && memcmp(fields[i].name, name, len) == 0) {
            return fields[i].field;
        }
    }
    return SEL_F_PROP;
}

static struct sel_node *parse_or(struct parser *p);
static struct sel_node *parse_unary(struct parser *p);

static struct sel_node *expected_expression(struct parser *p)
{
    enum sel_tok kind = p->tok.kind;
    if (kind == SEL_T_NULL) {
        return syntax(p, p->tok.pos,
                      "\"NULL\" can only be tested with \"IS NULL\" or \"IS NOT NULL\"");
    }
    char note[48] = "";
    if (kind >= SEL_T_NOT) {
        snprintf(note, sizeof(note), " (\"%s\" is a reserved word)", sel_tok_name(kind));
    }
    if (!p->has_prev) {
        return syntax(p, p->tok.pos, "expected an expression%s", note);
    }
    return syntax(p, p->tok.pos, "expected an expression after \"%s\"%s", sel_tok_name(p->prev),
                  note);
}

static struct sel_node *literal(struct parser *p, enum sel_stype stype, enum sel_vtype vtype)
{
    struct sel_node *node = new_node(p, SEL_LIT, stype, p->tok.pos);
    if (node != NULL) {
        node->u.lit.type = vtype;
    }
    return node;
}

static struct sel_node *parse_primary(struct parser *p)
{
    struct sel_node *node = NULL;
    const struct sel_token *tok = &p->tok;
    switch (tok->kind) {
    case SEL_T_IDENT: {
        node = new_node(p, SEL_IDENT, SEL_S_ANY, tok->pos);
        char *name = sel_arena_alloc(p->arena, tok->v.s.len + 1);
        if (node == NULL || name == NULL) {
            return no_memory(p);
        }
        memcpy(name, tok->v.s.ptr, tok->v.s.len);
        node->u.ident.name = name;
        node->u.ident.field = header_field(name, tok->v.s.len);
        break;
    }
    case SEL_T_STRING:
        if ((node = literal(p, SEL_S_STRING, SEL_V_STRING)) != NULL) {
            node->u.lit.v.s = tok->v.s;
        }
        break;
    case SEL_T_EXACT:
        if (tok->radix == 10 && tok->v.u > INT64_MAX) {
            return syntax(p, tok->pos, "integer literal out of the range of a long");
        }
        if ((node = literal(p, SEL_S_NUM, SEL_V_LONG)) != NULL) {
            node->u.lit.v.i = (int64_t)tok->v.u; /* 0x8000000000000000 and up wrap, as in Java */
        }
        break;
    case SEL_T_APPROX:
        if ((node = literal(p, SEL_S_NUM, SEL_V_DOUBLE)) != NULL) {
            node->u.lit.v.d = tok->v.d;
        }
        break;
    case SEL_T_TRUE:
    case SEL_T_FALSE:
        if ((node = literal(p, SEL_S_BOOL, SEL_V_BOOL)) != NULL) {
            node->u.lit.v.b = tok->kind == SEL_T_TRUE;
        }
        break;
    case SEL_T_LPAREN: {
        size_t open = tok->pos;
        if (!enter(p) || !advance(p) || (node = parse_or(p)) == NULL) {
            return NULL;
        }
        if (p->tok.kind != SEL_T_RPAREN) {
            return syntax(p, p->tok.pos, "expected \")\" to close the \"(\" at column %zu",
                          sel_column(p->lex.text, open));
        }
        p->depth--;
        break;
    }
    default:
        return expected_expression(p);
    }
    if (node == NULL || !advance(p)) {
        return NULL;
    }
    return node;
}

static struct sel_node *parse_unary(struct parser *p)
{
    if (p->tok.kind != SEL_T_PLUS && p->tok.kind != SEL_T_MINUS) {
        return parse_primary(p);
    }
    enum sel_op op = p->tok.kind == SEL_T_MINUS ? SEL_NEG : SEL_POS;
    size_t pos = p->tok.pos;
    if (!enter(p) || !advance(p)) {
        return NULL;
    }
    struct sel_node *kid;
    if (op == SEL_NEG && p->tok.kind == SEL_T_EXACT && p->tok.radix == 10 &&
        p->tok.v.u == (uint64_t)INT64_MAX + 1) {
        /* -9223372036854775808: the one literal valid only after a minus, as in Java */
        if ((kid = literal(p, SEL_S_NUM, SEL_V_LONG)) == NULL || !advance(p)) {
            return NULL;
        }
        kid->u.lit.v.i = INT64_MIN;
        kid->pos = pos;
        p->depth--;
        return kid;
    }
    if ((kid = parse_unary(p)) == NULL || !want_number(p, kid, op == SEL_NEG ? "-" : "+")) {
        return NULL;
    }
    p->depth--;
    if (kid->op == SEL_LIT) {
        /* fold the sign into the literal; negation wraps like Java's */
        if (op == SEL_NEG && kid->u.lit.type == SEL_V_LONG) {
            kid->u.lit.v.i = (int64_t)(0 - (uint64_t)kid->u.lit.v.i);
        } else if (op == SEL_NEG) {
            kid->u.lit.v.d = -kid->u.lit.v.d;
        }
        kid->pos = pos;
        return kid;
    }
    struct sel_node *node = new_node(p, op, SEL_S_NUM, pos);
    if (node == NULL || !adopt(p, node, kid)) {
        return NULL;
    }
    node->u.kid[0] = kid;
    return node;
}

/* One left-associative level of binary arithmetic. */
static struct sel_node *parse_binary(struct parser *p, enum sel_tok t1, enum sel_op op1,
                                     enum sel_tok t2, enum sel_op op2,
                                     struct sel_node *(*operand)(struct parser *))
{
    struct sel_node *left = operand(p);
    while (left != NULL && (p->tok.kind == t1 || p->tok.kind == t2)) {
        enum sel_op op = p->tok.kind == t1 ? op1 : op2;
        const char *name = sel_tok_name(p->tok.kind);
        struct sel_node *right, *node;
        if (!advance(p) || (right = operand(p)) == NULL || !want_number(p, left, name) ||
            !want_number(p, right, name)) {
            return NULL;
        }
        if ((node = new_node(p, op, SEL_S_NUM, left->pos)) == NULL || !adopt(p, node, left) ||
            !adopt(p, node, right)) {
            return NULL;
        }
        node->u.kid[0] = left;
        node->u.kid[1] = right;
        left = node;
    }
    return left;
}

static struct sel_node *parse_product(struct parser *p)
{
    return parse_binary(p, SEL_T_STAR, SEL_MUL, SEL_T_SLASH, SEL_DIV, parse_unary);
}

static struct sel_node *parse_sum(struct parser *p)
{
    return parse_binary(p, SEL_T_PLUS, SEL_ADD, SEL_T_MINUS, SEL_SUB, parse_product);
}

static struct sel_node *parse_in(struct parser *p, struct sel_node *node)
{
    if (p->tok.kind != SEL_T_LPAREN) {
        return syntax(p, p->tok.pos, "expected \"(\" after \"IN\"");
    }
    void **strs = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (!advance(p)) {
            return NULL;
        }
        if (p->tok.kind != SEL_T_STRING) {
            return syntax(p, p->tok.pos, "expected a string literal in the \"IN\" list");
        }
        struct sel_str *str = sel_arena_alloc(p->arena, sizeof(*str));
        if (str == NULL) {
            return no_memory(p);
        }
        *str = p->tok.v.s;
        if (!push(p, &strs, &n, &cap, str) || !advance(p)) {
            return NULL;
        }
        if (p->tok.kind == SEL_T_RPAREN) {
            break;
        }
        if (p->tok.kind != SEL_T_COMMA) {
            return syntax(p, p->tok.pos, "expected \",\" or \")\" in the \"IN\" list");
        }
    }
    /* flatten the list of pointers into the array the evaluator scans */
    struct sel_str *flat = sel_arena_alloc(p->arena, n * sizeof(*flat));
    if (flat == NULL) {
        return no_memory(p);
    }
    for (size_t i = 0; i < n; i++) {
        flat[i] = *(struct sel_str *)strs[i];
    }
    node->u.in.strs = flat;
    node->u.in.n = n;
    return advance(p) ? node : NULL;
}

static struct sel_node *parse_like(struct parser *p, struct sel_node *node)
{
    if (p->tok.kind != SEL_T_STRING) {
        return syntax(p, p->tok.pos, "expected a string literal after \"LIKE\"");
    }
    struct sel_token pat = p->tok;
    struct sel_str esc;
    bool has_esc = false;
    if (!advance(p)) {
        return NULL;
    }
    if (p->tok.kind == SEL_T_ESCAPE) {
        if (!advance(p)) {
            return NULL;
        }
        if (p->tok.kind != SEL_T_STRING) {
            return syntax(p, p->tok.pos, "expected a string literal after \"ESCAPE\"");
        }
        esc = p->tok.v.s;
        if (esc.len == 0 || sel_utf8_len((const unsigned char *)esc.ptr, esc.len) != esc.len) {
            return syntax(p, p->tok.pos, "the \"ESCAPE\" string must be one character");
        }
        has_esc = true;
        if (!advance(p)) {
            return NULL;
        }
    }
    int rc = sel_like_compile(p->arena, pat.v.s, has_esc ? &esc : NULL, &node->u.like.pat);
    if (rc == CUT_ENOMEM) {
        return no_memory(p);
    }
    if (rc != CUT_OK) {
        return syntax(p, pat.pos, "the \"LIKE\" pattern ends with the escape character");
    }
    return node;
}

static struct sel_node *parse_compare(struct parser *p)
{
    struct sel_node *left = parse_sum(p), *node;
    if (left == NULL) {
        return NULL;
    }
    enum sel_tok kind = p->tok.kind;
    bool negate = false;
    if (kind == SEL_T_EQ || kind == SEL_T_NE || kind == SEL_T_LT || kind == SEL_T_LE ||
        kind == SEL_T_GT || kind == SEL_T_GE) {
        static const enum sel_op ops[] = {
            [SEL_T_EQ] = SEL_EQ, [SEL_T_NE] = SEL_NE, [SEL_T_LT] = SEL_LT,
            [SEL_T_LE] = SEL_LE, [SEL_T_GT] = SEL_GT, [SEL_T_GE] = SEL_GE,
        };
        const char *name = sel_tok_name(kind);
        struct sel_node *right;
        if (!advance(p) || (right = parse_sum(p)) == NULL) {
            return NULL;
        }
        if (kind != SEL_T_EQ && kind != SEL_T_NE &&
            (!want_number(p, left, name) || !want_number(p, right, name))) {
            return NULL;
        }
        if ((node = new_node(p, ops[kind], SEL_S_BOOL, left->pos)) == NULL ||
            !adopt(p, node, left) || !adopt(p, node, right)) {
            return NULL;
        }
        node->u.kid[0] = left;
        node->u.kid[1] = right;
        return node;
    }
    if (kind == SEL_T_NOT) {
        if (!advance(p)) {
            return NULL;
        }
        kind = p->tok.kind;
        if (kind != SEL_T_BETWEEN && kind != SEL_T_IN && kind != SEL_T_LIKE) {
            return syntax(p, p->tok.pos, "expected \"BETWEEN\", \"IN\" or \"LIKE\" after \"NOT\"");
        }
        negate = true;
    }
    switch (kind) {
    case SEL_T_BETWEEN: {
        struct sel_node *lo, *hi;
        if (!want_number(p, left, "BETWEEN") || !advance(p) || (lo = parse_sum(p)) == NULL ||
            !want_number(p, lo, "BETWEEN")) {
            return NULL;
        }
        if (p->tok.kind != SEL_T_AND) {
            return syntax(p, p->tok.pos, "expected \"AND\" after the lower bound of \"BETWEEN\"");
        }
        if (!advance(p) || (hi = parse_sum(p)) == NULL || !want_number(p, hi, "BETWEEN")) {
            return NULL;
        }
        node = new_node(p, negate ? SEL_NOT_BETWEEN : SEL_BETWEEN, SEL_S_BOOL, left->pos);
        if (node == NULL || !adopt(p, node, left) || !adopt(p, node, lo) || !adopt(p, node, hi)) {
            return NULL;
        }
        node->u.kid[0] = left;
        node->u.kid[1] = lo;
        node->u.kid[2] = hi;
        return node;
    }
    case SEL_T_IN:
    case SEL_T_LIKE: {
        bool in = kind == SEL_T_IN;
        enum sel_op op = in ? (negate ? SEL_NOT_IN : SEL_IN) : (negate ? SEL_NOT_LIKE : SEL_LIKE);
        if (!want_ident(p, left, sel_tok_name(kind)) ||
            (node = new_node(p, op, SEL_S_BOOL, left->pos)) == NULL || !adopt(p, node, left) ||
            !advance(p)) {
            return NULL;
        }
        if (in) {
            node->u.in.left = left;
        } else {
            node->u.like.left = left;
        }
        return in ? parse_in(p, node) : parse_like(p, node);
    }
    case SEL_T_IS:
        if (!want_ident(p, left, "IS") || !advance(p)) {
            return NULL;
        }
        if (p->tok.kind == SEL_T_NOT) {
            negate = true;
            if (!advance(p)) {
                return NULL;
            }
        }
        if (p->tok.kind != SEL_T_NULL) {
            return syntax(p, p->tok.pos, "expected \"NULL\" after \"%s\"",
                          negate ? "IS NOT" : "IS");
        }
        node = new_node(p, negate ? SEL_IS_NOT_NULL : SEL_IS_NULL, SEL_S_BOOL, left->pos);
        if (node == NULL || !adopt(p, node, left) || !advance(p)) {
            return NULL;
        }
        node->u.kid[0] = left;
        return node;
    default:
        return left;
    }
}

static struct sel_node *parse_not(struct parser *p)
{
    if (p->tok.kind != SEL_T_NOT) {
        return parse_compare(p);
    }
    size_t pos = p->tok.pos;
    struct sel_node *kid, *node;
    if (!enter(p) || !advance(p) || (kid = parse_not(p)) == NULL ||
        !want_condition(p, kid, "NOT")) {
        return NULL;
    }
    p->depth--;
    if ((node = new_node(p, SEL_NOT, SEL_S_BOOL, pos)) == NULL || !adopt(p, node, kid)) {
        return NULL;
    }
    node->u.kid[0] = kid;
    return node;
}

/* One n-ary level of AND or OR. */
static struct sel_node *parse_logic(struct parser *p, enum sel_tok tok, enum sel_op op,
                                    struct sel_node *(*operand)(struct parser *))
{
    struct sel_node *first = operand(p);
    if (first == NULL || p->tok.kind != tok) {
        return first;
    }
    const char *name = sel_tok_name(tok);
    struct sel_node *node = new_node(p, op, SEL_S_BOOL, first->pos), *kid = first;
    void **kids = NULL;
    size_t n = 0, cap = 0;
    if (node == NULL || !want_condition(p, first, name) || !adopt(p, node, first) ||
        !push(p, &kids, &n, &cap, first)) {
        return NULL;
    }
    while (p->tok.kind == tok) {
        if (!advance(p) || (kid = operand(p)) == NULL || !want_condition(p, kid, name) ||
            !adopt(p, node, kid) || !push(p, &kids, &n, &cap, kid)) {
            return NULL;
        }
    }
    node->u.list.kids = (struct sel_node **)kids;
    node->u.list.n = n;
    return node;
}

static struct sel_node *parse_and(struct parser *p)
{
    return parse_logic(p, SEL_T_AND, SEL_AND, parse_not);
}

static struct sel_node *parse_or(struct parser *p)
{
    return parse_logic(p, SEL_T_OR, SEL_OR, parse_and);
}

int cut_selector_compile(const char *text, struct cut_selector **sel, struct cut_err *err)
{
    struct cut_selector *new_sel = calloc(1, sizeof(*new_sel));
    if (new_sel == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "selector: out of memory");
    }
    struct parser p = {.arena = &new_sel->arena, .err = err, .rc = CUT_OK};
    size_t len = text ? strnlen(text, CUT_SELECTOR_MAX_LEN + 1) : 0;
    struct sel_node *root = NULL;
    if (len > CUT_SELECTOR_MAX_LEN) {
        p.rc = cut_err_set(err, CUT_EINVAL, "selector: longer than %d bytes", CUT_SELECTOR_MAX_LEN);
        goto out;
    }
    p.lex = (struct sel_lexer){.text = text ? text : "", .len = len, .arena = p.arena};
    size_t bad = sel_utf8_check(p.lex.text, len);
    if (bad < len) {
        syntax(&p, bad, "invalid UTF-8");
        goto out;
    }
    if (!advance(&p)) {
        goto out;
    }
    p.has_prev = false;
    if (p.tok.kind == SEL_T_END) {
        /* "an empty string ... indicates that there is no message selector" */
        if ((root = literal(&p, SEL_S_BOOL, SEL_V_BOOL)) != NULL) {
            root->u.lit.v.b = true;
        }
        goto out;
    }
    if ((root = parse_or(&p)) == NULL) {
        goto out;
    }
    if (p.tok.kind != SEL_T_END) {
        root = syntax(&p, p.tok.pos, "expected an operator or the end of the selector");
        goto out;
    }
    if (!want_condition(&p, root, NULL)) {
        root = NULL;
    }
out:
    if (root == NULL || p.rc != CUT_OK) {
        cut_selector_destroy(new_sel);
        if (p.rc == CUT_OK) {
            no_memory(&p);
        }
        return p.rc;
    }
    new_sel->root = root;
    *sel = new_sel;
    cut_err_clear(err);
    return CUT_OK;
}

void cut_selector_destroy(struct cut_selector *sel)
{
    if (sel != NULL) {
        sel_arena_free(&sel->arena);
        free(sel);
    }
}
