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

#endif
