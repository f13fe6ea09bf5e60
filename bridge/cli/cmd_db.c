/*
 * `cutover db migrate|status`: the state store's schema. Migrations are
 * compiled into the program (migrations/NNNN_*.sql); `migrate` applies the
 * pending ones in order, each in its own transaction, upgrading the database
 * in place; `status` shows where a database stands without changing it.
 * Every command that opens the store migrates it anyway: `migrate` is for
 * doing it at a chosen time (before a rollout, say).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "store.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: cutover db migrate [--db PATH] [-c FILE]\n"
                 "       cutover db status [--db PATH] [-c FILE]\n"
                 "migrate: apply the pending schema migrations to the state store.\n"
                 "status:  print the schema version of the state store, the latest this\n"
                 "         cutover knows and the pending migrations; changes nothing.\n"
                 "Exit status: 0 fine, 1 failure or a database newer than this cutover.\n");
}

static void print_pending(int version)
{
    size_t n;
    const struct cut_store_migration *m = cut_store_migrations(&n);
    int pending = 0;
    printf("pending:        ");
    for (size_t i = 0; i < n; i++) {
        if (m[i].version > version) {
            printf("%s%s", pending++ ? ", " : "", m[i].name);
        }
    }
    printf("%s\n", pending ? "" : "none");
}

static int db_status(struct cut_state_cli *cli)
{
    struct cut_err err;
    size_t n;
    int version = 0, status;
    const struct cut_store_migration *m = cut_store_migrations(&n);
    int latest = n > 0 ? m[n - 1].version : 0;

    if ((status = cut_state_cli_resolve(cli)) != 0) {
        return status;
    }
    printf("state store:    %s\n", cli->db);
    if (access(cli->db, F_OK) != 0) {
        /* Opening would create it: say so instead, and leave no file behind. */
        printf("schema version: none (no database yet; the first use creates it)\n"
               "latest:         %d\n",
               latest);
        print_pending(0);
        return 0;
    }
    if ((status = cut_state_cli_open(cli, CUT_STORE_NO_MIGRATE)) != 0) {
        return status;
    }
    if (cut_store_schema_version(cli->st, &version, &err) != CUT_OK) {
        return cut_state_cli_fail(cli->db, &err);
    }
    printf("schema version: %d\nlatest:         %d\n", version, latest);
    if (version > latest) {
        fprintf(stderr, "cutover: %s is newer than this cutover: run a newer cutover\n", cli->db);
        return 1;
    }
    print_pending(version);
    return 0;
}

static int db_migrate(struct cut_state_cli *cli)
{
    struct cut_err err;
    int before = 0, after = 0, applied = 0, status;

    if ((status = cut_state_cli_open(cli, CUT_STORE_NO_MIGRATE)) != 0) {
        return status;
    }
    if (cut_store_schema_version(cli->st, &before, &err) != CUT_OK ||
        cut_store_migrate(cli->st, 0, &applied, &err) != CUT_OK ||
        cut_store_schema_version(cli->st, &after, &err) != CUT_OK) {
        return cut_state_cli_fail(cli->db, &err);
    }
    if (applied == 0) {
        printf("%s: up to date (schema version %d)\n", cli->db, after);
    } else {
        printf("%s: schema version %d -> %d (%d migration%s applied)\n", cli->db, before, after,
               applied, applied == 1 ? "" : "s");
    }
    return 0;
}

int cut_cmd_db(int argc, char **argv)
{
    struct cut_state_cli cli;
    int status = cut_state_cli_parse(&cli, argc, argv, 0, 1, 1, usage);
    if (status >= 0) {
        return status;
    }
    if (strcmp(cli.args[0], "status") == 0) {
        status = db_status(&cli);
    } else if (strcmp(cli.args[0], "migrate") == 0) {
        status = db_migrate(&cli);
    } else {
        usage(stderr);
        status = 2;
    }
    cut_state_cli_fini(&cli);
    return status;
}
