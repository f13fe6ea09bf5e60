/*
 * What the state-store commands share (options, the store's path, the
 * actor recorded in the audit log, flows known from the config) and the two
 * commands about flows as a whole: `cutover flows` and `cutover flow
 * complete|rollback FLOW`.
 *
 * The store's path: --db PATH, else the config's state.path (with -c), else
 * $CUTOVER_DB, else "cutover.db" in the
 * working directory. (When the config grows its `state:` section, its path
 * slots in between $CUTOVER_DB and the built-in default.)
 */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "store.h"

#define DEFAULT_DB "cutover.db"

int cut_state_cli_fail(const char *what, const struct cut_err *err)
{
    fprintf(stderr, "cutover: %s: %s\n", what, err->msg);
    return 1;
}

static void actor_init(char *actor, size_t size)
{
    const char *env = getenv("CUTOVER_ACTOR");
    char login[64];
    if (env != NULL && env[0] != '\0') {
        snprintf(actor, size, "%s", env);
        return;
    }
    /* getlogin_r needs a controlling terminal; under systemd, cron or CI
     * the effective user is the honest answer. */
    if (getlogin_r(login, sizeof(login)) == 0 && login[0] != '\0') {
        snprintf(actor, size, "%s", login);
        return;
    }
    struct passwd pw, *found = NULL;
    char buf[1024];
    if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &found) == 0 && found != NULL) {
        snprintf(actor, size, "%s", found->pw_name);
        return;
    }
    snprintf(actor, size, "uid:%u", (unsigned)geteuid());
}

int cut_state_cli_parse(struct cut_state_cli *cli, int argc, char **argv, unsigned opts,
                        int min_args, int max_args, void (*usage)(FILE *out))
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},
        {"type", required_argument, NULL, 't'},
        {"reason", required_argument, NULL, 'r'},
        {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(cli, 0, sizeof(*cli));
    cli->reason = "";
    cli->db = NULL; /* --db, else the config's state.path, else $CUTOVER_DB, else the default */
    actor_init(cli->actor, sizeof(cli->actor));
    optind = 1; /* argv[0] is the command's own name */
    while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        unsigned need = c == 't'   ? CUT_STATE_OPT_TYPE
                        : c == 'r' ? CUT_STATE_OPT_REASON
                        : c == 'f' ? CUT_STATE_OPT_FORCE
                                   : 0;
        if (need != 0 && !(opts & need)) {
            fprintf(stderr, "cutover %s: option --%s does not apply here\n", argv[0],
                    c == 't'   ? "type"
                    : c == 'r' ? "reason"
                               : "force");
            usage(stderr);
            return 2;
        }
        switch (c) {
        case 'c':
            cli->config = optarg;
            break;
        case 'd':
            cli->db = optarg;
            break;
        case 't':
            cli->type = optarg;
            break;
        case 'r':
            cli->reason = optarg;
            break;
        case 'f':
            cli->force = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    cli->args = argv + optind;
    cli->n_args = argc - optind;
    if (cli->n_args < min_args || cli->n_args > max_args) {
        usage(stderr);
        return 2;
    }
    if (cli->type != NULL && cli->type[0] == '\0') {
        fprintf(stderr, "cutover %s: --type needs a message type\n", argv[0]);
        return 2;
    }
    return -1;
}

int cut_state_cli_resolve(struct cut_state_cli *cli)
{
    if (cli->config != NULL && !cli->have_settings) {
        cli->have_settings = true;
        if (cut_cli_load(cli->config, &cli->settings) > 0) {
            return 1;
        }
        if (cli->db == NULL) {
            cli->db = cli->settings.state_path; /* the store the bridge of that config uses */
        }
    }
    if (cli->db == NULL) {
        cli->db = getenv("CUTOVER_DB");
    }
    if (cli->db == NULL || cli->db[0] == '\0') {
        cli->db = DEFAULT_DB;
    }
    return 0;
}

int cut_state_cli_open(struct cut_state_cli *cli, unsigned store_flags)
{
    struct cut_err err;
    int status = cut_state_cli_resolve(cli);
    if (status != 0) {
        return status;
    }
    if (cut_store_open(&cli->st, cli->db, store_flags, &err) != CUT_OK) {
        return cut_state_cli_fail(cli->db, &err);
    }
    return 0;
}

void cut_state_cli_fini(struct cut_state_cli *cli)
{
    cut_store_close(cli->st);
    cli->st = NULL;
    if (cli->have_settings) {
        cut_settings_fini(&cli->settings);
        cli->have_settings = false;
    }
}

void cut_state_cli_config_modes(const struct cut_state_cli *cli, struct cut_mode_table *t)
{
    /* The bridge resolves: operator's flow + type, operator's flow, the
     * config's `mode:`, the default. Adding the config's mode as a flow entry
     * where the operator set none gives the same answers here. */
    for (size_t i = 0; cli->have_settings && i < cli->settings.n_flows; i++) {
        const struct cut_flow_cfg *f = &cli->settings.flows[i];
        if (f->mode_set && cut_mode_table_find(t, f->name, "") == NULL) {
            cut_mode_table_set(t, f->name, "", (enum cut_mode)f->mode);
        }
    }
}

bool cut_state_cli_in_config(const struct cut_state_cli *cli, const char *flow)
{
    for (size_t i = 0; cli->have_settings && i < cli->settings.n_flows; i++) {
        if (cli->settings.flows[i].name != NULL && strcmp(cli->settings.flows[i].name, flow) == 0) {
            return true;
        }
    }
    return false;
}

static int found_cb(void *opaque, const struct cut_flow_info *flow)
{
    (void)flow;
    *(bool *)opaque = true;
    return 1;
}

int cut_state_cli_known(struct cut_state_cli *cli, const char *flow)
{
    struct cut_err err;
    bool found = cut_state_cli_in_config(cli, flow);
    if (!found && cut_store_flows_list(cli->st, flow, found_cb, &found, &err) != CUT_OK) {
        return cut_state_cli_fail(cli->db, &err);
    }
    if (!found) {
        fprintf(stderr, "cutover: unknown flow \"%s\": not in %s%s%s\n", flow,
                cli->config ? cli->config : "", cli->config ? " nor in " : "", cli->db);
        if (cli->config == NULL) {
            fprintf(stderr, "(pass the config with -c FILE to use the flows it defines)\n");
        }
        return 1;
    }
    return 0;
}

/* ---- cutover flows --------------------------------------------------------- */

static void flows_usage(FILE *out)
{
    fprintf(out, "usage: cutover flows [-c FILE] [--db PATH]\n"
                 "List every flow (from FILE and from the state store) with its mode, its\n"
                 "message-type overrides and its status.\n");
}

struct flows_ctx {
    struct cut_state_cli *cli;
    const struct cut_mode_table *modes;
};

static void print_flow(const struct flows_ctx *ctx, const char *name,
                       const struct cut_flow_info *info)
{
    const struct cut_mode_table *t = ctx->modes;
    const struct cut_mode_entry *own = cut_mode_table_find(t, name, NULL);
    const char *from = own ? "" : t->has_default ? " (default)" : " (built-in)";
    char mode[64], overrides[512] = "-";
    size_t len = 0;

    snprintf(mode, sizeof(mode), "%s%s", cut_mode_name(cut_mode_resolve(t, name, NULL)), from);
    for (size_t i = 0; i < t->n && len < sizeof(overrides); i++) {
        const struct cut_mode_entry *e = &t->entries[i];
        if (e->msg_type[0] != '\0' && strcmp(e->flow, name) == 0) {
            int n = snprintf(overrides + len, sizeof(overrides) - len, "%s%s=%s", len ? " " : "",
                             e->msg_type, cut_mode_name(e->mode));
            len += n > 0 ? (size_t)n : 0;
        }
    }
    printf("%-24s %-12s %-36s %-25s %s%s\n", name,
           info ? cut_flow_status_name(info->status) : "PENDING", mode,
           info ? info->status_changed_at : "-", overrides,
           ctx->cli->have_settings && !cut_state_cli_in_config(ctx->cli, name) ? " (not in config)"
                                                                               : "");
}

static int flow_row_cb(void *opaque, const struct cut_flow_info *flow)
{
    print_flow(opaque, flow->name, flow);
    return 0;
}

static int in_store_cb(void *opaque, const struct cut_flow_info *flow)
{
    (void)flow;
    *(bool *)opaque = true;
    return 1;
}

int cut_cmd_flows(int argc, char **argv)
{
    struct cut_state_cli cli;
    struct cut_mode_table t;
    struct cut_err err;
    int status = cut_state_cli_parse(&cli, argc, argv, 0, 0, 0, flows_usage);
    if (status >= 0) {
        return status;
    }
    cut_mode_table_init(&t);
    if ((status = cut_state_cli_open(&cli, 0)) != 0) {
        goto out;
    }
    if (cut_store_modes_load(cli.st, &t, &err) != CUT_OK) {
        status = cut_state_cli_fail(cli.db, &err);
        goto out;
    }
    cut_state_cli_config_modes(&cli, &t);
    struct flows_ctx ctx = {.cli = &cli, .modes = &t};
    printf("%-24s %-12s %-36s %-25s %s\n", "FLOW", "STATUS", "MODE", "STATUS SINCE", "OVERRIDES");
    if (cut_store_flows_list(cli.st, NULL, flow_row_cb, &ctx, &err) != CUT_OK) {
        status = cut_state_cli_fail(cli.db, &err);
        goto out;
    }
    /* Flows of the config the store has not seen yet: PENDING by definition. */
    for (size_t i = 0; cli.have_settings && i < cli.settings.n_flows; i++) {
        const char *name = cli.settings.flows[i].name;
        bool stored = false;
        if (cut_store_flows_list(cli.st, name, in_store_cb, &stored, &err) != CUT_OK) {
            status = cut_state_cli_fail(cli.db, &err);
            goto out;
        }
        if (!stored) {
            print_flow(&ctx, name, NULL);
        }
    }
    printf("\ndefault mode: %s\n",
           t.has_default ? cut_mode_name(t.def) : "JMS_ONLY (built-in; none set)");
out:
    cut_mode_table_fini(&t);
    cut_state_cli_fini(&cli);
    return status;
}

/* ---- cutover flow complete|rollback ---------------------------------------- */

static void flow_usage(FILE *out)
{
    fprintf(out, "usage: cutover flow complete FLOW [--reason TEXT] [-c FILE] [--db PATH]\n"
                 "       cutover flow rollback FLOW --reason TEXT [-c FILE] [--db PATH]\n"
                 "complete: mark FLOW COMPLETED; only from IN_PROGRESS with every mode of the\n"
                 "          flow (and of its message-type overrides) in KAFKA_ONLY.\n"
                 "rollback: move FLOW and its overrides back to JMS_ONLY, status ROLLED_BACK.\n"
                 "Both are recorded in the audit log with the actor ($CUTOVER_ACTOR or the\n"
                 "login name) and the reason.\n");
}

int cut_cmd_flow(int argc, char **argv)
{
    struct cut_state_cli cli;
    struct cut_err err;
    int status = cut_state_cli_parse(&cli, argc, argv, CUT_STATE_OPT_REASON, 2, 2, flow_usage);
    if (status >= 0) {
        return status;
    }
    const char *what = cli.args[0], *flow = cli.args[1];
    bool complete = strcmp(what, "complete") == 0;
    if (!complete && strcmp(what, "rollback") != 0) {
        flow_usage(stderr);
        status = 2;
        goto out;
    }
    if (!complete && cli.reason[0] == '\0') {
        fprintf(stderr, "cutover flow rollback: say why with --reason TEXT (it goes to the "
                        "audit log)\n");
        status = 2;
        goto out;
    }
    if ((status = cut_state_cli_open(&cli, 0)) != 0 ||
        (status = cut_state_cli_known(&cli, flow)) != 0) {
        goto out;
    }
    int rc = complete ? cut_store_flow_complete(cli.st, flow, cli.actor, cli.reason, &err)
                      : cut_store_flow_rollback(cli.st, flow, cli.actor, cli.reason, &err);
    if (rc != CUT_OK) {
        status = cut_state_cli_fail(complete ? "refused" : "rollback", &err);
        goto out;
    }
    printf("%s: %s\n", flow, complete ? "COMPLETED" : "ROLLED_BACK (every mode JMS_ONLY)");
out:
    cut_state_cli_fini(&cli);
    return status;
}
