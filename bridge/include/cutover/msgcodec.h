/*
 * A self-contained byte encoding of the whole envelope (body, every header,
 * property and annotation), so that a message can outlive its source
 * delivery: the repair ledger stores it when a secondary write fails, and
 * `cutover repair` decodes it to send the message again, exactly as the
 * source gave it.
 *
 * Format (version 1): "CUTM" 0x01, then fields as (tag u8, length u32 BE,
 * bytes); integers big-endian; unknown tags are skipped so that later
 * versions can add fields. Decoding checks every length against the input:
 * the input is stored data, and a bad blob is an error, never a crash.
 *
 * Thread safety: reentrant.
 */
#ifndef CUTOVER_MSGCODEC_H
#define CUTOVER_MSGCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "cutover/msg.h"
#include "cutover/status.h"

/** A growable byte buffer; zero-initialise, free with cut_buf_fini(). */
struct cut_buf {
    uint8_t *data;
    size_t len, cap;
};
void cut_buf_fini(struct cut_buf *buf);

/** Append the encoding of @p msg to @p out (cleared first). CUT_ENOMEM on failure. */
int cut_msg_encode(const struct cut_msg *msg, struct cut_buf *out);

/**
 * A decoded message: @p msg points into @p blob (which must stay alive) and
 * into arrays owned by this struct. Free with cut_msg_decoded_fini().
 */
struct cut_msg_decoded {
    struct cut_msg msg;
    struct cut_prop *props;
    struct cut_prop *annotations;
    char *strings; /* NUL-terminated copies of the string fields */
};

/** Decode @p blob of @p len bytes. CUT_EINVAL (with the reason) when it is malformed. */
int cut_msg_decode(const void *blob, size_t len, struct cut_msg_decoded *out, struct cut_err *err);
void cut_msg_decoded_fini(struct cut_msg_decoded *dec);

#endif
