/*
 * `cutover flag`: read and change modes. A change goes through guarded
 * promotion (cut_mode_check_change): one step forward at a time, and into
 * KAFKA_ONLY only with enough consistency over the last window of the
 * tracking table; --force overrides, and the audit record says what was
 * overridden. The store applies the change only if the mode is still the one
 * the decision was based on, so two operators cannot skip a step together.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "store.h"
#include "tracking.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cutover flag set FLOW MODE [--type T] [--reason TEXT] [--force]\n"
            "       cutover flag get FLOW\n"
            "       cutover flag clear FLOW [--type T] [--reason TEXT] [--force]\n"
            "       cutover flag default MODE [--reason TEXT] [--force]\n"
            "options everywhere: -c FILE (the config: its flows are known), --db PATH\n"
            "(the state store; else $CUTOVER_DB, else ./cutover.db)\n\n"
            "MODE: JMS_ONLY, DUAL_WRITE_JMS_PRIMARY, DUAL_WRITE_KAFKA_PRIMARY, KAFKA_ONLY.\n"
            "Promotion goes one step at a time; entering KAFKA_ONLY needs a consistency of\n"
            "at least %.2f over the last %d minutes of dual-write traffic. --force (with\n"
            "--reason) overrides both. Moving back is always allowed. Every change is in\n"
            "the audit log with the actor ($CUTOVER_ACTOR or the login name) and reason.\n"
            "Exit status: 0 done, 1 refused or failed, 2 usage error.\n",
            CUT_MODE_MIN_CONSISTENCY, CUT_MODE_CONSISTENCY_WINDOW_MIN);
}

static int parse_mode(const char *name, enum cut_mode *mode)
{
    if (cut_mode_parse(name, mode) != 0) {
        fprintf(stderr,
                "cutover flag: unknown mode \"%s\" (JMS_ONLY, DUAL_WRITE_JMS_PRIMARY, "
                "DUAL_WRITE_KAFKA_PRIMARY, KAFKA_ONLY)\n",
                name);
        return 2;
    }
    return 0;
}

/* Consistency of @p flow over the last window, from the tracking table. */
static int window_consistency(struct cut_state_cli *cli, const char *flow, double *ratio,
                              bool *have, uint64_t *dual)
{
    struct cut_tracking_row sum;
    struct cut_err err;
    int64_t now = (int64_t)time(NULL);
    int64_t to = now - now % 60;
    int64_t from = (now - CUT_MODE_CONSISTENCY_WINDOW_MIN * 60) -
                   (now - CUT_MODE_CONSISTENCY_WINDOW_MIN * 60) % 60;
    if (cut_store_tracking_window(cli->st, flow, from, to, &sum, NULL, &err) != CUT_OK) {
        return cut_state_cli_fail(cli->db, &err);
    }
    *have = cut_tracking_consistency(&sum, ratio);
    *dual = sum.counts[CUT_TRACK_DUAL];
    return 0;
}

/* "REASON [forced: WHY]" into @p out. */
static const char *audit_reason(const char *reason, const char *why, char *out, size_t size)
{
    if (why[0] == '\0') {
        return reason;
    }
    snprintf(out, size, "%s%s[%s]", reason, reason[0] ? " " : "", why);
    return out;
}

/*
 * Guarded promotion of (flow, type) from @p from to @p to: prints why a
 * refused change is refused (exit 1), insists on --reason for a forced one
 * (exit 2). On 0, @p why says what --force overrode ("" when nothing) and
 * *ratio / *have / *dual what the window said when entering KAFKA_ONLY.
 */
static int guard(struct cut_state_cli *cli, const char *flow, const char *type, enum cut_mode from,
                 enum cut_mode to, char *why, size_t len, double *ratio, bool *have, uint64_t *dual)
{
    int status;
    *ratio = 0;
    *have = false;
    *dual = 0;
    if (to == CUT_MODE_KAFKA_ONLY &&
        (status = window_consistency(cli, flow, ratio, have, dual)) != 0) {
        return status;
    }
    if (cut_mode_check_change(from, to, *ratio, *have, CUT_MODE_MIN_CONSISTENCY, cli->force, why,
                              len) != CUT_OK) {
        fprintf(stderr, "cutover: refused: %s%s%s %s -> %s: %s\n", flow, type[0] ? " type " : "",
                type, cut_mode_name(from), cut_mode_name(to), why);
        fprintf(stderr, "(--force --reason TEXT overrides; the audit log records it)\n");
        return 1;
    }
    if (why[0] != '\0' && cli->reason[0] == '\0') {
        fprintf(stderr, "cutover: --force needs --reason TEXT to say why it overrides: %s\n",
                why + strlen("forced: "));
        return 2;
    }
    return 0;
}

static int flag_set(struct cut_state_cli *cli)
{
    const char *flow = cli->args[1];
    const char *type = cli->type != NULL ? cli->type : "";
    struct cut_mode_table t;
    struct cut_err err;
    enum cut_mode to;
    char why[512], reason[1024];
    double ratio = 0;
    bool have = false;
    uint64_t dual = 0;
    int status;

    cut_mode_table_init(&t);
    if ((status = parse_mode(cli->args[2], &to)) != 0 ||
        (status = cut_state_cli_open(cli, 0)) != 0 ||
        (status = cut_state_cli_known(cli, flow)) != 0) {
        goto out;
    }
    if (cut_store_modes_load(cli->st, &t, &err) != CUT_OK) {
        status = cut_state_cli_fail(cli->db, &err);
        goto out;
    }
    cut_state_cli_config_modes(cli, &t);
    enum cut_mode from = cut_mode_resolve(&t, flow, type);
    const struct cut_mode_entry *own = cut_mode_table_find(&t, flow, type);
    if (own != NULL && own->mode == to) {
        printf("%s%s%s: already %s\n", flow, type[0] ? " type " : "", type, cut_mode_name(to));
        goto out;
    }
    if ((status = guard(cli, flow, type, from, to, why, sizeof(why), &ratio, &have, &dual)) != 0) {
        goto out;
    }
    int rc = cut_store_mode_set(cli->st, flow, type, to, &from, cli->actor,
                                audit_reason(cli->reason, why, reason, sizeof(reason)), &err);
    if (rc != CUT_OK) {
        status = cut_state_cli_fail(rc == CUT_ERETRY ? "not changed, look again" : cli->db, &err);
        goto out;
    }
    printf("%s%s%s: %s -> %s", flow, type[0] ? " type " : "", type, cut_mode_name(from),
           cut_mode_name(to));
    if (to == CUT_MODE_KAFKA_ONLY && have) {
        printf(" (consistency %.4f over %llu dual-write messages)", ratio,
               (unsigned long long)dual);
    }
    printf("%s\n", why[0] ? " FORCED" : "");
out:
    cut_mode_table_fini(&t);
    return status;
}

static int print_status(void *opaque, const struct cut_flow_info *flow)
{
    printf("  status:  %s since %s%s%s\n", cut_flow_status_name(flow->status),
           flow->status_changed_at, flow->status_reason[0] ? ": " : "", flow->status_reason);
    *(bool *)opaque = true;
    return 0;
}

static int flag_get(struct cut_state_cli *cli)
{
    const char *flow = cli->args[1];
    struct cut_mode_table t;
    struct cut_err err;
    double ratio = 0;
    bool have = false, stored = false;
    uint64_t dual = 0, open = 0;
    int status;

    cut_mode_table_init(&t);
    if ((status = cut_state_cli_open(cli, 0)) != 0 ||
        (status = cut_state_cli_known(cli, flow)) != 0) {
        goto out;
    }
    if (cut_store_modes_load(cli->st, &t, &err) != CUT_OK) {
        status = cut_state_cli_fail(cli->db, &err);
        goto out;
    }
    cut_state_cli_config_modes(cli, &t);
    const struct cut_mode_entry *own = cut_mode_table_find(&t, flow, NULL);
    printf("%s\n  mode:    %s (%s)\n", flow, cut_mode_name(cut_mode_resolve(&t, flow, NULL)),
           own             ? "set on the flow"
           : t.has_default ? "the global default"
                           : "built-in default, nothing set");
    for (size_t i = 0; i < t.n; i++) {
        if (t.entries[i].msg_type[0] != '\0' && strcmp(t.entries[i].flow, flow) == 0) {
            printf("  type %s: %s\n", t.entries[i].msg_type, cut_mode_name(t.entries[i].mode));
        }
    }
    if (cut_store_flows_list(cli->st, flow, print_status, &stored, &err) != CUT_OK) {
        status = cut_state_cli_fail(cli->db, &err);
        goto out;
    }
    if (!stored) {
        printf("  status:  PENDING (not in the store yet)\n");
    }
    if ((status = window_consistency(cli, flow, &ratio, &have, &dual)) != 0) {
        goto out;
    }
    if (have) {
        printf("  consistency (last %d min): %.4f over %llu dual-write messages\n",
               CUT_MODE_CONSISTENCY_WINDOW_MIN, ratio, (unsigned long long)dual);
    } else {
        printf("  consistency (last %d min): unknown (no dual-write traffic)\n",
               CUT_MODE_CONSISTENCY_WINDOW_MIN);
    }
    if (cut_store_ledger_count(cli->st, flow, NULL, &open, &err) != CUT_OK) {
        status = cut_state_cli_fail(cli->db, &err);
        goto out;
    }
    printf("  repair ledger: %llu open entr%s\n", (unsigned long long)open,
           open == 1 ? "y" : "ies");
out:
    cut_mode_table_fini(&t);
    return status;
}

/* Clearing an own setting moves (flow, type) to what it inherits: the same
 * guard as a change applies (an override pinned at JMS_ONLY under a flow in
 * KAFKA_ONLY would otherwise jump three steps). */
static int flag_clear(struct cut_state_cli *cli)
{
    const char *flow = cli->args[1];
    const char *type = cli->type != NULL ? cli->type : "";
    struct cut_mode_table t;
    struct cut_err err;
    char why[512], reason[1024];
    double ratio;
    bool have;
    uint64_t dual;
    int status;

    cut_mode_table_init(&t);
    if ((status = cut_state_cli_open(cli, 0)) != 0 ||
        (status = cut_state_cli_known(cli, flow)) != 0) {
        goto out;
    }
    if (cut_store_modes_load(cli->st, &t, &err) != CUT_OK) {
        status = cut_state_cli_fail(cli->db, &err);
        goto out;
    }
    cut_state_cli_config_modes(cli, &t);
    const struct cut_mode_entry *own = cut_mode_table_find(&t, flow, type);
    if (own == NULL) {
        printf("%s%s%s: nothing to clear (it inherits already)\n", flow, type[0] ? " type " : "",
               type);
        goto out;
    }
    enum cut_mode from = own->mode;
    enum cut_mode to = type[0] != '\0' ? cut_mode_resolve(&t, flow, NULL)
                       : t.has_default ? t.def
                                       : CUT_MODE_JMS_ONLY;
    if ((status = guard(cli, flow, type, from, to, why, sizeof(why), &ratio, &have, &dual)) != 0) {
        goto out;
    }
    if (cut_store_mode_clear(cli->st, flow, type, cli->actor,
                             audit_reason(cli->reason, why, reason, sizeof(reason)),
                             &err) != CUT_OK) {
        status = cut_state_cli_fail(cli->db, &err);
        goto out;
    }
    printf("%s%s%s: inherits now: %s -> %s%s\n", flow, type[0] ? " type " : "", type,
           cut_mode_name(from), cut_mode_name(to), why[0] ? " FORCED" : "");
out:
    cut_mode_table_fini(&t);
    return status;
}

static int flag_default(struct cut_state_cli *cli)
{
    struct cut_err err;
    enum cut_mode to, from;
    bool set;
    char why[512], reason[1024];
    int status;

    if ((status = parse_mode(cli->args[1], &to)) != 0 ||
        (status = cut_state_cli_open(cli, 0)) != 0) {
        return status;
    }
    if (cut_store_default_get(cli->st, &from, &set, &err) != CUT_OK) {
        return cut_state_cli_fail(cli->db, &err);
    }
    /* Consistency is measured per flow: the default, which moves every flow
     * without a mode of its own, never has it, so KAFKA_ONLY needs --force. */
    if (cut_mode_check_change(from, to, 0, false, CUT_MODE_MIN_CONSISTENCY, cli->force, why,
                              sizeof(why)) != CUT_OK) {
        fprintf(stderr, "cutover: refused: default %s -> %s: %s\n", cut_mode_name(from),
                cut_mode_name(to), why);
        fprintf(stderr, "(the default moves every flow without a mode of its own; "
                        "--force --reason TEXT overrides)\n");
        return 1;
    }
    if (why[0] != '\0' && cli->reason[0] == '\0') {
        fprintf(stderr, "cutover: --force needs --reason TEXT to say why it overrides: %s\n",
                why + strlen("forced: "));
        return 2;
    }
    if (cut_store_default_set(cli->st, to, &from, cli->actor,
                              audit_reason(cli->reason, why, reason, sizeof(reason)),
                              &err) != CUT_OK) {
        return cut_state_cli_fail(cli->db, &err);
    }
    printf("default: %s -> %s%s\n", cut_mode_name(from), cut_mode_name(to),
           why[0] ? " FORCED" : "");
    return 0;
}

int cut_cmd_flag(int argc, char **argv)
{
    struct cut_state_cli cli;
    const char *sub = argc > 1 ? argv[1] : "";
    unsigned opts = 0;
    int nargs = 0;

    if (strcmp(sub, "set") == 0) {
        opts = CUT_STATE_OPT_TYPE | CUT_STATE_OPT_REASON | CUT_STATE_OPT_FORCE;
        nargs = 3;
    } else if (strcmp(sub, "get") == 0) {
        nargs = 2;
    } else if (strcmp(sub, "clear") == 0) {
        opts = CUT_STATE_OPT_TYPE | CUT_STATE_OPT_REASON | CUT_STATE_OPT_FORCE;
        nargs = 2;
    } else if (strcmp(sub, "default") == 0) {
        opts = CUT_STATE_OPT_REASON | CUT_STATE_OPT_FORCE;
        nargs = 2;
    } else if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        usage(stdout);
        return 0;
    } else {
        usage(stderr);
        return 2;
    }
    int status = cut_state_cli_parse(&cli, argc, argv, opts, nargs, nargs, usage);
    if (status >= 0) {
        return status;
    }
    status = sub[0] == 's'   ? flag_set(&cli)
             : sub[0] == 'g' ? flag_get(&cli)
             : sub[0] == 'c' ? flag_clear(&cli)
                             : flag_default(&cli);
    cut_state_cli_fini(&cli);
    return status;
}
