/*
 * Vocabulary shared by the two directions of the AMQP 0-9-1 envelope mapping
 * (amqp091_msg.c: delivery -> struct cut_msg; amqp091_pub.c: struct cut_msg
 * -> basic properties): the reserved header and annotation names, the names
 * of destination types, body kinds and id types, and the text codecs of ids,
 * TTLs and decimals. The mapping itself is documented at the top of
 * amqp091_msg.c.
 *
 * Everything here is a pure function of its arguments; any thread.
 */
#ifndef CUTOVER_AMQP091_MAP_H
#define CUTOVER_AMQP091_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>

#include "cutover/msg.h"

/*
 * Reserved headers: envelope fields that AMQP 0-9-1 has no property for. The
 * sink writes them only when needed, in this order, after the application
 * headers; the source consumes one only when the sink would write exactly
 * that entry again (same kind, same value), so 0-9-1 -> 0-9-1 is exact.
 */
enum cut_amqp091_reserved {
    CUT_AMQP091_R_MESSAGE_ID,      /* "x-message-id": id too long for the property */
    CUT_AMQP091_R_MESSAGE_ID_TYPE, /* "x-message-id-type": uuid | ulong | binary */
    CUT_AMQP091_R_CORR_ID,         /* "x-correlation-id" */
    CUT_AMQP091_R_CORR_ID_TYPE,    /* "x-correlation-id-type" */
    CUT_AMQP091_R_REPLY_TO,        /* "x-jms-reply-to": reply_to too long for the property */
    CUT_AMQP091_R_REPLY_TO_TYPE,   /* "x-jms-reply-to-type": topic | temporary-queue | ... */
    CUT_AMQP091_R_DEST,            /* "x-jms-destination" */
    CUT_AMQP091_R_DEST_TYPE,       /* "x-jms-destination-type" */
    CUT_AMQP091_R_BODY_KIND,       /* "x-jms-body-kind": text | map | ... (not bytes) */
    CUT_AMQP091_R_TIMESTAMP_MS,    /* "x-jms-timestamp-ms": exact creation time */
    CUT_AMQP091_R_EXPIRATION,      /* "x-jms-expiration": absolute expiry in ms */
    CUT_AMQP091_R_USER_ID,         /* "x-jms-user-id": user_id the broker would refuse */
    CUT_AMQP091_R_GROUP_ID,        /* "JMSXGroupID" */
    CUT_AMQP091_R_GROUP_SEQ,       /* "JMSXGroupSeq" */
    CUT_AMQP091_R_COUNT
};

extern const char *const cut_amqp091_reserved_names[CUT_AMQP091_R_COUNT];

/** The reserved header named @p name, or -1. */
int cut_amqp091_reserved_find(amqp_bytes_t name);

/*
 * Residue annotations: what a 0-9-1 delivery holds that the envelope cannot
 * (the names follow RabbitMQ's own 0-9-1 -> 1.0 conversion). The source adds
 * them only when needed; the sink uses one only when it agrees with the
 * envelope fields next to it, and never writes them as headers.
 */
#define CUT_AMQP091_A_PREFIX        "x-basic-"
#define CUT_AMQP091_A_APP_ID        "x-basic-app-id"        /* STRING */
#define CUT_AMQP091_A_CLUSTER_ID    "x-basic-cluster-id"    /* STRING */
#define CUT_AMQP091_A_DELIVERY_MODE "x-basic-delivery-mode" /* SHORT: raw, when not 2 */
#define CUT_AMQP091_A_PRIORITY      "x-basic-priority"      /* SHORT: raw, when above 9 */
#define CUT_AMQP091_A_EXPIRATION    "x-basic-expiration"    /* STRING: raw, when not canonical */
#define CUT_AMQP091_A_TIMESTAMP     "x-basic-timestamp"     /* LONG: raw seconds, when 0 or huge */
#define CUT_AMQP091_A_MESSAGE_ID    "x-basic-message-id"    /* STRING: present but empty */
#define CUT_AMQP091_A_HEADERS       "x-basic-headers"       /* BYTES: header layout */

/** Headers named so travel as annotations (AMQP 1.0 message annotations), not props. */
#define CUT_AMQP091_ANNOTATION_PREFIX "x-opt-"

/** True for 1.0 annotations that mirror envelope fields (x-opt-jms-dest...): never headers. */
bool cut_amqp091_annotation_mirrored(const char *name);

/* ---- names of enumerations ------------------------------------------------ */

/** "queue", "topic", "temporary-queue", "temporary-topic"; NULL for NONE. */
const char *cut_amqp091_dest_type_name(enum cut_dest_type type);
/** Parse a destination type name; false when unknown. */
bool cut_amqp091_dest_type_parse(amqp_bytes_t s, enum cut_dest_type *type);

/** "message", "object", "map", "bytes", "stream", "text". */
const char *cut_amqp091_body_kind_name(enum cut_body_kind kind);
bool cut_amqp091_body_kind_parse(amqp_bytes_t s, enum cut_body_kind *kind);

/** "uuid", "ulong", "binary" (RabbitMQ's x-message-id-type values); NULL otherwise. */
const char *cut_amqp091_id_type_name(enum cut_id_type type);
bool cut_amqp091_id_type_parse(amqp_bytes_t s, enum cut_id_type *type);

/* ---- ids ------------------------------------------------------------------ */

/** 8-4-4-4-12 lower-case hex. */
bool cut_amqp091_uuid_canonical(const char *s, size_t len);
/** Decimal digits, no leading zero (but "0"), at most UINT64_MAX. */
bool cut_amqp091_ulong_canonical(const char *s, size_t len);
/** Non-empty, even length, lower-case hex. */
bool cut_amqp091_hex_canonical(const char *s, size_t len);

/**
 * Standard base64 (with padding) of @p n bytes into @p out (room for
 * cut_amqp091_b64_len(n) + 1); NUL-terminated. Returns the length.
 */
size_t cut_amqp091_b64_encode(const void *in, size_t n, char *out);
static inline size_t cut_amqp091_b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/**
 * Base64 text @p s to lower-case hex in @p out (room for len * 3 / 2 + 1),
 * NUL-terminated, only when @p s is canonical (what cut_amqp091_b64_encode()
 * would write) and not empty. Returns the hex length, or 0.
 */
size_t cut_amqp091_b64_to_hex(const char *s, size_t len, char *out);

/**
 * Canonical lower-case hex to base64 in @p out (room for
 * cut_amqp091_b64_len(len / 2) + 1). Returns the base64 length, 0 when
 * @p s is not canonical hex.
 */
size_t cut_amqp091_hex_to_b64(const char *s, size_t len, char *out);

/* ---- property values ------------------------------------------------------ */

/**
 * A 0-9-1 expiration as RabbitMQ accepts it: optional '+', decimal digits
 * (leading zeros allowed), at most 18 of them. The TTL in ms, or -1.
 */
int64_t cut_amqp091_ttl_parse(amqp_bytes_t s);

/** True when @p s is exactly the decimal text of @p ttl (> 0) that the sink writes. */
bool cut_amqp091_ttl_canonical(amqp_bytes_t s, int64_t ttl);

/** Room for the text of a decimal: 10 digits, the point, up to 255 zeros. */
#define CUT_AMQP091_DECIMAL_MAX 272

/** A decimal as text ("123.45", "0.005"), NUL-terminated; returns the length. */
size_t cut_amqp091_decimal_text(amqp_decimal_t d, char *out);

/** Parse what cut_amqp091_decimal_text() writes; false when it is not that. */
bool cut_amqp091_decimal_parse(const char *s, size_t len, amqp_decimal_t *d);

/** Parse canonical decimal digits into a uint64_t; false otherwise. */
bool cut_amqp091_u64_parse(const char *s, size_t len, uint64_t *v);

/** The header kind the sink writes for a property of @p type. */
uint8_t cut_amqp091_kind_of(enum cut_prop_type type);

/**
 * True when amqp_encode_table() may have failed only for want of room.
 * librabbitmq 0.11 says AMQP_STATUS_TABLE_TOO_BIG, except when the buffer
 * ends exactly at a value's kind byte: then AMQP_STATUS_BAD_AMQP_DATA.
 */
static inline bool cut_amqp091_encode_short(int status)
{
    return status == AMQP_STATUS_TABLE_TOO_BIG || status == AMQP_STATUS_BAD_AMQP_DATA;
}

/** FNV-1a 64 over @p len bytes, continuing from @p h. */
uint64_t cut_amqp091_fnv1a(uint64_t h, const void *data, size_t len);
#define CUT_AMQP091_FNV_INIT UINT64_C(0xcbf29ce484222325)

/** True when @p b holds exactly the NUL-terminated text @p s. */
bool cut_amqp091_bytes_eq(amqp_bytes_t b, const char *s);

#endif
