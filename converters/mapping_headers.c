/*
 * Kafka headers of a mapped record, and dead letters.
 *
 * The envelope headers are always built by converters/jms_headers.c (one
 * definition of their names and text, docs/connectors.md); a mapping then
 * keeps all of them or the ones it lists, renamed as it says. message_id,
 * the priority and the absolute expiry are always kept.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapping_int.h"

const struct map_jms_info map_jms_table[MAP_JMS_COUNT] = {
    [MAP_JMS_MESSAGE_ID] = {"JMSMessageID", CUT_HDR_MESSAGE_ID},
    [MAP_JMS_CORRELATION_ID] = {"JMSCorrelationID", "jms.correlation_id"},
    [MAP_JMS_TYPE] = {"JMSType", "jms.type"},
    [MAP_JMS_PRIORITY] = {"JMSPriority", "jms.priority"},
    [MAP_JMS_TIMESTAMP] = {"JMSTimestamp", "jms.timestamp"},
    [MAP_JMS_EXPIRATION] = {"JMSExpiration", "jms.expiration"},
    [MAP_JMS_DELIVERY_MODE] = {"JMSDeliveryMode", "jms.delivery_mode"},
    [MAP_JMS_DESTINATION] = {"JMSDestination", "jms.destination"},
    [MAP_JMS_REPLY_TO] = {"JMSReplyTo", "jms.reply_to"},
    [MAP_JMS_REDELIVERED] = {"JMSRedelivered", "jms.delivery_count"},
    [MAP_JMS_DELIVERY_COUNT] = {"JMSXDeliveryCount", "jms.delivery_count"},
    [MAP_JMS_GROUP_ID] = {"JMSXGroupID", "jms.group_id"},
    [MAP_JMS_GROUP_SEQ] = {"JMSXGroupSeq", "jms.group_seq"},
    [MAP_JMS_USER_ID] = {"JMSXUserID", "jms.user_id"},
};

int map_jms_find(const char *name)
{
    for (int i = 0; i < MAP_JMS_COUNT; i++) {
        if (strcmp(map_jms_table[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

void map_jms_list(char *out, size_t size)
{
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < MAP_JMS_COUNT && at < size; i++) {
        at += (size_t)snprintf(out + at, size - at, "%s%s", i ? ", " : "", map_jms_table[i].name);
    }
}

/* ---- mapped records ---------------------------------------------------------------- */

void map_headers_init(struct map_headers *hb)
{
    memset(hb, 0, sizeof(*hb));
    cut_jms_headers_init(&hb->jms);
}

void map_headers_fini(struct map_headers *hb)
{
    cut_jms_headers_fini(&hb->jms);
    free(hb->names);
    free(hb->values);
    free(hb->lens);
    memset(hb, 0, sizeof(*hb));
}

static int grow(const char ***names, const void ***values, size_t **lens, size_t *cap, size_t need)
{
    if (need <= *cap) {
        return CUT_OK;
    }
    size_t n = need * 2;
    const char **a = realloc(*names, n * sizeof(*a));
    if (a != NULL) {
        *names = a;
    }
    const void **b = realloc(*values, n * sizeof(*b));
    if (b != NULL) {
        *values = b;
    }
    size_t *c = realloc(*lens, n * sizeof(*c));
    if (c != NULL) {
        *lens = c;
    }
    if (a == NULL || b == NULL || c == NULL) {
        return CUT_ENOMEM;
    }
    *cap = n;
    return CUT_OK;
}

static const char *renamed(const struct cut_mapping *map, const char *name)
{
    for (size_t i = 0; i < map->n_rename; i++) {
        if (strcmp(map->rename[i].from, name) == 0) {
            return map->rename[i].to;
        }
    }
    return name;
}

int map_headers_build(struct map_headers *hb, const struct cut_mapping *map,
                      const struct cut_msg *msg, struct cut_record *rec)
{
    struct cut_record all = {0};
    size_t n = 0;

    if (cut_jms_headers_build(&hb->jms, msg, &all) != CUT_OK ||
        grow(&hb->names, &hb->values, &hb->lens, &hb->cap, all.n_hdrs + 1) != CUT_OK) {
        return CUT_ENOMEM;
    }
    if (map->headers_all) {
        for (size_t i = 0; i < all.n_hdrs; i++) {
            hb->names[n] = renamed(map, all.hdr_names[i]);
            hb->values[n] = all.hdr_values[i];
            hb->lens[n++] = all.hdr_lens[i];
        }
    } else {
        /* Few includes and about twenty headers: a scan costs less than a table. */
        for (size_t k = 0; k < map->n_include; k++) {
            for (size_t i = 0; i < all.n_hdrs; i++) {
                if (strcmp(all.hdr_names[i], map->include[k]) == 0) {
                    hb->names[n] = renamed(map, all.hdr_names[i]);
                    hb->values[n] = all.hdr_values[i];
                    hb->lens[n++] = all.hdr_lens[i];
                    break;
                }
            }
        }
    }
    rec->hdr_names = hb->names;
    rec->hdr_values = hb->values;
    rec->hdr_lens = hb->lens;
    rec->n_hdrs = n;
    return CUT_OK;
}

/* ---- dead letters ------------------------------------------------------------------ */

void cut_dead_letter_init(struct cut_dead_letter *dl)
{
    memset(dl, 0, sizeof(*dl));
    cut_jms_headers_init(&dl->jms);
}

void cut_dead_letter_fini(struct cut_dead_letter *dl)
{
    if (dl == NULL) {
        return;
    }
    cut_jms_headers_fini(&dl->jms);
    free(dl->names);
    free(dl->values);
    free(dl->lens);
    free(dl->props);
    memset(dl, 0, sizeof(*dl));
}

static void dl_add(struct cut_dead_letter *dl, const char *name, const char *value)
{
    if (value != NULL) {
        dl->names[dl->n] = name;
        dl->values[dl->n] = value;
        dl->lens[dl->n++] = strlen(value);
    }
}

int cut_mapping_dead_letter_headers(struct cut_dead_letter *dl, const struct cut_mapping *map,
                                    const char *flow, const char *source, const struct cut_msg *msg,
                                    const char *reason, int64_t now_ms, struct cut_record *rec)
{
    struct cut_record all = {0};

    memset(rec, 0, sizeof(*rec));
    if (cut_jms_headers_build(&dl->jms, msg, &all) != CUT_OK ||
        grow(&dl->names, &dl->values, &dl->lens, &dl->cap, all.n_hdrs + 4) != CUT_OK) {
        return CUT_ENOMEM;
    }
    dl->n = 0;
    for (size_t i = 0; i < all.n_hdrs; i++) {
        dl->names[dl->n] = all.hdr_names[i];
        dl->values[dl->n] = all.hdr_values[i];
        dl->lens[dl->n++] = all.hdr_lens[i];
    }
    snprintf(dl->time, sizeof(dl->time), "%" PRId64, now_ms);
    dl_add(dl, CUT_HDR_DL_REASON, reason != NULL ? reason : "unknown");
    dl_add(dl, CUT_HDR_DL_FLOW, flow);
    dl_add(dl, CUT_HDR_DL_TIME, dl->time);
    dl_add(dl, CUT_HDR_DL_SOURCE, source != NULL ? source : msg->destination);
    rec->dest = map != NULL ? map->dl.topic : NULL;
    rec->value = msg->body;
    rec->value_len = msg->body_len;
    rec->hdr_names = dl->names;
    rec->hdr_values = dl->values;
    rec->hdr_lens = dl->lens;
    rec->n_hdrs = dl->n;
    return CUT_OK;
}

static void prop_add(struct cut_dead_letter *dl, const char *name, const char *value)
{
    if (value != NULL) {
        struct cut_prop *prop = &dl->props[dl->n_props++];
        prop->name = name;
        prop->type = CUT_PROP_STRING;
        prop->v.s.ptr = value;
        prop->v.s.len = strlen(value);
    }
}

int cut_mapping_dead_letter_props(struct cut_dead_letter *dl, const char *flow, const char *source,
                                  const struct cut_msg *msg, const char *reason, int64_t now_ms,
                                  struct cut_msg *out)
{
    size_t need = msg->n_props + 4;
    if (need > dl->props_cap) {
        struct cut_prop *props = realloc(dl->props, need * 2 * sizeof(*props));
        if (props == NULL) {
            return CUT_ENOMEM;
        }
        dl->props = props;
        dl->props_cap = need * 2;
    }
    dl->n_props = 0;
    for (size_t i = 0; i < msg->n_props; i++) {
        dl->props[dl->n_props++] = msg->props[i];
    }
    snprintf(dl->time, sizeof(dl->time), "%" PRId64, now_ms);
    prop_add(dl, CUT_PROP_DL_REASON, reason != NULL ? reason : "unknown");
    prop_add(dl, CUT_PROP_DL_FLOW, flow);
    prop_add(dl, CUT_PROP_DL_TIME, dl->time);
    prop_add(dl, CUT_PROP_DL_SOURCE, source != NULL ? source : msg->destination);
    *out = *msg;
    out->props = dl->props;
    out->n_props = dl->n_props;
    return CUT_OK;
}
