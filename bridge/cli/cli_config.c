/*
 * What every command that reads the config shares: the `-c FILE` option and
 * loading FILE with every error printed as "FILE:LINE: KEY: message".
 */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"

int cut_cli_config_arg(int argc, char **argv, void (*usage)(FILE *out), const char **file)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    *file = NULL;
    optind = 1; /* argv[0] is the command's own name */
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            *file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (*file == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    return -1;
}

int cut_cli_load(const char *file, struct cut_settings *settings)
{
    struct cut_cfg_errors errs = {0};
    int nerr = cut_settings_load(file, settings, &errs);
    for (size_t i = 0; i < errs.n; i++) {
        fprintf(stderr, "%s\n", errs.lines[i]);
    }
    if (nerr > 0) {
        fprintf(stderr, "%s: %d error%s\n", file, nerr, nerr == 1 ? "" : "s");
    }
    cut_cfg_errors_fini(&errs);
    return nerr;
}
