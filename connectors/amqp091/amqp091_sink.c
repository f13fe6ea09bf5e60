/*
 * AMQP 0-9-1 sink: publishes each message, unchanged (amqp091_pub.c), to one
 * exchange and routing key on a channel in confirm mode, and reports every
 * publish through the flow's confirm callback once the broker has answered.
 * The contract is in connector.h, the behaviour in amqp091.h ("Sink
 * behaviour"), the ack/return rules in confwin.h.
 *
 * Pipelining: send() writes the publish and returns; frames coming back
 * (basic.ack, basic.nack, basic.return + its content, channel.close,
 * connection.blocked) are read by poll() without waiting for the network,
 * frame by frame as in the source, so that a half-read return never blocks.
 *
 * Connection loss: every unconfirmed publish is reported CUT_ERETRY by the
 * next poll() (or flush(), destroy()), and only then does send() reconnect,
 * with the link's backoff: a token is never reported twice, and the
 * sequence numbers of the new channel never meet those of the old one.
 *
 * Callbacks: the confirm callback runs inside poll(), flush() or destroy()
 * and may call send(); such a send() never reconnects (the frame being
 * served belongs to the connection), it returns CUT_EFATAL instead.
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

#include "amqp091.h"
#include "amqp091_map.h"
#include "confwin.h"
#include "cutover/log.h"

#define LOG_COMPONENT "amqp091"
#define CHANNEL       CUT_AMQP091_CHANNEL

/* destroy(): the runner normally flushed already; a last chance, then report. */
#define DESTROY_FLUSH_MS 1000
#define CLOSE_TIMEOUT_MS 2000
/* One warning per interval for unroutable messages (a missing binding would
 * otherwise log every message). */
#define UNROUTABLE_LOG_MS 10000
/* Frames served per poll() before it returns, so one busy sink cannot starve
 * the flow's other work. The fd stays readable or frames stay buffered. */
#define POLL_FRAMES_MAX 4096

#define SINK_OFF(field) offsetof(struct cut_amqp091_sink_settings, field)

const struct cut_cfg_key cut_amqp091_sink_keys[] = {
    {.name = "exchange",
     .type = CUT_CFG_STRING,
     .offset = SINK_OFF(exchange),
     .def = "",
     .desc = "exchange to publish to; \"\" (the default) is the default exchange, where the "
             "routing key names the queue"},
    {.name = "routing_key",
     .type = CUT_CFG_STRING,
     .offset = SINK_OFF(routing_key),
     .desc = "routing key of every publish; required with an exchange; with the default "
             "exchange it is the queue name"},
    {.name = "queue",
     .type = CUT_CFG_STRING,
     .offset = SINK_OFF(queue),
     .desc = "shorthand for the default exchange with routing_key = queue; one of queue and "
             "routing_key is required"},
    {.name = "declare",
     .type = CUT_CFG_BOOL,
     .offset = SINK_OFF(declare),
     .def = "false",
     .desc = "declare the queue (durable) when it is missing; needs the default exchange"},
    {.name = "mandatory",
     .type = CUT_CFG_BOOL,
     .offset = SINK_OFF(mandatory),
     .def = "true",
     .desc = "publish mandatory, so that a message no queue takes comes back and is retried; "
             "false lets the broker drop unroutable messages (and count them as confirmed)"},
    {.name = "max_in_flight",
     .type = CUT_CFG_INT,
     .offset = SINK_OFF(max_in_flight),
     .def = "1000",
     .min = 1,
     .max = 65535,
     .desc = "publishes not yet confirmed before the flow stops reading its source; bounds "
             "the duplicates a crash can cause"},
    {.name = "impersonate",
     .type = CUT_CFG_BOOL,
     .offset = SINK_OFF(impersonate),
     .def = "false",
     .desc = "the connection's user has RabbitMQ's impersonator tag: forward any user_id as "
             "the property (otherwise a user_id other than the login user travels in the "
             "x-jms-user-id header, because RabbitMQ refuses it)"},
    {.name = NULL},
};

/* A basic.return being read: method, then content header, then body frames. */
struct returned {
    bool active;
    bool have_header;
    uint64_t remaining;
    uint64_t hash;
    char text[CUT_ERR_MSG_MAX];
};

struct cut_sink {
    const struct cut_amqp091_sink_settings *cfg; /* borrowed from the config */
    const char *flow;                            /* borrowed */
    const char *exchange;                        /* effective, borrowed from cfg */
    const char *routing_key;
    size_t window;
    cut_confirm_cb confirm;
    void *opaque;

    struct cut_amqp091_link link;
    struct cut_confwin win;
    struct cut_amqp091_pubbuf pub;
    struct cut_amqp091_pubopts opts;
    char user[256];

    bool failed;  /* the link died with publishes unreported */
    bool blocked; /* connection.blocked */
    bool closing;
    int in_cb;
    int served;
    char lost_reason[CUT_ERR_MSG_MAX + 32];

    struct returned ret;
    char unroutable[CUT_ERR_MSG_MAX]; /* reason of the last return */
    int64_t unroutable_logged_ms;
    uint64_t unroutable_count, unroutable_logged_count;
};

/* ---- confirmations ------------------------------------------------------ */

static void on_end(void *opaque, cut_token_t token, enum cut_confwin_outcome outcome)
{
    struct cut_sink *sink = opaque;
    struct cut_err err;
    int status = CUT_ERETRY;

    switch (outcome) {
    case CUT_CONFWIN_CONFIRMED:
        status = CUT_OK;
        cut_err_clear(&err);
        break;
    case CUT_CONFWIN_RETURNED:
        cut_err_set(&err, status, "amqp091: unroutable: %s", sink->unroutable);
        break;
    case CUT_CONFWIN_NACKED:
        cut_err_set(&err, status, "amqp091: the broker refused the message (basic.nack)");
        break;
    case CUT_CONFWIN_LOST:
    default:
        cut_err_set(&err, status, "amqp091: not confirmed: %s", sink->lost_reason);
        break;
    }
    sink->served++;
    sink->in_cb++;
    sink->confirm(sink->opaque, token, status, &err);
    sink->in_cb--;
}

/* The link is gone: remember to report what it left unconfirmed. */
static void sink_fail(struct cut_sink *sink, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sink_fail(struct cut_sink *sink, const char *fmt, ...)
{
    char reason[CUT_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    cut_amqp091_link_fail(&sink->link, "%s", reason);
    snprintf(sink->lost_reason, sizeof(sink->lost_reason), "connection lost (%s)", reason);
    sink->failed = cut_confwin_pending(&sink->win) > 0;
    sink->blocked = false;
    memset(&sink->ret, 0, sizeof(sink->ret));
}

/* Report what the dead link left unconfirmed; only from poll/flush/destroy. */
static void report_lost(struct cut_sink *sink)
{
    if (!sink->failed) {
        return;
    }
    size_t n = cut_confwin_pending(&sink->win);
    cut_log_warn(LOG_COMPONENT,
                 "flow %s sink: %zu publishes were not confirmed before the connection was lost; "
                 "they will be retried",
                 sink->flow, n);
    cut_confwin_fail_all(&sink->win, on_end, sink);
    sink->failed = false;
}

/* ---- connection setup --------------------------------------------------- */

static int sink_connect(struct cut_sink *sink, struct cut_err *err)
{
    const struct cut_amqp091_sink_settings *cfg = sink->cfg;
    amqp_connection_state_t conn;
    struct cut_err local;

    if (err == NULL) {
        err = &local;
    }
    int rc = cut_amqp091_link_open(&sink->link, err);
    if (rc != CUT_OK) {
        /* Backing off, or this attempt failed (logged by the link); err says which. */
        err->code = CUT_EFATAL;
        return CUT_EFATAL;
    }
    conn = sink->link.conn;
    cut_confwin_reset(&sink->win); /* a new channel: sequence numbers from 1 */
    memset(&sink->ret, 0, sizeof(sink->ret));
    sink->blocked = false;
    if (sink->exchange[0] != '\0') {
        amqp_exchange_declare(conn, CHANNEL, amqp_cstring_bytes(sink->exchange), amqp_empty_bytes,
                              1 /* passive */, 0, 0, 0, amqp_empty_table);
        rc = cut_amqp091_reply_err(amqp_get_rpc_reply(conn), "exchange.declare (passive)", err);
        if (rc != CUT_OK) {
            goto fail;
        }
    }
    if (cfg->declare) {
        amqp_queue_declare(conn, CHANNEL, amqp_cstring_bytes(sink->routing_key), 0 /* passive */,
                           1 /* durable */, 0 /* exclusive */, 0 /* auto_delete */,
                           amqp_empty_table);
        rc = cut_amqp091_reply_err(amqp_get_rpc_reply(conn), "queue.declare", err);
        if (rc != CUT_OK) {
            goto fail;
        }
    }
    amqp_confirm_select(conn, CHANNEL);
    rc = cut_amqp091_reply_err(amqp_get_rpc_reply(conn), "confirm.select", err);
    if (rc != CUT_OK) {
        goto fail;
    }
    sink->opts.frame_max = (size_t)amqp_get_frame_max(conn);
    cut_amqp091_link_up(&sink->link);
    return CUT_OK;
fail:
    cut_amqp091_link_fail(&sink->link, "%s", err->msg);
    cut_amqp091_link_reap(&sink->link);
    return cut_err_set(err, CUT_EFATAL, "%s", sink->link.reason);
}

/* ---- frames ------------------------------------------------------------- */

/*
 * Next frame, or CUT_EAGAIN when none is complete within @p wait_ms. The
 * socket is polled only when librabbitmq holds nothing.
 */
static int read_frame(struct cut_sink *sink, amqp_frame_t *frame, int wait_ms)
{
    amqp_connection_state_t conn = sink->link.conn;
    int64_t now = cut_amqp091_now_ms();

    if (!amqp_frames_enqueued(conn) && !amqp_data_in_buffer(conn)) {
        struct pollfd pfd = {.fd = amqp_get_sockfd(conn), .events = POLLIN};
        int n = poll(&pfd, 1, wait_ms);
        if (n < 0 && errno != EINTR) {
            sink_fail(sink, "poll: %s", strerror(errno));
            return CUT_EFATAL;
        }
        now = cut_amqp091_now_ms();
        if (n <= 0) {
            if (cut_amqp091_link_tick(&sink->link, now, true) != CUT_OK) {
                sink_fail(sink, "%s", sink->link.reason);
                return CUT_EFATAL;
            }
            return CUT_EAGAIN;
        }
        cut_amqp091_link_rx(&sink->link, now);
    }
    struct timeval zero = {0, 0};
    int status = amqp_simple_wait_frame_noblock(conn, frame, &zero);
    if (status == AMQP_STATUS_TIMEOUT) {
        return CUT_EAGAIN; /* part of a frame: the rest makes the socket readable */
    }
    if (status != AMQP_STATUS_OK) {
        sink_fail(sink, "reading: %s", amqp_error_string2(status));
        return CUT_EFATAL;
    }
    cut_amqp091_link_rx(&sink->link, now);
    return CUT_OK;
}

static uint64_t hash_start(amqp_bytes_t exchange, amqp_bytes_t routing_key)
{
    unsigned char zero = 0;
    uint64_t h = CUT_AMQP091_FNV_INIT;
    h = cut_amqp091_fnv1a(h, exchange.bytes, exchange.len);
    h = cut_amqp091_fnv1a(h, &zero, 1);
    h = cut_amqp091_fnv1a(h, routing_key.bytes, routing_key.len);
    h = cut_amqp091_fnv1a(h, &zero, 1);
    return h;
}

static uint64_t hash_props(uint64_t h, const amqp_basic_properties_t *props)
{
    unsigned char zero = 0;
    if (props->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
        h = cut_amqp091_fnv1a(h, props->message_id.bytes, props->message_id.len);
    }
    return cut_amqp091_fnv1a(h, &zero, 1);
}

static void log_unroutable(struct cut_sink *sink)
{
    int64_t now = cut_amqp091_now_ms();
    sink->unroutable_count++;
    if (sink->unroutable_logged_ms != 0 && now - sink->unroutable_logged_ms < UNROUTABLE_LOG_MS) {
        return;
    }
    uint64_t more = sink->unroutable_count - sink->unroutable_logged_count - 1;
    cut_log_warn(LOG_COMPONENT,
                 "flow %s sink: message returned as unroutable (%s); it will be retried (%" PRIu64
                 " more since the last warning)",
                 sink->flow, sink->unroutable, more);
    sink->unroutable_logged_ms = now;
    sink->unroutable_logged_count = sink->unroutable_count;
}

static void return_done(struct cut_sink *sink)
{
    snprintf(sink->unroutable, sizeof(sink->unroutable), "%s", sink->ret.text);
    if (cut_confwin_return(&sink->win, sink->ret.hash) == 0) {
        cut_log_error(LOG_COMPONENT,
                      "flow %s sink: a returned message matches no unconfirmed publish; every "
                      "candidate is retried to be safe",
                      sink->flow);
    }
    log_unroutable(sink);
    memset(&sink->ret, 0, sizeof(sink->ret));
}

static int on_connection_method(struct cut_sink *sink, const amqp_frame_t *frame)
{
    switch (frame->payload.method.id) {
    case AMQP_CONNECTION_CLOSE_METHOD: {
        const amqp_connection_close_t *m = frame->payload.method.decoded;
        amqp_connection_close_ok_t ok = {0};
        amqp_send_method(sink->link.conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        sink_fail(sink, "connection closed by the broker: %u %.*s", m->reply_code,
                  (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        return CUT_EFATAL;
    }
    case AMQP_CONNECTION_BLOCKED_METHOD: {
        const amqp_connection_blocked_t *m = frame->payload.method.decoded;
        sink->blocked = true;
        cut_log_warn(LOG_COMPONENT, "flow %s sink: the broker blocked publishing: %.*s", sink->flow,
                     (int)m->reason.len, (const char *)m->reason.bytes);
        return CUT_OK;
    }
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
        sink->blocked = false;
        cut_log_info(LOG_COMPONENT, "flow %s sink: the broker unblocked publishing", sink->flow);
        return CUT_OK;
    default:
        cut_log_debug(LOG_COMPONENT, "flow %s sink: ignoring %s", sink->flow,
                      amqp_method_name(frame->payload.method.id));
        return CUT_OK;
    }
}

static int on_ack(struct cut_sink *sink, uint64_t tag, bool multiple, bool nack)
{
    if (sink->ret.active) {
        sink_fail(sink, "protocol error: basic.%s inside a returned message",
                  nack ? "nack" : "ack");
        return CUT_EFATAL;
    }
    if (cut_confwin_ack(&sink->win, tag, multiple, nack, on_end, sink) != CUT_OK) {
        sink_fail(sink,
                  "protocol error: basic.%s for sequence number %" PRIu64
                  " that was never published",
                  nack ? "nack" : "ack", tag);
        return CUT_EFATAL;
    }
    if (nack) {
        cut_log_warn(LOG_COMPONENT, "flow %s sink: the broker nacked publish %" PRIu64 "%s",
                     sink->flow, tag, multiple ? " and those before it" : "");
    }
    return CUT_OK;
}

static int on_method(struct cut_sink *sink, const amqp_frame_t *frame)
{
    if (frame->channel == 0) {
        return on_connection_method(sink, frame);
    }
    if (frame->channel != CHANNEL) {
        return CUT_OK;
    }
    switch (frame->payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
        /* Copy before serving: callbacks may send and so touch the connection. */
        const amqp_basic_ack_t *m = frame->payload.method.decoded;
        return on_ack(sink, m->delivery_tag, m->multiple != 0, false);
    }
    case AMQP_BASIC_NACK_METHOD: {
        const amqp_basic_nack_t *m = frame->payload.method.decoded;
        return on_ack(sink, m->delivery_tag, m->multiple != 0, true);
    }
    case AMQP_BASIC_RETURN_METHOD: {
        const amqp_basic_return_t *m = frame->payload.method.decoded;
        if (sink->ret.active) {
            sink_fail(sink, "protocol error: basic.return inside a returned message");
            return CUT_EFATAL;
        }
        sink->ret.active = true;
        sink->ret.hash = hash_start(m->exchange, m->routing_key);
        snprintf(sink->ret.text, sizeof(sink->ret.text),
                 "%u %.*s (exchange '%.*s', routing key '%.*s')", m->reply_code,
                 (int)m->reply_text.len, (const char *)m->reply_text.bytes, (int)m->exchange.len,
                 (const char *)m->exchange.bytes, (int)m->routing_key.len,
                 (const char *)m->routing_key.bytes);
        return CUT_OK;
    }
    case AMQP_CHANNEL_CLOSE_METHOD: {
        const amqp_channel_close_t *m = frame->payload.method.decoded;
        amqp_channel_close_ok_t ok = {0};
        amqp_send_method(sink->link.conn, CHANNEL, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        sink_fail(sink, "channel closed by the broker: %u %.*s", m->reply_code,
                  (int)m->reply_text.len, (const char *)m->reply_text.bytes);
        return CUT_EFATAL;
    }
    default:
        cut_log_debug(LOG_COMPONENT, "flow %s sink: ignoring %s", sink->flow,
                      amqp_method_name(frame->payload.method.id));
        return CUT_OK;
    }
}

static int on_content(struct cut_sink *sink, const amqp_frame_t *frame)
{
    struct returned *r = &sink->ret;

    if (frame->channel != CHANNEL || !r->active) {
        sink_fail(sink, "protocol error: unexpected content frame");
        return CUT_EFATAL;
    }
    if (frame->frame_type == AMQP_FRAME_HEADER) {
        if (r->have_header) {
            sink_fail(sink, "protocol error: second content header in a returned message");
            return CUT_EFATAL;
        }
        r->have_header = true;
        r->hash = hash_props(r->hash, frame->payload.properties.decoded);
        r->remaining = frame->payload.properties.body_size;
    } else {
        amqp_bytes_t frag = frame->payload.body_fragment;
        if (!r->have_header || frag.len > r->remaining) {
            sink_fail(sink, "protocol error: unexpected body frame");
            return CUT_EFATAL;
        }
        r->hash = cut_amqp091_fnv1a(r->hash, frag.bytes, frag.len);
        r->remaining -= frag.len;
    }
    if (r->remaining == 0) {
        return_done(sink);
    }
    return CUT_OK;
}

/* Serve frames until none is ready; wait up to @p timeout_ms for the first. */
static void serve(struct cut_sink *sink, int timeout_ms)
{
    int64_t deadline = cut_amqp091_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

    for (int n = 0; n < POLL_FRAMES_MAX && sink->link.conn != NULL && !sink->failed; n++) {
        amqp_frame_t frame;
        int64_t left = deadline - cut_amqp091_now_ms();
        int wait = sink->served == 0 && left > 0 ? (int)left : 0;
        int rc = read_frame(sink, &frame, wait);
        if (rc != CUT_OK) {
            break;
        }
        switch (frame.frame_type) {
        case AMQP_FRAME_METHOD:
            rc = on_method(sink, &frame);
            break;
        case AMQP_FRAME_HEADER:
        case AMQP_FRAME_BODY:
            rc = on_content(sink, &frame);
            break;
        default:
            break; /* heartbeats are handled inside librabbitmq */
        }
        if (rc != CUT_OK) {
            break;
        }
        if (!sink->ret.active && sink->link.conn != NULL) {
            amqp_maybe_release_buffers_on_channel(sink->link.conn, CHANNEL);
            amqp_maybe_release_buffers_on_channel(sink->link.conn, 0);
        }
    }
}

/* ---- ops ------------------------------------------------------------------ */

static int check_name(const char *what, const char *value, struct cut_err *err)
{
    if (value != NULL && strlen(value) > 255) {
        return cut_err_set(err, CUT_EINVAL, "amqp091 sink: %s is longer than 255 bytes", what);
    }
    return CUT_OK;
}

static int sink_create(struct cut_sink **out, const struct cut_sink_params *params,
                       struct cut_err *err)
{
    const struct cut_amqp091_conn_settings *conn_cfg = params->conn_settings;
    const struct cut_amqp091_sink_settings *cfg = params->settings;
    struct cut_sink *sink = NULL;
    int rc;

    *out = NULL;
    if (conn_cfg == NULL || cfg == NULL || conn_cfg->url == NULL || params->confirm == NULL) {
        return cut_err_set(err, CUT_EINVAL, "amqp091 sink: settings missing");
    }
    const char *exchange = cfg->exchange != NULL ? cfg->exchange : "";
    bool has_queue = cfg->queue != NULL && cfg->queue[0] != '\0';
    if (has_queue && (cfg->routing_key != NULL || exchange[0] != '\0')) {
        return cut_err_set(err, CUT_EINVAL,
                           "amqp091 sink: queue is shorthand for the default exchange with "
                           "routing_key = queue; set either queue, or exchange and routing_key");
    }
    if (!has_queue && cfg->routing_key == NULL) {
        if (exchange[0] != '\0') {
            return cut_err_set(err, CUT_EINVAL,
                               "amqp091 sink: routing_key is required with exchange \"%s\"",
                               exchange);
        }
        return cut_err_set(err, CUT_EINVAL,
                           "amqp091 sink: one of queue or routing_key is required");
    }
    if (cfg->declare && exchange[0] != '\0') {
        return cut_err_set(err, CUT_EINVAL,
                           "amqp091 sink: declare needs the default exchange (use queue:); with "
                           "exchange \"%s\" declare the queue and its binding beforehand",
                           exchange);
    }
    if (cfg->declare && !has_queue && cfg->routing_key[0] == '\0') {
        return cut_err_set(err, CUT_EINVAL, "amqp091 sink: declare needs a queue name");
    }
    if (cfg->max_in_flight < 1 || cfg->max_in_flight > 65535) {
        return cut_err_set(err, CUT_EINVAL, "amqp091 sink: max_in_flight %lld is outside 1..65535",
                           (long long)cfg->max_in_flight);
    }
    if ((rc = check_name("exchange", exchange, err)) != CUT_OK ||
        (rc = check_name("routing_key", has_queue ? cfg->queue : cfg->routing_key, err)) !=
            CUT_OK ||
        (rc = cut_amqp091_url_check(conn_cfg->url, err)) != CUT_OK) {
        return rc;
    }
    if (conn_cfg->reconnect_backoff_min_ms > conn_cfg->reconnect_backoff_max_ms) {
        return cut_err_set(err, CUT_EINVAL,
                           "reconnect_backoff_min must not exceed reconnect_backoff_max");
    }
    sink = calloc(1, sizeof(*sink));
    if (sink == NULL) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    sink->cfg = cfg;
    sink->flow = params->flow != NULL ? params->flow : "-";
    sink->exchange = exchange;
    sink->routing_key = has_queue ? cfg->queue : cfg->routing_key;
    sink->window = (size_t)cfg->max_in_flight;
    sink->confirm = params->confirm;
    sink->opaque = params->opaque;
    if ((rc = cut_amqp091_url_user(conn_cfg->url, sink->user, sizeof(sink->user), err)) != CUT_OK) {
        free(sink);
        return rc;
    }
    sink->opts.login_user = sink->user;
    sink->opts.impersonate = cfg->impersonate;
    if (cut_confwin_init(&sink->win, sink->window) != CUT_OK) {
        free(sink);
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    cut_amqp091_link_init(&sink->link, conn_cfg, sink->flow, "sink");
    if (!cfg->mandatory) {
        cut_log_warn(LOG_COMPONENT,
                     "flow %s sink: mandatory is off: the broker drops messages that no queue "
                     "takes and still confirms them",
                     sink->flow);
    }
    *out = sink;
    return CUT_OK;
}

/* Room in the socket for a publish: never block in a write while the broker
 * is not reading (resource alarm before connection.blocked arrives). */
static bool writable(struct cut_sink *sink)
{
    struct pollfd pfd = {.fd = amqp_get_sockfd(sink->link.conn), .events = POLLOUT};
    return poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLOUT);
}

static int sink_send(struct cut_sink *sink, const struct cut_msg *msg, const struct cut_record *rec,
                     cut_token_t token, struct cut_err *err)
{
    amqp_basic_properties_t props;
    int rc;

    if (sink->closing) {
        return cut_err_set(err, CUT_EFATAL, "amqp091 sink: closing");
    }
    if (msg == NULL) {
        return cut_err_set(err, CUT_EINVAL,
                           "amqp091 sink: forwards the message itself; none was given");
    }
    if (sink->failed) {
        return cut_err_set(err, CUT_EFATAL, "amqp091 sink: %s; reconnecting once reported",
                           sink->lost_reason);
    }
    if (sink->link.state != CUT_CONN_UP) {
        if (sink->in_cb > 0) {
            return cut_err_set(err, CUT_EFATAL, "amqp091 sink: not connected");
        }
        cut_amqp091_link_reap(&sink->link);
        if ((rc = sink_connect(sink, err)) != CUT_OK) {
            return rc;
        }
    }
    if (sink->blocked) {
        return cut_err_set(err, CUT_EFULL, "amqp091 sink: the broker blocked publishing");
    }
    if (cut_confwin_pending(&sink->win) >= sink->window) {
        return cut_err_set(err, CUT_EFULL, "amqp091 sink: window full (%zu unconfirmed)",
                           sink->window);
    }
    const char *routing_key = rec != NULL && rec->dest != NULL ? rec->dest : sink->routing_key;
    if ((rc = check_name("the routing key", routing_key, err)) != CUT_OK) {
        return rc;
    }
    if (!writable(sink)) {
        return cut_err_set(err, CUT_EFULL, "amqp091 sink: socket full (the broker is not reading)");
    }
    if ((rc = cut_amqp091_pub_props(&sink->pub, msg, &sink->opts, &props, err)) != CUT_OK) {
        return rc;
    }
    amqp_bytes_t exchange = amqp_cstring_bytes(sink->exchange);
    amqp_bytes_t rk = amqp_cstring_bytes(routing_key);
    amqp_bytes_t body = {.len = msg->body_len, .bytes = (void *)msg->body};
    uint64_t hash =
        cut_amqp091_fnv1a(hash_props(hash_start(exchange, rk), &props), body.bytes, body.len);
    /* Reserve the slot first: once published, recording it cannot fail. */
    uint64_t seq;
    if (cut_confwin_add(&sink->win, token, hash, &seq) != CUT_OK) {
        return cut_err_set(err, CUT_ENOMEM, "out of memory");
    }
    int status = amqp_basic_publish(sink->link.conn, CHANNEL, exchange, rk, sink->cfg->mandatory,
                                    0 /* immediate */, &props, body);
    if (status != AMQP_STATUS_OK) {
        /* Not published: forget it here, so that it is not reported twice
         * (the caller holds it and sends it again). */
        cut_confwin_unadd(&sink->win, seq);
        sink_fail(sink, "publishing: %s", amqp_error_string2(status));
        return cut_err_set(err, CUT_EFATAL, "amqp091 sink: %s", sink->link.reason);
    }
    cut_amqp091_link_tx(&sink->link, cut_amqp091_now_ms());
    return CUT_OK;
}

static int sink_poll(struct cut_sink *sink, int timeout_ms)
{
    sink->served = 0;
    if (sink->in_cb == 0) {
        cut_amqp091_link_reap(&sink->link);
    }
    report_lost(sink);
    if (sink->link.state == CUT_CONN_UP) {
        serve(sink, timeout_ms);
        report_lost(sink);
    }
    return sink->served;
}

static int sink_fd(struct cut_sink *sink)
{
    return sink->link.conn != NULL ? amqp_get_sockfd(sink->link.conn) : -1;
}

static size_t sink_in_flight(struct cut_sink *sink)
{
    return cut_confwin_pending(&sink->win);
}

static int sink_flush(struct cut_sink *sink, int timeout_ms, struct cut_err *err)
{
    int64_t deadline = cut_amqp091_now_ms() + timeout_ms;

    report_lost(sink);
    while (cut_confwin_pending(&sink->win) > 0 && sink->link.state == CUT_CONN_UP) {
        int64_t left = deadline - cut_amqp091_now_ms();
        if (left <= 0) {
            break;
        }
        sink->served = 0;
        serve(sink, (int)left);
        report_lost(sink);
    }
    size_t left = cut_confwin_pending(&sink->win);
    if (left > 0) {
        return cut_err_set(err, CUT_ERETRY, "amqp091 sink: %zu publishes unconfirmed after %d ms",
                           left, timeout_ms);
    }
    return CUT_OK;
}

static enum cut_conn_state sink_state(struct cut_sink *sink)
{
    return sink->link.state;
}

static void sink_destroy(struct cut_sink *sink)
{
    if (sink == NULL) {
        return;
    }
    sink->closing = true;
    if (sink->link.state == CUT_CONN_UP && cut_confwin_pending(&sink->win) > 0) {
        sink_flush(sink, DESTROY_FLUSH_MS, NULL);
    }
    report_lost(sink);
    if (cut_confwin_pending(&sink->win) > 0) {
        cut_log_warn(LOG_COMPONENT,
                     "flow %s sink: closing with %zu publishes unconfirmed; reported for retry",
                     sink->flow, cut_confwin_pending(&sink->win));
        snprintf(sink->lost_reason, sizeof(sink->lost_reason),
                 "the sink closed before the broker confirmed");
        cut_confwin_fail_all(&sink->win, on_end, sink);
    }
    int64_t timeout = sink->link.cfg->connect_timeout_ms < CLOSE_TIMEOUT_MS
                          ? sink->link.cfg->connect_timeout_ms
                          : CLOSE_TIMEOUT_MS;
    cut_amqp091_link_close(&sink->link, timeout);
    cut_confwin_fini(&sink->win);
    cut_amqp091_pubbuf_fini(&sink->pub);
    free(sink);
}

const struct cut_sink_ops cut_amqp091_sink_ops = {
    .create = sink_create,
    .send = sink_send,
    .poll = sink_poll,
    .fd = sink_fd,
    .in_flight = sink_in_flight,
    .flush = sink_flush,
    .state = sink_state,
    .destroy = sink_destroy,
};
