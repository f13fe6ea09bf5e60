/*
 * Logging: one line per event on stderr, "time level component: message".
 * Log once, where the decision is made; lower layers return errors instead.
 * No secret is ever passed to these functions.
 *
 * Thread safety: cut_log() may be called from any thread; each line is
 * written with a single write(2) so lines from threads do not interleave.
 */
#ifndef CUTOVER_LOG_H
#define CUTOVER_LOG_H

enum cut_log_level { CUT_LOG_DEBUG, CUT_LOG_INFO, CUT_LOG_WARN, CUT_LOG_ERROR };

/** Set the lowest level that is printed. Call before threads start. */
void cut_log_set_level(enum cut_log_level level);

/** Parse "debug", "info", "warn" or "error"; returns -1 when unknown. */
int cut_log_level_parse(const char *name);

void cut_log(enum cut_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define cut_log_debug(c, ...) cut_log(CUT_LOG_DEBUG, c, __VA_ARGS__)
#define cut_log_info(c, ...)  cut_log(CUT_LOG_INFO, c, __VA_ARGS__)
#define cut_log_warn(c, ...)  cut_log(CUT_LOG_WARN, c, __VA_ARGS__)
#define cut_log_error(c, ...) cut_log(CUT_LOG_ERROR, c, __VA_ARGS__)

#endif
