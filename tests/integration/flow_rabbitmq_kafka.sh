#!/usr/bin/env bash
# The first flow end to end: 10,000 messages preloaded on a RabbitMQ queue,
# the bridge forwards them to a Kafka topic, a verifier reads the topic back.
# Pass: every id present, none twice, the source queue empty, and the bridge
# exits 0 on SIGTERM.
#
# usage: flow_rabbitmq_kafka.sh CUTOVER CUT_GEN CUT_VERIFY [COUNT]
source "$(dirname "$0")/lib.sh"
CUTOVER=$1 GEN=$2 VERIFY=$3 COUNT=${4:-10000}

it_lab rabbitmq kafka
work=$(mktemp -d)
bridge=
cleanup() {
    if [[ -n $bridge ]]; then kill -KILL "$bridge" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT
queue=$(it_unique it.orders)
topic=$(it_unique it-orders)

it_log "preloading $COUNT messages on $queue"
"$GEN" --url "$RABBITMQ_URL" --queue "$queue" --count "$COUNT" --prefix "$queue" --size 256

cat >"$work/cutover.yaml" <<YAML
bridge:
  name: it-first-flow
  shutdown_timeout: 20s
state:
  path: $work/state.db
kafka:
  bootstrap.servers: \${KAFKA_BOOTSTRAP}
connections:
  rabbit:
    protocol: amqp091
    url: \${RABBITMQ_URL}
flows:
  orders:
    source:
      connection: rabbit
      queue: $queue
      prefetch: 2000
    kafka:
      topic: $topic
YAML

it_log "running the bridge"
"$CUTOVER" run -c "$work/cutover.yaml" 2>"$work/bridge.log" &
bridge=$!

verify_out=$("$VERIFY" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" --count "$COUNT" \
    --prefix "$queue" --timeout 180) && verified=0 || verified=$?
printf '%s\n' "$verify_out" >&2
it_check "all $COUNT ids present in Kafka, none twice" test "$verified" = 0

kill -TERM "$bridge"
it_wait_exit "$bridge" 60
bridge=
it_check "bridge exits 0 on SIGTERM (got $IT_RC)" test "$IT_RC" = 0

depth=$("$GEN" --url "$RABBITMQ_URL" --queue "$queue" --depth)
it_check "source queue empty after the run (depth $depth)" test "$depth" = 0

if ((IT_FAILED > 0)); then
    tail -n 30 "$work/bridge.log" >&2
fi
it_summary
