#include <stdio.h>

#include "commands.h"
#include "plugins.h"
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
    struct cut_settings settings = {0};
    struct cut_plugins plugins = {0};
    const char *file;
    int status = cut_cli_config_arg(argc, argv, usage, &file);
    if (status >= 0) {
        return status;
    }
    if (cut_cli_load(file, &settings) > 0) {
        status = 1;
        goto out;
    }
    if (settings.n_flows == 0) {
        fprintf(stderr, "%s: no flows to run\n", file);
        status = 1;
        goto out;
    }
    cut_log_set_level(settings.log_level);
    if (cut_plugins_load(&settings, true, &plugins) > 0) {
        status = 1;
        goto out;
    }
    status = cut_runner_run(&settings, plugins.flows);
out:
    cut_plugins_fini(&plugins);
    cut_settings_fini(&settings);
    return status;
}
