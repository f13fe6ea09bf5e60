/*
 * Small pieces of the AMQP 1.0 type system that proton's message API does
 * not offer: the size of an encoded value (to find section boundaries in a
 * delivery without decoding it), and the canonical text of typed message
 * ids (msg.h) in both directions.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp10.h"

/* Described values nest their descriptor; real messages use one level. */
#define MAX_DESCRIBED_DEPTH 4

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static size_t value_size(const uint8_t *p, size_t len, int depth)
{
    size_t total;

    if (len == 0) {
        return 0;
    }
    if (p[0] == 0x00) {
        if (depth >= MAX_DESCRIBED_DEPTH) {
            return 0;
        }
        size_t d = value_size(p + 1, len - 1, depth + 1);
        if (d == 0) {
            return 0;
        }
        size_t v = value_size(p + 1 + d, len - 1 - d, depth + 1);
        return v == 0 ? 0 : 1 + d + v;
    }
    /* The high nibble of a constructor says how its width is written. */
    switch (p[0] >> 4) {
    case 0x4:
        total = 1;
        break;
    case 0x5:
        total = 2;
        break;
    case 0x6:
        total = 3;
        break;
    case 0x7:
        total = 5;
        break;
    case 0x8:
        total = 9;
        break;
    case 0x9:
        total = 17;
        break;
    case 0xa:
    case 0xc:
    case 0xe:
        if (len < 2) {
            return 0;
        }
        total = 2 + (size_t)p[1];
        break;
    case 0xb:
    case 0xd:
    case 0xf:
        if (len < 5) {
            return 0;
        }
        total = 5 + (size_t)be32(p + 1);
        if (total < 5) {
            return 0;
        }
        break;
    default:
        return 0;
    }
    return total <= len ? total : 0;
}

size_t cut_amqp10_value_size(const uint8_t *p, size_t len)
{
    return value_size(p, len, 0);
}

static const char hexdig[] = "0123456789abcdef";

void cut_amqp10_id_text(pn_atom_t id, char *out, size_t out_len, enum cut_id_type *type)
{
    const uint8_t *u;
    size_t o = 0;

    switch (id.type) {
    case PN_STRING:
    case PN_SYMBOL:
        *type = CUT_ID_STRING;
        snprintf(out, out_len, "%.*s", (int)id.u.as_bytes.size, id.u.as_bytes.start);
        return;
    case PN_UUID:
        *type = CUT_ID_UUID;
        u = (const uint8_t *)id.u.as_uuid.bytes;
        for (int i = 0; i < 16 && o + 3 < out_len; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) {
                out[o++] = '-';
            }
            out[o++] = hexdig[u[i] >> 4];
            out[o++] = hexdig[u[i] & 15];
        }
        out[o] = '\0';
        return;
    case PN_ULONG:
        *type = CUT_ID_ULONG;
        snprintf(out, out_len, "%" PRIu64, id.u.as_ulong);
        return;
    case PN_BINARY:
        *type = CUT_ID_BINARY;
        u = (const uint8_t *)id.u.as_bytes.start;
        for (size_t i = 0; i < id.u.as_bytes.size && o + 2 < out_len; i++) {
            out[o++] = hexdig[u[i] >> 4];
            out[o++] = hexdig[u[i] & 15];
        }
        out[o] = '\0';
        return;
    case PN_LONG:
    case PN_INT:
        /* Not allowed by the spec, seen from lax peers: keep the number. */
        *type = CUT_ID_ULONG;
        snprintf(out, out_len, "%" PRId64, id.type == PN_LONG ? id.u.as_long : id.u.as_int);
        return;
    default:
        *type = CUT_ID_NONE;
        if (out_len > 0) {
            out[0] = '\0';
        }
        return;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int cut_amqp10_id_parse(const char *text, enum cut_id_type type, pn_atom_t *id, char *scratch,
                        size_t scratch_len)
{
    size_t len = strlen(text);

    memset(id, 0, sizeof(*id));
    switch (type) {
    case CUT_ID_STRING:
        id->type = PN_STRING;
        id->u.as_bytes = pn_bytes(len, text);
        return CUT_OK;
    case CUT_ID_UUID: {
        size_t o = 0;
        if (len != 36) {
            return CUT_EINVAL;
        }
        for (size_t i = 0; i < len;) {
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (text[i] != '-') {
                    return CUT_EINVAL;
                }
                i++;
                continue;
            }
            int hi = hexval(text[i]), lo = hexval(text[i + 1]);
            if (hi < 0 || lo < 0 || o >= 16) {
                return CUT_EINVAL;
            }
            id->u.as_uuid.bytes[o++] = (char)(hi << 4 | lo);
            i += 2;
        }
        id->type = PN_UUID;
        return o == 16 ? CUT_OK : CUT_EINVAL;
    }
    case CUT_ID_ULONG: {
        char *end = NULL;
        if (len == 0 || len > 20 || strspn(text, "0123456789") != len) {
            return CUT_EINVAL;
        }
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (errno != 0 || *end != '\0') {
            return CUT_EINVAL;
        }
        id->type = PN_ULONG;
        id->u.as_ulong = (uint64_t)v;
        return CUT_OK;
    }
    case CUT_ID_BINARY:
        if (len % 2 != 0 || len / 2 > scratch_len) {
            return CUT_EINVAL;
        }
        for (size_t i = 0; i < len; i += 2) {
            int hi = hexval(text[i]), lo = hexval(text[i + 1]);
            if (hi < 0 || lo < 0) {
                return CUT_EINVAL;
            }
            scratch[i / 2] = (char)(hi << 4 | lo);
        }
        id->type = PN_BINARY;
        id->u.as_bytes = pn_bytes(len / 2, scratch);
        return CUT_OK;
    default:
        return CUT_EINVAL;
    }
}
