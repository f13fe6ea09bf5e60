#!/usr/bin/env bash
# BROKER (rabbitmq: the source; kafka: the target) restarted mid-stream
# under a RabbitMQ (0-9-1) -> Kafka flow: see lib_restart.sh for the
# procedure and what passes. Messages: persistent, from cut-amqp091-check
# (ids "<queue>-<seq>"); Kafka checked by cut-verify. Stops and starts that
# broker of the shared lab (Kafka also holds the registry's data): run it
# alone.
#
# usage: restart_amqp091_flow.sh BROKER CUTOVER CUT_AMQP091_CHECK CUT_VERIFY [COUNT]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fidelity.sh"
source "$(dirname "$0")/lib_restart.sh"
BROKER=$1 CUTOVER=$2 CHECK=$3 VERIFY=$4 COUNT=${5:-50000}
case $BROKER in
rabbitmq | kafka) ;;
*) it_fail "BROKER must be rabbitmq or kafka, not \"$BROKER\"" ;;
esac

it_lab rabbitmq kafka

rt_setup() {
    RT_QUEUE=$(it_unique "it.rt.$BROKER")
    RT_TOPIC=$(it_unique "it-rt-$BROKER")
    RT_KEPT="RabbitMQ queue $RT_QUEUE, Kafka topic $RT_TOPIC"
    cat >"$work/cutover.yaml" <<YAML
bridge:
  name: it-restart-$BROKER
  shutdown_timeout: 30s
state:
  path: $work/cutover.db
kafka:
  bootstrap.servers: \${KAFKA_BOOTSTRAP}
connections:
  rabbit:
    protocol: amqp091
    url: \${RABBITMQ_URL}
    heartbeat: 10s
flows:
  restart:
    mode: KAFKA_ONLY
    source:
      connection: rabbit
      queue: $RT_QUEUE
      prefetch: 1000
    kafka:
      topic: $RT_TOPIC
      max_in_flight: 1000
YAML
}
rt_send() {
    "$CHECK" publish --url "$RABBITMQ_URL" --queue "$RT_QUEUE" --prefix "$RT_QUEUE" \
        --start "$1" --count "$2" --no-large --persistent >&2
}
rt_depth() { "$CHECK" depth --url "$RABBITMQ_URL" --queue "$RT_QUEUE"; }
rt_verify() {
    "$VERIFY" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$RT_TOPIC" --count "$COUNT" \
        --prefix "$RT_QUEUE" --timeout 300 --allow-duplicates
}
rt_cleanup() {
    it_rabbit_drop "$RT_QUEUE"
    it_kafka_drop "$RT_TOPIC"
}
rt_main
