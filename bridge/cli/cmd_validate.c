/*
 * `cutover validate -c FILE`: load FILE exactly as `run` would and print
 * every problem, one "FILE:LINE: KEY: message" line each, so that a config
 * can be checked in CI before it reaches a bridge. Nothing is connected to.
 */
#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "settings.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: cutover validate -c FILE\n"
                 "Check FILE (keys, values, references between sections) and print every\n"
                 "error to stderr. Exit status: 0 valid, 1 invalid, 2 usage error.\n");
}

int cut_cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cut_settings settings = {0};
    struct cut_cfg_errors errs = {0};
    const char *file = NULL;
    int status = 0;
    int c;

    /* main() may have run getopt already; argv[0] is "validate". */
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (file == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }

    int nerr = cut_settings_load(file, &settings, &errs);
    if (nerr > 0) {
        for (size_t i = 0; i < errs.n; i++) {
            fprintf(stderr, "%s\n", errs.lines[i]);
        }
        fprintf(stderr, "%s: %d error%s\n", file, nerr, nerr == 1 ? "" : "s");
        status = 1;
        goto out;
    }
    printf("%s: ok (%zu connection%s, %zu flow%s)\n", file, settings.n_conns,
           settings.n_conns == 1 ? "" : "s", settings.n_flows, settings.n_flows == 1 ? "" : "s");
out:
    cut_settings_fini(&settings);
    cut_cfg_errors_fini(&errs);
    return status;
}
