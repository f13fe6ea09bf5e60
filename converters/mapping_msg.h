/*
 * A message built from NAME=VALUE texts, the way `cutover convert --header`
 * and the golden tests (tests/data/mappings) describe one: JMS header names
 * set the envelope, any other name sets an application property.
 *
 *   JMSMessageID JMSCorrelationID JMSType JMSDestination JMSReplyTo
 *   JMSXGroupID JMSXUserID                      text
 *   JMSPriority                                 0-9
 *   JMSTimestamp JMSExpiration                  ms since the epoch, or ISO 8601
 *   JMSDeliveryMode                             PERSISTENT | NON_PERSISTENT
 *   JMSXDeliveryCount                           1 for a first delivery
 *   JMSXGroupSeq                                integer
 *   NAME[:TYPE]                                 property; TYPE is string (the
 *                                               default), boolean, byte, short,
 *                                               int, long, float, double or null
 *
 * The message starts with JMSMessageID "ID:cutover-convert-1", a TEXT body
 * kind, PERSISTENT and no priority. Not thread-safe; owns its strings.
 */
#ifndef CUTOVER_MAPPING_MSG_H
#define CUTOVER_MAPPING_MSG_H

#include <stddef.h>

#include "cutover/msg.h"
#include "cutover/status.h"

struct cut_mapping_msg {
    struct cut_msg msg; /**< the message; its pointers are owned by this struct */
    struct cut_prop *props;
    size_t n_props, cap_props;
    char **strings;
    size_t n_strings, cap_strings;
};

void cut_mapping_msg_init(struct cut_mapping_msg *m);
void cut_mapping_msg_fini(struct cut_mapping_msg *m);

/**
 * Set header or property @p name to @p value (both copied).
 * @return CUT_OK, CUT_EINVAL (err says why: bad number, unknown type), CUT_ENOMEM.
 */
int cut_mapping_msg_set(struct cut_mapping_msg *m, const char *name, const char *value,
                        struct cut_err *err);

/** The same from one "NAME=VALUE" text. */
int cut_mapping_msg_set_arg(struct cut_mapping_msg *m, const char *arg, struct cut_err *err);

/** The body (copied). */
int cut_mapping_msg_set_body(struct cut_mapping_msg *m, const void *body, size_t len,
                             struct cut_err *err);

#endif
