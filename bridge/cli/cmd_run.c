#include <getopt.h>
#include <stdio.h>

#include "commands.h"
#include "cutover/log.h"
#include "runner.h"
#include "settings.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: cutover run -c FILE\n"
                 "Run every flow of FILE until SIGTERM or SIGINT.\n");
}

int cut_cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL;
    int c;
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

    struct cut_settings settings = {0};
    struct cut_cfg_errors errs = {0};
    int status;
    if (cut_settings_load(file, &settings, &errs) != 0) {
        for (size_t i = 0; i < errs.n; i++) {
            fprintf(stderr, "%s\n", errs.lines[i]);
        }
        status = 1;
        goto out;
    }
    if (settings.n_flows == 0) {
        fprintf(stderr, "%s: no flows to run\n", file);
        status = 1;
        goto out;
    }
    cut_log_set_level(settings.log_level);
    status = cut_runner_run(&settings);
out:
    cut_cfg_errors_fini(&errs);
    cut_settings_fini(&settings);
    return status;
}
