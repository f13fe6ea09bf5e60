/*
 * AMQP 1.0 connector (qpid-proton-c 0.37), internal header: the settings its
 * key tables fill, the tables, the ops, and the pieces that the source and
 * the sink share (connection, token slots, envelope codec). Nothing outside
 * connectors/amqp10/, connectors/registry.c and the unit tests includes this;
 * the bridge only sees cut_amqp10_connector through connector.h.
 *
 * I/O model
 * ---------
 * The flow thread owns each connection and multiplexes with poll(2) on
 * fd(), so proton's proactor (which runs its own loop) is not used. Each
 * connection is a non-blocking TCP socket of ours plus proton's connection
 * driver (proton/connection_driver.h): bytes read from the socket go into
 * the driver, events come out, bytes the driver produces are written back.
 * One "pump" does read (as much as is there), events, write (as much as the
 * socket takes), and pn_transport_tick(). Nothing ever blocks, except
 * getaddrinfo() on a host name (a numeric address never waits).
 *
 * Connecting: a non-blocking connect(2), then the AMQP header, SASL, TLS
 * (when asked), open, begin and attach all progress inside later pumps. The
 * whole sequence, up to the peer's attach of our link, is bounded by
 * connect_timeout. Any failure closes the socket, forgets every delivery of
 * that connection and schedules the next attempt with exponential backoff
 * and full jitter (uniform in [reconnect_backoff_min,
 * min(reconnect_backoff_max, min * 2^attempts)]); attempts start over after
 * a connection stayed up for reconnect_backoff_max. Transitions are logged
 * once (an outage is one warning; further failed attempts are debug lines).
 *
 * Timers: there is no timer thread. The idle timeout (heartbeats) is
 * proton's: pn_transport_set_idle_timeout(idle_timeout) makes proton send
 * empty frames often enough for the peer and declare the peer dead after
 * idle_timeout of silence, on pn_transport_tick(), which every pump calls.
 * The runner must therefore call fetch()/flush() (source) or poll() (sink)
 * at least every idle_timeout/4 or so; the flow's 20 ms loop does.
 *
 * Writes wait in proton's buffers when the socket is full; fd() is polled
 * for readability only, so they go out on the next call. The source writes
 * dispositions and credit once per fetch()/flush() that reaches the
 * socket, not per settle(); the sink writes each send() at once (low
 * latency) and confirmations are served by poll().
 *
 * Tokens: a source token is (epoch << 48) | (gen << 24) | slot: epoch is the
 * connection's number (16 bits), slot the index in the deliveries table and
 * gen that slot's reuse counter. A token of an earlier connection is ignored
 * by settle() (the broker redelivers), and so never reaches a delivery of a
 * later one; a stale gen is a double settle (CUT_EINVAL).
 *
 * URLs: amqp://[user[:password]@]host[:port] (port 5672) and
 * amqps://... (port 5671, TLS). User and password are percent-decoded; the
 * `username` / `password` keys override them. IPv6 literals go in brackets.
 * No path: the address is the flow's `address` key.
 *
 * SASL: proton's built-in client (Debian's proton is built without Cyrus):
 * EXTERNAL (with a TLS client certificate), PLAIN (username and password)
 * and ANONYMOUS; proton picks the first of EXTERNAL, PLAIN, ANONYMOUS that
 * both sides allow. PLAIN is allowed over plain TCP, as every broker client
 * does by default; use amqps:// to protect the password.
 *
 * TLS: proton's OpenSSL layer. tls_ca_file is the trust store (PEM); without
 * it the system's default CA paths are used. tls_verify (default true)
 * checks the chain and the host name of the URL (SNI is sent too).
 * tls_cert_file + tls_key_file (+ tls_key_password) present a client
 * certificate (for EXTERNAL, or brokers that require one).
 *
 * Message fields: see amqp10_msg.c (the mapping table is at the top).
 *
 * Thread safety: every function here runs on the owning flow's thread;
 * nothing is shared between instances (proton objects are not thread-safe).
 */
#ifndef CUTOVER_AMQP10_H
#define CUTOVER_AMQP10_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netdb.h>
#include <proton/connection_driver.h>
#include <proton/delivery.h>
#include <proton/event.h>
#include <proton/message.h>
#include <proton/ssl.h>

#include "cutover/config.h"
#include "cutover/connector.h"
#include "cutover/msg.h"
#include "cutover/status.h"

/** A `connections:` entry with `protocol: amqp10` (cut_amqp10_conn_keys). */
struct cut_amqp10_conn_settings {
    char *url;             /**< amqp[s]://user:pass@host:port; secret */
    char *sasl_mechanisms; /**< space-separated; NULL = by credentials (see the key) */
    char *username;        /**< overrides the URL's user */
    char *password;        /**< overrides the URL's password; secret */
    char *container_id;    /**< NULL = "cutover-FLOW-ROLE" */
    int64_t idle_timeout_ms;
    int64_t connect_timeout_ms;
    int64_t reconnect_backoff_min_ms;
    int64_t reconnect_backoff_max_ms;
    bool tls; /**< also implied by amqps:// */
    char *tls_ca_file;
    char *tls_cert_file;
    char *tls_key_file;
    char *tls_key_password; /**< secret */
    bool tls_verify;
};

/** A flow's `source:` section on an amqp10 connection (cut_amqp10_source_keys). */
struct cut_amqp10_source_settings {
    char *address;  /**< queue address, e.g. "orders.in" or "/amq/queue/orders" */
    int64_t credit; /**< deliveries outstanding at once (granted + unsettled) */
};

/** A flow's legacy sink section on an amqp10 connection (cut_amqp10_sink_keys). */
struct cut_amqp10_sink_settings {
    char *address;         /**< default target address */
    int64_t max_in_flight; /**< unsettled sends at once */
};

extern const struct cut_cfg_key cut_amqp10_conn_keys[];
extern const struct cut_cfg_key cut_amqp10_source_keys[];
extern const struct cut_cfg_key cut_amqp10_sink_keys[];
extern const struct cut_source_ops cut_amqp10_source_ops;
extern const struct cut_sink_ops cut_amqp10_sink_ops;
extern const struct cut_connector cut_amqp10_connector;

/* ---- the envelope (amqp10_msg.c, amqp10_encode.c, amqp10_codec.c) ---------
 *
 * Pure functions of their arguments, used on the owner's thread.
 */

struct cut_amqp10_arena_block;

/** Grow-only buffers behind what a decoded message lends and an encoded one needs. */
struct cut_amqp10_msgbuf {
    pn_message_t *pn;                     /**< reused for every decode / encode */
    struct cut_amqp10_arena_block *arena; /**< NUL-terminated copies, reset per message */
    struct cut_prop *props;
    size_t props_cap;
    struct cut_prop *annotations;
    size_t annotations_cap;
    char *body; /**< several data sections, concatenated */
    size_t body_cap;
    char *out; /**< encoded message (sink) */
    size_t out_cap;
    size_t dropped; /**< properties/annotations of the last decode the envelope cannot carry */
};

/** Create the proton message. CUT_OK or CUT_ENOMEM. */
int cut_amqp10_msgbuf_init(struct cut_amqp10_msgbuf *buf);

/** Free everything; accepts a zeroed or a failed-init buffer. */
void cut_amqp10_msgbuf_fini(struct cut_amqp10_msgbuf *buf);

/**
 * Decode the AMQP 1.0 message @p bytes (a whole delivery) into @p msg.
 * @p msg borrows from @p bytes (bodies, which the caller keeps unchanged)
 * and from @p buf, both until the next decode. The token is set to @p token.
 * Returns CUT_OK, CUT_EINVAL (malformed message: err says what) or
 * CUT_ENOMEM.
 */
int cut_amqp10_msg_decode(struct cut_amqp10_msgbuf *buf, const char *bytes, size_t len,
                          cut_token_t token, struct cut_msg *msg, struct cut_err *err);

/**
 * Encode @p msg as an AMQP 1.0 message. On CUT_OK *out and *out_len name
 * the bytes, in @p buf->out until the next encode. CUT_EINVAL when a field
 * cannot be encoded (an id whose text does not parse as its type, a MAP
 * body that is no AMQP map, a uuid property that is not 16 bytes...).
 */
int cut_amqp10_msg_encode(struct cut_amqp10_msgbuf *buf, const struct cut_msg *msg,
                          const char **out, size_t *out_len, struct cut_err *err);

/* Lower-level pieces of the codec (amqp10_codec.c), exposed for the tests. */

/** Size of the AMQP-encoded value at @p p (at most @p len bytes), or 0 if malformed. */
size_t cut_amqp10_value_size(const uint8_t *p, size_t len);

/** Canonical text of an id (see msg.h) into @p out (at least 48 bytes, or 2*size+1 for binary). */
void cut_amqp10_id_text(pn_atom_t id, char *out, size_t out_len, enum cut_id_type *type);

/** Parse the canonical text @p text of type @p type back into @p id; binary goes to @p scratch. */
int cut_amqp10_id_parse(const char *text, enum cut_id_type type, pn_atom_t *id, char *scratch,
                        size_t scratch_len);

/* ---- token slots (amqp10_slots.c) ------------------------------------------
 *
 * A table of in-flight deliveries: index + generation, grow-only, O(1) take
 * and release in any order.
 */

#define CUT_AMQP10_SLOT_BITS 24
#define CUT_AMQP10_SLOT_MAX  (1u << CUT_AMQP10_SLOT_BITS)

struct cut_amqp10_slot {
    pn_delivery_t *dlv; /**< NULL when free */
    cut_token_t token;  /**< the sink's caller token */
    uint32_t gen;       /**< bumped at every release */
};

struct cut_amqp10_slots {
    struct cut_amqp10_slot *v;
    uint32_t cap;
    uint32_t *free; /**< stack of free indexes */
    uint32_t n_free;
    uint32_t used;
};

/** Take a free slot for @p dlv; CUT_OK with *idx, CUT_ENOMEM or CUT_EFULL past SLOT_MAX. */
int cut_amqp10_slots_take(struct cut_amqp10_slots *slots, pn_delivery_t *dlv, uint32_t *idx);
void cut_amqp10_slots_release(struct cut_amqp10_slots *slots, uint32_t idx);
/** Forget every delivery (their connection is gone); generations move on. */
void cut_amqp10_slots_reset(struct cut_amqp10_slots *slots);
void cut_amqp10_slots_fini(struct cut_amqp10_slots *slots);

/* ---- connections (amqp10_conf.c, amqp10_conn.c) -------------------------------------------
 *
 * One socket, one proton connection driver, the reconnect schedule. The
 * owner (source or sink) opens its session and links on the driver's
 * connection after cut_amqp10_conn_start(), handles link and delivery events
 * in its callback, and calls cut_amqp10_conn_up() once its link is attached.
 */

/** The owner's event handler; called from inside cut_amqp10_conn_pump(). */
typedef void (*cut_amqp10_event_cb)(void *opaque, pn_event_t *event);

struct cut_amqp10_conn {
    const struct cut_amqp10_conn_settings *cfg; /**< borrowed for the conn's life */
    const char *flow;                           /**< borrowed, for logs */
    const char *role;                           /**< "source" or "sink", for logs */
    cut_amqp10_event_cb on_event;
    void *opaque;

    char host[256];
    char port[16];
    char *user; /**< owned, wiped on free */
    char *pass; /**< owned, wiped on free */
    bool use_tls;
    char mechs[128];
    char container[200];
    pn_ssl_domain_t *ssl_domain;

    int fd;
    struct addrinfo *addrs;     /**< resolved addresses of this attempt */
    struct addrinfo *addr_next; /**< the next one to try if this connect fails */
    pn_connection_driver_t driver;
    bool have_driver;
    bool tcp_up;  /**< connect(2) completed */
    bool in_pump; /**< a failure now is finished at the end of the pump */
    bool dead;    /**< failed, torn down at the end of the pump */
    bool lost;    /**< went down since the owner last asked (was up) */
    bool quiet;   /**< failure already logged for this outage */
    enum cut_conn_state state;
    uint16_t epoch; /**< connection number, part of every token */
    unsigned attempts;
    int64_t deadline_ms; /**< connect_timeout of the current attempt */
    int64_t retry_at_ms;
    int64_t up_since_ms;
    uint64_t rng;
    char peer[300];               /**< "host:port", never credentials */
    char reason[CUT_ERR_MSG_MAX]; /**< why it went down */
};

/** Monotonic milliseconds. */
int64_t cut_amqp10_now_ms(void);

/**
 * Check the settings and prepare the connection (URL parsed, TLS domain
 * loaded, so that bad files fail here). Does not connect. CUT_EINVAL with a
 * message that never holds a secret, or CUT_ENOMEM.
 */
int cut_amqp10_conn_init(struct cut_amqp10_conn *conn, const struct cut_amqp10_conn_settings *cfg,
                         const char *flow, const char *role, cut_amqp10_event_cb on_event,
                         void *opaque, struct cut_err *err);

/** Close and free everything; accepts a zeroed struct. */
void cut_amqp10_conn_fini(struct cut_amqp10_conn *conn);

/** Free what cut_amqp10_conn_init() prepared (credentials wiped, TLS context). */
void cut_amqp10_conf_fini(struct cut_amqp10_conn *conn);

/**
 * Start connecting unless connected or backing off: socket, non-blocking
 * connect, driver with SASL/TLS/idle timeout, connection opened. Returns
 * CUT_OK when an attempt is under way (conn->driver.connection is ready
 * for sessions and links), CUT_EAGAIN while backing off or already
 * connecting/connected, CUT_ERETRY when this attempt failed at once (err).
 */
int cut_amqp10_conn_start(struct cut_amqp10_conn *conn, struct cut_err *err);

/**
 * Move bytes and events: connect progress, read, events (to the owner),
 * write, tick. Returns CUT_OK, or CUT_EFATAL when the connection died in
 * this pump (already torn down: every proton object of it is freed, so the
 * owner drops its pointers), CUT_EAGAIN when there is no connection.
 */
int cut_amqp10_conn_pump(struct cut_amqp10_conn *conn);

/** Write what proton has pending, without reading or dispatching events. */
int cut_amqp10_conn_write(struct cut_amqp10_conn *conn);

/** The owner's link is attached: the connection is up (logged once). */
void cut_amqp10_conn_up(struct cut_amqp10_conn *conn);

/**
 * The connection failed: close the socket, schedule the next attempt, log
 * once. Inside a pump the teardown waits for its end; outside it happens
 * at once. @p fmt must hold no secret.
 */
void cut_amqp10_conn_fail(struct cut_amqp10_conn *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Close politely: close frames, then wait up to @p timeout_ms for the peer's. */
void cut_amqp10_conn_close(struct cut_amqp10_conn *conn, int64_t timeout_ms);

/** The socket, or -1 when there is none. */
int cut_amqp10_conn_fd(const struct cut_amqp10_conn *conn);

/** Text of a proton condition "name: description" into @p out; "" when unset. */
void cut_amqp10_condition_text(pn_condition_t *cond, char *out, size_t len);

#endif
