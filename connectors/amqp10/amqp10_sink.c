/*
 * AMQP 1.0 sink (a legacy target): sender links, snd-settle-mode
 * unsettled, never presettled, on its own connection. The contract is in
 * connector.h; the model (I/O, timers) in amqp10.h; the message fields in
 * amqp10_msg.c.
 *
 * send() encodes the envelope (msg, not rec: a legacy sink forwards the
 * message itself) into a reused buffer, sends it as one delivery tagged with
 * an 8-byte counter, and writes it to the socket at once. The window is
 * max_in_flight unsettled deliveries and the link's credit: without either,
 * send() returns CUT_EFULL and nothing is buffered beyond the window.
 *
 * How a delivery ends (confirm status), served by poll(), flush() and
 * destroy() only:
 *
 *   the peer's disposition / event          status       why
 *   --------------------------------------  -----------  ----------------------------------
 *   accepted                                CUT_OK       the only confirmation
 *   rejected                                CUT_EINVAL   refused for good; the condition is
 *                                                        the message
 *   released, modified                      CUT_ERETRY   not taken this time
 *   settled without an outcome              CUT_ERETRY   nothing says it was stored
 *   connection lost, link detached,         CUT_ERETRY   unknown: send again (a duplicate,
 *   destroy() with it unsettled                          same message id, is the price)
 *
 * Destinations: the configured address, or rec->dest when the caller gives
 * a record that names one. Each address gets its own sender link, attached
 * on first use (send() returns CUT_EFULL until the broker attaches it and
 * grants credit); up to LINKS_MAX of them, the least recently used idle one
 * closed to make room. A refused attach (the broker answers without a
 * target) of the configured address fails the connection, which reconnects
 * with backoff; of another address, sends to it return CUT_EINVAL (this
 * message's routing is wrong) for reconnect_backoff_max, then it is tried
 * again.
 *
 * properties.to is written from msg->destination (the JMSDestination the
 * message had), not from the target: the link decides where it goes.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/disposition.h>
#include <proton/link.h>
#include <proton/session.h>
#include <proton/terminus.h>

#include "amqp10.h"
#include "cutover/log.h"

#define LOG_COMPONENT "amqp10"

#define LINKS_MAX        16
#define CLOSE_TIMEOUT_MS 2000

#define SINK_OFF(field) offsetof(struct cut_amqp10_sink_settings, field)

const struct cut_cfg_key cut_amqp10_sink_keys[] = {
    {.name = "address",
     .type = CUT_CFG_STRING,
     .offset = SINK_OFF(address),
     .required = true,
     .desc = "target address (Artemis: the queue name; RabbitMQ 3.10: /amq/queue/NAME)"},
    {.name = "max_in_flight",
     .type = CUT_CFG_INT,
     .offset = SINK_OFF(max_in_flight),
     .def = "1000",
     .min = 1,
     .max = 1000000,
     .desc = "unsettled sends at once; send() returns EFULL beyond it (also without credit)"},
    {.name = NULL},
};

struct sink_link {
    char *address;   /* owned */
    pn_link_t *link; /* of the current connection; NULL when not opened */
    bool attached;
    bool refusing; /* the peer answered our attach without a target */
    int64_t refused_until;
    char why[256];
    uint64_t last_used;
    unsigned serial; /* for unique link names */
};

struct cut_sink {
    const struct cut_amqp10_sink_settings *cfg; /* borrowed from the config */
    const char *flow;                           /* borrowed */
    cut_confirm_cb confirm;
    void *opaque;
    struct cut_amqp10_conn conn;
    pn_session_t *ssn;
    struct sink_link links[LINKS_MAX]; /* [0] is the configured address */
    size_t n_links;
    unsigned link_serial;
    uint64_t use_clock;
    struct cut_amqp10_slots slots;
    struct cut_amqp10_msgbuf buf;
    uint64_t tag;
    int served;
    bool closing;
};

/* ---- confirmations -------------------------------------------------------- */

static void sink_confirm(struct cut_sink *sink, uint32_t idx, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void sink_confirm(struct cut_sink *sink, uint32_t idx, int status, const char *fmt, ...)
{
    struct cut_err err;
    va_list ap;
    cut_token_t token = sink->slots.v[idx].token;

    cut_err_clear(&err);
    err.code = status;
    va_start(ap, fmt);
    vsnprintf(err.msg, sizeof(err.msg), fmt, ap);
    va_end(ap);
    cut_amqp10_slots_release(&sink->slots, idx);
    sink->served++;
    sink->confirm(sink->opaque, token, status, &err);
}

static int64_t slot_of(pn_delivery_t *dlv)
{
    return (int64_t)(uintptr_t)pn_delivery_get_context(dlv) - 1;
}

/* The connection is gone: every unsettled send is unknown, so retried. */
static void sink_down(struct cut_sink *sink)
{
    for (uint32_t i = 0; i < sink->slots.cap; i++) {
        if (sink->slots.v[i].dlv != NULL) {
            sink_confirm(sink, i, CUT_ERETRY,
                         "amqp10: connection lost before the broker "
                         "settled the message");
        }
    }
    for (size_t i = 0; i < sink->n_links; i++) {
        sink->links[i].link = NULL;
        sink->links[i].attached = false;
        sink->links[i].refusing = false;
    }
    sink->ssn = NULL;
}

static void on_delivery(struct cut_sink *sink, pn_delivery_t *dlv)
{
    int64_t idx = slot_of(dlv);
    uint64_t state = pn_delivery_remote_state(dlv);
    bool terminal = state == PN_ACCEPTED || state == PN_REJECTED || state == PN_RELEASED ||
                    state == PN_MODIFIED;
    char text[256] = "";

    if (idx < 0 || (!terminal && !pn_delivery_settled(dlv))) {
        return;
    }
    if (state == PN_REJECTED) {
        cut_amqp10_condition_text(pn_disposition_condition(pn_delivery_remote(dlv)), text,
                                  sizeof(text));
    }
    /* Settled on our side too: proton frees it once the event is done. */
    pn_delivery_set_context(dlv, NULL);
    pn_delivery_settle(dlv);
    switch (state) {
    case PN_ACCEPTED:
        sink_confirm(sink, (uint32_t)idx, CUT_OK, "accepted");
        break;
    case PN_REJECTED:
        sink_confirm(sink, (uint32_t)idx, CUT_EINVAL, "amqp10: the broker rejected the message%s%s",
                     text[0] != '\0' ? ": " : "", text);
        break;
    case PN_RELEASED:
    case PN_MODIFIED:
        sink_confirm(sink, (uint32_t)idx, CUT_ERETRY, "amqp10: the broker %s the message",
                     state == PN_RELEASED ? "released" : "modified");
        break;
    default:
        sink_confirm(sink, (uint32_t)idx, CUT_ERETRY,
                     "amqp10: the broker settled the message without an outcome");
        break;
    }
}

/* ---- links ---------------------------------------------------------------- */

static struct sink_link *link_of(struct cut_sink *sink, pn_link_t *link)
{
    for (size_t i = 0; i < sink->n_links; i++) {
        if (sink->links[i].link == link) {
            return &sink->links[i];
        }
    }
    return NULL;
}

static void link_open(struct cut_sink *sink, struct sink_link *sl)
{
    char name[400];
    snprintf(name, sizeof(name), "cutover-%s-sink-%s-%u", sink->flow, sl->address,
             ++sink->link_serial);
    sl->link = pn_sender(sink->ssn, name);
    pn_terminus_t *target = pn_link_target(sl->link);
    pn_terminus_set_address(target, sl->address);
    pn_data_put_symbol(pn_terminus_capabilities(target), pn_bytes(5, "queue"));
    pn_link_set_snd_settle_mode(sl->link, PN_SND_UNSETTLED);
    pn_link_set_rcv_settle_mode(sl->link, PN_RCV_FIRST);
    pn_link_open(sl->link);
    sl->attached = false;
    sl->refusing = false;
}

/* The peer detached @p sl: its unsettled sends are retried, the link forgotten. */
static void link_lost(struct cut_sink *sink, struct sink_link *sl, const char *why)
{
    for (pn_delivery_t *d = pn_unsettled_head(sl->link); d != NULL;) {
        pn_delivery_t *next = pn_unsettled_next(d);
        int64_t idx = slot_of(d);
        if (idx >= 0 && sink->slots.v[idx].dlv == d) {
            pn_delivery_set_context(d, NULL);
            sink_confirm(sink, (uint32_t)idx, CUT_ERETRY, "amqp10: link to '%s' detached: %s",
                         sl->address, why);
        }
        pn_delivery_settle(d);
        d = next;
    }
    pn_link_close(sl->link);
    sl->link = NULL;
    sl->attached = false;
}

static void on_event(void *opaque, pn_event_t *ev)
{
    struct cut_sink *sink = opaque;
    struct sink_link *sl;
    char text[256];

    switch (pn_event_type(ev)) {
    case PN_LINK_REMOTE_OPEN:
        sl = link_of(sink, pn_event_link(ev));
        if (sl == NULL) {
            break;
        }
        if (pn_terminus_get_type(pn_link_remote_target(sl->link)) == PN_UNSPECIFIED) {
            sl->refusing = true; /* the detach that follows says why */
            break;
        }
        sl->attached = true;
        if (sl == &sink->links[0]) {
            cut_amqp10_conn_up(&sink->conn);
        }
        break;
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        sl = link_of(sink, pn_event_link(ev));
        if (sl == NULL) {
            break;
        }
        cut_amqp10_condition_text(pn_link_remote_condition(sl->link), text, sizeof(text));
        if (sl == &sink->links[0]) {
            cut_amqp10_conn_fail(&sink->conn, "%s address '%s'%s%s",
                                 sl->refusing ? "the broker refused" : "the broker detached from",
                                 sl->address, text[0] != '\0' ? ": " : "", text);
            break;
        }
        if (sl->refusing) {
            sl->refused_until = cut_amqp10_now_ms() + sink->conn.cfg->reconnect_backoff_max_ms;
            snprintf(sl->why, sizeof(sl->why), "%s", text[0] != '\0' ? text : "refused");
            cut_log_warn(LOG_COMPONENT, "flow %s sink: the broker refused address '%s': %s",
                         sink->flow, sl->address, sl->why);
        }
        link_lost(sink, sl, text[0] != '\0' ? text : "no reason given");
        break;
    case PN_SESSION_REMOTE_CLOSE:
        cut_amqp10_condition_text(pn_session_remote_condition(pn_event_session(ev)), text,
                                  sizeof(text));
        cut_amqp10_conn_fail(&sink->conn, "session ended by the broker%s%s",
                             text[0] != '\0' ? ": " : "", text);
        break;
    case PN_DELIVERY:
        on_delivery(sink, pn_event_delivery(ev));
        break;
    default:
        break;
    }
}

/* The link for @p address: CUT_OK (attached), CUT_EFULL (attaching), CUT_EINVAL (refused). */
static int link_for(struct cut_sink *sink, const char *address, struct sink_link **out,
                    struct cut_err *err)
{
    struct sink_link *sl = NULL;
    for (size_t i = 0; i < sink->n_links && sl == NULL; i++) {
        if (strcmp(sink->links[i].address, address) == 0) {
            sl = &sink->links[i];
        }
    }
    if (sl == NULL) {
        if (sink->n_links == LINKS_MAX) {
            /* Close the least recently used idle link to make room. */
            struct sink_link *victim = NULL;
            for (size_t i = 1; i < sink->n_links; i++) {
                struct sink_link *c = &sink->links[i];
                if ((c->link == NULL || pn_link_unsettled(c->link) == 0) &&
                    (victim == NULL || c->last_used < victim->last_used)) {
                    victim = c;
                }
            }
            if (victim == NULL) {
                return cut_err_set(err, CUT_EFULL, "all %d sender links busy", LINKS_MAX);
            }
            if (victim->link != NULL) {
                pn_link_close(victim->link);
            }
            free(victim->address);
            *victim = sink->links[--sink->n_links];
        }
        sl = &sink->links[sink->n_links];
        memset(sl, 0, sizeof(*sl));
        sl->address = strdup(address);
        if (sl->address == NULL) {
            return cut_err_set(err, CUT_ENOMEM, "out of memory");
        }
        sink->n_links++;
    }
    sl->last_used = ++sink->use_clock;
    if (sl->refused_until > cut_amqp10_now_ms()) {
        return cut_err_set(err, CUT_EINVAL, "amqp10: the broker refused address '%s': %s", address,
                           sl->why);
    }
    if (sl->link == NULL) {
        link_open(sink, sl);
    }
    *out = sl;
    return sl->attached
               ? CUT_OK
               : cut_err_set(err, CUT_EFULL, "waiting for the broker to attach '%s'", address);
}

/* ---- connection ----------------------------------------------------------- */

static void sink_connect(struct cut_sink *sink)
{
    if (sink->closing || cut_amqp10_conn_start(&sink->conn, NULL) != CUT_OK) {
        return;
    }
    sink->ssn = pn_session(sink->conn.driver.connection);
    pn_session_open(sink->ssn);
    link_open(sink, &sink->links[0]);
}

/* Move bytes and events (confirmations happen here). */
static void sink_pump(struct cut_sink *sink)
{
    if (!sink->conn.have_driver) {
        sink_connect(sink);
    }
    if (cut_amqp10_conn_pump(&sink->conn) == CUT_EFATAL) {
        sink_down(sink);
    }
}

/* ---- ops ------------------------------------------------------------------ */

static int sink_create(struct cut_sink **out, const struct cut_sink_params *params,
                       struct cut_err *err)
{
    const struct cut_amqp10_sink_settings *cfg = params->settings;
    struct cut_sink *sink;
    int rc;

    *out = NULL;
    if (params->conn_settings == NULL || cfg == NULL || cfg->address == NULL ||
        params->confirm == NULL) {
        return cut_err_set(err, CUT_EINVAL, "amqp10 sink: missing settings, address or callback");
    }
    sink = calloc(1, sizeof(*sink));
    if (sink == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    sink->cfg = cfg;
    sink->flow = params->flow;
    sink->confirm = params->confirm;
    sink->opaque = params->opaque;
    rc = cut_amqp10_conn_init(&sink->conn, params->conn_settings, params->flow, "sink", on_event,
                              sink, err);
    if (rc == CUT_OK && cut_amqp10_msgbuf_init(&sink->buf) != CUT_OK) {
        rc = cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    if (rc == CUT_OK) {
        sink->links[0].address = strdup(cfg->address);
        sink->n_links = 1;
        if (sink->links[0].address == NULL) {
            rc = cut_err_set(err, CUT_ENOMEM, "out of memory");
        }
    }
    if (rc != CUT_OK) {
        cut_amqp10_conn_fini(&sink->conn);
        cut_amqp10_msgbuf_fini(&sink->buf);
        free(sink->links[0].address);
        free(sink);
        return rc;
    }
    *out = sink;
    return CUT_OK;
}

static int sink_send(struct cut_sink *sink, const struct cut_msg *msg, const struct cut_record *rec,
                     cut_token_t token, struct cut_err *err)
{
    struct sink_link *sl = NULL;
    const char *out;
    size_t len;
    uint32_t idx;
    int rc;

    if (sink->closing) {
        return cut_err_set(err, CUT_EFATAL, "amqp10 sink: closing");
    }
    if (msg == NULL) {
        return cut_err_set(err, CUT_EINVAL, "amqp10 sink: a legacy sink needs the message");
    }
    if (sink->conn.lost) {
        sink->conn.lost = false;
        return cut_err_set(err, CUT_EFATAL, "amqp10: %s", sink->conn.reason);
    }
    if (!sink->conn.have_driver) {
        sink_connect(sink);
    }
    if (sink->conn.state != CUT_CONN_UP) {
        return cut_err_set(err, CUT_EFULL, "amqp10: not connected to %s yet%s%s", sink->conn.peer,
                           sink->conn.reason[0] != '\0' ? " (last error: " : "",
                           sink->conn.reason[0] != '\0' ? sink->conn.reason : "");
    }
    if (sink->slots.used >= (uint64_t)sink->cfg->max_in_flight) {
        return cut_err_set(err, CUT_EFULL, "amqp10: %u messages in flight", sink->slots.used);
    }
    const char *address = rec != NULL && rec->dest != NULL ? rec->dest : sink->cfg->address;
    rc = link_for(sink, address, &sl, err);
    if (rc != CUT_OK) {
        cut_amqp10_conn_write(&sink->conn); /* the attach, if new */
        return rc;
    }
    if (pn_link_credit(sl->link) <= 0) {
        return cut_err_set(err, CUT_EFULL, "amqp10: no credit from the broker on '%s'", address);
    }
    rc = cut_amqp10_msg_encode(&sink->buf, msg, &out, &len, err);
    if (rc != CUT_OK) {
        return rc;
    }
    char tag[8];
    uint64_t t = ++sink->tag;
    for (int i = 0; i < 8; i++) {
        tag[i] = (char)(t >> (56 - 8 * i));
    }
    pn_delivery_t *dlv = pn_delivery(sl->link, pn_dtag(tag, sizeof(tag)));
    if (dlv == NULL || cut_amqp10_slots_take(&sink->slots, dlv, &idx) != CUT_OK) {
        if (dlv != NULL) {
            pn_delivery_abort(dlv);
        }
        return cut_err_set(err, CUT_EFULL, "amqp10: cannot track another delivery");
    }
    sink->slots.v[idx].token = token;
    pn_delivery_set_context(dlv, (void *)(uintptr_t)(idx + 1));
    if (pn_link_send(sl->link, out, len) != (ssize_t)len) {
        /* proton copies into its own buffer; this only fails without memory. */
        pn_delivery_set_context(dlv, NULL);
        pn_delivery_abort(dlv);
        cut_amqp10_slots_release(&sink->slots, idx);
        return cut_err_set(err, CUT_EFULL, "amqp10: proton refused the message bytes");
    }
    pn_link_advance(sl->link);
    cut_amqp10_conn_write(&sink->conn);
    return CUT_OK;
}

static int sink_poll(struct cut_sink *sink, int timeout_ms)
{
    sink->served = 0;
    sink_pump(sink);
    if (sink->served == 0 && timeout_ms > 0) {
        int fd = cut_amqp10_conn_fd(&sink->conn);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        poll(&pfd, fd >= 0 ? 1 : 0, timeout_ms);
        sink_pump(sink);
    }
    return sink->served;
}

static int sink_fd(struct cut_sink *sink)
{
    return cut_amqp10_conn_fd(&sink->conn);
}

static size_t sink_in_flight(struct cut_sink *sink)
{
    return sink->slots.used;
}

static int sink_flush(struct cut_sink *sink, int timeout_ms, struct cut_err *err)
{
    int64_t deadline = cut_amqp10_now_ms() + timeout_ms;
    for (;;) {
        int64_t left = deadline - cut_amqp10_now_ms();
        if (sink->slots.used == 0) {
            return CUT_OK;
        }
        if (left <= 0) {
            return cut_err_set(err, CUT_ERETRY, "amqp10: %u messages still unsettled",
                               sink->slots.used);
        }
        sink_poll(sink, (int)(left < 50 ? left : 50));
    }
}

static enum cut_conn_state sink_state(struct cut_sink *sink)
{
    return sink->conn.state;
}

static void sink_destroy(struct cut_sink *sink)
{
    if (sink == NULL) {
        return;
    }
    sink->closing = true;
    if (sink->conn.have_driver) {
        sink_pump(sink); /* confirmations already on the wire */
    }
    int64_t timeout = sink->conn.cfg->connect_timeout_ms < CLOSE_TIMEOUT_MS
                          ? sink->conn.cfg->connect_timeout_ms
                          : CLOSE_TIMEOUT_MS;
    cut_amqp10_conn_close(&sink->conn, timeout);
    sink_down(sink); /* whatever is left: unknown, retried */
    cut_amqp10_conn_fini(&sink->conn);
    cut_amqp10_slots_fini(&sink->slots);
    cut_amqp10_msgbuf_fini(&sink->buf);
    for (size_t i = 0; i < sink->n_links; i++) {
        free(sink->links[i].address);
    }
    free(sink);
}

const struct cut_sink_ops cut_amqp10_sink_ops = {
    .create = sink_create,
    .send = sink_send,
    .poll = sink_poll,
    .fd = sink_fd,
    .in_flight = sink_in_flight,
    .flush = sink_flush,
    .state = sink_state,
    .destroy = sink_destroy,
};

const struct cut_connector cut_amqp10_connector = {
    .protocol = "amqp10",
    .conn_keys = cut_amqp10_conn_keys,
    .conn_size = sizeof(struct cut_amqp10_conn_settings),
    .source_keys = cut_amqp10_source_keys,
    .source_size = sizeof(struct cut_amqp10_source_settings),
    .sink_keys = cut_amqp10_sink_keys,
    .sink_size = sizeof(struct cut_amqp10_sink_settings),
    .source = &cut_amqp10_source_ops,
    .sink = &cut_amqp10_sink_ops,
};
