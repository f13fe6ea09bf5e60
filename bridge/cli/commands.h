/*
 * The subcommands of the cutover CLI, one cmd_*.c file each. Every command
 * gets argv with argv[0] = its own name ("run", "validate") and returns the
 * process exit status: 0 success, 1 failure, 2 usage error.
 */
#ifndef CUTOVER_COMMANDS_H
#define CUTOVER_COMMANDS_H

/** `cutover run -c FILE`: run every flow of FILE until SIGTERM or SIGINT. */
int cut_cmd_run(int argc, char **argv);

/** `cutover validate -c FILE`: check FILE and print every error to stderr. */
int cut_cmd_validate(int argc, char **argv);

#endif
