#!/usr/bin/env bash
# The reconciler's figures and `cutover report` with Kafka healthy, over a
# 20-minute-equivalent window with time compressed: 20 batches of PER
# messages (one batch per "minute" of production traffic), one every GAP
# seconds, through a flow in DUAL_WRITE_JMS_PRIMARY (RabbitMQ queue ->
# legacy queue + Kafka topic), with read-back of every id Kafka confirmed
# (readback_sample 1). Once the last batch's minute has settled, the report
# over the last 20 minutes must show:
#   - consistency 1.0, loss rate 0 (0 lost), error rates 0 on both sides;
#   - seen = confirmed on each side = confirmed by both = 20 x PER, and those
#     counts equal what independent verifiers find: kcat reading the topic
#     (distinct message ids, no duplicate), and the legacy queue drained
#     (distinct message ids, no duplicate);
#   - the flow still IN_PROGRESS, no reconciler record in the audit log, no
#     alert; the bridge logged read-back of the confirmed ids with 0 missing.
#
# usage: report_healthy.sh CUTOVER CUT_GEN CUT_AMQP091_CHECK [PER] [GAP]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_fidelity.sh"
source "$(dirname "$0")/report_lib.sh"
CUTOVER=$1 GEN=$2 CHECK=$3 PER=${4:-250} GAP=${5:-6}
BATCHES=20
TOTAL=$((BATCHES * PER))

it_lab rabbitmq kafka
work=$(mktemp -d)
DB=$work/state.db
qin=$(it_unique it.rh.in)
qout=$(it_unique it.rh.out)
topic=$(it_unique it-rh)
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

# The reconciler's section when this build reads it (interval, read-back of
# every id, an alert receiver that must stay silent).
recon=
if it_reconciler_configurable; then
    it_webhook_start "$work/alerts.jsonl"
    recon="reconciler:
  interval: 2s
  readback_sample: 1
  webhook_url: $IT_WEBHOOK_URL"
else
    it_log "this cutover has no reconciler: section yet: the report is checked without it"
fi
cat >"$work/cutover.yaml" <<YAML
bridge:
  name: it-report-healthy
  shutdown_timeout: 20s
state:
  path: $DB
kafka:
  bootstrap.servers: \${KAFKA_BOOTSTRAP}
$recon
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
    legacy:
      connection: rabbit
      queue: $qout
      declare: true
    kafka:
      topic: $topic
YAML
# Topics are created before dual-write starts, as in production.
"$KAFKA_TOOL" topics --bootstrap-server "$KAFKA_BOOTSTRAP" --create --topic "$topic" \
    --partitions 3 --replication-factor 1 >/dev/null
"$CUTOVER" flag set orders DUAL_WRITE_JMS_PRIMARY -c "$work/cutover.yaml" --db "$DB" \
    --reason "start dual-write" >&2
"$GEN" --url "$RABBITMQ_URL" --queue "$qin" --count "$PER" --prefix "$qin-m01" --size 512 >&2
it_bridge_start "$work/cutover.yaml" "$work/bridge.log"
for ((b = 2; b <= BATCHES; b++)); do
    sleep "$GAP" # the traffic's own pace, compressed: one batch per "minute"
    "$GEN" --url "$RABBITMQ_URL" --queue "$qin" --count "$PER" --prefix "$(printf '%s-m%02d' "$qin" "$b")" \
        --size 512 >&2
done
it_wait_until 120 it_report_at_least orders "['window']['confirmed_both']" "$TOTAL" 20m ||
    it_fail "not every message was confirmed by both sides ($(it_report "['window']['confirmed_both']" orders 20m) of $TOTAL)"
# The loss rate covers whole minutes that ended settle_time (30 s) ago:
# wait for the minute of the last message to settle.
last_minute=$(($(date +%s) / 60 * 60))
it_log "waiting for minute $(date -u -d "@$last_minute" +%H:%M) to settle"
it_wait_until 150 bash -c '(( $(date +%s) >= $1 + 60 + 30 + 2 ))' _ "$last_minute" || true

json=$("$CUTOVER" report --db "$DB" --json --since 20m --flow orders)
"$CUTOVER" report --db "$DB" --since 20m --flow orders >&2
kafka_ids=$(it_kafka_ids "$topic" | grep "^$qin-")
kafka_n=$(printf '%s\n' "$kafka_ids" | grep -c . || true)
kafka_distinct=$(printf '%s\n' "$kafka_ids" | sort -u | grep -c . || true)
it_bridge_stop 60
it_check "bridge exits 0 on SIGTERM (got $IT_RC)" test "$IT_RC" = 0
legacy_ids=$(it_queue_ids "$qout" | grep "^$qin-")
legacy_n=$(printf '%s\n' "$legacy_ids" | grep -c . || true)
legacy_distinct=$(printf '%s\n' "$legacy_ids" | sort -u | grep -c . || true)
it_log "verifiers: Kafka $kafka_n records, $kafka_distinct distinct ids; legacy $legacy_n messages, $legacy_distinct distinct ids"

check_json() {
    python3 - "$json" "$@" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
f = doc["flows"][0]
total, kafka_n, kafka_d, legacy_n, legacy_d = map(int, sys.argv[2:7])
what = sys.argv[7]
w = f["window"]
if what == "counts":
    assert w["seen"] == w["dual"] == total, w
    assert w["confirmed_legacy"] == w["confirmed_kafka"] == w["confirmed_both"] == total, w
    assert w["failed_legacy"] == w["failed_kafka"] == w["ledgered"] == 0, w
elif what == "verifiers":
    assert (kafka_n, kafka_d) == (w["confirmed_kafka"], w["confirmed_kafka"]), (kafka_n, kafka_d, w)
    assert (legacy_n, legacy_d) == (w["confirmed_legacy"], w["confirmed_legacy"]), (legacy_n, legacy_d, w)
elif what == "figures":
    assert f["consistency"] == 1.0, f["consistency"]
    assert f["loss_rate"] == 0.0 and f["lost"] == 0, (f["loss_rate"], f["lost"])
    assert f["error_rate"] == {"legacy": 0.0, "kafka": 0.0}, f["error_rate"]
    # Latency leaves out the warm-up minute (the flow's promotion).
    for side in ("legacy", "kafka"):
        assert 0 < f["latency_ms"][side]["samples"] <= total, f["latency_ms"]
    bad = [c for c in f["checks"] if c["state"] == "breach"]
    assert not bad, bad
elif what == "status":
    # PENDING when the store takes the config's `mode:` as the flow's own.
    assert f["status"] in ("IN_PROGRESS", "PENDING") and f["last_rollback"] is None, (f["status"], f["last_rollback"])
    assert f["ledger_open"]["total"] == 0
PY
}
args=("$TOTAL" "$kafka_n" "$kafka_distinct" "$legacy_n" "$legacy_distinct")
it_check "report: seen = dual = confirmed legacy = kafka = both = $TOTAL, nothing failed" \
    check_json "${args[@]}" counts
it_check "report counts equal the verifiers' exactly (Kafka $kafka_n/$kafka_distinct, legacy $legacy_n/$legacy_distinct)" \
    check_json "${args[@]}" verifiers
it_check "report: consistency 1.0, loss 0, error rates 0, no check in breach" \
    check_json "${args[@]}" figures
it_check "report: never rolled back, ledger empty" \
    check_json "${args[@]}" status
it_check "audit: no record by the reconciler" \
    bash -c '! "$1" audit orders --db "$2" | grep -q reconciler' _ "$CUTOVER" "$DB"
if [[ -n $recon ]]; then
    it_check "no alert: nothing logged, nothing POSTed" \
        bash -c '! grep -qE "ALERT|ROLLED BACK" "$1" && ! test -s "$2"' _ "$work/bridge.log" \
        "$work/alerts.jsonl"
    it_check "read-back: the bridge read back the ids Kafka confirmed, none missing" \
        bash -c 'grep -qE "orders: read back [1-9][0-9]* of the sampled ids Kafka confirmed, 0 missing" "$1" &&
                 ! grep -qE "orders: read back [0-9]+ of the sampled ids Kafka confirmed, [1-9]" "$1"' \
        _ "$work/bridge.log"
fi

finished=1
if ((IT_FAILED > 0)); then
    it_show_log "$work/bridge.log"
fi
it_summary
