/*
 * The JMS envelope as Kafka headers: the names and text encodings listed in
 * docs/connectors.md ("Kafka headers"). Every converter that writes Kafka
 * records uses this one builder, so the mapping has one definition.
 *
 * Ownership: the header arrays and the text they point to live in the
 * struct cut_jms_headers and stay valid until its next build or fini; values
 * of string fields are borrowed from the message (valid as long as it is).
 * Thread safety: one builder per flow thread.
 */
#ifndef CUTOVER_JMS_HEADERS_H
#define CUTOVER_JMS_HEADERS_H

#include <stddef.h>

#include "cutover/connector.h"
#include "cutover/msg.h"

struct cut_jms_headers {
    const char **names;
    const void **values;
    size_t *lens;
    size_t n, cap;
    char *text; /* composed names and numbers; grow-only */
    size_t text_len, text_cap;
};

void cut_jms_headers_init(struct cut_jms_headers *hdrs);
void cut_jms_headers_fini(struct cut_jms_headers *hdrs);

/** Build the headers of @p msg and point @p rec's header arrays at them. */
int cut_jms_headers_build(struct cut_jms_headers *hdrs, const struct cut_msg *msg,
                          struct cut_record *rec);

/** Static text of a destination type ("queue", "topic", ...), NULL for none. */
const char *cut_dest_type_name(enum cut_dest_type type);
/** Static text of a body kind ("text", "bytes", ...). */
const char *cut_body_kind_name(enum cut_body_kind kind);

#endif
