#!/usr/bin/env bash
# RabbitMQ fidelity through the bridge, two runs.
#
# 1. AMQP 0-9-1 source and legacy target: cut-amqp091-check publishes COUNT
#    messages to queue A with every basic property (content_type,
#    content_encoding, correlation_id, reply_to, expiration, message_id,
#    timestamp, type, user_id, app_id, priority, delivery_mode) and a headers
#    table with every field kind (bool, i8, i16, i32, i64, f32, f64, longstr,
#    bytes, timestamp, void, nested table and array), bodies of 0 bytes to
#    300 KB. The bridge runs A -> legacy queue B (0-9-1) + Kafka topic T1.
#    Pass: B holds every message once with every property and header
#    identical (nested tables/arrays may be dropped, else must be identical;
#    see cut_amqp091_check.c); T1 has every message once, value = body, and
#    exactly the headers of docs/connectors.md (amqp091_kafka.c); the bridge
#    exits 0 on SIGTERM; A is empty.
# 2. RabbitMQ's AMQP 1.0 plugin as the source: cut-gen preloads COUNT
#    messages on a durable queue C, the bridge reads "/amq/queue/C" over
#    AMQP 1.0 into Kafka topic T2. Pass: cut-verify finds every id once; the
#    bridge exits 0 on SIGTERM; C is empty.
#
# usage: rabbit_fidelity.sh CUTOVER CUT_AMQP091_CHECK CUT_GEN CUT_VERIFY [COUNT]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fidelity.sh"
CUTOVER=$1 CHECK=$2 GEN=$3 VERIFY=$4 COUNT=${5:-2000}

it_lab rabbitmq kafka
work=$(mktemp -d)
qa=$(it_unique it.r.in)
qb=$(it_unique it.r.out)
qc=$(it_unique it.r10.in)
t1=$(it_unique it-r-out)
t2=$(it_unique it-r10-out)
finished=
cleanup() {
    if [[ -n $IT_BRIDGE ]]; then kill -KILL "$IT_BRIDGE" 2>/dev/null; fi
    if [[ -n $finished ]] && ((IT_FAILED == 0)); then
        it_rabbit_drop "$qa" "$qb" "$qc"
        it_kafka_drop "$t1" "$t2"
    else
        it_log "kept for inspection: $work (config, logs, records), RabbitMQ queues $qa $qb $qc, Kafka topics $t1 $t2"
        return
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# ---- 1. 0-9-1 -> legacy 0-9-1 + Kafka --------------------------------------
it_log "publishing $COUNT messages to $qa"
"$CHECK" publish --url "$RABBITMQ_URL" --queue "$qa" --count "$COUNT" --prefix "$qa" >&2 ||
    it_fail "publish failed"

cat >"$work/flow091.yaml" <<YAML
bridge:
  name: it-rabbit-fidelity
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
  rabbit-flow:
    mode: DUAL_WRITE_JMS_PRIMARY
    source:
      connection: rabbit
      queue: $qa
    legacy:
      connection: rabbit
      queue: $qb
      declare: true
    kafka:
      topic: $t1
YAML
it_bridge_start "$work/flow091.yaml" "$work/bridge091.log"

rc=0
"$CHECK" check-kafka --bootstrap "$KAFKA_BOOTSTRAP" --topic "$t1" --count "$COUNT" \
    --prefix "$qa" --source-queue "$qa" --timeout 240 || rc=$?
it_check "Kafka: every 0-9-1 message once, value = body, headers as documented (rc $rc)" \
    test "$rc" = 0
rc=0
"$CHECK" check --url "$RABBITMQ_URL" --queue "$qb" --count "$COUNT" --prefix "$qa" \
    --timeout 120 || rc=$?
it_check "legacy queue: every message once, every property and header identical (rc $rc)" \
    test "$rc" = 0
it_check "bridge still running after the checks" it_bridge_alive "$work/bridge091.log"
it_bridge_stop 60
it_check "bridge exits 0 on SIGTERM (got $IT_RC)" test "$IT_RC" = 0
left=$("$CHECK" depth --url "$RABBITMQ_URL" --queue "$qa")
it_check "source queue empty after the run ($left left)" test "$left" = 0
if ((IT_FAILED > 0)); then
    it_show_log "$work/bridge091.log"
fi

# ---- 2. RabbitMQ AMQP 1.0 plugin as the source -> Kafka ---------------------
failed_before=$IT_FAILED
it_log "preloading $COUNT messages on durable queue $qc"
"$GEN" --url "$RABBITMQ_URL" --queue "$qc" --count "$COUNT" --prefix "$qc" --size 256 >&2

cat >"$work/flow10.yaml" <<YAML
bridge:
  name: it-rabbit10-source
  shutdown_timeout: 20s
state:
  path: $work/cutover.db
kafka:
  bootstrap.servers: \${KAFKA_BOOTSTRAP}
connections:
  rabbit10:
    protocol: amqp10
    url: "amqp://guest:guest@127.0.0.1:\${RABBITMQ_PORT}"
flows:
  rabbit10-flow:
    mode: KAFKA_ONLY
    source:
      connection: rabbit10
      address: /amq/queue/$qc
    kafka:
      topic: $t2
YAML
it_bridge_start "$work/flow10.yaml" "$work/bridge10.log"
rc=0
out=$("$VERIFY" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$t2" --count "$COUNT" --prefix "$qc" \
    --timeout 180) || rc=$?
printf '%s\n' "$out" >&2
it_check "AMQP 1.0 source (RabbitMQ plugin): all $COUNT ids in Kafka, none twice (rc $rc)" \
    test "$rc" = 0
it_check "bridge still running" it_bridge_alive "$work/bridge10.log"
it_bridge_stop 60
it_check "bridge exits 0 on SIGTERM (got $IT_RC)" test "$IT_RC" = 0
left=$("$GEN" --url "$RABBITMQ_URL" --queue "$qc" --depth)
it_check "AMQP 1.0 source queue empty after the run ($left left)" test "$left" = 0
if ((IT_FAILED > failed_before)); then
    it_show_log "$work/bridge10.log"
fi
finished=1
it_summary
