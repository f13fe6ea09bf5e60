#!/usr/bin/env bash
# JMS fidelity through the bridge: a real JMS client (Qpid JMS) sends COUNT
# messages to an Artemis queue A: TextMessage, BytesMessage, MapMessage,
# StreamMessage, ObjectMessage and plain Message, with every JMS header
# (priority 0..9, correlation ids of every AMQP id type, JMSType, JMSReplyTo
# queue and topic, TTL, NON_PERSISTENT), group id/seq and properties of
# every JMS type with extreme, negative and unicode values. The bridge runs
# one flow A -> legacy Artemis queue B + Kafka topic T.
# Pass: on B, a JMS consumer gets every message once with every field equal
# (class, body, ids, headers, properties with their Java types); on T every
# record has the body as value and exactly the headers of docs/connectors.md;
# the bridge exits 0 on SIGTERM; A is empty afterwards.
#
# usage: jms_fidelity.sh CUTOVER JMS_TOOL [COUNT]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fidelity.sh"
CUTOVER=$1 JMS=$2 COUNT=${3:-2000}

it_lab artemis kafka
work=$(mktemp -d)
src=$(it_unique it.jms.in)
dst=$(it_unique it.jms.out)
topic=$(it_unique it-jms-out)
finished=
cleanup() {
    if [[ -n $IT_BRIDGE ]]; then kill -KILL "$IT_BRIDGE" 2>/dev/null; fi
    if [[ -n $finished ]] && ((IT_FAILED == 0)); then
        it_artemis_drop "$src" "$dst"
        it_kafka_drop "$topic"
    else
        it_log "kept for inspection: $work (config, logs, records), Artemis queues $src $dst, Kafka topic $topic"
        return
    fi
    rm -rf "$work"
}
trap cleanup EXIT

it_log "sending $COUNT JMS messages to $src"
"$JMS" send --url "$ARTEMIS_AMQP_URL" --queue "$src" --count "$COUNT" --prefix "$src" \
    --record "$work/sent.rec" --priority-cycle >&2 || it_fail "jms-tool send failed"
# The legacy target exists before the flow starts, as it would in a migration
# (an AMQP 1.0 sender to a missing address may get a multicast address).
"$JMS" depth --url "$ARTEMIS_AMQP_URL" --queue "$dst" >/dev/null

cat >"$work/cutover.yaml" <<YAML
bridge:
  name: it-jms-fidelity
  shutdown_timeout: 20s
state:
  path: $work/cutover.db
kafka:
  bootstrap.servers: \${KAFKA_BOOTSTRAP}
connections:
  artemis:
    protocol: amqp10
    url: \${ARTEMIS_AMQP_URL}
flows:
  jms-to-both:
    mode: DUAL_WRITE_JMS_PRIMARY
    source:
      connection: artemis
      address: $src
    legacy:
      connection: artemis
      address: $dst
    kafka:
      topic: $topic
YAML
it_bridge_start "$work/cutover.yaml" "$work/bridge.log"

# check-kafka waits (bounded) until every message is on the topic.
rc=0
"$JMS" check-kafka --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" --record "$work/sent.rec" \
    --timeout 240 --required-kinds text,bytes || rc=$?
it_check "Kafka: every TextMessage and BytesMessage once, value and headers as documented (rc $rc)" \
    test "$rc" = 0 -o "$rc" = 3
it_check "Kafka: every other message kind as documented too (rc $rc)" test "$rc" = 0

rc=0
"$JMS" check-jms --url "$ARTEMIS_AMQP_URL" --queue "$dst" --record "$work/sent.rec" \
    --timeout 120 --required-kinds text,bytes || rc=$?
it_check "legacy queue: every TextMessage and BytesMessage once, every JMS field equal (rc $rc)" \
    test "$rc" = 0 -o "$rc" = 3
it_check "legacy queue: every other message kind equal too (rc $rc)" test "$rc" = 0

it_check "bridge still running after the checks" it_bridge_alive "$work/bridge.log"
it_bridge_stop 60
it_check "bridge exits 0 on SIGTERM (got $IT_RC)" test "$IT_RC" = 0

left=$(it_artemis_count "$src")
it_check "source queue empty after the run ($left left)" test "$left" = 0
if ((IT_FAILED > 0)); then
    it_show_log "$work/bridge.log"
fi
finished=1
it_summary
