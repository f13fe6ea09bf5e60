/*
 * `cutover rollback FLOW --reason TEXT` and `cutover rollback --all
 * --reason TEXT`: send flows back to JMS_ONLY (status ROLLED_BACK), by
 * hand. Each flow is one store transaction (cut_store_flow_rollback), so a
 * crash never leaves a flow half rolled back; with --all a crash leaves
 * some flows done and the others untouched, and running the command again
 * finishes the job. Rolling back a flow that is already back is a no-op
 * that succeeds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "store.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: cutover rollback FLOW --reason TEXT [-c FILE] [--db PATH]\n"
                 "       cutover rollback --all --reason TEXT [-c FILE] [--db PATH]\n"
                 "Send FLOW (or every flow) back to JMS_ONLY: its own mode and every\n"
                 "message-type override become JMS_ONLY and its status ROLLED_BACK, in one\n"
                 "transaction per flow, audited with the actor ($CUTOVER_ACTOR or the login\n"
                 "name) and the reason. A flow already rolled back is left as it is (exit 0);\n"
                 "a PENDING flow never left JMS_ONLY and has nothing to roll back.\n");
}

struct flow_state {
    bool found;
    enum cut_flow_status status;
};

static int state_cb(void *opaque, const struct cut_flow_info *info)
{
    struct flow_state *s = opaque;
    s->found = true;
    s->status = info->status;
    return 1;
}

/* Whether any own setting of @p flow (flow level, overrides) is not JMS_ONLY. */
static bool own_non_jms(const struct cut_mode_table *t, const char *flow)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->entries[i].flow, flow) == 0 && t->entries[i].mode != CUT_MODE_JMS_ONLY) {
            return true;
        }
    }
    return false;
}

static const struct cut_flow_cfg *config_of(const struct cut_state_cli *cli, const char *flow)
{
    for (size_t i = 0; cli->have_settings && i < cli->settings.n_flows; i++) {
        if (strcmp(cli->settings.flows[i].name, flow) == 0) {
            return &cli->settings.flows[i];
        }
    }
    return NULL;
}

enum result { ROLLED, ALREADY, NOTHING, FAILED };

static enum result rollback_one(struct cut_state_cli *cli, const char *flow)
{
    struct cut_mode_table t;
    struct flow_state before = {0};
    struct cut_err err;
    enum result res = FAILED;

    cut_mode_table_init(&t);
    if (cut_store_flows_list(cli->st, flow, state_cb, &before, &err) != CUT_OK ||
        cut_store_modes_load(cli->st, &t, &err) != CUT_OK) {
        cut_state_cli_fail(flow, &err);
        goto out;
    }
    const struct cut_flow_cfg *cfg = config_of(cli, flow);
    bool config_mode = cfg != NULL && cfg->mode_set && cfg->mode != CUT_MODE_JMS_ONLY;
    bool pinned = cut_mode_table_find(&t, flow, NULL) != NULL;
    if ((!before.found || before.status == CUT_FLOW_PENDING) && !own_non_jms(&t, flow) &&
        (!config_mode || pinned)) {
        printf("%s: PENDING, never left JMS_ONLY: nothing to roll back\n", flow);
        res = NOTHING;
        goto out;
    }
    if (before.found && before.status == CUT_FLOW_ROLLED_BACK && !own_non_jms(&t, flow)) {
        printf("%s: already ROLLED_BACK (every mode JMS_ONLY): nothing to do\n", flow);
        res = ALREADY;
        goto out;
    }
    int rc = CUT_OK;
    if (!before.found || before.status == CUT_FLOW_PENDING) {
        /* The config's `mode:` sends it to Kafka while the store knows it as
         * PENDING: record that mode (what the flow runs anyway), then roll
         * back as usual. A crash in between leaves the flow as it ran. */
        rc = cut_store_mode_set(cli->st, flow, NULL, (enum cut_mode)cfg->mode, NULL, cli->actor,
                                "the config's mode, recorded to roll the flow back", &err);
    }
    if (rc == CUT_OK) {
        rc = cut_store_flow_rollback(cli->st, flow, cli->actor, cli->reason, &err);
    }
    if (rc == CUT_OK) {
        printf("%s: ROLLED_BACK (was %s; every mode JMS_ONLY)\n", flow,
               before.found && before.status != CUT_FLOW_PENDING
                   ? cut_flow_status_name(before.status)
                   : "running the config's mode");
        res = ROLLED;
    }
    if (rc != CUT_OK) {
        cut_state_cli_fail(flow, &err);
    }
out:
    cut_mode_table_fini(&t);
    return res;
}

struct names {
    char **v;
    size_t n;
    bool oom;
};

static int name_cb(void *opaque, const struct cut_flow_info *info)
{
    struct names *ns = opaque;
    char **v = realloc(ns->v, (ns->n + 1) * sizeof(*v));
    if (v == NULL || (v[ns->n] = strdup(info->name)) == NULL) {
        ns->v = v != NULL ? v : ns->v;
        ns->oom = true;
        return 1;
    }
    ns->v = v;
    ns->n++;
    return 0;
}

static int rollback_all(struct cut_state_cli *cli)
{
    struct names ns = {0};
    struct cut_err err;
    size_t count[4] = {0};
    int status = 0;

    if (cut_store_flows_list(cli->st, NULL, name_cb, &ns, &err) != CUT_OK) {
        status = cut_state_cli_fail(cli->db, &err);
        goto out;
    }
    for (size_t i = 0; !ns.oom && cli->have_settings && i < cli->settings.n_flows; i++) {
        bool listed = false;
        for (size_t k = 0; k < ns.n && !listed; k++) {
            listed = strcmp(ns.v[k], cli->settings.flows[i].name) == 0;
        }
        if (!listed) {
            struct cut_flow_info info = {.name = cli->settings.flows[i].name};
            name_cb(&ns, &info);
        }
    }
    if (ns.oom) {
        fprintf(stderr, "cutover rollback: out of memory\n");
        status = 1;
        goto out;
    }
    for (size_t i = 0; i < ns.n; i++) {
        count[rollback_one(cli, ns.v[i])]++;
    }
    printf("\n%zu rolled back, %zu already rolled back, %zu with nothing to roll back, "
           "%zu failed\n",
           count[ROLLED], count[ALREADY], count[NOTHING], count[FAILED]);
    status = count[FAILED] > 0;
out:
    for (size_t i = 0; i < ns.n; i++) {
        free(ns.v[i]);
    }
    free(ns.v);
    return status;
}

int cut_cmd_rollback(int argc, char **argv)
{
    struct cut_state_cli cli;
    bool all = false;
    char **args = calloc((size_t)argc + 1, sizeof(*args));
    int n = 0, status;
    if (args == NULL) {
        return 1;
    }
    /* --all is ours; the rest is the state commands' common parsing. */
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--all") == 0) {
            all = true;
        } else {
            args[n++] = argv[i];
        }
    }
    status =
        cut_state_cli_parse(&cli, n, args, CUT_STATE_OPT_REASON, all ? 0 : 1, all ? 0 : 1, usage);
    if (status >= 0) {
        free(args);
        return status;
    }
    if (cli.reason[0] == '\0') {
        fprintf(stderr, "cutover rollback: say why with --reason TEXT (it goes to the audit "
                        "log)\n");
        status = 2;
        goto out;
    }
    if ((status = cut_state_cli_open(&cli, 0)) != 0) {
        goto out;
    }
    if (all) {
        status = rollback_all(&cli);
    } else if ((status = cut_state_cli_known(&cli, cli.args[0])) == 0) {
        status = rollback_one(&cli, cli.args[0]) == FAILED;
    }
out:
    cut_state_cli_fini(&cli);
    free(args);
    return status;
}
