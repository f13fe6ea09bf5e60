/*
 * `cutover audit [FLOW]`: the audit log, oldest first, one line per record:
 * when, who, what changed from what to what, and why.
 */
#include <stdio.h>

#include "commands.h"
#include "store.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: cutover audit [FLOW] [-c FILE] [--db PATH]\n"
                 "Print the audit log (mode, default, status and rollback changes), oldest\n"
                 "first: ID, time (UTC), actor, what, flow[/type], from -> to, reason.\n"
                 "\"-\" stands for \"no own setting\" (inherited).\n");
}

static int print_record(void *opaque, const struct cut_audit_record *rec)
{
    char target[256];
    (void)opaque;
    if (rec->flow == NULL) {
        snprintf(target, sizeof(target), "*");
    } else {
        snprintf(target, sizeof(target), "%s%s%s", rec->flow,
                 rec->msg_type && rec->msg_type[0] ? "/" : "", rec->msg_type ? rec->msg_type : "");
    }
    printf("%-6lld %-24s %-12s %-8s %-28s %s -> %s%s%s\n", (long long)rec->id, rec->at, rec->actor,
           rec->what, target, rec->from ? rec->from : "-", rec->to ? rec->to : "-",
           rec->reason[0] ? "  # " : "", rec->reason);
    return 0;
}

int cut_cmd_audit(int argc, char **argv)
{
    struct cut_state_cli cli;
    struct cut_err err;
    int status = cut_state_cli_parse(&cli, argc, argv, 0, 0, 1, usage);
    if (status >= 0) {
        return status;
    }
    const char *flow = cli.n_args == 1 ? cli.args[0] : NULL;
    if ((status = cut_state_cli_open(&cli, 0)) != 0) {
        goto out;
    }
    printf("%-6s %-24s %-12s %-8s %-28s %s\n", "ID", "AT", "ACTOR", "WHAT", "FLOW", "CHANGE");
    if (cut_store_audit_list(cli.st, flow, print_record, NULL, &err) != CUT_OK) {
        status = cut_state_cli_fail(cli.db, &err);
    }
out:
    cut_state_cli_fini(&cli);
    return status;
}
