#include <stdio.h>

#include "cutover/status.h"

int cut_err_set(struct cut_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void cut_err_clear(struct cut_err *err)
{
    if (err) {
        err->code = CUT_OK;
        err->msg[0] = '\0';
    }
}

const char *cut_status_name(int code)
{
    switch (code) {
    case CUT_OK:
        return "OK";
    case CUT_EAGAIN:
        return "EAGAIN";
    case CUT_ERETRY:
        return "ERETRY";
    case CUT_EFULL:
        return "EFULL";
    case CUT_EINVAL:
        return "EINVAL";
    case CUT_EFATAL:
        return "EFATAL";
    case CUT_ENOMEM:
        return "ENOMEM";
    default:
        return "UNKNOWN";
    }
}
