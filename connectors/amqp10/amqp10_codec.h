/*
 * Internals of the AMQP 1.0 envelope codec shared by decoding
 * (amqp10_msg.c) and encoding (amqp10_encode.c): the layout of a message's
 * sections found without decoding it, the body forms, the content-type rules
 * of the JMS mapping, and the per-message arena. Only connectors/amqp10/
 * includes this. Pure functions; any thread.
 */
#ifndef CUTOVER_AMQP10_CODEC_H
#define CUTOVER_AMQP10_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "amqp10.h"

#define SERIALIZED_JAVA "application/x-java-serialized-object"

#define ANN_MSG_TYPE "x-opt-jms-msg-type"
#define ANN_DEST     "x-opt-jms-dest"
#define ANN_REPLY_TO "x-opt-jms-reply-to"

/* Section descriptors (AMQP 1.0 part 3.2). */
enum {
    A10_SEC_HEADER = 0x70,
    A10_SEC_DELIVERY_ANN = 0x71,
    A10_SEC_MESSAGE_ANN = 0x72,
    A10_SEC_PROPERTIES = 0x73,
    A10_SEC_APP_PROPS = 0x74,
    A10_SEC_DATA = 0x75,
    A10_SEC_SEQUENCE = 0x76,
    A10_SEC_VALUE = 0x77,
    A10_SEC_FOOTER = 0x78,
};

/* How a body is laid out on the wire. */
enum cut_amqp10_form {
    A10_BODY_NONE,
    A10_BODY_DATA,
    A10_BODY_VALUE_NULL,
    A10_BODY_VALUE_STRING,
    A10_BODY_VALUE_BINARY,
    A10_BODY_VALUE_MAP,
    A10_BODY_VALUE_LIST,
    A10_BODY_VALUE_OTHER,
    A10_BODY_SEQUENCE,
    A10_BODY_MIXED,
};

/* One section found in the bytes: where its value starts. */
struct cut_amqp10_section {
    const uint8_t *start; /* the section, descriptor included */
    size_t size;
    const uint8_t *value; /* the described value */
    size_t value_size;
    uint64_t code;
};

/* What the walk over a message found. */
struct cut_amqp10_layout {
    struct cut_amqp10_section header, properties;
    bool have_header, have_properties;
    size_t prefix_end; /* end of the sections before the body */
    size_t bare_start, bare_end;
    size_t body_start, body_end;
    unsigned n_body;
};

/* The body as seen from its sections. */
struct cut_amqp10_body {
    enum cut_amqp10_form form;
    const uint8_t *payload; /* data, string or binary payload; NULL for none or null */
    size_t payload_len;
    unsigned n_data;
};

/* Per-message memory (amqp10_codec.c): valid until the next reset of @p buf. */
void cut_amqp10_arena_reset(struct cut_amqp10_msgbuf *buf);
/** @p n bytes, or NULL without memory; pointers handed out earlier stay valid. */
char *cut_amqp10_arena_alloc(struct cut_amqp10_msgbuf *buf, size_t n);
/** A NUL-terminated copy of [s, s+n), or NULL. */
const char *cut_amqp10_arena_str(struct cut_amqp10_msgbuf *buf, const char *s, size_t n);
/** Grow *p (of *cap elements of @p elem bytes) to at least @p need. CUT_OK or CUT_ENOMEM. */
int cut_amqp10_grow(void **p, size_t *cap, size_t need, size_t elem);

/** The section at @p p: CUT_OK with @p s filled, or CUT_EINVAL. */
int cut_amqp10_section_at(const uint8_t *p, size_t len, struct cut_amqp10_section *s);
bool cut_amqp10_is_body(uint64_t code);
/** Find the sections of a whole message; CUT_EINVAL (err says where) when malformed. */
int cut_amqp10_walk(const uint8_t *p, size_t len, struct cut_amqp10_layout *lay,
                    struct cut_err *err);
/** Payload of a string, binary or symbol value: CUT_OK, or CUT_EINVAL if it is none. */
int cut_amqp10_vbin(const uint8_t *v, size_t len, const uint8_t **payload, size_t *plen);
/**
 * Classify the body sections in [p, p+len) (all of them body sections, or
 * CUT_EINVAL). The payload of one data section, string or binary points
 * into @p p.
 */
int cut_amqp10_body_classify(const uint8_t *p, size_t len, struct cut_amqp10_body *bv);
/** Qpid JMS's reading of a content type as text (ContentTypeSupport). */
bool cut_amqp10_ct_textual(const char *ct);
/** Whether content type @p ct is @p what, parameters aside. */
bool cut_amqp10_ct_is(const char *ct, const char *what);
/** The body kind a JMS client infers without x-opt-jms-msg-type (see amqp10_msg.c). */
enum cut_body_kind cut_amqp10_infer_kind(enum cut_amqp10_form form, const char *ct);
/** Whether field @p index of the list @p v (a section's value) is there and not null. */
bool cut_amqp10_list_field_present(const uint8_t *v, size_t len, unsigned index);

#endif
