/*
 * The connector interface: every protocol (connectors/<protocol>/) provides a
 * source and/or a sink as a designated-initializer instance of these ops, and
 * registers itself with one line in connectors/registry.c. The bridge only
 * knows this header; it never includes a connector's own header.
 *
 * Threading: a source or sink instance is owned by exactly one thread (its
 * flow's thread) from create to destroy. Every op must be called from that
 * thread. Confirmations arrive through the confirm callback, which a sink
 * calls only from inside its poll(), flush() or destroy() ops, i.e. on the
 * owning thread; the callback may call send() but not destroy(). Library
 * threads (librdkafka's, say) never call back into the bridge directly.
 *
 * Errors: ops return CUT_OK or a negative enum cut_status and fill err. A
 * CUT_EFATAL from a source or sink means "this connection is gone": the flow
 * destroys nothing it has not confirmed, and the connector reconnects itself on
 * the next call (with backoff), never settling a delivery of the dead
 * connection.
 */
#ifndef CUTOVER_CONNECTOR_H
#define CUTOVER_CONNECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "cutover/config.h"
#include "cutover/msg.h"
#include "cutover/status.h"

/** How a source delivery ends. */
enum cut_outcome {
    CUT_OUTCOME_ACCEPT, /**< every required sink confirmed: remove from the source */
    CUT_OUTCOME_RETRY,  /**< transient failure: give it back for redelivery */
    CUT_OUTCOME_REJECT, /**< poison: refuse it (broker DLQ or drop, per protocol) */
};

/** Connection state, visible to health and metrics. */
enum cut_conn_state {
    CUT_CONN_DOWN,
    CUT_CONN_CONNECTING,
    CUT_CONN_UP,
};

struct cut_source;
struct cut_sink;

/** What a flow asks of a source. Settings point into the loaded config. */
struct cut_source_params {
    const char *flow;          /**< flow name, for logs; borrowed */
    const void *conn_settings; /**< the connection's settings (conn_keys struct); borrowed */
    const void *settings;      /**< the flow's source settings (source_keys struct); borrowed */
};

struct cut_source_ops {
    /** Create a source; does not connect yet. @p params stay valid for its life. */
    int (*create)(struct cut_source **src, const struct cut_source_params *params,
                  struct cut_err *err);
    /**
     * Connect if needed and hand out the next message, without blocking.
     * Returns CUT_OK with *msg filled (borrowed until the next fetch),
     * CUT_EAGAIN when nothing is ready, CUT_EFATAL when the connection broke
     * (the next call reconnects, honouring backoff).
     */
    int (*fetch)(struct cut_source *src, struct cut_msg *msg, struct cut_err *err);
    /**
     * Record how the delivery named @p token ended. The source may batch the
     * protocol acks; they go out at the latest on flush(). A token of a
     * connection that has since died is ignored (the broker redelivers).
     */
    int (*settle)(struct cut_source *src, cut_token_t token, enum cut_outcome outcome,
                  struct cut_err *err);
    /** Send every batched settlement now. */
    int (*flush)(struct cut_source *src, struct cut_err *err);
    /** Stop or restart the flow of new deliveries (back-pressure, shutdown). */
    int (*pause)(struct cut_source *src, int paused, struct cut_err *err);
    /** File descriptor to poll(2) for readability, or -1 when not connected. */
    int (*fd)(struct cut_source *src);
    /** Number of deliveries handed out and not yet settled. */
    size_t (*in_flight)(struct cut_source *src);
    enum cut_conn_state (*state)(struct cut_source *src);
    /** Close the connection: unsettled deliveries go back to the broker. Accepts NULL. */
    void (*destroy)(struct cut_source *src);
};

/**
 * Confirmation of one send: @p status is CUT_OK when the peer confirmed,
 * CUT_ERETRY for a transient failure (send again later), CUT_EINVAL when the
 * peer refused this message for good. @p err is borrowed for the call.
 */
typedef void (*cut_confirm_cb)(void *opaque, cut_token_t token, int status,
                               const struct cut_err *err);

struct cut_sink_params {
    const char *flow;          /**< flow name, for logs; borrowed */
    const void *conn_settings; /**< connection settings; borrowed */
    const void *settings;      /**< the flow's sink settings (sink_keys struct); borrowed */
    cut_confirm_cb confirm;    /**< called from poll() on the owning thread */
    void *opaque;              /**< passed to confirm */
};

/** Where and how one message goes; built by a converter. Borrowed by send(). */
struct cut_record {
    const char *dest; /**< topic or queue; NULL = the sink's configured one */
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    const char *const *hdr_names; /**< header names, n_hdrs of them */
    const void *const *hdr_values;
    const size_t *hdr_lens;
    size_t n_hdrs;
};

struct cut_sink_ops {
    int (*create)(struct cut_sink **sink, const struct cut_sink_params *params,
                  struct cut_err *err);
    /**
     * Queue one message for sending; never blocks for the peer. The outcome
     * arrives later through the confirm callback with @p token. A Kafka sink
     * sends @p rec (what the converter made of the message); a legacy sink
     * sends @p msg itself, body and every header and property unchanged, to
     * its configured destination (or rec->dest when rec is given and sets it).
     * Returns CUT_EFULL when the sink's window is full (poll and try again),
     * CUT_EFATAL when the connection is gone (it reconnects by itself, with
     * backoff, on later calls), CUT_EINVAL when this message can never be
     * sent. Everything in @p msg and @p rec is copied before returning.
     */
    int (*send)(struct cut_sink *sink, const struct cut_msg *msg, const struct cut_record *rec,
                cut_token_t token, struct cut_err *err);
    /** Serve confirmations (calls confirm); waits at most @p timeout_ms. Returns how many. */
    int (*poll)(struct cut_sink *sink, int timeout_ms);
    /** File descriptor that becomes readable when confirmations wait, or -1. */
    int (*fd)(struct cut_sink *sink);
    /** Number of sends not yet confirmed. */
    size_t (*in_flight)(struct cut_sink *sink);
    /** Wait up to @p timeout_ms for every pending confirmation; CUT_ERETRY if some remain. */
    int (*flush)(struct cut_sink *sink, int timeout_ms, struct cut_err *err);
    enum cut_conn_state (*state)(struct cut_sink *sink);
    /** Accepts NULL. Anything unconfirmed is reported through confirm as CUT_ERETRY. */
    void (*destroy)(struct cut_sink *sink);
};

/** A protocol: its name in config, its key tables and its ops. */
struct cut_connector {
    const char *protocol;                  /**< "amqp091", "amqp10", "kafka" */
    const struct cut_cfg_key *conn_keys;   /**< keys of a connections: entry */
    size_t conn_size;                      /**< size of the settings struct they fill */
    const struct cut_cfg_key *source_keys; /**< keys of a flow's source: section, or NULL */
    size_t source_size;
    const struct cut_cfg_key *sink_keys; /**< keys of a flow's sink section, or NULL */
    size_t sink_size;
    const struct cut_source_ops *source; /**< NULL when it cannot read */
    const struct cut_sink_ops *sink;     /**< NULL when it cannot write */
};

/** The connector registered under @p protocol, or NULL. Defined in connectors/registry.c. */
const struct cut_connector *cut_connector_find(const char *protocol);

/** NULL-terminated list of every registered connector. */
extern const struct cut_connector *const cut_connectors[];

#endif
