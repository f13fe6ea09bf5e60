/*
 * `cutover report`: the migration progress report (bridge/report.h), as
 * text or, with --json, as the JSON document of docs/operations.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "report.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cutover report [-c FILE] [--db PATH] [--json] [--flow FLOW] [--since WHEN]\n"
            "The migration's progress: flows pending, in progress, completed and rolled\n"
            "back; then per flow its mode, status, messages per side, consistency, loss,\n"
            "error rates, latencies, last rollback, repair ledger and readiness.\n"
            "  --json        the JSON document described in docs/operations.md\n"
            "  --flow FLOW   only this flow (the summary still covers every flow)\n"
            "  --since WHEN  the window: a duration (90s, 5m, 2h, 1d) or a UTC time\n"
            "                (2024-05-01T12:00:00Z); default 5m, the reconciler's window\n"
            "  -c FILE       the bridge's config: its flows are listed even before the\n"
            "                store has seen them\n");
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "90s", "5m", "2h", "1d", or an ISO 8601 UTC time: the window's length. */
static int parse_since(const char *text, int64_t now, int64_t *window_ms)
{
    char *end = NULL;
    long long n = strtoll(text, &end, 10);
    if (end != text && n > 0 && end[0] != '\0' && end[1] == '\0') {
        int64_t unit = end[0] == 's'   ? 1000
                       : end[0] == 'm' ? 60000
                       : end[0] == 'h' ? 3600000
                       : end[0] == 'd' ? 86400000
                                       : 0;
        if (unit != 0 && n <= 366LL * 86400000 / unit) {
            *window_ms = n * unit;
            return 0;
        }
    }
    int64_t at = cut_recon_parse_time(text);
    if (at >= 0 && at < now) {
        *window_ms = now - at;
        return 0;
    }
    return -1;
}

int cut_cli_take(int *argc, char **argv, const char *name, bool has_value, const char **value,
                 bool *present)
{
    size_t len = strlen(name);
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, len) != 0) {
            continue;
        }
        int used = 0;
        if (a[2 + len] == '\0' && !has_value) {
            used = 1;
        } else if (a[2 + len] == '\0' && i + 1 < *argc) {
            *value = argv[i + 1];
            used = 2;
        } else if (a[2 + len] == '=' && has_value) {
            *value = a + 3 + len;
            used = 1;
        } else if (a[2 + len] == '\0') {
            return -1; /* a value is missing */
        } else {
            continue;
        }
        *present = true;
        memmove(&argv[i], &argv[i + used], (size_t)(*argc - i - used + 1) * sizeof(*argv));
        *argc -= used;
        i--;
    }
    return 0;
}

/* The config's flows, for the report: their thresholds and `mode:`. */
static struct cut_recon_flow *config_flows(const struct cut_state_cli *cli, size_t *n)
{
    *n = cli->have_settings ? cli->settings.n_flows : 0;
    struct cut_recon_flow *flows = calloc(*n ? *n : 1, sizeof(*flows));
    for (size_t i = 0; flows != NULL && i < *n; i++) {
        const struct cut_flow_cfg *cfg = &cli->settings.flows[i];
        const struct cut_recon_settings *r = &cfg->recon;
        flows[i] = (struct cut_recon_flow){
            .name = cfg->name,
            .th = {.settle_ms = r->settle_ms,
                   .min_messages = (uint64_t)r->min_messages,
                   .kafka_error_rate = r->kafka_error_rate,
                   .loss_rate = r->loss_rate,
                   .latency_ratio = r->latency_ratio,
                   .latency_floor_us = r->latency_floor_ms * 1000,
                   .consistency_alert = r->consistency_alert,
                   .soak_ms = r->soak_ms},
            .config_mode = cfg->mode_set ? cfg->mode : -1,
        };
    }
    return flows;
}

int cut_cmd_report(int argc, char **argv)
{
    struct cut_state_cli cli;
    struct cut_report rep = {0};
    struct cut_err err;
    const char *flow = NULL, *since = NULL, *unused = NULL;
    bool json = false, have_flow = false, have_since = false;
    struct cut_recon_flow *flows = NULL;
    char **args = calloc((size_t)argc + 1, sizeof(*args));
    int n = argc, status;
    if (args == NULL) {
        return 1;
    }
    memcpy(args, argv, (size_t)argc * sizeof(*args));
    if (cut_cli_take(&n, args, "json", false, &unused, &json) != 0 ||
        cut_cli_take(&n, args, "flow", true, &flow, &have_flow) != 0 ||
        cut_cli_take(&n, args, "since", true, &since, &have_since) != 0) {
        usage(stderr);
        free(args);
        return 2;
    }
    status = cut_state_cli_parse(&cli, n, args, 0, 0, 0, usage);
    if (status >= 0) {
        free(args);
        return status;
    }
    int64_t now = now_ms(), window_ms = 5 * 60000;
    if (have_since && parse_since(since, now, &window_ms) != 0) {
        fprintf(stderr,
                "cutover report: --since %s: expected a duration (90s, 5m, 2h, 1d) or a "
                "past UTC time (2024-05-01T12:00:00Z)\n",
                since);
        status = 2;
        goto out;
    }
    if ((status = cut_state_cli_open(&cli, 0)) != 0) {
        goto out;
    }
    size_t n_flows = 0;
    if ((flows = config_flows(&cli, &n_flows)) == NULL) {
        status = 1;
        goto out;
    }
    struct cut_report_options opts = {
        .now_ms = now,
        .window_ms = window_ms,
        .flow = have_flow ? flow : NULL,
        .flows = flows,
        .n_flows = n_flows,
    };
    if (cut_report_build(cli.st, &opts, &rep, &err) != CUT_OK) {
        status = cut_state_cli_fail("report", &err);
        goto out;
    }
    if (json) {
        char *text = cut_report_json(&rep);
        if (text == NULL) {
            fprintf(stderr, "cutover report: out of memory\n");
            status = 1;
            goto out;
        }
        printf("%s\n", text);
        free(text);
    } else {
        cut_report_print(&rep, stdout);
    }
out:
    cut_report_fini(&rep);
    free(flows);
    cut_state_cli_fini(&cli);
    free(args);
    return status;
}
