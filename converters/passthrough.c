/*
 * The passthrough converter: the Kafka value is the source body byte for
 * byte; the envelope travels as Kafka headers (converters/jms_headers.c), the
 * message id always, so that consumers can detect the duplicates that
 * at-least-once delivery allows.
 */
#include <stdlib.h>
#include <string.h>

#include "cutover/converter.h"
#include "jms_headers.h"

struct cut_converter {
    struct cut_jms_headers hdrs; /* reused for every message */
};

static int passthrough_create(struct cut_converter **conv, const void *settings,
                              struct cut_err *err)
{
    (void)settings;
    *conv = calloc(1, sizeof(**conv));
    if (*conv == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    cut_jms_headers_init(&(*conv)->hdrs);
    return CUT_OK;
}

static int passthrough_convert(struct cut_converter *conv, const struct cut_msg *msg,
                               struct cut_record *rec, enum cut_verdict *verdict,
                               struct cut_err *err)
{
    *verdict = CUT_VERDICT_SEND;
    memset(rec, 0, sizeof(*rec));
    rec->value = msg->body;
    rec->value_len = msg->body_len;
    if (cut_jms_headers_build(&conv->hdrs, msg, rec) != CUT_OK) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory building headers");
    }
    return CUT_OK;
}

static void passthrough_destroy(struct cut_converter *conv)
{
    if (conv != NULL) {
        cut_jms_headers_fini(&conv->hdrs);
        free(conv);
    }
}

const struct cut_converter_ops cut_passthrough_converter = {
    .name = "passthrough",
    .create = passthrough_create,
    .convert = passthrough_convert,
    .destroy = passthrough_destroy,
};
