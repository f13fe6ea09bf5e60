/*
 * The composition root's part of a run: each flow's converter. A flow with a
 * `mapping:` gets the mapping converter (converters/mapping.h) with its
 * loaded mapping and, for Avro, the Schema Registry client; the others get
 * passthrough. Loading happens on the main thread, before flows start.
 */
#ifndef CUTOVER_CLI_PLUGINS_H
#define CUTOVER_CLI_PLUGINS_H

#include <stdbool.h>

#include "mapping.h"
#include "registry.h"
#include "runner.h"
#include "settings.h"

struct cut_plugins {
    struct cut_flow_plugin *flows;      /* one per flow, for cut_runner_run() */
    struct cut_mapping **maps;          /* one per flow, NULL without a mapping */
    struct cut_mapping_settings *msets; /* one per flow */
    struct cut_registry *registry;      /* shared; used on the main thread only */
    size_t n;
};

/**
 * Load every flow's mapping, printing every error as FILE:LINE: KEY: message.
 * With @p connect, also create the Schema Registry client the Avro mappings
 * register with. Returns the number of errors; release with
 * cut_plugins_fini() in every case.
 */
int cut_plugins_load(const struct cut_settings *settings, bool connect, struct cut_plugins *p);
void cut_plugins_fini(struct cut_plugins *p);

#endif
