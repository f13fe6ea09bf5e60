/*
 * The mapping converter: one per flow thread. Everything a message needs is
 * made at create() and reused: the XML parser context, the XPath context,
 * the value, key and scratch buffers, the header arrays. With a registry,
 * create() registers the schema once per destination topic; convert() then
 * never blocks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "avro_json.h"
#include "mapping_int.h"
#include "wire.h"

/* Destinations: [0] the main topic, then one per priority lane. */
#define MAX_DESTS 11

struct cut_converter {
    const struct cut_mapping *map;
    const char *flow;
    const char *topics[MAX_DESTS];
    int32_t ids[MAX_DESTS];
    size_t n_dests;
    int64_t (*now_ms)(void);

    struct cut_xml_parser *parser;
    xmlXPathContextPtr xp;
    struct cut_avro_reader *reader; /* json format: Avro bytes -> JSON */
    struct cut_avro_buf value, key, scratch;
    struct map_headers hdrs;
    struct cut_dead_letter dl;
};

static int64_t clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conv_destroy(struct cut_converter *conv)
{
    if (conv == NULL) {
        return;
    }
    cut_xml_parser_destroy(conv->parser);
    if (conv->xp != NULL) {
        xmlXPathFreeContext(conv->xp);
    }
    cut_avro_reader_destroy(conv->reader);
    cut_avro_buf_fini(&conv->value);
    cut_avro_buf_fini(&conv->key);
    cut_avro_buf_fini(&conv->scratch);
    map_headers_fini(&conv->hdrs);
    cut_dead_letter_fini(&conv->dl);
    free(conv);
}

static int register_schemas(struct cut_converter *conv, struct cut_registry *registry,
                            struct cut_err *err)
{
    const struct cut_mapping *map = conv->map;
    char subject[512];

    for (size_t i = 0; i < conv->n_dests; i++) {
        if (cut_mapping_subject(map, conv->topics[i], subject, sizeof(subject)) == NULL) {
            return cut_err_set(err, CUT_EINVAL,
                               "%s: cannot name the schema subject (subject_strategy %s needs "
                               "a topic: set topic: in the mapping or kafka.topic in the flow)",
                               map->path,
                               cut_subject_strategy_name((enum cut_subject_strategy)map->strategy));
        }
        int rc = cut_registry_register(registry, subject, map->avsc->text, &conv->ids[i], err);
        if (rc != CUT_OK) {
            return rc;
        }
    }
    return CUT_OK;
}

static int conv_create(struct cut_converter **out, const void *settings, struct cut_err *err)
{
    const struct cut_mapping_settings *set = settings;
    struct cut_converter *conv = NULL;
    int rc;

    *out = NULL;
    if (set == NULL || set->map == NULL) {
        return cut_err_set(err, CUT_EINVAL, "the mapping converter needs a loaded mapping");
    }
    conv = calloc(1, sizeof(*conv));
    if (conv == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    conv->map = set->map;
    conv->flow = set->flow;
    conv->now_ms = set->now_ms != NULL ? set->now_ms : clock_ms;
    cut_dead_letter_init(&conv->dl);
    cut_avro_buf_init(&conv->value);
    cut_avro_buf_init(&conv->key);
    cut_avro_buf_init(&conv->scratch);
    map_headers_init(&conv->hdrs);
    conv->n_dests = cut_mapping_topics(set->map, set->topic, conv->topics, MAX_DESTS);
    for (size_t i = 0; i < conv->n_dests; i++) {
        conv->ids[i] = set->schema_id;
    }

    struct cut_xml_limits limits = {.max_bytes = (size_t)set->map->max_bytes,
                                    .max_depth = (int)set->map->max_depth,
                                    .max_attributes = (int)set->map->max_attributes};
    rc = cut_xml_parser_create(&conv->parser, &limits, err);
    if (rc != CUT_OK) {
        goto out;
    }
    conv->xp = map_xpath_context(set->map);
    if (conv->xp == NULL) {
        rc = cut_err_set(err, CUT_ENOMEM, "out of memory creating the XPath context");
        goto out;
    }
    if (set->map->format == CUT_MAPPING_JSON) {
        rc = cut_avro_reader_create(&conv->reader, set->map->avsc, err);
        if (rc != CUT_OK) {
            goto out;
        }
    }
    if (set->map->format == CUT_MAPPING_AVRO && set->registry != NULL) {
        rc = register_schemas(conv, set->registry, err);
    }
out:
    if (rc != CUT_OK) {
        conv_destroy(conv);
        return rc;
    }
    *out = conv;
    return CUT_OK;
}

/* The destination index of a message's priority: a lane, or 0 (the main topic). */
static size_t pick_dest(const struct cut_mapping *map, const struct cut_msg *msg)
{
    int64_t prio = msg->priority >= 0 ? msg->priority : map->priority_default;
    for (size_t i = 0; i < map->n_lanes; i++) {
        if (prio >= map->lanes[i].lo && prio <= map->lanes[i].hi) {
            return i + 1;
        }
    }
    return 0;
}

static int write_json(struct cut_converter *conv, struct map_eval *ev, xmlNodePtr root)
{
    json_t *json = NULL;
    cut_avro_buf_reset(&conv->scratch);
    ev->out = &conv->scratch;
    int rc = map_eval_record(ev, &conv->map->root, root);
    if (rc != CUT_OK) {
        return rc;
    }
    rc = cut_avro_reader_read(conv->reader, conv->scratch.data, conv->scratch.len, &json, ev->err);
    if (rc == CUT_EINVAL) {
        /* Our own bytes should always read back: say so rather than lose the message. */
        char why[CUT_ERR_MSG_MAX];
        snprintf(why, sizeof(why), "%s", ev->err->msg);
        return cut_err_set(ev->err, CUT_EINVAL, "cannot write JSON: %s", why);
    }
    if (rc != CUT_OK) {
        return rc;
    }
    cut_avro_buf_reset(&conv->value);
    size_t need = json_dumpb(json, NULL, 0, JSON_COMPACT);
    if (need == 0 || cut_avro_buf_reserve(&conv->value, need) < 0) {
        json_decref(json);
        return cut_err_set(ev->err, CUT_ENOMEM, "out of memory writing JSON");
    }
    conv->value.len = json_dumpb(json, (char *)conv->value.data, need, JSON_COMPACT);
    json_decref(json);
    return CUT_OK;
}

static int conv_convert(struct cut_converter *conv, const struct cut_msg *msg,
                        struct cut_record *rec, enum cut_verdict *verdict, struct cut_err *err)
{
    const struct cut_mapping *map = conv->map;
    struct cut_err local;
    xmlDocPtr doc = NULL;
    xmlNodePtr root = NULL;
    int rc = CUT_OK;

    if (err == NULL) {
        err = &local;
    }
    cut_err_clear(err);
    memset(rec, 0, sizeof(*rec));
    *verdict = CUT_VERDICT_SEND;

    /* 1. Expired messages are never forwarded. */
    if (msg->expiry_ms > 0) {
        int64_t now = conv->now_ms();
        if (msg->expiry_ms <= now) {
            char when[CUT_LOGICAL_TEXT_MAX];
            cut_timestamp_format(msg->expiry_ms, 0, when, sizeof(when));
            *verdict = map->expiry_action == 1 ? CUT_VERDICT_DEAD_LETTER : CUT_VERDICT_EXPIRED;
            cut_err_set(err, map->expiry_action == 1 ? CUT_EINVAL : CUT_OK,
                        "expired at %s (JMSExpiration %lld), %lld ms before conversion", when,
                        (long long)msg->expiry_ms, (long long)(now - msg->expiry_ms));
            return CUT_OK;
        }
    }
    /* 2. The filter. */
    if (map->selector != NULL && !cut_selector_match(map->selector, msg)) {
        *verdict = CUT_VERDICT_FILTERED;
        cut_err_set(err, CUT_OK, "not selected by the filter");
        return CUT_OK;
    }
    /* 3. The document, when a value or the key reads it. */
    if (map->needs_xml) {
        if (msg->body_kind != CUT_BODY_TEXT && msg->body_kind != CUT_BODY_BYTES) {
            rc = cut_err_set(err, CUT_EINVAL, "the body is a %s message; the mapping reads XML",
                             cut_body_kind_name(msg->body_kind));
            goto out;
        }
        rc = cut_xml_parse(conv->parser, msg->body, msg->body_len, &doc, err);
        if (rc != CUT_OK) {
            goto out;
        }
    }
    conv->xp->doc = doc;
    struct map_eval ev = {.map = map, .xp = conv->xp, .msg = msg, .err = err};
    if (doc != NULL) {
        rc = map_eval_context(&ev, doc, &root);
        if (rc != CUT_OK) {
            goto out;
        }
    }

    /* 4. The value. */
    size_t dest = pick_dest(map, msg);
    switch (map->format) {
    case CUT_MAPPING_AVRO: {
        static const uint8_t header[CUT_WIRE_HEADER_SIZE] = {0};
        cut_avro_buf_reset(&conv->value);
        cut_avro_buf_put(&conv->value, header, sizeof(header));
        ev.out = &conv->value;
        rc = map_eval_record(&ev, &map->root, root);
        if (rc != CUT_OK) {
            goto out;
        }
        cut_wire_header_put(conv->value.data, conv->ids[dest < conv->n_dests ? dest : 0]);
        rec->value = conv->value.data;
        rec->value_len = conv->value.len;
        break;
    }
    case CUT_MAPPING_JSON:
        rc = write_json(conv, &ev, root);
        if (rc != CUT_OK) {
            goto out;
        }
        rec->value = conv->value.data;
        rec->value_len = conv->value.len;
        break;
    default:
        rec->value = msg->body;
        rec->value_len = msg->body_len;
        break;
    }
    /* 5. Key, topic, headers. */
    if (map->has_key) {
        rc = map_eval_key(&ev, &map->key, root, &conv->key);
        if (rc != CUT_OK) {
            goto out;
        }
        rec->key = conv->key.data != NULL ? (const void *)conv->key.data : "";
        rec->key_len = conv->key.len;
    }
    rec->dest = dest < conv->n_dests ? conv->topics[dest] : conv->topics[0];
    if (map_headers_build(&conv->hdrs, map, msg, rec) != CUT_OK) {
        rc = cut_err_set(err, CUT_ENOMEM, "out of memory building headers");
    }
out:
    conv->xp->doc = NULL;
    conv->xp->node = NULL;
    xmlFreeDoc(doc);
    if (rc == CUT_EINVAL) {
        *verdict = CUT_VERDICT_DEAD_LETTER;
        memset(rec, 0, sizeof(*rec));
        return CUT_OK;
    }
    if (rc != CUT_OK) {
        memset(rec, 0, sizeof(*rec));
    }
    return rc;
}

/* The mapping's dead_letter: section says where; the record and the legacy
 * copy carry the reason, the flow, the time and the source. */
static unsigned conv_dead_letter(struct cut_converter *conv, const struct cut_msg *msg,
                                 const char *source, const char *reason, struct cut_record *rec,
                                 struct cut_msg *legacy, const char **legacy_queue)
{
    const struct cut_mapping_dead_letter *where = cut_mapping_dead_letter(conv->map);
    unsigned dests = 0;
    int64_t now = conv->now_ms();
    if (where == NULL) {
        return 0;
    }
    /* Both are built into conv->dl: the legacy copy first, since building the
     * record reuses what the copy does not need. */
    if (where->queue != NULL && cut_mapping_dead_letter_props(&conv->dl, conv->flow, source, msg,
                                                              reason, now, legacy) == CUT_OK) {
        *legacy_queue = where->queue;
        dests |= CUT_DL_LEGACY;
    }
    if (where->topic != NULL &&
        cut_mapping_dead_letter_headers(&conv->dl, conv->map, conv->flow, source, msg, reason, now,
                                        rec) == CUT_OK) {
        dests |= CUT_DL_KAFKA;
    }
    return dests;
}

const struct cut_converter_ops cut_mapping_converter = {
    .name = "mapping",
    .create = conv_create,
    .convert = conv_convert,
    .dead_letter = conv_dead_letter,
    .destroy = conv_destroy,
};

int cut_mapping_value_json(const struct cut_mapping *map, const void *value, size_t len,
                           json_t **out, int32_t *schema_id, struct cut_err *err)
{
    json_error_t jerr;
    const uint8_t *payload = NULL;

    *out = NULL;
    *schema_id = -1;
    switch (map->format) {
    case CUT_MAPPING_AVRO:
        if (cut_wire_header_get(value, len, schema_id, &payload, err) != CUT_OK) {
            return CUT_EINVAL;
        }
        return cut_avro_to_json(map->avsc, payload, len - CUT_WIRE_HEADER_SIZE, out, err);
    case CUT_MAPPING_JSON:
        *out = json_loadb(value, len, 0, &jerr);
        return *out != NULL ? CUT_OK : cut_err_set(err, CUT_EINVAL, "not JSON: %s", jerr.text);
    default:
        return cut_err_set(err, CUT_EINVAL, "a passthrough value is the body itself");
    }
}
