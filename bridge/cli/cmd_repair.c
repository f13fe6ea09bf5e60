/*
 * `cutover repair FLOW -c FILE [--dry-run]`: replay the flow's open repair
 * ledger entries to the side that missed them (bridge/repair.h). The config
 * gives the sinks (the flow's legacy: and kafka: sections), the Kafka
 * properties and the flow's converter (its mapping, or passthrough).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kafka.h"
#include "plugins.h"
#include "repair.h"

#define MAX_TOPICS 16

static void usage(FILE *out)
{
    fprintf(out, "usage: cutover repair FLOW -c FILE [--db PATH] [--dry-run] [--verbose]\n"
                 "                      [--timeout SECONDS] [--scan-timeout SECONDS]\n"
                 "Replay FLOW's open repair-ledger entries to the side that missed them and\n"
                 "mark them repaired. A message already on the Kafka topic (by message id) is\n"
                 "not sent again; the legacy side cannot be searched, so its entries are sent\n"
                 "again with their original message id. Prints how many were replayed, were\n"
                 "already present, and failed (those stay open for the next run).\n"
                 "  --dry-run           say what would be done; send and change nothing\n"
                 "  --verbose           one line per entry (always with --dry-run)\n"
                 "  --timeout S         wait at most S seconds for a batch's confirmations (60)\n"
                 "  --scan-timeout S    bound on reading the topic for ids already there (120)\n");
}

static int seconds(const char *text, int64_t *ms)
{
    char *end = NULL;
    long v = text != NULL ? strtol(text, &end, 10) : 0;
    if (text == NULL || end == text || *end != '\0' || v <= 0 || v > 86400) {
        return -1;
    }
    *ms = (int64_t)v * 1000;
    return 0;
}

static void print_side(const struct cut_repair_result *res, enum cut_side side, bool dry)
{
    printf("  %-6s open %llu: %s %llu, already present %llu, failed %llu", cut_side_name(side),
           (unsigned long long)res->open[side], dry ? "would replay" : "replayed",
           (unsigned long long)res->replayed[side], (unsigned long long)res->present[side],
           (unsigned long long)res->failed[side]);
    if (res->skipped[side] > 0) {
        printf(", skipped %llu (no %s target in the config)",
               (unsigned long long)res->skipped[side], cut_side_name(side));
    }
    printf("\n");
}

int cut_cmd_repair(int argc, char **argv)
{
    struct cut_state_cli cli;
    struct cut_plugins plugins = {0};
    struct cut_repair_result res;
    struct cut_err err;
    const char *unused = NULL, *timeout = NULL, *scan = NULL;
    bool dry = false, verbose = false, have_timeout = false, have_scan = false;
    char **args = calloc((size_t)argc + 1, sizeof(*args));
    int n = argc, status;
    if (args == NULL) {
        return 1;
    }
    memcpy(args, argv, (size_t)argc * sizeof(*args));
    struct cut_repair_options o = {0};
    if (cut_cli_take(&n, args, "dry-run", false, &unused, &dry) != 0 ||
        cut_cli_take(&n, args, "verbose", false, &unused, &verbose) != 0 ||
        cut_cli_take(&n, args, "timeout", true, &timeout, &have_timeout) != 0 ||
        cut_cli_take(&n, args, "scan-timeout", true, &scan, &have_scan) != 0 ||
        (have_timeout && seconds(timeout, &o.confirm_timeout_ms) != 0) ||
        (have_scan && seconds(scan, &o.scan_timeout_ms) != 0)) {
        usage(stderr);
        free(args);
        return 2;
    }
    status = cut_state_cli_parse(&cli, n, args, 0, 1, 1, usage);
    if (status >= 0) {
        free(args);
        return status;
    }
    const char *flow = cli.args[0];
    if (cli.config == NULL) {
        fprintf(stderr, "cutover repair: the flow's targets come from the config: pass -c FILE\n");
        status = 2;
        goto out;
    }
    if ((status = cut_state_cli_open(&cli, 0)) != 0) {
        goto out;
    }
    const struct cut_flow_cfg *cfg = NULL;
    size_t index = 0;
    for (size_t i = 0; i < cli.settings.n_flows; i++) {
        if (strcmp(cli.settings.flows[i].name, flow) == 0) {
            cfg = &cli.settings.flows[i];
            index = i;
        }
    }
    if (cfg == NULL) {
        fprintf(stderr, "cutover repair: flow \"%s\" is not in %s\n", flow, cli.config);
        status = 1;
        goto out;
    }
    /* The flow's converter: its mapping (with the schema registry when it
     * writes Avro) or passthrough. A dry run converts nothing. */
    if (cut_plugins_load(&cli.settings, !dry, &plugins) > 0) {
        status = 1;
        goto out;
    }
    const char *topics[MAX_TOPICS];
    size_t n_topics = 0;
    const struct cut_kafka_sink_settings *ks = cfg->kafka_settings;
    if (cfg->kafka != NULL && ks != NULL) {
        if (plugins.maps != NULL && plugins.maps[index] != NULL) {
            n_topics = cut_mapping_topics(plugins.maps[index], ks->topic, topics, MAX_TOPICS);
        } else if (ks->topic != NULL) {
            topics[n_topics++] = ks->topic;
        }
        o.kafka_ops = cfg->kafka->sink;
        o.kafka_conn_settings = &cli.settings.kafka;
        o.kafka_settings = cfg->kafka_settings;
        o.kafka_global = &cli.settings.kafka;
        o.kafka_props = &ks->properties;
        o.conv_ops = plugins.flows[index].conv_ops;
        o.conv_settings = plugins.flows[index].conv_settings;
    }
    if (cfg->legacy_conn != NULL) {
        o.legacy_ops = cfg->legacy_conn->connector->sink;
        o.legacy_conn_settings = cfg->legacy_conn->settings;
        o.legacy_settings = cfg->legacy_settings;
    }
    o.flow = flow;
    o.dry_run = dry;
    o.topics = topics;
    o.n_topics = n_topics;
    o.out = dry || verbose ? stdout : NULL;
    int rc = cut_repair_run(cli.st, &o, &res, &err);
    printf("%s%s: %llu open entries\n", flow, dry ? " (dry run: nothing sent or changed)" : "",
           (unsigned long long)(res.open[0] + res.open[1]));
    print_side(&res, CUT_SIDE_KAFKA, dry);
    print_side(&res, CUT_SIDE_LEGACY, dry);
    if (res.undecodable > 0) {
        printf("  %llu entries could not be decoded (left open, attempt counted)\n",
               (unsigned long long)res.undecodable);
    }
    if (rc != CUT_OK) {
        status = cut_state_cli_fail(
            rc == CUT_ERETRY ? "repair stopped, nothing sent to Kafka" : "repair", &err);
        goto out;
    }
    status = res.failed[0] + res.failed[1] + res.undecodable > 0 ? 1 : 0;
out:
    cut_plugins_fini(&plugins);
    cut_state_cli_fini(&cli);
    free(args);
    return status;
}
