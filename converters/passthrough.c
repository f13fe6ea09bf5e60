/*
 * The passthrough converter: the Kafka value is the source body byte for
 * byte; the message id always travels as a header so that consumers can
 * detect the duplicates that at-least-once delivery allows.
 */
#include <stdlib.h>
#include <string.h>

#include "cutover/converter.h"

struct cut_converter {
    /* Header arrays reused for every message: no allocation per message. */
    const char *names[1];
    const void *values[1];
    size_t lens[1];
};

static int passthrough_create(struct cut_converter **conv, const void *settings,
                              struct cut_err *err)
{
    (void)settings;
    *conv = calloc(1, sizeof(**conv));
    if (*conv == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    return CUT_OK;
}

static int passthrough_convert(struct cut_converter *conv, const struct cut_msg *msg,
                               struct cut_record *rec, struct cut_err *err)
{
    (void)err;
    memset(rec, 0, sizeof(*rec));
    rec->value = msg->body;
    rec->value_len = msg->body_len;
    conv->names[0] = CUT_HDR_MESSAGE_ID;
    conv->values[0] = msg->message_id;
    conv->lens[0] = strlen(msg->message_id);
    rec->hdr_names = conv->names;
    rec->hdr_values = conv->values;
    rec->hdr_lens = conv->lens;
    rec->n_hdrs = 1;
    return CUT_OK;
}

static void passthrough_destroy(struct cut_converter *conv)
{
    free(conv);
}

const struct cut_converter_ops cut_passthrough_converter = {
    .name = "passthrough",
    .create = passthrough_create,
    .convert = passthrough_convert,
    .destroy = passthrough_destroy,
};
