/*
 * AMQP 1.0 connections: the `connections:` keys, the URL, and one
 * connection as a non-blocking socket driven through proton's connection
 * driver, with SASL, TLS, idle timeout and the reconnect schedule. See
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
#include "cutover/log.h"

#define LOG_COMPONENT "amqp10"

/* Reads per pump: enough to drain a busy socket, bounded so that one
 * connection cannot starve the rest of the flow's loop. */
#define READS_PER_PUMP 16

#define CONN_OFF(field) offsetof(struct cut_amqp10_conn_settings, field)

const struct cut_cfg_key cut_amqp10_conn_keys[] = {
    {.name = "url",
     .type = CUT_CFG_STRING,
     .offset = CONN_OFF(url),
     .required = true,
     .secret = true,
     .desc = "amqp://[user:password@]host[:port] or amqps://... (TLS); percent-encode special "
             "characters; use ${ENV} for the password"},
    {.name = "sasl_mechanisms",
     .type = CUT_CFG_STRING,
     .offset = CONN_OFF(sasl_mechanisms),
     .desc = "SASL mechanisms allowed, space-separated, of EXTERNAL PLAIN ANONYMOUS; default "
             "\"PLAIN ANONYMOUS\" when a username is given, else \"ANONYMOUS\""},
    {.name = "username",
     .type = CUT_CFG_STRING,
     .offset = CONN_OFF(username),
     .desc = "SASL user name (overrides the URL's)"},
    {.name = "password",
     .type = CUT_CFG_STRING,
     .offset = CONN_OFF(password),
     .secret = true,
     .desc = "SASL password (overrides the URL's); use ${ENV}"},
    {.name = "container_id",
     .type = CUT_CFG_STRING,
     .offset = CONN_OFF(container_id),
     .desc = "AMQP container id sent in open; default \"cutover-FLOW-ROLE\""},
    {.name = "idle_timeout",
     .type = CUT_CFG_MS,
     .offset = CONN_OFF(idle_timeout_ms),
     .def = "30s",
     .min = 0,
     .max = 3600000,
     .desc = "declare the peer dead after this long without a frame (proton advertises half "
             "of it, so the peer sends heartbeats); 0 = off"},
    {.name = "connect_timeout",
     .type = CUT_CFG_MS,
     .offset = CONN_OFF(connect_timeout_ms),
     .def = "10s",
     .min = 100,
     .max = 600000,
     .desc = "bound on one connection attempt: TCP, TLS, SASL, open, begin and attach"},
    {.name = "reconnect_backoff_min",
     .type = CUT_CFG_MS,
     .offset = CONN_OFF(reconnect_backoff_min_ms),
     .def = "100ms",
     .min = 1,
     .max = 3600000,
     .desc = "first wait before reconnecting after a failure"},
    {.name = "reconnect_backoff_max",
     .type = CUT_CFG_MS,
     .offset = CONN_OFF(reconnect_backoff_max_ms),
     .def = "10s",
     .min = 1,
     .max = 3600000,
     .desc = "longest wait between reconnect attempts (exponential, full jitter)"},
    {.name = "tls",
     .type = CUT_CFG_BOOL,
     .offset = CONN_OFF(tls),
     .def = "false",
     .desc = "use TLS (implied by amqps://)"},
    {.name = "tls_ca_file",
     .type = CUT_CFG_STRING,
     .offset = CONN_OFF(tls_ca_file),
     .desc = "PEM file of the CA certificates to trust; default: the system's"},
    {.name = "tls_cert_file",
     .type = CUT_CFG_STRING,
     .offset = CONN_OFF(tls_cert_file),
     .desc = "PEM client certificate (with tls_key_file), for SASL EXTERNAL or mutual TLS"},
    {.name = "tls_key_file",
     .type = CUT_CFG_STRING,
     .offset = CONN_OFF(tls_key_file),
     .desc = "PEM private key of tls_cert_file"},
    {.name = "tls_key_password",
     .type = CUT_CFG_STRING,
     .offset = CONN_OFF(tls_key_password),
     .secret = true,
     .desc = "password of tls_key_file, if it is encrypted"},
    {.name = "tls_verify",
     .type = CUT_CFG_BOOL,
     .offset = CONN_OFF(tls_verify),
     .def = "true",
     .desc = "verify the broker's certificate chain and that it names the URL's host"},
    {.name = NULL},
};

int64_t cut_amqp10_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
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

/* ---- URL ------------------------------------------------------------------ */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decoded copy of [s, s+n), or NULL (bad escape or no memory). */
static char *pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    if (out == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                explicit_bzero(out, n + 1);
                free(out);
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Split amqp[s]://[user[:pass]@]host[:port][/] into conn's fields. Errors
 * never quote the URL: it may hold the password. */
static int url_parse(struct cut_amqp10_conn *conn, const char *url, struct cut_err *err)
{
    const char *p;
    if (strncmp(url, "amqp://", 7) == 0) {
        p = url + 7;
    } else if (strncmp(url, "amqps://", 8) == 0) {
        p = url + 8;
        conn->use_tls = true;
    } else {
        return cut_err_set(err, CUT_EINVAL, "url: must start with amqp:// or amqps://");
    }
    const char *end = p + strcspn(p, "/?#");
    if (*end == '?' || *end == '#' || (*end == '/' && end[1] != '\0')) {
        return cut_err_set(err, CUT_EINVAL,
                           "url: no path, query or fragment allowed (the address is the flow's "
                           "`address` key)");
    }
    const char *at = memrchr(p, '@', (size_t)(end - p));
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *user_end = colon != NULL ? colon : at;
        conn->user = pct_decode(p, (size_t)(user_end - p));
        if (colon != NULL) {
            conn->pass = pct_decode(colon + 1, (size_t)(at - colon - 1));
        }
        if (conn->user == NULL || (colon != NULL && conn->pass == NULL)) {
            return cut_err_set(err, CUT_EINVAL, "url: bad percent-encoding in the user info");
        }
        if (conn->user[0] == '\0') {
            wipe_free(conn->user);
            conn->user = NULL;
        }
        p = at + 1;
    }
    const char *host_end;
    const char *port = NULL;
    if (*p == '[') {
        host_end = memchr(p, ']', (size_t)(end - p));
        if (host_end == NULL) {
            return cut_err_set(err, CUT_EINVAL, "url: unterminated [IPv6 address]");
        }
        p++;
        if (host_end + 1 < end) {
            if (host_end[1] != ':') {
                return cut_err_set(err, CUT_EINVAL, "url: junk after [IPv6 address]");
            }
            port = host_end + 2;
        }
    } else {
        host_end = memchr(p, ':', (size_t)(end - p));
        if (host_end != NULL) {
            port = host_end + 1;
        } else {
            host_end = end;
        }
    }
    size_t host_len = (size_t)(host_end - p);
    if (host_len == 0 || host_len >= sizeof(conn->host)) {
        return cut_err_set(err, CUT_EINVAL, "url: missing or too long host");
    }
    memcpy(conn->host, p, host_len);
    conn->host[host_len] = '\0';
    if (port != NULL) {
        size_t port_len = (size_t)(end - port);
        if (port_len == 0 || port_len > 5 || strspn(port, "0123456789") < port_len) {
            return cut_err_set(err, CUT_EINVAL, "url: bad port");
        }
        memcpy(conn->port, port, port_len);
        conn->port[port_len] = '\0';
        long n = strtol(conn->port, NULL, 10);
        if (n < 1 || n > 65535) {
            return cut_err_set(err, CUT_EINVAL, "url: port out of range");
        }
    } else {
        snprintf(conn->port, sizeof(conn->port), "%s", conn->use_tls ? "5671" : "5672");
    }
    return CUT_OK;
}

/* ---- init ----------------------------------------------------------------- */

static bool mechs_valid(const char *mechs)
{
    char copy[128];
    if (strlen(mechs) >= sizeof(copy)) {
        return false;
    }
    snprintf(copy, sizeof(copy), "%s", mechs);
    int n = 0;
    for (char *save = NULL, *m = strtok_r(copy, " ", &save); m != NULL;
         m = strtok_r(NULL, " ", &save)) {
        if (strcmp(m, "PLAIN") != 0 && strcmp(m, "ANONYMOUS") != 0 && strcmp(m, "EXTERNAL") != 0) {
            return false;
        }
        n++;
    }
    return n > 0;
}

static int tls_setup(struct cut_amqp10_conn *conn, struct cut_err *err)
{
    const struct cut_amqp10_conn_settings *cfg = conn->cfg;

    if (!pn_ssl_present()) {
        return cut_err_set(err, CUT_EINVAL, "tls: this proton library was built without TLS");
    }
    conn->ssl_domain = pn_ssl_domain(PN_SSL_MODE_CLIENT);
    if (conn->ssl_domain == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "tls: cannot create a TLS context");
    }
    if (cfg->tls_ca_file != NULL &&
        pn_ssl_domain_set_trusted_ca_db(conn->ssl_domain, cfg->tls_ca_file) != 0) {
        return cut_err_set(err, CUT_EINVAL, "tls_ca_file: cannot load CA certificates from %s",
                           cfg->tls_ca_file);
    }
    if ((cfg->tls_cert_file == NULL) != (cfg->tls_key_file == NULL)) {
        return cut_err_set(err, CUT_EINVAL, "tls_cert_file and tls_key_file go together");
    }
    if (cfg->tls_cert_file != NULL &&
        pn_ssl_domain_set_credentials(conn->ssl_domain, cfg->tls_cert_file, cfg->tls_key_file,
                                      cfg->tls_key_password) != 0) {
        return cut_err_set(err, CUT_EINVAL,
                           "tls_cert_file/tls_key_file: cannot load %s with its key %s (wrong "
                           "file, format or tls_key_password?)",
                           cfg->tls_cert_file, cfg->tls_key_file);
    }
    pn_ssl_verify_mode_t mode = cfg->tls_verify ? PN_SSL_VERIFY_PEER_NAME : PN_SSL_ANONYMOUS_PEER;
    if (pn_ssl_domain_set_peer_authentication(conn->ssl_domain, mode, NULL) != 0) {
        return cut_err_set(err, CUT_EINVAL, "tls_verify: cannot set peer verification");
    }
    return CUT_OK;
}

int cut_amqp10_conn_init(struct cut_amqp10_conn *conn, const struct cut_amqp10_conn_settings *cfg,
                         const char *flow, const char *role, cut_amqp10_event_cb on_event,
                         void *opaque, struct cut_err *err)
{
    int rc;

    memset(conn, 0, sizeof(*conn));
    conn->cfg = cfg;
    conn->flow = flow;
    conn->role = role;
    conn->on_event = on_event;
    conn->opaque = opaque;
    conn->fd = -1;
    conn->state = CUT_CONN_DOWN;
    /* The jitter only has to differ between instances, not be unpredictable. */
    conn->rng = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)conn << 16) ^
                ((uint64_t)getpid() << 40) ^ UINT64_C(0x9e3779b97f4a7c15);
    if (cfg == NULL || cfg->url == NULL) {
        return cut_err_set(err, CUT_EINVAL, "url: missing");
    }
    rc = url_parse(conn, cfg->url, err);
    if (rc != CUT_OK) {
        return rc;
    }
    if (cfg->username != NULL) {
        wipe_free(conn->user);
        conn->user = strdup(cfg->username);
    }
    if (cfg->password != NULL) {
        wipe_free(conn->pass);
        conn->pass = strdup(cfg->password);
    }
    if ((cfg->username != NULL && conn->user == NULL) ||
        (cfg->password != NULL && conn->pass == NULL)) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    if (conn->pass != NULL && conn->user == NULL) {
        return cut_err_set(err, CUT_EINVAL, "password: given without a username");
    }
    const char *mechs = cfg->sasl_mechanisms;
    if (mechs == NULL) {
        mechs = conn->user != NULL ? "PLAIN ANONYMOUS" : "ANONYMOUS";
    }
    if (!mechs_valid(mechs)) {
        return cut_err_set(err, CUT_EINVAL,
                           "sasl_mechanisms: \"%s\": expected one or more of EXTERNAL PLAIN "
                           "ANONYMOUS, space-separated",
                           mechs);
    }
    snprintf(conn->mechs, sizeof(conn->mechs), "%s", mechs);
    if (strstr(conn->mechs, "PLAIN") != NULL && conn->user == NULL) {
        cut_log_debug(LOG_COMPONENT, "flow %s %s: PLAIN allowed but no username given", flow, role);
    }
    if (cfg->container_id != NULL) {
        snprintf(conn->container, sizeof(conn->container), "%s", cfg->container_id);
    } else {
        snprintf(conn->container, sizeof(conn->container), "cutover-%s-%s", flow, role);
    }
    conn->use_tls = conn->use_tls || cfg->tls;
    if (conn->use_tls) {
        rc = tls_setup(conn, err);
        if (rc != CUT_OK) {
            return rc;
        }
    }
    snprintf(conn->peer, sizeof(conn->peer), "%s%s%s:%s%s", strchr(conn->host, ':') ? "[" : "",
             conn->host, strchr(conn->host, ':') ? "]" : "", conn->port,
             conn->use_tls ? " (TLS)" : "");
    return CUT_OK;
}

/* ---- schedule and logging ------------------------------------------------- */

static uint64_t conn_random(struct cut_amqp10_conn *conn)
{
    /* xorshift64*: enough to spread reconnects of many bridges apart. */
    uint64_t x = conn->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    conn->rng = x;
    return x * UINT64_C(0x2545f4914f6cdd1d);
}

/* Exponential backoff with full jitter: uniform in [min, min(max, min * 2^attempts)]. */
static int64_t conn_schedule(struct cut_amqp10_conn *conn, int64_t now)
{
    int64_t lo = conn->cfg->reconnect_backoff_min_ms;
    int64_t hi = conn->cfg->reconnect_backoff_max_ms;
    if (hi < lo) {
        hi = lo;
    }
    int64_t ceiling = lo;
    for (unsigned i = 0; i < conn->attempts && ceiling < hi; i++) {
        ceiling *= 2;
    }
    if (ceiling > hi) {
        ceiling = hi;
    }
    int64_t wait = lo + (int64_t)(conn_random(conn) % (uint64_t)(ceiling - lo + 1));
    conn->attempts++;
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

/* A non-blocking connect to the first address that accepts the attempt. */
static int tcp_start(struct cut_amqp10_conn *conn, struct cut_err *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int e = getaddrinfo(conn->host, conn->port, &hints, &res);
    if (e != 0) {
        return cut_err_set(err, CUT_ERETRY, "resolving %s: %s", conn->host, gai_strerror(e));
    }
    int rc = CUT_ERETRY;
    int last = 0;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
            conn->fd = fd;
            rc = CUT_OK;
            break;
        }
        last = errno;
        close(fd);
    }
    freeaddrinfo(res);
    if (rc != CUT_OK) {
        cut_err_set(err, CUT_ERETRY, "TCP connect: %s", strerror(last));
    }
    return rc;
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
        cut_amqp10_conn_fail(conn, "TCP connect: %s", strerror(soerr));
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
    if (conn->ssl_domain != NULL) {
        pn_ssl_domain_free(conn->ssl_domain);
        conn->ssl_domain = NULL;
    }
    wipe_free(conn->user);
    wipe_free(conn->pass);
    conn->user = NULL;
    conn->pass = NULL;
}
