/*
 * The Confluent wire format of a Kafka value or key written by a Schema
 * Registry aware serializer: one magic byte 0, the schema id as a 4-byte
 * big-endian integer, then the Avro binary encoding of the datum.
 *
 * Pure functions on caller buffers: reentrant, no allocation.
 */
#ifndef CUTOVER_WIRE_H
#define CUTOVER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "cutover/status.h"

#define CUT_WIRE_MAGIC       0
#define CUT_WIRE_HEADER_SIZE 5

/** Write the 5-byte header for @p schema_id into @p out (CUT_WIRE_HEADER_SIZE bytes). */
void cut_wire_header_put(uint8_t *out, int32_t schema_id);

/**
 * Read the header of @p buf (@p len bytes).
 *
 * @param schema_id  receives the id
 * @param payload    receives a pointer just past the header (into @p buf)
 * @return CUT_OK, or CUT_EINVAL (err says why) when @p buf is shorter than the
 *         header or its magic byte is not 0.
 */
int cut_wire_header_get(const void *buf, size_t len, int32_t *schema_id, const uint8_t **payload,
                        struct cut_err *err);

#endif
