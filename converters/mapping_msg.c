#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "avro_logical.h"
#include "mapping_msg.h"

void cut_mapping_msg_init(struct cut_mapping_msg *m)
{
    memset(m, 0, sizeof(*m));
    cut_msg_init(&m->msg);
    m->msg.message_id = "ID:cutover-convert-1";
    m->msg.body_kind = CUT_BODY_TEXT;
    m->msg.durable = true;
    m->msg.body = "";
}

void cut_mapping_msg_fini(struct cut_mapping_msg *m)
{
    for (size_t i = 0; i < m->n_strings; i++) {
        free(m->strings[i]);
    }
    free(m->strings);
    free(m->props);
    memset(m, 0, sizeof(*m));
}

/* A copy that lives as long as @p m. */
static char *keep(struct cut_mapping_msg *m, const void *data, size_t len)
{
    if (m->n_strings == m->cap_strings) {
        size_t cap = m->cap_strings ? m->cap_strings * 2 : 16;
        char **s = realloc(m->strings, cap * sizeof(*s));
        if (s == NULL) {
            return NULL;
        }
        m->strings = s;
        m->cap_strings = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return NULL;
    }
    memcpy(copy, data, len);
    copy[len] = '\0';
    m->strings[m->n_strings++] = copy;
    return copy;
}

static int parse_int(const char *text, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_time(const char *text, int64_t *ms)
{
    int64_t micros;
    if (parse_int(text, ms) == 0) {
        return 0;
    }
    if (cut_timestamp_parse(text, strlen(text), &micros) == 0) {
        *ms = micros / 1000;
        return 0;
    }
    return -1;
}

static int set_header(struct cut_mapping_msg *m, const char *name, const char *copy,
                      struct cut_err *err)
{
    struct cut_msg *msg = &m->msg;
    int64_t v = 0;

    if (strcmp(name, "JMSMessageID") == 0) {
        msg->message_id = copy;
    } else if (strcmp(name, "JMSCorrelationID") == 0) {
        msg->correlation_id = copy;
        msg->correlation_id_type = CUT_ID_STRING;
    } else if (strcmp(name, "JMSType") == 0) {
        msg->type = copy;
    } else if (strcmp(name, "JMSDestination") == 0) {
        msg->destination = copy;
        msg->destination_type = CUT_DEST_QUEUE;
    } else if (strcmp(name, "JMSReplyTo") == 0) {
        msg->reply_to = copy;
        msg->reply_to_type = CUT_DEST_QUEUE;
    } else if (strcmp(name, "JMSXGroupID") == 0) {
        msg->group_id = copy;
    } else if (strcmp(name, "JMSXUserID") == 0) {
        msg->user_id = copy;
    } else if (strcmp(name, "JMSPriority") == 0) {
        if (parse_int(copy, &v) < 0 || v < 0 || v > 9) {
            return cut_err_set(err, CUT_EINVAL, "JMSPriority: expected 0-9, got \"%s\"", copy);
        }
        msg->priority = (int)v;
    } else if (strcmp(name, "JMSTimestamp") == 0 || strcmp(name, "JMSExpiration") == 0) {
        if (parse_time(copy, &v) < 0) {
            return cut_err_set(err, CUT_EINVAL,
                               "%s: expected ms since the epoch or ISO 8601, got \"%s\"", name,
                               copy);
        }
        *(name[3] == 'T' ? &msg->timestamp_ms : &msg->expiry_ms) = v;
    } else if (strcmp(name, "JMSDeliveryMode") == 0) {
        if (strcasecmp(copy, "PERSISTENT") != 0 && strcasecmp(copy, "NON_PERSISTENT") != 0) {
            return cut_err_set(err, CUT_EINVAL,
                               "JMSDeliveryMode: expected PERSISTENT or NON_PERSISTENT");
        }
        msg->durable = strcasecmp(copy, "PERSISTENT") == 0;
    } else if (strcmp(name, "JMSXDeliveryCount") == 0) {
        if (parse_int(copy, &v) < 0 || v < 1 || v > UINT32_MAX) {
            return cut_err_set(err, CUT_EINVAL, "JMSXDeliveryCount: expected 1 or more");
        }
        msg->delivery_count = (uint32_t)(v - 1);
    } else if (strcmp(name, "JMSXGroupSeq") == 0) {
        if (parse_int(copy, &v) < 0 || v < 0) {
            return cut_err_set(err, CUT_EINVAL, "JMSXGroupSeq: expected an integer");
        }
        msg->group_seq = v;
    } else {
        return 1; /* not a header */
    }
    return CUT_OK;
}

static const struct {
    const char *name;
    enum cut_prop_type type;
} prop_types[] = {
    {"string", CUT_PROP_STRING}, {"boolean", CUT_PROP_BOOL},  {"byte", CUT_PROP_BYTE},
    {"short", CUT_PROP_SHORT},   {"int", CUT_PROP_INT},       {"long", CUT_PROP_LONG},
    {"float", CUT_PROP_FLOAT},   {"double", CUT_PROP_DOUBLE}, {"null", CUT_PROP_NULL},
};

static int set_prop(struct cut_mapping_msg *m, const char *spec, const char *copy,
                    struct cut_err *err)
{
    const char *colon = strchr(spec, ':');
    size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);
    enum cut_prop_type type = CUT_PROP_STRING;
    struct cut_prop prop = {0};
    bool found = colon == NULL;

    for (size_t i = 0; colon != NULL && i < sizeof(prop_types) / sizeof(prop_types[0]); i++) {
        if (strcmp(colon + 1, prop_types[i].name) == 0) {
            type = prop_types[i].type;
            found = true;
        }
    }
    if (!found || name_len == 0) {
        return cut_err_set(err, CUT_EINVAL,
                           "property \"%s\": expected NAME or NAME:TYPE with TYPE one of string, "
                           "boolean, byte, short, int, long, float, double, null",
                           spec);
    }
    prop.name = keep(m, spec, name_len);
    prop.type = type;
    if (prop.name == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    switch (type) {
    case CUT_PROP_STRING:
        prop.v.s.ptr = copy;
        prop.v.s.len = strlen(copy);
        break;
    case CUT_PROP_BOOL:
        if (strcmp(copy, "true") != 0 && strcmp(copy, "false") != 0) {
            return cut_err_set(err, CUT_EINVAL, "property %s: expected true or false", prop.name);
        }
        prop.v.b = copy[0] == 't';
        break;
    case CUT_PROP_FLOAT:
    case CUT_PROP_DOUBLE: {
        char *end = NULL;
        prop.v.d = strtod(copy, &end);
        if (end == copy || *end != '\0') {
            return cut_err_set(err, CUT_EINVAL, "property %s: expected a number", prop.name);
        }
        break;
    }
    case CUT_PROP_NULL:
        break;
    default: {
        static const int64_t lo[] = {[CUT_PROP_BYTE] = INT8_MIN,
                                     [CUT_PROP_SHORT] = INT16_MIN,
                                     [CUT_PROP_INT] = INT32_MIN,
                                     [CUT_PROP_LONG] = INT64_MIN};
        static const int64_t hi[] = {[CUT_PROP_BYTE] = INT8_MAX,
                                     [CUT_PROP_SHORT] = INT16_MAX,
                                     [CUT_PROP_INT] = INT32_MAX,
                                     [CUT_PROP_LONG] = INT64_MAX};
        if (parse_int(copy, &prop.v.i) < 0 || prop.v.i < lo[type] || prop.v.i > hi[type]) {
            return cut_err_set(err, CUT_EINVAL, "property %s: expected a %s", prop.name,
                               cut_prop_type_name(type));
        }
        break;
    }
    }
    if (m->n_props == m->cap_props) {
        size_t cap = m->cap_props ? m->cap_props * 2 : 8;
        struct cut_prop *props = realloc(m->props, cap * sizeof(*props));
        if (props == NULL) {
            return cut_err_set(err, CUT_ENOMEM, "out of memory");
        }
        m->props = props;
        m->cap_props = cap;
    }
    m->props[m->n_props++] = prop;
    m->msg.props = m->props;
    m->msg.n_props = m->n_props;
    return CUT_OK;
}

int cut_mapping_msg_set(struct cut_mapping_msg *m, const char *name, const char *value,
                        struct cut_err *err)
{
    char *copy = keep(m, value, strlen(value));
    if (copy == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    int rc = set_header(m, name, copy, err);
    return rc <= 0 ? rc : set_prop(m, name, copy, err);
}

int cut_mapping_msg_set_arg(struct cut_mapping_msg *m, const char *arg, struct cut_err *err)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg) {
        return cut_err_set(err, CUT_EINVAL, "\"%s\": expected NAME=VALUE", arg);
    }
    char *name = keep(m, arg, (size_t)(eq - arg));
    if (name == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    return cut_mapping_msg_set(m, name, eq + 1, err);
}

int cut_mapping_msg_set_body(struct cut_mapping_msg *m, const void *body, size_t len,
                             struct cut_err *err)
{
    char *copy = keep(m, body, len);
    if (copy == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    m->msg.body = copy;
    m->msg.body_len = len;
    return CUT_OK;
}
