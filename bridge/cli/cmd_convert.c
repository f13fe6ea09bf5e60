/*
 * `cutover convert`: run one message through a flow's expiry check, filter
 * and mapping, exactly as the bridge would, and print what would be sent:
 * topic, key, headers and the value decoded back to JSON; or why the message
 * would be filtered, dropped or dead-lettered. Nothing is connected to and
 * nothing is registered, so it is safe against production configs.
 *
 * The flow's mapping file is flows.NAME.mapping in the config (relative to
 * the config file); --mapping FILE runs a mapping file without a config.
 * The config is read as a YAML tree, not through the settings loader, so
 * that this command keeps working while flows grow new sections.
 *
 * The schema id in the wire header is 0: the bridge writes the id that the
 * Schema Registry returns when it registers the schema at start-up. When the
 * config has schema_registry.url, the schema is checked for compatibility
 * with each subject's latest version (a read-only request).
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "cutover/config.h"
#include "mapping.h"
#include "mapping_msg.h"
#include "registry.h"

/* A message body larger than this is not a message (the mapping's own limit is lower). */
#define BODY_MAX (64 * 1024 * 1024)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cutover convert -c FILE --flow NAME [--header K=V]... [MESSAGE_FILE]\n"
            "       cutover convert --mapping MAPPING [--topic T] [--header K=V]... "
            "[MESSAGE_FILE]\n"
            "Run one message (MESSAGE_FILE, or standard input) through the flow's expiry check,\n"
            "filter and mapping, and print what would be sent to Kafka: topic, key, headers and\n"
            "the value decoded back to JSON; or why it would be filtered, dropped or\n"
            "dead-lettered. Nothing is sent and nothing is registered.\n\n"
            "  --header K=V   a JMS header (JMSPriority=7, JMSCorrelationID=abc,\n"
            "                 JMSExpiration=2024-03-01T10:00:00Z, ...) or a property\n"
            "                 (region=EU, qty:int=5); repeat for several\n\n"
            "Exit status: 0 sent, filtered or dropped as expired; 1 dead-lettered or an error;\n"
            "2 usage error.\n");
}

static int read_body(const char *path, char **body, size_t *len)
{
    FILE *fp = (path == NULL || strcmp(path, "-") == 0) ? stdin : fopen(path, "rb");
    size_t cap = 64 * 1024, n = 0;
    char *buf = NULL;

    if (fp == NULL) {
        fprintf(stderr, "cutover: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (n == cap || buf == NULL) {
            char *grown = (n < BODY_MAX) ? realloc(buf, cap *= (buf ? 2 : 1)) : NULL;
            if (grown == NULL) {
                fprintf(stderr, "cutover: %s: larger than %d bytes\n", path ? path : "stdin",
                        BODY_MAX);
                free(buf);
                if (fp != stdin) {
                    fclose(fp);
                }
                return -1;
            }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) {
            break;
        }
    }
    int bad = ferror(fp);
    if (fp != stdin) {
        fclose(fp);
    }
    if (bad) {
        fprintf(stderr, "cutover: %s: read error\n", path ? path : "stdin");
        free(buf);
        return -1;
    }
    *body = buf;
    *len = n;
    return 0;
}

/* What convert needs from the config: the flow's mapping, topic and the registry URL. */
struct flow_ref {
    char *mapping;
    char *topic;
    char *registry_url;
};

static const char *scalar(const struct cut_node *node)
{
    return node != NULL && node->kind == CUT_NODE_SCALAR && !cut_node_is_null(node) ? node->scalar
                                                                                    : NULL;
}

static int find_flow(const char *config, const char *flow, struct flow_ref *ref)
{
    struct cut_cfg_errors errs = {0};
    struct cut_node *root = cut_yaml_load(config, &errs);
    int rc = -1;

    for (size_t i = 0; i < errs.n; i++) {
        fprintf(stderr, "%s\n", errs.lines[i]);
    }
    cut_cfg_errors_fini(&errs);
    if (root == NULL) {
        return -1;
    }
    const struct cut_node *node = cut_node_get(cut_node_get(root, "flows"), flow);
    if (node == NULL) {
        fprintf(stderr, "cutover: %s: no flow \"%s\" under flows:\n", config, flow);
        goto out;
    }
    const char *mapping = scalar(cut_node_get(node, "mapping"));
    if (mapping == NULL) {
        fprintf(stderr,
                "cutover: %s: flow \"%s\" has no mapping: (a passthrough flow sends the body "
                "unchanged; see docs/mappings.md)\n",
                config, flow);
        goto out;
    }
    if (mapping[0] == '/') {
        ref->mapping = strdup(mapping);
    } else {
        char *copy = strdup(config);
        if (copy == NULL || asprintf(&ref->mapping, "%s/%s", dirname(copy), mapping) < 0) {
            ref->mapping = NULL;
        }
        free(copy);
    }
    const char *topic = scalar(cut_node_get(cut_node_get(node, "kafka"), "topic"));
    const char *url = scalar(cut_node_get(cut_node_get(root, "schema_registry"), "url"));
    ref->topic = topic ? strdup(topic) : NULL;
    ref->registry_url = url ? strdup(url) : NULL;
    rc = ref->mapping != NULL ? 0 : -1;
out:
    cut_node_destroy(root);
    return rc;
}

static void print_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (data == NULL) {
        fputs("(null)", stdout);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\') {
            printf("\\x%02x", p[i]);
        } else {
            putchar(p[i]);
        }
    }
}

static void check_registry(const struct cut_mapping *map, const char *url, const char *topic)
{
    struct cut_registry *reg = NULL;
    struct cut_err err = {0};
    const char *topics[16];
    char subject[512];

    if (cut_registry_create(&reg, url, &err) != CUT_OK) {
        printf("registry:   %s\n", err.msg);
        return;
    }
    size_t n = cut_mapping_topics(map, topic, topics, 16);
    for (size_t i = 0; i < n; i++) {
        if (cut_mapping_subject(map, topics[i], subject, sizeof(subject)) == NULL) {
            printf("registry:   cannot name the subject of topic %s\n",
                   topics[i] ? topics[i] : "(none)");
            continue;
        }
        int rc = cut_registry_check_compatible(reg, subject, cut_mapping_schema_text(map), &err);
        printf("registry:   subject %s: %s%s%s\n", subject,
               rc == CUT_OK       ? "compatible"
               : rc == CUT_EINVAL ? "INCOMPATIBLE"
                                  : "unknown",
               rc == CUT_OK ? "" : ": ", rc == CUT_OK ? "" : err.msg);
    }
    cut_registry_destroy(reg);
}

static int print_record(const struct cut_mapping *map, const struct cut_record *rec,
                        const char *default_topic)
{
    struct cut_err err = {0};
    json_t *json = NULL;
    int32_t id = -1;

    printf("topic:      %s\n", rec->dest       ? rec->dest
                               : default_topic ? default_topic
                                               : "(the flow's kafka.topic)");
    printf("key:        ");
    if (rec->key == NULL) {
        printf("(none)");
    } else {
        print_bytes(rec->key, rec->key_len);
    }
    printf("\nheaders:\n");
    for (size_t i = 0; i < rec->n_hdrs; i++) {
        printf("  %s: ", rec->hdr_names[i]);
        print_bytes(rec->hdr_values[i], rec->hdr_lens[i]);
        putchar('\n');
    }
    enum cut_mapping_format format = cut_mapping_format(map);
    if (format == CUT_MAPPING_PASSTHROUGH) {
        printf("value:      passthrough, %zu bytes (the body, unchanged)\n", rec->value_len);
        return 0;
    }
    if (cut_mapping_value_json(map, rec->value, rec->value_len, &json, &id, &err) != CUT_OK) {
        printf("value:      %s, %zu bytes, cannot be decoded: %s\n",
               cut_mapping_format_name(format), rec->value_len, err.msg);
        return 1;
    }
    if (format == CUT_MAPPING_AVRO) {
        printf("value:      avro (Confluent wire format), %zu bytes, schema id %d (dry run: "
               "the bridge writes the id the Schema Registry assigns)\n",
               rec->value_len, (int)id);
    } else {
        printf("value:      json, %zu bytes\n", rec->value_len);
    }
    char *text = json_dumps(json, JSON_INDENT(2));
    printf("%s\n", text ? text : "(out of memory)");
    free(text);
    json_decref(json);
    return 0;
}

int cut_cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"flow", required_argument, NULL, 'f'},
        {"mapping", required_argument, NULL, 'm'},
        {"topic", required_argument, NULL, 't'},
        {"header", required_argument, NULL, 'H'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *flow = NULL, *mapping = NULL, *topic = NULL;
    struct flow_ref ref = {0};
    struct cut_mapping_msg m;
    struct cut_cfg_errors errs = {0};
    struct cut_mapping *map = NULL;
    struct cut_converter *conv = NULL;
    struct cut_err err = {0};
    char *body = NULL;
    size_t body_len = 0;
    int status = 1, c;

    cut_mapping_msg_init(&m);
    optind = 1; /* argv[0] is "convert" */
    while ((c = getopt_long(argc, argv, "c:f:m:t:H:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            flow = optarg;
            break;
        case 'm':
            mapping = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'H':
            if (cut_mapping_msg_set_arg(&m, optarg, &err) != CUT_OK) {
                fprintf(stderr, "cutover: --header %s\n", err.msg);
                status = 2;
                goto out;
            }
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default:
            usage(stderr);
            status = 2;
            goto out;
        }
    }
    if ((mapping == NULL) == (config == NULL || flow == NULL) || optind + 1 < argc ||
        (mapping != NULL && (config != NULL || flow != NULL))) {
        usage(stderr);
        status = 2;
        goto out;
    }
    if (config != NULL) {
        if (find_flow(config, flow, &ref) < 0) {
            goto out;
        }
        mapping = ref.mapping;
        if (topic == NULL) {
            topic = ref.topic;
        }
    }
    if (read_body(optind < argc ? argv[optind] : NULL, &body, &body_len) < 0 ||
        cut_mapping_msg_set_body(&m, body, body_len, &err) != CUT_OK) {
        goto out;
    }
    if (cut_mapping_load(mapping, &map, &errs) != CUT_OK) {
        for (size_t i = 0; i < errs.n; i++) {
            fprintf(stderr, "%s\n", errs.lines[i]);
        }
        goto out;
    }
    struct cut_mapping_settings settings = {
        .map = map, .flow = flow, .topic = topic, .schema_id = 0};
    if (cut_mapping_converter.create(&conv, &settings, &err) != CUT_OK) {
        fprintf(stderr, "cutover: %s: %s\n", mapping, err.msg);
        goto out;
    }

    struct cut_record rec;
    enum cut_verdict verdict;
    int rc = cut_mapping_converter.convert(conv, &m.msg, &rec, &verdict, &err);
    if (rc != CUT_OK) {
        fprintf(stderr, "cutover: conversion failed: %s: %s\n", cut_status_name(rc), err.msg);
        goto out;
    }
    if (flow != NULL) {
        printf("flow:       %s\n", flow);
    }
    printf("mapping:    %s\n", mapping);
    const struct cut_mapping_dead_letter *dl = cut_mapping_dead_letter(map);
    switch (verdict) {
    case CUT_VERDICT_SEND:
        printf("verdict:    SEND\n");
        status = print_record(map, &rec, topic);
        if (ref.registry_url != NULL && cut_mapping_format(map) == CUT_MAPPING_AVRO) {
            check_registry(map, ref.registry_url, topic);
        }
        break;
    case CUT_VERDICT_FILTERED:
        printf("verdict:    FILTERED (not sent to Kafka, counted)\nreason:     %s\n", err.msg);
        status = 0;
        break;
    case CUT_VERDICT_EXPIRED:
        printf("verdict:    EXPIRED (dropped, counted)\nreason:     %s\n", err.msg);
        status = 0;
        break;
    case CUT_VERDICT_DEAD_LETTER:
        printf("verdict:    DEAD_LETTER\nreason:     %s\n", err.msg);
        printf("dead letter: topic %s, queue %s\n", dl->topic ? dl->topic : "(none)",
               dl->queue ? dl->queue : "(none)");
        status = 1;
        break;
    }
out:
    cut_mapping_converter.destroy(conv);
    cut_mapping_destroy(map);
    cut_cfg_errors_fini(&errs);
    cut_mapping_msg_fini(&m);
    free(body);
    free(ref.mapping);
    free(ref.topic);
    free(ref.registry_url);
    return status;
}
