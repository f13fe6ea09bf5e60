/*
 * AMQP 1.0 source: one receiver link (rcv-settle-mode first, snd-settle-mode
 * unsettled) on its own connection, a credit window, one delivery handed
 * out per fetch(). The contract is in connector.h; the model (I/O, timers,
 * tokens) in amqp10.h; the message fields in amqp10_msg.c.
 *
 * Credit: at most `credit` deliveries are outstanding at once, counting the
 * credit granted, the deliveries received and not yet fetched, and those
 * handed out and not yet settled. Credit is topped up to the window once
 * half of it is free, so the broker sees a flow frame per half window, not
 * per message.
 *
 * Settlement: settle() updates the delivery (accepted; modified with
 * delivery-failed for RETRY, so the broker counts the attempt; rejected with
 * a condition for REJECT) and settles it; the disposition frames go out with
 * the next fetch() or flush() that reaches the socket, so a burst of settles
 * costs one write. Released is avoided (it does not count as an attempt and
 * can loop for ever), with one exception: a broker whose attach lists the
 * outcomes it supports without amqp:modified:list (RabbitMQ 3.10 lists
 * accepted, rejected, released, and closes the session on a modified) gets
 * released for RETRY, with a warning once: its own redelivery limit (quorum
 * queues' delivery-limit) or the flow's bounded retries must stop a loop.
 *
 * Polling: deliveries wait in proton's buffers once read, so the runner must
 * call fetch() until CUT_EAGAIN before it polls fd(); CUT_EAGAIN means
 * nothing complete is buffered. fetch() reads the socket when nothing is
 * buffered, and at least every PUMP_EVERY_MS while it hands out buffered
 * ones, so that credit and dispositions keep moving.
 *
 * Pause: pause(1) stops granting credit and asks the broker to drain what
 * is left (drain flag), so nothing more arrives after the deliveries already
 * on the wire, which fetch() still hands out; pause(0) clears the drain flag
 * and grants the window again.
 *
 * Malformed deliveries (not decodable as an AMQP message) are rejected here
 * with amqp:decode-error and logged; the flow never sees them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/disposition.h>
#include <proton/link.h>
#include <proton/session.h>
#include <proton/terminus.h>

#include "amqp10.h"
#include "cutover/log.h"

#define LOG_COMPONENT "amqp10"

/* Bound on the polite close at destroy(). */
#define CLOSE_TIMEOUT_MS 2000
/* Read the socket at least this often while buffered deliveries are handed out. */
#define PUMP_EVERY_MS 5

#define SRC_OFF(field) offsetof(struct cut_amqp10_source_settings, field)

const struct cut_cfg_key cut_amqp10_source_keys[] = {
    {.name = "address",
     .type = CUT_CFG_STRING,
     .offset = SRC_OFF(address),
     .required = true,
     .desc = "queue address to receive from (Artemis: the queue name; RabbitMQ 3.10: "
             "/amq/queue/NAME for an existing queue)"},
    {.name = "credit",
     .type = CUT_CFG_INT,
     .offset = SRC_OFF(credit),
     .def = "1000",
     .min = 1,
     .max = 1000000,
     .desc = "credit window: deliveries granted, buffered and unsettled at once (the "
             "back-pressure window); topped up when half is free"},
    {.name = NULL},
};

struct cut_source {
    const struct cut_amqp10_source_settings *cfg; /* borrowed from the config */
    const char *flow;                             /* borrowed */
    struct cut_amqp10_conn conn;
    pn_link_t *link; /* of the current connection; NULL when down */
    bool attached;
    bool refused; /* the broker answered our attach without a source */
    bool paused;
    bool retry_released; /* the broker does not take modified: RETRY is released */
    bool warned_released;
    struct cut_amqp10_slots slots;
    struct cut_amqp10_msgbuf buf;
    char *rx; /* the delivery handed out last; the message borrows from it */
    size_t rx_cap;
    int64_t last_pump_ms;
    bool warned_dropped;
    char reject_desc[200];
};

/* ---- connection ----------------------------------------------------------- */

static int64_t token_epoch(cut_token_t token)
{
    return (int64_t)(token >> 48);
}

/* The connection is gone (its proton objects are freed): forget them. */
static void source_down(struct cut_source *src)
{
    src->link = NULL;
    src->attached = false;
    src->refused = false;
    cut_amqp10_slots_reset(&src->slots);
}

/* Report a loss to the flow once: whichever op sees it first. */
static int source_report_lost(struct cut_source *src, struct cut_err *err)
{
    src->conn.lost = false;
    return cut_err_set(err, CUT_EFATAL, "%s", src->conn.reason);
}

static void source_topup(struct cut_source *src)
{
    if (!src->attached || src->paused) {
        return;
    }
    int64_t window = src->cfg->credit;
    int64_t outstanding =
        (int64_t)pn_link_credit(src->link) + pn_link_queued(src->link) + src->slots.used;
    int64_t free_credit = window - outstanding;
    if (free_credit > 0 && free_credit >= (window + 1) / 2) {
        pn_link_flow(src->link, (int)free_credit);
    }
}

/* Whether the broker's source terminus allows outcome @p name (no list: all do). */
static bool outcome_allowed(pn_link_t *link, const char *name)
{
    pn_data_t *outcomes = pn_terminus_outcomes(pn_link_remote_source(link));
    bool allowed = false;

    pn_data_rewind(outcomes);
    if (!pn_data_next(outcomes)) {
        return true;
    }
    if (pn_data_type(outcomes) == PN_SYMBOL) {
        pn_bytes_t b = pn_data_get_symbol(outcomes);
        return b.size == strlen(name) && memcmp(b.start, name, b.size) == 0;
    }
    if (pn_data_type(outcomes) != PN_ARRAY) {
        return true;
    }
    pn_data_enter(outcomes);
    while (!allowed && pn_data_next(outcomes)) {
        pn_bytes_t b = pn_data_get_symbol(outcomes);
        allowed = b.size == strlen(name) && memcmp(b.start, name, b.size) == 0;
    }
    pn_data_exit(outcomes);
    return allowed;
}

static void on_event(void *opaque, pn_event_t *ev)
{
    struct cut_source *src = opaque;
    char text[256];

    switch (pn_event_type(ev)) {
    case PN_LINK_REMOTE_OPEN:
        if (pn_event_link(ev) != src->link) {
            break;
        }
        if (pn_terminus_get_type(pn_link_remote_source(src->link)) == PN_UNSPECIFIED) {
            src->refused = true; /* the detach that follows says why */
            break;
        }
        src->attached = true;
        src->retry_released = !outcome_allowed(src->link, "amqp:modified:list");
        if (src->retry_released && !src->warned_released) {
            src->warned_released = true;
            cut_log_warn(LOG_COMPONENT,
                         "flow %s source: the broker does not support the modified outcome on "
                         "'%s'; RETRY settles as released, which the broker does not count as a "
                         "failed delivery (logged once)",
                         src->flow, src->cfg->address);
        }
        cut_amqp10_conn_up(&src->conn);
        source_topup(src);
        if (src->paused) {
            pn_link_drain(src->link, 0);
        }
        break;
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH:
        if (pn_event_link(ev) != src->link) {
            break;
        }
        cut_amqp10_condition_text(pn_link_remote_condition(src->link), text, sizeof(text));
        cut_amqp10_conn_fail(&src->conn, "%s address '%s'%s%s",
                             src->refused ? "the broker refused" : "the broker detached from",
                             src->cfg->address, text[0] != '\0' ? ": " : "", text);
        break;
    case PN_SESSION_REMOTE_CLOSE:
        cut_amqp10_condition_text(pn_session_remote_condition(pn_event_session(ev)), text,
                                  sizeof(text));
        cut_amqp10_conn_fail(&src->conn, "session ended by the broker%s%s",
                             text[0] != '\0' ? ": " : "", text);
        break;
    default:
        break;
    }
}

/* Start a connection attempt and ask for our link; CUT_OK, or CUT_EAGAIN (err says why). */
static int source_connect(struct cut_source *src, struct cut_err *err)
{
    int rc = cut_amqp10_conn_start(&src->conn, err);
    if (rc != CUT_OK) {
        if (err != NULL) {
            err->code = CUT_EAGAIN;
        }
        return CUT_EAGAIN;
    }
    source_down(src); /* a new epoch: nothing of the last connection survives */
    pn_session_t *ssn = pn_session(src->conn.driver.connection);
    char name[300];
    snprintf(name, sizeof(name), "cutover-%s-source-%s", src->flow, src->cfg->address);
    src->link = pn_receiver(ssn, name);
    pn_terminus_t *source = pn_link_source(src->link);
    pn_terminus_set_address(source, src->cfg->address);
    /* As Qpid JMS does for a Queue: Artemis then auto-creates an anycast queue. */
    pn_data_put_symbol(pn_terminus_capabilities(source), pn_bytes(5, "queue"));
    pn_link_set_snd_settle_mode(src->link, PN_SND_UNSETTLED);
    pn_link_set_rcv_settle_mode(src->link, PN_RCV_FIRST);
    pn_session_open(ssn);
    pn_link_open(src->link);
    src->last_pump_ms = 0;
    return CUT_OK;
}

/* Move bytes and events; CUT_OK or CUT_EFATAL (the connection died: state reset). */
static int source_pump(struct cut_source *src)
{
    source_topup(src);
    int rc = cut_amqp10_conn_pump(&src->conn);
    src->last_pump_ms = cut_amqp10_now_ms();
    if (rc == CUT_EFATAL) {
        source_down(src);
    }
    return rc == CUT_EFATAL ? CUT_EFATAL : CUT_OK;
}

/* ---- deliveries ----------------------------------------------------------- */

/* The next complete delivery buffered on the link, or NULL. */
static pn_delivery_t *next_complete(struct cut_source *src)
{
    if (!src->attached) {
        return NULL;
    }
    for (;;) {
        pn_delivery_t *dlv = pn_link_current(src->link);
        if (dlv == NULL) {
            return NULL;
        }
        if (pn_delivery_aborted(dlv)) {
            /* The sender gave up on it mid-transfer: nothing to settle. */
            pn_link_advance(src->link);
            pn_delivery_settle(dlv);
            continue;
        }
        if (!pn_delivery_readable(dlv) || pn_delivery_partial(dlv)) {
            return NULL;
        }
        return dlv;
    }
}

static int read_delivery(struct cut_source *src, size_t *len)
{
    size_t n = 0;
    for (;;) {
        if (src->rx_cap - n < 4096) {
            size_t cap = src->rx_cap > 0 ? src->rx_cap * 2 : 65536;
            char *p = realloc(src->rx, cap);
            if (p == NULL) {
                return CUT_ENOMEM;
            }
            src->rx = p;
            src->rx_cap = cap;
        }
        ssize_t got = pn_link_recv(src->link, src->rx + n, src->rx_cap - n);
        if (got == PN_EOS) {
            break;
        }
        if (got < 0) {
            return CUT_EINVAL;
        }
        n += (size_t)got;
    }
    *len = n;
    return CUT_OK;
}

static void reject_malformed(struct cut_source *src, pn_delivery_t *dlv, const char *why)
{
    pn_condition_t *cond = pn_disposition_condition(pn_delivery_local(dlv));
    pn_condition_set_name(cond, "amqp:decode-error");
    pn_condition_set_description(cond, why);
    pn_delivery_update(dlv, PN_REJECTED);
    pn_delivery_settle(dlv);
    cut_log_warn(LOG_COMPONENT, "flow %s source: rejected an undecodable delivery from '%s': %s",
                 src->flow, src->cfg->address, why);
}

/* Hand out the next complete delivery. CUT_OK, CUT_EAGAIN (none), CUT_EFATAL. */
static int deliver(struct cut_source *src, struct cut_msg *msg, struct cut_err *err)
{
    pn_delivery_t *dlv;

    while ((dlv = next_complete(src)) != NULL) {
        size_t len = 0;
        uint32_t idx;
        int rc = read_delivery(src, &len);
        pn_link_advance(src->link);
        if (rc == CUT_OK) {
            rc = cut_amqp10_slots_take(&src->slots, dlv, &idx);
        }
        if (rc != CUT_OK) {
            /* Only a new connection gets it back to the queue. */
            cut_amqp10_conn_fail(&src->conn, "cannot take a delivery: %s",
                                 rc == CUT_ENOMEM ? "out of memory" : "bad transfer");
            source_down(src);
            return source_report_lost(src, err);
        }
        cut_token_t token = (cut_token_t)src->conn.epoch << 48 |
                            (cut_token_t)src->slots.v[idx].gen << CUT_AMQP10_SLOT_BITS | idx;
        rc = cut_amqp10_msg_decode(&src->buf, src->rx, len, token, msg, err);
        if (rc == CUT_OK) {
            if (src->buf.dropped > 0 && !src->warned_dropped) {
                src->warned_dropped = true;
                cut_log_warn(LOG_COMPONENT,
                             "flow %s source: message %s has %zu properties or annotations of "
                             "types the envelope cannot carry (list, map, array, decimal...); "
                             "they are dropped (logged once)",
                             src->flow, msg->message_id, src->buf.dropped);
            }
            return CUT_OK;
        }
        cut_amqp10_slots_release(&src->slots, idx);
        if (rc == CUT_ENOMEM) {
            cut_amqp10_conn_fail(&src->conn, "out of memory decoding a message");
            source_down(src);
            return source_report_lost(src, err);
        }
        reject_malformed(src, dlv, err != NULL ? err->msg : "malformed message");
    }
    return CUT_EAGAIN;
}

/* ---- ops ------------------------------------------------------------------ */

static int source_create(struct cut_source **out, const struct cut_source_params *params,
                         struct cut_err *err)
{
    const struct cut_amqp10_source_settings *cfg = params->settings;
    struct cut_source *src = NULL;
    int rc;

    *out = NULL;
    if (params->conn_settings == NULL || cfg == NULL || cfg->address == NULL) {
        return cut_err_set(err, CUT_EINVAL, "amqp10 source: missing settings or address");
    }
    src = calloc(1, sizeof(*src));
    if (src == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    src->cfg = cfg;
    src->flow = params->flow;
    snprintf(src->reject_desc, sizeof(src->reject_desc),
             "rejected by the cutover bridge, flow %s (see its log)", params->flow);
    rc = cut_amqp10_conn_init(&src->conn, params->conn_settings, params->flow, "source", on_event,
                              src, err);
    if (rc == CUT_OK && cut_amqp10_msgbuf_init(&src->buf) != CUT_OK) {
        rc = cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    if (rc != CUT_OK) {
        cut_amqp10_conn_fini(&src->conn);
        cut_amqp10_msgbuf_fini(&src->buf);
        free(src);
        return rc;
    }
    *out = src;
    return CUT_OK;
}

static int source_fetch(struct cut_source *src, struct cut_msg *msg, struct cut_err *err)
{
    int rc;

    if (src->conn.lost) {
        return source_report_lost(src, err);
    }
    if (!src->conn.have_driver) {
        rc = source_connect(src, err);
        if (rc != CUT_OK) {
            return rc;
        }
    }
    int64_t now = cut_amqp10_now_ms();
    if (now - src->last_pump_ms < PUMP_EVERY_MS) {
        rc = deliver(src, msg, err);
        if (rc != CUT_EAGAIN) {
            return rc;
        }
    }
    if (source_pump(src) != CUT_OK) {
        return source_report_lost(src, err);
    }
    rc = deliver(src, msg, err);
    if (rc == CUT_EAGAIN && err != NULL) {
        cut_err_set(err, CUT_EAGAIN, "nothing buffered");
    }
    return rc;
}

static int source_settle(struct cut_source *src, cut_token_t token, enum cut_outcome outcome,
                         struct cut_err *err)
{
    uint32_t idx = (uint32_t)(token & (CUT_AMQP10_SLOT_MAX - 1));
    uint32_t gen = (uint32_t)((token >> CUT_AMQP10_SLOT_BITS) & (CUT_AMQP10_SLOT_MAX - 1));

    if (!src->conn.have_driver || token_epoch(token) != src->conn.epoch) {
        /* Its connection is gone: the broker redelivers it. Never touch a
         * delivery of another connection. */
        return CUT_OK;
    }
    if (idx >= src->slots.cap || src->slots.v[idx].dlv == NULL || src->slots.v[idx].gen != gen) {
        return cut_err_set(err, CUT_EINVAL, "settle: unknown token %#llx (settled twice?)",
                           (unsigned long long)token);
    }
    pn_delivery_t *dlv = src->slots.v[idx].dlv;
    pn_disposition_t *local = pn_delivery_local(dlv);
    switch (outcome) {
    case CUT_OUTCOME_ACCEPT:
        pn_delivery_update(dlv, PN_ACCEPTED);
        break;
    case CUT_OUTCOME_RETRY:
        if (src->retry_released) {
            pn_delivery_update(dlv, PN_RELEASED);
            break;
        }
        /* delivery-failed raises the broker's delivery count, so its
         * redelivery limit (and DLQ) eventually applies; undeliverable-here
         * stays false so that this consumer may get it again. */
        pn_disposition_set_failed(local, true);
        pn_disposition_set_undeliverable(local, false);
        pn_delivery_update(dlv, PN_MODIFIED);
        break;
    case CUT_OUTCOME_REJECT:
    default:
        pn_condition_set_name(pn_disposition_condition(local), "amqp:not-allowed");
        pn_condition_set_description(pn_disposition_condition(local), src->reject_desc);
        pn_delivery_update(dlv, PN_REJECTED);
        break;
    }
    pn_delivery_settle(dlv);
    cut_amqp10_slots_release(&src->slots, idx);
    return CUT_OK;
}

static int source_flush(struct cut_source *src, struct cut_err *err)
{
    if (src->conn.lost) {
        return source_report_lost(src, err);
    }
    if (!src->conn.have_driver) {
        return CUT_OK; /* nothing can be settled: the broker redelivers */
    }
    if (source_pump(src) != CUT_OK) {
        return source_report_lost(src, err);
    }
    return CUT_OK;
}

static int source_pause(struct cut_source *src, int paused, struct cut_err *err)
{
    bool was = src->paused;

    src->paused = paused != 0;
    if (!src->attached || was == src->paused) {
        return CUT_OK; /* applied when the link attaches */
    }
    if (src->paused) {
        pn_link_drain(src->link, 0);
        cut_log_info(LOG_COMPONENT,
                     "flow %s source: paused (credit drained, %u in flight, %d buffered)",
                     src->flow, src->slots.used, pn_link_queued(src->link));
    } else {
        pn_link_set_drain(src->link, false);
        cut_log_info(LOG_COMPONENT, "flow %s source: resumed", src->flow);
    }
    return source_flush(src, err);
}

static int source_fd(struct cut_source *src)
{
    return cut_amqp10_conn_fd(&src->conn);
}

static size_t source_in_flight(struct cut_source *src)
{
    return src->slots.used;
}

static enum cut_conn_state source_state(struct cut_source *src)
{
    return src->conn.state;
}

static void source_destroy(struct cut_source *src)
{
    if (src == NULL) {
        return;
    }
    if (src->attached) {
        size_t left = src->slots.used;
        if (left > 0) {
            cut_log_info(LOG_COMPONENT,
                         "flow %s source: closing with %zu unsettled deliveries; the broker "
                         "redelivers them",
                         src->flow, left);
        }
    }
    int64_t timeout = src->conn.cfg->connect_timeout_ms < CLOSE_TIMEOUT_MS
                          ? src->conn.cfg->connect_timeout_ms
                          : CLOSE_TIMEOUT_MS;
    /* The close pumps first, so the settles recorded so far go out with it. */
    cut_amqp10_conn_close(&src->conn, timeout);
    source_down(src);
    cut_amqp10_conn_fini(&src->conn);
    cut_amqp10_slots_fini(&src->slots);
    cut_amqp10_msgbuf_fini(&src->buf);
    free(src->rx);
    free(src);
}

const struct cut_source_ops cut_amqp10_source_ops = {
    .create = source_create,
    .fetch = source_fetch,
    .settle = source_settle,
    .flush = source_flush,
    .pause = source_pause,
    .fd = source_fd,
    .in_flight = source_in_flight,
    .state = source_state,
    .destroy = source_destroy,
};
