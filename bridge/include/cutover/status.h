/*
 * Status codes and the error object shared by every layer of cutover.
 *
 * A fallible function returns int: CUT_OK (0) on success or one of the
 * negative statuses below. The status tells the caller what to do next; the
 * details (a human-readable message) go into a caller-provided struct cut_err.
 * Library error codes (librdkafka, proton, librabbitmq, libxml2, avro-c,
 * sqlite) are translated into these at the boundary of the module that calls
 * the library; they never travel further up.
 *
 * Thread safety: all functions here are reentrant; a struct cut_err belongs to
 * whoever declared it.
 */
#ifndef CUTOVER_STATUS_H
#define CUTOVER_STATUS_H

#include <stdarg.h>
#include <stddef.h>

enum cut_status {
    CUT_OK = 0,
    CUT_EAGAIN = -1, /**< nothing to do now; call again later (not an error) */
    CUT_ERETRY = -2, /**< transient failure: retry the same operation */
    CUT_EFULL = -3,  /**< back-pressure: slow the source down, retry later */
    CUT_EINVAL = -4, /**< bad input: the message or config is wrong, retry is useless */
    CUT_EFATAL = -5, /**< the connection or component is broken: rebuild it */
    CUT_ENOMEM = -6, /**< out of memory */
};

#define CUT_ERR_MSG_MAX 512

/** Details of a failure; fill with cut_err_set(). */
struct cut_err {
    int code;                  /**< one of enum cut_status */
    char msg[CUT_ERR_MSG_MAX]; /**< NUL-terminated description */
};

/**
 * Record a failure in @p err (which may be NULL) and return @p code, so that a
 * caller can write `return cut_err_set(err, CUT_EINVAL, "...", ...);`.
 */
int cut_err_set(struct cut_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Reset @p err to "no error". Accepts NULL. */
void cut_err_clear(struct cut_err *err);

/** Static name of a status ("EAGAIN", "ERETRY", ...). */
const char *cut_status_name(int code);

#endif
