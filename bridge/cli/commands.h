/*
 * The subcommands of the cutover CLI, one cmd_*.c file each. Every command
 * gets argv with argv[0] = its own name ("run", "validate") and returns the
 * process exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef CUTOVER_COMMANDS_H
#define CUTOVER_COMMANDS_H

#include <stdio.h>

#include "settings.h"

/**
 * Parse a command line whose only option is `-c FILE` (or --config). Returns
 * -1 to go on with *file set, else the exit status to return at once (0
 * after --help, 2 after a usage error, with @p usage printed).
 */
int cut_cli_config_arg(int argc, char **argv, void (*usage)(FILE *out), const char **file);

/**
 * Load @p file into @p settings (zeroed by the caller, released with
 * cut_settings_fini() in every case), printing every error to stderr.
 * Returns the number of errors.
 */
int cut_cli_load(const char *file, struct cut_settings *settings);

/** `cutover run -c FILE`: run every flow of FILE until SIGTERM or SIGINT. */
int cut_cmd_run(int argc, char **argv);

/** `cutover validate -c FILE`: check FILE and print every error to stderr. */
int cut_cmd_validate(int argc, char **argv);

/* ---- state-store commands: cmd_state.c, cmd_flag.c, cmd_audit.c, cmd_db.c ---- */

#include <stdbool.h>

struct cut_store;

/** `cutover flag set|get|clear|default ...`: modes, with guarded promotion. */
int cut_cmd_flag(int argc, char **argv);
/** `cutover flows [-c FILE]`: every flow with its mode, overrides and status. */
int cut_cmd_flows(int argc, char **argv);
/** `cutover flow complete|rollback FLOW`: flow status changes. */
int cut_cmd_flow(int argc, char **argv);
/** `cutover audit [FLOW]`: the audit log, oldest first. */
int cut_cmd_audit(int argc, char **argv);
/** `cutover db migrate|status`: the state store's schema. */
int cut_cmd_db(int argc, char **argv);

/** Options a state command accepts besides -c, --db and --help. */
enum cut_state_opt {
    CUT_STATE_OPT_TYPE = 1u << 0,   /**< --type T */
    CUT_STATE_OPT_REASON = 1u << 1, /**< --reason TEXT */
    CUT_STATE_OPT_FORCE = 1u << 2,  /**< --force */
};

/** What the state commands share: parsed options, the config, the store, the actor. */
struct cut_state_cli {
    const char *config; /**< -c FILE, or NULL; borrowed from argv */
    const char *db;     /**< the state store: --db, else the config's state.path, else
                             $CUTOVER_DB, else "cutover.db"; set by cut_state_cli_resolve() */
    const char *type;   /**< --type, or NULL */
    const char *reason; /**< --reason, or "" */
    bool force;
    char **args; /**< positional arguments after the command name; borrowed from argv */
    int n_args;
    bool have_settings;
    struct cut_settings settings; /**< loaded from config when given */
    struct cut_store *st;         /**< open after cut_state_cli_open() */
    char actor[128];              /**< $CUTOVER_ACTOR, else the login name */
};

/** Load the config (when given) and settle cli->db. Idempotent; 0 or an exit status. */
int cut_state_cli_resolve(struct cut_state_cli *cli);

/**
 * Parse @p argv (argv[0] = the command's name) accepting -c, --db, --help
 * and the options in @p opts, with @p min_args to @p max_args positional
 * arguments. Returns -1 to go on, else the exit status to return at once.
 */
int cut_state_cli_parse(struct cut_state_cli *cli, int argc, char **argv, unsigned opts,
                        int min_args, int max_args, void (*usage)(FILE *out));

/**
 * Load the config (when -c was given) and open the store with @p store_flags
 * (store.h). Returns 0, or 1 after printing why.
 */
int cut_state_cli_open(struct cut_state_cli *cli, unsigned store_flags);

/** Close and free what parse/open took. */
void cut_state_cli_fini(struct cut_state_cli *cli);

/** Whether @p flow is a flow of the config (false without -c). */
bool cut_state_cli_in_config(const struct cut_state_cli *cli, const char *flow);

/** Add each config flow's `mode:` to @p t where the store has no flow-level
 *  entry, so that resolution here matches the running bridge's. */
struct cut_mode_table;
void cut_state_cli_config_modes(const struct cut_state_cli *cli, struct cut_mode_table *t);

/**
 * 0 when @p flow is known to the config or to the store; else print an
 * error naming where it was looked for and return 1.
 */
int cut_state_cli_known(struct cut_state_cli *cli, const char *flow);

/** Print "cutover: WHAT: err" to stderr and return the exit status 1. */
int cut_state_cli_fail(const char *what, const struct cut_err *err);

/* ---- mapping commands: cmd_convert.c ---- */

/**
 * `cutover convert -c FILE --flow NAME [--header K=V]... [MESSAGE_FILE]`
 * (or `--mapping MAPPING` without a config): run one message through the
 * flow's expiry check, filter and mapping, and print what would be sent.
 */
int cut_cmd_convert(int argc, char **argv);

/* ---- reconciliation commands: cmd_rollback.c, cmd_report.c, cmd_repair.c ---- */

/** `cutover rollback FLOW|--all --reason TEXT`: back to JMS_ONLY, status ROLLED_BACK. */
int cut_cmd_rollback(int argc, char **argv);
/** `cutover report [--json] [--flow F] [--since WHEN]`: the migration's progress. */
int cut_cmd_report(int argc, char **argv);
/** `cutover repair FLOW -c FILE [--dry-run]`: replay the repair ledger to the side that missed it.
 */
int cut_cmd_repair(int argc, char **argv);

/**
 * Take the option --NAME out of argv (argv[0] is the command's name):
 * "--NAME VALUE" or "--NAME=VALUE" when @p has_value (*value is set), else
 * "--NAME". *present becomes true when it was there; *argc shrinks. Returns
 * -1 when a value is missing. Lets a command add its own options to the
 * ones cut_state_cli_parse() knows.
 */
int cut_cli_take(int *argc, char **argv, const char *name, bool has_value, const char **value,
                 bool *present);

#endif
