/*
 * One AMQP 1.0 connection as a non-blocking socket driven through proton's
 * connection driver, with SASL, TLS, idle timeout and the reconnect
 * schedule. The settings it runs on are prepared in amqp10_conf.c. See
 * amqp10.h for the model.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/sasl.h>
#include <proton/transport.h>

#include "amqp10.h"
#include "cutover/backoff.h"
#include "cutover/log.h"

#define LOG_COMPONENT "amqp10"

/* Reads per pump: enough to drain a busy socket, bounded so that one
 * connection cannot starve the rest of the flow's loop. */
#define READS_PER_PUMP 16

int64_t cut_amqp10_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cut_amqp10_condition_text(pn_condition_t *cond, char *out, size_t len)
{
    const char *name = cond != NULL ? pn_condition_get_name(cond) : NULL;
    const char *desc = cond != NULL ? pn_condition_get_description(cond) : NULL;
    if (name != NULL && desc != NULL) {
        snprintf(out, len, "%s: %s", name, desc);
    } else {
        snprintf(out, len, "%s", name != NULL ? name : desc != NULL ? desc : "");
    }
}

/* ---- schedule and logging ------------------------------------------------- */

/* When to try again: the shared reconnect backoff (cutover/backoff.h). */
static int64_t conn_schedule(struct cut_amqp10_conn *conn, int64_t now)
{
    struct cut_backoff b = {
        .min_ms = conn->cfg->reconnect_backoff_min_ms,
        .max_ms = conn->cfg->reconnect_backoff_max_ms,
        .attempts = conn->attempts,
        .rng = conn->rng,
    };
    int64_t wait = cut_backoff_next(&b);
    conn->attempts = b.attempts;
    conn->rng = b.rng;
    conn->retry_at_ms = now + wait;
    return wait;
}

static void conn_log_failure(struct cut_amqp10_conn *conn, bool was_up, int64_t wait_ms)
{
    if (was_up) {
        cut_log_warn(LOG_COMPONENT, "flow %s %s: connection to %s lost: %s; reconnecting",
                     conn->flow, conn->role, conn->peer, conn->reason);
    } else if (!conn->quiet) {
        cut_log_warn(LOG_COMPONENT,
                     "flow %s %s: cannot connect to %s: %s; retrying with backoff (next in "
                     "%lld ms, further failures logged at debug level)",
                     conn->flow, conn->role, conn->peer, conn->reason, (long long)wait_ms);
    } else {
        cut_log_debug(LOG_COMPONENT, "flow %s %s: still cannot connect to %s: %s; next in %lld ms",
                      conn->flow, conn->role, conn->peer, conn->reason, (long long)wait_ms);
    }
    conn->quiet = true;
}

static void conn_teardown(struct cut_amqp10_conn *conn)
{
    if (conn->have_driver) {
        pn_connection_driver_destroy(&conn->driver);
        conn->have_driver = false;
    }
    if (conn->fd >= 0) {
        close(conn->fd);
        conn->fd = -1;
    }
    if (conn->addrs != NULL) {
        freeaddrinfo(conn->addrs);
        conn->addrs = NULL;
        conn->addr_next = NULL;
    }
    conn->tcp_up = false;
    conn->dead = false;
}

/* Tear down a failed connection and schedule the next attempt. */
static void conn_finish_failure(struct cut_amqp10_conn *conn)
{
    int64_t now = cut_amqp10_now_ms();
    bool was_up = conn->state == CUT_CONN_UP;

    conn_teardown(conn);
    conn->state = CUT_CONN_DOWN;
    conn->lost = conn->lost || was_up;
    /* A connection that stayed up a while starts the backoff over; one that
     * keeps dying right after setup keeps backing off further. */
    if (was_up && now - conn->up_since_ms >= conn->cfg->reconnect_backoff_max_ms) {
        conn->attempts = 0;
    }
    conn_log_failure(conn, was_up, conn_schedule(conn, now));
}

void cut_amqp10_conn_fail(struct cut_amqp10_conn *conn, const char *fmt, ...)
{
    va_list ap;

    if (!conn->have_driver || conn->dead) {
        return; /* the first reason stands */
    }
    va_start(ap, fmt);
    vsnprintf(conn->reason, sizeof(conn->reason), fmt, ap);
    va_end(ap);
    conn->dead = true;
    if (!conn->in_pump) {
        conn_finish_failure(conn);
    }
}

void cut_amqp10_conn_up(struct cut_amqp10_conn *conn)
{
    pn_transport_t *t = conn->driver.transport;
    const char *mech = pn_sasl_get_mech(pn_sasl(t));

    conn->state = CUT_CONN_UP;
    conn->up_since_ms = cut_amqp10_now_ms();
    conn->quiet = false;
    cut_log_info(LOG_COMPONENT,
                 "flow %s %s: connected to %s (SASL %s, idle timeout %u ms ours / %u ms the "
                 "peer's)",
                 conn->flow, conn->role, conn->peer, mech != NULL ? mech : "none",
                 (unsigned)pn_transport_get_idle_timeout(t),
                 (unsigned)pn_transport_get_remote_idle_timeout(t));
}

int cut_amqp10_conn_fd(const struct cut_amqp10_conn *conn)
{
    return conn->have_driver ? conn->fd : -1;
}

/* ---- start ---------------------------------------------------------------- */

/* A non-blocking connect to the next resolved address that takes the attempt. */
static int tcp_connect_next(struct cut_amqp10_conn *conn, int *last_errno)
{
    while (conn->addr_next != NULL) {
        struct addrinfo *ai = conn->addr_next;
        conn->addr_next = ai->ai_next;
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            *last_errno = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
            conn->fd = fd;
            return CUT_OK;
        }
        *last_errno = errno;
        close(fd);
    }
    return CUT_ERETRY;
}

static int tcp_start(struct cut_amqp10_conn *conn, struct cut_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int e = getaddrinfo(conn->host, conn->port, &hints, &conn->addrs);
    if (e != 0) {
        conn->addrs = NULL;
        return cut_err_set(err, CUT_ERETRY, "resolving %s: %s", conn->host, gai_strerror(e));
    }
    conn->addr_next = conn->addrs;
    int last = 0;
    if (tcp_connect_next(conn, &last) != CUT_OK) {
        return cut_err_set(err, CUT_ERETRY, "TCP connect: %s", strerror(last));
    }
    return CUT_OK;
}

static int driver_start(struct cut_amqp10_conn *conn, struct cut_err *err)
{
    if (pn_connection_driver_init(&conn->driver, NULL, NULL) != 0) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    conn->have_driver = true;
    pn_transport_t *t = conn->driver.transport;
    pn_connection_t *c = conn->driver.connection;

    pn_transport_set_idle_timeout(t, (pn_millis_t)conn->cfg->idle_timeout_ms);
    if (conn->use_tls) {
        pn_ssl_t *ssl = pn_ssl(t);
        if (ssl == NULL || pn_ssl_init(ssl, conn->ssl_domain, NULL) != 0) {
            return cut_err_set(err, CUT_ERETRY, "tls: cannot start a TLS session");
        }
        /* SNI, and the name that PN_SSL_VERIFY_PEER_NAME checks. */
        pn_ssl_set_peer_hostname(ssl, conn->host);
    }
    pn_sasl_t *sasl = pn_sasl(t);
    pn_sasl_allowed_mechs(sasl, conn->mechs);
    pn_sasl_set_allow_insecure_mechs(sasl, true);
    if (conn->user != NULL) {
        pn_connection_set_user(c, conn->user);
    }
    if (conn->pass != NULL) {
        pn_connection_set_password(c, conn->pass);
    }
    pn_connection_set_container(c, conn->container);
    pn_connection_set_hostname(c, conn->host);
    pn_connection_open(c);
    return CUT_OK;
}

int cut_amqp10_conn_start(struct cut_amqp10_conn *conn, struct cut_err *err)
{
    int64_t now = cut_amqp10_now_ms();
    int rc;

    if (conn->have_driver) {
        return CUT_EAGAIN;
    }
    if (now < conn->retry_at_ms) {
        return cut_err_set(err, CUT_EAGAIN, "reconnecting to %s in %lld ms (last error: %s)",
                           conn->peer, (long long)(conn->retry_at_ms - now), conn->reason);
    }
    conn->epoch++;
    conn->state = CUT_CONN_CONNECTING;
    conn->deadline_ms = now + conn->cfg->connect_timeout_ms;
    rc = tcp_start(conn, err);
    if (rc == CUT_OK) {
        rc = driver_start(conn, err);
    }
    if (rc != CUT_OK) {
        snprintf(conn->reason, sizeof(conn->reason), "%s", err != NULL ? err->msg : "failed");
        conn_finish_failure(conn);
        return CUT_ERETRY;
    }
    return CUT_OK;
}

/* ---- pump ----------------------------------------------------------------- */

static void conn_handle(struct cut_amqp10_conn *conn, pn_event_t *ev)
{
    char text[CUT_ERR_MSG_MAX - 64];

    switch (pn_event_type(ev)) {
    case PN_TRANSPORT_ERROR:
    case PN_TRANSPORT_CLOSED:
        cut_amqp10_condition_text(pn_transport_condition(conn->driver.transport), text,
                                  sizeof(text));
        cut_amqp10_conn_fail(conn, "%s", text[0] != '\0' ? text : "connection closed");
        break;
    case PN_CONNECTION_REMOTE_CLOSE:
        cut_amqp10_condition_text(pn_connection_remote_condition(conn->driver.connection), text,
                                  sizeof(text));
        cut_amqp10_conn_fail(conn, "closed by the broker%s%s", text[0] != '\0' ? ": " : "", text);
        break;
    default:
        break;
    }
}

static void conn_dispatch(struct cut_amqp10_conn *conn)
{
    pn_event_t *ev;
    while ((ev = pn_connection_driver_next_event(&conn->driver)) != NULL) {
        conn_handle(conn, ev);
        if (!conn->dead && conn->on_event != NULL) {
            conn->on_event(conn->opaque, ev);
        }
    }
}

static bool tcp_progress(struct cut_amqp10_conn *conn)
{
    struct pollfd pfd = {.fd = conn->fd, .events = POLLOUT};
    if (poll(&pfd, 1, 0) <= 0) {
        return false;
    }
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) {
        soerr = errno;
    }
    if (soerr != 0) {
        /* Refused on this address (say ::1 for a broker on 127.0.0.1 only):
         * the next one, if any, within the same attempt and deadline. */
        close(conn->fd);
        conn->fd = -1;
        int last = soerr;
        if (tcp_connect_next(conn, &last) != CUT_OK) {
            cut_amqp10_conn_fail(conn, "TCP connect: %s", strerror(last));
        }
        return false;
    }
    conn->tcp_up = true;
    return true;
}

static void conn_read(struct cut_amqp10_conn *conn)
{
    pn_connection_driver_t *d = &conn->driver;
    for (int i = 0; i < READS_PER_PUMP && !conn->dead; i++) {
        conn_dispatch(conn);
        pn_rwbytes_t buf = pn_connection_driver_read_buffer(d);
        if (buf.size == 0) {
            break;
        }
        ssize_t n = read(conn->fd, buf.start, buf.size);
        if (n > 0) {
            pn_connection_driver_read_done(d, (size_t)n);
            continue;
        }
        if (n == 0) {
            pn_connection_driver_read_close(d);
        } else if (errno == EINTR) {
            continue;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            pn_connection_driver_errorf(d, "amqp:connection:framing-error", "read: %s",
                                        strerror(errno));
            pn_connection_driver_read_close(d);
        }
        break;
    }
}

int cut_amqp10_conn_write(struct cut_amqp10_conn *conn)
{
    pn_connection_driver_t *d = &conn->driver;

    if (!conn->have_driver || !conn->tcp_up || conn->dead) {
        return CUT_OK;
    }
    for (;;) {
        pn_bytes_t buf = pn_connection_driver_write_buffer(d);
        if (buf.size == 0) {
            return CUT_OK;
        }
        ssize_t n = send(conn->fd, buf.start, buf.size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            pn_connection_driver_write_done(d, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return CUT_OK;
        }
        pn_connection_driver_errorf(d, "amqp:connection:framing-error", "write: %s",
                                    n < 0 ? strerror(errno) : "closed");
        pn_connection_driver_write_close(d);
        return CUT_EFATAL;
    }
}

int cut_amqp10_conn_pump(struct cut_amqp10_conn *conn)
{
    int64_t now = cut_amqp10_now_ms();

    if (!conn->have_driver) {
        return CUT_EAGAIN;
    }
    conn->in_pump = true;
    if (!conn->tcp_up && !conn->dead && !tcp_progress(conn) && !conn->dead) {
        if (now >= conn->deadline_ms) {
            cut_amqp10_conn_fail(conn, "TCP connect timed out after %lld ms",
                                 (long long)conn->cfg->connect_timeout_ms);
        }
        goto out;
    }
    if (conn->state == CUT_CONN_CONNECTING && now >= conn->deadline_ms) {
        cut_amqp10_conn_fail(conn,
                             "AMQP handshake (TLS, SASL, open, attach) not done after "
                             "%lld ms",
                             (long long)conn->cfg->connect_timeout_ms);
    }
    if (!conn->dead) {
        conn_read(conn);
    }
    if (!conn->dead) {
        pn_transport_tick(conn->driver.transport, now);
        conn_dispatch(conn);
    }
    if (!conn->dead) {
        cut_amqp10_conn_write(conn);
        conn_dispatch(conn);
    }
    if (!conn->dead && pn_connection_driver_finished(&conn->driver)) {
        cut_amqp10_conn_fail(conn, "connection closed");
    }
out:
    conn->in_pump = false;
    if (conn->dead) {
        conn_finish_failure(conn);
        return CUT_EFATAL;
    }
    return CUT_OK;
}

void cut_amqp10_conn_close(struct cut_amqp10_conn *conn, int64_t timeout_ms)
{
    if (!conn->have_driver) {
        conn->state = CUT_CONN_DOWN;
        return;
    }
    bool was_up = conn->state == CUT_CONN_UP;
    if (conn->tcp_up && !conn->dead) {
        int64_t deadline = cut_amqp10_now_ms() + timeout_ms;
        pn_connection_close(conn->driver.connection);
        /* Pump until the peer's close arrives (the transport then finishes):
         * unsettled deliveries are only released back once it has our close. */
        conn->in_pump = true;
        while (!conn->dead && !pn_connection_driver_finished(&conn->driver)) {
            int64_t left = deadline - cut_amqp10_now_ms();
            if (left <= 0) {
                break;
            }
            conn_read(conn);
            conn_dispatch(conn);
            cut_amqp10_conn_write(conn);
            conn_dispatch(conn);
            if (pn_connection_driver_finished(&conn->driver) || conn->dead) {
                break;
            }
            struct pollfd pfd = {.fd = conn->fd, .events = POLLIN};
            poll(&pfd, 1, (int)(left < 50 ? left : 50));
        }
        conn->in_pump = false;
    }
    conn_teardown(conn);
    conn->state = CUT_CONN_DOWN;
    if (was_up) {
        cut_log_info(LOG_COMPONENT, "flow %s %s: disconnected from %s", conn->flow, conn->role,
                     conn->peer);
    }
}

void cut_amqp10_conn_fini(struct cut_amqp10_conn *conn)
{
    conn_teardown(conn);
    cut_amqp10_conf_fini(conn);
}
