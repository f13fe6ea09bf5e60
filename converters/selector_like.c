/*
 * LIKE patterns without backtracking.
 *
 * A pattern is split at '%' into segments of literal bytes and '_'. Without
 * '%' the one segment must cover the whole value. Otherwise the first segment
 * is anchored at the start (unless the pattern starts with '%'), the last at
 * the end (unless it ends with '%'), and each middle segment is matched at
 * its leftmost place after the previous one: taking the leftmost place never
 * loses a match, because a later place only leaves less room for the
 * segments that follow. Each byte of the value is thus looked at a bounded
 * number of times per segment: memmem() (linear) for literal segments, a scan
 * for segments with '_', O(value * segment) at worst. Hostile patterns such
 * as '%a%a%a%a%b' cost no more than their length times the value's.
 *
 * '_' is one character: one UTF-8 code point of the value (Java counts UTF-16
 * units, which differ only for characters outside the BMP).
 */
#include <string.h>

#include "selector_int.h"

static bool is_escape(const unsigned char *p, size_t left, const struct sel_str *esc)
{
    return esc != NULL && esc->len <= left && memcmp(p, esc->ptr, esc->len) == 0;
}

int sel_like_compile(struct sel_arena *arena, struct sel_str pat, const struct sel_str *esc,
                     const struct sel_like **out)
{
    struct sel_like *like = sel_arena_alloc(arena, sizeof(*like));
    unsigned char *bytes = sel_arena_alloc(arena, pat.len + 1);
    unsigned char *one = sel_arena_alloc(arena, pat.len + 1);
    size_t max_segs = 1;
    for (size_t i = 0; i < pat.len; i++) {
        max_segs += pat.ptr[i] == '%';
    }
    struct sel_like_seg *segs = sel_arena_alloc(arena, max_segs * sizeof(*segs));
    if (like == NULL || bytes == NULL || one == NULL || segs == NULL) {
        return CUT_ENOMEM;
    }

    const unsigned char *p = (const unsigned char *)pat.ptr;
    size_t i = 0, n = 0, seg_start = 0, n_cp = 0, n_segs = 0;
    bool seg_one = false;
    for (;;) {
        bool at_end = i == pat.len;
        if (at_end || (p[i] == '%' && !is_escape(p + i, pat.len - i, esc))) {
            if (n > seg_start) {
                segs[n_segs].bytes = bytes + seg_start;
                segs[n_segs].one = seg_one ? one + seg_start : NULL;
                segs[n_segs].len = n - seg_start;
                segs[n_segs].n_cp = n_cp;
                n_segs++;
            }
            if (at_end) {
                break;
            }
            like->any = true;
            like->lead_any |= i == 0;
            like->trail_any = i + 1 == pat.len;
            seg_start = n;
            n_cp = 0;
            seg_one = false;
            i++;
            continue;
        }
        size_t clen = sel_utf8_len(p + i, pat.len - i);
        if (is_escape(p + i, pat.len - i, esc)) {
            /* the escape character: the next character stands for itself */
            i += clen;
            if (i == pat.len) {
                return CUT_EINVAL;
            }
            clen = sel_utf8_len(p + i, pat.len - i);
        } else if (p[i] == '_') {
            one[n] = 1;
            seg_one = true;
        }
        memcpy(bytes + n, p + i, clen);
        n += clen;
        n_cp++;
        i += clen;
    }
    like->segs = segs;
    like->n_segs = n_segs;
    *out = like;
    return CUT_OK;
}

/* Match @p seg at s[k..]; on success *end is where it stops (<= limit). */
static bool match_at(const struct sel_like_seg *seg, const unsigned char *s, size_t limit, size_t k,
                     size_t *end)
{
    if (seg->one == NULL) {
        if (limit - k < seg->len || memcmp(s + k, seg->bytes, seg->len) != 0) {
            return false;
        }
        *end = k + seg->len;
        return true;
    }
    for (size_t i = 0; i < seg->len; i++) {
        if (k >= limit) {
            return false;
        }
        if (seg->one[i]) {
            k += sel_utf8_len(s + k, limit - k);
        } else if (s[k] != seg->bytes[i]) {
            return false;
        } else {
            k++;
        }
    }
    *end = k;
    return true;
}

/* The leftmost match of @p seg in s[*pos..limit); *pos becomes its end. */
static bool find(const struct sel_like_seg *seg, const unsigned char *s, size_t *pos, size_t limit)
{
    if (seg->one == NULL) {
        const unsigned char *at = memmem(s + *pos, limit - *pos, seg->bytes, seg->len);
        if (at == NULL) {
            return false;
        }
        *pos = (size_t)(at - s) + seg->len;
        return true;
    }
    for (size_t k = *pos; k < limit; k += sel_utf8_len(s + k, limit - k)) {
        size_t end;
        if (match_at(seg, s, limit, k, &end)) {
            *pos = end;
            return true;
        }
    }
    return false;
}

/*
 * Start of the character that ends at @p end, not before @p lo: the same
 * boundaries as walking forward with sel_utf8_len(), stray bytes included.
 */
static size_t prev_char(const unsigned char *s, size_t lo, size_t end)
{
    size_t j = end - 1;
    while (j > lo && (s[j] & 0xC0) == 0x80 && end - j < 4) {
        j--;
    }
    return sel_utf8_len(s + j, end - j) == end - j ? j : end - 1;
}

bool sel_like_match(const struct sel_like *like, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t end;
    if (!like->any) {
        if (like->n_segs == 0) {
            return n == 0;
        }
        return match_at(&like->segs[0], s, n, 0, &end) && end == n;
    }
    size_t pos = 0, limit = n, first = 0, last = like->n_segs;
    if (!like->lead_any) {
        if (!match_at(&like->segs[0], s, n, 0, &pos)) {
            return false;
        }
        first = 1;
    }
    if (!like->trail_any) {
        if (last == first) {
            return pos == n;
        }
        const struct sel_like_seg *seg = &like->segs[last - 1];
        size_t k = n;
        for (size_t c = 0; c < seg->n_cp; c++) {
            if (k <= pos) {
                return false;
            }
            k = prev_char(s, pos, k);
        }
        if (!match_at(seg, s, n, k, &end) || end != n) {
            return false;
        }
        limit = k;
        last--;
    }
    for (size_t i = first; i < last; i++) {
        if (!find(&like->segs[i], s, &pos, limit)) {
            return false;
        }
    }
    return true;
}
