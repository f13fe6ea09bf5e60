/*
 * `cutover validate -c FILE`: load FILE exactly as `run` would and print
 * every problem, one "FILE:LINE: KEY: message" line each, so that a config
 * can be checked in CI before it reaches a bridge. Nothing is connected to.
 */
#include <stdio.h>

#include "commands.h"
#include "plugins.h"
#include "settings.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: cutover validate -c FILE\n"
                 "Check FILE (keys, values, references between sections) and print every\n"
                 "error to stderr. Exit status: 0 valid, 1 invalid, 2 usage error.\n");
}

int cut_cmd_validate(int argc, char **argv)
{
    struct cut_settings settings = {0};
    const char *file;
    int status = cut_cli_config_arg(argc, argv, usage, &file);
    if (status >= 0) {
        return status;
    }
    status = 0;
    if (cut_cli_load(file, &settings) > 0) {
        status = 1;
        goto out;
    }
    /* Every mapping and its schema, without contacting the registry. */
    struct cut_plugins plugins;
    int nerr = cut_plugins_load(&settings, false, &plugins);
    cut_plugins_fini(&plugins);
    if (nerr > 0) {
        fprintf(stderr, "%s: %d error%s in mappings\n", file, nerr, nerr == 1 ? "" : "s");
        status = 1;
        goto out;
    }
    printf("%s: ok (%zu connection%s, %zu flow%s)\n", file, settings.n_conns,
           settings.n_conns == 1 ? "" : "s", settings.n_flows, settings.n_flows == 1 ? "" : "s");
out:
    cut_settings_fini(&settings);
    return status;
}
