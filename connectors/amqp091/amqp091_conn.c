/*
 * AMQP 0-9-1 connections: the `connections:` keys, and the link (one
 * connection, channel 1, reconnect schedule, liveness) that the source and
 * the sink build on. See amqp091.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include "amqp091.h"
#include "cutover/backoff.h"
#include "cutover/log.h"

#define LOG_COMPONENT "amqp091"

#define CONN_OFF(field) offsetof(struct cut_amqp091_conn_settings, field)

const struct cut_cfg_key cut_amqp091_conn_keys[] = {
    {.name = "url",
     .type = CUT_CFG_STRING,
     .offset = CONN_OFF(url),
     .required = true,
     .secret = true,
     .desc = "amqp://user:password@host:port/vhost (plain TCP; percent-encode special "
             "characters; use ${ENV} for the password)"},
    {.name = "heartbeat",
     .type = CUT_CFG_MS,
     .offset = CONN_OFF(heartbeat_ms),
     .def = "30s",
     .min = 0,
     .max = 600000,
     .desc = "heartbeat interval asked of the broker (whole seconds on the wire), 0 = off; "
             "a broker silent for twice this long is declared dead"},
    {.name = "connect_timeout",
     .type = CUT_CFG_MS,
     .offset = CONN_OFF(connect_timeout_ms),
     .def = "10s",
     .min = 100,
     .max = 600000,
     .desc = "bound on the TCP connect and on each handshake step and setup RPC"},
    CUT_BACKOFF_CFG_KEYS(CONN_OFF(reconnect_backoff_min_ms), CONN_OFF(reconnect_backoff_max_ms)),
    {.name = NULL},
};

int64_t cut_amqp091_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cut_amqp091_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval ms_to_tv(int64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/*
 * amqp_parse_url() parses in place and points into its argument, so it gets a
 * copy; the copy holds the password and is wiped before it is freed.
 */
static char *url_parse(const char *url, struct amqp_connection_info *info, struct cut_err *err)
{
    char *copy = strdup(url);
    if (copy == NULL) {
        cut_err_set(err, CUT_ENOMEM, "out of memory");
        return NULL;
    }
    amqp_default_connection_info(info);
    if (amqp_parse_url(copy, info) != AMQP_STATUS_OK) {
        /* Never echo the URL: it may carry the password. */
        cut_err_set(err, CUT_EINVAL, "url: not a valid amqp://user:password@host:port/vhost URL");
        goto fail;
    }
    if (info->ssl) {
        cut_err_set(err, CUT_EINVAL, "url: amqps:// (TLS) is not supported yet; use amqp://");
        goto fail;
    }
    return copy;
fail:
    explicit_bzero(copy, strlen(url));
    free(copy);
    return NULL;
}

static void url_free(char *copy, const char *url)
{
    if (copy != NULL) {
        explicit_bzero(copy, strlen(url));
        free(copy);
    }
}

int cut_amqp091_url_check(const char *url, struct cut_err *err)
{
    struct amqp_connection_info info;
    char *copy = url_parse(url, &info, err);
    if (copy == NULL) {
        return err != NULL ? err->code : CUT_EINVAL;
    }
    url_free(copy, url);
    return CUT_OK;
}

int cut_amqp091_url_user(const char *url, char *user, size_t size, struct cut_err *err)
{
    struct amqp_connection_info info;
    char *copy = url_parse(url, &info, err);
    if (copy == NULL) {
        return err != NULL ? err->code : CUT_EINVAL;
    }
    snprintf(user, size, "%s", info.user);
    url_free(copy, url);
    return CUT_OK;
}

void cut_amqp091_link_init(struct cut_amqp091_link *link,
                           const struct cut_amqp091_conn_settings *cfg, const char *flow,
                           const char *role)
{
    memset(link, 0, sizeof(*link));
    link->cfg = cfg;
    link->flow = flow;
    link->role = role;
    link->state = CUT_CONN_DOWN;
    /* The jitter only has to differ between instances, not be unpredictable. */
    link->rng = (uint64_t)cut_amqp091_wall_ms() ^ ((uint64_t)(uintptr_t)link << 16) ^
                ((uint64_t)getpid() << 40) ^ UINT64_C(0x9e3779b97f4a7c15);
    snprintf(link->peer, sizeof(link->peer), "(not connected yet)");
}

/* When to try again: the shared reconnect backoff (cutover/backoff.h). */
static int64_t link_schedule(struct cut_amqp091_link *link, int64_t now)
{
    struct cut_backoff b = {
        .min_ms = link->cfg->reconnect_backoff_min_ms,
        .max_ms = link->cfg->reconnect_backoff_max_ms,
        .attempts = link->attempts,
        .rng = link->rng,
    };
    int64_t wait = cut_backoff_next(&b);
    link->attempts = b.attempts;
    link->rng = b.rng;
    link->retry_at_ms = now + wait;
    return wait;
}

int cut_amqp091_reply_err(amqp_rpc_reply_t reply, const char *what, struct cut_err *err)
{
    switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return CUT_OK;
    case AMQP_RESPONSE_NONE:
        return cut_err_set(err, CUT_EFATAL, "%s: no reply", what);
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        return cut_err_set(err, CUT_EFATAL, "%s: %s", what,
                           amqp_error_string2(reply.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            const amqp_connection_close_t *m = reply.reply.decoded;
            return cut_err_set(err, CUT_EFATAL, "%s: connection closed by the broker: %u %.*s",
                               what, m->reply_code, (int)m->reply_text.len,
                               (const char *)m->reply_text.bytes);
        }
        if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const amqp_channel_close_t *m = reply.reply.decoded;
            return cut_err_set(err, CUT_EFATAL, "%s: channel closed by the broker: %u %.*s", what,
                               m->reply_code, (int)m->reply_text.len,
                               (const char *)m->reply_text.bytes);
        }
        return cut_err_set(err, CUT_EFATAL, "%s: unexpected reply %s", what,
                           amqp_method_name(reply.reply.id));
    }
    return cut_err_set(err, CUT_EFATAL, "%s: unknown reply type %d", what, (int)reply.reply_type);
}

/* Log a failure once per outage, at debug afterwards, so a long outage is one line. */
static void link_log_failure(struct cut_amqp091_link *link, bool was_up, int64_t wait_ms)
{
    if (was_up) {
        cut_log_warn(LOG_COMPONENT, "flow %s %s: connection to %s lost: %s; reconnecting",
                     link->flow, link->role, link->peer, link->reason);
    } else if (!link->quiet) {
        cut_log_warn(LOG_COMPONENT,
                     "flow %s %s: cannot connect to %s: %s; retrying with backoff (next in "
                     "%lld ms, further failures logged at debug level)",
                     link->flow, link->role, link->peer, link->reason, (long long)wait_ms);
    } else {
        cut_log_debug(LOG_COMPONENT, "flow %s %s: still cannot connect to %s: %s; next in %lld ms",
                      link->flow, link->role, link->peer, link->reason, (long long)wait_ms);
    }
    link->quiet = true;
}

int cut_amqp091_link_open(struct cut_amqp091_link *link, struct cut_err *err)
{
    const struct cut_amqp091_conn_settings *cfg = link->cfg;
    struct amqp_connection_info info;
    amqp_connection_state_t conn = NULL;
    struct cut_err local;
    char *url = NULL;
    int64_t now = cut_amqp091_now_ms();
    int rc = CUT_OK;

    if (err == NULL) {
        err = &local;
    }
    if (link->conn != NULL) {
        return CUT_OK;
    }
    if (now < link->retry_at_ms) {
        return cut_err_set(err, CUT_EAGAIN, "reconnecting to %s in %lld ms (last error: %s)",
                           link->peer, (long long)(link->retry_at_ms - now), link->reason);
    }
    cut_amqp091_link_reap(link);
    link->state = CUT_CONN_CONNECTING;

    url = url_parse(cfg->url, &info, err);
    if (url == NULL) {
        rc = err->code;
        goto out;
    }
    snprintf(link->peer, sizeof(link->peer), "%s:%d vhost %s", info.host, info.port, info.vhost);

    conn = amqp_new_connection();
    amqp_socket_t *sock = conn != NULL ? amqp_tcp_socket_new(conn) : NULL;
    if (sock == NULL) {
        rc = cut_err_set(err, CUT_ENOMEM, "out of memory");
        goto out;
    }
    struct timeval tv = ms_to_tv(cfg->connect_timeout_ms);
    if (amqp_set_handshake_timeout(conn, &tv) != AMQP_STATUS_OK ||
        amqp_set_rpc_timeout(conn, &tv) != AMQP_STATUS_OK) {
        rc = cut_err_set(err, CUT_EINVAL, "connect_timeout out of range");
        goto out;
    }
    int status = amqp_socket_open_noblock(sock, info.host, info.port, &tv);
    if (status != AMQP_STATUS_OK) {
        rc = cut_err_set(err, CUT_ERETRY, "TCP connect: %s", amqp_error_string2(status));
        goto out;
    }

    /* consumer_cancel_notify: without it RabbitMQ does not tell us when our
     * queue is deleted and the consumer silently stops receiving.
     * connection.blocked: a publisher learns that a resource alarm stopped
     * the broker reading, instead of blocking in a write.
     * connection_name: shows which flow this is in the management UI. */
    char name[200];
    snprintf(name, sizeof(name), "cutover flow %s %s", link->flow, link->role);
    amqp_table_entry_t caps[2] = {
        {.key = amqp_cstring_bytes("consumer_cancel_notify"),
         .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value = {.boolean = 1}}},
        {.key = amqp_cstring_bytes("connection.blocked"),
         .value = {.kind = AMQP_FIELD_KIND_BOOLEAN, .value = {.boolean = 1}}},
    };
    amqp_table_entry_t props[2] = {
        {.key = amqp_cstring_bytes("connection_name"),
         .value = {.kind = AMQP_FIELD_KIND_UTF8, .value = {.bytes = amqp_cstring_bytes(name)}}},
        {.key = amqp_cstring_bytes("capabilities"),
         .value = {.kind = AMQP_FIELD_KIND_TABLE,
                   .value = {.table = {.num_entries = 2, .entries = caps}}}},
    };
    amqp_table_t table = {.num_entries = 2, .entries = props};
    /* Round up so that a sub-second setting does not switch heartbeats off. */
    int heartbeat_s = (int)((cfg->heartbeat_ms + 999) / 1000);
    amqp_rpc_reply_t reply =
        amqp_login_with_properties(conn, info.vhost, 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat_s,
                                   &table, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
    if (cut_amqp091_reply_err(reply, "login", err) != CUT_OK) {
        rc = CUT_ERETRY;
        goto out;
    }
    amqp_channel_open(conn, CUT_AMQP091_CHANNEL);
    if (cut_amqp091_reply_err(amqp_get_rpc_reply(conn), "channel.open", err) != CUT_OK) {
        rc = CUT_ERETRY;
        goto out;
    }
    link->conn = conn;
    conn = NULL;
    link->heartbeat_ms = (int64_t)amqp_get_heartbeat(link->conn) * 1000;
    link->last_rx_ms = now;
    link->last_tx_ms = now;
out:
    url_free(url, cfg->url);
    if (conn != NULL) {
        amqp_destroy_connection(conn);
    }
    if (rc != CUT_OK) {
        snprintf(link->reason, sizeof(link->reason), "%s", err->msg);
        err->code = CUT_ERETRY;
        link->state = CUT_CONN_DOWN;
        link_log_failure(link, false, link_schedule(link, cut_amqp091_now_ms()));
        rc = CUT_ERETRY;
    }
    return rc;
}

void cut_amqp091_link_up(struct cut_amqp091_link *link)
{
    link->state = CUT_CONN_UP;
    link->up_since_ms = cut_amqp091_now_ms();
    link->quiet = false;
    if (link->heartbeat_ms > 0) {
        cut_log_info(LOG_COMPONENT, "flow %s %s: connected to %s (heartbeat %lld s)", link->flow,
                     link->role, link->peer, (long long)link->heartbeat_ms / 1000);
    } else {
        cut_log_info(LOG_COMPONENT, "flow %s %s: connected to %s (heartbeats off)", link->flow,
                     link->role, link->peer);
    }
}

void cut_amqp091_link_fail(struct cut_amqp091_link *link, const char *fmt, ...)
{
    int64_t now = cut_amqp091_now_ms();
    bool was_up = link->state == CUT_CONN_UP;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(link->reason, sizeof(link->reason), fmt, ap);
    va_end(ap);
    if (link->conn == NULL) {
        return;
    }
    /* Close the TCP connection now, so the broker requeues our unacked
     * deliveries at once, but keep librabbitmq's memory: the message the
     * flow fetched last may still point into it (see link_reap). */
    int fd = amqp_get_sockfd(link->conn);
    if (fd >= 0) {
        shutdown(fd, SHUT_RDWR);
    }
    cut_amqp091_link_reap(link);
    link->zombie = link->conn;
    link->conn = NULL;
    link->state = CUT_CONN_DOWN;
    link->lost = was_up;
    /* A link that stayed up a while starts the backoff over; one that keeps
     * dying right after setup keeps backing off further. */
    if (was_up && now - link->up_since_ms >= link->cfg->reconnect_backoff_max_ms) {
        link->attempts = 0;
    }
    link_log_failure(link, was_up, link_schedule(link, now));
}

void cut_amqp091_link_reap(struct cut_amqp091_link *link)
{
    if (link->zombie != NULL) {
        amqp_destroy_connection(link->zombie);
        link->zombie = NULL;
    }
}

void cut_amqp091_link_rx(struct cut_amqp091_link *link, int64_t now_ms)
{
    link->last_rx_ms = now_ms;
}

void cut_amqp091_link_tx(struct cut_amqp091_link *link, int64_t now_ms)
{
    link->last_tx_ms = now_ms;
}

int cut_amqp091_link_tick(struct cut_amqp091_link *link, int64_t now_ms, bool check_rx)
{
    if (link->conn == NULL || link->heartbeat_ms <= 0) {
        return CUT_OK;
    }
    /* librabbitmq sends heartbeats only while it waits for a frame, which a
     * flow under back-pressure may not ask it to do for a long time. */
    if (now_ms - link->last_tx_ms >= link->heartbeat_ms / 2) {
        amqp_frame_t frame;
        memset(&frame, 0, sizeof(frame));
        frame.frame_type = AMQP_FRAME_HEARTBEAT;
        frame.channel = 0;
        int status = amqp_send_frame(link->conn, &frame);
        if (status != AMQP_STATUS_OK) {
            cut_amqp091_link_fail(link, "sending heartbeat: %s", amqp_error_string2(status));
            return CUT_EFATAL;
        }
        link->last_tx_ms = now_ms;
    }
    /* With the zero timeouts we poll with, librabbitmq never reaches its own
     * missed-heartbeat check, so it is done here. */
    if (check_rx && now_ms - link->last_rx_ms > 2 * link->heartbeat_ms) {
        cut_amqp091_link_fail(link, "no data from the broker for %lld ms (heartbeat %lld s)",
                              (long long)(now_ms - link->last_rx_ms),
                              (long long)link->heartbeat_ms / 1000);
        return CUT_EFATAL;
    }
    return CUT_OK;
}

void cut_amqp091_link_close(struct cut_amqp091_link *link, int64_t timeout_ms)
{
    if (link->conn != NULL) {
        struct timeval tv = ms_to_tv(timeout_ms);
        amqp_set_rpc_timeout(link->conn, &tv);
        /* Unacked deliveries go back to the queue when the channel closes. */
        amqp_rpc_reply_t reply =
            amqp_channel_close(link->conn, CUT_AMQP091_CHANNEL, AMQP_REPLY_SUCCESS);
        if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
            amqp_connection_close(link->conn, AMQP_REPLY_SUCCESS);
        }
        amqp_destroy_connection(link->conn);
        link->conn = NULL;
        if (link->state == CUT_CONN_UP) {
            cut_log_info(LOG_COMPONENT, "flow %s %s: disconnected from %s", link->flow, link->role,
                         link->peer);
        }
    }
    link->state = CUT_CONN_DOWN;
    cut_amqp091_link_reap(link);
}
