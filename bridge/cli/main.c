/*
 * cutover: moves message flows off legacy JMS/AMQP brokers onto Kafka.
 * The command table below is the whole CLI; each command lives in its own
 * cmd_*.c file.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"

#ifndef CUTOVER_VERSION
#define CUTOVER_VERSION "unknown"
#endif

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static int cmd_version(int argc, char **argv);

static const struct command commands[] = {
    {"run", cut_cmd_run, "run -c FILE        run the bridge on every flow of FILE"},
    {"validate", cut_cmd_validate, "validate -c FILE   check FILE and print every error"},
    {"convert", cut_cmd_convert, "convert ...        run one message through a flow's mapping"},
    {"version", cmd_version, "version            print the version"},
    {"flag", cut_cmd_flag, "flag ...           set, get or clear a flow's mode; the default"},
    {"flows", cut_cmd_flows, "flows              every flow with its mode, overrides and status"},
    {"flow", cut_cmd_flow, "flow ...           complete or roll back a flow"},
    {"audit", cut_cmd_audit, "audit [FLOW]       the audit log of mode and status changes"},
    {"db", cut_cmd_db, "db migrate|status  the state store's schema version and migrations"},
    {"rollback", cut_cmd_rollback, "rollback ...       send a flow (or --all) back to JMS_ONLY"},
    {"report", cut_cmd_report, "report [--json]    the migration's progress, per flow"},
    {"repair", cut_cmd_repair,
     "repair FLOW        replay the repair ledger to the side that missed it"},
};

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("cutover %s\n", CUTOVER_VERSION);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: cutover COMMAND [OPTIONS]\n\n"
                 "Moves message flows off legacy JMS/AMQP brokers onto Apache Kafka.\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(out, "  %s\n", commands[i].help);
    }
    fprintf(out, "\n`cutover COMMAND --help` describes one command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        return cmd_version(0, NULL);
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "cutover: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
