/*
 * Selector tokens: Java's literal syntax (JMS 2.0 section 3.8.1.1 says
 * exact and approximate literals "use the Java ... literal syntax"), SQL's
 * operators, and the compile-time arena.
 */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "selector_int.h"

/* ---- arena ---- */

struct sel_block {
    struct sel_block *next;
    size_t used, cap;
    max_align_t data[];
};

#define SEL_BLOCK_MIN 4096

void *sel_arena_alloc(struct sel_arena *arena, size_t size)
{
    const size_t align = sizeof(max_align_t);
    size = (size + align - 1) / align * align;
    struct sel_block *block = arena->head;
    if (block == NULL || block->cap - block->used < size) {
        size_t cap = size > SEL_BLOCK_MIN ? size : SEL_BLOCK_MIN;
        block = malloc(sizeof(*block) + cap);
        if (block == NULL) {
            return NULL;
        }
        block->cap = cap;
        block->used = 0;
        block->next = arena->head;
        arena->head = block;
    }
    void *mem = (char *)block->data + block->used;
    block->used += size;
    memset(mem, 0, size);
    return mem;
}

void sel_arena_free(struct sel_arena *arena)
{
    struct sel_block *block = arena->head;
    while (block != NULL) {
        struct sel_block *next = block->next;
        free(block);
        block = next;
    }
    arena->head = NULL;
}

/* ---- text ---- */

size_t sel_column(const char *text, size_t pos)
{
    size_t col = 1;
    for (size_t i = 0; i < pos; i++) {
        if (((unsigned char)text[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    return col;
}

size_t sel_utf8_check(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 2, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4, min = 0x10000;
        } else {
            return i;
        }
        if (len - i < n) {
            return i;
        }
        unsigned cp = c & (0x7F >> n);
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return i;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        /* overlong forms, UTF-16 surrogates and code points past U+10FFFF */
        if (cp < min || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
            return i;
        }
        i += n;
    }
    return len;
}

/* ---- tokens ---- */

const char *sel_tok_name(enum sel_tok kind)
{
    static const char *const names[] = {
        [SEL_T_END] = "the end",
        [SEL_T_IDENT] = "an identifier",
        [SEL_T_STRING] = "a string literal",
        [SEL_T_EXACT] = "a number",
        [SEL_T_APPROX] = "a number",
        [SEL_T_LPAREN] = "(",
        [SEL_T_RPAREN] = ")",
        [SEL_T_COMMA] = ",",
        [SEL_T_PLUS] = "+",
        [SEL_T_MINUS] = "-",
        [SEL_T_STAR] = "*",
        [SEL_T_SLASH] = "/",
        [SEL_T_EQ] = "=",
        [SEL_T_NE] = "<>",
        [SEL_T_LT] = "<",
        [SEL_T_LE] = "<=",
        [SEL_T_GT] = ">",
        [SEL_T_GE] = ">=",
        [SEL_T_NULL] = "NULL",
        [SEL_T_TRUE] = "TRUE",
        [SEL_T_FALSE] = "FALSE",
        [SEL_T_NOT] = "NOT",
        [SEL_T_AND] = "AND",
        [SEL_T_OR] = "OR",
        [SEL_T_BETWEEN] = "BETWEEN",
        [SEL_T_LIKE] = "LIKE",
        [SEL_T_IN] = "IN",
        [SEL_T_IS] = "IS",
        [SEL_T_ESCAPE] = "ESCAPE",
    };
    return names[kind];
}

static bool is_space(char c)
{
    /* Java's white space for selectors: space, tab, form feed, line terminators */
    return c == ' ' || c == '\t' || c == '\f' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Character.isJavaIdentifierStart/Part for ASCII; every non-ASCII character
 * (the text is valid UTF-8 by now) counts as a letter, which accepts every
 * identifier Java accepts and a few more (non-ASCII punctuation).
 */
static bool is_ident_start(char c)
{
    unsigned char u = (unsigned char)c;
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' || u == '$' || u >= 0x80;
}

static bool is_ident_part(char c)
{
    return is_ident_start(c) || is_digit(c);
}

static int fail(struct sel_lexer *lex, size_t pos, const char *what)
{
    lex->err_pos = pos;
    lex->err_what = what;
    return -1;
}

static enum sel_tok keyword(const char *s, size_t len)
{
    static const struct {
        const char *word;
        enum sel_tok kind;
    } words[] = {
        {"NULL", SEL_T_NULL}, {"TRUE", SEL_T_TRUE},       {"FALSE", SEL_T_FALSE},
        {"NOT", SEL_T_NOT},   {"AND", SEL_T_AND},         {"OR", SEL_T_OR},
        {"LIKE", SEL_T_LIKE}, {"BETWEEN", SEL_T_BETWEEN}, {"IN", SEL_T_IN},
        {"IS", SEL_T_IS},     {"ESCAPE", SEL_T_ESCAPE},
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strlen(words[i].word) == len && strncasecmp(words[i].word, s, len) == 0) {
            return words[i].kind;
        }
    }
    return SEL_T_IDENT;
}

static int lex_string(struct sel_lexer *lex, struct sel_token *tok)
{
    const char *t = lex->text;
    size_t start = lex->pos, i = start + 1, n = 0;
    for (;;) {
        if (i >= lex->len) {
            return fail(lex, start, "unterminated string literal");
        }
        if (t[i] == '\'') {
            if (i + 1 < lex->len && t[i + 1] == '\'') {
                i += 2, n++;
                continue;
            }
            break;
        }
        i++, n++;
    }
    char *out = sel_arena_alloc(lex->arena, n + 1);
    if (out == NULL) {
        return CUT_ENOMEM;
    }
    size_t o = 0;
    for (size_t k = start + 1; k < i; k++) {
        out[o++] = t[k];
        if (t[k] == '\'') {
            k++;
        }
    }
    tok->kind = SEL_T_STRING;
    tok->v.s.ptr = out;
    tok->v.s.len = n;
    lex->pos = i + 1;
    return CUT_OK;
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return 99;
}

/* Digits of @p radix from t[*i] on; false when the value passes @p max. */
static bool scan_digits(const char *t, size_t len, size_t *i, int radix, uint64_t max,
                        uint64_t *value, size_t *count)
{
    uint64_t v = 0;
    bool ok = true;
    *count = 0;
    while (*i < len && digit_value(t[*i]) < radix) {
        uint64_t d = (uint64_t)digit_value(t[*i]);
        if (v > (max - d) / (uint64_t)radix) {
            ok = false;
        } else {
            v = v * (uint64_t)radix + d;
        }
        (*i)++, (*count)++;
    }
    *value = v;
    return ok;
}

static int lex_float(struct sel_lexer *lex, struct sel_token *tok, size_t start, size_t end,
                     bool is_float)
{
    bool nonzero = false;
    for (size_t k = start; k < end && lex->text[k] != 'e' && lex->text[k] != 'E'; k++) {
        nonzero |= lex->text[k] >= '1' && lex->text[k] <= '9';
    }
    char *buf = malloc(end - start + 1);
    if (buf == NULL) {
        return CUT_ENOMEM;
    }
    memcpy(buf, lex->text + start, end - start);
    buf[end - start] = '\0';
    /* The literal syntax is Java's, whatever LC_NUMERIC the process runs under. */
    locale_t c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0) {
        free(buf);
        return CUT_ENOMEM;
    }
    double d = strtod_l(buf, NULL, c_locale);
    freelocale(c_locale);
    free(buf);
    if (is_float) {
        d = (double)(float)d; /* 1.1f is the float nearest 1.1, as in Java */
    }
    if (isinf(d) || (d == 0 && nonzero)) {
        return fail(lex, start, "floating-point literal out of the range of a double");
    }
    tok->kind = SEL_T_APPROX;
    tok->v.d = d;
    return CUT_OK;
}

static int lex_number(struct sel_lexer *lex, struct sel_token *tok)
{
    const char *t = lex->text;
    size_t len = lex->len, start = lex->pos, i = start, count;
    uint64_t v = 0;
    int radix = 10;
    bool in_range = true;

    if (t[i] == '0' && i + 1 < len && strchr("xXbB", t[i + 1]) != NULL && t[i + 1] != '\0') {
        radix = (t[i + 1] == 'x' || t[i + 1] == 'X') ? 16 : 2;
        i += 2;
        in_range = scan_digits(t, len, &i, radix, UINT64_MAX, &v, &count);
        if (count == 0) {
            return fail(lex, start, "malformed number");
        }
    } else {
        size_t int_start = i;
        while (i < len && is_digit(t[i])) {
            i++;
        }
        size_t int_end = i;
        bool approx = false, is_float = false;
        if (i < len && t[i] == '.') {
            approx = true;
            i++;
            while (i < len && is_digit(t[i])) {
                i++;
            }
        }
        if (i < len && (t[i] == 'e' || t[i] == 'E')) {
            approx = true;
            i++;
            if (i < len && (t[i] == '+' || t[i] == '-')) {
                i++;
            }
            if (i >= len || !is_digit(t[i])) {
                return fail(lex, start, "malformed number");
            }
            while (i < len && is_digit(t[i])) {
                i++;
            }
        }
        size_t end = i;
        if (i < len && strchr("fFdD", t[i]) != NULL && t[i] != '\0') {
            is_float = t[i] == 'f' || t[i] == 'F';
            approx = true;
            i++;
        }
        if (approx) {
            if (i < len && is_ident_part(t[i])) {
                return fail(lex, start, "malformed number");
            }
            lex->pos = i;
            return lex_float(lex, tok, start, end, is_float);
        }
        if (int_end - int_start > 1 && t[int_start] == '0') {
            radix = 8;
            size_t k = int_start + 1;
            in_range = scan_digits(t, len, &k, 8, UINT64_MAX, &v, &count);
            if (k != int_end) {
                return fail(lex, start, "malformed number");
            }
        } else {
            size_t k = int_start;
            in_range = scan_digits(t, len, &k, 10, (uint64_t)INT64_MAX + 1, &v, &count);
        }
    }
    if (i < len && (t[i] == 'l' || t[i] == 'L')) {
        i++;
    }
    if (i < len && is_ident_part(t[i])) {
        return fail(lex, start, "malformed number");
    }
    if (!in_range) {
        return fail(lex, start, "integer literal out of the range of a long");
    }
    tok->kind = SEL_T_EXACT;
    tok->radix = radix;
    tok->v.u = v;
    lex->pos = i;
    return CUT_OK;
}

static int lex_operator(struct sel_lexer *lex, struct sel_token *tok)
{
    const char *t = lex->text;
    size_t i = lex->pos;
    char next = i + 1 < lex->len ? t[i + 1] : '\0';
    size_t n = 1;
    switch (t[i]) {
    case '(':
        tok->kind = SEL_T_LPAREN;
        break;
    case ')':
        tok->kind = SEL_T_RPAREN;
        break;
    case ',':
        tok->kind = SEL_T_COMMA;
        break;
    case '+':
        tok->kind = SEL_T_PLUS;
        break;
    case '-':
        tok->kind = SEL_T_MINUS;
        break;
    case '*':
        tok->kind = SEL_T_STAR;
        break;
    case '/':
        tok->kind = SEL_T_SLASH;
        break;
    case '=':
        tok->kind = SEL_T_EQ;
        break;
    case '<':
        tok->kind = next == '>' ? SEL_T_NE : next == '=' ? SEL_T_LE : SEL_T_LT;
        n = tok->kind == SEL_T_LT ? 1 : 2;
        break;
    case '>':
        tok->kind = next == '=' ? SEL_T_GE : SEL_T_GT;
        n = tok->kind == SEL_T_GT ? 1 : 2;
        break;
    case '!':
        if (next == '=') {
            return fail(lex, i, "unexpected \"!=\" (not equal is written \"<>\")");
        }
        break;
    case '"':
        return fail(lex, i, "unexpected character '\"' (string literals take single quotes)");
    default:
        break;
    }
    if (tok->kind == SEL_T_END) {
        unsigned char c = (unsigned char)t[i];
        if (c < 0x20 || c == 0x7F) {
            snprintf(lex->err_buf, sizeof(lex->err_buf), "unexpected character \\x%02x", c);
        } else {
            int bytes = (int)sel_utf8_len((const unsigned char *)t + i, lex->len - i);
            snprintf(lex->err_buf, sizeof(lex->err_buf), "unexpected character \"%.*s\"", bytes,
                     t + i);
        }
        return fail(lex, i, lex->err_buf);
    }
    lex->pos = i + n;
    return CUT_OK;
}

int sel_lex_next(struct sel_lexer *lex, struct sel_token *tok)
{
    const char *t = lex->text;
    while (lex->pos < lex->len && is_space(t[lex->pos])) {
        lex->pos++;
    }
    memset(tok, 0, sizeof(*tok));
    tok->pos = lex->pos;
    int rc;
    if (lex->pos >= lex->len) {
        tok->kind = SEL_T_END;
        rc = CUT_OK;
    } else if (is_ident_start(t[lex->pos])) {
        size_t i = lex->pos;
        while (i < lex->len && is_ident_part(t[i])) {
            i++;
        }
        tok->kind = keyword(t + lex->pos, i - lex->pos);
        tok->v.s.ptr = t + lex->pos;
        tok->v.s.len = i - lex->pos;
        lex->pos = i;
        rc = CUT_OK;
    } else if (t[lex->pos] == '\'') {
        rc = lex_string(lex, tok);
    } else if (is_digit(t[lex->pos]) ||
               (t[lex->pos] == '.' && lex->pos + 1 < lex->len && is_digit(t[lex->pos + 1]))) {
        rc = lex_number(lex, tok);
    } else {
        rc = lex_operator(lex, tok);
    }
    tok->len = lex->pos - tok->pos;
    return rc;
}
