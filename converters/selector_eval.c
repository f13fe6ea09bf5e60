/*
 * Evaluating a compiled selector over one message: a walk of the tree that
 * reads the message and writes only to the stack. The recursion is as deep
 * as the tree, which the parser keeps to CUT_SELECTOR_MAX_DEPTH.
 *
 * Conditions evaluate to a boolean value or to NULL, which is SQL's UNKNOWN;
 * the rules are listed in selector.h with the spec's words behind them.
 */
#include <string.h>

#include "selector_int.h"

static const struct sel_value null_value = {.type = SEL_V_NULL};

static void set_long(struct sel_value *out, int64_t i)
{
    out->type = SEL_V_LONG;
    out->v.i = i;
}

static void set_cstr(struct sel_value *out, const char *s)
{
    if (s == NULL) {
        *out = null_value;
        return;
    }
    out->type = SEL_V_STRING;
    out->v.s.ptr = s;
    out->v.s.len = strlen(s);
}

static void set_tri(struct sel_value *out, enum cut_tri t)
{
    if (t == CUT_TRI_UNKNOWN) {
        *out = null_value;
        return;
    }
    out->type = SEL_V_BOOL;
    out->v.b = t == CUT_TRI_TRUE;
}

static enum cut_tri tri_of(const struct sel_value *v)
{
    if (v->type != SEL_V_BOOL) {
        return CUT_TRI_UNKNOWN; /* NULL, or a non-boolean used as a condition */
    }
    return v->v.b ? CUT_TRI_TRUE : CUT_TRI_FALSE;
}

static enum cut_tri tri_bool(bool b)
{
    return b ? CUT_TRI_TRUE : CUT_TRI_FALSE;
}

/* An application property as a selector value (types in selector.h). */
static void prop_value(const struct cut_msg *msg, const char *name, struct sel_value *out)
{
    *out = null_value;
    for (size_t i = 0; i < msg->n_props; i++) {
        const struct cut_prop *prop = &msg->props[i];
        if (prop->name == NULL || prop->name[0] != name[0] || strcmp(prop->name, name) != 0) {
            continue;
        }
        switch (prop->type) {
        case CUT_PROP_BOOL:
            out->type = SEL_V_BOOL;
            out->v.b = prop->v.b;
            break;
        case CUT_PROP_BYTE:
        case CUT_PROP_SHORT:
        case CUT_PROP_INT:
        case CUT_PROP_LONG:
            set_long(out, prop->v.i);
            break;
        case CUT_PROP_FLOAT:
        case CUT_PROP_DOUBLE:
            out->type = SEL_V_DOUBLE;
            out->v.d = prop->v.d;
            break;
        case CUT_PROP_STRING:
            if (prop->v.s.ptr != NULL) {
                out->type = SEL_V_STRING;
                out->v.s.ptr = prop->v.s.ptr;
                out->v.s.len = prop->v.s.len;
            }
            break;
        default:
            break; /* null, bytes, uuid, symbol, timestamp: not JMS property types */
        }
        return; /* the first property of that name, as cut_msg_prop() */
    }
}

static void ident_value(const struct sel_node *node, const struct cut_msg *msg,
                        struct sel_value *out)
{
    switch (node->u.ident.field) {
    case SEL_F_DELIVERY_MODE:
        set_cstr(out, msg->durable ? "PERSISTENT" : "NON_PERSISTENT");
        break;
    case SEL_F_PRIORITY:
        set_long(out, msg->priority < 0 ? 4 : msg->priority); /* Message.DEFAULT_PRIORITY */
        break;
    case SEL_F_MESSAGE_ID:
        set_cstr(out, msg->message_id);
        break;
    case SEL_F_TIMESTAMP:
        set_long(out, msg->timestamp_ms);
        break;
    case SEL_F_CORRELATION_ID:
        set_cstr(out, msg->correlation_id);
        break;
    case SEL_F_TYPE:
        set_cstr(out, msg->type);
        break;
    case SEL_F_GROUP_ID:
        set_cstr(out, msg->group_id);
        break;
    case SEL_F_GROUP_SEQ:
        if (msg->group_seq < 0) {
            *out = null_value;
        } else {
            set_long(out, msg->group_seq);
        }
        break;
    case SEL_F_DELIVERY_COUNT:
        set_long(out, (int64_t)msg->delivery_count + 1);
        break;
    case SEL_F_USER_ID:
        set_cstr(out, msg->user_id);
        break;
    default:
        prop_value(msg, node->u.ident.name, out);
        break;
    }
}

static bool is_number(const struct sel_value *v)
{
    return v->type == SEL_V_LONG || v->type == SEL_V_DOUBLE;
}

static double as_double(const struct sel_value *v)
{
    return v->type == SEL_V_LONG ? (double)v->v.i : v->v.d;
}

/* Java long arithmetic: two's complement, wrapping, never undefined. */
static void arith(enum sel_op op, const struct sel_value *a, const struct sel_value *b,
                  struct sel_value *out)
{
    if (!is_number(a) || !is_number(b)) {
        *out = null_value; /* NULL operand, or a non-number found in the message */
        return;
    }
    if (a->type == SEL_V_LONG && b->type == SEL_V_LONG) {
        uint64_t x = (uint64_t)a->v.i, y = (uint64_t)b->v.i;
        switch (op) {
        case SEL_ADD:
            set_long(out, (int64_t)(x + y));
            return;
        case SEL_SUB:
            set_long(out, (int64_t)(x - y));
            return;
        case SEL_MUL:
            set_long(out, (int64_t)(x * y));
            return;
        default:
            if (b->v.i == 0) {
                *out = null_value;
            } else if (b->v.i == -1) {
                set_long(out, (int64_t)(0 - x)); /* Long.MIN_VALUE / -1 wraps in Java */
            } else {
                set_long(out, a->v.i / b->v.i);
            }
            return;
        }
    }
    double x = as_double(a), y = as_double(b);
    out->type = SEL_V_DOUBLE;
    switch (op) {
    case SEL_ADD:
        out->v.d = x + y;
        break;
    case SEL_SUB:
        out->v.d = x - y;
        break;
    case SEL_MUL:
        out->v.d = x * y;
        break;
    default:
        if (y == 0) {
            *out = null_value;
        } else {
            out->v.d = x / y;
        }
        break;
    }
}

/* JMS 2.0 3.8.1.1: only like types compare; unlike types are false; NULL is unknown. */
static enum cut_tri compare(enum sel_op op, const struct sel_value *a, const struct sel_value *b)
{
    if (a->type == SEL_V_NULL || b->type == SEL_V_NULL) {
        return CUT_TRI_UNKNOWN;
    }
    if (is_number(a) && is_number(b)) {
        if (a->type == SEL_V_LONG && b->type == SEL_V_LONG) {
            int64_t x = a->v.i, y = b->v.i;
            switch (op) {
            case SEL_EQ:
                return tri_bool(x == y);
            case SEL_NE:
                return tri_bool(x != y);
            case SEL_LT:
                return tri_bool(x < y);
            case SEL_LE:
                return tri_bool(x <= y);
            case SEL_GT:
                return tri_bool(x > y);
            default:
                return tri_bool(x >= y);
            }
        }
        /* binary numeric promotion to double; NaN compares as in Java */
        double x = as_double(a), y = as_double(b);
        switch (op) {
        case SEL_EQ:
            return tri_bool(x == y);
        case SEL_NE:
            return tri_bool(x != y);
        case SEL_LT:
            return tri_bool(x < y);
        case SEL_LE:
            return tri_bool(x <= y);
        case SEL_GT:
            return tri_bool(x > y);
        default:
            return tri_bool(x >= y);
        }
    }
    if (a->type != b->type || (op != SEL_EQ && op != SEL_NE)) {
        /* unlike types, or a string or boolean with an ordering operator */
        return CUT_TRI_FALSE;
    }
    bool eq;
    if (a->type == SEL_V_BOOL) {
        eq = a->v.b == b->v.b;
    } else {
        eq = a->v.s.len == b->v.s.len && memcmp(a->v.s.ptr, b->v.s.ptr, a->v.s.len) == 0;
    }
    return tri_bool(op == SEL_EQ ? eq : !eq);
}

static enum cut_tri tri_and(enum cut_tri a, enum cut_tri b)
{
    if (a == CUT_TRI_FALSE || b == CUT_TRI_FALSE) {
        return CUT_TRI_FALSE;
    }
    return a == CUT_TRI_TRUE && b == CUT_TRI_TRUE ? CUT_TRI_TRUE : CUT_TRI_UNKNOWN;
}

static enum cut_tri tri_or(enum cut_tri a, enum cut_tri b)
{
    if (a == CUT_TRI_TRUE || b == CUT_TRI_TRUE) {
        return CUT_TRI_TRUE;
    }
    return a == CUT_TRI_FALSE && b == CUT_TRI_FALSE ? CUT_TRI_FALSE : CUT_TRI_UNKNOWN;
}

static enum cut_tri tri_not(enum cut_tri a)
{
    return a == CUT_TRI_UNKNOWN ? a : a == CUT_TRI_TRUE ? CUT_TRI_FALSE : CUT_TRI_TRUE;
}

static void eval(const struct sel_node *node, const struct cut_msg *msg, struct sel_value *out);

static enum cut_tri eval_tri(const struct sel_node *node, const struct cut_msg *msg)
{
    struct sel_value v;
    eval(node, msg, &v);
    return tri_of(&v);
}

static bool in_list(const struct sel_node *node, const struct sel_str *s)
{
    for (size_t i = 0; i < node->u.in.n; i++) {
        const struct sel_str *item = &node->u.in.strs[i];
        if (item->len == s->len && memcmp(item->ptr, s->ptr, s->len) == 0) {
            return true;
        }
    }
    return false;
}

static void eval(const struct sel_node *node, const struct cut_msg *msg, struct sel_value *out)
{
    struct sel_value a, b, c;
    enum cut_tri t;
    switch (node->op) {
    case SEL_LIT:
        *out = node->u.lit;
        return;
    case SEL_IDENT:
        ident_value(node, msg, out);
        return;
    case SEL_NEG:
    case SEL_POS:
        eval(node->u.kid[0], msg, out);
        if (!is_number(out)) {
            *out = null_value;
        } else if (node->op == SEL_NEG && out->type == SEL_V_LONG) {
            out->v.i = (int64_t)(0 - (uint64_t)out->v.i);
        } else if (node->op == SEL_NEG) {
            out->v.d = -out->v.d;
        }
        return;
    case SEL_MUL:
    case SEL_DIV:
    case SEL_ADD:
    case SEL_SUB:
        eval(node->u.kid[0], msg, &a);
        eval(node->u.kid[1], msg, &b);
        arith(node->op, &a, &b, out);
        return;
    case SEL_EQ:
    case SEL_NE:
    case SEL_LT:
    case SEL_LE:
    case SEL_GT:
    case SEL_GE:
        eval(node->u.kid[0], msg, &a);
        eval(node->u.kid[1], msg, &b);
        set_tri(out, compare(node->op, &a, &b));
        return;
    case SEL_BETWEEN:     /* a >= b AND a <= c */
    case SEL_NOT_BETWEEN: /* a < b OR a > c */
        eval(node->u.kid[0], msg, &a);
        eval(node->u.kid[1], msg, &b);
        eval(node->u.kid[2], msg, &c);
        if (node->op == SEL_BETWEEN) {
            t = tri_and(compare(SEL_GE, &a, &b), compare(SEL_LE, &a, &c));
        } else {
            t = tri_or(compare(SEL_LT, &a, &b), compare(SEL_GT, &a, &c));
        }
        set_tri(out, t);
        return;
    case SEL_IN:
    case SEL_NOT_IN:
        eval(node->u.in.left, msg, &a);
        if (a.type == SEL_V_NULL) {
            t = CUT_TRI_UNKNOWN;
        } else if (a.type != SEL_V_STRING) {
            t = CUT_TRI_FALSE; /* unlike types, whether IN or NOT IN */
        } else {
            t = tri_bool(in_list(node, &a.v.s) == (node->op == SEL_IN));
        }
        set_tri(out, t);
        return;
    case SEL_LIKE:
    case SEL_NOT_LIKE:
        eval(node->u.like.left, msg, &a);
        if (a.type == SEL_V_NULL) {
            t = CUT_TRI_UNKNOWN;
        } else if (a.type != SEL_V_STRING) {
            t = CUT_TRI_FALSE;
        } else {
            bool match = sel_like_match(node->u.like.pat, a.v.s.ptr, a.v.s.len);
            t = tri_bool(match == (node->op == SEL_LIKE));
        }
        set_tri(out, t);
        return;
    case SEL_IS_NULL:
    case SEL_IS_NOT_NULL:
        eval(node->u.kid[0], msg, &a);
        set_tri(out, tri_bool((a.type == SEL_V_NULL) == (node->op == SEL_IS_NULL)));
        return;
    case SEL_NOT:
        set_tri(out, tri_not(eval_tri(node->u.kid[0], msg)));
        return;
    case SEL_AND:
        t = CUT_TRI_TRUE;
        for (size_t i = 0; i < node->u.list.n && t != CUT_TRI_FALSE; i++) {
            t = tri_and(t, eval_tri(node->u.list.kids[i], msg));
        }
        set_tri(out, t);
        return;
    case SEL_OR:
        t = CUT_TRI_FALSE;
        for (size_t i = 0; i < node->u.list.n && t != CUT_TRI_TRUE; i++) {
            t = tri_or(t, eval_tri(node->u.list.kids[i], msg));
        }
        set_tri(out, t);
        return;
    }
    *out = null_value;
}

enum cut_tri cut_selector_eval(const struct cut_selector *sel, const struct cut_msg *msg)
{
    if (sel == NULL) {
        return CUT_TRI_TRUE;
    }
    return eval_tri(sel->root, msg);
}

int cut_selector_match(const struct cut_selector *sel, const struct cut_msg *msg)
{
    return cut_selector_eval(sel, msg) == CUT_TRI_TRUE;
}
