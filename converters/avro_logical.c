#include <stdio.h>
#include <string.h>

#include "avro_logical.h"

__extension__ typedef unsigned __int128 cut_u128;

/* Days from civil and back (Howard Hinnant's algorithms, proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Exactly @p n digits at *p; advances *p. */
static int digits(const char **p, const char *end, int n, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < n; i++) {
        if (*p >= end || **p < '0' || **p > '9') {
            return -1;
        }
        v = v * 10 + (unsigned)(**p - '0');
        (*p)++;
    }
    *out = v;
    return 0;
}

static int parse_date(const char **p, const char *end, int64_t *days)
{
    unsigned y, m, d;
    if (digits(p, end, 4, &y) < 0 || *p >= end || *(*p)++ != '-' || digits(p, end, 2, &m) < 0 ||
        *p >= end || *(*p)++ != '-' || digits(p, end, 2, &d) < 0) {
        return -1;
    }
    if (m < 1 || m > 12 || d < 1 || d > month_days(y, m)) {
        return -1;
    }
    *days = days_from_civil(y, m, d);
    return 0;
}

/* HH:MM[:SS[.f+]] into µs; fractions beyond µs are cut off. */
static int parse_time(const char **p, const char *end, int64_t *micros)
{
    unsigned h, mi, s = 0, frac = 0;
    int frac_digits = 0;
    if (digits(p, end, 2, &h) < 0 || *p >= end || *(*p)++ != ':' || digits(p, end, 2, &mi) < 0) {
        return -1;
    }
    if (*p < end && **p == ':') {
        (*p)++;
        if (digits(p, end, 2, &s) < 0) {
            return -1;
        }
        if (*p < end && (**p == '.' || **p == ',')) {
            (*p)++;
            if (*p >= end || **p < '0' || **p > '9') {
                return -1;
            }
            for (; *p < end && **p >= '0' && **p <= '9'; (*p)++) {
                if (frac_digits < 6) {
                    frac = frac * 10 + (unsigned)(**p - '0');
                    frac_digits++;
                }
            }
            for (; frac_digits < 6; frac_digits++) {
                frac *= 10;
            }
        }
    }
    if (h > 23 || mi > 59 || s > 60) {
        return -1;
    }
    if (s == 60) {
        s = 59; /* a leap second reads as the last second of its minute */
    }
    *micros = ((int64_t)h * 3600 + mi * 60 + s) * 1000000 + frac;
    return 0;
}

int cut_timestamp_parse(const char *text, size_t len, int64_t *micros)
{
    const char *p = text, *end = text + len;
    int64_t days, tod, offset = 0;

    if (parse_date(&p, end, &days) < 0 || p >= end || (*p != 'T' && *p != 't' && *p != ' ')) {
        return -1;
    }
    p++;
    if (parse_time(&p, end, &tod) < 0) {
        return -1;
    }
    if (p < end && (*p == 'Z' || *p == 'z')) {
        p++;
    } else if (p < end && (*p == '+' || *p == '-')) {
        int sign = *p++ == '-' ? -1 : 1;
        unsigned oh, om = 0;
        if (digits(&p, end, 2, &oh) < 0) {
            return -1;
        }
        if (p < end && *p == ':') {
            p++;
        }
        if (p < end && digits(&p, end, 2, &om) < 0) {
            return -1;
        }
        if (oh > 23 || om > 59) {
            return -1;
        }
        offset = sign * ((int64_t)oh * 3600 + om * 60) * 1000000;
    }
    if (p != end) {
        return -1;
    }
    *micros = days * 86400 * INT64_C(1000000) + tod - offset;
    return 0;
}

int cut_date_parse(const char *text, size_t len, int32_t *days)
{
    const char *p = text;
    int64_t d;
    if (parse_date(&p, text + len, &d) < 0 || p != text + len) {
        return -1;
    }
    *days = (int32_t)d;
    return 0;
}

int cut_time_parse(const char *text, size_t len, int64_t *micros)
{
    const char *p = text;
    if (parse_time(&p, text + len, micros) < 0 || p != text + len) {
        return -1;
    }
    return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void cut_timestamp_format(int64_t value, int micros, char *out, size_t size)
{
    int64_t unit = micros ? 1000000 : 1000;
    int64_t days = floor_div(value, 86400 * unit);
    int64_t rest = value - days * 86400 * unit;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int64_t secs = rest / unit, frac = rest % unit;
    snprintf(out, size, "%04lld-%02u-%02uT%02d:%02d:%02d.%0*lldZ", (long long)y, m, d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60), micros ? 6 : 3,
             (long long)frac);
}

void cut_date_format(int32_t days, char *out, size_t size)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, size, "%04lld-%02u-%02u", (long long)y, m, d);
}

void cut_time_format(int64_t value, int micros, char *out, size_t size)
{
    int64_t unit = micros ? 1000000 : 1000;
    int64_t secs = value / unit, frac = value % unit;
    if (value < 0) {
        snprintf(out, size, "%lld", (long long)value); /* not a time of day: show the number */
        return;
    }
    snprintf(out, size, "%02d:%02d:%02d.%0*lld", (int)(secs / 3600), (int)(secs / 60 % 60),
             (int)(secs % 60), micros ? 6 : 3, (long long)frac);
}

int cut_decimal_parse(const char *text, size_t len, int precision, int scale, cut_i128 *unscaled,
                      char *why, size_t why_size)
{
    const char *p = text, *end = text + len;
    int neg = 0, nint = 0, nfrac = 0, seen = 0;
    cut_i128 v = 0;

    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p++ == '-';
    }
    /* Leading zeros are not significant digits. */
    for (; p < end && *p == '0'; p++) {
        seen = 1;
    }
    /* Checking the digit counts as we go keeps v below 10^precision <= 10^38. */
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        seen = 1;
        if (++nint > precision - scale) {
            snprintf(why, why_size, "more than %d digits before the decimal point",
                     precision - scale);
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    if (p < end && *p == '.') {
        p++;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            seen = 1;
            if (nfrac >= scale) {
                if (*p != '0') {
                    snprintf(why, why_size, "more than %d decimal places", scale);
                    return -1;
                }
                continue;
            }
            nfrac++;
            v = v * 10 + (*p - '0');
        }
    }
    if (!seen || p != end) {
        snprintf(why, why_size, "not a decimal number");
        return -1;
    }
    for (; nfrac < scale; nfrac++) {
        v *= 10;
    }
    *unscaled = neg ? -v : v;
    return 0;
}

void cut_decimal_format(cut_i128 unscaled, int scale, char *out, size_t size)
{
    char digits_buf[64];
    int n = 0;
    int neg = unscaled < 0;
    cut_u128 u = neg ? (cut_u128)(-(unscaled + 1)) + 1 : (cut_u128)unscaled;
    do {
        digits_buf[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u != 0 && n < 60);
    while (n <= scale) {
        digits_buf[n++] = '0';
    }
    size_t at = 0;
    if (neg && at + 1 < size) {
        out[at++] = '-';
    }
    for (int i = n - 1; i >= 0 && at + 2 < size; i--) {
        out[at++] = digits_buf[i];
        if (i == scale && scale > 0) {
            out[at++] = '.';
        }
    }
    out[at] = '\0';
}

size_t cut_decimal_to_bytes(cut_i128 unscaled, size_t fixed_size, uint8_t *out)
{
    uint8_t full[16];
    cut_u128 u = (cut_u128)unscaled;
    for (int i = 15; i >= 0; i--) {
        full[i] = (uint8_t)u;
        u >>= 8;
    }
    /* Drop leading bytes that are pure sign extension. */
    size_t skip = 0;
    while (skip < 15 && ((full[skip] == 0x00 && !(full[skip + 1] & 0x80)) ||
                         (full[skip] == 0xff && (full[skip + 1] & 0x80)))) {
        skip++;
    }
    size_t n = 16 - skip;
    if (fixed_size == 0) {
        memcpy(out, full + skip, n);
        return n;
    }
    if (n > fixed_size) {
        return 0;
    }
    memset(out, unscaled < 0 ? 0xff : 0x00, fixed_size - n);
    memcpy(out + fixed_size - n, full + skip, n);
    return fixed_size;
}

int cut_decimal_from_bytes(const uint8_t *buf, size_t len, cut_i128 *unscaled)
{
    if (len == 0) {
        *unscaled = 0;
        return 0;
    }
    uint8_t sign = (buf[0] & 0x80) ? 0xff : 0x00;
    /* Longer than 16 bytes is fine only when the excess is sign extension. */
    while (len > 16) {
        if (buf[0] != sign) {
            return -1;
        }
        buf++;
        len--;
    }
    cut_u128 u = sign ? ~(cut_u128)0 : 0;
    for (size_t i = 0; i < len; i++) {
        u = (u << 8) | buf[i];
    }
    *unscaled = (cut_i128)u;
    return 0;
}
