#!/usr/bin/env bash
# A message the sink refuses for good does not stop the flow. The source
# queue A is declared with a dead-letter exchange (fanout) bound to queue D.
# On A: COUNT/2 good messages, one 200 KB message, COUNT/2 good messages. The
# flow's Kafka producer has message.max.bytes 100000, so librdkafka refuses
# the big one at once (MSG_SIZE_TOO_LARGE -> CUT_EINVAL), the flow REJECTs it
# and RabbitMQ dead-letters it.
# Pass: every good message in Kafka once and the big one not at all; D holds
# exactly the big one, dead-lettered with reason "rejected"; the bridge kept
# running, exits 0 on SIGTERM and its stats count one rejection, no retry; A
# is empty.
#
# usage: poison.sh CUTOVER CUT_AMQP091_CHECK CUT_VERIFY [COUNT]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fidelity.sh"
CUTOVER=$1 CHECK=$2 VERIFY=$3 COUNT=${4:-400}

it_lab rabbitmq kafka
work=$(mktemp -d)
qa=$(it_unique it.poison.in)
dlx=$(it_unique it.poison.dlx)
dlq=$(it_unique it.poison.dlq)
topic=$(it_unique it-poison)
half=$((COUNT / 2))
finished=
cleanup() {
    if [[ -n $IT_BRIDGE ]]; then kill -KILL "$IT_BRIDGE" 2>/dev/null; fi
    if [[ -n $finished ]] && ((IT_FAILED == 0)); then
        it_rabbit_drop "$qa" "$dlq"
        it_rabbit_drop_exchange "$dlx"
        it_kafka_drop "$topic"
    else
        it_log "kept for inspection: $work (config, logs, records), RabbitMQ queues $qa $dlq, exchange $dlx, Kafka topic $topic"
        return
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$CHECK" declare --url "$RABBITMQ_URL" --queue "$qa" --dlx "$dlx" --dlq "$dlq" ||
    it_fail "cannot declare the queues"
pub() { "$CHECK" publish --url "$RABBITMQ_URL" --queue "$qa" --dlx "$dlx" --dlq "$dlq" "$@" >&2; }
pub --count "$half" --prefix "$qa" --no-large || it_fail "publish failed"
pub --count 1 --prefix "$qa-poison" --size 200000 || it_fail "publish failed"
pub --count "$((COUNT - half))" --start "$half" --prefix "$qa" --no-large ||
    it_fail "publish failed"

cat >"$work/cutover.yaml" <<YAML
bridge:
  name: it-poison
  shutdown_timeout: 20s
state:
  path: $work/cutover.db
kafka:
  bootstrap.servers: \${KAFKA_BOOTSTRAP}
connections:
  rabbit:
    protocol: amqp091
    url: \${RABBITMQ_URL}
flows:
  poison:
    mode: KAFKA_ONLY
    source:
      connection: rabbit
      queue: $qa
    kafka:
      topic: $topic
      properties:
        message.max.bytes: 100000
YAML
it_bridge_start "$work/cutover.yaml" "$work/bridge.log"

rc=0
out=$("$VERIFY" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" --count "$COUNT" --prefix "$qa" \
    --timeout 180) || rc=$?
printf '%s\n' "$out" >&2
it_check "every good message in Kafka once, before and after the poison one (rc $rc)" \
    test "$rc" = 0
foreign=$(it_summary_field "$out" foreign)
it_check "the poison message is not in Kafka (foreign records: $foreign)" test "$foreign" = 0

# The dead-lettering happens when the flow settles the refusal: wait for it.
dlq_has_one() { [[ $("$CHECK" depth --url "$RABBITMQ_URL" --queue "$dlq") -ge 1 ]]; }
it_wait_until 30 dlq_has_one || true
ids=$("$CHECK" ids --url "$RABBITMQ_URL" --queue "$dlq")
printf 'dead-letter queue: %s\n' "${ids:-(empty)}" >&2
it_check "the dead-letter queue holds exactly the poison message, reason rejected" \
    test "$ids" = "$qa-poison-0 rejected"
it_check "bridge still running after the poison message" it_bridge_alive "$work/bridge.log"
it_bridge_stop 60
it_check "bridge exits 0 on SIGTERM (got $IT_RC)" test "$IT_RC" = 0
# The flow's closing stats line counts it: rejected once, never retried.
stats=$(grep -E " received=[0-9]+ confirmed=" "$work/bridge.log" | tail -n 1)
it_check "the flow counted one rejection and no retry (${stats#* info  })" \
    grep -qE " received=$((COUNT + 1)) confirmed=$COUNT retried=0 rejected=1 " <<<"$stats"
left=$("$CHECK" depth --url "$RABBITMQ_URL" --queue "$qa")
it_check "source queue empty after the run ($left left)" test "$left" = 0
if ((IT_FAILED > 0)); then
    it_show_log "$work/bridge.log"
fi
finished=1
it_summary
