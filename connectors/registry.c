/*
 * The connector registry: one line per protocol. A new protocol is a new
 * folder under connectors/ plus one entry here; the bridge finds it by the
 * `protocol:` name in the config (see connector.h).
 */
#include <string.h>

#include "cutover/connector.h"

#include "amqp091/amqp091.h"
#include "amqp10/amqp10.h"
#include "kafka/kafka.h"

const struct cut_connector *const cut_connectors[] = {
    &cut_amqp091_connector,
    &cut_amqp10_connector,
    &cut_kafka_connector,
    NULL,
};

const struct cut_connector *cut_connector_find(const char *protocol)
{
    if (protocol == NULL) {
        return NULL;
    }
    for (size_t i = 0; cut_connectors[i] != NULL; i++) {
        if (strcmp(cut_connectors[i]->protocol, protocol) == 0) {
            return cut_connectors[i];
        }
    }
    return NULL;
}
