#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka.h"
#include "plugins.h"

int cut_plugins_load(const struct cut_settings *settings, bool connect, struct cut_plugins *p)
{
    int nerr = 0;
    size_t n = settings->n_flows ? settings->n_flows : 1;
    memset(p, 0, sizeof(*p));
    p->flows = calloc(n, sizeof(*p->flows));
    p->maps = calloc(n, sizeof(*p->maps));
    p->msets = calloc(n, sizeof(*p->msets));
    if (p->flows == NULL || p->maps == NULL || p->msets == NULL) {
        fprintf(stderr, "cutover: out of memory\n");
        return 1;
    }
    p->n = settings->n_flows;
    for (size_t i = 0; i < settings->n_flows; i++) {
        const struct cut_flow_cfg *cfg = &settings->flows[i];
        struct cut_cfg_errors errs = {0};
        if (cfg->mapping == NULL) {
            continue;
        }
        if (cut_mapping_load(cfg->mapping, &p->maps[i], &errs) != CUT_OK) {
            for (size_t e = 0; e < errs.n; e++) {
                fprintf(stderr, "%s\n", errs.lines[e]);
            }
            nerr += errs.n > 0 ? (int)errs.n : 1;
            cut_cfg_errors_fini(&errs);
            continue;
        }
        cut_cfg_errors_fini(&errs);
        if (cut_mapping_format(p->maps[i]) == CUT_MAPPING_AVRO && settings->registry_url == NULL) {
            fprintf(stderr,
                    "%s:%d: flows.%s.mapping: %s writes Avro, which needs schema_registry.url\n",
                    settings->file, cfg->line, cfg->name, cfg->mapping);
            nerr++;
        }
        const struct cut_kafka_sink_settings *ks = cfg->kafka_settings;
        p->msets[i] = (struct cut_mapping_settings){
            .map = p->maps[i],
            .flow = cfg->name,
            .topic = ks != NULL ? ks->topic : NULL,
        };
        p->flows[i] = (struct cut_flow_plugin){
            .conv_ops = &cut_mapping_converter,
            .conv_settings = &p->msets[i],
        };
    }
    if (connect && nerr == 0 && settings->registry_url != NULL) {
        struct cut_err err;
        struct cut_registry_opts opts = {
            .url = settings->registry_url,
            .username = settings->registry_username,
            .password = settings->registry_password,
        };
        if (cut_registry_create_opts(&p->registry, &opts, &err) != CUT_OK) {
            fprintf(stderr, "%s: schema_registry: %s\n", settings->file, err.msg);
            return nerr + 1;
        }
    }
    for (size_t i = 0; i < settings->n_flows; i++) {
        p->msets[i].registry = p->registry;
    }
    return nerr;
}

void cut_plugins_fini(struct cut_plugins *p)
{
    for (size_t i = 0; p->maps != NULL && i < p->n; i++) {
        cut_mapping_destroy(p->maps[i]);
    }
    cut_registry_destroy(p->registry);
    free(p->flows);
    free(p->maps);
    free(p->msets);
    memset(p, 0, sizeof(*p));
}
