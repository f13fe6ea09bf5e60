/*
 * AMQP 0-9-1 source: consumes one queue with manual acks and hands each
 * delivery to its flow as a struct cut_msg. The contract is in connector.h;
 * the behaviour (polling, timers, pause, message fields) in amqp091.h; the
 * acknowledgement rules in ackwin.h.
 *
 * Deliveries are assembled here from frames rather than with
 * amqp_consume_message(): that call blocks until the whole message has
 * arrived once its first frame is read, and mallocs the body, exchange,
 * routing key and consumer tag of every message. Reading frame by frame
 * with a zero timeout keeps fetch() from ever waiting, and lets the body of a
 * one-frame message (the common case: up to frame_max, 128 KiB) be lent
 * straight from librabbitmq's frame buffer.
 *
 * librabbitmq memory: decoded frames live in a per-channel pool until
 * amqp_maybe_release_buffers_on_channel(). A message handed out is borrowed
 * until the next fetch(), so the pools are recycled at the start of fetch()
 * and never while a delivery is half read.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "ackwin.h"
#include "amqp091.h"
#include "cutover/log.h"

#define LOG_COMPONENT "amqp091"
#define CHANNEL       CUT_AMQP091_CHANNEL

/* Bound on the polite close at destroy(). */
#define CLOSE_TIMEOUT_MS 2000

#define SRC_OFF(field) offsetof(struct cut_amqp091_source_settings, field)

const struct cut_cfg_key cut_amqp091_source_keys[] = {
    {.name = "queue",
     .type = CUT_CFG_STRING,
     .offset = SRC_OFF(queue),
     .required = true,
     .desc = "queue to consume from"},
    {.name = "prefetch",
     .type = CUT_CFG_INT,
     .offset = SRC_OFF(prefetch),
     .def = "1000",
     .min = 1,
     .max = 65535,
     .desc = "basic.qos prefetch_count: deliveries unacked at once (the back-pressure window)"},
    {.name = "ack_batch",
     .type = CUT_CFG_INT,
     .offset = SRC_OFF(ack_batch),
     .def = "256",
     .min = 1,
     .max = 65535,
     .desc = "send one multiple-ack once this many contiguous deliveries are settled"},
    {.name = "ack_interval",
     .type = CUT_CFG_MS,
     .offset = SRC_OFF(ack_interval_ms),
     .def = "50ms",
     .min = 0,
     .max = 60000,
     .desc = "and at least this often while something settled is waiting"},
    {.name = "declare",
     .type = CUT_CFG_BOOL,
     .offset = SRC_OFF(declare),
     .def = "false",
     .desc = "declare the queue (durable) when it is missing; for tests and demos"},
    {.name = NULL},
};

struct cut_source {
    const struct cut_amqp091_source_settings *cfg; /* borrowed from the config */
    const char *flow;                              /* borrowed */
    struct cut_amqp091_link link;
    struct cut_ackwin win;
    bool paused;    /* pause(1) asked: no consumer on (re)connect */
    bool consuming; /* a consumer is registered on the broker */
    char consumer_tag[256];
    size_t consumer_tag_len;
    struct cut_amqp091_delivery cur;
    int emit_status;               /* librabbitmq status of a failed ack/nack */
    struct cut_amqp091_msgbuf buf; /* grow-only copies of the message handed out */
};

/* The connection is gone (the link has failed): forget its deliveries. */
static void source_down(struct cut_source *src)
{
    cut_ackwin_reset(&src->win);
    memset(&src->cur, 0, sizeof(src->cur));
    src->consuming = false;
}

static void source_fail(struct cut_source *src, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void source_fail(struct cut_source *src, const char *fmt, ...)
{
    char reason[CUT_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    cut_amqp091_link_fail(&src->link, "%s", reason);
    source_down(src);
}

/* Report a loss to the flow once: whichever op sees it first. */
static int source_report_lost(struct cut_source *src, struct cut_err *err)
{
    src->link.lost = false;
    return cut_err_set(err, CUT_EFATAL, "%s", src->link.reason);
}

/* ---- acknowledgements ----------------------------------------------------- */

static int emit_frame(void *opaque, const struct cut_ackwin_op *op)
{
    struct cut_source *src = opaque;
    amqp_connection_state_t conn = src->link.conn;
    int status = op->ack ? amqp_basic_ack(conn, CHANNEL, op->tag, op->multiple)
                         : amqp_basic_nack(conn, CHANNEL, op->tag, op->multiple, op->requeue);
    if (status != AMQP_STATUS_OK) {
        src->emit_status = status;
        return CUT_EFATAL;
    }
    return CUT_OK;
}

/* Send what @p mode asks for. CUT_OK, or CUT_EFATAL when the link failed. */
static int source_pump(struct cut_source *src, int64_t now, enum cut_ackwin_mode mode)
{
    if (src->link.state != CUT_CONN_UP) {
        return CUT_OK;
    }
    if (mode == CUT_ACKWIN_DUE && !cut_ackwin_due(&src->win, now)) {
        return CUT_OK;
    }
    size_t before = cut_ackwin_unsent(&src->win);
    src->emit_status = AMQP_STATUS_OK;
    if (cut_ackwin_collect(&src->win, now, mode, emit_frame, src) != CUT_OK) {
        source_fail(src, "sending acknowledgements: %s", amqp_error_string2(src->emit_status));
        return CUT_EFATAL;
    }
    if (cut_ackwin_unsent(&src->win) != before) {
        cut_amqp091_link_tx(&src->link, now);
    }
    return CUT_OK;
}

/* ---- connection setup ----------------------------------------------------- */

static int source_consume(struct cut_source *src, struct cut_err *err)
{
    amqp_connection_state_t conn = src->link.conn;
    amqp_basic_consume_ok_t *ok = amqp_basic_consume(
        conn, CHANNEL, amqp_cstring_bytes(src->cfg->queue), amqp_empty_bytes, 0 /* no_local */,
        0 /* no_ack: we ack */, 0 /* exclusive */, amqp_empty_table);
    int rc = cut_amqp091_reply_err(amqp_get_rpc_reply(conn), "basic.consume", err);
    if (rc != CUT_OK) {
        return rc;
    }
    size_t len = ok->consumer_tag.len < sizeof(src->consumer_tag) ? ok->consumer_tag.len
                                                                  : sizeof(src->consumer_tag);
    memcpy(src->consumer_tag, ok->consumer_tag.bytes, len);
    src->consumer_tag_len = len;
    src->consuming = true;
    cut_amqp091_link_tx(&src->link, cut_amqp091_now_ms());
    return CUT_OK;
}

/* Connect, then declare (when asked), qos and consume (unless paused). */
static int source_connect(struct cut_source *src, struct cut_err *err)
{
    const struct cut_amqp091_source_settings *cfg = src->cfg;
    int rc = cut_amqp091_link_open(&src->link, err);

    if (rc != CUT_OK) {
        /* Backing off, or this attempt failed (logged by the link, reason
         * in err): either way nothing to hand out now. */
        if (err != NULL) {
            err->code = CUT_EAGAIN;
        }
        return CUT_EAGAIN;
    }
    amqp_connection_state_t conn = src->link.conn;
    source_down(src); /* a new channel: tags start again at 1, in a new epoch */
    if (cfg->declare) {
        amqp_queue_declare(conn, CHANNEL, amqp_cstring_bytes(cfg->queue), 0 /* passive */,
                           1 /* durable */, 0 /* exclusive */, 0 /* auto_delete */,
                           amqp_empty_table);
        rc = cut_amqp091_reply_err(amqp_get_rpc_reply(conn), "queue.declare", err);
        if (rc != CUT_OK) {
            goto fail;
        }
    }
    amqp_basic_qos(conn, CHANNEL, 0, (uint16_t)cfg->prefetch, 0 /* per consumer */);
    rc = cut_amqp091_reply_err(amqp_get_rpc_reply(conn), "basic.qos", err);
    if (rc != CUT_OK) {
        goto fail;
    }
    if (!src->paused) {
        rc = source_consume(src, err);
        if (rc != CUT_OK) {
            goto fail;
        }
    }
    cut_amqp091_link_up(&src->link);
    return CUT_OK;
fail:
    source_fail(src, "%s", err != NULL ? err->msg : "setup failed");
    if (err != NULL) {
        err->code = CUT_EAGAIN;
    }
    return CUT_EAGAIN;
}

/* ---- frames --------------------------------------------------------------- */

/*
 * Next frame, or CUT_EAGAIN when none is complete. The socket is polled
 * first only when librabbitmq holds nothing: it tells us the peer is alive
 * (librabbitmq swallows heartbeat frames) and spares a recv() when idle.
 */
static int read_frame(struct cut_source *src, amqp_frame_t *frame, int64_t now)
{
    amqp_connection_state_t conn = src->link.conn;

    if (!amqp_frames_enqueued(conn) && !amqp_data_in_buffer(conn)) {
        struct pollfd pfd = {.fd = amqp_get_sockfd(conn), .events = POLLIN};
        int n = poll(&pfd, 1, 0);
        if (n < 0 && errno != EINTR) {
            source_fail(src, "poll: %s", strerror(errno));
            return CUT_EFATAL;
        }
        if (n <= 0) {
            if (cut_amqp091_link_tick(&src->link, now, true) != CUT_OK) {
                source_down(src);
                return CUT_EFATAL;
            }
            return CUT_EAGAIN;
        }
        cut_amqp091_link_rx(&src->link, now);
    }
    struct timeval zero = {0, 0};
    int status = amqp_simple_wait_frame_noblock(conn, frame, &zero);
    if (status == AMQP_STATUS_TIMEOUT) {
        return CUT_EAGAIN; /* part of a frame: the rest makes the socket readable */
    }
    if (status != AMQP_STATUS_OK) {
        source_fail(src, "reading: %s", amqp_error_string2(status));
        return CUT_EFATAL;
    }
    cut_amqp091_link_rx(&src->link, now);
    return CUT_OK;
}

static int on_connection_method(struct cut_source *src, const amqp_frame_t *frame)
{
    amqp_connection_state_t conn = src->link.conn;

    switch (frame->payload.method.id) {
    case AMQP_CONNECTION_CLOSE_METHOD: {
        const amqp_connection_close_t *m = frame->payload.method.decoded;
        amqp_connection_close_ok_t ok = {0};
        amqp_send_method(conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        source_fail(src, "connection closed by the broker: %u %.*s", m->reply_code,
                    (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        return CUT_EFATAL;
    }
    default:
        cut_log_debug(LOG_COMPONENT, "flow %s source: ignoring %s", src->flow,
                      amqp_method_name(frame->payload.method.id));
        return CUT_OK;
    }
}

static int on_method(struct cut_source *src, const amqp_frame_t *frame)
{
    amqp_connection_state_t conn = src->link.conn;

    if (frame->channel == 0) {
        return on_connection_method(src, frame);
    }
    if (frame->channel != CHANNEL) {
        return CUT_OK;
    }
    switch (frame->payload.method.id) {
    case AMQP_BASIC_DELIVER_METHOD: {
        const amqp_basic_deliver_t *m = frame->payload.method.decoded;
        if (src->cur.active) {
            source_fail(src, "protocol error: basic.deliver inside a delivery");
            return CUT_EFATAL;
        }
        memset(&src->cur, 0, sizeof(src->cur));
        src->cur.active = true;
        src->cur.tag = m->delivery_tag;
        src->cur.redelivered = m->redelivered != 0;
        src->cur.routing_key = m->routing_key;
        return CUT_OK;
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
        const amqp_channel_close_t *m = frame->payload.method.decoded;
        amqp_channel_close_ok_t ok = {0};
        amqp_send_method(conn, CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        source_fail(src, "channel closed by the broker: %u %.*s", m->reply_code,
                    (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        return CUT_EFATAL;
    }
    case AMQP_BASIC_CANCEL_METHOD:
        /* consumer_cancel_notify: the queue was deleted (or its node went
         * away). Reconnecting re-runs the setup, which says what is wrong. */
        source_fail(src, "consumer cancelled by the broker (queue '%s' deleted?)", src->cfg->queue);
        return CUT_EFATAL;
    default:
        cut_log_debug(LOG_COMPONENT, "flow %s source: ignoring %s", src->flow,
                      amqp_method_name(frame->payload.method.id));
        return CUT_OK;
    }
}

static int on_header(struct cut_source *src, const amqp_frame_t *frame)
{
    struct cut_amqp091_delivery *d = &src->cur;

    if (frame->channel != CHANNEL || !d->active || d->have_header ||
        frame->payload.properties.class_id != AMQP_BASIC_CLASS) {
        source_fail(src, "protocol error: unexpected content header");
        return CUT_EFATAL;
    }
    d->have_header = true;
    d->props = frame->payload.properties.decoded;
    d->body_size = frame->payload.properties.body_size;
    if (d->body_size > SIZE_MAX / 2) {
        source_fail(src, "message of %" PRIu64 " bytes is too large", d->body_size);
        return CUT_EFATAL;
    }
    if (d->body_size == 0) {
        d->body = "";
        d->complete = true;
    }
    return CUT_OK;
}

static int on_body(struct cut_source *src, const amqp_frame_t *frame)
{
    struct cut_amqp091_delivery *d = &src->cur;
    amqp_bytes_t frag = frame->payload.body_fragment;

    if (frame->channel != CHANNEL || !d->have_header || d->complete ||
        frag.len > d->body_size - d->received) {
        source_fail(src, "protocol error: unexpected body frame");
        return CUT_EFATAL;
    }
    if (d->received == 0 && frag.len == d->body_size) {
        d->body = frag.bytes; /* one frame: lend librabbitmq's buffer */
    } else {
        if (d->received == 0 &&
            cut_amqp091_msgbuf_reserve_body(&src->buf, (size_t)d->body_size) != CUT_OK) {
            source_fail(src, "out of memory for a message of %" PRIu64 " bytes", d->body_size);
            return CUT_EFATAL;
        }
        memcpy(src->buf.body + d->received, frag.bytes, frag.len);
        d->body = src->buf.body;
    }
    d->received += frag.len;
    d->complete = d->received == d->body_size;
    return CUT_OK;
}

static int source_deliver(struct cut_source *src, struct cut_msg *msg)
{
    cut_token_t token;
    int rc = cut_ackwin_deliver(&src->win, src->cur.tag, &token);

    if (rc == CUT_EINVAL) {
        source_fail(src, "protocol error: delivery tag %" PRIu64 " out of sequence", src->cur.tag);
        return CUT_EFATAL;
    }
    if (rc == CUT_OK) {
        rc = cut_amqp091_msg_fill(&src->buf, &src->cur, token, cut_amqp091_wall_ms(), msg);
    }
    if (rc != CUT_OK) {
        /* The delivery is registered but cannot be handed out: only a new
         * channel gets it back to the queue. */
        source_fail(src, "out of memory");
        return CUT_EFATAL;
    }
    src->cur.active = false;
    src->cur.complete = false;
    return CUT_OK;
}

/* ---- ops ------------------------------------------------------------------ */

static int source_create(struct cut_source **out, const struct cut_source_params *params,
                         struct cut_err *err)
{
    const struct cut_amqp091_conn_settings *conn_cfg = params->conn_settings;
    const struct cut_amqp091_source_settings *cfg = params->settings;
    struct cut_source *src = NULL;
    int rc;

    *out = NULL;
    if (conn_cfg == NULL || cfg == NULL || conn_cfg->url == NULL || cfg->queue == NULL) {
        return cut_err_set(err, CUT_EINVAL, "amqp091 source: settings missing");
    }
    rc = cut_amqp091_url_check(conn_cfg->url, err);
    if (rc != CUT_OK) {
        return rc;
    }
    if (conn_cfg->reconnect_backoff_min_ms > conn_cfg->reconnect_backoff_max_ms) {
        return cut_err_set(err, CUT_EINVAL,
                           "reconnect_backoff_min must not exceed reconnect_backoff_max");
    }
    src = calloc(1, sizeof(*src));
    if (src == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    src->cfg = cfg;
    src->flow = params->flow;
    size_t prefetch = (size_t)cfg->prefetch;
    /* Relief: once half the prefetch window is accepted but stuck behind one
     * slow delivery, ack those singly so that the flow keeps moving. */
    rc = cut_ackwin_init(&src->win, prefetch, (size_t)cfg->ack_batch, cfg->ack_interval_ms,
                         prefetch / 2 > 0 ? prefetch / 2 : 1);
    if (rc != CUT_OK) {
        free(src);
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    cut_amqp091_link_init(&src->link, conn_cfg, params->flow, "source");
    *out = src;
    return CUT_OK;
}

static int source_fetch(struct cut_source *src, struct cut_msg *msg, struct cut_err *err)
{
    int64_t now = cut_amqp091_now_ms();
    int rc;

    /* The message of the previous fetch is no longer borrowed: memory of a
     * dead connection and the frame pools can go. */
    cut_amqp091_link_reap(&src->link);
    if (src->link.lost) {
        return source_report_lost(src, err);
    }
    if (src->link.state != CUT_CONN_UP) {
        rc = source_connect(src, err);
        if (rc != CUT_OK) {
            return rc;
        }
    } else if (!src->cur.active) {
        amqp_maybe_release_buffers_on_channel(src->link.conn, CHANNEL);
        amqp_maybe_release_buffers_on_channel(src->link.conn, 0);
    }
    if (source_pump(src, now, CUT_ACKWIN_DUE) != CUT_OK) {
        return source_report_lost(src, err);
    }
    for (;;) {
        amqp_frame_t frame;
        rc = read_frame(src, &frame, now);
        if (rc == CUT_EAGAIN) {
            return CUT_EAGAIN;
        }
        if (rc != CUT_OK) {
            return source_report_lost(src, err);
        }
        switch (frame.frame_type) {
        case AMQP_FRAME_METHOD:
            rc = on_method(src, &frame);
            break;
        case AMQP_FRAME_HEADER:
            rc = on_header(src, &frame);
            break;
        case AMQP_FRAME_BODY:
            rc = on_body(src, &frame);
            break;
        default:
            rc = CUT_OK; /* heartbeats are handled inside librabbitmq */
            break;
        }
        if (rc != CUT_OK) {
            return source_report_lost(src, err);
        }
        if (src->cur.complete) {
            if (source_deliver(src, msg) != CUT_OK) {
                return source_report_lost(src, err);
            }
            return CUT_OK;
        }
    }
}

static int source_settle(struct cut_source *src, cut_token_t token, enum cut_outcome outcome,
                         struct cut_err *err)
{
    int64_t now = cut_amqp091_now_ms();

    switch (cut_ackwin_settle(&src->win, token, outcome, now)) {
    case CUT_ACKWIN_SETTLED:
        break;
    case CUT_ACKWIN_STALE:
        cut_log_debug(LOG_COMPONENT,
                      "flow %s source: settlement of a delivery from a closed channel ignored "
                      "(the broker redelivers it)",
                      src->flow);
        return CUT_OK;
    case CUT_ACKWIN_UNKNOWN:
    default:
        return cut_err_set(err, CUT_EINVAL,
                           "settle: token %#" PRIx64 " is not an outstanding delivery "
                           "(settled twice?)",
                           (uint64_t)token);
    }
    /* A failure to send is reported by the next fetch() as CUT_EFATAL: this
     * outcome is recorded, and moot once the channel is gone (the broker
     * redelivers whatever was not acked). The heartbeat is kept here too: a
     * flow waiting for room in its sink settles but does not fetch. */
    if (source_pump(src, now, CUT_ACKWIN_DUE) == CUT_OK &&
        cut_amqp091_link_tick(&src->link, now, false) != CUT_OK) {
        source_down(src);
    }
    return CUT_OK;
}

static int source_flush(struct cut_source *src, struct cut_err *err)
{
    int64_t now = cut_amqp091_now_ms();

    if (src->link.lost) {
        return source_report_lost(src, err);
    }
    if (src->link.state != CUT_CONN_UP) {
        return CUT_OK; /* nothing can be acked: the broker redelivers */
    }
    if (source_pump(src, now, CUT_ACKWIN_FLUSH) != CUT_OK) {
        return source_report_lost(src, err);
    }
    if (cut_amqp091_link_tick(&src->link, now, false) != CUT_OK) {
        source_down(src);
        return source_report_lost(src, err);
    }
    return CUT_OK;
}

static int source_pause(struct cut_source *src, int paused, struct cut_err *err)
{
    amqp_connection_state_t conn = src->link.conn;

    src->paused = paused != 0;
    if (src->link.state != CUT_CONN_UP) {
        return CUT_OK; /* applied when the connection is set up */
    }
    if (src->paused && src->consuming) {
        amqp_bytes_t tag = {.len = src->consumer_tag_len, .bytes = src->consumer_tag};
        /* Deliveries the broker sent before cancel-ok are queued by
         * librabbitmq and still come out of fetch(). */
        amqp_basic_cancel(conn, CHANNEL, tag);
        if (cut_amqp091_reply_err(amqp_get_rpc_reply(conn), "basic.cancel", err) != CUT_OK) {
            source_fail(src, "%s", err != NULL ? err->msg : "basic.cancel failed");
            return source_report_lost(src, err);
        }
        src->consuming = false;
        cut_amqp091_link_tx(&src->link, cut_amqp091_now_ms());
        cut_log_info(LOG_COMPONENT, "flow %s source: paused (consumer cancelled, %zu in flight)",
                     src->flow, cut_ackwin_in_flight(&src->win));
    } else if (!src->paused && !src->consuming) {
        if (source_consume(src, err) != CUT_OK) {
            source_fail(src, "%s", err != NULL ? err->msg : "basic.consume failed");
            return source_report_lost(src, err);
        }
        cut_log_info(LOG_COMPONENT, "flow %s source: resumed", src->flow);
    }
    return CUT_OK;
}

static int source_fd(struct cut_source *src)
{
    return src->link.conn != NULL ? amqp_get_sockfd(src->link.conn) : -1;
}

static size_t source_in_flight(struct cut_source *src)
{
    return cut_ackwin_in_flight(&src->win);
}

static enum cut_conn_state source_state(struct cut_source *src)
{
    return src->link.state;
}

static void source_destroy(struct cut_source *src)
{
    if (src == NULL) {
        return;
    }
    if (src->link.state == CUT_CONN_UP) {
        /* Everything settled goes out, also above a delivery that never
         * settled: what is acked now is not redelivered after the close. */
        if (source_pump(src, cut_amqp091_now_ms(), CUT_ACKWIN_ALL) == CUT_OK) {
            size_t left = cut_ackwin_in_flight(&src->win);
            if (left > 0) {
                cut_log_info(LOG_COMPONENT,
                             "flow %s source: closing with %zu unsettled deliveries; the "
                             "broker requeues them",
                             src->flow, left);
            }
        }
    }
    int64_t timeout = src->link.cfg->connect_timeout_ms < CLOSE_TIMEOUT_MS
                          ? src->link.cfg->connect_timeout_ms
                          : CLOSE_TIMEOUT_MS;
    cut_amqp091_link_close(&src->link, timeout);
    cut_ackwin_fini(&src->win);
    cut_amqp091_msgbuf_fini(&src->buf);
    free(src);
}

const struct cut_source_ops cut_amqp091_source_ops = {
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

const struct cut_connector cut_amqp091_connector = {
    .protocol = "amqp091",
    .conn_keys = cut_amqp091_conn_keys,
    .conn_size = sizeof(struct cut_amqp091_conn_settings),
    .source_keys = cut_amqp091_source_keys,
    .source_size = sizeof(struct cut_amqp091_source_settings),
    .sink_keys = cut_amqp091_sink_keys,
    .sink_size = sizeof(struct cut_amqp091_sink_settings),
    .source = &cut_amqp091_source_ops,
    .sink = &cut_amqp091_sink_ops,
};
