/*
 * The AMQP 1.0 source and sink against a loopback AMQP peer written here
 * with proton's connection driver (server side) on its own thread: TLS
 * with a CA made for the test (openssl CLI), host name checks, SASL
 * EXTERNAL with a client certificate, every outcome both ways, a killed
 * connection (no settle of an old token), the idle timeout, pause, and the
 * URL and key checks. No broker.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/ssl.h>
#include <proton/terminus.h>
#include <proton/transport.h>

#include "amqp10.h"
#include "cutover/log.h"

static char certdir[64];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *cert(const char *name)
{
    static char paths[8][128];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 128, "%s/%s", certdir, name);
    return p;
}

/* ---- the peer ------------------------------------------------------------- */

struct peer {
    int lfd, port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int kill;    /* bumped: drop the current connection */
    atomic_bool silent; /* stop reading and writing (the idle timeout test) */
    /* settings, before start */
    bool tls, require_client_cert;
    const char *server_cert, *server_key;
    const char *mechs;
    int to_send;          /* messages offered to a receiver of ours */
    uint64_t outcomes[4]; /* dispositions for what our sink sends, in turn */
    bool refuse_attach;
    /* observations */
    pthread_mutex_t mu;
    int connections, received, sent;
    int accepted, rejected, released, modified_failed, modified_other;
    char reject_desc[256];
    char mech[32];
    int encrypted;
    int drain_seen;
    int max_credit;
};

static void peer_send_more(struct peer *p, pn_link_t *link)
{
    while (pn_link_credit(link) > 0 && p->sent < p->to_send) {
        char tag[8], body[32], buf[256];
        int n = p->sent++;
        memcpy(tag, &n, sizeof(n));
        memset(tag + 4, 0, 4);
        pn_delivery_t *d = pn_delivery(link, pn_dtag(tag, 8));
        pn_message_t *m = pn_message();
        pn_atom_t id = {.type = PN_ULONG, .u.as_ulong = (uint64_t)n};
        pn_message_set_id(m, id);
        snprintf(body, sizeof(body), "m%d", n);
        pn_data_put_string(pn_message_body(m), pn_bytes(strlen(body), body));
        size_t len = sizeof(buf);
        pn_message_encode(m, buf, &len);
        pn_message_free(m);
        pn_link_send(link, buf, len);
        pn_link_advance(link);
        (void)d;
    }
}

static void peer_event(struct peer *p, pn_connection_driver_t *d, pn_event_t *ev)
{
    pn_link_t *link;
    pn_delivery_t *dlv;

    switch (pn_event_type(ev)) {
    case PN_CONNECTION_REMOTE_OPEN:
        pn_connection_open(pn_event_connection(ev));
        pthread_mutex_lock(&p->mu);
        const char *mech = pn_sasl_get_mech(pn_sasl(d->transport));
        snprintf(p->mech, sizeof(p->mech), "%s", mech != NULL ? mech : "");
        p->encrypted = pn_transport_is_encrypted(d->transport);
        pthread_mutex_unlock(&p->mu);
        break;
    case PN_SESSION_REMOTE_OPEN:
        pn_session_open(pn_event_session(ev));
        break;
    case PN_LINK_REMOTE_OPEN:
        link = pn_event_link(ev);
        if (p->refuse_attach) {
            pn_link_open(link); /* no source/target copied: a refusal */
            pn_condition_set_name(pn_link_condition(link), "amqp:not-found");
            pn_condition_set_description(pn_link_condition(link), "no such queue");
            pn_link_close(link);
            break;
        }
        pn_terminus_copy(pn_link_source(link), pn_link_remote_source(link));
        pn_terminus_copy(pn_link_target(link), pn_link_remote_target(link));
        pn_link_open(link);
        if (pn_link_is_receiver(link)) {
            pn_link_flow(link, 100);
        }
        break;
    case PN_LINK_FLOW:
        link = pn_event_link(ev);
        if (pn_link_is_sender(link)) {
            pthread_mutex_lock(&p->mu);
            if (pn_link_get_drain(link)) {
                p->drain_seen = 1;
            }
            if (pn_link_credit(link) > p->max_credit) {
                p->max_credit = pn_link_credit(link);
            }
            if (!pn_link_get_drain(link)) {
                peer_send_more(p, link);
            } else {
                pn_link_drained(link);
            }
            pthread_mutex_unlock(&p->mu);
        }
        break;
    case PN_DELIVERY:
        dlv = pn_event_delivery(ev);
        link = pn_delivery_link(dlv);
        pthread_mutex_lock(&p->mu);
        if (pn_link_is_receiver(link)) {
            if (!pn_delivery_readable(dlv) || pn_delivery_partial(dlv)) {
                pthread_mutex_unlock(&p->mu);
                break;
            }
            char buf[4096];
            while (pn_link_recv(link, buf, sizeof(buf)) > 0) {
            }
            pn_link_advance(link);
            uint64_t outcome = p->outcomes[p->received++ % 4];
            if (outcome == 0) {
                outcome = PN_ACCEPTED;
            }
            if (outcome == PN_REJECTED) {
                pn_condition_t *c = pn_disposition_condition(pn_delivery_local(dlv));
                pn_condition_set_name(c, "amqp:precondition-failed");
                pn_condition_set_description(c, "not this one");
            }
            pn_delivery_update(dlv, outcome);
            pn_delivery_settle(dlv);
            pn_link_flow(link, 1);
        } else if (pn_delivery_updated(dlv)) {
            pn_disposition_t *rd = pn_delivery_remote(dlv);
            switch (pn_delivery_remote_state(dlv)) {
            case PN_ACCEPTED:
                p->accepted++;
                break;
            case PN_REJECTED:
                p->rejected++;
                snprintf(p->reject_desc, sizeof(p->reject_desc), "%s",
                         pn_condition_get_description(pn_disposition_condition(rd)));
                break;
            case PN_RELEASED:
                p->released++;
                break;
            case PN_MODIFIED:
                if (pn_disposition_is_failed(rd) && !pn_disposition_is_undeliverable(rd)) {
                    p->modified_failed++;
                } else {
                    p->modified_other++;
                }
                break;
            }
            pn_delivery_settle(dlv);
        }
        pthread_mutex_unlock(&p->mu);
        break;
    case PN_CONNECTION_REMOTE_CLOSE:
        pn_connection_close(pn_event_connection(ev));
        break;
    default:
        break;
    }
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    pn_ssl_domain_t *domain = NULL;

    if (p->tls) {
        domain = pn_ssl_domain(PN_SSL_MODE_SERVER);
        assert_int_equal(pn_ssl_domain_set_credentials(domain, p->server_cert, p->server_key, NULL),
                         0);
        if (p->require_client_cert) {
            assert_int_equal(pn_ssl_domain_set_trusted_ca_db(domain, cert("ca.pem")), 0);
            assert_int_equal(
                pn_ssl_domain_set_peer_authentication(domain, PN_SSL_VERIFY_PEER, cert("ca.pem")),
                0);
        }
    }
    while (!atomic_load(&p->stop)) {
        struct pollfd lp = {.fd = p->lfd, .events = POLLIN};
        if (poll(&lp, 1, 20) <= 0) {
            continue;
        }
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        pthread_mutex_lock(&p->mu);
        p->connections++;
        p->sent = 0; /* a new connection offers everything again */
        pthread_mutex_unlock(&p->mu);
        int kill_at_start = atomic_load(&p->kill);
        pn_connection_driver_t d;
        pn_connection_driver_init(&d, NULL, NULL);
        pn_transport_set_server(d.transport);
        if (domain != NULL) {
            pn_ssl_init(pn_ssl(d.transport), domain, NULL);
        }
        pn_sasl_allowed_mechs(pn_sasl(d.transport), p->mechs != NULL ? p->mechs : "ANONYMOUS");
        pn_transport_set_idle_timeout(d.transport, 60000);
        while (!atomic_load(&p->stop) && atomic_load(&p->kill) == kill_at_start &&
               !pn_connection_driver_finished(&d)) {
            if (atomic_load(&p->silent)) {
                usleep(5000);
                continue;
            }
            pn_event_t *ev;
            while ((ev = pn_connection_driver_next_event(&d)) != NULL) {
                peer_event(p, &d, ev);
            }
            pn_bytes_t wb = pn_connection_driver_write_buffer(&d);
            if (wb.size > 0) {
                ssize_t n = send(fd, wb.start, wb.size, MSG_NOSIGNAL);
                if (n > 0) {
                    pn_connection_driver_write_done(&d, (size_t)n);
                } else {
                    pn_connection_driver_write_close(&d);
                }
                continue;
            }
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            if (poll(&pfd, 1, 10) > 0) {
                pn_rwbytes_t rb = pn_connection_driver_read_buffer(&d);
                if (rb.size > 0) {
                    ssize_t n = read(fd, rb.start, rb.size);
                    if (n > 0) {
                        pn_connection_driver_read_done(&d, (size_t)n);
                    } else {
                        pn_connection_driver_read_close(&d);
                    }
                }
            }
            pn_transport_tick(d.transport, now_ms());
        }
        pn_connection_driver_destroy(&d);
        close(fd);
    }
    if (domain != NULL) {
        pn_ssl_domain_free(domain);
    }
    return NULL;
}

static void peer_start(struct peer *p)
{
    pthread_mutex_init(&p->mu, NULL);
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(p->lfd, (struct sockaddr *)&a, &len);
    p->port = ntohs(a.sin_port);
    listen(p->lfd, 8);
    pthread_create(&p->thread, NULL, peer_main, p);
}

static void peer_stop(struct peer *p)
{
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    close(p->lfd);
}

static int peer_get(struct peer *p, const int *field)
{
    pthread_mutex_lock(&p->mu);
    int v = *field;
    pthread_mutex_unlock(&p->mu);
    return v;
}

/* ---- client side ---------------------------------------------------------- */

struct client {
    char url[128];
    struct cut_amqp10_conn_settings conn;
    struct cut_amqp10_source_settings src_cfg;
    struct cut_amqp10_sink_settings sink_cfg;
    struct cut_source *src;
    struct cut_sink *sink;
    int confirms[8]; /* by status: index -status */
    char last_err[CUT_ERR_MSG_MAX];
    cut_token_t last_token;
};

static void client_init(struct client *c, const char *scheme, const char *host, int port)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->url, sizeof(c->url), "%s://%s:%d", scheme, host, port);
    c->conn = (struct cut_amqp10_conn_settings){.url = c->url,
                                                .idle_timeout_ms = 30000,
                                                .connect_timeout_ms = 3000,
                                                .reconnect_backoff_min_ms = 20,
                                                .reconnect_backoff_max_ms = 200,
                                                .tls_verify = true};
    c->src_cfg = (struct cut_amqp10_source_settings){.address = "q.in", .credit = 10};
    c->sink_cfg = (struct cut_amqp10_sink_settings){.address = "q.out", .max_in_flight = 10};
}

static void on_confirm(void *opaque, cut_token_t token, int status, const struct cut_err *err)
{
    struct client *c = opaque;
    c->confirms[-status]++;
    c->last_token = token;
    snprintf(c->last_err, sizeof(c->last_err), "%s", err != NULL ? err->msg : "");
}

static void make_source(struct client *c)
{
    struct cut_source_params params = {
        .flow = "t", .conn_settings = &c->conn, .settings = &c->src_cfg};
    struct cut_err err;
    if (cut_amqp10_source_ops.create(&c->src, &params, &err) != CUT_OK) {
        fail_msg("source create: %s", err.msg);
    }
}

static void make_sink(struct client *c)
{
    struct cut_sink_params params = {.flow = "t",
                                     .conn_settings = &c->conn,
                                     .settings = &c->sink_cfg,
                                     .confirm = on_confirm,
                                     .opaque = c};
    struct cut_err err;
    if (cut_amqp10_sink_ops.create(&c->sink, &params, &err) != CUT_OK) {
        fail_msg("sink create: %s", err.msg);
    }
}

/* Fetch until a message comes or @p ms pass; CUT_OK or the last status. */
static int fetch_wait(struct client *c, struct cut_msg *msg, int ms, struct cut_err *err)
{
    int64_t deadline = now_ms() + ms;
    int rc;
    do {
        rc = cut_amqp10_source_ops.fetch(c->src, msg, err);
        if (rc == CUT_OK) {
            return rc;
        }
        int fd = cut_amqp10_source_ops.fd(c->src);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        poll(&pfd, fd >= 0 ? 1 : 0, 5);
    } while (now_ms() < deadline);
    return rc;
}

static bool sink_wait_up(struct client *c, int ms)
{
    int64_t deadline = now_ms() + ms;
    struct cut_msg msg;
    struct cut_err err;
    cut_msg_init(&msg);
    msg.message_id = "probe";
    msg.message_id_type = CUT_ID_STRING;
    while (now_ms() < deadline) {
        cut_amqp10_sink_ops.poll(c->sink, 5);
        if (cut_amqp10_sink_ops.state(c->sink) == CUT_CONN_UP) {
            return true;
        }
        /* send() is what starts the connection; a refusal here is fine */
        if (cut_amqp10_sink_ops.send(c->sink, &msg, NULL, 999, &err) == CUT_OK) {
            return true;
        }
    }
    return false;
}

/* Wait until @p pred holds or @p ms pass, polling the sink (if any) meanwhile. */
#define WAIT_FOR(c, ms, pred)                                                                      \
    do {                                                                                           \
        int64_t dl_ = now_ms() + (ms);                                                             \
        while (!(pred) && now_ms() < dl_) {                                                        \
            if ((c)->sink != NULL) {                                                               \
                cut_amqp10_sink_ops.poll((c)->sink, 5);                                            \
            } else {                                                                               \
                struct cut_err e_;                                                                 \
                cut_amqp10_source_ops.flush((c)->src, &e_);                                        \
                usleep(5000);                                                                      \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* ---- tests ---------------------------------------------------------------- */

static void source_receives_and_settles_every_outcome(void **state)
{
    (void)state;
    struct peer p = {.to_send = 3};
    struct client c;
    struct cut_msg msg;
    struct cut_err err;
    peer_start(&p);
    client_init(&c, "amqp", "127.0.0.1", p.port);
    make_source(&c);
    cut_token_t tokens[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fetch_wait(&c, &msg, 3000, &err), CUT_OK);
        assert_int_equal(msg.body_kind, CUT_BODY_TEXT);
        tokens[i] = msg.token;
    }
    assert_int_equal(cut_amqp10_source_ops.state(c.src), CUT_CONN_UP);
    assert_int_equal(cut_amqp10_source_ops.in_flight(c.src), 3);
    /* Out of order. */
    assert_int_equal(cut_amqp10_source_ops.settle(c.src, tokens[2], CUT_OUTCOME_REJECT, &err),
                     CUT_OK);
    assert_int_equal(cut_amqp10_source_ops.settle(c.src, tokens[0], CUT_OUTCOME_ACCEPT, &err),
                     CUT_OK);
    assert_int_equal(cut_amqp10_source_ops.settle(c.src, tokens[1], CUT_OUTCOME_RETRY, &err),
                     CUT_OK);
    assert_int_equal(cut_amqp10_source_ops.in_flight(c.src), 0);
    /* Settled twice: refused. */
    assert_int_equal(cut_amqp10_source_ops.settle(c.src, tokens[1], CUT_OUTCOME_ACCEPT, &err),
                     CUT_EINVAL);
    WAIT_FOR(&c, 3000,
             peer_get(&p, &p.accepted) + peer_get(&p, &p.rejected) +
                     peer_get(&p, &p.modified_failed) ==
                 3);
    assert_int_equal(p.accepted, 1);
    assert_int_equal(p.rejected, 1);
    assert_int_equal(p.modified_failed, 1);
    assert_int_equal(p.modified_other, 0);
    assert_int_equal(p.released, 0);
    assert_non_null(strstr(p.reject_desc, "flow t"));
    /* The credit window was granted, not more. */
    assert_int_equal(peer_get(&p, &p.max_credit), 10);
    cut_amqp10_source_ops.destroy(c.src);
    peer_stop(&p);
}

static void source_ignores_tokens_of_a_lost_connection(void **state)
{
    (void)state;
    struct peer p = {.to_send = 2};
    struct client c;
    struct cut_msg msg;
    struct cut_err err;
    peer_start(&p);
    client_init(&c, "amqp", "127.0.0.1", p.port);
    make_source(&c);
    assert_int_equal(fetch_wait(&c, &msg, 3000, &err), CUT_OK);
    cut_token_t old = msg.token;
    atomic_fetch_add(&p.kill, 1);
    /* The loss is reported once, then the source reconnects by itself. */
    int rc;
    int64_t deadline = now_ms() + 3000;
    bool lost = false;
    do {
        rc = cut_amqp10_source_ops.fetch(c.src, &msg, &err);
        lost = lost || rc == CUT_EFATAL;
        if (rc == CUT_OK && msg.token == old) {
            fail_msg("old token handed out again");
        }
        usleep(2000);
    } while (!(lost && rc == CUT_OK) && now_ms() < deadline);
    assert_true(lost);
    assert_int_equal(rc, CUT_OK);
    assert_int_equal(peer_get(&p, &p.connections), 2);
    assert_true((old >> 48) != (msg.token >> 48)); /* a new epoch */
    /* The old token: accepted, but never reaches the new connection. */
    assert_int_equal(cut_amqp10_source_ops.settle(c.src, old, CUT_OUTCOME_ACCEPT, &err), CUT_OK);
    assert_int_equal(cut_amqp10_source_ops.in_flight(c.src), 1);
    assert_int_equal(cut_amqp10_source_ops.settle(c.src, msg.token, CUT_OUTCOME_ACCEPT, &err),
                     CUT_OK);
    WAIT_FOR(&c, 2000, peer_get(&p, &p.accepted) == 1);
    usleep(50000);
    cut_amqp10_source_ops.flush(c.src, &err);
    usleep(50000);
    assert_int_equal(peer_get(&p, &p.accepted), 1);
    cut_amqp10_source_ops.destroy(c.src);
    peer_stop(&p);
}

static void source_pause_drains_credit(void **state)
{
    (void)state;
    struct peer p = {.to_send = 0};
    struct client c;
    struct cut_msg msg;
    struct cut_err err;
    peer_start(&p);
    client_init(&c, "amqp", "127.0.0.1", p.port);
    make_source(&c);
    fetch_wait(&c, &msg, 300, &err);
    assert_int_equal(cut_amqp10_source_ops.state(c.src), CUT_CONN_UP);
    assert_int_equal(cut_amqp10_source_ops.pause(c.src, 1, &err), CUT_OK);
    WAIT_FOR(&c, 2000, peer_get(&p, &p.drain_seen));
    assert_true(p.drain_seen);
    assert_int_equal(cut_amqp10_source_ops.pause(c.src, 0, &err), CUT_OK);
    cut_amqp10_source_ops.destroy(c.src);
    peer_stop(&p);
}

static void sink_maps_every_outcome(void **state)
{
    (void)state;
    struct peer p = {.outcomes = {PN_ACCEPTED, PN_REJECTED, PN_RELEASED, PN_MODIFIED}};
    struct client c;
    struct cut_msg msg;
    struct cut_err err;
    peer_start(&p);
    client_init(&c, "amqp", "127.0.0.1", p.port);
    make_sink(&c);
    assert_true(sink_wait_up(&c, 3000));
    /* sink_wait_up may have sent the probe: count from here */
    WAIT_FOR(&c, 1000, cut_amqp10_sink_ops.in_flight(c.sink) == 0);
    memset(c.confirms, 0, sizeof(c.confirms));
    int base = peer_get(&p, &p.received);
    cut_msg_init(&msg);
    msg.message_id = "x";
    msg.message_id_type = CUT_ID_STRING;
    int sent = 0;
    for (int i = 0; sent < 4 && i < 1000; i++) {
        /* line the outcomes up: the peer cycles through them by count */
        if ((base + sent) % 4 == 0 || sent > 0) {
            if (cut_amqp10_sink_ops.send(c.sink, &msg, NULL, 100 + sent, &err) == CUT_OK) {
                sent++;
            }
        } else {
            if (cut_amqp10_sink_ops.send(c.sink, &msg, NULL, 900, &err) == CUT_OK) {
                base++;
                WAIT_FOR(&c, 1000, cut_amqp10_sink_ops.in_flight(c.sink) == 0);
                memset(c.confirms, 0, sizeof(c.confirms));
            }
        }
        cut_amqp10_sink_ops.poll(c.sink, 2);
    }
    assert_int_equal(sent, 4);
    assert_int_equal(cut_amqp10_sink_ops.flush(c.sink, 3000, &err), CUT_OK);
    assert_int_equal(c.confirms[0], 1);           /* accepted */
    assert_int_equal(c.confirms[-CUT_EINVAL], 1); /* rejected */
    assert_int_equal(c.confirms[-CUT_ERETRY], 2); /* released, modified */
    cut_amqp10_sink_ops.destroy(c.sink);
    peer_stop(&p);
}

static void sink_retries_everything_unsettled_when_the_connection_dies(void **state)
{
    (void)state;
    struct peer p = {0};
    struct client c;
    struct cut_msg msg;
    struct cut_err err;
    peer_start(&p);
    client_init(&c, "amqp", "127.0.0.1", p.port);
    make_sink(&c);
    assert_true(sink_wait_up(&c, 3000));
    WAIT_FOR(&c, 1000, cut_amqp10_sink_ops.in_flight(c.sink) == 0);
    atomic_store(&p.silent, true); /* takes nothing, settles nothing */
    cut_msg_init(&msg);
    msg.message_id = "y";
    msg.message_id_type = CUT_ID_STRING;
    memset(c.confirms, 0, sizeof(c.confirms));
    int sent = 0;
    while (cut_amqp10_sink_ops.send(c.sink, &msg, NULL, (cut_token_t)sent, &err) == CUT_OK) {
        sent++;
    }
    assert_int_equal(sent, 10); /* max_in_flight, then EFULL: nothing buffered beyond */
    assert_int_equal(err.code, CUT_EFULL);
    atomic_store(&p.silent, false);
    atomic_fetch_add(&p.kill, 1);
    WAIT_FOR(&c, 3000, c.confirms[-CUT_ERETRY] == 10);
    assert_int_equal(c.confirms[-CUT_ERETRY], 10);
    assert_int_equal(cut_amqp10_sink_ops.in_flight(c.sink), 0);
    /* Reported once by send(), then it reconnects. */
    int rc = cut_amqp10_sink_ops.send(c.sink, &msg, NULL, 50, &err);
    assert_true(rc == CUT_EFATAL || rc == CUT_EFULL || rc == CUT_OK);
    assert_true(sink_wait_up(&c, 3000));
    cut_amqp10_sink_ops.destroy(c.sink);
    peer_stop(&p);
}

static void sink_sends_to_a_record_destination_and_large_messages(void **state)
{
    (void)state;
    struct peer p = {0};
    struct client c;
    struct cut_msg msg;
    struct cut_err err;
    static char big[300000];
    peer_start(&p);
    client_init(&c, "amqp", "127.0.0.1", p.port);
    make_sink(&c);
    assert_true(sink_wait_up(&c, 3000));
    assert_int_equal(cut_amqp10_sink_ops.flush(c.sink, 3000, &err), CUT_OK);
    memset(c.confirms, 0, sizeof(c.confirms));
    memset(big, 'b', sizeof(big));
    cut_msg_init(&msg);
    msg.message_id = "big";
    msg.message_id_type = CUT_ID_STRING;
    msg.body = big;
    msg.body_len = sizeof(big);
    struct cut_record rec = {.dest = "q.other"};
    int64_t deadline = now_ms() + 3000;
    int rc;
    /* The new link needs the peer's attach and credit first: EFULL until then. */
    while ((rc = cut_amqp10_sink_ops.send(c.sink, &msg, &rec, 7, &err)) == CUT_EFULL &&
           now_ms() < deadline) {
        cut_amqp10_sink_ops.poll(c.sink, 5);
    }
    assert_int_equal(rc, CUT_OK);
    assert_int_equal(cut_amqp10_sink_ops.send(c.sink, &msg, NULL, 8, &err), CUT_OK);
    assert_int_equal(cut_amqp10_sink_ops.flush(c.sink, 3000, &err), CUT_OK);
    assert_int_equal(c.confirms[0], 2);
    cut_amqp10_sink_ops.destroy(c.sink);
    peer_stop(&p);
}

static void refused_address_fails_the_connection_with_the_reason(void **state)
{
    (void)state;
    struct peer p = {.refuse_attach = true};
    struct client c;
    struct cut_msg msg;
    struct cut_err err;
    peer_start(&p);
    client_init(&c, "amqp", "127.0.0.1", p.port);
    make_source(&c);
    int64_t deadline = now_ms() + 2000;
    while (now_ms() < deadline && strstr(c.src == NULL ? "" : err.msg, "no such queue") == NULL) {
        cut_amqp10_source_ops.fetch(c.src, &msg, &err);
        usleep(2000);
    }
    assert_non_null(strstr(err.msg, "refused address 'q.in'"));
    assert_non_null(strstr(err.msg, "amqp:not-found: no such queue"));
    assert_int_equal(cut_amqp10_source_ops.state(c.src), CUT_CONN_DOWN);
    cut_amqp10_source_ops.destroy(c.src);
    peer_stop(&p);
}

static void idle_peer_is_declared_dead(void **state)
{
    (void)state;
    struct peer p = {.to_send = 0};
    struct client c;
    struct cut_msg msg;
    struct cut_err err;
    peer_start(&p);
    client_init(&c, "amqp", "127.0.0.1", p.port);
    c.conn.idle_timeout_ms = 300;
    make_source(&c);
    fetch_wait(&c, &msg, 300, &err);
    assert_int_equal(cut_amqp10_source_ops.state(c.src), CUT_CONN_UP);
    atomic_store(&p.silent, true);
    int64_t t0 = now_ms();
    int rc = CUT_EAGAIN;
    while (rc != CUT_EFATAL && now_ms() - t0 < 3000) {
        rc = cut_amqp10_source_ops.fetch(c.src, &msg, &err);
        usleep(5000);
    }
    assert_int_equal(rc, CUT_EFATAL);
    assert_true(now_ms() - t0 >= 150); /* the peer spoke last at most ~idle/4 before t0 */
    assert_non_null(strstr(err.msg, "idle"));
    atomic_store(&p.silent, false);
    atomic_fetch_add(&p.kill, 1);
    cut_amqp10_source_ops.destroy(c.src);
    peer_stop(&p);
}

static void tls_with_a_trusted_ca_works(void **state)
{
    (void)state;
    struct peer p = {.to_send = 1, .tls = true};
    p.server_cert = cert("server.pem");
    p.server_key = cert("server.key");
    struct client c;
    struct cut_msg msg;
    struct cut_err err;
    peer_start(&p);
    client_init(&c, "amqps", "localhost", p.port);
    c.conn.tls_ca_file = (char *)cert("ca.pem");
    make_source(&c);
    assert_int_equal(fetch_wait(&c, &msg, 3000, &err), CUT_OK);
    assert_memory_equal(msg.body, "m0", 2);
    assert_true(peer_get(&p, &p.encrypted));
    cut_amqp10_source_ops.destroy(c.src);

    /* The sink, over `tls: true` with amqp://. */
    client_init(&c, "amqp", "localhost", p.port);
    c.conn.tls = true;
    c.conn.tls_ca_file = (char *)cert("ca.pem");
    make_sink(&c);
    assert_true(sink_wait_up(&c, 3000));
    assert_int_equal(cut_amqp10_sink_ops.flush(c.sink, 3000, &err), CUT_OK);
    cut_amqp10_sink_ops.destroy(c.sink);
    peer_stop(&p);
}

/* A source that must not get up, and whose error names @p needle. */
static void expect_no_connection(struct client *c, const char *needle)
{
    struct cut_msg msg;
    struct cut_err err;
    char seen[CUT_ERR_MSG_MAX] = "";
    make_source(c);
    int64_t deadline = now_ms() + 1500;
    while (now_ms() < deadline) {
        int rc = cut_amqp10_source_ops.fetch(c->src, &msg, &err);
        assert_int_not_equal(rc, CUT_OK);
        if (strstr(err.msg, "last error") != NULL || strstr(err.msg, needle) != NULL) {
            snprintf(seen, sizeof(seen), "%s", err.msg);
        }
        assert_int_not_equal(cut_amqp10_source_ops.state(c->src), CUT_CONN_UP);
        usleep(5000);
    }
    if (strstr(seen, needle) == NULL) {
        fail_msg("expected \"%s\" in \"%s\"", needle, seen);
    }
    cut_amqp10_source_ops.destroy(c->src);
    c->src = NULL;
}

static void tls_refuses_an_unknown_ca_and_a_wrong_name(void **state)
{
    (void)state;
    struct peer p = {.to_send = 1, .tls = true};
    p.server_cert = cert("server.pem");
    p.server_key = cert("server.key");
    struct client c;
    peer_start(&p);

    client_init(&c, "amqps", "localhost", p.port);
    c.conn.tls_ca_file = (char *)cert("other-ca.pem");
    expect_no_connection(&c, "certificate verify failed");

    /* Right CA (it works for "localhost" above), but the certificate does not name this host. */
    client_init(&c, "amqps", "127.0.0.1", p.port);
    c.conn.tls_ca_file = (char *)cert("ca.pem");
    expect_no_connection(&c, "certificate verify failed");

    /* tls_verify: false accepts both. */
    client_init(&c, "amqps", "127.0.0.1", p.port);
    c.conn.tls_ca_file = (char *)cert("other-ca.pem");
    c.conn.tls_verify = false;
    make_source(&c);
    struct cut_msg msg;
    struct cut_err err;
    assert_int_equal(fetch_wait(&c, &msg, 3000, &err), CUT_OK);
    cut_amqp10_source_ops.destroy(c.src);
    peer_stop(&p);
}

static void sasl_external_with_a_client_certificate(void **state)
{
    (void)state;
    struct peer p = {.to_send = 1, .tls = true, .require_client_cert = true, .mechs = "EXTERNAL"};
    p.server_cert = cert("server.pem");
    p.server_key = cert("server.key");
    struct client c;
    struct cut_msg msg;
    struct cut_err err;
    peer_start(&p);
    client_init(&c, "amqps", "localhost", p.port);
    c.conn.tls_ca_file = (char *)cert("ca.pem");
    c.conn.tls_cert_file = (char *)cert("client.pem");
    c.conn.tls_key_file = (char *)cert("client.key");
    c.conn.tls_key_password = "secret";
    c.conn.sasl_mechanisms = "EXTERNAL";
    make_source(&c);
    assert_int_equal(fetch_wait(&c, &msg, 3000, &err), CUT_OK);
    pthread_mutex_lock(&p.mu);
    assert_string_equal(p.mech, "EXTERNAL");
    pthread_mutex_unlock(&p.mu);
    cut_amqp10_source_ops.destroy(c.src);

    /* Without the certificate the server refuses the TLS handshake. */
    client_init(&c, "amqps", "localhost", p.port);
    c.conn.tls_ca_file = (char *)cert("ca.pem");
    expect_no_connection(&c, "SSL Failure");
    peer_stop(&p);
}

static void bad_settings_are_refused_at_create(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        const char *why;
    } bad[] = {
        {"http://h:1", "amqp://"},  {"amqp://:5672", "host"},        {"amqp://h:0", "port"},
        {"amqp://h:99999", "port"}, {"amqp://h:5672/queue", "path"}, {"amqp://u:%zz@h", "percent"},
        {"amqp://[::1", "IPv6"},
    };
    struct cut_amqp10_conn conn;
    struct cut_err err;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cut_amqp10_conn_settings cs = {.url = (char *)bad[i].url};
        assert_int_equal(cut_amqp10_conn_init(&conn, &cs, "f", "source", NULL, NULL, &err),
                         CUT_EINVAL);
        if (strstr(err.msg, bad[i].why) == NULL) {
            fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].url, err.msg, bad[i].why);
        }
        assert_null(strstr(err.msg, bad[i].url + 7)); /* never echoes the URL */
        cut_amqp10_conn_fini(&conn);
    }
    struct cut_amqp10_conn_settings cs = {.url = "amqp://h", .sasl_mechanisms = "GSSAPI"};
    assert_int_equal(cut_amqp10_conn_init(&conn, &cs, "f", "source", NULL, NULL, &err), CUT_EINVAL);
    cut_amqp10_conn_fini(&conn);
    cs = (struct cut_amqp10_conn_settings){.url = "amqps://h", .tls_ca_file = "/nonexistent"};
    assert_int_equal(cut_amqp10_conn_init(&conn, &cs, "f", "source", NULL, NULL, &err), CUT_EINVAL);
    assert_non_null(strstr(err.msg, "tls_ca_file"));
    cut_amqp10_conn_fini(&conn);
    cs = (struct cut_amqp10_conn_settings){.url = "amqps://h", .tls_cert_file = "/x.pem"};
    assert_int_equal(cut_amqp10_conn_init(&conn, &cs, "f", "source", NULL, NULL, &err), CUT_EINVAL);
    cut_amqp10_conn_fini(&conn);
}

static void url_parts_and_defaults(void **state)
{
    (void)state;
    struct cut_amqp10_conn conn;
    struct cut_err err;
    struct cut_amqp10_conn_settings cs = {.url = "amqps://us%40er:p%3Ass@[::1]",
                                          .tls_verify = true};
    assert_int_equal(cut_amqp10_conn_init(&conn, &cs, "f", "sink", NULL, NULL, &err), CUT_OK);
    assert_string_equal(conn.host, "::1");
    assert_string_equal(conn.port, "5671");
    assert_string_equal(conn.user, "us@er");
    assert_string_equal(conn.pass, "p:ss");
    assert_true(conn.use_tls);
    assert_string_equal(conn.mechs, "PLAIN ANONYMOUS");
    assert_string_equal(conn.container, "cutover-f-sink");
    assert_null(strstr(conn.peer, "p:ss"));
    cut_amqp10_conn_fini(&conn);

    cs = (struct cut_amqp10_conn_settings){
        .url = "amqp://u:x@h/", .username = "k", .password = "kp", .container_id = "c1"};
    assert_int_equal(cut_amqp10_conn_init(&conn, &cs, "f", "sink", NULL, NULL, &err), CUT_OK);
    assert_string_equal(conn.port, "5672");
    assert_string_equal(conn.user, "k");
    assert_string_equal(conn.pass, "kp");
    assert_string_equal(conn.container, "c1");
    cut_amqp10_conn_fini(&conn);

    cs = (struct cut_amqp10_conn_settings){.url = "amqp://h:1234"};
    assert_int_equal(cut_amqp10_conn_init(&conn, &cs, "f", "sink", NULL, NULL, &err), CUT_OK);
    assert_string_equal(conn.mechs, "ANONYMOUS");
    assert_null(conn.user);
    cut_amqp10_conn_fini(&conn);
}

static void reconnects_back_off_within_bounds(void **state)
{
    (void)state;
    /* A port with nothing behind it. */
    struct peer p = {0};
    peer_start(&p);
    int port = p.port;
    peer_stop(&p);
    struct cut_amqp10_conn_settings cs = {.url = NULL,
                                          .connect_timeout_ms = 1000,
                                          .reconnect_backoff_min_ms = 10,
                                          .reconnect_backoff_max_ms = 80};
    char url[64];
    snprintf(url, sizeof(url), "amqp://127.0.0.1:%d", port);
    cs.url = url;
    struct cut_amqp10_conn conn;
    struct cut_err err;
    assert_int_equal(cut_amqp10_conn_init(&conn, &cs, "f", "source", NULL, NULL, &err), CUT_OK);
    int64_t max_wait = 0;
    for (int i = 0; i < 12; i++) {
        int64_t deadline = now_ms() + 500;
        while (now_ms() < deadline && conn.attempts == (unsigned)i) {
            if (cut_amqp10_conn_start(&conn, &err) == CUT_OK) {
                cut_amqp10_conn_pump(&conn);
            }
            cut_amqp10_conn_pump(&conn);
            usleep(1000);
        }
        assert_int_equal(conn.attempts, (unsigned)i + 1);
        int64_t wait = conn.retry_at_ms - now_ms();
        assert_true(wait <= 80);
        if (i == 0) {
            assert_true(wait <= 20); /* min * 2^1 at most */
        }
        max_wait = wait > max_wait ? wait : max_wait;
        assert_int_equal(conn.state, CUT_CONN_DOWN);
    }
    assert_true(max_wait > 20); /* it did grow */
    cut_amqp10_conn_fini(&conn);
}

/* ---- certificates --------------------------------------------------------- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

static int make_certs(void **state)
{
    (void)state;
    snprintf(certdir, sizeof(certdir), "/tmp/cutover-amqp10-XXXXXX");
    if (mkdtemp(certdir) == NULL) {
        return -1;
    }
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1";
    int rc = sh("cd %s && "
                "openssl req -x509 %s -nodes -keyout ca.key -out ca.pem -days 2 "
                "-subj /CN=cutover-test-ca >/dev/null 2>&1 && "
                "openssl req -x509 %s -nodes -keyout other-ca.key -out other-ca.pem -days 2 "
                "-subj /CN=other-ca >/dev/null 2>&1 && "
                "openssl req %s -nodes -keyout server.key -out server.csr "
                "-subj /CN=localhost >/dev/null 2>&1 && "
                "printf 'subjectAltName=DNS:localhost\\n' > san.ext && "
                "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                "-out server.pem -days 2 -extfile san.ext >/dev/null 2>&1 && "
                "openssl req %s -keyout client.key -passout pass:secret -out client.csr "
                "-subj /CN=cutover-client >/dev/null 2>&1 && "
                "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                "-out client.pem -days 2 >/dev/null 2>&1",
                certdir, ec, ec, ec, ec);
    return rc == 0 ? 0 : -1;
}

static int remove_certs(void **state)
{
    (void)state;
    return sh("rm -rf %s", certdir) == 0 ? 0 : -1;
}

int main(void)
{
    cut_log_set_level(CUT_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(source_receives_and_settles_every_outcome),
        cmocka_unit_test(source_ignores_tokens_of_a_lost_connection),
        cmocka_unit_test(source_pause_drains_credit),
        cmocka_unit_test(sink_maps_every_outcome),
        cmocka_unit_test(sink_retries_everything_unsettled_when_the_connection_dies),
        cmocka_unit_test(sink_sends_to_a_record_destination_and_large_messages),
        cmocka_unit_test(refused_address_fails_the_connection_with_the_reason),
        cmocka_unit_test(idle_peer_is_declared_dead),
        cmocka_unit_test(tls_with_a_trusted_ca_works),
        cmocka_unit_test(tls_refuses_an_unknown_ca_and_a_wrong_name),
        cmocka_unit_test(sasl_external_with_a_client_certificate),
        cmocka_unit_test(bad_settings_are_refused_at_create),
        cmocka_unit_test(url_parts_and_defaults),
        cmocka_unit_test(reconnects_back_off_within_bounds),
    };
    return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
