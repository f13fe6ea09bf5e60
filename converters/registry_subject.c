/*
 * Subject names (Confluent's subject name strategies) and the names of the
 * strategies in config. Pure string work, no registry: see registry.h.
 */
#include <stdio.h>
#include <string.h>

#include "registry.h"

static bool reg_given(const char *s)
{
    return s != NULL && s[0] != '\0';
}

const char *cut_registry_subject(enum cut_subject_strategy strategy, const char *topic,
                                 const char *record_fullname, bool is_key, char *buf, size_t len)
{
    int n;
    if (buf == NULL || len == 0) {
        return NULL;
    }
    switch (strategy) {
    case CUT_SUBJECT_TOPIC:
        if (!reg_given(topic)) {
            return NULL;
        }
        n = snprintf(buf, len, "%s-%s", topic, is_key ? "key" : "value");
        break;
    case CUT_SUBJECT_RECORD:
        if (!reg_given(record_fullname)) {
            return NULL;
        }
        n = snprintf(buf, len, "%s", record_fullname);
        break;
    case CUT_SUBJECT_TOPIC_RECORD:
        if (!reg_given(topic) || !reg_given(record_fullname)) {
            return NULL;
        }
        n = snprintf(buf, len, "%s-%s", topic, record_fullname);
        break;
    default:
        return NULL;
    }
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return NULL;
    }
    return buf;
}

static const char *const reg_strategy_names[] = {
    [CUT_SUBJECT_TOPIC] = "topic",
    [CUT_SUBJECT_RECORD] = "record",
    [CUT_SUBJECT_TOPIC_RECORD] = "topic_record",
};

int cut_subject_strategy_parse(const char *name, enum cut_subject_strategy *out)
{
    if (name == NULL || out == NULL) {
        return CUT_EINVAL;
    }
    for (size_t i = 0; i < sizeof(reg_strategy_names) / sizeof(reg_strategy_names[0]); i++) {
        if (strcmp(name, reg_strategy_names[i]) == 0) {
            *out = (enum cut_subject_strategy)i;
            return CUT_OK;
        }
    }
    return CUT_EINVAL;
}

const char *cut_subject_strategy_name(enum cut_subject_strategy strategy)
{
    if ((size_t)strategy < sizeof(reg_strategy_names) / sizeof(reg_strategy_names[0])) {
        return reg_strategy_names[strategy];
    }
    return "?";
}
