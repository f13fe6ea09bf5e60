/*
 * Avro binary encoding, written by hand into a grow-only buffer.
 *
 * Why not avro-c's writer: its value API builds a generic value tree (one
 * allocation per field and per array item) that we would then serialize; a
 * mapping already walks the schema once, so it writes each datum straight to
 * its bytes (zig-zag varints, IEEE little-endian floats, length-prefixed
 * bytes, array blocks). Nothing is allocated per message once the buffer
 * has grown to the largest message. avro-c still reads every byte we write
 * in the golden tests, which keeps this encoder honest.
 *
 * Errors: the put functions never fail one by one; a failed allocation marks
 * the buffer (failed = true) and later puts do nothing, so a caller checks
 * once at the end. Not thread-safe: one buffer per thread.
 */
#ifndef CUTOVER_AVRO_WRITE_H
#define CUTOVER_AVRO_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "avro_schema.h"

struct cut_avro_buf {
    uint8_t *data;
    size_t len, cap;
    bool failed; /**< an allocation failed: the content is incomplete */
};

void cut_avro_buf_init(struct cut_avro_buf *buf);
void cut_avro_buf_fini(struct cut_avro_buf *buf);
/** Empty the buffer, keeping its memory (and clearing failed). */
void cut_avro_buf_reset(struct cut_avro_buf *buf);
/** Make room for @p n more bytes. @return 0, or -1 (and failed set). */
int cut_avro_buf_reserve(struct cut_avro_buf *buf, size_t n);
void cut_avro_buf_put(struct cut_avro_buf *buf, const void *data, size_t len);

/** int and long: zig-zag varint. */
void cut_avro_put_long(struct cut_avro_buf *buf, int64_t v);
void cut_avro_put_boolean(struct cut_avro_buf *buf, bool v);
void cut_avro_put_float(struct cut_avro_buf *buf, float v);
void cut_avro_put_double(struct cut_avro_buf *buf, double v);
/** bytes and string: length, then the bytes. */
void cut_avro_put_bytes(struct cut_avro_buf *buf, const void *data, size_t len);

/**
 * Encode the JSON @p value (a schema "default") as a datum of @p type, the
 * way the Avro specification reads defaults: a union's default is of its
 * first branch, bytes and fixed are strings of code points 0-255, logical
 * types use their base type's form.
 * @return 0, or -1 with the reason in @p why.
 */
int cut_avro_put_json(struct cut_avro_buf *buf, const struct cut_avro_node *type,
                      const json_t *value, char *why, size_t why_size);

#endif
