#!/usr/bin/env bash
# Dual-write with the secondary down. One flow in DUAL_WRITE_JMS_PRIMARY
# (config `mode:`) reads RabbitMQ queue A and writes legacy queue B (the
# primary, the lab's RabbitMQ) and a Kafka topic whose producer is pointed,
# for this flow only, at a dead port (bootstrap.servers 127.0.0.1:1 in the
# flow's kafka properties, message.timeout.ms 3000): nothing else is
# disturbed. secondary_timeout is 1 s. COUNT messages (2,000) are published
# to A with cut-gen while the bridge runs.
# Pass:
#  - the primary keeps flowing: all COUNT in B within 60 s, each id once
#    (B drained and compared with the published ids);
#  - A is acked: empty while the bridge runs and after it stopped; the flow
#    counts COUNT confirmed, none retried or rejected;
#  - the repair ledger (state store, read with python's sqlite3) holds one
#    open kafka-side entry per message: the set of ids equals the published
#    set, no id twice, each entry holding the message (envelope >= the
#    256-byte body); `cutover flag get` reports COUNT open entries;
#  - the bridge exits 0 on SIGTERM.
#
# usage: modes_secondary_down.sh CUTOVER CUT_GEN CUT_AMQP091_CHECK [COUNT]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fidelity.sh"
source "$(dirname "$0")/modes_lib.sh"
CUTOVER=$1 GEN=$2 CHECK=$3 COUNT=${4:-2000}
FLOW=secondary-down

it_lab rabbitmq
work=$(mktemp -d)
qa=$(it_unique it.secdown.in)
qb=$(it_unique it.secdown.out)
topic=$(it_unique it-secdown)
cfg=$work/cutover.yaml
db=$work/state.db
finished=
cleanup() {
    if [[ -n $IT_BRIDGE ]]; then kill -KILL "$IT_BRIDGE" 2>/dev/null; fi
    if [[ -n $finished ]] && ((IT_FAILED == 0)); then
        it_rabbit_drop "$qa" "$qb"
    else
        it_log "kept for inspection: $work (config, log, ids, ledger), RabbitMQ queues $qa $qb"
        return
    fi
    rm -rf "$work"
}
trap cleanup EXIT

md_declare "$qa" "$qb"
cat >"$cfg" <<YAML
bridge:
  name: it-modes-secondary-down
  shutdown_timeout: 30s
state:
  path: $db
# This test drives the modes by hand; the reconciler's automatic rollback
# (tested on its own in rollback_kafka_failing.sh) must not move them too:
# no check can reach this many messages.
reconciler:
  min_messages: 1000000000
kafka:
  bootstrap.servers: \${KAFKA_BOOTSTRAP:-127.0.0.1:9092}
connections:
  rabbit:
    protocol: amqp091
    url: \${RABBITMQ_URL}
flows:
  $FLOW:
    mode: DUAL_WRITE_JMS_PRIMARY
    secondary_timeout: 1s
    source:
      connection: rabbit
      queue: $qa
    legacy:
      connection: rabbit
      queue: $qb
    kafka:
      topic: $topic
      properties:
        bootstrap.servers: 127.0.0.1:1
        message.timeout.ms: 3000
YAML
it_bridge_start "$cfg" "$work/bridge.log"
# shellcheck disable=SC2317 # called through it_wait_until
source_up() { grep -q "flow $FLOW source: connected to" "$work/bridge.log"; }
it_wait_until 30 source_up || { it_show_log "$work/bridge.log"; it_fail "the bridge did not connect"; }

t0=$(it_now_ms)
"$GEN" --url "$RABBITMQ_URL" --queue "$qa" --count "$COUNT" --prefix "$qa" --size 256 >&2 ||
    it_fail "publish failed"
md_ids "$qa" "$COUNT" "$work/published.txt"

# shellcheck disable=SC2317 # called through it_wait_until
primary_done() { [[ $(md_depth "$qb") -ge $COUNT && $(md_depth "$qa") == 0 ]]; }
rc=0
it_wait_until 60 primary_done || rc=$?
took=$(($(it_now_ms) - t0))
it_check "all $COUNT on the primary (B) and A drained within 60 s with Kafka down (${took} ms; B $(md_depth "$qb"), A $(md_depth "$qa"))" \
    test "$rc" = 0
it_check "bridge still running" it_bridge_alive "$work/bridge.log"
it_check "the Kafka side is really down (librdkafka reports the dead broker)" \
    grep -qE "127\.0\.0\.1:1.*(refused|down)|all brokers are down" "$work/bridge.log"
# B is complete before the last secondaries time out: the ledger follows
# within secondary_timeout (+ the 250 ms scan).
# shellcheck disable=SC2317 # called through it_wait_until
ledger_full() {
    "$CUTOVER" flag get "$FLOW" -c "$cfg" --db "$db" >"$work/flag_get.txt" 2>&1 &&
        grep -qE "repair ledger: $COUNT open entr" "$work/flag_get.txt"
}
rc=0
it_wait_until 30 ledger_full || rc=$?
sed 's/^/    /' "$work/flag_get.txt" >&2
it_check "\`cutover flag get\` reports $COUNT open repair-ledger entries while the bridge runs" \
    test "$rc" = 0
it_bridge_stop 90
it_check "bridge exits 0 on SIGTERM (got $IT_RC)" test "$IT_RC" = 0
left=$(md_depth "$qa")
it_check "source queue A empty after the run ($left left)" test "$left" = 0
stats=$(md_flow_stats "$work/bridge.log")
it_check "flow stats: $COUNT confirmed, nothing retried or rejected ($stats)" \
    grep -qE "received=$COUNT confirmed=$COUNT retried=0 rejected=0 " <<<"$stats"

md_rabbit_ids "$qb" "$work/b.txt"
it_check "B holds every published id exactly once" md_same_set "$work/published.txt" "$work/b.txt"

md_ledger "$db" "$FLOW" "$work/ledger.txt"
awk '{ print $2 }' "$work/ledger.txt" >"$work/ledger_ids.txt"
it_check "repair ledger: one open entry per published id, no other" \
    md_same_set "$work/published.txt" "$work/ledger_ids.txt"
# shellcheck disable=SC2016 # awk's own fields
it_check "every ledger entry is for the kafka side ($(awk '{ print $1 }' "$work/ledger.txt" | sort | uniq -c | tr -s ' ' | tr '\n' ';'))" \
    awk '$1 != "kafka" { bad = 1 } END { exit bad || NR == 0 }' "$work/ledger.txt"
# shellcheck disable=SC2016 # awk's own fields
it_check "every ledger entry holds the message (envelope >= 256 bytes; smallest $(awk '{ print $3 }' "$work/ledger.txt" | sort -n | head -n 1))" \
    awk '$3 < 256 { bad = 1 } END { exit bad || NR == 0 }' "$work/ledger.txt"

if ((IT_FAILED > 0)); then
    it_show_log "$work/bridge.log"
fi
finished=1
it_summary
