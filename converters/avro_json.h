/*
 * Reading Avro binary back as JSON, for `cutover convert`, the `json` value
 * format and the golden tests.
 *
 * The bytes are first walked by our own checker against the schema (every
 * length within the bytes left, item counts bounded, union and enum indexes in
 * range, nothing left over), because avro-c 1.11 allocates whatever length its
 * input declares. Only then does avro-c decode them, and the value becomes
 * JSON with the logical types that avro-c does not know:
 *
 *   null, boolean, int, long, float, double   as JSON
 *   string, enum                               string
 *   bytes, fixed                               string of code points 0-255 (Avro's JSON form)
 *   array, map, record                         array, object, object (fields in schema order)
 *   union                                      the branch's value itself, unwrapped
 *   timestamp-millis / -micros                 "2024-03-01T10:15:00.000Z" / ".000000Z"
 *   date, time-millis / -micros                "2024-03-01", "10:15:00.000" / ".000000"
 *   decimal                                    string with exactly `scale` decimals: "12.50"
 *
 * Thread safety: a reader belongs to one thread.
 */
#ifndef CUTOVER_AVRO_JSON_H
#define CUTOVER_AVRO_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "avro_schema.h"
#include "cutover/status.h"

/**
 * Check that @p buf (@p len bytes) is exactly one well-formed datum of
 * @p type. @return CUT_OK, or CUT_EINVAL with the reason.
 */
int cut_avro_check(const struct cut_avro_node *type, const void *buf, size_t len,
                   struct cut_err *err);

struct cut_avro_reader;

/** @p avsc is borrowed and must outlive the reader. */
int cut_avro_reader_create(struct cut_avro_reader **rd, const struct cut_avsc *avsc,
                           struct cut_err *err);

/**
 * Check, decode with avro-c and convert to JSON. @p out receives a new
 * reference (json_decref). @return CUT_OK, CUT_EINVAL (bad bytes), CUT_ENOMEM.
 */
int cut_avro_reader_read(struct cut_avro_reader *rd, const void *buf, size_t len, json_t **out,
                         struct cut_err *err);

/** Accepts NULL. */
void cut_avro_reader_destroy(struct cut_avro_reader *rd);

/** One-shot form of the above. */
int cut_avro_to_json(const struct cut_avsc *avsc, const void *buf, size_t len, json_t **out,
                     struct cut_err *err);

#endif
