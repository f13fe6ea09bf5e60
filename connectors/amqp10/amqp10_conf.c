/*
 * AMQP 1.0 connection settings: the `connections:` key table, the URL, the
 * SASL mechanisms and the TLS context, checked and prepared once at
 * create() so that a bad setting fails there, with a message that never
 * holds a secret. See amqp10.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "amqp10.h"
#include "cutover/backoff.h"
#include "cutover/log.h"

#define LOG_COMPONENT "amqp10"

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
    CUT_BACKOFF_CFG_KEYS(CONN_OFF(reconnect_backoff_min_ms), CONN_OFF(reconnect_backoff_max_ms)),
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

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
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

void cut_amqp10_conf_fini(struct cut_amqp10_conn *conn)
{
    if (conn->ssl_domain != NULL) {
        pn_ssl_domain_free(conn->ssl_domain);
        conn->ssl_domain = NULL;
    }
    wipe_free(conn->user);
    wipe_free(conn->pass);
    conn->user = NULL;
    conn->pass = NULL;
}
