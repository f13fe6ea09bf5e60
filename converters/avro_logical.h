/*
 * The Avro logical types, done by our own code because avro-c 1.11 drops
 * them: text <-> value for timestamps, dates, times of day and decimals.
 *
 * Texts read: ISO 8601 as XML documents write it ("2024-03-01T10:15:00Z",
 * "2024-03-01T11:15:00.250+01:00", "2024-03-01 10:15:00"; no zone means UTC),
 * dates "2024-03-01", times "10:15:00[.fff]", decimals "-1234.50".
 * Texts written: "2024-03-01T10:15:00.000Z" (micros: ".000000Z"),
 * "2024-03-01", "10:15:00.000", "-1234.50" (exactly `scale` decimals).
 *
 * Pure functions: reentrant, no allocation.
 */
#ifndef CUTOVER_AVRO_LOGICAL_H
#define CUTOVER_AVRO_LOGICAL_H

#include <stddef.h>
#include <stdint.h>

/** The unscaled value of a decimal: up to 38 digits fit. */
__extension__ typedef __int128 cut_i128;

/** Room for any text the format functions write. */
#define CUT_LOGICAL_TEXT_MAX 48

/**
 * Parse an ISO 8601 date-time (@p len bytes, not NUL-terminated) into
 * microseconds since the epoch. Fractions beyond microseconds are cut off.
 * @return 0, or -1 when it is not a valid date-time.
 */
int cut_timestamp_parse(const char *text, size_t len, int64_t *micros);

/** Parse "YYYY-MM-DD" into days since 1970-01-01. @return 0 or -1. */
int cut_date_parse(const char *text, size_t len, int32_t *days);

/** Parse "HH:MM[:SS[.fraction]]" into microseconds after midnight. @return 0 or -1. */
int cut_time_parse(const char *text, size_t len, int64_t *micros);

/** Write a timestamp (@p value in ms, or µs when @p micros) as ISO 8601 UTC. */
void cut_timestamp_format(int64_t value, int micros, char *out, size_t size);
void cut_date_format(int32_t days, char *out, size_t size);
void cut_time_format(int64_t value, int micros, char *out, size_t size);

/**
 * Parse a decimal text into its unscaled value at @p scale, checking that it
 * has at most @p scale decimals (trailing zeros aside) and at most
 * @p precision digits in all.
 * @return 0, or -1 with the reason in @p why (without the text itself).
 */
int cut_decimal_parse(const char *text, size_t len, int precision, int scale, cut_i128 *unscaled,
                      char *why, size_t why_size);

/** Write @p unscaled as a decimal text with @p scale decimals. */
void cut_decimal_format(cut_i128 unscaled, int scale, char *out, size_t size);

/**
 * The Avro encoding of a decimal: big-endian two's complement, in the fewest
 * bytes (@p fixed_size 0) or sign-extended to @p fixed_size bytes.
 * @return the number of bytes written to @p out (at most 16, or fixed_size),
 *         or 0 when the value does not fit in @p fixed_size.
 */
size_t cut_decimal_to_bytes(cut_i128 unscaled, size_t fixed_size, uint8_t *out);

/** Read a two's complement big-endian integer. @return 0, or -1 when it exceeds 128 bits. */
int cut_decimal_from_bytes(const uint8_t *buf, size_t len, cut_i128 *unscaled);

#endif
