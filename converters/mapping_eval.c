/*
 * Writing one message's values: read each source (XPath on the document, a
 * JMS header, a property) and walk the schema's records and arrays in field
 * order, so the Avro bytes come out in order and nothing is looked up.
 * The conversions of each value to its type are in mapping_coerce.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/xpathInternals.h>

#include "mapping_int.h"

static int eval_record(struct map_eval *ev, const struct map_record *rec, xmlNodePtr node,
                       const struct path *up);

static void raw_fini(struct raw *r)
{
    if (r->owned != NULL) {
        xmlFree(r->owned);
    }
    if (r->obj != NULL) {
        xmlXPathFreeObject(r->obj);
    }
    memset(r, 0, sizeof(*r));
}

/* The XPath string value of @p node, borrowed when it is one text node. */
static int node_text(struct map_eval *ev, xmlNodePtr node, struct raw *r, const struct path *p)
{
    xmlNodePtr c;

    switch (node->type) {
    case XML_NAMESPACE_DECL:
        map_raw_set_text(r, (const char *)((xmlNsPtr)node)->href, true);
        return CUT_OK;
    case XML_TEXT_NODE:
    case XML_CDATA_SECTION_NODE:
    case XML_COMMENT_NODE:
    case XML_PI_NODE:
        map_raw_set_text(r, (const char *)node->content, true);
        return CUT_OK;
    case XML_ELEMENT_NODE:
    case XML_ATTRIBUTE_NODE:
        c = node->children;
        if (c == NULL) {
            map_raw_set_text(r, "", true);
            return CUT_OK;
        }
        if (c->next == NULL && (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)) {
            map_raw_set_text(r, (const char *)c->content, true);
            return CUT_OK;
        }
        break;
    default:
        break;
    }
    r->owned = xmlNodeGetContent(node);
    if (r->owned == NULL && node->type != XML_DOCUMENT_NODE) {
        map_raw_set_text(r, "", true);
        return CUT_OK;
    }
    if (r->owned == NULL) {
        return map_fail(ev, p, "out of memory reading the document");
    }
    map_raw_set_text(r, (const char *)r->owned, true);
    return CUT_OK;
}

const char *map_xpath_error(const xmlError *e)
{
    /* With an error handler installed, libxml2 2.9 leaves the message out of
     * the context's lastError: the code says it (its xmlXPathErrorMessages). */
    static const char *const messages[] = {"ok",
                                           "number encoding",
                                           "unfinished literal",
                                           "start of literal",
                                           "expected $ for variable reference",
                                           "undefined variable",
                                           "invalid predicate",
                                           "invalid expression",
                                           "missing closing curly brace",
                                           "unregistered function",
                                           "invalid operand",
                                           "invalid type",
                                           "invalid number of arguments",
                                           "invalid context size",
                                           "invalid context position",
                                           "memory allocation error",
                                           "syntax error",
                                           "resource error",
                                           "sub resource error",
                                           "undefined namespace prefix",
                                           "encoding error",
                                           "char out of XML range",
                                           "invalid or incomplete context",
                                           "stack usage error",
                                           "forbidden variable"};
    if (e->message != NULL) {
        return e->message;
    }
    int code = e->code - XML_XPATH_EXPRESSION_OK;
    if (code >= 0 && (size_t)code < sizeof(messages) / sizeof(messages[0])) {
        return messages[code];
    }
    return "error";
}

static xmlXPathObjectPtr run_xpath(struct map_eval *ev, const struct map_source *src,
                                   xmlNodePtr node, const struct path *p)
{
    ev->xp->node = node;
    xmlXPathObjectPtr obj = xmlXPathCompiledEval(src->xpath, ev->xp);
    if (obj == NULL) {
        const char *why = map_xpath_error(&ev->xp->lastError);
        map_fail(ev, p, "XPath \"%s\" failed: %.*s", src->text, (int)strcspn(why, "\n"), why);
    }
    return obj;
}

static int xpath_raw(struct map_eval *ev, const struct map_source *src, xmlNodePtr node,
                     struct raw *r, const struct path *p)
{
    xmlXPathObjectPtr obj = run_xpath(ev, src, node, p);
    if (obj == NULL) {
        return CUT_EINVAL;
    }
    r->obj = obj;
    switch (obj->type) {
    case XPATH_NODESET:
        if (obj->nodesetval == NULL || obj->nodesetval->nodeNr == 0) {
            r->kind = RAW_ABSENT;
            return CUT_OK;
        }
        return node_text(ev, obj->nodesetval->nodeTab[0], r, p);
    case XPATH_STRING:
        map_raw_set_text(r, (const char *)obj->stringval, true);
        return CUT_OK;
    case XPATH_NUMBER:
        if (isnan(obj->floatval)) {
            r->kind = RAW_ABSENT; /* number() of nothing */
        } else {
            r->kind = RAW_REAL;
            r->d = obj->floatval;
        }
        return CUT_OK;
    case XPATH_BOOLEAN:
        r->kind = RAW_BOOL;
        r->b = obj->boolval != 0;
        return CUT_OK;
    default:
        return map_fail(ev, p, "XPath \"%s\" gives a result that is not a value", src->text);
    }
}

static void header_raw(const struct cut_msg *msg, int header, struct raw *r)
{
    const char *s = NULL;
    int64_t i = -1;

    switch ((enum map_jms)header) {
    case MAP_JMS_MESSAGE_ID:
        s = msg->message_id;
        break;
    case MAP_JMS_CORRELATION_ID:
        s = msg->correlation_id;
        break;
    case MAP_JMS_TYPE:
        s = msg->type;
        break;
    case MAP_JMS_DESTINATION:
        s = msg->destination;
        break;
    case MAP_JMS_REPLY_TO:
        s = msg->reply_to;
        break;
    case MAP_JMS_GROUP_ID:
        s = msg->group_id;
        break;
    case MAP_JMS_USER_ID:
        s = msg->user_id;
        break;
    case MAP_JMS_DELIVERY_MODE:
        s = msg->durable ? "PERSISTENT" : "NON_PERSISTENT";
        break;
    case MAP_JMS_PRIORITY:
        i = msg->priority;
        break;
    case MAP_JMS_TIMESTAMP:
        i = msg->timestamp_ms > 0 ? msg->timestamp_ms : -1;
        break;
    case MAP_JMS_EXPIRATION:
        i = msg->expiry_ms > 0 ? msg->expiry_ms : -1;
        break;
    case MAP_JMS_GROUP_SEQ:
        i = msg->group_seq;
        break;
    case MAP_JMS_DELIVERY_COUNT:
        i = (int64_t)msg->delivery_count + 1;
        break;
    case MAP_JMS_REDELIVERED:
        r->kind = RAW_BOOL;
        r->b = msg->delivery_count > 0;
        return;
    case MAP_JMS_COUNT:
        break;
    }
    if (s != NULL) {
        map_raw_set_text(r, s, false);
    } else if (i >= 0) {
        r->kind = RAW_INT;
        r->i = i;
    } else {
        r->kind = RAW_ABSENT;
    }
}

static void uuid_text(const unsigned char *u, char *out, size_t size)
{
    snprintf(out, size, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
}

static void prop_raw(struct map_eval *ev, const char *name, struct raw *r)
{
    const struct cut_prop *prop = cut_msg_prop(ev->msg, name);
    if (prop == NULL) {
        r->kind = RAW_ABSENT;
        return;
    }
    switch (prop->type) {
    case CUT_PROP_NULL:
        r->kind = RAW_NULL;
        break;
    case CUT_PROP_BOOL:
        r->kind = RAW_BOOL;
        r->b = prop->v.b;
        break;
    case CUT_PROP_BYTE:
    case CUT_PROP_SHORT:
    case CUT_PROP_INT:
    case CUT_PROP_LONG:
    case CUT_PROP_TIMESTAMP:
        r->kind = RAW_INT;
        r->i = prop->v.i;
        break;
    case CUT_PROP_FLOAT:
    case CUT_PROP_DOUBLE:
        r->kind = RAW_REAL;
        r->d = prop->v.d;
        break;
    case CUT_PROP_UUID:
        if (prop->v.s.len == 16) {
            uuid_text((const unsigned char *)prop->v.s.ptr, ev->num, sizeof(ev->num));
            map_raw_set_text(r, ev->num, true);
            break;
        }
        /* fall through */
    default:
        r->kind = RAW_TEXT;
        r->s = prop->v.s.ptr != NULL ? prop->v.s.ptr : "";
        r->len = prop->v.s.len;
        r->utf8_known = false;
        break;
    }
}

static int get_raw(struct map_eval *ev, const struct map_value *val, xmlNodePtr node, struct raw *r,
                   const struct path *p)
{
    switch (val->src.kind) {
    case MAP_SRC_XPATH: {
        int rc = xpath_raw(ev, &val->src, node, r, p);
        if (rc != CUT_OK) {
            return rc;
        }
        break;
    }
    case MAP_SRC_HEADER:
        header_raw(ev->msg, val->src.header, r);
        break;
    case MAP_SRC_PROPERTY:
        prop_raw(ev, val->src.text, r);
        break;
    default:
        r->kind = RAW_ABSENT;
        break;
    }
    map_prepare(ev, val, r);
    return CUT_OK;
}

/* ---- conversions ------------------------------------------------------------------ */

static int write_field(struct map_eval *ev, const struct map_value *val, xmlNodePtr node,
                       const struct path *up);

static int write_item(struct map_eval *ev, const struct map_value *item, xmlNodePtr node,
                      const struct path *p)
{
    struct raw r = {0};
    if (item->sub != NULL) {
        if (item->value_branch >= 0) {
            cut_avro_put_long(ev->out, item->value_branch);
        }
        return eval_record(ev, item->sub, node, p);
    }
    int rc = node_text(ev, node, &r, p);
    if (rc == CUT_OK) {
        map_prepare(ev, item, &r);
        rc = map_write_value(ev, item, &r, p);
    }
    raw_fini(&r);
    return rc;
}

static int write_array(struct map_eval *ev, const struct map_value *val, xmlNodePtr node,
                       const struct path *p)
{
    xmlXPathObjectPtr obj = run_xpath(ev, &val->src, node, p);
    int rc = CUT_OK;

    if (obj == NULL) {
        return CUT_EINVAL;
    }
    if (obj->type != XPATH_NODESET) {
        rc = map_fail(ev, p, "XPath \"%s\" of an array must select nodes", val->src.text);
        goto out;
    }
    int n = obj->nodesetval != NULL ? obj->nodesetval->nodeNr : 0;
    if (n == 0 && val->null_branch >= 0) {
        cut_avro_put_long(ev->out, val->null_branch);
        goto out;
    }
    if (val->value_branch >= 0) {
        cut_avro_put_long(ev->out, val->value_branch);
    }
    if (n > 0) {
        cut_avro_put_long(ev->out, n);
        for (int i = 0; i < n && rc == CUT_OK; i++) {
            struct path ip = {.up = p, .name = NULL, .index = i};
            rc = write_item(ev, val->item, obj->nodesetval->nodeTab[i], &ip);
        }
    }
    cut_avro_put_long(ev->out, 0);
out:
    xmlXPathFreeObject(obj);
    return rc;
}

static int write_record_field(struct map_eval *ev, const struct map_value *val, xmlNodePtr node,
                              const struct path *p)
{
    xmlXPathObjectPtr obj = NULL;
    xmlNodePtr child = node;
    int rc;

    if (val->src.kind == MAP_SRC_XPATH) {
        obj = run_xpath(ev, &val->src, node, p);
        if (obj == NULL) {
            return CUT_EINVAL;
        }
        if (obj->type != XPATH_NODESET) {
            rc = map_fail(ev, p, "XPath \"%s\" of a record must select its node", val->src.text);
            goto out;
        }
        if (obj->nodesetval == NULL || obj->nodesetval->nodeNr == 0) {
            struct raw absent = {.kind = RAW_ABSENT};
            rc = map_write_value(ev, val, &absent, p); /* default, null, or missing */
            goto out;
        }
        child = obj->nodesetval->nodeTab[0];
    }
    if (val->value_branch >= 0) {
        cut_avro_put_long(ev->out, val->value_branch);
    }
    rc = eval_record(ev, val->sub, child, p);
out:
    if (obj != NULL) {
        xmlXPathFreeObject(obj);
    }
    return rc;
}

static int write_field(struct map_eval *ev, const struct map_value *val, xmlNodePtr node,
                       const struct path *up)
{
    struct path p = {.up = up, .name = val->name, .index = -1};
    struct raw r = {0};

    if (val->sub != NULL) {
        return write_record_field(ev, val, node, &p);
    }
    if (val->item != NULL) {
        return write_array(ev, val, node, &p);
    }
    int rc = get_raw(ev, val, node, &r, &p);
    if (rc == CUT_OK) {
        rc = map_write_value(ev, val, &r, &p);
    }
    raw_fini(&r);
    return rc;
}

static int eval_record(struct map_eval *ev, const struct map_record *rec, xmlNodePtr node,
                       const struct path *up)
{
    for (size_t i = 0; i < rec->n; i++) {
        int rc = write_field(ev, &rec->fields[i], node, up);
        if (rc != CUT_OK) {
            return rc;
        }
    }
    return ev->out->failed ? cut_err_set(ev->err, CUT_ENOMEM, "out of memory") : CUT_OK;
}

int map_eval_record(struct map_eval *ev, const struct map_record *rec, xmlNodePtr node)
{
    return eval_record(ev, rec, node, NULL);
}

int map_eval_context(struct map_eval *ev, xmlDocPtr doc, xmlNodePtr *node)
{
    const struct cut_mapping *map = ev->map;
    struct path p = {.up = NULL, .name = NULL, .index = -1};
    xmlNodePtr root = xmlDocGetRootElement(doc);

    *node = root;
    if (!map->has_context) {
        return CUT_OK;
    }
    xmlXPathObjectPtr obj = run_xpath(ev, &map->context.src, root, &p);
    if (obj == NULL) {
        return CUT_EINVAL;
    }
    int rc = CUT_OK;
    if (obj->type != XPATH_NODESET || obj->nodesetval == NULL || obj->nodesetval->nodeNr == 0) {
        rc = cut_err_set(ev->err, CUT_EINVAL, "root: no node at XPath \"%s\"",
                         map->context.src.text);
    } else {
        *node = obj->nodesetval->nodeTab[0];
    }
    xmlXPathFreeObject(obj);
    return rc;
}

int map_eval_key(struct map_eval *ev, const struct map_value *key, xmlNodePtr node,
                 struct cut_avro_buf *out)
{
    struct raw r = {0};
    struct path p = {.up = NULL, .name = "key", .index = -1};
    char desc[160];
    int rc = get_raw(ev, key, node, &r, &p);

    cut_avro_buf_reset(out);
    if (rc == CUT_OK && (r.kind == RAW_ABSENT || r.kind == RAW_NULL)) {
        rc = cut_err_set(ev->err, CUT_EINVAL, "key: no value (%s, and no default)",
                         map_source_desc(key, desc, sizeof(desc)));
    } else if (rc == CUT_OK) {
        map_raw_to_text(ev, &r);
        cut_avro_buf_put(out, r.s, r.len);
        if (out->failed) {
            rc = cut_err_set(ev->err, CUT_ENOMEM, "out of memory");
        }
    }
    raw_fini(&r);
    return rc;
}

/* XPath errors are read from the context's lastError, never printed. */
static void quiet(void *data, xmlErrorPtr error)
{
    (void)data;
    (void)error;
}

xmlXPathContextPtr map_xpath_context(const struct cut_mapping *map)
{
    xmlXPathContextPtr xp = xmlXPathNewContext(NULL);
    if (xp == NULL) {
        return NULL;
    }
    xp->error = quiet;
    for (size_t i = 0; i < map->namespaces.n; i++) {
        if (xmlXPathRegisterNs(xp, (const xmlChar *)map->namespaces.items[i].key,
                               (const xmlChar *)map->namespaces.items[i].value) != 0) {
            xmlXPathFreeContext(xp);
            return NULL;
        }
    }
    /* Reuse XPath result objects between evaluations instead of malloc/free. */
    xmlXPathContextSetCache(xp, 1, -1, 0);
    return xp;
}
