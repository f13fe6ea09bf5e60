#!/usr/bin/env bash
# Automatic rollback by the reconciler running inside the bridge.
#
# A flow in DUAL_WRITE_JMS_PRIMARY (RabbitMQ queue -> legacy queue + Kafka
# topic) runs healthy for OK messages; then its Kafka side starts failing:
# the flow's producer has message.max.bytes 2000 and the next BAD messages
# are 4 KB, so Kafka refuses every one of them (this disturbs nobody else on
# the shared lab). Pass:
#   - the flow is ROLLED_BACK, every mode JMS_ONLY, within one reconciler
#     period (+ the tracking flush and scheduling slack) of the failures
#     starting, the minimum sample having been reached by the healthy part;
#   - the audit record is by `reconciler` and carries the figures that fired
#     it (kafka_error_rate ... N of M Kafka writes failed);
#   - the alert: a log line, and a webhook POST whose JSON body has the event,
#     the flow and the figures;
#   - `cutover report` shows the flow ROLLED_BACK with that reason;
#   - the legacy side never missed a message: every one of the OK + BAD ids
#     is on the legacy queue; Kafka holds exactly the OK ones;
#   - the bridge exits 0 on SIGTERM.
#
# usage: rollback_kafka_failing.sh CUTOVER CUT_GEN CUT_AMQP091_CHECK CUT_VERIFY [OK] [BAD]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fidelity.sh"
source "$(dirname "$0")/report_lib.sh"
CUTOVER=$1 GEN=$2 CHECK=$3 VERIFY=$4 OK=${5:-300} BAD=${6:-500}
INTERVAL=2 # the reconciler's period in this test, seconds
FLUSH=1    # the tracking writer's

it_lab rabbitmq kafka
it_reconciler_configurable ||
    it_fail "this cutover does not accept the reconciler: section (the reconciler is not wired into the bridge yet)"
work=$(mktemp -d)
DB=$work/state.db
qin=$(it_unique it.rb.in)
qout=$(it_unique it.rb.out)
topic=$(it_unique it-rb)
finished=
cleanup() {
    if [[ -n $IT_BRIDGE ]]; then kill -KILL "$IT_BRIDGE" 2>/dev/null; fi
    it_webhook_stop
    if [[ -n $finished ]] && ((IT_FAILED == 0)); then
        it_rabbit_drop "$qin" "$qout"
        it_kafka_drop "$topic"
        rm -rf "$work"
    else
        it_log "kept for inspection: $work (config, logs, state), queues $qin $qout, topic $topic"
    fi
}
trap cleanup EXIT

it_webhook_start "$work/alerts.jsonl"
cat >"$work/cutover.yaml" <<YAML
bridge:
  name: it-rollback
  shutdown_timeout: 20s
state:
  path: $DB
  tracking_flush: ${FLUSH}s
kafka:
  bootstrap.servers: \${KAFKA_BOOTSTRAP}
reconciler:
  interval: ${INTERVAL}s
  webhook_url: $IT_WEBHOOK_URL
connections:
  rabbit:
    protocol: amqp091
    url: \${RABBITMQ_URL}
flows:
  orders:
    mode: DUAL_WRITE_JMS_PRIMARY
    source:
      connection: rabbit
      queue: $qin
      prefetch: 500
    legacy:
      connection: rabbit
      queue: $qout
      declare: true
    kafka:
      topic: $topic
      properties:
        message.max.bytes: 2000
YAML
# Topics are created before dual-write starts, as in production.
"$KAFKA_TOOL" topics --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$topic" \
    --partitions 3 --replication-factor 1 >/dev/null
# The operator's step: the flow enters dual-write (IN_PROGRESS), unless the
# store already takes the config's mode as the flow's.
"$CUTOVER" flag set orders DUAL_WRITE_JMS_PRIMARY -c "$work/cutover.yaml" --db "$DB" \
    --reason "start dual-write" >&2
it_log "healthy: $OK messages of 256 bytes"
"$GEN" --url "$RABBITMQ_URL" --queue "$qin" --count "$OK" --prefix "$qin-ok" --size 256 >&2
it_bridge_start "$work/cutover.yaml" "$work/bridge.log"
it_wait_until 60 it_report_at_least orders "['window']['confirmed_kafka']" "$OK" ||
    it_fail "the healthy messages were not all confirmed by Kafka"
# PENDING when the store takes the config's `mode:` as the flow's own (the
# flag set above is then a no-op), IN_PROGRESS otherwise: either way running.
healthy="$(it_report "['status']" orders)/$(it_report "['error_rate']['kafka']" orders)"
it_check "healthy part: not rolled back, Kafka error rate 0 ($healthy)" \
    bash -c '[[ $1 == IN_PROGRESS/0.0 || $1 == PENDING/0.0 ]]' _ "$healthy"

it_log "Kafka starts failing: $BAD messages of 4 KB, over the flow's message.max.bytes"
t_fail=$(it_now_ms)
"$GEN" --url "$RABBITMQ_URL" --queue "$qin" --count "$BAD" --prefix "$qin-bad" --size 4096 >&2
it_wait_until 60 it_report_is orders "['status']" ROLLED_BACK ||
    it_fail "the flow was not rolled back within 60 s (status $(it_report "['status']" orders))"
t_rb=$(python3 -c 'import sys, datetime; print(int(datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp() * 1000))' \
    "$(it_report "['last_rollback']['at']" orders)")
delay=$((t_rb - t_fail))
limit=$(((INTERVAL + FLUSH + 4) * 1000))
it_check "rolled back ${delay} ms after Kafka started failing (at most one ${INTERVAL} s period + ${FLUSH} s flush + 4 s slack)" \
    test "$delay" -le "$limit"
it_check "every mode of the flow is JMS_ONLY" \
    test "$(it_report "['mode']" orders)" = JMS_ONLY

audit=$("$CUTOVER" audit orders --db "$DB")
printf '%s\n' "$audit" | tail -n 3 >&2
it_check "audit: rollback and status records by reconciler with the figures" \
    bash -c 'grep -E "reconciler +rollback +orders +DUAL_WRITE_JMS_PRIMARY -> JMS_ONLY  # kafka_error_rate [0-9.]+ > 0.0500 \([0-9]+ of [0-9]+ Kafka writes failed; min 100\)" <<<"$1" >/dev/null &&
             grep -E "reconciler +status +orders +IN_PROGRESS -> ROLLED_BACK  # kafka_error_rate" <<<"$1" >/dev/null' _ "$audit"
it_check "alert: an error line in the bridge's log with the figures" \
    grep -qE "reconciler: orders: ROLLED BACK to JMS_ONLY: kafka_error_rate [0-9.]+ > 0.0500" \
    "$work/bridge.log"
it_wait_until 10 test -s "$work/alerts.jsonl" || true
it_check "alert: the webhook got a JSON body with the event, the flow and the figures" \
    python3 -c '
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rollbacks = [a for a in alerts if a["event"] == "rollback"]
assert len(rollbacks) == 1, alerts
a = rollbacks[0]
assert a["flow"] == "orders" and a["actor"] == "reconciler"
assert a["action"] == "rolled back to JMS_ONLY"
assert a["reason"].startswith("kafka_error_rate ")
assert a["error_rate"]["kafka"] > 0.05 and a["window"]["failed_kafka"] > 0
k = [c for c in a["checks"] if c["check"] == "kafka_error_rate"][0]
assert k["state"] == "breach" and k["sample"] >= k["min_sample"] == 100
' "$work/alerts.jsonl"
report=$("$CUTOVER" report --db "$DB" --flow orders)
printf '%s\n' "$report" >&2
it_check "report: the flow is ROLLED_BACK with the reason" \
    bash -c 'grep -q "^orders  ROLLED_BACK  JMS_ONLY" <<<"$1" &&
             grep -qE "last rollback +.* by reconciler: kafka_error_rate" <<<"$1" &&
             grep -q "rolled back 1;" <<<"$1"' _ "$report"

# The rest of the stream goes on, legacy only; then every id must be there.
total=$((OK + BAD))
it_wait_until 120 it_report_at_least orders "['total']['seen']" "$total" "1d" ||
    it_fail "the bridge did not see every message"
it_wait_until 60 bash -c '[[ $("$1" depth --url "$RABBITMQ_URL" --queue "$2") == 0 ]]' _ \
    "$CHECK" "$qin" || true
it_bridge_stop 60
it_check "bridge exits 0 on SIGTERM (got $IT_RC)" test "$IT_RC" = 0
legacy=$(it_queue_ids "$qout" | sort -u | grep -c "^$qin-" || true)
it_check "legacy side: all $total ids ($legacy found)" test "$legacy" = "$total"
verify=$("$VERIFY" --bootstrap "$KAFKA_BOOTSTRAP" --topic "$topic" --count "$OK" --prefix "$qin-ok" \
    --timeout 60) && v=0 || v=$?
printf '%s\n' "$verify" >&2
it_check "Kafka: the $OK healthy messages, none missing, none twice" test "$v" = 0
it_check "Kafka: none of the refused ones ($(it_kafka_ids "$topic" | grep -c "^$qin-bad" || true))" \
    test "$(it_kafka_ids "$topic" | grep -c "^$qin-bad" || true)" = 0

finished=1
if ((IT_FAILED > 0)); then
    it_show_log "$work/bridge.log"
fi
it_summary
