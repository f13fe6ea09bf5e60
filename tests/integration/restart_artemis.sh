#!/usr/bin/env bash
# Artemis restarted mid-stream under an Artemis (AMQP 1.0) -> Kafka flow:
# see lib_restart.sh for the procedure and what passes. Messages: persistent
# TextMessage/BytesMessage from jms-tool (Qpid JMS), first and second half
# under two prefixes (two record files); Kafka checked by jms-tool
# check-kafka --ids-only --allow-duplicates for each half.
# Stops and starts the shared lab's Artemis: run it alone.
#
# usage: restart_artemis.sh CUTOVER JMS_TOOL [COUNT]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fidelity.sh"
source "$(dirname "$0")/lib_restart.sh"
CUTOVER=$1 JMS=$2 COUNT=${3:-50000} BROKER=artemis

it_lab artemis kafka

rt_setup() {
    RT_QUEUE=$(it_unique it.rt.artemis)
    RT_TOPIC=$(it_unique it-rt-artemis)
    RT_KEPT="Artemis queue $RT_QUEUE, Kafka topic $RT_TOPIC"
    cat >"$work/cutover.yaml" <<YAML
bridge:
  name: it-restart-artemis
  shutdown_timeout: 30s
state:
  path: $work/cutover.db
kafka:
  bootstrap.servers: \${KAFKA_BOOTSTRAP}
connections:
  artemis:
    protocol: amqp10
    url: \${ARTEMIS_AMQP_URL}
flows:
  restart:
    mode: KAFKA_ONLY
    source:
      connection: artemis
      address: $RT_QUEUE
      credit: 1000
    kafka:
      topic: $RT_TOPIC
      max_in_flight: 1000
YAML
}
# Half 1 is "<queue>.a-<seq>", half 2 "<queue>.b-<seq>": jms-tool numbers from 0.
rt_send() {
    local part=a
    (($1 > 0)) && part=b
    "$JMS" send --url "$ARTEMIS_AMQP_URL" --queue "$RT_QUEUE" --prefix "$RT_QUEUE.$part" \
        --count "$2" --record "$work/$part.rec" --basic-kinds --small --persistent-only >&2
}
rt_depth() { it_artemis_count "$RT_QUEUE"; }
rt_verify() {
    local rc=0 part line total=0 dups=0 missing=0
    for part in a b; do
        line=$("$JMS" check-kafka --bootstrap "$KAFKA_BOOTSTRAP" --topic "$RT_TOPIC" \
            --record "$work/$part.rec" --timeout 300 --ids-only --allow-duplicates) || rc=1
        printf '%s\n' "$line"
        dups=$((dups + $(it_summary_field "$line" duplicates)))
        missing=$((missing + $(it_summary_field "$line" missing)))
        total=$((total + $(it_summary_field "$line" distinct)))
    done
    printf 'both halves: distinct=%d missing=%d duplicates=%d\n' "$total" "$missing" "$dups"
    return "$rc"
}
rt_cleanup() {
    it_artemis_drop "$RT_QUEUE"
    it_kafka_drop "$RT_TOPIC"
}
rt_main
