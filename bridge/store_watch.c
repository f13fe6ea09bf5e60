/*
 * The watcher: one thread of a running bridge that notices mode changes
 * made by anyone (the CLI, the admin API, the reconciler, another bridge)
 * and publishes them to the flows through a struct cut_mode_board.
 *
 * The poll is PRAGMA data_version: no I/O unless another connection
 * committed. Tracking writes commit every second too, so a change is
 * confirmed by loading the (small) mode table and comparing it with the
 * published one; only a real change bumps the board's generation.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cutover/log.h"
#include "store_int.h"

#define WATCH_DEFAULT_MS 250

struct cut_store_watch {
    struct cut_store *st; /* owned; used by the thread only once started */
    struct cut_mode_board *board;
    struct cut_mode_table current; /* what was published last */
    int interval_ms;
    pthread_t thread;
    pthread_mutex_t lock; /* guards stop */
    pthread_cond_t wake;
    bool stop;
    bool failing; /* the last poll failed: log the next failure only after a success */
};

/* Load the modes; publish them when they differ from the current ones. */
static int watch_refresh(struct cut_store_watch *w, bool force, struct cut_err *err)
{
    struct cut_mode_table t, copy;
    int rc = cut_store_modes_load(w->st, &t, err);
    if (rc != CUT_OK || (!force && cut_mode_table_equal(&t, &w->current))) {
        cut_mode_table_fini(&t);
        return rc;
    }
    /* Keep our own copy to compare with; the board takes t. */
    cut_mode_table_init(&copy);
    copy.has_default = t.has_default;
    copy.def = t.def;
    for (size_t i = 0; rc == CUT_OK && i < t.n; i++) {
        rc = cut_mode_table_set(&copy, t.entries[i].flow, t.entries[i].msg_type, t.entries[i].mode);
    }
    if (rc == CUT_OK) {
        rc = cut_mode_board_publish(w->board, &t);
    }
    if (rc != CUT_OK) {
        cut_mode_table_fini(&copy);
        cut_mode_table_fini(&t);
        return cut_err_set(err, rc, "out of memory");
    }
    cut_mode_table_fini(&w->current);
    w->current = copy;
    cut_log_info("modes", "mode table changed (%zu setting%s%s%s)", w->current.n,
                 w->current.n == 1 ? "" : "s", w->current.has_default ? ", default " : "",
                 w->current.has_default ? cut_mode_name(w->current.def) : "");
    return CUT_OK;
}

static void *watch_main(void *arg)
{
    struct cut_store_watch *w = arg;
    struct cut_err err;

    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)w->interval_ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (!w->stop && pthread_cond_timedwait(&w->wake, &w->lock, &until) != ETIMEDOUT) {
        }
        if (w->stop) {
            break;
        }
        pthread_mutex_unlock(&w->lock);

        bool changed = false;
        cut_err_clear(&err);
        int rc = cut_store_changed(w->st, &changed, &err);
        if (rc == CUT_OK && changed) {
            rc = watch_refresh(w, false, &err);
        }
        if (rc != CUT_OK && !w->failing) {
            cut_log_warn("modes", "cannot read mode changes (flows keep their modes): %s", err.msg);
        } else if (rc == CUT_OK && w->failing) {
            cut_log_info("modes", "reading mode changes again");
        }
        if (rc != CUT_OK) {
            /* Make sure the next successful poll reloads, whatever
             * data_version says by then. */
            w->st->last_version = -1;
        }
        w->failing = rc != CUT_OK;
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

int cut_store_watch_start(struct cut_store_watch **out, const char *path,
                          struct cut_mode_board *board, int interval_ms, struct cut_err *err)
{
    pthread_condattr_t attr;
    struct cut_store_watch *w = calloc(1, sizeof(*w));

    *out = NULL;
    if (w == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    w->board = board;
    w->interval_ms = interval_ms > 0 ? interval_ms : WATCH_DEFAULT_MS;
    cut_mode_table_init(&w->current);
    int rc = cut_store_open(&w->st, path, 0, err);
    if (rc == CUT_OK) {
        /* Publish even an empty table: the board's generation then says
         * "the store has been read". */
        rc = watch_refresh(w, true, err);
    }
    if (rc != CUT_OK) {
        cut_store_close(w->st);
        cut_mode_table_fini(&w->current);
        free(w);
        return rc;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    int e = pthread_create(&w->thread, NULL, watch_main, w);
    if (e != 0) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        cut_store_close(w->st);
        cut_mode_table_fini(&w->current);
        free(w);
        return cut_err_set(err, CUT_EFATAL, "cannot start the mode watcher: %s", strerror(e));
    }
    *out = w;
    return CUT_OK;
}

void cut_store_watch_stop(struct cut_store_watch *w)
{
    if (w == NULL) {
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    cut_store_close(w->st);
    cut_mode_table_fini(&w->current);
    free(w);
}
