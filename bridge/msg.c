#include <string.h>

#include "cutover/msg.h"

void cut_msg_init(struct cut_msg *msg)
{
    memset(msg, 0, sizeof(*msg));
    msg->body_kind = CUT_BODY_BYTES;
    msg->destination_type = CUT_DEST_NONE;
    msg->reply_to_type = CUT_DEST_NONE;
    msg->group_seq = -1;
    msg->priority = -1;
}

const struct cut_prop *cut_msg_prop(const struct cut_msg *msg, const char *name)
{
    for (size_t i = 0; i < msg->n_props; i++) {
        if (strcmp(msg->props[i].name, name) == 0) {
            return &msg->props[i];
        }
    }
    return NULL;
}

const char *cut_prop_type_name(enum cut_prop_type type)
{
    static const char *const names[] = {
        [CUT_PROP_NULL] = "null",
        [CUT_PROP_BOOL] = "boolean",
        [CUT_PROP_BYTE] = "byte",
        [CUT_PROP_SHORT] = "short",
        [CUT_PROP_INT] = "int",
        [CUT_PROP_LONG] = "long",
        [CUT_PROP_FLOAT] = "float",
        [CUT_PROP_DOUBLE] = "double",
        [CUT_PROP_STRING] = "string",
        [CUT_PROP_BYTES] = "bytes",
        [CUT_PROP_UUID] = "uuid",
        [CUT_PROP_SYMBOL] = "symbol",
        [CUT_PROP_TIMESTAMP] = "timestamp",
    };
    return (unsigned)type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}
