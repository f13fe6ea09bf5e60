/*
 * AMQP 0-9-1 connector (librabbitmq 0.11), internal header: the settings its
 * key tables fill, the tables, the ops, and the connection helpers that the
 * source shares with the sink. Nothing outside connectors/amqp091/ and
 * connectors/registry.c includes this; the bridge only sees
 * cut_amqp091_connector through connector.h.
 *
 * Transport: plain TCP (amqp://). amqps:// is refused at create() until TLS
 * is implemented for real.
 *
 * Source behaviour (amqp091_source.c)
 * -----------------------------------
 * fetch() never waits for the network, except while (re)connecting: the TCP
 * connect is bounded by connect_timeout, and so is every handshake and RPC
 * (login, channel.open, queue.declare, basic.qos, basic.consume). While it
 * backs off after a failure (exponential, full jitter between
 * reconnect_backoff_min and reconnect_backoff_max) fetch() returns
 * CUT_EAGAIN; a failed attempt also returns CUT_EAGAIN, with the reason in
 * err. CUT_EFATAL is returned once per lost connection; the next calls
 * reconnect. Tokens of the lost connection are ignored by settle(): the
 * broker redelivers those messages (at-least-once; the message_id lets
 * consumers drop the duplicate).
 *
 * Polling: librabbitmq reads ahead, so frames may wait in its buffer while
 * the socket is not readable. The runner must call fetch() until it returns
 * CUT_EAGAIN before it polls fd(); CUT_EAGAIN means the buffer is empty. When
 * fd() is -1 (not connected) poll with a timeout instead.
 *
 * Timers: there is no timer thread. Batched acks (ack_interval) and
 * heartbeats (every heartbeat/2 when nothing else was sent) go out from
 * fetch(), settle() and flush(); the runner must call one of them at least
 * every min(ack_interval, heartbeat/2), e.g. by bounding its poll timeout.
 * With zero-timeout reads librabbitmq never notices a silent peer, so
 * fetch() does: no data for 2 x heartbeat means the connection is dead.
 *
 * Acknowledgements: see ackwin.h. Accepted deliveries are acked with
 * basic.ack(multiple) up to the lowest unsettled one, once ack_batch of them
 * are contiguous or ack_interval after the first; RETRY is
 * basic.nack(requeue=1), REJECT basic.nack(requeue=0) (the queue's
 * dead-letter exchange, if any, gets it), both at the next call. When half
 * the prefetch window is accepted behind one unsettled delivery, those are
 * acked one by one so the window keeps moving. flush() sends everything
 * that can go without waiting for thresholds; destroy() also acks singly
 * what is accepted above an unsettled delivery, so that it is not
 * redelivered after the close.
 *
 * Back-pressure and pause: the prefetch window is the back-pressure. A flow
 * that cannot take more simply stops calling fetch() (and keeps calling
 * settle() or flush(), see Timers); the broker stops at `prefetch` unacked
 * deliveries. pause(1) cancels the consumer (basic.cancel)
 * for shutdown or an operator stop: deliveries already on the wire are still
 * handed out by fetch() and must be settled; pause(0) consumes again.
 * Delivery tags continue on the same channel, so nothing is lost across a
 * pause.
 *
 * Message fields (struct cut_msg): the mapping, both ways, is the table at
 * the top of amqp091_msg.c. Two points matter to the flow:
 *   body            borrowed from the connection's frame buffers (one body
 *                   frame) or the source's body buffer (several); valid
 *                   until the next fetch() or destroy(), like every string
 *   message_id      properties.message_id; when absent or empty, a stable
 *                   fallback so that a redelivery carries the same id:
 *                   "fnv1a64:<16 hex digits>-<body length>", FNV-1a 64 over
 *                   the body, a 0 byte, the routing key, a 0 byte and the
 *                   8-byte little-endian timestamp (0 when absent), with
 *                   message_id_type CUT_ID_NONE ("not on the wire": an
 *                   AMQP 0-9-1 sink does not write it). Two different
 *                   messages with the same body, routing key and timestamp
 *                   get the same fallback id and look like duplicates
 *                   downstream: publishers should set message_id.
 *   delivery_count  the x-delivery-count header (quorum queues) if present,
 *                   else 1 when redelivered, else 0. Classic queues only say
 *                   "redelivered", so the count stays at 1 there.
 * Strings are copied into a per-source scratch buffer that only grows: no
 * allocation per message in the steady state.
 *
 * Sink behaviour (amqp091_sink.c)
 * -------------------------------
 * One connection per sink (role "sink"), channel 1 in confirm mode
 * (confirm.select). send() publishes at once (basic.publish, mandatory by
 * default) and returns; the outcome comes through the confirm callback from
 * poll(), flush() or destroy():
 *   basic.ack, not returned          CUT_OK
 *   basic.return then basic.ack      CUT_ERETRY "unroutable: 312 NO_ROUTE ..."
 *                                    (matching rule in confwin.h)
 *   basic.nack                       CUT_ERETRY
 *   channel or connection lost       CUT_ERETRY for every unconfirmed publish
 *   destroy() with publishes left    CUT_ERETRY
 * send() returns CUT_EFULL when max_in_flight publishes are unconfirmed,
 * while the broker has blocked the connection (connection.blocked, a memory
 * or disk alarm) or while the socket cannot take more; CUT_EFATAL while the
 * connection is down (it reconnects on a later send(), with backoff, once
 * poll() has reported what the dead connection left unconfirmed); CUT_EINVAL
 * for a message that AMQP 0-9-1 cannot carry (a content_type over 255
 * bytes, a header name over 255 bytes, properties larger than a frame).
 * The exchange is checked (passive exchange.declare) and the queue declared
 * (`declare`) at each connect, so a missing exchange is a clear setup error
 * and not a channel closed by the first publish.
 * Polling and timers are as for the source: poll() reads until librabbitmq's
 * buffer is empty, sends heartbeats and declares a silent broker dead.
 *
 * Thread safety: every op of a source runs on its flow's thread; nothing is
 * shared between sources (librabbitmq connections are not thread-safe).
 */
#ifndef CUTOVER_AMQP091_H
#define CUTOVER_AMQP091_H

#include <stdbool.h>
#include <stdint.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "cutover/config.h"
#include "cutover/connector.h"
#include "cutover/msg.h"
#include "cutover/status.h"

/** A `connections:` entry with `protocol: amqp091` (cut_amqp091_conn_keys). */
struct cut_amqp091_conn_settings {
    char *url;                  /**< amqp://user:pass@host:port/vhost; secret */
    int64_t heartbeat_ms;       /**< 0 = off; sent to the broker in seconds */
    int64_t connect_timeout_ms; /**< TCP connect, and each handshake step and RPC */
    int64_t reconnect_backoff_min_ms;
    int64_t reconnect_backoff_max_ms;
};

/** A flow's `source:` section on an amqp091 connection (cut_amqp091_source_keys). */
struct cut_amqp091_source_settings {
    char *queue;
    int64_t prefetch;  /**< basic.qos prefetch_count */
    int64_t ack_batch; /**< contiguous settlements that trigger a multiple-ack */
    int64_t ack_interval_ms;
    bool declare; /**< declare the queue durable when missing */
};

/** A flow's legacy sink section on an amqp091 connection (cut_amqp091_sink_keys). */
struct cut_amqp091_sink_settings {
    char *exchange;        /**< "" = the default exchange */
    char *routing_key;     /**< NULL when `queue` is used */
    char *queue;           /**< shorthand for exchange "" + routing_key = queue */
    bool declare;          /**< declare the queue durable when missing */
    bool mandatory;        /**< publish mandatory: unroutable messages come back */
    bool impersonate;      /**< the login user may set any user_id (impersonator tag) */
    int64_t max_in_flight; /**< unconfirmed publishes before send() says CUT_EFULL */
};

extern const struct cut_cfg_key cut_amqp091_conn_keys[];
extern const struct cut_cfg_key cut_amqp091_source_keys[];
extern const struct cut_cfg_key cut_amqp091_sink_keys[];
extern const struct cut_source_ops cut_amqp091_source_ops;
extern const struct cut_sink_ops cut_amqp091_sink_ops;
extern const struct cut_connector cut_amqp091_connector;

/* ---- the envelope (amqp091_msg.c) -----------------------------------------
 *
 * Used by the source on its own thread; pure functions of their arguments.
 */

/** A delivery as read from the channel. Pointers are borrowed from librabbitmq's frame pool. */
struct cut_amqp091_delivery {
    bool active;      /**< basic.deliver seen */
    bool have_header; /**< content header seen */
    bool complete;    /**< whole body received */
    uint64_t tag;
    bool redelivered;
    amqp_bytes_t routing_key;
    const amqp_basic_properties_t *props;
    uint64_t body_size;
    uint64_t received;
    const void *body; /**< the frame's bytes (one body frame) or the msgbuf's body */
};

/** Grow-only buffers that hold what a fetched message lends, until the next fetch. */
struct cut_amqp091_msgbuf {
    char *body; /**< bodies that came in several frames */
    size_t body_cap;
    char *scratch; /**< NUL-terminated copies of the envelope's strings */
    size_t scratch_cap;
    struct cut_prop *props;
    size_t props_cap;
    struct cut_prop *annotations; /**< x-opt-* headers and the residue (amqp091_msg.c) */
    size_t annotations_cap;
    uint8_t *classes; /**< per header entry, while filling */
    size_t classes_cap;
    uint8_t *overrides;
    size_t overrides_cap;
    char *layout; /**< the encoded x-basic-headers layout */
    size_t layout_cap;
    amqp_table_entry_t *layout_entries;
    size_t layout_entries_cap;
};

/**
 * Fill @p msg from the complete delivery @p d (mapping and fallback id in the
 * comment at the top). Strings are copied into @p buf, so @p msg borrows from
 * @p buf and from @p d's frame pool. @p wall_ms is the arrival time that the
 * expiration TTL counts from. Returns CUT_OK or CUT_ENOMEM.
 */
int cut_amqp091_msg_fill(struct cut_amqp091_msgbuf *buf, const struct cut_amqp091_delivery *d,
                         cut_token_t token, int64_t wall_ms, struct cut_msg *msg);

/** Make room for a body of @p size bytes in @p buf->body. CUT_OK or CUT_ENOMEM. */
int cut_amqp091_msgbuf_reserve_body(struct cut_amqp091_msgbuf *buf, size_t size);

/** Free the buffers; @p buf may be zeroed or used. */
void cut_amqp091_msgbuf_fini(struct cut_amqp091_msgbuf *buf);

/** How the publishing side may write what a message says. */
struct cut_amqp091_pubopts {
    const char *login_user; /**< the connection's user (borrowed), NULL when unknown */
    bool impersonate;       /**< the user may set any user_id */
    size_t frame_max;       /**< negotiated frame size, 0 = do not check */
};

/** Grow-only buffers behind the properties cut_amqp091_pub_props() fills. Zero to init. */
struct cut_amqp091_pubbuf {
    amqp_table_entry_t *entries; /**< the headers table */
    size_t entries_cap;
    void *items; /**< private to amqp091_pub.c */
    size_t items_cap;
    char *scratch; /**< base64 ids, the TTL text */
    size_t scratch_cap;
    char *check; /**< the headers encoded once, to check the frame size */
    size_t check_cap;
    amqp_pool_t pool; /**< the decoded layout */
    bool pool_ready;
};

/**
 * Fill @p props (basic properties and headers table) from @p msg, the
 * reverse of cut_amqp091_msg_fill() (table at the top of amqp091_msg.c).
 * @p props points into @p msg (borrowed) and @p buf until the next call with
 * @p buf. Returns CUT_OK, CUT_EINVAL when AMQP 0-9-1 cannot carry the
 * message (err says why), CUT_ENOMEM.
 */
int cut_amqp091_pub_props(struct cut_amqp091_pubbuf *buf, const struct cut_msg *msg,
                          const struct cut_amqp091_pubopts *opts, amqp_basic_properties_t *props,
                          struct cut_err *err);

/** Free the buffers; @p buf may be zeroed or used. */
void cut_amqp091_pubbuf_fini(struct cut_amqp091_pubbuf *buf);

/* ---- connection helpers (amqp091_conn.c) ---------------------------------
 *
 * A link is one connection with one channel (1), its reconnect schedule and
 * its liveness clock. The owner (source or sink) does its own setup after
 * cut_amqp091_link_open() (qos, consume, confirm.select...) and then calls
 * cut_amqp091_link_up(). Every function runs on the owner's thread.
 */

/** The channel every link opens. */
#define CUT_AMQP091_CHANNEL 1

struct cut_amqp091_link {
    const struct cut_amqp091_conn_settings *cfg; /**< borrowed for the link's life */
    const char *flow;                            /**< borrowed, for logs */
    const char *role;                            /**< "source" or "sink", for logs */
    amqp_connection_state_t conn;                /**< live connection, NULL when down */
    amqp_connection_state_t zombie;              /**< dead one, kept until reaped (see link_fail) */
    enum cut_conn_state state;
    bool lost;           /**< went down since the owner last asked */
    bool quiet;          /**< failure already logged for this outage */
    unsigned attempts;   /**< failed attempts since the last stable link */
    int64_t retry_at_ms; /**< no attempt before (monotonic) */
    int64_t up_since_ms;
    int64_t last_rx_ms;   /**< last time the socket had data for us */
    int64_t last_tx_ms;   /**< last frame we sent */
    int64_t heartbeat_ms; /**< negotiated interval, 0 = off */
    uint64_t rng;
    char peer[160];               /**< "host:port vhost V", never credentials */
    char reason[CUT_ERR_MSG_MAX]; /**< why it went down */
};

/** Monotonic milliseconds. */
int64_t cut_amqp091_now_ms(void);

/** Wall-clock milliseconds since the Unix epoch. */
int64_t cut_amqp091_wall_ms(void);

/**
 * Check @p url (amqp://, parsed by amqp_parse_url) without connecting.
 * CUT_EINVAL with a message that never contains the URL itself.
 */
int cut_amqp091_url_check(const char *url, struct cut_err *err);

/**
 * Copy the user name of @p url (the default "guest" when it names none) into
 * @p user (@p size bytes). CUT_OK, or CUT_EINVAL as cut_amqp091_url_check().
 */
int cut_amqp091_url_user(const char *url, char *user, size_t size, struct cut_err *err);

void cut_amqp091_link_init(struct cut_amqp091_link *link,
                           const struct cut_amqp091_conn_settings *cfg, const char *flow,
                           const char *role);

/**
 * Connect, log in and open channel 1, unless the link is backing off.
 * Returns CUT_OK (connected, not yet "up"), CUT_EAGAIN while backing off,
 * CUT_ERETRY when the attempt failed (err says why; the next one is
 * scheduled). Blocks: each step (TCP connect, handshake, channel.open) is
 * bounded by connect_timeout.
 */
int cut_amqp091_link_open(struct cut_amqp091_link *link, struct cut_err *err);

/** The owner's setup succeeded: the link is up (logged once per transition). */
void cut_amqp091_link_up(struct cut_amqp091_link *link);

/**
 * The connection failed (or the broker closed it): drop it and schedule the
 * next attempt. The connection's memory (and so every message borrowed from
 * it) stays valid until cut_amqp091_link_reap(); logged once per outage.
 * @p reason is printf-like and must hold no secret.
 */
void cut_amqp091_link_fail(struct cut_amqp091_link *link, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Free the memory of a failed connection; call where borrowed data is no longer used. */
void cut_amqp091_link_reap(struct cut_amqp091_link *link);

/**
 * Keep the connection alive while idle: send a heartbeat when nothing was
 * sent for heartbeat/2, and, when @p check_rx, declare the peer dead when
 * the socket was silent for 2 x heartbeat. CUT_OK or CUT_EFATAL (the link
 * has failed).
 */
int cut_amqp091_link_tick(struct cut_amqp091_link *link, int64_t now_ms, bool check_rx);

/** Note that the socket had data (for the liveness check). */
void cut_amqp091_link_rx(struct cut_amqp091_link *link, int64_t now_ms);

/** Note that a frame went out (heartbeats are only needed when nothing else does). */
void cut_amqp091_link_tx(struct cut_amqp091_link *link, int64_t now_ms);

/** Close politely (channel.close, connection.close), each step bounded by @p timeout_ms. */
void cut_amqp091_link_close(struct cut_amqp091_link *link, int64_t timeout_ms);

/**
 * Translate a librabbitmq RPC reply into a status and message ("WHAT: 404
 * NOT_FOUND - no queue 'x'", "WHAT: socket closed"). Returns CUT_OK for a
 * normal reply, else CUT_EFATAL.
 */
int cut_amqp091_reply_err(amqp_rpc_reply_t reply, const char *what, struct cut_err *err);

#endif
