/*
 * The Kafka connector (librdkafka): a sink only. Internal to connectors/kafka/
 * and its unit tests; the bridge knows it only as cut_kafka_connector through
 * connectors/registry.c.
 *
 * One idempotent producer per sink (each flow owns its sink). The flow's
 * thread calls every op; librdkafka's delivery reports and error events are
 * served by rd_kafka_poll() inside poll(), flush() and destroy(), so the
 * confirm callback always runs on the owning thread. The callback may call
 * send() (except during destroy(), where send() returns CUT_EFATAL) but never
 * destroy(). Only librdkafka's log callback runs on librdkafka's threads (it
 * touches nothing but cut_log() and the immutable flow name).
 *
 * Configuration, in the order applied (a later one wins):
 *   1. our safe defaults: enable.idempotence=true, acks=all, linger.ms=5,
 *      compression.type=none, queue.buffering.max.messages=max_in_flight,
 *      client.id=cutover-FLOW (message.timeout.ms stays librdkafka's 300 s);
 *   2. the top-level `kafka:` map (conn_settings, a struct cut_kv_list);
 *   3. the flow's `kafka.properties` map.
 * Refused outright, because they break the delivery contract: acks=0 (a
 * "delivery" is reported without any broker ack), delivery.report.only.error
 * (successes would never be confirmed) and transactional.id (the sink does not
 * run transactions). acks=1 and enable.idempotence=false are allowed with a
 * warning. Secret properties (see cut_kafka_prop_is_secret()) never appear in
 * an error message, a log line or a dump.
 *
 * How a delivery ends (the confirm status; RELIABILITY.md is the contract):
 *
 *   delivery report / send() result              status       why
 *   --------------------------------------------  -----------  ---------------------------
 *   DR without error                              CUT_OK       the only confirmation
 *   DR with status POSSIBLY_PERSISTED (any error) CUT_ERETRY   resend with the same id;
 *                                                              a duplicate is acceptable
 *   _MSG_TIMED_OUT, _TIMED_OUT_QUEUE, _PURGE_*,   CUT_ERETRY   never ack on timeout; purged
 *   _FATAL, _TRANSPORT, retriable broker errors                 or fenced: not in Kafka
 *   UNKNOWN_TOPIC_OR_PART on a partition,         CUT_ERETRY   leadership moves, transient
 *   NOT_LEADER_FOR_PARTITION, ...
 *   MSG_SIZE_TOO_LARGE, RECORD_LIST_TOO_LARGE,    CUT_EINVAL   when the message failed alone
 *   INVALID_RECORD (broker, in the DR)            CUT_ERETRY   when others of the same batch
 *                                                              failed with it (see below)
 *   INVALID_TIMESTAMP                             CUT_ERETRY   we never set timestamps: it means
 *                                                              the message waited too long in
 *                                                              the queue; a resend restamps it
 *   _UNKNOWN_TOPIC, _UNKNOWN_PARTITION,           CUT_ERETRY   on the flow's configured topic:
 *   TOPIC_AUTHORIZATION_FAILED, TOPIC_EXCEPTION,               an operator creates it / grants
 *   UNKNOWN_TOPIC_OR_PART before any partition                 the ACL; dead-lettering the
 *   was assigned (the cluster's metadata says                  whole flow would be worse
 *   there is no such topic) (DR or send())
 *                                                 CUT_EINVAL   on a topic the record chose
 *                                                              (rec->dest): this message's
 *                                                              routing is what is wrong
 *   any other error                               CUT_ERETRY   unknown means "do not lose it";
 *                                                              the source's bounded redelivery
 *                                                              dead-letters a true poison
 *   send(): MSG_SIZE_TOO_LARGE (local check)      CUT_EINVAL   this message is over
 *                                                              message.max.bytes
 *   send(): _QUEUE_FULL, window full              CUT_EFULL    slow down, never drop
 *   send(): _FATAL / producer fenced              CUT_EFATAL   rebuilt after the DRs drain
 *
 * Batches: librdkafka 2.0.2 fails a whole produce batch with the broker's
 * error, so a broker-side "message too large" or "invalid record" also hits
 * the innocent messages batched with the culprit. librdkafka hands a failed
 * batch back as one run of consecutive reports, so the sink holds those
 * reports until its rd_kafka_poll() returns and answers CUT_EINVAL only to a
 * message whose run is of length one (a batch of one); the others get
 * CUT_ERETRY and are batched differently next time. Set message.max.bytes to the topic's
 * max.message.bytes so that oversized messages are refused one by one at
 * send() time.
 *
 * After a fatal error (idempotence fencing, say) the sink is DOWN, send()
 * returns CUT_EFATAL, everything outstanding is purged and reported
 * CUT_ERETRY by poll(), and once nothing is in flight the producer is rebuilt
 * with the same configuration, after a backoff (1 s doubling to 30 s, reset by
 * a successful delivery).
 */
#ifndef CUTOVER_KAFKA_H
#define CUTOVER_KAFKA_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "cutover/config.h"
#include "cutover/connector.h"
#include "cutover/status.h"

/** The sink's window: max_in_flight bounds. */
#define CUT_KAFKA_WINDOW_DEFAULT 10000
#define CUT_KAFKA_WINDOW_MAX     1000000

/**
 * A flow's `kafka:` section, filled by cut_cfg_apply() from the sink key
 * table. Owned by the loaded config (strings and lists freed by
 * cut_cfg_release()); the sink copies what it keeps.
 */
struct cut_kafka_sink_settings {
    char *topic;                   /**< default destination topic */
    struct cut_kv_list properties; /**< per-flow librdkafka overrides */
    int64_t max_in_flight;         /**< window: send() returns CUT_EFULL beyond it */
};

extern const struct cut_connector cut_kafka_connector;

/* ---- configuration (kafka_conf.c) ----------------------------------------- */

/**
 * Build a producer configuration: our defaults, then @p global (the top-level
 * `kafka:` map; may be NULL), then @p props (the flow's overrides; may be
 * NULL), then the policy checks described above.
 *
 * @param conf    receives a new rd_kafka_conf_t on success; the caller owns
 *                it (rd_kafka_new() takes it, or rd_kafka_conf_destroy()).
 * @param global  borrowed for the call.
 * @param props   borrowed for the call.
 * @param window  max_in_flight, used as queue.buffering.max.messages.
 * @param flow    flow name, for client.id and messages; borrowed.
 * @return CUT_OK, or CUT_EINVAL naming the property (and its line) with
 *         librdkafka's reason, never a secret value; CUT_ENOMEM.
 * @locality any thread.
 */
int cut_kafka_conf_build(rd_kafka_conf_t **conf, const struct cut_kv_list *global,
                         const struct cut_kv_list *props, int64_t window, const char *flow,
                         struct cut_err *err);

/** True when the value of librdkafka property @p name must never be shown. */
bool cut_kafka_prop_is_secret(const char *name);

/** Receives one property of a dump; @p value is already masked. Both borrowed for the call. */
typedef void (*cut_kafka_conf_emit_cb)(void *opaque, const char *name, const char *value);

/**
 * Walk the effective configuration @p conf (every librdkafka property, set or
 * default, global then default-topic ones), with secret values replaced by
 * "***". For debugging; unlike
 * rd_kafka_conf_dump() it is safe to log. @p conf is borrowed.
 */
void cut_kafka_conf_dump(const rd_kafka_conf_t *conf, cut_kafka_conf_emit_cb emit, void *opaque);

/**
 * Log at debug level, one line each, the properties of @p conf that differ
 * from librdkafka's defaults, secrets masked. @p conf is borrowed.
 */
void cut_kafka_conf_log(const rd_kafka_conf_t *conf, const char *flow);

/* ---- sink (kafka_sink.c) -------------------------------------------------- */

/**
 * The confirm status for a delivery report with error @p rkerr and
 * persistence @p status (see the table above). @p own_topic is true when the
 * message went to the flow's configured topic. @p alone is true when no other
 * message of the same partition failed with the same error in the same poll.
 * Pure function; exposed for tests.
 */
int cut_kafka_classify(rd_kafka_resp_err_t rkerr, rd_kafka_msg_status_t status, bool own_topic,
                       bool alone);

/**
 * The sink's current librdkafka handle, borrowed (it changes when the sink
 * rebuilds its producer after a fatal error; NULL while it has none). For
 * tests and diagnostics only; owning thread.
 */
rd_kafka_t *cut_kafka_sink_handle(struct cut_sink *sink);

#endif
